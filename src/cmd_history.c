// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "commands.h"
#include "history.h"
#include "config.h"
#include "services.h"
#include "statefile.h"
#include "tracker.h"

struct history_opts {
	struct common_opts common;
	struct port_set ports;
	const char *state_dir;
	time_t since, until;
	enum hist_unit unit;
	bool unit_given, json;
};

static __u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int parse_unit(const char *arg, struct history_opts *o)
{
	if (!strcmp(arg, "bucket"))
		o->unit = HIST_BY_BUCKET;
	else if (!strcmp(arg, "hour"))
		o->unit = HIST_BY_HOUR;
	else if (!strcmp(arg, "day"))
		o->unit = HIST_BY_DAY;
	else {
		fprintf(stderr, "connpeak history: bad --by '%s': expected bucket, hour or day\n",
			arg);
		return EXIT_USAGE;
	}
	o->unit_given = true;
	return PROCEED;
}

static int parse_when(const char *opt, const char *arg, time_t now, time_t *out)
{
	if (!parse_time(arg, now, out))
		return PROCEED;
	fprintf(stderr, "connpeak history: bad %s '%s': expected e.g. '2026-12-03 09:00', "
		"today, yesterday, -2d or -6h\n", opt, arg);
	return EXIT_USAGE;
}

static int parse_history(int argc, char **argv, struct history_opts *o)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "by", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'J' },
		{ "state-dir", required_argument, NULL, 's' },
		COMMON_LONG_OPTS,
		{}
	};
	time_t now = time(NULL);
	int c, status = PROCEED;

	opterr = 0;
	while (status == PROCEED && (c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		if (c == 'S')
			status = parse_when("--since", optarg, now, &o->since);
		else if (c == 'U')
			status = parse_when("--until", optarg, now, &o->until);
		else if (c == 'b')
			status = parse_unit(optarg, o);
		else if (c == 'J')
			o->json = true;
		else if (c == 's')
			o->state_dir = optarg;
		else if (!common_option(c, &o->common, "history", &status))
			return bad_option("history", argv, c);
	}
	if (status != PROCEED)
		return status;
	if (o->since >= o->until) {
		fprintf(stderr, "connpeak history: --since is not before --until\n");
		return EXIT_USAGE;
	}
	if (port_set__parse(&o->ports, argv + optind, argc - optind))
		return EXIT_USAGE;
	return check_privileges() ? EXIT_FAIL : PROCEED;
}

static unsigned int current_in(const struct tracker *t, unsigned int port)
{
	const struct connpeak_slot *s = &t->slots[CONNPEAK_DIR_IN * CONNPEAK_NR_PORTS + port];

	return CONNPEAK_CUR(__atomic_load_n(&s->cur_peak, __ATOMIC_RELAXED));
}

/* Saved points before the ring's window, then the ring's; caller frees. */
static struct hist_point *join_saved(const struct tracker *t, const struct hist_view *v,
				     __u32 idx, const char *state_dir, struct hist_point *ring,
				     size_t *n)
{
	struct hist_point *all = NULL, *grown;
	struct state_rec *recs = NULL;
	char boot_id[40];
	size_t nrecs = 0;
	long saved = 0;
	__u64 first;

	if (!*n || statefile__boot_id(boot_id, sizeof(boot_id)) ||
	    statefile__read(state_dir, t->conf.ports[idx], &recs, &nrecs))
		return ring;
	first = hist_first_bucket(v);
	saved = hist_saved(recs, nrecs, boot_id, t->stats[CONNPEAK_STAT_START_NS], first,
			   hist_standing_at(v, idx, first, ring[0].peak), &all);
	free(recs);
	if (saved <= 0)
		return ring;
	grown = realloc(all, (saved + *n) * sizeof(*all));
	if (!grown) {
		free(all);
		return ring;
	}
	memcpy(grown + saved, ring, *n * sizeof(*ring));
	free(ring);
	*n += saved;
	return grown;
}

/* The points of history port index idx, oldest first; caller frees. */
struct hist_point *port_points(const struct tracker *t, __u32 idx, const char *state_dir,
			       size_t *n)
{
	struct hist_view v = {
		.ring = t->hist,
		.nbuckets = t->conf.nbuckets,
		.bucket_ns = t->conf.bucket_ns,
		.start_ns = t->stats[CONNPEAK_STAT_HIST_START_NS],
		.now_boot_ns = clock_ns(CLOCK_BOOTTIME),
		.now_real_ns = clock_ns(CLOCK_REALTIME),
	};
	struct hist_point *pts = calloc(t->conf.nbuckets, sizeof(*pts));
	long got;

	*n = 0;
	if (!pts)
		return NULL;
	got = hist_series(&v, idx, current_in(t, t->conf.ports[idx]), pts, t->conf.nbuckets);
	*n = got < 0 ? 0 : got;
	return state_dir ? join_saved(t, &v, idx, state_dir, pts, n) : pts;
}

static void list_history_ports(const struct tracker *t, FILE *out)
{
	__u32 i;

	if (!t->conf.nports) {
		fputs("no port has history (started with --history-ports 0?)", out);
		return;
	}
	fputs("ports with history:", out);
	for (i = 0; i < t->conf.nports; i++)
		fprintf(out, "%s %u", i ? "," : "", t->conf.ports[i]);
}

int hist_index_of(const struct tracker *t, unsigned int port)
{
	__u32 i;

	for (i = 0; i < t->conf.nports; i++)
		if (t->conf.ports[i] == port)
			return i;
	return -1;
}

/* Every named port must have history; with none named, take them all. */
static int select_ports(const struct tracker *t, const struct port_set *want, bool *sel)
{
	unsigned int port;
	__u32 i;

	for (i = 0; i < t->conf.nports; i++)
		sel[i] = !want->count || port_set__has(want, t->conf.ports[i]);
	for (port = 1; port < 65536; port++) {
		if (!port_set__has(want, port) || hist_index_of(t, port) >= 0)
			continue;
		fprintf(stderr, "connpeak: port %u has no history; ", port);
		list_history_ports(t, stderr);
		fputc('\n', stderr);
		return -ENOENT;
	}
	if (t->conf.nports)
		return 0;
	fputs("connpeak: ", stderr);
	list_history_ports(t, stderr);
	fputc('\n', stderr);
	return -ENOENT;
}

static int term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 40)
		return ws.ws_col;
	return 80;
}

/* A bar of value/max of width cells, in eighths of a cell. */
static void print_bar(unsigned int value, unsigned int max, int width)
{
	static const char *const eighths[] = {
		"", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589",
	};
	unsigned long long units = max ? (unsigned long long)value * width * 8 / max : 0;
	unsigned long long i;

	for (i = 0; i < units / 8; i++)
		fputs("\u2588", stdout);
	fputs(eighths[units % 8], stdout);
}

static void print_points(unsigned int port, const struct hist_point *pts, size_t n,
			 const int *busiest, enum hist_unit unit, bool tty)
{
	const char *name = services__name(port);
	unsigned int max = 0;
	char when[32];
	struct tm tm;
	size_t i;

	for (i = 0; i < n; i++)
		if (pts[i].peak > max)
			max = pts[i].peak;
	printf("%u %s (in): peak open connections per %s\n", port, name ? name : "-",
	       unit == HIST_BY_DAY ? "day" : unit == HIST_BY_HOUR ? "hour" : "bucket");
	for (i = 0; i < n; i++) {
		localtime_r(&pts[i].start, &tm);
		strftime(when, sizeof(when), unit == HIST_BY_DAY ? "%Y-%m-%d" :
			 unit == HIST_BY_HOUR ? "%Y-%m-%d %H:00" : "%Y-%m-%d %H:%M:%S", &tm);
		printf("  %-19s %9u", when, pts[i].peak);
		if (unit == HIST_BY_DAY)
			printf("  busiest %02d:00", busiest[i]);
		if (tty) {
			putchar(' ');
			print_bar(pts[i].peak, max, term_width() - 33 - (unit == HIST_BY_DAY) * 15);
		}
		putchar('\n');
	}
}

static void print_json_points(unsigned int port, const struct hist_point *pts, size_t n,
			      bool *first)
{
	const char *name = services__name(port);
	char when[32];
	size_t i;

	for (i = 0; i < n; i++) {
		fmt_utc(when, sizeof(when), pts[i].start);
		printf("%s{\"port\":%u,\"service\":", *first ? "" : ",", port);
		if (name)
			printf("\"%s\"", name);
		else
			fputs("null", stdout);
		printf(",\"start\":\"%s\",\"peak\":%u}", when, pts[i].peak);
		*first = false;
	}
}

static int show_history(const struct tracker *t, const struct history_opts *o, const bool *sel)
{
	enum hist_unit unit = o->unit_given || !o->json ? o->unit : HIST_BY_BUCKET;
	bool tty = isatty(STDOUT_FILENO), first = true;
	struct hist_point *pts;
	int *busiest;
	size_t n;
	__u32 i;

	if (o->json)
		fputs("{\"history\":[", stdout);
	for (i = 0; i < t->conf.nports; i++) {
		if (!sel[i])
			continue;
		pts = port_points(t, i, o->state_dir, &n);
		busiest = pts ? calloc(n + 1, sizeof(*busiest)) : NULL;
		if (!pts || !busiest) {
			free(pts);
			free(busiest);
			fprintf(stderr, "connpeak: history: reading failed: %s\n",
				strerror(ENOMEM));
			return EXIT_FAIL;
		}
		n = hist_clip(pts, n, o->since, o->until);
		n = hist_aggregate(pts, n, unit, busiest);
		if (o->json)
			print_json_points(t->conf.ports[i], pts, n, &first);
		else
			print_points(t->conf.ports[i], pts, n, busiest, unit, tty);
		free(busiest);
		free(pts);
	}
	if (o->json)
		fputs("]}\n", stdout);
	return EXIT_OK;
}

int cmd_history(int argc, char **argv)
{
	struct history_opts o = {
		.common = { .pin_dir = DEFAULT_PIN_DIR },
		.until = time(NULL) + 1,
		.unit = HIST_BY_HOUR,
		.state_dir = STATE_DEFAULT_DIR,
	};
	struct tracker t = TRACKER_INIT;
	bool *sel;
	int status;

	status = parse_history(argc, argv, &o);
	if (status != PROCEED)
		return status;
	setup_libbpf_log(o.common.verbose);
	if (open_pinned(&t, o.common.pin_dir, false))
		return EXIT_FAIL;
	services__load(SERVICES_PATH);
	sel = calloc(t.conf.nports + 1, sizeof(*sel));
	if (!sel)
		status = EXIT_FAIL;
	else if (select_ports(&t, &o.ports, sel))
		status = EXIT_FAIL;
	else
		status = show_history(&t, &o, sel);
	free(sel);
	tracker__close(&t);
	return status;
}
