// Where kessand finds the plugin worker and the bundled plugins.
#pragma once

#include <string>

namespace kessan {

// The directory of the running executable (/proc/self/exe), or "".
std::string ExecutableDir();

// The bundled plugins of the build or install kessand belongs to: the first
// existing of <exe dir>/../plugins/lib (build tree), <exe dir>/../lib/kessan/plugins
// (install tree) and the build tree this library was compiled in. "" if none.
std::string DefaultPluginDir();

// kessan-plugin-worker: next to the running executable, else in the
// install's libexec, else the one of the build tree this library was
// compiled in. "" if none exists.
std::string DefaultWorkerPath();

}  // namespace kessan
