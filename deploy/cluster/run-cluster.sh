#!/usr/bin/env bash
# A local Kessan cluster: 3 nats-server nodes with JetStream and 2 kessand
# replicas with --journal nats on one stream of 3 replicas, all on 127.0.0.1.
# `make run-cluster` installs what is missing, builds, then runs this.
#
#   deploy/cluster/run-cluster.sh           run until Ctrl-C, then stop everything
#   deploy/cluster/run-cluster.sh --check   start, check both replicas serve the
#                                            same snapshot and that it is still
#                                            served with kessand1 stopped, stop;
#                                            exit 0 if so
#
# Environment (defaults in brackets):
#   BUILD_DIR          the build tree with server/kessand [build]
#   CLUSTER_DIR        nats storage, kessand caches, logs [$BUILD_DIR/kessan-cluster;
#                      --check: a temporary directory, removed at exit]
#   NATS_CLIENT_PORTS  client ports of the 3 nodes [4222,4223,4224]
#   NATS_CLUSTER_PORTS route ports [6222,6223,6224]
#   NATS_HTTP_PORTS    monitoring ports, /healthz [8222,8223,8224]
#   KESSAND_PORTS      the 2 replicas' gRPC ports [50051,50052]
#   NATS_STREAM        the JetStream stream [KESSAN]
#   SEED               data set the first replica seeds an empty stream with
#                      [data/iij/iij_4q02_fy2002.txtpb]
#   KESSAND_ARGS       more kessand flags, e.g. "--plugin_dir none"
#   KESSAN_CLI         the kessan CLI [$BUILD_DIR/clients/cpp/kessan]
#   READY_SECONDS      how long to wait for each component [60]
set -euo pipefail
# Each child in its own process group: Ctrl-C reaches this script only, which
# stops the kessand replicas while NATS is still up, then NATS.
set -m
SOURCE_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$SOURCE_DIR"

CHECK=0
case "${1:-}" in
  "") ;;
  --check) CHECK=1 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

BUILD_DIR="${BUILD_DIR:-build}"
KESSAND="$BUILD_DIR/server/kessand"
KESSAN="${KESSAN_CLI:-$BUILD_DIR/clients/cpp/kessan}"
NATS_SERVER="${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
IFS=, read -r -a NATS_CLIENT <<<"${NATS_CLIENT_PORTS:-4222,4223,4224}"
IFS=, read -r -a NATS_CLUSTER <<<"${NATS_CLUSTER_PORTS:-6222,6223,6224}"
IFS=, read -r -a NATS_HTTP <<<"${NATS_HTTP_PORTS:-8222,8223,8224}"
IFS=, read -r -a KESSAND_PORT <<<"${KESSAND_PORTS:-50051,50052}"
NATS_STREAM="${NATS_STREAM:-KESSAN}"
SEED="${SEED:-data/iij/iij_4q02_fy2002.txtpb}"
READY_SECONDS="${READY_SECONDS:-60}"
read -r -a EXTRA_ARGS <<<"${KESSAND_ARGS:-}"

if ((${#NATS_CLIENT[@]} != 3 || ${#NATS_CLUSTER[@]} != 3 || ${#NATS_HTTP[@]} != 3)); then
  echo "run-cluster: NATS_*_PORTS name 3 ports each" >&2; exit 2
fi
if ((${#KESSAND_PORT[@]} != 2)); then
  echo "run-cluster: KESSAND_PORTS names 2 ports" >&2; exit 2
fi
for f in "$KESSAND" "$KESSAN" "$NATS_SERVER"; do
  [ -x "$f" ] || { echo "run-cluster: $f missing: run \`make run-cluster\` (installs and builds)" >&2; exit 1; }
done

if ((CHECK)); then
  CLUSTER_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kessan-cluster-XXXXXX")"
else
  CLUSTER_DIR="${CLUSTER_DIR:-$BUILD_DIR/kessan-cluster}"
  mkdir -p "$CLUSTER_DIR"
fi
CLUSTER_DIR="$(cd "$CLUSTER_DIR" && pwd)"

NATS_URL=""
for p in "${NATS_CLIENT[@]}"; do NATS_URL+="${NATS_URL:+,}nats://127.0.0.1:$p"; done
SERVERS="127.0.0.1:${KESSAND_PORT[0]},127.0.0.1:${KESSAND_PORT[1]}"

# Every process this script started, stopped in reverse order at exit.
PIDS=()
NAMES=()
stopping=0
stop_all() {
  ((stopping)) && return
  stopping=1
  trap '' INT TERM  # a second Ctrl-C does not cut the stop short
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid="${PIDS[i]}"
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    # Up to 10 s for a clean exit, then SIGKILL.
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run-cluster: ${NAMES[i]} (pid $pid) ignored SIGTERM: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  ((CHECK)) && rm -rf "$CLUSTER_DIR"
  ((${#PIDS[@]})) && echo "run-cluster: stopped ${NAMES[*]}"
  return 0
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {  # NAME LOG COMMAND...
  local name="$1" log="$2"
  shift 2
  : >"$log"
  "$@" >"$log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
}

# The last lines of a log, for a failure message.
show_log() { echo "---- $1" >&2; tail -n 30 "$1" >&2 || true; }

# Polls CONDITION (a command) until it holds; fails if PID exits or the
# deadline passes.
wait_for() {  # WHAT PID LOG CONDITION...
  local what="$1" pid="$2" log="$3"
  shift 3
  local deadline=$((SECONDS + READY_SECONDS))
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run-cluster: $what exited" >&2; show_log "$log"; exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "run-cluster: $what not ready after ${READY_SECONDS}s" >&2; show_log "$log"; exit 1
    fi
    sleep 0.1
  done
}

# nats-server /healthz is 200 once JetStream has a meta leader.
nats_healthy() {  # HTTP_PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 &&
    printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3 && head -n 1 <&3" 2>/dev/null | grep -q ' 200 '
}

# kessand prints this line once it has caught up with the stream and serves.
kessand_serving() { grep -q '^kessand listening on port' "$1"; }

for i in 0 1 2; do
  n="n$((i + 1))"
  routes=""
  for j in 0 1 2; do
    ((j == i)) || routes+="${routes:+, }nats://127.0.0.1:${NATS_CLUSTER[j]}"
  done
  mkdir -p "$CLUSTER_DIR/$n"
  cat >"$CLUSTER_DIR/$n.conf" <<EOF
server_name: $n
listen: 127.0.0.1:${NATS_CLIENT[i]}
http: 127.0.0.1:${NATS_HTTP[i]}
jetstream {
  store_dir: "$CLUSTER_DIR/$n"
}
cluster {
  name: kessan-local
  listen: 127.0.0.1:${NATS_CLUSTER[i]}
  routes: [$routes]
}
EOF
  start "nats-server $n" "$CLUSTER_DIR/$n.log" "$NATS_SERVER" -c "$CLUSTER_DIR/$n.conf"
done
for i in 0 1 2; do
  wait_for "nats-server n$((i + 1))" "${PIDS[i]}" "$CLUSTER_DIR/n$((i + 1)).log" \
    nats_healthy "${NATS_HTTP[i]}"
done
echo "run-cluster: nats-server n1 n2 n3 ready ($NATS_URL)"

# The first replica seeds an empty stream; the second starts once the first
# serves, and builds its cache from the stream.
for i in 0 1; do
  name="kessand$((i + 1))"
  log="$CLUSTER_DIR/$name.log"
  args=(--listen "127.0.0.1:${KESSAND_PORT[i]}" --data_dir "$CLUSTER_DIR/$name"
        --journal nats --nats_url "$NATS_URL" --nats_stream "$NATS_STREAM" --nats_replicas 3)
  ((i == 0)) && args+=(--seed "$SEED")
  start "$name" "$log" "$KESSAND" "${args[@]}" "${EXTRA_ARGS[@]}"
  wait_for "$name" "${PIDS[3 + i]}" "$log" kessand_serving "$log"
  echo "run-cluster: $name serving on 127.0.0.1:${KESSAND_PORT[i]}"
done

# Both replicas for the CLI: a server list if this kessan takes one, else
# gRPC's ipv4: resolver list (one channel, the first address that answers).
"$KESSAN" --server "$SERVERS" --timeout 5s snapshot >/dev/null 2>&1 || SERVERS="ipv4:$SERVERS"

if ((CHECK)); then
  snapshot() {  # TARGET
    "$KESSAN" --server "$1" --timeout 10s snapshot
  }
  a="$(snapshot "127.0.0.1:${KESSAND_PORT[0]}")"
  b="$(snapshot "127.0.0.1:${KESSAND_PORT[1]}")"
  seq_a="$(grep -o '"sequence": *"[0-9]*"' <<<"$a" | head -n 1 | tr -dc 0-9 || true)"
  if [ -z "$seq_a" ] || [ "$seq_a" = 0 ]; then
    echo "run-cluster: FAIL: kessand1's snapshot has no sequence (not seeded?)" >&2
    head -c 2000 <<<"$a" >&2; exit 1
  fi
  if [ "$a" != "$b" ]; then
    echo "run-cluster: FAIL: the replicas' snapshots differ" >&2
    diff <(echo "$a") <(echo "$b") | head -n 40 >&2; exit 1
  fi
  echo "run-cluster: OK: both replicas serve the same snapshot at sequence $seq_a ($(wc -c <<<"$a") bytes)"
  # Failover: with kessand1 stopped, the two-replica --server reaches kessand2.
  kill -TERM "${PIDS[3]}"
  wait "${PIDS[3]}" || true
  c="$(snapshot "$SERVERS")"
  if [ "$a" != "$c" ]; then
    echo "run-cluster: FAIL: after kessand1 stopped, $SERVERS served another snapshot" >&2
    diff <(echo "$a") <(echo "$c") | head -n 40 >&2; exit 1
  fi
  echo "run-cluster: OK: kessand1 stopped, $SERVERS serves the same snapshot from kessand2"
  exit 0
fi

cat <<EOF

Running (logs and data in $CLUSTER_DIR):
  nats-server n1 n2 n3   JetStream, clients on $NATS_URL
  kessand1               127.0.0.1:${KESSAND_PORT[0]}  pid ${PIDS[3]}  (seeds the stream $NATS_STREAM, 3 replicas, if empty)
  kessand2               127.0.0.1:${KESSAND_PORT[1]}  pid ${PIDS[4]}  (cache built from the stream)

Try failover, in another shell:
  $KESSAN --server $SERVERS subscribe
  kill ${PIDS[3]}    # kessand1: the subscriber resumes on kessand2 after its last sequence
Only one replica may publish at a time today (docs/cluster.md, "Not done yet").
Ctrl-C stops everything.
EOF
# Until Ctrl-C: a replica killed to try failover leaves the rest running.
reported=()
while true; do
  alive=0
  for i in "${!PIDS[@]}"; do
    if kill -0 "${PIDS[i]}" 2>/dev/null; then
      alive=1
    elif [ -z "${reported[i]:-}" ]; then
      reported[i]=1
      echo "run-cluster: ${NAMES[i]} (pid ${PIDS[i]}) exited; log: $CLUSTER_DIR/${NAMES[i]#nats-server }.log" >&2
    fi
  done
  ((alive)) || exit 1
  wait -n || true
done
