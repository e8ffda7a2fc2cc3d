#!/usr/bin/env bash
# cluster_compare.sh: kessan-bench with the SQLite journal and with the NATS
# JetStream journal (--journal nats: 3 nats-server nodes, a stream of 3
# replicas) on the same machine, runs interleaved (sqlite, nats, sqlite,
# nats...) so load drift hits both: durable publish rate, fan-out at each S,
# publish-to-receive latency; then the cross-replica runs (--replicas 2:
# publisher on one kessand, subscribers on the other) and, when the peer
# tools are there, JetStream's own rate (nats_bench --jetstream, 1 node) at
# each S. One line per run, "<what> <S> rep=<n> <JSON or RESULT line>", to
# $RES (default build/bench/cluster.<stamp>.txt).
#
# Environment: BUILD_DIR (build), REPS (3), SUBS ("1 16 256"), DURATION (4),
# LAT_S (256), LAT_RATE (1000), LAT_SECONDS (4), JETSTREAM (1: run the peer),
# NATS1 (1: also one nats-server, a stream of 1 replica), PEERS_DIR (the peer
# tools, as in compare.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD_DIR=$(cd "${BUILD_DIR:-build}" && pwd)
OUT=$(mkdir -p "$BUILD_DIR/bench" && cd "$BUILD_DIR/bench" && pwd)
BENCH=$BUILD_DIR/tests/bench/kessan-bench
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench/peers}
REPS=${REPS:-3}; SUBS=${SUBS:-"1 16 256"}; DURATION=${DURATION:-4}
LAT_S=${LAT_S:-256}; LAT_RATE=${LAT_RATE:-1000}; LAT_SECONDS=${LAT_SECONDS:-4}
JETSTREAM=${JETSTREAM:-1}
RES=${RES:-$OUT/cluster.$(date +%Y%m%d-%H%M%S).txt}
[ -x "$BENCH" ] || { echo "cluster_compare.sh: $BENCH not built (make build)"; exit 1; }
if [ "$JETSTREAM" = 1 ] && [ -f "$PEERS_DIR/run_one.sh" ]; then
  make -s -C "$PEERS_DIR" OUT="$OUT/peers" "$OUT/peers/nats_bench" >/dev/null 2>&1 ||
    make -C "$PEERS_DIR" OUT="$OUT/peers" "$OUT/peers/nats_bench"
else
  JETSTREAM=0
fi
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) nproc=$(nproc) $(uptime)" >>"$RES"

# run WHAT S REP kessan-bench-args...
run() {
  local what=$1 s=$2 rep=$3; shift 3
  local line
  line=$(timeout 200 "$BENCH" --timeout 150 --label "$what-r$rep" "$@" | tail -1) || true
  echo "$what S=$s rep=$rep load=$(cut -d' ' -f1 /proc/loadavg) ${line:-FAILED}" | tee -a "$RES"
}

for rep in $(seq "$REPS"); do
  for journal in sqlite nats; do
    run "$journal-publish" 0 "$rep" --journal "$journal" --mode publish --size 200 --duration "$DURATION"
  done
  for s in $SUBS; do
    for journal in sqlite nats; do
      run "$journal-tput" "$s" "$rep" --journal "$journal" --mode tput -S "$s" --size 200 --duration "$DURATION"
    done
    if [ "$JETSTREAM" = 1 ]; then
      line=$(OUT="$OUT/peers" DURATION=$DURATION timeout 200 "$PEERS_DIR/run_one.sh" jetstream 200 "$s" tput 0 "$rep" \
               /dev/null | tail -1) || true
      echo "jetstream-tput S=$s rep=$rep load=$(cut -d' ' -f1 /proc/loadavg) ${line:-FAILED}" | tee -a "$RES"
    fi
  done
  for journal in sqlite nats; do
    run "$journal-lat" "$LAT_S" "$rep" --journal "$journal" --mode lat -S "$LAT_S" --size 200 \
      --rate "$LAT_RATE" --duration "$LAT_SECONDS"
  done
  # What the three nodes cost on these cores: one nats-server, a stream of 1
  # replica (as the JetStream peer), NATS1=0 leaves it out.
  if [ "${NATS1:-1}" = 1 ]; then
    run nats1-publish 0 "$rep" --journal nats --nats_nodes 1 --mode publish --size 200 --duration "$DURATION"
    run nats1-tput 1 "$rep" --journal nats --nats_nodes 1 --mode tput -S 1 --size 200 --duration "$DURATION"
  fi
  # Cross-replica: published on one kessand, received on the other.
  run nats2-tput 16 "$rep" --journal nats --replicas 2 --mode tput -S 16 --size 200 --duration "$DURATION"
  run nats2-lat "$LAT_S" "$rep" --journal nats --replicas 2 --mode lat -S "$LAT_S" --size 200 \
    --rate "$LAT_RATE" --duration "$LAT_SECONDS"
done
echo "cluster_compare.sh: $RES"
