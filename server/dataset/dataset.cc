#include "dataset/dataset.h"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace kessan {
namespace {

namespace pb = ::google::protobuf;

enum class Format { kText, kJson };
enum class Kind { kPublishRequest, kDataSet };

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) return absl::ErrnoToStatus(errno, path);
  std::string content;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) content.append(buffer, n);
  if (std::ferror(file.get())) return absl::ErrnoToStatus(errno, path);
  return content;
}

Format DetectFormat(const std::string& path, absl::string_view content) {
  const std::string ext = absl::AsciiStrToLower(std::filesystem::path(path).extension().string());
  if (ext == ".json") return Format::kJson;
  if (ext == ".txtpb" || ext == ".textproto" || ext == ".pbtxt" || ext == ".txt") {
    return Format::kText;
  }
  return absl::StartsWith(absl::StripLeadingAsciiWhitespace(content), "{") ? Format::kJson : Format::kText;
}

// Ignores tokenizer errors: the parser proper reports them.
class SilentErrors : public pb::io::ErrorCollector {
 public:
  void AddError(int, pb::io::ColumnNumber, const std::string&) override {}
};

// A text file is a PublishRequest if it says so in a `# proto-message:`
// comment, or, without one, if it has a top-level `items` field.
absl::StatusOr<Kind> DetectTextKind(const std::string& path, absl::string_view content) {
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (!absl::ConsumePrefix(&line, "#")) break;  // Header comments only.
    line = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "proto-message:")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumePrefix(&line, "kessan.v1.");
    if (line == "PublishRequest") return Kind::kPublishRequest;
    if (line == "DataSet") return Kind::kDataSet;
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": proto-message is \"", line, "\"; expected kessan.v1.PublishRequest or kessan.v1.DataSet"));
  }
  pb::io::ArrayInputStream input(content.data(), static_cast<int>(content.size()));
  SilentErrors errors;
  pb::io::Tokenizer tokenizer(&input, &errors);
  tokenizer.set_comment_style(pb::io::Tokenizer::SH_COMMENT_STYLE);
  int depth = 0;
  while (tokenizer.Next()) {
    const pb::io::Tokenizer::Token& token = tokenizer.current();
    if (token.text == "{" || token.text == "<") ++depth;
    if (token.text == "}" || token.text == ">") --depth;
    if (depth == 0 && token.type == pb::io::Tokenizer::TYPE_IDENTIFIER && token.text == "items") {
      return Kind::kPublishRequest;
    }
  }
  return Kind::kDataSet;
}

// Keeps the first parse error as "line:column: message", 1-based.
class FirstError : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (error_.empty()) error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  std::string error() const { return error_.empty() ? "parse error" : error_; }

 private:
  std::string error_;
};

absl::Status ParseText(const std::string& path, absl::string_view content, pb::Message& message) {
  FirstError errors;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (parser.ParseFromString(std::string(content), &message)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(path, ":", errors.error(), " (reading text format ", message.GetTypeName(), ")"));
}

// Protobuf's JSON errors may quote the input on further lines; keep the
// message to one line.
std::string FirstLine(pb::StringPiece message) {
  absl::string_view text(message.data(), message.size());
  return std::string(absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
}

absl::Status ParseJson(const std::string& path, absl::string_view content, pb::Message& message) {
  pb::util::Status status =
      pb::util::JsonStringToMessage(pb::StringPiece(content.data(), content.size()), &message);
  if (status.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": invalid JSON for ", message.GetTypeName(), ": ", FirstLine(status.message())));
}

absl::StatusOr<Kind> DetectJsonKind(const std::string& path, absl::string_view content) {
  pb::Struct object;
  pb::util::Status status =
      pb::util::JsonStringToMessage(pb::StringPiece(content.data(), content.size()), &object);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON: ", FirstLine(status.message())));
  }
  return object.fields().count("items") > 0 ? Kind::kPublishRequest : Kind::kDataSet;
}

// A publish file, parsed: one of the two messages, as `kind` says.
struct PublishFile {
  Kind kind = Kind::kDataSet;
  v1::PublishRequest request;
  v1::DataSet data_set;
};

absl::StatusOr<PublishFile> ReadPublishFile(const std::string& path) {
  absl::StatusOr<std::string> file = ReadFile(path);
  if (!file.ok()) return file.status();
  absl::string_view content = *file;
  absl::ConsumePrefix(&content, "\xEF\xBB\xBF");  // UTF-8 byte order mark.
  const Format format = DetectFormat(path, content);
  absl::StatusOr<Kind> kind =
      format == Format::kJson ? DetectJsonKind(path, content) : DetectTextKind(path, content);
  if (!kind.ok()) return kind.status();
  PublishFile parsed;
  parsed.kind = *kind;
  pb::Message& message = *kind == Kind::kPublishRequest ? static_cast<pb::Message&>(parsed.request)
                                                        : static_cast<pb::Message&>(parsed.data_set);
  absl::Status status =
      format == Format::kJson ? ParseJson(path, content, message) : ParseText(path, content, message);
  if (!status.ok()) return status;
  return parsed;
}

}  // namespace

absl::StatusOr<std::vector<v1::PublishRequest>> LoadPublishBatches(const std::string& path,
                                                                   size_t max_items) {
  absl::StatusOr<PublishFile> file = ReadPublishFile(path);
  if (!file.ok()) return file.status();
  std::vector<v1::PublishRequest> batches;
  if (file->kind == Kind::kPublishRequest) {
    if (file->request.items_size() > 0) batches.push_back(std::move(file->request));
  } else {
    absl::Status publishable = CheckPublishable(file->data_set);
    if (!publishable.ok()) {
      return absl::Status(publishable.code(), absl::StrCat(path, ": ", publishable.message()));
    }
    batches = ToPublishRequests(file->data_set, max_items);
  }
  if (batches.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no items to publish"));
  return batches;
}

absl::StatusOr<v1::DataSet> LoadDataSet(const std::string& path) {
  absl::StatusOr<PublishFile> file = ReadPublishFile(path);
  if (!file.ok()) return file.status();
  if (file->kind != Kind::kDataSet) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": holds a kessan.v1.PublishRequest, not a kessan.v1.DataSet"));
  }
  return std::move(file->data_set);
}

absl::Status CheckPublishable(const v1::DataSet& data_set) {
  v1::DataSet rest = data_set;
  rest.clear_name();
  rest.clear_description();
  rest.clear_issuers();
  rest.clear_segments();
  rest.clear_facts();
  rest.clear_capital_actions();
  rest.clear_guidance();
  std::vector<const pb::FieldDescriptor*> fields;
  rest.GetReflection()->ListFields(rest, &fields);
  if (!fields.empty()) {
    return absl::UnimplementedError(
        absl::StrCat("DataSet field ", fields.front()->name(), " has no publish item"));
  }
  return absl::OkStatus();
}

std::vector<v1::PublishRequest> ToPublishRequests(const v1::DataSet& data_set, size_t max_items) {
  if (max_items == 0) max_items = 1;
  std::vector<v1::PublishRequest> batches(1);
  auto next = [&]() -> v1::PublishItem* {
    if (static_cast<size_t>(batches.back().items_size()) >= max_items) batches.emplace_back();
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
