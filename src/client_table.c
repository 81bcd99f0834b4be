// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "client_table.h"

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

int client_table__open(struct client_table *ct, const struct tracker *t)
{
	size_t len;
	__u32 unused;
	void *p;
	int err;

	ct->map_fd = t->fd[TM_CLIENTS];
	ct->overflow_fd = t->fd[TM_CLIENT_OVERFLOW];
	err = map_max_entries(ct->map_fd, sizeof(__u32), sizeof(struct connpeak_client),
			      &ct->nslots);
	if (!err)
		err = map_max_entries(ct->overflow_fd, sizeof(__u32),
				      sizeof(struct connpeak_client_overflow), &unused);
	if (err)
		return err;
	len = (size_t)ct->nslots * sizeof(struct connpeak_client);
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, ct->map_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	ct->slots = p;
	return 0;
}

void client_table__close(struct client_table *ct)
{
	if (ct->slots)
		munmap((void *)ct->slots, (size_t)ct->nslots * sizeof(*ct->slots));
	ct->slots = NULL;
	ct->map_fd = ct->overflow_fd = -1;
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

/*
 * Copy a slot that is in use. The kernel changes slots while they are read:
 * the state before and after must agree, or the copy is tried again.
 */
static bool slot_copy(const struct connpeak_client *slot, struct connpeak_client *copy)
{
	__u64 before;
	int tries;

	for (tries = 0; tries < 8; tries++) {
		before = __atomic_load_n(&slot->state, __ATOMIC_ACQUIRE);
		if (!CONNPEAK_CL_IN_USE(before))
			return false;
		memcpy(copy, slot, sizeof(*copy));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&slot->state, __ATOMIC_RELAXED) == before) {
			copy->state = before;
			return true;
		}
	}
	return false;
}

static void row_fill(struct client_row *r, const struct connpeak_client *c, __u64 now_boot,
		     __u64 now_real)
{
	memset(r, 0, sizeof(*r));
	r->key = c->key;
	r->current = CONNPEAK_CL_CUR(c->state);
	r->peak = CONNPEAK_CL_PEAK(c->state);
	r->total = c->total;
	r->peak_at = (time_t)((now_real - (now_boot - c->peak_ns)) / 1000000000ULL);
}

static int read_clients(const struct client_table *ct, const struct port_set *ports,
			struct client_snapshot *snap)
{
	__u64 now_boot = clock_ns(CLOCK_BOOTTIME), now_real = clock_ns(CLOCK_REALTIME);
	struct client_row *rows, *grown;
	struct connpeak_client c;
	size_t n = 0, cap = 0;
	__u32 i;

	rows = NULL;
	for (i = 0; i < ct->nslots; i++) {
		if (!slot_copy(&ct->slots[i], &c))
			continue;
		if (ports->count && !port_set__has(ports, c.key.port))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(rows, cap * sizeof(*rows));
			if (!grown) {
				free(rows);
				return -ENOMEM;
			}
			rows = grown;
		}
		row_fill(&rows[n++], &c, now_boot, now_real);
	}
	snap->rows = rows;
	snap->n = n;
	return 0;
}

static int cmp_overflow(const void *a, const void *b)
{
	const struct client_overflow *x = a, *y = b;

	return x->port == y->port ? 0 : x->port < y->port ? -1 : 1;
}

static int read_overflow(const struct client_table *ct, const struct port_set *ports,
			 struct client_snapshot *snap)
{
	struct connpeak_client_overflow vals[CONNPEAK_OVERFLOW_PORTS];
	__u32 keys[CONNPEAK_OVERFLOW_PORTS];
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
		snap->overflow[snap->n_overflow].total = vals[i].total;
		snap->overflow[snap->n_overflow++].current = vals[i].current;
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
