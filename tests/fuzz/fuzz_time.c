// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * parse_time (history --since/--until) in several time zones, some with
 * daylight saving changes at odd hours. Properties: "now" and "-N" are exact
 * arithmetic on now; an accepted date prints back, in its own format, to a
 * text that parses to the same instant.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <time.h>
#include "fuzz.h"
#include "history.h"

static const char *const zones[] = {
	"UTC0", "Europe/Berlin", "America/St_Johns", "Pacific/Chatham", "Australia/Lord_Howe",
};

static void set_zone(unsigned int i)
{
	static int current = -1;

	i %= sizeof(zones) / sizeof(zones[0]);
	if ((int)i == current)
		return;
	setenv("TZ", zones[i], 1);
	tzset();
	current = i;
}

/* "-N[smhd]": the seconds our own reading expects, or -1 if refused. */
static long long ago_secs(const char *s)
{
	static const char units[] = "smhd";
	static const long long mult[] = { 1, 60, 3600, 86400 };
	size_t len = strlen(s), i;
	long long v = 0, unit = 1;
	const char *u;

	if (len < 2 || len - 1 >= 32)
		return -1;
	u = strchr(units, s[len - 1]);
	if (u && s[len - 1]) {
		unit = mult[u - units];
		len--;
	}
	if (len < 2)
		return -1;
	for (i = 1; i < len; i++) {
		if (!isdigit((unsigned char)s[i]) || v > 3660LL * 86400)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v * unit > 3660LL * 86400 ? -1 : v * unit;
}

static void check_absolute(const char *s, time_t now, time_t out)
{
	char again[64];
	struct tm tm;
	const char *fmt = "%Y-%m-%d %H:%M:%S";
	time_t back = 0;

	if (!strchr(s, ':'))
		fmt = "%Y-%m-%d";
	fuzz_check(localtime_r(&out, &tm), "'%s': %lld has no local time", s, (long long)out);
	if (!strcmp(fmt, "%Y-%m-%d"))
		fuzz_check(tm.tm_min == 0 && tm.tm_sec == 0,
			   "'%s': a date gave %02d:%02d:%02d", s, tm.tm_hour, tm.tm_min,
			   tm.tm_sec);
	strftime(again, sizeof(again), fmt, &tm);
	fuzz_check(!parse_time(again, now, &back), "'%s' gave '%s', which is refused", s, again);
	fuzz_check(back == out, "'%s' gave %lld, '%s' gives %lld", s, (long long)out, again,
		   (long long)back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	time_t now = 1700000000, out = 0;
	long long ago;
	char *s;
	int err;

	if (size < 2)
		return 0;
	set_zone(data[0]);
	now += (time_t)data[1] * 86400 * 7;
	s = fuzz_text(data + 2, size - 2);
	err = parse_time(s, now, &out);
	fuzz_check(err == 0 || err == -EINVAL, "'%s': err %d", s, err);
	if (!strcmp(s, "now")) {
		fuzz_check(!err && out == now, "'now': err %d, %lld", err, (long long)out);
	} else if (s[0] == '-') {
		ago = ago_secs(s);
		fuzz_check(ago < 0 ? err == -EINVAL : !err && out == now - ago,
			   "'%s': err %d, %lld; expected %lld s ago", s, err, (long long)out, ago);
	} else if (!err && strcmp(s, "today") && strcmp(s, "yesterday")) {
		check_absolute(s, now, out);
	}
	if (!err && !strcmp(s, "today"))
		fuzz_check(out <= now && now - out <= 25 * 3600, "'today': %lld for now %lld",
			   (long long)out, (long long)now);
	free(s);
	return 0;
}
