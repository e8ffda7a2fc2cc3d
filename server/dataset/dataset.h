// Data set files: a kessan.v1.DataSet in protobuf text format or JSON.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kessan/v1/feed.pb.h"

namespace kessan {

// Reads `path`: JSON (protobuf's JSON mapping) when it ends in ".json",
// text format otherwise. InvalidArgument names the file and the parse error.
absl::StatusOr<v1::DataSet> LoadDataSet(const std::string& path);

// The data set as publish batches of at most `max_items`, in dependency
// order: issuers, segments, facts, capital actions, guidance.
std::vector<v1::PublishRequest> ToPublishRequests(const v1::DataSet& data_set,
                                                  size_t max_items);

}  // namespace kessan
