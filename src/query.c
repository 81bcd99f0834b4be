// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "tracker.h"

static __u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Convert a CLOCK_BOOTTIME stamp from the kernel to wall-clock seconds. */
static time_t boot_to_wall(__u64 boot_ns, __u64 now_boot, __u64 now_real)
{
	return (time_t)((now_real - (now_boot - boot_ns)) / 1000000000ULL);
}

static bool slot_wanted(unsigned int idx, const struct port_set *ports, unsigned int dirs)
{
	unsigned int dir = idx / CONNPEAK_NR_PORTS, port = idx % CONNPEAK_NR_PORTS;

	if (!(dirs & (1u << dir)))
		return false;
	return !ports || !ports->count || port_set__has(ports, port);
}

/*
 * Call fn for each slot that has counted something and matches the filter.
 * Only the bitmap of used slots is scanned, never the connections.
 */
static long each_slot(const struct tracker *t, const struct port_set *ports, unsigned int dirs,
		      void (*fn)(const struct tracker *, unsigned int, void *), void *arg)
{
	unsigned int w, idx;
	long n = 0;
	__u64 bits;

	for (w = 0; w < CONNPEAK_USED_WORDS; w++) {
		bits = __atomic_load_n(&t->used[w], __ATOMIC_RELAXED);
		while (bits) {
			idx = w * 64 + __builtin_ctzll(bits);
			bits &= bits - 1;
			if (!slot_wanted(idx, ports, dirs))
				continue;
			fn(t, idx, arg);
			n++;
		}
	}
	return n;
}

struct rows_ctx {
	struct port_row *rows;
	size_t n, cap;
	__u64 now_boot, now_real;
	int err;
};

static void add_row(const struct tracker *t, unsigned int idx, void *arg)
{
	const struct connpeak_slot *s = &t->slots[idx];
	struct rows_ctx *c = arg;
	struct port_row *grown, *r;
	__u64 word;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		grown = realloc(c->rows, c->cap * sizeof(*grown));
		if (!grown) {
			c->err = -ENOMEM;
			return;
		}
		c->rows = grown;
	}
	word = __atomic_load_n(&s->cur_peak, __ATOMIC_RELAXED);
	r = &c->rows[c->n++];
	r->dir = idx / CONNPEAK_NR_PORTS;
	r->port = idx % CONNPEAK_NR_PORTS;
	r->current = CONNPEAK_CUR(word);
	r->peak = CONNPEAK_PEAK(word);
	r->total = __atomic_load_n(&s->total, __ATOMIC_RELAXED);
	r->peak_at = boot_to_wall(__atomic_load_n(&s->peak_ns, __ATOMIC_RELAXED),
				  c->now_boot, c->now_real);
}

int tracker__rows(const struct tracker *t, const struct port_set *ports, unsigned int dirs,
		  struct port_row **rows, size_t *n)
{
	struct rows_ctx c = {
		.now_boot = clock_ns(CLOCK_BOOTTIME),
		.now_real = clock_ns(CLOCK_REALTIME),
	};

	each_slot(t, ports, dirs, add_row, &c);
	if (c.err) {
		free(c.rows);
		return c.err;
	}
	*rows = c.rows;
	*n = c.n;
	return 0;
}

/* One compare-and-swap on the packed word, so no racing open is lost. */
static void reset_slot(const struct tracker *t, unsigned int idx, void *arg)
{
	struct connpeak_slot *s = &t->slots[idx];
	__u64 old = __atomic_load_n(&s->cur_peak, __ATOMIC_RELAXED), new;

	do {
		new = CONNPEAK_WORD(CONNPEAK_CUR(old), CONNPEAK_CUR(old));
	} while (!__atomic_compare_exchange_n(&s->cur_peak, &old, new, false,
					      __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
	__atomic_store_n(&s->peak_ns, *(__u64 *)arg, __ATOMIC_RELAXED);
}

long tracker__reset(struct tracker *t, const struct port_set *ports, unsigned int dirs)
{
	__u64 now = clock_ns(CLOCK_BOOTTIME);

	return each_slot(t, ports, dirs, reset_slot, &now);
}

void tracker__report_health(const struct tracker *t)
{
	__u64 unmatched = t->stats[CONNPEAK_STAT_UNMATCHED_CLOSE];
	__u64 nomem = t->stats[CONNPEAK_STAT_STORAGE_FAIL];
	__u64 giveup = t->stats[CONNPEAK_STAT_CAS_GIVEUP];

	if (unmatched)
		fprintf(stderr, "connpeak: warning: %llu closes of connections that were never "
			"counted were ignored\n", (unsigned long long)unmatched);
	if (nomem)
		fprintf(stderr, "connpeak: warning: %llu socket storage allocations failed: "
			"counts may be off by as many\n", (unsigned long long)nomem);
	if (giveup)
		fprintf(stderr, "connpeak: warning: %llu updates lost to contention\n",
			(unsigned long long)giveup);
}
