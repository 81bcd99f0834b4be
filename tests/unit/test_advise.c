// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "advise.h"

/*
 * advise's table and JSON, byte for byte, with and without per-client
 * advice. The expected text is written out by hand. No services file is
 * loaded: port 25 is labelled SMTP by advise itself, 15101 has no name.
 */

static struct client_row client(const char *addr, unsigned int prefix, unsigned int peak)
{
	struct client_row r = { .peak = peak };
	bool v6 = strchr(addr, ':');

	r.key.family = v6 ? CONNPEAK_FAMILY_IPV6 : CONNPEAK_FAMILY_IPV4;
	r.key.prefix = prefix;
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, addr, r.key.addr), 1);
	return r;
}

/* SMTP with history, and port 15101 by its peak since start with --users 4. */
static void two_services(struct service_advice sa[2])
{
	memset(sa, 0, 2 * sizeof(*sa));
	sa[0].port = 25;
	sa[0].a.peak = 41;
	sa[0].a.usual_hour = 9;
	sa[0].a.limit = 52;
	sa[1].port = 15101;
	sa[1].a.peak = 3;
	sa[1].a.usual_hour = -1;
	sa[1].a.limit = 4;
	sa[1].users_start = 20;
}

/* What fn prints for r; the caller frees it. */
static char *capture(void (*fn)(FILE *, const struct advise_report *),
		     const struct advise_report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, r);
	fclose(f);
	return buf;
}

static void expect_output(void (*fn)(FILE *, const struct advise_report *),
			  const struct advise_report *r, const char *want)
{
	char *got = capture(fn, r);

	if (strcmp(got, want))
		fail_msg("got:\n%s\nexpected:\n%s", got, want);
	free(got);
}

/* A tracker started with --clients 0: the table of before, the JSON with nulls. */
static void test_clients_off(void **state)
{
	struct service_advice sa[2];
	struct advise_report r = { .sa = sa, .n = 2, .headroom = 25, .client_limit = 5 };

	two_services(sa);
	expect_output(print_advice_table, &r,
		"SERVICE           PORT     PEAK  USUAL HOUR      LIMIT  NOTE\n"
		"SMTP                25       41  09:00              52 \n"
		"-                15101        3  -                   4  under a day of history: "
		"start from 5 x users = 20\n"
		"LIMIT = ceil(PEAK x 125%)\n");
	expect_output(print_advice_json, &r,
		"{\"advice\":[{\"port\":25,\"service\":\"SMTP\",\"peak\":41,\"usual_hour\":9,"
		"\"headroom_pct\":25,\"limit\":52,\"pattern_changed\":false,\"users_start\":null,"
		"\"client_peak\":null,\"client_limit\":null,\"top_client\":null,\"refused\":null},"
		"{\"port\":15101,\"service\":null,\"peak\":3,\"usual_hour\":null,"
		"\"headroom_pct\":25,\"limit\":4,\"pattern_changed\":false,\"users_start\":20,"
		"\"client_peak\":null,\"client_limit\":null,\"top_client\":null,"
		"\"refused\":null}]}\n");
}

/*
 * SMTP: seven clients over a limit of 50, the top one a network; 15101: no
 * client data.
 */
static void smtp_clients(struct client_row rows[7], const struct client_row *over[7],
			 struct service_advice *sa)
{
	static const char *const addrs[] = { "192.0.2.0", "2001:db8::7", "198.51.100.9",
					     "203.0.113.1", "203.0.113.2", "203.0.113.3",
					     "203.0.113.4" };
	static const unsigned int peaks[] = { 80, 61, 60, 55, 54, 53, 51 };
	int i;

	for (i = 0; i < 7; i++) {
		rows[i] = client(addrs[i], i ? (i == 1 ? 128 : 32) : 24, peaks[i]);
		over[i] = &rows[i];
	}
	sa->clients.known = true;
	sa->clients.peak = 80;
	sa->clients.limit = 100;
	sa->clients.top = &rows[0];
	sa->clients.refused = over;
	sa->clients.n_refused = 7;
}

static void test_table_clients(void **state)
{
	struct service_advice sa[2];
	struct client_row rows[7];
	const struct client_row *over[7];
	struct advise_report r = {
		.sa = sa, .n = 2, .headroom = 25, .client_limit = 50, .clients_on = true,
	};

	two_services(sa);
	smtp_clients(rows, over, &sa[0]);
	expect_output(print_advice_table, &r,
		"SERVICE           PORT     PEAK  USUAL HOUR      LIMIT  CLIENT PEAK  "
		"CLIENT LIMIT  TOP CLIENT    NOTE\n"
		"SMTP                25       41  09:00              52           80           "
		"100  192.0.2.0/24  over client limit 50: 192.0.2.0/24 (peak 80), 2001:db8::7 "
		"(peak 61), 198.51.100.9 (peak 60), 203.0.113.1 (peak 55), 203.0.113.2 "
		"(peak 54), and 2 more\n"
		"-                15101        3  -                   4            -             -"
		"  -             under a day of history: start from 5 x users = 20\n"
		"LIMIT = ceil(PEAK x 125%), CLIENT LIMIT = ceil(CLIENT PEAK x 125%); "
		"client peaks since start\n");

	/* Without --client-limit nobody is named, whatever refused holds. */
	r.client_limit = 0;
	expect_output(print_advice_table, &r,
		"SERVICE           PORT     PEAK  USUAL HOUR      LIMIT  CLIENT PEAK  "
		"CLIENT LIMIT  TOP CLIENT    NOTE\n"
		"SMTP                25       41  09:00              52           80           "
		"100  192.0.2.0/24 \n"
		"-                15101        3  -                   4            -             -"
		"  -             under a day of history: start from 5 x users = 20\n"
		"LIMIT = ceil(PEAK x 125%), CLIENT LIMIT = ceil(CLIENT PEAK x 125%); "
		"client peaks since start\n");
}

static void test_table_names_five(void **state)
{
	struct service_advice sa[2];
	struct client_row rows[7];
	const struct client_row *over[7];
	struct advise_report r = {
		.sa = sa, .n = 1, .headroom = 0, .client_limit = 52, .clients_on = true,
	};
	char *out;

	two_services(sa);
	smtp_clients(rows, over, &sa[0]);
	sa[0].clients.n_refused = 5;
	out = capture(print_advice_table, &r);
	if (!strstr(out, "  over client limit 52: 192.0.2.0/24 (peak 80), 2001:db8::7 (peak 61), "
		    "198.51.100.9 (peak 60), 203.0.113.1 (peak 55), 203.0.113.2 (peak 54)\n") ||
	    strstr(out, "more"))
		fail_msg("five refused, all named and no 'more' expected: %s", out);
	free(out);
	sa[0].clients.n_refused = 6;
	out = capture(print_advice_table, &r);
	if (!strstr(out, "203.0.113.2 (peak 54), and 1 more\n") || strstr(out, "203.0.113.3"))
		fail_msg("six refused: five named and 'and 1 more' expected: %s", out);
	free(out);
	/* Notes of one row are separated by "; ". */
	sa[0].users_start = 200;
	sa[0].a.peak = 0;
	out = capture(print_advice_table, &r);
	if (!strstr(out, "  no connection open in the history kept; under a day of history: "
		    "start from 5 x users = 200; over client limit 52: 192.0.2.0/24 (peak 80),"))
		fail_msg("three notes separated by '; ' expected: %s", out);
	free(out);
}

static void test_json_clients(void **state)
{
	struct service_advice sa[2];
	struct client_row rows[7];
	const struct client_row *over[7];
	struct advise_report r = {
		.sa = sa, .n = 2, .headroom = 25, .client_limit = 50, .clients_on = true,
	};
	static const char head[] =
		"{\"advice\":[{\"port\":25,\"service\":\"SMTP\",\"peak\":41,\"usual_hour\":9,"
		"\"headroom_pct\":25,\"limit\":52,\"pattern_changed\":false,\"users_start\":null,"
		"\"client_peak\":80,\"client_limit\":100,\"top_client\":\"192.0.2.0/24\","
		"\"refused\":";
	static const char tail[] =
		"},{\"port\":15101,\"service\":null,\"peak\":3,\"usual_hour\":null,"
		"\"headroom_pct\":25,\"limit\":4,\"pattern_changed\":false,\"users_start\":20,"
		"\"client_peak\":null,\"client_limit\":null,\"top_client\":null,"
		"\"refused\":null}]}\n";
	char want[2048];

	two_services(sa);
	smtp_clients(rows, over, &sa[0]);
	/* The complete list, not only the five the table names. */
	snprintf(want, sizeof(want), "%s%s%s", head,
		 "[{\"client\":\"192.0.2.0/24\",\"peak\":80},"
		 "{\"client\":\"2001:db8::7\",\"peak\":61},"
		 "{\"client\":\"198.51.100.9\",\"peak\":60},"
		 "{\"client\":\"203.0.113.1\",\"peak\":55},"
		 "{\"client\":\"203.0.113.2\",\"peak\":54},"
		 "{\"client\":\"203.0.113.3\",\"peak\":53},"
		 "{\"client\":\"203.0.113.4\",\"peak\":51}]", tail);
	expect_output(print_advice_json, &r, want);

	r.client_limit = 0;
	snprintf(want, sizeof(want), "%s[]%s", head, tail);
	expect_output(print_advice_json, &r, want);

	r.client_limit = 100;
	sa[0].clients.n_refused = 0;
	snprintf(want, sizeof(want), "%s[]%s", head, tail);
	expect_output(print_advice_json, &r, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clients_off),
		cmocka_unit_test(test_table_clients),
		cmocka_unit_test(test_table_names_five),
		cmocka_unit_test(test_json_clients),
	};

	return cmocka_run_group_tests_name("advise output", tests, NULL, NULL);
}
