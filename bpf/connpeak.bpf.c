// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "connpeak.h"

/*
 * A connection is open while its socket is ESTABLISHED or CLOSE_WAIT. The
 * tracepoint program counts the transitions into and out of that set, per
 * (direction, port). Most sockets carry no state of ours: direction and port
 * are worked out from the socket at open and again at close. Socket storage
 * is created only where that would not be exact: for sockets counted by the
 * start-up walk, for everything that opens or closes during that walk, and
 * for sockets whose direction the socket itself would misreport at close.
 */

#define CAS_TRIES	64

/* Network namespace inode to count in; 0 counts every namespace. */
const volatile __u32 filter_netns = 0;

/* Set by the loader while the start-up walk runs. */
__u32 ctl_seeding = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CONNPEAK_NR_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct connpeak_slot);
} slots SEC(".maps");

/* One bit per slot, set when the slot counts its first connection. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CONNPEAK_USED_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} used SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CONNPEAK_NR_STATS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct connpeak_sock);
} socks SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline struct connpeak_slot *slot_get(__u8 dir, __u16 port)
{
	__u32 idx = (__u32)dir * CONNPEAK_NR_PORTS + port;

	return bpf_map_lookup_elem(&slots, &idx);
}

static __always_inline void used_mark(__u8 dir, __u16 port)
{
	__u32 idx = ((__u32)dir * CONNPEAK_NR_PORTS + port) / 64;
	__u64 *w = bpf_map_lookup_elem(&used, &idx);

	if (w)
		__sync_fetch_and_or(w, 1ULL << (port % 64));
}

/* Add one open connection and raise the peak in the same compare-and-swap. */
static __always_inline void slot_open(__u8 dir, __u16 port)
{
	struct connpeak_slot *s = slot_get(dir, port);
	__u64 old, new;
	__u32 cur, peak;
	int i;

	if (!s)
		return;
	for (i = 0; i < CAS_TRIES; i++) {
		old = *(volatile __u64 *)&s->cur_peak;
		cur = CONNPEAK_CUR(old) + 1;
		peak = CONNPEAK_PEAK(old);
		new = CONNPEAK_WORD(cur, cur > peak ? cur : peak);
		if (__sync_val_compare_and_swap(&s->cur_peak, old, new) != old)
			continue;
		if (cur > peak)
			s->peak_ns = bpf_ktime_get_boot_ns();
		if (__sync_fetch_and_add(&s->total, 1) == 0)
			used_mark(dir, port);
		return;
	}
	stat_inc(CONNPEAK_STAT_CAS_GIVEUP);
}

/* Remove one open connection; a count is never taken below zero. */
static __always_inline void slot_close(__u8 dir, __u16 port)
{
	struct connpeak_slot *s = slot_get(dir, port);
	__u64 old;
	int i;

	if (!s)
		return;
	for (i = 0; i < CAS_TRIES; i++) {
		old = *(volatile __u64 *)&s->cur_peak;
		if (CONNPEAK_CUR(old) == 0) {
			stat_inc(CONNPEAK_STAT_UNMATCHED_CLOSE);
			return;
		}
		if (__sync_val_compare_and_swap(&s->cur_peak, old, old - 1) == old)
			return;
	}
	stat_inc(CONNPEAK_STAT_CAS_GIVEUP);
}

/*
 * What the socket itself says about its direction, readable at open and at
 * close alike: a child cloned from a listener inherits the listener's
 * backlog, a socket that connected out never listened. Sockets where this
 * disagrees with what was seen at open keep the truth in socket storage.
 */
static __always_inline __u8 guess_dir(const struct sock *sk)
{
	return sk->sk_max_ack_backlog ? CONNPEAK_DIR_IN : CONNPEAK_DIR_OUT;
}

/* skc_num is 0 at close for auto-bound and accepted sockets: use inet_sport. */
static __always_inline __u16 port_of(const struct sock *sk, __u8 dir)
{
	if (dir == CONNPEAK_DIR_IN)
		return bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	return bpf_ntohs(sk->__sk_common.skc_dport);
}

static __always_inline struct connpeak_sock *sock_state(const struct sock *sk, int create)
{
	struct connpeak_sock *st;

	if (!create)
		return bpf_sk_storage_get(&socks, (void *)sk, 0, 0);
	st = bpf_sk_storage_get(&socks, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	/* Creation can lose a race with another CPU creating it: look again. */
	if (!st)
		st = bpf_sk_storage_get(&socks, (void *)sk, 0, 0);
	if (!st)
		stat_inc(CONNPEAK_STAT_STORAGE_FAIL);
	return st;
}

#include "clients.bpf.h"

static __always_inline void on_open(const struct sock *sk, int oldstate)
{
	struct connpeak_sock *st = sock_state(sk, 0);
	__u8 dir, guess = guess_dir(sk);
	__u16 port;

	if (oldstate == TCP_SYN_SENT)
		dir = CONNPEAK_DIR_OUT;
	else if (oldstate == TCP_SYN_RECV)
		dir = st && (st->flags & CONNPEAK_SK_ACTIVE) ? CONNPEAK_DIR_OUT : CONNPEAK_DIR_IN;
	else
		dir = guess;	/* e.g. a socket restored with TCP_REPAIR */
	port = dir == CONNPEAK_DIR_IN ? sk->__sk_common.skc_num :
					bpf_ntohs(sk->__sk_common.skc_dport);

	if (!st && (dir != guess || ctl_seeding))
		st = sock_state(sk, 1);
	if (st) {
		st->dir = dir;
		st->port = port;
		if (__sync_lock_test_and_set(&st->state, CONNPEAK_SK_COUNTED) ==
		    CONNPEAK_SK_COUNTED)
			return;
		st->flags &= ~CONNPEAK_SK_NO_CLIENT;
	}
	slot_open(dir, port);
	if (client_on && dir == CONNPEAK_DIR_IN)
		client_open(sk, port, st);
}

static __always_inline void on_close(const struct sock *sk)
{
	struct connpeak_sock *st = sock_state(sk, 0);
	__u16 port;
	__u8 dir;

	/*
	 * While the start-up walk runs, a socket without storage that closes
	 * may be one the walk has not reached: mark it so the walk skips it.
	 */
	if (!st && ctl_seeding) {
		st = sock_state(sk, 1);
		if (!st)
			return;
	}
	if (st) {
		if (__sync_lock_test_and_set(&st->state, CONNPEAK_SK_CLOSED) !=
		    CONNPEAK_SK_COUNTED)
			return;
		slot_close(st->dir, st->port);
		if (!client_on || st->dir != CONNPEAK_DIR_IN)
			return;
		if (st->flags & CONNPEAK_SK_NO_CLIENT)
			client_overflow_close(st->port);
		else
			client_close(sk, st->port);
		return;
	}
	dir = guess_dir(sk);
	port = port_of(sk, dir);
	slot_close(dir, port);
	if (client_on && dir == CONNPEAK_DIR_IN)
		client_close(sk, port);
}

static __always_inline int is_open_state(int state)
{
	return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT;
}

static __always_inline int wanted(const struct sock *sk)
{
	if (sk->sk_protocol != IPPROTO_TCP || sk->sk_type != SOCK_STREAM)
		return 0;
	return !filter_netns || sk->__sk_common.skc_net.net->ns.inum == filter_netns;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state, const struct sock *sk, int oldstate, int newstate)
{
	int was_open = is_open_state(oldstate);

	/* Most transitions neither open nor close a connection. */
	if (was_open == is_open_state(newstate)) {
		if (oldstate != TCP_SYN_SENT || newstate != TCP_SYN_RECV)
			return 0;
		/* Simultaneous open or self-connect: remember it is ours. */
		if (wanted(sk)) {
			struct connpeak_sock *st = sock_state(sk, 1);

			if (st)
				st->flags |= CONNPEAK_SK_ACTIVE;
		}
		return 0;
	}
	if (!wanted(sk))
		return 0;
	if (was_open)
		on_close(sk);
	else
		on_open(sk, oldstate);
	return 0;
}

/* Start-up walk: count each connection that is already open, exactly once. */
SEC("iter/tcp")
int seed(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct connpeak_sock *st;
	struct tcp_sock *tp;
	struct sock *sk;
	__u8 dir;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;	/* timewait and request sockets */
	sk = &tp->inet_conn.icsk_inet.sk;
	if (!is_open_state(sk->__sk_common.skc_state) || !wanted(sk))
		return 0;
	st = sock_state(sk, 1);
	if (!st || st->state != CONNPEAK_SK_UNSEEN)
		return 0;
	dir = guess_dir(sk);
	st->dir = dir;
	st->port = port_of(sk, dir);
	if (__sync_val_compare_and_swap(&st->state, CONNPEAK_SK_UNSEEN, CONNPEAK_SK_COUNTED) !=
	    CONNPEAK_SK_UNSEEN)
		return 0;
	slot_open(dir, st->port);
	if (client_on && dir == CONNPEAK_DIR_IN)
		client_open(sk, st->port, st);
	stat_inc(CONNPEAK_STAT_SEEDED);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
