// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Every way a connection ends. A connection is open while its socket is
 * ESTABLISHED or CLOSE_WAIT, so the side that has not closed yet still
 * counts after its peer has.
 */
#include <sys/socket.h>
#include "harness.h"

#define PORT_CLIENT_FIRST	13001
#define PORT_SERVER_FIRST	13002
#define PORT_RST_CLIENT		13003
#define PORT_RST_SERVER		13004
#define PORT_UNACCEPTED		13005
#define PORT_HALF_CLOSE		13006

static void test_client_first(void **state)
{
	int lfd, c, a;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_CLIENT_FIRST, 16);
	c = h_connect("127.0.0.1", PORT_CLIENT_FIRST);
	a = h_accept(lfd);
	h_expect(PORT_CLIENT_FIRST, H_IN, 1, 1, 1);
	h_expect(PORT_CLIENT_FIRST, H_OUT, 1, 1, 1);

	/* The client is in FIN_WAIT2; the server, in CLOSE_WAIT, still counts. */
	h_close(c);
	h_expect(PORT_CLIENT_FIRST, H_OUT, 0, 1, 1);
	h_expect(PORT_CLIENT_FIRST, H_IN, 1, 1, 1);

	h_close(a);
	h_expect(PORT_CLIENT_FIRST, H_IN, 0, 1, 1);
	h_expect(PORT_CLIENT_FIRST, H_OUT, 0, 1, 1);
}

static void test_server_first(void **state)
{
	int lfd, c, a;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_SERVER_FIRST, 16);
	c = h_connect("127.0.0.1", PORT_SERVER_FIRST);
	a = h_accept(lfd);
	h_expect(PORT_SERVER_FIRST, H_IN, 1, 1, 1);

	/* Now the client is the one in CLOSE_WAIT, still open. */
	h_close(a);
	h_expect(PORT_SERVER_FIRST, H_IN, 0, 1, 1);
	h_expect(PORT_SERVER_FIRST, H_OUT, 1, 1, 1);

	h_close(c);
	h_expect(PORT_SERVER_FIRST, H_OUT, 0, 1, 1);
	h_expect(PORT_SERVER_FIRST, H_IN, 0, 1, 1);
}

/* A reset ends both sides at once, though the peer's fd stays open. */
static void test_rst_from_client(void **state)
{
	int lfd, c, a;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_RST_CLIENT, 16);
	c = h_connect("127.0.0.1", PORT_RST_CLIENT);
	a = h_accept(lfd);
	h_expect(PORT_RST_CLIENT, H_OUT, 1, 1, 1);

	h_close_rst(c);
	h_expect(PORT_RST_CLIENT, H_OUT, 0, 1, 1);
	h_expect(PORT_RST_CLIENT, H_IN, 0, 1, 1);
	h_close(a);
	h_expect(PORT_RST_CLIENT, H_IN, 0, 1, 1);
}

static void test_rst_from_server(void **state)
{
	int lfd, c, a, i;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_RST_SERVER, 16);
	for (i = 0; i < 3; i++) {
		c = h_connect("127.0.0.1", PORT_RST_SERVER);
		a = h_accept(lfd);
	}
	h_expect(PORT_RST_SERVER, H_IN, 3, 3, 3);

	/* The last pair: reset by the server, then the client is closed too. */
	h_close_rst(a);
	h_expect(PORT_RST_SERVER, H_IN, 2, 3, 3);
	h_expect(PORT_RST_SERVER, H_OUT, 2, 3, 3);
	h_close(c);
	h_expect(PORT_RST_SERVER, H_OUT, 2, 3, 3);
}

/* Children never accepted die with their listener (ESTABLISHED -> CLOSE). */
static void test_unaccepted_on_listener_close(void **state)
{
	int lfd, i;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_UNACCEPTED, 16);
	for (i = 0; i < 4; i++)
		h_connect("127.0.0.1", PORT_UNACCEPTED);
	h_expect(PORT_UNACCEPTED, H_IN, 4, 4, 4);
	h_expect(PORT_UNACCEPTED, H_OUT, 4, 4, 4);

	/* The listener's close resets its queue, so the clients end as well. */
	h_close(lfd);
	h_expect(PORT_UNACCEPTED, H_IN, 0, 4, 4);
	h_expect(PORT_UNACCEPTED, H_OUT, 0, 4, 4);
}

/* shutdown(SHUT_WR) ends "open" for the side that sent its FIN, fd or not. */
static void test_half_close(void **state)
{
	int lfd, c, a;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_HALF_CLOSE, 16);
	c = h_connect("127.0.0.1", PORT_HALF_CLOSE);
	a = h_accept(lfd);
	h_expect(PORT_HALF_CLOSE, H_OUT, 1, 1, 1);

	shutdown(c, SHUT_WR);
	h_expect(PORT_HALF_CLOSE, H_OUT, 0, 1, 1);
	h_expect(PORT_HALF_CLOSE, H_IN, 1, 1, 1);
	shutdown(a, SHUT_WR);
	h_expect(PORT_HALF_CLOSE, H_IN, 0, 1, 1);
	h_close(c);
	h_close(a);
	h_expect(PORT_HALF_CLOSE, H_IN, 0, 1, 1);
	h_expect(PORT_HALF_CLOSE, H_OUT, 0, 1, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_client_first),
		H_TEST(test_server_first),
		H_TEST(test_rst_from_client),
		H_TEST(test_rst_from_server),
		H_TEST(test_unaccepted_on_listener_close),
		H_TEST(test_half_close),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
