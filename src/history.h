/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_HISTORY_H
#define CONNPEAK_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <linux/types.h>
#include "connpeak.h"

/* One bucket (or hour, or day) of one port, with wall-clock start. */
struct hist_point {
	time_t start;
	unsigned int peak;
};

/* What the reader needs besides the ring itself. */
struct hist_view {
	const struct connpeak_hist_rec *ring;
	__u32 nbuckets;
	__u64 bucket_ns;
	__u64 start_ns;		/* CLOCK_BOOTTIME when tracking began */
	__u64 now_boot_ns;
	__u64 now_real_ns;
};

/*
 * Peaks of port index idx for every bucket from the one tracking began in
 * (or the oldest the ring still holds) to the current one, oldest first.
 * current is the port's open count now. Returns the number of points
 * written to out (at most max), or -1 if idx has no buckets.
 */
long hist_series(const struct hist_view *v, __u32 idx, unsigned int current,
		 struct hist_point *out, size_t max);

struct state_rec;

/* The bucket number of the first point hist_series gives. */
__u64 hist_first_bucket(const struct hist_view *v);
/*
 * The count that stood when bucket b began, given the peak hist_series gave
 * for it: the start of its record, or that peak if it had no record.
 */
unsigned int hist_standing_at(const struct hist_view *v, __u32 idx, __u64 b, unsigned int peak);

/*
 * Points from saved records (oldest first) that the ring no longer holds:
 * all runs but the current one (boot_id, run_start_ns), and the current
 * run's buckets before ring_first. A gap inside a run holds the next
 * record's start; the current run's gap up to ring_first holds
 * ring_standing. *out is malloc'd. Returns the number of points or -ENOMEM.
 */
long hist_saved(const struct state_rec *recs, size_t n, const char *boot_id, __u64 run_start_ns,
		__u64 ring_first, unsigned int ring_standing, struct hist_point **out);

/* Keep points in [since, until). Returns the new count. */
size_t hist_clip(struct hist_point *pts, size_t n, time_t since, time_t until);

enum hist_unit { HIST_BY_BUCKET, HIST_BY_HOUR, HIST_BY_DAY };

/*
 * Merge points into local hours or days (peak = maximum). busiest_hour, if
 * not NULL, receives for each day the local hour of its highest peak.
 */
size_t hist_aggregate(struct hist_point *pts, size_t n, enum hist_unit unit, int *busiest_hour);

/*
 * Parse a time: "2026-12-03 09:00[:SS]", "2026-12-03", "today", "yesterday",
 * "now", or "-N" with s, m, h or d (ago). Local time. 0 or -EINVAL.
 */
int parse_time(const char *arg, time_t now, time_t *out);

/* Limit advice for one service. */
struct advice {
	unsigned int peak;		/* highest peak seen */
	int usual_hour;			/* local hour the daily peak tends to fall in */
	unsigned int limit;		/* ceil(peak * (1 + headroom)) */
	bool changed;			/* last 24 h above earlier days by more than headroom */
	unsigned int recent_peak, earlier_peak;
	bool earlier_known;		/* there is history older than 24 h */
};

/* ceil(peak * (100 + headroom_pct) / 100) */
unsigned int advise_limit(unsigned int peak, unsigned int headroom_pct);
/* Advice from the per-bucket points of one port, oldest first. */
void advise_points(const struct hist_point *pts, size_t n, unsigned int headroom_pct, time_t now,
		   struct advice *a);
/* The name a mail server's admin console uses for a port, or NULL. */
const char *service_label(unsigned int port);

#endif
