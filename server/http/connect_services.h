// The Connect procedures of kessan.v1.FeedService and ScenarioService over
// Services: the same calls, checks and errors as gRPC's.
#pragma once

#include <map>
#include <string>

#include "http/http_server.h"
#include "service/services.h"

namespace kessan::http {

// "/kessan.v1.FeedService/Publish" ... "/kessan.v1.ScenarioService/WatchScenario".
// `services` outlives the server they are given to.
std::map<std::string, Procedure> ServiceProcedures(Services& services);

}  // namespace kessan::http
