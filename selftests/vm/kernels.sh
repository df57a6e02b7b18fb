#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# selftests/vm/kernels.sh - the pinned Debian kernels (kernels.txt) and their
# cache: fetch a package with `apt-get download`, unpack it, index its
# modules, take out the uncompressed vmlinux, build the initramfs.
#
#   kernels.sh names            the kernel names, one a line (6.1, 6.12)
#   kernels.sh fetch NAME|all   download the pinned package(s) into the cache
#   kernels.sh prepare NAME     fetch + unpack + depmod + vmlinux + initramfs;
#                               prints the prepared directory
#
# The cache is $NN_VM_CACHE (default $O/vm, i.e. build/vm): debs/ holds the
# packages, k/PACKAGE_VERSION/ each prepared kernel. Nothing is installed on
# the host. Exit status 1 with the reason on stderr when a kernel cannot be
# had (not in the registry any more, no network, a flavour without 9p).
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NN_ROOT=$(cd "$VM_DIR/../.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$NN_ROOT/$O ;; esac
CACHE=${NN_VM_CACHE:-$O/vm}

die() { echo "kernels.sh: $*" >&2; exit 1; }

# NAME -> "PACKAGE VERSION" from kernels.txt
pin() {
	local name pkg ver
	while read -r name pkg ver; do
		case $name in '' | '#'*) continue ;; esac
		[ "$name" = "$1" ] && { echo "$pkg $ver"; return 0; }
	done <"$VM_DIR/kernels.txt"
	die "no kernel named '$1' in $VM_DIR/kernels.txt"
}

names() { awk '$1 !~ /^#/ && NF >= 3 { print $1 }' "$VM_DIR/kernels.txt"; }

# NAME -> path of the downloaded .deb
fetch() {
	local p pkg ver deb log
	p=$(pin "$1")
	read -r pkg ver <<<"$p"
	deb=$CACHE/debs/${pkg}_${ver/:/%3a}_amd64.deb
	if [ ! -s "$deb" ]; then
		mkdir -p "$CACHE/debs"
		log=$(mktemp)
		# the sandbox user (_apt) may not be able to write into the tree
		if ! (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root \
			"$pkg=$ver") >"$log" 2>&1; then
			sed 's/^/kernels.sh:   /' "$log" >&2
			rm -f "$log"
			die "cannot fetch $pkg=$ver with apt-get download (run apt-get update; if the" \
				"registry no longer has this version, update the pin in selftests/vm/kernels.txt)"
		fi
		rm -f "$log"
		[ -s "$deb" ] || die "apt-get download $pkg=$ver left no $deb"
	fi
	echo "$deb"
}

# The kernel's own decompressor payload -> ELF vmlinux with a PVH entry note
# (CONFIG_PVH): booting it skips the bzImage decompression, which costs
# seconds under emulation (xz for 6.1, zstd for 6.12).
extract_vmlinux() {
	local vmlinuz=$1 out=$2 fmt dec off
	for fmt in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
		dec=${fmt%%:*}
		command -v "$dec" >/dev/null || continue
		for off in $(LC_ALL=C grep -obUaP "${fmt#*:}" "$vmlinuz" | cut -d: -f1 | head -3); do
			# the decompressor complains about the trailing bytes: ignore it
			tail -c +$((off + 1)) "$vmlinuz" | "$dec" -dc 2>/dev/null >"$out.tmp" || true
			if [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] &&
				readelf -n "$out.tmp" 2>/dev/null | grep -q 'Xen.*0x00000012'; then
				mv "$out.tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	return 1
}

# The initramfs: static busybox, the modules that mount the host root (virtio
# PCI, 9p, overlay), and init.sh as /init.
build_initramfs() {
	local kdir=$1 kver=$2 out=$3 stage busybox m deps kind path n=0 base
	busybox=$(command -v busybox) || die "no busybox: tools/install-deps.sh installs busybox-static"
	! ldd "$busybox" >/dev/null 2>&1 || die "$busybox is dynamically linked: install busybox-static"
	stage=$(mktemp -d)
	mkdir -p "$stage"/{bin,dev,proc,sys,run,modules,lower,rw,newroot}
	cp "$busybox" "$stage/bin/busybox"
	ln -s busybox "$stage/bin/sh"
	cp "$VM_DIR/init.sh" "$stage/init"
	chmod 755 "$stage/init"
	declare -A seen=()
	for m in virtio_pci 9pnet_virtio 9p overlay; do
		if ! deps=$(modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>&1); then
			rm -rf "$stage"
			die "$kver has no module $m (a -cloud flavour has no 9p: use the generic one): $deps"
		fi
		while read -r kind path _; do
			[ "$kind" = insmod ] || continue # "builtin NAME" needs nothing
			[ -n "${seen[$path]:-}" ] && continue
			seen[$path]=1
			n=$((n + 1))
			base=$(basename "$path")
			base=${base%.xz} base=${base%.zst} base=${base%.gz}
			case $path in
			*.xz) xz -dc "$path" ;;
			*.zst) zstd -qdc "$path" ;;
			*.gz) gzip -dc "$path" ;;
			*) cat "$path" ;;
			esac >"$stage/modules/$(printf %02d $n)-$base"
		done <<<"$deps"
	done
	(cd "$stage" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$out.tmp")
	rm -rf "$stage"
	mv "$out.tmp" "$out"
}

# NAME -> prepared directory: boot/, lib/modules/KVER (with modules.dep),
# vmlinux (or none: boot the bzImage), initramfs.cpio.gz, kver
prepare() {
	local deb dir kver
	deb=$(fetch "$1")
	dir=$CACHE/k/$(basename "$deb" .deb)
	if [ ! -e "$dir/.unpacked" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		dpkg -x "$deb" "$dir" || die "dpkg -x $deb failed"
		kver=$(ls "$dir/lib/modules")
		[ "$(echo "$kver" | wc -l)" = 1 ] || die "$deb: want one kernel version, found: $kver"
		echo "$kver" >"$dir/kver"
		depmod -b "$dir" "$kver" || die "depmod for $kver failed"
		extract_vmlinux "$dir/boot/vmlinuz-$kver" "$dir/vmlinux" ||
			echo "kernels.sh: $kver: no PVH vmlinux found, booting the bzImage" >&2
		touch "$dir/.unpacked"
	fi
	kver=$(cat "$dir/kver")
	# rebuilt when init.sh changes
	if [ ! -e "$dir/initramfs.cpio.gz" ] || [ "$dir/initramfs.cpio.gz" -ot "$VM_DIR/init.sh" ]; then
		build_initramfs "$dir" "$kver" "$dir/initramfs.cpio.gz"
	fi
	echo "$dir"
}

case ${1:-} in
names) names ;;
fetch)
	[ $# = 2 ] || die "usage: kernels.sh fetch NAME|all"
	if [ "$2" = all ]; then
		rc=0
		for k in $(names); do fetch "$k" >/dev/null || rc=1; done
		exit $rc
	fi
	fetch "$2"
	;;
prepare)
	[ $# = 2 ] || die "usage: kernels.sh prepare NAME"
	prepare "$2"
	;;
*) die "usage: kernels.sh names | fetch NAME|all | prepare NAME" ;;
esac
