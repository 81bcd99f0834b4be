// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Bad input beyond test_cli's table, through the built binary: daemon
 * options, daemon config files with one bad line each, history times,
 * history, advise and start options. Each case must exit 2 with one line on
 * stderr that names the bad value (for a config file, FILE:LINE), print
 * nothing on stdout, and load nothing: -v is given, so libbpf would add
 * lines if anything were loaded, and the pin and state directories given
 * must not appear.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#define MAX_ARGS	12
#define RUN_TIMEOUT_MS	10000
#define OUT_MAX		8192

extern char **environ;

struct result {
	int status;		/* exit status, 128 + signal, or -1 on a timeout */
	char out[OUT_MAX];
	char err[OUT_MAX];
};

/*
 * A case: the arguments after "connpeak"; "@CONF" stands for the config
 * file, written with conf (its bad line last), "@PIN" for a pin directory
 * and "@STATE" for a state directory, neither of which may appear. names
 * must be in the message; "@CONF" in it stands for the file's path.
 */
struct bad_case {
	const char *args[MAX_ARGS];
	const char *names;
	const char *conf;
};

static char tmp_dir[] = "/tmp/connpeak-badinput-XXXXXX";
static char conf_path[PATH_MAX], pin_path[PATH_MAX], state_path[PATH_MAX];

static const char good_lines[] = "# settings that are fine\nwarn = 75%\n";

/* ---- running the binary ---- */

static void slurp(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Reap pid within RUN_TIMEOUT_MS; kill it (and report -1) past that. */
static int wait_bounded(pid_t pid)
{
	long long deadline = now_ms() + RUN_TIMEOUT_MS;
	struct timespec nap = { .tv_nsec = 5000000 };
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void run(struct result *r, char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int out = memfd_create("badinput-out", MFD_CLOEXEC);
	int err = memfd_create("badinput-err", MFD_CLOEXEC);
	pid_t pid;

	assert_true(out >= 0 && err >= 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	r->status = wait_bounded(pid);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	close(out);
	close(err);
}

static void write_conf(const char *bad_line)
{
	FILE *f = fopen(conf_path, "we");

	assert_non_null(f);
	fputs(good_lines, f);
	fputs(bad_line, f);
	fputc('\n', f);
	assert_int_equal(fclose(f), 0);
}

static const char *expand(const char *arg)
{
	if (!strcmp(arg, "@CONF"))
		return conf_path;
	if (!strcmp(arg, "@PIN"))
		return pin_path;
	if (!strcmp(arg, "@STATE"))
		return state_path;
	return arg;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Run one case; on a mismatch write why into why and return -1. */
static int check_case(const struct bad_case *c, char *why, size_t len)
{
	char *argv[MAX_ARGS + 4], names[PATH_MAX + 64];
	static struct result r;
	struct stat st;
	int n = 0, i;

	argv[n++] = getenv("CONNPEAK") ?: "./connpeak";
	argv[n++] = (char *)c->args[0];
	argv[n++] = "-v";
	for (i = 1; i < MAX_ARGS && c->args[i]; i++)
		argv[n++] = (char *)expand(c->args[i]);
	argv[n] = NULL;
	if (c->conf)
		write_conf(c->conf);
	if (!strncmp(c->names, "@CONF", 5))
		snprintf(names, sizeof(names), "%s%s", conf_path, c->names + 5);
	else
		snprintf(names, sizeof(names), "%s", c->names);
	run(&r, argv);
	if (r.status != 2 || count_lines(r.err) != 1 || !strstr(r.err, names) || r.out[0])
		snprintf(why, len, "status %d (expected 2), stderr '%s' (expected one line "
			 "naming %s), stdout '%.200s'", r.status, r.err, names, r.out);
	else if (!stat(pin_path, &st) || !stat(state_path, &st))
		snprintf(why, len, "exit 2, but the pin or state directory was created");
	else
		return 0;
	return -1;
}

static void run_table(const struct bad_case *cases, size_t n)
{
	char why[3 * OUT_MAX];
	int failed = 0;
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (!check_case(&cases[i], why, sizeof(why)))
			continue;
		print_error("case %zu: connpeak", i);
		for (j = 0; j < MAX_ARGS && cases[i].args[j]; j++)
			print_error(" %s", cases[i].args[j]);
		print_error("%s%s: %s\n", cases[i].conf ? " with the line " : "",
			    cases[i].conf ? cases[i].conf : "", why);
		failed++;
	}
	if (failed)
		fail_msg("%d of %zu cases failed", failed, n);
}

/* ---- the tables ---- */

#define DAEMON "daemon", "--pin-dir", "@PIN", "--state-dir", "@STATE"
#define CONF DAEMON, "--config", "@CONF"

static const struct bad_case daemon_cases[] = {
	{ { DAEMON, "--limit", "smtp" }, "'smtp'", NULL },
	{ { DAEMON, "--limit", "nosuchservice=5" }, "'nosuchservice=5'", NULL },
	{ { DAEMON, "--limit", "smtp=0" }, "'smtp=0'", NULL },
	{ { DAEMON, "--limit", "smtp=1000000001" }, "'smtp=1000000001'", NULL },
	{ { DAEMON, "--limit", "=5" }, "'=5'", NULL },
	{ { DAEMON, "--limit", "smtp=-5" }, "'smtp=-5'", NULL },
	{ { DAEMON, "--warn", "0" }, "'0'", NULL },
	{ { DAEMON, "--warn", "101%" }, "'101%'", NULL },
	{ { DAEMON, "--warn", "abc" }, "'abc'", NULL },
	{ { DAEMON, "--warn", "%" }, "'%'", NULL },
	{ { "daemon", "--pin-dir", "@PIN", "--state-dir", "" }, "''", NULL },
	{ { DAEMON, "--config" }, "'--config'", NULL },
	{ { DAEMON, "--limit" }, "'--limit'", NULL },
	{ { DAEMON, "--frobnicate" }, "'--frobnicate'", NULL },
	{ { DAEMON, "extra" }, "'extra'", NULL },
	{ { DAEMON, "--config", "/nonexistent/connpeak.conf" }, "/nonexistent/connpeak.conf",
	  NULL },
	{ { DAEMON, "--listen", "not-an-address" }, "'not-an-address'", NULL },
	{ { DAEMON, "--listen", "127.0.0.1:70000" }, "'127.0.0.1:70000'", NULL },
	/* Not dropped when merged with the file, leaving the default address. */
	{ { DAEMON, "--listen", "" }, "''", NULL },
};

/* "# ...." to byte 511 of line 3, the rest of it a setting; then a bad line 4. */
static char long_comment[600];

static const struct bad_case config_cases[] = {
	{ { CONF }, "@CONF:3:", "limit.smtp = zero" },
	{ { CONF }, "@CONF:3:", "limit.nosuchservice = 5" },
	{ { CONF }, "@CONF:3:", "limit.smtp = 0" },
	{ { CONF }, "@CONF:3:", "limit.smtp = 5 6" },
	{ { CONF }, "@CONF:3:", "limit.smtp = -5" },
	{ { CONF }, "@CONF:3:", "limit. = 5" },
	{ { CONF }, "@CONF:3:", "warn = 150" },
	{ { CONF }, "@CONF:3:", "warn.https = 0%" },
	{ { CONF }, "@CONF:3:", "warn.nosuchservice = 50" },
	{ { CONF }, "@CONF:3:", "frobnicate = 1" },
	{ { CONF }, "@CONF:3:", "limit.smtp 40" },
	{ { CONF }, "@CONF:3:", "listen =" },
	{ { CONF }, "@CONF:3:", "state-dir =" },
	{ { CONF }, "@CONF:3:", "pin-dir =   # nothing but a comment" },
	{ { CONF }, "@CONF:3:", "listen = 127.0.0.1:9947127.0.0.1:9947127.0.0.1:9947127.0.0.1:9947"
		"127.0.0.1:9947127.0.0.1:9947127.0.0.1:9947127.0.0.1:9947127.0.0.1:9947"
		"127.0.0.1:9947" },
	{ { CONF }, "@CONF:3:", "= 5" },
	{ { CONF, "--limit", "smtp=5" }, "@CONF:3:", "limit.https = 1e3" },
	{ { CONF }, "@CONF:3:", "listen = not-an-address" },
	/* A line read in pieces would put the bad line at 5, after a setting. */
	{ { CONF }, "@CONF:4:", long_comment },
};

static const struct bad_case history_cases[] = {
	{ { "history", "--pin-dir", "@PIN", "--since", "yesterdayy" }, "'yesterdayy'", NULL },
	{ { "history", "--pin-dir", "@PIN", "--since", "2026-02-30" }, "'2026-02-30'", NULL },
	{ { "history", "--pin-dir", "@PIN", "--until", "2026-12-03 25:00" },
	  "'2026-12-03 25:00'", NULL },
	{ { "history", "--pin-dir", "@PIN", "--since", "2026-13-01" }, "'2026-13-01'", NULL },
	{ { "history", "--pin-dir", "@PIN", "--since", "-5x" }, "'-5x'", NULL },
	{ { "history", "--pin-dir", "@PIN", "--since", "-" }, "'-'", NULL },
	{ { "history", "--pin-dir", "@PIN", "--since", "-99999d" }, "'-99999d'", NULL },
	{ { "history", "--pin-dir", "@PIN", "--since", "+2h" }, "'+2h'", NULL },
	{ { "history", "--pin-dir", "@PIN", "--until", "" }, "''", NULL },
	{ { "history", "--pin-dir", "@PIN", "--since", "now", "--until", "-1h" },
	  "--since is not before --until", NULL },
	{ { "history", "--pin-dir", "@PIN", "--since", "today", "--until", "today" },
	  "--since is not before --until", NULL },
	{ { "history", "--pin-dir", "@PIN", "--by", "week" }, "'week'", NULL },
	{ { "history", "--pin-dir", "@PIN", "--since" }, "'--since'", NULL },
	{ { "history", "--pin-dir", "@PIN", "0" }, "'0'", NULL },
	{ { "history", "--pin-dir", "@PIN", "--json", "nosuchservice" }, "'nosuchservice'", NULL },
};

static const struct bad_case advise_start_cases[] = {
	{ { "advise", "--pin-dir", "@PIN", "--headroom", "1001" }, "'1001'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--headroom", "-5" }, "'-5'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--headroom", "25%" }, "'25%'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--users", "0" }, "'0'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--users", "1e3" }, "'1e3'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--users" }, "'--users'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--json", "70000" }, "'70000'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--client-limit", "0" }, "--client-limit '0'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--client-limit", "1000001" },
	  "--client-limit '1000001'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--client-limit", "-5" }, "--client-limit '-5'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--client-limit", "5x" }, "--client-limit '5x'", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--client-limit", "" }, "--client-limit ''", NULL },
	{ { "advise", "--pin-dir", "@PIN", "--client-limit" }, "'--client-limit'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--bucket", "0" }, "'0'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--bucket", "86401" }, "'86401'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--bucket", "5x" }, "'5x'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--bucket", "2d" }, "'2d'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--keep", "0" }, "'0'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--keep", "367" }, "'367'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--keep", "1s" }, "'1s'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--bucket", "3600", "--keep", "1h" }, "'1h'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--history-ports", "1025" }, "'1025'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--history-ports", "x" }, "'x'", NULL },
	{ { "start", "--pin-dir", "@PIN", "--history-ports", "1", "smtp", "https" },
	  "--history-ports allows 1", NULL },
	{ { "start", "--pin-dir", "@PIN", "--bucket", "60", "--keep", "366",
	    "--history-ports", "1024" }, "MiB", NULL },
};

static void test_daemon_options(void **state)
{
	run_table(daemon_cases, sizeof(daemon_cases) / sizeof(daemon_cases[0]));
}

static void test_config_lines(void **state)
{
	run_table(config_cases, sizeof(config_cases) / sizeof(config_cases[0]));
}

static void test_history_times(void **state)
{
	run_table(history_cases, sizeof(history_cases) / sizeof(history_cases[0]));
}

static void test_advise_start_options(void **state)
{
	run_table(advise_start_cases, sizeof(advise_start_cases) / sizeof(advise_start_cases[0]));
}

static int setup(void **state)
{
	size_t len;

	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/connpeak.conf", tmp_dir);
	snprintf(pin_path, sizeof(pin_path), "%s/pins", tmp_dir);
	snprintf(state_path, sizeof(state_path), "%s/state", tmp_dir);
	len = 511 - strlen("# ");
	snprintf(long_comment, sizeof(long_comment), "# %.*s%s", (int)len,
		 "................................................................"
		 "................................................................"
		 "................................................................"
		 "................................................................"
		 "................................................................"
		 "................................................................"
		 "................................................................"
		 "................................................................",
		 "limit.smtp = 3\nfrobnicate = 1");
	return 0;
}

static int teardown(void **state)
{
	unlink(conf_path);
	rmdir(pin_path);
	rmdir(state_path);
	rmdir(tmp_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_options),
		cmocka_unit_test(test_config_lines),
		cmocka_unit_test(test_history_times),
		cmocka_unit_test(test_advise_start_options),
	};

	return cmocka_run_group_tests_name("badinput", tests, setup, teardown);
}
