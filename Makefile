# Sluice build. `make` builds the three binaries; see README.md for the rest.
BUILD   ?= build
CC      ?= cc
OPT     ?= -O2
SAN     ?=
CFLAGS  := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -pthread -I. -I$(BUILD)/gen $(SAN)
LDFLAGS := -pthread $(SAN)
LIBS    := -lnng -lprotobuf-c -lyaml -lleveldb -lm -ldl
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck_pic -lrt -lm -lsubunit)

PROTOS      := $(wildcard proto/*.proto)
GEN_C       := $(patsubst proto/%.proto,$(BUILD)/gen/proto/%.pb-c.c,$(PROTOS))
GEN_H       := $(GEN_C:.c=.h)
COMMON_SRC  := $(wildcard common/*.c)
JM_SRC      := $(filter-out jobmanager/main.c,$(wildcard jobmanager/*.c))
TM_SRC      := $(filter-out taskmanager/main.c,$(wildcard taskmanager/*.c))
CLI_SRC     := $(filter-out cli/main.c,$(wildcard cli/*.c))
UNIT_SRC    := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ  := $(call obj,$(COMMON_SRC)) $(GEN_C:.c=.o)
JM_OBJ      := $(call obj,$(JM_SRC))
TM_OBJ      := $(call obj,$(TM_SRC))
CLI_OBJ     := $(call obj,$(CLI_SRC))
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BINS        := $(BUILD)/bin/sluice-jobmanager $(BUILD)/bin/sluice-taskmanager $(BUILD)/bin/sluice
# user-defined operators (include/sluice/udf.h): examples/udf/<name>.c
UDF_SRC     := $(wildcard examples/udf/*.c)
UDF_LIBS    := $(patsubst examples/udf/%.c,$(BUILD)/examples/lib%.so,$(UDF_SRC))

.PHONY: all deps test unit integration asan asan-test demo bench clean binaries
.SECONDARY: $(GEN_C) $(GEN_H)
all: deps
	@$(MAKE) --no-print-directory binaries

binaries: $(BINS) $(UDF_LIBS)

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

$(BUILD)/lib/libsluice.a: $(COMMON_OBJ) $(JM_OBJ) $(TM_OBJ) $(CLI_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/sluice-jobmanager: $(call obj,jobmanager/main.c) $(BUILD)/lib/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bin/sluice-taskmanager: $(call obj,taskmanager/main.c) $(BUILD)/lib/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $^ $(LIBS)

$(BUILD)/bin/sluice: $(call obj,cli/main.c) $(BUILD)/lib/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/lib/libsluice.a $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/lib/libsluice.a $(LIBS) $(CHECK_LIBS)

unit: $(UNIT_BIN)
	@scripts/run-unit-tests.sh $(UNIT_BIN)

integration: binaries
	@SLUICE_BUILD=$(BUILD) tests/integration/run.sh

# The quick benchmark run proves the harness works; it asserts no speed.
test: deps
	@$(MAKE) --no-print-directory binaries
	@$(MAKE) --no-print-directory unit
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

# Nexmark single-loop baseline (bench/nexmark/loop.c): the generator and
# row formatting from libsluice.a, no engine.
BENCH_BINS  := $(BUILD)/bench/nexmark-loop
binaries: $(BENCH_BINS)

$(BUILD)/bench/nexmark-loop: bench/nexmark/loop.c $(BUILD)/lib/libsluice.a $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/lib/libsluice.a $(LIBS)

# Test tools (tests/tools/*.c) for the integration tests: crafted RPC frames.
TOOL_BINS   := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))
binaries: $(TOOL_BINS)

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/lib/libsluice.a $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/lib/libsluice.a $(LIBS)

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
