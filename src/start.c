// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "tracker.h"

/* History larger than this is refused: it would be pinned kernel memory. */
#define HIST_MAX_BYTES	(256ULL << 20)

static int bad_value(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "connpeak start: bad %s '%s': %s\n", opt, val, why);
	return EXIT_USAGE;
}

static int history_option(int c, struct load_opts *lo, unsigned long *keep)
{
	unsigned long v;

	switch (c) {
	case 'B':
		if (parse_duration(optarg, 1, 1, 86400, &v))
			return bad_value("--bucket", optarg, "expected 1 to 86400 seconds");
		lo->bucket_ns = v * 1000000000ULL;
		return PROCEED;
	case 'K':
		if (parse_duration(optarg, 86400, 1, 366 * 86400UL, keep))
			return bad_value("--keep", optarg,
					 "expected days (1-366), or a number with s, m, h or d");
		return PROCEED;
	case 'N':
		if (parse_ulong(optarg, 0, CONNPEAK_MAX_HIST_PORTS, &v))
			return bad_value("--history-ports", optarg, "expected 0 to 1024");
		lo->hist_max = v;
		return PROCEED;
	}
	return -2;
}

/* --clients and --client-prefix. */
static int client_option(int c, struct client_opts *o)
{
	if (c == 'C' && parse_client_capacity(optarg, &o->capacity)) {
		fprintf(stderr, "connpeak start: bad --clients '%s': expected 0 (off) or a whole "
			"number from %d to %d\n", optarg, CLIENTS_MIN, CLIENTS_MAX);
		return EXIT_USAGE;
	}
	if (c == 'X' && parse_client_prefix(optarg, &o->prefix4, &o->prefix6))
		return bad_value("--client-prefix", optarg,
				 "expected IPV4LEN,IPV6LEN such as 24,64 (IPv4 1-32, IPv6 1-128)");
	return PROCEED;
}

/* Ring length and memory, checked before anything is loaded. */
static int check_history(struct load_opts *lo, unsigned long keep, char *keep_arg)
{
	unsigned long long bytes;
	char val[32];

	lo->nbuckets = keep / (lo->bucket_ns / 1000000000ULL);
	if (lo->nbuckets < 2)
		return bad_value("--keep", keep_arg, "must cover at least two buckets");
	bytes = (unsigned long long)lo->hist_max * lo->nbuckets * sizeof(struct connpeak_hist_rec);
	if (bytes > HIST_MAX_BYTES) {
		snprintf(val, sizeof(val), "%lu", keep);
		fprintf(stderr, "connpeak start: history of %u ports over %s s needs %llu MiB of "
			"kernel memory (at most %llu): use a longer --bucket or fewer ports\n",
			lo->hist_max, val, bytes >> 20, HIST_MAX_BYTES >> 20);
		return EXIT_USAGE;
	}
	if (lo->hist_named.count > lo->hist_max) {
		fprintf(stderr, "connpeak start: %u ports named for history, --history-ports "
			"allows %u\n", lo->hist_named.count, lo->hist_max);
		return EXIT_USAGE;
	}
	return PROCEED;
}

static int parse_start(int argc, char **argv, struct common_opts *o, struct load_opts *lo)
{
	static const struct option longopts[] = {
		{ "all-netns", no_argument, NULL, 'A' },
		{ "bucket", required_argument, NULL, 'B' },
		{ "keep", required_argument, NULL, 'K' },
		{ "history-ports", required_argument, NULL, 'N' },
		{ "clients", required_argument, NULL, 'C' },
		{ "client-prefix", required_argument, NULL, 'X' },
		COMMON_LONG_OPTS,
		{}
	};
	unsigned long keep = HIST_DEFAULT_KEEP_S;
	char *keep_arg = "8";
	int c, status = PROCEED;

	opterr = 0;
	while (status == PROCEED && (c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		if (c == 'A') {
			lo->all_netns = true;
		} else if (c == 'B' || c == 'K' || c == 'N') {
			status = history_option(c, lo, &keep);
			if (c == 'K')
				keep_arg = optarg;
		} else if (c == 'C' || c == 'X') {
			status = client_option(c, &lo->clients);
		} else if (!common_option(c, o, "start", &status)) {
			return bad_option("start", argv, c);
		}
	}
	if (status != PROCEED)
		return status;
	if (port_set__parse(&lo->hist_named, argv + optind, argc - optind))
		return EXIT_USAGE;
	status = check_history(lo, keep, keep_arg);
	if (status != PROCEED)
		return status;
	return check_privileges() ? EXIT_FAIL : PROCEED;
}

int cmd_start(int argc, char **argv)
{
	struct load_opts lo = {
		.bucket_ns = HIST_DEFAULT_BUCKET_S * 1000000000ULL,
		.hist_max = HIST_DEFAULT_PORTS,
		.clients = CLIENT_OPTS_DEFAULT,
	};
	struct common_opts o = { .pin_dir = DEFAULT_PIN_DIR };
	struct tracker t = TRACKER_INIT;
	int err, status;

	status = parse_start(argc, argv, &o, &lo);
	if (status != PROCEED)
		return status;
	setup_libbpf_log(o.verbose);

	err = tracker__open(&t, o.pin_dir, false);
	tracker__close(&t);
	if (err != -ENOENT) {
		fprintf(stderr, "connpeak: a tracker is already pinned under %s: nothing changed\n",
			o.pin_dir);
		return EXIT_FAIL;
	}
	err = tracker__load(&t, &lo);
	if (!err)
		err = tracker__pin(&t, o.pin_dir);
	if (err == -EEXIST)
		fprintf(stderr, "connpeak: a tracker is already pinned under %s: nothing changed\n",
			o.pin_dir);
	if (!err)
		printf("connpeak: tracking; %llu open connections counted at start (a connection "
		       "within this host counts in and out); history for %u port%s; pinned under "
		       "%s\n", (unsigned long long)t.stats[CONNPEAK_STAT_SEEDED], t.conf.nports,
		       t.conf.nports == 1 ? "" : "s", o.pin_dir);
	tracker__close(&t);
	return err ? EXIT_FAIL : EXIT_OK;
}
