/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_OUTPUT_H
#define CONNPEAK_OUTPUT_H

#include <stdio.h>
#include <time.h>

/* One (port, direction) as shown to the user. */
struct port_row {
	unsigned int port;
	unsigned int dir;		/* enum connpeak_dir */
	unsigned int current;
	unsigned int peak;
	unsigned long long total;
	time_t peak_at;			/* wall-clock seconds */
};

const char *dir_name(unsigned int dir);

/* Sort by port, then direction (in before out). */
void rows_sort_by_port(struct port_row *rows, size_t n);
/* Busiest first: current, then peak, descending; ties by port. */
void rows_sort_busiest(struct port_row *rows, size_t n);

/* "2026-12-03T09:01:02Z" */
void fmt_utc(char *buf, size_t len, time_t t);
/* "2026-12-03 10:01:02" in the local time zone */
void fmt_local(char *buf, size_t len, time_t t);

/* A JSON string, quoted and escaped. */
void print_json_string(FILE *out, const char *s);
void print_rows_json(FILE *out, const struct port_row *rows, size_t n);
/* mark_peak: flag rows whose current count stands at the peak */
void print_rows_table(FILE *out, const struct port_row *rows, size_t n, int mark_peak);

#endif
