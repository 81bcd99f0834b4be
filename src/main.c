// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "commands.h"
#include "opts.h"

#define CONNPEAK_VERSION "0.1.0"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
	const char *help;
};

static const struct command commands[] = {
	{ "start", cmd_start,
	  "start [--all-netns] [--bucket SECONDS] [--keep DAYS] [--history-ports N]\n"
	  "                  [--clients N] [--client-prefix V4,V6] [PORT...]",
	  "Load the tracker, count the connections already open, pin it and exit.\n"
	  "Counting goes on in the kernel with no connpeak process running.\n"
	  "The kernel also keeps the peak of each time bucket for inbound connections\n"
	  "on the PORTs named and on every port with a listener at start.\n"
	  "  --all-netns            count every network namespace, not only this one\n"
	  "  --bucket SECONDS       history bucket length (default 300, at most 86400)\n"
	  "  --keep DAYS            history kept (default 8; 1-366, or a number with\n"
	  "                         s, m, h or d, e.g. 12h)\n"
	  "  --history-ports N      ports with history at most (default 64, 0 for none)\n"
	  "  --clients N            room for N clients of inbound connections (default\n"
	  "                         16384, 96 bytes of kernel memory each; 0: off)\n"
	  "  --client-prefix V4,V6  count clients by network: IPv4 /V4 (1-32) and IPv6\n"
	  "                         /V6 (1-128), e.g. 24,64 (default 32,128: by address)\n" },
	{ "stop", cmd_stop, "stop",
	  "Detach the tracker and remove its pins; its counts are lost.\n" },
	{ "show", cmd_show,
	  "show [--format table|json|prometheus] [--json] [--in | --out] [PORT|SERVICE...]",
	  "Print, per port and direction, the open connections, the peak, when the\n"
	  "peak was reached (local time) and the connections opened since start.\n"
	  "Only rows that have counted a connection are shown.\n"
	  "  --format FORMAT   table (default); json: one JSON object, peak_at in UTC\n"
	  "                    (RFC 3339); prometheus: text exposition format 0.0.4,\n"
	  "                    e.g. for node_exporter's textfile collector\n"
	  "  --json            the same as --format json\n"
	  "  --in, --out       only inbound or only outbound connections\n" },
	{ "reset", cmd_reset, "reset [--in | --out] [PORT|SERVICE...]",
	  "Set peaks back to the current count (all ports unless some are named).\n" },
	{ "history", cmd_history,
	  "history [--since T] [--until T] [--by bucket|hour|day] [--json] [--state-dir DIR]\n"
	  "                  [PORT|SERVICE...]",
	  "Peak open inbound connections per hour (default), per day with its busiest\n"
	  "hour, or per bucket, for ports with history; a bar chart on a terminal.\n"
	  "Kept by the kernel since start, for --keep days (see start), and before\n"
	  "that as saved by connpeak daemon.\n"
	  "  --since T, --until T   '2026-12-03 09:00', 2026-12-03, today, yesterday,\n"
	  "                         now, or time ago: -30m, -6h, -2d (local time)\n"
	  "  --by UNIT              bucket, hour or day\n"
	  "  --json                 one object per port and bucket (or --by unit),\n"
	  "                         start in UTC (RFC 3339)\n"
	  "  --state-dir DIR        where the daemon saved history (default\n"
	  "                         /var/lib/connpeak)\n" },
	{ "advise", cmd_advise,
	  "advise [--headroom PCT] [--users N] [--client-limit N] [--json]\n"
	  "                  [--state-dir DIR] [PORT|SERVICE...]",
	  "For each inbound service: the highest peak seen, the hour of day the daily\n"
	  "peak usually falls in, and a suggested limit = ceil(peak x (1 + headroom)).\n"
	  "Flags a service whose last-24-hour peak exceeds the peak of the days before\n"
	  "by more than the headroom. Ports with history are judged over it, others by\n"
	  "their peak since start.\n"
	  "Per client (address, or network with start --client-prefix; IPv4-mapped\n"
	  "shown as IPv4): the highest peak of one client, a suggested per-client\n"
	  "limit by the same rule, and the client that had that peak ('-' or null when\n"
	  "the port has no client data). Client peaks count since start only (there is\n"
	  "no per-client history), and the peaks of evicted clients are lost. A tracker\n"
	  "started with --clients 0 gives no per-client advice: a note says so.\n"
	  "  --headroom PCT     headroom in percent (default 25)\n"
	  "  --users N          with under a day of history, also give 5 x N as a start\n"
	  "  --client-limit N   the per-client limit in force now (1-1000000): name the\n"
	  "                     clients whose peak exceeded it, that it would have\n"
	  "                     refused (table: the first 5; JSON \"refused\": all).\n"
	  "                     Without it, clients are checked against the suggested\n"
	  "                     per-client limit, which no client exceeds: the table\n"
	  "                     names none and \"refused\" is []\n"
	  "  --json             one object with an \"advice\" array; per service also\n"
	  "                     client_peak, client_limit, top_client and refused\n"
	  "  --state-dir DIR    where the daemon saved history (default /var/lib/connpeak)\n" },
	{ "daemon", cmd_daemon,
	  "daemon [--config FILE] [--limit SERVICE=N]... [--warn PCT] [--listen ADDR:PORT]\n"
	  "                  [--state-dir DIR]",
	  "Run in the foreground (for systemd): use the pinned tracker, starting one if\n"
	  "none is pinned, and leave it pinned on exit. Log a line on stderr, with a\n"
	  "syslog priority prefix, when an inbound port with a limit reaches the\n"
	  "warning level or the limit, falls back below it, or sets a new peak: at most\n"
	  "10 such events per port and second, the rest counted and reported as\n"
	  "suppressed. Save each completed history bucket under the state directory.\n"
	  "SIGTERM or SIGINT: save and exit 0; SIGHUP: reload the limits from the file.\n"
	  "  --config FILE        key = value lines (default /etc/connpeak.conf):\n"
	  "                       limit.SERVICE = N, warn = PCT, warn.SERVICE = PCT,\n"
	  "                       listen = ADDR:PORT, state-dir = DIR, pin-dir = DIR\n"
	  "  --limit SERVICE=N    limit for a port or service (options win over the file)\n"
	  "  --warn PCT           warning level in percent of the limit (default 80)\n"
	  "  --listen ADDR:PORT   serve /metrics for Prometheus there (default\n"
	  "                       127.0.0.1:19465; off for none)\n"
	  "  --state-dir DIR      where history is saved (default /var/lib/connpeak)\n" },
	{ "clients", cmd_clients,
	  "clients [--top N] [--sort current|peak] [--json] [--resolve] [PORT|SERVICE...]",
	  "Print, per port, the clients (remote addresses) holding inbound connections:\n"
	  "open connections, peak, when the peak was reached (local time) and the\n"
	  "connections opened since start, busiest first. A client without open\n"
	  "connections stays until the table needs its room (about the least\n"
	  "recently active goes first). Such evictions, and connections attributed\n"
	  "to no client because the table was full, are reported on stderr (in JSON:\n"
	  "evicted, overflow, unattributed). IPv4-mapped IPv6 clients are shown as\n"
	  "IPv4.\n"
	  "  --top N                 clients per port (default 10)\n"
	  "  --sort current|peak     order by open connections (default) or by peak\n"
	  "  --json                  one JSON object, peak_at in UTC (RFC 3339)\n"
	  "  --resolve               add reverse DNS names (slow; never by default)\n" },
	{ "top", cmd_top, "top [-d SECONDS] [-n COUNT] [--in | --out] [PORT|SERVICE...]",
	  "Live table, busiest ports first; '*' marks a port standing at its peak.\n"
	  "Without a pinned tracker, loads one for its own lifetime.\n"
	  "  -d, --interval SECONDS   seconds between redraws (default 1)\n"
	  "  -n, --count COUNT        stop after COUNT tables (default: until Ctrl-C)\n"
	  "  --in, --out              only inbound or only outbound connections\n" },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char common_help[] =
	"Options of every command:\n"
	"  --pin-dir DIR   pin directory of the tracker (default /sys/fs/bpf/connpeak)\n"
	"  -v, --verbose   print libbpf's debug messages\n"
	"  -h, --help      print this help\n";

static const char ports_help[] =
	"PORT is a number (1-65535) or a TCP service name from /etc/services\n"
	"(smtp, submission, imaps, pop3s, https, ...). A connection is open while\n"
	"its socket is ESTABLISHED or CLOSE_WAIT. 'in' counts connections accepted\n"
	"by a local listener, by local port; 'out' counts connections made from\n"
	"this host, by remote port.\n";

static const char exit_help[] =
	"Exit status: 0 success, 1 failure (no tracker, no privileges, kernel\n"
	"support missing), 2 bad command line.\n";

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "Usage: connpeak [COMMAND] [OPTIONS] [PORT|SERVICE...]\n"
		"Exact open TCP connections and their peaks per port, kept in the kernel.\n\n"
		"Commands (default: top):\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(out, "  connpeak %s\n", commands[i].synopsis);
	fprintf(out, "\n%s\n%s\n%s"
		"'connpeak COMMAND --help' describes one command.\n", common_help, ports_help,
		exit_help);
}

void usage_command(const char *cmd, FILE *out)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++) {
		if (strcmp(commands[i].name, cmd))
			continue;
		fprintf(out, "Usage: connpeak %s\n\n%s\n%s\n%s\n%s", commands[i].synopsis,
			commands[i].help, common_help, ports_help, exit_help);
	}
}

static bool libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	/* Failures are reported by connpeak itself; libbpf's detail only with -v. */
	if (!libbpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void setup_libbpf_log(bool verbose)
{
	libbpf_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;
	size_t i;

	setup_libbpf_log(false);
	if (name && (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help"))) {
		usage(stdout);
		return EXIT_OK;
	}
	if (name && !strcmp(name, "--version")) {
		printf("connpeak %s\n", CONNPEAK_VERSION);
		return EXIT_OK;
	}
	/* No command, or options only: run top with them. */
	if (!name || name[0] == '-')
		return cmd_top(argc, argv);
	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "connpeak: unknown command '%s' (try 'connpeak --help')\n", name);
	return EXIT_USAGE;
}
