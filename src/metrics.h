/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_METRICS_H
#define CONNPEAK_METRICS_H

#include <stddef.h>
#include <stdio.h>
#include "output.h"

/*
 * A port with a configured limit, as the daemon sees it. Limits concern
 * the connections a local service accepts, so their series carry
 * direction="in" and line up with the inbound open-connection series.
 */
struct metric_port {
	unsigned int port;
	unsigned int limit;		/* connections; 0: no limit */
	unsigned int warn;		/* warning level in connections; 0: none */
	unsigned long long alerts;	/* alert events sent */
	unsigned long long suppressed;	/* alert events suppressed */
};

/*
 * Write rows and ports in the Prometheus text exposition format 0.0.4.
 * Series appear in the order given: pass rows sorted by port, and each
 * port at most once in ports. A family without a sample is left out.
 */
void metrics__write(FILE *out, const struct port_row *rows, size_t n,
		    const struct metric_port *ports, size_t nports);

#endif
