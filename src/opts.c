// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "opts.h"
#include "services.h"

int parse_ulong(const char *arg, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)arg[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_port(const char *arg, unsigned int *port)
{
	unsigned long v;
	int err, p;

	if (isdigit((unsigned char)arg[0])) {
		err = parse_ulong(arg, 1, 65535, &v);
		if (!err)
			*port = v;
		return err;
	}
	if (!arg[0])
		return -EINVAL;
	services__load(SERVICES_PATH);
	p = services__port(arg);
	if (p < 0)
		return -ENOENT;
	*port = p;
	return 0;
}

static const char *port_error(int err)
{
	switch (err) {
	case -ERANGE:
		return "out of range 1-65535";
	case -ENOENT:
		return "no such TCP service in " SERVICES_PATH;
	default:
		return "not a port number or service name";
	}
}

int port_set__parse(struct port_set *set, char **args, int nargs)
{
	unsigned int port;
	int i, err;

	memset(set, 0, sizeof(*set));
	for (i = 0; i < nargs; i++) {
		err = parse_port(args[i], &port);
		if (err) {
			fprintf(stderr, "connpeak: bad port '%s': %s\n", args[i], port_error(err));
			return err;
		}
		if (!port_set__has(set, port))
			set->count++;
		set->bits[port / 8] |= 1 << (port % 8);
	}
	return 0;
}

bool port_set__has(const struct port_set *set, unsigned int port)
{
	return port < 65536 && (set->bits[port / 8] & (1 << (port % 8)));
}
