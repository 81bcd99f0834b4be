// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * The daemon's history files: one line per saved bucket, written whole and
 * read back, a torn last line ignored and then cut, and the newest bucket
 * of a run. Files live in a temporary directory of the test's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "statefile.h"

#define BOOT_A	"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
#define BOOT_B	"11111111-2222-3333-4444-555555555555"
#define PORT	2525

static char tmp_dir[] = "/tmp/connpeak-statefile-XXXXXX";
static char log_path[PATH_MAX];

static int setup(void **state)
{
	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(log_path, sizeof(log_path), "%s/history-%d.log", tmp_dir, PORT);
	return 0;
}

static int teardown(void **state)
{
	unlink(log_path);
	rmdir(tmp_dir);
	return 0;
}

/* Each test starts without a file. */
static int fresh(void **state)
{
	unlink(log_path);
	return 0;
}

static struct state_rec rec(const char *boot, unsigned long long run, unsigned int bucket,
			    unsigned int peak, unsigned int start)
{
	struct state_rec r = {
		.run_start_ns = run,
		.bucket = bucket,
		.bucket_s = 300,
		.wall_start = 1796000000 + (time_t)bucket * 300,
		.peak = peak,
		.start = start,
	};

	snprintf(r.boot_id, sizeof(r.boot_id), "%s", boot);
	return r;
}

static void expect_same(const struct state_rec *want, const struct state_rec *got)
{
	assert_string_equal(got->boot_id, want->boot_id);
	assert_int_equal(got->run_start_ns, want->run_start_ns);
	assert_int_equal(got->bucket, want->bucket);
	assert_int_equal(got->bucket_s, want->bucket_s);
	assert_int_equal(got->wall_start, want->wall_start);
	assert_int_equal(got->peak, want->peak);
	assert_int_equal(got->start, want->start);
}

static char *file_text(void)
{
	static char buf[4096];
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static void write_raw(const char *text)
{
	int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static size_t format(char *buf, size_t len, const struct state_rec *r)
{
	int n = statefile__format(buf, len, r);

	assert_true(n > 0 && (size_t)n < len);
	return n;
}

static void test_format_exact(void **state)
{
	struct state_rec r = rec(BOOT_A, 123456789012ULL, 45, 7, 3);
	char line[256];

	r.bucket_s = 1;
	r.wall_start = 1796000045;
	assert_int_equal(statefile__format(line, sizeof(line), &r),
			 (int)strlen("1 " BOOT_A " 123456789012 45 1 1796000045 7 3\n"));
	assert_string_equal(line, "1 " BOOT_A " 123456789012 45 1 1796000045 7 3\n");
}

static void test_round_trip(void **state)
{
	struct state_rec in[] = {
		rec(BOOT_A, 1, 0, 0, 0),
		rec(BOOT_B, 18446744073709551615ULL, 4294967295U, 4294967295U, 4294967294U),
		rec(BOOT_A, 987654321, 3329, 20000, 19999),
	};
	struct state_rec out;
	char line[256];
	size_t i;

	in[1].bucket_s = 86400;
	in[1].wall_start = 0;
	in[2].wall_start = -86400;	/* a clock set before 1970 */
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		format(line, sizeof(line), &in[i]);
		memset(&out, 0xa5, sizeof(out));
		assert_int_equal(statefile__parse(line, &out), 0);
		expect_same(&in[i], &out);
	}
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"1 " BOOT_A " 5 3 300 1796000900 7 2",		/* torn: no newline */
		"1 " BOOT_A " 5 3 300 1796000900 7\n",		/* a field short */
		"1 " BOOT_A " 5 3 300 1796000900 7 2 9\n",	/* a field too many */
		"2 " BOOT_A " 5 3 300 1796000900 7 2\n",	/* another version */
		"1 " BOOT_A " 5 3 300 1796000900 7 2x\n",
		"1 " BOOT_A " 5 3 300 1796000900 7 2 \n",
		"1 " BOOT_A " 5 three 300 1796000900 7 2\n",
		"1 " BOOT_A " 5 -3 300 1796000900 7 2\n",	/* would wrap */
		"1 " BOOT_A " 5 3 300 1796000900 7 4294967296\n",
		"1 " BOOT_A " 18446744073709551616 3 300 1796000900 7 2\n",
		"1 " BOOT_A " 5 3 300 9223372036854775808 7 2\n",
		"1 " BOOT_A " 5 +3 300 1796000900 7 2\n",
		"1 " BOOT_A " 5  3 300 1796000900 7 2\n",
		"1 " BOOT_A " 5 3 300 - 7 2\n",
		" 1 " BOOT_A " 5 3 300 1796000900 7 2\n",
		"1 " BOOT_A "0123 5 3 300 1796000900 7 2\n",	/* boot id too long */
		"\n",
		"",
		"# a comment\n",
	};
	struct state_rec r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (statefile__parse(bad[i], &r) != -EINVAL)
			fail_msg("line '%s': expected -EINVAL", bad[i]);
}

static void test_read_missing(void **state)
{
	struct state_rec *recs = NULL;
	size_t n = 99;

	assert_int_equal(statefile__read(tmp_dir, PORT, &recs, &n), -ENOENT);
}

static void test_append_read(void **state)
{
	struct state_rec a = rec(BOOT_A, 100, 7, 5, 1), b = rec(BOOT_A, 100, 9, 6, 5);
	struct state_rec c = rec(BOOT_B, 200, 1, 2, 0);
	struct state_rec *recs = NULL;
	char buf[512];
	size_t len, n = 0;
	struct stat st;

	len = format(buf, sizeof(buf), &a);
	len += format(buf + len, sizeof(buf) - len, &b);
	assert_int_equal(statefile__append(tmp_dir, PORT, buf, len), 0);
	assert_int_equal(stat(log_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	len = format(buf, sizeof(buf), &c);
	assert_int_equal(statefile__append(tmp_dir, PORT, buf, len), 0);

	assert_int_equal(statefile__read(tmp_dir, PORT, &recs, &n), 0);
	assert_int_equal(n, 3);
	expect_same(&a, &recs[0]);
	expect_same(&b, &recs[1]);
	expect_same(&c, &recs[2]);
	free(recs);
}

/* An empty file reads as no records. */
static void test_read_empty(void **state)
{
	struct state_rec *recs = NULL;
	size_t n = 99;

	write_raw("");
	assert_int_equal(statefile__read(tmp_dir, PORT, &recs, &n), 0);
	assert_int_equal(n, 0);
	free(recs);
}

/*
 * A crash mid-write leaves a last line without its newline: reading skips
 * it, and the next append cuts it off before writing, so the file holds
 * whole lines only.
 */
static void test_torn_tail(void **state)
{
	struct state_rec a = rec(BOOT_A, 100, 7, 5, 1), b = rec(BOOT_A, 100, 8, 9, 5);
	struct state_rec *recs = NULL;
	char la[256], lb[256], want[512];
	size_t n = 0;

	format(la, sizeof(la), &a);
	format(lb, sizeof(lb), &b);
	snprintf(want, sizeof(want), "%s1 %s 100 8 300 17960", la, BOOT_A);
	write_raw(want);
	assert_int_equal(statefile__read(tmp_dir, PORT, &recs, &n), 0);
	assert_int_equal(n, 1);
	expect_same(&a, &recs[0]);
	free(recs);

	assert_int_equal(statefile__append(tmp_dir, PORT, lb, strlen(lb)), 0);
	snprintf(want, sizeof(want), "%s%s", la, lb);
	assert_string_equal(file_text(), want);
	assert_int_equal(statefile__read(tmp_dir, PORT, &recs, &n), 0);
	assert_int_equal(n, 2);
	expect_same(&a, &recs[0]);
	expect_same(&b, &recs[1]);
	free(recs);
}

/* A file that is nothing but a torn line is emptied before the append. */
static void test_torn_only(void **state)
{
	struct state_rec a = rec(BOOT_A, 100, 7, 5, 1);
	struct state_rec *recs = NULL;
	char la[256];
	size_t n = 0;

	write_raw("1 " BOOT_A " 100 6 3");
	assert_int_equal(statefile__read(tmp_dir, PORT, &recs, &n), 0);
	assert_int_equal(n, 0);
	free(recs);
	format(la, sizeof(la), &a);
	assert_int_equal(statefile__append(tmp_dir, PORT, la, strlen(la)), 0);
	assert_string_equal(file_text(), la);
}

/* Lines that are not records (foreign or damaged) are skipped, the rest kept. */
static void test_read_skips_foreign(void **state)
{
	struct state_rec a = rec(BOOT_A, 100, 7, 5, 1), b = rec(BOOT_B, 5, 2, 3, 3);
	struct state_rec *recs = NULL;
	char la[256], lb[256], text[1024];
	size_t n = 0;

	format(la, sizeof(la), &a);
	format(lb, sizeof(lb), &b);
	snprintf(text, sizeof(text), "garbage\n%s9 x y z\n\n%s", la, lb);
	write_raw(text);
	assert_int_equal(statefile__read(tmp_dir, PORT, &recs, &n), 0);
	assert_int_equal(n, 2);
	expect_same(&a, &recs[0]);
	expect_same(&b, &recs[1]);
	free(recs);
}

/* More records than the first allocation holds. */
static void test_read_many(void **state)
{
	struct state_rec *recs = NULL, r;
	char *buf = malloc(1000 * 128);
	size_t len = 0, n = 0, i;

	assert_non_null(buf);
	for (i = 0; i < 1000; i++) {
		r = rec(BOOT_A, 100, i, i % 50, i % 7);
		len += format(buf + len, 128, &r);
	}
	assert_int_equal(statefile__append(tmp_dir, PORT, buf, len), 0);
	free(buf);
	assert_int_equal(statefile__read(tmp_dir, PORT, &recs, &n), 0);
	assert_int_equal(n, 1000);
	for (i = 0; i < n; i++) {
		r = rec(BOOT_A, 100, i, i % 50, i % 7);
		expect_same(&r, &recs[i]);
	}
	free(recs);
}

/* The newest bucket of one run: same boot id and same tracker start, in any order. */
static void test_last_bucket(void **state)
{
	struct state_rec recs[] = {
		rec(BOOT_A, 100, 10, 1, 0),
		rec(BOOT_A, 100, 14, 1, 1),
		rec(BOOT_A, 200, 30, 1, 0),	/* another tracker, same boot */
		rec(BOOT_B, 100, 40, 1, 0),	/* same start time, another boot */
		rec(BOOT_A, 100, 12, 1, 1),	/* older, after a newer one */
		rec(BOOT_A, 100, 0, 1, 0),
	};
	size_t n = sizeof(recs) / sizeof(recs[0]);

	assert_int_equal(statefile__last_bucket(recs, n, BOOT_A, 100), 14);
	assert_int_equal(statefile__last_bucket(recs, n, BOOT_A, 200), 30);
	assert_int_equal(statefile__last_bucket(recs, n, BOOT_B, 100), 40);
	assert_int_equal(statefile__last_bucket(recs, n, BOOT_B, 200), -1);
	assert_int_equal(statefile__last_bucket(recs, 0, BOOT_A, 100), -1);
	assert_int_equal(statefile__last_bucket(recs + 5, 1, BOOT_A, 100), 0);
}

static void test_boot_id(void **state)
{
	char id[40];

	assert_int_equal(statefile__boot_id(id, sizeof(id)), 0);
	assert_int_equal(strlen(id), 36);
	assert_null(strchr(id, '\n'));
	assert_null(strchr(id, ' '));
}

#define T(fn) cmocka_unit_test_setup(fn, fresh)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_format_exact),
		T(test_round_trip),
		T(test_parse_bad),
		T(test_read_missing),
		T(test_append_read),
		T(test_read_empty),
		T(test_torn_tail),
		T(test_torn_only),
		T(test_read_skips_foreign),
		T(test_read_many),
		T(test_last_bucket),
		T(test_boot_id),
	};

	return cmocka_run_group_tests_name("statefile", tests, setup, teardown);
}
