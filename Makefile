# keel: the two commands that matter.
#   make run    install missing Debian packages, build, start keel on its embedded defaults
#   make check  install, build, and run every test (release build, ASan+UBSan build, fuzzers briefly)
JOBS     ?= $(shell nproc)
BUILD    ?= build
ASAN     ?= build-asan
FUZZ     ?= build-fuzz
FUZZ_SECONDS ?= 10
KEEL_ARGS ?=

.PHONY: all deps build asan fuzz run check test test-asan fuzz-run node-deps bench clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DKEEL_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)

fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Debug -DKEEL_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ) -j $(JOBS)

node-deps:
	@bash scripts/node-deps.sh

run: build
	./$(BUILD)/keel serve $(KEEL_ARGS)

test: build node-deps
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: asan node-deps
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

fuzz-run: fuzz
	@bash scripts/run-fuzzers.sh $(FUZZ) $(FUZZ_SECONDS)

check: test test-asan fuzz-run
	@echo "make check: all tests passed"

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
