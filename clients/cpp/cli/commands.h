// cli/commands.h: running a parsed `kessan` command.

#pragma once

#include <ostream>
#include <string>

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
//
// `kessan subscribe` resumes a lost stream unless --no-reconnect, and says
// so on `err`, one DescribeNotice() line per notice; `out` stays one JSON
// line per event.
int RunCommand(const Args& args, Client& client, std::ostream& out, std::ostream& err);

// DescribeNotice()
//
// One line (without newline) for a resuming subscription's notice:
// "kessan: stream ended (UNAVAILABLE: ...); reconnecting in 230ms
// (attempt 1), resuming after sequence 42".
std::string DescribeNotice(const ResumeNotice& notice);

}  // namespace kessan::cli
