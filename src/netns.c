// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "netns.h"

struct seen {
	ino_t *inos;
	size_t n, cap;
};

static int seen_add(struct seen *s, ino_t ino)
{
	ino_t *grown;
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->inos[i] == ino)
			return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		grown = realloc(s->inos, s->cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->inos = grown;
	}
	s->inos[s->n++] = ino;
	return 1;
}

/* Enter the namespace at path unless already visited, and run fn there. */
static int visit(const char *path, struct seen *s, int self_fd, int (*fn)(void *), void *arg)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* the process exited meanwhile */
	err = fstat(fd, &st) ? 0 : seen_add(s, st.st_ino);
	if (err <= 0) {
		close(fd);
		return err;	/* 0: visited already, or gone; -ENOMEM */
	}
	err = setns(fd, CLONE_NEWNET) ? -errno : fn(arg);
	close(fd);
	if (setns(self_fd, CLONE_NEWNET))
		return -errno;
	return err;
}

static int visit_dir(const char *dir, const char *suffix, struct seen *s, int self_fd,
		     int (*fn)(void *), void *arg)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);
	int err = 0;

	if (!d)
		return 0;
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (suffix && (de->d_name[0] < '0' || de->d_name[0] > '9'))
			continue;
		snprintf(path, sizeof(path), "%s/%s%s", dir, de->d_name, suffix ? suffix : "");
		err = visit(path, s, self_fd, fn, arg);
	}
	closedir(d);
	return err;
}

int netns__each(int (*fn)(void *arg), void *arg)
{
	struct seen s = {};
	int self_fd, err;

	self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_fd < 0)
		return -errno;
	err = visit("/proc/self/ns/net", &s, self_fd, fn, arg);
	if (!err)
		err = visit_dir("/proc", "/ns/net", &s, self_fd, fn, arg);
	if (!err)
		err = visit_dir("/run/netns", NULL, &s, self_fd, fn, arg);
	close(self_fd);
	free(s.inos);
	return err;
}
