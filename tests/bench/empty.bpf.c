// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * The measuring floor for the per-event cost: a program on the same
 * tracepoint as connpeak's on_state that does nothing. What bpf_stats
 * reports for it is the cost of calling a BPF program and of timing it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(bench_empty, const struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
