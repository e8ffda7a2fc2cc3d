#!/usr/bin/env bash
# compare.sh: kessan-bench and the peer load tools (Redis pub/sub, core NATS,
# naive gRPC streaming) back to back on the same payload sizes and subscriber
# counts, repetitions interleaved; prints a markdown table with the ratios
# kessan/Redis and kessan/NATS. `make bench` runs it.
#
# Environment: BUILD_DIR (build), REPS (3), QUICK=1 (one repetition, a subset),
# SIZES ("200 1024"), SUBS ("1 16 256"), DURATION (4 s per throughput run),
# LAT_RATE (1000 events/s), LAT_S (256), LAT_SECONDS (4), IDLE_S (10000),
# GRPC_NAIVE (1: include the naive gRPC server), PEERS_DIR (the peer tools).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build}
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench/peers}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
OUT=$(mkdir -p "$BUILD_DIR/bench" && cd "$BUILD_DIR/bench" && pwd)
BENCH=$BUILD_DIR/tests/bench/kessan-bench
if [ "${QUICK:-0}" = 1 ]; then
  REPS=${REPS:-1}; SIZES=${SIZES:-200}; SUBS=${SUBS:-"1 16 256"}; IDLE_S=${IDLE_S:-2000}
  GRPC_NAIVE=${GRPC_NAIVE:-0}; REPLAY_EVENTS=${REPLAY_EVENTS:-200000}
fi
REPS=${REPS:-3}; SIZES=${SIZES:-"200 1024"}; SUBS=${SUBS:-"1 16 256"}
export DURATION=${DURATION:-4} LAT_SECONDS=${LAT_SECONDS:-4}
LAT_RATE=${LAT_RATE:-1000}; LAT_S=${LAT_S:-256}; IDLE_S=${IDLE_S:-10000}
GRPC_NAIVE=${GRPC_NAIVE:-1}; REPLAY_EVENTS=${REPLAY_EVENTS:-1000000}

[ -x "$BENCH" ] || { echo "compare.sh: $BENCH not built (make build)"; exit 1; }
SYSTEMS="kessan redis nats"
[ "$GRPC_NAIVE" = 1 ] && SYSTEMS="$SYSTEMS grpc-naive"
if [ -f "$PEERS_DIR/run_one.sh" ]; then
  make -s -C "$PEERS_DIR" OUT="$OUT/peers" >/dev/null 2>&1 || make -C "$PEERS_DIR" OUT="$OUT/peers"
else
  echo "compare.sh: no peer tools in $PEERS_DIR: kessan only (set PEERS_DIR)"
  SYSTEMS=kessan
fi
STAMP=$(date +%Y%m%d-%H%M%S)
RES=$OUT/results.$STAMP.txt
LOG=$OUT/results.$STAMP.log
: >"$RES"
ln -sf "results.$STAMP.txt" "$OUT/results.txt"
echo "compare.sh: results in $RES (log $LOG); REPS=$REPS SIZES='$SIZES' SUBS='$SUBS' DURATION=$DURATION"
echo "# $(date -u +%FT%TZ) kessan ${KESSAN_REV:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)}$(git -C "$ROOT" diff --quiet HEAD -- server 2>/dev/null || echo '+local server changes'); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES"

# run SYSTEM SIZE S MODE RATE REP
run() {
  local sys=$1 size=$2 s=$3 mode=$4 rate=$5 rep=$6
  local at=""; [ "$mode" = lat ] && at="@$rate"
  echo "  $sys size=$size S=$s $mode$at rep $rep" >&2
  if [ "$sys" = kessan ]; then
    local args=(--mode "$mode" -S "$s" --size "$size" --label "kessan-r$rep" --timeout 150)
    if [ "$mode" = lat ]; then args+=(--rate "$rate" --duration "$LAT_SECONDS"); else args+=(--duration "$DURATION"); fi
    timeout 200 "$BENCH" "${args[@]}" 2>>"$LOG" | grep '^{' >>"$RES" || echo "    kessan-bench failed (see $LOG)" >&2
  else
    OUT="$OUT/peers" timeout 200 "$PEERS_DIR/run_one.sh" "$sys" "$size" "$s" "$mode" "$rate" "$rep" "$RES" \
      >/dev/null 2>>"$LOG" || echo "    $sys failed (see $LOG)" >&2
  fi
}

# Rotates the system order by repetition, so no system always runs first.
order() {
  local rep=$1; set -- $SYSTEMS; local n=$#; local i
  for ((i = 0; i < n; i++)); do local k=$(( (i + rep) % n + 1 )); echo "${!k}"; done
}

for rep in $(seq 1 "$REPS"); do
  echo "repetition $rep of $REPS" >&2
  for size in $SIZES; do
    for s in $SUBS; do
      for sys in $(order "$rep"); do run "$sys" "$size" "$s" tput 0 "$rep"; done
    done
  done
  for sys in $(order "$rep"); do
    [ "$sys" = grpc-naive ] && continue  # overloaded at this rate (BASELINE.md)
    run "$sys" 200 "$LAT_S" lat "$LAT_RATE" "$rep"
  done
done

echo "kessan-only modes" >&2
k() { timeout 600 "$BENCH" "$@" --timeout 500 2>>"$LOG" | grep '^{' >>"$RES" || echo "    kessan-bench $* failed" >&2; }
/usr/bin/python3 "$ROOT/tests/bench/fsync_probe.py" "$OUT" >>"$RES" 2>>"$LOG" || echo "    fsync_probe failed" >&2
# The durable publish curve: larger batches and more in flight, until the
# disk's sync rate or the server's CPU bounds the rate.
for curve in "1 1" "1 8" "10 8" "100 8" "1000 1" "1000 2" "1000 8"; do
  set -- $curve
  k --mode publish --size 200 --duration "$DURATION" --batch "$1" --pub_inflight "$2" --label kessan-r1
done
k --mode replay --size 200 --replay_events "$REPLAY_EVENTS" --label kessan-r1
k --mode idle -S "$IDLE_S" --workers 2 --streams_per_channel 100 --label kessan-r1
k --mode tput -S 256 --workers 256 --streams_per_channel 1 --size 200 --duration "$DURATION" --label procs-r1
k --mode scenario --duration "$DURATION" --label kessan-r1

/usr/bin/python3 "$ROOT/tests/bench/compare_table.py" "$RES" | tee "$OUT/results.$STAMP.md"
ln -sf "results.$STAMP.md" "$OUT/results.md"
