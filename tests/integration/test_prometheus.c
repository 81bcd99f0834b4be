// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * show --format prometheus from a tracker counting real loopback
 * connections: each value against what the test opened and closed,
 * promtool check metrics on the output, and the other formats unchanged.
 * (Named apart from tests/unit/test_metrics.c: both would build to
 * .output/tests/test_metrics.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"

#define PORT_PROM	17201	/* no name in /etc/services */
#define PORT_HTTPS	443
#define PROMTOOL	"/usr/bin/promtool"

/*
 * The value of metric{port="port",...,direction="dir"}, parsed here rather
 * than by connpeak's code; -1 if there is no such line.
 */
static long long sample(const char *text, const char *metric, unsigned int port,
			const char *dir)
{
	const char *line, *end, *value;
	char head[128], tail[32];

	snprintf(head, sizeof(head), "%s{port=\"%u\",service=\"", metric, port);
	snprintf(tail, sizeof(tail), "\",direction=\"%s\"} ", dir);
	for (line = text; (end = strchr(line, '\n')); line = end + 1) {
		if (strncmp(line, head, strlen(head)))
			continue;
		value = strstr(line, tail);
		if (value && value < end)
			return strtoll(value + strlen(tail), NULL, 10);
	}
	return -1;
}

static void show_prometheus(struct h_out *o)
{
	h_cp(o, "show", "--format", "prometheus", NULL);
	if (o->status != 0 || o->err[0])
		H_FAIL("show --format prometheus: exit status %d, stderr: %s", o->status, o->err);
}

static void expect_sample(const char *text, const char *metric, unsigned int port,
			  const char *dir, long long want)
{
	long long got = sample(text, metric, port, dir);

	if (got != want)
		H_FAIL("%s port %u %s: expected %lld, actual %lld; output:\n%s", metric, port, dir,
		       want, got, text);
}

/* promtool reads the exposition on stdin and lints it. */
static void promtool_check(const char *text)
{
	char path[] = "/tmp/connpeak-itest-prom-XXXXXX";
	char *argv[] = { "sh", "-c", PROMTOOL " check metrics < \"$1\"", "sh", path, NULL };
	int fd = mkstemp(path);
	ssize_t len = strlen(text);
	struct h_out o;

	if (fd < 0 || write(fd, text, len) != len)
		H_FAIL("%s: writing the exposition failed", path);
	close(fd);
	h_run(&o, argv);
	unlink(path);
	if (o.status != 0)
		H_FAIL("promtool check metrics: exit status %d: %s%s; input:\n%s", o.status, o.out,
		       o.err, text);
	h_out_free(&o);
}

static void test_counts(void **state)
{
	int lfd, c[3], a[3], i;
	time_t before, after;
	long long peak_at;
	struct h_out o;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_PROM, 16);
	before = time(NULL);
	for (i = 0; i < 3; i++) {
		c[i] = h_connect("127.0.0.1", PORT_PROM);
		a[i] = h_accept(lfd);
	}
	after = time(NULL);
	h_close(c[0]);
	h_close(a[0]);
	h_expect(PORT_PROM, H_IN, 2, 3, 3);
	h_expect(PORT_PROM, H_OUT, 2, 3, 3);

	show_prometheus(&o);
	expect_sample(o.out, "connpeak_open_connections", PORT_PROM, "in", 2);
	expect_sample(o.out, "connpeak_open_connections", PORT_PROM, "out", 2);
	expect_sample(o.out, "connpeak_peak_connections", PORT_PROM, "in", 3);
	expect_sample(o.out, "connpeak_connections_total", PORT_PROM, "out", 3);
	if (!strstr(o.out, "connpeak_open_connections{port=\"17201\",service=\"\","))
		H_FAIL("port without a name: expected service=\"\"; output:\n%s", o.out);
	/* Whole seconds, converted from boot time: allow one second either way. */
	peak_at = sample(o.out, "connpeak_peak_timestamp_seconds", PORT_PROM, "in");
	if (peak_at < before - 1 || peak_at > after + 1)
		H_FAIL("peak time: expected %lld to %lld, actual %lld", (long long)before - 1,
		       (long long)after + 1, peak_at);
	if (strstr(o.out, "connpeak_limit_connections"))
		H_FAIL("show has no limits, yet printed limit lines:\n%s", o.out);
	promtool_check(o.out);
	h_out_free(&o);
}

static void test_promtool_named_service(void **state)
{
	struct h_out o;
	int lfd;

	h_require();
	if (access(PROMTOOL, X_OK))
		skip();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_HTTPS, 16);
	h_connect("127.0.0.1", PORT_HTTPS);
	h_accept(lfd);
	h_expect(PORT_HTTPS, H_IN, 1, 1, 1);
	show_prometheus(&o);
	if (!strstr(o.out, "connpeak_open_connections{port=\"443\",service=\"https\","
		    "direction=\"in\"} 1\n"))
		H_FAIL("https: expected its open-connections line; output:\n%s", o.out);
	promtool_check(o.out);
	h_out_free(&o);
}

/* Nothing counted yet: no output at all, which promtool accepts. */
static void test_empty(void **state)
{
	struct h_out o;

	h_require();
	h_start();
	show_prometheus(&o);
	H_EQ(0, strlen(o.out), "bytes of output with nothing counted");
	h_out_free(&o);
}

/* --format json is --json, --format table is the default table. */
static void test_formats_agree(void **state)
{
	struct h_out a, b;
	int lfd;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_PROM, 16);
	h_connect("127.0.0.1", PORT_PROM);
	h_accept(lfd);
	h_expect(PORT_PROM, H_IN, 1, 1, 1);
	h_cp(&a, "show", "--json", NULL);
	h_cp(&b, "show", "--format", "json", NULL);
	if (a.status || b.status || strcmp(a.out, b.out))
		H_FAIL("--json (%d):\n%s\n--format json (%d):\n%s", a.status, a.out, b.status,
		       b.out);
	h_out_free(&a);
	h_out_free(&b);
	h_cp(&a, "show", NULL);
	h_cp(&b, "show", "--format", "table", NULL);
	if (a.status || b.status || strcmp(a.out, b.out))
		H_FAIL("show (%d):\n%s\n--format table (%d):\n%s", a.status, a.out, b.status,
		       b.out);
	h_out_free(&a);
	h_out_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_counts),
		H_TEST(test_promtool_named_service),
		H_TEST(test_empty),
		H_TEST(test_formats_agree),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
