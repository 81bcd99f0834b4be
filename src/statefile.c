// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "statefile.h"

static void file_path(char *buf, size_t len, const char *dir, unsigned int port)
{
	snprintf(buf, len, "%s/history-%u.log", dir, port);
}

int statefile__boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	int ok;

	if (!f)
		return -errno;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int statefile__format(char *buf, size_t len, const struct state_rec *r)
{
	return snprintf(buf, len, "1 %s %llu %u %u %lld %u %u\n", r->boot_id,
			(unsigned long long)r->run_start_ns, r->bucket, r->bucket_s,
			(long long)r->wall_start, r->peak, r->start);
}

int statefile__parse(const char *line, struct state_rec *r)
{
	unsigned long long start_ns;
	long long wall;
	int used = 0;

	if (sscanf(line, "1 %39s %llu %u %u %lld %u %u%n", r->boot_id, &start_ns, &r->bucket,
		   &r->bucket_s, &wall, &r->peak, &r->start, &used) != 7 || line[used] != '\n')
		return -EINVAL;
	r->run_start_ns = start_ns;
	r->wall_start = wall;
	return 0;
}

int statefile__read(const char *dir, unsigned int port, struct state_rec **recs, size_t *n)
{
	struct state_rec *out = NULL, *grown;
	size_t cap = 0, used = 0;
	char path[4096], line[256];
	struct state_rec r;
	FILE *f;

	file_path(path, sizeof(path), dir, port);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (statefile__parse(line, &r))
			continue;	/* torn or foreign line */
		if (used == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(out, cap * sizeof(*out));
			if (!grown) {
				free(out);
				fclose(f);
				return -ENOMEM;
			}
			out = grown;
		}
		out[used++] = r;
	}
	fclose(f);
	*recs = out;
	*n = used;
	return 0;
}

/* Cut a last line that has no newline: a write torn by a crash. */
static int cut_torn_tail(int fd)
{
	struct stat st;
	off_t end;
	char c;

	if (fstat(fd, &st))
		return -errno;
	for (end = st.st_size; end > 0; end--) {
		if (pread(fd, &c, 1, end - 1) != 1)
			return -EIO;
		if (c == '\n')
			break;
	}
	if (end != st.st_size && ftruncate(fd, end))
		return -errno;
	return 0;
}

int statefile__append(const char *dir, unsigned int port, const char *buf, size_t len)
{
	char path[4096];
	ssize_t n;
	int fd, err;

	file_path(path, sizeof(path), dir, port);
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = cut_torn_tail(fd);
	if (!err) {
		n = write(fd, buf, len);
		err = n < 0 ? -errno : (size_t)n != len ? -EIO : 0;
	}
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

long statefile__last_bucket(const struct state_rec *recs, size_t n, const char *boot_id,
			    __u64 run_start_ns)
{
	long last = -1;
	size_t i;

	for (i = 0; i < n; i++)
		if (recs[i].run_start_ns == run_start_ns && !strcmp(recs[i].boot_id, boot_id) &&
		    (long)recs[i].bucket > last)
			last = recs[i].bucket;
	return last;
}
