// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * What per-client counting costs the tracker's program, measured with
 * bpf_stats (run_time_ns and run_cnt of the program behind the pinned link).
 *
 *   client_cost [-r ROUNDS] [-s SECONDS] [-w WORKERS] [-m MODE] [-c CLIENTS]
 *   client_cost -f [-c CLIENTS]
 *
 * Without -f: loopback churn with clients on (--clients CLIENTS, default
 * 16384) and off (--clients 0), in interleaved rounds, alternating which goes
 * first; prints ns per invocation of each run and the medians. MODE says how
 * the churn looks from the client table:
 *   fresh   each worker connects from one of 64 addresses in turn and closes
 *           at once: every connection is its client's only one (the default)
 *   held    each worker's one address keeps 8 connections open meanwhile
 *   many    every connection comes from an address not seen before, so a
 *           full table makes room for each
 * With -f: fills a table of CLIENTS idle clients, then times 6 runs of
 * CLIENTS/32 new clients one connection at a time: the BPF time of the
 * slowest connection and the mean.
 *
 * Needs root. Runs in a private network namespace of its own and pins under
 * /sys/fs/bpf/connpeak-cost-PID, removed on exit. Build from the top of the
 * tree after make:
 *   cc -O2 -Iinclude tests/bench/client_cost.c -lbpf -o client_cost
 * and run with CONNPEAK=./connpeak.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <bpf/bpf.h>

#define MAX_ROUNDS	64
#define MAX_WORKERS	8
#define PORT_BASE	21000
#define HELD		8
#define FULL_RUNS	6

enum mode { FRESH, HELD_OPEN, MANY };

struct opts {
	int rounds, workers;
	double seconds;
	const char *clients;
	enum mode mode;
	bool full;
};

static const char *connpeak = "./connpeak";
static char pin_dir[64];
static unsigned long *conns;	/* per worker, shared with the parent */

static int lo_up(void)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err = -1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd >= 0 && !ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		err = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
	return err;
}

/* Run connpeak CMD --pin-dir DIR [ARG VALUE], stdout to /dev/null. */
static int cp(const char *cmd, const char *arg, const char *value)
{
	const char *argv[] = { connpeak, cmd, "--pin-dir", pin_dir, arg, value, NULL };
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		dup2(open("/dev/null", O_WRONLY), 1);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void stop(void)
{
	if (!access(pin_dir, F_OK))
		cp("stop", NULL, NULL);
}

static int prog_fd(void)
{
	struct bpf_link_info link = {};
	__u32 len = sizeof(link);
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/link", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &link, &len))
		return -1;
	close(fd);
	return bpf_prog_get_fd_by_id(link.prog_id);
}

static void prog_stats(int fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	*ns = *cnt = 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		*ns = info.run_time_ns;
		*cnt = info.run_cnt;
	}
}

static int listener(unsigned int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 256))
		return -1;
	return fd;
}

/* One connection from src (host order, in 127/8) to the listener on port. */
static int pair(int lfd, unsigned int port, __u32 src, int *afd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in s = { .sin_family = AF_INET };
	struct linger lg = { 1, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.sin_addr.s_addr = htonl(src);
	/* Reset on close: no TIME_WAIT piles up over a million addresses. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (bind(fd, (struct sockaddr *)&s, sizeof(s)) ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	*afd = accept(lfd, NULL, NULL);
	return fd;
}

static __u32 source(int w, enum mode mode, unsigned long n)
{
	if (mode == FRESH)
		return 0x7f020000 + (w << 8) + n % 64;
	if (mode == MANY)
		return 0x7f800000 + (w << 20) + (n & 0xfffff);
	return 0x7f010000 + w;
}

static bool elapsed(const struct timespec *t0, double seconds)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec - t0->tv_sec + (t.tv_nsec - t0->tv_nsec) / 1e9 > seconds;
}

static void __attribute__((noreturn)) worker(int w, enum mode mode, double seconds)
{
	int lfd = listener(PORT_BASE + w), c, a, hc[HELD], ha[HELD], i;
	struct timespec t0;
	unsigned long n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < HELD && mode == HELD_OPEN; i++)
		hc[i] = pair(lfd, PORT_BASE + w, source(w, mode, 0), &ha[i]);
	for (n = 0; (n & 255) || !elapsed(&t0, seconds); n++) {
		c = pair(lfd, PORT_BASE + w, source(w, mode, n), &a);
		if (c < 0)
			continue;
		/* Alternate which side closes first. */
		close(n & 1 ? a : c);
		close(n & 1 ? c : a);
	}
	conns[w] = n;
	for (i = 0; i < HELD && mode == HELD_OPEN; i++) {
		close(hc[i]);
		close(ha[i]);
	}
	_exit(0);
}

/* ns per invocation over one churn run; events per connection to stderr. */
static double churn(const struct opts *o)
{
	int pfd = prog_fd(), i;
	__u64 ns0, cnt0, ns1, cnt1;
	pid_t pids[MAX_WORKERS];
	unsigned long total = 0;

	prog_stats(pfd, &ns0, &cnt0);
	for (i = 0; i < o->workers; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			worker(i, o->mode, o->seconds);
	}
	for (i = 0; i < o->workers; i++) {
		waitpid(pids[i], NULL, 0);
		total += conns[i];
	}
	prog_stats(pfd, &ns1, &cnt1);
	close(pfd);
	fprintf(stderr, "  %lu connections, %.2f events each\n", total,
		(double)(cnt1 - cnt0) / (total ? total : 1));
	return cnt1 > cnt0 ? (double)(ns1 - ns0) / (cnt1 - cnt0) : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int interleaved(const struct opts *o)
{
	static const char *const names[] = { "fresh", "held", "many" };
	double off[MAX_ROUNDS], on[MAX_ROUNDS];
	int r, k, is_on;

	printf("mode %s, %d workers, %.1f s per run, --clients %s\n", names[o->mode],
	       o->workers, o->seconds, o->clients);
	for (r = 0; r < o->rounds; r++) {
		for (k = 0; k < 2; k++) {
			is_on = (r + k) % 2;
			if (cp("start", "--clients", is_on ? o->clients : "0"))
				return 1;
			*(is_on ? &on[r] : &off[r]) = churn(o);
			stop();
		}
		printf("round %d: off %.1f ns, on %.1f ns\n", r + 1, off[r], on[r]);
		fflush(stdout);
	}
	printf("median: off %.1f ns, on %.1f ns, on/off %.3f\n", median(off, o->rounds),
	       median(on, o->rounds), median(on, o->rounds) / median(off, o->rounds));
	return 0;
}

/* BPF time of one connection from a client not seen before. */
static __u64 timed_pair(int pfd, int lfd, __u32 src)
{
	__u64 ns0, ns1, cnt;
	int c, a = -1;

	prog_stats(pfd, &ns0, &cnt);
	c = pair(lfd, PORT_BASE, src, &a);
	if (c >= 0) {
		close(a);
		close(c);
	}
	prog_stats(pfd, &ns1, &cnt);
	return ns1 - ns0;
}

static int full_table(const struct opts *o)
{
	int n = atoi(o->clients), lfd, pfd, r, i, c, a;
	__u64 t, worst, sum;
	__u32 src = 0x7f100000;

	if (n < 32 || cp("start", "--clients", o->clients))
		return 1;
	lfd = listener(PORT_BASE);
	pfd = prog_fd();
	for (i = 0; i < n; i++) {
		c = pair(lfd, PORT_BASE, src++, &a);
		close(a);
		close(c);
	}
	for (r = 0; r < FULL_RUNS; r++) {
		for (worst = sum = 0, i = 0; i < n / 32; i++) {
			t = timed_pair(pfd, lfd, src++);
			sum += t;
			worst = t > worst ? t : worst;
		}
		printf("%d new clients in a full table of %d: slowest connection %.1f us of "
		       "BPF time, mean %.2f us\n", n / 32, n, worst / 1e3, sum / 1e3 / (n / 32));
	}
	close(pfd);
	close(lfd);
	stop();
	return 0;
}

static void on_signal(int sig)
{
	stop();
	_exit(1);
}

static int parse(int argc, char **argv, struct opts *o)
{
	int c;

	while ((c = getopt(argc, argv, "r:s:w:m:c:f")) != -1) {
		if (c == 'r')
			o->rounds = atoi(optarg);
		else if (c == 's')
			o->seconds = atof(optarg);
		else if (c == 'w')
			o->workers = atoi(optarg);
		else if (c == 'c')
			o->clients = optarg;
		else if (c == 'f')
			o->full = true;
		else if (c == 'm' && strcmp(optarg, "fresh"))
			o->mode = !strcmp(optarg, "held") ? HELD_OPEN : MANY;
		else if (c != 'm')
			return -1;
	}
	if (o->rounds < 1 || o->rounds > MAX_ROUNDS || o->workers < 1 ||
	    o->workers > MAX_WORKERS)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .rounds = 5, .workers = 2, .seconds = 3, .clients = "16384" };
	int stats_fd, err;

	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: client_cost [-r ROUNDS] [-s SECONDS] [-w WORKERS] "
			"[-m fresh|held|many] [-c CLIENTS] [-f]\n");
		return 2;
	}
	connpeak = getenv("CONNPEAK") ?: connpeak;
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/connpeak-cost-%d", (int)getpid());
	conns = mmap(NULL, sizeof(*conns) * MAX_WORKERS, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (conns == MAP_FAILED || unshare(CLONE_NEWNET) || lo_up()) {
		perror("client_cost: setup");
		return 1;
	}
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		perror("client_cost: enable bpf_stats");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	err = o.full ? full_table(&o) : interleaved(&o);
	stop();
	close(stats_fd);
	return err;
}
