// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * hold -p PORT -n COUNT
 *
 * Opens COUNT loopback TCP connections to 127.0.0.1:PORT and keeps them
 * ESTABLISHED until SIGTERM, SIGINT or SIGHUP. A process may hold at most
 * 20,000 files here, so the accepted ends and the connecting ends are spread
 * over several server and client processes of at most PER_PROC sockets each.
 * Each client process connects from its own source address (127.0.1.x) so
 * that ephemeral ports never run out. Prints "ready COUNT" on stdout once
 * every connection has been accepted. Sockets close with a reset, so no
 * TIME_WAIT socket outlives a run. Exits 1 if anything fails.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include "bench.h"

#define PER_PROC	9000
#define MAX_PROCS	64
#define PROG		"hold"

static pid_t kids[2 * MAX_PROCS];
static int nr_kids;

static void stop_kids(void)
{
	int i;

	for (i = 0; i < nr_kids; i++)
		kill(kids[i], SIGTERM);
	for (i = 0; i < nr_kids; i++)
		waitpid(kids[i], NULL, 0);
	nr_kids = 0;
}

static void __attribute__((noreturn)) kid_fail(int ready_fd, const char *what)
{
	fprintf(stderr, PROG ": %s failed: %s\n", what, strerror(errno));
	if (write(ready_fd, "E", 1) < 0)
		_exit(1);
	_exit(1);
}

static void __attribute__((noreturn)) kid_report_and_wait(int ready_fd)
{
	if (write(ready_fd, "R", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static void __attribute__((noreturn)) serve(int lfd, int ready_fd, unsigned long quota)
{
	unsigned long i;
	int fd;

	for (i = 0; i < quota; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR) {
			i--;
			continue;
		}
		if (fd < 0)
			kid_fail(ready_fd, "accept");
		set_abortive_close(fd);
	}
	close(lfd);
	kid_report_and_wait(ready_fd);
}

static void __attribute__((noreturn)) connect_out(int idx, uint16_t port, int ready_fd,
						  unsigned long quota)
{
	struct sockaddr_in src = loopback_addr(0x7f000101 + idx, 0);
	struct sockaddr_in dst = loopback_addr(INADDR_LOOPBACK, port);
	unsigned long i;
	int fd, one = 1;

	for (i = 0; i < quota; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			kid_fail(ready_fd, "socket");
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)))
			kid_fail(ready_fd, "bind");
		if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)))
			kid_fail(ready_fd, "connect");
		set_abortive_close(fd);
	}
	kid_report_and_wait(ready_fd);
}

/* Fork one holder; the child never returns. */
static void spawn(const sigset_t *old, int sfd, int pipefd[2], int lfd, int idx,
		  uint16_t port, unsigned long quota, int server)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0) {
		stop_kids();
		die(PROG, "fork failed: %s", strerror(errno));
	}
	if (pid) {
		kids[nr_kids++] = pid;
		return;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	sigprocmask(SIG_SETMASK, old, NULL);
	close(sfd);
	close(pipefd[0]);
	if (server)
		serve(lfd, pipefd[1], quota);
	close(lfd);
	connect_out(idx, port, pipefd[1], quota);
}

/* Wait for every holder to report; 0 when all are ready. */
static int wait_ready(int ready_fd, int sfd, int want)
{
	struct pollfd pfd[2] = { { .fd = ready_fd, .events = POLLIN },
				 { .fd = sfd, .events = POLLIN } };
	char buf[64];
	ssize_t n, i;
	int got = 0;

	while (got < want) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return -1;
		if (pfd[1].revents)
			return -1;	/* asked to stop, or a holder died */
		if (!pfd[0].revents)
			continue;
		n = read(ready_fd, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		for (i = 0; i < n; i++)
			if (buf[i] != 'R')
				return -1;
		got += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long count = 0, quota, nr_procs;
	struct signalfd_siginfo si;
	sigset_t set, old;
	int c, i, lfd, sfd, pipefd[2];
	uint16_t port = 0;

	while ((c = getopt(argc, argv, "p:n:")) != -1) {
		if (c == 'p')
			port = parse_num(PROG, "port", optarg, 1, 65535);
		else if (c == 'n')
			count = parse_num(PROG, "count", optarg, 1, PER_PROC * MAX_PROCS);
		else
			die(PROG, "usage: hold -p PORT -n COUNT");
	}
	if (!port || !count)
		die(PROG, "usage: hold -p PORT -n COUNT");
	raise_nofile();
	lfd = listen_on(port, 65535);
	if (lfd < 0)
		die(PROG, "listen on port %u failed: %s", port, strerror(errno));

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0 || pipe2(pipefd, O_CLOEXEC))
		die(PROG, "signalfd or pipe failed: %s", strerror(errno));

	nr_procs = (count + PER_PROC - 1) / PER_PROC;
	for (i = 0; i < (int)nr_procs; i++) {
		quota = count / nr_procs + ((unsigned long)i < count % nr_procs);
		spawn(&old, sfd, pipefd, lfd, i, port, quota, 1);
		spawn(&old, sfd, pipefd, lfd, i, port, quota, 0);
	}
	close(lfd);
	close(pipefd[1]);
	if (wait_ready(pipefd[0], sfd, 2 * nr_procs)) {
		stop_kids();
		die(PROG, "holding %lu connections on port %u failed", count, port);
	}
	printf("ready %lu\n", count);
	fflush(stdout);

	if (read(sfd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo == SIGCHLD) {
		stop_kids();
		die(PROG, "a holder process exited early");
	}
	stop_kids();
	return 0;
}
