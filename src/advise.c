// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <string.h>
#include <time.h>
#include "history.h"

#define DAY_SECS 86400

unsigned int advise_limit(unsigned int peak, unsigned int headroom_pct)
{
	unsigned long long scaled = (unsigned long long)peak * (100 + headroom_pct);

	return (unsigned int)((scaled + 99) / 100);
}

/* The local hour the daily peak falls in most often; ties go to the higher peak. */
static int usual_hour(const struct hist_point *pts, size_t n)
{
	unsigned int count[24] = {}, best_peak[24] = {}, day_peak = 0;
	int day = -1, day_hour = -1, h, best = -1;
	struct tm tm;
	size_t i;

	for (i = 0; i <= n; i++) {
		if (i < n)
			localtime_r(&pts[i].start, &tm);
		if (i == n || tm.tm_yday != day) {
			if (day_hour >= 0 && day_peak) {
				count[day_hour]++;
				if (day_peak > best_peak[day_hour])
					best_peak[day_hour] = day_peak;
			}
			if (i == n)
				break;
			day = tm.tm_yday;
			day_peak = 0;
			day_hour = -1;
		}
		if (pts[i].peak > day_peak) {
			day_peak = pts[i].peak;
			day_hour = tm.tm_hour;
		}
	}
	for (h = 0; h < 24; h++)
		if (count[h] && (best < 0 || count[h] > count[best] ||
				 (count[h] == count[best] && best_peak[h] > best_peak[best])))
			best = h;
	return best;
}

void advise_points(const struct hist_point *pts, size_t n, unsigned int headroom_pct, time_t now,
		   struct advice *a)
{
	size_t i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < n; i++) {
		if (pts[i].peak > a->peak)
			a->peak = pts[i].peak;
		if (pts[i].start >= now - DAY_SECS) {
			if (pts[i].peak > a->recent_peak)
				a->recent_peak = pts[i].peak;
		} else {
			a->earlier_known = true;
			if (pts[i].peak > a->earlier_peak)
				a->earlier_peak = pts[i].peak;
		}
	}
	a->usual_hour = usual_hour(pts, n);
	a->limit = advise_limit(a->peak, headroom_pct);
	a->changed = a->earlier_known &&
		     (unsigned long long)a->recent_peak * 100 >
		     (unsigned long long)a->earlier_peak * (100 + headroom_pct);
}

const char *service_label(unsigned int port)
{
	static const struct { unsigned int port; const char *label; } labels[] = {
		{ 25, "SMTP" }, { 465, "SMTPS" }, { 587, "SMTP Submission" },
		{ 110, "POP3" }, { 995, "POP3S" }, { 143, "IMAP" }, { 993, "IMAPS" },
		{ 80, "HTTP" }, { 443, "HTTPS" }, { 119, "NNTP" }, { 563, "NNTPS" },
		{ 389, "LDAP" }, { 636, "LDAPS" },
	};
	size_t i;

	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (labels[i].port == port)
			return labels[i].label;
	return NULL;
}
