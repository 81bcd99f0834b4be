// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <stdbool.h>
#include <linux/types.h>
#include "connpeak.h"
#include "metrics.h"
#include "services.h"

/*
 * Prometheus text exposition format 0.0.4: every family is written whole
 * (HELP, TYPE, then its samples) before the next one starts.
 */

enum metric {
	M_OPEN,
	M_PEAK,
	M_PEAK_TIME,
	M_TOTAL,
	M_LIMIT,
	M_WARN,
	M_ALERTS,
	M_SUPPRESSED,
};

struct family {
	const char *name;
	const char *type;
	const char *help;	/* must hold no backslash and no newline */
};

static const struct family families[] = {
	[M_OPEN] = { "connpeak_open_connections", "gauge",
		     "TCP connections open now (ESTABLISHED or CLOSE_WAIT)." },
	[M_PEAK] = { "connpeak_peak_connections", "gauge",
		     "Most TCP connections open at once since start or the last reset." },
	[M_PEAK_TIME] = { "connpeak_peak_timestamp_seconds", "gauge",
			  "When the peak was reached, in seconds since the Unix epoch." },
	[M_TOTAL] = { "connpeak_connections_total", "counter",
		      "TCP connections opened since start." },
	[M_LIMIT] = { "connpeak_limit_connections", "gauge",
		      "Configured limit of open inbound connections." },
	[M_WARN] = { "connpeak_warning_connections", "gauge",
		     "Open inbound connections at which a warning is raised." },
	[M_ALERTS] = { "connpeak_alerts_total", "counter",
		       "Alert events sent." },
	[M_SUPPRESSED] = { "connpeak_alerts_suppressed_total", "counter",
			   "Alert events suppressed, not sent." },
};

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	/* No overlong forms, no UTF-16 surrogates, nothing past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return len;
}

/*
 * Label values are UTF-8 with backslash, double quote and line feed
 * escaped. Service names come from a local file and may hold anything:
 * a byte that is not part of valid UTF-8 becomes U+FFFD.
 */
static void write_label_value(FILE *out, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t len;

	while (*s) {
		len = utf8_len(s);
		if (!len) {
			fputs("\xef\xbf\xbd", out);
			len = 1;
		} else if (*s == '\\' || *s == '"') {
			fprintf(out, "\\%c", *s);
		} else if (*s == '\n') {
			fputs("\\n", out);
		} else {
			fwrite(s, 1, len, out);
		}
		s += len;
	}
}

static void write_header(FILE *out, const struct family *f)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
}

static void write_sample(FILE *out, const struct family *f, unsigned int port,
			 unsigned int dir, unsigned long long value)
{
	const char *service = services__name(port);

	fprintf(out, "%s{port=\"%u\",service=\"", f->name, port);
	write_label_value(out, service ? service : "");
	fprintf(out, "\",direction=\"%s\"} %llu\n", dir_name(dir), value);
}

static unsigned long long row_value(const struct port_row *r, enum metric m)
{
	switch (m) {
	case M_OPEN:
		return r->current;
	case M_PEAK:
		return r->peak;
	case M_PEAK_TIME:
		return r->peak_at > 0 ? (unsigned long long)r->peak_at : 0;
	default:
		return r->total;
	}
}

/* false when the port has no sample in this family */
static bool port_value(const struct metric_port *p, enum metric m, unsigned long long *value)
{
	switch (m) {
	case M_LIMIT:
		*value = p->limit;
		return p->limit != 0;
	case M_WARN:
		*value = p->warn;
		return p->warn != 0;
	case M_ALERTS:
		*value = p->alerts;
		return true;
	default:
		*value = p->suppressed;
		return true;
	}
}

void metrics__write(FILE *out, const struct port_row *rows, size_t n,
		    const struct metric_port *ports, size_t nports)
{
	unsigned long long value;
	bool started;
	enum metric m;
	size_t i;

	for (m = M_OPEN; m <= M_TOTAL; m++) {
		for (i = 0; i < n; i++) {
			if (i == 0)
				write_header(out, &families[m]);
			write_sample(out, &families[m], rows[i].port, rows[i].dir,
				     row_value(&rows[i], m));
		}
	}
	for (m = M_LIMIT; m <= M_SUPPRESSED; m++) {
		started = false;
		for (i = 0; i < nports; i++) {
			if (!port_value(&ports[i], m, &value))
				continue;
			if (!started)
				write_header(out, &families[m]);
			started = true;
			write_sample(out, &families[m], ports[i].port, CONNPEAK_DIR_IN, value);
		}
	}
}
