// nullbuf: a raw C-ABI plugin whose run() answers OK with a null buffer
// and a non-zero size (its describe() is well-formed).
#include <cstdlib>
#include <cstring>

#include "kessan/plugin.h"
#include "kessan/v1/plugin.pb.h"

namespace {

int32_t Describe(void*, const uint8_t*, size_t, kessan_result* r) {
  kessan::v1::PluginDescribeResponse d;
  d.mutable_scenario()->set_name("nullbuf");
  d.mutable_scenario()->set_version("0.0.1");
  std::string bytes = d.SerializeAsString();
  r->data = static_cast<uint8_t*>(std::malloc(bytes.size() + 1));
  std::memcpy(r->data, bytes.data(), bytes.size());
  r->size = bytes.size();
  return KESSAN_STATUS_OK;
}

int32_t Run(void*, const uint8_t*, size_t, kessan_result* r) {
  r->data = nullptr;
  r->size = 16;
  return KESSAN_STATUS_OK;
}

void Free(void*, kessan_result* r) {
  std::free(r->data);
  std::free(r->message);
}

}  // namespace

extern "C" KESSAN_PLUGIN_EXPORT int32_t kessan_plugin_entry(const kessan_host_info*, kessan_plugin* p) {
  p->struct_size = sizeof(kessan_plugin);
  p->abi_major = KESSAN_PLUGIN_ABI_MAJOR;
  p->abi_minor = KESSAN_PLUGIN_ABI_MINOR;
  p->describe = &Describe;
  p->run = &Run;
  p->free_result = &Free;
  return KESSAN_STATUS_OK;
}
