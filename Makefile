# Sluice build. `make` builds the three binaries; see README.md for the rest.
BUILD   ?= build
CC      ?= cc
OPT     ?= -O2
SAN     ?=
CFLAGS  := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -pthread -I. -I$(BUILD)/gen $(SAN)
LDFLAGS := -pthread $(SAN)
# Each binary links only what it uses: the CLI has no leveldb.
# libzookeeper_mt: high availability (common/zk.c, common/ha.c), in every binary
COMMON_LIBS := -lnng -lprotobuf-c -lyaml -lzookeeper_mt -lmbedx509 -lmbedcrypto -lm
JM_LIBS     := $(COMMON_LIBS) -ldl
TM_LIBS     := $(COMMON_LIBS) -lleveldb -ldl
CLI_LIBS    := $(COMMON_LIBS)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck_pic -lrt -lm -lsubunit)

# One static library per part. A part links only the libraries below it
# (cli, jobmanager, taskmanager -> common), so a call across parts fails
# the link and an include across them fails `make layers`.
PROTOS      := $(wildcard proto/*.proto)
GEN_C       := $(patsubst proto/%.proto,$(BUILD)/gen/proto/%.pb-c.c,$(PROTOS))
GEN_H       := $(GEN_C:.c=.h)
srcs_of      = $(filter-out $(1)/main.c,$(shell find $(1) -name '*.c' | sort))
COMMON_SRC  := $(call srcs_of,common)
JM_SRC      := $(call srcs_of,jobmanager)
TM_SRC      := $(call srcs_of,taskmanager)
CLI_SRC     := $(call srcs_of,cli)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_A    := $(BUILD)/lib/libsluice-common.a
JM_A        := $(BUILD)/lib/libsluice-jobmanager.a
TM_A        := $(BUILD)/lib/libsluice-taskmanager.a
CLI_A       := $(BUILD)/lib/libsluice-cli.a
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BINS        := $(BUILD)/bin/sluice-jobmanager $(BUILD)/bin/sluice-taskmanager $(BUILD)/bin/sluice
# user-defined operators (include/sluice/udf.h): examples/udf/<name>.c
UDF_SRC     := $(wildcard examples/udf/*.c)
UDF_LIBS    := $(patsubst examples/udf/%.c,$(BUILD)/examples/lib%.so,$(UDF_SRC))
# Nexmark single-loop baseline (bench/nexmark/loop.c): the generator and
# row formatting, no engine.
BENCH_BINS  := $(BUILD)/bench/nexmark-loop
# Test tools (tests/tools/*.c) for the integration tests: crafted RPC frames.
TOOL_BINS   := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))

.PHONY: all deps test unit integration asan asan-test demo bench clean binaries layers calls
.SECONDARY: $(GEN_C) $(GEN_H)
# `make` only builds; `make deps` (and `make test`) install what is missing.
all: binaries

binaries: layers $(BINS) $(UDF_LIBS) $(BENCH_BINS) $(TOOL_BINS)

# Includes go downward only: common includes no part, a part includes only
# common and itself (and the generated protocol).
layers:
	@scripts/check-layers.sh

# No file of a daemon is in a loop of calls with another of the same daemon
# (read from the objects' symbols); run by `make test`.
calls: $(BINS)
	@scripts/check-calls.py $(BUILD) jobmanager taskmanager

# A UDF needs only the public header: no symbol of Sluice is linked in.
$(BUILD)/examples/lib%.so: examples/udf/%.c include/sluice/udf.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) -g -Wall -Wextra -Werror -fPIC -shared -I include -o $@ $<

deps:
	@scripts/install-deps.sh

$(BUILD)/gen/proto/%.pb-c.c $(BUILD)/gen/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c -I. --c_out=$(BUILD)/gen $<

$(BUILD)/gen/proto/%.pb-c.o: $(BUILD)/gen/proto/%.pb-c.c
	$(CC) $(filter-out -Werror,$(CFLAGS)) -c $< -o $@

$(BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(COMMON_A): $(call obj,$(COMMON_SRC)) $(GEN_C:.c=.o)
$(JM_A): $(call obj,$(JM_SRC))
$(TM_A): $(call obj,$(TM_SRC))
$(CLI_A): $(call obj,$(CLI_SRC))
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/sluice-jobmanager: $(call obj,jobmanager/main.c) $(JM_A) $(COMMON_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(JM_LIBS)

$(BUILD)/bin/sluice-taskmanager: $(call obj,taskmanager/main.c) $(TM_A) $(COMMON_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $^ $(TM_LIBS)

$(BUILD)/bin/sluice: $(call obj,cli/main.c) $(CLI_A) $(COMMON_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)

# Unit tests may test any part.
ALL_A := $(CLI_A) $(JM_A) $(TM_A) $(COMMON_A)
$(BUILD)/tests/%: tests/unit/%.c $(ALL_A) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(ALL_A) $(TM_LIBS) $(CHECK_LIBS)

$(BUILD)/bench/nexmark-loop: bench/nexmark/loop.c $(TM_A) $(COMMON_A) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(TM_A) $(COMMON_A) $(TM_LIBS)

# -MMD: a tool is rebuilt when a header it includes changes (frame layouts)
$(BUILD)/tools/%: tests/tools/%.c $(COMMON_A) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(COMMON_A) $(COMMON_LIBS)

unit: $(UNIT_BIN)
	@scripts/run-unit-tests.sh $(UNIT_BIN)

integration: binaries
	@SLUICE_BUILD=$(BUILD) tests/integration/run.sh

# The quick benchmark run proves the harness works; it asserts no speed.
test: deps
	@$(MAKE) --no-print-directory binaries calls
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory bench QUICK=1

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" binaries

asan-test: asan
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" unit integration

demo: deps
	@$(MAKE) --no-print-directory binaries
	@scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory binaries
	@QUICK=$(QUICK) SLUICE_BIN_DIR=$(abspath $(BUILD))/bin bench/run.sh

# `make clean` removes $(BUILD); with the default BUILD also build-asan.
clean:
	rm -rf $(BUILD) $(if $(filter build,$(BUILD)),build-asan build-fuzz)

-include $(shell find $(BUILD)/obj $(BUILD)/tools -name '*.d' 2>/dev/null)


# ---- fuzzing (issue 12): libFuzzer targets fuzz/fuzz_<name>.c, built with
# clang into $(FUZZ_BUILD) (objects apart from the gcc build), seeds in
# fuzz/corpus/<name>/ (fuzz/README). `make fuzz` runs each target for
# FUZZ_SECONDS; `make fuzz-smoke` replays the corpora and runs each for
# FUZZ_SMOKE_SECONDS [5]. New inputs go to $(FUZZ_BUILD)/corpus/<name>/,
# crashes to $(FUZZ_BUILD)/artifacts/. `make fuzz-corpus` writes the seeds again.
.PHONY: fuzz fuzz-smoke fuzz-build fuzz-bins fuzz-corpus
FUZZ_BUILD         ?= build-fuzz
FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_SAN   := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS  := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_FLAGS := -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

fuzz-build: deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT=-O1 SAN="$(FUZZ_SAN)" fuzz-bins

fuzz-bins: layers $(FUZZ_BINS)

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(ALL_A) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(JM_A) $(TM_A) $(COMMON_A) $(TM_LIBS)

# run_fuzz NAME SECONDS CORPUS: the in-tree corpus is read, never written;
# new inputs go to CORPUS/NAME.
define run_fuzz
	@mkdir -p $(3)/$(1) $(FUZZ_BUILD)/artifacts
	@echo "fuzz $(1): $(2) s"
	@UBSAN_OPTIONS=print_stacktrace=1 $(FUZZ_BUILD)/fuzz/fuzz_$(1) $(FUZZ_FLAGS) \
	    -max_total_time=$(2) -artifact_prefix=$(FUZZ_BUILD)/artifacts/$(1)- \
	    $(3)/$(1) fuzz/corpus/$(1) 2>$(FUZZ_BUILD)/fuzz-$(1).log || \
	    { tail -n 60 $(FUZZ_BUILD)/fuzz-$(1).log; exit 1; }
	@grep -E '^stat::number_of_executed_units' $(FUZZ_BUILD)/fuzz-$(1).log | sed 's/^/  $(1) /'

endef

# Runs go on from the inputs earlier runs found ($(FUZZ_BUILD)/corpus).
fuzz: fuzz-build
	$(foreach n,$(FUZZ_NAMES),$(call run_fuzz,$(n),$(FUZZ_SECONDS),$(FUZZ_BUILD)/corpus))

# Every corpus file once (a crash fails), then a short run of each target
# from the in-tree corpus only (the same work on every machine).
fuzz-smoke: fuzz-build
	@for n in $(FUZZ_NAMES); do \
	    ASAN_OPTIONS=detect_leaks=1 $(FUZZ_BUILD)/fuzz/fuzz_$$n -runs=0 fuzz/corpus/$$n \
	        2>$(FUZZ_BUILD)/replay-$$n.log || { tail -n 60 $(FUZZ_BUILD)/replay-$$n.log; exit 1; }; \
	    echo "fuzz $$n: corpus replayed ($$(ls fuzz/corpus/$$n | wc -l) files)"; done
	@rm -rf $(FUZZ_BUILD)/smoke-corpus
	$(foreach n,$(FUZZ_NAMES),$(call run_fuzz,$(n),$(FUZZ_SMOKE_SECONDS),$(FUZZ_BUILD)/smoke-corpus))

# The seeds, made by the project's own encoders (fuzz/gen_corpus.c, gcc build).
$(BUILD)/fuzz/gen_corpus: fuzz/gen_corpus.c $(ALL_A) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(JM_A) $(TM_A) $(COMMON_A) $(TM_LIBS)

fuzz-corpus: $(BUILD)/fuzz/gen_corpus
	$(BUILD)/fuzz/gen_corpus fuzz/corpus

# Chaos (tests/chaos/chaos.sh): word count and a keyed window job with
# exactly-once sinks and a checkpoint every 300 ms while CHAOS_ACTIONS
# random faults strike (SIGKILL and replacement, SIGSTOP 1-5 s, timed for a
# checkpoint being written); CHAOS_SEED replays a run. `make test` runs 10
# actions (tests/integration/test_chaos_short.sh).
.PHONY: chaos
CHAOS_ACTIONS ?= 100
CHAOS_SEED ?=
chaos: binaries
	@CHAOS_ACTIONS=$(CHAOS_ACTIONS) CHAOS_SEED=$(CHAOS_SEED) SLUICE_BUILD=$(BUILD) tests/chaos/chaos.sh
