# poolalloc — make (build), make demo (the main job), make check (all tests),
# make bench (against peer allocators), make install PREFIX=... DESTDIR=...  See README.md.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= gcc
BUILD   := build

WARN    := -Wall -Wextra -Werror
BASE    := -std=gnu11 -g $(WARN) -fPIC -fvisibility=hidden -fno-builtin -D_GNU_SOURCE -Iinclude -Ialloc -Iprof -Ihttp
CFLAGS_LIB := $(BASE) -O2 -fno-plt
SAN_ASAN := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_TSAN := -O1 -fsanitize=thread

ALLOC_SRC   := $(sort $(wildcard alloc/*.c) $(wildcard pool/*.c) $(wildcard prof/*.c) $(wildcard http/*.c))
LIB_LIBS    := -ldl -lpthread
PRELOAD_SRC := $(sort $(wildcard preload/*.c))
HEADERS     := $(wildcard alloc/*.h pool/*.h prof/*.h http/*.h include/*.h)

LIB_OBJ := $(patsubst %.c,$(BUILD)/lib/%.o,$(ALLOC_SRC) $(PRELOAD_SRC))
SO      := $(BUILD)/libpoolalloc.so
AR_LIB  := $(BUILD)/libpoolalloc.a

# Debian packages the build and the demo use; `make deps` installs the missing ones.
DEBS := gcc g++ make pkg-config libunwind-dev libdw-dev zlib1g-dev python3 sqlite3 coreutils time
# ... and those `make check` adds: Criterion, a browser for the flame graph's
# test, Go's pprof to decode our pprof output, clang's libFuzzer, node for the
# browser driver (npm installs playwright-core into build/node).
CHECK_DEBS := libcriterion-dev chromium golang-go clang libclang-rt-14-dev nodejs python3-prometheus-client valgrind
# ... and those `make bench` adds: the peer allocators and heaptrack.
BENCH_DEBS := libmimalloc-dev libjemalloc-dev libtcmalloc-minimal4 heaptrack
BENCH_C    := $(sort $(wildcard bench/workloads/*.c))
BENCH_CXX  := $(sort $(wildcard bench/workloads/*.cc))
BENCH_BIN  := $(patsubst bench/workloads/%.c,$(BUILD)/bench/%,$(BENCH_C)) \
              $(patsubst bench/workloads/%.cc,$(BUILD)/bench/%,$(BENCH_CXX))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# the profile tool (tools/): reads dumps, never allocator internals
TOOL_SRC  := $(sort $(wildcard tools/*.c))
TOOL_HDR  := $(wildcard tools/*.h)
TOOL      := $(BUILD)/poolalloc-prof
TOOL_LIBS := -ldw -lelf -lz -lstdc++

.PHONY: all deps check-deps check-tools check-http demo-stats check check-unit check-preload check-real check-bench check-example check-fastpath check-prof demo bench bench-deps install clean
all: $(SO) $(AR_LIB) $(BUILD)/poolalloc.pc $(TOOL)

# ---- the library ------------------------------------------------------------
$(BUILD)/lib/preload/cxx.o: EXTRA := -fexceptions
$(BUILD)/lib/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) $(EXTRA) -c $< -o $@

$(SO): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libpoolalloc.so -Wl,-z,now -o $@ $^ $(LIB_LIBS)

$(AR_LIB): $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/poolalloc.pc: poolalloc.pc.in
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|g' $< > $@

# ---- the profile tool (tools/): reads dumps, never allocator internals ------------
$(TOOL): $(TOOL_SRC) $(TOOL_HDR)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -o $@ $(TOOL_SRC) $(TOOL_LIBS)

# ---- dependencies -------------------------------------------------------------
deps:
	@missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# ---- tests ------------------------------------------------------------------------
# Unit tests of the internal API and the pools, linked without the malloc
# overrides, so the same tests run plain, under ASan+UBSan and under TSan.
UNIT_SRC    := $(sort $(wildcard tests/unit/*.c))
PRELOAD_TSRC:= $(sort $(wildcard tests/preload/*.c))
TEST_HDR    := $(wildcard tests/*.h tests/*/*.h)

define unit_variant
$(BUILD)/$(1)/%.o: %.c $(HEADERS)
	@mkdir -p $$(dir $$@)
	$(CC) $(BASE) $(2) -c $$< -o $$@
$(BUILD)/test-unit-$(1): $(patsubst %.c,$(BUILD)/$(1)/%.o,$(ALLOC_SRC)) $(UNIT_SRC) $(TEST_HDR)
	$(CC) $(BASE) $(2) -Itests -o $$@ $(UNIT_SRC) $(patsubst %.c,$(BUILD)/$(1)/%.o,$(ALLOC_SRC)) -lcriterion -lm $(LIB_LIBS)
endef
$(eval $(call unit_variant,plain,-O2))
$(eval $(call unit_variant,asan,$(SAN_ASAN)))
$(eval $(call unit_variant,tsan,$(SAN_TSAN)))

# Tests of the exported symbols: linked against libpoolalloc.so, so every
# malloc in the test binary (and in Criterion) is poolalloc's.
$(BUILD)/test-preload: $(PRELOAD_TSRC) $(TEST_HDR) $(SO)
	$(CC) -std=gnu11 -g -O1 $(WARN) -D_GNU_SOURCE -Iinclude -Itests -fno-builtin -o $@ $(PRELOAD_TSRC) \
	  -L$(BUILD) -Wl,-rpath,'$$ORIGIN' -Wl,--no-as-needed -lpoolalloc -lcriterion -lpthread

check-deps: deps
	@$(MAKE) --no-print-directory deps DEBS="$(CHECK_DEBS)"

check: deps check-deps
	@$(MAKE) --no-print-directory all $(BUILD)/test-unit-plain $(BUILD)/test-unit-asan $(BUILD)/test-unit-tsan $(BUILD)/test-preload $(BENCH_BIN) $(PROF_BIN) $(TOOLS_TEST_BIN)
	@$(MAKE) --no-print-directory check-unit check-preload check-real check-bench check-example check-fastpath check-prof check-tools check-http

check-unit:
	@echo "== unit tests (internal API, no malloc override)"; $(BUILD)/test-unit-plain
	@echo "== unit tests under AddressSanitizer + UBSan"; $(BUILD)/test-unit-asan
	@echo "== unit tests under ThreadSanitizer"; TSAN_OPTIONS=halt_on_error=1 $(BUILD)/test-unit-tsan

check-preload:
	@echo "== exported symbols (test binary linked with libpoolalloc.so)"; $(BUILD)/test-preload

check-real: $(SO)
	@echo "== real programs under LD_PRELOAD"; tests/real/run.sh $(abspath $(SO))

# The benchmark workloads, tiny, under glibc and poolalloc: same checksums.
check-bench: $(SO) $(BENCH_BIN)
	@echo "== bench workloads and pools (scale 0.02): checksums under glibc and poolalloc agree"
	@python3 bench/run.py --check --allocators glibc --lib $(SO)

# Sampled allocation profiling of real programs (tests/prof/run.sh): estimates
# against what the programs allocated, threads, dlopen, symbolized stacks.
PROF_BIN   := $(BUILD)/prof/accuracy $(BUILD)/prof/threads $(BUILD)/prof/fates $(BUILD)/prof/edges $(BUILD)/prof/peak $(BUILD)/prof/dlhost $(BUILD)/prof/plugin.so
PROF_FLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -fno-builtin $(WARN)
$(BUILD)/prof/plugin.so: tests/prof/plugin.c
	@mkdir -p $(dir $@)
	$(CC) $(PROF_FLAGS) -shared -fPIC -o $@ $<
$(BUILD)/prof/%: tests/prof/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROF_FLAGS) -pthread -o $@ $< -ldl

check-prof: $(SO) $(PROF_BIN) $(TOOL)
	@echo "== profiling: sampled estimates, threads, dlopen, symbolized stacks, fates and their report (programs under LD_PRELOAD)"; \
	  tests/prof/run.sh $(abspath $(SO)) $(abspath $(TOOL))

# poolalloc-prof from the outside, on real profiles (tests/tools/check.py),
# its SVG in a browser, its pprof output through Go's pprof, and its dump
# parser replaying the fuzz corpus under ASan+UBSan.
TOOLS_TEST := $(BUILD)/tools-test
SITES_FLAGS := -std=c++17 -O1 -g -fno-omit-frame-pointer -fno-builtin $(WARN)
$(TOOLS_TEST)/sites: tests/tools/sites.cc
	@mkdir -p $(dir $@)
	$(CXX) $(SITES_FLAGS) -o $@ $<
$(TOOLS_TEST)/wrappers: tests/tools/wrappers.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -fno-omit-frame-pointer -fno-builtin -fno-optimize-sibling-calls $(WARN) -o $@ $<
$(TOOLS_TEST)/sites-static: tests/tools/sites.cc $(AR_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(SITES_FLAGS) -o $@ $< $(AR_LIB) $(LIB_LIBS)

$(TOOLS_TEST)/flame_driver: tests/tools/flame_driver.c tools/flamegraph.c tools/common.c $(TOOL_HDR)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -Itools -o $@ tests/tools/flame_driver.c tools/flamegraph.c tools/common.c
$(TOOLS_TEST)/pprof_driver: tests/tools/pprof_driver.c tools/pprof.c tools/common.c $(TOOL_HDR)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -Itools -o $@ tests/tools/pprof_driver.c tools/pprof.c tools/common.c -lz
# The symbolizer on a program built here (C, C++, inline, non-PIE, stripped with debuglink).
$(TOOLS_TEST)/sym_test: tests/tools/sym_test.c tools/symbolize.c tools/dump.c tools/common.c $(TOOL_HDR)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -Itools -o $@ tests/tools/sym_test.c tools/symbolize.c tools/dump.c tools/common.c $(TOOL_LIBS)
# The dump parser's fuzz target, replaying the corpus without libFuzzer.
$(TOOLS_TEST)/fuzz_replay: tests/tools/fuzz_dump.c tests/tools/fuzz_replay.c tools/dump.c tools/common.c $(TOOL_HDR)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -Itools $(SAN_ASAN) -o $@ tests/tools/fuzz_dump.c tests/tools/fuzz_replay.c tools/dump.c tools/common.c
# ... and with libFuzzer, to fuzz more: build/tools-test/fuzz_dump -dict=tests/tools/fuzz.dict tests/tools/fuzz-corpus
$(TOOLS_TEST)/fuzz_dump: tests/tools/fuzz_dump.c tools/dump.c tools/common.c $(TOOL_HDR)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -D_GNU_SOURCE $(WARN) -Itools -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ tests/tools/fuzz_dump.c tools/dump.c tools/common.c
# The HTTP request parser's fuzz target: replayed under ASan+UBSan by make check, and
# with libFuzzer to fuzz more: build/http-test/fuzz_request -dict=tests/http/fuzz.dict tests/http/fuzz-corpus
HTTP_TEST := $(BUILD)/http-test
$(HTTP_TEST)/fuzz_request_replay: tests/http/fuzz_request.c tests/tools/fuzz_replay.c http/request.c http/request.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -Ihttp $(SAN_ASAN) -o $@ tests/http/fuzz_request.c tests/tools/fuzz_replay.c http/request.c
$(HTTP_TEST)/fuzz_request: tests/http/fuzz_request.c http/request.c http/request.h
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -D_GNU_SOURCE $(WARN) -Ihttp -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ tests/http/fuzz_request.c http/request.c
$(HTTP_TEST)/target: tests/http/target.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -fno-omit-frame-pointer -fno-builtin $(WARN) -pthread -o $@ $< -ldl

check-http: $(SO) $(TOOL) $(HTTP_TEST)/target $(HTTP_TEST)/fuzz_request_replay $(HTTP_TEST)/fuzz_request
	@echo "== POOLALLOC_HTTP: go tool pprof, Prometheus's parser, poolalloc-prof and abusive clients against a live program"; \
	  python3 tests/http/check.py $(SO) $(TOOL) $(HTTP_TEST)/target
	@echo "== request parser: the fuzz corpus replayed under ASan+UBSan"; \
	  $(HTTP_TEST)/fuzz_request_replay tests/http/fuzz-corpus

# playwright-core (pinned in tests/tools/package-lock.json) drives Debian's chromium.
NODE_DIR := $(BUILD)/node
$(NODE_DIR)/node_modules/playwright-core/package.json: tests/tools/package.json tests/tools/package-lock.json
	@mkdir -p $(NODE_DIR) && cp tests/tools/package.json tests/tools/package-lock.json $(NODE_DIR)/
	cd $(NODE_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@
TOOLS_TEST_BIN := $(TOOLS_TEST)/sites $(TOOLS_TEST)/sites-static $(TOOLS_TEST)/wrappers $(TOOLS_TEST)/flame_driver $(TOOLS_TEST)/pprof_driver $(TOOLS_TEST)/sym_test \
                  $(TOOLS_TEST)/fuzz_replay $(TOOLS_TEST)/fuzz_dump $(NODE_DIR)/node_modules/playwright-core/package.json

check-tools: $(TOOL) $(SO) $(TOOLS_TEST_BIN)
	@echo "== poolalloc-prof on real profiles: exact weights, merges, inline frames, bad input"; \
	  python3 tests/tools/check.py $(TOOL) $(SO) $(TOOLS_TEST)
	@echo "== symbolizer: names, lines, inline frames, non-PIE, moved and rebuilt files, debug files"; \
	  $(TOOLS_TEST)/sym_test tests/tools $(abspath $(SO)) $(TOOLS_TEST)/sym
	@echo "== flame graphs in headless chromium: widths, hover, zoom, search, diff colours, escaping"; \
	  node tests/tools/flamegraph_browser.js $(TOOLS_TEST)/flame_driver
	@echo "== pprof output decoded by Go's pprof"; \
	  PPROF_DRIVER=$(TOOLS_TEST)/pprof_driver tests/tools/pprof_check.sh
	@echo "== dump parser: the fuzz corpus replayed under ASan+UBSan"; \
	  $(TOOLS_TEST)/fuzz_replay tests/tools/fuzz-corpus tests/tools/fuzz-crashes

# The pools' private-slot paths, as compiled: no lock, no atomic RMW, no fence.
check-fastpath: $(SO)
	@echo "== pool fast paths in the machine code"; tests/fastpath.sh $(SO)

# The README's pool example, built the way the README says: installed into a
# staging directory, compiled with pkg-config, run; its statistics checked.
STAGE := $(abspath $(BUILD))/stage
check-example: all
	@echo "== examples/request_loop.c built with pkg-config against a staged install"
	@rm -rf $(STAGE) && $(MAKE) --no-print-directory -s install DESTDIR=$(STAGE) PREFIX=/usr >/dev/null
	@PKG_CONFIG_SYSROOT_DIR=$(STAGE) PKG_CONFIG_LIBDIR=$(STAGE)/usr/lib/pkgconfig; export PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR; \
	  $(CC) -std=c11 -O2 $(WARN) examples/request_loop.c $$(pkg-config --cflags --libs poolalloc) -o $(BUILD)/request_loop
	@out=$$(LD_LIBRARY_PATH=$(STAGE)/usr/lib $(BUILD)/request_loop 100000) || { echo "FAIL: request_loop exited $$?"; exit 1; }; \
	  echo "$$out"; \
	  echo "$$out" | grep -q '^pool scratch-tables: gets 100000, hits 99999, misses 1, victim hits 3, dropped 0, cached 1$$' \
	  || { echo "FAIL: unexpected pool statistics"; exit 1; }

# ---- main job ---------------------------------------------------------------------
# The sample service under LD_PRELOAD with profiling on, its profile turned
# into flame graphs, folded stacks and the top sites (demo/run.sh).
$(BUILD)/demo/service: demo/service.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -fno-omit-frame-pointer $(WARN) -pthread -o $@ $<

demo: deps all $(BUILD)/demo/service
	@demo/run.sh $(SO) $(TOOL) $(BUILD)/demo/service

# The earlier demo: python3 and sqlite3 with poolalloc's statistics at exit.
demo-stats: deps all
	@demo/stats.sh $(abspath $(SO))

# ---- benchmarks -------------------------------------------------------------------
# `make bench` installs the peer allocators and heaptrack, builds the workloads and
# runs bench/run.py. Options: WORKLOADS="larson prodcons" ALLOCATORS="mimalloc"
# RUNS=7 BENCH_QUICK=1 PEERS="mimalloc-v3=/tmp/peers/libmimalloc.so" (see bench/README.md).

$(BUILD)/bench/%: bench/workloads/%.c bench/workloads/workload.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -pthread -o $@ $< -lm $(BENCH_LIBS)
$(BUILD)/bench/%: bench/workloads/%.cc bench/workloads/workload.h
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g $(WARN) -pthread -o $@ $<
# pools dlopen()s libpoolalloc.so and takes the pool API's types from the header.
$(BUILD)/bench/pools: include/poolalloc.h
$(BUILD)/bench/pools: BENCH_LIBS := -ldl

bench-deps: deps
	@$(MAKE) --no-print-directory deps DEBS="$(BENCH_DEBS)"

bench: bench-deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@python3 bench/run.py --lib $(SO) $(if $(WORKLOADS),--workloads "$(WORKLOADS)") \
	  $(if $(ALLOCATORS),--allocators "$(ALLOCATORS)") $(if $(RUNS),--runs $(RUNS)) \
	  $(if $(filter 1,$(BENCH_QUICK)),--quick) $(foreach p,$(PEERS),--peer $(p))

# ---- install ----------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(AR_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/poolalloc.h $(DESTDIR)$(PREFIX)/include/
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(TOOL) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' poolalloc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/poolalloc.pc

clean:
	rm -rf $(BUILD)
