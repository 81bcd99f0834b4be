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

/* Pin names under the pin directory; the link goes last and means "running". */
static const char *const map_pins[] = {
	"slots", "used", "stats", CLIENT_PIN_MAP, CLIENT_PIN_OVERFLOW
};
#define LINK_PIN "link"

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
	fprintf(stderr, "connpeak: permission denied: root (or CAP_BPF and CAP_PERFMON) is needed\n");
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
	t->slots = map_mmap(t->slots_fd, SLOTS_LEN, t->writable);
	t->used = map_mmap(t->used_fd, USED_LEN, false);
	t->stats = map_mmap(t->stats_fd, STATS_LEN, t->writable);
	if (t->slots && t->used && t->stats)
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
static int seed_one(int link_fd)
{
	int iter_fd, err;

	iter_fd = bpf_iter_create(link_fd);
	if (iter_fd < 0)
		return -errno;
	err = read_iter(iter_fd);
	close(iter_fd);
	return err;
}

static int seed(struct tracker *t, bool all_netns)
{
	struct bpf_link *link;
	int err;

	link = bpf_program__attach_iter(t->skel->progs.seed, NULL);
	if (!link) {
		err = -errno;
		fprintf(stderr, "connpeak: seed: attach iterator failed: %s\n", strerror(-err));
		return err;
	}
	if (all_netns)
		err = netns__each(seed_one, bpf_link__fd(link));
	else
		err = seed_one(bpf_link__fd(link));
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
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return 0;
	fprintf(stderr, "connpeak: kernel: /sys/kernel/btf/vmlinux missing: "
		"a kernel with BTF (CONFIG_DEBUG_INFO_BTF) is needed\n");
	return -ENOTSUP;
}

static int attach_tracepoint(struct tracker *t)
{
	struct bpf_link *link = bpf_program__attach(t->skel->progs.on_state);

	if (!link) {
		fprintf(stderr, "connpeak: kernel: attach to tracepoint inet_sock_set_state "
			"failed: %s\n", strerror(errno));
		return -errno;
	}
	t->skel->links.on_state = link;
	t->link_fd = bpf_link__fd(link);
	return 0;
}

/* Size the client table and set what the program cuts addresses to. */
static int set_clients(struct tracker *t)
{
	const struct client_opts *o = &t->clients;
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

int tracker__load(struct tracker *t, bool all_netns)
{
	__u32 inum = 0;
	int err;

	err = check_kernel();
	if (!err && !all_netns)
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
	err = set_clients(t);
	if (err)
		return err;
	err = connpeak_bpf__load(t->skel);
	if (err) {
		fprintf(stderr, "connpeak: bpf: load failed: %s (-v shows why)\n", strerror(-err));
		return err;
	}
	t->writable = true;
	t->slots_fd = bpf_map__fd(t->skel->maps.slots);
	t->used_fd = bpf_map__fd(t->skel->maps.used);
	t->stats_fd = bpf_map__fd(t->skel->maps.stats);
	err = tracker__map(t);
	if (err)
		return err;
	t->stats[CONNPEAK_STAT_START_NS] = boottime_ns();
	t->stats[CONNPEAK_STAT_CLIENT_CAPACITY] = t->clients.capacity;
	t->stats[CONNPEAK_STAT_CLIENT_PREFIX] = (t->clients.prefix4 ?: 32) |
						(t->clients.prefix6 ?: 128) << 8;

	/* Attach before the walk, so nothing opens or closes unseen. */
	t->skel->bss->ctl_seeding = 1;
	err = attach_tracepoint(t);
	if (!err)
		err = seed(t, all_netns);
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

static void unpin_maps(const char *dir)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(map_pins) / sizeof(map_pins[0]); i++) {
		pin_path(path, sizeof(path), dir, map_pins[i]);
		unlink(path);
	}
}

static int pin_all(struct tracker *t, const char *dir)
{
	const int fds[] = {
		t->slots_fd, t->used_fd, t->stats_fd, bpf_map__fd(t->skel->maps.clients),
		bpf_map__fd(t->skel->maps.client_overflow)
	};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(map_pins) / sizeof(map_pins[0]); i++) {
		pin_path(path, sizeof(path), dir, map_pins[i]);
		if (bpf_obj_pin(fds[i], path))
			goto err_pin;
	}
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

int tracker__open(struct tracker *t, const char *dir, bool writable)
{
	int err;

	t->writable = writable;
	t->link_fd = obj_get(dir, LINK_PIN);
	if (t->link_fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	t->slots_fd = obj_get(dir, "slots");
	t->used_fd = obj_get(dir, "used");
	t->stats_fd = obj_get(dir, "stats");
	if (t->slots_fd < 0 || t->used_fd < 0 || t->stats_fd < 0) {
		err = -errno;
		fprintf(stderr, "connpeak: pin dir '%s': open maps failed: %s\n", dir,
			strerror(-err));
		return err;
	}
	err = check_map(t->slots_fd, "slots", sizeof(struct connpeak_slot), CONNPEAK_NR_SLOTS);
	if (!err)
		err = check_map(t->stats_fd, "stats", sizeof(__u64), CONNPEAK_NR_STATS);
	if (!err)
		err = check_map(t->used_fd, "used", sizeof(__u64), CONNPEAK_USED_WORDS);
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
	if (t->slots)
		munmap(t->slots, SLOTS_LEN);
	if (t->used)
		munmap(t->used, USED_LEN);
	if (t->stats)
		munmap(t->stats, STATS_LEN);
	t->slots = NULL;
	t->used = t->stats = NULL;
	if (t->skel) {
		connpeak_bpf__destroy(t->skel);
		t->skel = NULL;
		t->link_fd = t->slots_fd = t->used_fd = t->stats_fd = -1;
		return;
	}
	close_fd(&t->link_fd);
	close_fd(&t->slots_fd);
	close_fd(&t->used_fd);
	close_fd(&t->stats_fd);
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
