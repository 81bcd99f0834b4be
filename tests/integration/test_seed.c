// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Connections already open when `connpeak start` runs are counted by its
 * start-up walk, and their later closes subtract from those counts.
 */
#include <sys/socket.h>
#include "harness.h"

#define PORT_FEW	11001
#define PORT_MANY	11002
#define PORT_MODES	11003
#define PORT_HALF	11004
#define PORT_FAMILIES	11005
#define PORT_BACKLOG0	11006
#define PORT_SELF	11007

#define FEW		5
#define MANY_EACH	1500

static void test_seeded_then_closed(void **state)
{
	struct h_holder hs[2];
	int lfd, c[FEW + 1], a[FEW + 1], i;

	h_require();
	lfd = h_listen("127.0.0.1", PORT_FEW, 16);
	for (i = 0; i < FEW; i++) {
		c[i] = h_connect("127.0.0.1", PORT_FEW);
		a[i] = h_accept(lfd);
	}
	h_holder_start(&hs[0], "127.0.0.1", PORT_MANY);
	h_holder_start(&hs[1], "127.0.0.2", PORT_MANY);
	h_holders_open(hs, 2, MANY_EACH);

	h_start();
	h_expect(PORT_FEW, H_IN, FEW, FEW, FEW);
	h_expect(PORT_FEW, H_OUT, FEW, FEW, FEW);
	h_expect(PORT_MANY, H_IN, 2 * MANY_EACH, 2 * MANY_EACH, 2 * MANY_EACH);
	h_expect(PORT_MANY, H_OUT, 2 * MANY_EACH, 2 * MANY_EACH, 2 * MANY_EACH);
	h_expect_nrows(4);

	/* Clients close first: their servers sit in CLOSE_WAIT, still open. */
	h_close(c[0]);
	h_close(c[1]);
	h_expect(PORT_FEW, H_OUT, FEW - 2, FEW, FEW);
	h_expect(PORT_FEW, H_IN, FEW, FEW, FEW);
	h_close(a[0]);
	h_close(a[1]);
	h_expect(PORT_FEW, H_IN, FEW - 2, FEW, FEW);

	h_holders_close(hs, 2, 500, H_CLIENT_FIRST);
	h_expect(PORT_MANY, H_IN, 2 * (MANY_EACH - 500), 2 * MANY_EACH, 2 * MANY_EACH);
	h_expect(PORT_MANY, H_OUT, 2 * (MANY_EACH - 500), 2 * MANY_EACH, 2 * MANY_EACH);

	/* New connections add to the seeded counts; the peak stays. */
	c[FEW] = h_connect("127.0.0.1", PORT_FEW);
	a[FEW] = h_accept(lfd);
	h_expect(PORT_FEW, H_IN, FEW - 1, FEW, FEW + 1);
	h_expect(PORT_FEW, H_OUT, FEW - 1, FEW, FEW + 1);

	h_holder_quit(&hs[0]);
	h_holder_quit(&hs[1]);
	h_expect(PORT_MANY, H_IN, 0, 2 * MANY_EACH, 2 * MANY_EACH);
	h_expect(PORT_MANY, H_OUT, 0, 2 * MANY_EACH, 2 * MANY_EACH);
}

/* Seeded connections ended in each way a connection can end. */
static void test_seeded_close_modes(void **state)
{
	int lfd, c[6], a[4], i;

	h_require();
	lfd = h_listen("127.0.0.1", PORT_MODES, 16);
	for (i = 0; i < 4; i++) {
		c[i] = h_connect("127.0.0.1", PORT_MODES);
		a[i] = h_accept(lfd);
	}
	c[4] = h_connect("127.0.0.1", PORT_MODES);	/* never accepted */
	c[5] = h_connect("127.0.0.1", PORT_MODES);	/* never accepted */
	h_start();
	h_expect(PORT_MODES, H_IN, 6, 6, 6);
	h_expect(PORT_MODES, H_OUT, 6, 6, 6);

	h_close(a[0]);					/* server first */
	h_expect(PORT_MODES, H_IN, 5, 6, 6);
	h_expect(PORT_MODES, H_OUT, 6, 6, 6);
	h_close(c[0]);
	h_expect(PORT_MODES, H_OUT, 5, 6, 6);

	h_close_rst(c[1]);				/* reset by the client */
	h_expect(PORT_MODES, H_IN, 4, 6, 6);
	h_expect(PORT_MODES, H_OUT, 4, 6, 6);

	h_close_rst(a[2]);				/* reset by the server */
	h_expect(PORT_MODES, H_IN, 3, 6, 6);
	h_expect(PORT_MODES, H_OUT, 3, 6, 6);

	h_close(lfd);					/* drops the two unaccepted */
	h_expect(PORT_MODES, H_IN, 1, 6, 6);
	h_expect(PORT_MODES, H_OUT, 1, 6, 6);

	h_close(c[3]);
	h_close(a[3]);
	h_expect(PORT_MODES, H_IN, 0, 6, 6);
	h_expect(PORT_MODES, H_OUT, 0, 6, 6);
}

/* A server left in CLOSE_WAIT before start is open; its FIN_WAIT2 client is not. */
static void test_seeded_close_wait(void **state)
{
	int lfd, c, a;

	h_require();
	lfd = h_listen("127.0.0.1", PORT_HALF, 16);
	c = h_connect("127.0.0.1", PORT_HALF);
	a = h_accept(lfd);
	h_close(c);
	h_ss_wait(PORT_HALF, H_OUT, 0);

	h_start();
	h_expect(PORT_HALF, H_IN, 1, 1, 1);
	h_expect_no_row(PORT_HALF, H_OUT);
	h_close(a);
	h_expect(PORT_HALF, H_IN, 0, 1, 1);
	h_expect_nrows(1);
}

/* IPv4, IPv6 and v4-mapped connections on one dual-stack listener, seeded. */
static void test_seeded_families(void **state)
{
	static const char *const clients[] = { "127.0.0.1", "::1", "::ffff:127.0.0.1" };
	int lfd, c[3], a[3], i;

	h_require();
	lfd = h_listen6("::", PORT_FAMILIES, 0);
	for (i = 0; i < 3; i++) {
		c[i] = h_connect(clients[i], PORT_FAMILIES);
		a[i] = h_accept(lfd);
	}
	h_start();
	h_expect(PORT_FAMILIES, H_IN, 3, 3, 3);
	h_expect(PORT_FAMILIES, H_OUT, 3, 3, 3);
	h_expect_nrows(2);

	for (i = 0; i < 3; i++) {
		h_close(c[i]);
		h_close(a[i]);
		h_expect(PORT_FAMILIES, H_IN, 2 - i, 3, 3);
		h_expect(PORT_FAMILIES, H_OUT, 2 - i, 3, 3);
	}
}

/* A self-connected socket found by the walk is outbound, like a live one. */
static void test_seeded_self_connect(void **state)
{
	int fd;

	h_require();
	fd = h_connect_from("127.0.0.1", PORT_SELF, "127.0.0.1", PORT_SELF);
	h_start();
	h_expect(PORT_SELF, H_OUT, 1, 1, 1);
	h_expect_no_row(PORT_SELF, H_IN);
	h_close(fd);
	h_expect(PORT_SELF, H_OUT, 0, 1, 1);
	h_expect_nrows(1);
}

/*
 * A listener made with listen(fd, 0) still accepts. A connection it accepted
 * before start is inbound on the listener's port like any other.
 */
static void test_seeded_backlog_zero(void **state)
{
	int lfd, c, a;

	h_require();
	lfd = h_listen("127.0.0.1", PORT_BACKLOG0, 0);
	c = h_connect("127.0.0.1", PORT_BACKLOG0);
	a = h_accept(lfd);
	h_start();
	h_expect(PORT_BACKLOG0, H_IN, 1, 1, 1);
	h_expect(PORT_BACKLOG0, H_OUT, 1, 1, 1);
	h_expect_nrows(2);
	h_close(c);
	h_close(a);
	h_expect(PORT_BACKLOG0, H_IN, 0, 1, 1);
	h_expect(PORT_BACKLOG0, H_OUT, 0, 1, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_seeded_then_closed),
		H_TEST(test_seeded_close_modes),
		H_TEST(test_seeded_close_wait),
		H_TEST(test_seeded_families),
		H_TEST(test_seeded_self_connect),
		H_TEST(test_seeded_backlog_zero),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
