#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (c) 2026 The connpeak authors
#
# /init of the initramfs that scripts/vmtest.sh boots: mount what the tests
# need, load the tracker once to show why if it cannot, run every test binary
# under /tests, print one summary line and power off. Runs under busybox sh.

export PATH=/bin:/usr/bin:/busybox
export CONNPEAK=/bin/connpeak

/bin/busybox mkdir -p /busybox
/bin/busybox --install -s /busybox

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# The memory-limit fault test makes a child cgroup with the memory controller.
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null &&
	echo +memory >/sys/fs/cgroup/cgroup.subtree_control

# ss(8) asks the kernel through sock_diag; Debian builds it as modules.
for m in inet_diag tcp_diag; do
	insmod "/lib/modules/$m.ko" || echo "vmtest: insmod $m failed"
done
ip link set lo up
# Tests that hold many connections raise their soft limit to this.
# shellcheck disable=SC3045 # busybox sh has ulimit -n
ulimit -n 65536

timeout=600
expect=pass
# shellcheck disable=SC2013 # the command line is words
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	vmtest.timeout=*) timeout="${arg#vmtest.timeout=}" ;;
	vmtest.expect=*) expect="${arg#vmtest.expect=}" ;;
	vmtest.slow=*) export CONNPEAK_TEST_SLOW="${arg#vmtest.slow=}" ;;
	esac
done

kernel="$(uname -r)"
echo "vmtest: Linux $kernel, $(nproc) CPUs, $(sed -n 's/^MemTotal: *//p' /proc/meminfo)"

# A kernel below the floor: start and the daemon must refuse it in one line
# naming what it lacks, exit 1 and leave nothing pinned. No test runs.
if [ "$expect" = unsupported ]; then
	ok=1
	connpeak start >/tmp/start.err 2>&1
	rc=$?
	echo "vmtest: connpeak start: exit status $rc, stderr:"
	cat /tmp/start.err
	[ "$rc" -eq 1 ] || ok=0
	[ "$(wc -l </tmp/start.err)" -eq 1 ] || ok=0
	want="^connpeak: start failed: this kernel ($kernel) lacks .* (Linux 5\.[0-9]*); "
	want="${want}connpeak needs Linux 5\.17 or later with BTF\$"
	grep -q "$want" /tmp/start.err || ok=0
	mkdir -p /tmp/state
	timeout 60 connpeak daemon --state-dir /tmp/state --listen off >/tmp/daemon.err 2>&1
	rc=$?
	echo "vmtest: connpeak daemon: exit status $rc, stderr:"
	cat /tmp/daemon.err
	[ "$rc" -eq 1 ] || ok=0
	grep -q "lacks .*; connpeak needs Linux 5\.17 or later with BTF" /tmp/daemon.err || ok=0
	left="$(ls -A /sys/fs/bpf)"
	[ -z "$left" ] || { echo "vmtest: left under /sys/fs/bpf: $left"; ok=0; }
	# Which probes fail here, for the record; expected to fail on this kernel.
	[ -x /tests/test_feature_probes ] && /tests/test_feature_probes 2>&1 | grep "^probe '"
	if [ "$ok" -eq 1 ]; then
		echo "vmtest: PASS on Linux $kernel: connpeak refused it as expected"
	else
		echo "vmtest: FAIL on Linux $kernel: connpeak did not refuse it as expected"
	fi
	sync
	poweroff -f
fi

# One load outside the tests: if it fails, show libbpf's and the verifier's log.
probe=/sys/fs/bpf/vmtest-probe
if connpeak start --pin-dir "$probe" >/tmp/probe.log 2>&1; then
	connpeak stop --pin-dir "$probe" >/dev/null 2>&1
	echo "vmtest: connpeak start and stop work"
else
	echo "vmtest: connpeak start failed; again with -v:"
	connpeak start -v --pin-dir "$probe" 2>&1
	connpeak stop --pin-dir "$probe" >/dev/null 2>&1
fi

# cmocka prints "[  PASSED  ] N test(s)." and the like; N is the second field.
count()
{
	sed -n "s/^\[  $1 *\] \([0-9][0-9]*\) test.*/\1/p" "$2" | tail -n 1
}

passed=0
failed=0
skipped=0
bad=""
start=$(date +%s)
for t in /tests/test_*; do
	name="${t##*/}"
	t0=$(date +%s)
	echo "vmtest: --- $name"
	timeout "$timeout" "$t" >/tmp/out 2>&1
	rc=$?
	cat /tmp/out
	p=$(count PASSED /tmp/out)
	f=$(count FAILED /tmp/out)
	s=$(count SKIPPED /tmp/out)
	# A crash, a timeout or a failed group setup still counts as a failure.
	[ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1
	[ -z "$p$f$s" ] && f=1
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	[ "${f:-0}" -ne 0 ] || [ "${s:-0}" -ne 0 ] && bad="$bad $name"
	echo "vmtest: --- $name: exit status $rc, $(( $(date +%s) - t0 )) s"
done
secs=$(( $(date +%s) - start ))

echo "vmtest: $passed passed, $failed failed, $skipped skipped"
# A skipped test was not shown to work on this kernel, so it fails the run.
if [ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ] && [ "$passed" -gt 0 ]; then
	echo "vmtest: PASS on Linux $kernel in $secs s"
else
	echo "vmtest: FAIL on Linux $kernel in $secs s:${bad:- no test ran}"
fi
sync
poweroff -f
