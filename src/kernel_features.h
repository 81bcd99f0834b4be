/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_KERNEL_FEATURES_H
#define CONNPEAK_KERNEL_FEATURES_H

#include <stddef.h>

/* The oldest release connpeak runs on; keep in sync with README "Supported kernels". */
#define CONNPEAK_MIN_LINUX "5.17"

/*
 * A kernel feature connpeak relies on, the release that brought it, and how
 * to find out whether this kernel has it. A probe returns 1 if the kernel has
 * the feature, 0 if it does not, and a negative errno if it could not tell
 * (no memory, no permission): a probe that cannot tell blames nothing.
 */
struct kernel_feature {
	const char *name;
	const char *release;
	int (*probe)(void *ctx);
};

/* The first feature of table whose probe says missing, or NULL. */
const struct kernel_feature *kernel_features__first_missing(const struct kernel_feature *table,
							    size_t n, void *ctx);

/* Why start cannot work on kernel (a release string), one line without newline. */
int kernel_features__message(char *buf, size_t len, const char *kernel,
			     const struct kernel_feature *missing);

/*
 * Probe this kernel for what connpeak needs, cheapest first. If a feature is
 * missing, print start's error naming it and return 1; otherwise print
 * nothing and return 0. Leaves nothing loaded or pinned.
 */
int kernel_features__explain(void);

/* The table kernel_features__explain walks, and a context for its probes. */
extern const struct kernel_feature connpeak_features[];
extern const size_t connpeak_nr_features;
void *feature_probes__new(void);
void feature_probes__free(void *ctx);
/* Whether a tp_btf program may call the helper: as a kernel_feature's probe answers. */
int feature_probes__helper(void *ctx, int helper);

#endif
