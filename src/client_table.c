// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "client_table.h"

static int pin_get(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_get(path);
}

static int map_max_entries(int fd, __u32 key_size, __u32 value_size, __u32 *max)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.key_size != key_size || info.value_size != value_size)
		return -EPROTO;
	*max = info.max_entries;
	return 0;
}

int client_table__open(struct client_table *ct, const char *dir)
{
	__u32 unused;
	int err;

	ct->map_fd = pin_get(dir, CLIENT_PIN_MAP);
	ct->overflow_fd = pin_get(dir, CLIENT_PIN_OVERFLOW);
	if (ct->map_fd < 0 || ct->overflow_fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	err = map_max_entries(ct->map_fd, sizeof(struct connpeak_client_key),
			      sizeof(struct connpeak_client), &ct->max_entries);
	if (!err)
		err = map_max_entries(ct->overflow_fd, sizeof(__u32), sizeof(__u64), &unused);
	return err;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void client_table__close(struct client_table *ct)
{
	close_fd(&ct->map_fd);
	close_fd(&ct->overflow_fd);
}

/*
 * Read up to max entries of a hash map with batched lookups. Returns the
 * number read or a negative errno.
 */
static long read_map(int fd, __u32 max, void *keys, size_t ksize, void *vals, size_t vsize)
{
	__u32 batch, count, n = 0;
	void *in = NULL;
	int err;

	do {
		count = max - n;
		err = bpf_map_lookup_batch(fd, in, &batch, (char *)keys + n * ksize,
					   (char *)vals + n * vsize, &count, NULL);
		if (err && errno != ENOENT)
			return -errno;
		n += count;
		in = &batch;
	} while (!err && n < max);
	return n;
}

static __u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct rows_build {
	struct client_row *rows;
	size_t n;
	__u64 now_boot, now_real;
	const struct port_set *ports;
};

static void add_rows(struct rows_build *b, const struct connpeak_client_key *keys,
		     const struct connpeak_client *vals, long n)
{
	struct client_row *r;
	long i;

	for (i = 0; i < n; i++) {
		if (b->ports->count && !port_set__has(b->ports, keys[i].port))
			continue;
		r = &b->rows[b->n++];
		memset(r, 0, sizeof(*r));
		r->key = keys[i];
		r->current = CONNPEAK_CL_CUR(vals[i].state);
		r->peak = CONNPEAK_CL_PEAK(vals[i].state);
		r->total = vals[i].total;
		r->peak_at = (time_t)((b->now_real - (b->now_boot - vals[i].peak_ns)) /
				      1000000000ULL);
	}
}

static int read_clients(const struct client_table *ct, const struct port_set *ports,
			struct client_snapshot *snap)
{
	struct rows_build b = { .ports = ports };
	struct connpeak_client_key *keys;
	struct connpeak_client *vals;
	long n = -ENOMEM;

	keys = calloc(ct->max_entries, sizeof(*keys));
	vals = calloc(ct->max_entries, sizeof(*vals));
	b.rows = calloc(ct->max_entries, sizeof(*b.rows));
	if (!keys || !vals || !b.rows)
		goto out;
	b.now_boot = clock_ns(CLOCK_BOOTTIME);
	b.now_real = clock_ns(CLOCK_REALTIME);
	n = read_map(ct->map_fd, ct->max_entries, keys, sizeof(*keys), vals, sizeof(*vals));
	if (n < 0)
		goto out;
	add_rows(&b, keys, vals, n);
	snap->rows = b.rows;
	snap->n = b.n;
	b.rows = NULL;
out:
	free(keys);
	free(vals);
	free(b.rows);
	return n < 0 ? (int)n : 0;
}

static int cmp_overflow(const void *a, const void *b)
{
	const struct client_overflow *x = a, *y = b;

	return x->port == y->port ? 0 : x->port < y->port ? -1 : 1;
}

static int read_overflow(const struct client_table *ct, const struct port_set *ports,
			 struct client_snapshot *snap)
{
	__u32 keys[CONNPEAK_OVERFLOW_PORTS];
	__u64 vals[CONNPEAK_OVERFLOW_PORTS];
	long n, i;

	n = read_map(ct->overflow_fd, CONNPEAK_OVERFLOW_PORTS, keys, sizeof(keys[0]), vals,
		     sizeof(vals[0]));
	if (n < 0)
		return n;
	snap->overflow = calloc(n ? n : 1, sizeof(*snap->overflow));
	if (!snap->overflow)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (ports->count && !port_set__has(ports, keys[i]))
			continue;
		snap->overflow[snap->n_overflow].port = keys[i];
		snap->overflow[snap->n_overflow++].count = vals[i];
	}
	qsort(snap->overflow, snap->n_overflow, sizeof(*snap->overflow), cmp_overflow);
	return 0;
}

static void fill_losses(const struct tracker *t, struct client_losses *l)
{
	l->evicted = t->stats[CONNPEAK_STAT_CLIENT_EVICTED];
	l->overflow = t->stats[CONNPEAK_STAT_CLIENT_OVERFLOW];
	l->unmarked = t->stats[CONNPEAK_STAT_CLIENT_UNMARKED];
	l->unmatched = t->stats[CONNPEAK_STAT_CLIENT_UNMATCHED];
}

int client_table__read(const struct client_table *ct, const struct tracker *t,
		       const struct port_set *ports, struct client_snapshot *snap)
{
	int err;

	memset(snap, 0, sizeof(*snap));
	err = read_clients(ct, ports, snap);
	if (!err)
		err = read_overflow(ct, ports, snap);
	if (err) {
		client_snapshot__free(snap);
		return err;
	}
	fill_losses(t, &snap->losses);
	return 0;
}

void client_snapshot__free(struct client_snapshot *snap)
{
	size_t i;

	for (i = 0; i < snap->n; i++)
		free(snap->rows[i].name);
	free(snap->rows);
	free(snap->overflow);
	memset(snap, 0, sizeof(*snap));
}
