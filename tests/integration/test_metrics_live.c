// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * The daemon's /metrics as a scraper meets it over loopback. Fetched with
 * curl, it must pass promtool check metrics, and each value must equal
 * what the test holds and what show --json says. Then a real Prometheus
 * server from Debian's package scrapes it every second, and its query API
 * must report the open count and follow it when it changes. Prometheus runs
 * as a child of this binary, in its network namespace, under a temporary
 * directory of the test's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "harness.h"

/* None has a name in /etc/services. */
#define PORT_A		17401	/* 5 opened, 2 of them closed again */
#define PORT_B		17402	/* 7 opened, with a limit */
#define PORT_C		17403	/* 2 opened and closed */
#define PORT_HTTP	17410	/* the daemon's /metrics in the curl test */
#define PORT_LIVE	17421	/* the port Prometheus follows */
#define PORT_HTTP2	17422	/* the daemon's /metrics in the Prometheus test */
#define PORT_WEB	17423	/* Prometheus's web server and query API */

#define LIMIT_B		10
#define WARN_B		8	/* the default warning level: 80 % of LIMIT_B */
#define STR(x)		#x
#define XSTR(x)		STR(x)

#define PROMETHEUS	"/usr/bin/prometheus"
#define PROMTOOL	"/usr/bin/promtool"
#define METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define START_WAIT_MS	(10000 * h_slow())
#define EXIT_WAIT_MS	(10000 * h_slow())
#define SCRAPE_WAIT_MS	(30000 * h_slow())
#define HELD_MAX	16
#define PATH_LEN	128

static char work_dir[64];

/* ---- fixtures: a temporary directory per test ---- */

static int live_setup(void **state)
{
	snprintf(work_dir, sizeof(work_dir), "/tmp/connpeak-itest-live-XXXXXX");
	if (!mkdtemp(work_dir)) {
		print_error("mkdtemp: %s\n", strerror(errno));
		work_dir[0] = '\0';
		return -1;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* h_teardown ends the children first, so nothing writes there while it goes. */
static int live_teardown(void **state)
{
	h_teardown(state);
	if (work_dir[0])
		nftw(work_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	work_dir[0] = '\0';
	return 0;
}

#define LIVE_TEST(fn) cmocka_unit_test_setup_teardown(fn, live_setup, live_teardown)

static void work_path(char *buf, const char *name)
{
	snprintf(buf, PATH_LEN, "%s/%s", work_dir, name);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f))
		H_FAIL("%s: write failed: %s", path, strerror(errno));
}

static char *read_file(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f, *mem;
	int c;

	f = fopen(path, "re");
	mem = open_memstream(&buf, &len);
	if (!f || !mem)
		H_FAIL("%s: read failed: %s", path, strerror(errno));
	while ((c = getc(f)) != EOF)
		putc(c, mem);
	fclose(f);
	fclose(mem);
	return buf;
}

/* The end of a log, for failure messages. */
static const char *tail(const char *text)
{
	size_t len = strlen(text);

	return len > 1500 ? text + len - 1500 : text;
}

/* Tools from Debian's prometheus package: missing is a failure, not a skip. */
static void need_tool(const char *path)
{
	if (access(path, X_OK))
		H_FAIL("%s: not usable (%s): run scripts/install-deps.sh test, as make test does, "
		       "to install Debian's prometheus package", path, strerror(errno));
}

/* ---- children: the daemon and Prometheus ---- */

/* Has the child exited? It is left unreaped, for h_child_wait. */
static bool exited(pid_t pid)
{
	siginfo_t si = {};

	return waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

#define log_wait(pid, log, name, needle) log_wait_(H_HERE, pid, log, name, needle)
static void log_wait_(const char *file, int line, pid_t pid, const char *log, const char *name,
		      const char *needle)
{
	long long deadline = h_now_ms() + START_WAIT_MS;
	bool gone = false;
	char *text;

	for (;;) {
		text = read_file(log);
		if (strstr(text, needle)) {
			free(text);
			return;
		}
		if (gone || h_now_ms() > deadline)
			break;
		free(text);
		gone = exited(pid);	/* one more look at the log after it exits */
		h_nap_ms(10);
	}
	h_fail_(file, line, "%s: expected '%s' in its log within %d ms%s; log ends: %s", name,
		needle, START_WAIT_MS, gone ? " (it exited)" : "", tail(text));
}

/* SIGTERM to a child of ours, then reap it; its exit status (128 + signal if killed). */
#define child_stop(pid, log, name) child_stop_(H_HERE, pid, log, name)
static int child_stop_(const char *file, int line, pid_t pid, const char *log, const char *name)
{
	long long deadline = h_now_ms() + EXIT_WAIT_MS;

	if (kill(pid, SIGTERM))
		h_fail_(file, line, "%s: kill %d failed: %s", name, (int)pid, strerror(errno));
	while (!exited(pid) && h_now_ms() < deadline)
		h_nap_ms(10);
	if (!exited(pid))
		h_fail_(file, line, "%s pid %d: still running %d ms after SIGTERM; log ends: %s",
			name, (int)pid, EXIT_WAIT_MS, tail(read_file(log)));
	return h_child_wait(pid);
}

struct dmn {
	pid_t pid;
	char log[PATH_LEN];
};

/*
 * connpeak daemon on h_pin_dir with a state dir and an empty config file
 * (never /etc's) in work_dir, serving /metrics on 127.0.0.1:http_port;
 * limit is a --limit argument or NULL. Returns once it watches.
 */
static void daemon_start(struct dmn *d, unsigned int http_port, const char *limit)
{
	char conf[PATH_LEN], state[PATH_LEN], listen[32];
	char *args[] = { "--config", conf, "--state-dir", state, "--listen", listen,
			 limit ? "--limit" : NULL, (char *)limit, NULL };
	int fd;

	work_path(conf, "connpeak.conf");
	work_path(state, "state");
	work_path(d->log, "daemon.log");
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", http_port);
	write_file(conf, "");
	fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		H_FAIL("%s: open failed: %s", d->log, strerror(errno));
	d->pid = h_cp_spawn(-1, fd, h_pin_dir, "daemon", args);
	close(fd);
	log_wait(d->pid, d->log, "daemon", "<6>watching ");
}

/* Fork and exec argv[0] as a tracked child in work_dir, its output in log. */
static pid_t spawn_logged(char *const argv[], const char *log)
{
	pid_t pid;
	int fd;

	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		H_FAIL("%s: open failed: %s", log, strerror(errno));
	pid = fork();
	if (pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(0);
		open("/dev/null", O_RDONLY);
		/* Only these fds: a copy of a test's socket would keep it open. */
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!chdir(work_dir))
			execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	if (pid < 0)
		H_FAIL("%s: fork failed: %s", argv[0], strerror(errno));
	h_child_track(pid);
	return pid;
}

struct prom {
	pid_t pid;
	char log[PATH_LEN];
};

/* Prometheus scraping 127.0.0.1:target every second, its API on 127.0.0.1:web_port. */
static void prom_start(struct prom *p, unsigned int target, unsigned int web_port)
{
	char conf[PATH_LEN], text[512], data[PATH_LEN + 32], cfg[PATH_LEN + 32], web[64];
	char *argv[] = { PROMETHEUS, cfg, data, web, NULL };

	need_tool(PROMETHEUS);
	work_path(conf, "prometheus.yml");
	snprintf(text, sizeof(text),
		 "global:\n"
		 "  scrape_interval: 1s\n"
		 "  scrape_timeout: 1s\n"
		 "scrape_configs:\n"
		 "  - job_name: connpeak\n"
		 "    static_configs:\n"
		 "      - targets: ['127.0.0.1:%u']\n", target);
	write_file(conf, text);
	snprintf(cfg, sizeof(cfg), "--config.file=%s", conf);
	snprintf(data, sizeof(data), "--storage.tsdb.path=%s/data", work_dir);
	snprintf(web, sizeof(web), "--web.listen-address=127.0.0.1:%u", web_port);
	work_path(p->log, "prometheus.log");
	p->pid = spawn_logged(argv, p->log);
}

/*
 * The value Prometheus's query API gives now for query, or -1 while it
 * has none (not up yet, nothing scraped yet, or not exactly one series).
 * Its answer goes in raw, for failure messages.
 */
static long long prom_query(unsigned int web_port, const char *query, char *raw, size_t len)
{
	char url[64], arg[256];
	char *argv[] = { "curl", "-sS", "--max-time", "5", "-G", "--data-urlencode", arg, url,
			 NULL };
	const char *p, *q;
	long long v = -1;
	struct h_out o;
	char *end;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/query", web_port);
	snprintf(arg, sizeof(arg), "query=%s", query);
	h_run(&o, argv);
	snprintf(raw, len, "curl exit status %d: %s%s", o.status, o.out, o.err);
	/* {"status":"success","data":{..."result":[{"metric":{...},"value":[T,"V"]}]}} */
	p = strstr(o.out, "\"value\":[");
	q = p ? strstr(p, ",\"") : NULL;
	if (o.status == 0 && strstr(o.out, "\"status\":\"success\"") && q &&
	    !strstr(q, "\"value\":[")) {
		v = strtoll(q + 2, &end, 10);
		if (end == q + 2 || *end != '"')
			v = -1;
	}
	h_out_free(&o);
	return v;
}

/* Wait until Prometheus reports want open inbound connections on port. */
#define prom_wait(p, port, want) prom_wait_(H_HERE, p, port, want)
static void prom_wait_(const char *file, int line, const struct prom *p, unsigned int port,
		       long long want)
{
	long long deadline = h_now_ms() + SCRAPE_WAIT_MS;
	char query[128], raw[2048];

	snprintf(query, sizeof(query), "connpeak_open_connections{port=\"%u\",direction=\"in\"}",
		 port);
	for (;;) {
		if (prom_query(PORT_WEB, query, raw, sizeof(raw)) == want)
			return;
		if (exited(p->pid) || h_now_ms() > deadline)
			break;
		h_nap_ms(200);
	}
	h_fail_(file, line, "prometheus, %s: expected %lld within %d ms%s; last answer: %s; "
		"its log ends: %s", query, want, SCRAPE_WAIT_MS,
		exited(p->pid) ? " (it exited)" : "", raw, tail(read_file(p->log)));
}

/* ---- connections the test holds, and its record of them ---- */

/* Each pair counts once in and once out on port. */
struct held {
	unsigned int port;
	int lfd, n, peak, total;
	int c[HELD_MAX], a[HELD_MAX];
};

static void held_init(struct held *h, unsigned int port)
{
	memset(h, 0, sizeof(*h));
	h->port = port;
	h->lfd = h_listen("127.0.0.1", port, HELD_MAX);
}

static void held_open(struct held *h, int count)
{
	for (; count > 0; count--) {
		if (h->n == HELD_MAX)
			H_FAIL("port %u: more than %d pairs", h->port, HELD_MAX);
		h->c[h->n] = h_connect("127.0.0.1", h->port);
		h->a[h->n] = h_accept(h->lfd);
		h->n++;
		h->total++;
		if (h->n > h->peak)
			h->peak = h->n;
	}
}

static void held_close(struct held *h, int count)
{
	for (; count > 0 && h->n > 0; count--) {
		h->n--;
		h_close(h->c[h->n]);
		h_close(h->a[h->n]);
	}
}

/* ss and show --json agree with the record, both ways. */
static void held_expect(const struct held *h)
{
	h_expect(h->port, H_IN, h->n, h->peak, h->total);
	h_expect(h->port, H_OUT, h->n, h->peak, h->total);
}

/* ---- the exposition, parsed here rather than by connpeak's code ---- */

/*
 * The value of metric{port="port",service="...",direction="dir"}: -1 if
 * there is no such sample, -2 if it is there more than once.
 */
static long long sample(const char *text, const char *metric, unsigned int port,
			const char *dir)
{
	const char *line, *end, *v;
	char head[96], sep[32], *num_end;
	long long value = -1;
	int n = 0;

	snprintf(head, sizeof(head), "%s{port=\"%u\",service=\"", metric, port);
	snprintf(sep, sizeof(sep), "\",direction=\"%s\"} ", dir);
	for (line = text; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		if (strncmp(line, head, strlen(head)))
			continue;
		v = strstr(line, sep);
		if (!v || v > end)
			continue;
		value = strtoll(v + strlen(sep), &num_end, 10);
		if (num_end != end)
			value = -1;
		n++;
	}
	return n > 1 ? -2 : value;
}

static int samples_of(const char *text, const char *metric)
{
	size_t len = strlen(metric);
	const char *line;
	int n = 0;

	for (line = text; line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		n += !strncmp(line, metric, len) && line[len] == '{';
	}
	return n;
}

#define expect_sample(text, metric, port, dir, want, oracle) \
	expect_sample_(H_HERE, text, metric, port, dir, want, oracle)
static void expect_sample_(const char *file, int line, const char *text, const char *metric,
			   unsigned int port, const char *dir, long long want, const char *oracle)
{
	long long got = sample(text, metric, port, dir);

	if (got != want)
		h_fail_(file, line, "/metrics %s port %u %s: expected %lld (%s), actual %lld "
			"(-1: none, -2: twice); exposition:\n%s", metric, port, dir, want, oracle,
			got, text);
}

/* The three per-row families against the test's record, both directions. */
static void expect_held(const char *text, const struct held *h)
{
	static const char *const dirs[] = { "in", "out" };
	int i;

	for (i = 0; i < 2; i++) {
		expect_sample(text, "connpeak_open_connections", h->port, dirs[i], h->n,
			      "held by the test");
		expect_sample(text, "connpeak_peak_connections", h->port, dirs[i], h->peak,
			      "most held at once");
		expect_sample(text, "connpeak_connections_total", h->port, dirs[i], h->total,
			      "opened by the test");
	}
}

/*
 * Every row of show --json is in the exposition with the same values. The
 * row count includes /metrics's own port, whose values are left out: the
 * scrape's connection was open while the page was made and may be closing
 * while show runs.
 */
static void expect_rows(const char *text, const struct h_rows *rows, unsigned int http_port)
{
	const struct h_row *r;
	int i;

	H_EQ(rows->n, samples_of(text, "connpeak_open_connections"),
	     "connpeak_open_connections samples vs rows of show --json (%s)", rows->text);
	for (i = 0; i < rows->n; i++) {
		r = &rows->row[i];
		if (r->port == http_port)
			continue;
		expect_sample(text, "connpeak_open_connections", r->port, r->dir, r->current,
			      "current in show --json");
		expect_sample(text, "connpeak_peak_connections", r->port, r->dir, r->peak,
			      "peak in show --json");
		expect_sample(text, "connpeak_connections_total", r->port, r->dir, r->total,
			      "total in show --json");
	}
}

/* ---- GET /metrics with curl ---- */

struct scrape {
	char hpath[PATH_LEN], bpath[PATH_LEN];
	char *headers, *body;
};

static void scrape_get(struct scrape *s, unsigned int port)
{
	char url[64];
	char *argv[] = { "curl", "-sS", "--max-time", "10", "-D", s->hpath, "-o", s->bpath, url,
			 NULL };
	struct h_out o;

	work_path(s->hpath, "headers");
	work_path(s->bpath, "metrics");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	h_run(&o, argv);
	if (o.status != 0)
		H_FAIL("curl %s: exit status %d: %s", url, o.status, o.err);
	h_out_free(&o);
	s->headers = read_file(s->hpath);
	s->body = read_file(s->bpath);
}

static void scrape_free(struct scrape *s)
{
	free(s->headers);
	free(s->body);
}

static void expect_headers(const char *headers)
{
	const char *line = headers;
	char type[128] = "";
	int status = 0;

	if (sscanf(headers, "HTTP/%*s %d", &status) != 1 || status != 200)
		H_FAIL("GET /metrics: expected status 200, actual %d; headers:\n%s", status,
		       headers);
	while (line && strncasecmp(line, "content-type:", 13)) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (line)
		sscanf(line + 13, " %127[^\r\n]", type);
	if (strcmp(type, METRICS_TYPE))
		H_FAIL("GET /metrics: expected content type '%s', actual '%s'; headers:\n%s",
		       METRICS_TYPE, type, headers);
}

static void promtool_check(const char *path, const char *text)
{
	char *argv[] = { "sh", "-c", PROMTOOL " check metrics < \"$1\"", "sh", (char *)path,
			 NULL };
	struct h_out o;

	need_tool(PROMTOOL);
	h_run(&o, argv);
	if (o.status != 0)
		H_FAIL("promtool check metrics: exit status %d: %s%s; input:\n%s", o.status, o.out,
		       o.err, text);
	h_out_free(&o);
}

/* ---- the tests ---- */

/*
 * (a) /metrics fetched with curl: status 200, the exposition's content
 * type, promtool's approval, and every value as the test holds it and as
 * show --json has it; limit lines for the port with a limit only.
 */
static void test_metrics_with_curl(void **state)
{
	struct held a, b, c;
	struct h_rows rows;
	struct scrape s;
	struct dmn d;

	h_require();
	h_start();
	held_init(&a, PORT_A);
	held_open(&a, 5);
	held_close(&a, 2);
	held_init(&b, PORT_B);
	held_open(&b, 7);
	held_init(&c, PORT_C);
	held_open(&c, 2);
	held_close(&c, 2);
	held_expect(&a);
	held_expect(&b);
	held_expect(&c);
	daemon_start(&d, PORT_HTTP, XSTR(PORT_B) "=" XSTR(LIMIT_B));

	scrape_get(&s, PORT_HTTP);
	expect_headers(s.headers);
	promtool_check(s.bpath, s.body);
	expect_held(s.body, &a);
	expect_held(s.body, &b);
	expect_held(s.body, &c);
	h_show(&rows);
	expect_rows(s.body, &rows, PORT_HTTP);
	expect_sample(s.body, "connpeak_limit_connections", PORT_B, "in", LIMIT_B, "--limit");
	expect_sample(s.body, "connpeak_warning_connections", PORT_B, "in", WARN_B,
		      "80 % of the limit");
	expect_sample(s.body, "connpeak_limit_connections", PORT_A, "in", -1, "no limit");
	scrape_free(&s);
	H_EQ(0, child_stop(d.pid, d.log, "daemon"), "daemon: exit status after SIGTERM");
}

/*
 * (b) A Prometheus server scrapes the daemon every second; its query API
 * reports the open count, then the count after two more connections.
 */
static void test_prometheus_scrapes(void **state)
{
	struct prom p;
	struct held h;
	struct dmn d;

	h_require();
	need_tool(PROMETHEUS);
	h_start();
	held_init(&h, PORT_LIVE);
	held_open(&h, 4);
	held_expect(&h);
	daemon_start(&d, PORT_HTTP2, NULL);
	prom_start(&p, PORT_HTTP2, PORT_WEB);
	prom_wait(&p, PORT_LIVE, h.n);

	held_open(&h, 2);
	held_expect(&h);
	prom_wait(&p, PORT_LIVE, h.n);

	H_EQ(0, child_stop(p.pid, p.log, "prometheus"), "prometheus: exit status after SIGTERM");
	H_EQ(0, child_stop(d.pid, d.log, "daemon"), "daemon: exit status after SIGTERM");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LIVE_TEST(test_metrics_with_curl),
		LIVE_TEST(test_prometheus_scrapes),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
