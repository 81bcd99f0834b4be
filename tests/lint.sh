#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (c) 2026 The connpeak authors
#
# Static analysis of src/ and tests/ with clang-tidy and cppcheck. Findings
# listed under false_positives below are dropped, each with its reason; any
# other finding fails.
# Usage: tests/lint.sh OUTPUT   (the build directory, for connpeak.skel.h)
set -u
out=$1
cd "$(dirname "$0")/.."
for tool in clang-tidy cppcheck; do
	if ! command -v $tool >/dev/null; then
		echo "lint: $tool: not found: run scripts/install-deps.sh test" >&2
		exit 1
	fi
done

# Checks left out, for src/ and tests/ alike:
#   bugprone-easily-swappable-parameters: every function taking two ints
#   bugprone-narrowing-conversions, bugprone-implicit-widening-of-multiplication-result:
#     the fixed-width kernel types mix with int on purpose, within range
#   bugprone-suspicious-string-compare: our style is !strcmp(a, b)
#   bugprone-branch-clone: separate branches that end alike read better
#   bugprone-reserved-identifier, cert-dcl37-c, cert-dcl51-cpp: __u64 and friends
#   cert-err33-c: printf and fclose results are not checked, on purpose
#   misc-unused-parameters: callbacks have fixed signatures
#   clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling and .strcpy:
#     every memcpy and snprintf; lengths are checked before
common='-*,bugprone-*,cert-*,clang-analyzer-*,misc-*,performance-*,portability-*'
common="$common,-bugprone-easily-swappable-parameters,-bugprone-narrowing-conversions"
common="$common,-bugprone-implicit-widening-of-multiplication-result"
common="$common,-bugprone-suspicious-string-compare,-bugprone-branch-clone"
common="$common,-bugprone-reserved-identifier,-cert-dcl37-c,-cert-dcl51-cpp,-cert-err33-c"
common="$common,-misc-unused-parameters"
common="$common,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling"
common="$common,-clang-analyzer-security.insecureAPI.strcpy"
# Left out for tests/ only:
#   cert-err34-c: tests parse output they know the shape of
#   clang-analyzer-core.* null and uninitialized paths: the assertion helpers
#     (cmocka's _fail, h_fail_) are not marked noreturn, so the analyzer walks
#     on past every failed check
#   clang-analyzer-valist.Uninitialized: clang 14 misreads va_start in a helper
#   clang-analyzer-optin.performance.Padding, performance-no-int-to-ptr: test structs
#     and thread arguments
#   bugprone-suspicious-missing-comma: argv strings joined on purpose
tests_only='-cert-err34-c,-clang-analyzer-core.NullDereference'
tests_only="$tests_only,-clang-analyzer-core.CallAndMessage"
tests_only="$tests_only,-clang-analyzer-core.UndefinedBinaryOperatorResult"
tests_only="$tests_only,-clang-analyzer-core.NonNullParamChecker"
tests_only="$tests_only,-clang-analyzer-core.uninitialized.*,-clang-analyzer-core.DivideZero"
tests_only="$tests_only,-clang-analyzer-valist.Uninitialized"
tests_only="$tests_only,-clang-analyzer-optin.performance.Padding,-performance-no-int-to-ptr"
tests_only="$tests_only,-bugprone-suspicious-missing-comma"

# "path[:line:] [check]", one a line: findings that are wrong, each with why in
# a comment below the list. Change the code instead where that is easy.
false_positives='
'

flags="-std=gnu11 -D_GNU_SOURCE -Iinclude -I$out -Isrc -Itests/integration"
flags="$flags $(pkg-config --cflags libbpf libmicrohttpd 2>/dev/null)"
found=$(mktemp)
trap 'rm -f "$found" "$found.tidy"' EXIT

# clang-tidy, two files at a time: "path:line:col: warning: message [check]"
tidy() {
	checks=$1
	shift
	printf '%s\n' "$@" | xargs -P 2 -n 1 sh -c 'clang-tidy --quiet --checks="$0" "$1" -- '"$flags"' \
		2>/dev/null' "$checks" >"$found.tidy"
	grep -E "^$PWD/(src|tests)/[^:]*:[0-9]+:[0-9]+: (warning|error):" "$found.tidy" |
		sed "s|^$PWD/||" >>"$found"
}
tidy "$common" src/*.c
tidy "$common,$tests_only" tests/unit/*.c tests/integration/*.c tests/fuzz/*.c \
	$(ls tests/bench/*.c | grep -v '\.bpf\.c$')

# cppcheck; NULL as a variadic sentinel is a pointer with glibc (varFuncNullUB), and
# nullPointer*RedundantCheck in tests come from the assertion helpers again. BPF
# programs (*.bpf.c) are left out: their SEC and BPF_PROG come from libbpf's
# headers for clang -target bpf, which cppcheck does not read.
cppcheck --quiet --enable=warning,performance,portability --std=c11 --max-configs=1 \
	-D__x86_64__ -D__linux__ -Iinclude -Isrc -Itests/integration \
	--suppress=varFuncNullUB --suppress='nullPointerRedundantCheck:tests/*' \
	--suppress='nullPointerArithmeticRedundantCheck:tests/*' \
	--template='{file}:{line}: {severity}: {message} [{id}]' \
	$(find src tests -name '*.c' ! -name '*.bpf.c' | sort) 2>>"$found"

matches() {
	# $1 finding, $2 list of "path[:line:] [check]"
	echo "$2" | while read -r where check; do
		[ -n "$where" ] || continue
		case "$1" in
		"$where"*"$check"*) echo yes; return ;;
		esac
	done
}

fail=0
nfp=0
while IFS= read -r f; do
	[ -n "$f" ] || continue
	if [ -n "$(matches "$f" "$false_positives")" ]; then
		nfp=$((nfp + 1))
	else
		echo "lint: $f"
		fail=1
	fi
done <"$found"
echo "lint: $(wc -l <"$found") findings: $nfp false positives dropped"
exit $fail
