#!/bin/sh
# Installs the plugin SDK (component "sdk") from the build tree into a
# scratch prefix, builds tests/plugins/external_plugin against it with
# find_package(KessanPluginSdk), and runs the plugin in a worker.
#   sdk_install_test.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR PROBE
set -eu
build=$1 src=$2 work=$3 probe=$4
rm -rf "$work"
mkdir -p "$work/plugins"
cmake --install "$build" --component sdk --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/kessan/plugin.h"
cmake -S "$src/tests/plugins/external_plugin" -B "$work/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" -j 1 >/dev/null
cp "$work/build/ebitda_margin.so" "$work/plugins/"
out=$("$probe" "$work/plugins" ebitda_margin)
echo "$out"
echo "$out" | grep -q 'ebitda_margin state=PLUGIN_STATE_READY abi=1.0'
# 459,000,000 / 13,000,000,000 = 0.0353
echo "$out" | grep -q '"value":"0.0353"'
echo "sdk_install_test: OK"
