// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "daemon.h"
#include "statefile.h"

static __u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int make_dir(const char *dir)
{
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "connpeak: state dir '%s': mkdir failed: %s\n", dir,
			strerror(errno));
		return -errno;
	}
	return 0;
}

/* Resume after the newest bucket this run already wrote, if any. */
int persist__init(struct daemon *d)
{
	const struct connpeak_hist_conf *conf = &d->t.conf;
	__u64 run = d->t.stats[CONNPEAK_STAT_START_NS];
	__u64 first = d->t.stats[CONNPEAK_STAT_HIST_START_NS] / d->t.conf.bucket_ns;
	struct state_rec *recs;
	size_t n;
	__u32 i;
	int err;

	err = make_dir(d->cfg.state_dir);
	if (!err && (err = statefile__boot_id(d->boot_id, sizeof(d->boot_id))))
		fprintf(stderr, "connpeak: boot id: read failed: %s\n", strerror(-err));
	for (i = 0; !err && i < conf->nports; i++) {
		d->persisted[i] = first - 1;
		if (statefile__read(d->cfg.state_dir, conf->ports[i], &recs, &n))
			continue;
		if (statefile__last_bucket(recs, n, d->boot_id, run) >= 0)
			d->persisted[i] = statefile__last_bucket(recs, n, d->boot_id, run);
		free(recs);
	}
	return err;
}

/*
 * Lines for the recorded buckets from *next up to upto of port idx, as many
 * as fit in buf; *next moves past the buckets formatted.
 */
static size_t format_range(struct daemon *d, __u32 idx, __u64 *next, __u64 upto, char *buf,
			   size_t len)
{
	const struct connpeak_hist_conf *conf = &d->t.conf;
	const struct connpeak_hist_rec *ring = d->t.hist + (size_t)idx * conf->nbuckets;
	__u64 now_boot = clock_ns(CLOCK_BOOTTIME), now_real = clock_ns(CLOCK_REALTIME), b;
	struct state_rec r = { .run_start_ns = d->t.stats[CONNPEAK_STAT_START_NS] };
	const struct connpeak_hist_rec *rec;
	size_t used = 0;

	snprintf(r.boot_id, sizeof(r.boot_id), "%s", d->boot_id);
	r.bucket_s = conf->bucket_ns / 1000000000ULL;
	for (b = *next; b < upto && used + 128 < len; b++) {
		rec = &ring[b % conf->nbuckets];
		if (__atomic_load_n(&rec->bucket, __ATOMIC_ACQUIRE) != b)
			continue;	/* no change in that bucket */
		r.bucket = b;
		r.peak = __atomic_load_n(&rec->peak, __ATOMIC_RELAXED);
		r.start = __atomic_load_n(&rec->start, __ATOMIC_RELAXED);
		/* The kernel may be reusing the record for a newer lap. */
		if (__atomic_load_n(&rec->bucket, __ATOMIC_ACQUIRE) != b)
			continue;
		r.wall_start = (now_real - (now_boot - b * conf->bucket_ns)) / 1000000000ULL;
		used += statefile__format(buf + used, len - used, &r);
	}
	*next = b;
	return used;
}

static void report_overwritten(const struct daemon *d, __u32 idx, __u64 lost)
{
	fprintf(stderr, "<4>history of port %u: %llu buckets were overwritten in the kernel "
		"before they could be saved\n", d->t.conf.ports[idx], (unsigned long long)lost);
}

int persist__port(struct daemon *d, __u32 idx, __u32 upto)
{
	const struct connpeak_hist_conf *conf = &d->t.conf;
	__u64 now = clock_ns(CLOCK_BOOTTIME) / conf->bucket_ns, next, oldest;
	size_t len = 65536, used;
	char *buf;
	int err = 0;

	next = d->persisted[idx] + 1;
	oldest = now + 1 > conf->nbuckets ? now + 1 - conf->nbuckets : 0;
	if (upto > now)
		upto = now;	/* the current bucket is not complete */
	if (next < oldest) {
		report_overwritten(d, idx, oldest - next);
		next = oldest;
	}
	buf = next < upto ? malloc(len) : NULL;
	while (buf && !err && next < upto) {
		used = format_range(d, idx, &next, upto, buf, len);
		err = used ? statefile__append(d->cfg.state_dir, conf->ports[idx], buf, used) : 0;
		if (err)
			fprintf(stderr, "<3>state dir '%s': append to history of port %u failed: "
				"%s\n", d->cfg.state_dir, conf->ports[idx], strerror(-err));
		else
			d->persisted[idx] = next - 1;
	}
	free(buf);
	return err;
}

int persist__all(struct daemon *d)
{
	__u64 now = clock_ns(CLOCK_BOOTTIME) / d->t.conf.bucket_ns;
	int err = 0, ret;
	__u32 i;

	/* One port failing does not stop the others being saved. */
	for (i = 0; i < d->t.conf.nports; i++) {
		ret = persist__port(d, i, now);
		if (ret)
			err = ret;
	}
	return err;
}
