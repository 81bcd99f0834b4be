// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include "harness.h"

extern char **environ;

#define MAX_TRACKED_FDS		4096
#define MAX_CHILDREN		64
#define CHURN_HOLD_MAX		256
#define CHURN_MAX_ITERS		200000
#define CHURN_WAIT_MS		(30000 * h_slow())
#define ABSURD_COUNT		4000000000ULL

char h_pin_dir[64];
char h_pin_dir2[64];

static const char *connpeak_path;
static char skip_reason[256];	/* empty when the tests can run */

static int tracked_fds[MAX_TRACKED_FDS];
static int nr_tracked_fds;
static pid_t children[MAX_CHILDREN];
static int nr_children;
static struct h_churn *active_churn;
static struct h_watch *active_watch;

/* ---- bookkeeping of what a test must undo ---- */

void h_fd_track(int fd)
{
	if (fd >= 0 && nr_tracked_fds < MAX_TRACKED_FDS)
		tracked_fds[nr_tracked_fds++] = fd;
}

static void fd_untrack(int fd)
{
	int i;

	for (i = 0; i < nr_tracked_fds; i++) {
		if (tracked_fds[i] == fd) {
			tracked_fds[i] = tracked_fds[--nr_tracked_fds];
			return;
		}
	}
}

void h_close(int fd)
{
	if (fd < 0)
		return;
	fd_untrack(fd);
	close(fd);
}

static void rst_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

void h_close_rst(int fd)
{
	if (fd < 0)
		return;
	fd_untrack(fd);
	rst_close(fd);
}

void h_child_track(pid_t pid)
{
	if (pid > 0 && nr_children < MAX_CHILDREN)
		children[nr_children++] = pid;
}

static void child_untrack(pid_t pid)
{
	int i;

	for (i = 0; i < nr_children; i++) {
		if (children[i] == pid) {
			children[i] = children[--nr_children];
			return;
		}
	}
}

static int wait_status(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int h_child_wait(pid_t pid)
{
	int status = wait_status(pid);

	child_untrack(pid);
	return status;
}

/* Only processes this test binary forked are ever signalled. */
static void children_kill(void)
{
	while (nr_children) {
		kill(children[nr_children - 1], SIGKILL);
		h_child_wait(children[nr_children - 1]);
	}
}

/* ---- assertions ---- */

void h_fail_(const char *file, int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_error("%s\n", msg);
	_fail(file, line);
}

void h_eq_(const char *file, int line, long long expected, long long actual,
	   const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (expected == actual)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	h_fail_(file, line, "%s: expected %lld, actual %lld", what, expected, actual);
}

void h_le_(const char *file, int line, long long limit, long long actual,
	   const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (actual <= limit)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	h_fail_(file, line, "%s: expected at most %lld, actual %lld", what, limit, actual);
}

/* ---- time ---- */

int h_slow(void)
{
	static int slow;
	const char *v;

	if (!slow) {
		v = getenv("CONNPEAK_TEST_SLOW");
		slow = v ? atoi(v) : 1;
		if (slow < 1 || slow > 20)
			slow = 1;
	}
	return slow;
}

long long h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void h_nap_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- environment ---- */

static int lo_up(void)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			err = -errno;
	} else {
		err = -errno;
	}
	close(fd);
	return err;
}

/* A network namespace of our own, with lo up (and so ::1 too). */
static int netns_enter(void)
{
	if (unshare(CLONE_NEWNET))
		return -errno;
	return lo_up();
}

static bool bpf_usable(void)
{
	int fd;

	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return false;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "itest_probe", 4, 8, 1, NULL);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool runs(const char *path)
{
	char *argv[] = { (char *)path, "--version", NULL };
	struct h_out o;
	bool ok;

	ok = h_run(&o, argv) == 0 && o.status == 0;
	h_out_free(&o);
	return ok;
}

/*
 * Run a private copy of connpeak, so that a rebuild in the work tree while
 * the tests run cannot swap the binary under them. Without memfd exec, run
 * the original.
 */
static void snapshot_connpeak(void)
{
	static char path[64];
	char buf[65536];
	int in, out;
	ssize_t n;

	in = open(connpeak_path, O_RDONLY | O_CLOEXEC);
	out = memfd_create("connpeak", MFD_CLOEXEC);
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, n) != n)
			break;
	}
	if (in >= 0)
		close(in);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)getpid(), out);
	if (out >= 0 && runs(path)) {
		connpeak_path = path;
		return;
	}
	if (out >= 0)
		close(out);
}

static int find_connpeak(void)
{
	connpeak_path = getenv("CONNPEAK");
	if (!connpeak_path || !connpeak_path[0])
		connpeak_path = "./connpeak";
	if (!runs(connpeak_path)) {
		print_error("%s: not a working connpeak: run through 'make integration-test' "
			    "or set CONNPEAK\n", connpeak_path);
		return -1;
	}
	snapshot_connpeak();
	return 0;
}

int h_group_setup(void **state)
{
	struct rlimit rl;
	int err;

	snprintf(h_pin_dir, sizeof(h_pin_dir), "/sys/fs/bpf/connpeak-itest-%d", (int)getpid());
	snprintf(h_pin_dir2, sizeof(h_pin_dir2), "/sys/fs/bpf/connpeak-itest-%d-b", (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (geteuid() != 0)
		snprintf(skip_reason, sizeof(skip_reason), "not running as root");
	else if (!bpf_usable())
		snprintf(skip_reason, sizeof(skip_reason), "BPF is not available here");
	if (skip_reason[0]) {
		print_message("integration tests skipped: %s\n", skip_reason);
		return 0;
	}
	if (find_connpeak())
		return -1;
	err = netns_enter();
	if (err) {
		print_error("private network namespace: setup failed: %s\n", strerror(-err));
		return -1;
	}
	return 0;
}

int h_group_teardown(void **state)
{
	h_teardown(state);
	return 0;
}

void h_require_(const char *file, int line)
{
	if (skip_reason[0])
		_skip(file, line);
}

static void watch_join(struct h_watch *w);
static void churn_end(struct h_churn *c, bool force);

/* connpeak stop, then remove by hand whatever a failed stop left. */
static void unpin(const char *dir)
{
	static const char *const pins[] = { "link", "slots", "used", "stats" };
	char path[128];
	struct h_out o;
	size_t i;

	if (access(dir, F_OK))
		return;
	h_cp_dir(&o, dir, "stop", NULL);
	h_out_free(&o);
	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pins[i]);
		unlink(path);
	}
	rmdir(dir);
}

int h_teardown(void **state)
{
	if (active_watch)
		watch_join(active_watch);
	if (active_churn)
		churn_end(active_churn, true);
	children_kill();
	while (nr_tracked_fds)
		h_close(tracked_fds[nr_tracked_fds - 1]);
	if (!skip_reason[0]) {
		unpin(h_pin_dir);
		unpin(h_pin_dir2);
	}
	return 0;
}

/* ---- running programs ---- */

static char *slurp(int fd)
{
	struct stat st;
	char *buf;
	ssize_t n;

	if (fstat(fd, &st))
		return strdup("");
	buf = malloc(st.st_size + 1);
	if (!buf)
		return NULL;
	n = pread(fd, buf, st.st_size, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int spawn_wait(char *const argv[], int out_fd, int err_fd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int err;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		return -err;
	return wait_status(pid);
}

int h_run(struct h_out *o, char *const argv[])
{
	int out_fd, err_fd, err = 0;

	o->status = -1;
	o->out = o->err = NULL;
	out_fd = memfd_create("itest-out", MFD_CLOEXEC);
	err_fd = memfd_create("itest-err", MFD_CLOEXEC);
	if (out_fd < 0 || err_fd < 0) {
		err = -errno;
	} else {
		o->status = spawn_wait(argv, out_fd, err_fd);
		if (o->status < 0)
			err = o->status;
		o->out = slurp(out_fd);
		o->err = slurp(err_fd);
	}
	if (err) {
		free(o->err);
		if (asprintf(&o->err, "%s: could not run: %s", argv[0], strerror(-err)) < 0)
			o->err = NULL;
	}
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	if (!o->out)
		o->out = strdup("");
	if (!o->err)
		o->err = strdup("");
	return err;
}

int h_cp_dir(struct h_out *o, const char *dir, const char *cmd, ...)
{
	char *argv[32];
	va_list ap;
	int n = 0;

	argv[n++] = (char *)connpeak_path;
	argv[n++] = (char *)cmd;
	argv[n++] = "--pin-dir";
	argv[n++] = (char *)dir;
	va_start(ap, cmd);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return h_run(o, argv);
}

pid_t h_cp_spawn_(const char *file, int line, int out_fd, int err_fd, const char *dir,
		  const char *cmd, char *const args[])
{
	char *argv[32];
	pid_t pid;
	int n = 0;

	argv[n++] = (char *)connpeak_path;
	argv[n++] = (char *)cmd;
	argv[n++] = "--pin-dir";
	argv[n++] = (char *)dir;
	while (n < 31 && args && (argv[n] = args[n - 4]))
		n++;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		/* Only the given fds: a copy of a test's socket would keep it open. */
		n = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(n, 0);
		dup2(out_fd >= 0 ? out_fd : n, 1);
		dup2(err_fd >= 0 ? err_fd : n, 2);
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0)
		h_fail_(file, line, "connpeak %s: fork failed: %s", cmd, strerror(errno));
	h_child_track(pid);
	return pid;
}

void h_out_free(struct h_out *o)
{
	free(o->out);
	free(o->err);
	o->out = o->err = NULL;
}

static void cp_must_succeed(const char *file, int line, const char *cmd)
{
	char msg[1024];
	struct h_out o;

	h_cp(&o, cmd, NULL);
	if (o.status == 0) {
		h_out_free(&o);
		return;
	}
	snprintf(msg, sizeof(msg), "connpeak %s: expected exit status 0, actual %d; stderr: %s",
		 cmd, o.status, o.err);
	h_out_free(&o);
	h_fail_(file, line, "%s", msg);
}

void h_start_(const char *file, int line)
{
	cp_must_succeed(file, line, "start");
}

void h_stop_(const char *file, int line)
{
	cp_must_succeed(file, line, "stop");
}

bool h_pinned(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/link", h_pin_dir);
	return access(path, F_OK) == 0;
}

/* ---- ss ---- */

const char *h_dir_name(enum h_dir dir)
{
	return dir == H_IN ? "in" : "out";
}

int h_ss_count(unsigned int port, enum h_dir dir)
{
	char filter[64];
	char *argv[] = { "ss", "-Htn", "state", "established", "state", "close-wait",
			 filter, NULL };
	struct h_out o;
	int n = 0;
	char *p;

	snprintf(filter, sizeof(filter), "( %s = :%u )", dir == H_IN ? "sport" : "dport", port);
	if (h_run(&o, argv) || o.status != 0) {
		print_error("ss: exit status %d: %s\n", o.status, o.err);
		h_out_free(&o);
		return -1;
	}
	for (p = o.out; *p; p++)
		n += *p == '\n';
	h_out_free(&o);
	return n;
}

int h_ss_wait(unsigned int port, enum h_dir dir, int want)
{
	long long deadline = h_now_ms() + H_WAIT_MS;
	int n;

	while ((n = h_ss_count(port, dir)) != want && h_now_ms() < deadline)
		h_nap_ms(10);
	return n;
}

/* ---- JSON ---- */

struct cursor {
	const char *p;
	char *why;
	size_t len;
};

static bool bad(struct cursor *c, const char *what)
{
	snprintf(c->why, c->len, "%s at '%.24s'", what, c->p);
	return false;
}

static bool lit(struct cursor *c, const char *s)
{
	size_t n = strlen(s);
	char what[64];

	if (!strncmp(c->p, s, n)) {
		c->p += n;
		return true;
	}
	snprintf(what, sizeof(what), "expected '%s'", s);
	return bad(c, what);
}

static bool num(struct cursor *c, unsigned long long *v)
{
	const char *start = c->p;
	unsigned long long x = 0;

	while (*c->p >= '0' && *c->p <= '9' && c->p - start < 20)
		x = x * 10 + (unsigned long long)(*c->p++ - '0');
	if (c->p == start || (*start == '0' && c->p - start > 1) ||
	    (*c->p >= '0' && *c->p <= '9'))
		return bad(c, "bad number");
	*v = x;
	return true;
}

static bool str(struct cursor *c, char *buf, size_t len)
{
	size_t n = 0;

	if (!lit(c, "\""))
		return false;
	while (*c->p && *c->p != '"') {
		if ((unsigned char)*c->p < 0x20)
			return bad(c, "control character in string");
		if (*c->p == '\\' && !*++c->p)
			break;
		if (n + 1 < len)
			buf[n++] = *c->p;
		c->p++;
	}
	buf[n] = '\0';
	return lit(c, "\"");
}

/* YYYY-MM-DDTHH:MM:SSZ */
static bool utc_stamp(struct cursor *c, const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;

	for (i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return bad(c, "peak_at is not YYYY-MM-DDTHH:MM:SSZ");
	}
	return s[i] == '\0' || bad(c, "peak_at too long");
}

static bool parse_row(struct cursor *c, struct h_row *r)
{
	if (!lit(c, "{\"port\":") || !num(c, &r->port) || !lit(c, ",\"service\":"))
		return false;
	r->service[0] = '\0';
	if (strncmp(c->p, "null", 4) == 0)
		c->p += 4;
	else if (!str(c, r->service, sizeof(r->service)))
		return false;
	if (!lit(c, ",\"direction\":") || !str(c, r->dir, sizeof(r->dir)))
		return false;
	if (strcmp(r->dir, "in") && strcmp(r->dir, "out"))
		return bad(c, "direction is neither in nor out");
	return lit(c, ",\"current\":") && num(c, &r->current) &&
	       lit(c, ",\"peak\":") && num(c, &r->peak) &&
	       lit(c, ",\"peak_at\":") && str(c, r->peak_at, sizeof(r->peak_at)) &&
	       utc_stamp(c, r->peak_at) &&
	       lit(c, ",\"total\":") && num(c, &r->total) && lit(c, "}");
}

/* Rows sorted by port then direction, each once, each having counted. */
static bool rows_ordered(struct cursor *c, const struct h_rows *rows)
{
	const struct h_row *a, *b;
	int i;

	for (i = 0; i < rows->n; i++) {
		a = &rows->row[i];
		if (a->total == 0 || a->port == 0 || a->port > 65535)
			return bad(c, "row with total 0 or port out of range");
		if (i == 0)
			continue;
		b = &rows->row[i - 1];
		if (b->port > a->port || (b->port == a->port && strcmp(b->dir, a->dir) >= 0))
			return bad(c, "rows not sorted by port then direction");
	}
	return true;
}

int h_json_parse(const char *json, struct h_rows *rows, char *why, size_t len)
{
	struct cursor c = { .p = json, .why = why, .len = len };

	rows->n = 0;
	snprintf(rows->text, sizeof(rows->text), "%s", json);
	if (!lit(&c, "{\"ports\":["))
		return -1;
	while (*c.p != ']') {
		if (rows->n == H_MAX_ROWS) {
			bad(&c, "more rows than the test can hold");
			return -1;
		}
		if (rows->n && !lit(&c, ","))
			return -1;
		if (!parse_row(&c, &rows->row[rows->n++]))
			return -1;
	}
	if (!lit(&c, "]}\n"))
		return -1;
	if (*c.p) {
		bad(&c, "text after the object");
		return -1;
	}
	return rows_ordered(&c, rows) ? 0 : -1;
}

const struct h_row *h_rows_find(const struct h_rows *rows, unsigned int port,
				enum h_dir dir)
{
	int i;

	for (i = 0; i < rows->n; i++) {
		if (rows->row[i].port == port && !strcmp(rows->row[i].dir, h_dir_name(dir)))
			return &rows->row[i];
	}
	return NULL;
}

/* Run show --json and parse it; 0, or -1 with why filled in. */
static int show_rows(struct h_rows *rows, char *why, size_t len)
{
	struct h_out o;
	int err = -1;

	rows->n = 0;
	rows->text[0] = '\0';
	if (h_cp(&o, "show", "--json", NULL) || o.status != 0)
		snprintf(why, len, "show --json: exit status %d: %s", o.status, o.err);
	else if (o.err[0])
		snprintf(why, len, "show --json: unexpected stderr: %s", o.err);
	else if (h_json_parse(o.out, rows, why, len) == 0)
		err = 0;
	if (err && !rows->text[0])
		snprintf(rows->text, sizeof(rows->text), "%s", o.out);
	h_out_free(&o);
	return err;
}

void h_show_(const char *file, int line, struct h_rows *rows)
{
	char why[1024];

	if (show_rows(rows, why, sizeof(why)))
		h_fail_(file, line, "%s; output: %s", why, rows->text);
}

static bool row_matches(const struct h_row *r, long long cur, long long ss,
			long long peak, long long total)
{
	if (cur >= 0 && ((long long)r->current != cur || (long long)r->current != ss))
		return false;
	if (peak >= 0 && (long long)r->peak != peak)
		return false;
	if (total >= 0 && (long long)r->total != total)
		return false;
	return r->current <= r->peak && r->peak <= r->total;
}

void h_expect_(const char *file, int line, unsigned int port, enum h_dir dir,
	       long long cur, long long peak, long long total)
{
	const char *d = h_dir_name(dir);
	const struct h_row *r;
	struct h_rows rows;
	int ss = -1;

	if (cur >= 0) {
		ss = h_ss_wait(port, dir, cur);
		h_eq_(file, line, cur, ss, "port %u %s: ss open sockets vs the test's count",
		      port, d);
	}
	h_show_(file, line, &rows);
	r = h_rows_find(&rows, port, dir);
	if (!r) {
		if (cur > 0 || peak > 0 || total > 0)
			h_fail_(file, line, "port %u %s: no row in show --json; expected current "
				"%lld, peak %lld, total %lld; output: %s", port, d, cur, peak,
				total, rows.text);
		return;
	}
	if (cur >= 0)
		ss = h_ss_count(port, dir);
	if (!row_matches(r, cur, ss, peak, total))
		print_error("show --json: %s", rows.text);
	if (cur >= 0) {
		h_eq_(file, line, cur, r->current, "port %u %s: current vs the test's count",
		      port, d);
		h_eq_(file, line, ss, r->current, "port %u %s: current vs ss", port, d);
	}
	if (peak >= 0)
		h_eq_(file, line, peak, r->peak, "port %u %s: peak", port, d);
	if (total >= 0)
		h_eq_(file, line, total, r->total, "port %u %s: total", port, d);
	h_le_(file, line, r->peak, r->current, "port %u %s: current against peak", port, d);
	h_le_(file, line, r->total, r->peak, "port %u %s: peak against total", port, d);
}

void h_expect_no_row_(const char *file, int line, unsigned int port, enum h_dir dir)
{
	const struct h_row *r;
	struct h_rows rows;

	h_show_(file, line, &rows);
	r = h_rows_find(&rows, port, dir);
	if (r)
		h_fail_(file, line, "port %u %s: expected no row, actual current %llu, peak %llu, "
			"total %llu", port, h_dir_name(dir), r->current, r->peak, r->total);
}

void h_expect_nrows_(const char *file, int line, int n)
{
	struct h_rows rows;

	h_show_(file, line, &rows);
	if (rows.n != n)
		print_error("show --json: %s", rows.text);
	h_eq_(file, line, n, rows.n, "rows in show --json");
}

/* ---- sockets ---- */

static int make_addr(const char *addr, unsigned int port, struct sockaddr_storage *sa,
		     socklen_t *len)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	struct sockaddr_in *in4 = (struct sockaddr_in *)sa;

	memset(sa, 0, sizeof(*sa));
	if (strchr(addr, ':')) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1 ? AF_INET6 : -EINVAL;
	}
	in4->sin_family = AF_INET;
	in4->sin_port = htons(port);
	*len = sizeof(*in4);
	return inet_pton(AF_INET, addr, &in4->sin_addr) == 1 ? AF_INET : -EINVAL;
}

static int sock_listen(const char *addr, unsigned int port, int backlog, int v6only)
{
	struct sockaddr_storage sa;
	int fam, fd, err, one = 1;
	socklen_t len;

	fam = make_addr(addr, port, &sa, &len);
	if (fam < 0)
		return fam;
	fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6only >= 0 && fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, (struct sockaddr *)&sa, len) || listen(fd, backlog)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int sock_connect(const char *laddr, unsigned int lport, const char *addr,
			unsigned int port)
{
	struct sockaddr_storage sa, la;
	socklen_t len, llen;
	int fam, fd, err, one = 1;

	fam = make_addr(addr, port, &sa, &len);
	if (fam < 0 || (laddr && make_addr(laddr, lport, &la, &llen) != fam))
		return -EINVAL;
	fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((laddr && bind(fd, (struct sockaddr *)&la, llen)) ||
	    connect(fd, (struct sockaddr *)&sa, len)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int sock_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int h_listen_(const char *file, int line, const char *addr, unsigned int port,
	      int backlog, int v6only)
{
	int fd = sock_listen(addr, port, backlog, v6only);

	if (fd < 0)
		h_fail_(file, line, "listen on %s port %u: %s", addr, port, strerror(-fd));
	h_fd_track(fd);
	return fd;
}

int h_connect_(const char *file, int line, const char *laddr, unsigned int lport,
	       const char *addr, unsigned int port)
{
	int fd = sock_connect(laddr, lport, addr, port);

	if (fd < 0)
		h_fail_(file, line, "connect to %s port %u: %s", addr, port, strerror(-fd));
	h_fd_track(fd);
	return fd;
}

int h_accept_(const char *file, int line, int lfd)
{
	int fd = sock_accept(lfd);

	if (fd < 0)
		h_fail_(file, line, "accept: %s", strerror(-fd));
	h_fd_track(fd);
	return fd;
}

/* ---- child processes ---- */

/* A forked child keeps only the fd it needs: an inherited copy keeps a socket open. */
static void close_inherited(int keep)
{
	if (keep > 3)
		close_range(3, keep - 1, 0);
	close_range(keep + 1, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

struct pair {
	int c, a;	/* client and accepted ends */
};

static int pair_open(struct pair *p, int lfd, const char *addr, unsigned int port)
{
	p->c = sock_connect(NULL, 0, addr, port);
	if (p->c < 0)
		return p->c;
	p->a = sock_accept(lfd);
	if (p->a >= 0)
		return 0;
	close(p->c);
	return p->a;
}

static void pair_close(const struct pair *p, int how)
{
	if (how == H_SERVER_FIRST) {
		close(p->a);
		close(p->c);
	} else if (how == H_RST) {
		rst_close(p->c);
		close(p->a);
	} else {
		close(p->c);
		close(p->a);
	}
}

/* ---- holders ---- */

#define HOLD_QUIT	(H_HOLD_CLOSE + 1)

struct holder_cmd {
	int op, n, how;
	int pace_us;	/* pause between two pairs, to spread the command over time */
};

static void pace(int us)
{
	struct timespec ts = { .tv_nsec = us * 1000L };

	if (us > 0)
		nanosleep(&ts, NULL);
}

static int holder_open(struct pair *pairs, int *n, int max, int lfd, const char *addr,
		       unsigned int port, const struct holder_cmd *cmd)
{
	int err, count;

	for (count = cmd->n; count > 0; count--) {
		if (*n >= max)
			return -EMFILE;
		err = pair_open(&pairs[*n], lfd, addr, port);
		if (err)
			return err;
		(*n)++;
		pace(cmd->pace_us);
	}
	return 0;
}

static void holder_close(struct pair *pairs, int *n, const struct holder_cmd *cmd)
{
	int count;

	for (count = cmd->n; count > 0 && *n > 0; count--) {
		pair_close(&pairs[--(*n)], cmd->how);
		pace(cmd->pace_us);
	}
}

static void __attribute__((noreturn)) holder_main(int ctl, const char *addr, unsigned int port,
						  bool own_netns)
{
	struct holder_cmd cmd;
	struct pair *pairs;
	int lfd, n = 0, max, reply;
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	max = ((int)rl.rlim_cur - 16) / 2;
	pairs = calloc(max > 0 ? max : 1, sizeof(*pairs));
	lfd = own_netns ? netns_enter() : 0;
	if (!lfd)
		lfd = sock_listen(addr, port, 4096, -1);
	reply = lfd < 0 ? lfd : pairs ? 0 : -ENOMEM;
	if (write(ctl, &reply, sizeof(reply)) != sizeof(reply) || reply)
		_exit(1);
	while (read(ctl, &cmd, sizeof(cmd)) == sizeof(cmd) && cmd.op != HOLD_QUIT) {
		reply = 0;
		if (cmd.op == H_HOLD_OPEN)
			reply = holder_open(pairs, &n, max, lfd, addr, port, &cmd);
		else if (cmd.op == H_HOLD_CLOSE)
			holder_close(pairs, &n, &cmd);
		if (write(ctl, reply ? &reply : &n, sizeof(n)) != sizeof(n))
			break;
	}
	_exit(0);
}

void h_holder_start_(const char *file, int line, struct h_holder *h, const char *addr,
		     unsigned int port, bool own_netns)
{
	int sv[2], reply = -EIO;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		h_fail_(file, line, "holder: socketpair failed: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		close_inherited(sv[1]);
		holder_main(sv[1], addr, port, own_netns);
	}
	close(sv[1]);
	h_fd_track(sv[0]);
	if (pid < 0)
		h_fail_(file, line, "holder: fork failed: %s", strerror(errno));
	h_child_track(pid);
	h->pid = pid;
	h->ctl = sv[0];
	h->pairs = 0;
	if (read(h->ctl, &reply, sizeof(reply)) != sizeof(reply) || reply < 0)
		h_fail_(file, line, "holder on %s port %u: %s failed: %s", addr, port,
			own_netns ? "netns or listen" : "listen", strerror(-reply));
}

void h_holders_begin_(const char *file, int line, struct h_holder *hs, int n,
		      enum h_hold_op op, int each, int how, int pace_us)
{
	struct holder_cmd cmd = { .op = op, .n = each, .how = how, .pace_us = pace_us };
	int i;

	for (i = 0; i < n; i++) {
		if (write(hs[i].ctl, &cmd, sizeof(cmd)) != sizeof(cmd))
			h_fail_(file, line, "holder %d: command failed: %s", i, strerror(errno));
		hs[i].want = op == H_HOLD_OPEN ? hs[i].pairs + each :
			     hs[i].pairs > each ? hs[i].pairs - each : 0;
	}
}

void h_holders_end_(const char *file, int line, struct h_holder *hs, int n)
{
	int i, got;

	for (i = 0; i < n; i++) {
		got = -EIO;
		if (read(hs[i].ctl, &got, sizeof(got)) != sizeof(got) || got < 0)
			h_fail_(file, line, "holder %d: opening or closing pairs failed: %s", i,
				strerror(-got));
		h_eq_(file, line, hs[i].want, got, "holder %d: pairs held", i);
		hs[i].pairs = got;
	}
}

void h_holder_quit(struct h_holder *h)
{
	struct holder_cmd cmd = { .op = HOLD_QUIT };

	if (write(h->ctl, &cmd, sizeof(cmd)) != sizeof(cmd))
		kill(h->pid, SIGKILL);
	h_child_wait(h->pid);
	h_close(h->ctl);
	h->pairs = 0;
}

/* ---- churn ---- */

/* Each worker its own listener address, so that it accepts its own connections. */
static const char *const churn_listen[H_CHURN_MAX_WORKERS] = {
	"127.0.0.1", "127.0.0.2", "::1", "127.0.0.3",
};
static const char *const churn_connect[H_CHURN_MAX_WORKERS] = {
	"127.0.0.1", "::ffff:127.0.0.2", "::1", "127.0.0.3",
};

struct churn_port {
	int lfd;
	int nfull, nhalf;
	struct pair full[CHURN_HOLD_MAX];	/* both ends open */
	int half[CHURN_HOLD_MAX];		/* accepted ends left in CLOSE_WAIT */
};

struct churn_worker {
	const char *listen_addr, *connect_addr;
	const unsigned int *ports;
	int nports, hold;
	unsigned int seed;
	struct churn_port port[H_CHURN_MAX_PORTS];
	struct h_churn_stat *st;
};

static void churn_close(struct churn_port *p, unsigned int *seed, int hold)
{
	struct pair pr;
	int j;

	if (p->nhalf && (!p->nfull || rand_r(seed) % 4 == 0)) {
		j = rand_r(seed) % p->nhalf;
		close(p->half[j]);
		p->half[j] = p->half[--p->nhalf];
		return;
	}
	j = rand_r(seed) % p->nfull;
	pr = p->full[j];
	p->full[j] = p->full[--p->nfull];
	switch (rand_r(seed) % 5) {
	case 0:
		pair_close(&pr, H_SERVER_FIRST);
		break;
	case 1:
		pair_close(&pr, H_RST);
		break;
	case 2:
		rst_close(pr.a);
		close(pr.c);
		break;
	case 3:
		if (p->nhalf < hold) {
			close(pr.c);
			p->half[p->nhalf++] = pr.a;
			break;
		}
		/* fall through */
	default:
		pair_close(&pr, H_CLIENT_FIRST);
	}
}

/* Open or close one connection; waves of mostly opening, then mostly closing. */
static int churn_step(struct churn_worker *w, long i)
{
	int k = rand_r(&w->seed) % w->nports;
	struct churn_port *p = &w->port[k];
	int odds = (i / 200) % 2 ? 30 : 70;
	int err;

	if (p->nfull + p->nhalf > 0 &&
	    (p->nfull >= w->hold || p->nhalf >= w->hold || (int)(rand_r(&w->seed) % 100) >= odds)) {
		churn_close(p, &w->seed, w->hold);
		return 0;
	}
	err = pair_open(&p->full[p->nfull], p->lfd, w->connect_addr, w->ports[k]);
	if (err)
		return err;
	p->nfull++;
	__atomic_fetch_add(&w->st->opened[k], 1, __ATOMIC_RELAXED);
	return 0;
}

static void __attribute__((noreturn)) churn_main(struct churn_worker *w, int *stop, int quit_fd)
{
	int k, err = 0;
	long i;
	char b;

	for (k = 0; k < w->nports && !err; k++) {
		w->port[k].lfd = sock_listen(w->listen_addr, w->ports[k], 4096, 1);
		if (w->port[k].lfd < 0)
			err = w->port[k].lfd;
	}
	for (i = 0; !err && i < CHURN_MAX_ITERS && !__atomic_load_n(stop, __ATOMIC_ACQUIRE); i++) {
		err = churn_step(w, i);
		__atomic_store_n(&w->st->iters, i + 1, __ATOMIC_RELEASE);
	}
	for (k = 0; k < w->nports; k++) {
		w->st->open_in[k] = w->port[k].nfull + w->port[k].nhalf;
		w->st->open_out[k] = w->port[k].nfull;
	}
	w->st->err = err;
	__atomic_store_n(&w->st->done, 1, __ATOMIC_RELEASE);
	/* Hold everything until the test closes the pipe. */
	while (read(quit_fd, &b, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static void __attribute__((noreturn)) churn_worker_run(struct h_churn *c, int i, int hold,
						       int quit_fd)
{
	static struct churn_worker w;

	w.listen_addr = churn_listen[i];
	w.connect_addr = churn_connect[i];
	w.ports = c->ports;
	w.nports = c->nports;
	w.hold = hold;
	w.seed = (unsigned int)getpid() * 2654435761u;
	w.st = &c->st[i];
	churn_main(&w, c->stop, quit_fd);
}

static void *shared_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

#define CHURN_SHM_LEN	(64 + sizeof(struct h_churn_stat) * H_CHURN_MAX_WORKERS)

void h_churn_start_(const char *file, int line, struct h_churn *c, int nworkers,
		    const unsigned int *ports, int nports, int hold)
{
	int qp[2], i;
	void *mem;
	pid_t pid;

	if (nworkers > H_CHURN_MAX_WORKERS || nports > H_CHURN_MAX_PORTS || hold > CHURN_HOLD_MAX)
		h_fail_(file, line, "churn: too many workers, ports or connections held");
	memset(c, 0, sizeof(*c));
	c->quit_fd = -1;
	mem = shared_alloc(CHURN_SHM_LEN);
	if (!mem || pipe2(qp, O_CLOEXEC))
		h_fail_(file, line, "churn: setup failed: %s", strerror(errno));
	c->stop = mem;
	c->st = (struct h_churn_stat *)((char *)mem + 64);
	c->nports = nports;
	memcpy(c->ports, ports, nports * sizeof(*ports));
	c->quit_fd = qp[1];
	active_churn = c;
	for (i = 0; i < nworkers; i++) {
		pid = fork();
		if (pid == 0) {
			close_inherited(qp[0]);
			churn_worker_run(c, i, hold, qp[0]);
		}
		if (pid < 0)
			break;
		c->pids[c->nworkers++] = pid;
		h_child_track(pid);
	}
	close(qp[0]);
	if (c->nworkers < nworkers)
		h_fail_(file, line, "churn: fork failed: %s", strerror(errno));
}

static void churn_check(const char *file, int line, const struct h_churn *c, int i)
{
	int err = __atomic_load_n(&c->st[i].err, __ATOMIC_ACQUIRE);

	if (err)
		h_fail_(file, line, "churn worker %d (%s): %s", i, churn_connect[i],
			strerror(-err));
}

void h_churn_progress_(const char *file, int line, struct h_churn *c, long iters)
{
	long long deadline = h_now_ms() + CHURN_WAIT_MS;
	long base[H_CHURN_MAX_WORKERS], got;
	int i, behind;

	for (i = 0; i < c->nworkers; i++)
		base[i] = __atomic_load_n(&c->st[i].iters, __ATOMIC_ACQUIRE);
	do {
		behind = -1;
		for (i = 0; i < c->nworkers; i++) {
			churn_check(file, line, c, i);
			got = __atomic_load_n(&c->st[i].iters, __ATOMIC_ACQUIRE) - base[i];
			if (got < iters)
				behind = i;
		}
		if (behind < 0)
			return;
		h_nap_ms(5);
	} while (h_now_ms() < deadline);
	h_fail_(file, line, "churn worker %d: expected %ld more iterations within %d ms, "
		"actual %ld", behind, iters, CHURN_WAIT_MS,
		__atomic_load_n(&c->st[behind].iters, __ATOMIC_ACQUIRE) - base[behind]);
}

void h_churn_stop_(const char *file, int line, struct h_churn *c)
{
	long long deadline = h_now_ms() + CHURN_WAIT_MS;
	int i;

	__atomic_store_n(c->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < c->nworkers; i++) {
		while (!__atomic_load_n(&c->st[i].done, __ATOMIC_ACQUIRE) && h_now_ms() < deadline)
			h_nap_ms(5);
		if (!__atomic_load_n(&c->st[i].done, __ATOMIC_ACQUIRE))
			h_fail_(file, line, "churn worker %d: did not stop within %d ms", i,
				CHURN_WAIT_MS);
		churn_check(file, line, c, i);
	}
}

static void churn_end(struct h_churn *c, bool force)
{
	int i;

	for (i = 0; force && i < c->nworkers; i++)
		kill(c->pids[i], SIGKILL);
	if (c->stop)
		__atomic_store_n(c->stop, 1, __ATOMIC_RELEASE);
	if (c->quit_fd >= 0)
		close(c->quit_fd);
	c->quit_fd = -1;
	for (i = 0; i < c->nworkers; i++)
		h_child_wait(c->pids[i]);
	c->nworkers = 0;
	if (c->stop)
		munmap(c->stop, CHURN_SHM_LEN);
	c->stop = NULL;
	c->st = NULL;
	active_churn = NULL;
}

void h_churn_quit(struct h_churn *c)
{
	churn_end(c, false);
}

int h_churn_open(const struct h_churn *c, int k, enum h_dir dir)
{
	int i, n = 0;

	for (i = 0; i < c->nworkers; i++)
		n += dir == H_IN ? c->st[i].open_in[k] : c->st[i].open_out[k];
	return n;
}

long h_churn_opened(const struct h_churn *c, int k)
{
	long n = 0;
	int i;

	for (i = 0; i < c->nworkers; i++)
		n += __atomic_load_n(&c->st[i].opened[k], __ATOMIC_ACQUIRE);
	return n;
}

/* ---- watcher ---- */

/* One show --json: returns the rows seen, or -1 with why. */
static int watch_once(struct h_rows *rows, char *why, size_t len)
{
	const struct h_row *r;
	int i;

	if (show_rows(rows, why, len))
		return -1;
	for (i = 0; i < rows->n; i++) {
		r = &rows->row[i];
		if (r->current <= r->peak && r->peak < ABSURD_COUNT && r->total < ABSURD_COUNT)
			continue;
		snprintf(why, len, "port %llu %s: current %llu, peak %llu, total %llu", r->port,
			 r->dir, r->current, r->peak, r->total);
		return -1;
	}
	return rows->n;
}

static void *watch_main(void *arg)
{
	struct h_rows *rows = malloc(sizeof(*rows));
	struct h_watch *w = arg;
	char why[sizeof(w->fail)];
	int n;

	while (rows && !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		n = watch_once(rows, why, sizeof(why));
		w->polls++;
		if (n < 0) {
			snprintf(w->fail, sizeof(w->fail), "%s", why);
			break;
		}
		w->rows += n;
	}
	free(rows);
	return NULL;
}

void h_watch_start(struct h_watch *w)
{
	memset(w, 0, sizeof(*w));
	if (pthread_create(&w->thread, NULL, watch_main, w)) {
		snprintf(w->fail, sizeof(w->fail), "watcher: thread not started");
		return;
	}
	w->running = 1;
	active_watch = w;
}

static void watch_join(struct h_watch *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	if (w->running)
		pthread_join(w->thread, NULL);
	w->running = 0;
	active_watch = NULL;
}

void h_watch_stop_(const char *file, int line, struct h_watch *w)
{
	watch_join(w);
	if (w->fail[0])
		h_fail_(file, line, "watcher, after %ld polls of show --json: %s", w->polls,
			w->fail);
	if (w->polls == 0)
		h_fail_(file, line, "watcher: never ran show --json");
}
