#!/usr/bin/env bash
# Installs what Kessan needs and this machine lacks: Debian packages (with
# sudo when not root) and the npm packages of clients/node (buf; the Node
# client's libraries, TypeScript and protoc-gen-es; the dashboard's
# connect-web, uplot, esbuild and playwright-core). Quiet when all is there
# already.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  # the linker of every build (CMakeLists.txt, KESSAN_LLD)
  lld
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev
  libspdlog-dev libjemalloc-dev python3 python3-grpcio python3-grpc-tools python3-protobuf
  nodejs
  # security: OpenSSL (token hashing, deploy/tls/make-certs.sh); clang with
  # its sanitizer and libFuzzer runtimes (make test-sanitize, make fuzz)
  libssl-dev openssl clang clang-14 libclang-rt-14-dev
  # the plugin worker's seccomp-bpf sandbox (server/plugin/worker_main.cc)
  libseccomp-dev
  # metrics: the Prometheus text format (server/metrics/)
  prometheus-cpp-dev
  # deploy/check_deploy.py: systemd-analyze verify, the k8s manifests' YAML
  systemd python3-yaml
  # the NATS JetStream journal (server/journal/nats_journal.cc) and its tests' real servers
  nats-server libnats-dev
  # the HTTP/Connect port (server/http/): libevent's evhttp
  libevent-dev
  # the dashboard's browser test (tests/web): playwright-core drives it
  chromium
  # make format / make lint (.clang-format)
  clang-format
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm ci when a tool or library of clients/node is missing or the lock changed.
npm_needed=0
for f in .bin/buf .bin/tsc .bin/protoc-gen-es .bin/esbuild @connectrpc/connect-node/package.json \
         @connectrpc/connect-web/package.json @bufbuild/protobuf/package.json uplot/package.json \
         playwright-core/package.json; do
  [ -e "clients/node/node_modules/$f" ] || npm_needed=1
done
if ((npm_needed)) ||
   [ clients/node/package-lock.json -nt clients/node/node_modules/.package-lock.json ]; then
  echo "deps: npm ci in clients/node"
  (cd clients/node && npm ci --no-audit --no-fund --loglevel=error)
fi
