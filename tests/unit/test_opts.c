// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>
#include "opts.h"
#include "services.h"

static char services_file[] = "/tmp/connpeak-services-XXXXXX";

static int load_services(void **state)
{
	static const char text[] =
		"# comment line\n"
		"smtp\t\t25/tcp\t\tmail\n"
		"https\t\t443/tcp\t\t\t\t# http over TLS\n"
		"https\t\t443/udp\n"
		"submissions\t465/tcp\t\tssmtp smtps\n"
		"imaps\t\t993/tcp\n"
		"onlyudp\t\t7000/udp\n"
		"broken\t\tnotaport/tcp\n"
		"toobig\t\t70000/tcp\n";
	int fd = mkstemp(services_file);

	if (fd < 0 || write(fd, text, sizeof(text) - 1) != sizeof(text) - 1)
		return -1;
	close(fd);
	return services__load(services_file);
}

static int unload_services(void **state)
{
	services__free();
	unlink(services_file);
	return 0;
}

static void test_ulong(void **state)
{
	unsigned long v = 0;

	assert_int_equal(parse_ulong("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_ulong("0", 1, 100, &v), -ERANGE);
	assert_int_equal(parse_ulong("101", 1, 100, &v), -ERANGE);
	assert_int_equal(parse_ulong("99999999999999999999999", 1, 100, &v), -ERANGE);
	assert_int_equal(parse_ulong("12ab", 1, 100, &v), -EINVAL);
	assert_int_equal(parse_ulong("-1", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_ulong(" 5", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_ulong("", 0, 100, &v), -EINVAL);
	assert_int_equal(v, 42);
}

static void test_port_numbers(void **state)
{
	unsigned int port = 7;

	assert_int_equal(parse_port("1", &port), 0);
	assert_int_equal(port, 1);
	assert_int_equal(parse_port("65535", &port), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(parse_port("0", &port), -ERANGE);
	assert_int_equal(parse_port("65536", &port), -ERANGE);
	assert_int_equal(parse_port("12ab", &port), -EINVAL);
	assert_int_equal(parse_port("", &port), -EINVAL);
	assert_int_equal(port, 65535);
}

static void test_port_names(void **state)
{
	unsigned int port = 0;

	assert_int_equal(parse_port("https", &port), 0);
	assert_int_equal(port, 443);
	assert_int_equal(parse_port("smtps", &port), 0);	/* an alias */
	assert_int_equal(port, 465);
	assert_int_equal(parse_port("mail", &port), 0);
	assert_int_equal(port, 25);
	assert_int_equal(parse_port("onlyudp", &port), -ENOENT);
	assert_int_equal(parse_port("broken", &port), -ENOENT);
	assert_int_equal(parse_port("toobig", &port), -ENOENT);
	assert_int_equal(parse_port("nosuchservice", &port), -ENOENT);
}

static void test_service_names(void **state)
{
	assert_string_equal(services__name(443), "https");
	assert_string_equal(services__name(465), "submissions");
	assert_string_equal(services__name(993), "imaps");
	assert_null(services__name(7000));
	assert_null(services__name(12345));
	assert_null(services__name(70000));
}

static void test_port_set(void **state)
{
	char *args[] = { "https", "25", "443" };
	char *bad[] = { "993", "65536" };
	struct port_set set;

	assert_int_equal(port_set__parse(&set, args, 3), 0);
	assert_int_equal(set.count, 2);
	assert_true(port_set__has(&set, 443));
	assert_true(port_set__has(&set, 25));
	assert_false(port_set__has(&set, 993));
	assert_int_equal(port_set__parse(&set, bad, 2), -ERANGE);
	assert_int_equal(port_set__parse(&set, NULL, 0), 0);
	assert_int_equal(set.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ulong),
		cmocka_unit_test(test_port_numbers),
		cmocka_unit_test(test_port_names),
		cmocka_unit_test(test_service_names),
		cmocka_unit_test(test_port_set),
	};

	return cmocka_run_group_tests_name("opts", tests, load_services, unload_services);
}
