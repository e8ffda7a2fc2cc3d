#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each, from the seed corpus (made from
# data/iij and data/examples) plus the corpus kept from earlier runs.
# Fails on the first finding; the crashing input is left in ARTIFACTS.
# With TARGETs, only those (each ctest fuzz test runs one, side by side).
#
#   tests/fuzz/run_fuzz.sh BUILD_DIR SOURCE_DIR SECONDS [TARGET ...]
set -euo pipefail
build="$1"
src="$2"
seconds="$3"
shift 3
targets=("$@")
fuzz="$build/tests/fuzz"
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$fuzz"/*_fuzz; do
    [ -x "$f" ] || continue
    name="${f##*/}"
    targets+=("${name%_fuzz}")
  done
  if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz: no fuzz target in $fuzz (build with -DKESSAN_FUZZ=ON and clang)" >&2
    exit 1
  fi
fi
# Its own seed directory per run of targets: runs side by side do not meet.
seeds="$fuzz/seeds/$(IFS=-; echo "${targets[*]}")"
corpus="$fuzz/corpus"
artifacts="$fuzz/artifacts"
rm -rf "$seeds"
"$fuzz/kessan-fuzz-corpus" "$seeds" "$src"/data/iij/*.txtpb "$src"/data/examples/*.txtpb \
  "$src"/plugins/dilution/examples/*.txtpb >/dev/null
mkdir -p "$artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for target in "${targets[@]}"; do
  mkdir -p "$corpus/$target"
  echo "fuzz: $target for ${seconds}s"
  log="$fuzz/$target.log"
  if ! "$fuzz/${target}_fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
      "$corpus/$target" "$seeds/$target" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $target found a problem; the input is in $artifacts"
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$log" | tr '\n' ' '
  echo
done
echo "fuzz: no finding"
