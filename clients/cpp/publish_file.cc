#include "kessan/publish_file.h"

#include <cstdint>
#include <utility>

#include "dataset/dataset.h"

namespace kessan {

absl::StatusOr<v1::PublishRequest> PublishRequestFromDataSet(const v1::DataSet& data_set) {
  absl::Status publishable = CheckPublishable(data_set);
  if (!publishable.ok()) return publishable;
  std::vector<v1::PublishRequest> batches = ToPublishRequests(data_set, SIZE_MAX);
  if (batches.empty()) return v1::PublishRequest();
  return std::move(batches.front());
}

absl::StatusOr<v1::PublishRequest> LoadPublishRequestFromFile(const std::string& path) {
  absl::StatusOr<std::vector<v1::PublishRequest>> batches = LoadPublishBatches(path, SIZE_MAX);
  if (!batches.ok()) return batches.status();
  return std::move(batches->front());
}

absl::StatusOr<std::vector<v1::PublishRequest>> LoadPublishBatchesFromFile(const std::string& path,
                                                                           size_t max_items) {
  return LoadPublishBatches(path, max_items);
}

}  // namespace kessan
