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
	{ "start", cmd_start, "start [--all-netns] [--clients N] [--client-prefix V4,V6]",
	  "Load the tracker, count the connections already open, pin it and exit.\n"
	  "Counting goes on in the kernel with no connpeak process running.\n"
	  "  --all-netns             count every network namespace, not only this one\n"
	  "  --clients N             room for N clients of inbound connections (default\n"
	  "                          16384, 96 bytes of kernel memory each; 0: off)\n"
	  "  --client-prefix V4,V6   count clients by network: IPv4 /V4 (1-32) and IPv6\n"
	  "                          /V6 (1-128), e.g. 24,64 (default 32,128: by address)\n" },
	{ "stop", cmd_stop, "stop",
	  "Detach the tracker and remove its pins; its counts are lost.\n" },
	{ "show", cmd_show, "show [--json] [--in | --out] [PORT|SERVICE...]",
	  "Print, per port and direction, the open connections, the peak, when the\n"
	  "peak was reached (local time) and the connections opened since start.\n"
	  "Only rows that have counted a connection are shown.\n"
	  "  --json        one JSON object, peak_at in UTC (RFC 3339)\n"
	  "  --in, --out   only inbound or only outbound connections\n" },
	{ "reset", cmd_reset, "reset [--in | --out] [PORT|SERVICE...]",
	  "Set peaks back to the current count (all ports unless some are named).\n" },
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
