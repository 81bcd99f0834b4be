// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <bpf/libbpf.h>
#include "commands.h"
#include "daemon.h"
#include "metrics.h"
#include "services.h"

static const struct limit_cfg *limit_for(const struct daemon_cfg *cfg, unsigned int port)
{
	unsigned int i;

	for (i = 0; i < cfg->nlimits; i++)
		if (cfg->limits[i].port == port && cfg->limits[i].limit)
			return &cfg->limits[i];
	return NULL;
}

/* Ports with a limit; a warn.SERVICE line alone gives none. */
static unsigned int count_limits(const struct daemon_cfg *cfg)
{
	unsigned int i, n = 0;

	for (i = 0; i < cfg->nlimits; i++)
		n += cfg->limits[i].limit != 0;
	return n;
}

/* A free alert entry, its counters cleared; -1 if all are taken. */
static int alert_take(struct tracker *t)
{
	int i;

	for (i = 0; i < CONNPEAK_MAX_ALERT_PORTS; i++) {
		if (t->alerts[i].limit)
			continue;
		memset(&t->alerts[i], 0, sizeof(t->alerts[i]));
		return i;
	}
	return -1;
}

/*
 * Ports that keep a limit keep their entry, level and counters; ports
 * without one any more are unhooked before their entry is freed.
 */
void daemon__apply_limits(struct daemon *d)
{
	struct connpeak_alert *a;
	const struct limit_cfg *l;
	unsigned int port;
	int idx;

	for (port = 1; port < CONNPEAK_NR_PORTS; port++) {
		idx = d->t.alert_index[port] - 1;
		l = limit_for(&d->cfg, port);
		if (!l && idx >= 0) {
			__atomic_store_n(&d->t.alert_index[port], 0, __ATOMIC_SEQ_CST);
			__atomic_store_n(&d->t.alerts[idx].limit, 0, __ATOMIC_SEQ_CST);
			continue;
		}
		if (!l)
			continue;
		if (idx < 0) {
			idx = alert_take(&d->t);
			if (idx < 0) {
				fprintf(stderr, "<3>limit for port %u: no free alert entry\n",
					port);
				continue;
			}
			d->reported[idx] = 0;
		}
		a = &d->t.alerts[idx];
		a->warn = config__warn_level(&d->cfg, l);
		a->hyst = l->limit / 20 ? l->limit / 20 : 1;
		__atomic_store_n(&a->limit, l->limit, __ATOMIC_SEQ_CST);
		__atomic_store_n(&d->t.alert_index[port], idx + 1, __ATOMIC_SEQ_CST);
	}
}

/* "https (443)", or "port 2525" for a port without a service name. */
static const char *port_label(unsigned int port)
{
	static char buf[64];
	const char *name = services__name(port);

	if (name)
		snprintf(buf, sizeof(buf), "%s (%u)", name, port);
	else
		snprintf(buf, sizeof(buf), "port %u", port);
	return buf;
}

/*
 * Events wait in the ring buffer while no daemon runs: say when an event
 * that is not fresh happened.
 */
static const char *when(const struct connpeak_event *e)
{
	static char buf[48];
	struct timespec boot, real;
	__u64 age_ns;
	time_t at;
	struct tm tm;

	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_REALTIME, &real);
	age_ns = (__u64)boot.tv_sec * 1000000000ULL + boot.tv_nsec - e->time_ns;
	if (age_ns < 2000000000ULL)
		return "";
	at = real.tv_sec - (time_t)(age_ns / 1000000000ULL);
	localtime_r(&at, &tm);
	strftime(buf, sizeof(buf), " (at %Y-%m-%d %H:%M:%S)", &tm);
	return buf;
}

static void log_level(const struct connpeak_event *e)
{
	unsigned int pct = (unsigned long long)e->count * 100 / e->limit;
	const char *tail = "";
	int prio = 4;

	if (e->level == CONNPEAK_LEVEL_LIMIT) {
		prio = 3;
		tail = ": limit reached";
	} else if (e->level == CONNPEAK_LEVEL_OK) {
		prio = 5;
		tail = ": back below the warning level";
	} else if (e->old_level == CONNPEAK_LEVEL_LIMIT) {
		tail = ": back below the limit";
	}
	fprintf(stderr, "<%d>%s inbound: %u open, %u%% of limit %u%s%s\n", prio,
		port_label(e->port), e->count, pct, e->limit, tail, when(e));
}

static void report_suppressed(struct daemon *d, const struct connpeak_event *e)
{
	unsigned int idx = d->t.alert_index[e->port];

	if (!idx-- || e->suppressed <= d->reported[idx])
		return;
	fprintf(stderr, "<4>%s inbound: %llu alert events suppressed (over %d a second)\n",
		port_label(e->port), (unsigned long long)(e->suppressed - d->reported[idx]),
		CONNPEAK_EVENTS_PER_SEC);
	d->reported[idx] = e->suppressed;
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct connpeak_event *e = data;
	struct daemon *d = ctx;
	int idx;

	if (size < sizeof(*e))
		return 0;
	switch (e->kind) {
	case CONNPEAK_EV_LEVEL:
		report_suppressed(d, e);
		log_level(e);
		break;
	case CONNPEAK_EV_PEAK:
		report_suppressed(d, e);
		fprintf(stderr, "<6>%s inbound: new peak of %u open, %u%% of limit %u%s\n",
			port_label(e->port), e->count,
			(unsigned int)((unsigned long long)e->count * 100 / e->limit), e->limit,
			when(e));
		break;
	case CONNPEAK_EV_BUCKET:
		idx = hist_index_of(&d->t, e->port);
		if (idx >= 0)
			persist__port(d, idx, e->bucket);
		break;
	}
	return 0;
}

/* Ports with a limit, with what the kernel counted for them. */
static size_t metric_ports(struct daemon *d, struct metric_port *mp)
{
	const struct connpeak_alert *a;
	size_t n = 0;
	unsigned int i;
	int idx;

	for (i = 0; i < d->cfg.nlimits; i++) {
		if (!d->cfg.limits[i].limit)
			continue;
		mp[n].port = d->cfg.limits[i].port;
		mp[n].limit = d->cfg.limits[i].limit;
		mp[n].warn = config__warn_level(&d->cfg, &d->cfg.limits[i]);
		idx = d->t.alert_index[mp[n].port] - 1;
		a = idx >= 0 ? &d->t.alerts[idx] : NULL;
		mp[n].alerts = a ? __atomic_load_n(&a->sent, __ATOMIC_RELAXED) : 0;
		mp[n].suppressed = a ? __atomic_load_n(&a->suppressed, __ATOMIC_RELAXED) : 0;
		n++;
	}
	return n;
}

static int by_port(const void *a, const void *b)
{
	const struct metric_port *x = a, *y = b;

	return (x->port > y->port) - (x->port < y->port);
}

int daemon__render_metrics(void *ctx, char **buf, size_t *len)
{
	struct metric_port mp[CONNPEAK_MAX_ALERT_PORTS];
	struct port_row *rows = NULL;
	struct daemon *d = ctx;
	size_t n = 0, nmp;
	FILE *f;
	int err;

	err = tracker__rows(&d->t, NULL, DIRS_ALL, &rows, &n);
	if (err)
		return err;
	rows_sort_by_port(rows, n);
	pthread_mutex_lock(&d->cfg_lock);
	nmp = metric_ports(d, mp);
	pthread_mutex_unlock(&d->cfg_lock);
	qsort(mp, nmp, sizeof(mp[0]), by_port);
	f = open_memstream(buf, len);
	if (f) {
		metrics__write(f, rows, n, mp, nmp);
		err = fclose(f) ? -errno : 0;
	} else {
		err = -errno;
	}
	free(rows);
	return err;
}

static int start_http(struct daemon *d)
{
	if (!strcmp(d->cfg.listen, DAEMON_LISTEN_OFF))
		return 0;
	d->http = httpd__start(d->cfg.listen, daemon__render_metrics, d);
	return d->http ? 0 : -errno;
}

/* The tracker under the pin dir, started and pinned here if there is none. */
static int attach_tracker(struct daemon *d)
{
	struct load_opts lo = {
		.bucket_ns = HIST_DEFAULT_BUCKET_S * 1000000000ULL,
		.nbuckets = HIST_DEFAULT_KEEP_S / HIST_DEFAULT_BUCKET_S,
		.hist_max = HIST_DEFAULT_PORTS,
		.clients = CLIENT_OPTS_DEFAULT,
	};
	int err;

	err = tracker__open(&d->t, d->cfg.pin_dir, true);
	if (err != -ENOENT) {
		if (err)
			report_open_error(err, d->cfg.pin_dir);
		return err;
	}
	tracker__close(&d->t);
	err = tracker__load(&d->t, &lo);
	if (!err)
		err = tracker__pin(&d->t, d->cfg.pin_dir);
	tracker__close(&d->t);
	if (err)
		return err;
	fprintf(stderr, "<5>no tracker was pinned under %s: started one\n", d->cfg.pin_dir);
	return tracker__open(&d->t, d->cfg.pin_dir, true);
}

/* A bad file keeps the limits in force. */
static void reload(struct daemon *d)
{
	struct daemon_cfg *next = malloc(sizeof(*next));

	if (!next)
		return;
	if (build_daemon_config(d, next)) {
		fprintf(stderr, "<3>%s: reload refused: keeping the limits in force\n",
			d->config_path);
	} else {
		/* The pin dir, state dir and listen address need a restart. */
		memcpy(next->pin_dir, d->cfg.pin_dir, sizeof(next->pin_dir));
		memcpy(next->state_dir, d->cfg.state_dir, sizeof(next->state_dir));
		memcpy(next->listen, d->cfg.listen, sizeof(next->listen));
		pthread_mutex_lock(&d->cfg_lock);
		d->cfg = *next;
		daemon__apply_limits(d);
		pthread_mutex_unlock(&d->cfg_lock);
		fprintf(stderr, "<5>%s: reloaded, %u limits\n", d->config_path,
			count_limits(&d->cfg));
	}
	free(next);
}

static int signal_fd(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, set, NULL))
		return -errno;
	return signalfd(-1, set, SFD_CLOEXEC);
}

/* Sleep in epoll until a ring buffer event or a signal: no timer. */
static int event_loop(struct daemon *d, int sfd)
{
	struct signalfd_siginfo si;
	struct epoll_event ev = { .events = EPOLLIN }, got[2];
	int ep, n, i, err = 0;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = ring_buffer__epoll_fd(d->rb);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	for (;;) {
		n = epoll_wait(ep, got, 2, -1);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		for (i = 0; i < n; i++) {
			if (got[i].data.fd != sfd) {
				ring_buffer__consume(d->rb);
				continue;
			}
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo != SIGHUP)
				goto out;
			reload(d);
		}
	}
out:
	close(ep);
	return err;
}

int daemon__run(struct daemon *d)
{
	sigset_t set;
	int sfd, err;

	services__load(SERVICES_PATH);
	sfd = signal_fd(&set);
	err = sfd < 0 ? sfd : attach_tracker(d);
	if (!err) {
		daemon__apply_limits(d);
		err = persist__init(d);
	}
	if (!err)
		err = start_http(d);
	if (!err) {
		persist__all(d);
		d->rb = ring_buffer__new(d->t.fd[TM_EVENTS], on_event, d, NULL);
		err = d->rb ? 0 : -errno;
		if (err)
			fprintf(stderr, "connpeak: ring buffer: open failed: %s\n", strerror(-err));
	}
	if (!err) {
		fprintf(stderr, "<6>watching %u limits, history of %u ports saved in %s, "
			"metrics %s%s\n", count_limits(&d->cfg), d->t.conf.nports,
			d->cfg.state_dir, d->http ? "on " : "off",
			d->http ? d->cfg.listen : "");
		err = event_loop(d, sfd);
		ring_buffer__consume(d->rb);
		persist__all(d);
	}
	if (d->http)
		httpd__stop(d->http);
	ring_buffer__free(d->rb);
	tracker__close(&d->t);
	if (sfd >= 0)
		close(sfd);
	return err ? EXIT_FAIL : EXIT_OK;
}
