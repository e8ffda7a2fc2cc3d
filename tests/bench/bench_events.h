// The events kessan-bench publishes: real kessan.v1 facts of a bench issuer,
// padded to a size, carrying their send time.
#pragma once

#include <cstdint>

#include "kessan/v1/feed.pb.h"

namespace kessan::bench {

// Issuer id of the bench's facts (fiscal year ends in March, like IIJ).
inline constexpr char kBenchIssuer[] = "KBENCH";

// A batch with the bench issuer.
v1::PublishRequest IssuerBatch();

// Fills `item` with fact number `index` of the bench issuer: concept
// "bench_probe", one of 1,024 quarters (so facts are revisions of 1,024 keys,
// and a batch of up to 1,000 consecutive facts holds each key once),
// value.count = `send_ns` (CLOCK_MONOTONIC at publish, for latency) and a
// provenance note of `pad` bytes.
void FillFact(v1::PublishItem* item, uint64_t index, uint64_t send_ns, int pad);

// The send time a delivered fact carries; 0 when it is not a bench fact.
inline uint64_t SendTimeOf(const v1::FeedEvent& event) {
  return event.has_fact() ? static_cast<uint64_t>(event.fact().value().count()) : 0;
}

}  // namespace kessan::bench
