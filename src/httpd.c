// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "httpd.h"

/*
 * One libmicrohttpd thread polls every connection with epoll, so a client
 * that is slow, half-open or talks nonsense holds only its own connection,
 * and only until the idle timeout. The thread sleeps in epoll_wait while
 * nothing happens: there is no periodic timer.
 */
#define HTTPD_BACKLOG		16
#define HTTPD_CONN_LIMIT	32u	/* connections at once */
#define HTTPD_CONN_PER_IP	8u	/* so that one host cannot take them all */
#define HTTPD_IDLE_TIMEOUT_S	10u	/* a connection idle this long is closed */
#define METRICS_PATH		"/metrics"
#define METRICS_TYPE		"text/plain; version=0.0.4; charset=utf-8"

/*
 * libmicrohttpd and the TLS libraries it pulls in are loaded only when the
 * daemon serves metrics: linked in, they would add about a millisecond to
 * every command's start, a query's main cost.
 */
#define MHD_SONAME		"libmicrohttpd.so.12"

static struct {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} mhd;

static int mhd_load(void)
{
	void *lib;

	if (mhd.start_daemon)
		return 0;
	lib = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "connpeak: metrics listener: loading " MHD_SONAME " failed: %s\n",
			dlerror());
		return -ENOENT;
	}
	*(void **)&mhd.stop_daemon = dlsym(lib, "MHD_stop_daemon");
	*(void **)&mhd.create_response_from_buffer = dlsym(lib, "MHD_create_response_from_buffer");
	*(void **)&mhd.add_response_header = dlsym(lib, "MHD_add_response_header");
	*(void **)&mhd.queue_response = dlsym(lib, "MHD_queue_response");
	*(void **)&mhd.destroy_response = dlsym(lib, "MHD_destroy_response");
	/* Last: it marks the table complete. */
	*(void **)&mhd.start_daemon = dlsym(lib, "MHD_start_daemon");
	if (mhd.stop_daemon && mhd.create_response_from_buffer && mhd.add_response_header &&
	    mhd.queue_response && mhd.destroy_response && mhd.start_daemon)
		return 0;
	fprintf(stderr, "connpeak: metrics listener: loading " MHD_SONAME " failed: a function "
		"is missing\n");
	mhd.start_daemon = NULL;
	dlclose(lib);
	return -ENOENT;
}

struct httpd {
	struct MHD_Daemon *mhd;
	httpd_render_fn render;
	void *ctx;
};

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = mhd.create_response_from_buffer(strlen(text), (void *)text,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = mhd.queue_response(conn, status, resp);
	mhd.destroy_response(resp);
	return ret;
}

static enum MHD_Result queue_metrics(struct httpd *h, struct MHD_Connection *conn)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *buf = NULL;
	size_t len = 0;

	if (h->render(h->ctx, &buf, &len)) {
		free(buf);
		return queue_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "connpeak: reading the counts failed\n");
	}
	resp = mhd.create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_TYPE);
	ret = mhd.queue_response(conn, MHD_HTTP_OK, resp);
	mhd.destroy_response(resp);
	return ret;
}

/*
 * Answered on the first call, once the headers are in: a request body is
 * never read. An unknown path is 404 whatever the method; /metrics takes
 * GET and HEAD only.
 */
static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **req_cls)
{
	if (strcmp(url, METRICS_PATH))
		return queue_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "method not allowed: GET or HEAD\n");
	return queue_metrics(cls, conn);
}

/* A bound, listening socket for addr, or a negative errno after a message. */
static int listen_socket(const char *addr)
{
	const char *step = "socket";
	struct sockaddr_storage sa;
	int fd, err, one = 1;
	socklen_t len;

	err = httpd__parse_listen(addr, &sa, &len);
	if (err) {
		fprintf(stderr, "connpeak: metrics listener '%s': bad address: expected "
			"ADDR:PORT or [ADDR]:PORT, numeric, port 1-65535\n", addr);
		return err;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		/* Restart at once even while old connections sit in TIME_WAIT. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		step = "bind";
		if (!bind(fd, (struct sockaddr *)&sa, len)) {
			step = "listen";
			if (!listen(fd, HTTPD_BACKLOG))
				return fd;
		}
	}
	err = -errno;
	fprintf(stderr, "connpeak: metrics listener '%s': %s failed: %s\n", addr, step,
		strerror(-err));
	if (fd >= 0)
		close(fd);
	return err;
}

struct httpd *httpd__start(const char *listen, httpd_render_fn render, void *ctx)
{
	struct httpd *h;
	int fd, err;

	err = mhd_load();
	if (err) {
		errno = -err;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->render = render;
	h->ctx = ctx;
	fd = listen_socket(listen);
	if (fd < 0) {
		free(h);
		errno = -fd;
		return NULL;
	}

	h->mhd = mhd.start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, answer, h,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, HTTPD_CONN_LIMIT,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTPD_CONN_PER_IP,
				  MHD_OPTION_CONNECTION_TIMEOUT, HTTPD_IDLE_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!h->mhd) {
		fprintf(stderr, "connpeak: metrics listener '%s': server start failed: "
			"libmicrohttpd gave no reason\n", listen);
		close(fd);
		free(h);
		errno = EIO;
		return NULL;
	}
	return h;
}

void httpd__stop(struct httpd *h)
{
	if (!h)
		return;
	/* Also closes the listening socket. */
	mhd.stop_daemon(h->mhd);
	free(h);
}
