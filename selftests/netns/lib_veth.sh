# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The veth topology of the tests that drive the programs with plain IPv4
# (test_gwctl.sh, test_flow_flood.sh): the script re-executes itself in a
# network and mount namespace of its own, which is the gateway; a peer
# namespace holds the devices' addresses, an "internet" namespace is
# reached by forwarding.
#
#   netns <tag>-inet-<pid>     this script's own netns + mount ns      netns <tag>-peer-<pid>
#   lo: 192.0.2.53             vgi<pid>: 198.51.100.1/24 (forwarding)  vpeer: 100.96.32.2 carol
#   vinet: 198.51.100.2/24 <-> vgw<pid>: 100.96.0.1/12, our TC     <-> 100.96.16.2 alice
#
# IPv6 is off everywhere, so that no router solicitation or MLD report lands
# in a counter: every packet is accounted for. The destination picks the
# source (routes in the peer): 100.96.0.1 from alice, 192.0.2.53 from carol;
# a test adds its own addresses and routes after veth_setup.
#
# Usage, at the top of a test (TAG names its namespaces):
#   VETH_TAG=gwctl; source "$(dirname "$0")/lib_veth.sh"
# then: ok/not_ok/check/jcheck (TAP), g (nanami-gwctl on the attachment),
# peer/inet CMD (in those namespaces), bg_pids+=(PID) (killed at exit while
# they run), veth_setup (returns non-zero on failure), veth_finish.

if [ -z "${NN_VETH_INNER:-}" ]; then
	export NN_VETH_INNER=1
	exec unshare --net --mount --propagation private -- "$0" "$@"
fi

cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
GWCTL=$O/nanami-gwctl
GATEWAYD=$O/nanami-gatewayd
PEER=$VETH_TAG-peer-$$
INET=$VETH_TAG-inet-$$
VGW=vgw$$
VGI=vgi$$
PINS=/sys/fs/bpf/nanami-test/$VGW
TMP=$(mktemp -d)
failures=0
bg_pids=()

veth_cleanup() {
	local p running
	# Only children still running: a reaped one's pid may be another
	# process's by now (pids wrap at 32768).
	running=" $(jobs -pr | tr '\n' ' ') "
	for p in "${bg_pids[@]}"; do
		[[ "$running" == *" $p "* ]] || continue
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip netns del "$PEER" 2>/dev/null
	ip netns del "$INET" 2>/dev/null
	rm -rf "$TMP"
}
trap veth_cleanup EXIT

ok() { echo "ok - $1"; }
not_ok() {
	echo "not ok - $1"
	shift
	[ $# -gt 0 ] && printf '#   %s\n' "$@"
	failures=$((failures + 1))
}
# check NAME CMD...: ok when CMD succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}
# jcheck NAME JSON FILTER: ok when the jq filter is true on JSON.
jcheck() {
	if jq -en "input | $3" >/dev/null 2>&1 <<<"$2"; then
		ok "$1"
	else
		not_ok "$1" "jq: $3" "got: $2"
	fi
}

g() { "$GWCTL" --iface "$VGW" --bpffs "$PINS" "$@"; }
peer() { ip netns exec "$PEER" "$@"; }
inet() { ip netns exec "$INET" "$@"; }

# veth_need TOOL...: the binaries are built and the tools installed, or the
# test fails here.
veth_need() {
	local bin tool
	for bin in "$GWCTL" "$GATEWAYD"; do
		[ -x "$bin" ] || { not_ok "setup: $bin is built" "run make first"; exit 1; }
	done
	for tool in "$@"; do
		command -v "$tool" >/dev/null ||
			{ not_ok "setup: $tool is installed" "tools/install-deps.sh installs it"; exit 1; }
	done
}

veth_setup() {
	mount -t sysfs sysfs /sys &&	# /sys/class/net of this netns
	mount -t bpf bpf /sys/fs/bpf &&
	ip link set lo up &&
	ip netns add "$PEER" &&
	ip link add "$VGW" type veth peer name vpeer netns "$PEER" &&
	sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
		"net.ipv6.conf.$VGW.disable_ipv6=1" &&
	peer sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.vpeer.disable_ipv6=1 &&
	peer ip link set lo up &&
	ip addr add 100.96.0.1/12 dev "$VGW" &&
	ip link set "$VGW" up &&
	ip netns add "$INET" &&
	ip link add "$VGI" type veth peer name vinet netns "$INET" &&
	sysctl -qw "net.ipv6.conf.$VGI.disable_ipv6=1" net.ipv4.ip_forward=1 &&
	inet sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.vinet.disable_ipv6=1 &&
	ip addr add 198.51.100.1/24 dev "$VGI" &&
	ip link set "$VGI" up &&
	ip route add 192.0.2.0/24 via 198.51.100.2 &&
	ip -n "$INET" link set lo up &&
	ip -n "$INET" addr add 192.0.2.53/32 dev lo &&
	ip -n "$INET" addr add 198.51.100.2/24 dev vinet &&
	ip -n "$INET" link set vinet up &&
	ip -n "$INET" route add default via 198.51.100.1 &&
	peer ip addr add 100.96.32.2/32 dev vpeer &&
	peer ip addr add 100.96.16.2/32 dev vpeer &&
	peer ip link set vpeer up &&
	peer ip route add 100.96.0.1/32 dev vpeer src 100.96.16.2 &&
	peer ip route add 192.0.2.53/32 via 100.96.0.1 src 100.96.32.2
}

veth_finish() {
	if [ "$failures" -eq 0 ]; then
		echo "# all passed"
		exit 0
	fi
	echo "# $failures failed"
	exit 1
}
