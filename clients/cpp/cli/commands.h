// cli/commands.h: running a parsed `kessan` command.

#pragma once

#include <ostream>

#include "cli/args.h"
#include "kessan/client.h"

namespace kessan::cli {

// RunCommand()
//
// Runs `args` (not Command::kHelp) against `client`: results go to `out`
// as JSON (protobuf's JSON mapping, lowerCamel field names), a failure to
// `err` as one line "kessan: CODE: message". Returns kExitOk or
// kExitFailure. Blocks for as long as the command runs (a subscription
// without --limit runs until the server ends it).
int RunCommand(const Args& args, Client& client, std::ostream& out,
               std::ostream& err);

}  // namespace kessan::cli
