// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * fetch -p PORT [-n COUNT] [-o FILE]
 *
 * Fetches http://127.0.0.1:PORT/metrics COUNT times (default 1), one after
 * the other, each on a new connection with "Connection: close", as a
 * Prometheus scrape does. Prints on stdout the time of each fetch in
 * nanoseconds, one a line: from before socket() until the server closed
 * the connection, the whole response read. The last response's body goes
 * to FILE. Exits 1 if a fetch fails or its status is not 200.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include "bench.h"

#define PROG		"fetch"
#define MAX_RESPONSE	(16UL << 20)
#define REQUEST		"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
#define USAGE		"usage: fetch -p PORT [-n COUNT] [-o FILE]"

struct response {
	char *buf;
	size_t len, cap;
};

/* Read until the server closes; the response is left in r. */
static void read_all(int fd, struct response *r)
{
	ssize_t n;

	r->len = 0;
	for (;;) {
		if (r->len + 65536 > r->cap) {
			r->cap = r->cap ? r->cap * 2 : 1UL << 20;
			if (r->cap > MAX_RESPONSE)
				die(PROG, "response longer than %lu bytes", MAX_RESPONSE);
			r->buf = realloc(r->buf, r->cap);
			if (!r->buf)
				die(PROG, "out of memory");
		}
		n = read(fd, r->buf + r->len, r->cap - r->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(PROG, "read failed: %s", strerror(errno));
		if (!n)
			break;
		r->len += n;
	}
	r->buf[r->len] = '\0';
}

/* One fetch; returns its time in nanoseconds. */
static uint64_t fetch_once(uint16_t port, struct response *r)
{
	struct sockaddr_in dst = loopback_addr(INADDR_LOOPBACK, port);
	uint64_t t0 = now_ns(), t1;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)))
		die(PROG, "connect to port %u failed: %s", port, strerror(errno));
	if (write(fd, REQUEST, strlen(REQUEST)) != (ssize_t)strlen(REQUEST))
		die(PROG, "sending the request failed: %s", strerror(errno));
	read_all(fd, r);
	t1 = now_ns();
	close(fd);
	if (strncmp(r->buf, "HTTP/1.1 200 ", 13) && strncmp(r->buf, "HTTP/1.0 200 ", 13))
		die(PROG, "status not 200: %.40s", r->buf);
	return t1 - t0;
}

static void write_body(const char *path, const struct response *r)
{
	const char *body = strstr(r->buf, "\r\n\r\n");
	FILE *f;

	if (!body)
		die(PROG, "response without a body");
	body += 4;
	f = fopen(path, "we");
	if (!f || fwrite(body, 1, r->len - (body - r->buf), f) != r->len - (body - r->buf) ||
	    fclose(f))
		die(PROG, "%s: write failed: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	struct response r = {};
	unsigned long count = 1, i;
	const char *out = NULL;
	uint16_t port = 0;
	int c;

	while ((c = getopt(argc, argv, "p:n:o:")) != -1) {
		if (c == 'p')
			port = parse_num(PROG, "port", optarg, 1, 65535);
		else if (c == 'n')
			count = parse_num(PROG, "count", optarg, 1, 1000000);
		else if (c == 'o')
			out = optarg;
		else
			die(PROG, USAGE);
	}
	if (!port)
		die(PROG, USAGE);
	for (i = 0; i < count; i++)
		printf("%llu\n", (unsigned long long)fetch_once(port, &r));
	if (out)
		write_body(out, &r);
	free(r.buf);
	return 0;
}
