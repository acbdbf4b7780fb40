# deltaflow developer commands. The two that matter on a fresh machine:
#   make demo   install what is missing, build, run the bundled example
#   make test   install what is missing, build once, run every test (C++, consumer, Python)
SHELL := /bin/bash
BUILD := build/dev
STAGE := $(CURDIR)/build/stage
VENV := .venv
PIP_BUILD = $(VENV)/bin/pip install --no-build-isolation --no-deps -q \
	-Cbuild-dir=$(1) -Ccmake.build-type=Release $(2) .

.PHONY: setup install demo kafka-demo postgres-demo test cpp-test consumer-test py-test asan tsan format lint clean

setup:
	@bash scripts/setup.sh

# Builds the C++ library, its tests and the Python extension in one CMake build directory and
# installs the package into .venv.
install: setup
	$(call PIP_BUILD,$(BUILD),-Ccmake.define.DELTAFLOW_BUILD_TESTS=ON -Ccmake.define.DELTAFLOW_ENABLE_DCHECK=ON)

demo: install
	$(VENV)/bin/python examples/streaming_wordcount/wordcount.py

# Kafka to Kafka: a word count over a topic, against the broker of scripts/kafka.sh.
kafka-demo: install
	$(VENV)/bin/python examples/kafka_wordcount/wordcount.py

# CSV files to a PostgreSQL snapshot table, against the server of scripts/postgres.sh.
postgres-demo: install
	$(VENV)/bin/python examples/postgres_snapshot/pipeline.py

test: install
	$(MAKE) --no-print-directory cpp-test consumer-test py-test

cpp-test:
	ctest --test-dir $(BUILD) --output-on-failure -j2

# A C++ user's project built against an installed copy: checks the exported CMake config.
consumer-test:
	rm -rf $(STAGE) build/consumer
	cmake --install $(BUILD) --prefix $(STAGE) > /dev/null
	cmake -S examples/cpp -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH=$(STAGE) > /dev/null
	cmake --build build/consumer
	build/consumer/value_demo && build/consumer/wordcount

py-test:
	$(VENV)/bin/python -m pytest -q tests/python

# Sanitizer builds of the C++ tests (not run in CI).
asan: setup
	cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDELTAFLOW_SANITIZE=address,undefined
	cmake --build build/asan
	ctest --test-dir build/asan --output-on-failure -j2

tsan: setup
	cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDELTAFLOW_ENABLE_DCHECK=ON -DDELTAFLOW_SANITIZE=thread
	cmake --build build/tsan
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1" ctest --test-dir build/tsan --output-on-failure -j2

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

lint: install
	clang-tidy -p $(BUILD) $$(git ls-files 'src/*.cc')

clean:
	rm -rf build

# Throughput of the dd core (Google Benchmark, Release, one worker); see benchmarks/README.md.
.PHONY: bench-dd
bench-dd: setup
	cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DDELTAFLOW_BUILD_BENCHMARKS=ON -DDELTAFLOW_BUILD_TESTS=OFF
	cmake --build build/bench --target deltaflow_dd_bench
	build/bench/benchmarks/deltaflow_dd_bench $(BENCH_ARGS)

# The benchmark harness: deltaflow against differential-dataflow on the same machine (builds
# both, runs them alternately, writes benchmarks/results/latest.{md,json}); needs cargo.
# `make bench RUN_ARGS=--quick` for 1M keys; see benchmarks/README.md.
.PHONY: bench
bench: setup
	python3 benchmarks/run.py $(RUN_ARGS)
