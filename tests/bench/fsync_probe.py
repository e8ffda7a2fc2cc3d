#!/usr/bin/env python3
"""fsync_probe.py DIR [COUNT]: the disk's durable-append latency under DIR.

Appends 64 KiB (a journal commit of ~300 events of 200 B) and calls
fdatasync, COUNT times (200) in a fresh file, as kessand's SQLite journal
does per commit group; prints one JSON line with the p50, p90 and p99 in
microseconds and the implied ceiling of synced commits per second. kessand's
durable publish rate is bounded by it times the events per commit."""
import json
import os
import statistics
import sys
import tempfile
import time


def main(directory, count):
    block = os.urandom(64 * 1024)
    fd, path = tempfile.mkstemp(prefix='kessan-fsync-probe-', dir=directory)
    samples = []
    try:
        for _ in range(count):
            os.write(fd, block)
            start = time.perf_counter_ns()
            os.fdatasync(fd)
            samples.append((time.perf_counter_ns() - start) / 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    samples.sort()

    def pct(p):
        return samples[min(len(samples) - 1, int(p / 100 * len(samples)))]

    print(json.dumps({
        'system': 'machine', 'mode': 'fdatasync', 'label': 'machine-r1', 'append_bytes': len(block),
        'count': count, 'p50_us': round(pct(50), 1), 'p90_us': round(pct(90), 1), 'p99_us': round(pct(99), 1),
        'mean_us': round(statistics.fmean(samples), 1), 'syncs_per_s_at_p50': round(1e6 / max(pct(50), 1e-3)),
    }))


if __name__ == '__main__':
    if len(sys.argv) not in (2, 3):
        sys.exit('usage: fsync_probe.py DIR [COUNT]')
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 200)
