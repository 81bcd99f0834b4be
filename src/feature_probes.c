// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kernel_features.h"

/*
 * Small probes for the kernel features connpeak's BPF object relies on, run
 * after a start failed to load or attach, to name what this kernel lacks.
 * Each probe loads at most a program of a few instructions or a map of one
 * entry and closes it at once. libbpf_probe_bpf_prog_type() and
 * libbpf_probe_bpf_helper() are not used for tracing programs: libbpf 1.1
 * reports BPF_PROG_TYPE_TRACING missing even on 6.18, and refuses to probe
 * helpers for it, because such a program needs a target to attach to. Here
 * the target is the tracepoint connpeak itself attaches to.
 */

#define VMLINUX_BTF	"/sys/kernel/btf/vmlinux"
#define TRACEPOINT_BTF	"btf_trace_inet_sock_set_state"
#define LOG_SIZE	4096
#define ENOTSUPP_KERNEL	524	/* the kernel's internal ENOTSUPP, seen by userspace */

struct probe_ctx {
	struct btf *vmlinux;
	int btf_err;		/* why vmlinux could not be read, once tried */
};

void *feature_probes__new(void)
{
	return calloc(1, sizeof(struct probe_ctx));
}

void feature_probes__free(void *arg)
{
	struct probe_ctx *ctx = arg;

	if (ctx)
		btf__free(ctx->vmlinux);
	free(ctx);
}

static struct btf *ctx_btf(struct probe_ctx *ctx)
{
	if (!ctx->vmlinux && !ctx->btf_err) {
		ctx->vmlinux = btf__load_vmlinux_btf();
		if (!ctx->vmlinux)
			ctx->btf_err = errno ? -errno : -EIO;
	}
	return ctx->vmlinux;
}

/* 1 if vmlinux BTF has the named type, 0 if not, a negative errno if unreadable. */
static int btf_has(struct probe_ctx *ctx, const char *name, __u32 kind)
{
	struct btf *btf = ctx_btf(ctx);
	int id;

	if (!btf)
		return ctx->btf_err;
	id = btf__find_by_name_kind(btf, name, kind);
	if (id > 0)
		return 1;
	return id == -ENOENT ? 0 : id;
}

/* An error that says the kernel does not know what it was asked for. */
static int unknown_to_kernel(int err)
{
	return err == EINVAL || err == E2BIG || err == EOPNOTSUPP || err == ENOTSUPP_KERNEL;
}

static struct bpf_insn insn(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm)
{
	struct bpf_insn i = { .code = code, .dst_reg = dst, .src_reg = src, .off = off,
			      .imm = imm };

	return i;
}

#define MOV_IMM(reg, v)	insn(BPF_ALU64 | BPF_MOV | BPF_K, reg, 0, 0, v)
#define EXIT()		insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* A tp_btf program on connpeak's tracepoint; its fd, or -1 with errno set. */
static int tp_prog_load(struct probe_ctx *ctx, const struct bpf_insn *insns, size_t n,
			char *log, size_t log_len)
{
	struct bpf_prog_load_opts opts = {
		.sz = sizeof(opts),
		.expected_attach_type = BPF_TRACE_RAW_TP,
		.log_buf = log,
		.log_size = log ? log_len : 0,
		.log_level = log ? 1 : 0,
	};
	struct btf *btf = ctx_btf(ctx);
	int id;

	if (!btf) {
		errno = -ctx->btf_err;
		return -1;
	}
	id = btf__find_by_name_kind(btf, TRACEPOINT_BTF, BTF_KIND_TYPEDEF);
	if (id <= 0) {
		errno = ENOENT;
		return -1;
	}
	opts.attach_btf_id = id;
	return bpf_prog_load(BPF_PROG_TYPE_TRACING, "connpeak_probe", "GPL", insns, n, &opts);
}

static int probe_vmlinux_btf(void *arg)
{
	if (access(VMLINUX_BTF, F_OK) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

static int probe_tracepoint(void *arg)
{
	return btf_has(arg, TRACEPOINT_BTF, BTF_KIND_TYPEDEF);
}

static int probe_iter_tcp(void *arg)
{
	return btf_has(arg, "bpf_iter__tcp", BTF_KIND_STRUCT);
}

static int probe_tp_btf(void *arg)
{
	const struct bpf_insn prog[] = { MOV_IMM(BPF_REG_0, 0), EXIT() };
	int fd = tp_prog_load(arg, prog, 2, NULL, 0);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return unknown_to_kernel(errno) ? 0 : -errno;
}

/* libbpf's map probes answer 0 for any failure: tell "no memory" apart. */
static int map_probe_result(int ret)
{
	if (ret == 0 && (errno == ENOMEM || errno == EPERM))
		return -errno;
	return ret;
}

static int probe_sk_storage(void *arg)
{
	errno = 0;
	return map_probe_result(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL));
}

static int probe_ringbuf(void *arg)
{
	errno = 0;
	return map_probe_result(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL));
}

static int probe_mmapable(void *arg)
{
	struct bpf_map_create_opts opts = { .sz = sizeof(opts), .map_flags = BPF_F_MMAPABLE };
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, sizeof(__u32), sizeof(__u64), 1,
				&opts);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return unknown_to_kernel(errno) ? 0 : -errno;
}

/*
 * Whether a tp_btf program may call the helper. The call goes without
 * arguments: a verifier that knows the helper refuses the arguments (or
 * accepts a helper that takes none), one that does not names the function.
 */
int feature_probes__helper(void *ctx, int helper)
{
	const struct bpf_insn prog[] = {
		insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper), MOV_IMM(BPF_REG_0, 0), EXIT(),
	};
	char log[LOG_SIZE] = "";
	int fd, err;

	fd = tp_prog_load(ctx, prog, 3, log, sizeof(log));
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	err = errno;
	if (strstr(log, "unknown func") || strstr(log, "invalid func") ||
	    strstr(log, "helper call is not allowed") || strstr(log, "cannot use helper"))
		return 0;
	return err == EINVAL || err == EACCES ? 1 : -err;
}

static int probe_boot_ns(void *arg)
{
	return feature_probes__helper(arg, BPF_FUNC_ktime_get_boot_ns);
}

static int probe_jiffies(void *arg)
{
	return feature_probes__helper(arg, BPF_FUNC_jiffies64);
}

static int probe_loop(void *arg)
{
	return feature_probes__helper(arg, BPF_FUNC_loop);
}

static int probe_skc_to_tcp_sock(void *arg)
{
	return feature_probes__helper(arg, BPF_FUNC_skc_to_tcp_sock);
}

/*
 * Seen missing from tp_btf programs on 5.10 and present on 6.1. Tracing
 * programs reach bpf_spin_lock() through the base helpers, from 5.11 by our
 * reading of commit d05512618056 ("bpf: Add bpf_ktime_get_coarse_ns helper").
 */
static int probe_spin_lock(void *arg)
{
	return feature_probes__helper(arg, BPF_FUNC_spin_lock);
}

static int probe_sk_storage_get(void *arg)
{
	return feature_probes__helper(arg, BPF_FUNC_sk_storage_get);
}

#define ATOMIC(size, op, off) insn(BPF_STX | BPF_ATOMIC | (size), BPF_REG_10, BPF_REG_1, off, op)

/* 64- and 32-bit fetch-and-add, exchange and compare-and-swap on the stack. */
static int probe_atomics(void *arg)
{
	const struct bpf_insn prog[] = {
		insn(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 0),
		insn(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -16, 0),
		MOV_IMM(BPF_REG_1, 1),
		ATOMIC(BPF_DW, BPF_ADD | BPF_FETCH, -8),
		ATOMIC(BPF_W, BPF_ADD | BPF_FETCH, -16),
		ATOMIC(BPF_DW, BPF_XCHG, -8),
		ATOMIC(BPF_W, BPF_XCHG, -16),
		MOV_IMM(BPF_REG_0, 0),
		ATOMIC(BPF_DW, BPF_CMPXCHG, -8),
		ATOMIC(BPF_W, BPF_CMPXCHG, -16),
		MOV_IMM(BPF_REG_0, 0),
		EXIT(),
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "connpeak_probe", "GPL", prog,
			       sizeof(prog) / sizeof(prog[0]), NULL);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return unknown_to_kernel(errno) ? 0 : -errno;
}

/*
 * In a child, in a mount namespace of its own, on a bpffs mounted there:
 * nothing can be left pinned, even if the child is killed. Exits 0 if the
 * link pinned, 1 if the kernel refused to pin it, 2 if it could not tell.
 */
static void pin_link_privately(int prog_fd)
{
	int link_fd;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL))
		_exit(2);
	link_fd = bpf_raw_tracepoint_open(NULL, prog_fd);
	if (link_fd < 0)
		_exit(2);
	if (bpf_obj_pin(link_fd, "/sys/fs/bpf/connpeak_probe") == 0)
		_exit(0);
	_exit(errno == EINVAL ? 1 : 2);
}

static int probe_link_pin(void *arg)
{
	const struct bpf_insn prog[] = { MOV_IMM(BPF_REG_0, 0), EXIT() };
	int prog_fd, status, err;
	pid_t child;

	prog_fd = tp_prog_load(arg, prog, 2, NULL, 0);
	if (prog_fd < 0)
		return -errno;
	child = fork();
	if (child == 0)
		pin_link_privately(prog_fd);
	err = errno;
	close(prog_fd);
	if (child < 0)
		return -err;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
		return -EAGAIN;
	return WEXITSTATUS(status) == 0;
}

/* Cheapest first; a feature older than tp_btf programs (5.5) needs no probe of its own. */
const struct kernel_feature connpeak_features[] = {
	{ "BTF in " VMLINUX_BTF " (CONFIG_DEBUG_INFO_BTF)", "5.4", probe_vmlinux_btf },
	{ "the BTF-typed tracepoint sock:inet_sock_set_state", "5.5", probe_tracepoint },
	{ "the iter/tcp iterator", "5.9", probe_iter_tcp },
	{ "tp_btf programs (BPF_PROG_TYPE_TRACING)", "5.5", probe_tp_btf },
	{ "socket-local storage (BPF_MAP_TYPE_SK_STORAGE)", "5.2", probe_sk_storage },
	{ "memory-mappable arrays (BPF_F_MMAPABLE)", "5.5", probe_mmapable },
	{ "ring buffers (BPF_MAP_TYPE_RINGBUF)", "5.8", probe_ringbuf },
	{ "bpf_ktime_get_boot_ns() in tp_btf programs", "5.8", probe_boot_ns },
	{ "bpf_skc_to_tcp_sock() in tracing programs", "5.9", probe_skc_to_tcp_sock },
	{ "bpf_spin_lock() in tp_btf programs", "5.11", probe_spin_lock },
	{ "bpf_sk_storage_get() in tp_btf programs", "5.11", probe_sk_storage_get },
	{ "BPF atomics with fetch (fetch-and-add, exchange, compare-and-swap)", "5.12",
	  probe_atomics },
	{ "bpf_jiffies64() in tp_btf programs", "5.5", probe_jiffies },
	{ "bpf_loop()", "5.17", probe_loop },
	{ "pinnable BPF links", "5.7", probe_link_pin },
};
const size_t connpeak_nr_features = sizeof(connpeak_features) / sizeof(connpeak_features[0]);

int kernel_features__explain(void)
{
	const struct kernel_feature *missing;
	struct utsname u;
	char msg[512];
	void *ctx;

	ctx = feature_probes__new();
	if (!ctx)
		return 0;
	missing = kernel_features__first_missing(connpeak_features, connpeak_nr_features, ctx);
	feature_probes__free(ctx);
	if (!missing)
		return 0;
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "unknown release");
	kernel_features__message(msg, sizeof(msg), u.release, missing);
	fprintf(stderr, "%s\n", msg);
	return 1;
}
