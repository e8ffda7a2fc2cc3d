// kessan: command line client of kessan.v1.FeedService. See Usage().

#include <iostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/scenario_commands.h"
#include "cli/security_flags.h"
#include "kessan/client.h"

int main(int argc, char** argv) {
  using ::kessan::cli::Args;
  using ::kessan::cli::Command;

  kessan::ClientOptions connection;  // TLS and token
  absl::StatusOr<std::vector<std::string>> rest =
      kessan::cli::TakeSecurityFlags(std::vector<std::string>(argv + 1, argv + argc), &connection);
  if (!rest.ok()) {
    std::cerr << "kessan: " << rest.status().message() << "\n\n" << kessan::cli::SecurityUsage();
    return kessan::cli::kExitUsage;
  }
  const std::vector<std::string>& argv_tail = *rest;
  if (kessan::cli::IsScenarioCommand(argv_tail)) {
    return kessan::cli::RunScenarioCommand(argv_tail, std::cout, std::cerr, connection);
  }
  absl::StatusOr<Args> args = kessan::cli::ParseArgs(argv_tail);
  if (!args.ok()) {
    std::cerr << "kessan: " << args.status().message() << "\n\n" << kessan::cli::Usage();
    return kessan::cli::kExitUsage;
  }
  if (args->command == Command::kHelp) {
    std::cout << kessan::cli::Usage() << "\nScenarios:\n"
              << kessan::cli::ScenarioUsage() << "\n"
              << kessan::cli::SecurityUsage();
    return kessan::cli::kExitOk;
  }
  connection.servers = args->servers;
  connection.on_failover = [](const std::string& from, const std::string& to, const absl::Status& status) {
    std::cerr << "kessan: server " << from << " failed (" << absl::StatusCodeToString(status.code()) << ": "
              << status.message() << "); switching to " << to << std::endl;
  };
  kessan::Client client(connection);
  return kessan::cli::RunCommand(*args, client, std::cout, std::cerr);
}
