// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * bursts -p PORT -b BURSTS -c CONNPEAK -P PIN_DIR [-s SEED] [-i POLL_MS]
 *
 * Peak accuracy. Each burst opens K loopback connections to PORT (1-500),
 * holds all of them for H ms (1-200) and closes them, so its true peak is K.
 * K, H and the pause before each burst (50-250 ms) come from a generator
 * seeded with SEED, so every run replays the same bursts. Before a burst
 * the peak of PORT is reset with 'connpeak reset'; after it, 'connpeak show
 * --json' gives the peak connpeak saw. Meanwhile another process runs 'ss'
 * every POLL_MS ms (default 100) on an absolute schedule; every tenth of
 * those samples is what a 1 s poller would have seen. The poller is forked
 * before any socket exists: a child spawned while a burst closes its sockets
 * would hold copies of them, and they would stay open until it calls exec.
 * One line per burst:
 *   BURST K HOLD_MS CONNPEAK_PEAK CONNPEAK_CURRENT_AFTER SS_FAST SS_SLOW
 * where SS_FAST and SS_SLOW are the highest counts the POLL_MS and the
 * 10 * POLL_MS pollers saw while the burst lasted.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "bench.h"

#define PROG		"bursts"
#define MAX_CONNS	500
#define MAX_HOLD_MS	200
#define MIN_GAP_MS	50
#define MAX_GAP_MS	250
#define SLOW_EVERY	10

extern char **environ;

struct sample {
	uint64_t start, end;	/* CLOCK_MONOTONIC around the ss run */
	unsigned long slot;	/* index on the poll schedule */
	unsigned int count;
};

struct burst {
	unsigned int conns, hold_ms;
	uint64_t start, end;
	unsigned long peak, current;
};

/* Shared with the poller process. */
struct poll_log {
	atomic_int stop;
	size_t nr, max;
	struct sample samples[];
};

static const char *connpeak, *pin_dir;
static char port_arg[8], ss_filter[32];
static unsigned long poll_ms = 100;
static struct poll_log *plog;

static uint64_t rng_state;

/* splitmix64: small, and the same sequence on every libc */
static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int rng_range(unsigned int lo, unsigned int hi)
{
	return lo + rng_next() % (hi - lo + 1);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Run argv with its stdout read into buf (NUL-terminated, may be cut).
 * Returns the number of newlines read, or -1 if the command failed.
 */
static long run_capture(char *const argv[], char *buf, size_t len)
{
	posix_spawn_file_actions_t fa;
	size_t used = 0;
	long lines = 0;
	int p[2], status, err;
	char chunk[4096];
	ssize_t n, i;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (err) {
		close(p[0]);
		fprintf(stderr, PROG ": %s: spawn failed: %s\n", argv[0], strerror(err));
		return -1;
	}
	while ((n = read(p[0], chunk, sizeof(chunk))) > 0) {
		for (i = 0; i < n; i++)
			lines += chunk[i] == '\n';
		if (buf && used + 1 < len) {
			size_t take = (size_t)n < len - 1 - used ? (size_t)n : len - 1 - used;

			memcpy(buf + used, chunk, take);
			used += take;
		}
	}
	close(p[0]);
	if (buf)
		buf[used] = '\0';
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, PROG ": %s: failed\n", argv[0]);
		return -1;
	}
	return lines;
}

static void __attribute__((noreturn)) poll_ss(void)
{
	char *const argv[] = { "ss", "-Htn", "state", "established", ss_filter, NULL };
	uint64_t base = now_ns(), step = poll_ms * 1000000ULL, next;
	unsigned long slot = 0;
	struct timespec ts;
	struct sample *s;
	long count;

	while (!atomic_load(&plog->stop) && plog->nr < plog->max) {
		next = base + slot * step;
		ts.tv_sec = next / 1000000000ULL;
		ts.tv_nsec = next % 1000000000ULL;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		s = &plog->samples[plog->nr];
		s->slot = slot;
		s->start = now_ns();
		count = run_capture(argv, NULL, 0);
		s->end = now_ns();
		if (count < 0)
			_exit(1);
		s->count = count;
		plog->nr++;
		/* A slow ss run skips the slots it overran, as a real poller would. */
		slot = (now_ns() - base) / step + 1;
	}
	_exit(0);
}

static pid_t poller_start(size_t max)
{
	size_t len = sizeof(*plog) + max * sizeof(plog->samples[0]);
	pid_t parent = getpid(), pid;

	plog = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (plog == MAP_FAILED)
		die(PROG, "mmap failed: %s", strerror(errno));
	plog->max = max;
	pid = fork();
	if (pid < 0)
		die(PROG, "fork failed: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		poll_ss();
	}
	return pid;
}

static void poller_stop(pid_t pid)
{
	int status;

	atomic_store(&plog->stop, 1);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		die(PROG, "the ss poller failed");
}

static unsigned long json_number(const char *json, const char *key)
{
	const char *p = strstr(json, key);

	return p ? strtoul(p + strlen(key), NULL, 10) : (unsigned long)-1;
}

static int connpeak_reset(void)
{
	char *const argv[] = { (char *)connpeak, "reset", "--pin-dir", (char *)pin_dir, "--in",
			       port_arg, NULL };

	return run_capture(argv, NULL, 0) < 0 ? -1 : 0;
}

static int connpeak_read(struct burst *b)
{
	char *const argv[] = { (char *)connpeak, "show", "--json", "--pin-dir", (char *)pin_dir,
			       "--in", port_arg, NULL };
	char out[4096];

	if (run_capture(argv, out, sizeof(out)) < 0)
		return -1;
	b->peak = json_number(out, "\"peak\":");
	b->current = json_number(out, "\"current\":");
	return 0;
}

static void run_burst(int lfd, uint16_t port, struct burst *b)
{
	struct sockaddr_in dst = loopback_addr(INADDR_LOOPBACK, port);
	static int cfd[MAX_CONNS], afd[MAX_CONNS];
	unsigned int i;

	b->start = now_ns();
	for (i = 0; i < b->conns; i++) {
		cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cfd[i] < 0 || connect(cfd[i], (struct sockaddr *)&dst, sizeof(dst)))
			die(PROG, "connect failed: %s", strerror(errno));
		afd[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (afd[i] < 0)
			die(PROG, "accept failed: %s", strerror(errno));
		set_abortive_close(cfd[i]);
		set_abortive_close(afd[i]);
	}
	sleep_ms(b->hold_ms);
	for (i = 0; i < b->conns; i++) {
		close(afd[i]);
		close(cfd[i]);
	}
	b->end = now_ns();
}

/* Highest count a poller saw while the burst lasted; every-th slots only. */
static unsigned int seen_max(const struct burst *b, unsigned long every)
{
	unsigned int best = 0;
	size_t i;

	for (i = 0; i < plog->nr; i++) {
		const struct sample *s = &plog->samples[i];

		if (s->slot % every || s->end < b->start || s->start > b->end)
			continue;
		if (s->count > best)
			best = s->count;
	}
	return best;
}

int main(int argc, char **argv)
{
	unsigned long nr_bursts = 0, seed = 1, port = 0, i;
	struct burst *bursts;
	pid_t poller;
	int c, lfd;

	while ((c = getopt(argc, argv, "p:b:s:c:P:i:")) != -1) {
		if (c == 'p')
			port = parse_num(PROG, "port", optarg, 1, 65535);
		else if (c == 'b')
			nr_bursts = parse_num(PROG, "bursts", optarg, 1, 100000);
		else if (c == 's')
			seed = parse_num(PROG, "seed", optarg, 0, ~0UL);
		else if (c == 'c')
			connpeak = optarg;
		else if (c == 'P')
			pin_dir = optarg;
		else if (c == 'i')
			poll_ms = parse_num(PROG, "poll interval", optarg, 1, 10000);
		else
			die(PROG, "usage: bursts -p PORT -b BURSTS -c CONNPEAK -P PIN_DIR "
			    "[-s SEED] [-i POLL_MS]");
	}
	if (!port || !nr_bursts || !connpeak || !pin_dir)
		die(PROG, "usage: bursts -p PORT -b BURSTS -c CONNPEAK -P PIN_DIR "
		    "[-s SEED] [-i POLL_MS]");
	snprintf(port_arg, sizeof(port_arg), "%lu", port);
	snprintf(ss_filter, sizeof(ss_filter), "( sport = :%lu )", port);
	rng_state = seed;
	raise_nofile();

	bursts = calloc(nr_bursts, sizeof(*bursts));
	if (!bursts)
		die(PROG, "out of memory");
	poller = poller_start(nr_bursts * (MAX_GAP_MS + MAX_HOLD_MS + 1000) / poll_ms + 1000);
	lfd = listen_on(port, 1024);
	if (lfd < 0)
		die(PROG, "listen on port %lu failed: %s", port, strerror(errno));

	for (i = 0; i < nr_bursts; i++) {
		bursts[i].conns = rng_range(1, MAX_CONNS);
		bursts[i].hold_ms = rng_range(1, MAX_HOLD_MS);
		if (connpeak_reset())
			exit(1);
		sleep_ms(rng_range(MIN_GAP_MS, MAX_GAP_MS));
		run_burst(lfd, port, &bursts[i]);
		if (connpeak_read(&bursts[i]))
			exit(1);
	}
	/* Let the poller look once more after the last burst. */
	sleep_ms(poll_ms * SLOW_EVERY);
	poller_stop(poller);

	for (i = 0; i < nr_bursts; i++)
		printf("%lu %u %u %lu %lu %u %u\n", i + 1, bursts[i].conns, bursts[i].hold_ms,
		       bursts[i].peak, bursts[i].current, seen_max(&bursts[i], 1),
		       seen_max(&bursts[i], SLOW_EVERY));
	close(lfd);
	return 0;
}
