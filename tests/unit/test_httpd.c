// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "httpd.h"

/*
 * The metrics server, driven over loopback with plain sockets: answers,
 * status codes, clients that misbehave, and no wake-ups while idle. Needs
 * no privileges; ports are picked below 32768, outside the ephemeral range.
 */

#define BODY "connpeak_open_connections{port=\"25\",service=\"smtp\",direction=\"in\"} 3\n"
#define METRICS_TYPE_LINE "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
#define CLIENT_TIMEOUT_S 10	/* a client read that waits longer fails the test */
#define PORT_BASE 20000
#define PORT_SPAN 12000

static struct httpd *server;
static unsigned int port;
static int render_calls;
static int render_fails;

static int fake_render(void *ctx, char **buf, size_t *len)
{
	__atomic_fetch_add(&render_calls, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&render_fails, __ATOMIC_RELAXED))
		return -EIO;
	*buf = strdup(BODY);
	*len = strlen(BODY);
	return *buf ? 0 : -ENOMEM;
}

/* 0 if nothing listens on (and nothing lingers on) 127.0.0.1:p */
static int port_free(unsigned int p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err = fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa));

	if (fd >= 0)
		close(fd);
	return err;
}

static struct httpd *start_on_free_port(const char *fmt, unsigned int *p)
{
	unsigned int i, first = PORT_BASE + (unsigned int)getpid() % PORT_SPAN;
	struct httpd *h;
	char addr[64];

	for (i = 0; i < 200; i++) {
		*p = PORT_BASE + (first - PORT_BASE + i) % PORT_SPAN;
		if (port_free(*p))
			continue;
		snprintf(addr, sizeof(addr), fmt, *p);
		h = httpd__start(addr, fake_render, NULL);
		if (h)
			return h;
	}
	return NULL;
}

static int setup(void **state)
{
	server = start_on_free_port("127.0.0.1:%u", &port);
	return server ? 0 : -1;
}

static int teardown(void **state)
{
	httpd__stop(server);
	return 0;
}

static int connect_to(int family, unsigned int p)
{
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(p),
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(p),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (family == AF_INET)
		err = connect(fd, (struct sockaddr *)&in, sizeof(in));
	else
		err = connect(fd, (struct sockaddr *)&in6, sizeof(in6));
	if (err)
		fail_msg("connect to port %u: %s", p, strerror(errno));
	return fd;
}

/* Read until the server closes; fails the test if it keeps us waiting. */
static void read_reply(int fd, char *buf, size_t size)
{
	size_t used = 0;
	ssize_t n = 0;

	while (used < size - 1 && (n = recv(fd, buf + used, size - 1 - used, 0)) > 0)
		used += n;
	if (n < 0)
		fail_msg("reading the reply: %s", strerror(errno));
	buf[used] = '\0';
}

static void request_on(int family, unsigned int p, const char *req, char *buf, size_t size)
{
	int fd = connect_to(family, p);

	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	read_reply(fd, buf, size);
	close(fd);
}

static void request(const char *req, char *buf, size_t size)
{
	request_on(AF_INET, port, req, buf, size);
}

static void expect_status(const char *reply, const char *status)
{
	if (strncmp(reply, status, strlen(status)))
		fail_msg("expected a reply starting '%s', actual '%.80s'", status, reply);
}

static const char *body_of(const char *reply)
{
	const char *end = strstr(reply, "\r\n\r\n");

	assert_non_null(end);
	return end + 4;
}

static void test_metrics(void **state)
{
	char reply[4096];
	int calls = __atomic_load_n(&render_calls, __ATOMIC_RELAXED);

	request("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", reply,
		sizeof(reply));
	expect_status(reply, "HTTP/1.1 200 ");
	assert_non_null(strstr(reply, METRICS_TYPE_LINE));
	assert_string_equal(body_of(reply), BODY);
	assert_int_equal(__atomic_load_n(&render_calls, __ATOMIC_RELAXED), calls + 1);

	/* HTTP/1.0 and a query string: still /metrics (the answer names 1.1, as it may). */
	request("GET /metrics?name[]=x HTTP/1.0\r\n\r\n", reply, sizeof(reply));
	expect_status(reply, "HTTP/1.1 200 ");
	assert_string_equal(body_of(reply), BODY);
}

static void test_head(void **state)
{
	char reply[4096];

	request("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", reply,
		sizeof(reply));
	expect_status(reply, "HTTP/1.1 200 ");
	assert_non_null(strstr(reply, METRICS_TYPE_LINE));
	assert_string_equal(body_of(reply), "");
}

static void test_not_found(void **state)
{
	static const char *const paths[] = { "/", "/other", "/metrics/", "/metricsx",
					     "/METRICS", "//metrics" };
	char req[128], reply[4096];
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close"
			 "\r\n\r\n", paths[i]);
		request(req, reply, sizeof(reply));
		expect_status(reply, "HTTP/1.1 404 ");
	}
	/* An unknown path stays 404 whatever the method. */
	request("POST /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0"
		"\r\n\r\n", reply, sizeof(reply));
	expect_status(reply, "HTTP/1.1 404 ");
}

static void test_method_not_allowed(void **state)
{
	static const char *const methods[] = { "PUT", "DELETE", "OPTIONS", "PATCH" };
	char req[160], reply[4096];
	size_t i;

	request("POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		"Content-Length: 7\r\n\r\na=b&c=d", reply, sizeof(reply));
	expect_status(reply, "HTTP/1.1 405 ");
	assert_non_null(strstr(reply, "\r\nAllow: GET, HEAD\r\n"));
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		snprintf(req, sizeof(req), "%s /metrics HTTP/1.1\r\nHost: x\r\n"
			 "Connection: close\r\n\r\n", methods[i]);
		request(req, reply, sizeof(reply));
		expect_status(reply, "HTTP/1.1 405 ");
	}
}

static void test_render_failure(void **state)
{
	char reply[4096];

	__atomic_store_n(&render_fails, 1, __ATOMIC_RELAXED);
	request("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", reply,
		sizeof(reply));
	__atomic_store_n(&render_fails, 0, __ATOMIC_RELAXED);
	expect_status(reply, "HTTP/1.1 500 ");
	assert_null(strstr(reply, "version=0.0.4"));
}

/*
 * A client that connects and says nothing, one that stops half-way through
 * its request and one that sends garbage must not hold up a good scrape.
 */
static void test_bad_clients(void **state)
{
	static const char garbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 junk\r\n\r\n";
	static const char partial[] = "GET /metr";
	int silent, slow, junk;
	char reply[4096];

	silent = connect_to(AF_INET, port);
	slow = connect_to(AF_INET, port);
	assert_int_equal(send(slow, partial, strlen(partial), MSG_NOSIGNAL), strlen(partial));
	junk = connect_to(AF_INET, port);
	assert_int_equal(send(junk, garbage, sizeof(garbage) - 1, MSG_NOSIGNAL),
			 sizeof(garbage) - 1);

	request("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", reply,
		sizeof(reply));
	expect_status(reply, "HTTP/1.1 200 ");
	assert_string_equal(body_of(reply), BODY);

	/* The garbage gets an error answer or a close, not a wait. */
	read_reply(junk, reply, sizeof(reply));
	if (reply[0])
		expect_status(reply, "HTTP/1.1 400 ");
	close(junk);
	close(slow);
	close(silent);
}

static long task_switches(pid_t tid)
{
	char path[64], line[128];
	long n, sum = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &n) == 1)
			sum += n;
	}
	fclose(f);
	return sum;
}

/* Context switches of every thread but this one: the server's. */
static long server_switches(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long sum = 0, n;
	pid_t tid;

	assert_non_null(d);
	while ((e = readdir(d))) {
		tid = atoi(e->d_name);
		if (tid <= 0 || tid == gettid())
			continue;
		n = task_switches(tid);
		sum += n > 0 ? n : 0;
	}
	closedir(d);
	return sum;
}

/* No timer: the server thread does not run at all while nothing happens. */
static void test_idle_no_wakeups(void **state)
{
	struct timespec settle = { .tv_nsec = 300000000 }, idle = { .tv_sec = 1 };
	long before, after;

	nanosleep(&settle, NULL);
	before = server_switches();
	nanosleep(&idle, NULL);
	after = server_switches();
	assert_true(before > 0);
	if (after != before)
		fail_msg("server thread woke %ld times in 1 s of idleness", after - before);
}

/* Run fn with stderr going to a buffer. */
static void capture_stderr(char *buf, size_t size, void (*fn)(void *), void *arg)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, size - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
}

struct start_try {
	const char *listen;
	struct httpd *h;
	int err;
};

static void try_start(void *arg)
{
	struct start_try *t = arg;

	errno = 0;
	t->h = httpd__start(t->listen, fake_render, NULL);
	t->err = errno;
}

static void test_start_errors(void **state)
{
	struct start_try t = { .listen = "localhost:80" };
	char addr[64], msg[512], want[160];

	capture_stderr(msg, sizeof(msg), try_start, &t);
	assert_null(t.h);
	assert_int_equal(t.err, EINVAL);
	assert_string_equal(msg, "connpeak: metrics listener 'localhost:80': bad address: "
			    "expected ADDR:PORT or [ADDR]:PORT, numeric, port 1-65535\n");

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	t.listen = addr;
	capture_stderr(msg, sizeof(msg), try_start, &t);
	assert_null(t.h);
	assert_int_equal(t.err, EADDRINUSE);
	snprintf(want, sizeof(want), "connpeak: metrics listener '%s': bind failed: %s\n", addr,
		 strerror(EADDRINUSE));
	assert_string_equal(msg, want);
	httpd__stop(NULL);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A second server on IPv6 loopback; stopping it releases its port and fds. */
static void test_ipv6_and_stop(void **state)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(0),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), fds;
	unsigned int p6 = 0;
	struct httpd *h6;
	char reply[4096];

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		skip();
	}
	close(fd);
	fds = count_fds();
	h6 = start_on_free_port("[::1]:%u", &p6);
	assert_non_null(h6);
	request_on(AF_INET6, p6, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		   reply, sizeof(reply));
	expect_status(reply, "HTTP/1.1 200 ");
	assert_string_equal(body_of(reply), BODY);

	httpd__stop(h6);
	assert_int_equal(count_fds(), fds);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin6_port = htons(p6);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_render_failure),
		cmocka_unit_test(test_bad_clients),
		cmocka_unit_test(test_idle_no_wakeups),
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test(test_ipv6_and_stop),
	};

	return cmocka_run_group_tests_name("httpd", tests, setup, teardown);
}
