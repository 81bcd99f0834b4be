// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "history.h"
#include "opts.h"
#include "statefile.h"

static time_t bucket_wall(const struct hist_view *v, __u64 bucket)
{
	__u64 boot = bucket * v->bucket_ns;

	return (time_t)((v->now_real_ns - (v->now_boot_ns - boot)) / 1000000000ULL);
}

/* Read a record that a CPU may be writing: valid only if its bucket stays b. */
static bool read_rec(const struct connpeak_hist_rec *r, __u32 b, struct connpeak_hist_rec *out)
{
	if (__atomic_load_n(&r->bucket, __ATOMIC_ACQUIRE) != b)
		return false;
	out->peak = __atomic_load_n(&r->peak, __ATOMIC_RELAXED);
	out->start = __atomic_load_n(&r->start, __ATOMIC_RELAXED);
	return __atomic_load_n(&r->bucket, __ATOMIC_ACQUIRE) == b;
}

__u64 hist_first_bucket(const struct hist_view *v)
{
	__u64 last = v->now_boot_ns / v->bucket_ns, first = v->start_ns / v->bucket_ns;

	return last + 1 - first > v->nbuckets ? last + 1 - v->nbuckets : first;
}

long hist_series(const struct hist_view *v, __u32 idx, unsigned int current,
		 struct hist_point *out, size_t max)
{
	__u64 last = v->now_boot_ns / v->bucket_ns, first = hist_first_bucket(v);
	const struct connpeak_hist_rec *ring = v->ring + (size_t)idx * v->nbuckets;
	unsigned int standing = current;
	struct connpeak_hist_rec rec;
	size_t n, i;
	__u64 b;

	n = last + 1 - first;
	if (n > max)
		return -1;
	/* Walk back from now: a bucket without a record holds what stood after it. */
	for (i = n; i-- > 0;) {
		b = first + i;
		out[i].start = bucket_wall(v, b);
		if (read_rec(&ring[b % v->nbuckets], (__u32)b, &rec)) {
			out[i].peak = rec.peak;
			standing = rec.start;
		} else {
			out[i].peak = standing;
		}
	}
	return n;
}

unsigned int hist_standing_at(const struct hist_view *v, __u32 idx, __u64 b, unsigned int peak)
{
	const struct connpeak_hist_rec *ring = v->ring + (size_t)idx * v->nbuckets;
	struct connpeak_hist_rec rec;

	return read_rec(&ring[b % v->nbuckets], (__u32)b, &rec) ? rec.start : peak;
}

struct points {
	struct hist_point *p;
	size_t n, cap;
};

static int points_add(struct points *pts, time_t start, unsigned int peak)
{
	struct hist_point *grown;

	if (pts->n == pts->cap) {
		pts->cap = pts->cap ? pts->cap * 2 : 256;
		grown = realloc(pts->p, pts->cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		pts->p = grown;
	}
	pts->p[pts->n].start = start;
	pts->p[pts->n++].peak = peak;
	return 0;
}

static bool same_run(const struct state_rec *a, const struct state_rec *b)
{
	return a->run_start_ns == b->run_start_ns && !strcmp(a->boot_id, b->boot_id);
}

/* The longest gap filled, a year; all gaps of one file fill at most 4M points (64 MiB). */
#define HIST_FILL_MAX_S	(366ULL * 86400)
#define HIST_FILL_MAX	(1ULL << 22)

/*
 * Buckets strictly between prev and bucket upto, all holding standing. A gap
 * longer than any history can be kept for, one past the limit on points, or
 * one whose times would not fit in time_t comes from a damaged line: it is
 * left empty rather than filled.
 */
static int fill_gap(struct points *pts, const struct state_rec *prev, __u64 upto,
		    unsigned int standing)
{
	__u64 first = (__u64)prev->bucket + 1, b;
	time_t last_start;
	int err = 0;

	if (upto <= first || !prev->bucket_s)
		return 0;
	if (upto - first > HIST_FILL_MAX_S / prev->bucket_s ||
	    pts->n + (upto - first) > HIST_FILL_MAX ||
	    __builtin_mul_overflow((time_t)(upto - prev->bucket), (time_t)prev->bucket_s,
				   &last_start) ||
	    __builtin_add_overflow(prev->wall_start, last_start, &last_start))
		return 0;
	for (b = first; !err && b < upto; b++)
		err = points_add(pts, prev->wall_start + (time_t)((b - prev->bucket) *
							     prev->bucket_s), standing);
	return err;
}

long hist_saved(const struct state_rec *recs, size_t n, const char *boot_id, __u64 run_start_ns,
		__u64 ring_first, unsigned int ring_standing, struct hist_point **out)
{
	const struct state_rec *prev = NULL, *last_current = NULL;
	struct points pts = {};
	bool current;
	size_t i;
	int err = 0;

	for (i = 0; !err && i < n; i++) {
		current = recs[i].run_start_ns == run_start_ns && !strcmp(recs[i].boot_id, boot_id);
		if (current && recs[i].bucket >= ring_first)
			continue;
		if (prev && same_run(prev, &recs[i]) && recs[i].bucket > prev->bucket)
			err = fill_gap(&pts, prev, recs[i].bucket, recs[i].start);
		if (!err)
			err = points_add(&pts, recs[i].wall_start, recs[i].peak);
		prev = &recs[i];
		if (current)
			last_current = prev;
	}
	if (!err && last_current)
		err = fill_gap(&pts, last_current, ring_first, ring_standing);
	if (err) {
		free(pts.p);
		return err;
	}
	*out = pts.p;
	return pts.n;
}

size_t hist_clip(struct hist_point *pts, size_t n, time_t since, time_t until)
{
	size_t i, kept = 0;

	for (i = 0; i < n; i++)
		if (pts[i].start >= since && pts[i].start < until)
			pts[kept++] = pts[i];
	return kept;
}

static time_t unit_start(time_t t, enum hist_unit unit, int *hour)
{
	struct tm tm;

	localtime_r(&t, &tm);
	*hour = tm.tm_hour;
	if (unit == HIST_BY_BUCKET)
		return t;
	tm.tm_min = tm.tm_sec = 0;
	if (unit == HIST_BY_DAY)
		tm.tm_hour = 0;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

size_t hist_aggregate(struct hist_point *pts, size_t n, enum hist_unit unit, int *busiest_hour)
{
	size_t i, out = 0;
	time_t start;
	int hour;

	for (i = 0; i < n; i++) {
		start = unit_start(pts[i].start, unit, &hour);
		if (out && pts[out - 1].start == start) {
			if (pts[i].peak > pts[out - 1].peak) {
				pts[out - 1].peak = pts[i].peak;
				if (busiest_hour)
					busiest_hour[out - 1] = hour;
			}
			continue;
		}
		pts[out].start = start;
		pts[out].peak = pts[i].peak;
		if (busiest_hour)
			busiest_hour[out] = hour;
		out++;
	}
	return out;
}

static int parse_ago(const char *arg, time_t now, time_t *out)
{
	unsigned long secs;

	if (parse_duration(arg + 1, 1, 0, 3660UL * 86400, &secs))
		return -EINVAL;
	*out = now - (time_t)secs;
	return 0;
}

static int parse_day_offset(time_t now, int days_back, time_t *out)
{
	struct tm tm;

	localtime_r(&now, &tm);
	tm.tm_mday -= days_back;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	*out = mktime(&tm);
	return 0;
}

/* mktime() would move 2026-02-30 to March: refuse a date it had to normalise. */
static int to_time(struct tm *tm, time_t *out)
{
	struct tm want = *tm;

	tm->tm_isdst = -1;
	*out = mktime(tm);
	if (*out == (time_t)-1 || tm->tm_mday != want.tm_mday || tm->tm_mon != want.tm_mon ||
	    tm->tm_year != want.tm_year)
		return -EINVAL;
	return 0;
}

int parse_time(const char *arg, time_t now, time_t *out)
{
	static const char *const formats[] = {
		"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
		"%Y-%m-%d",
	};
	struct tm tm;
	const char *end;
	size_t i;

	if (!strcmp(arg, "now")) {
		*out = now;
		return 0;
	}
	if (!strcmp(arg, "today"))
		return parse_day_offset(now, 0, out);
	if (!strcmp(arg, "yesterday"))
		return parse_day_offset(now, 1, out);
	if (arg[0] == '-')
		return parse_ago(arg, now, out);
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(arg, formats[i], &tm);
		if (!end || *end)
			continue;
		return to_time(&tm, out);
	}
	return -EINVAL;
}
