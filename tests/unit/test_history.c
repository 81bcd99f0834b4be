// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * The userspace half of history and advice: reading a ring of per-bucket
 * records into a series, clipping and merging it, parsing times, and the
 * arithmetic of advise. The rings here are built by hand, record by record,
 * so every expected point is worked out from the ring's rules alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <linux/types.h>
#include "connpeak.h"
#include "history.h"
#include "statefile.h"

#define NS		1000000000ULL
#define BUCKET_S	10
/* Wall seconds at CLOCK_BOOTTIME 0 in the fake views */
#define REAL0		1796000000LL
#define RING_MAX	64
#define DAY		86400

/* A hand-built ring of up to two ports, and the view that reads it. */
struct fake {
	struct connpeak_hist_rec ring[RING_MAX];
	struct hist_view v;
};

/*
 * Tracking began 3 s into bucket first; it is now 7 s into bucket now. Wall
 * time is boot time plus REAL0, so bucket b starts at REAL0 + b * BUCKET_S.
 */
static void fake_init(struct fake *f, __u32 nbuckets, __u64 first, __u64 now)
{
	memset(f, 0, sizeof(*f));
	assert_true(2 * nbuckets <= RING_MAX);
	f->v.ring = f->ring;
	f->v.nbuckets = nbuckets;
	f->v.bucket_ns = BUCKET_S * NS;
	f->v.start_ns = first * BUCKET_S * NS + 3 * NS;
	f->v.now_boot_ns = now * BUCKET_S * NS + 7 * NS;
	f->v.now_real_ns = REAL0 * NS + f->v.now_boot_ns;
}

/* What the kernel leaves for a change in bucket b of port index idx. */
static void fake_rec(struct fake *f, __u32 idx, __u32 b, __u32 start, __u32 peak)
{
	struct connpeak_hist_rec *r = &f->ring[idx * f->v.nbuckets + b % f->v.nbuckets];

	r->bucket = b;
	r->start = start;
	r->peak = peak;
}

static time_t wall_of(__u64 b)
{
	return (time_t)(REAL0 + b * BUCKET_S);
}

/* Read the series and compare it with the expected peaks from bucket first on. */
static void expect_series(const struct fake *f, __u32 idx, unsigned int current, __u64 first,
			  const unsigned int *peaks, long n)
{
	struct hist_point pts[RING_MAX];
	long got, i;

	got = hist_series(&f->v, idx, current, pts, RING_MAX);
	assert_int_equal(got, n);
	for (i = 0; i < n; i++) {
		if (pts[i].peak != peaks[i] || pts[i].start != wall_of(first + i))
			print_error("point %ld (bucket %llu): expected peak %u at %lld, actual "
				    "%u at %lld\n", i, (unsigned long long)(first + i), peaks[i],
				    (long long)wall_of(first + i), pts[i].peak,
				    (long long)pts[i].start);
		assert_int_equal(pts[i].peak, peaks[i]);
		assert_int_equal(pts[i].start, wall_of(first + i));
	}
}

static time_t utc(int y, int mon, int d, int h, int min, int s)
{
	struct tm tm = {
		.tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
		.tm_hour = h, .tm_min = min, .tm_sec = s,
	};

	return timegm(&tm);
}

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static int setup(void **state)
{
	set_tz("UTC");
	return 0;
}

/* Each test that changes the zone puts UTC back, even when it fails. */
static int teardown_tz(void **state)
{
	set_tz("UTC");
	return 0;
}

/* ---- hist_series ---- */

/*
 * A bucket without a record had no change: it holds the start of the next
 * record, or the current count when no later record exists.
 */
static void test_series_gaps(void **state)
{
	static const unsigned int want[] = { 2, 4, 3, 5, 1, 1 };
	static const unsigned int want_cur[] = { 2, 4, 3, 5, 3, 6 };
	struct fake f;

	fake_init(&f, 8, 100, 105);
	fake_rec(&f, 0, 101, 2, 4);
	fake_rec(&f, 0, 103, 3, 5);
	expect_series(&f, 0, 1, 100, want, 6);

	/* A record in the current bucket: its start fills the bucket before it. */
	fake_rec(&f, 0, 105, 3, 6);
	expect_series(&f, 0, 0, 100, want_cur, 6);
}

/* A port whose count never moved: every bucket holds the current count. */
static void test_series_no_records(void **state)
{
	static const unsigned int five[] = { 5, 5, 5, 5 };
	static const unsigned int zero[] = { 0, 0, 0, 0 };
	struct fake f;

	fake_init(&f, 8, 200, 203);
	expect_series(&f, 0, 5, 200, five, 4);
	expect_series(&f, 1, 0, 200, zero, 4);
}

/* Tracking began in the current bucket: one point. */
static void test_series_one_bucket(void **state)
{
	static const unsigned int want[] = { 7 };
	struct fake f;

	fake_init(&f, 4, 300, 300);
	fake_rec(&f, 0, 300, 0, 7);
	expect_series(&f, 0, 2, 300, want, 1);
}

/*
 * Records left from an earlier lap of the ring sit in the slots of buckets
 * that had no change this lap: they must be ignored, not read as this lap's.
 */
static void test_series_stale_lap(void **state)
{
	static const unsigned int want[] = { 2, 2, 2, 3, 0, 0 };
	struct fake f;

	fake_init(&f, 8, 100, 105);
	fake_rec(&f, 0, 94, 7, 9);	/* slot of bucket 102 */
	fake_rec(&f, 0, 96, 8, 8);	/* slot of bucket 104 */
	fake_rec(&f, 0, 92, 6, 6);	/* slot of bucket 100 */
	fake_rec(&f, 0, 103, 2, 3);
	expect_series(&f, 0, 0, 100, want, 6);
}

/* Ports do not see each other's records. */
static void test_series_two_ports(void **state)
{
	static const unsigned int want0[] = { 1, 1, 4, 2 };
	static const unsigned int want1[] = { 0, 9, 9, 9 };
	struct fake f;

	fake_init(&f, 8, 50, 53);
	fake_rec(&f, 0, 52, 1, 4);
	fake_rec(&f, 0, 53, 4, 2);
	fake_rec(&f, 1, 51, 0, 9);
	expect_series(&f, 0, 2, 50, want0, 4);
	expect_series(&f, 1, 9, 50, want1, 4);
}

/* Buckets before tracking began are not shown, even if the ring has a record for one. */
static void test_series_start_clip(void **state)
{
	static const unsigned int want[] = { 4, 6, 2 };
	struct fake f;

	fake_init(&f, 8, 103, 105);
	fake_rec(&f, 0, 101, 0, 9);
	fake_rec(&f, 0, 104, 4, 6);
	expect_series(&f, 0, 2, 103, want, 3);

	/* Tracking that began exactly on a boundary starts with that bucket. */
	f.v.start_ns = 103 * BUCKET_S * NS;
	expect_series(&f, 0, 2, 103, want, 3);
	f.v.start_ns = 103 * BUCKET_S * NS - 1;
	assert_int_equal(hist_series(&f.v, 0, 2, (struct hist_point[RING_MAX]){}, RING_MAX), 4);

	/* Now exactly on a boundary: the bucket that just began is the last. */
	f.v.start_ns = 103 * BUCKET_S * NS + 3 * NS;
	f.v.now_boot_ns = 105 * BUCKET_S * NS;
	f.v.now_real_ns = REAL0 * NS + f.v.now_boot_ns;
	expect_series(&f, 0, 2, 103, want, 3);
}

/* More buckets since start than the ring holds: only the last nbuckets are shown. */
static void test_series_ring_window(void **state)
{
	static const unsigned int want[] = { 3, 2, 2, 2 };
	struct hist_point pts[RING_MAX];
	struct fake f;

	fake_init(&f, 4, 100, 109);
	fake_rec(&f, 0, 104, 9, 9);	/* slot of bucket 108, a lap old */
	fake_rec(&f, 0, 105, 8, 8);	/* slot of bucket 109, overwritten below */
	fake_rec(&f, 0, 106, 1, 3);
	fake_rec(&f, 0, 109, 2, 2);
	expect_series(&f, 0, 1, 106, want, 4);

	/* The caller's array is too small for the window. */
	assert_int_equal(hist_series(&f.v, 0, 1, pts, 3), -1);
}

/* ---- hist_clip ---- */

static void test_clip(void **state)
{
	struct hist_point base[] = {
		{ 100, 1 }, { 110, 2 }, { 120, 3 }, { 130, 4 },
	};
	struct hist_point pts[4];

	memcpy(pts, base, sizeof(base));
	assert_int_equal(hist_clip(pts, 4, 110, 130), 2);
	assert_int_equal(pts[0].start, 110);
	assert_int_equal(pts[0].peak, 2);
	assert_int_equal(pts[1].start, 120);
	assert_int_equal(pts[1].peak, 3);

	memcpy(pts, base, sizeof(base));
	assert_int_equal(hist_clip(pts, 4, 0, 1000), 4);
	assert_memory_equal(pts, base, sizeof(base));

	/* since is inclusive, until exclusive, both on a point and between points */
	memcpy(pts, base, sizeof(base));
	assert_int_equal(hist_clip(pts, 4, 105, 131), 3);
	assert_int_equal(pts[0].start, 110);
	assert_int_equal(pts[2].start, 130);

	memcpy(pts, base, sizeof(base));
	assert_int_equal(hist_clip(pts, 4, 120, 120), 0);
	memcpy(pts, base, sizeof(base));
	assert_int_equal(hist_clip(pts, 4, 200, 300), 0);
	assert_int_equal(hist_clip(pts, 0, 0, 300), 0);
}

/* ---- hist_aggregate ---- */

/* Points every 20 minutes from 2026-12-02 22:00 UTC: 15 points, to 02:40. */
static const unsigned int agg_peaks[15] = {
	1, 4, 2,	/* 22:00 */
	0, 0, 0,	/* 23:00 */
	3, 3, 1,	/* 00:00 */
	2, 7, 7,	/* 01:00 */
	5, 0, 6,	/* 02:00 */
};

static size_t agg_points(struct hist_point *pts)
{
	time_t t0 = utc(2026, 12, 2, 22, 0, 0);
	size_t i;

	for (i = 0; i < 15; i++) {
		pts[i].start = t0 + (time_t)i * 1200;
		pts[i].peak = agg_peaks[i];
	}
	return 15;
}

static void test_aggregate_hour(void **state)
{
	static const unsigned int want[] = { 4, 0, 3, 7, 6 };
	struct hist_point pts[15];
	int busiest[15];
	size_t n, i;

	n = hist_aggregate(pts, agg_points(pts), HIST_BY_HOUR, busiest);
	assert_int_equal(n, 5);
	for (i = 0; i < n; i++) {
		assert_int_equal(pts[i].start, utc(2026, 12, 2, 22, 0, 0) + (time_t)i * 3600);
		assert_int_equal(pts[i].peak, want[i]);
		assert_int_equal(busiest[i], (22 + (int)i) % 24);
	}
}

static void test_aggregate_day(void **state)
{
	struct hist_point pts[15];
	int busiest[15];
	size_t n;

	n = hist_aggregate(pts, agg_points(pts), HIST_BY_DAY, busiest);
	assert_int_equal(n, 2);
	assert_int_equal(pts[0].start, utc(2026, 12, 2, 0, 0, 0));
	assert_int_equal(pts[0].peak, 4);
	assert_int_equal(busiest[0], 22);
	assert_int_equal(pts[1].start, utc(2026, 12, 3, 0, 0, 0));
	assert_int_equal(pts[1].peak, 7);
	/* 7 first at 01:20 and again at 01:40: the first hour to reach it */
	assert_int_equal(busiest[1], 1);

	/* busiest_hour is optional */
	n = hist_aggregate(pts, agg_points(pts), HIST_BY_DAY, NULL);
	assert_int_equal(n, 2);
	assert_int_equal(pts[1].peak, 7);
}

/* A tie between hours goes to the earlier one; a day of zeros is busiest at its first hour. */
static void test_aggregate_ties(void **state)
{
	struct hist_point pts[4] = {
		{ utc(2026, 12, 1, 8, 0, 0), 5 },
		{ utc(2026, 12, 1, 15, 0, 0), 5 },
		{ utc(2026, 12, 2, 6, 0, 0), 0 },
		{ utc(2026, 12, 2, 7, 0, 0), 0 },
	};
	int busiest[4];

	assert_int_equal(hist_aggregate(pts, 4, HIST_BY_DAY, busiest), 2);
	assert_int_equal(pts[0].peak, 5);
	assert_int_equal(busiest[0], 8);
	assert_int_equal(pts[1].peak, 0);
	assert_int_equal(busiest[1], 6);
}

/* Per bucket changes nothing. */
static void test_aggregate_bucket(void **state)
{
	struct hist_point pts[15], orig[15];
	int busiest[15];
	size_t n;

	agg_points(orig);
	memcpy(pts, orig, sizeof(pts));
	n = hist_aggregate(pts, 15, HIST_BY_BUCKET, busiest);
	assert_int_equal(n, 15);
	assert_memory_equal(pts, orig, sizeof(pts));
	assert_int_equal(busiest[0], 22);
	assert_int_equal(busiest[14], 2);
}

/* Local hours and days in a zone half an hour off UTC: they begin at :30 UTC. */
static void test_aggregate_local_zone(void **state)
{
	struct hist_point pts[4] = {
		{ utc(2026, 12, 2, 18, 0, 0), 2 },	/* 23:30 local */
		{ utc(2026, 12, 2, 18, 20, 0), 3 },	/* 23:50 local */
		{ utc(2026, 12, 2, 18, 40, 0), 1 },	/* 00:10 local, next day */
		{ utc(2026, 12, 2, 19, 0, 0), 4 },	/* 00:30 local */
	};
	struct hist_point days[4];
	int busiest[4];

	set_tz("XST-5:30");
	memcpy(days, pts, sizeof(pts));
	assert_int_equal(hist_aggregate(pts, 4, HIST_BY_HOUR, busiest), 2);
	assert_int_equal(pts[0].start, utc(2026, 12, 2, 17, 30, 0));
	assert_int_equal(pts[0].peak, 3);
	assert_int_equal(busiest[0], 23);
	assert_int_equal(pts[1].start, utc(2026, 12, 2, 18, 30, 0));
	assert_int_equal(pts[1].peak, 4);
	assert_int_equal(busiest[1], 0);

	assert_int_equal(hist_aggregate(days, 4, HIST_BY_DAY, busiest), 2);
	assert_int_equal(days[0].start, utc(2026, 12, 1, 18, 30, 0));
	assert_int_equal(days[0].peak, 3);
	assert_int_equal(days[1].start, utc(2026, 12, 2, 18, 30, 0));
	assert_int_equal(days[1].peak, 4);
	assert_int_equal(busiest[1], 0);
}

/* ---- parse_time ---- */

/* 2026-12-03T19:32:38Z */
#define NOW	1796326358

static void expect_time(const char *arg, time_t now, time_t want)
{
	time_t got = 0;
	int err = parse_time(arg, now, &got);

	if (err || got != want)
		print_error("parse_time('%s'): expected 0 and %lld, actual %d and %lld\n", arg,
			    (long long)want, err, (long long)got);
	assert_int_equal(err, 0);
	assert_int_equal(got, want);
}

static void expect_bad_time(const char *arg)
{
	time_t got = 0;
	int err = parse_time(arg, NOW, &got);

	if (err != -EINVAL)
		print_error("parse_time('%s'): expected -EINVAL, actual %d (time %lld)\n", arg,
			    err, (long long)got);
	assert_int_equal(err, -EINVAL);
}

static void test_parse_time_forms(void **state)
{
	assert_int_equal(utc(2026, 12, 3, 19, 32, 38), NOW);
	expect_time("2026-12-03 09:00", NOW, utc(2026, 12, 3, 9, 0, 0));
	expect_time("2026-12-03 09:00:30", NOW, utc(2026, 12, 3, 9, 0, 30));
	expect_time("2026-12-03T09:00", NOW, utc(2026, 12, 3, 9, 0, 0));
	expect_time("2026-12-03T09:00:30", NOW, utc(2026, 12, 3, 9, 0, 30));
	expect_time("2026-12-03", NOW, utc(2026, 12, 3, 0, 0, 0));
	expect_time("2027-01-15 23:59", NOW, utc(2027, 1, 15, 23, 59, 0));
	expect_time("2024-02-29", NOW, utc(2024, 2, 29, 0, 0, 0));
	expect_time("today", NOW, utc(2026, 12, 3, 0, 0, 0));
	expect_time("yesterday", NOW, utc(2026, 12, 2, 0, 0, 0));
	expect_time("now", NOW, NOW);
	expect_time("-30m", NOW, NOW - 30 * 60);
	expect_time("-6h", NOW, NOW - 6 * 3600);
	expect_time("-2d", NOW, NOW - 2 * DAY);
	expect_time("-45s", NOW, NOW - 45);
	expect_time("-45", NOW, NOW - 45);
	expect_time("-0s", NOW, NOW);
	expect_time("-3660d", NOW, NOW - 3660LL * DAY);
}

/* today and yesterday across the start of a month and of a year */
static void test_parse_time_days(void **state)
{
	time_t dec1 = utc(2026, 12, 1, 10, 0, 0), jan1 = utc(2026, 1, 1, 0, 0, 5);

	expect_time("today", dec1, utc(2026, 12, 1, 0, 0, 0));
	expect_time("yesterday", dec1, utc(2026, 11, 30, 0, 0, 0));
	expect_time("today", jan1, utc(2026, 1, 1, 0, 0, 0));
	expect_time("yesterday", jan1, utc(2025, 12, 31, 0, 0, 0));
	/* one second after midnight and one before */
	expect_time("today", utc(2026, 12, 3, 0, 0, 0), utc(2026, 12, 3, 0, 0, 0));
	expect_time("today", utc(2026, 12, 3, 23, 59, 59), utc(2026, 12, 3, 0, 0, 0));
}

/* Local time, with a day of 23 hours when summer time begins. */
static void test_parse_time_local_zone(void **state)
{
	/* 2026-03-29 12:00 CEST, the day clocks went forward at 02:00 */
	time_t now = utc(2026, 3, 29, 10, 0, 0);

	set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	expect_time("today", now, utc(2026, 3, 28, 23, 0, 0));
	expect_time("yesterday", now, utc(2026, 3, 27, 23, 0, 0));
	expect_time("2026-03-29 12:00", now, utc(2026, 3, 29, 10, 0, 0));
	expect_time("2026-01-15 12:00", now, utc(2026, 1, 15, 11, 0, 0));
	expect_time("2026-03-29", now, utc(2026, 3, 28, 23, 0, 0));
	expect_time("-6h", now, now - 6 * 3600);
}

static void test_parse_time_bad(void **state)
{
	static const char *const bad[] = {
		"", "tomorrow", "Today", "NOW", "now ", "-", "-5x", "-5 m", "--5m", "+5m",
		"5m", "-m", "-3661d", "2026-12-03 25:00", "2026-12-03 09:60", "2026-13-01",
		"2026-00-10", "2026-12-00", "2026-12-32", "2026-12-03 09", "2026-12-03 09:00 x",
		"2026-12-03x", "12/03/2026", "03.12.2026", "2026-12-03T09:00Z", "2026",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad_time(bad[i]);
}

/*
 * A day that no month has is not a time. strptime's %d takes 1-31 whatever
 * the month, and mktime then moves 30 February to 2 March.
 */
static void test_parse_time_impossible_date(void **state)
{
	expect_bad_time("2026-02-30");
	expect_bad_time("2026-02-29");
	expect_bad_time("2026-04-31 12:00");
}

/* ---- advise ---- */

static void test_advise_limit(void **state)
{
	assert_int_equal(advise_limit(7, 25), 9);	/* 8.75 */
	assert_int_equal(advise_limit(8, 25), 10);	/* exactly 10 */
	assert_int_equal(advise_limit(0, 25), 0);
	assert_int_equal(advise_limit(0, 0), 0);
	assert_int_equal(advise_limit(7, 0), 7);
	assert_int_equal(advise_limit(1, 1), 2);	/* 1.01 */
	assert_int_equal(advise_limit(100, 1), 101);
	assert_int_equal(advise_limit(7, 50), 11);	/* 10.5 */
	assert_int_equal(advise_limit(4, 50), 6);
	assert_int_equal(advise_limit(3, 1000), 33);
	assert_int_equal(advise_limit(99, 1), 100);	/* 99.99 */
	assert_int_equal(advise_limit(1000000, 25), 1250000);
	assert_int_equal(advise_limit(300000000, 1000), 3300000000U);
}

/* Hourly points over days, all at base, with chosen daily peaks. */
struct day_peak {
	int day, hour;
	unsigned int peak;
};

static size_t hourly(struct hist_point *pts, time_t t0, int days, unsigned int base,
		     const struct day_peak *dp, size_t ndp)
{
	size_t i, n = (size_t)days * 24;

	for (i = 0; i < n; i++) {
		pts[i].start = t0 + (time_t)i * 3600;
		pts[i].peak = base;
	}
	for (i = 0; i < ndp; i++)
		pts[dp[i].day * 24 + dp[i].hour].peak = dp[i].peak;
	return n;
}

static void test_advise_usual_hour(void **state)
{
	static const struct day_peak dp[] = {
		{ 0, 19, 7 }, { 1, 19, 6 }, { 2, 9, 9 }, { 3, 19, 5 }, { 3, 3, 4 },
	};
	struct hist_point pts[4 * 24];
	time_t t0 = utc(2026, 11, 29, 0, 0, 0);
	struct advice a;
	size_t n;

	n = hourly(pts, t0, 4, 1, dp, 5);
	advise_points(pts, n, 25, t0 + 4 * DAY, &a);
	assert_int_equal(a.peak, 9);
	assert_int_equal(a.usual_hour, 19);
	assert_int_equal(a.limit, 12);		/* 11.25 */
}

/* Two hours each the peak of one day: the one with the higher peak. */
static void test_advise_usual_hour_tie(void **state)
{
	static const struct day_peak dp[] = { { 0, 8, 4 }, { 1, 20, 6 } };
	static const struct day_peak dp2[] = { { 0, 20, 6 }, { 1, 8, 4 } };
	struct hist_point pts[2 * 24];
	time_t t0 = utc(2026, 11, 29, 0, 0, 0);
	struct advice a;
	size_t n;

	n = hourly(pts, t0, 2, 1, dp, 2);
	advise_points(pts, n, 25, t0 + 2 * DAY, &a);
	assert_int_equal(a.usual_hour, 20);
	n = hourly(pts, t0, 2, 1, dp2, 2);
	advise_points(pts, n, 25, t0 + 2 * DAY, &a);
	assert_int_equal(a.usual_hour, 20);
}

/* Within one day the first hour to reach the day's peak is that day's hour. */
static void test_advise_usual_hour_same_day(void **state)
{
	static const struct day_peak dp[] = { { 0, 10, 5 }, { 0, 15, 5 } };
	struct hist_point pts[24];
	time_t t0 = utc(2026, 11, 29, 0, 0, 0);
	struct advice a;

	advise_points(pts, hourly(pts, t0, 1, 0, dp, 2), 25, t0 + DAY, &a);
	assert_int_equal(a.usual_hour, 10);
}

/* The usual hour is a local hour. */
static void test_advise_usual_hour_local(void **state)
{
	static const struct day_peak dp[] = { { 0, 17, 8 }, { 1, 17, 8 }, { 2, 4, 9 } };
	struct hist_point pts[3 * 24];
	time_t t0 = utc(2026, 11, 29, 0, 0, 0);
	struct advice a;

	set_tz("XST-5:30");
	advise_points(pts, hourly(pts, t0, 3, 1, dp, 3), 25, t0 + 3 * DAY, &a);
	/* 17:00 UTC is 22:30 local */
	assert_int_equal(a.usual_hour, 22);
}

/*
 * Points older than 24 hours before now are earlier history; a point that
 * starts exactly 24 hours before now is recent.
 */
static void pattern_points(struct hist_point *pts, time_t now, unsigned int earlier,
			   unsigned int recent)
{
	pts[0].start = now - 3 * DAY;
	pts[0].peak = 1;
	pts[1].start = now - 2 * DAY;
	pts[1].peak = earlier;
	pts[2].start = now - DAY - 1;
	pts[2].peak = 2;
	pts[3].start = now - DAY;
	pts[3].peak = recent;
	pts[4].start = now - 60;
	pts[4].peak = 1;
}

static void test_advise_pattern_changed(void **state)
{
	time_t now = utc(2026, 12, 3, 12, 0, 0);
	struct hist_point pts[5];
	struct advice a;

	/* headroom 20 on an earlier peak of 10: 12 is within it, 13 is not */
	pattern_points(pts, now, 10, 12);
	advise_points(pts, 5, 20, now, &a);
	assert_true(a.earlier_known);
	assert_int_equal(a.earlier_peak, 10);
	assert_int_equal(a.recent_peak, 12);
	assert_false(a.changed);
	assert_int_equal(a.peak, 12);
	assert_int_equal(a.limit, 15);		/* 14.4 */

	pattern_points(pts, now, 10, 13);
	advise_points(pts, 5, 20, now, &a);
	assert_int_equal(a.recent_peak, 13);
	assert_true(a.changed);

	/* headroom 0: any rise is a change, the same peak is not */
	pattern_points(pts, now, 10, 10);
	advise_points(pts, 5, 0, now, &a);
	assert_false(a.changed);
	pattern_points(pts, now, 10, 11);
	advise_points(pts, 5, 0, now, &a);
	assert_true(a.changed);

	/* A fall is never a change. */
	pattern_points(pts, now, 10, 3);
	advise_points(pts, 5, 0, now, &a);
	assert_false(a.changed);
	assert_int_equal(a.peak, 10);
}

static void test_advise_earlier_known(void **state)
{
	time_t now = utc(2026, 12, 3, 12, 0, 0);
	struct hist_point pts[3] = {
		{ now - DAY, 1 }, { now - 3600, 50 }, { now, 2 },
	};
	struct advice a;

	/* Nothing older than 24 h: no earlier peak to compare with. */
	advise_points(pts, 3, 25, now, &a);
	assert_false(a.earlier_known);
	assert_false(a.changed);
	assert_int_equal(a.recent_peak, 50);
	assert_int_equal(a.peak, 50);

	/* One point a second older than 24 h, with a peak of 0, is earlier history. */
	pts[0].start = now - DAY - 1;
	pts[0].peak = 0;
	advise_points(pts, 3, 25, now, &a);
	assert_true(a.earlier_known);
	assert_int_equal(a.earlier_peak, 0);
	assert_true(a.changed);

	/* No points: nothing at all */
	advise_points(pts, 0, 25, now, &a);
	assert_false(a.earlier_known);
	assert_false(a.changed);
	assert_int_equal(a.peak, 0);
	assert_int_equal(a.limit, 0);
}

static void test_service_label(void **state)
{
	static const struct { unsigned int port; const char *label; } labels[] = {
		{ 25, "SMTP" }, { 465, "SMTPS" }, { 587, "SMTP Submission" },
		{ 110, "POP3" }, { 995, "POP3S" }, { 143, "IMAP" }, { 993, "IMAPS" },
		{ 80, "HTTP" }, { 443, "HTTPS" }, { 119, "NNTP" }, { 563, "NNTPS" },
		{ 389, "LDAP" }, { 636, "LDAPS" },
	};
	static const unsigned int none[] = { 0, 1, 24, 26, 8080, 2525, 65535, 70000 };
	size_t i;

	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		assert_non_null(service_label(labels[i].port));
		assert_string_equal(service_label(labels[i].port), labels[i].label);
	}
	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		assert_null(service_label(none[i]));
}

#define TZ_TEST(fn) cmocka_unit_test_teardown(fn, teardown_tz)

/* Saved records of one run, from a damaged file or not. */
static struct state_rec saved(__u32 bucket, time_t wall, unsigned int peak, unsigned int start)
{
	struct state_rec r = {
		.boot_id = "0c1d2e3f-aaaa-bbbb-cccc-1234567890ab",
		.run_start_ns = 5 * NS, .bucket = bucket, .bucket_s = 300,
		.wall_start = wall, .peak = peak, .start = start,
	};

	return r;
}

/* A gap inside a run holds the next record's start; a damaged one stays empty. */
static void test_saved_gaps(void **state)
{
	struct state_rec r[2] = { saved(10, REAL0, 4, 1), saved(13, REAL0 + 900, 6, 2) };
	struct hist_point *p = NULL;
	long n;

	n = hist_saved(r, 2, "other-boot", 0, 0, 0, &p);
	assert_int_equal(n, 4);
	assert_int_equal(p[1].start, REAL0 + 300);
	assert_int_equal(p[1].peak, 2);
	assert_int_equal(p[2].start, REAL0 + 600);
	assert_int_equal(p[3].peak, 6);
	free(p);

	/* 4 billion buckets apart: the two points only */
	r[1] = saved(4000000000U, REAL0 + 300, 3, 2);
	n = hist_saved(r, 2, "other-boot", 0, 0, 0, &p);
	assert_int_equal(n, 2);
	free(p);

	/* a start time at the end of time_t: filling would overflow */
	r[0] = saved(20, 0x7fffffffffffffffLL, 2, 0);
	r[1] = saved(24, REAL0, 3, 2);
	n = hist_saved(r, 2, "other-boot", 0, 0, 0, &p);
	assert_int_equal(n, 2);
	free(p);

	/* the current run's newest bucket is the last a u32 holds */
	r[0] = saved(0xffffffffU, REAL0, 12, 9);
	n = hist_saved(r, 1, r[0].boot_id, r[0].run_start_ns, 0x100000000ULL, 9, &p);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].peak, 12);
	free(p);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series_gaps),
		cmocka_unit_test(test_series_no_records),
		cmocka_unit_test(test_series_one_bucket),
		cmocka_unit_test(test_series_stale_lap),
		cmocka_unit_test(test_series_two_ports),
		cmocka_unit_test(test_series_start_clip),
		cmocka_unit_test(test_series_ring_window),
		cmocka_unit_test(test_clip),
		cmocka_unit_test(test_aggregate_hour),
		cmocka_unit_test(test_aggregate_day),
		cmocka_unit_test(test_aggregate_ties),
		cmocka_unit_test(test_aggregate_bucket),
		TZ_TEST(test_aggregate_local_zone),
		cmocka_unit_test(test_parse_time_forms),
		cmocka_unit_test(test_parse_time_days),
		TZ_TEST(test_parse_time_local_zone),
		cmocka_unit_test(test_parse_time_bad),
		cmocka_unit_test(test_parse_time_impossible_date),
		cmocka_unit_test(test_advise_limit),
		cmocka_unit_test(test_advise_usual_hour),
		cmocka_unit_test(test_advise_usual_hour_tie),
		cmocka_unit_test(test_advise_usual_hour_same_day),
		TZ_TEST(test_advise_usual_hour_local),
		cmocka_unit_test(test_advise_pattern_changed),
		cmocka_unit_test(test_advise_earlier_known),
		cmocka_unit_test(test_service_label),
		cmocka_unit_test(test_saved_gaps),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
