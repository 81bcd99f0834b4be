// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

/*
 * Command-line errors, checked by running the built binary. None of these
 * needs privileges: arguments are checked before anything is loaded.
 */

#define MAX_ARGS 8

struct result {
	int status;
	char out[8192];
	char err[8192];
};

static void read_all(int fd, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;

	while (used < len - 1 && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += n;
	buf[used] = '\0';
}

static void run(struct result *r, const char *const args[])
{
	const char *bin = getenv("CONNPEAK") ?: "./connpeak";
	char *argv[MAX_ARGS + 2] = { (char *)bin };
	int out[2], err[2], st, i;
	pid_t pid;

	for (i = 0; i < MAX_ARGS && args[i]; i++)
		argv[i + 1] = (char *)args[i];
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(bin, argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	read_all(out[0], r->out, sizeof(r->out));
	read_all(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	r->status = WEXITSTATUS(st);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

struct bad_case {
	const char *args[MAX_ARGS];
	const char *names;	/* the message must quote this */
};

static const struct bad_case bad_cases[] = {
	{ { "show", "12ab" }, "'12ab'" },
	{ { "show", "0" }, "'0'" },
	{ { "show", "65536" }, "'65536'" },
	{ { "show", "nosuchservice" }, "'nosuchservice'" },
	{ { "show", "https", "-1" }, "'-1'" },
	{ { "show", "--bogus" }, "'--bogus'" },
	{ { "show", "--in", "--out" }, "--in and --out" },
	{ { "top", "--out", "--in" }, "--in and --out" },
	{ { "reset", "--json" }, "'--json'" },
	{ { "reset", "99999" }, "'99999'" },
	{ { "start", "extra" }, "'extra'" },
	{ { "start", "--allnetns" }, "'--allnetns'" },
	{ { "start", "--pin-dir" }, "'--pin-dir'" },
	{ { "start", "--pin-dir", "" }, "''" },
	{ { "stop", "now" }, "'now'" },
	{ { "top", "-d", "0" }, "'0'" },
	{ { "top", "-d", "x" }, "'x'" },
	{ { "top", "-n", "-3" }, "'-3'" },
	{ { "top", "-d" }, "'-d'" },
	{ { "top", "-x" }, "'-x'" },
	{ { "start", "--clients", "abc" }, "'abc'" },
	{ { "start", "--clients", "-1" }, "'-1'" },
	{ { "start", "--clients", "1048577" }, "'1048577'" },
	{ { "start", "--clients" }, "'--clients'" },
	{ { "start", "--client-prefix", "33,64" }, "'33,64'" },
	{ { "start", "--client-prefix", "24,129" }, "'24,129'" },
	{ { "start", "--client-prefix", "24,x" }, "'24,x'" },
	{ { "start", "--client-prefix", "24" }, "'24'" },
	{ { "start", "--client-prefix", "0,64" }, "'0,64'" },
	{ { "start", "--clients", "8", "--client-prefix", "24,64,1" }, "'24,64,1'" },
	{ { "clients", "--top", "0" }, "'0'" },
	{ { "clients", "--top", "ten" }, "'ten'" },
	{ { "clients", "--sort", "total" }, "'total'" },
	{ { "clients", "--top" }, "'--top'" },
	{ { "clients", "99999" }, "'99999'" },
	{ { "clients", "--in" }, "'--in'" },
	{ { "frobnicate" }, "'frobnicate'" },
	{ { "--bogus" }, "'--bogus'" },
};

static void test_bad_arguments(void **state)
{
	struct result r;
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		run(&r, bad_cases[i].args);
		if (r.status != 2 || count_lines(r.err) != 1 || !strstr(r.err, bad_cases[i].names)
		    || r.out[0])
			fail_msg("case %zu (%s %s): status %d, stderr '%s', stdout '%s'; "
				 "expected status 2 and one line naming %s", i,
				 bad_cases[i].args[0], bad_cases[i].args[1] ?: "", r.status, r.err,
				 r.out, bad_cases[i].names);
	}
}

static void test_bad_args_change_nothing(void **state)
{
	const char *args[] = { "start", "--pin-dir", "/tmp/connpeak-cli-test-dir", "bogus",
			       NULL };
	struct result r;
	struct stat st;

	run(&r, args);
	assert_int_equal(r.status, 2);
	assert_int_not_equal(stat("/tmp/connpeak-cli-test-dir", &st), 0);
}

/* A bad client option to start leaves no pin directory behind: nothing was loaded. */
static void test_bad_client_options_load_nothing(void **state)
{
	static const char *const bad[][2] = {
		{ "--clients", "x" }, { "--client-prefix", "33,64" }, { "--client-prefix", "24,x" },
	};
	const char *args[] = { "start", "--pin-dir", "/tmp/connpeak-cli-test-dir", NULL, NULL,
			       NULL };
	struct result r;
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		args[3] = bad[i][0];
		args[4] = bad[i][1];
		run(&r, args);
		assert_int_equal(r.status, 2);
		assert_int_not_equal(stat("/tmp/connpeak-cli-test-dir", &st), 0);
	}
}

static void test_help(void **state)
{
	const char *const cmds[] = { "start", "stop", "show", "reset", "top", "clients" };
	const char *top[] = { "--help", NULL };
	const char *args[3] = { NULL, "--help", NULL };
	char want[64];
	struct result r;
	size_t i;

	run(&r, top);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "Usage: connpeak"));
	assert_non_null(strstr(r.out, "Exit status"));
	assert_non_null(strstr(r.out, "connpeak clients [--top N]"));
	assert_non_null(strstr(r.out, "[--clients N] [--client-prefix V4,V6]"));
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		args[0] = cmds[i];
		run(&r, args);
		snprintf(want, sizeof(want), "Usage: connpeak %s", cmds[i]);
		if (r.status != 0 || !strstr(r.out, want) || r.err[0])
			fail_msg("%s --help: status %d, stdout '%s'", cmds[i], r.status, r.out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_bad_args_change_nothing),
		cmocka_unit_test(test_bad_client_options_load_nothing),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
