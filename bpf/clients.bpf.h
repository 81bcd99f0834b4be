/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_CLIENTS_BPF_H
#define CONNPEAK_CLIENTS_BPF_H

/*
 * Per-client counts of inbound connections. Included by connpeak.bpf.c after
 * its helpers (stat_inc, CAS_TRIES, the socks storage map).
 *
 * The clients live in `clients`, an array of slots used as a hash table with
 * open addressing (see struct connpeak_client). A map update costs more than
 * the rest of the program, so the table avoids them: finding a client is a
 * few array reads, counting it a compare-and-swap, and an entry stays when
 * its client's last connection closes. When the table holds its capacity of
 * entries, a new client takes the place of the least recently idle of the
 * next CLIENT_SAMPLE slots after a moving hand, so making room costs the same
 * at any size. A connection whose client finds no room is counted per port in
 * `client_overflow`, and its socket is marked so that its close leaves the
 * table alone.
 *
 * No lock guards the counts. A socket's open and close both run under the
 * socket lock, so while one connection's open or close is handled, the entry
 * it counts in holds at least that connection and is not evicted, and a close
 * finds the entry its open counted in. Only an entry without connections is
 * evicted, by a compare-and-swap of its state. Inserts take one of
 * CLIENT_LOCKS locks, picked by the key's home slot, so that one key never
 * gets two entries.
 */

#include "connpeak_client.h"

/* Linux errno values; vmlinux.h has no macros. */
#define ENOENT		2
#define E2BIG		7
#define EAGAIN		11
#define EBUSY		16
#define EEXIST		17
#define EINVAL		22
#define ERANGE		34

/* Attempts to find or insert a key that others are changing. */
#define CLIENT_TRIES	4
/* Locks for inserts, by home slot. */
#define CLIENT_LOCKS	1024
/* Slots looked at to choose an idle entry to evict. */
#define CLIENT_SAMPLE	64

const volatile __u32 client_on = 0;
const volatile __u32 client_capacity = 0;	/* entries */
const volatile __u32 client_slots = 1;		/* entries of the array */
const volatile struct connpeak_client_cfg client_cfg = {};

/* Sized by the loader from --clients. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct connpeak_client);
} clients SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CLIENT_LOCKS);
	__type(key, __u32);
	__type(value, __u32);
} client_locks SEC(".maps");

/* Inbound connections attributed to no client, per local port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CONNPEAK_OVERFLOW_PORTS);
	__type(key, __u32);
	__type(value, struct connpeak_client_overflow);
} client_overflow SEC(".maps");

static __always_inline __u64 *stat_ptr(__u32 idx)
{
	return bpf_map_lookup_elem(&stats, &idx);
}

static __always_inline struct connpeak_client *slot_at(__u32 idx)
{
	return bpf_map_lookup_elem(&clients, &idx);
}

static __always_inline __u32 slot_next(__u32 idx)
{
	return idx + 1 < client_slots ? idx + 1 : 0;
}

static __always_inline int key_equal(const struct connpeak_client_key *a,
				     const struct connpeak_client_key *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

/*
 * The searches below walk up to CONNPEAK_CL_PROBES slots with bpf_loop(), so
 * the verifier checks one step instead of every step of an unrolled walk
 * (seconds of loading, at 32 steps in three programs).
 */
struct probe_ctx {
	struct connpeak_client_key key;
	__u32 fp;
	__u32 idx;	/* the slot looked at; the answer when found */
	int found;
};

/* One step of client_find(): 1 ends the walk. */
static long find_step(__u64 i, struct probe_ctx *ctx)
{
	struct connpeak_client *c = slot_at(ctx->idx);
	__u64 s;

	if (!c)
		return 1;
	s = *(volatile __u64 *)&c->state;
	if (!s)
		return 1;
	/* The key was written before the state that made the slot in use. */
	barrier();
	if (CONNPEAK_CL_IN_USE(s) && CONNPEAK_CL_FP(s) == ctx->fp &&
	    key_equal(&c->key, &ctx->key)) {
		ctx->found = 1;
		return 1;
	}
	ctx->idx = slot_next(ctx->idx);
	return 0;
}

/*
 * The slot holding key k, or NULL. A slot never used ends the search: slots
 * never become unused again, and a key takes the first free slot from home.
 */
static __always_inline struct connpeak_client *client_find(const struct connpeak_client_key *k,
							   __u32 fp, __u32 home)
{
	struct probe_ctx ctx = { .key = *k, .fp = fp, .idx = home };

	bpf_loop(CONNPEAK_CL_PROBES, find_step, &ctx, 0);
	return ctx.found ? slot_at(ctx.idx) : NULL;
}

/*
 * Add one connection to an entry found by client_find(). -EAGAIN when the
 * slot was freed, and maybe reused for another key, since.
 */
static __always_inline int client_inc(struct connpeak_client *c, __u32 fp)
{
	__u64 old, new;
	__u32 cur, peak;
	int i;

	for (i = 0; i < CAS_TRIES; i++) {
		old = *(volatile __u64 *)&c->state;
		if (!CONNPEAK_CL_IN_USE(old) || CONNPEAK_CL_FP(old) != fp)
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

/*
 * The choice of an entry to evict, kept in a map value rather than on the
 * stack: the verifier follows stack values through every turn of the loop
 * and would never finish.
 */
struct client_pick {
	__u32 now;		/* jiffies, low 32 bits */
	__u32 idx;		/* next slot to look at */
	__u32 best;		/* slot of the entry idle longest so far */
	__u32 best_age;
	__u64 best_state;	/* its state when seen; 0 while none */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct client_pick);
} client_picks SEC(".maps");

struct pick_ctx {
	struct client_pick *p;
};

static long pick_step(__u64 i, struct pick_ctx *ctx)
{
	struct client_pick *p = ctx->p;
	struct connpeak_client *c = slot_at(p->idx);
	__u32 age;
	__u64 s;

	if (c) {
		s = *(volatile __u64 *)&c->state;
		age = p->now - c->last;
		if (CONNPEAK_CL_IN_USE(s) && !CONNPEAK_CL_CUR(s) &&
		    (!p->best_state || age > p->best_age)) {
			p->best = p->idx;
			p->best_age = age;
			p->best_state = s;
		}
	}
	p->idx = slot_next(p->idx);
	return 0;
}

/*
 * Evict one entry without connections: of the idle entries among the
 * CLIENT_SAMPLE slots after the hand, the one idle longest. Returns 1 if one
 * went. A function of its own so that the verifier checks it once.
 */
__noinline int client_evict(void)
{
	__u64 *hand = stat_ptr(CONNPEAK_STAT_CLIENT_HAND);
	__u64 *count = stat_ptr(CONNPEAK_STAT_CLIENT_COUNT);
	struct connpeak_client *c;
	struct pick_ctx ctx;
	__u32 zero = 0;

	ctx.p = bpf_map_lookup_elem(&client_picks, &zero);
	if (!hand || !count || !ctx.p)
		return 0;
	ctx.p->now = bpf_jiffies64();
	ctx.p->idx = __sync_fetch_and_add(hand, CLIENT_SAMPLE) % client_slots;
	ctx.p->best_state = 0;
	bpf_loop(CLIENT_SAMPLE, pick_step, &ctx, 0);
	if (!ctx.p->best_state)
		return 0;
	c = slot_at(ctx.p->best);
	if (!c || __sync_val_compare_and_swap(&c->state, ctx.p->best_state, CONNPEAK_CL_TOMB) !=
		  ctx.p->best_state)
		return 0;
	__sync_fetch_and_add(count, -1);
	stat_inc(CONNPEAK_STAT_CLIENT_EVICTED);
	return 1;
}

/* Take one entry of the capacity, evicting an idle one if all are taken. */
static __always_inline int client_reserve(void)
{
	__u64 *count = stat_ptr(CONNPEAK_STAT_CLIENT_COUNT), old;
	int i;

	if (!count)
		return -EINVAL;
	for (i = 0; i < CLIENT_TRIES; i++) {
		old = *(volatile __u64 *)count;
		if (old >= client_capacity) {
			if (!client_evict())
				return -E2BIG;
			continue;
		}
		if (__sync_val_compare_and_swap(count, old, old + 1) == old)
			return 0;
	}
	return -EBUSY;
}

/* One step of client_claim(): take the slot if it is free. */
static long claim_step(__u64 i, struct probe_ctx *ctx)
{
	struct connpeak_client *c = slot_at(ctx->idx);
	__u64 s;

	if (c) {
		s = *(volatile __u64 *)&c->state;
		if ((!s || s == CONNPEAK_CL_TOMB) &&
		    __sync_val_compare_and_swap(&c->state, s, CONNPEAK_CL_BUSY) == s) {
			ctx->found = 1;
			return 1;
		}
	}
	ctx->idx = slot_next(ctx->idx);
	return 0;
}

/* The first free slot from home, now ours (BUSY), or NULL. */
static __always_inline struct connpeak_client *client_claim(__u32 home)
{
	struct probe_ctx ctx = { .idx = home };

	bpf_loop(CONNPEAK_CL_PROBES, claim_step, &ctx, 0);
	return ctx.found ? slot_at(ctx.idx) : NULL;
}

/* A new entry for k, holding one connection. -EEXIST if another CPU made it. */
static __always_inline int client_insert(const struct connpeak_client_key *k, __u32 fp,
					 __u32 home)
{
	__u32 lock_idx = home & (CLIENT_LOCKS - 1), *lock;
	struct connpeak_client *c;
	__u64 *count;
	int err;

	lock = bpf_map_lookup_elem(&client_locks, &lock_idx);
	if (!lock || __sync_val_compare_and_swap(lock, 0, 1))
		return -EBUSY;
	err = -EEXIST;
	if (client_find(k, fp, home))
		goto out_unlock;
	err = client_reserve();
	if (err)
		goto out_unlock;
	c = client_claim(home);
	if (!c) {
		/* Rare: every slot the key may use holds another client. */
		count = stat_ptr(CONNPEAK_STAT_CLIENT_COUNT);
		if (count)
			__sync_fetch_and_add(count, -1);
		err = -E2BIG;
		goto out_unlock;
	}
	c->key = *k;
	c->total = 1;
	c->peak_ns = bpf_ktime_get_boot_ns();
	c->last = bpf_jiffies64();
	/* Publish: the exchange orders the writes above before it. */
	__sync_lock_test_and_set(&c->state, CONNPEAK_CL_STATE(fp, 1, 1));
	err = 0;
out_unlock:
	__sync_lock_test_and_set(lock, 0);
	return err;
}

/* Count one more connection of client k. 0, or why it could not be. */
__noinline int client_join(const struct connpeak_client_key *k)
{
	struct connpeak_client *c;
	__u32 fp, home;
	int i, err = -EBUSY;
	__u64 hash;

	if (!k)
		return -EINVAL;
	hash = connpeak_client_hash(k);
	fp = connpeak_client_fp(hash);
	home = connpeak_client_home(hash, client_slots);
	for (i = 0; i < CLIENT_TRIES; i++) {
		c = client_find(k, fp, home);
		err = c ? client_inc(c, fp) : client_insert(k, fp, home);
		if (err != -EAGAIN && err != -EEXIST && err != -EBUSY)
			break;
	}
	return err;
}

/* Count one connection of client k less. */
__noinline int client_leave(const struct connpeak_client_key *k)
{
	struct connpeak_client *c;
	__u32 fp, home;
	__u64 hash, old;
	int i;

	if (!k)
		return -EINVAL;
	hash = connpeak_client_hash(k);
	fp = connpeak_client_fp(hash);
	home = connpeak_client_home(hash, client_slots);
	c = client_find(k, fp, home);
	for (i = 0; c && i < CAS_TRIES; i++) {
		old = *(volatile __u64 *)&c->state;
		if (!CONNPEAK_CL_IN_USE(old) || CONNPEAK_CL_FP(old) != fp || !CONNPEAK_CL_CUR(old))
			break;
		/* Before it is idle, so that it is never idle with an old time. */
		if (CONNPEAK_CL_CUR(old) == 1)
			c->last = bpf_jiffies64();
		if (__sync_val_compare_and_swap(&c->state, old, old - 1) == old)
			return 0;
	}
	stat_inc(c && i == CAS_TRIES ? CONNPEAK_STAT_CAS_GIVEUP : CONNPEAK_STAT_CLIENT_UNMATCHED);
	return -ENOENT;
}

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

static __always_inline void overflow_inc(__u16 port)
{
	struct connpeak_client_overflow one = { 1, 1 }, *n;
	__u32 key = port;

	stat_inc(CONNPEAK_STAT_CLIENT_OVERFLOW);
	n = bpf_map_lookup_elem(&client_overflow, &key);
	if (!n && !bpf_map_update_elem(&client_overflow, &key, &one, BPF_NOEXIST))
		return;
	if (!n)
		n = bpf_map_lookup_elem(&client_overflow, &key);
	if (!n) {
		stat_inc(CONNPEAK_STAT_CLIENT_OVERFLOW_UNKEYED);
		return;
	}
	__sync_fetch_and_add(&n->total, 1);
	__sync_fetch_and_add(&n->current, 1);
}

/* An unattributed connection to port closed. */
static __always_inline void client_overflow_close(__u16 port)
{
	struct connpeak_client_overflow *n;
	__u32 key = port;

	n = bpf_map_lookup_elem(&client_overflow, &key);
	if (n)
		__sync_fetch_and_add(&n->current, -1);
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

	client_key(sk, port, &k);
	if (client_join(&k))
		client_unattributed(sk, port, st);
}

/* An inbound connection that was counted in a client entry closed. */
static __always_inline void client_close(const struct sock *sk, __u16 port)
{
	struct connpeak_client_key k;

	client_key(sk, port, &k);
	client_leave(&k);
}

#endif /* CONNPEAK_CLIENTS_BPF_H */
