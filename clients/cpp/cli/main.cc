// kessan: command line client of kessan.v1.FeedService. See Usage().

#include <iostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/scenario_commands.h"
#include "kessan/client.h"

int main(int argc, char** argv) {
  using ::kessan::cli::Args;
  using ::kessan::cli::Command;

  const std::vector<std::string> argv_tail(argv + 1, argv + argc);
  if (kessan::cli::IsScenarioCommand(argv_tail)) {
    return kessan::cli::RunScenarioCommand(argv_tail, std::cout, std::cerr);
  }
  absl::StatusOr<Args> args = kessan::cli::ParseArgs(argv_tail);
  if (!args.ok()) {
    std::cerr << "kessan: " << args.status().message() << "\n\n"
              << kessan::cli::Usage();
    return kessan::cli::kExitUsage;
  }
  if (args->command == Command::kHelp) {
    std::cout << kessan::cli::Usage() << "\nScenarios:\n" << kessan::cli::ScenarioUsage();
    return kessan::cli::kExitOk;
  }
  kessan::Client client(args->server);
  return kessan::cli::RunCommand(*args, client, std::cout, std::cerr);
}
