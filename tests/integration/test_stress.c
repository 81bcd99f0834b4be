// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * Soak: worker processes open and close connections with random lifetimes
 * and in every manner (client first, server first, a reset from either
 * side, one side left in CLOSE_WAIT for a while, children never accepted
 * and dropped by closing their listener), over IPv4, IPv6 and v4-mapped,
 * while threads run show --json, history --json and reset over and over, a
 * thread reads the pinned maps through mmap, and the tracker is stopped and
 * started again now and then. At each quiescent checkpoint every count
 * equals the workers' books and ss; totals grow by exactly what was opened
 * since the last checkpoint unless the tracker was restarted in between.
 * The readers never see current above peak, a peak above what could be
 * open at once, a total going down, or a message other than "no tracker"
 * while the tracker is being restarted.
 *
 * STRESS_SECONDS sets the length (default 12; make stress DURATION=60).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "connpeak.h"
#include "harness.h"

#define PORT_A		16001
#define PORT_B		16002
#define PORT_DROP	16003	/* only children that are never accepted */
#define NPORTS		3
#define WORKERS		4
#define HOLD		120	/* connections a worker holds at most */
#define DROP_MAX	8	/* unaccepted children per drop listener */
#define CHECK_EVERY_MS	2500
#define DEFAULT_SECONDS	12
#define PAUSE_WAIT_MS	(10000 * h_slow())
#define PEAK_SLACK	32	/* opens and closes under way between two looks */

static const unsigned int ports[NPORTS] = { PORT_A, PORT_B, PORT_DROP };

/* Each worker listens on an address of its own and connects through another family. */
static const char *const listen_addr[WORKERS] = {
	"127.0.0.1", "127.0.0.2", "::1", "127.0.0.3",
};
static const char *const connect_addr[WORKERS] = {
	"127.0.0.1", "::ffff:127.0.0.2", "::1", "127.0.0.3",
};

/* A worker's books, in memory shared with the test. */
struct books {
	long opened[NPORTS];		/* connections that became established */
	int in[NPORTS], out[NPORTS];	/* open now, server and client ends */
	long steps;
	int paused, done, err;
	char why[160];
};

struct shared {
	int pause, stop;
	struct books w[WORKERS];
};

/* ---- sockets ---- */

static int make_addr(const char *addr, unsigned int port, struct sockaddr_storage *sa,
		     socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;

	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) != 1)
		return -EINVAL;
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(port);
	*len = sizeof(*a6);
	return AF_INET6;
}

static int tcp_listen(const char *addr, unsigned int port)
{
	struct sockaddr_storage sa;
	int fam, fd, one = 1;
	socklen_t len;

	fam = make_addr(addr, port, &sa, &len);
	fd = fam < 0 ? -1 : socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, len) || listen(fd, 1024)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static int tcp_connect(const char *addr, unsigned int port)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int fam, fd;

	fam = make_addr(addr, port, &sa, &len);
	fd = fam < 0 ? -1 : socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, len)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void close_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Children waiting in a listener's accept queue. */
static int queued(int lfd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -errno;
	return ti.tcpi_unacked;
}

/* ---- workers ---- */

enum close_style {
	CLIENT_FIRST, SERVER_FIRST, CLIENT_RST, SERVER_RST, HALF_CLIENT, HALF_SERVER, NR_STYLES,
};

/* One connection; after a half close only one end is left open. */
struct conn {
	int c, a, k;
	int style;
	long long expires;
};

struct worker {
	int id;
	unsigned int seed;
	int lfd[NPORTS];
	struct conn held[HOLD];
	int nheld;
	int drop_c[DROP_MAX], ndrop;	/* clients of children left in the drop queue */
	long long drop_expires;
	struct books *b;
};

static long long lifetime_ms(struct worker *w)
{
	int r = rand_r(&w->seed) % 100;

	if (r < 60)
		return rand_r(&w->seed) % 20;
	if (r < 90)
		return 20 + rand_r(&w->seed) % 280;
	return 300 + rand_r(&w->seed) % 2700;
}

static void book(struct worker *w, int k, int din, int dout)
{
	w->b->in[k] += din;
	w->b->out[k] += dout;
}

static int worker_fail(struct worker *w, const char *what, int err)
{
	snprintf(w->b->why, sizeof(w->b->why), "worker %d: %s: %s", w->id, what, strerror(-err));
	w->b->err = err;
	return err;
}

static int open_one(struct worker *w, long long now)
{
	int k = rand_r(&w->seed) % 2;
	struct conn *c = &w->held[w->nheld];

	c->c = tcp_connect(connect_addr[w->id], ports[k]);
	if (c->c < 0)
		return worker_fail(w, "connect", c->c);
	c->a = accept4(w->lfd[k], NULL, NULL, SOCK_CLOEXEC);
	if (c->a < 0) {
		close(c->c);
		return worker_fail(w, "accept", -errno);
	}
	c->k = k;
	c->style = rand_r(&w->seed) % NR_STYLES;
	c->expires = now + lifetime_ms(w);
	w->nheld++;
	w->b->opened[k]++;
	book(w, k, 1, 1);
	return 0;
}

static void close_both(const struct conn *c)
{
	switch (c->style) {
	case SERVER_FIRST:
		close(c->a);
		close(c->c);
		break;
	case CLIENT_RST:
		close_rst(c->c);
		close(c->a);
		break;
	case SERVER_RST:
		close_rst(c->a);
		close(c->c);
		break;
	default:
		close(c->c);
		close(c->a);
	}
}

/* Close what is due; a half close leaves one end open for another lifetime. */
static void close_one(struct worker *w, int i, long long now, bool all)
{
	struct conn *c = &w->held[i];

	if (c->c >= 0 && c->a >= 0 && !all && c->style == HALF_CLIENT) {
		close(c->c);
		c->c = -1;
		book(w, c->k, 0, -1);
		c->expires = now + lifetime_ms(w);
		return;
	}
	if (c->c >= 0 && c->a >= 0 && !all && c->style == HALF_SERVER) {
		close(c->a);
		c->a = -1;
		book(w, c->k, -1, 0);
		c->expires = now + lifetime_ms(w);
		return;
	}
	if (c->c >= 0 && c->a >= 0)
		close_both(c);
	else
		close(c->c >= 0 ? c->c : c->a);
	book(w, c->k, c->a >= 0 ? -1 : 0, c->c >= 0 ? -1 : 0);
	*c = w->held[--w->nheld];
}

/* Children never accepted: the clients count out, the children in, until the listener goes. */
static int drop_open(struct worker *w, long long now)
{
	int n = 1 + rand_r(&w->seed) % DROP_MAX, fd;

	for (w->ndrop = 0; w->ndrop < n; w->ndrop++) {
		fd = tcp_connect(connect_addr[w->id], PORT_DROP);
		if (fd < 0)
			return worker_fail(w, "connect to the drop listener", fd);
		w->drop_c[w->ndrop] = fd;
		w->b->opened[2]++;
		book(w, 2, 1, 1);
	}
	w->drop_expires = now + lifetime_ms(w);
	return 0;
}

static int drop_close(struct worker *w)
{
	long long deadline = h_now_ms() + 2000;
	int i;

	/* Every child must be in the queue, or closing the listener races its handshake. */
	while (queued(w->lfd[2]) != w->ndrop && h_now_ms() < deadline)
		h_nap_ms(1);
	if (queued(w->lfd[2]) != w->ndrop)
		return worker_fail(w, "children never reached the accept queue", -ETIMEDOUT);
	close(w->lfd[2]);
	for (i = 0; i < w->ndrop; i++)
		close(w->drop_c[i]);
	book(w, 2, -w->ndrop, -w->ndrop);
	w->ndrop = 0;
	w->lfd[2] = tcp_listen(listen_addr[w->id], PORT_DROP);
	return w->lfd[2] < 0 ? worker_fail(w, "listen again", w->lfd[2]) : 0;
}

static int step(struct worker *w)
{
	long long now = h_now_ms();
	bool busy = false;
	int i, err = 0;

	for (i = w->nheld - 1; i >= 0; i--) {
		if (w->held[i].expires <= now) {
			close_one(w, i, now, false);
			busy = true;
		}
	}
	if (w->ndrop && w->drop_expires <= now)
		err = drop_close(w);
	else if (!w->ndrop && rand_r(&w->seed) % 400 == 0)
		err = drop_open(w, now);
	if (!err && w->nheld < HOLD && rand_r(&w->seed) % 100 < 70) {
		err = open_one(w, now);
		busy = true;
	}
	if (!busy)
		h_nap_ms(1);
	return err;
}

static void worker_pause(struct shared *sh, struct books *b)
{
	__atomic_store_n(&b->paused, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&sh->pause, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
		h_nap_ms(1);
	__atomic_store_n(&b->paused, 0, __ATOMIC_RELEASE);
}

static void __attribute__((noreturn)) worker_main(struct shared *sh, int id)
{
	static struct worker w;
	int k, err = 0;

	w.id = id;
	w.b = &sh->w[id];
	w.seed = (unsigned int)getpid() * 2654435761u;
	for (k = 0; k < NPORTS && !err; k++) {
		w.lfd[k] = tcp_listen(listen_addr[id], ports[k]);
		if (w.lfd[k] < 0)
			err = worker_fail(&w, "listen", w.lfd[k]);
	}
	while (!err && !__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&sh->pause, __ATOMIC_ACQUIRE))
			worker_pause(sh, w.b);
		err = step(&w);
		w.b->steps++;
	}
	while (!err && w.nheld)
		close_one(&w, w.nheld - 1, 0, true);
	if (!err && w.ndrop)
		drop_close(&w);
	__atomic_store_n(&w.b->done, 1, __ATOMIC_RELEASE);
	pause();
	_exit(0);
}

static struct shared *sh;
static pid_t worker_pids[WORKERS];

static void workers_start(void)
{
	pid_t pid;
	int i;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		H_FAIL("workers: shared memory: %s", strerror(errno));
	memset(sh, 0, sizeof(*sh));
	for (i = 0; i < WORKERS; i++) {
		pid = fork();
		if (pid == 0) {
			close_range(3, ~0U, 0);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			worker_main(sh, i);
		}
		if (pid < 0)
			H_FAIL("workers: fork failed: %s", strerror(errno));
		worker_pids[i] = pid;
		h_child_track(pid);
	}
}

static void workers_check(void)
{
	int i;

	for (i = 0; i < WORKERS; i++)
		if (__atomic_load_n(&sh->w[i].err, __ATOMIC_ACQUIRE))
			H_FAIL("%s", sh->w[i].why);
}

/* Wait until every worker has flag set (paused or done). */
static void workers_wait(size_t flag_offset, const char *what)
{
	long long deadline = h_now_ms() + PAUSE_WAIT_MS;
	int i, *flag;

	for (i = 0; i < WORKERS; i++) {
		flag = (int *)((char *)&sh->w[i] + flag_offset);
		while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE) && h_now_ms() < deadline) {
			workers_check();
			h_nap_ms(1);
		}
		if (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
			H_FAIL("worker %d: not %s within %d ms", i, what, PAUSE_WAIT_MS);
	}
}

static int books_sum(int k, enum h_dir dir)
{
	int i, n = 0;

	for (i = 0; i < WORKERS; i++)
		n += dir == H_IN ? sh->w[i].in[k] : sh->w[i].out[k];
	return n;
}

static long opened_sum(int k)
{
	long n = 0;
	int i;

	for (i = 0; i < WORKERS; i++)
		n += sh->w[i].opened[k];
	return n;
}

/* The most that could be open at once on port index k, in either direction. */
static long long peak_bound(int k)
{
	return WORKERS * (k == 2 ? DROP_MAX : HOLD) + PEAK_SLACK;
}

static void workers_stop(void)
{
	int i;

	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	workers_wait(offsetof(struct books, done), "done");
	workers_check();
	for (i = 0; i < WORKERS; i++) {
		kill(worker_pids[i], SIGKILL);
		h_child_wait(worker_pids[i]);
	}
}

/* ---- readers running beside the workers ---- */

/*
 * The generation is odd while the tracker is being restarted. A reader may
 * meet "no tracker" only if the generation changed or was odd around its
 * command.
 */
static int generation;
static char reader_fail[1024];
static int readers_stop;
static long reader_runs[4], reader_excused[4];
static char state_dir[64];

static void reader_failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void reader_failed(const char *fmt, ...)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	va_list ap;

	pthread_mutex_lock(&lock);
	if (!reader_fail[0]) {
		va_start(ap, fmt);
		vsnprintf(reader_fail, sizeof(reader_fail), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&lock);
}

static bool restart_around(int gen_before)
{
	int now = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);

	return now != gen_before || (gen_before & 1);
}

/*
 * A failed command is fine only as "no tracker pinned" during a restart,
 * also for one that opened the link pin just before stop removed it.
 */
static bool excused(const struct h_out *o, int gen_before, int reader)
{
	if (o->status != 1 || !restart_around(gen_before))
		return false;
	if (strstr(o->err, "no tracker pinned")) {
		__atomic_fetch_add(&reader_excused[reader], 1, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

static int port_index(unsigned long long port)
{
	int k;

	for (k = 0; k < NPORTS; k++)
		if (ports[k] == port)
			return k;
	return -1;
}

static void check_show(const struct h_out *o)
{
	static __thread struct h_rows rows;
	const struct h_row *r;
	char why[256];
	int i, k;

	if (o->err[0]) {
		reader_failed("show --json: stderr: %s", o->err);
		return;
	}
	if (h_json_parse(o->out, &rows, why, sizeof(why))) {
		reader_failed("show --json: %s: %.300s", why, o->out);
		return;
	}
	for (i = 0; i < rows.n; i++) {
		r = &rows.row[i];
		k = port_index(r->port);
		if (r->current <= r->peak && (k < 0 || (long long)r->peak <= peak_bound(k)) &&
		    r->total < 100000000ULL)
			continue;
		reader_failed("show --json: port %llu %s: current %llu, peak %llu, total %llu",
			      r->port, r->dir, r->current, r->peak, r->total);
		return;
	}
}

/* Every "peak":N of history --json within what could be open at once. */
static void check_history(const struct h_out *o)
{
	const char *p = o->out;
	unsigned long long v;

	if (o->err[0] || strncmp(p, "{\"history\":[", 12) || !strstr(p, "]}\n")) {
		reader_failed("history --json: stderr '%s', stdout '%.200s'", o->err, p);
		return;
	}
	while ((p = strstr(p, "\"peak\":"))) {
		v = strtoull(p + 7, NULL, 10);
		if ((long long)v > peak_bound(0)) {
			reader_failed("history --json: a peak of %llu", v);
			return;
		}
		p += 7;
	}
}

static void *reader_main(void *arg)
{
	int reader = (int)(long)arg, gen;
	unsigned int seed = reader;
	struct h_out o;

	while (!__atomic_load_n(&readers_stop, __ATOMIC_ACQUIRE) && !reader_fail[0]) {
		gen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
		if (reader == 0)
			h_cp(&o, "show", "--json", NULL);
		else if (reader == 1)
			h_cp(&o, "history", "--json", "--by", "bucket", "--state-dir", state_dir,
			     NULL);
		else
			h_cp(&o, "reset", NULL);
		__atomic_fetch_add(&reader_runs[reader], 1, __ATOMIC_RELAXED);
		if (o.status != 0 && !excused(&o, gen, reader))
			reader_failed("reader %d: exit status %d: %s", reader, o.status, o.err);
		else if (o.status == 0 && reader == 0)
			check_show(&o);
		else if (o.status == 0 && reader == 1)
			check_history(&o);
		h_out_free(&o);
		if (reader == 2)
			h_nap_ms(20 + rand_r(&seed) % 200);
	}
	return NULL;
}

/* ---- a reader of the pinned maps through mmap ---- */

struct mapped {
	int slots_fd, used_fd;
	__u32 slots_id;
	const struct connpeak_slot *slots;
	const __u64 *used;
};

#define SLOTS_LEN	(sizeof(struct connpeak_slot) * CONNPEAK_NR_SLOTS)
#define USED_LEN	(sizeof(__u64) * CONNPEAK_USED_WORDS)

static long mmap_scans, mmap_cur_over_total;
static __u64 last_total[NPORTS * 2];

static void unmap(struct mapped *m)
{
	if (m->slots)
		munmap((void *)m->slots, SLOTS_LEN);
	if (m->used)
		munmap((void *)m->used, USED_LEN);
	if (m->slots_fd >= 0)
		close(m->slots_fd);
	if (m->used_fd >= 0)
		close(m->used_fd);
	memset(m, 0, sizeof(*m));
	m->slots_fd = m->used_fd = -1;
}

static int map_pins(struct mapped *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[128];
	void *p;

	snprintf(path, sizeof(path), "%s/slots", h_pin_dir);
	m->slots_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/used", h_pin_dir);
	m->used_fd = bpf_obj_get(path);
	if (m->slots_fd < 0 || m->used_fd < 0 ||
	    bpf_obj_get_info_by_fd(m->slots_fd, &info, &len))
		return -1;
	m->slots_id = info.id;
	p = mmap(NULL, SLOTS_LEN, PROT_READ, MAP_SHARED, m->slots_fd, 0);
	m->slots = p == MAP_FAILED ? NULL : p;
	p = mmap(NULL, USED_LEN, PROT_READ, MAP_SHARED, m->used_fd, 0);
	m->used = p == MAP_FAILED ? NULL : p;
	return m->slots && m->used ? 0 : -1;
}

/* One look at the slots of our ports; totals never go down within one map. */
static void scan(const struct mapped *m)
{
	const struct connpeak_slot *s;
	__u64 word, total;
	unsigned int idx, dir;
	__u32 cur, peak;
	int k;

	for (dir = 0; dir < CONNPEAK_NR_DIRS; dir++) {
		for (k = 0; k < NPORTS; k++) {
			idx = dir * CONNPEAK_NR_PORTS + ports[k];
			if (!(__atomic_load_n(&m->used[idx / 64], __ATOMIC_ACQUIRE) &
			      (1ULL << (idx % 64))))
				continue;
			s = &m->slots[idx];
			word = __atomic_load_n(&s->cur_peak, __ATOMIC_ACQUIRE);
			total = __atomic_load_n(&s->total, __ATOMIC_ACQUIRE);
			cur = CONNPEAK_CUR(word);
			peak = CONNPEAK_PEAK(word);
			if (cur > total)
				mmap_cur_over_total++;
			if (cur > peak || peak > peak_bound(k) ||
			    cur > total + 4 || total < last_total[dir * NPORTS + k])
				reader_failed("mmap: port %u %s: current %u, peak %u, total %llu "
					      "(before %llu)", ports[k], dir ? "out" : "in", cur,
					      peak, (unsigned long long)total,
					      (unsigned long long)last_total[dir * NPORTS + k]);
			last_total[dir * NPORTS + k] = total;
		}
	}
	mmap_scans++;
}

static void *mmap_main(void *arg)
{
	struct mapped m = { .slots_fd = -1, .used_fd = -1 };
	__u32 last_id = 0;
	int i;

	while (!__atomic_load_n(&readers_stop, __ATOMIC_ACQUIRE) && !reader_fail[0]) {
		if (map_pins(&m)) {
			unmap(&m);
			h_nap_ms(2);
			continue;
		}
		if (m.slots_id != last_id)
			memset(last_total, 0, sizeof(last_total));
		last_id = m.slots_id;
		for (i = 0; i < 20000 && !__atomic_load_n(&readers_stop, __ATOMIC_ACQUIRE); i++)
			scan(&m);
		unmap(&m);
	}
	return NULL;
}

static pthread_t reader_threads[4];
static int nreaders;

static void readers_start(void)
{
	int i;

	reader_fail[0] = '\0';
	readers_stop = 0;
	for (i = 0; i < 3; i++)
		if (!pthread_create(&reader_threads[nreaders], NULL, reader_main, (void *)(long)i))
			nreaders++;
	if (!pthread_create(&reader_threads[nreaders], NULL, mmap_main, NULL))
		nreaders++;
	if (nreaders != 4)
		H_FAIL("readers: %d of 4 threads started", nreaders);
}

static void readers_join(void)
{
	__atomic_store_n(&readers_stop, 1, __ATOMIC_RELEASE);
	while (nreaders)
		pthread_join(reader_threads[--nreaders], NULL);
}

/* ---- the controller ---- */

static void start_tracker(void)
{
	struct h_out o;

	h_cp(&o, "start", "--bucket", "1", "--keep", "120s", "16001", "16002", "16003", NULL);
	if (o.status != 0)
		H_FAIL("start: exit status %d: %s", o.status, o.err);
	h_out_free(&o);
}

static void restart(unsigned int *seed)
{
	__atomic_fetch_add(&generation, 1, __ATOMIC_ACQ_REL);
	h_stop();
	h_nap_ms(rand_r(seed) % 300);
	start_tracker();
	__atomic_fetch_add(&generation, 1, __ATOMIC_ACQ_REL);
}

struct checkpoint {
	long opened[NPORTS];
	long long total[NPORTS][2];
	bool restarted;
};

/* The current bucket's peak of port_a in history is at least what is open now. */
static void check_history_now(int open_in)
{
	const char *last, *peak;
	struct h_out o;

	h_cp(&o, "history", "--json", "--by", "bucket", "--state-dir", state_dir, "16001", NULL);
	last = o.status == 0 ? strrchr(o.out, '{') : NULL;
	peak = last ? strstr(last, "\"peak\":") : NULL;
	if (!peak)
		H_FAIL("history --json 16001: exit status %d, output %.300s %s", o.status, o.out,
		       o.err);
	else
		H_LE(strtoll(peak + 7, NULL, 10), open_in,
		     "port 16001 in: open now against the current bucket's peak in history");
	h_out_free(&o);
}

static void check_totals(struct checkpoint *cp)
{
	const struct h_row *r;
	struct h_rows rows;
	long opened;
	int k, d;

	h_show(&rows);
	for (k = 0; k < NPORTS; k++) {
		opened = opened_sum(k);
		for (d = 0; d < 2; d++) {
			r = h_rows_find(&rows, ports[k], d ? H_OUT : H_IN);
			if (!r)
				continue;
			if (!cp->restarted && cp->total[k][d] >= 0)
				H_EQ(cp->total[k][d] + opened - cp->opened[k], r->total,
				     "port %u %s: total against opened since the last checkpoint",
				     ports[k], d ? "out" : "in");
			H_LE(peak_bound(k), r->peak, "port %u %s: peak",
			     ports[k], d ? "out" : "in");
			cp->total[k][d] = r->total;
		}
		cp->opened[k] = opened;
	}
	cp->restarted = false;
}

static void checkpoint(struct checkpoint *cp)
{
	int k;

	__atomic_store_n(&sh->pause, 1, __ATOMIC_RELEASE);
	workers_wait(offsetof(struct books, paused), "paused");
	for (k = 0; k < NPORTS; k++) {
		h_expect(ports[k], H_IN, books_sum(k, H_IN), -1, -1);
		h_expect(ports[k], H_OUT, books_sum(k, H_OUT), -1, -1);
	}
	check_totals(cp);
	check_history_now(books_sum(0, H_IN));
	__atomic_store_n(&sh->pause, 0, __ATOMIC_RELEASE);
}

static void report(int checkpoints, int restarts)
{
	long steps = 0, opened = 0;
	int i, k;

	for (i = 0; i < WORKERS; i++)
		steps += sh->w[i].steps;
	for (k = 0; k < NPORTS; k++)
		opened += opened_sum(k);
	print_message("%ld connections in %ld worker steps; %d checkpoints, %d restarts; "
		      "show %ld (%ld during restarts), history %ld (%ld), reset %ld (%ld); "
		      "%ld mmap scans, %ld saw current above total for a moment\n",
		      opened, steps, checkpoints, restarts, reader_runs[0], reader_excused[0],
		      reader_runs[1], reader_excused[1], reader_runs[2], reader_excused[2],
		      mmap_scans, mmap_cur_over_total);
}

static void test_soak(void **state)
{
	const char *env = getenv("STRESS_SECONDS");
	long long secs = env && atoi(env) > 0 ? atoi(env) : DEFAULT_SECONDS;
	long long end = h_now_ms() + secs * 1000, next;
	struct checkpoint cp = {};
	unsigned int seed = getpid();
	int checkpoints = 0, restarts = 0, k;

	h_require();
	memset(cp.total, -1, sizeof(cp.total));
	start_tracker();
	workers_start();
	readers_start();
	while (h_now_ms() < end) {
		next = h_now_ms() + CHECK_EVERY_MS;
		if (checkpoints % 2) {
			h_nap_ms(rand_r(&seed) % (CHECK_EVERY_MS / 2));
			restart(&seed);
			cp.restarted = true;
			restarts++;
		}
		while (h_now_ms() < next && !reader_fail[0]) {
			workers_check();
			h_nap_ms(20);
		}
		if (reader_fail[0])
			break;
		checkpoint(&cp);
		checkpoints++;
	}
	workers_stop();
	readers_join();
	report(checkpoints, restarts);
	if (reader_fail[0])
		H_FAIL("%s", reader_fail);
	for (k = 0; k < NPORTS; k++) {
		h_expect(ports[k], H_IN, 0, -1, -1);
		h_expect(ports[k], H_OUT, 0, -1, -1);
	}
}

static int teardown(void **state)
{
	readers_join();
	if (sh && sh != MAP_FAILED)
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	h_teardown(state);
	rmdir(state_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_soak, teardown),
	};

	snprintf(state_dir, sizeof(state_dir), "/tmp/connpeak-stress-%d", (int)getpid());
	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
