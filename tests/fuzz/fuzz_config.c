// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * config__load on the input written to a memfd. A refused file leaves the
 * settings as they were; an accepted one gives only values in range.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>
#include "config.h"
#include "fuzz.h"

static int memfd = -1;
static char path[64];

static void check_cfg(const struct daemon_cfg *c)
{
	unsigned int i;

	fuzz_check(c->nlimits <= CONNPEAK_MAX_ALERT_PORTS, "%u limits", c->nlimits);
	fuzz_check(c->warn_pct >= 1 && c->warn_pct <= 100, "warn %u%%", c->warn_pct);
	fuzz_check(strlen(c->listen) < sizeof(c->listen), "listen not terminated");
	fuzz_check(strlen(c->state_dir) > 0 && strlen(c->pin_dir) > 0, "empty directory");
	for (i = 0; i < c->nlimits; i++) {
		fuzz_check(c->limits[i].port >= 1 && c->limits[i].port <= 65535, "port %u",
			   c->limits[i].port);
		fuzz_check(c->limits[i].limit <= 1000000000, "limit %u", c->limits[i].limit);
		fuzz_check(c->limits[i].warn_pct <= 100, "warn.%u %u%%", c->limits[i].port,
			   c->limits[i].warn_pct);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct daemon_cfg cfg, before;
	int err;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-config", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	memset(&cfg, 0, sizeof(cfg));
	cfg.warn_pct = CONFIG_DEFAULT_WARN;
	strcpy(cfg.listen, "127.0.0.1:9947");
	strcpy(cfg.state_dir, STATE_DEFAULT_DIR);
	strcpy(cfg.pin_dir, "/sys/fs/bpf/connpeak");
	before = cfg;
	err = config__load(path, &cfg);
	if (err) {
		fuzz_check(err == -EINVAL || err == -E2BIG, "err %d", err);
		fuzz_check(!memcmp(&cfg, &before, sizeof(cfg)), "a refused file changed settings");
		return 0;
	}
	check_cfg(&cfg);
	return 0;
}
