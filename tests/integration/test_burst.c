// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Bursts whose maximum the test knows: the peak must equal that maximum, the
 * current count must equal ss, and the total must equal what was opened.
 */
#include <stdio.h>
#include "harness.h"

#define PORT_BURST	12001
#define PORT_A		12002
#define PORT_B		12003
#define PORT_WIDE	12004

/* A step of a burst: every holder opens (n > 0) or closes (n < 0) |n| pairs. */
static void burst_step(struct h_holder *hs, int nh, int n)
{
	if (n > 0)
		h_holders_open(hs, nh, n);
	else
		h_holders_close(hs, nh, -n, H_CLIENT_FIRST);
}

/* Run the steps on port, checking current, peak and total after each. */
static void burst_run(struct h_holder *hs, int nh, unsigned int port, const int *steps,
		      int nsteps)
{
	long long cur = 0, peak = 0, total = 0;
	int i;

	for (i = 0; i < nsteps; i++) {
		burst_step(hs, nh, steps[i]);
		cur += (long long)nh * steps[i];
		if (steps[i] > 0)
			total += (long long)nh * steps[i];
		if (cur > peak)
			peak = cur;
		h_expect(port, H_IN, cur, peak, total);
		h_expect(port, H_OUT, cur, peak, total);
	}
}

static void test_burst_known_max(void **state)
{
	static const int steps[] = { 200, -75, 50, -100, 25 };
	struct h_holder hs[2];

	h_require();
	h_start();
	h_holder_start(&hs[0], "127.0.0.1", PORT_BURST);
	h_holder_start(&hs[1], "127.0.0.2", PORT_BURST);
	burst_run(hs, 2, PORT_BURST, steps, 5);
	/* The maximum was 400, after the first step; 200 remain of 550. */
	h_expect(PORT_BURST, H_IN, 200, 400, 550);
	h_holder_quit(&hs[0]);
	h_holder_quit(&hs[1]);
	h_expect(PORT_BURST, H_IN, 0, 400, 550);
	h_expect(PORT_BURST, H_OUT, 0, 400, 550);
}

/* Two ports, bursts interleaved: each keeps its own peak. */
static void test_burst_ports_apart(void **state)
{
	struct h_holder a, b;

	h_require();
	h_start();
	h_holder_start(&a, "127.0.0.1", PORT_A);
	h_holder_start(&b, "127.0.0.1", PORT_B);

	h_holders_open(&a, 1, 300);
	h_holders_open(&b, 1, 40);
	h_holders_close(&a, 1, 250, H_SERVER_FIRST);
	h_holders_open(&b, 1, 80);
	h_holders_close(&b, 1, 100, H_RST);
	h_holders_open(&a, 1, 100);

	h_expect(PORT_A, H_IN, 150, 300, 400);
	h_expect(PORT_A, H_OUT, 150, 300, 400);
	h_expect(PORT_B, H_IN, 20, 120, 120);
	h_expect(PORT_B, H_OUT, 20, 120, 120);
	h_expect_nrows(4);
}

/* More connections than one process may hold, spread over four holders. */
static void test_burst_beyond_fd_limit(void **state)
{
	static const int steps[] = { 3000, -2200, 1000 };
	struct h_holder hs[4];
	int i;

	h_require();
	h_start();
	for (i = 0; i < 4; i++) {
		char addr[24];

		snprintf(addr, sizeof(addr), "127.0.0.%d", i + 1);
		h_holder_start(&hs[i], addr, PORT_WIDE);
	}
	burst_run(hs, 4, PORT_WIDE, steps, 3);
	h_expect(PORT_WIDE, H_IN, 7200, 12000, 16000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_burst_known_max),
		H_TEST(test_burst_ports_apart),
		H_TEST(test_burst_beyond_fd_limit),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
