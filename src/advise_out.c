// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include "advise.h"
#include "services.h"

static const char *label_of(unsigned int port)
{
	const char *label = service_label(port);

	return label ? label : services__name(port);
}

static void print_notes(FILE *out, const struct service_advice *sa, unsigned long headroom)
{
	if (!sa->a.peak)
		fprintf(out, " no connection open in the history kept");
	if (sa->a.changed)
		fprintf(out, " pattern changed: last 24 h peak %u, days before %u (+%lu%%)",
			sa->a.recent_peak, sa->a.earlier_peak, headroom);
	if (sa->users_start)
		fprintf(out, " under a day of history: start from 5 x users = %lu",
			sa->users_start);
}

void print_advice_table(FILE *out, const struct advise_report *r)
{
	const struct service_advice *sa;
	const char *label;
	size_t i;

	fprintf(out, "%-16s %5s %8s  %-10s %10s  %s\n", "SERVICE", "PORT", "PEAK", "USUAL HOUR",
		"LIMIT", "NOTE");
	for (i = 0; i < r->n; i++) {
		sa = &r->sa[i];
		label = label_of(sa->port);
		fprintf(out, "%-16.16s %5u %8u  ", label ? label : "-", sa->port, sa->a.peak);
		if (sa->a.usual_hour >= 0)
			fprintf(out, "%02d:00      ", sa->a.usual_hour);
		else
			fprintf(out, "%-11s", "-");
		fprintf(out, "%10u ", sa->a.limit);
		print_notes(out, sa, r->headroom);
		fputc('\n', out);
	}
	fprintf(out, "LIMIT = ceil(PEAK x %lu%%)\n", 100 + r->headroom);
}

static void print_row_json(FILE *out, const struct service_advice *sa, unsigned long headroom)
{
	const char *label = label_of(sa->port);

	fprintf(out, "{\"port\":%u,\"service\":", sa->port);
	if (label)
		fprintf(out, "\"%s\"", label);
	else
		fputs("null", out);
	fprintf(out, ",\"peak\":%u,\"usual_hour\":", sa->a.peak);
	if (sa->a.usual_hour >= 0)
		fprintf(out, "%d", sa->a.usual_hour);
	else
		fputs("null", out);
	fprintf(out, ",\"headroom_pct\":%lu,\"limit\":%u,\"pattern_changed\":%s,"
		"\"users_start\":", headroom, sa->a.limit, sa->a.changed ? "true" : "false");
	if (sa->users_start)
		fprintf(out, "%lu}", sa->users_start);
	else
		fputs("null}", out);
}

void print_advice_json(FILE *out, const struct advise_report *r)
{
	size_t i;

	fputs("{\"advice\":[", out);
	for (i = 0; i < r->n; i++) {
		if (i)
			fputc(',', out);
		print_row_json(out, &r->sa[i], r->headroom);
	}
	fputs("]}\n", out);
}
