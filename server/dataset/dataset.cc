#include "dataset/dataset.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace kessan {
namespace {

// Keeps the text parser's first error, with its position.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

absl::StatusOr<v1::DataSet> LoadDataSet(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  v1::DataSet data_set;
  if (absl::EndsWith(path, ".json")) {
    auto status = google::protobuf::util::JsonStringToMessage(buffer.str(), &data_set);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", status.ToString()));
    }
    return data_set;
  }
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(buffer.str(), &data_set)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", errors.first()));
  }
  return data_set;
}

std::vector<v1::PublishRequest> ToPublishRequests(const v1::DataSet& data_set,
                                                  size_t max_items) {
  std::vector<v1::PublishRequest> batches(1);
  auto next = [&]() -> v1::PublishItem* {
    if (static_cast<size_t>(batches.back().items_size()) >= max_items) {
      batches.emplace_back();
    }
    return batches.back().add_items();
  };
  for (const auto& x : data_set.issuers()) *next()->mutable_issuer() = x;
  for (const auto& x : data_set.segments()) *next()->mutable_segment() = x;
  for (const auto& x : data_set.facts()) *next()->mutable_fact() = x;
  for (const auto& x : data_set.capital_actions()) *next()->mutable_capital_action() = x;
  for (const auto& x : data_set.guidance()) *next()->mutable_guidance() = x;
  if (batches.back().items().empty()) batches.pop_back();
  return batches;
}

}  // namespace kessan
