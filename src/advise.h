/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_ADVISE_H
#define CONNPEAK_ADVISE_H

/*
 * What advise prints, per inbound service, and the printing itself. Nothing
 * here touches BPF, so the unit tests reach it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "history.h"

struct service_advice {
	unsigned int port;
	struct advice a;
	bool has_history;
	unsigned long users_start;	/* 0: not applicable */
};

struct advise_report {
	const struct service_advice *sa;	/* sorted by port */
	size_t n;
	unsigned long headroom;
};

void print_advice_table(FILE *out, const struct advise_report *r);
void print_advice_json(FILE *out, const struct advise_report *r);

#endif
