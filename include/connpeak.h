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
	CONNPEAK_STAT_SEED_MISSED,	/* open sockets a pass of the start-up walk could not count */
	CONNPEAK_STAT_HIST_START_NS,	/* CLOCK_BOOTTIME when history began: after the walk */
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

struct connpeak_sock {
	__u32 state;		/* enum connpeak_sock_state, changed by compare-and-swap */
	__u16 port;
	__u8 dir;
	__u8 flags;
};

#endif /* CONNPEAK_H */
