#include "bench_util.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kessan::bench {

// glibc's per-thread cache keeps 7 freed chunks of a size. Resetting a parsed
// response's arena frees hundreds of padding strings of one size at once, and
// those past the seventh go through the malloc bins, a measurable part of the
// subscribers' CPU (tests/bench/README.md). The tunable is read only at
// process start, hence the exec.
void RaiseMallocCache(char** argv) {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  // The binary's own path, not /proc/self/exe, which would rename the
  // process "exe".
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return;
  self[n] = '\0';
  const char* value = std::strchr(kMallocTunables, '=') + 1;
  if (setenv("GLIBC_TUNABLES", value, 1) != 0) return;
  execv(self, argv);
  unsetenv("GLIBC_TUNABLES");
}

void SleepUntilNs(uint64_t t) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(t / 1000000000ull);
  ts.tv_nsec = static_cast<long>(t % 1000000000ull);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

double Percentile(const uint64_t* counts, uint64_t total, double q) {
  if (total == 0) return -1;
  uint64_t target = static_cast<uint64_t>(q * static_cast<double>(total));
  if (target < 1) target = 1;
  uint64_t cum = 0;
  for (int b = 0; b < Histogram::kBuckets; ++b) {
    cum += counts[b];
    if (cum >= target) return Histogram::BucketUs(b);
  }
  return Histogram::BucketUs(Histogram::kBuckets - 1);
}

ProcSample ReadProc(int pid) {
  ProcSample r;
  if (pid <= 0) return r;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (FILE* f = std::fopen(path, "r")) {
    char buf[4096];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    std::fclose(f);
    // Fields after the command name (which may hold spaces): state is 3,
    // utime 14, stime 15.
    if (char* q = std::strrchr(buf, ')')) {
      unsigned long ut = 0, st = 0;
      int field = 2;
      char* save = nullptr;
      for (char* tok = strtok_r(q + 1, " ", &save); tok; tok = strtok_r(nullptr, " ", &save)) {
        ++field;
        if (field == 14) ut = std::strtoul(tok, nullptr, 10);
        if (field == 15) {
          st = std::strtoul(tok, nullptr, 10);
          break;
        }
      }
      r.cpu_s = static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  if (FILE* f = std::fopen(path, "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      if (!std::strncmp(line, "VmRSS:", 6)) r.rss_kb = std::atol(line + 6);
      if (!std::strncmp(line, "VmHWM:", 6)) r.hwm_kb = std::atol(line + 6);
      if (!std::strncmp(line, "Threads:", 8)) r.threads = std::atol(line + 8);
    }
    std::fclose(f);
  }
  return r;
}

namespace {
double CpuOf(int who) {
  rusage r;
  getrusage(who, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}
}  // namespace

double SelfCpuSeconds() { return CpuOf(RUSAGE_SELF); }
double ChildrenCpuSeconds() { return CpuOf(RUSAGE_CHILDREN); }

long RaiseFdLimit() {
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return -1;
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  getrlimit(RLIMIT_NOFILE, &lim);
  return static_cast<long>(lim.rlim_cur);
}

}  // namespace kessan::bench
