/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_COMMANDS_H
#define CONNPEAK_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>

/* Returned by option parsers when the command should go on. */
#define PROCEED (-1)

/* Options every command takes. */
struct common_opts {
	const char *pin_dir;
	bool verbose;
};

/* Each returns an exit status: EXIT_OK, EXIT_FAIL or EXIT_USAGE. */
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_advise(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_clients(int argc, char **argv);

void usage_command(const char *cmd, FILE *out);
void setup_libbpf_log(bool verbose);

/* Report getopt_long's '?' or ':' for cmd: one line on stderr. */
int bad_option(const char *cmd, char **argv, int c);
/* Shared handling of --pin-dir, --verbose and --help; 1 if handled. */
int common_option(int c, struct common_opts *o, const char *cmd, int *status);
/* Open the pinned tracker, with the messages the commands share. */
struct tracker;
int open_pinned(struct tracker *t, const char *pin_dir, bool writable);
void report_open_error(int err, const char *pin_dir);

/*
 * History of a pinned tracker: index of a port, and its points (caller
 * frees); NULL, with *n 0, when out of memory.
 */
struct hist_point;
int hist_index_of(const struct tracker *t, unsigned int port);
struct hist_point *port_points(const struct tracker *t, __u32 idx, const char *state_dir,
			       size_t *n);

/* EXIT_USAGE with a message if operands remain after the options. */
int no_operands(const char *cmd, int argc, char **argv);

/* --in / --out, shared by show, reset and top. */
int dir_option(int c, unsigned int *dirs, const char *cmd, int *status);

#define DIR_LONG_OPTS \
	{ "in", no_argument, NULL, 'I' }, \
	{ "out", no_argument, NULL, 'O' }

#define COMMON_LONG_OPTS \
	{ "pin-dir", required_argument, NULL, 'P' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, 'h' }

#endif
