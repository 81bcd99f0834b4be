// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "commands.h"
#include "services.h"
#include "tracker.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

struct top_opts {
	struct common_opts common;
	unsigned long interval;
	unsigned long count;		/* 0: until interrupted */
	unsigned int dirs;
	struct port_set ports;
};

static int parse_number(const char *opt, unsigned long max, unsigned long *out)
{
	if (!parse_ulong(optarg, 1, max, out))
		return 0;
	fprintf(stderr, "connpeak top: bad %s '%s': expected a whole number from 1 to %lu\n",
		opt, optarg, max);
	return EXIT_USAGE;
}

static int parse_top(int argc, char **argv, struct top_opts *o)
{
	static const struct option longopts[] = {
		{ "interval", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		DIR_LONG_OPTS,
		COMMON_LONG_OPTS,
		{}
	};
	int c, status = PROCEED;

	opterr = 0;
	while (status == PROCEED &&
	       (c = getopt_long(argc, argv, ":d:n:vh", longopts, NULL)) != -1) {
		if (c == 'd')
			status = parse_number("interval", 3600, &o->interval) ?: PROCEED;
		else if (c == 'n')
			status = parse_number("count", 1000000, &o->count) ?: PROCEED;
		else if (c == 'I' || c == 'O')
			dir_option(c, &o->dirs, "top", &status);
		else if (!common_option(c, &o->common, "top", &status))
			return bad_option("top", argv, c);
	}
	if (status != PROCEED)
		return status;
	if (port_set__parse(&o->ports, argv + optind, argc - optind))
		return EXIT_USAGE;
	return check_privileges() ? EXIT_FAIL : PROCEED;
}

static void draw(const struct tracker *t, const struct top_opts *o, bool tty, bool own)
{
	struct port_row *rows = NULL;
	char now[32];
	size_t n = 0;

	if (tracker__rows(t, &o->ports, o->dirs, &rows, &n))
		return;
	rows_sort_busiest(rows, n);
	fmt_local(now, sizeof(now), time(NULL));
	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("connpeak top - %s - %zu ports%s ('*': at peak)\n\n", now, n,
	       own ? " - tracker held by this process" : "");
	print_rows_table(stdout, rows, n, 1);
	if (!tty)
		putchar('\n');
	fflush(stdout);
	free(rows);
}

static int run_top(struct tracker *t, const struct top_opts *o, bool own)
{
	struct timespec delay = { .tv_sec = o->interval };
	bool tty = isatty(STDOUT_FILENO);
	unsigned long i;

	for (i = 0; !stopping; i++) {
		draw(t, o, tty, own);
		if (o->count && i + 1 >= o->count)
			break;
		nanosleep(&delay, NULL);
	}
	tracker__report_health(t);
	return EXIT_OK;
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o = {
		.common = { .pin_dir = DEFAULT_PIN_DIR },
		.interval = 1,
		.dirs = DIRS_ALL,
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct load_opts lo = { .bucket_ns = 1000000000ULL, .nbuckets = 2 };
	struct tracker t = TRACKER_INIT;
	int status, err;
	bool own = false;

	status = parse_top(argc, argv, &o);
	if (status != PROCEED)
		return status;
	setup_libbpf_log(o.common.verbose);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	err = tracker__open(&t, o.common.pin_dir, false);
	if (err == -ENOENT) {
		tracker__close(&t);
		own = true;
		err = tracker__load(&t, &lo);
	} else if (err) {
		report_open_error(err, o.common.pin_dir);
		tracker__close(&t);
		return EXIT_FAIL;
	}
	services__load(SERVICES_PATH);
	status = err ? EXIT_FAIL : run_top(&t, &o, own);
	tracker__close(&t);
	return status;
}
