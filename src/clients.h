/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_CLIENTS_H
#define CONNPEAK_CLIENTS_H

/*
 * Per-client rows: parsing of the start options, address formatting,
 * sorting, output and the advice arithmetic. Nothing here touches BPF.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <linux/types.h>
#include "connpeak.h"
#include "connpeak_client.h"

#define CLIENTS_DEFAULT		16384
#define CLIENTS_MIN		1
#define CLIENTS_MAX		1048576
#define CLIENT_TOP_DEFAULT	10
#define CLIENT_TOP_MAX		1000000
/* "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128" and a NUL */
#define CLIENT_ADDR_LEN		48

/* What start was asked to track; capacity 0 means off. */
struct client_opts {
	unsigned int capacity;
	unsigned int prefix4;	/* 1-32 */
	unsigned int prefix6;	/* 1-128 */
};

#define CLIENT_OPTS_DEFAULT { .capacity = CLIENTS_DEFAULT, .prefix4 = 32, .prefix6 = 128 }

/* One client of one port, as shown to the user. */
struct client_row {
	struct connpeak_client_key key;
	unsigned int current;
	unsigned int peak;
	unsigned long long total;
	time_t peak_at;			/* wall-clock seconds */
	char *name;			/* reverse DNS with --resolve, else NULL */
};

enum client_sort { CLIENT_SORT_CURRENT, CLIENT_SORT_PEAK };

/* Parse "V4,V6" (IPv4 1-32, IPv6 1-128); 0, -EINVAL or -ERANGE. */
int parse_client_prefix(const char *arg, unsigned int *prefix4, unsigned int *prefix6);
/* Parse a table size: 0 (off) or CLIENTS_MIN-CLIENTS_MAX; 0, -EINVAL or -ERANGE. */
int parse_client_capacity(const char *arg, unsigned int *capacity);
/* Slots of the client array for a capacity (an array needs one even when off). */
unsigned int clients_slots(unsigned int capacity);
/* Fill the masks the BPF program applies. */
void client_cfg_fill(struct connpeak_client_cfg *cfg, unsigned int prefix4,
		     unsigned int prefix6);

/* "192.0.2.7", "192.0.2.0/24", "2001:db8::/64"; the length only when cut. */
void client_addr_format(char *buf, size_t len, const struct connpeak_client_key *k);
const char *client_family_name(const struct connpeak_client_key *k);

/* By port, then the sort key descending, then the other counts, then address. */
void client_rows_sort(struct client_row *rows, size_t n, enum client_sort by);
/* Keep the first top rows of each port of sorted rows; returns the new count. */
size_t client_rows_top(struct client_row *rows, size_t n, size_t top);

/* What the tables lost, for the report. */
struct client_losses {
	unsigned long long evicted;	/* idle entries forgotten, with their history */
	unsigned long long overflow;	/* connections attributed to no client */
	unsigned long long unmarked;	/* of those, closes that may have been subtracted */
	unsigned long long unmatched;	/* closes that found no entry */
};

/* Per-port count of unattributed connections. */
struct client_overflow {
	unsigned int port;
	unsigned long long total;	/* since start */
	unsigned long long current;	/* open now */
};

struct client_report {
	const struct client_row *rows;	/* sorted and cut to top */
	size_t n;
	unsigned long long entries;	/* clients in the table, all ports */
	const struct client_overflow *overflow;	/* sorted by port */
	size_t n_overflow;
	struct client_losses losses;
	unsigned int capacity;
	bool resolve;
};

void print_clients_table(FILE *out, const struct client_report *r);
void print_clients_json(FILE *out, const struct client_report *r);
/*
 * One stderr line per kind of loss, if any. notes: also the evictions and
 * unattributed connections (JSON output carries those itself).
 */
void print_client_losses(FILE *err, const struct client_report *r, bool notes);

/*
 * Advice for the per-client limit of one port from its client rows:
 * the highest peak, the limit ceil(peak * (100 + headroom) / 100), and the
 * clients whose peak exceeds check_limit, highest first, in over (room for
 * n pointers). -ENODATA when no row has a peak; -ERANGE when the limit
 * would not fit in an unsigned int.
 */
struct client_advice {
	unsigned int max_peak;
	unsigned int limit;
	size_t n_over;
};

int client_advise(const struct client_row *rows, size_t n, unsigned int headroom_pct,
		  unsigned int check_limit, const struct client_row **over,
		  struct client_advice *out);

/*
 * The per-client advice advise shows for one service, from the rows of its
 * port: the highest peak, the suggested limit, the client that had the peak,
 * and the clients whose peak exceeds in_force (0: the suggested limit, which
 * by construction nobody exceeds), highest first. over needs room for n
 * pointers and must outlive sc. No row with a peak: known is false.
 */
struct service_clients {
	bool known;
	unsigned int peak;
	unsigned int limit;
	const struct client_row *top;
	const struct client_row *const *refused;
	size_t n_refused;
};

int service_clients__fill(struct service_clients *sc, const struct client_row *rows, size_t n,
			  unsigned int headroom_pct, unsigned int in_force,
			  const struct client_row **over);

#endif
