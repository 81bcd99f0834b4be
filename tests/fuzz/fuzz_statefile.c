// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (c) 2026 The connpeak authors */
/*
 * statefile__parse on each line of the input: an accepted line formats
 * back to a line that parses to the same record. The records then go through
 * what history and advise do with a saved file: statefile__last_bucket and
 * hist_saved, the latter given the run of the first record as the current
 * one, and a ring that begins just after its newest saved bucket.
 *
 * Known and reported, with inputs in tests/fuzz/known/statefile/:
 * hist_saved makes one point for every bucket between two saved buckets of a
 * run, however far apart a damaged line says they are (billions), its
 * bucket + 1 wraps at 2^32, and a wall-clock start near the limit of time_t
 * overflows when the gap is filled. So that the fuzzer can look past them,
 * such inputs skip hist_saved unless FUZZ_KNOWN is set.
 */
#include <errno.h>
#include <limits.h>
#include "fuzz.h"
#include "history.h"
#include "statefile.h"

#define MAX_RECS 256
#define MAX_GAP (1ULL << 20)
#define MAX_WALL (1LL << 40)

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

static bool same_run(const struct state_rec *a, const struct state_rec *b)
{
	return !strcmp(a->boot_id, b->boot_id) && a->run_start_ns == b->run_start_ns;
}

/* Whether a record runs into one of the known problems above. */
static bool known_trouble(const struct state_rec *r)
{
	return r->bucket == UINT32_MAX || r->wall_start > MAX_WALL || r->wall_start < -MAX_WALL;
}

/* The buckets hist_saved will fill in, given a ring after the current run's newest. */
static unsigned long long gaps(const struct state_rec *recs, size_t n, __u64 *ring_first)
{
	const struct state_rec *prev = NULL, *last = &recs[0];
	unsigned long long sum = 0;
	size_t i;

	*ring_first = 0;
	for (i = 0; i < n; i++) {
		if (known_trouble(&recs[i]))
			sum = ULLONG_MAX / 2;
		if (same_run(&recs[i], &recs[0])) {
			last = &recs[i];
			if (recs[i].bucket >= *ring_first)
				*ring_first = recs[i].bucket + 1ULL;
		}
		if (prev && same_run(prev, &recs[i]) && recs[i].bucket > prev->bucket)
			sum += recs[i].bucket - prev->bucket;
		prev = &recs[i];
	}
	return sum + (*ring_first - last->bucket);
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
	if (n && (gaps(recs, n, &ring_first) <= MAX_GAP || getenv("FUZZ_KNOWN"))) {
		statefile__last_bucket(recs, n, recs[0].boot_id, recs[0].run_start_ns);
		got = hist_saved(recs, n, recs[0].boot_id, recs[0].run_start_ns, ring_first,
				 recs[n - 1].start, &pts);
		fuzz_check(got >= 0 || got == -ENOMEM, "hist_saved: %ld", got);
		free(pts);
	}
	free(text);
	return 0;
}
