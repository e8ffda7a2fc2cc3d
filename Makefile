# Kessan: `make run` starts kessand on 127.0.0.1:50051 with the IIJ data set
# and the dashboard on http://127.0.0.1:8080/;
# `make run-cluster` 3 nats-server nodes and 2 kessand replicas on them
# (deploy/cluster/run-cluster.sh); `make test` runs every test. All install
# what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
DATA_DIR ?= $(BUILD_DIR)/kessan-data
LISTEN ?= 127.0.0.1:50051
HTTP_LISTEN ?= 127.0.0.1:8080
SEED ?= data/iij/iij_4q02_fy2002.txtpb
JOBS ?= $(shell nproc)
# Each build is configured by its preset of CMakePresets.json (default,
# sanitize, fuzz) into the directory named here. The clang build with
# AddressSanitizer + UndefinedBehaviorSanitizer, which also holds the
# libFuzzer targets (tests/fuzz): `make test`'s is built at -O0, the quickest
# to compile; `make fuzz` has its own at -O1, where the fuzzers run more
# inputs per second (the flags: CMakeLists.txt, build type Sanitize).
SAN_DIR ?= build-asan
SAN_PRESET ?= sanitize
SAN_OPT ?= -O0
FUZZ_DIR ?= build-fuzz
# Not run under the sanitizers: the plugin SDK install test (recompiles the
# protos from scratch) and the tests with the memory bomb plugin (no
# RLIMIT_AS under ASan, see server/plugin/worker_main.cc). The sanitize test
# preset excludes the same.
SAN_EXCLUDE ?= plugins.sdk_install_test|MemoryBombIsResourceExhausted|MisbehavingPluginsCostOneCallNotTheServer
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 5

.PHONY: all deps configure build run run-cluster test lint format format-check clean sanitize-build test-sanitize fuzz fuzz-smoke bench bench-deps

all: build

deps:
	@.ci/deps.sh

configure: deps
	@cmake --preset default -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@echo "kessand: journal in $(DATA_DIR), seed $(SEED); Ctrl-C stops it"
	@echo "dashboard: http://$(HTTP_LISTEN)/"
	$(BUILD_DIR)/server/kessand --listen $(LISTEN) --http_listen $(HTTP_LISTEN) \
	  --http_static_dir $(BUILD_DIR)/clients/web/dist --data_dir $(DATA_DIR) --seed $(SEED)

# Ports and directories: environment variables, see the script's header.
run-cluster: build
	@BUILD_DIR=$(BUILD_DIR) SEED=$(SEED) deploy/cluster/run-cluster.sh

# Every test, then the same suite under ASan+UBSan and a bounded fuzz run
# (a second, clang build); SANITIZE=0 skips those two for a quick run.
SANITIZE ?= 1
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)
ifneq ($(SANITIZE),0)
	$(MAKE) --no-print-directory test-sanitize SAN_TESTS=
endif

sanitize-build: deps
	@cmake --preset $(SAN_PRESET) -B $(SAN_DIR) -DKESSAN_SANITIZE_OPT=$(SAN_OPT) \
	  -DKESSAN_FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) >/dev/null
	cmake --build $(SAN_DIR) -j $(JOBS)

# Every test under ASan + UBSan (clang); a finding fails the test. `make
# test` runs the fuzz smoke tests in the same ctest (SAN_TESTS=), beside it.
SAN_TESTS ?= -LE fuzz
test-sanitize: sanitize-build
	cd $(SAN_DIR) && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) $(SAN_TESTS) -E '$(SAN_EXCLUDE)'

# Each fuzz target for FUZZ_SMOKE_SECONDS (CI), or FUZZ_SECONDS (make fuzz).
fuzz-smoke: sanitize-build
	cd $(SAN_DIR) && ctest --output-on-failure -j $(JOBS) -L fuzz

fuzz:
	$(MAKE) --no-print-directory sanitize-build SAN_PRESET=fuzz SAN_DIR=$(FUZZ_DIR) SAN_OPT=-O1
	tests/fuzz/run_fuzz.sh $(FUZZ_DIR) $(CURDIR) $(FUZZ_SECONDS)

# Benchmarks: kessand against Redis pub/sub and core NATS (tests/bench/README.md).
# QUICK=1 runs a subset; REPS=n repetitions (default 3).
bench-deps: deps
	@.ci/bench_deps.sh

bench: build bench-deps
	BUILD_DIR=$(BUILD_DIR) tests/bench/compare.sh

# The C++ sources clang-format owns (.clang-format): every tracked .cc/.h
# but FORMAT_EXCLUDE (an extended regex: generated or third-party files).
# They need clang-format only (make deps installs it).
FORMAT_EXCLUDE ?= ^(third_party|build[^/]*)/|\.pb\.(h|cc)$$
FORMAT_FILES = $(shell git ls-files -- '*.cc' '*.h' | grep -Ev '$(FORMAT_EXCLUDE)')

format:
	@clang-format -i $(FORMAT_FILES)

# Fails if clang-format would change a file, naming each such file at its
# first difference.
format-check:
	@clang-format --dry-run -Werror --ferror-limit=1 $(FORMAT_FILES)

lint: deps format-check
	clients/node/node_modules/.bin/buf lint proto

clean:
	rm -rf $(BUILD_DIR) $(SAN_DIR) $(FUZZ_DIR)
