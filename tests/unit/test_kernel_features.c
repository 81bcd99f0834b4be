// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "kernel_features.h"

/* The walk goes in table order: the fake answers for row i at its i-th call. */
struct fake {
	int answer[4];
	int calls;
};

static int fake_probe(void *ctx)
{
	struct fake *f = ctx;

	return f->answer[f->calls++];
}

static const struct kernel_feature table[] = {
	{ "feature zero", "5.4", fake_probe },
	{ "feature one", "5.5", fake_probe },
	{ "feature two", "5.11", fake_probe },
	{ "feature three", "5.12", fake_probe },
};

static const struct kernel_feature *walk(struct fake *f)
{
	return kernel_features__first_missing(table, 4, f);
}

static void test_all_present_names_nothing(void **state)
{
	struct fake f = { .answer = { 1, 1, 1, 1 } };

	assert_null(walk(&f));
	assert_int_equal(4, f.calls);
}

static void test_first_missing_is_named_and_the_walk_stops(void **state)
{
	struct fake f = { .answer = { 1, 0, 0, 1 } };

	assert_ptr_equal(&table[1], walk(&f));
	assert_int_equal(2, f.calls);
}

static void test_the_last_one_can_be_missing(void **state)
{
	struct fake f = { .answer = { 1, 1, 1, 0 } };

	assert_ptr_equal(&table[3], walk(&f));
}

/* A probe that could not tell (no memory, no permission) blames nothing. */
static void test_cannot_tell_is_not_missing(void **state)
{
	struct fake f = { .answer = { -12, 1, -1, 0 } };
	struct fake g = { .answer = { -12, -1, -95, -12 } };

	assert_ptr_equal(&table[3], walk(&f));
	assert_null(walk(&g));
}

static void test_message(void **state)
{
	char buf[256];
	int n;

	n = kernel_features__message(buf, sizeof(buf), "5.10.0-32-cloud-amd64", &table[2]);
	assert_string_equal("connpeak: start failed: this kernel (5.10.0-32-cloud-amd64) lacks "
			    "feature two (Linux 5.11); connpeak needs Linux 5.17 or later with BTF",
			    buf);
	assert_int_equal(strlen(buf), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_present_names_nothing),
		cmocka_unit_test(test_first_missing_is_named_and_the_walk_stops),
		cmocka_unit_test(test_the_last_one_can_be_missing),
		cmocka_unit_test(test_cannot_tell_is_not_missing),
		cmocka_unit_test(test_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
