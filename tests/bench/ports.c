// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * ports -p FIRST -k COUNT
 *
 * Holds one loopback TCP connection to each of the COUNT ports FIRST ..
 * FIRST + COUNT - 1, in this one process, until SIGTERM, SIGINT or SIGHUP.
 * The listeners stay open too. Prints "ready COUNT" on stdout once every
 * connection has been accepted. Sockets close with a reset, so no
 * TIME_WAIT socket outlives a run. Exits 1 if anything fails.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include "bench.h"

#define PROG		"ports"
#define MAX_PORTS	1000
#define USAGE		"usage: ports -p FIRST -k COUNT"

/* Connect to port and accept the connection; both ends stay open. */
static void hold_one(uint16_t port)
{
	struct sockaddr_in dst = loopback_addr(INADDR_LOOPBACK, port);
	int lfd, cfd, afd;

	lfd = listen_on(port, 1);
	if (lfd < 0)
		die(PROG, "listen on port %u failed: %s", port, strerror(errno));
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&dst, sizeof(dst)))
		die(PROG, "connect to port %u failed: %s", port, strerror(errno));
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		die(PROG, "accept on port %u failed: %s", port, strerror(errno));
	set_abortive_close(cfd);
	set_abortive_close(afd);
}

int main(int argc, char **argv)
{
	unsigned long first = 0, count = 0, i;
	sigset_t set;
	int c, sig;

	while ((c = getopt(argc, argv, "p:k:")) != -1) {
		if (c == 'p')
			first = parse_num(PROG, "port", optarg, 1, 65535);
		else if (c == 'k')
			count = parse_num(PROG, "count", optarg, 1, MAX_PORTS);
		else
			die(PROG, USAGE);
	}
	if (!first || !count)
		die(PROG, USAGE);
	if (first + count - 1 > 65535)
		die(PROG, "ports %lu .. %lu: past 65535", first, first + count - 1);
	raise_nofile();

	block_stop_signals(&set);
	for (i = 0; i < count; i++)
		hold_one(first + i);
	printf("ready %lu\n", count);
	fflush(stdout);
	sigwait(&set, &sig);
	return 0;
}
