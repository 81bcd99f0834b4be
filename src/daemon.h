/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_DAEMON_H
#define CONNPEAK_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include "config.h"
#include "httpd.h"
#include "tracker.h"

/* --listen off: no HTTP server. */
#define DAEMON_LISTEN_OFF	"off"

struct ring_buffer;
struct httpd;

struct daemon {
	const char *config_path;
	bool config_given, verbose;
	struct daemon_cfg opts;		/* from the command line */
	struct daemon_cfg cfg;		/* in force; cfg_lock held to change it */
	pthread_mutex_t cfg_lock;
	struct tracker t;
	struct ring_buffer *rb;
	struct httpd *http;
	char boot_id[40];
	long persisted[CONNPEAK_MAX_HIST_PORTS];	/* newest bucket written, per port */
	__u64 reported[CONNPEAK_MAX_ALERT_PORTS];	/* suppressed events reported */
};

int daemon__run(struct daemon *d);
/* Defaults, then the config file, then the command line; 0 or a negative errno. */
int build_daemon_config(const struct daemon *d, struct daemon_cfg *cfg);
/* Write the limits of cfg into the tracker's alert maps. */
void daemon__apply_limits(struct daemon *d);
/* The /metrics body, on the HTTP server's thread. */
int daemon__render_metrics(void *ctx, char **buf, size_t *len);

/* History persistence (src/persist.c). */
int persist__init(struct daemon *d);
/* Append the completed buckets of history port idx older than bucket upto. */
int persist__port(struct daemon *d, __u32 idx, __u32 upto);
/* Every port, up to the current bucket. */
int persist__all(struct daemon *d);

#endif
