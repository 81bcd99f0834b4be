/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_STATEFILE_H
#define CONNPEAK_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <linux/types.h>

/*
 * Completed history buckets, one text line each, in STATE_DIR/history-PORT.log:
 *   1 BOOT-ID TRACKER-START-NS BUCKET BUCKET-SECONDS WALL-START PEAK START
 * A run is one tracker (boot id and its start time). Only buckets in which
 * the count changed are written: a missing bucket held the START of the next
 * line of its run. Lines are appended whole and synced; a torn last line is
 * ignored when read and cut off before the next append.
 */

struct state_rec {
	char boot_id[40];
	__u64 run_start_ns;
	__u32 bucket;
	__u32 bucket_s;
	time_t wall_start;
	unsigned int peak;
	unsigned int start;
};

/* This boot's id, from /proc/sys/kernel/random/boot_id. */
int statefile__boot_id(char *buf, size_t len);
/* Read every whole line of a port's file (*recs malloc'd); -ENOENT if none. */
int statefile__read(const char *dir, unsigned int port, struct state_rec **recs, size_t *n);
/* Format one record as a line, newline included; returns its length. */
int statefile__format(char *buf, size_t len, const struct state_rec *r);
/* Parse one line; 0 or -EINVAL. */
int statefile__parse(const char *line, struct state_rec *r);
/*
 * Append the lines in buf to a port's file in one write, then fsync. A torn
 * last line left by a crash is cut off first.
 */
int statefile__append(const char *dir, unsigned int port, const char *buf, size_t len);
/* The newest bucket of the given run in recs, or -1. */
long statefile__last_bucket(const struct state_rec *recs, size_t n, const char *boot_id,
			    __u64 run_start_ns);

#endif
