// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "clients.h"
#include "opts.h"

static int parse_prefix_len(const char *s, size_t len, unsigned long max, unsigned int *out)
{
	char *text = strndup(s, len);
	unsigned long v;
	int err;

	if (!text)
		return -ENOMEM;
	err = parse_ulong(text, 1, max, &v);
	free(text);
	if (!err)
		*out = v;
	return err;
}

int parse_client_prefix(const char *arg, unsigned int *prefix4, unsigned int *prefix6)
{
	const char *comma = strchr(arg, ',');
	unsigned int p4, p6;
	int err;

	if (!comma)
		return -EINVAL;
	err = parse_prefix_len(arg, comma - arg, 32, &p4);
	if (!err)
		err = parse_prefix_len(comma + 1, strlen(comma + 1), 128, &p6);
	if (err)
		return err;
	*prefix4 = p4;
	*prefix6 = p6;
	return 0;
}

int parse_client_capacity(const char *arg, unsigned int *capacity)
{
	unsigned long v;
	int err;

	err = parse_ulong(arg, 0, CLIENTS_MAX, &v);
	if (!err && v && v < CLIENTS_MIN)
		err = -ERANGE;
	if (!err)
		*capacity = v;
	return err;
}

unsigned int clients_slots(unsigned int capacity)
{
	return capacity ? capacity * CONNPEAK_CL_SLOTS_PER_CLIENT : 1;
}

/* Network-order mask of the bits of word i (0-3) covered by a prefix. */
static __be32 prefix_mask_word(unsigned int prefix, unsigned int i)
{
	unsigned int bits = prefix > 32 * i ? prefix - 32 * i : 0;

	if (bits >= 32)
		return 0xffffffffU;
	return bits ? htonl(~0U << (32 - bits)) : 0;
}

void client_cfg_fill(struct connpeak_client_cfg *cfg, unsigned int prefix4,
		     unsigned int prefix6)
{
	unsigned int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->prefix4 = prefix4;
	cfg->prefix6 = prefix6;
	cfg->mask4 = prefix_mask_word(prefix4, 0);
	for (i = 0; i < 4; i++)
		cfg->mask6[i] = prefix_mask_word(prefix6, i);
}

void client_addr_format(char *buf, size_t len, const struct connpeak_client_key *k)
{
	bool v4 = k->family == CONNPEAK_FAMILY_IPV4;
	char text[INET6_ADDRSTRLEN];

	if (!inet_ntop(v4 ? AF_INET : AF_INET6, k->addr, text, sizeof(text)))
		snprintf(text, sizeof(text), "?");
	if (k->prefix < (v4 ? 32 : 128))
		snprintf(buf, len, "%s/%u", text, k->prefix);
	else
		snprintf(buf, len, "%s", text);
}

const char *client_family_name(const struct connpeak_client_key *k)
{
	return k->family == CONNPEAK_FAMILY_IPV4 ? "ipv4" : "ipv6";
}

static int cmp_u64_desc(unsigned long long a, unsigned long long b)
{
	return a == b ? 0 : a > b ? -1 : 1;
}

/* Addresses in a stable order: IPv4 first, then by bytes, then prefix. */
static int cmp_key(const struct connpeak_client_key *a, const struct connpeak_client_key *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c;
	return (int)a->prefix - (int)b->prefix;
}

static int cmp_rows(const struct client_row *x, const struct client_row *y, enum client_sort by)
{
	int c;

	if (x->key.port != y->key.port)
		return x->key.port < y->key.port ? -1 : 1;
	if (by == CLIENT_SORT_PEAK)
		c = cmp_u64_desc(x->peak, y->peak) ?: cmp_u64_desc(x->current, y->current);
	else
		c = cmp_u64_desc(x->current, y->current) ?: cmp_u64_desc(x->peak, y->peak);
	return c ?: cmp_u64_desc(x->total, y->total) ?: cmp_key(&x->key, &y->key);
}

static int cmp_by_current(const void *a, const void *b)
{
	return cmp_rows(a, b, CLIENT_SORT_CURRENT);
}

static int cmp_by_peak(const void *a, const void *b)
{
	return cmp_rows(a, b, CLIENT_SORT_PEAK);
}

void client_rows_sort(struct client_row *rows, size_t n, enum client_sort by)
{
	qsort(rows, n, sizeof(*rows), by == CLIENT_SORT_PEAK ? cmp_by_peak : cmp_by_current);
}

size_t client_rows_top(struct client_row *rows, size_t n, size_t top)
{
	size_t i, kept = 0, in_port = 0;

	for (i = 0; i < n; i++) {
		if (i && rows[i].key.port != rows[i - 1].key.port)
			in_port = 0;
		if (in_port++ < top)
			rows[kept++] = rows[i];
	}
	return kept;
}

static int cmp_over(const void *a, const void *b)
{
	const struct client_row *x = *(const struct client_row *const *)a;
	const struct client_row *y = *(const struct client_row *const *)b;

	return cmp_u64_desc(x->peak, y->peak) ?: cmp_key(&x->key, &y->key);
}

int client_advise(const struct client_row *rows, size_t n, unsigned int headroom_pct,
		  unsigned int check_limit, const struct client_row **over,
		  struct client_advice *out)
{
	unsigned long long limit;
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		if (rows[i].peak > out->max_peak)
			out->max_peak = rows[i].peak;
		if (rows[i].peak > check_limit)
			over[out->n_over++] = &rows[i];
	}
	qsort(over, out->n_over, sizeof(const struct client_row *), cmp_over);
	if (!out->max_peak)
		return -ENODATA;
	/* Integer ceiling: no rounding error for any peak or headroom. */
	limit = ((unsigned long long)out->max_peak * (100ULL + headroom_pct) + 99) / 100;
	if (limit > 0xffffffffULL)
		return -ERANGE;
	out->limit = limit;
	return 0;
}

int service_clients__fill(struct service_clients *sc, const struct client_row *rows, size_t n,
			  unsigned int headroom_pct, unsigned int in_force,
			  const struct client_row **over)
{
	struct client_advice a;
	unsigned int check;
	int err;

	memset(sc, 0, sizeof(*sc));
	/* Checked against 0, every client with a peak is listed, highest first. */
	err = client_advise(rows, n, headroom_pct, 0, over, &a);
	if (err == -ENODATA)
		return 0;
	if (err)
		return err;
	check = in_force ? in_force : a.limit;
	sc->known = true;
	sc->peak = a.max_peak;
	sc->limit = a.limit;
	sc->top = over[0];
	sc->refused = over;
	while (sc->n_refused < a.n_over && over[sc->n_refused]->peak > check)
		sc->n_refused++;
	return 0;
}
