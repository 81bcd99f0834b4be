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

long hist_series(const struct hist_view *v, __u32 idx, unsigned int current,
		 struct hist_point *out, size_t max)
{
	__u64 last = v->now_boot_ns / v->bucket_ns, first = v->start_ns / v->bucket_ns;
	const struct connpeak_hist_rec *ring = v->ring + (size_t)idx * v->nbuckets;
	unsigned int standing = current;
	struct connpeak_hist_rec rec;
	size_t n, i;
	__u64 b;

	if (last + 1 - first > v->nbuckets)
		first = last + 1 - v->nbuckets;
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
		tm.tm_isdst = -1;
		*out = mktime(&tm);
		return *out == (time_t)-1 ? -EINVAL : 0;
	}
	return -EINVAL;
}
