# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# understudy: build, test, benchmark. `make help` lists the targets.

OUT        ?= build
CLANG      ?= clang
BPFTOOL    ?= bpftool
CC         ?= cc
V          ?= 0
PREFIX     ?= /usr/local

ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTIARCH  := $(shell $(CC) -print-multiarch 2>/dev/null)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARN       := -Wall -Wextra -Werror
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) $(WARN) \
              -Wno-unused-function -Iinclude -Ibpf -I/usr/include/$(MULTIARCH)
CFLAGS     ?= -g -O2
CFLAGS     += $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace -I$(OUT)
LDLIBS_BPF := -lbpf -lelf -lz -lyaml -ljson-c -lmicrohttpd -lcurl -lm

# every bpf/NAME.bpf.c is an object with a skeleton NAME_bpf: understudy (the
# data plane), trafficgen and bench (the benchmarks' generator and references)
BPF_OBJ    := $(OUT)/understudy.bpf.o
SKEL       := $(OUT)/understudy.skel.h
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(wildcard bpf/*.bpf.c))
SKELS      := $(BPF_OBJS:.bpf.o=.skel.h)

# the library: every userspace/*.c but the programs' mains
PROGS      := understudyd understudyctl
LIB_SRC    := $(filter-out $(patsubst %,userspace/%.c,$(PROGS)),$(wildcard userspace/*.c))
LIB_OBJ    := $(patsubst userspace/%.c,$(OUT)/%.o,$(LIB_SRC))
LIB        := $(OUT)/libunderstudy.a

# every tests/test_*.c is a test program, and every directory tests/SUITE/
# of C files one too, build/test_SUITE (a runner: tests/harness.h, th_main);
# tools/bench_*.c a benchmark
SUITES     := $(sort $(patsubst tests/%/,%,$(dir $(wildcard tests/*/*.c))))
SUITE_BINS := $(patsubst %,$(OUT)/test_%,$(SUITES))
TEST_BINS  := $(patsubst tests/%.c,$(OUT)/%,$(wildcard tests/test_*.c)) $(SUITE_BINS)
TEST_SCRIPTS := $(wildcard tests/test_*.sh)
BENCH_BINS := $(patsubst tools/%.c,$(OUT)/%,$(wildcard tools/bench_*.c))
TOOL_BINS  := $(OUT)/trafficgen
TOOL_HELPERS := $(OUT)/tgen.o
EVAL_BINS  := $(patsubst tools/%.c,$(OUT)/%,$(wildcard tools/judge_eval.c))
PROG_BINS  := $(patsubst userspace/%.c,$(OUT)/%,$(wildcard $(patsubst %,userspace/%.c,$(PROGS))))
TEST_HELPERS := $(patsubst tests/%.c,$(OUT)/%.o,$(filter-out tests/test_%,$(wildcard tests/*.c)))

.DELETE_ON_ERROR:
.PHONY: all help deps check-root bpffs test run-tests bench judge-eval demo install clean fuzz-config soak

MAN_PAGES  := $(patsubst docs/%.scd,$(OUT)/%,$(wildcard docs/*.scd))

# the configuration parser's fuzz target (libFuzzer, ASan, UBSan): the
# parser's files built with the sanitizers, the rest from the library
FUZZ_SECONDS ?= 20
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace -I$(OUT)
FUZZ_SRC   := config yamlwalk validate addr sbuf
FUZZ_OBJ   := $(patsubst %,$(OUT)/fuzz/%.o,$(FUZZ_SRC))
FUZZ_BINS  := $(OUT)/fuzz_config

all: $(BPF_OBJS) $(SKELS) $(LIB) $(PROG_BINS) $(MAN_PAGES) $(TEST_BINS) $(BENCH_BINS) $(TOOL_BINS) \
     $(EVAL_BINS) $(FUZZ_BINS)

$(OUT)/%.8: docs/%.8.scd | $(OUT)
	$(call msg,MAN,$@)
	$(Q)scdoc < $< > $@

help:
	@echo 'make            build the BPF object, skeleton, library, tests and benchmarks'
	@echo 'make test       (root) install missing packages, mount bpffs, build, run every test'
	@echo 'make bench      (root) every benchmark: per-packet cost, SIP capacity, throughput,'
	@echo '                map memory; writes bench/results/latest.json (BENCH_ARGS=--no-sip ...)'
	@echo 'make demo       (root) the lab demonstration; SCENARIO=good|bad|slow'
	@echo 'make judge-eval simulate machines of every class through the judge; check its targets'
	@echo 'make soak       (root) 100 kill -9 of the daemon under load, 10^7 fuzzed packets, an'
	@echo '                hour of configuration fuzzing (KILLS=, PACKETS=, CONFIG_SECONDS=, SOAK=)'
	@echo 'make fuzz-config fuzz the configuration parser (libFuzzer, ASan, UBSan) for'
	@echo '                FUZZ_SECONDS=$(FUZZ_SECONDS) s; crashes in $(OUT)/fuzz-config/'
	@echo 'make deps       (root) install the Debian packages the build and tests need'
	@echo 'make install    programs, man pages, systemd unit (PREFIX=$(PREFIX), DESTDIR=)'
	@echo 'make clean      remove $(OUT)/'
	@echo 'V=1             show every command'

$(OUT):
	$(Q)mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(OUT)/$*.bpf.d -MT $@ -c $< -o $(OUT)/$*.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $(OUT)/$*.tmp.o
	$(Q)rm -f $(OUT)/$*.tmp.o

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(OUT)/%.o: userspace/%.c $(SKEL) | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# test helpers (packet builder, test network): tests/*.c other than test_*
$(OUT)/%.o: tests/%.c $(SKEL) | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP -c $< -o $@

$(OUT)/test_%: tests/test_%.c $(TEST_HELPERS) $(LIB)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP $< $(TEST_HELPERS) $(LIB) -o $@ -lcmocka $(LDLIBS_BPF)

# a suite's files (one per feature) and its binary
$(OUT)/tests/%.o: tests/%.c $(SKEL)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests -Itests/$(notdir $(patsubst %/,%,$(dir $<))) -MMD -MP -c $< -o $@

define suite_rule
$(OUT)/test_$(1): $(patsubst tests/%.c,$(OUT)/tests/%.o,$(wildcard tests/$(1)/*.c)) $(TEST_HELPERS) $(LIB)
	$$(call msg,LD,$$@)
	$$(Q)$$(CC) $$(CFLAGS) $$(filter %.o,$$^) $(LIB) -o $$@ $$(LDLIBS_BPF)
endef
$(foreach s,$(SUITES),$(eval $(call suite_rule,$(s))))

$(OUT)/judge_eval: tools/judge_eval.c $(LIB)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP $< $(LIB) -o $@ $(LDLIBS_BPF)

$(PROG_BINS): $(OUT)/%: userspace/%.c $(LIB)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP $< $(LIB) -o $@ $(LDLIBS_BPF)

# the benchmarks' and tools' helpers: tools/*.c other than programs
$(OUT)/tgen.o: tools/tgen.c $(SKELS) | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP -c $< -o $@

$(OUT)/bench_%: tools/bench_%.c $(TEST_HELPERS) $(TOOL_HELPERS) $(LIB) $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -Itools -MMD -MP $< $(TEST_HELPERS) $(TOOL_HELPERS) $(LIB) -o $@ \
		$(LDLIBS_BPF) -lpthread

$(OUT)/trafficgen: tools/trafficgen.c $(TEST_HELPERS) $(TOOL_HELPERS) $(LIB)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -Itools -MMD -MP $< $(TEST_HELPERS) $(TOOL_HELPERS) $(LIB) -o $@ \
		$(LDLIBS_BPF) -lpthread

$(OUT)/fuzz/%.o: userspace/%.c $(SKEL) | $(OUT)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(OUT)/fuzz_config: fuzz/fuzz_config.c $(FUZZ_OBJ) $(LIB)
	$(call msg,FUZZLD,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -MMD -MP $< $(FUZZ_OBJ) $(LIB) -o $@ $(LDLIBS_BPF) -lpthread

# FUZZ_SECONDS of fuzzing from the shipped and refused configurations; the
# corpus grows in $(OUT)/fuzz-config/corpus, a crash is left beside it
fuzz-config: $(OUT)/fuzz_config
	$(Q)tests/test_fuzz_config.sh $(FUZZ_SECONDS)

# The soaks (tools/soak.sh; not in make test): KILLS=100 kill -9 of the
# daemon under SIPp load, PACKETS=10000000 fuzzed packets, CONFIG_SECONDS=3600
# of the configuration fuzzer; SOAK="kills packets config" picks parts
soak: check-root
	$(Q)if [ "$$(id -u)" = 0 ]; then \
	  tools/deps.sh && tools/bpffs.sh && $(MAKE) --no-print-directory all && \
	  tools/soak.sh $(SOAK); \
	fi

# ---- environment: root, packages, bpffs ----------------------------------

check-root:
	@if [ "$$(id -u)" != 0 ]; then \
	  if command -v sudo >/dev/null 2>&1; then \
	    echo "understudy: '$(MAKECMDGOALS)' needs root; re-running with sudo"; \
	    exec sudo $(MAKE) $(MAKECMDGOALS); \
	  fi; \
	  echo "understudy: '$(MAKECMDGOALS)' needs root (BPF, XDP, network namespaces); run it as root" >&2; \
	  exit 1; \
	fi

deps: check-root
	$(Q)tools/deps.sh

bpffs: check-root
	$(Q)tools/bpffs.sh

# ---- tests ---------------------------------------------------------------

# Recursive so that the build starts only after the packages are there.
test: check-root
	$(Q)if [ "$$(id -u)" = 0 ]; then \
	  tools/deps.sh && tools/bpffs.sh && $(MAKE) --no-print-directory all && \
	  $(MAKE) --no-print-directory run-tests; \
	fi

# Every test program runs, even after a failure; the run fails if any did.
# Each one's output is also kept in $(OUT)/test-logs/; a failed one's failure
# lines are repeated at the end, where a CI log's tail shows them.
TEST_LOGS := $(OUT)/test-logs
run-tests: $(TEST_BINS) $(PROG_BINS) $(EVAL_BINS)
	$(Q)mkdir -p $(TEST_LOGS); failed=""; for t in $(TEST_BINS) $(TEST_SCRIPTS); do \
	  log=$(TEST_LOGS)/$$(basename $$t).log; echo "== $$t"; t0=$$(date +%s); \
	  { $$t; echo $$? > $$log.rc; } 2>&1 | tee $$log; \
	  echo "== $$t: exit $$(cat $$log.rc), $$(( $$(date +%s) - t0 )) s"; \
	  [ "$$(cat $$log.rc)" = 0 ] || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then \
	  for t in $$failed; do \
	    log=$(TEST_LOGS)/$$(basename $$t).log; \
	    echo "== $$t failed (exit $$(cat $$log.rc)); its failure lines ($$log):"; \
	    grep -E 'FAIL|[Ee]rror|not ok|Assert|assert|expected|timed out|refused' $$log | tail -25; \
	  done; \
	  echo "FAILED:$$failed"; exit 1; \
	fi; \
	echo "all test programs passed: $(notdir $(TEST_BINS) $(TEST_SCRIPTS))"

# Every benchmark in one run (tools/bench.sh): BENCH_ARGS="--runs 7 --no-sip"
bench: check-root
	$(Q)if [ "$$(id -u)" = 0 ]; then \
	  tools/deps.sh bench && tools/bpffs.sh && $(MAKE) --no-print-directory all && \
	  tools/bench.sh $(BENCH_ARGS); \
	fi

# How good the judge is: every class of issue 11 (equal versions, outages,
# clustered errors, improvements, regressions, latency, dying machines, quiet
# periods, a control machine), a few hundred simulated machines each, against
# its targets; fails when one is missed. tests/test_judge_eval.sh runs --quick.
judge-eval: $(EVAL_BINS)
	$(Q)for b in $(EVAL_BINS); do $$b || exit 1; done

# The lab demonstration: SCENARIO=good (default) shows a version-2 machine
# promoted, SCENARIO=bad one rejected.
SCENARIO ?= good
demo: check-root
	$(Q)if [ "$$(id -u)" = 0 ]; then \
	  if [ ! -x tools/demo.sh ]; then \
	    echo "make demo: the lab demonstration is not there yet (see README)" >&2; exit 2; \
	  fi; \
	  tools/deps.sh && tools/bpffs.sh && $(MAKE) --no-print-directory all && \
	  tools/demo.sh $(SCENARIO); \
	fi

# make install [PREFIX=/usr/local] [DESTDIR=...]: programs, man pages, the
# systemd unit and an example configuration (never over an existing one).
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc

install: $(PROG_BINS) $(MAN_PAGES)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/understudy
	install -m 0755 $(PROG_BINS) $(DESTDIR)$(SBINDIR)/
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man8/
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/systemd/understudyd.service > $(DESTDIR)$(UNITDIR)/understudyd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/understudyd.service
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/systemd/understudyd-controller.service \
		> $(DESTDIR)$(UNITDIR)/understudyd-controller.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/understudyd-controller.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/understudy/understudy.yaml ] || \
		install -m 0644 etc/understudy.yaml $(DESTDIR)$(SYSCONFDIR)/understudy/understudy.yaml

clean:
	rm -rf $(OUT)

# (not the .d of an older single-file test of a suite's name: its source is gone)
-include $(filter-out $(SUITE_BINS:=.d),$(wildcard $(OUT)/*.d)) $(wildcard $(OUT)/tests/*/*.d) $(wildcard $(OUT)/fuzz/*.d)
