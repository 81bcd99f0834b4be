// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Privileges: the pin directory is 0700 and every pin 0600, the daemon's
 * state directory 0700 and its files 0600, even when started with umask 0.
 * A user without privileges (setpriv to nobody, no groups, so no
 * capabilities) can neither read, reset, stop nor start: each command exits
 * 1 with the privilege message, and afterwards the tracker is as it was.
 * Nor can that user reach the pins or the saved history directly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "harness.h"

#define PORT		16601
#define NOBODY		"65534"
#define PRIV_MSG	"permission denied: root (or CAP_BPF and CAP_PERFMON) is needed"
#define SAVE_WAIT_MS	(5000 * h_slow())

static const char *const pin_names[] = {
	"slots", "used", "stats", "hist", "hist_conf", "alerts", "alert_index", "events", "clients",
	"client_overflow",
	"link_nested", "link",
};

static char tmp_dir[64], bin[96], state_dir[96];

/* A copy of connpeak that nobody may run: the harness's own copy is not reachable. */
static void copy_binary(void)
{
	char *argv[] = { "install", "-m", "0755", getenv("CONNPEAK") ?: "./connpeak", bin, NULL };
	struct h_out o;

	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/connpeak-security-%d", (int)getpid());
	snprintf(bin, sizeof(bin), "%s/connpeak", tmp_dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", tmp_dir);
	if (mkdir(tmp_dir, 0755) && errno != EEXIST)
		H_FAIL("mkdir %s: %s", tmp_dir, strerror(errno));
	chmod(tmp_dir, 0755);
	h_run(&o, argv);
	H_EQ(0, o.status, "install connpeak into %s: %s", tmp_dir, o.err);
	h_out_free(&o);
}

static void expect_mode(const char *path, unsigned int want)
{
	struct stat st;

	if (lstat(path, &st))
		H_FAIL("%s: %s", path, strerror(errno));
	H_EQ(want, st.st_mode & 07777, "%s: mode (octal %o expected)", path, want);
}

/* Run as nobody: argv after "setpriv ... --"; returns its exit status, output in o. */
static int as_nobody(struct h_out *o, char *const cmd[])
{
	char *argv[24] = {
		"setpriv", "--reuid=" NOBODY, "--regid=" NOBODY, "--clear-groups", "--"
	};
	int n = 5, i;

	for (i = 0; cmd[i] && n < 23; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	if (h_run(o, argv))
		H_FAIL("setpriv: %s", o->err);
	return o->status;
}

static void expect_refused(char *const cmd[])
{
	struct h_out o;

	as_nobody(&o, cmd);
	if (o.status != 1 || !strstr(o.err, PRIV_MSG) || o.out[0])
		H_FAIL("connpeak %s as nobody: exit status %d (expected 1), stderr '%s' (expected "
		       "'%s'), stdout '%.200s'", cmd[1], o.status, o.err, PRIV_MSG, o.out);
	h_out_free(&o);
}

static void expect_unreachable(const char *path)
{
	char *cmd[] = { "cat", (char *)path, NULL };
	struct h_out o;

	if (as_nobody(&o, cmd) == 0)
		H_FAIL("nobody could read %s", path);
	h_out_free(&o);
}

/* Three opened, two closed: current 1, peak 3, total 3. */
static void traffic(void)
{
	int lfd = h_listen("127.0.0.1", PORT, 16), c[3], a[3], i;

	for (i = 0; i < 3; i++) {
		c[i] = h_connect("127.0.0.1", PORT);
		a[i] = h_accept(lfd);
	}
	for (i = 0; i < 2; i++) {
		h_close(c[i]);
		h_close(a[i]);
	}
	h_expect(PORT, H_IN, 1, 3, 3);
}

static void test_pins_root_only(void **state)
{
	char path[160];
	mode_t old;
	size_t i;

	h_require();
	old = umask(0);
	h_start();
	umask(old);
	expect_mode(h_pin_dir, 0700);
	for (i = 0; i < sizeof(pin_names) / sizeof(pin_names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", h_pin_dir, pin_names[i]);
		expect_mode(path, 0600);
	}
}

static void test_nobody_changes_nothing(void **state)
{
	char *show[] = { bin, "show", "--pin-dir", h_pin_dir, NULL };
	char *json[] = { bin, "show", "--json", "--pin-dir", h_pin_dir, NULL };
	char *reset[] = { bin, "reset", "--pin-dir", h_pin_dir, NULL };
	char *stop[] = { bin, "stop", "--pin-dir", h_pin_dir, NULL };
	char *start[] = { bin, "start", "--pin-dir", h_pin_dir2, NULL };
	char *history[] = { bin, "history", "--pin-dir", h_pin_dir, NULL };
	char *advise[] = { bin, "advise", "--pin-dir", h_pin_dir, NULL };
	char *top[] = { bin, "top", "-n", "1", "--pin-dir", h_pin_dir, NULL };
	char *daemon[] = { bin, "daemon", "--pin-dir", h_pin_dir, "--listen", "off",
			   "--state-dir", state_dir, NULL };
	char *ls[] = { "ls", h_pin_dir, NULL };
	char *const *cmds[] = { show, json, reset, stop, start, history, advise, top, daemon };
	char path[160];
	struct h_out o;
	size_t i;

	h_require();
	copy_binary();
	h_cp(&o, "start", "--bucket", "1", "--keep", "60s", "16601", NULL);
	H_EQ(0, o.status, "start: exit status; stderr: %s", o.err);
	h_out_free(&o);
	traffic();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		expect_refused(cmds[i]);
	h_expect(PORT, H_IN, 1, 3, 3);
	H_EQ(true, h_pinned(), "the tracker still pinned");
	H_EQ(-1, access(h_pin_dir2, F_OK), "a pin dir for nobody's start");
	H_EQ(-1, access(state_dir, F_OK), "a state dir for nobody's daemon");
	if (as_nobody(&o, ls) == 0)
		H_FAIL("nobody could list %s: %s", h_pin_dir, o.out);
	h_out_free(&o);
	snprintf(path, sizeof(path), "%s/slots", h_pin_dir);
	expect_unreachable(path);
}

/* The daemon saves a completed bucket, then exits on SIGTERM. */
static void daemon_saves(void)
{
	char *args[] = { "--state-dir", state_dir, "--listen", "off", NULL };
	char file[160];
	long long deadline = h_now_ms() + SAVE_WAIT_MS;
	int lfd, c, a;
	mode_t old;
	pid_t pid;

	old = umask(0);
	pid = h_cp_spawn(-1, -1, h_pin_dir, "daemon", args);
	umask(old);
	lfd = h_listen("127.0.0.1", PORT, 16);
	c = h_connect("127.0.0.1", PORT);
	a = h_accept(lfd);
	snprintf(file, sizeof(file), "%s/history-%d.log", state_dir, PORT);
	/* A change in a later bucket makes the daemon save the one before. */
	while (access(file, F_OK) && h_now_ms() < deadline) {
		h_nap_ms(1100);
		h_close(c);
		h_close(a);
		c = h_connect("127.0.0.1", PORT);
		a = h_accept(lfd);
	}
	kill(pid, SIGTERM);
	H_EQ(0, h_child_wait(pid), "daemon exit status");
	if (access(file, F_OK))
		H_FAIL("%s: not written within %d ms", file, SAVE_WAIT_MS);
	h_close(c);
	h_close(a);
	h_close(lfd);
}

static void test_state_root_only(void **state)
{
	char file[160];
	struct h_out o;

	h_require();
	copy_binary();
	h_cp(&o, "start", "--bucket", "1", "--keep", "60s", "16601", NULL);
	H_EQ(0, o.status, "start: exit status; stderr: %s", o.err);
	h_out_free(&o);
	daemon_saves();
	snprintf(file, sizeof(file), "%s/history-%d.log", state_dir, PORT);
	expect_mode(state_dir, 0700);
	expect_mode(file, 0600);
	expect_unreachable(file);
}

static int teardown(void **state)
{
	char *argv[] = { "rm", "-rf", tmp_dir, NULL };
	struct h_out o;

	h_teardown(state);
	if (tmp_dir[0]) {
		h_run(&o, argv);
		h_out_free(&o);
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_pins_root_only, teardown),
		cmocka_unit_test_teardown(test_nobody_changes_nothing, teardown),
		cmocka_unit_test_teardown(test_state_root_only, teardown),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
