// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * churn -p PORT -t THREADS -s SECONDS
 *
 * Loopback connection churn: each thread listens on PORT + its index and
 * loops connect, accept, close the accepted end, close the connecting end,
 * for SECONDS seconds (a decimal fraction is allowed). Prints the number of
 * connections and the rate as "CONNS CONNS_PER_SEC". The accepted end closes
 * first, so the TIME_WAIT sockets sit on the listener's side and never hold
 * an ephemeral port that the next connect() needs.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include "bench.h"

#define PROG		"churn"
#define MAX_THREADS	64

struct worker {
	pthread_t tid;
	uint16_t port;
	int lfd;
	unsigned long conns;
	int err;
};

static atomic_int stopping;
static pthread_barrier_t start_line;

static int one_connection(const struct worker *w, const struct sockaddr_in *dst)
{
	int cfd, afd;

	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0)
		return -errno;
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
	while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
		w->err = one_connection(w, &dst);
		if (w->err)
			break;
		w->conns++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker workers[MAX_THREADS] = {};
	unsigned long nthreads = 4, port = 0, total = 0;
	struct timespec run;
	double seconds = 2;
	uint64_t t0, t1;
	char *end;
	int c, i;

	while ((c = getopt(argc, argv, "p:t:s:")) != -1) {
		if (c == 'p') {
			port = parse_num(PROG, "port", optarg, 1, 65535 - MAX_THREADS);
		} else if (c == 't') {
			nthreads = parse_num(PROG, "threads", optarg, 1, MAX_THREADS);
		} else if (c == 's') {
			seconds = strtod(optarg, &end);
			if (*end || seconds <= 0 || seconds > 3600)
				die(PROG, "bad seconds '%s'", optarg);
		} else {
			die(PROG, "usage: churn -p PORT [-t THREADS] [-s SECONDS]");
		}
	}
	if (!port)
		die(PROG, "usage: churn -p PORT [-t THREADS] [-s SECONDS]");

	pthread_barrier_init(&start_line, NULL, nthreads + 1);
	for (i = 0; i < (int)nthreads; i++) {
		workers[i].port = port + i;
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
	nanosleep(&run, NULL);
	atomic_store(&stopping, 1);
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
