/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_SERVICES_H
#define CONNPEAK_SERVICES_H

/*
 * TCP service names from /etc/services, read directly rather than through
 * NSS so that a query costs one small file read.
 */

#define SERVICES_PATH "/etc/services"

/* Load the TCP entries of a services(5) file; 0 or a negative errno. */
int services__load(const char *path);
/* The first name listed for a TCP port, or NULL. */
const char *services__name(unsigned int port);
/* The port for a TCP service name or alias, or -1. */
int services__port(const char *name);
void services__free(void);

#endif
