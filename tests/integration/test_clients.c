// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Per-client counts of inbound connections, checked against what this test
 * opened and closed and against ss(8). Self-contained: it uses none of the
 * shared harness, so it builds and runs on its own.
 *
 * Runs as root in a private network namespace that it creates, on ports
 * below 32768, with its own pin directory /sys/fs/bpf/connpeak-ctest-PID,
 * removed on every way out. Clients are told apart by their source address
 * (127.0.0.0/8 is all local on lo; fd00:: addresses are added to lo).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#define MAX_CONNS	256
int h_slow(void);	/* tests/integration/harness.c */
#define SETTLE_MS	(5000 * h_slow())

#define PORT_COUNTS	15101
#define PORT_DUAL	15102
#define PORT_SEED	15103
#define PORT_PREFIX4	15104
#define PORT_PREFIX6	15105
#define PORT_SMALL	15106
#define PORT_OFF	15107
#define PORT_CHURN	15108
#define PORT_ADVISE	15109
#define PORT_ADVISE2	15110

#define CHURN_WORKERS	3
#define CHURN_ADDRS	24	/* clients 127.0.3.1 to 127.0.3.24 */
#define CHURN_HOLD	40	/* connections a worker holds at most */
#define CHURN_MS	2500

static char pin_dir[64];
static const char *connpeak;
static char skip_reason[256];

/* Every connection the test holds: the accepted end is what connpeak counts. */
struct conn {
	int cfd, afd;
	unsigned int port;
	char src[64];
};

static struct conn conns[MAX_CONNS];
static int listeners[16];
static int nr_listeners;

/* ---- running programs ---- */

struct out {
	int status;
	char out[65536];
	char err[8192];
};

static void read_all(int fd, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;

	while ((n = read(fd, buf + used, len - 1 - used)) > 0 && used + n < len - 1)
		used += n;
	if (n > 0)
		used += n;
	buf[used] = '\0';
}

/* Run argv with stdout and stderr collected; stderr is read after stdout ends. */
static int run_argv(struct out *o, char *const argv[])
{
	int po[2], pe[2], st;
	pid_t pid;

	if (pipe(po) || pipe(pe))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	read_all(po[0], o->out, sizeof(o->out));
	read_all(pe[0], o->err, sizeof(o->err));
	close(po[0]);
	close(pe[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	o->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return o->status;
}

/* "connpeak CMD --pin-dir DIR ARGS..." with the arguments ending in NULL. */
static int cp(struct out *o, const char *cmd, ...)
{
	char *argv[16] = { (char *)connpeak, (char *)cmd, "--pin-dir", pin_dir };
	va_list ap;
	int i = 4;

	va_start(ap, cmd);
	while (i < 15 && (argv[i] = va_arg(ap, char *)))
		i++;
	va_end(ap);
	argv[i] = NULL;
	return run_argv(o, argv);
}

static struct out *out_new(void)
{
	struct out *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	return o;
}

static void stop_tracker(void)
{
	struct out *o;

	if (access(pin_dir, F_OK))
		return;
	o = calloc(1, sizeof(*o));
	if (o)
		cp(o, "stop", NULL);
	free(o);
	rmdir(pin_dir);
}

static void start(const char *opt, const char *val)
{
	struct out *o = out_new();

	cp(o, "start", opt, val, NULL);
	if (o->status)
		fail_msg("connpeak start %s %s: status %d: %s", opt ?: "", val ?: "", o->status,
			 o->err);
	free(o);
}

/* ---- sockets ---- */

static void sockaddr_of(const char *addr, unsigned int port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
		*len = sizeof(*in6);
	} else {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, addr, &in->sin_addr), 1);
		*len = sizeof(*in);
	}
}

/* A listener on addr; "::" listens on IPv6 and IPv4 alike. */
static int listen_on(const char *addr, unsigned int port)
{
	struct sockaddr_storage ss;
	int fd, one = 1, zero = 0;
	socklen_t len;

	sockaddr_of(addr, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128))
		fail_msg("listen on %s port %u: %s", addr, port, strerror(errno));
	listeners[nr_listeners++] = fd;
	return fd;
}

/* Connect from src to dst:port and accept; the test holds both ends. */
static struct conn *connect_from(int lfd, const char *src, const char *dst, unsigned int port)
{
	struct sockaddr_storage s, d;
	socklen_t slen, dlen;
	struct conn *c = NULL;
	int i;

	for (i = 0; i < MAX_CONNS && !c; i++)
		if (!conns[i].port)
			c = &conns[i];
	assert_non_null(c);
	sockaddr_of(src, 0, &s, &slen);
	sockaddr_of(dst, port, &d, &dlen);
	c->cfd = socket(d.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->cfd >= 0);
	if (bind(c->cfd, (struct sockaddr *)&s, slen) ||
	    connect(c->cfd, (struct sockaddr *)&d, dlen))
		fail_msg("connect from %s to %s port %u: %s", src, dst, port, strerror(errno));
	c->afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(c->afd >= 0);
	c->port = port;
	snprintf(c->src, sizeof(c->src), "%s", src);
	return c;
}

static void conn_close(struct conn *c)
{
	/* The accepted end first: it leaves ESTABLISHED at once, no CLOSE_WAIT. */
	close(c->afd);
	close(c->cfd);
	memset(c, 0, sizeof(*c));
}

/* Close up to n connections from src to port; returns how many. */
static int close_from(const char *src, unsigned int port, int n)
{
	int i, done = 0;

	for (i = 0; i < MAX_CONNS && done < n; i++)
		if (conns[i].port == port && !strcmp(conns[i].src, src)) {
			conn_close(&conns[i]);
			done++;
		}
	return done;
}

static void close_all(void)
{
	int i;

	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i].port)
			conn_close(&conns[i]);
	while (nr_listeners)
		close(listeners[--nr_listeners]);
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- oracle: ss ---- */

/* Open inbound connections on port from the network net ("127.0.0.2/32"). */
static int ss_count(unsigned int port, const char *net)
{
	char filter[160];
	char *argv[] = { "ss", "-Htn", "state", "established", "state", "close-wait", filter,
			 NULL };
	struct out *o = out_new();
	int n = 0;
	char *p;

	if (net)
		snprintf(filter, sizeof(filter), "( sport = :%u and dst %s )", port, net);
	else
		snprintf(filter, sizeof(filter), "( sport = :%u )", port);
	if (run_argv(o, argv))
		fail_msg("ss %s: status %d: %s", filter, o->status, o->err);
	for (p = o->out; *p; p++)
		n += *p == '\n';
	free(o);
	return n;
}

/* Wait until ss counts want inbound connections on port. */
static void ss_settle(unsigned int port, int want)
{
	long long end = now_ms() + SETTLE_MS;
	int n;

	while ((n = ss_count(port, NULL)) != want && now_ms() < end)
		nap_ms(10);
	if (n != want)
		fail_msg("port %u: ss counts %d open inbound connections, the test holds %d",
			 port, n, want);
}

/* ---- connpeak's JSON, read with string searches that share nothing with it ---- */

/* The value of "key": in text up to end, or -1. */
static long long json_num(const char *text, const char *end, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(text, pat);
	if (!p || (end && p >= end))
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

/* The object of one port in clients --json, and where it ends. */
static const char *port_object(const char *json, unsigned int port, const char **end)
{
	char pat[32];
	const char *p, *next;

	snprintf(pat, sizeof(pat), "{\"port\":%u,", port);
	p = strstr(json, pat);
	if (!p)
		return NULL;
	next = strstr(p + 1, "{\"port\":");
	*end = next ? next : p + strlen(p);
	return p;
}

struct client_count {
	const char *client;	/* as connpeak prints it */
	const char *net;	/* for ss */
	long long current, peak, total;
};

static void clients_json(struct out *o, const char *port_arg)
{
	cp(o, "clients", "--json", "--top", "100", port_arg, NULL);
	if (o->status || !strstr(o->out, "\"ports\":["))
		fail_msg("clients --json %s: status %d, stdout '%s', stderr '%s'", port_arg ?: "",
			 o->status, o->out, o->err);
	if (strstr(o->err, "warning"))
		fail_msg("clients --json: unexpected warning: %s", o->err);
}

/*
 * Check every client of port against the test's own counts and ss, and that
 * connpeak lists no other client for it.
 */
static void expect_clients(unsigned int port, const struct client_count *want, int n)
{
	struct out *o = out_new();
	const char *obj, *end, *c, *cend;
	char pat[96], portarg[8];
	int i, listed = 0;

	snprintf(portarg, sizeof(portarg), "%u", port);
	clients_json(o, portarg);
	obj = port_object(o->out, port, &end);
	if (!obj)
		fail_msg("port %u missing from clients --json: %s", port, o->out);
	for (c = obj; (c = strstr(c, "{\"client\":")) && c < end; c++)
		listed++;
	for (i = 0; i < n; i++) {
		snprintf(pat, sizeof(pat), "{\"client\":\"%s\",", want[i].client);
		c = strstr(obj, pat);
		if (!c || c >= end)
			fail_msg("port %u: client %s missing: %s", port, want[i].client, o->out);
		cend = strchr(c, '}');
		if (json_num(c, cend, "current") != want[i].current ||
		    json_num(c, cend, "peak") != want[i].peak ||
		    json_num(c, cend, "total") != want[i].total)
			fail_msg("port %u client %s: got %.*s; expected current %lld peak %lld "
				 "total %lld", port, want[i].client, (int)(cend - c + 1), c,
				 want[i].current, want[i].peak, want[i].total);
		if (want[i].net && ss_count(port, want[i].net) != want[i].current)
			fail_msg("port %u client %s: ss counts %d, expected %lld", port,
				 want[i].client, ss_count(port, want[i].net), want[i].current);
	}
	if (listed != n)
		fail_msg("port %u: %d clients listed, expected %d: %s", port, listed, n, o->out);
	if (!strstr(obj, "\"peak_at\":\"20") || !strstr(obj, "Z\""))
		fail_msg("port %u: peak_at is not RFC 3339 UTC: %s", port, o->out);
	free(o);
}

/* show --json: the inbound row of port counts current, equal to ss. */
static void expect_port(unsigned int port, long long current)
{
	struct out *o = out_new();
	char pat[64];
	const char *p;

	ss_settle(port, current);
	cp(o, "show", "--json", "--in", NULL);
	snprintf(pat, sizeof(pat), "{\"port\":%u,", port);
	p = strstr(o->out, pat);
	if (o->status || !p || json_num(p, strchr(p, '}'), "current") != current)
		fail_msg("show --json: port %u in: expected current %lld: status %d: %s", port,
			 current, o->status, o->out);
	free(o);
}

/*
 * Top-level and per-port loss counts of clients --json: evictions, and
 * connections attributed to no client since start and open now.
 */
static void expect_losses(unsigned int port, long long evicted, long long overflow,
			  long long unattributed)
{
	struct out *o = out_new();
	const char *obj, *end = NULL;

	clients_json(o, NULL);
	obj = port_object(o->out, port, &end);
	if (json_num(o->out, NULL, "evicted") != evicted ||
	    json_num(o->out, strstr(o->out, "\"ports\""), "overflow") != overflow ||
	    !obj || json_num(obj, end, "overflow") != overflow ||
	    json_num(obj, end, "unattributed") != unattributed)
		fail_msg("expected evicted %lld, overflow %lld, port %u unattributed %lld: %s",
			 evicted, overflow, port, unattributed, o->out);
	if (strstr(o->err, "found no client entry"))
		fail_msg("a close found no client entry: %s", o->err);
	free(o);
}

/* ---- advise --json: the per-client fields of a port ---- */

/* Connections a client holds on a port, and the most it held at once. */
struct held_by {
	const char *src;
	unsigned int port;
	int held, peak;
};

static void hold_more(int l, struct held_by *h, int n)
{
	int i;

	for (i = 0; i < n; i++)
		connect_from(l, h->src, "127.0.0.1", h->port);
	h->held += n;
	if (h->held > h->peak)
		h->peak = h->held;
}

static void hold_less(struct held_by *h, int n)
{
	assert_int_equal(close_from(h->src, h->port, n), n);
	h->held -= n;
}

/*
 * What advise must say for port from the test's bookkeeping: the highest
 * peak, its client, and the clients over limit (0: none asked for) by peak,
 * highest first. The peaks of the port's clients must differ.
 */
static void want_clients(const struct held_by *hb, int n, unsigned int port, int limit,
			 int *client_peak, const char **top, char *refused, size_t len)
{
	int i, prev = 1 << 30, next, used = 0;

	*client_peak = 0;
	for (i = 0; i < n; i++)
		if (hb[i].port == port && hb[i].peak > *client_peak) {
			*client_peak = hb[i].peak;
			*top = hb[i].src;
		}
	used += snprintf(refused, len, "[");
	for (;;) {
		next = -1;
		for (i = 0; i < n; i++)
			if (hb[i].port == port && limit && hb[i].peak > limit &&
			    hb[i].peak < prev && (next < 0 || hb[i].peak > hb[next].peak))
				next = i;
		if (next < 0)
			break;
		used += snprintf(refused + used, len - used, "%s{\"client\":\"%s\",\"peak\":%d}",
				 used > 1 ? "," : "", hb[next].src, hb[next].peak);
		prev = hb[next].peak;
	}
	snprintf(refused + used, len - used, "]");
}

/* advise --json [--client-limit LIMIT] PORT...; limit NULL: without the option. */
static void advise_json(struct out *o, const char *limit, const char *p1, const char *p2)
{
	if (limit)
		cp(o, "advise", "--json", "--client-limit", limit, p1, p2, NULL);
	else
		cp(o, "advise", "--json", p1, p2, NULL);
	if (o->status || strncmp(o->out, "{\"advice\":[", 11))
		fail_msg("advise --json --client-limit %s: status %d, stdout '%s', stderr '%s'",
			 limit ?: "(none)", o->status, o->out, o->err);
}

/*
 * The port's object in advise output o: its peak, and its per-client fields,
 * which end it. client_peak < 0: all four null.
 */
static void expect_advice(const struct out *o, unsigned int port, long long peak,
			  long long client_peak, long long client_limit, const char *top,
			  const char *refused)
{
	const char *obj, *end, *f = NULL, *after;
	char want[1024];

	if (client_peak < 0)
		snprintf(want, sizeof(want), ",\"client_peak\":null,\"client_limit\":null,"
			 "\"top_client\":null,\"refused\":null}");
	else
		snprintf(want, sizeof(want), ",\"client_peak\":%lld,\"client_limit\":%lld,"
			 "\"top_client\":\"%s\",\"refused\":%s}", client_peak, client_limit, top,
			 refused);
	obj = port_object(o->out, port, &end);
	if (obj)
		f = strstr(obj, want);
	after = f ? f + strlen(want) : NULL;
	/* The fields end the object: the next port's object or the end follows. */
	if (!f || f >= end || (strncmp(after, ",{\"port\":", 9) && strcmp(after, "]}\n")) ||
	    json_num(obj, end, "peak") != peak)
		fail_msg("advise: port %u: expected peak %lld and '%s' ending its object: %s",
			 port, peak, want, o->out);
}

/* ---- environment ---- */

static int lo_up(void)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = -1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd >= 0 && !ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		err = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
	return err;
}

static int add_addr6(const char *addr)
{
	char *argv[] = { "ip", "-6", "addr", "add", (char *)addr, "dev", "lo", "nodad", NULL };
	struct out *o = out_new();
	int status = run_argv(o, argv);

	if (status)
		print_error("ip -6 addr add %s: %s\n", addr, o->err);
	free(o);
	return status;
}

static bool bpf_usable(void)
{
	int fd;

	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return false;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ctest_probe", 4, 8, 1, NULL);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static char *stop_argv[] = { NULL, "stop", "--pin-dir", pin_dir, NULL };

/* Interrupted: stop the tracker with only async-signal-safe calls, then die. */
static void on_signal(int sig)
{
	pid_t pid = fork();

	if (pid == 0) {
		execv(stop_argv[0], stop_argv);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	rmdir(pin_dir);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int group_setup(void **state)
{
	static const char *const addrs[] = { "fd00::2/128", "fd00::3/128", "fd00::4/128",
					     "fd00:0:0:1::2/128" };
	size_t i;

	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/connpeak-ctest-%d", (int)getpid());
	connpeak = getenv("CONNPEAK") ?: "./connpeak";
	signal(SIGPIPE, SIG_IGN);
	if (geteuid())
		snprintf(skip_reason, sizeof(skip_reason), "not running as root");
	else if (!bpf_usable())
		snprintf(skip_reason, sizeof(skip_reason), "BPF is not available here");
	else if (access(connpeak, X_OK))
		snprintf(skip_reason, sizeof(skip_reason), "%s is not executable: set CONNPEAK",
			 connpeak);
	if (skip_reason[0]) {
		print_message("client tests skipped: %s\n", skip_reason);
		return 0;
	}
	if (unshare(CLONE_NEWNET) || lo_up()) {
		print_error("private network namespace: setup failed: %s\n", strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		if (add_addr6(addrs[i]))
			return -1;
	atexit(stop_tracker);
	stop_argv[0] = (char *)connpeak;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	return 0;
}

static int teardown(void **state)
{
	close_all();
	if (!skip_reason[0])
		stop_tracker();
	return 0;
}

static void require(void)
{
	if (skip_reason[0])
		skip();
}

/* ---- tests ---- */

/*
 * Distinct clients, IPv4, IPv6 and IPv4-mapped, on an IPv4 and a dual-stack
 * listener, holding known numbers of connections as they come and go.
 */
static void test_counts_per_client(void **state)
{
	int l4, l6, i;

	require();
	start(NULL, NULL);
	l4 = listen_on("0.0.0.0", PORT_COUNTS);
	l6 = listen_on("::", PORT_DUAL);
	for (i = 0; i < 3; i++)
		connect_from(l4, "127.0.0.2", "127.0.0.1", PORT_COUNTS);
	connect_from(l4, "127.0.0.3", "127.0.0.1", PORT_COUNTS);
	for (i = 0; i < 2; i++) {
		/* An IPv6 socket reaching the IPv4 listener through a mapped address. */
		connect_from(l4, "::ffff:127.0.0.4", "::ffff:127.0.0.1", PORT_COUNTS);
		connect_from(l6, "fd00::2", "::1", PORT_DUAL);
		/* An IPv4 client of a dual-stack listener: a v4-mapped socket there. */
		connect_from(l6, "127.0.0.5", "127.0.0.1", PORT_DUAL);
	}
	connect_from(l6, "fd00::3", "::1", PORT_DUAL);
	expect_port(PORT_COUNTS, 6);
	expect_port(PORT_DUAL, 5);
	{
		const struct client_count a[] = {
			{ "127.0.0.2", "127.0.0.2/32", 3, 3, 3 },
			{ "127.0.0.3", "127.0.0.3/32", 1, 1, 1 },
			{ "127.0.0.4", "127.0.0.4/32", 2, 2, 2 },
		};
		const struct client_count b[] = {
			{ "fd00::2", "fd00::2/128", 2, 2, 2 },
			{ "fd00::3", "fd00::3/128", 1, 1, 1 },
			{ "127.0.0.5", "127.0.0.5/32", 2, 2, 2 },
		};

		expect_clients(PORT_COUNTS, a, 3);
		expect_clients(PORT_DUAL, b, 3);
	}

	close_from("127.0.0.2", PORT_COUNTS, 2);
	close_from("fd00::2", PORT_DUAL, 1);
	connect_from(l4, "127.0.0.3", "127.0.0.1", PORT_COUNTS);
	expect_port(PORT_COUNTS, 5);
	expect_port(PORT_DUAL, 4);
	{
		const struct client_count a[] = {
			{ "127.0.0.2", "127.0.0.2/32", 1, 3, 3 },
			{ "127.0.0.3", "127.0.0.3/32", 2, 2, 2 },
			{ "127.0.0.4", "127.0.0.4/32", 2, 2, 2 },
		};
		const struct client_count b[] = {
			{ "fd00::2", "fd00::2/128", 1, 2, 2 },
			{ "fd00::3", "fd00::3/128", 1, 1, 1 },
			{ "127.0.0.5", "127.0.0.5/32", 2, 2, 2 },
		};

		expect_clients(PORT_COUNTS, a, 3);
		expect_clients(PORT_DUAL, b, 3);
	}

	/* Clients without connections stay, with their peaks, until room is needed. */
	close_all();
	expect_port(PORT_COUNTS, 0);
	expect_port(PORT_DUAL, 0);
	{
		const struct client_count a[] = {
			{ "127.0.0.2", "127.0.0.2/32", 0, 3, 3 },
			{ "127.0.0.3", "127.0.0.3/32", 0, 2, 2 },
			{ "127.0.0.4", "127.0.0.4/32", 0, 2, 2 },
		};

		expect_clients(PORT_COUNTS, a, 3);
	}
	expect_losses(PORT_COUNTS, 0, 0, 0);
}

/* Ordering, --top and the port filter, from the table output. */
static void test_table_order(void **state)
{
	struct out *o = out_new();
	const char *a, *b, *c;
	int l, i;

	require();
	start(NULL, NULL);
	l = listen_on("127.0.0.1", PORT_COUNTS);
	for (i = 0; i < 4; i++)
		connect_from(l, "127.0.0.2", "127.0.0.1", PORT_COUNTS);
	for (i = 0; i < 3; i++)
		connect_from(l, "127.0.0.3", "127.0.0.1", PORT_COUNTS);
	close_from("127.0.0.2", PORT_COUNTS, 3);	/* .2: current 1, peak 4 */
	expect_port(PORT_COUNTS, 4);

	cp(o, "clients", NULL);
	a = strstr(o->out, "127.0.0.3");
	b = strstr(o->out, "127.0.0.2");
	if (o->status || !a || !b || a > b || !strstr(o->out, "CURRENT"))
		fail_msg("clients: busiest first expected: %s", o->out);
	cp(o, "clients", "--sort", "peak", NULL);
	a = strstr(o->out, "127.0.0.3");
	b = strstr(o->out, "127.0.0.2");
	if (o->status || !a || !b || b > a)
		fail_msg("clients --sort peak: highest peak first expected: %s", o->out);
	cp(o, "clients", "--top", "1", NULL);
	if (o->status || !strstr(o->out, "127.0.0.3") || strstr(o->out, "127.0.0.2"))
		fail_msg("clients --top 1: one client expected: %s", o->out);
	cp(o, "clients", "--json", "9", NULL);
	c = "{\"capacity\":16384,\"entries\":2,\"evicted\":0,\"overflow\":0,\"ports\":[]}\n";
	if (o->status || strcmp(o->out, c))
		fail_msg("clients --json 9: expected '%s', got '%s'", c, o->out);
	free(o);
}

/* Names only with --resolve: 127.0.0.1 has one in /etc/hosts, 127.0.0.2 none. */
static void test_resolve(void **state)
{
	struct out *o = out_new();
	int l;

	require();
	start(NULL, NULL);
	l = listen_on("0.0.0.0", PORT_COUNTS);
	connect_from(l, "127.0.0.1", "127.0.0.1", PORT_COUNTS);
	connect_from(l, "127.0.0.2", "127.0.0.1", PORT_COUNTS);
	expect_port(PORT_COUNTS, 2);
	clients_json(o, "15101");
	if (strstr(o->out, "\"name\""))
		fail_msg("a name without --resolve: %s", o->out);
	cp(o, "clients", "--json", "--resolve", "15101", NULL);
	if (o->status || !strstr(o->out, "\"client\":\"127.0.0.1\"") ||
	    strstr(o->out, "\"client\":\"127.0.0.1\"") > strstr(o->out, "\"name\":\"") ||
	    !strstr(o->out, "\"name\":null"))
		fail_msg("clients --json --resolve: a name for 127.0.0.1, null for "
			 "127.0.0.2 expected: %s", o->out);
	cp(o, "clients", "--resolve", "15101", NULL);
	if (o->status || !strstr(o->out, "  NAME\n"))
		fail_msg("clients --resolve: a NAME column expected: %s", o->out);
	free(o);
}

/* Connections open before start are found by the start-up walk. */
static void test_seeded(void **state)
{
	int l, i;

	require();
	l = listen_on("0.0.0.0", PORT_SEED);
	for (i = 0; i < 3; i++)
		connect_from(l, "127.0.0.6", "127.0.0.1", PORT_SEED);
	connect_from(l, "::ffff:127.0.0.7", "::ffff:127.0.0.1", PORT_SEED);
	start(NULL, NULL);
	expect_port(PORT_SEED, 4);
	{
		const struct client_count a[] = {
			{ "127.0.0.6", "127.0.0.6/32", 3, 3, 3 },
			{ "127.0.0.7", "127.0.0.7/32", 1, 1, 1 },
		};

		expect_clients(PORT_SEED, a, 2);
	}
	close_from("127.0.0.6", PORT_SEED, 1);
	expect_port(PORT_SEED, 3);
	{
		const struct client_count a[] = {
			{ "127.0.0.6", "127.0.0.6/32", 2, 3, 3 },
			{ "127.0.0.7", "127.0.0.7/32", 1, 1, 1 },
		};

		expect_clients(PORT_SEED, a, 2);
	}
}

/* --client-prefix 24,64: clients counted by network, mapped ones as IPv4. */
static void test_prefix(void **state)
{
	struct out *o = out_new();
	int l4, l6, i;

	require();
	start("--client-prefix", "24,64");
	l4 = listen_on("::", PORT_PREFIX4);
	l6 = listen_on("::", PORT_PREFIX6);
	connect_from(l4, "127.0.0.2", "127.0.0.1", PORT_PREFIX4);
	for (i = 0; i < 2; i++)
		connect_from(l4, "127.0.0.3", "127.0.0.1", PORT_PREFIX4);
	connect_from(l4, "::ffff:127.0.0.9", "::ffff:127.0.0.1", PORT_PREFIX4);
	connect_from(l4, "127.0.1.2", "127.0.0.1", PORT_PREFIX4);
	connect_from(l6, "fd00::2", "::1", PORT_PREFIX6);
	for (i = 0; i < 2; i++)
		connect_from(l6, "fd00::3", "::1", PORT_PREFIX6);
	connect_from(l6, "fd00:0:0:1::2", "::1", PORT_PREFIX6);
	expect_port(PORT_PREFIX4, 5);
	expect_port(PORT_PREFIX6, 4);
	{
		const struct client_count a[] = {
			{ "127.0.0.0/24", "127.0.0.0/24", 4, 4, 4 },
			{ "127.0.1.0/24", "127.0.1.0/24", 1, 1, 1 },
		};
		const struct client_count b[] = {
			{ "fd00::/64", "fd00::/64", 3, 3, 3 },
			{ "fd00:0:0:1::/64", "fd00:0:0:1::/64", 1, 1, 1 },
		};

		expect_clients(PORT_PREFIX4, a, 2);
		expect_clients(PORT_PREFIX6, b, 2);
	}
	/* advise names networks: ceil(4 x 1.25) = 5, ceil(3 x 1.25) = 4; 3 is not over 3. */
	advise_json(o, "3", "15104", "15105");
	expect_advice(o, PORT_PREFIX4, 5, 4, 5, "127.0.0.0/24",
		      "[{\"client\":\"127.0.0.0/24\",\"peak\":4}]");
	expect_advice(o, PORT_PREFIX6, 4, 3, 4, "fd00::/64", "[]");
	close_from("127.0.0.3", PORT_PREFIX4, 2);
	close_from("fd00::2", PORT_PREFIX6, 1);
	expect_port(PORT_PREFIX4, 3);
	expect_port(PORT_PREFIX6, 3);
	{
		const struct client_count a[] = {
			{ "127.0.0.0/24", "127.0.0.0/24", 2, 4, 4 },
			{ "127.0.1.0/24", "127.0.1.0/24", 1, 1, 1 },
		};
		const struct client_count b[] = {
			{ "fd00::/64", "fd00::/64", 2, 3, 3 },
			{ "fd00:0:0:1::/64", "fd00:0:0:1::/64", 1, 1, 1 },
		};

		expect_clients(PORT_PREFIX4, a, 2);
		expect_clients(PORT_PREFIX6, b, 2);
	}
	free(o);
}

static struct conn *open_n(int l, const char *src, int n)
{
	struct conn *c = NULL;

	while (n--)
		c = connect_from(l, src, "127.0.0.1", PORT_SMALL);
	return c;
}

/* Open and close one connection from src, leaving its client idle. */
static void visit(int l, const char *src)
{
	connect_from(l, src, "127.0.0.1", PORT_SMALL);
	close_from(src, PORT_SMALL, 1);
}

/*
 * A table of 4 clients and more clients than that: connections that find it
 * full are unattributed and their closes touch nothing; idle clients are
 * evicted oldest first; the per-port counts stay exact throughout.
 */
static void test_small_table(void **state)
{
	struct conn *unattributed[2];
	int l;

	require();
	start("--clients", "4");
	l = listen_on("127.0.0.1", PORT_SMALL);

	/* Full with four clients holding connections: .6 and .7 find no room. */
	open_n(l, "127.0.0.2", 2);
	open_n(l, "127.0.0.3", 1);
	open_n(l, "127.0.0.4", 1);
	open_n(l, "127.0.0.5", 1);
	unattributed[0] = open_n(l, "127.0.0.6", 1);
	unattributed[1] = open_n(l, "127.0.0.6", 1);
	open_n(l, "127.0.0.7", 1);
	expect_port(PORT_SMALL, 8);
	{
		const struct client_count a[] = {
			{ "127.0.0.2", "127.0.0.2/32", 2, 2, 2 },
			{ "127.0.0.3", "127.0.0.3/32", 1, 1, 1 },
			{ "127.0.0.4", "127.0.0.4/32", 1, 1, 1 },
			{ "127.0.0.5", "127.0.0.5/32", 1, 1, 1 },
		};

		expect_clients(PORT_SMALL, a, 4);
	}
	expect_losses(PORT_SMALL, 0, 3, 3);

	/* An unattributed connection closes: no client entry changes. */
	close_from("127.0.0.7", PORT_SMALL, 1);
	expect_port(PORT_SMALL, 7);
	expect_losses(PORT_SMALL, 0, 3, 2);

	/*
	 * .3 goes idle, so .6's next connection evicts it and gets an entry
	 * while .6's two unattributed connections are still open. Their closes
	 * must leave .6's entry at 1.
	 */
	close_from("127.0.0.3", PORT_SMALL, 1);
	open_n(l, "127.0.0.6", 1);
	expect_port(PORT_SMALL, 7);
	conn_close(unattributed[0]);
	conn_close(unattributed[1]);
	expect_port(PORT_SMALL, 5);
	{
		const struct client_count a[] = {
			{ "127.0.0.2", "127.0.0.2/32", 2, 2, 2 },
			{ "127.0.0.4", "127.0.0.4/32", 1, 1, 1 },
			{ "127.0.0.5", "127.0.0.5/32", 1, 1, 1 },
			{ "127.0.0.6", "127.0.0.6/32", 1, 1, 1 },
		};

		expect_clients(PORT_SMALL, a, 4);
	}
	expect_losses(PORT_SMALL, 1, 3, 0);

	/* Idle since: .6, then .4, then .5, far enough apart to be told apart. */
	close_from("127.0.0.6", PORT_SMALL, 1);
	nap_ms(400);
	close_from("127.0.0.4", PORT_SMALL, 1);
	nap_ms(400);
	close_from("127.0.0.5", PORT_SMALL, 1);
	nap_ms(50);
	visit(l, "127.0.0.8");	/* evicts .6 */
	nap_ms(50);
	visit(l, "127.0.0.9");	/* evicts .4 */
	expect_port(PORT_SMALL, 2);
	{
		const struct client_count a[] = {
			{ "127.0.0.2", "127.0.0.2/32", 2, 2, 2 },
			{ "127.0.0.5", "127.0.0.5/32", 0, 1, 1 },
			{ "127.0.0.8", "127.0.0.8/32", 0, 1, 1 },
			{ "127.0.0.9", "127.0.0.9/32", 0, 1, 1 },
		};

		expect_clients(PORT_SMALL, a, 4);
	}
	expect_losses(PORT_SMALL, 3, 3, 0);
	close_all();
	expect_port(PORT_SMALL, 0);
}

/* What the churn workers hold, shared with the test: [worker][address]. */
struct churn_book {
	int held[CHURN_WORKERS][CHURN_ADDRS];
	int stop, ready;
	long opened;
};

static void churn_addr(char *buf, size_t len, int a)
{
	snprintf(buf, len, "127.0.3.%d", a + 1);
}

/*
 * One worker: its own listener address, random opens from the churn
 * addresses and random closes, either end first, until told to stop; then it
 * holds what it has until it is killed.
 */
static void __attribute__((noreturn)) churn_worker(struct churn_book *b, int w)
{
	struct conn *mine[CHURN_HOLD];
	unsigned int seed = 1234 + w;
	char dst[32], src[32];
	int l, n = 0, a, i;

	snprintf(dst, sizeof(dst), "127.0.1.%d", w + 1);
	l = listen_on(dst, PORT_CHURN);
	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
		if (n < CHURN_HOLD && (n == 0 || rand_r(&seed) % 2)) {
			a = rand_r(&seed) % CHURN_ADDRS;
			churn_addr(src, sizeof(src), a);
			mine[n++] = connect_from(l, src, dst, PORT_CHURN);
			b->held[w][a]++;
			__atomic_fetch_add(&b->opened, 1, __ATOMIC_RELAXED);
			continue;
		}
		i = rand_r(&seed) % n;
		sscanf(mine[i]->src, "127.0.3.%d", &a);
		b->held[w][a - 1]--;
		if (rand_r(&seed) % 2) {
			close(mine[i]->cfd);	/* the client end first: CLOSE_WAIT, then closed */
			mine[i]->cfd = open("/dev/null", O_RDONLY);
		}
		conn_close(mine[i]);
		mine[i] = mine[--n];
	}
	__atomic_fetch_add(&b->ready, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
}

/*
 * Several processes churn from more clients than a table of 8 holds, so
 * entries are evicted and connections go unattributed all the time. Once they
 * stop, every client's count must be at most what it holds, the counts plus
 * the unattributed ones must make the port's count, and that must be exact.
 */
static void test_churn_small_table(void **state)
{
	struct out *o = out_new();
	const char *obj, *end, *c;
	pid_t pids[CHURN_WORKERS];
	long long sum = 0, held_total = 0, cur;
	char addr[32], pat[64];
	struct churn_book *b;
	int w, a, held;

	require();
	start("--clients", "8");
	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(b != MAP_FAILED);
	memset(b, 0, sizeof(*b));
	for (w = 0; w < CHURN_WORKERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (!pids[w])
			churn_worker(b, w);
	}
	nap_ms(CHURN_MS);
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&b->ready, __ATOMIC_ACQUIRE) < CHURN_WORKERS)
		nap_ms(10);
	for (w = 0; w < CHURN_WORKERS; w++)
		for (a = 0; a < CHURN_ADDRS; a++)
			held_total += b->held[w][a];
	expect_port(PORT_CHURN, held_total);

	clients_json(o, "15108");
	obj = port_object(o->out, PORT_CHURN, &end);
	for (a = 0; a < CHURN_ADDRS && obj; a++) {
		for (held = 0, w = 0; w < CHURN_WORKERS; w++)
			held += b->held[w][a];
		churn_addr(addr, sizeof(addr), a);
		snprintf(pat, sizeof(pat), "{\"client\":\"%s\",", addr);
		c = strstr(obj, pat);
		cur = c && c < end ? json_num(c, strchr(c, '}'), "current") : 0;
		if (cur > held)
			fail_msg("client %s: connpeak counts %lld, it holds %d: %s", addr, cur,
				 held, o->out);
		sum += cur;
	}
	if (!obj || sum + json_num(obj, end, "unattributed") != held_total ||
	    json_num(o->out, NULL, "evicted") <= 0)
		fail_msg("%lld held: clients count %lld, the rest must be unattributed; "
			 "evictions expected (opened %ld): %s", held_total, sum, b->opened, o->out);

	print_message("churn: %ld connections opened, %lld held at the end, %lld of them "
		      "attributed; evicted %lld, overflow %lld\n", b->opened, held_total, sum,
		      json_num(o->out, NULL, "evicted"),
		      json_num(o->out, strstr(o->out, "\"ports\""), "overflow"));
	for (w = 0; w < CHURN_WORKERS; w++) {
		kill(pids[w], SIGKILL);
		waitpid(pids[w], NULL, 0);
	}
	expect_port(PORT_CHURN, 0);
	clients_json(o, "15108");
	obj = port_object(o->out, PORT_CHURN, &end);
	for (c = obj; c && (c = strstr(c, "\"current\":")) && c < end; c++)
		if (strtol(c + strlen("\"current\":"), NULL, 10))
			fail_msg("a client still counts connections after all closed: %s", o->out);
	if (!obj || json_num(obj, end, "unattributed") != 0)
		fail_msg("unattributed connections left after all closed: %s", o->out);
	munmap(b, sizeof(*b));
	free(o);
}

/*
 * advise's per-client fields against the test's own bookkeeping: per port,
 * the highest per-client peak since start, its limit with 25% headroom, the
 * client that had it, and the clients --client-limit would have refused.
 */
static void test_advise_clients(void **state)
{
	struct held_by hb[] = {
		{ "127.0.0.2", PORT_ADVISE, 0, 0 }, { "127.0.0.3", PORT_ADVISE, 0, 0 },
		{ "127.0.0.4", PORT_ADVISE2, 0, 0 },
	};
	const int n = sizeof(hb) / sizeof(hb[0]);
	struct out *o = out_new();
	const char *top = NULL;
	char refused[512];
	int l1, l2, cpeak;

	require();
	start(NULL, NULL);
	l1 = listen_on("127.0.0.1", PORT_ADVISE);
	l2 = listen_on("127.0.0.1", PORT_ADVISE2);
	hold_more(l1, &hb[0], 7);
	hold_more(l1, &hb[1], 3);
	hold_more(l2, &hb[2], 2);
	expect_port(PORT_ADVISE, 10);
	expect_port(PORT_ADVISE2, 2);

	advise_json(o, "5", "15109", "15110");
	want_clients(hb, n, PORT_ADVISE, 5, &cpeak, &top, refused, sizeof(refused));
	expect_advice(o, PORT_ADVISE, 10, cpeak, 9, top, refused);	/* ceil(7 x 1.25) */
	want_clients(hb, n, PORT_ADVISE2, 5, &cpeak, &top, refused, sizeof(refused));
	expect_advice(o, PORT_ADVISE2, 2, cpeak, 3, top, refused);	/* ceil(2 x 1.25) */
	if (o->err[0])
		fail_msg("advise: nothing expected on stderr: %s", o->err);
	advise_json(o, NULL, "15109", NULL);
	want_clients(hb, n, PORT_ADVISE, 0, &cpeak, &top, refused, sizeof(refused));
	expect_advice(o, PORT_ADVISE, 10, cpeak, 9, top, refused);

	/* Peaks are kept: .2 falls to 2 but stays top with 7; .3 rises to 5. */
	hold_less(&hb[0], 5);
	hold_more(l1, &hb[1], 2);
	expect_port(PORT_ADVISE, 7);
	advise_json(o, "4", "15109", NULL);
	want_clients(hb, n, PORT_ADVISE, 4, &cpeak, &top, refused, sizeof(refused));
	expect_advice(o, PORT_ADVISE, 10, cpeak, 9, top, refused);
	advise_json(o, "5", "15109", NULL);
	want_clients(hb, n, PORT_ADVISE, 5, &cpeak, &top, refused, sizeof(refused));
	expect_advice(o, PORT_ADVISE, 10, cpeak, 9, top, refused);	/* 5 is not over 5 */

	cp(o, "advise", "--client-limit", "4", "15109", NULL);
	if (o->status || !strstr(o->out, "CLIENT PEAK") ||
	    !strstr(o->out, " over client limit 4: 127.0.0.2 (peak 7), 127.0.0.3 (peak 5)\n"))
		fail_msg("advise --client-limit 4: .2 and .3 named expected: status %d: %s",
			 o->status, o->out);
	cp(o, "advise", "15109", NULL);
	if (o->status || !strstr(o->out, "127.0.0.2") || strstr(o->out, "over client limit"))
		fail_msg("advise: top client and nobody named expected: status %d: %s",
			 o->status, o->out);
	free(o);
}

/* --clients 0: no client table; clients says so, show goes on. */
static void test_off(void **state)
{
	struct out *o = out_new();
	int l;

	require();
	start("--clients", "0");
	l = listen_on("127.0.0.1", PORT_OFF);
	connect_from(l, "127.0.0.2", "127.0.0.1", PORT_OFF);
	expect_port(PORT_OFF, 1);
	cp(o, "clients", NULL);
	if (o->status != 1 || !strstr(o->err, "--clients 0") || o->out[0])
		fail_msg("clients with --clients 0: status %d, stderr '%s', stdout '%s'",
			 o->status, o->err, o->out);

	/* advise works as without clients, the per-client fields null, with one note. */
	advise_json(o, "5", "15107", NULL);
	expect_advice(o, PORT_OFF, 1, -1, -1, NULL, NULL);
	if (!strstr(o->err, "note") || !strstr(o->err, "--clients 0") ||
	    strchr(o->err, '\n') != o->err + strlen(o->err) - 1)
		fail_msg("advise with --clients 0: one note expected on stderr: '%s'", o->err);
	cp(o, "advise", "15107", NULL);
	if (o->status || !strstr(o->out, "LIMIT") || strstr(o->out, "CLIENT") ||
	    !strstr(o->err, "--clients 0"))
		fail_msg("advise table with --clients 0: no client columns and a note expected: "
			 "status %d, stdout '%s', stderr '%s'", o->status, o->out, o->err);
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_counts_per_client, teardown),
		cmocka_unit_test_teardown(test_table_order, teardown),
		cmocka_unit_test_teardown(test_resolve, teardown),
		cmocka_unit_test_teardown(test_seeded, teardown),
		cmocka_unit_test_teardown(test_prefix, teardown),
		cmocka_unit_test_teardown(test_small_table, teardown),
		cmocka_unit_test_teardown(test_churn_small_table, teardown),
		cmocka_unit_test_teardown(test_advise_clients, teardown),
		cmocka_unit_test_teardown(test_off, teardown),
	};

	return cmocka_run_group_tests_name("clients", tests, group_setup, NULL);
}
