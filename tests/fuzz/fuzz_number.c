// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * parse_ulong and parse_duration against a reading of our own. The first
 * byte picks the bounds: arbitrary ones for parse_ulong, and those of the
 * callers for parse_duration (start --bucket, start --keep, history -N).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include "fuzz.h"
#include "opts.h"

struct duration_use {
	unsigned long unit, min, max;
};

static const struct duration_use uses[] = {
	{ 1, 1, 86400 },		/* start --bucket */
	{ 86400, 1, 366 * 86400UL },	/* start --keep */
	{ 1, 0, 3660UL * 86400 },	/* history --since -N */
};

/* Digits only: 0 and *v (ULONG_MAX when too big); -EINVAL otherwise. */
static int read_digits(const char *s, size_t len, unsigned long *v)
{
	unsigned __int128 x = 0;
	size_t i;

	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		x = x * 10 + (unsigned)(s[i] - '0');
		if (x > ULONG_MAX)
			x = (unsigned __int128)ULONG_MAX + 1;
	}
	*v = x > ULONG_MAX ? ULONG_MAX : (unsigned long)x;
	return x > ULONG_MAX ? -ERANGE : 0;
}

static void fuzz_ulong(const char *s, unsigned long min, unsigned long max)
{
	unsigned long got = 7, want = 0;
	int err = parse_ulong(s, min, max, &got), expect;

	expect = read_digits(s, strlen(s), &want);
	if (!expect && (want < min || want > max))
		expect = -ERANGE;
	fuzz_check(err == expect, "parse_ulong('%s', %lu, %lu): err %d, expected %d", s, min,
		   max, err, expect);
	fuzz_check(err ? got == 7 : got == want, "parse_ulong('%s'): value %lu, expected %lu",
		   s, got, want);
}

static unsigned long suffix_unit(char c, unsigned long unit)
{
	switch (c) {
	case 's': return 1;
	case 'm': return 60;
	case 'h': return 3600;
	case 'd': return 86400;
	}
	return unit;
}

static void fuzz_duration(const char *s, const struct duration_use *u)
{
	size_t len = strlen(s), digits = len;
	unsigned long got = 7, v = 0, unit = u->unit;
	int err = parse_duration(s, u->unit, u->min, u->max, &got), expect;

	if (len && suffix_unit(s[len - 1], 0)) {
		unit = suffix_unit(s[len - 1], 0);
		digits--;
	}
	expect = len && len < 32 ? read_digits(s, digits, &v) : -EINVAL;
	if (!expect && (v > u->max / unit || v * unit < u->min))
		expect = -ERANGE;
	fuzz_check(err == expect, "parse_duration('%s', %lu, %lu, %lu): err %d, expected %d", s,
		   u->unit, u->min, u->max, err, expect);
	fuzz_check(err ? got == 7 : got == v * unit,
		   "parse_duration('%s'): %lu s, expected %lu", s, got, v * unit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long bounds[2] = { 0, 0 };
	char *s;

	if (size < 1)
		return 0;
	if (data[0] % 4 == 3) {
		if (size < 1 + sizeof(bounds))
			return 0;
		memcpy(bounds, data + 1, sizeof(bounds));
		s = fuzz_text(data + 1 + sizeof(bounds), size - 1 - sizeof(bounds));
		fuzz_ulong(s, bounds[0], bounds[1]);
	} else {
		s = fuzz_text(data + 1, size - 1);
		fuzz_duration(s, &uses[data[0] % 4]);
	}
	free(s);
	return 0;
}
