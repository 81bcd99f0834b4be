/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_NETNS_H
#define CONNPEAK_NETNS_H

/*
 * Call fn(arg) once inside each network namespace that a process or a
 * /run/netns mount holds, then return to the caller's namespace. Namespaces
 * held only by an open file descriptor are not visited.
 */
int netns__each(int (*fn)(void *arg), void *arg);

#endif
