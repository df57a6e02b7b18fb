# SPDX-License-Identifier: GPL-2.0
# lib_wg.sh - wireguard-go wg0 in a network namespace of its own, for the
# wg0 reconciliation tests (source it; bash only).
#
# Every wireguard-go serves its control socket in /var/run/wireguard/, a
# directory all network namespaces share, so two wg0s would collide there.
# Each namespace therefore gets its own mount namespace too: wireguard-go is
# started under `ip netns exec NS unshare -m` with a private tmpfs on
# /var/run/wireguard, and everything that must see that socket (wg, nn-wgtest)
# enters both namespaces of that wireguard-go process with nsenter. /sys in
# that mount namespace is the netns's own (ip netns exec remounts it).
#
#   wgns_add NAME        netns NAME + its wg0 (down, no address); waits for the socket
#   wgns NAME CMD...     run CMD inside NAME's netns and mount namespace
#   wgns_teardown        stop every wireguard-go started here, delete the netns
#
# Names are the caller's; make them unique per run (e.g. with $$).

declare -gA WGNS_PID=()
WGNS_LOGDIR=${WGNS_LOGDIR:-$(mktemp -d /tmp/nn-wgns.XXXXXX)}

wgns_add() {
	local ns=$1 pid i
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	# The mount point must exist before the private tmpfs can cover it.
	mkdir -p /var/run/wireguard
	WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL=${WG_LOG_LEVEL:-error} \
		ip netns exec "$ns" unshare -m --propagation private sh -c \
		'mount -t tmpfs -o mode=0700 nn-wg /var/run/wireguard && exec wireguard-go -f wg0' \
		>"$WGNS_LOGDIR/$ns.log" 2>&1 &
	# ip, unshare and sh all exec: $! is wireguard-go itself.
	pid=$!
	WGNS_PID[$ns]=$pid
	for i in $(seq 1 100); do
		if nsenter -t "$pid" -m -n test -S /var/run/wireguard/wg0.sock 2>/dev/null; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "# wireguard-go for $ns did not come up:" >&2
	sed 's/^/#   /' "$WGNS_LOGDIR/$ns.log" >&2
	return 1
}

wgns() {
	local ns=$1
	shift
	nsenter -t "${WGNS_PID[$ns]}" -m -n -- "$@"
}

wgns_teardown() {
	local ns pid i
	for ns in "${!WGNS_PID[@]}"; do
		pid=${WGNS_PID[$ns]}
		kill "$pid" 2>/dev/null
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		ip netns del "$ns" 2>/dev/null
		unset "WGNS_PID[$ns]"
	done
	rm -rf "$WGNS_LOGDIR"
}
