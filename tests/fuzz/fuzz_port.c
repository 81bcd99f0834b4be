// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * parse_port and port_set__parse: the input is split into arguments at
 * newlines, as argv would hand them over.
 */
#include <ctype.h>
#include <errno.h>
#include "fuzz.h"
#include "opts.h"

#define MAX_ARGS 16

/* A number is accepted exactly when it is all digits and in 1-65535. */
static void check_number(const char *arg, int err, unsigned int port)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; arg[i]; i++) {
		if (!isdigit((unsigned char)arg[i]))
			break;
		if (v <= 65535)
			v = v * 10 + (unsigned long)(arg[i] - '0');
	}
	if (arg[i]) {
		fuzz_check(err == -EINVAL, "'%s': not all digits but err %d", arg, err);
		return;
	}
	if (v < 1 || v > 65535) {
		fuzz_check(err == -ERANGE, "'%s': out of range but err %d", arg, err);
		return;
	}
	fuzz_check(!err && port == v, "'%s': err %d, port %u", arg, err, port);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct port_set set;
	char *text = fuzz_text(data, size), *args[MAX_ARGS], *p;
	unsigned int port = 0;
	int nargs = 0, err, i;

	for (p = text; nargs < MAX_ARGS; p++) {
		args[nargs++] = p;
		p += strcspn(p, "\n");
		if (!*p)
			break;
		*p = '\0';
	}
	for (i = 0; i < nargs; i++) {
		port = 0;
		err = parse_port(args[i], &port);
		if (isdigit((unsigned char)args[i][0]))
			check_number(args[i], err, port);
		else if (!err)
			fuzz_check(port >= 1 && port <= 65535, "'%s': port %u", args[i], port);
		else
			fuzz_check(err == -EINVAL || err == -ENOENT, "'%s': err %d", args[i], err);
	}
	err = port_set__parse(&set, args, nargs);
	if (!err) {
		fuzz_check(set.count <= (unsigned int)nargs, "%u ports from %d args", set.count,
			   nargs);
		for (i = 0; i < nargs; i++) {
			fuzz_check(!parse_port(args[i], &port) && port_set__has(&set, port),
				   "'%s' accepted but not in the set", args[i]);
		}
	}
	free(text);
	return 0;
}
