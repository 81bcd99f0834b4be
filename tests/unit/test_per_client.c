// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "clients.h"

/*
 * Per-client parsing, address normalisation and formatting, sorting, output
 * and advice. connpeak_client_key_make() is the code the BPF program runs.
 */

static void test_prefix_valid(void **state)
{
	unsigned int p4 = 0, p6 = 0;

	assert_int_equal(parse_client_prefix("24,64", &p4, &p6), 0);
	assert_int_equal(p4, 24);
	assert_int_equal(p6, 64);
	assert_int_equal(parse_client_prefix("32,128", &p4, &p6), 0);
	assert_int_equal(p4, 32);
	assert_int_equal(p6, 128);
	assert_int_equal(parse_client_prefix("1,1", &p4, &p6), 0);
	assert_int_equal(p4, 1);
	assert_int_equal(p6, 1);
}

static void test_prefix_invalid(void **state)
{
	static const struct {
		const char *arg;
		int err;
	} cases[] = {
		{ "33,64", -ERANGE }, { "24,129", -ERANGE }, { "0,64", -ERANGE },
		{ "24,0", -ERANGE }, { "99999999999999999999,64", -ERANGE },
		{ "24,x", -EINVAL }, { "x,64", -EINVAL }, { "24", -EINVAL }, { "", -EINVAL },
		{ ",64", -EINVAL }, { "24,", -EINVAL }, { "24,64,1", -EINVAL },
		{ " 24,64", -EINVAL }, { "24, 64", -EINVAL }, { "-24,64", -EINVAL },
		{ "+24,64", -EINVAL }, { "24,64x", -EINVAL }, { "24;64", -EINVAL },
	};
	unsigned int p4 = 7, p6 = 7;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = parse_client_prefix(cases[i].arg, &p4, &p6);

		if (err != cases[i].err)
			fail_msg("'%s': got %d, expected %d", cases[i].arg, err, cases[i].err);
	}
	assert_int_equal(p4, 7);	/* untouched on error */
	assert_int_equal(p6, 7);
}

static void test_capacity(void **state)
{
	unsigned int n = 7;

	assert_int_equal(parse_client_capacity("0", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(parse_client_capacity("1", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(parse_client_capacity("1048576", &n), 0);
	assert_int_equal(n, 1048576);
	assert_int_equal(parse_client_capacity("1048577", &n), -ERANGE);
	assert_int_equal(parse_client_capacity("x", &n), -EINVAL);
	assert_int_equal(parse_client_capacity("-1", &n), -EINVAL);
	assert_int_equal(parse_client_capacity("", &n), -EINVAL);
	assert_int_equal(n, 1048576);

	assert_int_equal(clients_slots(0), 1);
	assert_int_equal(clients_slots(1), 2);
	assert_int_equal(clients_slots(4), 8);
	assert_int_equal(clients_slots(16384), 32768);
}

static __be32 be(unsigned int host)
{
	return htonl(host);
}

static void test_masks(void **state)
{
	struct connpeak_client_cfg cfg;

	client_cfg_fill(&cfg, 24, 64);
	assert_int_equal(cfg.mask4, be(0xffffff00));
	assert_int_equal(cfg.mask6[0], 0xffffffff);
	assert_int_equal(cfg.mask6[1], 0xffffffff);
	assert_int_equal(cfg.mask6[2], 0);
	assert_int_equal(cfg.mask6[3], 0);
	assert_int_equal(cfg.prefix4, 24);
	assert_int_equal(cfg.prefix6, 64);

	client_cfg_fill(&cfg, 32, 128);
	assert_int_equal(cfg.mask4, 0xffffffff);
	assert_int_equal(cfg.mask6[3], 0xffffffff);

	client_cfg_fill(&cfg, 1, 57);
	assert_int_equal(cfg.mask4, be(0x80000000));
	assert_int_equal(cfg.mask6[1], be(0xffffff80));
	assert_int_equal(cfg.mask6[2], 0);
}

/* Build a key the way the BPF program does, from text. */
static void key_from(struct connpeak_client_key *k, const char *addr, unsigned int port,
		     unsigned int p4, unsigned int p6)
{
	struct connpeak_client_cfg cfg;
	__be32 a[4] = {};
	int family = strchr(addr, ':') ? CONNPEAK_AF_INET6 : 2;

	assert_int_equal(inet_pton(family == 2 ? AF_INET : AF_INET6, addr, a), 1);
	client_cfg_fill(&cfg, p4, p6);
	memset(k, 0xaa, sizeof(*k));
	connpeak_client_key_make(k, family, a, port, &cfg);
}

static void expect_addr(const char *addr, unsigned int p4, unsigned int p6, const char *want,
			unsigned int family)
{
	struct connpeak_client_key k;
	char buf[CLIENT_ADDR_LEN];

	key_from(&k, addr, 25, p4, p6);
	client_addr_format(buf, sizeof(buf), &k);
	if (strcmp(buf, want) || k.family != family || k.port != 25)
		fail_msg("%s /%u,/%u: got '%s' family %u, expected '%s' family %u", addr, p4, p6,
			 buf, k.family, want, family);
}

static void test_normalise_and_format(void **state)
{
	expect_addr("192.0.2.7", 32, 128, "192.0.2.7", CONNPEAK_FAMILY_IPV4);
	expect_addr("192.0.2.7", 24, 64, "192.0.2.0/24", CONNPEAK_FAMILY_IPV4);
	expect_addr("192.0.2.7", 1, 64, "128.0.0.0/1", CONNPEAK_FAMILY_IPV4);
	expect_addr("::ffff:192.0.2.7", 32, 128, "192.0.2.7", CONNPEAK_FAMILY_IPV4);
	expect_addr("::ffff:192.0.2.7", 24, 64, "192.0.2.0/24", CONNPEAK_FAMILY_IPV4);
	expect_addr("2001:db8:1:2:3:4:5:6", 32, 128, "2001:db8:1:2:3:4:5:6",
		    CONNPEAK_FAMILY_IPV6);
	expect_addr("2001:db8:1:2:3:4:5:6", 24, 64, "2001:db8:1:2::/64", CONNPEAK_FAMILY_IPV6);
	expect_addr("2001:db8:1:2:3:4:5:6", 24, 48, "2001:db8:1::/48", CONNPEAK_FAMILY_IPV6);
	expect_addr("fd00::2", 32, 128, "fd00::2", CONNPEAK_FAMILY_IPV6);
	expect_addr("::1", 32, 128, "::1", CONNPEAK_FAMILY_IPV6);
	/* Not mapped: all zero, IPv4-compatible, and ffff in the wrong place. */
	expect_addr("::", 32, 128, "::", CONNPEAK_FAMILY_IPV6);
	expect_addr("::192.0.2.7", 32, 128, "::192.0.2.7", CONNPEAK_FAMILY_IPV6);
	expect_addr("::ffff:0:c000:207", 32, 128, "::ffff:0:c000:207", CONNPEAK_FAMILY_IPV6);
}

static void test_same_client_same_key(void **state)
{
	struct connpeak_client_key a, b;

	key_from(&a, "192.0.2.7", 587, 32, 128);
	key_from(&b, "::ffff:192.0.2.7", 587, 32, 128);
	assert_memory_equal(&a, &b, sizeof(a));	/* padding included: it is a map key */
	assert_int_equal(connpeak_client_hash(&a), connpeak_client_hash(&b));

	key_from(&a, "192.0.2.7", 587, 24, 128);
	key_from(&b, "192.0.2.200", 587, 24, 128);
	assert_memory_equal(&a, &b, sizeof(a));

	key_from(&b, "192.0.2.7", 25, 24, 128);
	assert_memory_not_equal(&a, &b, sizeof(a));
	assert_true(connpeak_client_fp(connpeak_client_hash(&a)) <= CONNPEAK_CL_MAX);
	assert_int_not_equal(connpeak_client_hash(&a), connpeak_client_hash(&b));
}

static void test_state_word(void **state)
{
	__u64 s = CONNPEAK_CL_STATE(0x1abcde, 12345, 678), free_slot = 0;

	assert_int_equal(CONNPEAK_CL_FP(s), 0x1abcde);
	assert_int_equal(CONNPEAK_CL_PEAK(s), 12345);
	assert_int_equal(CONNPEAK_CL_CUR(s), 678);
	assert_true(CONNPEAK_CL_IN_USE(s));
	s = CONNPEAK_CL_STATE(CONNPEAK_CL_MAX, CONNPEAK_CL_MAX, CONNPEAK_CL_MAX);
	assert_true(CONNPEAK_CL_IN_USE(s));
	/* A fresh entry (peak 1) is in use whatever its fingerprint. */
	assert_true(CONNPEAK_CL_IN_USE(CONNPEAK_CL_STATE(0, 1, 1)));
	assert_true(CONNPEAK_CL_IN_USE(CONNPEAK_CL_STATE(0, 1, 0)));
	assert_false(CONNPEAK_CL_IN_USE(free_slot));
	assert_false(CONNPEAK_CL_IN_USE(CONNPEAK_CL_TOMB));
	assert_false(CONNPEAK_CL_IN_USE(CONNPEAK_CL_BUSY));
	assert_int_equal(sizeof(struct connpeak_client), 48);
}

/* Homes spread over the table and stay in it; fingerprints differ. */
static void test_hash_spread(void **state)
{
	static unsigned int used[1000];
	struct connpeak_client_key k;
	unsigned int i, home, distinct = 0, same_fp = 0;
	char addr[32];
	__u64 h, prev = 0;

	for (i = 0; i < 1000; i++) {
		snprintf(addr, sizeof(addr), "10.0.%u.%u", i / 256, i % 256);
		key_from(&k, addr, 25, 32, 128);
		h = connpeak_client_hash(&k);
		home = connpeak_client_home(h, 1000);
		assert_true(home < 1000);
		distinct += !used[home]++;
		same_fp += i && connpeak_client_fp(h) == connpeak_client_fp(prev);
		prev = h;
	}
	/* 1000 keys in 1000 slots: about 632 homes are expected to be hit. */
	assert_true(distinct > 580 && distinct < 680);
	assert_true(same_fp < 2);
	assert_int_equal(connpeak_client_home(~0ULL, 1), 0);
	assert_int_equal(connpeak_client_home(~0ULL, 8), 7);
}

static struct client_row row(const char *addr, unsigned int port, unsigned int cur,
			     unsigned int peak, unsigned long long total)
{
	struct client_row r = { .current = cur, .peak = peak, .total = total };

	key_from(&r.key, addr, port, 32, 128);
	return r;
}

static void expect_order(const struct client_row *rows, size_t n, const char *const want[])
{
	char buf[CLIENT_ADDR_LEN];
	size_t i;

	for (i = 0; i < n; i++) {
		client_addr_format(buf, sizeof(buf), &rows[i].key);
		if (!want[i] || strcmp(buf, want[i]))
			fail_msg("row %zu: got %s:%u, expected %s", i, buf, rows[i].key.port,
				 want[i] ? want[i] : "(end)");
	}
	if (want[n])
		fail_msg("%zu rows, expected also %s", n, want[n]);
}

static void test_sort_and_top(void **state)
{
	struct client_row rows[] = {
		row("10.0.0.1", 993, 1, 9, 50), row("10.0.0.2", 25, 5, 5, 5),
		row("10.0.0.3", 25, 2, 30, 90), row("10.0.0.4", 25, 5, 6, 7),
		row("10.0.0.5", 25, 0, 30, 100), row("fd00::1", 25, 5, 6, 7),
		row("10.0.0.6", 25, 5, 6, 7),
	};
	const char *const by_current[] = { "10.0.0.4", "10.0.0.6", "fd00::1", "10.0.0.2",
					   "10.0.0.3", "10.0.0.5", "10.0.0.1", NULL };
	const char *const by_peak[] = { "10.0.0.3", "10.0.0.5", "10.0.0.4", "10.0.0.6",
					"fd00::1", "10.0.0.2", "10.0.0.1", NULL };
	const char *const top2[] = { "10.0.0.3", "10.0.0.5", "10.0.0.1", NULL };
	size_t n = sizeof(rows) / sizeof(rows[0]);

	client_rows_sort(rows, n, CLIENT_SORT_CURRENT);
	expect_order(rows, n, by_current);
	client_rows_sort(rows, n, CLIENT_SORT_PEAK);
	expect_order(rows, n, by_peak);
	n = client_rows_top(rows, n, 2);
	expect_order(rows, n, top2);
	assert_int_equal(client_rows_top(rows, n, 1), 2);
	assert_int_equal(client_rows_top(rows, 0, 5), 0);
}

static void expect_limit(unsigned int peak, unsigned int headroom, unsigned int want)
{
	struct client_row r = row("10.0.0.1", 25, 0, peak, 1);
	const struct client_row *over[1];
	struct client_advice a;

	assert_int_equal(client_advise(&r, 1, headroom, 0, over, &a), 0);
	if (a.max_peak != peak || a.limit != want)
		fail_msg("peak %u headroom %u%%: got limit %u, expected %u", peak, headroom,
			 a.limit, want);
}

static void test_advice_arithmetic(void **state)
{
	expect_limit(10, 25, 13);	/* 12.5 rounds up */
	expect_limit(8, 25, 10);	/* exact: no rounding up */
	expect_limit(7, 0, 7);
	expect_limit(1, 1, 2);		/* 1.01 */
	expect_limit(3, 50, 5);		/* 4.5 */
	expect_limit(100, 20, 120);
	expect_limit(99, 1, 100);	/* 99.99 */
	expect_limit(1, 100, 2);
	expect_limit(CONNPEAK_CL_MAX, 100, 2 * CONNPEAK_CL_MAX);
	expect_limit(3, 1000, 33);
}

static void test_advice_lists(void **state)
{
	struct client_row rows[] = {
		row("10.0.0.1", 25, 0, 4, 4), row("10.0.0.2", 25, 1, 12, 40),
		row("10.0.0.3", 25, 0, 5, 5), row("10.0.0.4", 25, 3, 30, 31),
		row("10.0.0.5", 25, 0, 12, 12),
	};
	const struct client_row *over[5];
	struct client_advice a;
	char buf[CLIENT_ADDR_LEN];

	assert_int_equal(client_advise(rows, 5, 20, 5, over, &a), 0);
	assert_int_equal(a.max_peak, 30);
	assert_int_equal(a.limit, 36);
	assert_int_equal(a.n_over, 3);	/* peak 5 does not exceed 5 */
	client_addr_format(buf, sizeof(buf), &over[0]->key);
	assert_string_equal(buf, "10.0.0.4");
	client_addr_format(buf, sizeof(buf), &over[1]->key);
	assert_string_equal(buf, "10.0.0.2");	/* ties by address */
	client_addr_format(buf, sizeof(buf), &over[2]->key);
	assert_string_equal(buf, "10.0.0.5");

	assert_int_equal(client_advise(rows, 5, 20, 30, over, &a), 0);
	assert_int_equal(a.n_over, 0);
	assert_int_equal(client_advise(rows, 0, 20, 0, over, &a), -ENODATA);
	rows[0].peak = CONNPEAK_CL_MAX;
	assert_int_equal(client_advise(rows, 1, 0xffffffffU, 0, over, &a), -ERANGE);
}

static void expect_refused(const struct service_clients *sc, const char *const want[])
{
	char buf[CLIENT_ADDR_LEN];
	size_t i;

	for (i = 0; i < sc->n_refused; i++) {
		client_addr_format(buf, sizeof(buf), &sc->refused[i]->key);
		if (!want[i] || strcmp(buf, want[i]))
			fail_msg("refused %zu: got %s (peak %u), expected %s", i, buf,
				 sc->refused[i]->peak, want[i] ? want[i] : "(end)");
	}
	if (want[sc->n_refused])
		fail_msg("%zu refused, expected also %s", sc->n_refused, want[sc->n_refused]);
}

static void test_service_clients(void **state)
{
	const struct client_row rows[] = {
		row("10.0.0.1", 25, 0, 4, 4), row("10.0.0.2", 25, 1, 12, 40),
		row("10.0.0.3", 25, 0, 5, 5), row("2001:db8::4", 25, 3, 30, 31),
		row("10.0.0.5", 25, 0, 12, 12),
	};
	const char *const none[] = { NULL };
	const char *const over5[] = { "2001:db8::4", "10.0.0.2", "10.0.0.5", NULL };
	const char *const over12[] = { "2001:db8::4", NULL };
	const char *const over1[] = { "2001:db8::4", "10.0.0.2", "10.0.0.5", "10.0.0.3",
				      "10.0.0.1", NULL };
	const struct client_row *over[5];
	struct service_clients sc;
	char buf[CLIENT_ADDR_LEN];

	/* Checked against the suggestion itself: nobody, by construction. */
	assert_int_equal(service_clients__fill(&sc, rows, 5, 20, 0, over), 0);
	assert_true(sc.known);
	assert_int_equal(sc.peak, 30);
	assert_int_equal(sc.limit, 36);
	client_addr_format(buf, sizeof(buf), &sc.top->key);
	assert_string_equal(buf, "2001:db8::4");
	expect_refused(&sc, none);

	assert_int_equal(service_clients__fill(&sc, rows, 5, 20, 5, over), 0);
	assert_int_equal(sc.limit, 36);		/* the suggestion does not depend on it */
	expect_refused(&sc, over5);
	assert_int_equal(service_clients__fill(&sc, rows, 5, 20, 12, over), 0);
	expect_refused(&sc, over12);		/* a peak at the limit was let in */
	assert_int_equal(service_clients__fill(&sc, rows, 5, 20, 1, over), 0);
	expect_refused(&sc, over1);
	assert_int_equal(service_clients__fill(&sc, rows, 5, 20, 30, over), 0);
	expect_refused(&sc, none);

	assert_int_equal(service_clients__fill(&sc, rows, 0, 20, 5, over), 0);
	assert_false(sc.known);
	assert_null(sc.top);
	assert_int_equal(sc.n_refused, 0);
}

/* What fn prints for r; the caller frees it. */
static char *capture(void (*fn)(FILE *, const struct client_report *),
		     const struct client_report *r)
{
	static char *buf;
	static size_t len;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, r);
	fclose(f);
	return buf;
}

static void test_json(void **state)
{
	struct client_row rows[] = {
		row("192.0.2.7", 25, 3, 12, 40), row("2001:db8::1", 25, 0, 2, 2),
		row("10.0.0.1", 587, 1, 1, 1),
	};
	struct client_overflow of[] = { { 25, 4, 1 }, { 443, 2, 0 } };
	struct client_report r = {
		.rows = rows, .n = 3, .overflow = of, .n_overflow = 2, .capacity = 16384,
		.entries = 5,
		.losses = { .evicted = 7, .overflow = 6 },
	};
	char *out;

	key_from(&rows[0].key, "192.0.2.7", 25, 24, 128);
	rows[0].peak_at = 1764752462;	/* 2025-12-03T09:01:02Z */
	out = capture(print_clients_json, &r);
	assert_string_equal(out,
		"{\"capacity\":16384,\"entries\":5,\"evicted\":7,\"overflow\":6,\"ports\":["
		"{\"port\":25,\"service\":null,\"overflow\":4,\"unattributed\":1,\"clients\":["
		"{\"client\":\"192.0.2.0/24\",\"family\":\"ipv4\",\"prefix\":24,\"current\":3,"
		"\"peak\":12,\"peak_at\":\"2025-12-03T09:01:02Z\",\"total\":40},"
		"{\"client\":\"2001:db8::1\",\"family\":\"ipv6\",\"prefix\":128,\"current\":0,"
		"\"peak\":2,\"peak_at\":\"1970-01-01T00:00:00Z\",\"total\":2}]},"
		"{\"port\":443,\"service\":null,\"overflow\":2,\"unattributed\":0,"
		"\"clients\":[]},"
		"{\"port\":587,\"service\":null,\"overflow\":0,\"unattributed\":0,"
		"\"clients\":["
		"{\"client\":\"10.0.0.1\",\"family\":\"ipv4\",\"prefix\":32,\"current\":1,"
		"\"peak\":1,\"peak_at\":\"1970-01-01T00:00:00Z\",\"total\":1}]}]}\n");
	free(out);

	rows[0].name = "mx.\"example\".org";
	r.resolve = true;
	r.n = 1;
	r.n_overflow = 0;
	out = capture(print_clients_json, &r);
	assert_non_null(strstr(out, ",\"name\":\"mx.\\\"example\\\".org\"}"));
	free(out);
}

static void test_table(void **state)
{
	struct client_row rows[] = {
		row("2001:db8::1", 25, 3, 12, 40), row("10.0.0.1", 25, 1, 1, 1),
	};
	struct client_report r = { .rows = rows, .n = 2, .resolve = true };
	char *out;

	rows[0].name = "mx.example.org";
	out = capture(print_clients_table, &r);
	assert_string_equal(out,
		" PORT  SERVICE         CLIENT        CURRENT      PEAK  PEAK AT              "
		"      TOTAL  NAME\n"
		"   25  -               2001:db8::1         3        12  1970-01-01 00:00:00  "
		"         40  mx.example.org\n"
		"   25  -               10.0.0.1            1         1  1970-01-01 00:00:00  "
		"          1  -\n");
	free(out);
}

static void wrap_losses(FILE *f, const struct client_report *r)
{
	print_client_losses(f, r, true);
}

static void wrap_losses_json(FILE *f, const struct client_report *r)
{
	print_client_losses(f, r, false);
}

static void test_losses(void **state)
{
	struct client_overflow of[10];
	struct client_report r = { .capacity = 4, .overflow = of };
	char *out;
	int i;

	out = capture(wrap_losses, &r);
	assert_string_equal(out, "");
	free(out);
	for (i = 0; i < 10; i++)
		of[i] = (struct client_overflow){ 1000 + i, i + 1, i % 2 };
	r.n_overflow = 10;
	r.losses = (struct client_losses){ .evicted = 3, .overflow = 55, .unmarked = 1 };
	out = capture(wrap_losses, &r);
	assert_non_null(strstr(out, "3 clients without open connections were forgotten"));
	assert_non_null(strstr(out, "(start --clients 4)"));
	assert_non_null(strstr(out, "55 connections were attributed to no client"));
	assert_non_null(strstr(out, "(port 1000: 1, 0 open; 1001: 2, 1 open;"));
	assert_non_null(strstr(out, "1007: 8, 1 open; 2 more ports)"));
	assert_non_null(strstr(out, "1 unattributed connections could not be marked"));
	free(out);
	out = capture(wrap_losses_json, &r);
	assert_null(strstr(out, "forgotten"));
	assert_null(strstr(out, "attributed to no client"));
	assert_non_null(strstr(out, "could not be marked"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_valid),
		cmocka_unit_test(test_prefix_invalid),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_normalise_and_format),
		cmocka_unit_test(test_same_client_same_key),
		cmocka_unit_test(test_state_word),
		cmocka_unit_test(test_hash_spread),
		cmocka_unit_test(test_sort_and_top),
		cmocka_unit_test(test_advice_arithmetic),
		cmocka_unit_test(test_advice_lists),
		cmocka_unit_test(test_service_clients),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_losses),
	};

	setenv("TZ", "UTC", 1);
	return cmocka_run_group_tests_name("per_client", tests, NULL, NULL);
}
