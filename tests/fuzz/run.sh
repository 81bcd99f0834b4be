#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (c) 2026 The connpeak authors
#
# Run the libFuzzer targets built under DIR: first each input kept in
# tests/fuzz/regress/NAME/ once, then fuzzing for SECONDS on a working
# corpus DIR/corpus-NAME seeded from tests/fuzz/corpus/NAME/. An input that
# crashes is saved as DIR/crash-NAME-*: keep it in tests/fuzz/regress/NAME/.
# Usage: tests/fuzz/run.sh DIR SECONDS NAME...
set -u

dir=$1
secs=$2
shift 2
here=$(dirname "$0")
limits="-rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=20"
failed=0

# One line per input that fails, then what the target said about it.
replay() {
	name=$1
	shift
	for f in "$@"; do
		[ -f "$f" ] || continue
		if ! "$dir/fuzz_$name" $limits "$f" >"$dir/replay-$name.log" 2>&1; then
			echo "FUZZ     $name: $f fails:"
			grep -E 'property broken|runtime error|SUMMARY|ERROR' \
				"$dir/replay-$name.log" | head -5
			failed=1
		fi
	done
}

for name in "$@"; do
	replay "$name" "$here/regress/$name"/*
	mkdir -p "$dir/corpus-$name"
	rm -f "$dir/crash-$name-"*
	log="$dir/fuzz-$name.log"
	if "$dir/fuzz_$name" $limits -max_total_time="$secs" -close_fd_mask=2 \
		-artifact_prefix="$dir/crash-$name-" "$dir/corpus-$name" "$here/corpus/$name" \
		>"$log" 2>&1; then
		runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log")
		echo "FUZZ     $name: ${runs:-?} runs in ${secs} s, no failure"
	else
		echo "FUZZ     $name: failed, see $log; the input:"
		for f in "$dir/crash-$name-"*; do
			[ -f "$f" ] && echo "  $f" && replay "$name" "$f"
		done
		failed=1
	fi
done
exit $failed
