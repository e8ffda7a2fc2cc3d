#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kessan::metrics {
namespace {

void Add(std::vector<prometheus::MetricFamily>* out, const char* name, const char* help,
         prometheus::MetricType type, double value) {
  out->push_back({name, help, type, {Sample(value)}});
}

double Num(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

// The fields of /proc/self/stat after the command: [0] is field 3 (state).
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  const size_t end = line.rfind(')');  // the command may hold spaces and ')'
  if (end == std::string::npos) return {};
  std::istringstream rest(line.substr(end + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

// Seconds since the epoch at boot, from /proc/stat; 0 if unknown.
double BootTime() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

int OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // not the directory's own descriptor
}

void CollectProcess(std::vector<prometheus::MetricFamily>* out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const std::vector<std::string> f = StatFields();
  // Fields 14 utime, 15 stime, 22 starttime (ticks since boot), 23 vsize (bytes), 24 rss (pages).
  if (f.size() >= 22 && ticks > 0) {
    Add(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
        prometheus::MetricType::Counter, (Num(f[11]) + Num(f[12])) / ticks);
    if (const double boot = BootTime(); boot > 0) {
      Add(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
          prometheus::MetricType::Gauge, boot + Num(f[19]) / ticks);
    }
    Add(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", prometheus::MetricType::Gauge,
        Num(f[20]));
    Add(out, "process_resident_memory_bytes", "Resident memory size in bytes.", prometheus::MetricType::Gauge,
        Num(f[21]) * page);
  }
  if (const int fds = OpenFds(); fds >= 0) {
    Add(out, "process_open_fds", "Number of open file descriptors.", prometheus::MetricType::Gauge, fds);
  }
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    Add(out, "process_max_fds", "Maximum number of open file descriptors.", prometheus::MetricType::Gauge,
        static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace

void AddProcessMetrics(Registry& registry) { registry.AddCollector(&CollectProcess); }

}  // namespace kessan::metrics
