// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "metrics.h"
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
	else if (err && err != -EPROTO)
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

int no_operands(const char *cmd, int argc, char **argv)
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

enum show_format { FORMAT_TABLE, FORMAT_JSON, FORMAT_PROMETHEUS };

static const char *const format_names[] = {
	[FORMAT_TABLE] = "table",
	[FORMAT_JSON] = "json",
	[FORMAT_PROMETHEUS] = "prometheus",
};

/* --format NAME, and --json for --format json */
static void format_option(int c, enum show_format *fmt, const char *cmd, int *status)
{
	size_t i;

	if (c == 'J') {
		*fmt = FORMAT_JSON;
		return;
	}
	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (!strcmp(optarg, format_names[i])) {
			*fmt = i;
			return;
		}
	}
	fprintf(stderr, "connpeak %s: bad format '%s': expected table, json or prometheus\n",
		cmd, optarg);
	*status = EXIT_USAGE;
}

/* Parse the options and operands of show and reset. */
static int parse_query(int argc, char **argv, const char *cmd, struct common_opts *o,
		       unsigned int *dirs, struct port_set *ports, enum show_format *fmt)
{
	static const struct option show_opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "format", required_argument, NULL, 'F' },
		DIR_LONG_OPTS,
		COMMON_LONG_OPTS,
		{}
	};
	/* reset prints no counts: it has no --json or --format */
	const struct option *longopts = fmt ? show_opts : show_opts + 2;
	int c, status = PROCEED;

	opterr = 0;
	while (status == PROCEED && (c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		if (fmt && (c == 'J' || c == 'F'))
			format_option(c, fmt, cmd, &status);
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
	enum show_format fmt = FORMAT_TABLE;
	size_t n = 0;
	int status;

	status = parse_query(argc, argv, "show", &o, &dirs, &ports, &fmt);
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
	if (fmt == FORMAT_JSON)
		print_rows_json(stdout, rows, n);
	else if (fmt == FORMAT_PROMETHEUS)
		metrics__write(stdout, rows, n, NULL, 0);
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
