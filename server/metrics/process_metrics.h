// Process metrics from /proc/self, with the standard names:
// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds.
#pragma once

#include "metrics/registry.h"

namespace kessan::metrics {

// Adds a collector that reads /proc/self when scraped (Linux); a file that
// cannot be read leaves its families out.
void AddProcessMetrics(Registry& registry);

}  // namespace kessan::metrics
