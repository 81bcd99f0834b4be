// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "httpd.h"
#include "opts.h"

/*
 * Kept apart from httpd.c, which needs libmicrohttpd, so that the unit
 * tests reach it. Numeric addresses only: no name is looked up at start.
 */
static int set_addr(int family, const char *host, unsigned int port,
		    struct sockaddr_storage *addr, socklen_t *addrlen)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
	struct sockaddr_in *in = (struct sockaddr_in *)addr;

	memset(addr, 0, sizeof(*addr));
	if (family == AF_INET) {
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*addrlen = sizeof(*in);
	} else {
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*addrlen = sizeof(*in6);
	}
	return 0;
}

int httpd__parse_listen(const char *listen, struct sockaddr_storage *addr,
			socklen_t *addrlen)
{
	char host[INET6_ADDRSTRLEN];
	const char *start = listen, *end;
	int family = AF_INET, err;
	unsigned long port;

	if (listen[0] == '[') {
		family = AF_INET6;
		start = listen + 1;
		end = strchr(start, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
	} else {
		end = strchr(listen, ':');
		if (!end || strchr(end + 1, ':'))
			return -EINVAL;
	}
	if (end == start || (size_t)(end - start) >= sizeof(host))
		return -EINVAL;
	memcpy(host, start, end - start);
	host[end - start] = '\0';

	err = parse_ulong(end + (family == AF_INET6 ? 2 : 1), 1, 65535, &port);
	if (err)
		return err;
	return set_addr(family, host, port, addr, addrlen);
}
