/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_CLIENT_TABLE_H
#define CONNPEAK_CLIENT_TABLE_H

#include "clients.h"
#include "opts.h"
#include "tracker.h"

/*
 * The client maps of an open tracker, through its fds (the tracker keeps
 * them); the slots are mapped read-only.
 */
struct client_table {
	int map_fd, overflow_fd;
	__u32 nslots;
	const struct connpeak_client *slots;
};

#define CLIENT_TABLE_INIT { .map_fd = -1, .overflow_fd = -1 }

/* Pin names, used by the loader. */
#define CLIENT_PIN_MAP		"clients"
#define CLIENT_PIN_OVERFLOW	"client_overflow"

/* Fails with -EPROTO if the maps are not the shape this connpeak expects. */
int client_table__open(struct client_table *ct, const struct tracker *t);
void client_table__close(struct client_table *ct);

/*
 * Every client of the ports in the set (all if empty), unsorted, and the
 * per-port unattributed counts sorted by port, and what was lost, from the
 * tracker's stats.
 */
struct client_snapshot {
	struct client_row *rows;
	size_t n;
	struct client_overflow *overflow;
	size_t n_overflow;
	struct client_losses losses;
};

int client_table__read(const struct client_table *ct, const struct tracker *t,
		       const struct port_set *ports, struct client_snapshot *snap);
void client_snapshot__free(struct client_snapshot *snap);

#endif
