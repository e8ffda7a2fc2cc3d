#!/bin/sh
# `cmake --install` of the build into a scratch prefix, then, against that
# prefix alone: tests/install/app (find_package(Kessan), Kessan::server and
# Kessan::client) built and run; a one-file program built with pkg-config
# and run; the installed kessand started, finding the installed worker and
# plugins. Nothing of the tree is recompiled.
#   install_test.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR LIBDIR
set -eu
build=$1 src=$2 work=$3 libdir=$4
rm -rf "$work"
mkdir -p "$work"
prefix=$(realpath "$work")/prefix  # canonical, as the paths kessan logs
lib=$prefix/$libdir
kessand_pid=
trap '[ -n "$kessand_pid" ] && kill "$kessand_pid" 2>/dev/null; true' EXIT

# run STEP COMMAND...: its output only if it fails.
run() {
  step=$1
  shift
  if ! "$@" >"$work/$step.log" 2>&1; then
    cat "$work/$step.log"
    echo "install_test: $step failed: $*"
    exit 1
  fi
}
fail() {
  echo "install_test: $*"
  exit 1
}

run install cmake --install "$build" --prefix "$prefix"
for f in bin/kessand bin/kessan libexec/kessan/kessan-plugin-worker "$libdir/kessan/plugins/dilution.so" \
         "$libdir/libkessan.so" "$libdir/libkessan_client.so" "$libdir/libkessan_messages.so" \
         include/kessan/server.h include/kessan/client.h include/kessan/v1/feed.pb.h include/kessan/plugin.h \
         "$libdir/cmake/Kessan/KessanConfig.cmake" "$libdir/pkgconfig/kessan.pc" \
         "$libdir/pkgconfig/kessan-client.pc" share/kessan/proto/kessan/v1/feed.proto; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
if ls "$prefix"/include/kessan/v1/*.grpc.pb.h >/dev/null 2>&1; then fail "gRPC stubs installed"; fi
# libkessan.so exports the API of server.h and local.h alone
# (cmake/kessan_server.map), libkessan_client.so kessan:: (cmake/kessan.map).
api='kessan::(Server::|SetLogHandler\(|RouteProtobufLogsToSpdlog\(|VerifyJournal\(|Server$|LocalClient$|LocalSubscription$)'
other=$(nm -DC --defined-only "$lib/libkessan.so" | cut -d' ' -f3- |
  sed -E 's/^(typeinfo name for|typeinfo for|vtable for) //' | grep -Ev "^$api" || true)
[ -z "$other" ] || fail "libkessan.so exports more than its API: $(echo "$other" | head -5)"
nm -DC --defined-only "$lib/libkessan.so" | grep -q ' kessan::Server::Start(' || fail "libkessan.so: no Server::Start"
other=$(nm -DC --defined-only "$lib/libkessan_client.so" | grep -v -e ' kessan::' -e ' for kessan::' -e ' to kessan::' || true)
[ -z "$other" ] || fail "libkessan_client.so exports more than kessan::: $(echo "$other" | head -5)"

# find_package(Kessan): an app with Kessan::server and Kessan::client.
run app_configure cmake -S "$src/tests/install/app" -B "$work/app" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix"
run app_build cmake --build "$work/app" -j 1
ldd "$work/app/embed_app" | grep -q "libkessan.so.0 => $lib/" || fail "embed_app does not load the installed libkessan"
run app "$work/app/embed_app" "$work/app-data" "$src/data/iij/iij_4q02_fy2002.txtpb"
cat "$work/app.log" | grep -v '^\[' || true
worker=$prefix/libexec/kessan/kessan-plugin-worker
grep -q "plugin host: 3 plugin(s) in $lib/kessan/plugins, run by $worker" "$work/app.log" ||
  fail "embed_app: not the installed plugins and worker: $(grep 'plugin host' "$work/app.log")"
grep -q "plugin dilution from $lib/kessan/plugins/dilution.so" "$work/app.log" || fail "embed_app: no dilution"
# 8,400 shares at JPY 418,200 (the IIJ data set's placement).
grep -q "dilution gross_proceeds 3512880000 JPY" "$work/app.log" || fail "embed_app: wrong dilution"
grep -q "in-process snapshot of" "$work/app.log" || fail "embed_app: no in-process snapshot"
grep -q "embed_app: OK" "$work/app.log" || fail "embed_app did not finish"

# pkg-config: one file, the server and the client.
cat >"$work/pc_app.cc" <<'CC'
#include <cstdio>
#include "kessan/client.h"
#include "kessan/server.h"
int main(int argc, char** argv) {
  kessan::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = argv[1];
  options.plugin_dir = "none";
  auto server = kessan::Server::Start(options);
  if (!server.ok()) return 1;
  kessan::Client client("127.0.0.1:" + std::to_string((*server)->port()));
  auto snapshot = client.GetSnapshot(kessan::v1::Filter());
  if (!snapshot.ok()) return 1;
  std::printf("pc_app: snapshot at sequence %llu\n", static_cast<unsigned long long>(snapshot->sequence()));
  return 0;
}
CC
flags=$(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --cflags --libs kessan kessan-client) ||
  fail "pkg-config kessan kessan-client"
# shellcheck disable=SC2086
run pc_build c++ -std=c++17 -o "$work/pc_app" "$work/pc_app.cc" $flags -Wl,-rpath,"$lib"
run pc_app "$work/pc_app" "$work/pc-data"
grep -q "pc_app: snapshot at sequence 0" "$work/pc_app.log" || fail "pc_app: $(cat "$work/pc_app.log")"

# The installed kessand: its flags, and its own worker and plugins.
"$prefix/bin/kessand" --help >"$work/help.log" 2>&1 || true
grep -q -- "--plugin_dir" "$work/help.log" || fail "kessand --help: $(head -5 "$work/help.log")"
"$prefix/bin/kessand" --listen 127.0.0.1:0 --data_dir "$work/kessand-data" >"$work/kessand.log" 2>&1 &
kessand_pid=$!
waited=0
until grep -q "plugin host: 3 plugin(s) in $lib/kessan/plugins, run by $worker" "$work/kessand.log"; do
  kill -0 "$kessand_pid" 2>/dev/null || fail "kessand exited: $(tail -5 "$work/kessand.log")"
  [ "$waited" -lt 600 ] || fail "kessand: no plugins from $lib/kessan/plugins in 60 s: $(tail -5 "$work/kessand.log")"
  sleep 0.1  # polls the log, bounded above
  waited=$((waited + 1))
done
kill -TERM "$kessand_pid"
wait "$kessand_pid" || fail "kessand did not stop cleanly on SIGTERM"
kessand_pid=
echo "install_test: OK"
