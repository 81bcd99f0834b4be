// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Without --all-netns, only the network namespace that `connpeak start` ran
 * in is counted: connections in another namespace, on the same port, are
 * neither seeded nor counted later.
 */
#include "harness.h"

#define PORT_SHARED	19001

static void test_other_netns_ignored(void **state)
{
	struct h_holder other;
	int lfd, c, a;

	h_require();
	h_holder_start_netns(&other, "127.0.0.1", PORT_SHARED);
	h_holders_open(&other, 1, 30);
	lfd = h_listen("127.0.0.1", PORT_SHARED, 16);
	c = h_connect("127.0.0.1", PORT_SHARED);
	a = h_accept(lfd);

	h_start();
	h_expect(PORT_SHARED, H_IN, 1, 1, 1);
	h_expect(PORT_SHARED, H_OUT, 1, 1, 1);

	h_holders_open(&other, 1, 40);
	h_holders_close(&other, 1, 20, H_SERVER_FIRST);
	h_expect(PORT_SHARED, H_IN, 1, 1, 1);
	h_expect(PORT_SHARED, H_OUT, 1, 1, 1);

	h_close(c);
	h_close(a);
	h_holder_quit(&other);
	h_expect(PORT_SHARED, H_IN, 0, 1, 1);
	h_expect(PORT_SHARED, H_OUT, 0, 1, 1);
	h_expect_nrows(2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_other_netns_ignored),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
