/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_LISTENERS_H
#define CONNPEAK_LISTENERS_H

#include "opts.h"

/*
 * Add the local port of every listening TCP socket (IPv4 and IPv6) in the
 * caller's network namespace to set. Asks the kernel through sock_diag,
 * which walks only the listening sockets. 0 or a negative errno.
 */
int listeners__collect(struct port_set *set);

#endif
