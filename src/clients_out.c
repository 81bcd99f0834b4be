// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <string.h>
#include "clients.h"
#include "output.h"
#include "services.h"

/* Ports named in the losses line before it says how many more. */
#define LOSS_PORTS_SHOWN	8

static int addr_width(const struct client_report *r)
{
	char addr[CLIENT_ADDR_LEN];
	int w = (int)strlen("CLIENT");
	size_t i;

	for (i = 0; i < r->n; i++) {
		client_addr_format(addr, sizeof(addr), &r->rows[i].key);
		if ((int)strlen(addr) > w)
			w = strlen(addr);
	}
	return w;
}

void print_clients_table(FILE *out, const struct client_report *r)
{
	const struct client_row *row;
	char addr[CLIENT_ADDR_LEN], when[32];
	int w = addr_width(r);
	const char *name;
	size_t i;

	fprintf(out, "%5s  %-15s %-*s %9s %9s  %-19s %12s%s\n", "PORT", "SERVICE", w, "CLIENT",
		"CURRENT", "PEAK", "PEAK AT", "TOTAL", r->resolve ? "  NAME" : "");
	for (i = 0; i < r->n; i++) {
		row = &r->rows[i];
		name = services__name(row->key.port);
		client_addr_format(addr, sizeof(addr), &row->key);
		fmt_local(when, sizeof(when), row->peak_at);
		fprintf(out, "%5u  %-15.15s %-*s %9u %9u  %-19s %12llu", row->key.port,
			name ? name : "-", w, addr, row->current, row->peak, when, row->total);
		if (r->resolve)
			fprintf(out, "  %s", row->name ? row->name : "-");
		fputc('\n', out);
	}
}

static void print_client_json(FILE *out, const struct client_row *row, bool resolve)
{
	char addr[CLIENT_ADDR_LEN], when[32];

	client_addr_format(addr, sizeof(addr), &row->key);
	fmt_utc(when, sizeof(when), row->peak_at);
	fprintf(out, "{\"client\":\"%s\",\"family\":\"%s\",\"prefix\":%u,\"current\":%u,"
		"\"peak\":%u,\"peak_at\":\"%s\",\"total\":%llu", addr,
		client_family_name(&row->key), row->key.prefix, row->current, row->peak, when,
		row->total);
	if (resolve) {
		fputs(",\"name\":", out);
		if (row->name)
			print_json_string(out, row->name);
		else
			fputs("null", out);
	}
	fputc('}', out);
}

static const struct client_overflow *overflow_of(const struct client_report *r,
						 unsigned int port)
{
	static const struct client_overflow none;
	size_t i;

	for (i = 0; i < r->n_overflow; i++)
		if (r->overflow[i].port == port)
			return &r->overflow[i];
	return &none;
}

/* The next port, in order, that has client rows or unattributed connections. */
static unsigned int next_port(const struct client_report *r, size_t *ri, size_t *oi)
{
	unsigned int a = *ri < r->n ? r->rows[*ri].key.port : 65536;
	unsigned int b = *oi < r->n_overflow ? r->overflow[*oi].port : 65536;
	unsigned int port = a < b ? a : b;

	if (b == port)
		(*oi)++;
	return port;
}

static void print_port_json(FILE *out, const struct client_report *r, unsigned int port,
			    size_t *ri)
{
	const struct client_overflow *o = overflow_of(r, port);
	const char *name = services__name(port);
	bool first = true;

	fprintf(out, "{\"port\":%u,\"service\":", port);
	if (name)
		print_json_string(out, name);
	else
		fputs("null", out);
	fprintf(out, ",\"overflow\":%llu,\"unattributed\":%llu,\"clients\":[", o->total,
		o->current);
	for (; *ri < r->n && r->rows[*ri].key.port == port; (*ri)++) {
		if (!first)
			fputc(',', out);
		print_client_json(out, &r->rows[*ri], r->resolve);
		first = false;
	}
	fputs("]}", out);
}

void print_clients_json(FILE *out, const struct client_report *r)
{
	size_t ri = 0, oi = 0;
	unsigned int port;
	bool first = true;

	fprintf(out, "{\"capacity\":%u,\"entries\":%llu,\"evicted\":%llu,\"overflow\":%llu,"
		"\"ports\":[", r->capacity, r->entries, r->losses.evicted, r->losses.overflow);
	while ((port = next_port(r, &ri, &oi)) < 65536) {
		if (!first)
			fputc(',', out);
		print_port_json(out, r, port, &ri);
		first = false;
	}
	fputs("]}\n", out);
}

static void print_overflow_ports(FILE *err, const struct client_report *r)
{
	size_t i;

	for (i = 0; i < r->n_overflow && i < LOSS_PORTS_SHOWN; i++)
		fprintf(err, "%s%u: %llu, %llu open", i ? "; " : " (port ", r->overflow[i].port,
			r->overflow[i].total, r->overflow[i].current);
	if (r->n_overflow > LOSS_PORTS_SHOWN)
		fprintf(err, "; %zu more ports", r->n_overflow - LOSS_PORTS_SHOWN);
	if (r->n_overflow)
		fputc(')', err);
}

void print_client_losses(FILE *err, const struct client_report *r, bool notes)
{
	const struct client_losses *l = &r->losses;

	if (notes && l->evicted)
		fprintf(err, "connpeak: note: %llu clients without open connections were "
			"forgotten to make room (start --clients %u): their peaks and totals "
			"are lost\n", l->evicted, r->capacity);
	if (notes && l->overflow) {
		fprintf(err, "connpeak: note: %llu connections were attributed to no client "
			"because the client table was full", l->overflow);
		print_overflow_ports(err, r);
		fputs("; port counts are not affected\n", err);
	}
	if (l->unmarked)
		fprintf(err, "connpeak: warning: %llu unattributed connections could not be "
			"marked: client counts may be off by as many\n", l->unmarked);
	if (l->unmatched)
		fprintf(err, "connpeak: warning: %llu closes found no client entry and were "
			"ignored\n", l->unmatched);
}
