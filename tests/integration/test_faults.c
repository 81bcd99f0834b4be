// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Faults:
 * - SIGKILL during connpeak start, while it loads, walks thousands of open
 *   connections and pins: at a random moment, and at the entry of each of
 *   its last bpf() calls (the pins among them). Afterwards a complete tracker
 *   (link pin present, exact counts) or nothing is pinned, no connpeak link
 *   is attached without the link pin, and a new start succeeds with exact
 *   counts.
 * - The pins removed, and a private bpffs unmounted, under a running daemon:
 *   it keeps running or fails with a message, never dies of a signal, and
 *   its tracker is gone once it exits.
 * - A history ring of 5 one-second buckets lapped twice over: history is
 *   right for each bucket, from the ring alone and joined with what the
 *   daemon saved.
 * - A memory cgroup limit on start: counts are exact, or start fails with a
 *   message, or show warns about the loss; never a silent loss.
 *
 * make test runs a short form; FAULT_FULL=1 (make faults) kills start at
 * every one of its bpf() calls instead of the last 12, at 50 random moments
 * instead of 8 (FAULT_KILLS overrides), and tries 11 memory limits, not 4.
 *
 * A kill while start pins leaves the pins made so far, and at the last pin
 * link_nested with its program attached: start pins one object at a time,
 * and a pinned link stays attached whoever dies. The link pin goes last, so
 * such leftovers are never taken for a tracker: show says none is pinned,
 * and the next start removes them (README, Limitations).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include "harness.h"

#define PORT_HELD	16501
#define PORT_DAEMON	16502
#define PORT_RING	16503
#define PORT_CG		16504
#define HOLDERS		3
#define HOLD_EACH	1000	/* pairs per holder: 6000 open sockets in all */
#define BRIEF_KILLS	8
#define FULL_KILLS	50
#define LAST_BPF_CALLS	12
#define DAEMON_WAIT_MS	(10000 * h_slow())

extern char **environ;

static const char *const pin_names[] = {
	"slots", "used", "stats", "hist", "hist_conf", "alerts", "alert_index", "events", "clients",
	"client_overflow",
	"link_nested", "link",
};
#define NR_PINS (sizeof(pin_names) / sizeof(pin_names[0]))

static char *connpeak_bin(void)
{
	return getenv("CONNPEAK") ?: "./connpeak";
}

static bool pin_present(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* Pins present under dir, as a string of names for messages; returns how many. */
static int pins_present(const char *dir, char *list, size_t len)
{
	size_t i, used = 0;
	int n = 0;

	list[0] = '\0';
	for (i = 0; i < NR_PINS; i++) {
		if (!pin_present(dir, pin_names[i]))
			continue;
		used += snprintf(list + used, used < len ? len - used : 0, "%s%s", n ? " " : "",
				 pin_names[i]);
		n++;
	}
	return n;
}

/* Links pinned under dir according to bpftool, e.g. "link_nested link"; -1 if it fails. */
static int bpftool_links(const char *dir, char *names, size_t len)
{
	char *argv[] = { "bpftool", "-j", "-f", "link", "show", NULL };
	char needle[160];
	struct h_out o;
	const char *p;
	size_t used = 0;
	int n = 0;

	names[0] = '\0';
	if (h_run(&o, argv) || o.status != 0) {
		print_error("bpftool link show: exit status %d: %s\n", o.status, o.err);
		h_out_free(&o);
		return -1;
	}
	snprintf(needle, sizeof(needle), "\"%s/", dir);
	for (p = o.out; (p = strstr(p, needle)); p += strlen(needle)) {
		used += snprintf(names + used, used < len ? len - used : 0, "%s%.*s", n ? " " : "",
				 (int)strcspn(p + strlen(needle), "\""), p + strlen(needle));
		n++;
	}
	h_out_free(&o);
	return n;
}

/* ---- holders of many connections ---- */

static struct h_holder holders[HOLDERS];
static unsigned int held_port;

static void hold_many(unsigned int port)
{
	char addr[32];
	int i;

	held_port = port;
	for (i = 0; i < HOLDERS; i++) {
		snprintf(addr, sizeof(addr), "127.0.1.%d", i + 1);
		h_holder_start(&holders[i], addr, port);
	}
	h_holders_open(holders, HOLDERS, HOLD_EACH);
}

static void release_many(void)
{
	int i;

	for (i = 0; i < HOLDERS; i++)
		h_holder_quit(&holders[i]);
}

/* ---- connpeak start, killed ---- */

/* connpeak with argv, stderr on err_fd (-1: /dev/null); traced: stopped, ptrace set up. */
static pid_t spawn_cp(char *const argv[], bool traced, int err_fd)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char no_leaks[512];
	int fd, st;
	pid_t pid;

	/* LeakSanitizer cannot run under ptrace; the rest, log_path too, stays. */
	snprintf(no_leaks, sizeof(no_leaks), "%s%sdetect_leaks=0", asan ?: "", asan ? ":" : "");
	pid = fork();
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(err_fd >= 0 ? err_fd : fd, 2);
		close_range(3, ~0U, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (traced) {
			setenv("ASAN_OPTIONS", no_leaks, 1);
			ptrace(PTRACE_TRACEME, 0, NULL, NULL);
			raise(SIGSTOP);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0)
		H_FAIL("connpeak %s: fork failed: %s", argv[1], strerror(errno));
	h_child_track(pid);
	if (traced && (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)))
		H_FAIL("traced connpeak %s: did not stop before exec", argv[1]);
	if (traced)
		ptrace(PTRACE_SETOPTIONS, pid, NULL, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
	return pid;
}

/*
 * Let a traced child run to the entry of its nth bpf() call with command
 * cmd (-1: any), counting from 1, and leave it stopped there. Returns the
 * calls seen: fewer than nth if it ran to its end.
 */
static int run_to_bpf(pid_t pid, int nth, int cmd)
{
	struct __ptrace_syscall_info info;
	int st, calls = 0;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, NULL, NULL) || waitpid(pid, &st, 0) != pid)
			break;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (!WIFSTOPPED(st) || WSTOPSIG(st) != (SIGTRAP | 0x80))
			continue;
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) <= 0 ||
		    info.op != PTRACE_SYSCALL_INFO_ENTRY || info.entry.nr != __NR_bpf ||
		    (cmd >= 0 && info.entry.args[0] != (__u64)cmd))
			continue;
		if (++calls == nth)
			break;
	}
	return calls;
}

/* start, SIGKILLed at the entry of its nth bpf() call; returns its calls. */
static int start_killed_at_bpf(int nth)
{
	char *argv[] = { connpeak_bin(), "start", "--pin-dir", h_pin_dir, NULL };
	pid_t pid = spawn_cp(argv, true, -1);
	int calls = run_to_bpf(pid, nth, -1);

	if (calls == nth)
		kill(pid, SIGKILL);
	h_child_wait(pid);
	return calls;
}

static void start_killed_after(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000 };
	char *argv[] = { connpeak_bin(), "start", "--pin-dir", h_pin_dir, NULL };
	pid_t pid = spawn_cp(argv, false, -1);

	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	h_child_wait(pid);
}

struct kill_stats {
	int complete, nothing, maps_left, nested_left;
};

static void expect_exact(void)
{
	h_expect(held_port, H_IN, HOLDERS * HOLD_EACH, -1, -1);
	h_expect(held_port, H_OUT, HOLDERS * HOLD_EACH, -1, -1);
}

/* Pins without the link pin are no tracker to show. */
static void expect_no_tracker(const char *how)
{
	char err[512];
	struct h_out o;
	int status;

	h_cp(&o, "show", NULL);
	status = o.status;
	snprintf(err, sizeof(err), "%s", o.err);
	h_out_free(&o);
	if (status != 1 || !strstr(err, "no tracker pinned"))
		H_FAIL("%s: show with pins left but no link pin: expected exit status 1 and "
		       "'no tracker pinned', actual %d, stderr: %s", how, status, err);
}

/*
 * After a kill: the link pin means a complete tracker with exact counts;
 * without it, whatever was pinned is no tracker. Then start must work, and
 * stop must leave no pin and no link.
 */
static void check_after_kill(struct kill_stats *ks, const char *how)
{
	char pins[256], links[256];
	int npins, nlinks;

	npins = pins_present(h_pin_dir, pins, sizeof(pins));
	nlinks = bpftool_links(h_pin_dir, links, sizeof(links));
	if (pin_present(h_pin_dir, "link")) {
		H_EQ(NR_PINS, npins, "%s: a tracker with its link pin has every pin (%s)", how,
		     pins);
		H_EQ(2, nlinks, "%s: links pinned per bpftool (%s)", how, links);
		expect_exact();
		ks->complete++;
		h_stop();
	} else {
		if (nlinks)
			print_message("%s: links pinned without the link pin: %s\n", how, links);
		if (npins)
			print_message("%s: pins left without the link pin: %s\n", how, pins);
		ks->nested_left += pin_present(h_pin_dir, "link_nested") || nlinks > 0;
		ks->maps_left += npins > 0 && !pin_present(h_pin_dir, "link_nested");
		ks->nothing += npins == 0;
		if (npins || nlinks)
			expect_no_tracker(how);
	}
	h_start();
	expect_exact();
	h_stop();
	H_EQ(0, pins_present(h_pin_dir, pins, sizeof(pins)), "%s: pins after stop (%s)", how,
	     pins);
	H_EQ(0, bpftool_links(h_pin_dir, links, sizeof(links)), "%s: links pinned after stop "
	     "(%s)", how, links);
}

static void report_kills(const struct kill_stats *ks, int kills)
{
	print_message("%d kills: %d left a complete tracker, %d nothing, %d map pins without "
		      "the link, %d a link pinned without the link pin\n", kills, ks->complete,
		      ks->nothing, ks->maps_left, ks->nested_left);
}

static void test_kill_during_start(void **state)
{
	const char *env = getenv("FAULT_KILLS");
	bool full = getenv("FAULT_FULL");
	int kills = env && atoi(env) > 0 ? atoi(env) : full ? FULL_KILLS : BRIEF_KILLS;
	struct kill_stats ks = {};
	unsigned int seed = getpid();
	long long t0, start_us;
	char how[64];
	int i, calls, first;
	long delay;

	h_require();
	hold_many(PORT_HELD);
	t0 = h_now_ms();
	h_start();
	start_us = (h_now_ms() - t0) * 1000;
	expect_exact();
	h_stop();
	calls = start_killed_at_bpf(1 << 30);
	check_after_kill(&ks, "start under ptrace, not killed");
	ks.complete--;
	print_message("start: %lld ms, %d bpf() calls\n", start_us / 1000, calls);
	first = full || calls <= LAST_BPF_CALLS ? 1 : calls - LAST_BPF_CALLS + 1;
	for (i = first; i <= calls; i++) {
		snprintf(how, sizeof(how), "killed at bpf() call %d of %d", i, calls);
		start_killed_at_bpf(i);
		check_after_kill(&ks, how);
	}
	for (i = 0; i < kills; i++) {
		delay = rand_r(&seed) % (start_us * 5 / 4 + 1);
		snprintf(how, sizeof(how), "killed after %ld us", delay);
		start_killed_after(delay);
		check_after_kill(&ks, how);
	}
	report_kills(&ks, calls - first + 1 + kills);
	release_many();
}

/*
 * show opens the link pin, then stop removes every pin, then show opens the
 * maps: it must say that no tracker is pinned, not blame another version.
 */
static void test_show_racing_stop(void **state)
{
	char *argv[] = { connpeak_bin(), "show", "--pin-dir", h_pin_dir, NULL };
	int efd, calls, status;
	char err[1024];
	ssize_t n;
	pid_t pid;

	h_require();
	h_start();
	efd = memfd_create("show-err", MFD_CLOEXEC);
	h_fd_track(efd);
	pid = spawn_cp(argv, true, efd);
	calls = run_to_bpf(pid, 2, BPF_OBJ_GET);
	H_EQ(2, calls, "show: pins opened before it was held");
	h_stop();
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	status = h_child_wait(pid);
	n = pread(efd, err, sizeof(err) - 1, 0);
	err[n > 0 ? n : 0] = '\0';
	print_message("show held between its link pin and its maps while stop ran: exit status "
		      "%d, stderr: %s", status, err);
	H_EQ(1, status, "show: exit status");
	if (!strstr(err, "no tracker pinned"))
		H_FAIL("show racing stop: expected 'no tracker pinned', actual: %s", err);
}

/* ---- a daemon losing its pins or its bpffs ---- */

struct daemon_run {
	pid_t pid;
	int err_fd;
	char state[64];
};

static void daemon_start(struct daemon_run *d, const char *pin_dir)
{
	char *args[] = { "--state-dir", d->state, "--listen", "off", "--limit", "16502=3", NULL };
	long long deadline = h_now_ms() + DAEMON_WAIT_MS;
	char buf[4096];
	ssize_t n = 0;

	snprintf(d->state, sizeof(d->state), "/tmp/connpeak-faults-%d", (int)getpid());
	d->err_fd = memfd_create("daemon-err", MFD_CLOEXEC);
	h_fd_track(d->err_fd);
	d->pid = h_cp_spawn(-1, d->err_fd, pin_dir, "daemon", args);
	do {
		h_nap_ms(20);
		n = pread(d->err_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
	} while (!strstr(buf, "watching") && h_now_ms() < deadline);
	if (!strstr(buf, "watching"))
		H_FAIL("daemon: not watching within %d ms; stderr: %s", DAEMON_WAIT_MS, buf);
}

static void daemon_stderr(const struct daemon_run *d, char *buf, size_t len)
{
	ssize_t n = pread(d->err_fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
}

/* Its id, from bpftool, of the link pinned at path; -1 if none. */
static long link_id(const char *path)
{
	char *argv[] = { "bpftool", "-j", "link", "show", "pinned", (char *)path, NULL };
	struct h_out o;
	long id = -1;
	char *p;

	if (!h_run(&o, argv) && o.status == 0 && (p = strstr(o.out, "\"id\":")))
		id = strtol(p + 5, NULL, 10);
	h_out_free(&o);
	return id;
}

static bool link_exists(long id)
{
	char arg[32];
	char *argv[] = { "bpftool", "link", "show", "id", arg, NULL };
	struct h_out o;
	bool found;

	snprintf(arg, sizeof(arg), "%ld", id);
	found = !h_run(&o, argv) && o.status == 0;
	h_out_free(&o);
	return found;
}

/* Cross the limit of 3 and fall back, then SIGHUP and SIGTERM: it must exit, not die. */
static void daemon_survives(struct daemon_run *d, long id, const char *what)
{
	char buf[8192];
	int lfd, fds[8], i, status;

	lfd = h_listen("127.0.0.1", PORT_DAEMON, 16);
	for (i = 0; i < 4; i++) {
		fds[2 * i] = h_connect("127.0.0.1", PORT_DAEMON);
		fds[2 * i + 1] = h_accept(lfd);
	}
	for (i = 0; i < 8; i++)
		h_close(fds[i]);
	h_close(lfd);
	h_nap_ms(300);
	kill(d->pid, SIGHUP);
	h_nap_ms(200);
	H_EQ(0, waitpid(d->pid, &status, WNOHANG), "%s: daemon still running after SIGHUP", what);
	kill(d->pid, SIGTERM);
	status = h_child_wait(d->pid);
	daemon_stderr(d, buf, sizeof(buf));
	print_message("%s: daemon exit status %d; stderr:\n%s", what, status, buf);
	H_LE(1, status, "%s: daemon exit status (128 + signal if killed)", what);
	if (!strstr(buf, "limit reached"))
		H_FAIL("%s: the daemon logged no alert after its pins went: %s", what, buf);
	H_EQ(false, link_exists(id), "%s: link %ld still exists after the daemon exited", what,
	     id);
	h_close(d->err_fd);
}

static void rm_pins(const char *dir)
{
	char path[256];
	size_t i;

	for (i = 0; i < NR_PINS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pin_names[i]);
		unlink(path);
	}
	if (rmdir(dir))
		H_FAIL("rmdir %s: %s", dir, strerror(errno));
}

static void rm_state(const struct daemon_run *d)
{
	char *argv[] = { "rm", "-rf", (char *)d->state, NULL };
	struct h_out o;

	h_run(&o, argv);
	h_out_free(&o);
}

static void test_daemon_pins_removed(void **state)
{
	struct daemon_run d;
	char path[128];
	long id;

	h_require();
	h_start();
	daemon_start(&d, h_pin_dir);
	snprintf(path, sizeof(path), "%s/link", h_pin_dir);
	id = link_id(path);
	H_LE(id, 0, "link id of %s", path);
	rm_pins(h_pin_dir);
	daemon_survives(&d, id, "pin directory removed");
	rm_state(&d);
}

/* In a mount namespace of this process's own, with a bpffs mounted here only. */
static void test_daemon_bpffs_unmounted(void **state)
{
	char mnt[] = "/tmp/connpeak-bpffs-XXXXXX", pins[128], path[160];
	struct daemon_run d;
	struct h_out o;
	long id;

	h_require();
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		H_FAIL("private mount namespace: %s", strerror(errno));
	if (!mkdtemp(mnt) || mount("bpf", mnt, "bpf", 0, "mode=0700"))
		H_FAIL("mount bpffs on %s: %s", mnt, strerror(errno));
	snprintf(pins, sizeof(pins), "%s/cp", mnt);
	daemon_start(&d, pins);
	snprintf(path, sizeof(path), "%s/link", pins);
	id = link_id(path);
	H_LE(id, 0, "link id of %s", path);
	if (umount2(mnt, MNT_DETACH))
		H_FAIL("umount %s: %s", mnt, strerror(errno));
	h_cp_dir(&o, pins, "show", NULL);
	H_EQ(1, o.status, "show on the unmounted pin dir: exit status; stderr: %s", o.err);
	h_out_free(&o);
	daemon_survives(&d, id, "bpffs unmounted");
	rmdir(mnt);
	rm_state(&d);
}

/* ---- a lapped history ring ---- */

static __u64 boot_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

#define RING_STEPS	12

/* Counts held in successive seconds; each change made early in its second. */
static const int ring_counts[RING_STEPS] = { 3, 7, 2, 9, 0, 5, 5, 1, 8, 4, 6, 2 };

struct ring_run {
	__u64 bucket[RING_STEPS];	/* the second each count was set in */
	bool clean[RING_STEPS];		/* the change stayed within that second */
	int lfd, n;
	int fds[2 * 16];
};

static void set_count(struct ring_run *r, int want)
{
	while (r->n < want) {
		r->fds[2 * r->n] = h_connect("127.0.0.1", PORT_RING);
		r->fds[2 * r->n + 1] = h_accept(r->lfd);
		r->n++;
	}
	while (r->n > want) {
		r->n--;
		h_close(r->fds[2 * r->n]);
		h_close(r->fds[2 * r->n + 1]);
	}
}

static void drive_ring(struct ring_run *r)
{
	__u64 t;
	int i;

	r->lfd = h_listen("127.0.0.1", PORT_RING, 64);
	for (i = 0; i < RING_STEPS; i++) {
		t = boot_ms();
		h_nap_ms(1000 - t % 1000 + 150);	/* 150 ms into the next second */
		t = boot_ms();
		set_count(r, ring_counts[i]);
		r->bucket[i] = t / 1000;
		r->clean[i] = boot_ms() / 1000 == r->bucket[i] && t % 1000 < 700;
	}
}

/* The peak a bucket must show: the count at its start, or more if raised in it. */
static long long want_peak(const struct ring_run *r, __u64 b)
{
	int i, before = 0;

	for (i = 0; i < RING_STEPS && r->bucket[i] < b; i++)
		before = ring_counts[i];
	if (i < RING_STEPS && r->bucket[i] == b)
		return r->clean[i] ? (before > ring_counts[i] ? before : ring_counts[i]) : -1;
	return before;
}

/* history --json --by bucket: the peaks, oldest first, and the bucket of the last one. */
static int history_peaks(const char *state_dir, long long *peaks, int max, __u64 *last)
{
	const char *p;
	struct h_out o;
	__u64 before;
	int n = 0;

	do {
		before = boot_ms() / 1000;
		h_cp(&o, "history", "--json", "--by", "bucket", "--state-dir", state_dir, "16503",
		     NULL);
		*last = boot_ms() / 1000;
		if (*last != before)
			h_out_free(&o);
	} while (*last != before);
	if (o.status != 0)
		H_FAIL("history: exit status %d: %s", o.status, o.err);
	for (p = o.out; (p = strstr(p, "\"peak\":")) && n < max; p += 7)
		peaks[n++] = strtoll(p + 7, NULL, 10);
	h_out_free(&o);
	return n;
}

static void expect_ring(const struct ring_run *r, const char *state_dir, int want_n,
			const char *what)
{
	long long peaks[256], want;
	int n, i, checked = 0, unclear = 0;
	__u64 last, b;

	n = history_peaks(state_dir, peaks, 256, &last);
	if (want_n >= 0)
		H_EQ(want_n, n, "%s: buckets shown", what);
	for (i = 0; i < n; i++) {
		b = last - (n - 1 - i);
		want = want_peak(r, b);
		if (b < r->bucket[0])
			continue;
		if (want < 0) {
			unclear++;
			continue;
		}
		H_EQ(want, peaks[i], "%s: peak of bucket %d of %d (%llu s after the first "
		     "change)", what, i + 1, n, (unsigned long long)(b - r->bucket[0]));
		checked++;
	}
	print_message("%s: %d buckets shown, %d checked, %d with a change that crossed a "
		      "second\n", what, n, checked, unclear);
	H_LE(2, unclear, "%s: buckets whose change crossed into the next second", what);
	H_LE(checked, 4, "%s: buckets checked", what);
}

static void test_history_ring_lapped(void **state)
{
	struct ring_run r = {};
	struct daemon_run d;
	struct h_out o;

	h_require();
	h_cp(&o, "start", "--bucket", "1", "--keep", "5s", "16503", NULL);
	H_EQ(0, o.status, "start --bucket 1 --keep 5s: exit status; stderr: %s", o.err);
	h_out_free(&o);
	daemon_start(&d, h_pin_dir);
	h_nap_ms(1100);
	drive_ring(&r);
	h_nap_ms(1100);
	expect_ring(&r, "/nonexistent", 5, "the ring alone");
	expect_ring(&r, d.state, -1, "the ring joined with the daemon's files");
	kill(d.pid, SIGTERM);
	H_EQ(0, h_child_wait(d.pid), "daemon exit status");
	expect_ring(&r, d.state, -1, "after the daemon saved on exit");
	set_count(&r, 0);
	h_close(r.lfd);
	h_close(d.err_fd);
	rm_state(&d);
}

/* ---- a memory cgroup limit on start ---- */

static char cg_dir[128];
static const char *cg_limit_file;

/* A memory cgroup to put start in: v2 with a memory controller, else v1. */
static bool cgroup_setup(void)
{
	char buf[256] = "";
	FILE *f = fopen("/sys/fs/cgroup/cgroup.subtree_control", "re");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	if (strstr(buf, "memory")) {
		snprintf(cg_dir, sizeof(cg_dir), "/sys/fs/cgroup/connpeak-faults-%d",
			 (int)getpid());
		cg_limit_file = "memory.max";
	} else if (!access("/sys/fs/cgroup/memory/memory.limit_in_bytes", W_OK)) {
		snprintf(cg_dir, sizeof(cg_dir), "/sys/fs/cgroup/memory/connpeak-faults-%d",
			 (int)getpid());
		cg_limit_file = "memory.limit_in_bytes";
	} else {
		return false;
	}
	return mkdir(cg_dir, 0755) == 0;
}

static int cg_write(const char *file, const char *value)
{
	char path[192];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", cg_dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		err = -errno;
	close(fd);
	return err;
}

static long long cg_read(const char *file)
{
	char path[192], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", cg_dir, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return atoll(buf);
}

/* connpeak start inside the cgroup; its exit status and stderr. */
static int start_in_cgroup(char *err, size_t len)
{
	char *argv[] = { connpeak_bin(), "start", "--pin-dir", h_pin_dir, NULL };
	int efd = memfd_create("cg-err", MFD_CLOEXEC), status;
	char pid[16];
	ssize_t n;
	pid_t child;

	child = fork();
	if (child == 0) {
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (cg_write("cgroup.procs", pid))
			_exit(126);
		dup2(efd, 2);
		close_range(3, ~0U, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		_exit(127);
	}
	h_child_track(child);
	status = h_child_wait(child);
	n = pread(efd, err, len - 1, 0);
	err[n > 0 ? n : 0] = '\0';
	close(efd);
	return status;
}

struct cg_stats {
	int exact, refused, killed, warned;
};

/* One start under limit: exact, refused with a message, or a loss that show reports. */
static void cg_try(long long limit, struct cg_stats *cs)
{
	char value[32], err[4096];
	const struct h_row *r;
	struct h_rows rows;
	struct h_out o;
	int status, want = HOLDERS * HOLD_EACH;

	snprintf(value, sizeof(value), "%lld", limit);
	if (cg_write(cg_limit_file, value)) {
		print_message("limit %s: could not be set: %s\n", value, strerror(errno));
		return;
	}
	status = start_in_cgroup(err, sizeof(err));
	if (status == 128 + SIGKILL) {
		cs->killed++;
		print_message("limit %lld: start killed (the cgroup's OOM killer)\n", limit);
		check_after_kill(&(struct kill_stats){}, "start killed by the OOM killer");
		return;
	}
	if (status != 0) {
		if (!err[0] || h_pinned())
			H_FAIL("limit %lld: start exit status %d, stderr '%s', link pinned %d",
			       limit, status, err, h_pinned());
		cs->refused++;
		print_message("limit %lld: start refused: %s", limit, err);
		return;
	}
	h_cp(&o, "show", "--json", NULL);
	h_json_parse(o.out, &rows, err, sizeof(err));
	r = h_rows_find(&rows, PORT_CG, H_IN);
	if (r && (long long)r->current == want) {
		cs->exact++;
	} else if (strstr(o.err, "socket storage allocations failed")) {
		cs->warned++;
		print_message("limit %lld: %llu of %d counted, and show says: %s", limit,
			      r ? r->current : 0, want, o.err);
	} else {
		H_FAIL("limit %lld: %llu of %d counted and show said nothing: stderr '%s'", limit,
		       r ? r->current : 0, want, o.err);
	}
	h_out_free(&o);
	h_stop();
}

static void test_memory_cgroup(void **state)
{
	struct cg_stats cs = {};
	long long used, limit;
	char err[4096];
	int i, steps;

	h_require();
	if (!cgroup_setup()) {
		print_message("no writable memory cgroup (v2 with memory, or v1): skipped\n");
		skip();
	}
	hold_many(PORT_CG);
	if (start_in_cgroup(err, sizeof(err)))
		H_FAIL("start in the cgroup without a limit failed: %s", err);
	used = cg_read(strcmp(cg_limit_file, "memory.max") ? "memory.max_usage_in_bytes" :
		       "memory.peak");
	h_stop();
	print_message("%s: start used up to %lld bytes\n", cg_dir, used);
	steps = getenv("FAULT_FULL") ? 11 : 4;
	for (i = 0; i < steps && used > 0; i++) {
		limit = used * (60 + 40 * i / steps) / 100;
		cg_try(limit, &cs);
	}
	print_message("memory limits: %d exact, %d refused with a message, %d killed, %d losses "
		      "reported by show\n", cs.exact, cs.refused, cs.killed, cs.warned);
	release_many();
}

static int cg_teardown(void **state)
{
	h_teardown(state);
	if (cg_dir[0])
		rmdir(cg_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_kill_during_start),
		H_TEST(test_show_racing_stop),
		H_TEST(test_daemon_pins_removed),
		H_TEST(test_history_ring_lapped),
		cmocka_unit_test_teardown(test_memory_cgroup, cg_teardown),
		/* Last: it moves this process into a mount namespace of its own. */
		H_TEST(test_daemon_bpffs_unmounted),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
