// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <stdio.h>
#include "kernel_features.h"

const struct kernel_feature *kernel_features__first_missing(const struct kernel_feature *table,
							    size_t n, void *ctx)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (table[i].probe(ctx) == 0)
			return &table[i];
	return NULL;
}

int kernel_features__message(char *buf, size_t len, const char *kernel,
			     const struct kernel_feature *missing)
{
	return snprintf(buf, len, "connpeak: start failed: this kernel (%s) lacks %s (Linux %s); "
			"connpeak needs Linux " CONNPEAK_MIN_LINUX " or later with BTF",
			kernel, missing->name, missing->release);
}
