// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "services.h"
#include "tracker.h"

int bad_option(const char *cmd, char **argv, int c)
{
	const char *arg = argv[optind - 1];
	char shortopt[3] = { '-', (char)optopt, '\0' };

	if (optopt && arg[0] == '-' && arg[1] != '-')
		arg = shortopt;
	if (c == ':')
		fprintf(stderr, "connpeak %s: option '%s' needs a value\n", cmd, arg);
	else
		fprintf(stderr, "connpeak %s: unknown option '%s' (try 'connpeak %s --help')\n",
			cmd, arg, cmd);
	return EXIT_USAGE;
}

int common_option(int c, struct common_opts *o, const char *cmd, int *status)
{
	switch (c) {
	case 'P':
		if (!optarg[0]) {
			fprintf(stderr, "connpeak %s: bad pin dir '': empty\n", cmd);
			*status = EXIT_USAGE;
		}
		o->pin_dir = optarg;
		return 1;
	case 'v':
		o->verbose = true;
		return 1;
	case 'h':
		usage_command(cmd, stdout);
		*status = EXIT_OK;
		return 1;
	}
	return 0;
}

void report_open_error(int err, const char *pin_dir)
{
	if (err == -ENOENT)
		fprintf(stderr, "connpeak: no tracker pinned under %s: run 'connpeak start'\n",
			pin_dir);
	else if (err == -EACCES || err == -EPERM)
		fprintf(stderr, "connpeak: pin dir '%s': permission denied: root (or CAP_BPF "
			"and CAP_PERFMON) is needed\n", pin_dir);
	else if (err)
		fprintf(stderr, "connpeak: pin dir '%s': open failed: %s\n", pin_dir,
			strerror(-err));
}

int open_pinned(struct tracker *t, const char *pin_dir, bool writable)
{
	int err = tracker__open(t, pin_dir, writable);

	if (err)
		report_open_error(err, pin_dir);
	return err;
}

static int no_operands(const char *cmd, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr, "connpeak %s: unexpected argument '%s'\n", cmd, argv[optind]);
	return EXIT_USAGE;
}

int dir_option(int c, unsigned int *dirs, const char *cmd, int *status)
{
	unsigned int want = c == 'I' ? DIRS_IN : DIRS_OUT;

	if (*dirs != DIRS_ALL && *dirs != want) {
		fprintf(stderr, "connpeak %s: --in and --out exclude each other\n", cmd);
		*status = EXIT_USAGE;
	}
	*dirs = want;
	return 1;
}

/* --clients and --client-prefix of start. */
static int client_option(int c, struct client_opts *o)
{
	if (c == 'C' && !parse_client_capacity(optarg, &o->capacity))
		return PROCEED;
	if (c == 'C') {
		fprintf(stderr, "connpeak start: bad --clients '%s': expected 0 (off) or a whole "
			"number from %d to %d\n", optarg, CLIENTS_MIN, CLIENTS_MAX);
		return EXIT_USAGE;
	}
	if (!parse_client_prefix(optarg, &o->prefix4, &o->prefix6))
		return PROCEED;
	fprintf(stderr, "connpeak start: bad --client-prefix '%s': expected IPV4LEN,IPV6LEN "
		"such as 24,64 (IPv4 1-32, IPv6 1-128)\n", optarg);
	return EXIT_USAGE;
}

int cmd_start(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all-netns", no_argument, NULL, 'A' },
		{ "clients", required_argument, NULL, 'C' },
		{ "client-prefix", required_argument, NULL, 'X' },
		COMMON_LONG_OPTS,
		{}
	};
	struct common_opts o = { .pin_dir = DEFAULT_PIN_DIR };
	struct tracker t = TRACKER_INIT;
	int c, err, status = PROCEED;
	bool all_netns = false;

	t.clients = (struct client_opts)CLIENT_OPTS_DEFAULT;
	opterr = 0;
	while (status == PROCEED && (c = getopt_long(argc, argv, "+:vh", longopts, NULL)) != -1) {
		if (c == 'A')
			all_netns = true;
		else if (c == 'C' || c == 'X')
			status = client_option(c, &t.clients);
		else if (!common_option(c, &o, "start", &status))
			return bad_option("start", argv, c);
	}
	if (status != PROCEED)
		return status;
	if ((status = no_operands("start", argc, argv)) || (status = check_privileges()))
		return status;
	setup_libbpf_log(o.verbose);

	err = tracker__open(&t, o.pin_dir, false);
	tracker__close(&t);
	if (err != -ENOENT) {
		fprintf(stderr, "connpeak: a tracker is already pinned under %s: nothing changed\n",
			o.pin_dir);
		return EXIT_FAIL;
	}
	err = tracker__load(&t, all_netns);
	if (!err)
		err = tracker__pin(&t, o.pin_dir);
	if (err == -EEXIST)
		fprintf(stderr, "connpeak: a tracker is already pinned under %s: nothing changed\n",
			o.pin_dir);
	if (!err)
		printf("connpeak: tracking; %llu connections were already open; pinned under %s\n",
		       (unsigned long long)t.stats[CONNPEAK_STAT_SEEDED], o.pin_dir);
	tracker__close(&t);
	return err ? EXIT_FAIL : EXIT_OK;
}

int cmd_stop(int argc, char **argv)
{
	static const struct option longopts[] = { COMMON_LONG_OPTS, {} };
	struct common_opts o = { .pin_dir = DEFAULT_PIN_DIR };
	int c, err, status = PROCEED;

	opterr = 0;
	while (status == PROCEED && (c = getopt_long(argc, argv, "+:vh", longopts, NULL)) != -1)
		if (!common_option(c, &o, "stop", &status))
			return bad_option("stop", argv, c);
	if (status != PROCEED)
		return status;
	if ((status = no_operands("stop", argc, argv)) || (status = check_privileges()))
		return status;

	err = tracker__unpin(o.pin_dir);
	if (err == -ENOENT) {
		fprintf(stderr, "connpeak: no tracker pinned under %s: run 'connpeak start'\n",
			o.pin_dir);
		return EXIT_FAIL;
	}
	if (err)
		return EXIT_FAIL;
	printf("connpeak: tracker under %s stopped\n", o.pin_dir);
	return EXIT_OK;
}

/* Parse the options and operands of show and reset. */
static int parse_query(int argc, char **argv, const char *cmd, struct common_opts *o,
		       unsigned int *dirs, struct port_set *ports, bool *json)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		DIR_LONG_OPTS,
		COMMON_LONG_OPTS,
		{}
	};
	int c, status = PROCEED;

	opterr = 0;
	while (status == PROCEED && (c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		if (c == 'J' && json)
			*json = true;
		else if (c == 'I' || c == 'O')
			dir_option(c, dirs, cmd, &status);
		else if (!common_option(c, o, cmd, &status))
			return bad_option(cmd, argv, c);
	}
	if (status != PROCEED)
		return status;
	if (port_set__parse(ports, argv + optind, argc - optind))
		return EXIT_USAGE;
	return check_privileges() ? EXIT_FAIL : PROCEED;
}

int cmd_show(int argc, char **argv)
{
	struct common_opts o = { .pin_dir = DEFAULT_PIN_DIR };
	struct tracker t = TRACKER_INIT;
	unsigned int dirs = DIRS_ALL;
	struct port_row *rows = NULL;
	struct port_set ports;
	bool json = false;
	size_t n = 0;
	int status;

	status = parse_query(argc, argv, "show", &o, &dirs, &ports, &json);
	if (status != PROCEED)
		return status;
	setup_libbpf_log(o.verbose);
	if (open_pinned(&t, o.pin_dir, false))
		return EXIT_FAIL;
	if (tracker__rows(&t, &ports, dirs, &rows, &n)) {
		fprintf(stderr, "connpeak: show: reading counts failed: %s\n", strerror(ENOMEM));
		tracker__close(&t);
		return EXIT_FAIL;
	}
	services__load(SERVICES_PATH);
	rows_sort_by_port(rows, n);
	if (json)
		print_rows_json(stdout, rows, n);
	else
		print_rows_table(stdout, rows, n, 0);
	tracker__report_health(&t);
	free(rows);
	tracker__close(&t);
	return EXIT_OK;
}

int cmd_reset(int argc, char **argv)
{
	struct common_opts o = { .pin_dir = DEFAULT_PIN_DIR };
	struct tracker t = TRACKER_INIT;
	unsigned int dirs = DIRS_ALL;
	struct port_set ports;
	int status;
	long n;

	status = parse_query(argc, argv, "reset", &o, &dirs, &ports, NULL);
	if (status != PROCEED)
		return status;
	setup_libbpf_log(o.verbose);
	if (open_pinned(&t, o.pin_dir, true))
		return EXIT_FAIL;
	n = tracker__reset(&t, &ports, dirs);
	printf("connpeak: %ld peaks reset to the current count\n", n);
	tracker__close(&t);
	return EXIT_OK;
}
