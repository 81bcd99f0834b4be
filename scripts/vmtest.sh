#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (c) 2026 The connpeak authors
#
# Boot a Debian kernel under qemu and run the integration tests inside it.
# Usage: scripts/vmtest.sh CONNPEAK TEST...   (make vmtest passes both)
#
# The kernel package is downloaded and unpacked into the work directory, never
# installed on this host. The guest gets an initramfs holding busybox, connpeak,
# the test binaries, ss, ip and promtool with their shared libraries, and
# scripts/vmtest-init.sh as /init. Exits 0 only if the guest reports PASS.
#
# Environment:
#   VMTEST_SUITE    Debian release to take the kernel from: the host's apt sources if
#                   unset, else its signed package index on deb.debian.org, e.g.
#                   bullseye (5.10); the host's apt sources are not changed
#   VMTEST_EXPECT   pass: the tests must pass; unsupported: connpeak start must
#                   refuse the kernel, naming a missing feature (the default for
#                   bullseye), and leave nothing pinned
#   VMTEST_KERNEL   kernel package (linux-image-cloud-amd64)
#   VMTEST_DIR      work directory (.output/vmtest)
#   VMTEST_ACCEL    kvm or tcg (kvm if it boots the kernel, else software emulation)
#   VMTEST_TIMEOUT  seconds for the whole boot (900 with kvm, 3600 with tcg)
#   VMTEST_CPUS     guest CPUs (2)
#   VMTEST_MEM      guest memory (2G)
set -euo pipefail
shopt -s inherit_errexit

kernel_pkg="${VMTEST_KERNEL:-linux-image-cloud-amd64}"
suite="${VMTEST_SUITE:-}"
mirror="http://deb.debian.org/debian"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
case "$suite" in
bullseye) expect="${VMTEST_EXPECT:-unsupported}" ;;
*) expect="${VMTEST_EXPECT:-pass}" ;;
esac
work="${VMTEST_DIR:-${OUTPUT:-.output}/vmtest}"
cpus="${VMTEST_CPUS:-2}"
mem="${VMTEST_MEM:-2G}"
host_pkgs="qemu-system-x86 busybox-static cpio"
# What connpeak and the tests need from the guest kernel.
kernel_needs="CONFIG_BPF_SYSCALL CONFIG_BPF_JIT CONFIG_DEBUG_INFO_BTF CONFIG_NET_NS
	CONFIG_BLK_DEV_INITRD CONFIG_DEVTMPFS CONFIG_TMPFS CONFIG_SERIAL_8250_CONSOLE CONFIG_IPV6"

die()
{
	echo "vmtest: $*" >&2
	exit 1
}

install_host_pkgs()
{
	local missing="" p

	for p in $host_pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -eq 0 ] || die "root needed to install:$missing"
	echo "vmtest: installing:$missing"
	apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$missing >/dev/null
}

# The metapackage names the current ABI, e.g. linux-image-6.1.0-57-cloud-amd64.
resolve_kernel_pkg()
{
	local real

	apt-cache show "$kernel_pkg" >/dev/null 2>&1 || apt-get update -qq
	real="$(apt-cache depends "$kernel_pkg" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)"
	echo "${real:-$kernel_pkg}"
}

# Download $1 to $2 and check its SHA-256 against $3.
fetch_checked()
{
	local url="$1" out="$2" sum="$3"

	[ -f "$out" ] && echo "$sum  $out" | sha256sum -c --quiet - 2>/dev/null && return 0
	curl -sSf --retry 3 -o "$out.tmp" "$url" || die "$url: download failed"
	echo "$sum  $out.tmp" | sha256sum -c --quiet - || die "$url: SHA-256 mismatch"
	mv "$out.tmp" "$out"
}

# The suite's package index, verified against its signed InRelease.
fetch_index()
{
	local dir="$work/index/$suite" sum

	mkdir -p "$dir"
	curl -sSf --retry 3 -o "$dir/InRelease" "$mirror/dists/$suite/InRelease" ||
		die "$suite: InRelease: download failed"
	gpgv --keyring "$keyring" --output "$dir/Release" "$dir/InRelease" 2>/dev/null ||
		die "$suite: InRelease: signature check against $keyring failed"
	sum="$(awk '$3 == "main/binary-amd64/Packages.xz" && length($1) == 64 { print $1 }' \
		"$dir/Release")"
	[ -n "$sum" ] || die "$suite: Release lists no main/binary-amd64/Packages.xz"
	fetch_checked "$mirror/dists/$suite/main/binary-amd64/Packages.xz" "$dir/Packages.xz" \
		"$sum"
	xz -dc "$dir/Packages.xz" >"$dir/Packages"
	echo "$dir/Packages"
}

# Field $3 of package $2's stanza in the index $1.
index_field()
{
	awk -v pkg="$2" -v field="$3" 'BEGIN { RS = ""; FS = "\n" }
		{ found = 0; for (i = 1; i <= NF; i++) if ($i == "Package: " pkg) found = 1 }
		found { for (i = 1; i <= NF; i++) if (index($i, field ": ") == 1)
			{ print substr($i, length(field) + 3); exit } }' "$1"
}

# Resolve, download and check the kernel package from the suite's index.
fetch_suite_deb()
{
	local pkg="$1" index real file sum

	index="$(fetch_index)"
	real="$(index_field "$index" "$pkg" Depends |
		sed -n 's/^\(linux-image-[0-9][^ ,]*\).*/\1/p')"
	pkg="${real:-$pkg}"
	file="$(index_field "$index" "$pkg" Filename)"
	sum="$(index_field "$index" "$pkg" SHA256)"
	if [ -z "$file" ] || [ -z "$sum" ]; then
		die "$suite: no package $pkg in the index"
	fi
	fetch_checked "$mirror/$file" "$work/debs/${file##*/}" "$sum"
	echo "$pkg"
}

# Unpack the kernel package once; prints the directory it went to.
fetch_kernel()
{
	local pkg="$1" dir deb

	dir="$work/kernel/$pkg"
	if [ ! -d "$dir/boot" ]; then
		mkdir -p "$work/debs"
		if [ -z "$suite" ]; then
			rm -f "$work/debs/${pkg}_"*.deb
			(cd "$work/debs" &&
				apt-get download -o APT::Sandbox::User=root "$pkg" >&2) ||
				die "$pkg: download failed"
		fi
		deb="$(ls "$work/debs/${pkg}_"*.deb)"
		rm -rf "$dir.tmp"
		dpkg-deb -x "$deb" "$dir.tmp"
		mv "$dir.tmp" "$dir"
	fi
	echo "$dir"
}

check_kernel_config()
{
	local config="$1" opt

	for opt in $kernel_needs; do
		grep -q "^$opt=y" "$config" || die "$config: $opt is not built in"
	done
}

# Copy a program and the shared libraries it loads, keeping their paths.
copy_with_libs()
{
	local src="$1" dest="$2" lib

	install -D -m 0755 "$src" "$root$dest"
	# "libfoo.so => /path (addr)", and the loader as "/path (addr)".
	for lib in $(ldd "$src" 2>/dev/null |
			sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^\t\(\/[^ ]*\) .*/\1/p'); do
		[ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
	done
}

build_initramfs()
{
	local kdir="$1" connpeak="$2" t m lib

	shift 2
	root="$work/root"
	rm -rf "$root"
	mkdir -p "$root"/{bin,usr/bin,etc,lib/modules,tests,proc,sys,dev,tmp,run}
	install -m 0755 /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	install -m 0755 scripts/vmtest-init.sh "$root/init"
	copy_with_libs "$connpeak" /bin/connpeak
	for t in "$@"; do
		copy_with_libs "$t" "/tests/${t##*/}"
	done
	copy_with_libs "$(command -v ss)" /bin/ss
	copy_with_libs "$(command -v ip)" /bin/ip
	[ -x /usr/bin/promtool ] && copy_with_libs /usr/bin/promtool /usr/bin/promtool
	# The fault tests count links with bpftool; the security tests copy
	# connpeak with install and run it as nobody with setpriv; the metrics
	# tests fetch with curl and scrape with a Prometheus server.
	for t in bpftool install setpriv curl prometheus; do
		copy_with_libs "$(command -v "$t")" "/usr/bin/$t"
	done
	# The daemon loads libmicrohttpd with dlopen(): ldd of connpeak does not name it.
	lib="$(ldconfig -p | sed -n 's/^\tlibmicrohttpd\.so\.12 (libc6,x86-64) => //p' | head -n 1)"
	[ -n "$lib" ] || die "libmicrohttpd.so.12 not found (libmicrohttpd12)"
	copy_with_libs "$lib" "$lib"
	cp /etc/services /etc/protocols "$root/etc/"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
		>"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	# clients --resolve names 127.0.0.1 from here, as on the host.
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$root/etc/hosts"
	printf 'hosts: files\n' >"$root/etc/nsswitch.conf"
	for m in inet_diag tcp_diag; do
		cp "$(find "$kdir/lib/modules" -name "$m.ko*" | head -n 1)" "$root/lib/modules/"
	done
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$work/initramfs.cpio"
}

# KVM only if it boots this kernel: a /dev/kvm that opens and creates a machine
# can still be unable to run one (a nested backend such as kvm_pvm runs only
# kernels built for it), so watch for the kernel's first message.
pick_accel()
{
	local vmlinuz="$1" log="$work/kvm-probe.log" pid

	if [ -n "${VMTEST_ACCEL:-}" ]; then
		echo "$VMTEST_ACCEL"
		return
	fi
	[ -w /dev/kvm ] || { echo tcg; return; }
	: >"$log"
	qemu-system-x86_64 -accel kvm -cpu host -m 256M -nodefaults -no-user-config \
		-display none -monitor none -serial "file:$log" -no-reboot -kernel "$vmlinuz" \
		-append "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1" </dev/null >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		grep -q 'Linux version' "$log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	if grep -q 'Linux version' "$log"; then
		echo kvm
	else
		echo "vmtest: KVM cannot boot this kernel here; software emulation instead" >&2
		echo tcg
	fi
}

main()
{
	local connpeak="$1" pkg kdir vmlinuz accel cpu tmo rc start result cmdline slow

	shift
	[ $# -gt 0 ] || die "no test binaries given"
	install_host_pkgs
	mkdir -p "$work/kernel"
	work="$(cd "$work" && pwd)"
	if [ -n "$suite" ]; then
		mkdir -p "$work/debs"
		pkg="$(fetch_suite_deb "$kernel_pkg")"
	else
		pkg="$(resolve_kernel_pkg)"
	fi
	kdir="$(fetch_kernel "$pkg")"
	check_kernel_config "$(ls "$kdir"/boot/config-*)"
	vmlinuz="$(ls "$kdir"/boot/vmlinuz-*)"
	build_initramfs "$kdir" "$connpeak" "$@"

	accel="$(pick_accel "$vmlinuz")"
	if [ "$accel" = kvm ]; then
		tmo="${VMTEST_TIMEOUT:-900}"
		cpu=host
		slow=1
	else
		tmo="${VMTEST_TIMEOUT:-3600}"
		cpu=max
		slow=5	# the tests wait this many times longer for things to happen
	fi
	echo "vmtest: booting $pkg ($accel, $cpus CPUs, $mem, timeout $tmo s," \
		"expect $expect); console in $work/console.log"
	cmdline="console=ttyS0 loglevel=5 panic=-1 vmtest.timeout=$tmo vmtest.expect=$expect"
	cmdline="$cmdline vmtest.slow=$slow"
	start=$(date +%s)
	set +e
	timeout -k 10 "$tmo" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp "$cpus" -m "$mem" \
		-nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
		-kernel "$vmlinuz" -initrd "$work/initramfs.cpio" \
		-append "$cmdline" \
		</dev/null | tee "$work/console.log"
	rc=${PIPESTATUS[0]}
	set -e

	result="$(tr -d '\r' <"$work/console.log" | grep -E '^vmtest: (PASS|FAIL)' | tail -n 1 || true)"
	echo "vmtest: qemu ran $(( $(date +%s) - start )) s"
	[ "$rc" -eq 124 ] && die "timed out after $tmo s${result:+ ($result)}"
	[ -n "$result" ] || die "the guest reported no result (qemu exit status $rc)"
	if tr -d '\r' <"$work/console.log" |
			grep -qE '^\[ *[0-9]+\.[0-9]+\] .*((WARNING|BUG): |Oops|Kernel panic)'; then
		die "the guest kernel logged a warning or an oops; see $work/console.log"
	fi
	case "$result" in
	"vmtest: PASS"*) exit 0 ;;
	*) exit 1 ;;
	esac
}

main "$@"
