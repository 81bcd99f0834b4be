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
		port_set__add(set, port);
	}
	return 0;
}

void port_set__add(struct port_set *set, unsigned int port)
{
	if (port >= 65536 || port_set__has(set, port))
		return;
	set->bits[port / 8] |= 1 << (port % 8);
	set->count++;
}

bool port_set__has(const struct port_set *set, unsigned int port)
{
	return port < 65536 && (set->bits[port / 8] & (1 << (port % 8)));
}

int parse_duration(const char *arg, unsigned long unit, unsigned long min, unsigned long max,
		   unsigned long *secs)
{
	static const struct { char suffix; unsigned long secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char num[32];
	size_t len = strlen(arg), i;
	unsigned long v;
	int err;

	if (!len || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, arg, len + 1);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (num[len - 1] == units[i].suffix) {
			num[len - 1] = '\0';
			unit = units[i].secs;
			break;
		}
	}
	err = parse_ulong(num, 0, max / unit + 1, &v);
	if (err)
		return err;
	v *= unit;
	if (v < min || v > max)
		return -ERANGE;
	*secs = v;
	return 0;
}
