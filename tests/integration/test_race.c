// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Races with traffic: several processes open and close connections in a loop
 * (IPv4, v4-mapped and IPv6, closing in every manner) while `connpeak start`
 * seeds and while a watcher thread reads show --json over and over. Once the
 * churn has stopped, every count must equal ss and the workers' own books.
 */
#include "harness.h"

#define PORT_A		15001
#define PORT_B		15002
#define PORT_C		15003
#define PORT_D		15004

#define WORKERS		3
#define HOLD		128
#define ROUNDS		4
#define BULK		6000	/* pairs a holder opens or closes while start walks */
#define PACE_US		20

static struct h_churn churn;
static struct h_watch watch;

/*
 * The peak can never exceed what could be held at once, nor the total what
 * was opened.
 */
static void expect_bounded(unsigned int port, enum h_dir dir, long long peak_bound,
			   long long total_bound)
{
	const struct h_row *r;
	struct h_rows rows;

	h_show(&rows);
	r = h_rows_find(&rows, port, dir);
	if (!r)
		H_FAIL("port %u %s: no row after churn; output: %s", port, h_dir_name(dir),
		       rows.text);
	H_LE(peak_bound, r->peak, "port %u %s: peak against what the workers could hold",
	     port, h_dir_name(dir));
	H_LE(total_bound, r->total, "port %u %s: total against what the workers opened",
	     port, h_dir_name(dir));
}

/*
 * After the churn stopped: current equals the books and ss, peak and total
 * are bounded; with exact_total, total equals what was opened. Besides the
 * workers, a holder has opened bulk_opened pairs on the first port in all
 * and still holds held of them.
 */
static void expect_after_churn(const unsigned int *ports, bool exact_total, int held,
			       int bulk_opened)
{
	long long opened, extra;
	int k;

	for (k = 0; k < 2; k++) {
		extra = k == 0 ? held : 0;
		opened = h_churn_opened(&churn, k) + (k == 0 ? bulk_opened : 0);
		h_expect(ports[k], H_IN, h_churn_open(&churn, k, H_IN) + extra, -1,
			 exact_total ? opened : -1);
		h_expect(ports[k], H_OUT, h_churn_open(&churn, k, H_OUT) + extra, -1,
			 exact_total ? opened : -1);
		extra = k == 0 ? bulk_opened : 0;
		expect_bounded(ports[k], H_IN, WORKERS * 2 * HOLD + extra, opened);
		expect_bounded(ports[k], H_OUT, WORKERS * HOLD + extra, opened);
	}
	h_expect_nrows(4);
}

static void expect_all_closed(const unsigned int *ports)
{
	int k;

	for (k = 0; k < 2; k++) {
		h_expect(ports[k], H_IN, 0, -1, -1);
		h_expect(ports[k], H_OUT, 0, -1, -1);
	}
}

/*
 * start runs in the middle of the churn, several times over, while a holder
 * opens or closes thousands of pairs that the start-up walk may or may not
 * have reached.
 */
static void test_churn_during_start(void **state)
{
	static const unsigned int ports[] = { PORT_A, PORT_B };
	struct h_holder bulk;
	int round;

	h_require();
	for (round = 0; round < ROUNDS; round++) {
		h_holder_start(&bulk, "127.0.0.4", PORT_A);
		h_holders_open(&bulk, 1, BULK);
		h_churn_start(&churn, WORKERS, ports, 2, HOLD);
		h_churn_progress(&churn, 300);
		h_holders_paced_begin(&bulk, 1, round % 2 ? H_HOLD_OPEN : H_HOLD_CLOSE, BULK / 2,
				      round / 2 ? H_RST : H_CLIENT_FIRST, PACE_US);
		h_start();
		h_holders_end(&bulk, 1);
		h_watch_start(&watch);
		h_churn_progress(&churn, 4000);
		h_churn_stop(&churn);
		h_watch_stop(&watch);
		print_message("round %d: %ld connections opened, %ld polls of show --json\n",
			      round, h_churn_opened(&churn, 0) + h_churn_opened(&churn, 1),
			      watch.polls);
		expect_after_churn(ports, false, bulk.pairs, BULK + (round % 2) * BULK / 2);
		h_churn_quit(&churn);
		h_holder_quit(&bulk);
		expect_all_closed(ports);
		h_stop();
	}
}

/* With the tracker started first, no open may be lost: totals are exact. */
static void test_churn_exact_totals(void **state)
{
	static const unsigned int ports[] = { PORT_C, PORT_D };

	h_require();
	h_start();
	h_churn_start(&churn, WORKERS, ports, 2, HOLD);
	h_watch_start(&watch);
	h_churn_progress(&churn, 6000);
	h_churn_stop(&churn);
	h_watch_stop(&watch);
	print_message("%ld connections opened, %ld polls of show --json\n",
		      h_churn_opened(&churn, 0) + h_churn_opened(&churn, 1), watch.polls);
	expect_after_churn(ports, true, 0, 0);
	h_churn_quit(&churn);
	expect_all_closed(ports);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_churn_during_start),
		H_TEST(test_churn_exact_totals),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
