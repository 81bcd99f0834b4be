// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "httpd.h"
#include "opts.h"

static struct limit_cfg *limit_slot(struct daemon_cfg *cfg, unsigned int port)
{
	unsigned int i;

	for (i = 0; i < cfg->nlimits; i++)
		if (cfg->limits[i].port == port)
			return &cfg->limits[i];
	if (cfg->nlimits == CONNPEAK_MAX_ALERT_PORTS)
		return NULL;
	cfg->limits[cfg->nlimits].port = port;
	cfg->limits[cfg->nlimits].warn_pct = 0;
	return &cfg->limits[cfg->nlimits++];
}

static int split(const char *spec, char *name, size_t len, const char **value)
{
	const char *eq = strchr(spec, '=');

	if (!eq || (size_t)(eq - spec) >= len)
		return -EINVAL;
	memcpy(name, spec, eq - spec);
	name[eq - spec] = '\0';
	*value = eq + 1;
	return 0;
}

int config__add_limit(struct daemon_cfg *cfg, const char *spec, const char **why)
{
	struct limit_cfg *l;
	unsigned long limit;
	unsigned int port;
	const char *value;
	char name[64];

	if (split(spec, name, sizeof(name), &value)) {
		*why = "expected SERVICE=N";
		return -EINVAL;
	}
	if (parse_port(name, &port)) {
		*why = "not a port number or TCP service name";
		return -EINVAL;
	}
	if (parse_ulong(value, 1, 1000000000, &limit)) {
		*why = "the limit must be a whole number from 1 to 1000000000";
		return -EINVAL;
	}
	l = limit_slot(cfg, port);
	if (!l) {
		*why = "too many limits (256 at most)";
		return -E2BIG;
	}
	l->limit = limit;
	return 0;
}

int config__parse_pct(const char *arg, unsigned int *pct)
{
	char num[16];
	size_t len = strlen(arg);
	unsigned long v;

	if (!len || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, arg, len + 1);
	if (num[len - 1] == '%')
		num[len - 1] = '\0';
	if (parse_ulong(num, 1, 100, &v))
		return -EINVAL;
	*pct = v;
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int set_string(char *dst, size_t len, const char *value, bool *set, const char **why)
{
	if (!value[0] || strlen(value) >= len) {
		if (why)
			*why = "empty or too long";
		return -EINVAL;
	}
	strcpy(dst, value);
	*set = true;
	return 0;
}

int config__check_listen(const char *value)
{
	struct sockaddr_storage addr;
	socklen_t len;

	if (!strcmp(value, "off"))
		return 0;
	return httpd__parse_listen(value, &addr, &len) ? -EINVAL : 0;
}

static int set_listen(struct daemon_cfg *cfg, const char *value, const char **why)
{
	if (config__check_listen(value)) {
		*why = "expected ADDR:PORT, [ADDR]:PORT or off";
		return -EINVAL;
	}
	return set_string(cfg->listen, sizeof(cfg->listen), value, &cfg->listen_set, why);
}

/* warn.SERVICE = PCT: the warning level of one port. */
static int port_warn(struct daemon_cfg *cfg, const char *name, const char *value,
		     const char **why)
{
	struct limit_cfg *l;
	unsigned int port, pct;

	if (parse_port(name, &port)) {
		*why = "not a port number or TCP service name";
		return -EINVAL;
	}
	if (config__parse_pct(value, &pct)) {
		*why = "expected a percentage from 1 to 100";
		return -EINVAL;
	}
	l = limit_slot(cfg, port);
	if (!l) {
		*why = "too many ports (256 at most)";
		return -E2BIG;
	}
	l->warn_pct = pct;
	return 0;
}

static int apply(struct daemon_cfg *cfg, const char *key, const char *value, const char **why)
{
	char spec[192];

	if (!strncmp(key, "limit.", 6)) {
		snprintf(spec, sizeof(spec), "%s=%s", key + 6, value);
		return config__add_limit(cfg, spec, why);
	}
	if (!strncmp(key, "warn.", 5))
		return port_warn(cfg, key + 5, value, why);
	if (!strcmp(key, "warn")) {
		cfg->warn_set = true;
		*why = "expected a percentage from 1 to 100";
		return config__parse_pct(value, &cfg->warn_pct);
	}
	if (!strcmp(key, "listen"))
		return set_listen(cfg, value, why);
	if (!strcmp(key, "state-dir"))
		return set_string(cfg->state_dir, sizeof(cfg->state_dir), value,
				  &cfg->state_dir_set, why);
	if (!strcmp(key, "pin-dir"))
		return set_string(cfg->pin_dir, sizeof(cfg->pin_dir), value, &cfg->pin_dir_set,
				  why);
	*why = "unknown key";
	return -EINVAL;
}

static int parse_line(struct daemon_cfg *cfg, char *line, const char **why)
{
	char *eq, *key, *value;

	line[strcspn(line, "#\n")] = '\0';
	key = trim(line);
	if (!key[0])
		return 0;
	eq = strchr(key, '=');
	if (!eq) {
		*why = "expected 'key = value'";
		return -EINVAL;
	}
	*eq = '\0';
	value = trim(eq + 1);
	key = trim(key);
	return apply(cfg, key, value, why);
}

static void report_line(const char *path, unsigned int lineno, const char *line,
			const char *why)
{
	int len = strcspn(line, "\n");

	fprintf(stderr, "connpeak: %s:%u: bad line '%.*s': %s\n", path, lineno, len, line, why);
}

int config__load(const char *path, struct daemon_cfg *cfg)
{
	struct daemon_cfg *next = malloc(sizeof(*next));
	char *line = NULL, *copy = NULL;
	const char *why = "";
	unsigned int lineno = 0;
	bool bad_line;
	size_t cap = 0;
	int err = 0;
	FILE *f;

	f = next ? fopen(path, "re") : NULL;
	if (!f) {
		err = next ? -errno : -ENOMEM;
		free(next);
		return err;
	}
	*next = *cfg;
	while (!err && getline(&line, &cap, f) > 0) {
		lineno++;
		free(copy);
		copy = strdup(line);
		err = copy ? parse_line(next, line, &why) : -ENOMEM;
	}
	bad_line = err == -EINVAL || err == -E2BIG;
	/* e.g. EISDIR; EINVAL and E2BIG would tell the caller of a bad line */
	if (!err && ferror(f))
		err = errno && errno != EINVAL && errno != E2BIG ? -errno : -EIO;
	fclose(f);
	if (bad_line) {
		report_line(path, lineno, copy, why);
	} else if (!err) {
		*cfg = *next;
	}
	free(line);
	free(copy);
	free(next);
	return err;
}

void config__merge(struct daemon_cfg *base, const struct daemon_cfg *over)
{
	struct limit_cfg *l;
	unsigned int i;

	for (i = 0; i < over->nlimits; i++) {
		l = limit_slot(base, over->limits[i].port);
		if (!l)
			break;
		if (over->limits[i].limit)
			l->limit = over->limits[i].limit;
		if (over->limits[i].warn_pct)
			l->warn_pct = over->limits[i].warn_pct;
	}
	if (over->warn_set) {
		base->warn_pct = over->warn_pct;
		base->warn_set = true;
	}
	if (over->listen_set)
		set_string(base->listen, sizeof(base->listen), over->listen, &base->listen_set,
			   NULL);
	if (over->state_dir_set)
		set_string(base->state_dir, sizeof(base->state_dir), over->state_dir,
			   &base->state_dir_set, NULL);
	if (over->pin_dir_set)
		set_string(base->pin_dir, sizeof(base->pin_dir), over->pin_dir,
			   &base->pin_dir_set, NULL);
}

unsigned int config__warn_level(const struct daemon_cfg *cfg, const struct limit_cfg *l)
{
	unsigned int pct = l->warn_pct ? l->warn_pct : cfg->warn_pct;
	unsigned long long w = ((unsigned long long)l->limit * pct + 99) / 100;

	return w ? (unsigned int)w : 1;
}
