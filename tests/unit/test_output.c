// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/types.h>
#include "connpeak.h"
#include "output.h"
#include "services.h"

/* 2026-12-03T09:01:02Z */
#define T0 1796288462

static char services_file[] = "/tmp/connpeak-services-XXXXXX";

static int setup(void **state)
{
	static const char text[] = "https\t443/tcp\nweird\t444/tcp\nsmtp\t25/tcp mail\n";
	int fd = mkstemp(services_file);

	setenv("TZ", "UTC", 1);
	tzset();
	if (fd < 0 || write(fd, text, sizeof(text) - 1) != sizeof(text) - 1)
		return -1;
	close(fd);
	return services__load(services_file);
}

static int teardown(void **state)
{
	services__free();
	unlink(services_file);
	return 0;
}

/* Run a printer into a string the test owns. */
static char *capture(void (*print)(FILE *, const struct port_row *, size_t, int),
		     const struct port_row *rows, size_t n, int flag)
{
	char *buf = calloc(1, 4096);
	FILE *f = fmemopen(buf, 4095, "w");

	assert_non_null(f);
	print(f, rows, n, flag);
	fclose(f);
	return buf;
}

static void json(FILE *f, const struct port_row *rows, size_t n, int flag)
{
	print_rows_json(f, rows, n);
}

static void test_time_formats(void **state)
{
	char buf[32];

	fmt_utc(buf, sizeof(buf), T0);
	assert_string_equal(buf, "2026-12-03T09:01:02Z");
	fmt_local(buf, sizeof(buf), T0);
	assert_string_equal(buf, "2026-12-03 09:01:02");
}

static void test_json(void **state)
{
	struct port_row rows[] = {
		{ .port = 443, .dir = CONNPEAK_DIR_IN, .current = 12, .peak = 40,
		  .peak_at = T0, .total = 1234 },
		{ .port = 8443, .dir = CONNPEAK_DIR_OUT, .current = 0, .peak = 1,
		  .peak_at = T0 + 1, .total = 1 },
	};
	char *out = capture(json, rows, 2, 0);

	assert_string_equal(out,
		"{\"ports\":[{\"port\":443,\"service\":\"https\",\"direction\":\"in\","
		"\"current\":12,\"peak\":40,\"peak_at\":\"2026-12-03T09:01:02Z\",\"total\":1234},"
		"{\"port\":8443,\"service\":null,\"direction\":\"out\",\"current\":0,\"peak\":1,"
		"\"peak_at\":\"2026-12-03T09:01:03Z\",\"total\":1}]}\n");
	free(out);
	out = capture(json, rows, 0, 0);
	assert_string_equal(out, "{\"ports\":[]}\n");
	free(out);
}

static void test_table(void **state)
{
	struct port_row rows[] = {
		{ .port = 25, .dir = CONNPEAK_DIR_IN, .current = 3, .peak = 3, .peak_at = T0,
		  .total = 9 },
		{ .port = 444, .dir = CONNPEAK_DIR_OUT, .current = 1, .peak = 2, .peak_at = T0,
		  .total = 5 },
	};
	char *out = capture(print_rows_table, rows, 2, 1);
	char *second = strchr(out, '\n') + 1;

	assert_non_null(strstr(out, "PORT"));
	assert_non_null(strstr(out, "PEAK AT"));
	assert_non_null(strstr(second, "   25  smtp            in          3         3* "
				"2026-12-03 09:01:02            9\n"));
	assert_non_null(strstr(second, "  444  weird           out         1         2  "));
	free(out);
	out = capture(print_rows_table, rows, 2, 0);
	assert_null(strchr(out, '*'));
	free(out);
}

static void test_sorting(void **state)
{
	struct port_row rows[] = {
		{ .port = 993, .dir = CONNPEAK_DIR_OUT, .current = 1, .peak = 1 },
		{ .port = 25, .dir = CONNPEAK_DIR_OUT, .current = 7, .peak = 9 },
		{ .port = 993, .dir = CONNPEAK_DIR_IN, .current = 7, .peak = 8 },
		{ .port = 25, .dir = CONNPEAK_DIR_IN, .current = 0, .peak = 4 },
	};

	rows_sort_by_port(rows, 4);
	assert_int_equal(rows[0].port, 25);
	assert_int_equal(rows[0].dir, CONNPEAK_DIR_IN);
	assert_int_equal(rows[1].port, 25);
	assert_int_equal(rows[1].dir, CONNPEAK_DIR_OUT);
	assert_int_equal(rows[2].port, 993);
	assert_int_equal(rows[2].dir, CONNPEAK_DIR_IN);
	rows_sort_busiest(rows, 4);
	assert_int_equal(rows[0].port, 25);	/* 7 open, peak 9 */
	assert_int_equal(rows[1].port, 993);	/* 7 open, peak 8 */
	assert_int_equal(rows[2].current, 1);
	assert_int_equal(rows[3].current, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_formats),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_sorting),
	};

	return cmocka_run_group_tests_name("output", tests, setup, teardown);
}
