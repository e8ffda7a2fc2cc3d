// kessan/publish_file.h: reading publish batches and data sets from files.

#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kessan/v1/feed.pb.h"
#include "kessan/v1/model.pb.h"

namespace kessan {

// PublishRequestFromDataSet()
//
// Turns a data set into one publish batch, items in the order a server can
// validate them: issuers, segments, facts, capital actions, guidance (each
// group in data set order). A data set with items of another kind (a field
// added to DataSet after this client was written) is refused with
// UNIMPLEMENTED rather than published in part.
absl::StatusOr<v1::PublishRequest> PublishRequestFromDataSet(const v1::DataSet& data_set);

// LoadPublishRequestFromFile()
//
// Reads a kessan.v1.PublishRequest or a kessan.v1.DataSet from `path`; a
// data set becomes one batch as PublishRequestFromDataSet() says. The
// reader is kessand's own (kessand --seed reads the same files).
//
// Format, by extension: .json is protobuf's JSON mapping; .txtpb,
// .textproto, .pbtxt and .txt are protobuf text format. Any other
// extension: JSON if the first non-blank character is '{', else text.
//
// Message type: a `# proto-message: kessan.v1.DataSet` (or PublishRequest)
// comment on the first lines of a text file decides; otherwise a file with
// a top-level `items` field is a PublishRequest and any other a DataSet.
//
// Errors: NOT_FOUND / PERMISSION_DENIED if the file cannot be read;
// INVALID_ARGUMENT, with the file name (and line:column for text format),
// if it does not parse or holds no items.
//
// Example:
//   absl::StatusOr<kessan::v1::PublishRequest> batch =
//       kessan::LoadPublishRequestFromFile("data/iij/fy2002.txtpb");
absl::StatusOr<v1::PublishRequest> LoadPublishRequestFromFile(const std::string& path);

// LoadPublishBatchesFromFile()
//
// As LoadPublishRequestFromFile(), but a data set becomes batches of at most
// `max_items` items (a server takes at most 1,000 per batch), in the same
// order; a PublishRequest file stays one batch, as written.
absl::StatusOr<std::vector<v1::PublishRequest>> LoadPublishBatchesFromFile(const std::string& path,
                                                                           size_t max_items);

}  // namespace kessan
