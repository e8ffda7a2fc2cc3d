// Small helpers of kessan-bench: monotonic time, a latency histogram that
// lives in shared memory, and /proc readings of the server.
#pragma once

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>

namespace kessan::bench {

// The glibc tunable kessan-bench runs with (RaiseMallocCache): never passed
// on to the kessand it starts.
inline constexpr char kMallocTunables[] = "GLIBC_TUNABLES=glibc.malloc.tcache_count=4096";

// Unless GLIBC_TUNABLES is set, sets it to kMallocTunables and execs this
// binary (its path read from /proc/self/exe) again with `argv`; on failure,
// returns and runs as is.
void RaiseMallocCache(char** argv);

// CLOCK_MONOTONIC in nanoseconds: comparable between processes of one host.
inline uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

// Sleeps until the CLOCK_MONOTONIC time `t`.
void SleepUntilNs(uint64_t t);

// Latency histogram: 1 us buckets up to 16 ms, then 256 us buckets up to
// ~10 s. Plain counters, written by one process, summed by the parent.
struct Histogram {
  static constexpr int kLinear = 16384;
  static constexpr int kCoarse = 40000;
  static constexpr int kBuckets = kLinear + kCoarse;
  uint32_t counts[kBuckets];

  void Add(uint64_t us) {
    uint64_t b = us < kLinear ? us : kLinear + std::min<uint64_t>((us - kLinear) / 256, kCoarse - 1);
    counts[b]++;
  }
  static double BucketUs(int b) { return b < kLinear ? b : kLinear + (b - kLinear) * 256.0 + 128; }
};

// Percentile q (0..1] of the summed histogram; -1 when empty.
double Percentile(const uint64_t* counts, uint64_t total, double q);

// CPU time (user + system) and memory of a process, from /proc.
struct ProcSample {
  double cpu_s = 0;
  long rss_kb = 0;  // VmRSS
  long hwm_kb = 0;  // VmHWM: peak RSS
  long threads = 0;
};
ProcSample ReadProc(int pid);

// CPU seconds of this process and of its reaped children.
double SelfCpuSeconds();
double ChildrenCpuSeconds();

// Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit.
long RaiseFdLimit();

}  // namespace kessan::bench
