/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_HTTPD_H
#define CONNPEAK_HTTPD_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Outside the Prometheus exporter port allocations (9100-9999, full since
 * 2023, now going on from 10000): README "Prometheus" says why this port.
 */
#define HTTPD_DEFAULT_LISTEN "127.0.0.1:19465"

/* A server answering GET /metrics on one address, from a thread of its own. */
struct httpd;

/*
 * Render the body of one /metrics answer into a malloc'd buffer, which
 * the server frees. Returns 0, or a negative errno (the client then gets
 * 500). Runs on the server's thread, one request at a time.
 */
typedef int (*httpd_render_fn)(void *ctx, char **buf, size_t *len);

/*
 * Parse "ADDR:PORT" (numeric IPv4) or "[ADDR]:PORT" (numeric IPv6), port
 * 1-65535. Returns 0, -EINVAL for a malformed address or -ERANGE for a
 * port out of range.
 */
int httpd__parse_listen(const char *listen, struct sockaddr_storage *addr,
			socklen_t *addrlen);

/*
 * Listen on listen and serve until httpd__stop. On failure prints why and
 * returns NULL with errno set.
 */
struct httpd *httpd__start(const char *listen, httpd_render_fn render, void *ctx);
void httpd__stop(struct httpd *h);

#endif
