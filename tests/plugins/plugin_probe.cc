// plugin_probe DIR NAME [k=v ...]: loads the plugins of DIR in workers, as
// kessand does, runs NAME on a 4Q02 revenue / adjusted EBITDA pair, and
// prints the plugin's state and the result as JSON. Used by
// sdk_install_test.sh to check a plugin built outside the tree.
#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "plugin/paths.h"
#include "plugin/plugin_host.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: plugin_probe DIR NAME\n";
    return 2;
  }
  kessan::PluginHostOptions options;
  options.plugin_dir = argv[1];
  options.worker_path = kessan::DefaultWorkerPath();
  auto host = kessan::PluginHost::Create(options);
  if (!host.ok()) {
    std::cerr << host.status() << "\n";
    return 1;
  }
  for (const kessan::v1::ScenarioInfo& info : (*host)->List()) {
    std::cout << info.scenario().name() << " state=" << kessan::v1::PluginState_Name(info.state())
              << " abi=" << info.abi_version() << " " << info.error() << "\n";
  }
  kessan::v1::PluginRunRequest request;
  request.set_issuer("IIJ");
  (*request.mutable_parameters())["digits"].set_integer(4);
  for (auto [seq, concept_id, units] :
       {std::tuple{5, "revenue", 13000000000LL}, {9, "adjusted_ebitda", 459000000LL}}) {
    kessan::v1::FeedEvent* e = request.add_inputs();
    e->set_sequence(seq);
    e->mutable_fact()->mutable_key()->set_concept_id(concept_id);
    e->mutable_fact()->mutable_key()->mutable_period()->set_fiscal_year(2002);
    e->mutable_fact()->mutable_key()->mutable_period()->set_kind(kessan::v1::PERIOD_KIND_QUARTER);
    e->mutable_fact()->mutable_key()->mutable_period()->set_number(4);
    e->mutable_fact()->mutable_value()->mutable_money()->set_currency_code("JPY");
    e->mutable_fact()->mutable_value()->mutable_money()->set_units(units);
  }
  auto result = (*host)->Run(argv[2], request);
  if (!result.ok()) {
    std::cerr << result.status() << "\n";
    return 1;
  }
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(*result, &json);
  std::cout << json << "\n";
  return 0;
}
