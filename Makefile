# voxcast - plain Makefile. `make`, `make test`, `make test SANITIZE=1`, `make demo`,
# `make install PREFIX=/usr/local`. V=1 for loud commands, USE_WERROR=1 for -Werror.

PKGS      := rdkafka libcurl jansson hiredis libmicrohttpd espeak-ng soxr sndfile libcrypto
NOPC_LIBS := -lmp3lame   # LAME ships no pkg-config file (Debian bookworm)
CC        ?= cc
CFLAGS    ?= -O2 -g
PREFIX    ?= /usr/local
VERSION   := 0.2.0

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
             -Wformat=2 -Wno-format-nonliteral
PROJ_CFLAGS := -std=c11 -D_GNU_SOURCE -DVOXCAST_VERSION='"$(VERSION)"' -MMD -MP $(WARN)
ifeq ($(USE_WERROR),1)
PROJ_CFLAGS += -Werror
endif

ifeq ($(SANITIZE),1)
VARIANT   := san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
VARIANT   := release
SAN_FLAGS :=
endif

BUILD     ?= build
OBJ_DIR   := $(BUILD)/$(VARIANT)
# Sanitized and private builds (BUILD=dir) keep their programs apart from ./bin.
BIN_DIR   ?= $(if $(filter san,$(VARIANT)),$(BUILD)/san/bin,$(if $(filter build,$(BUILD)),bin,$(BUILD)/bin))

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
ALL_CFLAGS := $(PROJ_CFLAGS) $(PKG_CFLAGS) $(SAN_FLAGS) $(CFLAGS)
ALL_LDLIBS := $(PKG_LIBS) $(NOPC_LIBS) -lpthread -lm
ALL_LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)

ifneq ($(V),1)
Q := @
echo_cmd = @printf '  %-6s %s\n' $(1) $(2);
endif

COMMON_SRC   := $(wildcard common/*.c)
PRODUCER_SRC := $(wildcard producer/*.c)
CONSUMER_SRC := $(wildcard consumer/*.c)
TTSD_SRC     := $(wildcard tools/ttsd/*.c)
UNIT_SRC     := $(wildcard tests/unit/check_*.c)
TOOL_SRC     := $(wildcard tests/tools/*.c)

obj = $(patsubst %.c,$(OBJ_DIR)/%.o,$(1))
COMMON_LIB := $(OBJ_DIR)/libvoxcommon.a
CONSUMER_LIB := $(OBJ_DIR)/libvoxconsumer.a
CONSUMER_LIB_SRC := $(filter-out consumer/main.c,$(CONSUMER_SRC))

PROGRAMS := $(BIN_DIR)/voxcast $(BIN_DIR)/voxcast-consumer $(BIN_DIR)/voxcast-ttsd
UNIT_BINS := $(patsubst tests/unit/%.c,$(OBJ_DIR)/tests/%,$(UNIT_SRC))
TOOL_BINS := $(patsubst tests/tools/%.c,$(OBJ_DIR)/tests/%,$(TOOL_SRC))

.PHONY: all deps test unit integration lint-shell demo install clean fuzz chaos bench memcheck
all: $(PROGRAMS)

# A missing library would stop the build at its first #include with a compiler error: name the
# missing packages instead, once per build directory (scripts/deps.sh --check).
$(OBJ_DIR)/.deps-ok:
	@mkdir -p $(dir $@)
	@scripts/deps.sh --check
	@touch $@

# Each directory sees common/ and its own headers, nothing more: the shared code cannot reach
# into a program, nor one program into another (tests see the consumer's modules they test).
INCS := -Icommon
$(OBJ_DIR)/consumer/%.o: INCS := -Icommon -Iconsumer
$(OBJ_DIR)/producer/%.o: INCS := -Icommon -Iproducer
$(OBJ_DIR)/tools/ttsd/%.o: INCS := -Icommon -Itools/ttsd
$(OBJ_DIR)/tests/%.o: INCS := -Icommon -Iconsumer

$(OBJ_DIR)/%.o: %.c | $(OBJ_DIR)/.deps-ok
	@mkdir -p $(dir $@)
	$(call echo_cmd,CC,$<)$(CC) $(INCS) $(ALL_CFLAGS) -c $< -o $@

# An archive is made anew when its list of members changes (a source file removed or added),
# not only when a member does: otherwise it would keep a deleted module's object. The .list file
# is rewritten only when the list differs, so its date says when that happened.
.PHONY: FORCE
$(OBJ_DIR)/%.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(MEMBERS_$*)' | cmp -s - $@ 2>/dev/null || echo '$(MEMBERS_$*)' >$@
MEMBERS_libvoxcommon := $(call obj,$(COMMON_SRC))
MEMBERS_libvoxconsumer := $(call obj,$(CONSUMER_LIB_SRC))

$(COMMON_LIB): $(MEMBERS_libvoxcommon) $(OBJ_DIR)/libvoxcommon.list
	$(call echo_cmd,AR,$@)rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)

$(CONSUMER_LIB): $(MEMBERS_libvoxconsumer) $(OBJ_DIR)/libvoxconsumer.list
	$(call echo_cmd,AR,$@)rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)

$(BIN_DIR)/voxcast: $(call obj,$(PRODUCER_SRC)) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call echo_cmd,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(BIN_DIR)/voxcast-consumer: $(call obj,consumer/main.c) $(CONSUMER_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call echo_cmd,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(BIN_DIR)/voxcast-ttsd: $(call obj,$(TTSD_SRC)) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(call echo_cmd,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

# Objects before archives: an extra object below (rejects.o) may need members of the archives.
$(OBJ_DIR)/tests/check_%: $(OBJ_DIR)/tests/unit/check_%.o $(CONSUMER_LIB) $(COMMON_LIB)
	$(call echo_cmd,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(CHECK_LIBS) $(ALL_LDLIBS)

$(OBJ_DIR)/tests/check_store: $(call obj,producer/acker.c) # the acker's tests need Redis too
$(OBJ_DIR)/tests/check_ttsd_plan: $(call obj,tools/ttsd/plan.c tools/ttsd/stats.c) # voxcast-ttsd's account
$(OBJ_DIR)/tests/check_rejects: $(call obj,producer/rejects.c)

$(OBJ_DIR)/tests/%: $(OBJ_DIR)/tests/tools/%.o $(COMMON_LIB)
	$(call echo_cmd,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

deps:
	@scripts/deps.sh

# Unit suites (Check, fork mode) then integration scripts against real redis-server,
# the embedded broker and voxcast-ttsd. Every suite runs; the summary line counts them.
test: deps
	@$(MAKE) --no-print-directory all unit-bins
	@VOXCAST_BIN=$(abspath $(BIN_DIR)) VOXCAST_TESTBIN=$(abspath $(OBJ_DIR)/tests) \
	  scripts/run-tests.sh $(UNIT_BINS) -- $(sort $(wildcard tests/integration/t_*.sh))

unit-bins: $(UNIT_BINS) $(TOOL_BINS)

unit: deps
	@$(MAKE) --no-print-directory unit-bins
	@scripts/run-tests.sh $(UNIT_BINS) --

# The integration scripts alone (T=t_faults runs one).
integration: deps
	@$(MAKE) --no-print-directory all unit-bins
	@VOXCAST_BIN=$(abspath $(BIN_DIR)) VOXCAST_TESTBIN=$(abspath $(OBJ_DIR)/tests) \
	  scripts/run-tests.sh -- $(if $(T),tests/integration/$(T).sh,$(sort $(wildcard tests/integration/t_*.sh)))

# Every shell script of the project through shellcheck (CI runs it).
SHELL_SCRIPTS := $(wildcard scripts/*.sh tests/integration/*.sh bench/*.sh) .ci/run
lint-shell:
	@shellcheck -x -S warning $(SHELL_SCRIPTS)

demo: deps
	@$(MAKE) --no-print-directory all
	@VOXCAST_BIN=$(abspath $(BIN_DIR)) scripts/demo.sh

# libFuzzer targets over the parsers (clang); corpus in tests/fuzz/corpus.
FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# The long fault-injection suite (kill -9 loops, Redis and broker restarts, drains); results in
# RELIABILITY.md. Its quick cases also run in `make test`.
chaos: all unit-bins
	@VOXCAST_BIN=$(abspath $(BIN_DIR)) VOXCAST_TESTBIN=$(abspath $(OBJ_DIR)/tests) scripts/chaos.sh

# Integration tests with every program under valgrind memcheck (slow: run by hand).
memcheck: all unit-bins
	@VOXCAST_BIN=$(abspath $(BIN_DIR)) VOXCAST_TESTBIN=$(abspath $(OBJ_DIR)/tests) scripts/memcheck.sh

# Benchmarks (run by hand; figures in the README): launch, DLQ replay, consumer.
bench: all unit-bins
	@export VOXCAST_BIN=$(abspath $(BIN_DIR)) VOXCAST_TESTBIN=$(abspath $(OBJ_DIR)/tests); \
	  bench/launch.sh && bench/dlq_replay.sh && bench/consumer.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build bin

-include $(shell find $(OBJ_DIR) -name '*.d' 2>/dev/null)
