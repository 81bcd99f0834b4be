// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <string.h>
#include "advise.h"
#include "services.h"

static const char *label_of(unsigned int port)
{
	const char *label = service_label(port);

	return label ? label : services__name(port);
}

/* "over client limit 50: 192.0.2.7 (peak 80), ..., and 2 more" */
static void print_refused_note(FILE *out, const struct service_clients *sc, unsigned int limit)
{
	char addr[CLIENT_ADDR_LEN];
	size_t i;

	fprintf(out, "over client limit %u:", limit);
	for (i = 0; i < sc->n_refused && i < ADVISE_REFUSED_SHOWN; i++) {
		client_addr_format(addr, sizeof(addr), &sc->refused[i]->key);
		fprintf(out, "%s %s (peak %u)", i ? "," : "", addr, sc->refused[i]->peak);
	}
	if (sc->n_refused > ADVISE_REFUSED_SHOWN)
		fprintf(out, ", and %zu more", sc->n_refused - ADVISE_REFUSED_SHOWN);
}

/* The notes of a row, after a space, separated by "; ". */
static void print_notes(FILE *out, const struct service_advice *sa, const struct advise_report *r)
{
	const char *sep = " ";

	if (!sa->a.peak) {
		fprintf(out, "%sno connection open in the history kept", sep);
		sep = "; ";
	}
	if (sa->a.changed) {
		fprintf(out, "%spattern changed: last 24 h peak %u, days before %u (+%lu%%)", sep,
			sa->a.recent_peak, sa->a.earlier_peak, r->headroom);
		sep = "; ";
	}
	if (sa->users_start) {
		fprintf(out, "%sunder a day of history: start from 5 x users = %lu", sep,
			sa->users_start);
		sep = "; ";
	}
	if (r->client_limit && sa->clients.n_refused) {
		fputs(sep, out);
		print_refused_note(out, &sa->clients, r->client_limit);
	}
}

/* Width of the TOP CLIENT column: its heading or the longest address. */
static int top_width(const struct advise_report *r)
{
	char addr[CLIENT_ADDR_LEN];
	int w = (int)strlen("TOP CLIENT");
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (!r->sa[i].clients.known)
			continue;
		client_addr_format(addr, sizeof(addr), &r->sa[i].clients.top->key);
		if ((int)strlen(addr) > w)
			w = (int)strlen(addr);
	}
	return w;
}

static void print_client_cells(FILE *out, const struct service_clients *sc, int w)
{
	char addr[CLIENT_ADDR_LEN];

	if (!sc->known) {
		fprintf(out, "  %11s  %12s  %-*s", "-", "-", w, "-");
		return;
	}
	client_addr_format(addr, sizeof(addr), &sc->top->key);
	fprintf(out, "  %11u  %12u  %-*s", sc->peak, sc->limit, w, addr);
}

static void print_table_head(FILE *out, const struct advise_report *r, int w)
{
	fprintf(out, "%-16s %5s %8s  %-10s %10s", "SERVICE", "PORT", "PEAK", "USUAL HOUR",
		"LIMIT");
	if (r->clients_on)
		fprintf(out, "  %11s  %12s  %-*s", "CLIENT PEAK", "CLIENT LIMIT", w, "TOP CLIENT");
	fputs("  NOTE\n", out);
}

void print_advice_table(FILE *out, const struct advise_report *r)
{
	const struct service_advice *sa;
	int w = top_width(r);
	const char *label;
	size_t i;

	print_table_head(out, r, w);
	for (i = 0; i < r->n; i++) {
		sa = &r->sa[i];
		label = label_of(sa->port);
		fprintf(out, "%-16.16s %5u %8u  ", label ? label : "-", sa->port, sa->a.peak);
		if (sa->a.usual_hour >= 0)
			fprintf(out, "%02d:00      ", sa->a.usual_hour);
		else
			fprintf(out, "%-11s", "-");
		fprintf(out, "%10u", sa->a.limit);
		if (r->clients_on)
			print_client_cells(out, &sa->clients, w);
		fputc(' ', out);
		print_notes(out, sa, r);
		fputc('\n', out);
	}
	fprintf(out, "LIMIT = ceil(PEAK x %lu%%)", 100 + r->headroom);
	if (r->clients_on)
		fprintf(out, ", CLIENT LIMIT = ceil(CLIENT PEAK x %lu%%); client peaks since start",
			100 + r->headroom);
	fputc('\n', out);
}

static void print_refused_json(FILE *out, const struct service_clients *sc)
{
	char addr[CLIENT_ADDR_LEN];
	size_t i;

	fputc('[', out);
	for (i = 0; i < sc->n_refused; i++) {
		client_addr_format(addr, sizeof(addr), &sc->refused[i]->key);
		fprintf(out, "%s{\"client\":\"%s\",\"peak\":%u}", i ? "," : "", addr,
			sc->refused[i]->peak);
	}
	fputc(']', out);
}

static void print_clients_json_fields(FILE *out, const struct service_clients *sc,
				      unsigned int client_limit)
{
	char addr[CLIENT_ADDR_LEN];

	if (!sc->known) {
		fputs(",\"client_peak\":null,\"client_limit\":null,\"top_client\":null,"
		      "\"refused\":null", out);
		return;
	}
	client_addr_format(addr, sizeof(addr), &sc->top->key);
	fprintf(out, ",\"client_peak\":%u,\"client_limit\":%u,\"top_client\":\"%s\",\"refused\":",
		sc->peak, sc->limit, addr);
	if (client_limit)
		print_refused_json(out, sc);
	else
		fputs("[]", out);
}

static void print_row_json(FILE *out, const struct service_advice *sa,
			   const struct advise_report *r)
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
		"\"users_start\":", r->headroom, sa->a.limit, sa->a.changed ? "true" : "false");
	if (sa->users_start)
		fprintf(out, "%lu", sa->users_start);
	else
		fputs("null", out);
	print_clients_json_fields(out, &sa->clients, r->client_limit);
	fputc('}', out);
}

void print_advice_json(FILE *out, const struct advise_report *r)
{
	size_t i;

	fputs("{\"advice\":[", out);
	for (i = 0; i < r->n; i++) {
		if (i)
			fputc(',', out);
		print_row_json(out, &r->sa[i], r);
	}
	fputs("]}\n", out);
}
