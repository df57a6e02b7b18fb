#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages Nanami needs to build, test, demo and benchmark.
# Idempotent: installs only what is missing; safe to run again. Packages
# go in with --no-install-recommends; kernels are only downloaded (below).
set -euo pipefail

PKGS=(
	make gcc clang llvm pkg-config		# build: cc for user code, clang for BPF
	libbpf-dev libxdp-dev bpftool		# BPF loading, skeletons, libxdp dispatcher
	libelf-dev zlib1g-dev			# libbpf's own link dependencies
	libjansson-dev				# JSON: control socket, control-plane client, state
	libyajl-dev				# snapshot JSON: event parser, ~10x faster than a tree (docs/controller.md)
	libcurl4-openssl-dev			# control-plane client (HTTPS, mTLS, SSE)
	libmicrohttpd-dev			# control socket and /metrics (HTTP server)
	libsystemd-dev				# sd_notify: Type=notify readiness, watchdog
	libssl-dev				# X25519 key generation for wg0
	libmnl-dev				# netlink: kernel WireGuard (genl), interface facts (rtnl)
	libnftables-dev nftables		# exit-gateway NAT table
	libmnl-dev				# rtnetlink: the host's own addresses
	libcmocka-dev				# unit-test assertions
	libclang-rt-14-dev			# libFuzzer and sanitizer runtimes for clang
	clang-format				# make check: kernel style (.clang-format)
	wireguard-go wireguard-tools		# wg0 on TUN for the end-to-end tests
	iproute2 xdp-tools iperf3 openssl	# netns topologies, attach inspection, traffic
	linux-perf				# make bench: profiles (perf record of the micro cases and veth)
	procps psmisc				# pgrep/pkill/killall in test scripts
	python3					# reference control plane (tools/cp), test-only
	python3-cryptography			# the reference control plane's CA (tools/cp --ca-dir)
	python3-scapy				# third-party dissector for test_dissector
	iputils-ping jq				# e2e traffic, JSON assertions on gwctl -j
	curl					# controller e2e tests: admin API, metrics scrapes
	prometheus				# promtool: check and test the alert rules (packaging/prometheus)
	python3-yaml python3-matplotlib		# the rules/dashboard name check; the dashboard PNG (tools/dashboard)
	faketime				# test_controller_clock: a wall-clock step under one process
	qemu-system-x86 busybox-static kmod	# the kernel matrix: VMs on Debian kernels
	zstd xz-utils				# unpacking those kernels and their modules
	debhelper lintian			# make deb: dpkg-buildpackage with dh, policy check
	debootstrap				# make deb-test: a fresh bookworm root to install into
)

# The Debian kernels the VM matrix boots, pinned in selftests/vm/kernels.txt:
# downloaded with `apt-get download` into $O/vm/debs, never installed. A
# kernel that cannot be fetched is reported here and fails the matrix in
# `make test` with the reason (not the rest of the suite).
fetch_kernels() {
	local here
	here=$(cd "$(dirname "$0")/.." && pwd)
	"$here/selftests/vm/kernels.sh" fetch all && return 0
	if [ "$(id -u)" -eq 0 ]; then
		echo "install-deps: updating the package lists and trying the kernels again" >&2
		apt-get update -qq && "$here/selftests/vm/kernels.sh" fetch all && return 0
	fi
	echo "install-deps: a kernel of the VM matrix could not be fetched (above);" \
		"make test will fail it" >&2
	return 0
}

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	fetch_kernels
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}" >&2
	echo "install-deps: run as root: sudo tools/install-deps.sh" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fetch_kernels
