// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * The daemon's settings: --limit and --warn arguments, config files good
 * and bad, options merged over the file, and the warning level of a limit.
 * Service names come from a services file of the test's own, so the
 * results do not depend on the machine's /etc/services.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "config.h"
#include "services.h"

#define LIMIT_WHY	"the limit must be a whole number from 1 to 1000000000"
#define PORT_WHY	"not a port number or TCP service name"
#define PCT_WHY		"expected a percentage from 1 to 100"

static char tmp_dir[] = "/tmp/connpeak-config-XXXXXX";
static char services_file[PATH_MAX];
static char conf_file[PATH_MAX];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(services_file, sizeof(services_file), "%s/services", tmp_dir);
	snprintf(conf_file, sizeof(conf_file), "%s/connpeak.conf", tmp_dir);
	write_file(services_file,
		   "smtp\t\t25/tcp\t\tmail\n"
		   "https\t\t443/tcp\n"
		   "onlyudp\t\t7000/udp\n");
	return services__load(services_file);
}

static int teardown(void **state)
{
	services__free();
	unlink(services_file);
	unlink(conf_file);
	rmdir(tmp_dir);
	return 0;
}

/* Run config__load with fd 2 sent to a temporary file; what it printed goes to msg. */
static int load_capture(const char *path, struct daemon_cfg *cfg, char *msg, size_t len)
{
	FILE *cap = tmpfile();
	int saved, err;
	ssize_t n;

	assert_non_null(cap);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(cap), STDERR_FILENO), STDERR_FILENO);
	err = config__load(path, cfg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fileno(cap), msg, len - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	fclose(cap);
	return err;
}

static void cfg_init(struct daemon_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->warn_pct = CONFIG_DEFAULT_WARN;
}

static const struct limit_cfg *find_limit(const struct daemon_cfg *cfg, unsigned int port)
{
	unsigned int i;

	for (i = 0; i < cfg->nlimits; i++)
		if (cfg->limits[i].port == port)
			return &cfg->limits[i];
	return NULL;
}

static void expect_limit(const struct daemon_cfg *cfg, unsigned int port, unsigned int limit,
			 unsigned int warn_pct)
{
	const struct limit_cfg *l = find_limit(cfg, port);

	if (!l)
		fail_msg("no limit for port %u among %u limits", port, cfg->nlimits);
	assert_int_equal(l->limit, limit);
	assert_int_equal(l->warn_pct, warn_pct);
}

static void test_add_limit_numeric(void **state)
{
	struct daemon_cfg cfg;
	const char *why = NULL;

	cfg_init(&cfg);
	assert_int_equal(config__add_limit(&cfg, "2525=10", &why), 0);
	assert_int_equal(cfg.nlimits, 1);
	expect_limit(&cfg, 2525, 10, 0);
	assert_int_equal(config__add_limit(&cfg, "1=1", &why), 0);
	assert_int_equal(config__add_limit(&cfg, "65535=1000000000", &why), 0);
	assert_int_equal(cfg.nlimits, 3);
	expect_limit(&cfg, 1, 1, 0);
	expect_limit(&cfg, 65535, 1000000000, 0);
}

static void test_add_limit_service(void **state)
{
	struct daemon_cfg cfg;
	const char *why = NULL;

	cfg_init(&cfg);
	assert_int_equal(config__add_limit(&cfg, "smtp=5", &why), 0);
	assert_int_equal(config__add_limit(&cfg, "mail=6", &why), 0);	/* smtp's alias */
	assert_int_equal(config__add_limit(&cfg, "https=7", &why), 0);
	assert_int_equal(cfg.nlimits, 2);
	expect_limit(&cfg, 25, 6, 0);
	expect_limit(&cfg, 443, 7, 0);
}

/* A later limit for the same port replaces the earlier one, keeping its warning level. */
static void test_add_limit_replaces(void **state)
{
	struct daemon_cfg cfg;
	const char *why = NULL;

	cfg_init(&cfg);
	assert_int_equal(config__add_limit(&cfg, "smtp=5", &why), 0);
	cfg.limits[0].warn_pct = 60;
	assert_int_equal(config__add_limit(&cfg, "25=8", &why), 0);
	assert_int_equal(cfg.nlimits, 1);
	expect_limit(&cfg, 25, 8, 60);
}

static void test_add_limit_bad(void **state)
{
	static const struct {
		const char *spec, *why;
	} bad[] = {
		{ "smtp", "expected SERVICE=N" },
		{ "", "expected SERVICE=N" },
		{ "=5", PORT_WHY },
		{ "0=5", PORT_WHY },
		{ "65536=5", PORT_WHY },
		{ "onlyudp=5", PORT_WHY },
		{ "nosuchservice=5", PORT_WHY },
		{ "25=", LIMIT_WHY },
		{ "25=0", LIMIT_WHY },
		{ "25=-1", LIMIT_WHY },
		{ "25=+1", LIMIT_WHY },
		{ "25= 5", LIMIT_WHY },
		{ "25=5x", LIMIT_WHY },
		{ "25=1.5", LIMIT_WHY },
		{ "25=1000000001", LIMIT_WHY },
		{ "25=99999999999999999999999", LIMIT_WHY },
	};
	struct daemon_cfg cfg, before;
	const char *why;
	size_t i;

	cfg_init(&cfg);
	assert_int_equal(config__add_limit(&cfg, "https=3", &why), 0);
	before = cfg;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (config__add_limit(&cfg, bad[i].spec, &why) != -EINVAL)
			fail_msg("--limit '%s': expected -EINVAL", bad[i].spec);
		if (!why || strcmp(why, bad[i].why))
			fail_msg("--limit '%s': expected reason '%s', actual '%s'", bad[i].spec,
				 bad[i].why, why ? why : "(none)");
		if (memcmp(&cfg, &before, sizeof(cfg)))
			fail_msg("--limit '%s': refused, yet the settings changed", bad[i].spec);
	}
}

/* 256 ports at most; a port already there can still be changed when full. */
static void test_add_limit_full(void **state)
{
	struct daemon_cfg cfg;
	const char *why = NULL;
	char spec[32];
	unsigned int i;

	cfg_init(&cfg);
	for (i = 0; i < CONNPEAK_MAX_ALERT_PORTS; i++) {
		snprintf(spec, sizeof(spec), "%u=%u", 1000 + i, i + 1);
		assert_int_equal(config__add_limit(&cfg, spec, &why), 0);
	}
	assert_int_equal(cfg.nlimits, CONNPEAK_MAX_ALERT_PORTS);
	assert_int_equal(config__add_limit(&cfg, "999=5", &why), -E2BIG);
	assert_string_equal(why, "too many limits (256 at most)");
	assert_int_equal(cfg.nlimits, CONNPEAK_MAX_ALERT_PORTS);
	assert_null(find_limit(&cfg, 999));
	assert_int_equal(config__add_limit(&cfg, "1000=77", &why), 0);
	expect_limit(&cfg, 1000, 77, 0);
}

static void test_parse_pct(void **state)
{
	static const struct {
		const char *arg;
		unsigned int pct;
	} good[] = {
		{ "80", 80 }, { "80%", 80 }, { "1", 1 }, { "1%", 1 }, { "100", 100 },
		{ "100%", 100 }, { "050", 50 },
	};
	static const char *const bad[] = {
		"0", "0%", "101", "101%", "", "%", "80%%", "-5", "+5", "5.5", " 80", "80 ",
		"80 %", "abc", "%80", "99999999999999999999",
	};
	unsigned int pct;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		pct = 0;
		if (config__parse_pct(good[i].arg, &pct))
			fail_msg("percentage '%s': refused", good[i].arg);
		if (pct != good[i].pct)
			fail_msg("percentage '%s': expected %u, actual %u", good[i].arg,
				 good[i].pct, pct);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pct = 42;
		if (config__parse_pct(bad[i], &pct) != -EINVAL)
			fail_msg("percentage '%s': expected -EINVAL", bad[i]);
		if (pct != 42)
			fail_msg("percentage '%s': refused, yet the result changed to %u", bad[i],
				 pct);
	}
}

static void test_load_good(void **state)
{
	struct daemon_cfg cfg;
	char msg[512];

	write_file(conf_file,
		   "# connpeak settings\n"
		   "\n"
		   "limit.smtp = 100\n"
		   "   limit.2525=7\t\n"
		   "limit.https = 9   # a comment after the value\n"
		   "\t# an indented comment\n"
		   "warn = 70%\n"
		   "warn.2525 = 50\n"
		   "listen = 127.0.0.1:19947\r\n"
		   "state-dir = /tmp/a state dir\n"
		   "pin-dir = /sys/fs/bpf/elsewhere\n"
		   "limit.2525 = 8");	/* no newline at the end: still a whole line */
	cfg_init(&cfg);
	assert_int_equal(load_capture(conf_file, &cfg, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	assert_int_equal(cfg.nlimits, 3);
	assert_int_equal(cfg.limits[0].port, 25);
	assert_int_equal(cfg.limits[1].port, 2525);
	assert_int_equal(cfg.limits[2].port, 443);
	expect_limit(&cfg, 25, 100, 0);
	expect_limit(&cfg, 2525, 8, 50);
	expect_limit(&cfg, 443, 9, 0);
	assert_true(cfg.warn_set);
	assert_int_equal(cfg.warn_pct, 70);
	assert_true(cfg.listen_set);
	assert_string_equal(cfg.listen, "127.0.0.1:19947");
	assert_true(cfg.state_dir_set);
	assert_string_equal(cfg.state_dir, "/tmp/a state dir");
	assert_true(cfg.pin_dir_set);
	assert_string_equal(cfg.pin_dir, "/sys/fs/bpf/elsewhere");
}

/* A file adds to what cfg already holds; an empty file changes nothing. */
static void test_load_adds(void **state)
{
	struct daemon_cfg cfg, before;
	const char *why = NULL;
	char msg[512];

	cfg_init(&cfg);
	assert_int_equal(config__add_limit(&cfg, "443=4", &why), 0);
	snprintf(cfg.listen, sizeof(cfg.listen), "127.0.0.1:1");
	before = cfg;
	write_file(conf_file, "");
	assert_int_equal(load_capture(conf_file, &cfg, msg, sizeof(msg)), 0);
	assert_memory_equal(&cfg, &before, sizeof(cfg));

	write_file(conf_file, "# only a comment\n\n   \nlimit.25 = 3\n");
	assert_int_equal(load_capture(conf_file, &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(cfg.nlimits, 2);
	expect_limit(&cfg, 443, 4, 0);
	expect_limit(&cfg, 25, 3, 0);
	assert_string_equal(cfg.listen, "127.0.0.1:1");
	assert_false(cfg.warn_set);
	assert_int_equal(cfg.warn_pct, CONFIG_DEFAULT_WARN);
}

static void test_load_missing(void **state)
{
	struct daemon_cfg cfg, before;
	char path[PATH_MAX + 16], msg[512];

	cfg_init(&cfg);
	before = cfg;
	snprintf(path, sizeof(path), "%s/no-such.conf", tmp_dir);
	assert_int_equal(load_capture(path, &cfg, msg, sizeof(msg)), -ENOENT);
	assert_string_equal(msg, "");
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

struct bad_file {
	const char *text;
	unsigned int line;	/* of the bad line */
	const char *shown;	/* the line as the message quotes it */
	const char *why;
	int err;
};

static void expect_refused(const struct bad_file *b)
{
	struct daemon_cfg cfg, before;
	const char *why = NULL;
	char want[PATH_MAX + 1024], msg[PATH_MAX + 1024];
	int err;

	cfg_init(&cfg);
	assert_int_equal(config__add_limit(&cfg, "443=4", &why), 0);
	before = cfg;
	write_file(conf_file, b->text);
	err = load_capture(conf_file, &cfg, msg, sizeof(msg));
	snprintf(want, sizeof(want), "connpeak: %s:%u: bad line '%s': %s\n", conf_file, b->line,
		 b->shown, b->why);
	if (err != b->err)
		fail_msg("file '%s': expected %d, actual %d (message: %s)", b->text, b->err, err,
			 msg);
	if (strcmp(msg, want))
		fail_msg("file '%s':\n expected message: %s actual message:   %s", b->text, want,
			 msg);
	if (memcmp(&cfg, &before, sizeof(cfg)))
		fail_msg("file '%s': refused, yet the settings changed", b->text);
}

static void test_load_bad_lines(void **state)
{
	static const struct bad_file bad[] = {
		{ "limit.smtp = 10\nlimit.smtp 10\n", 2, "limit.smtp 10",
		  "expected 'key = value'", -EINVAL },
		{ "# comment\n\nlimits.smtp = 10\n", 3, "limits.smtp = 10", "unknown key",
		  -EINVAL },
		{ " = 5\n", 1, " = 5", "unknown key", -EINVAL },
		{ "Warn = 50\n", 1, "Warn = 50", "unknown key", -EINVAL },
		{ "limit.nosuchservice = 5\n", 1, "limit.nosuchservice = 5", PORT_WHY, -EINVAL },
		{ "limit.70000 = 5\n", 1, "limit.70000 = 5", PORT_WHY, -EINVAL },
		{ "limit. = 5\n", 1, "limit. = 5", PORT_WHY, -EINVAL },
		{ "warn = 50\nlimit.smtp = 0   # zero\n", 2, "limit.smtp = 0   # zero", LIMIT_WHY,
		  -EINVAL },
		{ "limit.smtp = 10 20\n", 1, "limit.smtp = 10 20", LIMIT_WHY, -EINVAL },
		{ "limit.smtp =\n", 1, "limit.smtp =", LIMIT_WHY, -EINVAL },
		{ "limit.smtp = 10\nwarn = 101%\nlimit.25 = 5\n", 2, "warn = 101%", PCT_WHY,
		  -EINVAL },
		{ "warn = 0\n", 1, "warn = 0", PCT_WHY, -EINVAL },
		{ "warn.smtp = 0%\n", 1, "warn.smtp = 0%", PCT_WHY, -EINVAL },
		{ "warn.nosuch = 50\n", 1, "warn.nosuch = 50", PORT_WHY, -EINVAL },
		{ "listen =\n", 1, "listen =", "expected ADDR:PORT, [ADDR]:PORT or off", -EINVAL },
		{ "listen = not-an-address\n", 1, "listen = not-an-address",
		  "expected ADDR:PORT, [ADDR]:PORT or off", -EINVAL },
		{ "\n\n\nstate-dir =   \n", 4, "state-dir =   ", "empty or too long", -EINVAL },
		{ "pin-dir = # only a comment\n", 1, "pin-dir = # only a comment",
		  "empty or too long", -EINVAL },
		{ "listen = 0123456789012345678901234567890123456789012345678901234567890123456789"
		  "012345678901234567890123456789012345678901234567890123456789\n", 1,
		  "listen = 0123456789012345678901234567890123456789012345678901234567890123456789"
		  "012345678901234567890123456789012345678901234567890123456789",
		  "expected ADDR:PORT, [ADDR]:PORT or off", -EINVAL },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(&bad[i]);
}

/* The 257th port is refused on its own line, and nothing of the file applies. */
static void test_load_too_many(void **state)
{
	struct bad_file b = {
		.line = CONNPEAK_MAX_ALERT_PORTS,
		.shown = "limit.1256 = 1",
		.why = "too many limits (256 at most)",
		.err = -E2BIG,
	};
	char *text = malloc(CONNPEAK_MAX_ALERT_PORTS * 32 + 32);
	size_t used = 0;
	unsigned int i;

	assert_non_null(text);
	/* 443 is already in cfg: 255 more fit, line 256 is the 257th port */
	for (i = 0; i < CONNPEAK_MAX_ALERT_PORTS; i++)
		used += sprintf(text + used, "limit.%u = 1\n", 1001 + i);
	b.text = text;
	expect_refused(&b);
	free(text);
}

/*
 * A valid line longer than the parser's line buffer: a long comment and a
 * long state directory (up to PATH_MAX) are both allowed.
 */
static void test_load_long_line(void **state)
{
	char *text = malloc(4096), dir[1024];
	struct daemon_cfg cfg;
	char msg[4096];

	assert_non_null(text);
	memset(dir, 'd', sizeof(dir));
	dir[0] = '/';
	dir[700] = '\0';
	snprintf(text, 4096, "# %0700d\nstate-dir = %s\nwarn = 60\n", 0, dir);
	write_file(conf_file, text);
	free(text);
	cfg_init(&cfg);
	if (load_capture(conf_file, &cfg, msg, sizeof(msg)))
		fail_msg("a 702-character comment and a 700-character state-dir: refused: %s",
			 msg);
	assert_string_equal(cfg.state_dir, dir);
	assert_int_equal(cfg.warn_pct, 60);
}

/* A path that cannot be read as a file is an error, not an empty file. */
static void test_load_directory(void **state)
{
	struct daemon_cfg cfg, before;
	char msg[512];
	int err;

	cfg_init(&cfg);
	before = cfg;
	err = load_capture(tmp_dir, &cfg, msg, sizeof(msg));
	if (err >= 0)
		fail_msg("config__load of the directory %s: expected a negative errno, actual %d",
			 tmp_dir, err);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_merge(void **state)
{
	struct daemon_cfg base, over;
	const char *why = NULL;

	cfg_init(&base);
	assert_int_equal(config__add_limit(&base, "smtp=10", &why), 0);
	assert_int_equal(config__add_limit(&base, "2525=20", &why), 0);
	base.limits[0].warn_pct = 50;
	base.warn_pct = 70;
	base.warn_set = true;
	snprintf(base.listen, sizeof(base.listen), "127.0.0.1:1000");
	snprintf(base.state_dir, sizeof(base.state_dir), "/state/file");
	snprintf(base.pin_dir, sizeof(base.pin_dir), "/pin/file");
	base.listen_set = base.state_dir_set = true;

	cfg_init(&over);
	assert_int_equal(config__add_limit(&over, "25=30", &why), 0);
	assert_int_equal(config__add_limit(&over, "8080=5", &why), 0);
	over.warn_pct = 90;
	over.warn_set = true;
	snprintf(over.listen, sizeof(over.listen), "127.0.0.1:2000");
	over.listen_set = true;
	snprintf(over.pin_dir, sizeof(over.pin_dir), "/pin/option");
	over.pin_dir_set = true;
	snprintf(over.state_dir, sizeof(over.state_dir), "/state/not-given");

	config__merge(&base, &over);
	assert_int_equal(base.nlimits, 3);
	expect_limit(&base, 25, 30, 50);
	expect_limit(&base, 2525, 20, 0);
	expect_limit(&base, 8080, 5, 0);
	assert_int_equal(base.warn_pct, 90);
	assert_true(base.warn_set);
	assert_string_equal(base.listen, "127.0.0.1:2000");
	assert_string_equal(base.state_dir, "/state/file");
	assert_string_equal(base.pin_dir, "/pin/option");
	assert_true(base.pin_dir_set);

	/* Nothing given: nothing changes. */
	cfg_init(&over);
	over.warn_pct = 10;
	snprintf(over.listen, sizeof(over.listen), "ignored");
	config__merge(&base, &over);
	assert_int_equal(base.warn_pct, 90);
	assert_string_equal(base.listen, "127.0.0.1:2000");
	assert_int_equal(base.nlimits, 3);
}

static void test_warn_level(void **state)
{
	static const struct {
		unsigned int limit, cfg_pct, port_pct, warn;
	} cases[] = {
		{ 10, 80, 0, 8 },
		{ 10, 50, 0, 5 },
		{ 7, 80, 0, 6 },		/* 5.6 rounds up */
		{ 3, 50, 0, 2 },		/* 1.5 */
		{ 199, 1, 0, 2 },		/* 1.99 */
		{ 100, 1, 0, 1 },
		{ 1, 1, 0, 1 },			/* 0.01: at least 1 */
		{ 1, 100, 0, 1 },
		{ 10, 80, 30, 3 },		/* the port's own percentage wins */
		{ 10, 30, 100, 10 },
		{ 1000000000, 100, 0, 1000000000 },
		{ 1000000000, 99, 0, 990000000 },
		{ 999999999, 99, 0, 990000000 },	/* 989999999.01 */
	};
	struct daemon_cfg cfg;
	struct limit_cfg l;
	unsigned int w;
	size_t i;

	cfg_init(&cfg);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg.warn_pct = cases[i].cfg_pct;
		l = (struct limit_cfg){ .port = 1, .limit = cases[i].limit,
					.warn_pct = cases[i].port_pct };
		w = config__warn_level(&cfg, &l);
		if (w != cases[i].warn)
			fail_msg("limit %u, warn %u%% (port %u%%): expected warning level %u, "
				 "actual %u", cases[i].limit, cases[i].cfg_pct, cases[i].port_pct,
				 cases[i].warn, w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_limit_numeric),
		cmocka_unit_test(test_add_limit_service),
		cmocka_unit_test(test_add_limit_replaces),
		cmocka_unit_test(test_add_limit_bad),
		cmocka_unit_test(test_add_limit_full),
		cmocka_unit_test(test_parse_pct),
		cmocka_unit_test(test_load_good),
		cmocka_unit_test(test_load_adds),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_bad_lines),
		cmocka_unit_test(test_load_too_many),
		cmocka_unit_test(test_load_long_line),
		cmocka_unit_test(test_load_directory),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_warn_level),
	};

	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
