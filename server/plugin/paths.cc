#include "plugin/paths.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <vector>

namespace kessan {
namespace {

namespace fs = std::filesystem;

std::string FirstExisting(const std::vector<fs::path>& candidates, bool directory) {
  for (const fs::path& p : candidates) {
    std::error_code ec;
    if (p.empty()) continue;
    if (directory ? fs::is_directory(p, ec) : (fs::is_regular_file(p, ec) && access(p.c_str(), X_OK) == 0)) {
      return fs::weakly_canonical(p, ec).string();
    }
  }
  return "";
}

}  // namespace

std::string ExecutableDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "" : exe.parent_path().string();
}

std::string LibraryDir() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&LibraryDir), &info) == 0 || info.dli_fname == nullptr) return "";
  std::error_code ec;
  const fs::path file = fs::canonical(info.dli_fname, ec);
  return ec ? "" : file.parent_path().string();
}

std::string DefaultPluginDir() {
  const std::string lib = LibraryDir();
  const std::string exe = ExecutableDir();
  std::vector<fs::path> candidates;
  if (!lib.empty() && lib != exe) candidates.push_back(fs::path(lib) / KESSAN_LIB_TO_PLUGINS);
  if (!exe.empty()) {
    candidates.push_back(fs::path(exe) / ".." / "plugins" / "lib");
    candidates.push_back(fs::path(exe) / KESSAN_BIN_TO_PLUGINS);
  }
  candidates.push_back(KESSAN_BUNDLED_PLUGIN_DIR);
  return FirstExisting(candidates, true);
}

std::string DefaultWorkerPath() {
  const std::string lib = LibraryDir();
  const std::string exe = ExecutableDir();
  std::vector<fs::path> candidates;
  if (!lib.empty() && lib != exe) {
    candidates.push_back(fs::path(lib) / KESSAN_LIB_TO_WORKER / "kessan-plugin-worker");
  }
  if (!exe.empty()) {
    candidates.push_back(fs::path(exe) / "kessan-plugin-worker");
    candidates.push_back(fs::path(exe) / KESSAN_BIN_TO_WORKER / "kessan-plugin-worker");
  }
  candidates.push_back(KESSAN_PLUGIN_WORKER_BUILD_PATH);
  return FirstExisting(candidates, false);
}

}  // namespace kessan
