# SPDX-License-Identifier: GPL-2.0-only
# Copyright (c) 2026 The connpeak authors

OUTPUT ?= .output
CC ?= cc
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_H ?= vmlinux/vmlinux.h
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
PREFIX ?= /usr/local
DESTDIR ?=

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIBBPF_CFLAGS := $(shell pkg-config --cflags libbpf 2>/dev/null)
LIBBPF_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
LIBMHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
# libmicrohttpd is loaded with dlopen() when the daemon serves metrics.
LIBS := $(LIBBPF_LIBS)
CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Wno-unused-parameter -Werror -std=gnu11 \
	  -Iinclude -I$(OUTPUT) $(LIBBPF_CFLAGS)
CLANG_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 | \
	sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Iinclude -I$(dir $(VMLINUX_H)) $(CLANG_SYS_INCLUDES)

CORE_SRCS := src/opts.c src/services.c src/output.c src/timefmt.c src/history.c \
	src/advise.c src/config.c src/statefile.c src/metrics.c src/httpd_listen.c src/clients.c \
	src/clients_out.c src/advise_out.c src/kernel_features.c
TOOL_SRCS := src/main.c src/tracker.c src/query.c src/netns.c src/listeners.c \
	src/commands.c src/start.c src/top.c src/cmd_history.c src/cmd_advise.c \
	src/daemon.c src/daemon_run.c src/persist.c src/httpd.c src/client_table.c \
	src/clients_cmd.c src/feature_probes.c
CORE_OBJS := $(patsubst src/%.c,$(OUTPUT)/%.o,$(CORE_SRCS))
TOOL_OBJS := $(patsubst src/%.c,$(OUTPUT)/%.o,$(TOOL_SRCS))
SKEL := $(OUTPUT)/connpeak.skel.h

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
INTEG_TESTS := $(patsubst tests/integration/%.c,$(OUTPUT)/tests/%,\
	$(wildcard tests/integration/test_*.c))
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

.PHONY: all clean test unit-test integration-test run deps test-deps install install-test \
	vmlinux bench bench-smoke
.DELETE_ON_ERROR:
.SECONDARY:

all: connpeak

connpeak: $(CORE_OBJS) $(TOOL_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

$(OUTPUT) $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/connpeak.bpf.o: bpf/connpeak.bpf.c $(wildcard bpf/*.bpf.h include/*.h) $(VMLINUX_H) \
			  | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(OUTPUT)/connpeak.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name connpeak_bpf > $@

$(TOOL_OBJS): $(SKEL)
$(OUTPUT)/%.o: src/%.c $(wildcard src/*.h include/*.h) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Isrc -c $< -o $@

$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(CORE_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Isrc $^ $(TEST_LIBS) -o $@

# Only the HTTP server needs libmicrohttpd's headers; its test runs it.
$(OUTPUT)/httpd.o: CFLAGS += $(LIBMHD_CFLAGS)
$(OUTPUT)/tests/test_httpd: tests/unit/test_httpd.c $(CORE_OBJS) $(OUTPUT)/httpd.o \
		| $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Isrc $^ $(TEST_LIBS) -lpthread -o $@

# The feature probes run on this kernel: they need src/'s probes, not connpeak.
$(OUTPUT)/tests/test_feature_probes: tests/integration/test_feature_probes.c \
		src/kernel_features.c src/feature_probes.c tests/integration/harness.c \
		tests/integration/harness.h src/kernel_features.h | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Isrc -Itests/integration $(filter %.c,$^) \
		$(TEST_LIBS) $(LIBBPF_LIBS) -lpthread -o $@

$(OUTPUT)/tests/test_%: tests/integration/test_%.c tests/integration/harness.c \
		tests/integration/harness.h | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/integration $< tests/integration/harness.c \
		$(TEST_LIBS) $(LIBBPF_LIBS) -lpthread -o $@

# Installs missing Debian packages when run as root on Debian/Ubuntu.
deps:
	$(Q)scripts/install-deps.sh build

test-deps:
	$(Q)scripts/install-deps.sh test

run: deps
	$(Q)$(MAKE) --no-print-directory connpeak
	./connpeak top

unit-test: connpeak $(UNIT_TESTS)
	$(Q)set -e; for t in $(UNIT_TESTS); do CONNPEAK=$(CURDIR)/connpeak $$t; done

integration-test: connpeak $(INTEG_TESTS)
	$(Q)set -e; for t in $(INTEG_TESTS); do CONNPEAK=$(CURDIR)/connpeak $$t; done

test: test-deps
	$(Q)$(MAKE) --no-print-directory unit-test integration-test install-test bench-smoke

vmlinux:
	$(Q)scripts/gen-vmlinux.sh $(VMLINUX_BTF) $(VMLINUX_H)

install: connpeak
	install -D -m 0755 connpeak $(DESTDIR)$(PREFIX)/sbin/connpeak
	install -D -m 0644 docs/connpeak.8 $(DESTDIR)$(PREFIX)/share/man/man8/connpeak.8
	install -D -m 0644 scripts/connpeak.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/connpeak
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/doc/connpeak \
		scripts/connpeak.conf.example scripts/grafana-dashboard.json
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' scripts/connpeak.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/connpeak.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/connpeak.service

# make install into scratch directories, and check what it put there.
install-test: connpeak
	$(Q)scripts/check-install.sh

clean:
	$(call msg,CLEAN,)
	$(Q)rm -rf $(OUTPUT) connpeak

# --- benchmarks (scripts/bench.sh, tests/bench/) ---
bench: connpeak
	$(Q)scripts/install-deps.sh bench
	$(Q)scripts/bench.sh full

bench-smoke: connpeak
	$(Q)scripts/bench.sh smoke

# --- integration tests on Debian 12's kernel under qemu (scripts/vmtest.sh) ---
.PHONY: vmtest
vmtest:
	$(Q)scripts/install-deps.sh test
	$(Q)$(MAKE) --no-print-directory connpeak $(INTEG_TESTS)
	$(Q)OUTPUT=$(OUTPUT) scripts/vmtest.sh $(CURDIR)/connpeak $(INTEG_TESTS)

# --- robustness checks: fuzzing, soak, faults, sanitizers, static analysis ---
# libFuzzer targets in tests/fuzz/, each linking the src/ files it exercises.
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_BRIEF_SECONDS ?= 3
FUZZ_DIR := $(OUTPUT)/fuzz
FUZZ_NAMES := port number time config statefile
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))
FUZZ_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror -Iinclude -Isrc \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

define fuzz_rule
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz.h $(2) $(wildcard src/*.h) | $(FUZZ_DIR)
	$$(call msg,FUZZ-CC,$$@)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$< $(2) -o $$@
endef
$(eval $(call fuzz_rule,port,src/opts.c src/services.c))
$(eval $(call fuzz_rule,number,src/opts.c src/services.c))
$(eval $(call fuzz_rule,time,src/history.c src/opts.c src/services.c))
$(eval $(call fuzz_rule,config,src/config.c src/httpd_listen.c src/opts.c src/services.c))
$(eval $(call fuzz_rule,statefile,src/statefile.c src/history.c src/opts.c src/services.c))

$(FUZZ_DIR):
	$(Q)mkdir -p $@

.PHONY: fuzz fuzz-brief stress faults
# Each target for FUZZ_SECONDS, after replaying tests/fuzz/regress/.
fuzz: $(FUZZ_BINS)
	$(Q)tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-brief: $(FUZZ_BINS)
	$(Q)tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_BRIEF_SECONDS) $(FUZZ_NAMES)

test: fuzz-brief

# The soak of tests/integration/test_stress.c for DURATION seconds (make test: 12).
DURATION ?= 60
stress: connpeak $(OUTPUT)/tests/test_stress
	$(Q)CONNPEAK=$(CURDIR)/connpeak STRESS_SECONDS=$(DURATION) $(OUTPUT)/tests/test_stress

# tests/integration/test_faults.c in full: start killed at each of its bpf() calls
# and at 50 random moments (FAULT_KILLS), 11 memory limits (make test: a short form).
faults: connpeak $(OUTPUT)/tests/test_faults
	$(Q)CONNPEAK=$(CURDIR)/connpeak FAULT_FULL=1 $(OUTPUT)/tests/test_faults

# make check: the unit and integration tests built with ASan and UBSan under
# $(OUTPUT)/asan, where any sanitizer report fails them; then tests/lint.sh.
# At -O1 gcc warns about other things than at -O2: shown, but not fatal here.
SAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -Wno-error=maybe-uninitialized -Wno-error=format-truncation \
	-Wno-error=stringop-truncation -Wno-error=stringop-overflow
.PHONY: check san-test lint
check: test-deps
	$(Q)CFLAGS="$(SAN_CFLAGS)" $(MAKE) --no-print-directory OUTPUT=$(OUTPUT)/asan san-test
	$(Q)$(MAKE) --no-print-directory lint

$(OUTPUT)/connpeak: $(CORE_OBJS) $(TOOL_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

san-test: $(OUTPUT)/connpeak $(UNIT_TESTS) $(INTEG_TESTS)
	$(Q)rm -rf $(OUTPUT)/san-reports && mkdir -p $(OUTPUT)/san-reports
	$(Q)st=0; export CONNPEAK=$(CURDIR)/$(OUTPUT)/connpeak \
		ASAN_OPTIONS=log_path=$(CURDIR)/$(OUTPUT)/san-reports/asan \
		UBSAN_OPTIONS=log_path=$(CURDIR)/$(OUTPUT)/san-reports/ubsan:print_stacktrace=1; \
	for t in $(UNIT_TESTS) $(INTEG_TESTS); do $$t || st=1; done; \
	for f in $(OUTPUT)/san-reports/*; do [ -f "$$f" ] && cat "$$f" && st=1; done; exit $$st

lint: $(SKEL)
	$(Q)tests/lint.sh $(OUTPUT)
