// abi2: a plugin built for ABI 2.0, which this host (1.x) must refuse.
#include "kessan/plugin.h"

extern "C" KESSAN_PLUGIN_EXPORT int32_t kessan_plugin_entry(const kessan_host_info*, kessan_plugin* p) {
  p->struct_size = sizeof(kessan_plugin) + 16;
  p->abi_major = 2;
  p->abi_minor = 0;
  return KESSAN_STATUS_OK;
}
