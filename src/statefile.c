// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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

/*
 * The fields of a line, each a decimal number followed by sep. strtoull and
 * strtoll would also take blanks or a '+' first, and strtoull a '-' that
 * wraps: none of those is in a line we wrote.
 */
static int next_u64(const char **p, char sep, unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	errno = 0;
	v = strtoull(*p, &end, 10);
	if (errno || v > max || *end != sep)
		return -EINVAL;
	*p = end + 1;
	*out = v;
	return 0;
}

static int next_s64(const char **p, char sep, long long *out)
{
	long long v;
	char *end;

	if (!isdigit((unsigned char)(*p)[**p == '-']))
		return -EINVAL;
	errno = 0;
	v = strtoll(*p, &end, 10);
	if (errno || *end != sep)
		return -EINVAL;
	*p = end + 1;
	*out = v;
	return 0;
}

static int next_u32(const char **p, char sep, __u32 *out)
{
	unsigned long long v;
	int err = next_u64(p, sep, UINT32_MAX, &v);

	if (!err)
		*out = v;
	return err;
}

/* A boot id: 1 to 39 characters up to the next space. */
static int next_boot_id(const char **p, char *buf, size_t len)
{
	size_t n = strcspn(*p, " \t\n\v\f\r");

	if (!n || n >= len || (*p)[n] != ' ')
		return -EINVAL;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p += n + 1;
	return 0;
}

int statefile__parse(const char *line, struct state_rec *r)
{
	unsigned long long start_ns;
	const char *p = line + 2;
	long long wall;

	if (strncmp(line, "1 ", 2) || next_boot_id(&p, r->boot_id, sizeof(r->boot_id)) ||
	    next_u64(&p, ' ', ULLONG_MAX, &start_ns) || next_u32(&p, ' ', &r->bucket) ||
	    next_u32(&p, ' ', &r->bucket_s) || next_s64(&p, ' ', &wall) ||
	    next_u32(&p, ' ', &r->peak) || next_u32(&p, '\n', &r->start))
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
