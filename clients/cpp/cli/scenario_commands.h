// cli/scenario_commands.h: the `kessan scenarios` and `kessan scenario`
// commands (kessan.v1.ScenarioService).
//
//   kessan scenarios [--json]
//   kessan scenario run NAME [--param K=V]... [--issuer ID] [--as_of TIME] [--json]
//   kessan scenario watch NAME [--param K=V]... [--issuer ID] [--limit N] [--json]
//
// Human-readable output by default; --json prints one JSON object per
// result (protobuf's JSON mapping), one per line.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "kessan/client.h"

namespace kessan::cli {

// True if the command line (after the program name) is a scenario command.
bool IsScenarioCommand(const std::vector<std::string>& argv);

// Runs a scenario command; returns the process exit code (kExitOk,
// kExitFailure, kExitUsage).
// `connection` gives the security settings (its address is replaced by --server).
int RunScenarioCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
                       const ClientOptions& connection = {});

// The usage lines of the scenario commands.
std::string ScenarioUsage();

}  // namespace kessan::cli
