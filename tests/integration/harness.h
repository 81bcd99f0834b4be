/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_ITEST_HARNESS_H
#define CONNPEAK_ITEST_HARNESS_H

/*
 * Shared helpers of the integration tests. Every test binary runs in a
 * network namespace of its own with its own pin directory. Counts are checked
 * against two oracles that share nothing with connpeak: what the test itself
 * opened and closed, and what ss(8) sees.
 *
 * Helpers whose name ends in an underscore take the caller's file and line,
 * so that a failure points at the test; use the macros without underscore.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>
#include <cmocka.h>

#define H_HERE			__FILE__, __LINE__
#define H_WAIT_MS		(5000 * h_slow())	/* bounded wait for the sockets to settle */
#define H_MAX_ROWS		256
#define H_CHURN_MAX_WORKERS	4
#define H_CHURN_MAX_PORTS	2

/* Pin directories of this test binary, unique per process; h_teardown empties both. */
extern char h_pin_dir[];
extern char h_pin_dir2[];

/* ---- environment and fixtures ---- */

/* Enter a private network namespace; note why BPF tests cannot run, if so. */
int h_group_setup(void **state);
int h_group_teardown(void **state);
/* Per test: undoes whatever the test left (fds, children, threads, pins). */
int h_teardown(void **state);
/* Skip the calling test unless running as root with BPF available. */
#define h_require() h_require_(H_HERE)
void h_require_(const char *file, int line);

#define H_TEST(fn) cmocka_unit_test_teardown(fn, h_teardown)

/* Monotonic milliseconds, and a short nap for bounded polling loops. */
long long h_now_ms(void);
/*
 * How many times longer to wait for things to happen: CONNPEAK_TEST_SLOW
 * (1-20, default 1), set under software emulation. Timeouts only: no pace
 * or margin changes with it.
 */
int h_slow(void);
void h_nap_ms(long ms);

/* ---- assertions that print expected and actual ---- */

#define H_EQ(expected, actual, ...) \
	h_eq_(H_HERE, (long long)(expected), (long long)(actual), __VA_ARGS__)
#define H_LE(limit, actual, ...) \
	h_le_(H_HERE, (long long)(limit), (long long)(actual), __VA_ARGS__)
#define H_FAIL(...) h_fail_(H_HERE, __VA_ARGS__)

void h_eq_(const char *file, int line, long long expected, long long actual,
	   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void h_le_(const char *file, int line, long long limit, long long actual,
	   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void h_fail_(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- running connpeak and other programs ---- */

struct h_out {
	int status;	/* exit status; 128 + signal when killed */
	char *out;	/* all of stdout, NUL-terminated */
	char *err;	/* all of stderr, NUL-terminated */
};

/* Run argv (argv[0] is looked up in PATH) and collect its output. */
int h_run(struct h_out *o, char *const argv[]);
/* Run "connpeak CMD --pin-dir DIR ARGS...", the arguments ending in NULL. */
int h_cp_dir(struct h_out *o, const char *dir, const char *cmd, ...)
	__attribute__((sentinel));
#define h_cp(o, cmd, ...) h_cp_dir(o, h_pin_dir, cmd, __VA_ARGS__)
void h_out_free(struct h_out *o);
/*
 * Start "connpeak CMD --pin-dir DIR ARGS..." in the background with stdout and
 * stderr on out_fd and err_fd (-1: /dev/null); args ends in NULL. The child
 * is tracked, so h_teardown ends it, and it dies with the test binary.
 * Returns its pid.
 */
#define h_cp_spawn(out_fd, err_fd, dir, cmd, args) \
	h_cp_spawn_(H_HERE, out_fd, err_fd, dir, cmd, args)
pid_t h_cp_spawn_(const char *file, int line, int out_fd, int err_fd, const char *dir,
		  const char *cmd, char *const args[]);

/* connpeak start / stop on h_pin_dir; fail the test unless they exit 0. */
#define h_start() h_start_(H_HERE)
#define h_stop() h_stop_(H_HERE)
void h_start_(const char *file, int line);
void h_stop_(const char *file, int line);
bool h_pinned(void);

/* ---- oracle: ss ---- */

enum h_dir { H_IN, H_OUT };

const char *h_dir_name(enum h_dir dir);
/* ESTABLISHED and CLOSE_WAIT sockets: local port (in) or remote port (out). */
int h_ss_count(unsigned int port, enum h_dir dir);
/* Poll ss until it counts want; returns the last count seen. */
int h_ss_wait(unsigned int port, enum h_dir dir, int want);

/* ---- connpeak show --json, parsed independently ---- */

struct h_row {
	unsigned long long port, current, peak, total;
	char dir[4];
	char service[64];	/* "" for null */
	char peak_at[24];
};

struct h_rows {
	int n;
	struct h_row row[H_MAX_ROWS];
	char text[4096];	/* the output, cut short, for failure messages */
};

/* Strict parse: key order, no spaces, rows sorted, total > 0; -1 and why. */
int h_json_parse(const char *json, struct h_rows *rows, char *why, size_t len);
const struct h_row *h_rows_find(const struct h_rows *rows, unsigned int port,
				enum h_dir dir);
/* show --json: exit 0, well-formed, no warning on stderr. */
#define h_show(rows) h_show_(H_HERE, rows)
void h_show_(const char *file, int line, struct h_rows *rows);

/*
 * Wait until ss counts cur open connections for (port, dir), then check
 * connpeak's row against cur, against ss, and against peak and total.
 * A negative expectation is not checked. A missing row passes only when
 * every expectation is zero or unchecked.
 */
#define h_expect(port, dir, cur, peak, total) \
	h_expect_(H_HERE, port, dir, cur, peak, total)
void h_expect_(const char *file, int line, unsigned int port, enum h_dir dir,
	       long long cur, long long peak, long long total);
#define h_expect_no_row(port, dir) h_expect_no_row_(H_HERE, port, dir)
void h_expect_no_row_(const char *file, int line, unsigned int port, enum h_dir dir);
#define h_expect_nrows(n) h_expect_nrows_(H_HERE, n)
void h_expect_nrows_(const char *file, int line, int n);

/* ---- sockets held by the test process (closed by h_teardown) ---- */

/* Addresses with a ':' are IPv6, including v4-mapped ones. */
#define h_listen(addr, port, backlog) h_listen_(H_HERE, addr, port, backlog, -1)
#define h_listen6(addr, port, v6only) h_listen_(H_HERE, addr, port, 128, v6only)
#define h_connect(addr, port) h_connect_(H_HERE, NULL, 0, addr, port)
#define h_connect_from(laddr, lport, addr, port) \
	h_connect_(H_HERE, laddr, lport, addr, port)
#define h_accept(lfd) h_accept_(H_HERE, lfd)
int h_listen_(const char *file, int line, const char *addr, unsigned int port,
	      int backlog, int v6only);
int h_connect_(const char *file, int line, const char *laddr, unsigned int lport,
	       const char *addr, unsigned int port);
int h_accept_(const char *file, int line, int lfd);
void h_close(int fd);
/* Close with SO_LINGER 0, so the peer is reset. */
void h_close_rst(int fd);

/* Track a child process or fd so that h_teardown ends or closes it. */
void h_child_track(pid_t pid);
int h_child_wait(pid_t pid);	/* reap it; returns its exit status */
void h_fd_track(int fd);

/* ---- holders: child processes holding many connection pairs ---- */

/*
 * A holder listens on addr:port and, when told, connects to itself and
 * accepts, keeping both ends: each pair counts once "in" and once "out" on
 * port. Several holders on one port use different 127.0.0.x addresses.
 */
struct h_holder {
	pid_t pid;
	int ctl;
	int pairs;	/* held when the last command ended */
	int want;	/* to be held when the command under way ends */
};

enum h_close_how { H_CLIENT_FIRST, H_SERVER_FIRST, H_RST };
enum h_hold_op { H_HOLD_OPEN = 1, H_HOLD_CLOSE = 2 };

#define h_holder_start(h, addr, port) h_holder_start_(H_HERE, h, addr, port, false)
/* The same, in a network namespace of the holder's own. */
#define h_holder_start_netns(h, addr, port) h_holder_start_(H_HERE, h, addr, port, true)
void h_holder_start_(const char *file, int line, struct h_holder *h, const char *addr,
		     unsigned int port, bool own_netns);
/*
 * Every holder in hs opens (or closes) each pairs, all in parallel. The
 * _begin forms return at once; h_holders_end waits for them to finish. A
 * paced command pauses pace_us between two pairs, to last a while.
 */
#define h_holders_open(hs, n, each) \
	do { h_holders_open_begin(hs, n, each); h_holders_end(hs, n); } while (0)
#define h_holders_close(hs, n, each, how) \
	do { h_holders_close_begin(hs, n, each, how); h_holders_end(hs, n); } while (0)
#define h_holders_open_begin(hs, n, each) \
	h_holders_begin_(H_HERE, hs, n, H_HOLD_OPEN, each, 0, 0)
#define h_holders_close_begin(hs, n, each, how) \
	h_holders_begin_(H_HERE, hs, n, H_HOLD_CLOSE, each, how, 0)
#define h_holders_paced_begin(hs, n, op, each, how, pace_us) \
	h_holders_begin_(H_HERE, hs, n, op, each, how, pace_us)
#define h_holders_end(hs, n) h_holders_end_(H_HERE, hs, n)
void h_holders_begin_(const char *file, int line, struct h_holder *hs, int n,
		      enum h_hold_op op, int each, int how, int pace_us);
void h_holders_end_(const char *file, int line, struct h_holder *hs, int n);
void h_holder_quit(struct h_holder *h);

/* ---- churn: child processes opening and closing in a loop ---- */

struct h_churn_stat {
	long iters;
	long opened[H_CHURN_MAX_PORTS];
	int open_in[H_CHURN_MAX_PORTS];		/* held at the end, ESTABLISHED/CLOSE_WAIT */
	int open_out[H_CHURN_MAX_PORTS];
	int done;
	int err;
};

struct h_churn {
	int nworkers, nports;
	unsigned int ports[H_CHURN_MAX_PORTS];
	pid_t pids[H_CHURN_MAX_WORKERS];
	int quit_fd;
	int *stop;
	struct h_churn_stat *st;
};

/*
 * Start nworkers processes churning on the ports, each through its own
 * listener address (IPv4, v4-mapped client, IPv6) and holding up to hold
 * pairs at a time, closing in every manner.
 */
#define h_churn_start(c, n, ports, nports, hold) \
	h_churn_start_(H_HERE, c, n, ports, nports, hold)
void h_churn_start_(const char *file, int line, struct h_churn *c, int nworkers,
		    const unsigned int *ports, int nports, int hold);
/* Wait until every worker has made at least iters more iterations. */
#define h_churn_progress(c, iters) h_churn_progress_(H_HERE, c, iters)
void h_churn_progress_(const char *file, int line, struct h_churn *c, long iters);
/* Stop churning; the workers keep what they hold until h_churn_quit. */
#define h_churn_stop(c) h_churn_stop_(H_HERE, c)
void h_churn_stop_(const char *file, int line, struct h_churn *c);
void h_churn_quit(struct h_churn *c);
/* Totals over the workers, for port index k, after h_churn_stop. */
int h_churn_open(const struct h_churn *c, int k, enum h_dir dir);
long h_churn_opened(const struct h_churn *c, int k);

/* ---- watcher: a thread running show --json over and over ---- */

struct h_watch {
	pthread_t thread;
	int stop;
	int running;
	long polls;
	long rows;
	char fail[512];		/* first violation seen, "" if none */
};

void h_watch_start(struct h_watch *w);
/* Join the thread; fails the test if it saw a violation or never polled. */
#define h_watch_stop(w) h_watch_stop_(H_HERE, w)
void h_watch_stop_(const char *file, int line, struct h_watch *w);

#endif
