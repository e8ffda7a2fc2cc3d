// Where kessand finds the plugin worker and the bundled plugins.
#pragma once

#include <string>

namespace kessan {

// The directory of the running executable (/proc/self/exe), or "".
std::string ExecutableDir();

// The directory of the file holding this code: libkessan.so when the server
// is linked as that shared library, else the executable's. "" if unknown.
std::string LibraryDir();

// The bundled plugins of the build or install kessand or libkessan.so
// belongs to: the first existing of <libkessan.so dir>/kessan/plugins
// (installed library), <exe dir>/../plugins/lib (build tree),
// <exe dir>/../lib/kessan/plugins (installed kessand) and the build tree this
// library was compiled in. "" if none.
std::string DefaultPluginDir();

// kessan-plugin-worker: in the install's libexec/kessan beside
// libkessan.so's lib, else next to the running executable, else in the
// libexec/kessan of the install kessand belongs to, else the one of the
// build tree this library was compiled in. "" if none exists.
std::string DefaultWorkerPath();

}  // namespace kessan
