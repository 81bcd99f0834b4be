// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "advise.h"
#include "client_table.h"
#include "commands.h"
#include "history.h"
#include "config.h"
#include "services.h"
#include "tracker.h"

#define DAY_SECS 86400

struct advise_opts {
	struct common_opts common;
	struct port_set ports;
	const char *state_dir;
	unsigned long headroom;
	unsigned long users;		/* 0: not given */
	unsigned long client_limit;	/* 0: not given */
	bool json;
};

/* The client rows of the ports advised on, sorted by port, and room to rank them. */
struct advise_clients {
	struct client_snapshot snap;
	const struct client_row **over;
	size_t next;			/* first row of the next port */
	bool on;			/* false: the tracker keeps no per-client counts */
};

#define CLIENT_LIMIT_MAX	1000000

static int advise_option(int c, struct advise_opts *o)
{
	switch (c) {
	case 'H':
		if (!parse_ulong(optarg, 0, 1000, &o->headroom))
			return PROCEED;
		fprintf(stderr, "connpeak advise: bad --headroom '%s': expected a whole "
			"percentage from 0 to 1000\n", optarg);
		return EXIT_USAGE;
	case 'u':
		if (!parse_ulong(optarg, 1, 100000000, &o->users))
			return PROCEED;
		fprintf(stderr, "connpeak advise: bad --users '%s': expected a whole "
			"number from 1 to 100000000\n", optarg);
		return EXIT_USAGE;
	case 'C':
		if (!parse_ulong(optarg, 1, CLIENT_LIMIT_MAX, &o->client_limit))
			return PROCEED;
		fprintf(stderr, "connpeak advise: bad --client-limit '%s': expected a whole "
			"number from 1 to %d\n", optarg, CLIENT_LIMIT_MAX);
		return EXIT_USAGE;
	case 'J':
		o->json = true;
		return PROCEED;
	case 's':
		o->state_dir = optarg;
		return PROCEED;
	}
	return EXIT_FAIL;	/* not ours */
}

static int parse_advise(int argc, char **argv, struct advise_opts *o)
{
	static const struct option longopts[] = {
		{ "headroom", required_argument, NULL, 'H' },
		{ "users", required_argument, NULL, 'u' },
		{ "client-limit", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'J' },
		{ "state-dir", required_argument, NULL, 's' },
		COMMON_LONG_OPTS,
		{}
	};
	int c, status = PROCEED;

	opterr = 0;
	while (status == PROCEED && (c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		if (common_option(c, &o->common, "advise", &status))
			continue;
		status = advise_option(c, o);
		if (status == EXIT_FAIL)
			return bad_option("advise", argv, c);
	}
	if (status != PROCEED)
		return status;
	if (port_set__parse(&o->ports, argv + optind, argc - optind))
		return EXIT_USAGE;
	return check_privileges() ? EXIT_FAIL : PROCEED;
}

/* Advice from history where the port has it, else from its all-time peak. */
static int advise_port(const struct tracker *t, const struct port_row *row,
		       const struct advise_opts *o, time_t now, struct service_advice *sa)
{
	int idx = hist_index_of(t, row->port);
	struct hist_point *pts;
	struct tm tm;
	size_t n;

	memset(sa, 0, sizeof(*sa));
	sa->port = row->port;
	if (idx >= 0) {
		pts = port_points(t, idx, o->state_dir, &n);
		if (!pts)
			return -ENOMEM;
		advise_points(pts, n, o->headroom, now, &sa->a);
		sa->has_history = n > 0;
		free(pts);
	}
	if (!sa->has_history) {
		sa->a.peak = row->peak;
		localtime_r(&row->peak_at, &tm);
		sa->a.usual_hour = tm.tm_hour;
		sa->a.limit = advise_limit(row->peak, o->headroom);
	}
	if (o->users && !sa->a.earlier_known)
		sa->users_start = o->users * 5;
	return 0;
}

static int read_clients(const struct tracker *t, const struct advise_opts *o,
			struct advise_clients *ac)
{
	struct client_table ct = CLIENT_TABLE_INIT;
	int err;

	if (!t->stats[CONNPEAK_STAT_CLIENT_CAPACITY]) {
		fprintf(stderr, "connpeak: note: advise: per-client advice unavailable: the "
			"tracker under %s was started with --clients 0\n", o->common.pin_dir);
		return 0;
	}
	err = client_table__open(&ct, t);
	if (!err)
		err = client_table__read(&ct, t, &o->ports, &ac->snap);
	client_table__close(&ct);
	if (!err) {
		ac->over = calloc(ac->snap.n ? ac->snap.n : 1, sizeof(const struct client_row *));
		err = ac->over ? 0 : -ENOMEM;
	}
	if (err) {
		fprintf(stderr, "connpeak: advise: reading client maps under %s failed: %s\n",
			o->common.pin_dir, strerror(-err));
		return err;
	}
	client_rows_sort(ac->snap.rows, ac->snap.n, CLIENT_SORT_PEAK);
	ac->on = true;
	return 0;
}

/* Per-client advice for the port of sa; the ports come in ascending order. */
static int clients_of_port(struct advise_clients *ac, const struct advise_opts *o,
			   struct service_advice *sa)
{
	const struct client_row *rows = ac->snap.rows;
	size_t lo = ac->next, hi;
	int err;

	while (lo < ac->snap.n && rows[lo].key.port < sa->port)
		lo++;
	for (hi = lo; hi < ac->snap.n && rows[hi].key.port == sa->port; hi++)
		;
	ac->next = hi;
	err = service_clients__fill(&sa->clients, rows + lo, hi - lo, o->headroom,
				    o->client_limit, ac->over + lo);
	if (err)
		fprintf(stderr, "connpeak: advise: port %u: computing the per-client limit "
			"failed: %s\n", sa->port, strerror(-err));
	return err;
}

static void report(const struct service_advice *sa, size_t n, const struct advise_opts *o,
		   const struct advise_clients *ac, const struct tracker *t)
{
	struct advise_report r = {
		.sa = sa, .n = n, .headroom = o->headroom, .client_limit = o->client_limit,
		.clients_on = ac->on,
	};
	struct client_report losses = {
		.overflow = ac->snap.overflow, .n_overflow = ac->snap.n_overflow,
		.losses = ac->snap.losses, .capacity = t->stats[CONNPEAK_STAT_CLIENT_CAPACITY],
	};

	if (o->json)
		print_advice_json(stdout, &r);
	else
		print_advice_table(stdout, &r);
	/* The JSON does not carry them: evicted clients' peaks are missing from it too. */
	if (ac->on)
		print_client_losses(stderr, &losses, true);
}

static int advise_ports(const struct tracker *t, const struct advise_opts *o,
			struct port_row *rows, size_t n, struct service_advice *sa)
{
	time_t now = time(NULL);
	size_t i;
	int err = 0;

	rows_sort_by_port(rows, n);
	for (i = 0; !err && i < n; i++)
		err = advise_port(t, &rows[i], o, now, &sa[i]);
	if (err)
		fprintf(stderr, "connpeak: advise: reading counts failed: %s\n", strerror(-err));
	return err;
}

static int run_advise(const struct tracker *t, const struct advise_opts *o)
{
	struct advise_clients ac = {};
	struct service_advice *sa = NULL;
	struct port_row *rows = NULL;
	size_t n = 0, i;
	int err;

	err = tracker__rows(t, &o->ports, DIRS_IN, &rows, &n);
	if (!err && n)
		err = (sa = calloc(n, sizeof(*sa))) ? 0 : -ENOMEM;
	if (err)
		fprintf(stderr, "connpeak: advise: reading counts failed: %s\n", strerror(-err));
	if (!err)
		err = advise_ports(t, o, rows, n, sa);
	if (!err)
		err = read_clients(t, o, &ac);
	for (i = 0; !err && ac.on && i < n; i++)
		err = clients_of_port(&ac, o, &sa[i]);
	if (!err)
		report(sa, n, o, &ac, t);
	client_snapshot__free(&ac.snap);
	free(ac.over);
	free(sa);
	free(rows);
	return err ? EXIT_FAIL : EXIT_OK;
}

int cmd_advise(int argc, char **argv)
{
	struct advise_opts o = {
		.common = { .pin_dir = DEFAULT_PIN_DIR },
		.headroom = 25,
		.state_dir = STATE_DEFAULT_DIR,
	};
	struct tracker t = TRACKER_INIT;
	int status;

	status = parse_advise(argc, argv, &o);
	if (status != PROCEED)
		return status;
	setup_libbpf_log(o.common.verbose);
	if (open_pinned(&t, o.common.pin_dir, false))
		return EXIT_FAIL;
	services__load(SERVICES_PATH);
	status = run_advise(&t, &o);
	tracker__close(&t);
	return status;
}
