/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_TRACKER_H
#define CONNPEAK_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "connpeak.h"
#include "clients.h"
#include "opts.h"
#include "output.h"

#define DEFAULT_PIN_DIR "/sys/fs/bpf/connpeak"

struct connpeak_bpf;

/* The maps a tracker pins, each under its name in the pin directory. */
enum tracker_map {
	TM_SLOTS,
	TM_USED,
	TM_STATS,
	TM_HIST,
	TM_HIST_CONF,
	TM_ALERTS,
	TM_ALERT_INDEX,
	TM_EVENTS,
	TM_CLIENTS,
	TM_CLIENT_OVERFLOW,
	TM_NR,
};

/* A running tracker: loaded by this process, or opened through its pins. */
struct tracker {
	struct connpeak_bpf *skel;	/* set when this process loaded it */
	int link_fd, nested_fd;		/* on_state, on_state_nested */
	int fd[TM_NR];
	struct connpeak_slot *slots;
	__u64 *used;
	__u64 *stats;
	struct connpeak_hist_rec *hist;
	size_t hist_len;
	struct connpeak_hist_conf conf;
	struct connpeak_alert *alerts;
	__u16 *alert_index;
	bool writable;
};

#define TRACKER_INIT { .link_fd = -1, .nested_fd = -1, .fd = { [0 ... TM_NR - 1] = -1 } }

/* Direction mask for tracker__rows() and tracker__reset(). */
#define DIRS_IN		(1u << CONNPEAK_DIR_IN)
#define DIRS_OUT	(1u << CONNPEAK_DIR_OUT)
#define DIRS_ALL	(DIRS_IN | DIRS_OUT)

/* Fails with 1 (and a message) unless the process may load BPF programs. */
int check_privileges(void);

/* How to load a tracker. */
struct load_opts {
	bool all_netns;
	__u64 bucket_ns;		/* history bucket length */
	__u32 nbuckets;			/* history ring length per port */
	__u32 hist_max;			/* history ports at most; 0: no history */
	struct port_set hist_named;	/* ports named for history */
	struct client_opts clients;	/* capacity 0: clients not counted */
};

#define HIST_DEFAULT_BUCKET_S	300
#define HIST_DEFAULT_KEEP_S	(8 * 86400)
#define HIST_DEFAULT_PORTS	64

/* Load, attach and count the connections already open. Not pinned. */
int tracker__load(struct tracker *t, const struct load_opts *o);
/*
 * Pin under dir. -EEXIST when a tracker is pinned there already, in which
 * case nothing was changed.
 */
int tracker__pin(struct tracker *t, const char *dir);
/* Open a pinned tracker; -ENOENT when none is pinned under dir. */
int tracker__open(struct tracker *t, const char *dir, bool writable);
void tracker__close(struct tracker *t);
/* Remove the pins under dir; -ENOENT when no tracker was pinned. */
int tracker__unpin(const char *dir);

/* Rows for every slot that has counted a connection, filtered. */
int tracker__rows(const struct tracker *t, const struct port_set *ports, unsigned int dirs,
		  struct port_row **rows, size_t *n);
/* Set each matching peak to its current count; returns the number reset. */
long tracker__reset(struct tracker *t, const struct port_set *ports, unsigned int dirs);
/* Warn on stderr about anything that made counts less than exact. */
void tracker__report_health(const struct tracker *t);

#endif
