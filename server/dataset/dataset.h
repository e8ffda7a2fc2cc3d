// Publish files: a kessan.v1.DataSet or a kessan.v1.PublishRequest, in
// protobuf text format or JSON. The one reader of kessand --seed and the
// `kessan publish` CLI.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kessan/v1/feed.pb.h"
#include "kessan/v1/model.pb.h"

namespace kessan {

// Reads a kessan.v1.PublishRequest or a kessan.v1.DataSet from `path`.
//
// Format, by extension: .json is protobuf's JSON mapping; .txtpb,
// .textproto, .pbtxt and .txt are text format; any other: JSON if the first
// non-blank character is '{', else text. Unknown fields are errors.
//
// Type: a `# proto-message: kessan.v1.DataSet` (or PublishRequest) comment
// among a text file's first comment lines decides; otherwise a file with a
// top-level `items` field is a PublishRequest, any other a DataSet.
//
// A data set becomes batches of at most `max_items` items in dependency
// order (ToPublishRequests); a PublishRequest file is one batch, as written.
//
// Errors: NOT_FOUND / PERMISSION_DENIED if the file cannot be read;
// INVALID_ARGUMENT with the file name (and line:column for text) if it does
// not parse or holds no items; UNIMPLEMENTED for a DataSet field that has
// no publish item (CheckPublishable).
absl::StatusOr<std::vector<v1::PublishRequest>> LoadPublishBatches(const std::string& path, size_t max_items);

// Reads a data set file (same formats); a PublishRequest file is an error.
absl::StatusOr<v1::DataSet> LoadDataSet(const std::string& path);

// OK if every field set in `data_set` is published by ToPublishRequests (or
// is its name or description): a field added to DataSet later is refused
// rather than dropped.
absl::Status CheckPublishable(const v1::DataSet& data_set);

// The data set as publish batches of at most `max_items`, in dependency
// order: issuers, segments, facts, capital actions, guidance (each group in
// data set order).
std::vector<v1::PublishRequest> ToPublishRequests(const v1::DataSet& data_set, size_t max_items);

}  // namespace kessan
