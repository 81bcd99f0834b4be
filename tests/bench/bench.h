/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_BENCH_H
#define CONNPEAK_BENCH_H

/*
 * Small helpers shared by the benchmark programs in tests/bench/. Each
 * program is one .c file that includes this header; nothing here is part
 * of connpeak itself.
 */
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline void __attribute__((noreturn, format(printf, 2, 3)))
die(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The hard limit cannot be raised here, but the soft one can reach it. */
static inline void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static inline struct sockaddr_in loopback_addr(uint32_t host_order_ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = htonl(host_order_ip);
	a.sin_port = htons(port);
	return a;
}

/* A TCP listener on 127.0.0.1:port; -1 with errno set on failure. */
static inline int listen_on(uint16_t port, int backlog)
{
	struct sockaddr_in a = loopback_addr(INADDR_LOOPBACK, port);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, backlog)) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* Close with a reset instead of a FIN: no TIME_WAIT socket stays behind. */
static inline void set_abortive_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* Parse a decimal number in [min, max] or die naming the option. */
static inline unsigned long parse_num(const char *prog, const char *opt, const char *arg,
				      unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!arg[0] || *end || errno || v < min || v > max)
		die(prog, "bad %s '%s': expected a number from %lu to %lu", opt, arg, min, max);
	return v;
}

/* Seconds, fractions allowed, in (0, 3600]. */
static inline double parse_seconds(const char *prog, const char *arg)
{
	char *end;
	double v = strtod(arg, &end);

	if (!arg[0] || *end || !(v > 0 && v <= 3600))
		die(prog, "bad seconds '%s'", arg);
	return v;
}

/* Block SIGTERM, SIGINT and SIGHUP, to be taken with sigwait() on set. */
static inline void block_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigprocmask(SIG_BLOCK, set, NULL);
}

#endif
