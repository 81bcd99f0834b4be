#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Install the Debian/Ubuntu packages connpeak needs to build and test.
# Usage: scripts/install-deps.sh [build|test|bench]
set -eu

build_pkgs="clang llvm libbpf-dev libelf-dev zlib1g-dev libmicrohttpd-dev pkg-config make gcc bpftool
	netbase"
# prometheus brings promtool, which checks the exposition format, and the server
# that scrapes the daemon in test_metrics_live; curl fetches /metrics there; jq checks
# JSON; libclang-rt-14-dev has the libFuzzer and sanitizer runtimes for tests/fuzz/;
# clang-tidy and cppcheck run in make lint and make check.
test_pkgs="libcmocka-dev iproute2 lsof libbpf-tools prometheus curl jq libclang-rt-14-dev
	clang-tidy cppcheck"
bench_pkgs="gnuplot-nox"

case "${1:-build}" in
build) want="$build_pkgs" ;;
test) want="$build_pkgs $test_pkgs" ;;
bench) want="$build_pkgs $test_pkgs $bench_pkgs" ;;
*) echo "install-deps: unknown set '$1' (build, test or bench)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: not a Debian/Ubuntu system; install:$missing" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: root needed to install:$missing (run with sudo)" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
