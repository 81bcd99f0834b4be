/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_OPTS_H
#define CONNPEAK_OPTS_H

#include <stdbool.h>

/* Exit statuses, documented in connpeak(8). */
#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

/* A set of ports named on the command line; empty means every port. */
struct port_set {
	unsigned char bits[65536 / 8];
	unsigned int count;
};

/*
 * Parse an unsigned decimal number in [min, max]. Returns 0, -EINVAL when
 * the text is not a number, -ERANGE when it is out of range.
 */
int parse_ulong(const char *arg, unsigned long min, unsigned long max, unsigned long *out);

/*
 * Parse a TCP port given as a number (1-65535) or a service name from the
 * services file. Returns 0, -EINVAL, -ERANGE, or -ENOENT for an unknown name.
 */
int parse_port(const char *arg, unsigned int *port);

/*
 * Parse a duration: a number in the given unit (seconds per unit), or with
 * a suffix s, m, h or d. The result, in seconds, must lie in [min, max].
 */
int parse_duration(const char *arg, unsigned long unit, unsigned long min, unsigned long max,
		   unsigned long *secs);

/* Parse each argument as a port into set; on error print one line and return it. */
int port_set__parse(struct port_set *set, char **args, int nargs);
bool port_set__has(const struct port_set *set, unsigned int port);
void port_set__add(struct port_set *set, unsigned int port);

#endif
