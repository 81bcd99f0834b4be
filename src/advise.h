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
#include "clients.h"
#include "history.h"

/* Clients over the limit in force named in the table; JSON lists them all. */
#define ADVISE_REFUSED_SHOWN	5

struct service_advice {
	unsigned int port;
	struct advice a;
	bool has_history;
	unsigned long users_start;	/* 0: not applicable */
	struct service_clients clients;	/* known false: no client data for the port */
};

struct advise_report {
	const struct service_advice *sa;	/* sorted by port */
	size_t n;
	unsigned long headroom;
	unsigned int client_limit;	/* --client-limit; 0: not given, nobody is named */
	bool clients_on;		/* false: the tracker keeps no per-client counts */
};

void print_advice_table(FILE *out, const struct advise_report *r);
void print_advice_json(FILE *out, const struct advise_report *r);

#endif
