# Kessan: `make run` starts kessand on 127.0.0.1:50051 with the IIJ data set;
# `make test` runs every test. Both install what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
DATA_DIR ?= $(BUILD_DIR)/kessan-data
LISTEN ?= 127.0.0.1:50051
SEED ?= data/iij/iij_4q02_fy2002.txtpb
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test lint clean

all: build

deps:
	@.ci/deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@echo "kessand: journal in $(DATA_DIR), seed $(SEED); Ctrl-C stops it"
	$(BUILD_DIR)/server/kessand --listen $(LISTEN) --data_dir $(DATA_DIR) --seed $(SEED)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

lint: deps
	clients/node/node_modules/.bin/buf lint proto

clean:
	rm -rf $(BUILD_DIR)
