// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "client_table.h"
#include "connpeak.skel.h"
#include "kernel_features.h"
#include "listeners.h"
#include "netns.h"
#include "tracker.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define SLOTS_LEN	(sizeof(struct connpeak_slot) * CONNPEAK_NR_SLOTS)
#define USED_LEN	(sizeof(__u64) * CONNPEAK_USED_WORDS)
#define STATS_LEN	(sizeof(__u64) * CONNPEAK_NR_STATS)
#define ALERTS_LEN	(sizeof(struct connpeak_alert) * CONNPEAK_MAX_ALERT_PORTS)
#define ALERT_INDEX_LEN	(sizeof(__u16) * CONNPEAK_NR_PORTS)

/* Pin names under the pin directory; the link goes last and means "running". */
static const char *const map_pins[TM_NR] = {
	[TM_SLOTS] = "slots",
	[TM_USED] = "used",
	[TM_STATS] = "stats",
	[TM_HIST] = "hist",
	[TM_HIST_CONF] = "hist_conf",
	[TM_ALERTS] = "alerts",
	[TM_ALERT_INDEX] = "alert_index",
	[TM_EVENTS] = "events",
	[TM_CLIENTS] = CLIENT_PIN_MAP,
	[TM_CLIENT_OVERFLOW] = CLIENT_PIN_OVERFLOW,
};
#define LINK_PIN "link"
#define NESTED_LINK_PIN "link_nested"

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int check_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data) == 0 &&
	    (has_cap(data, CAP_SYS_ADMIN) ||
	     (has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON))))
		return 0;
	fprintf(stderr,
		"connpeak: permission denied: root (or CAP_BPF and CAP_PERFMON) is needed\n");
	return 1;
}

static __u64 boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *map_mmap(int fd, size_t len, bool writable)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int tracker__map(struct tracker *t)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	t->slots = map_mmap(t->fd[TM_SLOTS], SLOTS_LEN, t->writable);
	t->used = map_mmap(t->fd[TM_USED], USED_LEN, false);
	t->stats = map_mmap(t->fd[TM_STATS], STATS_LEN, t->writable);
	t->alerts = map_mmap(t->fd[TM_ALERTS], ALERTS_LEN, t->writable);
	t->alert_index = map_mmap(t->fd[TM_ALERT_INDEX], ALERT_INDEX_LEN, t->writable);
	if (!bpf_obj_get_info_by_fd(t->fd[TM_HIST], &info, &len)) {
		t->hist_len = (size_t)info.max_entries * sizeof(struct connpeak_hist_rec);
		t->hist = map_mmap(t->fd[TM_HIST], t->hist_len, false);
	}
	if (t->slots && t->used && t->stats && t->hist && t->alerts && t->alert_index)
		return 0;
	fprintf(stderr, "connpeak: maps: mmap failed: %s\n", strerror(errno));
	return -errno;
}

static int read_iter(int iter_fd)
{
	char buf[64];
	ssize_t n;

	while ((n = read(iter_fd, buf, sizeof(buf))) > 0)
		;
	return n < 0 ? -errno : 0;
}

/* Walk the TCP sockets of one network namespace with the seed program. */
static int seed_one(void *arg)
{
	int link_fd = *(int *)arg, iter_fd, err;

	iter_fd = bpf_iter_create(link_fd);
	if (iter_fd < 0)
		return -errno;
	err = read_iter(iter_fd);
	close(iter_fd);
	return err;
}

/*
 * Socket storage is allocated atomically and can fail now and then under a
 * burst of thousands: the sockets a pass could not count are found again by
 * the next.
 */
#define SEED_PASSES 4

static int seed(struct tracker *t, bool all_netns)
{
	struct bpf_link *link;
	int link_fd, pass, err = 0;
	__u64 missed = 0;

	link = bpf_program__attach_iter(t->skel->progs.seed, NULL);
	if (!link) {
		err = -errno;
		if (!kernel_features__explain())
			fprintf(stderr, "connpeak: seed: attach iterator failed: %s\n",
				strerror(-err));
		return err;
	}
	link_fd = bpf_link__fd(link);
	for (pass = 0; !err && pass < SEED_PASSES; pass++) {
		missed = t->stats[CONNPEAK_STAT_SEED_MISSED];
		if (all_netns)
			err = netns__each(seed_one, &link_fd);
		else
			err = seed_one(&link_fd);
		/* A pass that missed nothing leaves nothing for another. */
		if (__atomic_load_n(&t->stats[CONNPEAK_STAT_SEED_MISSED], __ATOMIC_SEQ_CST) ==
		    missed)
			break;
	}
	if (pass == SEED_PASSES)
		t->stats[CONNPEAK_STAT_STORAGE_FAIL] +=
			t->stats[CONNPEAK_STAT_SEED_MISSED] - missed;
	if (err)
		fprintf(stderr, "connpeak: seed: counting open connections failed: %s\n",
			strerror(-err));
	bpf_link__destroy(link);
	return err;
}

static int netns_inode(__u32 *inum)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st)) {
		fprintf(stderr, "connpeak: /proc/self/ns/net: stat failed: %s\n", strerror(errno));
		return -errno;
	}
	*inum = st.st_ino;
	return 0;
}

static int check_kernel(void)
{
	int err;

	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return 0;
	err = errno;
	if (!kernel_features__explain())
		fprintf(stderr, "connpeak: kernel: /sys/kernel/btf/vmlinux: %s\n", strerror(err));
	return -ENOTSUP;
}

static struct bpf_link *attach_one(struct bpf_program *prog)
{
	struct bpf_link *link = bpf_program__attach(prog);
	int err = errno;

	if (!link && !kernel_features__explain())
		fprintf(stderr, "connpeak: kernel: attach %s to tracepoint inet_sock_set_state "
			"failed: %s\n", bpf_program__name(prog), strerror(err));
	errno = err;
	return link;
}

/* on_state first: the kernel runs a tracepoint's programs in attach order. */
static int attach_tracepoint(struct tracker *t)
{
	struct connpeak_bpf *skel = t->skel;

	skel->links.on_state = attach_one(skel->progs.on_state);
	if (!skel->links.on_state)
		return -errno;
	skel->links.on_state_nested = attach_one(skel->progs.on_state_nested);
	if (!skel->links.on_state_nested)
		return -errno;
	t->link_fd = bpf_link__fd(skel->links.on_state);
	t->nested_fd = bpf_link__fd(skel->links.on_state_nested);
	return 0;
}

/* Size the client table and set what the program cuts addresses to. */
static int set_clients(struct tracker *t, const struct client_opts *o)
{
	struct connpeak_bpf *skel = t->skel;
	int err;

	err = bpf_map__set_max_entries(skel->maps.clients, clients_slots(o->capacity));
	if (err) {
		fprintf(stderr, "connpeak: bpf: sizing map 'clients' failed: %s\n", strerror(-err));
		return err;
	}
	skel->rodata->client_on = o->capacity > 0;
	skel->rodata->client_capacity = o->capacity;
	skel->rodata->client_slots = clients_slots(o->capacity);
	client_cfg_fill(&skel->rodata->client_cfg, o->prefix4 ?: 32, o->prefix6 ?: 128);
	return 0;
}

static int collect_one(void *arg)
{
	return listeners__collect(arg);
}

/* History ports: those named first, then each listening port, up to the limit. */
static void hist_ports(const struct load_opts *o, const struct port_set *listening,
		       struct connpeak_hist_conf *conf)
{
	unsigned int port;

	conf->nports = 0;
	for (port = 1; port < 65536 && conf->nports < o->hist_max; port++)
		if (port_set__has(&o->hist_named, port))
			conf->ports[conf->nports++] = port;
	for (port = 1; port < 65536 && conf->nports < o->hist_max; port++)
		if (port_set__has(listening, port) && !port_set__has(&o->hist_named, port))
			conf->ports[conf->nports++] = port;
}

/* Size the history maps and fill the port tables before loading. */
static int configure_history(struct tracker *t, const struct load_opts *o)
{
	struct connpeak_bpf *skel = t->skel;
	struct connpeak_hist_conf *conf = &t->conf;
	struct port_set listening = {};
	unsigned int port;
	__u32 i, n;
	int err;

	if (o->all_netns)
		err = netns__each(collect_one, &listening);
	else
		err = listeners__collect(&listening);
	if (err) {
		fprintf(stderr, "connpeak: listing listening sockets failed: %s\n", strerror(-err));
		return err;
	}
	for (port = 1; port < 65536; port++)
		if (port_set__has(&listening, port))
			skel->rodata->seed_listening[port / 64] |= 1ULL << (port % 64);
	hist_ports(o, &listening, conf);
	conf->bucket_ns = o->bucket_ns;
	conf->nbuckets = o->nbuckets;
	n = conf->nports ? conf->nports : 1;
	skel->rodata->hist_bucket_ns = o->bucket_ns;
	skel->rodata->hist_nbuckets = o->nbuckets;
	for (i = 0; i < conf->nports; i++)
		skel->rodata->hist_index[conf->ports[i]] = i + 1;
	/* Without history ports the ring is never touched: keep it one record. */
	err = bpf_map__set_max_entries(skel->maps.hist_locks, n);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.hist,
					       conf->nports ? n * o->nbuckets : 1);
	return err;
}

static int write_hist_conf(struct tracker *t)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(t->fd[TM_HIST_CONF], &zero, &t->conf, 0) == 0)
		return 0;
	fprintf(stderr, "connpeak: map 'hist_conf': update failed: %s\n", strerror(errno));
	return -errno;
}

static int open_skel(struct tracker *t, const struct load_opts *o)
{
	__u32 inum = 0;
	int err;

	err = check_kernel();
	if (!err && !o->all_netns)
		err = netns_inode(&inum);
	if (err)
		return err;
	t->skel = connpeak_bpf__open();
	if (!t->skel) {
		fprintf(stderr, "connpeak: bpf: open failed: %s\n", strerror(errno));
		return -errno;
	}
	t->skel->rodata->filter_netns = inum;
	bpf_program__set_autoattach(t->skel->progs.seed, false);
	err = set_clients(t, &o->clients);
	if (err)
		return err;
	return configure_history(t, o);
}

static void skel_fds(struct tracker *t)
{
	const struct bpf_map *maps[TM_NR] = {
		[TM_SLOTS] = t->skel->maps.slots,
		[TM_USED] = t->skel->maps.used,
		[TM_STATS] = t->skel->maps.stats,
		[TM_HIST] = t->skel->maps.hist,
		[TM_HIST_CONF] = t->skel->maps.hist_conf,
		[TM_ALERTS] = t->skel->maps.alerts,
		[TM_ALERT_INDEX] = t->skel->maps.data_alerts,
		[TM_EVENTS] = t->skel->maps.events,
		[TM_CLIENTS] = t->skel->maps.clients,
		[TM_CLIENT_OVERFLOW] = t->skel->maps.client_overflow,
	};
	int i;

	for (i = 0; i < TM_NR; i++)
		t->fd[i] = bpf_map__fd(maps[i]);
}

int tracker__load(struct tracker *t, const struct load_opts *o)
{
	int err;

	err = open_skel(t, o);
	if (err)
		return err;
	err = connpeak_bpf__load(t->skel);
	if (err) {
		/* On a kernel too old, name what it lacks rather than the verifier's complaint. */
		if (!kernel_features__explain())
			fprintf(stderr, "connpeak: bpf: load failed: %s (-v shows why)\n",
				strerror(-err));
		return err;
	}
	t->writable = true;
	skel_fds(t);
	err = tracker__map(t);
	if (!err)
		err = write_hist_conf(t);
	if (err)
		return err;
	t->stats[CONNPEAK_STAT_START_NS] = boottime_ns();
	t->stats[CONNPEAK_STAT_CLIENT_CAPACITY] = o->clients.capacity;
	t->stats[CONNPEAK_STAT_CLIENT_PREFIX] = (o->clients.prefix4 ?: 32) |
						(o->clients.prefix6 ?: 128) << 8;

	/* Attach before the walk, so nothing opens or closes unseen. */
	t->skel->bss->ctl_seeding = 1;
	err = attach_tracepoint(t);
	if (!err)
		err = seed(t, o->all_netns);
	t->stats[CONNPEAK_STAT_HIST_START_NS] = boottime_ns();
	__atomic_store_n(&t->skel->bss->ctl_seeding, 0, __ATOMIC_SEQ_CST);
	return err;
}

static int pin_dir_prepare(const char *dir)
{
	char parent[PATH_MAX];
	struct statfs fs;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else
		snprintf(parent, sizeof(parent), "%s", slash ? "/" : ".");
	if (statfs(parent, &fs) == 0 && fs.f_type == BPF_FS_MAGIC)
		goto mkdir;
	if (strcmp(parent, "/sys/fs/bpf") ||
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		fprintf(stderr, "connpeak: pin dir '%s': %s is not a mounted bpf filesystem\n",
			dir, parent);
		return -ENOTDIR;
	}
mkdir:
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "connpeak: pin dir '%s': mkdir failed: %s\n", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Serialise start and stop on one pin directory; returns the locked fd. */
static int pin_dir_lock(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static bool pin_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), dir, name);
	return access(path, F_OK) == 0;
}

/* Everything but the link that marks a running tracker. */
static void unpin_maps(const char *dir)
{
	char path[PATH_MAX];
	size_t i;

	pin_path(path, sizeof(path), dir, NESTED_LINK_PIN);
	unlink(path);
	for (i = 0; i < TM_NR; i++) {
		pin_path(path, sizeof(path), dir, map_pins[i]);
		unlink(path);
	}
}

static int pin_all(struct tracker *t, const char *dir)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < TM_NR; i++) {
		pin_path(path, sizeof(path), dir, map_pins[i]);
		if (bpf_obj_pin(t->fd[i], path))
			goto err_pin;
	}
	pin_path(path, sizeof(path), dir, NESTED_LINK_PIN);
	if (bpf_obj_pin(t->nested_fd, path))
		goto err_pin;
	pin_path(path, sizeof(path), dir, LINK_PIN);
	if (bpf_obj_pin(t->link_fd, path))
		goto err_pin;
	return 0;

err_pin:
	fprintf(stderr, "connpeak: pin '%s' failed: %s\n", path, strerror(errno));
	unpin_maps(dir);
	return -errno;
}

int tracker__pin(struct tracker *t, const char *dir)
{
	sigset_t block, old;
	int lock_fd, err;

	err = pin_dir_prepare(dir);
	if (err)
		return err;
	lock_fd = pin_dir_lock(dir);
	if (lock_fd < 0) {
		fprintf(stderr, "connpeak: pin dir '%s': lock failed: %s\n", dir,
			strerror(-lock_fd));
		return lock_fd;
	}
	if (pin_exists(dir, LINK_PIN)) {
		err = -EEXIST;
		goto out_unlock;
	}
	/* Map pins without a link are left by a start that was killed. */
	unpin_maps(dir);

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, &old);
	err = pin_all(t, dir);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (err)
		rmdir(dir);	/* only if empty: leave no trace of a failed start */
out_unlock:
	close(lock_fd);
	return err;
}

static int obj_get(const char *dir, const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), dir, name);
	return bpf_obj_get(path);
}

static int check_map(int fd, const char *name, __u32 value_size, __u32 entries)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.value_size == value_size && info.max_entries == entries)
		return 0;
	fprintf(stderr, "connpeak: map '%s': pinned by an incompatible connpeak version: "
		"run 'connpeak stop' and 'connpeak start'\n", name);
	return -EPROTO;
}

static int read_hist_conf(struct tracker *t)
{
	__u32 zero = 0;
	int err;

	err = check_map(t->fd[TM_HIST_CONF], "hist_conf", sizeof(t->conf), 1);
	if (!err && bpf_map_lookup_elem(t->fd[TM_HIST_CONF], &zero, &t->conf))
		err = -errno;
	return err;
}

static __u32 link_id(int fd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* Whether the link pinned under dir is still the one t opened. */
static bool same_link_pinned(const struct tracker *t, const char *dir)
{
	int fd = obj_get(dir, LINK_PIN);
	bool same;

	if (fd < 0)
		return false;
	same = link_id(fd) == link_id(t->link_fd);
	close(fd);
	return same;
}

/*
 * The pins, link first. A stop between two opens removes the rest; a stop
 * and a start put another tracker's maps there: -EAGAIN for either, as the
 * link pin no longer holds the link opened first.
 */
static int open_pins(struct tracker *t, const char *dir)
{
	int i, err;

	t->link_fd = obj_get(dir, LINK_PIN);
	if (t->link_fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	for (i = 0; i < TM_NR; i++) {
		t->fd[i] = obj_get(dir, map_pins[i]);
		if (t->fd[i] >= 0)
			continue;
		err = -errno;
		if (err == -ENOENT && !same_link_pinned(t, dir))
			return -EAGAIN;
		if (err == -ENOENT) {
			fprintf(stderr, "connpeak: map '%s': not pinned: the tracker under %s is "
				"from another connpeak version: run 'connpeak stop' and 'connpeak "
				"start'\n", map_pins[i], dir);
			return -EPROTO;
		}
		fprintf(stderr, "connpeak: map '%s': open pin failed: %s\n", map_pins[i],
			strerror(-err));
		return err;
	}
	return same_link_pinned(t, dir) ? 0 : -EAGAIN;
}

#define OPEN_TRIES 5

int tracker__open(struct tracker *t, const char *dir, bool writable)
{
	int tries, err;

	t->writable = writable;
	for (tries = 0; tries < OPEN_TRIES; tries++) {
		err = open_pins(t, dir);
		if (err != -EAGAIN)
			break;
		tracker__close(t);
	}
	if (err == -EAGAIN)
		err = -ENOENT;	/* stopped under us every time: take it as gone */
	if (!err)
		err = check_map(t->fd[TM_SLOTS], "slots", sizeof(struct connpeak_slot),
				CONNPEAK_NR_SLOTS);
	if (!err)
		err = check_map(t->fd[TM_STATS], "stats", sizeof(__u64), CONNPEAK_NR_STATS);
	if (!err)
		err = check_map(t->fd[TM_USED], "used", sizeof(__u64), CONNPEAK_USED_WORDS);
	if (!err)
		err = check_map(t->fd[TM_ALERTS], "alerts", sizeof(struct connpeak_alert),
				CONNPEAK_MAX_ALERT_PORTS);
	if (!err)
		err = read_hist_conf(t);
	return err ? err : tracker__map(t);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void tracker__close(struct tracker *t)
{
	int i;

	if (t->slots)
		munmap(t->slots, SLOTS_LEN);
	if (t->used)
		munmap(t->used, USED_LEN);
	if (t->stats)
		munmap(t->stats, STATS_LEN);
	if (t->hist)
		munmap(t->hist, t->hist_len);
	if (t->alerts)
		munmap(t->alerts, ALERTS_LEN);
	if (t->alert_index)
		munmap(t->alert_index, ALERT_INDEX_LEN);
	t->slots = NULL;
	t->used = t->stats = NULL;
	t->hist = NULL;
	t->alerts = NULL;
	t->alert_index = NULL;
	if (t->skel) {
		connpeak_bpf__destroy(t->skel);
		t->skel = NULL;
		t->link_fd = t->nested_fd = -1;
		for (i = 0; i < TM_NR; i++)
			t->fd[i] = -1;
		return;
	}
	close_fd(&t->link_fd);
	close_fd(&t->nested_fd);
	for (i = 0; i < TM_NR; i++)
		close_fd(&t->fd[i]);
}

int tracker__unpin(const char *dir)
{
	char path[PATH_MAX];
	int lock_fd, err = 0;

	lock_fd = pin_dir_lock(dir);
	if (lock_fd < 0)
		return -ENOENT;
	pin_path(path, sizeof(path), dir, LINK_PIN);
	if (unlink(path)) {
		err = -errno;
		if (err != -ENOENT) {
			fprintf(stderr, "connpeak: pin '%s': unlink failed: %s\n", path,
				strerror(-err));
			close(lock_fd);
			return err;
		}
	}
	unpin_maps(dir);
	close(lock_fd);
	rmdir(dir);
	return err;
}
