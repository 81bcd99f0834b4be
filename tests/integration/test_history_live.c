// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * History and advise against a running tracker with one-second buckets.
 *
 * The oracle is the test's own timeline: every open and close it makes is
 * logged with CLOCK_BOOTTIME read before and after (buckets are boot time
 * in whole seconds, as in the kernel). From the timeline the test works out
 * for each bucket the least peak it must show and the most it may show;
 * where no action came near a boundary the two are equal and the check is
 * exact. Actions are made a little after a boundary; an action seen to run
 * into the next bucket is made again in a later one rather than failing.
 * Points map to buckets by order: the last is the bucket the query ran in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <linux/types.h>
#include "connpeak.h"
#include "harness.h"

#define PORT_DRIVEN	21001
#define PORT_STANDING	21002
#define PORT_WRAP	21003
#define PORT_RACE	21004
#define PORT_SEEDED	21005
#define PORT_SEED_EDGE	21006
#define PORT_NAMED	21007
#define PORT_LISTENING	21008
#define PORT_LATE	21009
#define PORT_NO_HIST	21010
#define PORT_ADVISE	587	/* labelled "SMTP Submission" by advise */

#define SEC_NS		1000000000LL
#define MARGIN_MS	120	/* actions begin this long after a boundary */
#define RETRIES		3
#define MAX_OPS		512
#define MAX_CONNS	32
#define MAX_POINTS	128
#define NO_END		LLONG_MAX

/* ---- clock and buckets ---- */

static long long boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * SEC_NS + ts.tv_nsec;
}

static long long bucket_of(long long ns)
{
	return ns / SEC_NS;
}

static void sleep_until(long long ns)
{
	struct timespec ts = { .tv_sec = ns / SEC_NS, .tv_nsec = ns % SEC_NS };

	while (clock_nanosleep(CLOCK_BOOTTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Sleep to margin_ms past the next boundary; returns the bucket now begun. */
static long long next_bucket(int margin_ms)
{
	sleep_until((bucket_of(boot_ns()) + 1) * SEC_NS + margin_ms * 1000000LL);
	return bucket_of(boot_ns());
}

/* ---- the timeline: what the test opened and closed, and when ---- */

struct op {
	long long t0, t1;	/* CLOCK_BOOTTIME before and after the action */
	int before, after;	/* count before and after */
};

struct timeline {
	int c0;			/* count held since before tracking began */
	int n, max;
	struct op *ops;
};

/* What a timeline allows for one bucket. */
struct bounds {
	int lo;		/* held for certain at some instant of the bucket */
	int hi;		/* the most that may have been held in it */
	int min;	/* the least that may have been held in it */
	int at_start;	/* the least that may have stood at its first instant */
};

static void tl_add(struct timeline *tl, long long t0, long long t1, int before, int after)
{
	struct op *op;

	if (tl->n >= tl->max)
		H_FAIL("timeline: more than %d actions", tl->max);
	op = &tl->ops[tl->n++];
	op->t0 = t0;
	op->t1 = t1;
	op->before = before;
	op->after = after;
}

static int imax(int a, int b)
{
	return a > b ? a : b;
}

static int imin(int a, int b)
{
	return a < b ? a : b;
}

/*
 * Between two actions the count is known and held throughout; during an
 * action it is either the count before or the count after.
 */
static void tl_bounds(const struct timeline *tl, long long b, struct bounds *bd)
{
	long long from = b * SEC_NS, to = from + SEC_NS, s, e;
	const struct op *op;
	int i, c;

	bd->lo = bd->hi = -1;
	bd->min = bd->at_start = INT_MAX;
	for (i = 0; i <= tl->n; i++) {
		s = i ? tl->ops[i - 1].t1 : LLONG_MIN;
		e = i < tl->n ? tl->ops[i].t0 : NO_END;
		c = i ? tl->ops[i - 1].after : tl->c0;
		if (s >= to || e < from)
			continue;
		bd->lo = imax(bd->lo, c);
		bd->hi = imax(bd->hi, c);
		bd->min = imin(bd->min, c);
		if (s <= from)
			bd->at_start = imin(bd->at_start, c);
	}
	for (i = 0; i < tl->n; i++) {
		op = &tl->ops[i];
		if (op->t0 >= to || op->t1 < from)
			continue;
		bd->hi = imax(bd->hi, imax(op->before, op->after));
		bd->min = imin(bd->min, imin(op->before, op->after));
		if (op->t0 <= from)
			bd->at_start = imin(bd->at_start, imin(op->before, op->after));
	}
	bd->lo = imax(bd->lo, bd->min);
}

/*
 * Several timelines counted on one port: at the instant one holds its
 * certain count, each other holds at least its least.
 */
static void bounds_of(const struct timeline *tls, int ntl, long long b, struct bounds *out)
{
	struct bounds bd[2];
	int w;

	memset(out, 0, sizeof(*out));
	for (w = 0; w < ntl && w < 2; w++) {
		tl_bounds(&tls[w], b, &bd[w]);
		out->hi += bd[w].hi;
		out->min += bd[w].min;
		out->at_start += bd[w].at_start;
	}
	out->lo = imax(out->min, out->at_start);
	for (w = 0; w < ntl && w < 2; w++)
		out->lo = imax(out->lo, bd[w].lo + out->min - bd[w].min);
}

/* ---- connections the test process holds on one port ---- */

struct conns {
	int lfd;
	const char *addr;
	unsigned int port;
	int n;
	int c[MAX_CONNS], a[MAX_CONNS];
};

static void conns_listen(struct conns *cs, const char *addr, unsigned int port)
{
	memset(cs, 0, sizeof(*cs));
	cs->addr = addr;
	cs->port = port;
	cs->lfd = h_listen(addr, port, 64);
}

/* The accepted end is established by the time accept returns. */
static void conn_open(struct timeline *tl, struct conns *cs)
{
	long long t0 = boot_ns();

	if (cs->n >= MAX_CONNS)
		H_FAIL("port %u: more than %d connections", cs->port, MAX_CONNS);
	cs->c[cs->n] = h_connect(cs->addr, cs->port);
	cs->a[cs->n] = h_accept(cs->lfd);
	cs->n++;
	tl_add(tl, t0, boot_ns(), cs->n - 1, cs->n);
}

/* Server first: the accepted end stops counting inside its close(). */
static void conn_close(struct timeline *tl, struct conns *cs)
{
	long long t0 = boot_ns();

	cs->n--;
	h_close(cs->a[cs->n]);
	h_close(cs->c[cs->n]);
	tl_add(tl, t0, boot_ns(), cs->n + 1, cs->n);
}

static void conn_goto(struct timeline *tl, struct conns *cs, int n)
{
	while (cs->n < n)
		conn_open(tl, cs);
	while (cs->n > n)
		conn_close(tl, cs);
}

/*
 * A step takes the count through absolute targets inside one bucket, so a
 * step run again after straddling a boundary makes the same peaks.
 */
struct step {
	int n;
	int to[4];
};

#define run_step(tl, cs, st) run_step_(H_HERE, tl, cs, st)
static long long run_step_(const char *file, int line, struct timeline *tl, struct conns *cs,
			   const struct step *st)
{
	long long b;
	int tries, i;

	for (tries = 0; tries < RETRIES; tries++) {
		b = next_bucket(MARGIN_MS);
		for (i = 0; i < st->n; i++)
			conn_goto(tl, cs, st->to[i]);
		if (bucket_of(boot_ns()) == b)
			return b;
		print_message("bucket %lld: actions ran into the next bucket; again\n", b);
	}
	h_fail_(file, line, "every try of a step ran across a bucket boundary");
	return -1;
}

/* ---- running connpeak ---- */

/* start --bucket 1 --keep KEEP [ARGS...]; returns the bucket it ran in, or -1 if two. */
#define start_hist(keep, ...) start_hist_(H_HERE, keep, __VA_ARGS__)
static long long start_hist_(const char *file, int line, const char *keep, const char *a1,
			     const char *a2, const char *a3)
{
	long long b0, b1;
	char msg[1024];
	struct h_out o;

	b0 = bucket_of(boot_ns());
	h_cp(&o, "start", "--bucket", "1", "--keep", keep, a1, a2, a3, NULL);
	b1 = bucket_of(boot_ns());
	if (o.status != 0) {
		snprintf(msg, sizeof(msg), "start --bucket 1 --keep %s: exit status %d: %s", keep,
			 o.status, o.err);
		h_out_free(&o);
		h_fail_(file, line, "%s", msg);
	}
	h_out_free(&o);
	return b0 == b1 ? b0 : -1;
}

static void stop_(const char *file, int line)
{
	struct h_out o;
	int status;

	h_cp(&o, "stop", NULL);
	status = o.status;
	h_out_free(&o);
	h_eq_(file, line, 0, status, "connpeak stop: exit status");
}

static int nlines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Exit status, one line on stderr that contains want, nothing on stdout. */
static void expect_error_(const char *file, int line, const struct h_out *o, int status,
			  const char *want, const char *what)
{
	if (o->status != status || nlines(o->err) != 1 || !strstr(o->err, want) || o->out[0])
		print_error("%s: stdout '%s', stderr '%s'\n", what, o->out, o->err);
	h_eq_(file, line, status, o->status, "%s: exit status", what);
	h_eq_(file, line, 1, nlines(o->err), "%s: lines on stderr", what);
	if (!strstr(o->err, want))
		h_fail_(file, line, "%s: expected '%s' in the message", what, want);
	h_eq_(file, line, 0, (long long)strlen(o->out), "%s: bytes on stdout", what);
}

/* ---- history --json, parsed by the test ---- */

struct hpoint {
	unsigned int port;
	time_t start;
	long long peak;
};

struct hseries {
	int n;
	struct hpoint p[MAX_POINTS];
	char text[8192];
};

static bool lit(const char **p, const char *s)
{
	size_t n = strlen(s);

	if (strncmp(*p, s, n))
		return false;
	*p += n;
	return true;
}

static bool num(const char **p, long long *v)
{
	const char *s = **p == '-' ? *p + 1 : *p;
	char *end;

	if (*s < '0' || *s > '9' || (*s == '0' && s[1] >= '0' && s[1] <= '9'))
		return false;
	errno = 0;
	*v = strtoll(*p, &end, 10);
	*p = end;
	return !errno;
}

/* A JSON string without escapes, or null (an empty string). */
static bool str_or_null(const char **p, char *buf, size_t len)
{
	const char *q;

	buf[0] = '\0';
	if (lit(p, "null"))
		return true;
	if (!lit(p, "\""))
		return false;
	q = strchr(*p, '"');
	if (!q || q == *p || (size_t)(q - *p) >= len || memchr(*p, '\\', q - *p))
		return false;
	memcpy(buf, *p, q - *p);
	buf[q - *p] = '\0';
	*p = q + 1;
	return true;
}

static bool utc_stamp(const char *s, time_t *t)
{
	struct tm tm = {};
	const char *end;

	if (strlen(s) != 20)
		return false;
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return false;
	*t = timegm(&tm);
	return true;
}

static bool hist_point(const char **p, struct hpoint *pt)
{
	char service[64], start[32];
	long long port;

	if (!lit(p, "{\"port\":") || !num(p, &port) || port < 1 || port > 65535)
		return false;
	pt->port = port;
	return lit(p, ",\"service\":") && str_or_null(p, service, sizeof(service)) &&
	       lit(p, ",\"start\":") && str_or_null(p, start, sizeof(start)) &&
	       utc_stamp(start, &pt->start) && lit(p, ",\"peak\":") && num(p, &pt->peak) &&
	       pt->peak >= 0 && lit(p, "}");
}

static bool hist_parse(const char *json, struct hseries *h)
{
	const char *p = json;

	h->n = 0;
	snprintf(h->text, sizeof(h->text), "%s", json);
	if (!lit(&p, "{\"history\":["))
		return false;
	while (*p != ']') {
		if (h->n == MAX_POINTS || (h->n && !lit(&p, ",")))
			return false;
		if (!hist_point(&p, &h->p[h->n++]))
			return false;
	}
	return lit(&p, "]}\n") && !*p;
}

/* Run history with args; exit 0, nothing on stderr, well-formed. */
static void history_run_(const char *file, int line, struct hseries *h, const char *a1,
			 const char *a2, const char *a3, const char *a4)
{
	char msg[8192];
	struct h_out o;

	h_cp(&o, "history", "--json", a1, a2, a3, a4, NULL);
	if (o.status != 0 || o.err[0] || !hist_parse(o.out, h)) {
		snprintf(msg, sizeof(msg), "history --json %s %s: exit status %d, stderr '%s', "
			 "stdout '%s'", a1 ? a1 : "", a1 && a2 ? a2 : "", o.status, o.err, o.out);
		h_out_free(&o);
		h_fail_(file, line, "%s", msg);
	}
	h_out_free(&o);
}

/*
 * history --by bucket --json PORT, run again if it ran across a boundary;
 * returns the bucket of its last point.
 */
#define history_of(port, h) history_of_(H_HERE, port, h)
static long long history_of_(const char *file, int line, unsigned int port, struct hseries *h)
{
	char arg[16];
	long long b0;
	int tries, i;

	snprintf(arg, sizeof(arg), "%u", port);
	for (tries = 0; tries < RETRIES; tries++) {
		b0 = bucket_of(boot_ns());
		history_run_(file, line, h, "--by", "bucket", arg, NULL);
		if (bucket_of(boot_ns()) != b0)
			continue;
		for (i = 0; i < h->n; i++) {
			h_eq_(file, line, port, h->p[i].port, "history point %d: port", i);
			h_eq_(file, line, h->p[0].start + i, h->p[i].start,
			      "history point %d: start, one bucket after the one before", i);
		}
		return b0;
	}
	h_fail_(file, line, "history: every query ran across a bucket boundary");
	return -1;
}

/* The peak shown for bucket b, or -1 when it is not among the points. */
static long long peak_of(const struct hseries *h, long long last, long long b)
{
	long long i = h->n - 1 - (last - b);

	return i >= 0 && i < h->n ? h->p[i].peak : -1;
}

static void print_series(const struct hseries *h, long long last, const struct timeline *tls,
			 int ntl)
{
	struct bounds bd;
	long long b;
	int i;

	for (i = 0; i < h->n; i++) {
		b = last - (h->n - 1 - i);
		bounds_of(tls, ntl, b, &bd);
		print_error("  bucket %lld: peak %lld, allowed %d to %d\n", b, h->p[i].peak, bd.lo,
			    bd.hi);
	}
}

/*
 * Every point from bucket from on within what the timelines allow; n_lo to
 * n_hi points (n_lo < 0: not checked).
 */
#define check_series(h, last, tls, ntl, from, n_lo, n_hi) \
	check_series_(H_HERE, h, last, tls, ntl, from, n_lo, n_hi)
static void check_series_(const char *file, int line, const struct hseries *h, long long last,
			  const struct timeline *tls, int ntl, long long from, int n_lo, int n_hi)
{
	struct bounds bd;
	long long b;
	int i;

	if (n_lo >= 0 && (h->n < n_lo || h->n > n_hi)) {
		print_error("history: %s\n", h->text);
		h_fail_(file, line, "history: expected %d to %d points, actual %d", n_lo, n_hi,
			h->n);
	}
	for (i = 0; i < h->n; i++) {
		b = last - (h->n - 1 - i);
		if (b < from)
			continue;
		bounds_of(tls, ntl, b, &bd);
		if (h->p[i].peak >= bd.lo && h->p[i].peak <= bd.hi)
			continue;
		print_series(h, last, tls, ntl);
		h_fail_(file, line, "bucket %lld (point %d of %d): expected a peak from %d to %d, "
			"actual %lld", b, i, h->n, bd.lo, bd.hi, h->p[i].peak);
	}
}

/* A bucket the test meant to know exactly: its bookkeeping is exact and it shows want. */
#define expect_bucket(h, last, tl, b, want) expect_bucket_(H_HERE, h, last, tl, b, want)
static void expect_bucket_(const char *file, int line, const struct hseries *h, long long last,
			   const struct timeline *tl, long long b, int want)
{
	struct bounds bd;

	tl_bounds(tl, b, &bd);
	h_eq_(file, line, want, bd.lo, "bucket %lld: the test's own bookkeeping", b);
	h_eq_(file, line, want, bd.hi, "bucket %lld: the test's own bookkeeping, at most", b);
	if (peak_of(h, last, b) != want)
		print_series(h, last, tl, 1);
	h_eq_(file, line, want, peak_of(h, last, b), "bucket %lld: peak in history", b);
}

/* Points from the bucket tracking began in to last, at most nbuckets. */
static void expected_points(long long start_b, long long last, int nbuckets, int *lo, int *hi)
{
	long long n = start_b < 0 ? -1 : last - start_b + 1;

	if (n < 0) {
		*lo = -1;
		*hi = nbuckets;
		return;
	}
	*lo = *hi = n > nbuckets ? nbuckets : (int)n;
}

/* ---- (a) a driven workload, bucket by bucket ---- */

static void test_driven_buckets(void **state)
{
	static const struct step steps[] = {
		{ 1, { 3 } },		/* 0 -> 3: peak 3 */
		{ 2, { 5, 1 } },	/* 3 -> 5 -> 1: peak 5 */
		{ 2, { 2, 1 } },	/* an instant at 2: peak 2 */
		{ 0, {} },		/* nothing: the 1 standing */
		{ 1, { 0 } },		/* 1 -> 0: peak 1, the count at its start */
		{ 0, {} },		/* nothing: 0 */
		{ 2, { 4, 2 } },	/* 0 -> 4 -> 2, queried in this bucket: peak 4 */
	};
	static const int want[] = { 3, 5, 2, 1, 1, 0, 4 };
	struct op ops[MAX_OPS];
	struct timeline tl = { .ops = ops, .max = MAX_OPS };
	long long start_b, b[7], last;
	struct hseries h;
	struct conns cs;
	int i, lo, hi;

	h_require();
	conns_listen(&cs, "127.0.0.1", PORT_DRIVEN);
	start_b = start_hist("12s", NULL, NULL, NULL);
	for (i = 0; i < 7; i++)
		b[i] = run_step(&tl, &cs, &steps[i]);
	last = history_of(PORT_DRIVEN, &h);

	expected_points(start_b, last, 12, &lo, &hi);
	check_series(&h, last, &tl, 1, 0, lo, hi);
	for (i = 0; i < 7; i++)
		expect_bucket(&h, last, &tl, b[i], want[i]);
	if (last == b[6])
		H_EQ(4, h.p[h.n - 1].peak, "the current bucket, with 2 open now");

	/* Without --by, JSON is per bucket; per hour is the highest bucket. */
	history_run_(H_HERE, &h, NULL, NULL, NULL, NULL);
	H_LE(12, h.n, "points per bucket without --by");
	history_run_(H_HERE, &h, "--by", "hour", NULL, NULL);
	H_LE(2, h.n, "points per hour");
	H_EQ(5, h.p[h.n - 1].peak > h.p[0].peak ? h.p[h.n - 1].peak : h.p[0].peak,
	     "peak of the hour");
}

/* ---- (b) buckets with no change carry the count that stands ---- */

static void test_standing_count(void **state)
{
	static const struct step open3 = { 1, { 3 } }, close1 = { 1, { 2 } };
	struct op ops[MAX_OPS];
	struct timeline tl = { .ops = ops, .max = MAX_OPS };
	long long start_b, b, last;
	struct hseries h;
	struct conns cs;
	int lo, hi;

	h_require();
	conns_listen(&cs, "127.0.0.1", PORT_STANDING);
	start_b = start_hist("10s", NULL, NULL, NULL);
	b = run_step(&tl, &cs, &open3);
	next_bucket(MARGIN_MS);
	next_bucket(MARGIN_MS);
	if (run_step(&tl, &cs, &close1) != b + 3)
		print_message("the machine stalled: the close came later than planned\n");
	next_bucket(MARGIN_MS);
	last = history_of(PORT_STANDING, &h);

	expected_points(start_b, last, 10, &lo, &hi);
	check_series(&h, last, &tl, 1, 0, lo, hi);
	expect_bucket(&h, last, &tl, b, 3);
	expect_bucket(&h, last, &tl, b + 1, 3);
	expect_bucket(&h, last, &tl, b + 2, 3);
	expect_bucket(&h, last, &tl, last, 2);
	H_EQ(2, h_ss_count(PORT_STANDING, H_IN), "ss: open inbound");
}

/* ---- (c) the ring wraps around ---- */

static void test_ring_wraps(void **state)
{
	static const struct step lap1[] = {
		{ 2, { 3, 0 } }, { 1, { 1 } }, { 2, { 5, 1 } }, { 2, { 0, 2 } }, { 2, { 3, 2 } },
	};
	static const struct step bump = { 2, { 3, 2 } };
	struct op ops[MAX_OPS];
	struct timeline tl = { .ops = ops, .max = MAX_OPS };
	long long b0, bb, last, b;
	struct hseries h;
	struct conns cs;
	int i;

	h_require();
	conns_listen(&cs, "127.0.0.1", PORT_WRAP);
	start_hist("5s", NULL, NULL, NULL);
	b0 = run_step(&tl, &cs, &lap1[0]);
	for (i = 1; i < 5; i++)
		run_step(&tl, &cs, &lap1[i]);
	/*
	 * Three buckets with no change, whose ring slots still hold records of
	 * the first lap, then one change, one more quiet bucket, and the query.
	 */
	for (i = 0; i < 3; i++)
		next_bucket(MARGIN_MS);
	bb = run_step(&tl, &cs, &bump);
	next_bucket(MARGIN_MS);
	last = history_of(PORT_WRAP, &h);

	H_LE(last, b0 + 9, "the query came at least nine buckets after the first step");
	check_series(&h, last, &tl, 1, 0, 5, 5);
	for (b = last - 4; b <= last; b++)
		expect_bucket(&h, last, &tl, b, b == bb ? 3 : 2);
}

/*
 * ---- (d) two CPUs racing into new buckets ----
 *
 * Two processes, pinned to CPU 0 and CPU 1, open and close connections on
 * one port in tight loops across RACE_BOUNDARIES boundaries, each logging its
 * own actions. Every bucket must lie within what the two logs together allow,
 * and once they are still, the current bucket must equal ss.
 */

#define RACE_HOLD	6		/* connections a worker holds at most, late in a bucket */
#define RACE_LOW	1		/* ... and in the rest of it */
#define RACE_NEAR_NS	160000000LL	/* late: this close to the next boundary */
#define RACE_QUIET_NS	100000000LL	/* no action this close to it */
#define RACE_GO_NS	20000LL		/* and none until this long after it */
#define RACE_MAX_OPS	250000
#define RACE_BOUNDARIES	6

struct race_log {
	int ready, done, err, held;
	int n;
	struct op ops[RACE_MAX_OPS];
};

struct race_shm {
	int go, stop;
	struct race_log log[2];
};

static const char *const race_addr[2] = { "127.0.0.1", "127.0.0.2" };

static int addr4(const char *addr, unsigned int port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	return inet_pton(AF_INET, addr, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static int raw_listen(const char *addr, unsigned int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	if (addr4(addr, port, &sa))
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* One connection to the worker's own listener: client and accepted ends. */
static int raw_pair(int lfd, const char *addr, unsigned int port, int *c, int *a)
{
	struct sockaddr_in sa;

	addr4(addr, port, &sa);
	*c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*c < 0)
		return -errno;
	if (connect(*c, (struct sockaddr *)&sa, sizeof(sa))) {
		close(*c);
		return -errno;
	}
	*a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*a >= 0)
		return 0;
	close(*c);
	return -errno;
}

static void log_op(struct race_log *lg, long long t0, int before, int after)
{
	struct op *op = &lg->ops[lg->n];

	op->t0 = t0;
	op->t1 = boot_ns();
	op->before = before;
	op->after = after;
	__atomic_store_n(&lg->n, lg->n + 1, __ATOMIC_RELEASE);
}

/*
 * Late in an even bucket a worker climbs to between RACE_HOLD - 2 and
 * RACE_HOLD; otherwise it stays at RACE_LOW or below. Both pause for the
 * last RACE_QUIET_NS of every bucket, so the count standing at a boundary is
 * known exactly, and set off together just after it. An odd bucket so begins
 * with a high count that both CPUs at once start to close, and never climbs
 * back: its peak is exactly the count that stood at its start.
 */
static void race_range(long long t, int *lo, int *hi)
{
	bool high = SEC_NS - t % SEC_NS < RACE_NEAR_NS && bucket_of(t) % 2 == 0;

	*lo = high ? RACE_HOLD - 2 : 0;
	*hi = high ? RACE_HOLD : RACE_LOW;
}

static bool race_pause(long long t)
{
	if (SEC_NS - t % SEC_NS >= RACE_QUIET_NS)
		return false;
	/* Sleep, not spin: a spinning CPU would hold up the loopback softirqs queued on it. */
	sleep_until((bucket_of(t) + 1) * SEC_NS + RACE_GO_NS);
	return true;
}

/* A walk between random targets in the range of the moment, as fast as it goes. */
static int race_loop(struct race_shm *shm, struct race_log *lg, int lfd, const char *addr,
		     unsigned int seed)
{
	int c[RACE_HOLD], a[RACE_HOLD], held = 0, target = 0, lo, hi, err;
	long long t0;

	while (!__atomic_load_n(&shm->stop, __ATOMIC_ACQUIRE) && lg->n < RACE_MAX_OPS) {
		t0 = boot_ns();
		if (race_pause(t0))
			continue;
		race_range(t0, &lo, &hi);
		while (target < lo || target > hi || target == held)
			target = lo + rand_r(&seed) % (hi - lo + 1);
		if (held < target) {
			err = raw_pair(lfd, addr, PORT_RACE, &c[held], &a[held]);
			if (err)
				return err;
			log_op(lg, t0, held, held + 1);
			held++;
		} else {
			held--;
			close(a[held]);
			close(c[held]);
			log_op(lg, t0, held + 1, held);
		}
	}
	lg->held = held;
	return 0;
}

static void __attribute__((noreturn)) race_worker(struct race_shm *shm, int w)
{
	struct race_log *lg = &shm->log[w];
	cpu_set_t cpus;
	int lfd;

	close_range(3, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	CPU_ZERO(&cpus);
	CPU_SET(w, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		lfd = -errno;
	else
		lfd = raw_listen(race_addr[w], PORT_RACE);
	if (lfd < 0)
		lg->err = lfd;
	__atomic_store_n(&lg->ready, 1, __ATOMIC_RELEASE);
	while (lfd >= 0 && !__atomic_load_n(&shm->go, __ATOMIC_ACQUIRE))
		h_nap_ms(1);
	if (lfd >= 0)
		lg->err = race_loop(shm, lg, lfd, race_addr[w], 7919u * (w + 1));
	__atomic_store_n(&lg->done, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();	/* hold the connections until killed */
}

static void race_wait(struct race_shm *shm, bool done)
{
	long long deadline = h_now_ms() + 30000;
	int w, *flag;

	for (w = 0; w < 2; w++) {
		flag = done ? &shm->log[w].done : &shm->log[w].ready;
		while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE) && h_now_ms() < deadline)
			h_nap_ms(2);
		if (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
			H_FAIL("race worker %d: not %s within 30 s", w, done ? "done" : "ready");
		if (shm->log[w].err)
			H_FAIL("race worker %d: %s", w, strerror(-shm->log[w].err));
	}
}

/* Buckets of the race that began at a high count known exactly. */
static int race_exact(const struct timeline *tls, long long first)
{
	struct bounds bd;
	long long b;
	int n = 0;

	for (b = first + 1; b <= first + RACE_BOUNDARIES; b += 2) {
		bounds_of(tls, 2, b, &bd);
		n += bd.lo == bd.hi && bd.lo > 2 * RACE_LOW;
	}
	return n;
}

static void test_two_cpus_race(void **state)
{
	struct race_shm *shm;
	struct timeline tls[2];
	long long first, last, b;
	pid_t pids[2];
	struct hseries h;
	int w, held, ss, exact;

	h_require();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		H_FAIL("mmap: %s", strerror(errno));
	start_hist("20s", "21004", NULL, NULL);
	for (w = 0; w < 2; w++) {
		pids[w] = fork();
		if (pids[w] == 0)
			race_worker(shm, w);
		if (pids[w] < 0)
			H_FAIL("fork: %s", strerror(errno));
		h_child_track(pids[w]);
	}
	race_wait(shm, false);

	/* Begin 300 ms before the end of an even bucket; run across RACE_BOUNDARIES. */
	first = next_bucket(700);
	if (first % 2)
		first = next_bucket(700);
	__atomic_store_n(&shm->go, 1, __ATOMIC_RELEASE);
	sleep_until((first + RACE_BOUNDARIES) * SEC_NS + 300000000LL);
	__atomic_store_n(&shm->stop, 1, __ATOMIC_RELEASE);
	race_wait(shm, true);

	held = shm->log[0].held + shm->log[1].held;
	ss = h_ss_wait(PORT_RACE, H_IN, held);
	H_EQ(held, ss, "ss: inbound connections the workers hold");
	next_bucket(MARGIN_MS);
	last = history_of(PORT_RACE, &h);

	for (w = 0; w < 2; w++)
		tls[w] = (struct timeline){ .ops = shm->log[w].ops, .n = shm->log[w].n };
	exact = race_exact(tls, first);
	print_message("race: %d and %d actions; %d of %d buckets began at a known high count\n",
		      tls[0].n, tls[1].n, exact, RACE_BOUNDARIES / 2);
	check_series(&h, last, tls, 2, 0, -1, -1);
	if (!exact)
		H_FAIL("race: no bucket began at a count the test knew exactly");
	H_EQ(ss, h.p[h.n - 1].peak, "current bucket after the race vs ss");
	for (b = first; b <= last; b++)
		if (peak_of(&h, last, b) < 0)
			H_FAIL("bucket %lld of the race is not in the history", b);
	for (w = 0; w < 2; w++) {
		kill(pids[w], SIGKILL);
		h_child_wait(pids[w]);
	}
	munmap(shm, sizeof(*shm));
}

/* ---- (e) connections open before start ---- */

static void test_open_before_start(void **state)
{
	static const struct step close1 = { 1, { 2 } };
	struct op ops[MAX_OPS];
	struct timeline tl = { .ops = ops, .max = MAX_OPS, .c0 = 3 };
	long long start_b, last, b;
	struct hseries h;
	struct conns cs;
	int i, lo, hi;

	h_require();
	conns_listen(&cs, "127.0.0.1", PORT_SEEDED);
	for (i = 0; i < 3; i++) {
		cs.c[i] = h_connect("127.0.0.1", PORT_SEEDED);
		cs.a[i] = h_accept(cs.lfd);
	}
	cs.n = 3;
	start_b = start_hist("10s", NULL, NULL, NULL);
	last = history_of(PORT_SEEDED, &h);
	expected_points(start_b, last, 10, &lo, &hi);
	check_series(&h, last, &tl, 1, 0, lo, hi);
	H_EQ(3, h.p[0].peak, "first bucket, with 3 open before start");

	b = run_step(&tl, &cs, &close1);
	last = history_of(PORT_SEEDED, &h);
	expected_points(start_b, last, 10, &lo, &hi);
	check_series(&h, last, &tl, 1, 0, lo, hi);
	H_EQ(3, h.p[0].peak, "first bucket, with 3 open before start");
	expect_bucket(&h, last, &tl, b, 3);
}

/* The tracker's own start time, CLOCK_BOOTTIME, from its pinned stats map. */
static long long tracking_start_ns(void)
{
	__u32 key = CONNPEAK_STAT_START_NS;
	char path[128];
	__u64 v = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/stats", h_pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		H_FAIL("%s: %s", path, strerror(errno));
	if (bpf_map_lookup_elem(fd, &key, &v))
		H_FAIL("%s: lookup failed: %s", path, strerror(errno));
	close(fd);
	return (long long)v;
}

#define SEED_EACH	3000	/* pairs per holder */
#define SEED_TRIES	5

/*
 * Start's walk counts the connections already open one by one. When a
 * boundary falls during the walk, the bucket tracking began in must still
 * show every one of them: they were all open throughout it. From the second
 * try on, start is launched so that tracking begins (by the time earlier
 * tries took to get there) some tens of milliseconds before a boundary, which
 * then falls during the walk on many tries. The holders' 12,000 sockets and
 * the timewait sockets left by the race test make the walk last that long.
 */
static void test_seed_across_boundary(void **state)
{
	static const int lead_ms[SEED_TRIES] = { -1, 25, 15, 35, 25 };
	long long t0, t1, s, d, d_sum = 0, launch;
	struct h_holder hs[2];
	struct hseries h;
	int i, across = 0;

	h_require();
	h_holder_start(&hs[0], "127.0.0.1", PORT_SEED_EDGE);
	h_holder_start(&hs[1], "127.0.0.2", PORT_SEED_EDGE);
	h_holders_open(hs, 2, SEED_EACH);
	for (i = 0; i < SEED_TRIES; i++) {
		launch = (bucket_of(boot_ns()) + 1) * SEC_NS;
		d = i ? d_sum / i : 0;
		launch += lead_ms[i] < 0 ? 20000000LL : -d - lead_ms[i] * 1000000LL;
		if (launch < boot_ns() + 5000000LL)
			launch += SEC_NS;
		sleep_until(launch);
		t0 = boot_ns();
		start_hist("10s", NULL, NULL, NULL);
		t1 = boot_ns();
		s = tracking_start_ns();
		d_sum += s - t0;
		across += bucket_of(s) != bucket_of(t1);
		history_of(PORT_SEED_EDGE, &h);
		if (h.p[0].peak != 2 * SEED_EACH)
			print_error("try %d: tracking began %lld ms before a boundary, start ended "
				    "%lld ms after it; history: %s\n", i,
				    ((bucket_of(s) + 1) * SEC_NS - s) / 1000000,
				    (t1 - (bucket_of(s) + 1) * SEC_NS) / 1000000, h.text);
		H_EQ(2 * SEED_EACH, h.p[0].peak, "try %d: first bucket, all open before start", i);
		stop_(H_HERE);
	}
	print_message("seed: %d of %d starts ran across a boundary\n", across, SEED_TRIES);
}

/* ---- (f) which ports have history ---- */

static void expect_no_history(const char *port, const char *listed)
{
	struct h_out o;

	h_cp(&o, "history", port, NULL);
	expect_error_(H_HERE, &o, 1, port, "history of a port without history");
	if (!strstr(o.err, listed))
		H_FAIL("history %s: expected '%s' in '%s'", port, listed, o.err);
	h_out_free(&o);
}

static void test_named_and_listening_ports(void **state)
{
	static const struct step open2 = { 1, { 2 } };
	struct op ops[MAX_OPS];
	struct timeline tl = { .ops = ops, .max = MAX_OPS };
	struct hseries h;
	struct conns cs;
	struct h_out o;
	long long last;
	int i, seen[2] = {};

	h_require();
	h_listen("127.0.0.1", PORT_LISTENING, 16);
	start_hist("10s", "21007", NULL, NULL);
	h_listen("127.0.0.1", PORT_LATE, 16);

	/* Named without a listener: history, all at 0. */
	history_of(PORT_NAMED, &h);
	for (i = 0; i < h.n; i++)
		H_EQ(0, h.p[i].peak, "named port, nothing open: point %d", i);
	history_of(PORT_LISTENING, &h);
	expect_no_history("21009", "ports with history: 21007, 21008");
	h_cp(&o, "history", "21007", "21009", NULL);
	H_EQ(1, o.status, "history of one port with history and one without");
	h_out_free(&o);

	/* With no port named: the ports that have history, and only those. */
	history_run_(H_HERE, &h, NULL, NULL, NULL, NULL);
	for (i = 0; i < h.n; i++) {
		if (h.p[i].port != PORT_NAMED && h.p[i].port != PORT_LISTENING)
			H_FAIL("history lists port %u, which has no history", h.p[i].port);
		seen[h.p[i].port == PORT_LISTENING]++;
	}
	if (!seen[0] || !seen[1] || abs(seen[0] - seen[1]) > 1)
		H_FAIL("history: %d points of port 21007 and %d of 21008", seen[0], seen[1]);

	/* The named port gets a listener later, and counts. */
	conns_listen(&cs, "127.0.0.1", PORT_NAMED);
	run_step(&tl, &cs, &open2);
	last = history_of(PORT_NAMED, &h);
	check_series(&h, last, &tl, 1, 0, -1, -1);
}

/* Named ports come first and --history-ports caps them; 0 means none. */
static void test_history_ports_limit(void **state)
{
	struct h_out o;

	h_require();
	h_listen("127.0.0.1", PORT_LISTENING, 16);
	start_hist("10s", "--history-ports", "1", "21007");
	expect_no_history("21008", "ports with history: 21007");
	stop_(H_HERE);

	start_hist("10s", "--history-ports", "0", NULL);
	h_cp(&o, "history", NULL);
	expect_error_(H_HERE, &o, 1, "no port has history", "history with no history ports");
	h_out_free(&o);
}

/* ---- (g) advise on a driven workload ---- */

struct advice_row {
	long long port, peak, usual_hour, headroom, limit, users_start;	/* -1: null */
	long long client_peak, client_limit;				/* -1: null */
	char service[64], top_client[64];
	char refused[256];	/* between the brackets; "null" for null */
	bool changed;
};

static bool num_or_null(const char **p, long long *v)
{
	*v = -1;
	return lit(p, "null") || num(p, v);
}

/* The per-client fields, after users_start. */
static bool advice_clients(const char **p, struct advice_row *r)
{
	const char *end;

	if (!lit(p, ",\"client_peak\":") || !num_or_null(p, &r->client_peak) ||
	    !lit(p, ",\"client_limit\":") || !num_or_null(p, &r->client_limit) ||
	    !lit(p, ",\"top_client\":") || !str_or_null(p, r->top_client, sizeof(r->top_client)) ||
	    !lit(p, ",\"refused\":"))
		return false;
	if (lit(p, "null")) {
		snprintf(r->refused, sizeof(r->refused), "null");
		return true;
	}
	end = strchr(*p, ']');
	if (!lit(p, "[") || !end || (size_t)(end - *p) >= sizeof(r->refused))
		return false;
	snprintf(r->refused, sizeof(r->refused), "%.*s", (int)(end - *p), *p);
	*p = end + 1;
	return true;
}

static bool advice_row(const char **p, struct advice_row *r)
{
	if (!lit(p, "{\"port\":") || !num(p, &r->port) || !lit(p, ",\"service\":") ||
	    !str_or_null(p, r->service, sizeof(r->service)) || !lit(p, ",\"peak\":") ||
	    !num(p, &r->peak) || !lit(p, ",\"usual_hour\":") || !num(p, &r->usual_hour) ||
	    !lit(p, ",\"headroom_pct\":") || !num(p, &r->headroom) ||
	    !lit(p, ",\"limit\":") || !num(p, &r->limit) || !lit(p, ",\"pattern_changed\":"))
		return false;
	if (lit(p, "true"))
		r->changed = true;
	else if (lit(p, "false"))
		r->changed = false;
	else
		return false;
	return lit(p, ",\"users_start\":") && num_or_null(p, &r->users_start) &&
	       advice_clients(p, r) && lit(p, "}");
}

/* advise --json [A1 A2]: exactly the rows of the ports 587 and 21010. */
static void advise_run(struct advice_row rows[2], const char *a1, const char *a2)
{
	struct h_out o;
	const char *p;
	bool ok;

	h_cp(&o, "advise", "--json", a1, a2, NULL);
	p = o.out;
	ok = o.status == 0 && !o.err[0] && lit(&p, "{\"advice\":[") && advice_row(&p, &rows[0]) &&
	     lit(&p, ",") && advice_row(&p, &rows[1]) && lit(&p, "]}\n") && !*p;
	if (!ok)
		print_error("advise --json %s %s: exit status %d, stderr '%s', stdout '%s'\n",
			    a1 ? a1 : "", a1 && a2 ? a2 : "", o.status, o.err, o.out);
	h_out_free(&o);
	if (!ok)
		H_FAIL("advise --json: expected two well-formed rows, for 587 and 21010");
	H_EQ(PORT_ADVISE, rows[0].port, "advise: first row");
	H_EQ(PORT_NO_HIST, rows[1].port, "advise: second row");
}

static int local_hour(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return tm.tm_hour;
}

/* The local hour the history port peaked in, and the other port's peak hour from show. */
static void advise_hours(int *hist_hour, int *show_hour)
{
	const struct h_row *r;
	struct h_rows rows;
	struct hseries h;
	time_t t;
	int i, best = 0;

	history_of(PORT_ADVISE, &h);
	for (i = 1; i < h.n; i++)
		if (h.p[i].peak > h.p[best].peak)
			best = i;
	*hist_hour = local_hour(h.p[best].start);
	h_show(&rows);
	r = h_rows_find(&rows, PORT_NO_HIST, H_IN);
	if (!r || !utc_stamp(r->peak_at, &t))
		H_FAIL("show: no row for port %d in: %s", PORT_NO_HIST, rows.text);
	*show_hour = local_hour(t);
}

static void test_advise_driven(void **state)
{
	static const struct step up7 = { 2, { 7, 4 } }, late = { 2, { 2, 1 } };
	struct op ops[MAX_OPS], ops2[MAX_OPS];
	struct timeline tl = { .ops = ops, .max = MAX_OPS };
	struct timeline tl2 = { .ops = ops2, .max = MAX_OPS };
	struct advice_row r[2];
	struct conns cs, cs2;
	int hist_hour, show_hour;

	h_require();
	conns_listen(&cs, "127.0.0.1", PORT_ADVISE);
	start_hist("10s", "587", NULL, NULL);
	conns_listen(&cs2, "127.0.0.1", PORT_NO_HIST);
	run_step(&tl, &cs, &up7);
	run_step(&tl2, &cs2, &late);
	advise_hours(&hist_hour, &show_hour);

	advise_run(r, NULL, NULL);
	H_EQ(0, strcmp(r[0].service, "SMTP Submission"), "587: service '%s'", r[0].service);
	H_EQ(7, r[0].peak, "587: peak over its history");
	H_EQ(hist_hour, r[0].usual_hour, "587: usual hour");
	H_EQ(25, r[0].headroom, "587: headroom_pct by default");
	H_EQ(9, r[0].limit, "587: limit, 7 with 25%% headroom");
	H_EQ(false, r[0].changed, "587: pattern_changed with under a day of history");
	H_EQ(-1, r[0].users_start, "587: users_start without --users");
	H_EQ(2, r[1].peak, "21010 (no history): its all-time peak");
	H_EQ(show_hour, r[1].usual_hour, "21010: usual hour, the hour of its peak");
	H_EQ(3, r[1].limit, "21010: limit, 2 with 25%% headroom");
	H_EQ(-1, r[1].users_start, "21010: users_start without --users");
	/* One client, 127.0.0.1, holds every connection; its peak is the port's. */
	H_EQ(7, r[0].client_peak, "587: client_peak");
	H_EQ(9, r[0].client_limit, "587: client_limit");
	H_EQ(2, r[1].client_peak, "21010: client_peak");
	H_EQ(3, r[1].client_limit, "21010: client_limit");
	H_EQ(0, strcmp(r[1].top_client, "127.0.0.1"), "21010: top_client '%s'", r[1].top_client);
	H_EQ(0, strlen(r[1].refused), "21010: refused [%s] without --client-limit", r[1].refused);

	advise_run(r, "--client-limit", "6");
	H_EQ(0, strcmp(r[0].refused, "{\"client\":\"127.0.0.1\",\"peak\":7}"),
	     "587: refused [%s] with --client-limit 6", r[0].refused);
	H_EQ(0, strlen(r[1].refused), "21010: refused [%s] with --client-limit 6", r[1].refused);

	advise_run(r, "--headroom", "0");
	H_EQ(0, r[0].headroom, "headroom_pct");
	H_EQ(7, r[0].limit, "587: limit with no headroom");
	H_EQ(2, r[1].limit, "21010: limit with no headroom");
	advise_run(r, "--headroom", "50");
	H_EQ(11, r[0].limit, "587: limit, 7 with 50%% headroom");
	H_EQ(3, r[1].limit, "21010: limit, 2 with 50%% headroom");
	advise_run(r, "--users", "10");
	H_EQ(50, r[0].users_start, "587: users_start with --users 10");
	H_EQ(50, r[1].users_start, "21010: users_start with --users 10");
	H_EQ(9, r[0].limit, "587: limit with --users");
}

/* ---- (h) bad input ---- */

struct bad_case {
	const char *args[7];
	const char *want;	/* in the message */
};

/* Each bad start exits 2 with one line naming the value, and pins nothing. */
static void test_bad_start(void **state)
{
	static const struct bad_case cases[] = {
		{ { "--bucket", "0" }, "'0'" },
		{ { "--bucket", "86401" }, "'86401'" },
		{ { "--bucket", "x" }, "'x'" },
		{ { "--keep", "1000" }, "'1000'" },
		{ { "--keep", "0" }, "'0'" },
		{ { "--bucket", "10", "--keep", "15s" }, "'15s'" },
		{ { "--bucket", "1", "--keep", "8" }, "--bucket" },
		{ { "--history-ports", "1025" }, "'1025'" },
		{ { "--history-ports", "1", "21001", "21002" }, "--history-ports" },
		{ { "--history-ports", "0", "21001" }, "--history-ports" },
	};
	const char *const *a;
	struct h_out o;
	size_t i;

	h_require();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		a = cases[i].args;
		h_cp(&o, "start", a[0], a[1], a[2], a[3], a[4], a[5], a[6], NULL);
		print_message("start %s %s %s %s: %s", a[0], a[1], a[2] ? a[2] : "",
			      a[3] ? a[3] : "", o.err);
		expect_error_(H_HERE, &o, 2, cases[i].want, "bad start");
		h_out_free(&o);
		if (h_pinned() || access(h_pin_dir, F_OK) == 0)
			H_FAIL("start %s %s: exit 2 but left %s behind", a[0], a[1], h_pin_dir);
	}
}

static void run_bad(const char *cmd, const struct bad_case *cases, size_t n)
{
	const char *const *a;
	struct h_out o;
	size_t i;

	for (i = 0; i < n; i++) {
		a = cases[i].args;
		h_cp(&o, cmd, a[0], a[1], a[2], a[3], NULL);
		expect_error_(H_HERE, &o, 2, cases[i].want, cmd);
		h_out_free(&o);
	}
}

static void test_bad_history(void **state)
{
	static const struct bad_case cases[] = {
		{ { "--since", "yesterdayy" }, "'yesterdayy'" },
		{ { "--since", "-5q" }, "'-5q'" },
		{ { "--until", "2026-13-01" }, "'2026-13-01'" },
		{ { "--until", "12/03/2026" }, "'12/03/2026'" },
		{ { "--by", "week" }, "'week'" },
		{ { "--since", "-1h", "--until", "-2h" }, "--since" },
		{ { "--since", "now", "--until", "-1m" }, "--since" },
		{ { "--since", "today", "--until", "today" }, "--since" },
		{ { "70000" }, "'70000'" },
	};

	h_require();
	start_hist("10s", NULL, NULL, NULL);
	run_bad("history", cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_bad_advise(void **state)
{
	static const struct bad_case cases[] = {
		{ { "--headroom", "-5" }, "'-5'" },
		{ { "--headroom", "1001" }, "'1001'" },
		{ { "--headroom", "x" }, "'x'" },
		{ { "--users", "0" }, "'0'" },
		{ { "--users", "x" }, "'x'" },
	};

	h_require();
	start_hist("10s", NULL, NULL, NULL);
	run_bad("advise", cases, sizeof(cases) / sizeof(cases[0]));
}

#define HIST_CAP_BYTES	(256ULL << 20)	/* start refuses history larger than this */

/*
 * --history-ports 0 keeps no history, so it cannot need the memory of a long
 * ring: start must refuse the ring, or not allocate it. 195 days of 1 s
 * buckets is 16,848,000 records of 16 bytes, just over the cap.
 */
static void test_memory_cap_without_history_ports(void **state)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[128];
	struct h_out o;
	int fd;

	h_require();
	h_cp(&o, "start", "--history-ports", "0", "--bucket", "1", "--keep", "195d", NULL);
	if (o.status == 2) {
		expect_error_(H_HERE, &o, 2, "195d", "too much memory");
		h_out_free(&o);
		return;
	}
	H_EQ(0, o.status, "start --history-ports 0 --bucket 1 --keep 195d: exit status");
	h_out_free(&o);
	snprintf(path, sizeof(path), "%s/hist", h_pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		H_FAIL("%s: %s", path, strerror(errno));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		H_FAIL("%s: info: %s", path, strerror(errno));
	close(fd);
	H_LE(HIST_CAP_BYTES, (long long)info.max_entries * info.value_size,
	     "bytes of the pinned history ring with no history port");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_bad_start),
		H_TEST(test_bad_history),
		H_TEST(test_bad_advise),
		H_TEST(test_memory_cap_without_history_ports),
		H_TEST(test_named_and_listening_ports),
		H_TEST(test_history_ports_limit),
		H_TEST(test_open_before_start),
		H_TEST(test_driven_buckets),
		H_TEST(test_standing_count),
		H_TEST(test_ring_wraps),
		H_TEST(test_advise_driven),
		H_TEST(test_two_cpus_race),
		H_TEST(test_seed_across_boundary),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
