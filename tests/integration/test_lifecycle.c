// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * start, stop and the commands around them: counting goes on after start
 * has exited, stop leaves nothing behind, a second start changes nothing, and
 * commands without a tracker fail with a hint.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "harness.h"

#define PORT_AFTER_EXIT	17001
#define PORT_STOP	17002
#define PORT_TWICE	17003
#define PORT_TOP_OWN	17004
#define PORT_TOP_PINNED	17005
#define PORT_TWO	17006
#define PORT_STALE	17007

#define GONE_WAIT_MS	(2000 * h_slow())

struct pinned_ids {
	__u32 link, prog, slots;
};

static int pinned_fd(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", h_pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		H_FAIL("bpf_obj_get %s: %s", path, strerror(errno));
	return fd;
}

static void read_pinned_ids(struct pinned_ids *ids)
{
	struct bpf_link_info link = {};
	struct bpf_map_info map = {};
	__u32 len;
	int fd;

	fd = pinned_fd("link");
	len = sizeof(link);
	if (bpf_obj_get_info_by_fd(fd, &link, &len))
		H_FAIL("link: bpf_obj_get_info_by_fd: %s", strerror(errno));
	close(fd);
	fd = pinned_fd("slots");
	len = sizeof(map);
	if (bpf_obj_get_info_by_fd(fd, &map, &len))
		H_FAIL("slots: bpf_obj_get_info_by_fd: %s", strerror(errno));
	close(fd);
	ids->link = link.id;
	ids->prog = link.prog_id;
	ids->slots = map.id;
	if (!ids->link || !ids->prog || !ids->slots)
		H_FAIL("pinned ids: link %u, prog %u, slots %u", ids->link, ids->prog, ids->slots);
}

/* EEXIST while the object with this id exists, else get_fd_by_id's errno. */
static int id_errno(int (*get_fd)(__u32 id), __u32 id)
{
	int fd = get_fd(id);

	if (fd < 0)
		return errno;
	close(fd);
	return EEXIST;
}

/* Poll until the object is gone: ENOENT, or the last errno seen. */
static int wait_gone(int (*get_fd)(__u32 id), __u32 id)
{
	long long deadline = h_now_ms() + GONE_WAIT_MS;
	int err;

	while ((err = id_errno(get_fd, id)) != ENOENT && h_now_ms() < deadline)
		h_nap_ms(10);
	return err;
}

static void open_pairs(const char *addr, unsigned int port, int n)
{
	int lfd = h_listen(addr, port, 64);

	while (n-- > 0) {
		h_connect(addr, port);
		h_accept(lfd);
	}
}

/* start exits at once; the pinned tracker keeps counting without it. */
static void test_counts_after_loader_exit(void **state)
{
	struct h_holder h;

	h_require();
	h_start();
	open_pairs("127.0.0.1", PORT_AFTER_EXIT, 3);
	h_expect(PORT_AFTER_EXIT, H_IN, 3, 3, 3);
	h_expect(PORT_AFTER_EXIT, H_OUT, 3, 3, 3);

	h_holder_start(&h, "127.0.0.2", PORT_AFTER_EXIT);
	h_holders_open(&h, 1, 200);
	h_expect(PORT_AFTER_EXIT, H_IN, 203, 203, 203);
	h_holder_quit(&h);
	h_expect(PORT_AFTER_EXIT, H_OUT, 3, 203, 203);
}

static void test_stop_leaves_nothing(void **state)
{
	struct pinned_ids ids;
	struct h_out o;

	h_require();
	h_start();
	open_pairs("127.0.0.1", PORT_STOP, 1);
	h_expect(PORT_STOP, H_IN, 1, 1, 1);
	read_pinned_ids(&ids);
	/* The probe sees the objects while they exist. */
	H_EQ(EEXIST, id_errno(bpf_link_get_fd_by_id, ids.link),
	     "link %u before stop: errno of get_fd_by_id", ids.link);

	h_cp(&o, "stop", NULL);
	H_EQ(0, o.status, "stop: exit status (stderr: %s)", o.err);
	h_out_free(&o);
	H_EQ(ENOENT, wait_gone(bpf_link_get_fd_by_id, ids.link),
	     "link %u after stop: errno of get_fd_by_id (EEXIST: still there)", ids.link);
	H_EQ(ENOENT, wait_gone(bpf_prog_get_fd_by_id, ids.prog),
	     "program %u after stop: errno of get_fd_by_id (EEXIST: still there)", ids.prog);
	H_EQ(ENOENT, wait_gone(bpf_map_get_fd_by_id, ids.slots),
	     "map slots %u after stop: errno of get_fd_by_id (EEXIST: still there)", ids.slots);
	H_EQ(-1, access(h_pin_dir, F_OK), "pin dir %s after stop: access", h_pin_dir);

	/* A new start counts afresh: the open pair is seeded, nothing more. */
	h_start();
	h_expect(PORT_STOP, H_IN, 1, 1, 1);
	h_expect(PORT_STOP, H_OUT, 1, 1, 1);
}

static void test_start_twice(void **state)
{
	struct pinned_ids first, after;
	struct h_out o;

	h_require();
	h_start();
	read_pinned_ids(&first);

	h_cp(&o, "start", NULL);
	H_EQ(1, o.status, "second start: exit status");
	if (!strstr(o.err, "already"))
		H_FAIL("second start: expected a message saying a tracker is already pinned, "
		       "actual stderr: '%s'", o.err);
	h_out_free(&o);
	read_pinned_ids(&after);
	H_EQ(first.link, after.link, "link pinned after the second start");
	H_EQ(first.slots, after.slots, "slots map pinned after the second start");

	open_pairs("127.0.0.1", PORT_TWICE, 2);
	h_expect(PORT_TWICE, H_IN, 2, 2, 2);
	h_expect(PORT_TWICE, H_OUT, 2, 2, 2);
}

static void expect_not_pinned(const char *cmd, const char *arg)
{
	struct h_out o;

	h_cp(&o, cmd, arg, NULL);
	H_EQ(1, o.status, "%s %s with nothing pinned: exit status", cmd, arg ? arg : "");
	if (!strstr(o.err, "connpeak start"))
		H_FAIL("%s with nothing pinned: expected a message naming 'connpeak start', "
		       "actual stderr: '%s'", cmd, o.err);
	h_out_free(&o);
}

static void test_nothing_pinned(void **state)
{
	h_require();
	expect_not_pinned("show", NULL);
	expect_not_pinned("show", "--json");
	expect_not_pinned("reset", NULL);
	expect_not_pinned("stop", NULL);

	/* An empty pin directory holds no tracker either. */
	if (mkdir(h_pin_dir, 0700))
		H_FAIL("mkdir %s: %s", h_pin_dir, strerror(errno));
	expect_not_pinned("show", "--json");
	expect_not_pinned("reset", NULL);
	expect_not_pinned("stop", NULL);
}

/* The current count of (port, "in") in a top table, or -1 without a row. */
static long long top_current_in(const char *table, unsigned int port)
{
	unsigned long long cur, peak;
	char service[64], dir[8];
	const char *line;
	unsigned int p;

	for (line = table; line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (sscanf(line, "%u %63s %7s %llu %llu", &p, service, dir, &cur, &peak) == 5 &&
		    p == port && !strcmp(dir, "in"))
			return (long long)cur;
	}
	return -1;
}

/* Without a pinned tracker, top loads its own, seeds it, and pins nothing. */
static void test_top_own_tracker(void **state)
{
	struct h_out o;
	int ss;

	h_require();
	open_pairs("127.0.0.1", PORT_TOP_OWN, 2);
	ss = h_ss_wait(PORT_TOP_OWN, H_IN, 2);
	H_EQ(2, ss, "ss: port %d in, open sockets vs the test's count", PORT_TOP_OWN);
	h_cp(&o, "top", "-n", "1", NULL);
	H_EQ(0, o.status, "top -n 1: exit status (stderr: %s)", o.err);
	if (!strstr(o.out, "held by this process"))
		H_FAIL("top -n 1: expected its own tracker, actual output: %s", o.out);
	H_EQ(ss, top_current_in(o.out, PORT_TOP_OWN), "top -n 1: port %d in current vs ss",
	     PORT_TOP_OWN);
	h_out_free(&o);
	H_EQ(-1, access(h_pin_dir, F_OK), "pin dir %s after top: access", h_pin_dir);
}

static void test_top_pinned_tracker(void **state)
{
	struct h_out o;

	h_require();
	h_start();
	open_pairs("127.0.0.1", PORT_TOP_PINNED, 3);
	h_expect(PORT_TOP_PINNED, H_IN, 3, 3, 3);
	h_cp(&o, "top", "-n", "1", NULL);
	H_EQ(0, o.status, "top -n 1: exit status (stderr: %s)", o.err);
	if (strstr(o.out, "held by this process"))
		H_FAIL("top -n 1: expected the pinned tracker, actual output: %s", o.out);
	H_EQ(3, top_current_in(o.out, PORT_TOP_PINNED), "top -n 1: port %d in current",
	     PORT_TOP_PINNED);
	h_out_free(&o);
	H_EQ(1, h_pinned(), "tracker still pinned after top");
}

/* The row (port, "in") of the tracker pinned under dir, checked against ss. */
static void expect_in_at(const char *dir, unsigned int port, long long cur, long long peak,
			 long long total)
{
	const struct h_row *r;
	struct h_rows rows;
	struct h_out o;
	char why[256];

	H_EQ(cur, h_ss_wait(port, H_IN, cur), "ss: port %u in, open sockets vs the test's count",
	     port);
	h_cp_dir(&o, dir, "show", "--json", NULL);
	H_EQ(0, o.status, "show --pin-dir %s: exit status (stderr: %s)", dir, o.err);
	if (h_json_parse(o.out, &rows, why, sizeof(why)))
		H_FAIL("show --pin-dir %s: %s", dir, why);
	h_out_free(&o);
	r = h_rows_find(&rows, port, H_IN);
	if (!r)
		H_FAIL("%s: port %u in: no row; output: %s", dir, port, rows.text);
	H_EQ(cur, r->current, "%s: port %u in: current", dir, port);
	H_EQ(peak, r->peak, "%s: port %u in: peak", dir, port);
	H_EQ(total, r->total, "%s: port %u in: total", dir, port);
}

/* Two trackers under two pin directories count independently. */
static void test_two_trackers(void **state)
{
	struct h_out o;
	int lfd, c[3], a[3], i;

	h_require();
	h_start();
	lfd = h_listen("127.0.0.1", PORT_TWO, 16);
	for (i = 0; i < 2; i++) {
		c[i] = h_connect("127.0.0.1", PORT_TWO);
		a[i] = h_accept(lfd);
	}
	h_cp_dir(&o, h_pin_dir2, "start", NULL);
	H_EQ(0, o.status, "start --pin-dir %s: exit status (stderr: %s)", h_pin_dir2, o.err);
	h_out_free(&o);
	c[2] = h_connect("127.0.0.1", PORT_TWO);
	a[2] = h_accept(lfd);
	expect_in_at(h_pin_dir, PORT_TWO, 3, 3, 3);
	expect_in_at(h_pin_dir2, PORT_TWO, 3, 3, 3);

	/* Stopping the first leaves the second counting. */
	h_stop();
	h_close(c[0]);
	h_close(a[0]);
	expect_in_at(h_pin_dir2, PORT_TWO, 2, 3, 3);
	h_cp_dir(&o, h_pin_dir2, "stop", NULL);
	H_EQ(0, o.status, "stop --pin-dir %s: exit status (stderr: %s)", h_pin_dir2, o.err);
	h_out_free(&o);
}

/* Map pins left without a link, as by a start that was killed, do not block start. */
static void test_start_over_stale_pins(void **state)
{
	char path[128];
	int fd;

	h_require();
	if (mkdir(h_pin_dir, 0700))
		H_FAIL("mkdir %s: %s", h_pin_dir, strerror(errno));
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "itest_stale", 4, 8, 1, NULL);
	snprintf(path, sizeof(path), "%s/slots", h_pin_dir);
	if (fd < 0 || bpf_obj_pin(fd, path))
		H_FAIL("pin a stale map at %s: %s", path, strerror(errno));
	close(fd);

	h_start();
	open_pairs("127.0.0.1", PORT_STALE, 2);
	h_expect(PORT_STALE, H_IN, 2, 2, 2);
	h_expect(PORT_STALE, H_OUT, 2, 2, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_counts_after_loader_exit),
		H_TEST(test_stop_leaves_nothing),
		H_TEST(test_start_twice),
		H_TEST(test_nothing_pinned),
		H_TEST(test_top_own_tracker),
		H_TEST(test_top_pinned_tracker),
		H_TEST(test_two_trackers),
		H_TEST(test_start_over_stale_pins),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
