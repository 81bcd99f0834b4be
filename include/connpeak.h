/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_H
#define CONNPEAK_H

/*
 * Types shared by the BPF program and the userspace tools. Only fixed-width
 * types: these structs are read straight out of the maps.
 */

enum connpeak_dir {
	CONNPEAK_DIR_IN = 0,	/* accepted through a local listener, keyed by local port */
	CONNPEAK_DIR_OUT = 1,	/* initiated here, keyed by remote port */
	CONNPEAK_NR_DIRS = 2,
};

#define CONNPEAK_NR_PORTS	65536
#define CONNPEAK_NR_SLOTS	(CONNPEAK_NR_DIRS * CONNPEAK_NR_PORTS)
#define CONNPEAK_USED_WORDS	(CONNPEAK_NR_SLOTS / 64)

/*
 * One slot per (direction, port): index = dir * CONNPEAK_NR_PORTS + port.
 * The current count and the peak share one 64-bit word so that opening,
 * closing and resetting each change both in one compare-and-swap.
 */
struct connpeak_slot {
	__u64 cur_peak;		/* peak << 32 | current */
	__u64 total;		/* connections that became open since tracking began */
	__u64 peak_ns;		/* CLOCK_BOOTTIME when the peak was last raised or reset */
};

#define CONNPEAK_CUR(w)		((__u32)(w))
#define CONNPEAK_PEAK(w)	((__u32)((w) >> 32))
#define CONNPEAK_WORD(cur, peak) (((__u64)(peak) << 32) | (__u32)(cur))

/* Counters of the tracker's own health, one array slot each. */
enum connpeak_stat {
	CONNPEAK_STAT_START_NS,		/* CLOCK_BOOTTIME when tracking began */
	CONNPEAK_STAT_SEEDED,		/* connections found open at start */
	CONNPEAK_STAT_STORAGE_FAIL,	/* socket storage could not be created */
	CONNPEAK_STAT_UNMATCHED_CLOSE,	/* close of a socket never counted, not subtracted */
	CONNPEAK_STAT_CAS_GIVEUP,	/* update lost to extreme contention */
	CONNPEAK_STAT_NESTED,		/* events the kernel skipped for on_state, handled again */
	CONNPEAK_STAT_EVENTS_LOST,	/* history events lost to a full ring buffer */
	CONNPEAK_STAT_SEED_MISSED,	/* open sockets a pass of the start-up walk missed */
	CONNPEAK_STAT_HIST_START_NS,	/* CLOCK_BOOTTIME when history began: after the walk */
	CONNPEAK_STAT_CLIENT_CAPACITY,	/* --clients as given to start; 0: off */
	CONNPEAK_STAT_CLIENT_PREFIX,	/* IPv4 prefix length | IPv6 prefix length << 8 */
	CONNPEAK_STAT_CLIENT_OVERFLOW,	/* inbound connections not attributed to a client */
	CONNPEAK_STAT_CLIENT_OVERFLOW_UNKEYED, /* ... of which on no per-port counter */
	CONNPEAK_STAT_CLIENT_EVICTED,	/* idle client entries dropped to make room */
	CONNPEAK_STAT_CLIENT_COUNT,	/* client entries in use */
	CONNPEAK_STAT_CLIENT_HAND,	/* where the next search for an idle entry starts */
	CONNPEAK_STAT_CLIENT_UNMARKED,	/* unattributed sockets that could not be marked */
	CONNPEAK_STAT_CLIENT_UNMATCHED,	/* close that found no client entry to subtract from */
	CONNPEAK_NR_STATS,
};

/*
 * History: for chosen inbound ports, the peak of open connections in each
 * fixed bucket of CLOCK_BOOTTIME, in a ring of nbuckets records per port.
 * Record (port index i, bucket b) lives at i * nbuckets + b % nbuckets and
 * is valid only while its bucket field equals b. A bucket without a record
 * had no state change: the count that stood throughout it is the start of
 * the next record, or the current count if there is none.
 */
#define CONNPEAK_MAX_HIST_PORTS	1024

struct connpeak_hist_rec {
	__u32 bucket;		/* CLOCK_BOOTTIME / bucket length; written last */
	__u32 peak;		/* highest count at any instant of the bucket */
	__u32 start;		/* count when the bucket's first change came */
	__u32 pad;
};

/* What readers need to interpret the ring; written once by start. */
struct connpeak_hist_conf {
	__u64 bucket_ns;
	__u32 nbuckets;
	__u32 nports;
	__u16 ports[CONNPEAK_MAX_HIST_PORTS];
};

/*
 * Alerts, for inbound ports given a limit: a warning level at warn open
 * connections, an alarm at limit, each left again only below it by more
 * than hyst (so a count at the line does not chatter). The program sends
 * events through a ring buffer: per port and second at most
 * CONNPEAK_EVENTS_PER_SEC level changes and as many new peaks; the rest are
 * counted in suppressed.
 */
#define CONNPEAK_MAX_ALERT_PORTS	256
#define CONNPEAK_EVENTS_PER_SEC		10
#define CONNPEAK_EVENTS_RINGBUF		(256 * 1024)

enum connpeak_level {
	CONNPEAK_LEVEL_OK = 0,
	CONNPEAK_LEVEL_WARN = 1,
	CONNPEAK_LEVEL_LIMIT = 2,
};

struct connpeak_alert {
	__u32 limit;		/* 0: entry unused */
	__u32 warn;
	__u32 hyst;
	__u32 level;		/* enum connpeak_level, changed by compare-and-swap */
	__u64 window;		/* second << 32 | peaks << 16 | level changes sent in it */
	__u64 sent;		/* events sent */
	__u64 suppressed;	/* events not sent: over the rate, or ring buffer full */
};

enum connpeak_event_kind {
	CONNPEAK_EV_LEVEL = 1,	/* level changed: level, count */
	CONNPEAK_EV_PEAK = 2,	/* new peak: count */
	CONNPEAK_EV_BUCKET = 3,	/* history port moved on to bucket */
};

struct connpeak_event {
	__u64 time_ns;		/* CLOCK_BOOTTIME */
	__u16 port;
	__u8 kind;
	__u8 level;		/* new level, for CONNPEAK_EV_LEVEL */
	__u32 count;		/* open connections after the change */
	__u32 limit;
	__u32 warn;
	__u32 bucket;		/* for CONNPEAK_EV_BUCKET */
	__u32 old_level;	/* for CONNPEAK_EV_LEVEL */
	__u64 suppressed;	/* the port's suppressed total when sent */
};

/* Per-socket state, kept only for sockets that need it (seeded or unusual). */
enum connpeak_sock_state {
	CONNPEAK_SK_UNSEEN = 0,		/* storage exists, not counted yet */
	CONNPEAK_SK_COUNTED = 1,	/* counted in slot (dir, port) */
	CONNPEAK_SK_CLOSED = 2,		/* closed: never count or subtract again */
};

#define CONNPEAK_SK_ACTIVE	1	/* flag: went SYN_SENT -> SYN_RECV (simultaneous open) */
#define CONNPEAK_SK_NO_CLIENT	2	/* flag: inbound, counted in no client entry */

struct connpeak_sock {
	__u32 state;		/* enum connpeak_sock_state, changed by compare-and-swap */
	__u16 port;
	__u8 dir;
	__u8 flags;
};

/*
 * Per-client tracking of inbound connections. A client is the remote address,
 * cut to a prefix length chosen at start, of connections to one local port.
 * IPv4-mapped IPv6 addresses are stored as IPv4.
 */
#define CONNPEAK_FAMILY_IPV4	4
#define CONNPEAK_FAMILY_IPV6	6

struct connpeak_client_key {
	__be32 addr[4];		/* IPv4 in addr[0], the rest zero; host bits zero */
	__u16 port;		/* local port */
	__u8 family;		/* CONNPEAK_FAMILY_* */
	__u8 prefix;		/* prefix length the address was cut to */
};

/*
 * The client table is an array of slots with open addressing: a key lives in
 * one of CONNPEAK_CL_PROBES slots from the one its hash picks. There are two
 * slots per client of capacity, so the table is at most half full. An entry
 * stays when its client's last connection closes, until the table needs the
 * room.
 *
 * state is 0 for a slot never used, CONNPEAK_CL_TOMB for one freed,
 * CONNPEAK_CL_BUSY for one being filled, and otherwise packs current, peak
 * (never 0 in use) and a fingerprint of the key, so that one compare-and-swap
 * changes current and peak together and fails on a slot that was freed and
 * reused for another key meanwhile. Readers check state before and after
 * copying a slot.
 */
struct connpeak_client {
	__u64 state;		/* fingerprint << 42 | peak << 21 | current, or a flag value */
	__u64 total;		/* connections opened by this client since tracking began */
	__u64 peak_ns;		/* CLOCK_BOOTTIME when the peak was last raised */
	struct connpeak_client_key key;
	__u32 last;		/* jiffies, low 32 bits, when it last became idle */
};

#define CONNPEAK_CL_SLOTS_PER_CLIENT	2
#define CONNPEAK_CL_PROBES	32	/* slots a key may be found in, from its home */

#define CONNPEAK_CL_BITS	21
#define CONNPEAK_CL_MAX		((1U << CONNPEAK_CL_BITS) - 1)
#define CONNPEAK_CL_FLAG	(1ULL << 63)
#define CONNPEAK_CL_TOMB	(CONNPEAK_CL_FLAG | 1)
#define CONNPEAK_CL_BUSY	(CONNPEAK_CL_FLAG | 2)
#define CONNPEAK_CL_IN_USE(s)	((s) && !((s) & CONNPEAK_CL_FLAG))
#define CONNPEAK_CL_CUR(s)	((__u32)(s) & CONNPEAK_CL_MAX)
#define CONNPEAK_CL_PEAK(s)	((__u32)((s) >> CONNPEAK_CL_BITS) & CONNPEAK_CL_MAX)
#define CONNPEAK_CL_FP(s)	((__u32)((s) >> (2 * CONNPEAK_CL_BITS)) & CONNPEAK_CL_MAX)
#define CONNPEAK_CL_STATE(fp, peak, cur) \
	(((__u64)(fp) << (2 * CONNPEAK_CL_BITS)) | ((__u64)(peak) << CONNPEAK_CL_BITS) | (cur))

/* Inbound connections of one port attributed to no client. */
struct connpeak_client_overflow {
	__u64 total;		/* since tracking began */
	__u64 current;		/* open now */
};

/* Ports with a counter of unattributed connections; more share one stat. */
#define CONNPEAK_OVERFLOW_PORTS	1024

#endif /* CONNPEAK_H */
