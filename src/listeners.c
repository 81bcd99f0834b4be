// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "listeners.h"

#define TCP_LISTEN_STATE 10

static int request(int fd, int family)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = {
			.sdiag_family = family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = 1u << TCP_LISTEN_STATE,
		},
	};

	return send(fd, &msg, sizeof(msg), 0) < 0 ? -errno : 0;
}

/* 1 when the dump is complete, 0 to read more, negative errno on error. */
static int parse(const char *buf, ssize_t len, struct port_set *set)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
	const struct inet_diag_msg *m;
	unsigned int port;

	for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR)
			return -EPROTO;
		m = NLMSG_DATA(h);
		port = ntohs(m->id.idiag_sport);
		if (port)
			port_set__add(set, port);
	}
	return 0;
}

static int collect_family(int family, struct port_set *set)
{
	static char buf[32768] __attribute__((aligned(8)));
	int fd, err;
	ssize_t n;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	err = request(fd, family);
	while (!err) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			err = -errno;
		else if (n == 0)
			break;
		else
			err = parse(buf, n, set);
	}
	close(fd);
	return err < 0 ? err : 0;
}

int listeners__collect(struct port_set *set)
{
	int err = collect_family(AF_INET, set);

	/* A kernel without IPv6 has no IPv6 listeners to find. */
	if (!err)
		err = collect_family(AF_INET6, set);
	return err == -ENOENT || err == -EAFNOSUPPORT ? 0 : err;
}
