// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <stdlib.h>
#include <linux/types.h>
#include "connpeak.h"
#include "output.h"
#include "services.h"

const char *dir_name(unsigned int dir)
{
	return dir == CONNPEAK_DIR_IN ? "in" : "out";
}

static int cmp_port(const void *a, const void *b)
{
	const struct port_row *x = a, *y = b;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (int)x->dir - (int)y->dir;
}

static int cmp_busiest(const void *a, const void *b)
{
	const struct port_row *x = a, *y = b;

	if (x->current != y->current)
		return x->current > y->current ? -1 : 1;
	if (x->peak != y->peak)
		return x->peak > y->peak ? -1 : 1;
	return cmp_port(a, b);
}

/* No rows may come as NULL, which qsort must not be given even with n 0. */
void rows_sort_by_port(struct port_row *rows, size_t n)
{
	if (n > 1)
		qsort(rows, n, sizeof(*rows), cmp_port);
}

void rows_sort_busiest(struct port_row *rows, size_t n)
{
	if (n > 1)
		qsort(rows, n, sizeof(*rows), cmp_busiest);
}

/* Service names come from a local file: escape them anyway. */
void print_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

void print_rows_json(FILE *out, const struct port_row *rows, size_t n)
{
	const char *name;
	char when[32];
	size_t i;

	fputs("{\"ports\":[", out);
	for (i = 0; i < n; i++) {
		name = services__name(rows[i].port);
		fmt_utc(when, sizeof(when), rows[i].peak_at);
		fprintf(out, "%s{\"port\":%u,\"service\":", i ? "," : "", rows[i].port);
		if (name)
			print_json_string(out, name);
		else
			fputs("null", out);
		fprintf(out, ",\"direction\":\"%s\",\"current\":%u,\"peak\":%u,"
			"\"peak_at\":\"%s\",\"total\":%llu}",
			dir_name(rows[i].dir), rows[i].current, rows[i].peak, when,
			rows[i].total);
	}
	fputs("]}\n", out);
}

void print_rows_table(FILE *out, const struct port_row *rows, size_t n, int mark_peak)
{
	const char *name;
	char when[32];
	size_t i;

	fprintf(out, "%5s  %-15s %-3s %9s %9s  %-19s %12s\n",
		"PORT", "SERVICE", "DIR", "CURRENT", "PEAK", "PEAK AT", "TOTAL");
	for (i = 0; i < n; i++) {
		name = services__name(rows[i].port);
		fmt_local(when, sizeof(when), rows[i].peak_at);
		fprintf(out, "%5u  %-15.15s %-3s %9u %9u%c %-19s %12llu\n",
			rows[i].port, name ? name : "-", dir_name(rows[i].dir),
			rows[i].current, rows[i].peak,
			mark_peak && rows[i].current == rows[i].peak && rows[i].peak ? '*' : ' ',
			when, rows[i].total);
	}
}
