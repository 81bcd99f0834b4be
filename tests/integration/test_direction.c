// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Direction: a connection from this host to a local listener is counted once
 * "in" on the listener's port and once "out" keyed by the remote port; a
 * self-connect is outbound only.
 */
#include <string.h>
#include <unistd.h>
#include "harness.h"

#define PORT_LISTEN	18001
#define PORT_FILTER_A	18002
#define PORT_FILTER_B	18003
#define PORT_SELF	18004
#define PORT_BOUND_DST	18005
#define PORT_BOUND_SRC	18006
#define PORT_BACKLOG0	18007
#define PORT_HTTPS	443

static void test_in_and_out_once(void **state)
{
	int lfd, c, a;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_LISTEN, 16);
	c = h_connect("127.0.0.1", PORT_LISTEN);
	a = h_accept(lfd);
	h_expect(PORT_LISTEN, H_IN, 1, 1, 1);
	h_expect(PORT_LISTEN, H_OUT, 1, 1, 1);
	/* Nothing keyed by the client's ephemeral port. */
	h_expect_nrows(2);
	h_close(c);
	h_close(a);
	h_expect(PORT_LISTEN, H_IN, 0, 1, 1);
	h_expect(PORT_LISTEN, H_OUT, 0, 1, 1);
}

/* Count the rows of show --json ARG... and how many have direction dir. */
static void show_filtered(const char *arg1, const char *arg2, int *rows, int *in, int *out)
{
	struct h_rows parsed;
	struct h_out o;
	char why[256];
	int i;

	h_cp(&o, "show", "--json", arg1, arg2, NULL);
	H_EQ(0, o.status, "show --json %s %s: exit status", arg1, arg2 ? arg2 : "");
	if (h_json_parse(o.out, &parsed, why, sizeof(why)))
		H_FAIL("show --json %s: %s", arg1, why);
	h_out_free(&o);
	*rows = parsed.n;
	*in = *out = 0;
	for (i = 0; i < parsed.n; i++) {
		if (!strcmp(parsed.row[i].dir, "in"))
			(*in)++;
		else
			(*out)++;
	}
}

/* show --in, --out and port operands pick the rows they name. */
static void test_show_filters(void **state)
{
	int la, lb, rows, in, out;

	h_require();
	h_start();
	la = h_listen("127.0.0.1", PORT_FILTER_A, 16);
	lb = h_listen("127.0.0.1", PORT_FILTER_B, 16);
	h_connect("127.0.0.1", PORT_FILTER_A);
	h_accept(la);
	h_connect("127.0.0.1", PORT_FILTER_B);
	h_accept(lb);
	h_expect(PORT_FILTER_B, H_IN, 1, 1, 1);

	show_filtered("--in", NULL, &rows, &in, &out);
	H_EQ(2, in, "show --in: rows in");
	H_EQ(0, out, "show --in: rows out");
	show_filtered("--out", NULL, &rows, &in, &out);
	H_EQ(0, in, "show --out: rows in");
	H_EQ(2, out, "show --out: rows out");
	show_filtered("18002", NULL, &rows, &in, &out);
	H_EQ(2, rows, "show 18002: rows");
	show_filtered("--out", "18003", &rows, &in, &out);
	H_EQ(1, out, "show --out 18003: rows out");
	H_EQ(1, rows, "show --out 18003: rows");
}

/* bind and connect to the same address and port: one socket, outbound. */
static void test_self_connect(void **state)
{
	int fd;

	h_require();
	h_start();
	fd = h_connect_from("127.0.0.1", PORT_SELF, "127.0.0.1", PORT_SELF);
	h_expect(PORT_SELF, H_OUT, 1, 1, 1);
	h_expect_no_row(PORT_SELF, H_IN);
	h_expect_nrows(1);
	h_close(fd);
	h_expect(PORT_SELF, H_OUT, 0, 1, 1);
	h_expect_nrows(1);
}

/* A client bound to a chosen local port is still keyed by its remote port. */
static void test_bound_client(void **state)
{
	int lfd, c, a;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_BOUND_DST, 16);
	c = h_connect_from("127.0.0.5", PORT_BOUND_SRC, "127.0.0.1", PORT_BOUND_DST);
	a = h_accept(lfd);
	h_expect(PORT_BOUND_DST, H_OUT, 1, 1, 1);
	h_expect(PORT_BOUND_DST, H_IN, 1, 1, 1);
	h_expect_no_row(PORT_BOUND_SRC, H_IN);
	h_expect_no_row(PORT_BOUND_SRC, H_OUT);
	h_close(a);
	h_close(c);
	h_expect(PORT_BOUND_DST, H_OUT, 0, 1, 1);
	h_expect(PORT_BOUND_DST, H_IN, 0, 1, 1);
}

/* Connections accepted by a listen(fd, 0) listener after start are inbound. */
static void test_backlog_zero_listener(void **state)
{
	int lfd, c, a;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_BACKLOG0, 0);
	c = h_connect("127.0.0.1", PORT_BACKLOG0);
	a = h_accept(lfd);
	h_expect(PORT_BACKLOG0, H_IN, 1, 1, 1);
	h_expect(PORT_BACKLOG0, H_OUT, 1, 1, 1);
	h_expect_nrows(2);
	h_close(a);
	h_expect(PORT_BACKLOG0, H_IN, 0, 1, 1);
	h_close(c);
	h_expect(PORT_BACKLOG0, H_OUT, 0, 1, 1);
	h_expect_nrows(2);
}

/* Rows name their service from /etc/services; show takes the name too. */
static void test_service_names(void **state)
{
	const struct h_row *r;
	struct h_rows rows;
	int lfd, rn, in, out;

	h_require();
	if (access("/etc/services", R_OK))
		skip();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_HTTPS, 16);
	h_connect("127.0.0.1", PORT_HTTPS);
	h_accept(lfd);
	h_expect(PORT_HTTPS, H_IN, 1, 1, 1);
	h_show(&rows);
	r = h_rows_find(&rows, PORT_HTTPS, H_OUT);
	if (!r || strcmp(r->service, "https"))
		H_FAIL("port 443 out: service: expected \"https\", actual %s; output: %s",
		       r ? r->service : "no row", rows.text);
	show_filtered("https", NULL, &rn, &in, &out);
	H_EQ(2, rn, "show https: rows");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_in_and_out_once),
		H_TEST(test_show_filters),
		H_TEST(test_self_connect),
		H_TEST(test_bound_client),
		H_TEST(test_backlog_zero_listener),
		H_TEST(test_service_names),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
