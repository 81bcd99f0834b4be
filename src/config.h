/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_CONFIG_H
#define CONNPEAK_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <linux/types.h>
#include "connpeak.h"

#define CONFIG_DEFAULT_PATH	"/etc/connpeak.conf"
#define CONFIG_DEFAULT_WARN	80
#define STATE_DEFAULT_DIR	"/var/lib/connpeak"

struct limit_cfg {
	unsigned int port;
	unsigned int limit;
	unsigned int warn_pct;		/* 0: the global warn */
};

/* The daemon's settings; a *_set flag says the value was given. */
struct daemon_cfg {
	struct limit_cfg limits[CONNPEAK_MAX_ALERT_PORTS];
	unsigned int nlimits;
	unsigned int warn_pct;
	char listen[128];
	char state_dir[PATH_MAX];
	char pin_dir[PATH_MAX];
	bool warn_set, listen_set, state_dir_set, pin_dir_set;
};

/*
 * Parse "SERVICE=N" or "PORT=N" into cfg, replacing an earlier limit for
 * the same port. Returns 0 or a negative errno; why, if not NULL, gets a
 * short reason.
 */
int config__add_limit(struct daemon_cfg *cfg, const char *spec, const char **why);
/* Parse "80%" or "80" (1-100). */
int config__parse_pct(const char *arg, unsigned int *pct);
/*
 * Read a config file of "key = value" lines (# comments). A bad line is
 * reported as "connpeak: PATH:LINE: ..." and fails the whole file, with
 * cfg unchanged: -EINVAL, or -E2BIG for more limits than fit. Other errors
 * (-ENOENT if the file does not exist, -EISDIR...) print nothing.
 */
int config__load(const char *path, struct daemon_cfg *cfg);
/* Values given in over win over those in base; the result is in base. */
void config__merge(struct daemon_cfg *base, const struct daemon_cfg *over);
/* 0 if value is "off" or an address httpd__parse_listen() takes, else -EINVAL. */
int config__check_listen(const char *value);
/* Warning level for a limit: ceil(limit * pct / 100), at least 1. */
unsigned int config__warn_level(const struct daemon_cfg *cfg, const struct limit_cfg *l);

#endif
