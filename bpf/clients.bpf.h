/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_CLIENTS_BPF_H
#define CONNPEAK_CLIENTS_BPF_H

/*
 * Per-client counts of inbound connections. Included by connpeak.bpf.c after
 * its helpers (stat_inc, CAS_TRIES, the socks storage map).
 *
 * One hash map, `clients`, holds an entry per client. An entry stays when the
 * client's last connection closes, so a client that comes and goes costs a
 * lookup and a compare-and-swap per open or close, never a map update. When
 * the map is full, a search evicts the least recently active entries without
 * open connections, a batch at a time. A connection whose client still finds
 * no room is counted per port in `client_overflow`, and its socket is marked
 * so that its close leaves the client table alone.
 *
 * No lock is needed because a socket's open and close both run under the
 * socket lock: while one connection's open or close is handled, the entry it
 * counts in holds at least that connection and cannot be evicted, and a close
 * finds the entry its open counted in. Only an entry with no connection can
 * be marked DEAD, and only the CPU that marked it deletes it.
 */

#include "connpeak_client.h"

/* Linux errno values; vmlinux.h has no macros. */
#define E2BIG		7
#define EAGAIN		11
#define EBUSY		16
#define EEXIST		17
#define ERANGE		34

/* Lookups of an entry another CPU is evicting, or inserts racing a search. */
#define CLIENT_TRIES	8
/* Age classes of idle entries in a search: two per power of two jiffies. */
#define AGE_BINS	64
/* A search that frees less than its batch waits this long before the next. */
#define SEARCH_BACKOFF_NS	(100 * 1000 * 1000ULL)

const volatile __u32 client_on = 0;
const volatile __u32 client_batch = 1;	/* idle entries one search evicts */
const volatile struct connpeak_client_cfg client_cfg = {};

/* Search state shared by all CPUs. */
__u32 client_searching = 0;	/* one search at a time */
__u32 client_none_idle = 0;	/* the last search found no idle entry; cleared by a close */
__u64 client_search_after = 0;	/* CLOCK_BOOTTIME before which no search starts */

/* Sized by the loader from --clients. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct connpeak_client_key);
	__type(value, struct connpeak_client);
} clients SEC(".maps");

/* Inbound connections attributed to no client, per local port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CONNPEAK_OVERFLOW_PORTS);
	__type(key, __u32);
	__type(value, __u64);
} client_overflow SEC(".maps");

static __always_inline void client_key(const struct sock *sk, __u16 port,
				       struct connpeak_client_key *k)
{
	struct connpeak_client_cfg cfg = client_cfg;
	int family = sk->__sk_common.skc_family;
	__be32 a[4] = {};

	if (family == CONNPEAK_AF_INET6) {
		a[0] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[0];
		a[1] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[1];
		a[2] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[2];
		a[3] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[3];
	} else {
		a[0] = sk->__sk_common.skc_daddr;
	}
	connpeak_client_key_make(k, family, a, port, &cfg);
}

static __always_inline int is_idle(__u64 state)
{
	return !(state & CONNPEAK_CL_DEAD) && !CONNPEAK_CL_CUR(state);
}

/* Two classes per power of two: 0, 1, 2, 3, 4-5, 6-7, 8-11, 12-15, ... */
static __always_inline __u32 age_bin(__u64 age)
{
	__u64 v = age;
	__u32 log = 0, bin;

	if (age < 4)
		return age;
	if (v >> 32) {
		v >>= 32;
		log += 32;
	}
	if (v >> 16) {
		v >>= 16;
		log += 16;
	}
	if (v >> 8) {
		v >>= 8;
		log += 8;
	}
	if (v >> 4) {
		v >>= 4;
		log += 4;
	}
	if (v >> 2) {
		v >>= 2;
		log += 2;
	}
	if (v >> 1)
		log += 1;
	bin = 2 * log + ((age >> (log - 1)) & 1);
	return bin < AGE_BINS ? bin : AGE_BINS - 1;
}

static __always_inline void client_stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		__sync_fetch_and_add(v, n);
}

/*
 * The state of a search lives in a map value, not on the stack: the verifier
 * follows stack values through every callback call and would never finish.
 * client_searching makes sure one search uses it at a time.
 */
struct client_search {
	__u64 now;			/* jiffies */
	__u32 hist[AGE_BINS];		/* idle entries per age class */
	__u32 cut;			/* evict every idle entry older than this class */
	__u32 cut_left;			/* and this many of the class itself */
	__u32 evicted;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct client_search);
} client_search SEC(".maps");

/* What the callbacks get: a stack slot holding the map value's address. */
struct search_ctx {
	struct client_search *s;
};

static long count_idle(struct bpf_map *map, struct connpeak_client_key *k,
		       struct connpeak_client *c, struct search_ctx *ctx)
{
	struct client_search *s = ctx->s;
	__u32 bin;

	if (!is_idle(c->state))
		return 0;
	bin = age_bin(s->now - c->last);
	if (bin < AGE_BINS)
		s->hist[bin]++;
	return 0;
}

static long evict_idle(struct bpf_map *map, struct connpeak_client_key *k,
		       struct connpeak_client *c, struct search_ctx *ctx)
{
	__u64 state = *(volatile __u64 *)&c->state;
	struct client_search *s = ctx->s;
	__u32 bin;

	if (!is_idle(state))
		return 0;
	bin = age_bin(s->now - c->last);
	if (bin < s->cut || (bin == s->cut && !s->cut_left))
		return 0;
	if (bin == s->cut)
		s->cut_left--;
	if (__sync_val_compare_and_swap(&c->state, state, state | CONNPEAK_CL_DEAD) != state)
		return 0;
	bpf_map_delete_elem(&clients, k);
	s->evicted++;
	return s->evicted >= client_batch;
}

/* Choose the age class to cut at so that client_batch entries go, oldest first. */
static __always_inline void search_cut(struct client_search *s)
{
	__u32 acc = 0, n;
	int i;

	s->cut = 0;
	s->cut_left = s->hist[0];
	for (i = AGE_BINS - 1; i >= 0; i--) {
		n = s->hist[i & (AGE_BINS - 1)];
		if (acc + n >= client_batch) {
			s->cut = i;
			s->cut_left = client_batch - acc;
			return;
		}
		acc += n;
	}
}

/*
 * The table is full: evict the least recently active entries that hold no
 * connection. Returns how many went. Searches visit the whole table, so they
 * are kept rare: each frees a batch, none runs while another does, after a
 * search that found nothing the next waits for a client's last close, and
 * after one that found less than a batch it waits SEARCH_BACKOFF_NS.
 */
__noinline int client_make_room(void)
{
	__u64 now_ns = bpf_ktime_get_boot_ns();
	struct search_ctx ctx;
	__u32 zero = 0, evicted;
	int i;

	if (client_none_idle || now_ns < client_search_after)
		return 0;
	ctx.s = bpf_map_lookup_elem(&client_search, &zero);
	if (!ctx.s || __sync_val_compare_and_swap(&client_searching, 0, 1))
		return 0;
	/* Set first: a close during the search clears it, and is not missed. */
	client_none_idle = 1;
	ctx.s->now = bpf_jiffies64();
	ctx.s->evicted = 0;
	for (i = 0; i < AGE_BINS; i++)
		ctx.s->hist[i] = 0;
	bpf_for_each_map_elem(&clients, count_idle, &ctx, 0);
	search_cut(ctx.s);
	bpf_for_each_map_elem(&clients, evict_idle, &ctx, 0);
	evicted = ctx.s->evicted;
	if (evicted)
		client_none_idle = 0;
	if (evicted && evicted < client_batch)
		client_search_after = now_ns + SEARCH_BACKOFF_NS;
	client_stat_add(CONNPEAK_STAT_CLIENT_EVICTED, evicted);
	stat_inc(CONNPEAK_STAT_CLIENT_SCANS);
	__sync_lock_test_and_set(&client_searching, 0);
	return evicted;
}

/*
 * Add one connection to an entry found by lookup. -EAGAIN when the entry is
 * being evicted, or was freed and reused for another key after the lookup
 * (its fingerprint differs): look it up again.
 */
static __always_inline int client_inc(struct connpeak_client *c, __u32 fp)
{
	__u64 old, new;
	__u32 cur, peak;
	int i;

	for (i = 0; i < CAS_TRIES; i++) {
		old = *(volatile __u64 *)&c->state;
		if ((old & CONNPEAK_CL_DEAD) || CONNPEAK_CL_FP(old) != fp)
			return -EAGAIN;
		cur = CONNPEAK_CL_CUR(old) + 1;
		if (cur > CONNPEAK_CL_MAX)
			return -ERANGE;
		peak = CONNPEAK_CL_PEAK(old);
		new = CONNPEAK_CL_STATE(fp, cur > peak ? cur : peak, cur);
		if (__sync_val_compare_and_swap(&c->state, old, new) != old)
			continue;
		if (cur > peak)
			c->peak_ns = bpf_ktime_get_boot_ns();
		__sync_fetch_and_add(&c->total, 1);
		return 0;
	}
	stat_inc(CONNPEAK_STAT_CAS_GIVEUP);
	return -EBUSY;
}

static __always_inline int client_create(const struct connpeak_client_key *k, __u32 fp)
{
	struct connpeak_client v = {
		.state = CONNPEAK_CL_STATE(fp, 1, 1),
		.total = 1,
		.peak_ns = bpf_ktime_get_boot_ns(),
		.last = bpf_jiffies64(),
	};
	int err = bpf_map_update_elem(&clients, k, &v, BPF_NOEXIST);

	if (err == -E2BIG && client_make_room())
		err = bpf_map_update_elem(&clients, k, &v, BPF_NOEXIST);
	return err;
}

static __always_inline void overflow_inc(__u16 port)
{
	__u32 key = port;
	__u64 one = 1, *n;

	stat_inc(CONNPEAK_STAT_CLIENT_OVERFLOW);
	n = bpf_map_lookup_elem(&client_overflow, &key);
	if (!n && !bpf_map_update_elem(&client_overflow, &key, &one, BPF_NOEXIST))
		return;
	if (!n)
		n = bpf_map_lookup_elem(&client_overflow, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		stat_inc(CONNPEAK_STAT_CLIENT_OVERFLOW_UNKEYED);
}

/*
 * Count a connection that has no client entry, and mark its socket so that
 * its close does not subtract from an entry the client may have by then.
 * Only this rare path pays for socket storage.
 */
static __always_inline void client_unattributed(const struct sock *sk, __u16 port,
						struct connpeak_sock *st)
{
	overflow_inc(port);
	if (!st) {
		st = bpf_sk_storage_get(&socks, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!st) {
			stat_inc(CONNPEAK_STAT_CLIENT_UNMARKED);
			return;
		}
		/* The port slot counted it: its close must now go through st. */
		st->dir = CONNPEAK_DIR_IN;
		st->port = port;
		st->state = CONNPEAK_SK_COUNTED;
	}
	st->flags |= CONNPEAK_SK_NO_CLIENT;
}

/* An inbound connection to port opened; it is counted in the port slot already. */
static __always_inline void client_open(const struct sock *sk, __u16 port,
					struct connpeak_sock *st)
{
	struct connpeak_client_key k;
	struct connpeak_client *c;
	int i, err = -EBUSY;
	__u32 fp;

	client_key(sk, port, &k);
	fp = connpeak_client_fp(&k);
	for (i = 0; i < CLIENT_TRIES; i++) {
		c = bpf_map_lookup_elem(&clients, &k);
		err = c ? client_inc(c, fp) : client_create(&k, fp);
		if (err != -EAGAIN && err != -EEXIST)
			break;
	}
	if (err)
		client_unattributed(sk, port, st);
}

/* An inbound connection that was counted in a client entry closed. */
static __always_inline void client_close(const struct sock *sk, __u16 port)
{
	struct connpeak_client_key k;
	struct connpeak_client *c;
	__u64 old;
	__u32 fp;
	int i;

	client_key(sk, port, &k);
	fp = connpeak_client_fp(&k);
	c = bpf_map_lookup_elem(&clients, &k);
	if (!c) {
		stat_inc(CONNPEAK_STAT_CLIENT_UNMATCHED);
		return;
	}
	for (i = 0; i < CAS_TRIES; i++) {
		old = *(volatile __u64 *)&c->state;
		if ((old & CONNPEAK_CL_DEAD) || CONNPEAK_CL_FP(old) != fp ||
		    !CONNPEAK_CL_CUR(old)) {
			stat_inc(CONNPEAK_STAT_CLIENT_UNMATCHED);
			return;
		}
		if (__sync_val_compare_and_swap(&c->state, old, old - 1) != old)
			continue;
		c->last = bpf_jiffies64();
		if (CONNPEAK_CL_CUR(old) == 1 && client_none_idle)
			client_none_idle = 0;
		return;
	}
	stat_inc(CONNPEAK_STAT_CAS_GIVEUP);
}

#endif /* CONNPEAK_CLIENTS_BPF_H */
