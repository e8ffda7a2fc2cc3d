// Writes the seed corpora of the fuzz targets from the curated data:
//
//   kessan-fuzz-corpus OUT_DIR FILE...
//
// Each FILE is a kessan.v1.DataSet or a kessan.v1.PublishRequest in text
// format (data/iij, data/examples). Writes OUT_DIR/publish_validation
// (serialized PublishRequests and Filters), OUT_DIR/dataset_loader (the
// files as the loader reads them, text and JSON) and OUT_DIR/worker_protocol
// (request and reply frames carrying the data as plugin inputs),
// OUT_DIR/journal_rows (journal rows of the data's facts, as journaled),
// OUT_DIR/subscribe_request and OUT_DIR/get_snapshot_request (requests of
// each start mode and view, filtered on the data's names) and
// OUT_DIR/plugin_output (reply bodies of a run: outputs, an error).
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "dataset/dataset.h"
#include "event/encoded_event.h"
#include "journal/journal_rows.h"
#include "kessan/v1/plugin.pb.h"
#include "plugin/worker_protocol.h"

namespace fs = std::filesystem;

namespace {

int count = 0;

void Write(const fs::path& dir, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / ("seed_" + std::to_string(count++)), std::ios::binary) << bytes;
}

// A journal_rows_fuzz input: the keys blob's size, last - first, the blobs.
std::string RowInput(const kessan::RowBuilder& row) {
  std::string out;
  const uint32_t keys_size = static_cast<uint32_t>(row.keys().size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(keys_size >> (8 * i)));
  const uint64_t span = row.last_sequence() - row.first_sequence();
  out.push_back(static_cast<char>(span & 0xff));
  out.push_back(static_cast<char>(span >> 8));
  return out + row.keys() + row.events();
}

// Subscribe and GetSnapshot requests: unfiltered and by `filter`; each
// start mode (a resume from 5) and each view (as of 2003-06-01).
void WriteFeedRequests(const fs::path& out, const kessan::v1::Filter& filter) {
  for (const bool filtered : {false, true}) {
    for (const auto view : {kessan::v1::REVISION_VIEW_LATEST, kessan::v1::REVISION_VIEW_FIRST_REPORTED,
                            kessan::v1::REVISION_VIEW_AS_OF}) {
      kessan::v1::PointInTime when;
      when.set_view(view);
      if (view == kessan::v1::REVISION_VIEW_AS_OF) when.mutable_as_of()->set_seconds(1054425600);
      kessan::v1::GetSnapshotRequest snapshot;
      if (filtered) *snapshot.mutable_filter() = filter;
      *snapshot.mutable_point_in_time() = when;
      Write(out / "get_snapshot_request", snapshot.SerializeAsString());
      for (const auto start : {kessan::v1::START_MODE_SNAPSHOT_THEN_LIVE,
                               kessan::v1::START_MODE_FROM_SEQUENCE, kessan::v1::START_MODE_LIVE_ONLY}) {
        kessan::v1::SubscribeRequest subscribe;
        if (filtered) *subscribe.mutable_filter() = filter;
        subscribe.set_start(start);
        if (start == kessan::v1::START_MODE_FROM_SEQUENCE) subscribe.set_from_sequence(5);
        *subscribe.mutable_point_in_time() = when;
        subscribe.set_heartbeat_interval_ms(1000);
        subscribe.set_slow_consumer_policy(kessan::v1::SLOW_CONSUMER_POLICY_CONFLATE);
        Write(out / "subscribe_request", subscribe.SerializeAsString());
      }
    }
  }
}

// Reply bodies (the frame without its length) of a run of `run`: outputs
// of each kind, using its first inputs; and a plugin's error.
void WritePluginOutputs(const fs::path& out, const kessan::v1::PluginRunRequest& run) {
  namespace wire = kessan::plugin_wire;
  kessan::v1::PluginRunResponse response;
  for (int i = 0; i < run.inputs_size() && i < 3; ++i) response.add_used_sequences(run.inputs(i).sequence());
  kessan::v1::Output* money = response.add_outputs();
  money->set_name("gross_proceeds");
  money->set_label("Gross proceeds");
  money->mutable_money()->set_currency_code("JPY");
  money->mutable_money()->set_units(3512880000);
  money->set_derivation("8,400 shares x JPY 418,200 issue price = 3,512,880,000");
  kessan::v1::Output* ratio = response.add_outputs();
  ratio->set_name("ownership_dilution");
  ratio->mutable_decimal()->set_value("0.148936");
  kessan::v1::Output* count = response.add_outputs();
  count->set_name("pro_forma_shares");
  count->set_count(56400);
  kessan::v1::Output* text = response.add_outputs();
  text->set_name("note");
  text->set_text("assumes no other issue");
  Write(out / "plugin_output", wire::EncodeReply(0, "", response.SerializeAsString()).substr(4));
  Write(out / "plugin_output",
        wire::EncodeReply(3, "parameter shares_outstanding_before: required", "").substr(4));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR FILE...\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  namespace wire = kessan::plugin_wire;
  for (int i = 2; i < argc; ++i) {
    std::stringstream text;
    text << std::ifstream(argv[i]).rdbuf();
    kessan::v1::DataSet ds;
    kessan::v1::PublishRequest request;
    const bool is_request = text.str().find("proto-message: kessan.v1.PublishRequest") != std::string::npos;
    if (!is_request && google::protobuf::TextFormat::ParseFromString(text.str(), &ds) &&
        ds.issuers_size() > 0) {
      Write(out / "dataset_loader", "t" + text.str());
      std::string json;
      if (google::protobuf::util::MessageToJsonString(ds, &json).ok())
        Write(out / "dataset_loader", "j" + json);
      kessan::v1::PluginRunRequest run;
      run.set_issuer(ds.issuers(0).id());
      for (const kessan::v1::PublishRequest& batch : kessan::ToPublishRequests(ds, 25)) {
        Write(out / "publish_validation", batch.SerializeAsString());
        for (const auto& item : batch.items()) {
          if (item.has_fact() && run.inputs_size() < 20) *run.add_inputs()->mutable_fact() = item.fact();
        }
      }
      // The facts journaled from sequence 1000, as the fuzz target reads them.
      kessan::RowBuilder row;
      uint64_t sequence = 1000;
      for (const kessan::v1::PublishRequest& batch : kessan::ToPublishRequests(ds, 1000)) {
        for (const auto& item : batch.items()) {
          if (!item.has_fact() || row.count() >= 40) continue;
          kessan::v1::FeedEvent event;
          event.set_sequence(sequence);
          event.mutable_time()->set_seconds(1054166400);
          *event.mutable_fact() = item.fact();
          kessan::EventPtr encoded = kessan::EncodeEvent(std::move(event));
          row.Add(sequence++, 1054166400000000000, encoded->attrs().item_key, encoded->frame());
        }
      }
      if (!row.empty()) Write(out / "journal_rows", RowInput(row));
      kessan::v1::Filter filter;
      filter.add_issuers("11J");
      filter.add_concepts("revenue");
      filter.add_event_kinds(kessan::v1::EVENT_KIND_FACT);
      Write(out / "publish_validation", filter.SerializeAsString());
      WriteFeedRequests(out, filter);
      WritePluginOutputs(out, run);
      kessan::v1::PluginRunResponse response;
      response.add_used_sequences(1);
      Write(out / "worker_protocol", wire::EncodeRequest(wire::kDescribe, 5, "") +
                                         wire::EncodeRequest(wire::kRun, 5, run.SerializeAsString()));
      Write(out / "worker_protocol", wire::EncodeReply(0, "", response.SerializeAsString()) +
                                         wire::EncodeReply(3, "parameter x: bad", ""));
    } else if (google::protobuf::TextFormat::ParseFromString(text.str(), &request)) {
      Write(out / "publish_validation", request.SerializeAsString());
    } else {
      std::fprintf(stderr, "%s: neither a DataSet nor a PublishRequest\n", argv[i]);
      return 1;
    }
  }
  std::printf("kessan-fuzz-corpus: %d seeds in %s\n", count, out.c_str());
  return 0;
}
