// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * reset: the peak becomes the current count of the rows it names, then rises
 * again with new connections; racing with traffic, it loses no update.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "harness.h"

#define PORT_BASIC	16001
#define PORT_A		16002
#define PORT_B		16003
#define PORT_RACE	16004

#define WORKERS		2
#define HOLD		64
#define RESETS		40

static struct h_churn churn;
static struct h_watch watch;

static void reset(const char *arg1, const char *arg2)
{
	struct h_out o;

	h_cp(&o, "reset", arg1, arg2, NULL);
	H_EQ(0, o.status, "reset %s %s: exit status (stderr: %s)", arg1 ? arg1 : "",
	     arg2 ? arg2 : "", o.err);
	h_out_free(&o);
}

/* UTC stamp, in show --json's format, of now plus delta seconds. */
static void utc_stamp(char *buf, size_t len, long delta)
{
	time_t t = time(NULL) + delta;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* peak_at of (port, dir) lies between two stamps (they sort as text). */
static void expect_peak_at(unsigned int port, enum h_dir dir, const char *lo, const char *hi)
{
	const struct h_row *r;
	struct h_rows rows;

	h_show(&rows);
	r = h_rows_find(&rows, port, dir);
	if (!r)
		H_FAIL("port %u %s: no row; output: %s", port, h_dir_name(dir), rows.text);
	if (strcmp(r->peak_at, lo) < 0 || strcmp(r->peak_at, hi) > 0)
		H_FAIL("port %u %s: peak_at: expected between %s and %s, actual %s", port,
		       h_dir_name(dir), lo, hi, r->peak_at);
}

static void test_reset_basic(void **state)
{
	int lfd, c[13], a[13], i;
	char lo[32], hi[32];

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_BASIC, 64);
	for (i = 0; i < 10; i++) {
		c[i] = h_connect("127.0.0.1", PORT_BASIC);
		a[i] = h_accept(lfd);
	}
	for (i = 0; i < 6; i++) {
		h_close(c[i]);
		h_close(a[i]);
	}
	h_expect(PORT_BASIC, H_IN, 4, 10, 10);
	h_expect(PORT_BASIC, H_OUT, 4, 10, 10);

	/* One second of slack: connpeak converts boot time to wall time. */
	utc_stamp(lo, sizeof(lo), -1);
	reset(NULL, NULL);
	utc_stamp(hi, sizeof(hi), 1);
	h_expect(PORT_BASIC, H_IN, 4, 4, 10);
	h_expect(PORT_BASIC, H_OUT, 4, 4, 10);
	expect_peak_at(PORT_BASIC, H_IN, lo, hi);

	for (i = 10; i < 13; i++) {
		c[i] = h_connect("127.0.0.1", PORT_BASIC);
		a[i] = h_accept(lfd);
	}
	h_expect(PORT_BASIC, H_IN, 7, 7, 13);
	h_expect(PORT_BASIC, H_OUT, 7, 7, 13);
	for (i = 6; i < 11; i++) {
		h_close(c[i]);
		h_close(a[i]);
	}
	h_expect(PORT_BASIC, H_IN, 2, 7, 13);
	h_expect(PORT_BASIC, H_OUT, 2, 7, 13);
}

/* Five pairs on port, three of them closed again: current 2, peak 5. */
static void five_then_two(unsigned int port)
{
	int lfd = h_listen("127.0.0.1", port, 16), c[5], a[5], i;

	for (i = 0; i < 5; i++) {
		c[i] = h_connect("127.0.0.1", port);
		a[i] = h_accept(lfd);
	}
	for (i = 0; i < 3; i++) {
		h_close(c[i]);
		h_close(a[i]);
	}
	h_expect(port, H_IN, 2, 5, 5);
	h_expect(port, H_OUT, 2, 5, 5);
}

/* --in, --out and port operands reset only the rows they name. */
static void test_reset_filters(void **state)
{
	h_require();
	h_start();
	five_then_two(PORT_A);
	five_then_two(PORT_B);

	reset("--in", "16002");
	h_expect(PORT_A, H_IN, 2, 2, 5);
	h_expect(PORT_A, H_OUT, 2, 5, 5);
	h_expect(PORT_B, H_IN, 2, 5, 5);
	h_expect(PORT_B, H_OUT, 2, 5, 5);

	reset("--out", NULL);
	h_expect(PORT_A, H_OUT, 2, 2, 5);
	h_expect(PORT_B, H_OUT, 2, 2, 5);
	h_expect(PORT_B, H_IN, 2, 5, 5);

	reset("16003", NULL);
	h_expect(PORT_B, H_IN, 2, 2, 5);
}

/* Resets racing with churn; afterwards nothing is lost and reset is exact. */
static void test_reset_racing_traffic(void **state)
{
	static const unsigned int ports[] = { PORT_RACE };
	long long in, out, opened;
	int lfd, i;

	h_require();
	h_start();
	h_churn_start(&churn, WORKERS, ports, 1, HOLD);
	h_watch_start(&watch);
	for (i = 0; i < RESETS; i++) {
		reset(NULL, NULL);
		h_churn_progress(&churn, 20);
	}
	h_churn_stop(&churn);
	h_watch_stop(&watch);
	in = h_churn_open(&churn, 0, H_IN);
	out = h_churn_open(&churn, 0, H_OUT);
	opened = h_churn_opened(&churn, 0);
	print_message("%d resets during %lld connections, %ld polls of show --json\n", RESETS,
		      opened, watch.polls);
	h_expect(PORT_RACE, H_IN, in, -1, opened);
	h_expect(PORT_RACE, H_OUT, out, -1, opened);

	/* Quiet now: reset makes peak equal current, new opens raise both. */
	reset(NULL, NULL);
	h_expect(PORT_RACE, H_IN, in, in, opened);
	h_expect(PORT_RACE, H_OUT, out, out, opened);
	lfd = h_listen("127.0.0.3", PORT_RACE, 16);
	for (i = 0; i < 3; i++) {
		h_connect("127.0.0.3", PORT_RACE);
		h_accept(lfd);
	}
	h_expect(PORT_RACE, H_IN, in + 3, in + 3, opened + 3);
	h_expect(PORT_RACE, H_OUT, out + 3, out + 3, opened + 3);
	h_churn_quit(&churn);
	h_expect(PORT_RACE, H_IN, 3, in + 3, opened + 3);
	h_expect(PORT_RACE, H_OUT, 3, out + 3, opened + 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_reset_basic),
		H_TEST(test_reset_filters),
		H_TEST(test_reset_racing_traffic),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
