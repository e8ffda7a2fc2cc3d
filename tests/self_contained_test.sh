#!/usr/bin/env bash
# A clone must build and test on its own: no build, test or tool file may
# reach outside the tree (for example ../shared, the workplace's folder
# beside it). Documents may mention it; nothing that builds or tests may.
# `make bench` and tests/bench/cluster_compare.sh alone compare against the
# peers' load tools kept there.
set -euo pipefail
root="$1"
cd "$root"
if [ -d .git ] || [ -f .git ]; then
  files=$(git ls-files)
else
  files=$(find . -type f -not -path './build*' -not -path '*/node_modules/*' | sed 's|^\./||')
fi
bad=$(printf '%s\n' $files | grep -Ev '\.md$|^docs/|^tests/self_contained_test\.sh$|^tests/bench/(cluster_)?compare\.sh$' |
  xargs -r grep -lE '\.\./shared|/work/shared' -- 2>/dev/null || true)
if [ -n "$bad" ]; then
  echo "files that reach outside the tree:"
  printf '%s\n' $bad | while read -r f; do grep -nHE '\.\./shared|/work/shared' "$f"; done
  exit 1
fi
echo "no file reaches outside the tree ($(printf '%s\n' $files | wc -l) files checked)"
