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

#define CAS_TRIES	16

/* Network namespace inode to count in; 0 counts every namespace. */
const volatile __u32 filter_netns = 0;

/* History: bucket length, ring length, and port -> history index + 1. */
const volatile __u64 hist_bucket_ns = 300000000000ULL;
const volatile __u32 hist_nbuckets = 1;
const volatile __u16 hist_index[CONNPEAK_NR_PORTS] = {};

/* Ports with a listener at start, one bit each, for the start-up walk. */
const volatile __u64 seed_listening[CONNPEAK_NR_PORTS / 64] = {};

/* Alerts: port -> index + 1 into alerts, written by the daemon. */
__u16 alert_index[CONNPEAK_NR_PORTS] SEC(".data.alerts");

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

struct hist_lock {
	struct bpf_spin_lock lock;
	__u32 bucket;		/* newest bucket a change was recorded in */
};

/* Sized by the loader: one lock per history port, nbuckets records per port. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist_lock);
} hist_locks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct connpeak_hist_rec);
} hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct connpeak_hist_conf);
} hist_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CONNPEAK_MAX_ALERT_PORTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct connpeak_alert);
} alerts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CONNPEAK_EVENTS_RINGBUF);
} events SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline struct connpeak_slot *slot_get(__u8 dir, __u32 port)
{
	__u32 idx = (__u32)dir * CONNPEAK_NR_PORTS + port;

	return bpf_map_lookup_elem(&slots, &idx);
}

static __always_inline void used_mark(__u8 dir, __u32 port)
{
	__u32 idx = ((__u32)dir * CONNPEAK_NR_PORTS + port) / 64;
	__u64 *w = bpf_map_lookup_elem(&used, &idx);

	if (w)
		__sync_fetch_and_or(w, 1ULL << (port % 64));
}

/* Apply +1 or -1 to the packed word; 0 if the count was already 0. */
static __always_inline int word_step(__u64 old, int opening, __u64 *new)
{
	__u32 cur = CONNPEAK_CUR(old), peak = CONNPEAK_PEAK(old);

	if (!opening) {
		if (!cur)
			return 0;
		*new = old - 1;
		return 1;
	}
	cur++;
	*new = CONNPEAK_WORD(cur, cur > peak ? cur : peak);
	return 1;
}

/*
 * A change on a history port: the count and the bucket record change under
 * the port's lock, so the record sees the changes in the order they happened.
 * Returns 1 if the count moved, 0 if a close found it at 0, -1 on failure.
 */
static __always_inline int hist_step(struct connpeak_slot *s, __u32 hidx, int opening,
				     __u64 *oldw, __u64 *neww, __u32 *rolled)
{
	__u32 b = bpf_ktime_get_boot_ns() / hist_bucket_ns, key, cur_old, cur_new;
	struct connpeak_hist_rec *rec;
	struct hist_lock *hl;
	__u64 old, new;
	int tries, moved;

	hl = bpf_map_lookup_elem(&hist_locks, &hidx);
	if (!hl)
		return -1;
	for (tries = 0; tries < 2; tries++) {
		key = hidx * hist_nbuckets + b % hist_nbuckets;
		rec = bpf_map_lookup_elem(&hist, &key);
		if (!rec)
			return -1;
		bpf_spin_lock(&hl->lock);
		if (hl->bucket > b) {
			/* Another CPU already recorded a later bucket: join it. */
			b = hl->bucket;
			bpf_spin_unlock(&hl->lock);
			continue;
		}
		old = *(volatile __u64 *)&s->cur_peak;
		moved = word_step(old, opening, &new);
		/* Only a reset from userspace races here, and it keeps the count. */
		if (moved && __sync_val_compare_and_swap(&s->cur_peak, old, new) != old) {
			old = *(volatile __u64 *)&s->cur_peak;
			moved = word_step(old, opening, &new);
			if (moved && __sync_val_compare_and_swap(&s->cur_peak, old, new) != old)
				moved = -1;
		}
		if (moved == 1) {
			cur_old = CONNPEAK_CUR(old);
			cur_new = CONNPEAK_CUR(new);
			if (hl->bucket != b)
				*rolled = b;
			hl->bucket = b;
			if (rec->bucket != b) {
				rec->start = cur_old;
				rec->peak = cur_old > cur_new ? cur_old : cur_new;
				/* An exchange orders the stores before it, on every arch. */
				__sync_lock_test_and_set(&rec->bucket, b);
			} else if (cur_new > rec->peak) {
				rec->peak = cur_new;
			}
		}
		bpf_spin_unlock(&hl->lock);
		*oldw = old;
		*neww = new;
		return moved;
	}
	return -1;
}

/* +1 or -1 on the packed word of a port without history. */
static __always_inline int cas_step(struct connpeak_slot *s, int opening, __u64 *oldw,
				    __u64 *neww)
{
	__u64 old, new;
	int i;

	for (i = 0; i < CAS_TRIES; i++) {
		old = *(volatile __u64 *)&s->cur_peak;
		if (!word_step(old, opening, &new))
			return 0;
		if (__sync_val_compare_and_swap(&s->cur_peak, old, new) == old) {
			*oldw = old;
			*neww = new;
			return 1;
		}
	}
	return -1;
}

static __always_inline __u32 next_level(__u32 lvl, __u32 cur, const struct connpeak_alert *a)
{
	if (cur >= a->limit)
		return CONNPEAK_LEVEL_LIMIT;
	if (lvl == CONNPEAK_LEVEL_OK && cur >= a->warn)
		return CONNPEAK_LEVEL_WARN;
	if (lvl == CONNPEAK_LEVEL_LIMIT && cur + a->hyst < a->limit)
		return cur >= a->warn ? CONNPEAK_LEVEL_WARN : CONNPEAK_LEVEL_OK;
	if (lvl == CONNPEAK_LEVEL_WARN && cur + a->hyst < a->warn)
		return CONNPEAK_LEVEL_OK;
	return lvl;
}

/*
 * At most CONNPEAK_EVENTS_PER_SEC events of a kind (level changes in the low
 * 16 bits, new peaks in the next 16) per port and second.
 */
static __always_inline int rate_ok(struct connpeak_alert *a, __u64 now, int shift)
{
	__u64 sec = now / 1000000000ULL, old, new;
	int i;

	for (i = 0; i < CAS_TRIES; i++) {
		old = *(volatile __u64 *)&a->window;
		if (old >> 32 != sec)
			new = sec << 32 | 1ULL << shift;
		else if (((old >> shift) & 0xffff) >= CONNPEAK_EVENTS_PER_SEC)
			return 0;
		else
			new = old + (1ULL << shift);
		if (__sync_val_compare_and_swap(&a->window, old, new) == old)
			return 1;
	}
	return 0;
}

static __always_inline void send_event(struct connpeak_alert *a, __u16 port, __u8 kind,
				       __u32 level, __u32 count, __u32 bucket, __u64 now)
{
	struct connpeak_event *e;

	if (a && !rate_ok(a, now, kind == CONNPEAK_EV_PEAK ? 16 : 0)) {
		__sync_fetch_and_add(&a->suppressed, 1);
		return;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (a)
			__sync_fetch_and_add(&a->suppressed, 1);
		else
			stat_inc(CONNPEAK_STAT_EVENTS_LOST);
		return;
	}
	e->time_ns = now;
	e->port = port;
	e->kind = kind;
	e->level = level;
	e->count = count;
	e->bucket = kind == CONNPEAK_EV_LEVEL ? 0 : bucket;
	e->old_level = kind == CONNPEAK_EV_LEVEL ? bucket : 0;
	e->limit = a ? a->limit : 0;
	e->warn = a ? a->warn : 0;
	e->suppressed = a ? a->suppressed : 0;
	bpf_ringbuf_submit(e, 0);
	if (a)
		__sync_fetch_and_add(&a->sent, 1);
}

/* A level crossed, up or back down, and a new peak, on a port with a limit. */
static __always_inline void alert_check(__u32 port, __u32 cur, int new_peak)
{
	__u32 idx = alert_index[port], lvl, next;
	struct connpeak_alert *a;
	__u64 now;

	if (!idx--)
		return;
	a = bpf_map_lookup_elem(&alerts, &idx);
	if (!a || !a->limit)
		return;
	lvl = *(volatile __u32 *)&a->level;
	next = next_level(lvl, cur, a);
	if (next == lvl && !new_peak)
		return;
	now = bpf_ktime_get_boot_ns();
	if (next != lvl && __sync_val_compare_and_swap(&a->level, lvl, next) == lvl)
		send_event(a, port, CONNPEAK_EV_LEVEL, next, cur, lvl, now);
	if (new_peak)
		send_event(a, port, CONNPEAK_EV_PEAK, next, cur, 0, now);
}

/*
 * A port as an index the verifier can bound. Before Linux 7.0 it forgets the
 * range of a byte-swapped value, so a port from bpf_ntohs() indexes an array
 * "unbounded" there; the mask, kept out of the compiler's reach, restores it.
 */
static __always_inline __u32 port_bound(__u16 port)
{
	__u32 p = port;

	asm volatile("" : "+r"(p));
	return p & 0xffff;
}

/*
 * Count one connection opening (or closing) on (dir, port). The current
 * count and the peak change in one compare-and-swap, so no peak can slip
 * between two reads; a count never goes below zero.
 */
static __always_inline void count_change(__u8 dir, __u16 port16, int opening)
{
	__u32 port = port_bound(port16);
	struct connpeak_slot *s = slot_get(dir, port);
	__u16 hidx = dir == CONNPEAK_DIR_IN ? hist_index[port] : 0;
	__u64 old = 0, new = 0;
	__u32 rolled = 0;
	int moved, raised;

	if (!s)
		return;
	/*
	 * History begins once the walk has counted what was open: a bucket
	 * recorded while it ran would miss the connections not reached yet.
	 */
	if (hidx && !ctl_seeding)
		moved = hist_step(s, hidx - 1, opening, &old, &new, &rolled);
	else
		moved = cas_step(s, opening, &old, &new);
	if (moved < 0) {
		stat_inc(CONNPEAK_STAT_CAS_GIVEUP);
		return;
	}
	if (!moved) {
		stat_inc(CONNPEAK_STAT_UNMATCHED_CLOSE);
		return;
	}
	if (rolled)
		send_event(NULL, port, CONNPEAK_EV_BUCKET, 0, CONNPEAK_CUR(new), rolled,
			   bpf_ktime_get_boot_ns());
	raised = CONNPEAK_PEAK(new) > CONNPEAK_PEAK(old);
	if (dir == CONNPEAK_DIR_IN)
		alert_check(port, CONNPEAK_CUR(new), raised);
	if (!opening)
		return;
	if (raised)
		s->peak_ns = bpf_ktime_get_boot_ns();
	if (__sync_fetch_and_add(&s->total, 1) == 0)
		used_mark(dir, port);
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

	if (!st && (dir != guess || ctl_seeding)) {
		st = sock_state(sk, 1);
		/* While the walk runs, only a socket with storage counts: a later pass
		 * of the walk counts this one if it is still open. */
		if (!st && ctl_seeding) {
			stat_inc(CONNPEAK_STAT_SEED_MISSED);
			return;
		}
		if (!st)
			stat_inc(CONNPEAK_STAT_STORAGE_FAIL);
	}
	if (st) {
		st->dir = dir;
		st->port = port;
		if (__sync_lock_test_and_set(&st->state, CONNPEAK_SK_COUNTED) ==
		    CONNPEAK_SK_COUNTED)
			return;
		st->flags &= ~CONNPEAK_SK_NO_CLIENT;
	}
	count_change(dir, port, 1);
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
		if (!st) {
			stat_inc(CONNPEAK_STAT_STORAGE_FAIL);
			return;
		}
	}
	if (st) {
		if (__sync_lock_test_and_set(&st->state, CONNPEAK_SK_CLOSED) !=
		    CONNPEAK_SK_COUNTED)
			return;
		count_change(st->dir, st->port, 0);
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
	count_change(dir, port, 0);
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

/* Whether a transition matters, judged from the arguments alone. */
static __always_inline int relevant(int oldstate, int newstate)
{
	if (is_open_state(oldstate) != is_open_state(newstate))
		return 1;
	return oldstate == TCP_SYN_SENT && newstate == TCP_SYN_RECV;
}

static __always_inline void handle(const struct sock *sk, int oldstate, int newstate)
{
	struct connpeak_sock *st;

	if (!wanted(sk))
		return;
	if (oldstate == TCP_SYN_SENT && newstate == TCP_SYN_RECV) {
		/* Simultaneous open or self-connect: remember it is ours. */
		st = sock_state(sk, 1);
		if (st)
			st->flags |= CONNPEAK_SK_ACTIVE;
		else
			stat_inc(CONNPEAK_STAT_STORAGE_FAIL);
	} else if (is_open_state(oldstate)) {
		on_close(sk);
	} else {
		on_open(sk, oldstate);
	}
}

/*
 * The kernel skips a tracing program that fires again on a CPU where it is
 * already running: a softirq that changes a socket's state while on_state
 * runs in task context would go uncounted. So the same work is attached
 * twice. on_state runs first and marks each event it handled; on_state_nested
 * handles exactly the events on_state did not.
 *
 * Only an event in task context with softirqs enabled can be interrupted,
 * and TCP makes those changes with the socket owned by the task (lock_sock).
 * A softirq changes a socket's state only when no task owns it. So an event
 * and an event nested in it never share the socket's ownership, and one mark
 * for each tells them apart.
 */
struct handled {
	__u64 sk[2];		/* [1] socket owned by a task, [0] not */
	__u32 states[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct handled);
} handled SEC(".maps");

static __always_inline int owned_by_task(const struct sock *sk)
{
	return sk->sk_lock.owned ? 1 : 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state, const struct sock *sk, int oldstate, int newstate)
{
	struct handled *h;
	__u32 zero = 0;
	int where;

	/* Most transitions neither open nor close a connection. */
	if (!relevant(oldstate, newstate))
		return 0;
	handle(sk, oldstate, newstate);
	where = owned_by_task(sk);
	h = bpf_map_lookup_elem(&handled, &zero);
	if (h) {
		h->sk[where] = (__u64)sk;
		h->states[where] = oldstate << 16 | newstate;
	}
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_nested, const struct sock *sk, int oldstate, int newstate)
{
	struct handled *h;
	__u32 zero = 0;
	int where;

	if (!relevant(oldstate, newstate))
		return 0;
	where = owned_by_task(sk);
	h = bpf_map_lookup_elem(&handled, &zero);
	if (!h)
		return 0;
	if (h->sk[where] == (__u64)sk && h->states[where] == (oldstate << 16 | newstate)) {
		h->sk[where] = 0;
		return 0;
	}
	handle(sk, oldstate, newstate);
	stat_inc(CONNPEAK_STAT_NESTED);
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
	__u16 port;
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
	if (!st) {
		stat_inc(CONNPEAK_STAT_SEED_MISSED);	/* the next pass tries again */
		return 0;
	}
	if (st->state != CONNPEAK_SK_UNSEEN)
		return 0;
	/* A listener made with backlog 0 gives its children no backlog to inherit. */
	port = sk->__sk_common.skc_num;
	if (seed_listening[port / 64] & (1ULL << (port % 64)))
		dir = CONNPEAK_DIR_IN;
	else
		dir = guess_dir(sk);
	st->dir = dir;
	st->port = port_of(sk, dir);
	if (__sync_val_compare_and_swap(&st->state, CONNPEAK_SK_UNSEEN, CONNPEAK_SK_COUNTED) !=
	    CONNPEAK_SK_UNSEEN)
		return 0;
	count_change(dir, st->port, 1);
	if (client_on && dir == CONNPEAK_DIR_IN)
		client_open(sk, st->port, st);
	stat_inc(CONNPEAK_STAT_SEEDED);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
