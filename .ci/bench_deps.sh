#!/usr/bin/env bash
# Installs what `make bench` needs beyond `make deps`: the peer systems and
# their client libraries, for tests/bench/compare.sh (not needed by `make test`).
set -euo pipefail
APT_PACKAGES=(redis-server libhiredis-dev nats-server libnats-dev time)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "bench deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
