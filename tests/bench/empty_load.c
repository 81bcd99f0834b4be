// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * empty_load OBJECT
 *
 * Loads and attaches every program of a BPF object file, prints the id of
 * the first one on stdout, and keeps them attached until SIGTERM, SIGINT or
 * SIGHUP. bpftool 7.1 cannot attach a tp_btf program it loads, hence this.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench.h"

#define PROG		"empty_load"
#define MAX_PROGS	8

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_PROGS] = {};
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int sig, err, i, n = 0;
	sigset_t set;

	if (argc != 2) {
		fprintf(stderr, "usage: " PROG " OBJECT\n");
		return 1;
	}
	block_stop_signals(&set);

	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, PROG ": %s: open failed: %s\n", argv[1], strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, PROG ": %s: load failed: %s\n", argv[1], strerror(-err));
		goto out_close;
	}
	bpf_object__for_each_program(prog, obj) {
		if (n == MAX_PROGS)
			break;
		links[n] = bpf_program__attach(prog);
		if (!links[n++]) {
			err = -errno;
			fprintf(stderr, PROG ": %s: attach failed: %s\n",
				bpf_program__name(prog), strerror(-err));
			goto out_close;
		}
	}
	prog = bpf_object__next_program(obj, NULL);
	err = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len);
	if (err) {
		err = -errno;
		fprintf(stderr, PROG ": prog info failed: %s\n", strerror(-err));
		goto out_close;
	}
	printf("%u\n", info.id);
	fflush(stdout);
	sigwait(&set, &sig);

out_close:
	for (i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return err ? 1 : 0;
}
