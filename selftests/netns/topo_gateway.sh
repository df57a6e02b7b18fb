# SPDX-License-Identifier: GPL-2.0
# selftests/netns/topo_gateway.sh - the demo gateway, for `make demo` and the
# end-to-end tests. Source it after lib.sh, then call topo_up.
#
#   alice  (wg0 fd7a:6e61:6e61:10::2, 100.96.16.2) ──ul1──┐
#   bob    (wg0 fd7a:6e61:6e61:10::3)              ──ul2──┤
#   carol  (wg0 fd7a:6e61:6e61:20::2, 100.96.32.2) ──ul3──┤
#                                                          gw ──lan0── res
#     gw: wg0 fd7a:6e61:6e61::1/48 100.96.0.1/12              fd00:acc::5 (acme-db)
#         wireguard-go, nanami-gatewayd (--control-plane)     fd00:acc:1::9 (acme-web)
#         nanami-cp on 127.0.0.1:8443                         fd00:6b0::1 (globex-files)
#                                                             10.20.0.5 (acme-db v4)
#                                                   └──wan0── inet (the internet)
#                                                             2001:db8:ffff::1, 192.0.2.53
#
# Underlay ulN: gw fd00:99:N::1 / 10.99.N.1, client fd00:99:N::2 / 10.99.N.2.
# The snapshot is examples/assignments.json with fresh WireGuard keys for the
# three devices that exist here (the example's keys have no private half).
# Clients route everything through wg0 (AllowedIPs ::/0, 0.0.0.0/0): the
# gateway, not the client, decides what passes.

TOPO_CP=http://127.0.0.1:8443
TOPO_METRICS=127.0.0.1:9100
TOPO_RESYNC=${TOPO_RESYNC:-5}
TOPO_GWD_ARGS=(--max-devices 1024 --max-rules 1024 --max-prefixes 4096 --max-cells 8192
	       --max-flows 65536 --max-nodes 64)
GWCTL=$NN_BUILD/nanami-gwctl
LISTEN=$NN_ROOT/tools/demo/nn-listen.py
CONNECT=$NN_ROOT/tools/demo/nn-connect.py

declare -A TOPO_KEY TOPO_PUB
TOPO_CLIENTS=(alice bob carol)
declare -A TOPO_DEV=([alice]=alice-laptop [bob]=bob-phone [carol]=carol-desktop)
declare -A TOPO_V6=([alice]=fd7a:6e61:6e61:10::2 [bob]=fd7a:6e61:6e61:10::3
		    [carol]=fd7a:6e61:6e61:20::2)
declare -A TOPO_V4=([alice]=100.96.16.2 [carol]=100.96.32.2)
declare -A TOPO_UL=([alice]=1 [bob]=2 [carol]=3)

# gwctl ARGS...: nanami-gwctl -j on the gateway.
gwctl() { nn_in gw "$GWCTL" --iface wg0 -j "$@"; }

# cp METHOD PATH [JSON]: the reference control plane's API, from the gateway.
cp_api() {
	local m=$1 path=$2 body=${3:-}
	nn_in gw python3 - "$m" "$TOPO_CP$path" "$body" <<'PY'
import sys, urllib.request, urllib.error
m, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, method=m, data=body.encode() if body else None,
                             headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
    sys.exit(1)
PY
}

# drops REASON: the gateway's drop counter for REASON.
drops() { gwctl stats | jq -r --arg r "$1" '.drops[$r] // 0'; }

topo_snapshot() {
	local out=$1 c filter='.'
	for c in "${TOPO_CLIENTS[@]}"; do
		filter+=" | (.tenants[].networks[].devices[] | select(.device_id == \"${TOPO_DEV[$c]}\") | .public_key) = \"${TOPO_PUB[$c]}\""
	done
	jq "$filter" "$NN_ROOT/examples/assignments.json" >"$out"
}

topo_client_up() {
	local c=$1 n=${TOPO_UL[$1]} gwpub=$2
	nn_in "$c" wireguard-go wg0 >/dev/null 2>&1 || return 1
	echo "${TOPO_KEY[$c]}" >"$NN_TMP/$c.key"
	nn_in "$c" wg set wg0 private-key "$NN_TMP/$c.key" peer "$gwpub" \
		endpoint "[fd00:99:$n::1]:51820" allowed-ips ::/0,0.0.0.0/0 \
		persistent-keepalive 1 || return 1
	nn_in "$c" ip link set wg0 mtu 1420 up
	nn_in "$c" ip addr add "${TOPO_V6[$c]}/128" dev wg0 nodad
	[ -n "${TOPO_V4[$c]:-}" ] && nn_in "$c" ip addr add "${TOPO_V4[$c]}/32" dev wg0
	nn_in "$c" ip -6 route add default dev wg0
	nn_in "$c" ip -4 route add default dev wg0
	return 0
}

topo_services() {
	nn_node res && nn_node inet || return 1
	nn_link gw lan0 res lan0 10 && nn_link gw wan0 inet wan0 11 || return 1
	nn_in gw ip addr add fd00:acc::1/64 dev lan0 nodad
	nn_in gw ip addr add fd00:acc:1::1/64 dev lan0 nodad
	nn_in gw ip addr add fd00:6b0::fe/64 dev lan0 nodad
	nn_in gw ip addr add 10.20.0.1/16 dev lan0
	nn_in res ip addr add fd00:acc::5/64 dev lan0 nodad
	nn_in res ip addr add fd00:acc:1::9/64 dev lan0 nodad
	nn_in res ip addr add fd00:6b0::1/64 dev lan0 nodad
	nn_in res ip addr add 10.20.0.5/16 dev lan0
	nn_in res ip -6 route add default via fd00:acc::1
	nn_in res ip -4 route add default via 10.20.0.1
	nn_in gw ip addr add 2001:db8:ffff::fe/64 dev wan0 nodad
	nn_in gw ip addr add 192.0.2.254/24 dev wan0
	nn_in inet ip addr add 2001:db8:ffff::1/64 dev wan0 nodad
	nn_in inet ip addr add 192.0.2.53/24 dev wan0
	nn_in gw ip -6 route add default via 2001:db8:ffff::1
	nn_in gw ip -4 route add default via 192.0.2.53
	nn_bg res listen-res "$LISTEN" acme-db 5432 22 443 445
	nn_bg inet listen-inet "$LISTEN" internet 80 443 25 53/udp
}

# Bring everything up; returns non-zero (with a message) on failure.
topo_up() {
	local c gwpub i
	nn_node gw || return 1
	for c in "${TOPO_CLIENTS[@]}"; do
		nn_node "$c" && nn_link gw "ul${TOPO_UL[$c]}" "$c" ul0 "${TOPO_UL[$c]}" || return 1
		TOPO_KEY[$c]=$(wg genkey)
		TOPO_PUB[$c]=$(echo "${TOPO_KEY[$c]}" | wg pubkey)
	done
	topo_services || return 1
	topo_snapshot "$NN_TMP/snapshot.json"

	nn_in gw wireguard-go wg0 >/dev/null 2>&1 || { echo "# wireguard-go failed"; return 1; }
	nn_in gw ip addr add fd7a:6e61:6e61::1/48 dev wg0 nodad
	nn_in gw ip addr add 100.96.0.1/12 dev wg0
	nn_in gw ip link set wg0 up
	nn_bg gw cp python3 "$NN_ROOT/tools/cp/nanami-cp" --listen 127.0.0.1:8443 \
		--state "$NN_TMP/cp-state.json" --seed-from "$NN_TMP/snapshot.json" --admin \
		--keepalive 2
	nn_wait_for 10 nn_in gw python3 -c \
		"import urllib.request; urllib.request.urlopen('$TOPO_CP/admin/v1/state', timeout=1)" ||
		{ echo "# the control plane did not start"; return 1; }
	nn_bg gw gatewayd "$NN_BUILD/nanami-gatewayd" --iface wg0 --control-plane "$TOPO_CP" \
		--node-id gw-fra-1 --state-dir "$NN_TMP/gw-state" --wg uapi \
		--resync "$TOPO_RESYNC" --poll 2 --metrics-listen "$TOPO_METRICS" \
		"${TOPO_GWD_ARGS[@]}"
	# The controller sets wg0's key (from its state dir) once it applied.
	for i in $(seq 1 100); do
		gwpub=$(nn_in gw wg show wg0 public-key 2>/dev/null)
		[ -n "$gwpub" ] && [ "$gwpub" != "(none)" ] && break
		sleep 0.1
	done
	[ -n "$gwpub" ] && [ "$gwpub" != "(none)" ] ||
		{ echo "# the controller did not configure wg0"; return 1; }
	nn_wait_for 10 gwctl status || { echo "# no dataplane pinned"; return 1; }
	for c in "${TOPO_CLIENTS[@]}"; do
		topo_client_up "$c" "$gwpub" || { echo "# client $c failed"; return 1; }
	done
	for c in "${TOPO_CLIENTS[@]}"; do
		nn_wait_for 10 topo_handshaked "$c" ||
			{ echo "# client $c: no handshake with the gateway"; return 1; }
	done
	return 0
}

# The client's tunnel to the gateway has completed a handshake.
topo_handshaked() {
	local ts
	ts=$(nn_in "$1" wg show wg0 latest-handshakes | awk '{print $2}')
	[ -n "$ts" ] && [ "$ts" -gt 0 ]
}
