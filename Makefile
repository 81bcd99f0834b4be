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
CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Wno-unused-parameter -Werror -std=gnu11 \
	  -Iinclude -I$(OUTPUT) $(LIBBPF_CFLAGS)
CLANG_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 | \
	sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Iinclude -I$(dir $(VMLINUX_H)) $(CLANG_SYS_INCLUDES)

CORE_SRCS := src/opts.c src/services.c src/output.c src/timefmt.c src/clients.c \
	src/clients_out.c
TOOL_SRCS := src/main.c src/tracker.c src/query.c src/netns.c src/commands.c src/top.c \
	src/client_table.c src/clients_cmd.c
CORE_OBJS := $(patsubst src/%.c,$(OUTPUT)/%.o,$(CORE_SRCS))
TOOL_OBJS := $(patsubst src/%.c,$(OUTPUT)/%.o,$(TOOL_SRCS))
SKEL := $(OUTPUT)/connpeak.skel.h

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
INTEG_TESTS := $(patsubst tests/integration/%.c,$(OUTPUT)/tests/%,\
	$(wildcard tests/integration/test_*.c))
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

.PHONY: all clean test unit-test integration-test run deps test-deps install vmlinux bench \
	bench-smoke
.DELETE_ON_ERROR:
.SECONDARY:

all: connpeak

connpeak: $(CORE_OBJS) $(TOOL_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBBPF_LIBS) -o $@

$(OUTPUT) $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/connpeak.bpf.o: bpf/connpeak.bpf.c $(wildcard bpf/*.bpf.h include/*.h) $(VMLINUX_H) | $(OUTPUT)
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
	$(Q)$(MAKE) --no-print-directory unit-test integration-test bench-smoke

vmlinux:
	$(Q)scripts/gen-vmlinux.sh $(VMLINUX_BTF) $(VMLINUX_H)

install: connpeak
	install -D -m 0755 connpeak $(DESTDIR)$(PREFIX)/sbin/connpeak
	install -D -m 0644 docs/connpeak.8 $(DESTDIR)$(PREFIX)/share/man/man8/connpeak.8

clean:
	$(call msg,CLEAN,)
	$(Q)rm -rf $(OUTPUT) connpeak

# --- benchmarks (scripts/bench.sh, tests/bench/) ---
bench: connpeak
	$(Q)scripts/install-deps.sh bench
	$(Q)scripts/bench.sh full

bench-smoke: connpeak
	$(Q)scripts/bench.sh smoke
