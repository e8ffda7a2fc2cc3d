// libFuzzer target: what a plugin returns from a run, as the host takes it.
// The input is the body of the worker's reply (plugin/worker_protocol.h: a
// status, a message, the plugin's output bytes); the host decodes it
// (DecodeRunReply: the plugin's error, or its PluginRunResponse checked) and
// builds the scenario result from it (ResultOf) against a run request of
// the IIJ data set's facts.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "fuzz_feed.h"
#include "plugin/plugin_host.h"
#include "plugin/scenario_engine.h"
#include "plugin/worker_protocol.h"

namespace {

const kessan::v1::PluginRunRequest* run_request = nullptr;
const kessan::v1::ScenarioDescriptor* descriptor = nullptr;

// A message as clients get it: no control characters, bounded.
bool Clean(absl::string_view message) {
  if (message.size() > kessan::kMaxPluginMessageBytes + 128) return false;
  for (char c : message) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const kessan::v1::DataSet& ds = kessan::fuzz::IijDataSet();
  auto* request = new kessan::v1::PluginRunRequest;
  request->set_issuer("IIJ");
  uint64_t sequence = 1;
  for (const kessan::v1::Fact& fact : ds.facts()) {
    if (request->inputs_size() >= 40) break;
    kessan::v1::FeedEvent* e = request->add_inputs();
    e->set_sequence(sequence++);
    *e->mutable_fact() = fact;
  }
  for (const kessan::v1::CapitalAction& action : ds.capital_actions()) {
    kessan::v1::FeedEvent* e = request->add_inputs();
    e->set_sequence(sequence++);
    *e->mutable_capital_action() = action;
  }
  run_request = request;
  auto* d = new kessan::v1::ScenarioDescriptor;
  d->set_name("fuzz");
  d->set_version("1");
  descriptor = d;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace wire = kessan::plugin_wire;
  wire::Reply reply;
  if (!wire::DecodeReply(std::string(reinterpret_cast<const char*>(data), size), &reply)) return 0;
  absl::StatusOr<kessan::v1::PluginRunResponse> response = kessan::DecodeRunReply("fuzz", reply);
  if (!response.ok()) {
    // The plugin's own code when it is a google.rpc code, else INTERNAL.
    const int code = static_cast<int>(response.status().code());
    if (code == 0 || (reply.status > 0 && reply.status <= 16 && code != reply.status)) std::abort();
    if (!Clean(response.status().message())) std::abort();
    return 0;
  }
  if (reply.status != 0) std::abort();
  for (const kessan::v1::Output& o : response->outputs()) {
    if (o.name().empty() || o.value_case() == kessan::v1::Output::VALUE_NOT_SET) std::abort();
  }
  absl::StatusOr<kessan::v1::ScenarioResult> result =
      kessan::ResultOf(*descriptor, *run_request, *response, 99);
  std::set<uint64_t> given;
  for (const kessan::v1::FeedEvent& e : run_request->inputs()) given.insert(e.sequence());
  bool only_given = true;
  for (uint64_t s : response->used_sequences()) only_given = only_given && given.count(s) > 0;
  if (result.ok() != only_given) std::abort();
  if (!result.ok()) {
    if (result.status().code() != absl::StatusCode::kInternal) std::abort();
    return 0;
  }
  // The result carries the outputs as returned, and each input used once.
  if (result->outputs_size() != response->outputs_size()) std::abort();
  std::set<uint64_t> used(response->used_sequences().begin(), response->used_sequences().end());
  if (static_cast<size_t>(result->inputs_used_size()) != used.size()) std::abort();
  for (const kessan::v1::InputRef& ref : result->inputs_used()) {
    if (used.count(ref.sequence()) == 0) std::abort();
  }
  (void)result->SerializeAsString();
  return 0;
}
