// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * statefile__parse on each line of the input: an accepted line formats
 * back to a line that parses to the same record. The records then go through
 * what history and advise do with a saved file: statefile__last_bucket and
 * hist_saved, the latter given the run of the first record as the current
 * one, and a ring that begins just after its newest saved bucket.
 *
 * Gaps longer than hist_saved fills (a year, or 4M buckets) and lines with
 * times near the limit of time_t are accepted and must not blow up.
 */
#include <errno.h>
#include "fuzz.h"
#include "history.h"
#include "statefile.h"

#define MAX_RECS 256

static bool same_rec(const struct state_rec *a, const struct state_rec *b)
{
	return !strcmp(a->boot_id, b->boot_id) && a->run_start_ns == b->run_start_ns &&
	       a->bucket == b->bucket && a->bucket_s == b->bucket_s &&
	       a->wall_start == b->wall_start && a->peak == b->peak && a->start == b->start;
}

static void check_round_trip(const struct state_rec *r)
{
	struct state_rec back;
	char line[256];
	int len;

	len = statefile__format(line, sizeof(line), r);
	fuzz_check(len > 0 && (size_t)len < sizeof(line), "formatted length %d", len);
	fuzz_check(!statefile__parse(line, &back), "own line refused: %s", line);
	fuzz_check(same_rec(r, &back), "round trip changed the record: %s", line);
}

/* The newest bucket saved of the first record's run. */
static __u64 newest_of_run(const struct state_rec *recs, size_t n)
{
	__u64 newest = recs[0].bucket;
	size_t i;

	for (i = 1; i < n; i++)
		if (!strcmp(recs[i].boot_id, recs[0].boot_id) &&
		    recs[i].run_start_ns == recs[0].run_start_ns && recs[i].bucket > newest)
			newest = recs[i].bucket;
	return newest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state_rec recs[MAX_RECS];
	char *text = fuzz_text(data, size), *line, *next, save;
	struct hist_point *pts = NULL;
	__u64 ring_first;
	size_t n = 0;
	long got;

	for (line = text; *line && n < MAX_RECS; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		save = *next;
		*next = '\0';
		if (!statefile__parse(line, &recs[n])) {
			check_round_trip(&recs[n]);
			n++;
		}
		*next = save;
	}
	if (n) {
		ring_first = newest_of_run(recs, n) + 1ULL;
		statefile__last_bucket(recs, n, recs[0].boot_id, recs[0].run_start_ns);
		got = hist_saved(recs, n, recs[0].boot_id, recs[0].run_start_ns, ring_first,
				 recs[n - 1].start, &pts);
		fuzz_check(got >= 0 || got == -ENOMEM, "hist_saved: %ld", got);
		free(pts);
	}
	free(text);
	return 0;
}
