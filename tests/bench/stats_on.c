// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * stats_on
 *
 * Turns on the kernel's run-time statistics of BPF programs (run_time_ns and
 * run_cnt) with BPF_ENABLE_STATS, prints "on" on stdout, and keeps them on
 * until SIGTERM, SIGINT or SIGHUP. The kernel counts each such file
 * descriptor apart from the sysctl kernel.bpf_stats_enabled, so another
 * benchmark that sets the sysctl back to 0 meanwhile cannot turn them off.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "bench.h"

#define PROG		"stats_on"

int main(int argc, char **argv)
{
	sigset_t set;
	int fd, sig;

	if (argc != 1) {
		fprintf(stderr, "usage: " PROG "\n");
		return 1;
	}
	block_stop_signals(&set);

	fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0) {
		fprintf(stderr, PROG ": BPF_ENABLE_STATS failed: %s\n", strerror(errno));
		return 1;
	}
	printf("on\n");
	fflush(stdout);
	sigwait(&set, &sig);
	close(fd);
	return 0;
}
