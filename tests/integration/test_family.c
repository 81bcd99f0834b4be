// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * IPv4, IPv6 and v4-mapped connections are counted together, per port and
 * direction.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "harness.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define PORT_V6		14001
#define PORT_DUAL	14002
#define PORT_SPLIT	14003
#define PORT_MAPPED_OUT	14004
#define PORT_MPTCP	14005

static void test_ipv6(void **state)
{
	int lfd, c[3], a[3], i;

	h_require();
	h_start();
	lfd = h_listen6("::1", PORT_V6, 1);
	for (i = 0; i < 3; i++) {
		c[i] = h_connect("::1", PORT_V6);
		a[i] = h_accept(lfd);
	}
	h_expect(PORT_V6, H_IN, 3, 3, 3);
	h_expect(PORT_V6, H_OUT, 3, 3, 3);

	h_close(c[0]);
	h_expect(PORT_V6, H_OUT, 2, 3, 3);
	h_expect(PORT_V6, H_IN, 3, 3, 3);	/* a[0] in CLOSE_WAIT */
	h_close(a[0]);
	h_close_rst(a[1]);
	h_expect(PORT_V6, H_IN, 1, 3, 3);
	h_expect(PORT_V6, H_OUT, 1, 3, 3);
	h_close(c[2]);
	h_close(a[2]);
	h_expect(PORT_V6, H_IN, 0, 3, 3);
	h_expect(PORT_V6, H_OUT, 0, 3, 3);
}

/* An AF_INET6 dual-stack listener accepting IPv4, IPv6 and v4-mapped clients. */
static void test_dual_stack_listener(void **state)
{
	static const char *const clients[] = { "127.0.0.1", "::1", "::ffff:127.0.0.1" };
	int lfd, c[3], a[3], i;

	h_require();
	h_start();
	lfd = h_listen6("::", PORT_DUAL, 0);
	for (i = 0; i < 3; i++) {
		c[i] = h_connect(clients[i], PORT_DUAL);
		a[i] = h_accept(lfd);
		h_expect(PORT_DUAL, H_IN, i + 1, i + 1, i + 1);
		h_expect(PORT_DUAL, H_OUT, i + 1, i + 1, i + 1);
	}
	h_expect_nrows(2);

	for (i = 0; i < 3; i++) {
		h_close(a[i]);
		h_close(c[i]);
		h_expect(PORT_DUAL, H_IN, 2 - i, 3, 3);
		h_expect(PORT_DUAL, H_OUT, 2 - i, 3, 3);
	}
}

/* Separate IPv4 and IPv6-only listeners on one port still share its rows. */
static void test_split_listeners_one_port(void **state)
{
	int l4, l6, i;

	h_require();
	h_start();
	l4 = h_listen("127.0.0.1", PORT_SPLIT, 16);
	l6 = h_listen6("::1", PORT_SPLIT, 1);
	for (i = 0; i < 2; i++) {
		h_connect("127.0.0.1", PORT_SPLIT);
		h_accept(l4);
		h_connect("::1", PORT_SPLIT);
		h_accept(l6);
	}
	h_expect(PORT_SPLIT, H_IN, 4, 4, 4);
	h_expect(PORT_SPLIT, H_OUT, 4, 4, 4);
	h_expect_nrows(2);
}

/* An AF_INET6 client reaching an AF_INET listener through a mapped address. */
static void test_mapped_client(void **state)
{
	int lfd, c, a;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_MAPPED_OUT, 16);
	c = h_connect("::ffff:127.0.0.1", PORT_MAPPED_OUT);
	a = h_accept(lfd);
	h_expect(PORT_MAPPED_OUT, H_IN, 1, 1, 1);
	h_expect(PORT_MAPPED_OUT, H_OUT, 1, 1, 1);
	h_close(a);
	h_expect(PORT_MAPPED_OUT, H_IN, 0, 1, 1);
	h_expect(PORT_MAPPED_OUT, H_OUT, 1, 1, 1);
	h_close(c);
	h_expect(PORT_MAPPED_OUT, H_OUT, 0, 1, 1);
	h_expect_nrows(2);
}

static int mptcp_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);

	h_fd_track(fd);
	return fd;
}

/*
 * MPTCP: the MPTCP socket itself is not a TCP connection; its subflow is,
 * and ss shows that subflow. One connection, one subflow: counted once.
 */
static void test_mptcp(void **state)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(PORT_MPTCP),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int lfd, c, a, one = 1;

	h_require();
	lfd = mptcp_socket();
	if (lfd < 0) {
		print_message("MPTCP is not available: %s\n", strerror(errno));
		skip();
	}
	h_start();
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 16))
		H_FAIL("MPTCP listener on port %d: %s", PORT_MPTCP, strerror(errno));
	c = mptcp_socket();
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)))
		H_FAIL("MPTCP connect to port %d: %s", PORT_MPTCP, strerror(errno));
	a = h_accept(lfd);
	h_expect(PORT_MPTCP, H_IN, 1, 1, 1);
	h_expect(PORT_MPTCP, H_OUT, 1, 1, 1);
	h_expect_nrows(2);

	h_close(c);
	h_close(a);
	h_expect(PORT_MPTCP, H_IN, 0, 1, 1);
	h_expect(PORT_MPTCP, H_OUT, 0, 1, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_ipv6),
		H_TEST(test_dual_stack_listener),
		H_TEST(test_split_listeners_one_port),
		H_TEST(test_mapped_client),
		H_TEST(test_mptcp),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
