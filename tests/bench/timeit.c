// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * timeit [-o FILE] [-k SECONDS] CMD [ARG...] [| CMD [ARG...]]...
 *
 * Runs a command, or a pipeline of commands separated by a lone "|"
 * argument, without a shell, and prints on stdout the wall time in
 * nanoseconds from the first spawn to the last exit, and the peak resident
 * set size in KiB of the first command: "NS MAXRSS_KB". The output of the
 * last command goes to FILE (default /dev/null); stderr is inherited. With
 * -k, the first command is sent SIGTERM once it has run SECONDS (a decimal
 * fraction is allowed), for a daemon that runs until told to stop. Exits 1
 * if any command fails to start or exits non-zero.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include "bench.h"

#define PROG		"timeit"
#define MAX_STAGES	8
#define USAGE		"usage: timeit [-o FILE] [-k SECONDS] CMD [ARG...] [| CMD [ARG...]]..."

extern char **environ;

struct stage {
	char **argv;
	pid_t pid;
};

/* Split argv at lone "|" arguments; returns the number of stages. */
static int split(char **argv, int argc, struct stage *st)
{
	int i, n = 0;

	st[n++].argv = argv;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "|"))
			continue;
		argv[i] = NULL;
		/* a command before each "|" and after it */
		if (n == MAX_STAGES || i + 1 >= argc || !st[n - 1].argv[0])
			die(PROG, "bad pipeline");
		st[n++].argv = &argv[i + 1];
	}
	return n;
}

static int spawn_stage(struct stage *s, int in_fd, int out_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int err;

	/* Our SIGCHLD stays blocked; the command starts with no signal blocked. */
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_init(&fa);
	if (in_fd != STDIN_FILENO)
		posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
	if (out_fd != STDOUT_FILENO)
		posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	err = posix_spawnp(&s->pid, s->argv[0], &fa, &attr, s->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (err)
		fprintf(stderr, PROG ": %s: spawn failed: %s\n", s->argv[0], strerror(err));
	return err;
}

/*
 * Send SIGTERM to pid once SECONDS have passed, unless a child exits first.
 * SIGCHLD must be blocked since before the spawn, so that no exit is missed.
 */
static void term_after(pid_t pid, double seconds)
{
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9), t;
	struct timespec left;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while ((t = now_ns()) < end) {
		left.tv_sec = (end - t) / 1000000000;
		left.tv_nsec = (end - t) % 1000000000;
		if (sigtimedwait(&chld, NULL, &left) == SIGCHLD)
			return;
	}
	kill(pid, SIGTERM);
}

int main(int argc, char **argv)
{
	struct stage st[MAX_STAGES] = {};
	const char *out_path = "/dev/null";
	int i, n, out_fd, in_fd, p[2], status, failed = 0;
	struct rusage ru;
	double term_secs = 0;
	sigset_t chld;
	long rss = 0;
	uint64_t t0, t1;

	while (argc > 2 && (!strcmp(argv[1], "-o") || !strcmp(argv[1], "-k"))) {
		if (argv[1][1] == 'o')
			out_path = argv[2];
		else
			term_secs = parse_seconds(PROG, argv[2]);
		argc -= 2;
		argv += 2;
	}
	if (argc < 2)
		die(PROG, USAGE);
	n = split(argv + 1, argc - 1, st);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out_fd < 0)
		die(PROG, "%s: open failed: %s", out_path, strerror(errno));

	t0 = now_ns();
	in_fd = STDIN_FILENO;
	for (i = 0; i < n; i++) {
		if (i + 1 < n && pipe2(p, O_CLOEXEC))
			die(PROG, "pipe failed: %s", strerror(errno));
		if (spawn_stage(&st[i], in_fd, i + 1 < n ? p[1] : out_fd))
			failed = 1;
		if (in_fd != STDIN_FILENO)
			close(in_fd);
		if (i + 1 < n) {
			close(p[1]);
			in_fd = p[0];
		}
	}
	if (term_secs && st[0].pid)
		term_after(st[0].pid, term_secs);
	for (i = 0; i < n; i++) {
		if (!st[i].pid)
			continue;
		if (wait4(st[i].pid, &status, 0, &ru) < 0)
			die(PROG, "wait failed: %s", strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, PROG ": %s: exited with status %d\n", st[i].argv[0],
				WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
			failed = 1;
		}
		if (i == 0)
			rss = ru.ru_maxrss;
	}
	t1 = now_ns();
	printf("%llu %ld\n", (unsigned long long)(t1 - t0), rss);
	return failed;
}
