#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (c) 2026 The connpeak authors
#
# make install into scratch DESTDIRs, then check what landed there: the file
# list and modes, the systemd unit (its ExecStart and systemd-analyze
# verify), the bash completion, and the Grafana dashboard's queries. Needs no
# root. Run by 'make install-test' once connpeak is built.
set -u
cd "$(dirname "$0")/.."

scratch=$(mktemp -d /tmp/connpeak-install-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
pass=0 fail=0 skip=0

ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1" >&2; fail=$((fail + 1)); }
skipped() { echo "SKIP: $1"; skip=$((skip + 1)); }
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

# install PREFIX: into $scratch/PREFIX-as-a-name, prints the DESTDIR
install_to() {
	local dest=$scratch/dest${1//\//_}

	if ! ${MAKE:-make} --no-print-directory install DESTDIR="$dest" PREFIX="$1" \
		>"$scratch/install.log" 2>&1; then
		bad "make install PREFIX=$1: $(tail -3 "$scratch/install.log")"
		return 1
	fi
	echo "$dest"
}

files_and_modes() {
	local dest=$1 prefix=$2 want got

	want=$(printf '%s\n' \
		"755 $prefix/sbin/connpeak" \
		"644 $prefix/share/man/man8/connpeak.8" \
		"644 $prefix/share/bash-completion/completions/connpeak" \
		"644 $prefix/share/doc/connpeak/connpeak.conf.example" \
		"644 $prefix/share/doc/connpeak/grafana-dashboard.json" \
		"644 $prefix/lib/systemd/system/connpeak.service" | sort)
	got=$(cd "$dest" && find . -type f -printf '%m /%P\n' | sort)
	[[ $got == "$want" ]] && return
	echo "expected:"$'\n'"$want"$'\n'"actual:"$'\n'"$got" >&2
	return 1
}

runs() {
	"$1" --version >/dev/null
}

unit_execstart() {
	local unit=$1 sbin=$2

	grep -qx "ExecStart=$sbin/connpeak daemon" "$unit" && ! grep -q '@[A-Z]*@' "$unit"
}

# systemd-analyze verify needs ExecStart's binary to exist: point it there.
unit_verify() {
	local dest=$1 prefix=$2 dir=$scratch/verify

	mkdir -p "$dir"
	sed "s|^ExecStart=$prefix/|ExecStart=$dest$prefix/|" \
		"$dest$prefix/lib/systemd/system/connpeak.service" >"$dir/connpeak.service"
	MANPATH=$dest$prefix/share/man systemd-analyze verify "$dir/connpeak.service"
}

# complete WORDS... -> the candidates bash would offer, on one line
complete_words() {
	local dest=$1 prefix=$2
	shift 2
	PATH=$dest$prefix/sbin:$PATH bash -c '
		source "$1"
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_connpeak
		echo "${COMPREPLY[*]}"' sh \
		"$dest$prefix/share/bash-completion/completions/connpeak" "$@"
}

completion() {
	local dest=$1 prefix=$2 got want words

	while IFS='|' read -r words want; do
		# shellcheck disable=SC2086
		got=$(complete_words "$dest" "$prefix" $words '')
		[[ " $got " == *" $want "* ]] && continue
		echo "completing '$words ': expected '$want' among: $got" >&2
		return 1
	done <<-'EOT'
	connpeak|daemon
	connpeak show --format|prometheus
	connpeak history --by|hour
	connpeak show|https
	connpeak top|smtp
	EOT
	got=$(complete_words "$dest" "$prefix" connpeak show --f)
	[[ $got == --format ]] || { echo "completing --f: got '$got'" >&2; return 1; }
	got=$(complete_words "$dest" "$prefix" connpeak reset --)
	[[ " $got " == *" --in "* && " $got " != *" --json "* ]] ||
		{ echo "completing reset --: got '$got'" >&2; return 1; }
}

# Every metric the dashboard queries is one connpeak writes.
dashboard_metrics() {
	local json=$1 m status=0

	jq -e '.templating.list | any(.type == "datasource")' "$json" >/dev/null || return 1
	for m in $(jq -r '.. | .expr? // empty' "$json" | grep -oE 'connpeak_[a-z_]+' | sort -u); do
		grep -q "\"$m\"" src/metrics.c && continue
		echo "dashboard queries $m, which src/metrics.c does not write" >&2
		status=1
	done
	return $status
}

# The queries parse as PromQL, with Grafana's variables filled in.
dashboard_promql() {
	local json=$1 rules=$scratch/rules.yml i=0 expr

	echo "groups: [{name: dashboard, rules: [" >"$rules"
	while IFS= read -r expr; do
		i=$((i + 1))
		expr=${expr//\$__rate_interval/5m}
		expr=${expr//\$instance/.*}
		expr=${expr//\$port/443}
		printf '  {record: "dashboard:q%d", expr: %s},\n' "$i" \
			"$(jq -Rn --arg e "$expr" '$e')" >>"$rules"
	done < <(jq -r '.. | .expr? // empty' "$json")
	echo "]}]" >>"$rules"
	promtool check rules "$rules" >/dev/null
}

prefix=/usr/local
dest=$(install_to $prefix) || exit 1
check "files and modes under $prefix" files_and_modes "$dest" $prefix
check "installed binary runs" runs "$dest$prefix/sbin/connpeak"
check "unit runs $prefix/sbin/connpeak daemon" \
	unit_execstart "$dest$prefix/lib/systemd/system/connpeak.service" $prefix/sbin
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify" unit_verify "$dest" $prefix
else
	skipped "systemd-analyze verify: systemd-analyze not installed"
fi
check "bash completion" completion "$dest" $prefix
check "example config as shipped" \
	cmp -s scripts/connpeak.conf.example "$dest$prefix/share/doc/connpeak/connpeak.conf.example"
check "dashboard JSON and its metric names" \
	dashboard_metrics "$dest$prefix/share/doc/connpeak/grafana-dashboard.json"
if command -v promtool >/dev/null; then
	check "dashboard queries parse (promtool)" \
		dashboard_promql "$dest$prefix/share/doc/connpeak/grafana-dashboard.json"
else
	skipped "dashboard queries: promtool not installed"
fi

dest=$(install_to /usr) || exit 1
check "files and modes under /usr" files_and_modes "$dest" /usr
check "unit runs /usr/sbin/connpeak daemon" \
	unit_execstart "$dest/usr/lib/systemd/system/connpeak.service" /usr/sbin

echo "install: $pass passed, $fail failed, $skip skipped"
[[ $fail == 0 ]]
