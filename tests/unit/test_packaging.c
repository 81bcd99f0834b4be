// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "config.h"
#include "httpd.h"
#include "services.h"
#include "tracker.h"

/*
 * The example configuration that make install ships parses with the
 * daemon's own parser, and its values are the defaults in the code.
 * (make install-test checks the installed files themselves.)
 */

#define EXAMPLE "scripts/connpeak.conf.example"

static unsigned int limit_of(const struct daemon_cfg *cfg, const char *service)
{
	int port = services__port(service);
	unsigned int i;

	assert_true(port > 0);
	for (i = 0; i < cfg->nlimits; i++) {
		if (cfg->limits[i].port == (unsigned int)port)
			return cfg->limits[i].limit;
	}
	return 0;
}

static void test_config_example(void **state)
{
	struct daemon_cfg cfg = {};

	assert_int_equal(services__load(SERVICES_PATH), 0);
	assert_int_equal(config__load(EXAMPLE, &cfg), 0);
	assert_string_equal(cfg.listen, HTTPD_DEFAULT_LISTEN);
	assert_string_equal(cfg.state_dir, STATE_DEFAULT_DIR);
	assert_string_equal(cfg.pin_dir, DEFAULT_PIN_DIR);
	assert_true(cfg.warn_set);
	assert_int_equal(cfg.warn_pct, CONFIG_DEFAULT_WARN);
	assert_int_equal(cfg.nlimits, 5);
	assert_int_equal(limit_of(&cfg, "smtp"), 100);
	assert_int_equal(limit_of(&cfg, "https"), 250);
	services__free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_example),
	};

	return cmocka_run_group_tests_name("packaging", tests, NULL, NULL);
}
