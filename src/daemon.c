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
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "commands.h"
#include "config.h"
#include "daemon.h"
#include "services.h"
#include "tracker.h"

static int bad_daemon_value(int c, const struct option *opts, const char *why)
{
	for (; opts->name && opts->val != c; opts++)
		;
	fprintf(stderr, "connpeak daemon: bad --%s '%s': %s\n", opts->name ?: "?", optarg, why);
	return EXIT_USAGE;
}

static int parse_daemon(int argc, char **argv, struct daemon *d)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "limit", required_argument, NULL, 'l' },
		{ "warn", required_argument, NULL, 'w' },
		{ "listen", required_argument, NULL, 'L' },
		{ "state-dir", required_argument, NULL, 's' },
		COMMON_LONG_OPTS,
		{}
	};
	struct common_opts o = { .pin_dir = NULL };
	int c, status = PROCEED;
	const char *why;

	opterr = 0;
	while (status == PROCEED && (c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		why = NULL;
		if (c == 'c') {
			d->config_path = optarg;
			d->config_given = true;
		} else if (c == 'l') {
			config__add_limit(&d->opts, optarg, &why);
		} else if (c == 'w') {
			d->opts.warn_set = true;
			if (config__parse_pct(optarg, &d->opts.warn_pct))
				why = "expected a percentage from 1 to 100";
		} else if (c == 'L') {
			d->opts.listen_set = !config__check_listen(optarg) &&
				snprintf(d->opts.listen, sizeof(d->opts.listen), "%s", optarg) <
				(int)sizeof(d->opts.listen);
			why = d->opts.listen_set ? NULL : "expected ADDR:PORT, [ADDR]:PORT or off";
		} else if (c == 's') {
			d->opts.state_dir_set = optarg[0] && snprintf(d->opts.state_dir,
				sizeof(d->opts.state_dir), "%s", optarg) < PATH_MAX;
			why = d->opts.state_dir_set ? NULL : "empty or too long";
		} else if (!common_option(c, &o, "daemon", &status)) {
			return bad_option("daemon", argv, c);
		}
		if (why)
			return bad_daemon_value(c, longopts, why);
	}
	if (status != PROCEED)
		return status;
	if (o.pin_dir) {
		snprintf(d->opts.pin_dir, sizeof(d->opts.pin_dir), "%s", o.pin_dir);
		d->opts.pin_dir_set = true;
	}
	d->verbose = o.verbose;
	return no_operands("daemon", argc, argv) ?: PROCEED;
}

/* Defaults, then the config file, then the command line. */
int build_daemon_config(const struct daemon *d, struct daemon_cfg *cfg)
{
	int err;

	memset(cfg, 0, sizeof(*cfg));
	cfg->warn_pct = CONFIG_DEFAULT_WARN;
	snprintf(cfg->listen, sizeof(cfg->listen), "%s", HTTPD_DEFAULT_LISTEN);
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", STATE_DEFAULT_DIR);
	snprintf(cfg->pin_dir, sizeof(cfg->pin_dir), "%s", DEFAULT_PIN_DIR);
	err = config__load(d->config_path, cfg);
	if (err == -ENOENT && !d->config_given)
		err = 0;
	else if (err && err != -EINVAL && err != -E2BIG)	/* bad lines are reported */
		fprintf(stderr, "connpeak: %s: read failed: %s\n", d->config_path, strerror(-err));
	if (err)
		return err;
	config__merge(cfg, &d->opts);
	return 0;
}

int cmd_daemon(int argc, char **argv)
{
	struct daemon *d = calloc(1, sizeof(*d));
	int status;

	if (!d) {
		fprintf(stderr, "connpeak daemon: start failed: %s\n", strerror(ENOMEM));
		return EXIT_FAIL;
	}
	d->config_path = CONFIG_DEFAULT_PATH;
	pthread_mutex_init(&d->cfg_lock, NULL);
	status = parse_daemon(argc, argv, d);
	if (status == PROCEED)
		status = build_daemon_config(d, &d->cfg) ? EXIT_USAGE : PROCEED;
	if (status == PROCEED)
		status = check_privileges() ? EXIT_FAIL : PROCEED;
	if (status == PROCEED) {
		setup_libbpf_log(d->verbose);
		status = daemon__run(d);
	}
	free(d);
	return status;
}
