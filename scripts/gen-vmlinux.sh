#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Regenerate vmlinux.h from a kernel's BTF; the file is replaced only if it changed.
# Usage: scripts/gen-vmlinux.sh [BTF-FILE] [OUTPUT-HEADER]
set -eu
btf=${1:-/sys/kernel/btf/vmlinux}
out=${2:-vmlinux/vmlinux.h}
bpftool=${BPFTOOL:-$(command -v bpftool || echo /usr/sbin/bpftool)}

if [ ! -r "$btf" ]; then
	echo "gen-vmlinux: $btf: not readable: the kernel needs CONFIG_DEBUG_INFO_BTF" >&2
	exit 1
fi
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$bpftool" btf dump file "$btf" format c > "$tmp"
if cmp -s "$tmp" "$out"; then
	echo "gen-vmlinux: $out is up to date"
else
	mv "$tmp" "$out"
	echo "gen-vmlinux: wrote $out"
fi
