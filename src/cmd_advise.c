// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "advise.h"
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
	bool json;
};

static int parse_advise(int argc, char **argv, struct advise_opts *o)
{
	static const struct option longopts[] = {
		{ "headroom", required_argument, NULL, 'H' },
		{ "users", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'J' },
		{ "state-dir", required_argument, NULL, 's' },
		COMMON_LONG_OPTS,
		{}
	};
	int c, status = PROCEED;

	opterr = 0;
	while (status == PROCEED && (c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		if (c == 'H' && parse_ulong(optarg, 0, 1000, &o->headroom)) {
			fprintf(stderr, "connpeak advise: bad --headroom '%s': expected a whole "
				"percentage from 0 to 1000\n", optarg);
			return EXIT_USAGE;
		} else if (c == 'u' && parse_ulong(optarg, 1, 100000000, &o->users)) {
			fprintf(stderr, "connpeak advise: bad --users '%s': expected a whole "
				"number from 1 to 100000000\n", optarg);
			return EXIT_USAGE;
		} else if (c == 'J') {
			o->json = true;
		} else if (c == 's') {
			o->state_dir = optarg;
		} else if (c != 'H' && c != 'u' && c != 's' && !common_option(c, &o->common, "advise",
								 &status)) {
			return bad_option("advise", argv, c);
		}
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

static void report(const struct service_advice *sa, size_t n, const struct advise_opts *o)
{
	struct advise_report r = { .sa = sa, .n = n, .headroom = o->headroom };

	if (o->json)
		print_advice_json(stdout, &r);
	else
		print_advice_table(stdout, &r);
}

static int run_advise(const struct tracker *t, const struct advise_opts *o)
{
	struct service_advice *sa = NULL;
	struct port_row *rows = NULL;
	time_t now = time(NULL);
	size_t n = 0, i;
	int err;

	err = tracker__rows(t, &o->ports, DIRS_IN, &rows, &n);
	if (!err && n)
		err = (sa = calloc(n, sizeof(*sa))) ? 0 : -ENOMEM;
	rows_sort_by_port(rows, n);
	for (i = 0; !err && i < n; i++)
		err = advise_port(t, &rows[i], o, now, &sa[i]);
	if (err)
		fprintf(stderr, "connpeak: advise: reading counts failed: %s\n", strerror(-err));
	else
		report(sa, n, o);
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
