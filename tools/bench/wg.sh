#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# wg0 at N peers (nn-microbench wg, tools/bench/wg.c) on a throw-away wg0:
#
#   tools/bench/wg.sh uapi [nn-microbench wg args...]   wireguard-go in its own
#       netns and mount ns (selftests/netns/lib_wg.sh), its CPU read from /proc
#   tools/bench/wg.sh genl [args...]   a kernel wg0 in a fresh netns (needs the
#       wireguard module: a VM guest here, selftests/vm/vmrun.sh)
#
# JSON lines on stdout, one per step (tools/bench/README.md "wg0 at N peers").
# Needs root. Exit status: nn-microbench's (1 if a one-peer set carried more).
set -u
cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
BENCH=$PWD/$O/nn-microbench
MODE=${1:-}
shift || true
[ -x "$BENCH" ] || { echo "$BENCH not built" >&2; exit 2; }
STATE=$(mktemp -d /tmp/nn-wgbench.XXXXXX)

case "$MODE" in
uapi)
	. selftests/netns/lib_wg.sh
	NS=nnwgb-$$
	trap 'wgns_teardown; rm -rf "$STATE"' EXIT
	wgns_add "$NS" || exit 1
	# Up, as on a gateway: wireguard-go then starts each peer's routines
	# (WG_UP=0 leaves it down: a read or a set costs the same, but adding
	# 100k peers to an up wireguard-go takes its CPU for many minutes).
	if [ "${WG_UP:-1}" = 1 ]; then
		wgns "$NS" ip link set wg0 up || exit 1
	fi
	wgns "$NS" "$BENCH" wg --wg uapi --state-dir "$STATE" \
		--daemon-pid "${WGNS_PID[$NS]}" "$@"
	;;
genl)
	NS=nnwgb-$$
	trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$STATE"' EXIT
	modprobe wireguard || exit 1
	ip netns add "$NS" || exit 1
	ip -n "$NS" link add wg0 type wireguard || exit 1
	ip -n "$NS" link set wg0 up || exit 1
	ip netns exec "$NS" "$BENCH" wg --wg genl --state-dir "$STATE" "$@"
	;;
*)
	echo "usage: $0 uapi|genl [nn-microbench wg args...]" >&2
	exit 2
	;;
esac
