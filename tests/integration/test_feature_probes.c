// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * The kernel feature probes that name what an old kernel lacks when start
 * fails, run on this kernel: it has everything connpeak needs, so a probe
 * that reports a feature missing here is written wrongly. They must also
 * tell a helper this kernel refuses from one it allows, and leave nothing
 * open or pinned behind.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>
#include "harness.h"
#include "kernel_features.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_every_probe_finds_its_feature(void **state)
{
	void *ctx;
	size_t i;
	int got, bad = 0;

	h_require();
	ctx = feature_probes__new();
	assert_non_null(ctx);
	for (i = 0; i < connpeak_nr_features; i++) {
		got = connpeak_features[i].probe(ctx);
		if (got == 1)
			continue;
		print_error("probe '%s' (Linux %s): expected 1 (present), actual %d%s%s\n",
			    connpeak_features[i].name, connpeak_features[i].release, got,
			    got < 0 ? ": " : "", got < 0 ? strerror(-got) : "");
		bad++;
	}
	feature_probes__free(ctx);
	H_EQ(0, bad, "probes that did not find their feature on this kernel");
}

static void test_walk_names_nothing(void **state)
{
	const struct kernel_feature *missing;
	void *ctx;

	h_require();
	ctx = feature_probes__new();
	assert_non_null(ctx);
	missing = kernel_features__first_missing(connpeak_features, connpeak_nr_features, ctx);
	feature_probes__free(ctx);
	if (missing)
		H_FAIL("first missing feature: expected none, actual '%s'", missing->name);
	H_EQ(0, kernel_features__explain(), "kernel_features__explain() on this kernel");
}

/* KERNEL-NOTES: tp_btf programs may not call bpf_ktime_get_coarse_ns here. */
static void test_helper_probe_tells_refused_from_allowed(void **state)
{
	void *ctx;

	h_require();
	ctx = feature_probes__new();
	assert_non_null(ctx);
	H_EQ(1, feature_probes__helper(ctx, BPF_FUNC_ktime_get_ns), "bpf_ktime_get_ns");
	H_EQ(1, feature_probes__helper(ctx, BPF_FUNC_sk_storage_get), "bpf_sk_storage_get");
	H_EQ(0, feature_probes__helper(ctx, BPF_FUNC_ktime_get_coarse_ns),
	     "bpf_ktime_get_coarse_ns, refused in tp_btf programs");
	H_EQ(0, feature_probes__helper(ctx, 100000), "helper 100000, which no kernel has");
	feature_probes__free(ctx);
}

static void test_probes_leave_nothing(void **state)
{
	struct dirent *e;
	int before, after;
	DIR *d;

	h_require();
	before = count_fds();
	H_EQ(0, kernel_features__explain(), "kernel_features__explain() on this kernel");
	after = count_fds();
	H_EQ(before, after, "open file descriptors before and after probing");
	d = opendir("/sys/fs/bpf");
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, "probe"))
			H_FAIL("/sys/fs/bpf/%s left behind by the probes", e->d_name);
	closedir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_every_probe_finds_its_feature),
		H_TEST(test_walk_names_nothing),
		H_TEST(test_helper_probe_tells_refused_from_allowed),
		H_TEST(test_probes_leave_nothing),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
