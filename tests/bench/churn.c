// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * churn -p PORT [-t THREADS] [-s SECONDS | -n COUNT] [-a ADDRS [-o FIRST]]
 *
 * Loopback connection churn: each thread listens on PORT + its index and
 * loops connect, accept, close the accepted end, close the connecting end,
 * for SECONDS seconds (a decimal fraction is allowed) or COUNT connections.
 * Prints the number of connections and the rate as "CONNS CONNS_PER_SEC".
 * The accepted end closes first, so the TIME_WAIT sockets sit on the
 * listener's side and never hold an ephemeral port that the next connect()
 * needs.
 *
 * By default every connection comes from 127.0.0.1. With -a, each thread
 * connects from ADDRS source addresses of its own in turn, starting at its
 * FIRST-th (default 0), so that the listener sees ADDRS clients per port; an
 * ADDRS larger than the connections made gives each connection a client not
 * seen before, and a later run with -o past them goes on with new ones.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include "bench.h"

#define PROG		"churn"
#define MAX_THREADS	62
/* Source addresses of thread t: SRC_NET | (t + 1) << ADDR_BITS | 1 .. ADDRS_MAX */
#define SRC_NET		0x7f000000UL	/* 127.0.0.0; hold uses 127.0.1.x */
#define ADDR_BITS	18
#define ADDRS_MAX	((1UL << ADDR_BITS) - 2)
#define USAGE		"usage: churn -p PORT [-t THREADS] [-s SECONDS | -n COUNT] " \
			"[-a ADDRS [-o FIRST]]"

struct worker {
	pthread_t tid;
	unsigned long conns;
	uint32_t src_base;	/* 0: no bind, the kernel picks 127.0.0.1 */
	int lfd;
	int err;
	uint16_t port;
};

static atomic_int stopping;
static pthread_barrier_t start_line;
static unsigned long addrs, first_addr, count;

/* Bind to the source address of the worker's n-th connection. */
static int bind_source(int fd, const struct worker *w, unsigned long n)
{
	struct sockaddr_in src;
	int one = 1;

	src = loopback_addr(w->src_base + 1 + (first_addr + n) % addrs, 0);
	/* The port is chosen at connect(), for the whole 4-tuple, as without bind. */
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)&src, sizeof(src)))
		return -errno;
	return 0;
}

static int one_connection(const struct worker *w, const struct sockaddr_in *dst)
{
	int cfd, afd, err;

	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0)
		return -errno;
	if (w->src_base) {
		err = bind_source(cfd, w, w->conns);
		if (err) {
			close(cfd);
			return err;
		}
	}
	if (connect(cfd, (const struct sockaddr *)dst, sizeof(*dst))) {
		close(cfd);
		return -errno;
	}
	afd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0) {
		close(cfd);
		return -errno;
	}
	close(afd);
	close(cfd);
	return 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_in dst = loopback_addr(INADDR_LOOPBACK, w->port);

	pthread_barrier_wait(&start_line);
	while (!atomic_load_explicit(&stopping, memory_order_relaxed) &&
	       (!count || w->conns < count)) {
		w->err = one_connection(w, &dst);
		if (w->err)
			break;
		w->conns++;
	}
	return NULL;
}

/* Options into the globals; returns the number of threads, sets *port and *seconds. */
static unsigned long parse_opts(int argc, char **argv, unsigned long *port, double *seconds)
{
	unsigned long nthreads = 4;
	int c;

	while ((c = getopt(argc, argv, "p:t:s:n:a:o:")) != -1) {
		if (c == 'p')
			*port = parse_num(PROG, "port", optarg, 1, 65535 - MAX_THREADS);
		else if (c == 't')
			nthreads = parse_num(PROG, "threads", optarg, 1, MAX_THREADS);
		else if (c == 's')
			*seconds = parse_seconds(PROG, optarg);
		else if (c == 'n')
			count = parse_num(PROG, "count", optarg, 1, 1UL << 40);
		else if (c == 'a')
			addrs = parse_num(PROG, "addresses", optarg, 1, ADDRS_MAX);
		else if (c == 'o')
			first_addr = parse_num(PROG, "first address", optarg, 0, ADDRS_MAX);
		else
			die(PROG, USAGE);
	}
	if (!*port || optind != argc || (first_addr && !addrs))
		die(PROG, USAGE);
	return nthreads;
}

int main(int argc, char **argv)
{
	struct worker workers[MAX_THREADS] = {};
	unsigned long nthreads, port = 0, total = 0;
	struct timespec run;
	double seconds = 2;
	uint64_t t0, t1;
	int i;

	nthreads = parse_opts(argc, argv, &port, &seconds);
	pthread_barrier_init(&start_line, NULL, nthreads + 1);
	for (i = 0; i < (int)nthreads; i++) {
		workers[i].port = port + i;
		if (addrs)
			workers[i].src_base = SRC_NET | (i + 1UL) << ADDR_BITS;
		workers[i].lfd = listen_on(workers[i].port, 128);
		if (workers[i].lfd < 0)
			die(PROG, "listen on port %u failed: %s", workers[i].port, strerror(errno));
		if (pthread_create(&workers[i].tid, NULL, work, &workers[i]))
			die(PROG, "pthread_create failed");
	}
	run.tv_sec = (time_t)seconds;
	run.tv_nsec = (long)((seconds - run.tv_sec) * 1e9);
	pthread_barrier_wait(&start_line);
	t0 = now_ns();
	if (!count) {
		nanosleep(&run, NULL);
		atomic_store(&stopping, 1);
	}
	for (i = 0; i < (int)nthreads; i++)
		pthread_join(workers[i].tid, NULL);
	t1 = now_ns();

	for (i = 0; i < (int)nthreads; i++) {
		if (workers[i].err)
			die(PROG, "thread %d: %s", i, strerror(-workers[i].err));
		total += workers[i].conns;
		close(workers[i].lfd);
	}
	printf("%lu %.0f\n", total, total / ((t1 - t0) / 1e9));
	return 0;
}
