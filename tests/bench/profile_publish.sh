#!/usr/bin/env bash
# profile_publish.sh: kessand under callgrind while kessan-bench loads it, then
# the publish path's instructions per published event, part by part
# (callgrind_breakdown.py). Instruction counts do not depend on the machine's
# load, so builds can be compared on a busy machine.
#
# usage: tests/bench/profile_publish.sh [KESSAND [LABEL [kessan-bench flags...]]]
# default: build/server/kessand, label "kessand", --mode tput -S 1 --size 200 --duration 10.
# Environment: BUILD_DIR (build), OUT (BUILD_DIR/bench/profile). Everything is on
# 127.0.0.1; kessand is stopped by its PID and its scratch directory removed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(cd "${BUILD_DIR:-$ROOT/build}" && pwd)
KESSAND=${1:-$BUILD_DIR/server/kessand}
LABEL=${2:-kessand}
shift $(( $# < 2 ? $# : 2 ))
FLAGS=("$@")
[ ${#FLAGS[@]} -gt 0 ] || FLAGS=(--mode tput -S 1 --size 200 --duration 10)
OUT=${OUT:-$BUILD_DIR/bench/profile}
mkdir -p "$OUT"
command -v valgrind > /dev/null || { echo "profile_publish.sh: valgrind is not installed"; exit 1; }
DATA=$(mktemp -d "$OUT/data.XXXXXX")
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
valgrind --tool=callgrind --callgrind-out-file="$OUT/$LABEL.cg" "$KESSAND" --listen "127.0.0.1:$PORT" \
  --data_dir "$DATA" --plugin_dir none > "$OUT/$LABEL.out" 2> "$OUT/$LABEL.valgrind" &
PID=$!
cleanup() {
  if kill -0 "$PID" 2> /dev/null; then
    kill -TERM "$PID"
    for _ in $(seq 1 300); do kill -0 "$PID" 2> /dev/null || break; sleep 0.2; done
    kill -0 "$PID" 2> /dev/null && kill -KILL "$PID"
  fi
  wait "$PID" 2> /dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q "listening on port" "$OUT/$LABEL.out" 2> /dev/null && break
  kill -0 "$PID" 2> /dev/null || { echo "profile_publish.sh: kessand exited"; exit 1; }
  sleep 0.2
done
callgrind_control -z "$PID" > /dev/null  # start, calibration and setup left out
"$BUILD_DIR/tests/bench/kessan-bench" --server "127.0.0.1:$PORT" --server_pid "$PID" "${FLAGS[@]}" \
  --label "$LABEL" | tail -1 > "$OUT/$LABEL.json"
callgrind_control -d "$PID" > /dev/null  # the run, as $LABEL.cg.1
callgrind_annotate --inclusive=yes --threshold=100 "$OUT/$LABEL.cg.1" > "$OUT/$LABEL.incl.txt" 2> /dev/null
/usr/bin/python3 "$ROOT/tests/bench/callgrind_breakdown.py" "$OUT/$LABEL.incl.txt"
