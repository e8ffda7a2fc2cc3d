// libFuzzer target: the data set loader (dataset/dataset.h). The first
// byte picks the format ('j': JSON, else text format); the rest is the
// file. A loaded data set is split into publish batches, which must hold
// every item exactly once.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dataset/dataset.h"

namespace {

std::string TempPath(const char* suffix) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/kessan_dataset_fuzz_" + std::to_string(getpid()) +
         suffix;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool json = data[0] == 'j';
  static const std::string text_path = TempPath(".txtpb");
  static const std::string json_path = TempPath(".json");
  const std::string& path = json ? json_path : text_path;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data + 1, 1, size - 1, f);
  std::fclose(f);
  absl::StatusOr<kessan::v1::DataSet> ds = kessan::LoadDataSet(path);
  std::remove(path.c_str());
  if (!ds.ok()) {
    if (ds.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  const size_t total = ds->issuers_size() + ds->segments_size() + ds->facts_size() +
                       ds->capital_actions_size() + ds->guidance_size();
  size_t seen = 0;
  for (const kessan::v1::PublishRequest& batch : kessan::ToPublishRequests(*ds, 7)) {
    if (batch.items_size() == 0 || batch.items_size() > 7) std::abort();
    seen += batch.items_size();
  }
  if (seen != total) std::abort();
  return 0;
}
