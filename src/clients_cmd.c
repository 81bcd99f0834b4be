// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "client_table.h"
#include "commands.h"
#include "services.h"

struct clients_opts {
	struct common_opts common;
	unsigned long top;
	enum client_sort sort;
	bool json;
	bool resolve;
	struct port_set ports;
};

static int parse_sort(const char *arg, enum client_sort *sort)
{
	if (!strcmp(arg, "current"))
		*sort = CLIENT_SORT_CURRENT;
	else if (!strcmp(arg, "peak"))
		*sort = CLIENT_SORT_PEAK;
	else
		return -EINVAL;
	return 0;
}

static int clients_option(int c, struct clients_opts *o)
{
	switch (c) {
	case 't':
		if (!parse_ulong(optarg, 1, CLIENT_TOP_MAX, &o->top))
			return PROCEED;
		fprintf(stderr, "connpeak clients: bad --top '%s': expected a whole number from "
			"1 to %d\n", optarg, CLIENT_TOP_MAX);
		return EXIT_USAGE;
	case 's':
		if (!parse_sort(optarg, &o->sort))
			return PROCEED;
		fprintf(stderr, "connpeak clients: bad --sort '%s': expected current or peak\n",
			optarg);
		return EXIT_USAGE;
	case 'J':
		o->json = true;
		return PROCEED;
	case 'R':
		o->resolve = true;
		return PROCEED;
	}
	return EXIT_FAIL;	/* not ours */
}

static int parse_clients(int argc, char **argv, struct clients_opts *o)
{
	static const struct option longopts[] = {
		{ "top", required_argument, NULL, 't' },
		{ "sort", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'J' },
		{ "resolve", no_argument, NULL, 'R' },
		COMMON_LONG_OPTS,
		{}
	};
	int c, status = PROCEED;

	opterr = 0;
	while (status == PROCEED && (c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		if (common_option(c, &o->common, "clients", &status))
			continue;
		status = clients_option(c, o);
		if (status == EXIT_FAIL)
			return bad_option("clients", argv, c);
	}
	if (status != PROCEED)
		return status;
	if (port_set__parse(&o->ports, argv + optind, argc - optind))
		return EXIT_USAGE;
	return check_privileges() ? EXIT_FAIL : PROCEED;
}

/* Reverse DNS of whole addresses only; a prefix has no name. */
static void resolve_rows(struct client_row *rows, size_t n)
{
	struct sockaddr_storage ss;
	char host[NI_MAXHOST];
	socklen_t len;
	size_t i;

	for (i = 0; i < n; i++) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		const struct connpeak_client_key *k = &rows[i].key;

		memset(&ss, 0, sizeof(ss));
		if (k->family == CONNPEAK_FAMILY_IPV4 && k->prefix == 32) {
			in->sin_family = AF_INET;
			memcpy(&in->sin_addr, k->addr, 4);
			len = sizeof(*in);
		} else if (k->family == CONNPEAK_FAMILY_IPV6 && k->prefix == 128) {
			in6->sin6_family = AF_INET6;
			memcpy(&in6->sin6_addr, k->addr, 16);
			len = sizeof(*in6);
		} else {
			continue;
		}
		if (!getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL, 0,
				 NI_NAMEREQD))
			rows[i].name = strdup(host);
	}
}

static int open_clients(struct tracker *t, struct client_table *ct, const char *pin_dir)
{
	int err;

	if (open_pinned(t, pin_dir, false))
		return EXIT_FAIL;
	if (!t->stats[CONNPEAK_STAT_CLIENT_CAPACITY]) {
		fprintf(stderr, "connpeak: clients: not tracked: the tracker under %s was "
			"started with --clients 0\n", pin_dir);
		return EXIT_FAIL;
	}
	err = client_table__open(ct, t);
	if (err) {
		fprintf(stderr, "connpeak: clients: open client maps under %s failed: %s\n",
			pin_dir, strerror(-err));
		return EXIT_FAIL;
	}
	return PROCEED;
}

static void report(const struct clients_opts *o, const struct tracker *t,
		   struct client_snapshot *snap)
{
	struct client_report r = {
		.overflow = snap->overflow,
		.n_overflow = snap->n_overflow,
		.losses = snap->losses,
		.capacity = t->stats[CONNPEAK_STAT_CLIENT_CAPACITY],
		.entries = t->stats[CONNPEAK_STAT_CLIENT_COUNT],
		.resolve = o->resolve,
	};

	client_rows_sort(snap->rows, snap->n, o->sort);
	snap->n = client_rows_top(snap->rows, snap->n, o->top);
	if (o->resolve)
		resolve_rows(snap->rows, snap->n);
	r.rows = snap->rows;
	r.n = snap->n;
	services__load(SERVICES_PATH);
	if (o->json)
		print_clients_json(stdout, &r);
	else
		print_clients_table(stdout, &r);
	print_client_losses(stderr, &r, !o->json);
}

int cmd_clients(int argc, char **argv)
{
	struct clients_opts o = {
		.common = { .pin_dir = DEFAULT_PIN_DIR },
		.top = CLIENT_TOP_DEFAULT,
		.sort = CLIENT_SORT_CURRENT,
	};
	struct client_table ct = CLIENT_TABLE_INIT;
	struct tracker t = TRACKER_INIT;
	struct client_snapshot snap;
	int status, err;

	status = parse_clients(argc, argv, &o);
	if (status != PROCEED)
		return status;
	setup_libbpf_log(o.common.verbose);
	status = open_clients(&t, &ct, o.common.pin_dir);
	if (status != PROCEED)
		goto out;

	err = client_table__read(&ct, &t, &o.ports, &snap);
	if (err) {
		fprintf(stderr, "connpeak: clients: reading client maps failed: %s\n",
			strerror(-err));
		status = EXIT_FAIL;
		goto out;
	}
	report(&o, &t, &snap);
	tracker__report_health(&t);
	client_snapshot__free(&snap);
	status = EXIT_OK;
out:
	client_table__close(&ct);
	tracker__close(&t);
	return status;
}
