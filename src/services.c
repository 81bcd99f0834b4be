// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "services.h"

struct service {
	char *name;
	unsigned int port;
};

static struct service *entries;
static size_t nr_entries, cap_entries;
static char *port_names[65536];
static int loaded;

static int add_entry(const char *name, unsigned int port, int primary)
{
	struct service *grown;

	if (nr_entries == cap_entries) {
		cap_entries = cap_entries ? cap_entries * 2 : 256;
		grown = realloc(entries, cap_entries * sizeof(*entries));
		if (!grown)
			return -ENOMEM;
		entries = grown;
	}
	entries[nr_entries].name = strdup(name);
	if (!entries[nr_entries].name)
		return -ENOMEM;
	entries[nr_entries].port = port;
	if (primary && !port_names[port])
		port_names[port] = entries[nr_entries].name;
	nr_entries++;
	return 0;
}

/* "name port/proto [alias...] [# comment]": keep the TCP lines. */
static int parse_line(char *line)
{
	char *save = NULL, *name, *portproto, *alias, *end;
	unsigned long port;
	int err;

	line[strcspn(line, "#\n")] = '\0';
	name = strtok_r(line, " \t", &save);
	portproto = strtok_r(NULL, " \t", &save);
	if (!name || !portproto)
		return 0;
	errno = 0;
	port = strtoul(portproto, &end, 10);
	if (errno || end == portproto || strcmp(end, "/tcp") || port == 0 || port > 65535)
		return 0;
	err = add_entry(name, port, 1);
	while (!err && (alias = strtok_r(NULL, " \t", &save)))
		err = add_entry(alias, port, 0);
	return err;
}

int services__load(const char *path)
{
	char line[512];
	FILE *f;
	int err = 0;

	if (loaded)
		return 0;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!err && fgets(line, sizeof(line), f))
		err = parse_line(line);
	fclose(f);
	loaded = !err;
	return err;
}

const char *services__name(unsigned int port)
{
	return port < 65536 ? port_names[port] : NULL;
}

int services__port(const char *name)
{
	size_t i;

	for (i = 0; i < nr_entries; i++)
		if (!strcmp(entries[i].name, name))
			return entries[i].port;
	return -1;
}

void services__free(void)
{
	size_t i;

	for (i = 0; i < nr_entries; i++)
		free(entries[i].name);
	free(entries);
	entries = NULL;
	nr_entries = cap_entries = 0;
	memset(port_names, 0, sizeof(port_names));
	loaded = 0;
}
