// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <linux/types.h>
#include "connpeak.h"
#include "httpd.h"
#include "metrics.h"
#include "services.h"

/*
 * The Prometheus exposition written by metrics__write, byte for byte, and
 * the parsing of the metrics listen address.
 */

/* 2026-12-03T09:01:02Z */
#define T0 1796288462

static char services_file[] = "/tmp/connpeak-services-XXXXXX";

/* Names that need escaping: a quote and a backslash, Latin-1, overlong, UTF-8. */
static const char services_text[] =
	"https\t443/tcp\n"
	"smtp\t25/tcp mail\n"
	"we\"ird\\x\t444/tcp\n"
	"caf\xe9\t445/tcp\n"
	"caf\xc3\xa9\t446/tcp\n"
	"bad\xc0\xaf\t447/tcp\n";

static int setup(void **state)
{
	int fd = mkstemp(services_file);
	ssize_t len = sizeof(services_text) - 1;

	if (fd < 0 || write(fd, services_text, len) != len)
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

static char *capture(const struct port_row *rows, size_t n, const struct metric_port *ports,
		     size_t nports)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	metrics__write(f, rows, n, ports, nports);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_rows(void **state)
{
	const struct port_row rows[] = {
		{ .port = 25, .dir = CONNPEAK_DIR_IN, .current = 3, .peak = 9, .peak_at = T0,
		  .total = 120 },
		{ .port = 443, .dir = CONNPEAK_DIR_IN, .current = 118, .peak = 240,
		  .peak_at = T0 + 60, .total = 18230 },
		{ .port = 8443, .dir = CONNPEAK_DIR_OUT, .current = 0, .peak = 1,
		  .peak_at = T0 + 1, .total = 4294967296ULL },
	};
	char *out = capture(rows, 3, NULL, 0);

	assert_string_equal(out,
		"# HELP connpeak_open_connections TCP connections open now "
		"(ESTABLISHED or CLOSE_WAIT).\n"
		"# TYPE connpeak_open_connections gauge\n"
		"connpeak_open_connections{port=\"25\",service=\"smtp\",direction=\"in\"} 3\n"
		"connpeak_open_connections{port=\"443\",service=\"https\",direction=\"in\"} 118\n"
		"connpeak_open_connections{port=\"8443\",service=\"\",direction=\"out\"} 0\n"
		"# HELP connpeak_peak_connections Most TCP connections open at once since start "
		"or the last reset.\n"
		"# TYPE connpeak_peak_connections gauge\n"
		"connpeak_peak_connections{port=\"25\",service=\"smtp\",direction=\"in\"} 9\n"
		"connpeak_peak_connections{port=\"443\",service=\"https\",direction=\"in\"} 240\n"
		"connpeak_peak_connections{port=\"8443\",service=\"\",direction=\"out\"} 1\n"
		"# HELP connpeak_peak_timestamp_seconds When the peak was reached, in seconds "
		"since the Unix epoch.\n"
		"# TYPE connpeak_peak_timestamp_seconds gauge\n"
		"connpeak_peak_timestamp_seconds{port=\"25\",service=\"smtp\",direction=\"in\"} "
		"1796288462\n"
		"connpeak_peak_timestamp_seconds{port=\"443\",service=\"https\",direction=\"in\"} "
		"1796288522\n"
		"connpeak_peak_timestamp_seconds{port=\"8443\",service=\"\",direction=\"out\"} "
		"1796288463\n"
		"# HELP connpeak_connections_total TCP connections opened since start.\n"
		"# TYPE connpeak_connections_total counter\n"
		"connpeak_connections_total{port=\"25\",service=\"smtp\",direction=\"in\"} 120\n"
		"connpeak_connections_total{port=\"443\",service=\"https\",direction=\"in\"} "
		"18230\n"
		"connpeak_connections_total{port=\"8443\",service=\"\",direction=\"out\"} "
		"4294967296\n");
	free(out);
}

/* Limit and warning lines only for ports that have them; alert counters for all. */
static void test_limits(void **state)
{
	const struct port_row row = { .port = 443, .dir = CONNPEAK_DIR_IN, .current = 1,
				      .peak = 2, .peak_at = T0, .total = 5 };
	const struct metric_port ports[] = {
		{ .port = 25, .limit = 50, .warn = 40, .alerts = 7, .suppressed = 2 },
		{ .port = 443, .limit = 0, .warn = 0, .alerts = 0, .suppressed = 0 },
		{ .port = 993, .limit = 250, .warn = 0, .alerts = 1, .suppressed = 0 },
	};
	char *out = capture(&row, 1, ports, 3);
	const char *limits = strstr(out, "# HELP connpeak_limit_connections");

	assert_non_null(limits);
	assert_string_equal(limits,
		"# HELP connpeak_limit_connections Configured limit of open inbound connections.\n"
		"# TYPE connpeak_limit_connections gauge\n"
		"connpeak_limit_connections{port=\"25\",service=\"smtp\",direction=\"in\"} 50\n"
		"connpeak_limit_connections{port=\"993\",service=\"\",direction=\"in\"} 250\n"
		"# HELP connpeak_warning_connections Open inbound connections at which a warning "
		"is raised.\n"
		"# TYPE connpeak_warning_connections gauge\n"
		"connpeak_warning_connections{port=\"25\",service=\"smtp\",direction=\"in\"} 40\n"
		"# HELP connpeak_alerts_total Alert events sent.\n"
		"# TYPE connpeak_alerts_total counter\n"
		"connpeak_alerts_total{port=\"25\",service=\"smtp\",direction=\"in\"} 7\n"
		"connpeak_alerts_total{port=\"443\",service=\"https\",direction=\"in\"} 0\n"
		"connpeak_alerts_total{port=\"993\",service=\"\",direction=\"in\"} 1\n"
		"# HELP connpeak_alerts_suppressed_total Alert events suppressed, not sent.\n"
		"# TYPE connpeak_alerts_suppressed_total counter\n"
		"connpeak_alerts_suppressed_total{port=\"25\",service=\"smtp\",direction=\"in\"} "
		"2\n"
		"connpeak_alerts_suppressed_total{port=\"443\",service=\"https\",direction=\"in\"} "
		"0\n"
		"connpeak_alerts_suppressed_total{port=\"993\",service=\"\",direction=\"in\"} 0\n");
	assert_null(strstr(out, "connpeak_limit_connections{port=\"443\""));
	free(out);
}

static void test_no_limits(void **state)
{
	const struct metric_port none = { .port = 25 };
	char *out = capture(NULL, 0, &none, 1);

	assert_null(strstr(out, "connpeak_limit_connections"));
	assert_null(strstr(out, "connpeak_warning_connections"));
	assert_non_null(strstr(out, "connpeak_alerts_total{port=\"25\",service=\"smtp\","
			       "direction=\"in\"} 0\n"));
	free(out);
	out = capture(NULL, 0, NULL, 0);
	assert_string_equal(out, "");
	free(out);
}

static void test_escaping(void **state)
{
	const struct port_row rows[] = {
		{ .port = 444, .dir = CONNPEAK_DIR_IN, .current = 1, .peak = 1, .total = 1 },
		{ .port = 445, .dir = CONNPEAK_DIR_IN, .current = 1, .peak = 1, .total = 1 },
		{ .port = 446, .dir = CONNPEAK_DIR_IN, .current = 1, .peak = 1, .total = 1 },
		{ .port = 447, .dir = CONNPEAK_DIR_IN, .current = 1, .peak = 1, .total = 1 },
	};
	char *out = capture(rows, 4, NULL, 0);

	assert_non_null(strstr(out, "connpeak_open_connections{port=\"444\","
			       "service=\"we\\\"ird\\\\x\",direction=\"in\"} 1\n"));
	/* Latin-1 is not UTF-8: the byte becomes U+FFFD. */
	assert_non_null(strstr(out, "{port=\"445\",service=\"caf\xef\xbf\xbd\","));
	assert_non_null(strstr(out, "{port=\"446\",service=\"caf\xc3\xa9\","));
	assert_non_null(strstr(out, "{port=\"447\",service=\"bad\xef\xbf\xbd\xef\xbf\xbd\","));
	free(out);
}

/* promtool (Debian's prometheus package), if installed, accepts all of it. */
static void test_promtool(void **state)
{
	static const char promtool[] = "/usr/bin/promtool";
	const struct port_row rows[] = {
		{ .port = 25, .dir = CONNPEAK_DIR_IN, .current = 3, .peak = 9, .peak_at = T0,
		  .total = 120 },
		{ .port = 444, .dir = CONNPEAK_DIR_IN, .current = 1, .peak = 1, .total = 1 },
		{ .port = 445, .dir = CONNPEAK_DIR_OUT, .current = 1, .peak = 1, .total = 1 },
		{ .port = 447, .dir = CONNPEAK_DIR_IN, .current = 1, .peak = 1, .total = 1 },
	};
	const struct metric_port ports[] = {
		{ .port = 25, .limit = 50, .warn = 40, .alerts = 7, .suppressed = 2 },
		{ .port = 444, .alerts = 1 },
	};
	char path[] = "/tmp/connpeak-metrics-XXXXXX";
	int fd, st;
	FILE *f;
	pid_t pid;

	if (access(promtool, X_OK))
		skip();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	metrics__write(f, rows, 4, ports, 2);
	fclose(f);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen(path, "r", stdin))
			_exit(127);
		execl(promtool, promtool, "check", "metrics", NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(path);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("promtool check metrics: expected exit status 0, actual %d (its "
			 "complaint is above)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

struct listen_case {
	const char *text;
	int err;
	int family;
	unsigned int port;
	const char *addr;
};

static void check_listen(const struct listen_case *c)
{
	struct sockaddr_storage sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
	struct sockaddr_in *in = (struct sockaddr_in *)&sa;
	char addr[INET6_ADDRSTRLEN] = "";
	socklen_t len = 0;
	int err;

	err = httpd__parse_listen(c->text, &sa, &len);
	if (err != c->err)
		fail_msg("'%s': expected %d, actual %d", c->text, c->err, err);
	if (err)
		return;
	assert_int_equal(sa.ss_family, c->family);
	if (c->family == AF_INET) {
		assert_int_equal(len, sizeof(*in));
		assert_int_equal(ntohs(in->sin_port), c->port);
		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
	} else {
		assert_int_equal(len, sizeof(*in6));
		assert_int_equal(ntohs(in6->sin6_port), c->port);
		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
	}
	assert_string_equal(addr, c->addr);
}

static void test_listen_good(void **state)
{
	static const struct listen_case good[] = {
		{ HTTPD_DEFAULT_LISTEN, 0, AF_INET, 19465, "127.0.0.1" },
		{ "0.0.0.0:1", 0, AF_INET, 1, "0.0.0.0" },
		{ "192.0.2.7:65535", 0, AF_INET, 65535, "192.0.2.7" },
		{ "[::1]:9100", 0, AF_INET6, 9100, "::1" },
		{ "[::]:80", 0, AF_INET6, 80, "::" },
		{ "[2001:db8::5]:443", 0, AF_INET6, 443, "2001:db8::5" },
		{ "[::ffff:127.0.0.1]:8080", 0, AF_INET6, 8080, "::ffff:127.0.0.1" },
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		check_listen(&good[i]);
}

static void test_listen_bad(void **state)
{
	static const struct {
		const char *text;
		int err;
	} bad[] = {
		{ "", -EINVAL }, { ":80", -EINVAL }, { "127.0.0.1", -EINVAL },
		{ "127.0.0.1:", -EINVAL }, { "localhost:80", -EINVAL }, { "::1:80", -EINVAL },
		{ "[::1]80", -EINVAL }, { "[::1]", -EINVAL }, { "[::1:80", -EINVAL },
		{ "[]:80", -EINVAL }, { "1.2.3:80", -EINVAL }, { "256.1.1.1:80", -EINVAL },
		{ "127.0.0.1:80:81", -EINVAL }, { "127.0.0.1:+80", -EINVAL },
		{ "127.0.0.1:-1", -EINVAL }, { "127.0.0.1: 80", -EINVAL },
		{ " 127.0.0.1:80", -EINVAL }, { "127.0.0.1:80 ", -EINVAL },
		{ "127.0.0.1:0x50", -EINVAL }, { "[127.0.0.1]:80", -EINVAL },
		{ "[fe80::1%lo]:80", -EINVAL }, { "*:80", -EINVAL },
		{ "[1111:2222:3333:4444:5555:6666:7777:8888:9999]:80", -EINVAL },
		{ "127.0.0.1:0", -ERANGE }, { "127.0.0.1:65536", -ERANGE },
		{ "[::1]:99999999999999999999999", -ERANGE },
	};
	struct listen_case c = {};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.text = bad[i].text;
		c.err = bad[i].err;
		check_listen(&c);
	}
}

/* show --format: a bad value is a usage error, checked before anything is opened. */
static void test_show_format_usage(void **state)
{
	static const char *const cases[][4] = {
		{ "show", "--format", "xml", NULL },
		{ "show", "--format", NULL },
		{ "reset", "--format", "json", NULL },
	};
	const char *bin = getenv("CONNPEAK") ?: "./connpeak";
	int st, i;
	pid_t pid;

	if (access(bin, X_OK))
		skip();
	for (i = 0; i < 3; i++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (!freopen("/dev/null", "w", stderr))
				_exit(127);
			execl(bin, bin, cases[i][0], cases[i][1], cases[i][2], NULL);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) != 2)
			fail_msg("connpeak %s %s %s: expected exit status 2, actual %d",
				 cases[i][0], cases[i][1], cases[i][2] ?: "", WEXITSTATUS(st));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_no_limits),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_promtool),
		cmocka_unit_test(test_listen_good),
		cmocka_unit_test(test_listen_bad),
		cmocka_unit_test(test_show_format_usage),
	};

	return cmocka_run_group_tests_name("metrics", tests, setup, teardown);
}
