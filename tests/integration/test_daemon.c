// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * connpeak daemon: its alert lines, the kernel's rate limit on them, its
 * config file and signals, and the history it saves. The daemon runs as a
 * child with stderr in a file the test reads. Alert lines are checked
 * against a model of the level rules written here from the documented
 * behaviour, the rate limit against the kernel's sent and suppressed
 * counters, and the saved history against the test's own record of what
 * it opened and closed in which bucket of CLOCK_BOOTTIME.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include "connpeak.h"
#include "harness.h"

#define PORT_LEVELS	18101
#define PORT_FLOOD	18102
#define PORT_KILL	18103
#define PORT_SMTP	25	/* "smtp (25)" in the lines, from /etc/services */
#define PORT_TERM	18105
#define PORT_HIST	18106
#define PORT_CONF	18107
#define PORT_SELF	18108
#define PORT_RING	18109
#define PORT_SUPP	18110
#define PORT_LAP	18111

#define STR(x)		#x
#define XSTR(x)		STR(x)

#define NS		1000000000ULL
#define LOG_WAIT_MS	(10000 * h_slow())
#define EXIT_WAIT_MS	(10000 * h_slow())
#define SAVE_WAIT_MS	(5000 * h_slow())
/* Opens that raise the peak come at most this often: under 10 a second. */
#define PACE_MS		120
/* A bucket's changes are made this long after it begins. */
#define BUCKET_LEAD_MS	100

#define FLOOD_HOLDERS	4
#define FLOOD_EACH	2500
#define FLOOD_TOTAL	(FLOOD_HOLDERS * FLOOD_EACH)
#define FLOOD_LIMIT	5000
#define FLOOD_WARN_PCT	80
#define FLOOD_LABEL	"port " XSTR(PORT_FLOOD)

#define MODEL_MAX	128
#define LINE_MAX_LEN	160
#define PAIRS_MAX	64
#define BOOK_MAX	32
#define SAVED_MAX	256
#define POINTS_MAX	256

enum level { L_OK, L_WARN, L_LIMIT };

static char work_dir[64];
static char state_dir[96];
static char conf_path[96];
static char listen_addr[32];
static int nr_logs;

/* ---- fixtures ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f))
		H_FAIL("%s: write failed: %s", path, strerror(errno));
}

static int d_setup(void **state)
{
	snprintf(work_dir, sizeof(work_dir), "/tmp/connpeak-itest-daemon-XXXXXX");
	if (!mkdtemp(work_dir)) {
		print_error("mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(state_dir, sizeof(state_dir), "%s/state", work_dir);
	snprintf(conf_path, sizeof(conf_path), "%s/connpeak.conf", work_dir);
	/* Nothing serves it yet; once metrics land, a port of this binary's own. */
	snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", 20000 + getpid() % 10000);
	/* Each daemon reads this file (empty unless a test writes it), never /etc's. */
	write_file(conf_path, "");
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static int d_teardown(void **state)
{
	h_teardown(state);
	if (work_dir[0])
		nftw(work_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	work_dir[0] = '\0';
	return 0;
}

#define D_TEST(fn) cmocka_unit_test_setup_teardown(fn, d_setup, d_teardown)

static __u64 boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u64)ts.tv_sec * NS + ts.tv_nsec;
}

/* Sleep until BUCKET_LEAD_MS into the next one-second bucket; return it. */
static __u64 next_bucket(void)
{
	__u64 now = boot_ns(), b = now / NS + 1;

	h_nap_ms((long)((b * NS - now) / 1000000) + BUCKET_LEAD_MS);
	return b;
}

/* connpeak start with one-second buckets kept 30 s, history for port. */
static void start_tracker(unsigned int port)
{
	char arg[16];
	struct h_out o;

	snprintf(arg, sizeof(arg), "%u", port);
	h_cp(&o, "start", "--bucket", "1", "--keep", "30s", arg, NULL);
	H_EQ(0, o.status, "start --bucket 1 --keep 30s %u: exit status (stderr: %s)", port, o.err);
	h_out_free(&o);
}

/* ---- the daemon as a child, its stderr in a file ---- */

struct dmn {
	pid_t pid;
	int log_fd;
	bool reaped;
};

static char *log_text(const struct dmn *d)
{
	struct stat st;
	char *buf;
	ssize_t n;

	if (fstat(d->log_fd, &st))
		H_FAIL("daemon log: fstat failed: %s", strerror(errno));
	buf = malloc(st.st_size + 1);
	if (!buf)
		H_FAIL("daemon log: out of memory");
	n = pread(d->log_fd, buf, st.st_size, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int count_of(const char *text, const char *needle)
{
	int n = 0;

	while ((text = strstr(text, needle))) {
		n++;
		text += strlen(needle);
	}
	return n;
}

static bool exited(const struct dmn *d)
{
	siginfo_t si = {};

	if (d->reaped)
		return true;
	return waitid(P_PID, d->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == d->pid;
}

/* The end of the log, for failure messages. */
static const char *log_tail(const char *text)
{
	size_t len = strlen(text);

	return len > 1500 ? text + len - 1500 : text;
}

#define log_wait(d, needle, n) log_wait_(H_HERE, d, needle, n)
static void log_wait_(const char *file, int line, const struct dmn *d, const char *needle, int n)
{
	long long deadline = h_now_ms() + LOG_WAIT_MS;
	bool gone = false;
	char *text;
	int got;

	for (;;) {
		text = log_text(d);
		got = count_of(text, needle);
		if (got >= n || gone || h_now_ms() > deadline)
			break;
		free(text);
		gone = exited(d);	/* one more look at the log after it exits */
		h_nap_ms(10);
	}
	if (got < n)
		h_fail_(file, line, "daemon stderr: expected %d lines with '%s' within %d ms, "
			"actual %d%s; log ends: %s", n, needle, LOG_WAIT_MS, got,
			gone ? " (the daemon exited)" : "", log_tail(text));
	free(text);
}

static void daemon_spawn(struct dmn *d, char *const extra[])
{
	char *args[24], path[128];
	int n = 0;

	args[n++] = "--config";
	args[n++] = conf_path;
	args[n++] = "--state-dir";
	args[n++] = state_dir;
	args[n++] = "--listen";
	args[n++] = listen_addr;
	while (extra && *extra && n < 23)
		args[n++] = *extra++;
	args[n] = NULL;
	snprintf(path, sizeof(path), "%s/daemon-%d.log", work_dir, ++nr_logs);
	d->log_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (d->log_fd < 0)
		H_FAIL("%s: open failed: %s", path, strerror(errno));
	h_fd_track(d->log_fd);
	d->reaped = false;
	d->pid = h_cp_spawn(-1, d->log_fd, h_pin_dir, "daemon", args);
}

/* Start the daemon and wait until it watches (its signals are set up by then). */
#define daemon_start(d, ...) \
	daemon_start_(H_HERE, d, (char *const[]){ __VA_ARGS__, NULL })
static void daemon_start_(const char *file, int line, struct dmn *d, char *const extra[])
{
	daemon_spawn(d, extra);
	log_wait_(file, line, d, "<6>watching ", 1);
}

/* Wait for the daemon to exit by itself; its exit status (128 + signal if killed). */
#define daemon_exit(d) daemon_exit_(H_HERE, d)
static int daemon_exit_(const char *file, int line, struct dmn *d)
{
	long long deadline = h_now_ms() + EXIT_WAIT_MS;
	char *text;

	while (!exited(d) && h_now_ms() < deadline)
		h_nap_ms(10);
	if (!exited(d)) {
		text = log_text(d);
		h_fail_(file, line, "daemon pid %d: still running after %d ms; log ends: %s",
			(int)d->pid, EXIT_WAIT_MS, log_tail(text));
	}
	d->reaped = true;
	return h_child_wait(d->pid);
}

#define daemon_signal(d, sig) daemon_signal_(H_HERE, d, sig)
static int daemon_signal_(const char *file, int line, struct dmn *d, int sig)
{
	if (kill(d->pid, sig))
		h_fail_(file, line, "kill %d: %s", (int)d->pid, strerror(errno));
	return daemon_exit_(file, line, d);
}

/* ---- the kernel's alert entry of a port, read through the pins ---- */

static int pin_get(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", h_pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		H_FAIL("bpf_obj_get %s: %s", path, strerror(errno));
	return fd;
}

static void read_alert(unsigned int port, struct connpeak_alert *a)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 0;
	__u16 *index;
	int fd, idx;

	fd = pin_get("alert_index");
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		H_FAIL("alert_index: bpf_obj_get_info_by_fd: %s", strerror(errno));
	H_EQ(CONNPEAK_NR_PORTS * sizeof(__u16), info.value_size, "alert_index: value size");
	index = malloc(info.value_size);
	if (!index || bpf_map_lookup_elem(fd, &key, index))
		H_FAIL("alert_index: lookup failed: %s", strerror(errno));
	close(fd);
	idx = index[port];
	free(index);
	if (!idx)
		H_FAIL("port %u: no alert entry (alert_index is 0)", port);
	fd = pin_get("alerts");
	len = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		H_FAIL("alerts: bpf_obj_get_info_by_fd: %s", strerror(errno));
	H_EQ(sizeof(*a), info.value_size, "alerts: value size");
	key = idx - 1;
	if (bpf_map_lookup_elem(fd, &key, a))
		H_FAIL("alerts[%u]: lookup failed: %s", key, strerror(errno));
	close(fd);
}

/* ---- what the lines should be: the documented rules, worked out here ---- */

struct model {
	char label[32];
	unsigned int limit, warn, hyst;
	enum level level;
	unsigned int peak;
	int n;
	char line[MODEL_MAX][LINE_MAX_LEN];
};

static void model_limit(struct model *m, unsigned int limit, unsigned int pct)
{
	m->limit = limit;
	m->warn = (limit * pct + 99) / 100;
	if (!m->warn)
		m->warn = 1;
	m->hyst = limit / 20 ? limit / 20 : 1;
}

static void model_init(struct model *m, unsigned int port, unsigned int limit, unsigned int pct)
{
	memset(m, 0, sizeof(*m));
	if (port == PORT_SMTP)
		snprintf(m->label, sizeof(m->label), "smtp (25)");
	else
		snprintf(m->label, sizeof(m->label), "port %u", port);
	model_limit(m, limit, pct);
}

static void model_add(struct model *m, int prio, unsigned int count, const char *what,
		      const char *tail)
{
	char line[LINE_MAX_LEN];

	if (m->n == MODEL_MAX)
		H_FAIL("model: more than %d lines", MODEL_MAX);
	snprintf(line, sizeof(line), "<%d>%s inbound: %s%u open, %u%% of limit %u%s", prio,
		 m->label, what, count, count * 100 / m->limit, m->limit, tail);
	memcpy(m->line[m->n++], line, sizeof(line));
}

/* The count moved to count; returns true if that set a new peak. */
static bool model_step(struct model *m, unsigned int count)
{
	enum level next = m->level;

	if (count >= m->limit)
		next = L_LIMIT;
	else if (m->level == L_OK && count >= m->warn)
		next = L_WARN;
	else if (m->level == L_LIMIT && count + m->hyst < m->limit)
		next = count >= m->warn ? L_WARN : L_OK;
	else if (m->level == L_WARN && count + m->hyst < m->warn)
		next = L_OK;
	if (next == L_LIMIT && m->level != L_LIMIT)
		model_add(m, 3, count, "", ": limit reached");
	else if (next == L_WARN && m->level == L_OK)
		model_add(m, 4, count, "", "");
	else if (next == L_WARN && m->level == L_LIMIT)
		model_add(m, 4, count, "", ": back below the limit");
	else if (next == L_OK && m->level != L_OK)
		model_add(m, 5, count, "", ": back below the warning level");
	m->level = next;
	if (count <= m->peak)
		return false;
	m->peak = count;
	model_add(m, 6, count, "new peak of ", "");
	return true;
}

/* The log's lines about the model's port, in order. */
static int alert_lines(const char *text, const char *label, char (*out)[LINE_MAX_LEN], int max)
{
	char needle[64];
	const char *p, *nl;
	int n = 0;

	snprintf(needle, sizeof(needle), "%s inbound: ", label);
	for (p = text; *p; p = nl + 1) {
		nl = strchrnul(p, '\n');
		if (p[0] == '<' && p[1] >= '0' && p[1] <= '7' && p[2] == '>' &&
		    !strncmp(p + 3, needle, strlen(needle))) {
			if (n == max)
				H_FAIL("more than %d lines about %s; log ends: %s", max, label,
				       log_tail(text));
			snprintf(out[n++], LINE_MAX_LEN, "%.*s", (int)(nl - p), p);
		}
		if (!*nl)
			break;
	}
	return n;
}

static void expect_lines(const struct dmn *d, const struct model *m)
{
	static char got[MODEL_MAX + 16][LINE_MAX_LEN];
	char *text = log_text(d);
	int n, i;

	n = alert_lines(text, m->label, got, MODEL_MAX + 16);
	for (i = 0; i < n && i < m->n; i++) {
		if (strcmp(got[i], m->line[i]))
			H_FAIL("alert line %d of %d:\n expected '%s'\n actual   '%s'\nlog ends: %s",
			       i + 1, m->n, m->line[i], got[i], log_tail(text));
	}
	if (n != m->n)
		H_FAIL("alert lines about %s: expected %d, actual %d; first missing or extra: "
		       "'%s'", m->label, m->n, n, n > m->n ? got[m->n] : m->line[n]);
	free(text);
}

/* ---- connections the test holds on one port, and its record of them ---- */

struct pairs {
	unsigned int port;
	int lfd, n;
	int c[PAIRS_MAX], a[PAIRS_MAX];
};

struct book_rec {
	__u64 bucket;
	unsigned int start, peak;
};

/* The count per bucket, as the kernel should record it: start and peak of each changed one. */
struct book {
	unsigned int count, max;
	int n;
	struct book_rec rec[BOOK_MAX];
};

static void pairs_init(struct pairs *p, unsigned int port)
{
	memset(p, 0, sizeof(*p));
	p->port = port;
	p->lfd = h_listen("127.0.0.1", port, 128);
}

static void book_change(struct book *k, __u64 before, __u64 after, unsigned int count)
{
	struct book_rec *r = k->n ? &k->rec[k->n - 1] : NULL;

	if (before != after)
		H_FAIL("a change fell across a bucket boundary (%llu to %llu): the test cannot "
		       "tell its bucket", (unsigned long long)before, (unsigned long long)after);
	if (!r || r->bucket != after) {
		if (k->n == BOOK_MAX)
			H_FAIL("book: more than %d buckets", BOOK_MAX);
		r = &k->rec[k->n++];
		r->bucket = after;
		r->start = k->count;
		r->peak = k->count;
	}
	if (count > r->peak)
		r->peak = count;
	if (count > k->max)
		k->max = count;
	k->count = count;
}

static void pair_open(struct pairs *p, struct book *k)
{
	__u64 before = boot_ns() / NS;

	if (p->n == PAIRS_MAX)
		H_FAIL("more than %d pairs", PAIRS_MAX);
	p->c[p->n] = h_connect("127.0.0.1", p->port);
	p->a[p->n] = h_accept(p->lfd);
	p->n++;
	if (k)
		book_change(k, before, boot_ns() / NS, p->n);
}

/* The accepted end first: the inbound count drops in that close. */
static void pair_close(struct pairs *p, struct book *k)
{
	__u64 before = boot_ns() / NS;

	p->n--;
	h_close(p->a[p->n]);
	if (k)
		book_change(k, before, boot_ns() / NS, p->n);
	h_close(p->c[p->n]);
}

/* Open or close pairs until the test holds count, feeding the model; paced at new peaks. */
static void drive(struct pairs *p, struct model *m, unsigned int count)
{
	while ((unsigned int)p->n != count) {
		if ((unsigned int)p->n < count)
			pair_open(p, NULL);
		else
			pair_close(p, NULL);
		if (model_step(m, p->n))
			h_nap_ms(PACE_MS);
	}
}

/*
 * The kernel's counters agree with the model (its events are sent within
 * the opens and closes), then the log catches up with the model's lines.
 */
static void settle(const struct dmn *d, const struct model *m, unsigned int port)
{
	struct connpeak_alert a;
	char needle[64];

	read_alert(port, &a);
	H_EQ(0, a.suppressed, "port %u: alert events suppressed (the test paces its opens)", port);
	H_EQ(m->n, a.sent, "port %u: alert events sent vs the model's lines", port);
	H_EQ(m->limit, a.limit, "port %u: limit in the kernel", port);
	H_EQ(m->warn, a.warn, "port %u: warning level in the kernel", port);
	H_EQ(m->hyst, a.hyst, "port %u: hysteresis in the kernel", port);
	H_EQ(m->level, a.level, "port %u: level in the kernel", port);
	snprintf(needle, sizeof(needle), "%s inbound: ", m->label);
	log_wait(d, needle, m->n);
}

/* ---- saved history, read without connpeak's code ---- */

struct saved {
	char boot[40];
	unsigned long long run, bucket, bucket_s;
	long long wall;
	unsigned int peak, start;
};

/* Every line must be whole and well-formed. */
static int saved_read(unsigned int port, struct saved *out, int max)
{
	char path[160], line[256], tail;
	int n = 0, lineno = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/history-%u.log", state_dir, port);
	f = fopen(path, "re");
	if (!f && errno == ENOENT)
		return 0;
	if (!f)
		H_FAIL("%s: open failed: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (n == max)
			H_FAIL("%s: more than %d lines", path, max);
		tail = '\0';
		if (sscanf(line, "1 %39s %llu %llu %llu %lld %u %u%c", out[n].boot, &out[n].run,
			   &out[n].bucket, &out[n].bucket_s, &out[n].wall, &out[n].peak,
			   &out[n].start, &tail) != 8 || tail != '\n')
			H_FAIL("%s:%d: not a whole history line: '%s'", path, lineno, line);
		n++;
	}
	fclose(f);
	return n;
}

/* One run, buckets strictly rising (none twice), each of one second. */
static void saved_check_run(const struct saved *s, int n, unsigned int port)
{
	int i;

	for (i = 0; i < n; i++) {
		H_EQ(1, s[i].bucket_s, "port %u, saved line %d: bucket length", port, i + 1);
		if (strcmp(s[i].boot, s[0].boot) || s[i].run != s[0].run)
			H_FAIL("port %u, saved line %d: run %s %llu, line 1: run %s %llu", port,
			       i + 1, s[i].boot, s[i].run, s[0].boot, s[0].run);
		if (i && s[i].bucket <= s[i - 1].bucket)
			H_FAIL("port %u, saved line %d: bucket %llu after bucket %llu (written "
			       "twice or out of order)", port, i + 1, s[i].bucket,
			       s[i - 1].bucket);
	}
}

/* The saved buckets are exactly the booked ones, with their start and peak. */
static void saved_expect_book(const struct saved *s, int n, const struct book *k, int upto,
			      unsigned int port)
{
	int i;

	for (i = 0; i < upto && i < n; i++) {
		H_EQ(k->rec[i].bucket, s[i].bucket, "port %u, saved line %d: bucket", port, i + 1);
		H_EQ(k->rec[i].start, s[i].start, "port %u, bucket %llu: start", port,
		     s[i].bucket);
		H_EQ(k->rec[i].peak, s[i].peak, "port %u, bucket %llu: peak", port, s[i].bucket);
	}
	H_EQ(upto, n, "port %u: buckets saved (the test changed the count in %d buckets)", port,
	     upto);
}

/* Wait until the file holds a line for bucket b (the daemon saves as buckets complete). */
static void saved_wait_bucket(unsigned int port, __u64 b)
{
	long long deadline = h_now_ms() + SAVE_WAIT_MS;
	static struct saved s[SAVED_MAX];
	int n;

	do {
		n = saved_read(port, s, SAVED_MAX);
		if (n && s[n - 1].bucket >= b)
			return;
		h_nap_ms(20);
	} while (h_now_ms() < deadline);
	H_FAIL("port %u: bucket %llu not saved within %d ms (%d lines, last bucket %llu)", port,
	       (unsigned long long)b, SAVE_WAIT_MS, n, n ? s[n - 1].bucket : 0ULL);
}

/* ---- tests ---- */

/*
 * (a) One line per crossing, up and back down, in order, and one per new
 * peak: open to 12, close to 0, open to 6 on a limit of 10 warned at 50%.
 */
static void test_levels_and_peaks(void **state)
{
	static struct model m;
	struct pairs p;
	struct dmn d;

	h_require();
	start_tracker(PORT_LEVELS);
	daemon_start(&d, "--limit", XSTR(PORT_LEVELS) "=10", "--warn", "50%");
	pairs_init(&p, PORT_LEVELS);
	model_init(&m, PORT_LEVELS, 10, 50);

	drive(&p, &m, 12);
	drive(&p, &m, 0);
	drive(&p, &m, 6);
	settle(&d, &m, PORT_LEVELS);
	h_expect(PORT_LEVELS, H_IN, 6, 12, 18);
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
	expect_lines(&d, &m);
}

struct flood_lines {
	int level, peak, suppressed_lines, other;
	unsigned long long suppressed;	/* summed over the suppressed lines */
	unsigned int warn_at, limit_at;	/* counts in the two level lines */
	bool saw_last_peak;
};

/* Sort the lines about label by kind; the text after "<N>label" is parsed. */
static void flood_count_label(const char *text, const char *label, struct flood_lines *f,
			      unsigned int last_peak)
{
	static char lines[4096][LINE_MAX_LEN];
	unsigned int count, pct, limit;
	size_t skip = 3 + strlen(label);
	unsigned long long n;
	int nl, i, end;
	char tail[64];
	const char *l;

	memset(f, 0, sizeof(*f));
	nl = alert_lines(text, label, lines, 4096);
	for (i = 0; i < nl; i++) {
		l = lines[i] + skip;
		tail[0] = '\0';
		end = 0;
		if (lines[i][1] == '4' && sscanf(l, " inbound: %llu alert events suppressed "
			   "(over 10 a second%63[)]", &n, tail) == 2 && !strcmp(tail, ")")) {
			f->suppressed_lines++;
			f->suppressed += n;
		} else if (lines[i][1] == '6' && sscanf(l, " inbound: new peak of %u open, "
				  "%u%% of limit %u", &count, &pct, &limit) == 3) {
			f->peak++;
			f->saw_last_peak |= count == last_peak;
		} else if (lines[i][1] == '4' && sscanf(l, " inbound: %u open, %u%% of "
				  "limit %u%n", &count, &pct, &limit, &end) == 3 && !l[end]) {
			f->level++;
			f->warn_at = count;
		} else if (lines[i][1] == '3' && sscanf(l, " inbound: %u open, %u%% of "
				  "limit %u", &count, &pct, &limit) == 3 &&
			   strstr(l, ": limit reached")) {
			f->level++;
			f->limit_at = count;
		} else {
			f->other++;
			print_error("unexpected line: %s\n", lines[i]);
		}
	}
}

static void flood_count(const char *text, struct flood_lines *f, unsigned int last_peak)
{
	flood_count_label(text, FLOOD_LABEL, f, last_peak);
}

/* Wait until the log has a line for each event sent. */
static void flood_wait(const struct dmn *d, struct flood_lines *f, __u64 sent,
		       unsigned int last_peak)
{
	long long deadline = h_now_ms() + LOG_WAIT_MS;
	char *text;

	for (;;) {
		text = log_text(d);
		flood_count(text, f, last_peak);
		if ((__u64)f->level + f->peak >= sent || h_now_ms() > deadline)
			break;
		free(text);
		h_nap_ms(20);
	}
	if ((__u64)f->level + f->peak < sent)
		H_FAIL("flood: expected a line per event sent (%llu) within %d ms, actual %d; "
		       "log ends: %s", (unsigned long long)sent, LOG_WAIT_MS, f->level + f->peak,
		       log_tail(text));
	free(text);
}

/*
 * (b) 10,000 connections at once on a limited port: the kernel sends at
 * most 10 new peaks a second, and every event is either a line or counted
 * as suppressed.
 */
static void test_flood_rate_limit(void **state)
{
	static const char *const addrs[FLOOD_HOLDERS] = {
		"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4",
	};
	struct h_holder hs[FLOOD_HOLDERS];
	unsigned long long seconds;
	struct connpeak_alert a;
	struct flood_lines f;
	char limit_arg[32];
	__u64 t0, t1;
	struct dmn d;
	int i;

	h_require();
	start_tracker(PORT_FLOOD);
	snprintf(limit_arg, sizeof(limit_arg), "%d=%d", PORT_FLOOD, FLOOD_LIMIT);
	daemon_start(&d, "--limit", limit_arg, "--warn", XSTR(FLOOD_WARN_PCT));
	for (i = 0; i < FLOOD_HOLDERS; i++)
		h_holder_start(&hs[i], addrs[i], PORT_FLOOD);

	t0 = boot_ns();
	h_holders_open(hs, FLOOD_HOLDERS, FLOOD_EACH);
	t1 = boot_ns();
	seconds = t1 / NS - t0 / NS + 1;	/* rate windows the flood touched */
	print_message("flood: %d connections in %.2f s\n", FLOOD_TOTAL, (t1 - t0) / 1e9);
	h_expect(PORT_FLOOD, H_IN, FLOOD_TOTAL, FLOOD_TOTAL, FLOOD_TOTAL);

	/* Every event sent reaches the log. */
	read_alert(PORT_FLOOD, &a);
	flood_wait(&d, &f, a.sent, 0);
	H_EQ(0, f.other, "flood: lines of an unexpected form");
	H_EQ(2, f.level, "flood: level lines (OK to WARN, WARN to LIMIT)");
	if (f.warn_at < FLOOD_LIMIT * FLOOD_WARN_PCT / 100 || f.warn_at >= FLOOD_LIMIT)
		H_FAIL("flood: warning line at %u open, expected in [%d, %d)", f.warn_at,
		       FLOOD_LIMIT * FLOOD_WARN_PCT / 100, FLOOD_LIMIT);
	if (f.limit_at < FLOOD_LIMIT)
		H_FAIL("flood: limit line at %u open, expected at least %d", f.limit_at,
		       FLOOD_LIMIT);
	H_LE(CONNPEAK_EVENTS_PER_SEC * seconds, f.peak,
	     "flood: new peak lines over %llu one-second windows", seconds);
	H_EQ(a.sent, f.level + f.peak, "flood: lines vs events sent");
	H_EQ(FLOOD_TOTAL + 2, a.sent + a.suppressed,
	     "flood: events sent (%llu) + suppressed (%llu) vs new peaks + level changes",
	     (unsigned long long)a.sent, (unsigned long long)a.suppressed);
	H_EQ(CONNPEAK_LEVEL_LIMIT, a.level, "flood: level in the kernel");
	print_message("flood: %d new peak lines in %llu one-second windows, %llu events "
		      "suppressed\n", f.peak, seconds, (unsigned long long)a.suppressed);

	/* In a new second, one more open: its line brings the rest of the suppressed count. */
	while (boot_ns() / NS <= t1 / NS)
		h_nap_ms(20);
	h_holders_open(hs, 1, 1);
	read_alert(PORT_FLOOD, &a);
	flood_wait(&d, &f, a.sent, FLOOD_TOTAL + 1);
	H_EQ(1, f.saw_last_peak, "flood: line for the peak of %d", FLOOD_TOTAL + 1);
	H_EQ(a.suppressed, f.suppressed, "flood: suppressed events reported in the log vs the "
	     "kernel's counter");
	H_EQ(a.sent, f.level + f.peak, "flood: lines vs events sent, after one more");
	H_EQ(FLOOD_TOTAL + 3, a.sent + a.suppressed, "flood: events sent + suppressed, after one "
	     "more");
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
}

/* Changes in a fresh bucket: opens, then closes. */
static void bucket_changes(struct pairs *p, struct book *k, int opens, int closes)
{
	next_bucket();
	while (opens-- > 0)
		pair_open(p, k);
	while (closes-- > 0)
		pair_close(p, k);
}

static const struct h_row *show_row(struct h_rows *rows, unsigned int port)
{
	const struct h_row *r;

	h_show(rows);
	r = h_rows_find(rows, port, H_IN);
	if (!r)
		H_FAIL("show --json: no row for port %u in: %s", port, rows->text);
	return r;
}

/*
 * (c) SIGKILL, changes while no daemon runs, then a new daemon: it saves
 * the buckets completed meanwhile, none twice, and no peak is lost.
 */
static void test_kill_and_resume(void **state)
{
	static struct saved s[SAVED_MAX];
	static struct h_rows rows;
	struct book k = {};
	struct pairs p;
	struct dmn d;
	int n;

	h_require();
	start_tracker(PORT_KILL);
	pairs_init(&p, PORT_KILL);
	daemon_start(&d, "--limit", XSTR(PORT_KILL) "=100");

	bucket_changes(&p, &k, 3, 0);
	bucket_changes(&p, &k, 2, 1);
	bucket_changes(&p, &k, 0, 2);
	saved_wait_bucket(PORT_KILL, k.rec[1].bucket);
	H_EQ(128 + SIGKILL, daemon_signal(&d, SIGKILL), "daemon: exit status after SIGKILL");
	n = saved_read(PORT_KILL, s, SAVED_MAX);
	saved_check_run(s, n, PORT_KILL);

	/* No daemon: the kernel keeps the buckets. */
	bucket_changes(&p, &k, 5, 0);
	bucket_changes(&p, &k, 0, 3);
	bucket_changes(&p, &k, 1, 0);
	next_bucket();

	daemon_start(&d, "--limit", XSTR(PORT_KILL) "=100");
	n = saved_read(PORT_KILL, s, SAVED_MAX);
	saved_check_run(s, n, PORT_KILL);
	saved_expect_book(s, n, &k, k.n, PORT_KILL);
	H_EQ(k.max, show_row(&rows, PORT_KILL)->peak, "show --json: peak of port %d vs the "
	     "most the test held", PORT_KILL);

	/* The new daemon goes on saving after what it found. */
	bucket_changes(&p, &k, 1, 0);
	next_bucket();
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
	n = saved_read(PORT_KILL, s, SAVED_MAX);
	saved_check_run(s, n, PORT_KILL);
	saved_expect_book(s, n, &k, k.n, PORT_KILL);
}

/* (d) A bad line in the config file: exit 2 at once, naming FILE:LINE, nothing started. */
static void test_bad_config(void **state)
{
	char text[256], want[256], *log;
	struct dmn d;

	h_require();
	snprintf(text, sizeof(text), "# connpeak\nlimit.%d = 10\nwarn = 50\nlimit.%d 10\n",
		 PORT_CONF, PORT_CONF);
	write_file(conf_path, text);
	daemon_spawn(&d, NULL);
	H_EQ(2, daemon_exit(&d), "daemon with a bad config file: exit status");
	log = log_text(&d);
	snprintf(want, sizeof(want), "connpeak: %s:4: bad line 'limit.%d 10': expected "
		 "'key = value'\n", conf_path, PORT_CONF);
	if (strcmp(log, want))
		H_FAIL("daemon with a bad config file:\n expected stderr '%s'\n actual stderr   "
		       "'%s'", want, log);
	free(log);
	H_EQ(-1, access(h_pin_dir, F_OK), "pin dir %s after a refused start", h_pin_dir);
	H_EQ(-1, access(state_dir, F_OK), "state dir %s after a refused start", state_dir);

	/* A --config that does not exist is refused too. */
	unlink(conf_path);
	daemon_spawn(&d, NULL);
	H_EQ(2, daemon_exit(&d), "daemon with a missing config file: exit status");
	log = log_text(&d);
	if (!strstr(log, conf_path))
		H_FAIL("daemon with a missing config file: expected stderr naming %s, actual '%s'",
		       conf_path, log);
	free(log);

	/* So is a bad --limit, before the file is read. */
	write_file(conf_path, "");
	daemon_spawn(&d, (char *const[]){ "--limit", XSTR(PORT_CONF) "=0", NULL });
	H_EQ(2, daemon_exit(&d), "daemon --limit 18107=0: exit status");
	H_EQ(-1, access(h_pin_dir, F_OK), "pin dir %s after a refused start", h_pin_dir);
}

/* Rewrite the config file, send SIGHUP and wait for the daemon's answer. */
static void reload(struct dmn *d, const char *text, const char *answer, int nth)
{
	char needle[160];

	write_file(conf_path, text);
	if (kill(d->pid, SIGHUP))
		H_FAIL("kill %d: %s", (int)d->pid, strerror(errno));
	snprintf(needle, sizeof(needle), "%s: %s", conf_path, answer);
	log_wait(d, needle, nth);
}

/*
 * (e) SIGHUP: a bad file keeps the limits in force (a crossing still
 * alerts at the old limit), a good one applies the new limits. The port is
 * smtp, named in the file and in the lines by its service name.
 */
static void test_reload(void **state)
{
	static struct model m;
	struct connpeak_alert a;
	struct pairs p;
	struct dmn d;
	char want[256], *log;

	h_require();
	start_tracker(PORT_SMTP);
	write_file(conf_path, "# smtp\nlimit.smtp = 10\nwarn = 50\n");
	daemon_start_(H_HERE, &d, NULL);
	log_wait(&d, "<6>watching 1 limits", 1);
	pairs_init(&p, PORT_SMTP);
	model_init(&m, PORT_SMTP, 10, 50);
	drive(&p, &m, 4);

	reload(&d, "limit.smtp = 4\nwarn = 50\nlimit.smtp four\n",
	       "reload refused: keeping the limits in force", 1);
	log = log_text(&d);
	snprintf(want, sizeof(want), "connpeak: %s:3: bad line 'limit.smtp four': ", conf_path);
	if (!strstr(log, want))
		H_FAIL("refused reload: expected a line starting '%s', log: %s", want,
		       log_tail(log));
	free(log);
	drive(&p, &m, 10);
	drive(&p, &m, 0);
	settle(&d, &m, PORT_SMTP);

	reload(&d, "limit.smtp = 20\nwarn = 50\n", "reloaded, 1 limits", 1);
	read_alert(PORT_SMTP, &a);
	H_EQ(20, a.limit, "limit in the kernel after a good reload");
	H_EQ(10, a.warn, "warning level in the kernel after a good reload");
	model_limit(&m, 20, 50);
	drive(&p, &m, 20);
	settle(&d, &m, PORT_SMTP);
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
	expect_lines(&d, &m);
}

/*
 * (f) SIGTERM and SIGINT: exit 0 after saving the completed buckets; the
 * tracker stays pinned and goes on counting.
 */
static void test_term_keeps_tracker(void **state)
{
	static struct saved s[SAVED_MAX];
	struct book k = {};
	struct pairs p;
	struct dmn d;
	int n;

	h_require();
	start_tracker(PORT_TERM);
	pairs_init(&p, PORT_TERM);
	daemon_start(&d, "--limit", XSTR(PORT_TERM) "=100");
	bucket_changes(&p, &k, 2, 0);
	next_bucket();
	/* Nothing changed since: only the save at exit writes that bucket. */
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
	n = saved_read(PORT_TERM, s, SAVED_MAX);
	saved_check_run(s, n, PORT_TERM);
	saved_expect_book(s, n, &k, k.n, PORT_TERM);

	if (!h_pinned())
		H_FAIL("tracker under %s: not pinned after the daemon exited", h_pin_dir);
	h_expect(PORT_TERM, H_IN, 2, 2, 2);
	pair_open(&p, NULL);
	h_expect(PORT_TERM, H_IN, 3, 3, 3);

	daemon_start(&d, "--limit", XSTR(PORT_TERM) "=100");
	H_EQ(0, daemon_signal(&d, SIGINT), "daemon: exit status after SIGINT");
	if (!h_pinned())
		H_FAIL("tracker under %s: not pinned after SIGINT", h_pin_dir);
	h_expect(PORT_TERM, H_IN, 3, 3, 3);
}

struct point {
	char start[24];
	unsigned int peak;
};

/* history --json: the points of one port, in order. */
static int history_points(unsigned int port, struct point *pts, int max, char *raw, size_t len)
{
	char arg[16];
	const char *p;
	struct h_out o;
	unsigned int got_port;
	int n = 0;

	snprintf(arg, sizeof(arg), "%u", port);
	h_cp(&o, "history", "--state-dir", state_dir, "--by", "bucket", "--json", arg, NULL);
	H_EQ(0, o.status, "history --state-dir %s --json %u: exit status (stderr: %s)", state_dir,
	     port, o.err);
	snprintf(raw, len, "%s", o.out);
	if (strncmp(o.out, "{\"history\":[", 12))
		H_FAIL("history --json: unexpected output: %s", o.out);
	for (p = o.out + 12; *p == '{' || *p == ','; p = strchr(p, '}') + 1) {
		if (*p == ',')
			p++;
		if (n == max || !strchr(p, '}') ||
		    sscanf(p, "{\"port\":%u,\"service\":null,\"start\":\"%23[^\"]\",\"peak\":%u}",
			   &got_port, pts[n].start, &pts[n].peak) != 3 || got_port != port)
			H_FAIL("history --json: cannot read the point at '%.80s'", p);
		n++;
	}
	h_out_free(&o);
	return n;
}

static void utc(char *buf, size_t len, long long t)
{
	time_t tt = t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * (g) After the daemon and the tracker stopped and a new tracker started,
 * history --state-dir shows the earlier run's saved buckets (a bucket
 * without a change holds the count that stood) before the new ring's.
 */
static void test_history_of_earlier_run(void **state)
{
	static struct saved s[SAVED_MAX];
	static struct point pts[POINTS_MAX];
	static char raw[8192];
	struct point want[16];
	struct book k = {};
	struct pairs p;
	struct dmn d;
	int n, nw = 0, i;
	__u64 b;

	h_require();
	start_tracker(PORT_HIST);
	pairs_init(&p, PORT_HIST);
	daemon_start(&d, "--limit", XSTR(PORT_HIST) "=100");
	bucket_changes(&p, &k, 2, 0);
	next_bucket();				/* a bucket without a change */
	bucket_changes(&p, &k, 3, 0);
	bucket_changes(&p, &k, 0, 4);
	next_bucket();
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
	n = saved_read(PORT_HIST, s, SAVED_MAX);
	saved_check_run(s, n, PORT_HIST);
	saved_expect_book(s, n, &k, k.n, PORT_HIST);
	if (k.rec[1].bucket < k.rec[0].bucket + 2)
		H_FAIL("no quiet bucket between buckets %llu and %llu", k.rec[0].bucket,
		       k.rec[1].bucket);

	/* Expected: every bucket from the first saved to the last, gaps holding the count. */
	for (i = 0; i < n; i++) {
		for (b = i ? s[i - 1].bucket + 1 : s[i].bucket; b < s[i].bucket; b++) {
			if (nw + 2 > (int)(sizeof(want) / sizeof(want[0])))
				H_FAIL("history: more points than the test expects");
			utc(want[nw].start, sizeof(want[nw].start),
			    s[i - 1].wall + (long long)(b - s[i - 1].bucket));
			want[nw++].peak = s[i].start;
		}
		utc(want[nw].start, sizeof(want[nw].start), s[i].wall);
		want[nw++].peak = s[i].peak;
	}

	h_stop();
	while (p.n)
		pair_close(&p, NULL);
	start_tracker(PORT_HIST);
	daemon_start(&d, "--limit", XSTR(PORT_HIST) "=100");
	H_EQ(0, daemon_signal(&d, SIGTERM), "new daemon: exit status after SIGTERM");
	/* The new run changed nothing: the file is as the earlier daemon left it. */
	H_EQ(k.n, saved_read(PORT_HIST, s, SAVED_MAX), "lines saved after the new daemon");
	saved_expect_book(s, k.n, &k, k.n, PORT_HIST);

	n = history_points(PORT_HIST, pts, POINTS_MAX, raw, sizeof(raw));
	if (n <= nw)
		H_FAIL("history: expected the %d saved points of the earlier run and the new "
		       "ring's, actual %d points: %s", nw, n, raw);
	for (i = 0; i < nw; i++) {
		if (strcmp(pts[i].start, want[i].start) || pts[i].peak != want[i].peak)
			H_FAIL("history point %d: expected %s peak %u, actual %s peak %u; "
			       "output: %s", i + 1, want[i].start, want[i].peak, pts[i].start,
			       pts[i].peak, raw);
	}
	for (i = nw; i < n; i++) {
		if (strcmp(pts[i].start, want[nw - 1].start) <= 0)
			H_FAIL("history point %d (%s): not after the earlier run's last (%s); "
			       "output: %s", i + 1, pts[i].start, want[nw - 1].start, raw);
	}
}

/*
 * The current run's saved buckets that have left the kernel's ring (kept
 * 4 s here) come first in history, the quiet buckets after them hold the
 * count that stood, then the ring's: one point a second, none twice.
 */
static void test_history_joins_saved_and_ring(void **state)
{
	static struct saved s[SAVED_MAX];
	static struct point pts[POINTS_MAX];
	static char raw[8192];
	char arg[16], want[24];
	struct book k = {};
	struct h_out o;
	struct pairs p;
	struct dmn d;
	int n, i;

	h_require();
	snprintf(arg, sizeof(arg), "%d", PORT_RING);
	h_cp(&o, "start", "--bucket", "1", "--keep", "4s", arg, NULL);
	H_EQ(0, o.status, "start --bucket 1 --keep 4s %d: exit status (stderr: %s)", PORT_RING,
	     o.err);
	h_out_free(&o);
	pairs_init(&p, PORT_RING);
	daemon_start(&d, "--limit", XSTR(PORT_RING) "=100");
	bucket_changes(&p, &k, 2, 0);
	bucket_changes(&p, &k, 1, 0);
	next_bucket();
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
	n = saved_read(PORT_RING, s, SAVED_MAX);
	saved_check_run(s, n, PORT_RING);
	saved_expect_book(s, n, &k, k.n, PORT_RING);

	/* Until the ring's window (4 buckets) starts two buckets after the last saved one. */
	while (boot_ns() / NS < s[1].bucket + 6)
		h_nap_ms(50);
	n = history_points(PORT_RING, pts, POINTS_MAX, raw, sizeof(raw));
	if (n < 8)
		H_FAIL("history: expected a point a second from bucket %llu on, actual %d points: "
		       "%s", s[0].bucket, n, raw);
	for (i = 0; i < n; i++) {
		utc(want, sizeof(want), s[0].wall + i);
		if (strcmp(pts[i].start, want))
			H_FAIL("history point %d: expected start %s, actual %s; output: %s", i + 1,
			       want, pts[i].start, raw);
		/* 2 open through bucket s[1] (a quiet one between them holds 2), then 3 */
		H_EQ(s[0].bucket + i < s[1].bucket ? 2 : 3, pts[i].peak, "history point %d (%s): "
		     "peak", i + 1, pts[i].start);
	}
}

/*
 * A daemon down for longer than the ring (4 s) saves what the ring still
 * holds, says how many buckets it lost, and writes none twice.
 */
static void test_resume_after_ring_lapped(void **state)
{
	static struct saved s[SAVED_MAX];
	char arg[16], want[160], *log;
	struct book k = {};
	struct h_out o;
	struct pairs p;
	struct dmn d;
	int n, i, lost;

	h_require();
	snprintf(arg, sizeof(arg), "%d", PORT_LAP);
	h_cp(&o, "start", "--bucket", "1", "--keep", "4s", arg, NULL);
	H_EQ(0, o.status, "start --bucket 1 --keep 4s %d: exit status (stderr: %s)", PORT_LAP,
	     o.err);
	h_out_free(&o);
	pairs_init(&p, PORT_LAP);
	daemon_start(&d, "--limit", XSTR(PORT_LAP) "=100");
	bucket_changes(&p, &k, 1, 0);
	bucket_changes(&p, &k, 1, 0);
	saved_wait_bucket(PORT_LAP, k.rec[0].bucket);
	H_EQ(128 + SIGKILL, daemon_signal(&d, SIGKILL), "daemon: exit status after SIGKILL");
	for (i = 0; i < 6; i++)		/* a change in each of six buckets */
		bucket_changes(&p, &k, 1, 0);
	next_bucket();

	daemon_start(&d, "--limit", XSTR(PORT_LAP) "=100");
	n = saved_read(PORT_LAP, s, SAVED_MAX);
	saved_check_run(s, n, PORT_LAP);
	if (n < 2 || n >= k.n)
		H_FAIL("port %d: expected the first bucket and some of the last saved, some lost; "
		       "actual %d of %d buckets saved", PORT_LAP, n, k.n);
	/* The first bucket, then the newest ones, exactly as booked. */
	H_EQ(k.rec[0].bucket, s[0].bucket, "port %d, saved line 1: bucket", PORT_LAP);
	lost = k.n - n;
	for (i = 1; i < n; i++) {
		H_EQ(k.rec[i + lost].bucket, s[i].bucket, "port %d, saved line %d: bucket",
		     PORT_LAP, i + 1);
		H_EQ(k.rec[i + lost].start, s[i].start, "port %d, bucket %llu: start", PORT_LAP,
		     s[i].bucket);
		H_EQ(k.rec[i + lost].peak, s[i].peak, "port %d, bucket %llu: peak", PORT_LAP,
		     s[i].bucket);
	}
	/* Every booked bucket changed the count, so the lost ones are the buckets between. */
	snprintf(want, sizeof(want), "<4>history of port %d: %llu buckets were overwritten in "
		 "the kernel before they could be saved\n", PORT_LAP,
		 s[1].bucket - s[0].bucket - 1);
	log = log_text(&d);
	if (!strstr(log, want))
		H_FAIL("expected the line '%s', log: %s", want, log_tail(log));
	free(log);
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
}

/*
 * Events suppressed before a reload are still reported with the next line
 * of the port: a reload that keeps the limit loses no count.
 */
static void test_reload_keeps_suppressed(void **state)
{
	struct connpeak_alert a;
	struct flood_lines f;
	struct pairs p;
	struct dmn d;
	char *text;
	int i;

	h_require();
	start_tracker(PORT_SUPP);
	write_file(conf_path, "limit." XSTR(PORT_SUPP) " = 1000\n");
	daemon_start_(H_HERE, &d, NULL);
	pairs_init(&p, PORT_SUPP);
	next_bucket();
	for (i = 0; i < 30; i++)	/* 30 new peaks at once: 10 sent, the rest not */
		pair_open(&p, NULL);
	read_alert(PORT_SUPP, &a);
	if (!a.suppressed)
		H_FAIL("30 new peaks at once: none suppressed (sent %llu)",
		       (unsigned long long)a.sent);
	log_wait(&d, "inbound: new peak of ", (int)a.sent);

	reload(&d, "limit." XSTR(PORT_SUPP) " = 1000\n", "reloaded, 1 limits", 1);
	next_bucket();
	pair_open(&p, NULL);
	log_wait(&d, "inbound: new peak of 31 open", 1);
	read_alert(PORT_SUPP, &a);
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
	text = log_text(&d);
	flood_count_label(text, "port " XSTR(PORT_SUPP), &f, 31);
	free(text);
	H_EQ(a.sent, f.peak, "new peak lines vs events sent");
	H_EQ(a.suppressed, f.suppressed, "suppressed events reported in the log (summed) vs the "
	     "kernel's counter, across a reload");
}

/* Without a pinned tracker the daemon starts one, seeds it and leaves it pinned. */
static void test_starts_tracker(void **state)
{
	char want[128];
	struct pairs p;
	struct dmn d;

	h_require();
	pairs_init(&p, PORT_SELF);
	pair_open(&p, NULL);
	pair_open(&p, NULL);
	daemon_start(&d, "--limit", XSTR(PORT_SELF) "=100");
	snprintf(want, sizeof(want), "<5>no tracker was pinned under %s: started one\n",
		 h_pin_dir);
	log_wait(&d, want, 1);
	h_expect(PORT_SELF, H_IN, 2, 2, 2);
	pair_open(&p, NULL);
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
	if (!h_pinned())
		H_FAIL("tracker started by the daemon: not pinned after it exited");
	h_expect(PORT_SELF, H_IN, 3, 3, 3);
}

/*
 * The count in "watching N limits" and "reloaded, N limits" is of limits:
 * a warn.SERVICE line for a port without a limit sets no limit.
 */
static void test_limit_count(void **state)
{
	struct dmn d;
	char *log;

	h_require();
	start_tracker(PORT_CONF);
	write_file(conf_path, "limit." XSTR(PORT_CONF) " = 10\nwarn.https = 60\n");
	daemon_spawn(&d, NULL);
	log_wait(&d, "<6>watching ", 1);
	reload(&d, "limit." XSTR(PORT_CONF) " = 10\nwarn.https = 60\n", "reloaded, ", 1);
	H_EQ(0, daemon_signal(&d, SIGTERM), "daemon: exit status after SIGTERM");
	log = log_text(&d);
	if (!strstr(log, "<6>watching 1 limits,") || !strstr(log, "reloaded, 1 limits\n"))
		H_FAIL("one limit and a warn.https line: expected 'watching 1 limits' and "
		       "'reloaded, 1 limits', actual log: %s", log_tail(log));
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		D_TEST(test_levels_and_peaks),
		D_TEST(test_flood_rate_limit),
		D_TEST(test_kill_and_resume),
		D_TEST(test_bad_config),
		D_TEST(test_reload),
		D_TEST(test_term_keeps_tracker),
		D_TEST(test_history_of_earlier_run),
		D_TEST(test_history_joins_saved_and_ring),
		D_TEST(test_resume_after_ring_lapped),
		D_TEST(test_starts_tracker),
		D_TEST(test_reload_keeps_suppressed),
		D_TEST(test_limit_count),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
