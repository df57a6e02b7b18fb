#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Real tunnels between two wireguard-go wg0s configured only by nn-wgtest
# (user/wg/reconcile.c) from two snapshots: overlay spec compliance test 1
# (handshake + IPv6 over wg0), test 5 (key rotation: the new key works, the
# old one is gone) and test 4 (a peer removed from the desired set is removed
# and traffic stops).
#
#   netns nnwg-<pid>-a                          netns nnwg-<pid>-b
#   (own mount ns, wireguard-go)                (own mount ns, wireguard-go)
#   +------------------------------+            +------------------------------+
#   | wg0 fd7a:6e61:6e61::1/48     |  overlay   | wg0 fd7a:6e61:6e61::2/48     |
#   |   listen 51820, node_id gw-a | ~~~~~~~~~~ |   listen 51821, node_id gw-b |
#   |   key: created by nn-wgtest  |            |   key: written by the test   |
#   | va fd00:99::1/64             |------------| vb fd00:99::2/64             |
#   +------------------------------+  veth      +------------------------------+
#                                     underlay
set -u
cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
WGTEST=$PWD/$O/nn-wgtest
. selftests/netns/lib_wg.sh

A=nnwg-$$-a
B=nnwg-$$-b
TMP=$(mktemp -d /tmp/nn-wghs.XXXXXX)
fails=0

cleanup() {
	wgns_teardown
	rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=selftests/netns/lib_tap.sh
. selftests/netns/lib_tap.sh
skip_all() { echo "ok - $1 # SKIP $2"; exit 0; }
eq() {
	[ "$1" = "$2" ] || { echo "#   got '$1', want '$2'"; return 1; }
}

for t in wireguard-go wg nsenter unshare; do
	command -v "$t" >/dev/null || skip_all "wg handshake" "$t not installed"
done
[ -c /dev/net/tun ] || skip_all "wg handshake" "no /dev/net/tun"
[ -x "$WGTEST" ] || { nok "nn-wgtest built ($WGTEST)"; exit 1; }

# snap FILE NODE_ID OV6 PORT [PEER_ID PEER_KEY PEER_OV6 PEER_ENDPOINT]
snap() {
	local nodes=""
	if [ $# -gt 4 ]; then
		nodes='{ "node_id": "'$5'", "public_key": "'$6'", "overlay_ipv6": "'$7'",
		  "endpoint": "'$8'", "roles": ["ingress_gateway"], "state": "active",
		  "key_generation": 1 }'
	fi
	cat >"$1" <<EOF
{ "api_version": "v1", "node_id": "$2", "generation": $((GEN += 1)),
  "gateway": { "roles": ["ingress_gateway"], "overlay_ipv6": "$3",
    "overlay_prefixes": ["fd7a:6e61:6e61::/48"], "listen_port": $4, "mtu": 1420 },
  "system_defaults": { "traffic_mode": "vpn_only", "routing_mode": "auto" },
  "nodes": [ $nodes ],
  "tenants": [] }
EOF
}
GEN=0

# reconcile NS STATE_DIR SNAPSHOT: JSON in $OUT, status in $RC.
reconcile() {
	OUT=$(wgns "$1" "$WGTEST" --iface wg0 --state-dir "$2" --assignments "$3" \
		2>"$TMP/log")
	RC=$?
	[ "${V:-0}" = 1 ] && { echo "# $1 rc=$RC $OUT"; sed 's/^/#   /' "$TMP/log"; }
}
counters() {
	local kv
	[ "$RC" = 0 ] || { echo "#   rc=$RC: $(cat "$TMP/log")"; return 1; }
	for kv in "$@"; do
		eq "$(jq -r ".${kv%%=*}" <<<"$OUT")" "${kv#*=}" || return 1
	done
}
# ping6 NS DST: ok iff 2 echo replies come back (up to 5 probes; the first
# may wait for the handshake). no_ping6 NS DST: ok iff 3 probes get none.
ping6() {
	wgns "$1" "$WGTEST" --ping6 "$2" --count 5 --wait-ms 1000 --stop-after 2 >/dev/null 2>&1
}
no_ping6() {
	local out
	out=$(wgns "$1" "$WGTEST" --ping6 "$2" --count 3 --wait-ms 500 2>/dev/null)
	eq "$out" '{"sent":3,"received":0}'
}
handshake() {	# handshake NS KEY: latest handshake time with that peer (0 = none)
	wgns "$1" wg show wg0 latest-handshakes | awk -v k="$2" '$1 == k { print $2 }'
}
peers() { wgns "$1" wg show wg0 peers | sort | paste -sd,; }

wgns_add "$A" || { nok "wireguard-go wg0 in $A"; exit 1; }
wgns_add "$B" || { nok "wireguard-go wg0 in $B"; exit 1; }
ip link add va netns "$A" type veth peer name vb netns "$B"
ip -n "$A" addr add fd00:99::1/64 dev va nodad
ip -n "$B" addr add fd00:99::2/64 dev vb nodad
ip -n "$A" link set va up
ip -n "$B" link set vb up
ip -n "$A" addr add fd7a:6e61:6e61::1/48 dev wg0 nodad
ip -n "$B" addr add fd7a:6e61:6e61::2/48 dev wg0 nodad
ip -n "$A" link set wg0 up
ip -n "$B" link set wg0 up

# A's key is created by nn-wgtest; B's is provisioned beforehand (0600).
mkdir -p "$TMP/a" "$TMP/b"
KA=$(wgns "$A" "$WGTEST" --iface wg0 --state-dir "$TMP/a" --print-public-key 2>/dev/null)
(umask 077; wg genkey >"$TMP/b/wg0.key")
KB=$(wg pubkey <"$TMP/b/wg0.key")
check "A's public key created and printed" eq "$(echo "$KA" | wc -c)" 45

snap "$TMP/a.json" gw-a fd7a:6e61:6e61::1 51820 gw-b "$KB" fd7a:6e61:6e61::2 '[fd00:99::2]:51821'
snap "$TMP/b.json" gw-b fd7a:6e61:6e61::2 51821 gw-a "$KA" fd7a:6e61:6e61::1 '[fd00:99::1]:51820'
reconcile "$A" "$TMP/a" "$TMP/a.json"
check "A reconciles: peer gw-b added, key and port set" \
	counters added=1 private_key_set=1 listen_port_set=1 peers=1
reconcile "$B" "$TMP/b" "$TMP/b.json"
check "B reconciles: peer gw-a added, key and port set" \
	counters added=1 private_key_set=1 listen_port_set=1 peers=1
check "B runs the provisioned key" eq "$(jq -r .public_key <<<"$OUT")" "$KB"

# Compliance test 1: handshake, IPv6 over wg0 both ways.
check "ping6 A -> B over wg0" ping6 "$A" fd7a:6e61:6e61::2
check "ping6 B -> A over wg0" ping6 "$B" fd7a:6e61:6e61::1
check "handshake recorded on both sides" \
	eval '[ "$(handshake "$A" "$KB")" -gt 0 ] && [ "$(handshake "$B" "$KA")" -gt 0 ]'
SHOW=$(wgns "$A" "$WGTEST" --iface wg0 --show 2>/dev/null)
check "our UAPI get reads the handshake time wg reports" \
	eq "$(jq -r '.peers[0] | "\(.public_key) \(.last_handshake_sec)"' <<<"$SHOW")" \
	"$KB $(handshake "$A" "$KB")"
check "our UAPI get reads non-zero rx/tx bytes and the learned endpoint" \
	eq "$(jq -r '.peers[0] | "\(.rx_bytes > 0) \(.tx_bytes > 0) \(.endpoint)"' <<<"$SHOW")" \
	"true true [fd00:99::2]:51821"
reconcile "$A" "$TMP/a" "$TMP/a.json"
check "traffic is not drift: A reconciles with zero changes" counters changes=0 set_ops=0

# Compliance test 5: B rotates its key; the control plane gives A the new key.
(umask 077; wg genkey >"$TMP/b/wg0.key.new")
mv "$TMP/b/wg0.key.new" "$TMP/b/wg0.key"
KB2=$(wg pubkey <"$TMP/b/wg0.key")
reconcile "$B" "$TMP/b" "$TMP/b.json"
check "B takes its new private key" counters private_key_set=1 added=0 removed=0
snap "$TMP/a.json" gw-a fd7a:6e61:6e61::1 51820 gw-b "$KB2" fd7a:6e61:6e61::2 '[fd00:99::2]:51821'
reconcile "$A" "$TMP/a" "$TMP/a.json"
check "A rotates gw-b's key in one set" counters keys_rotated=1 added=0 removed=0 set_ops=1
check "A: only the new key remains" eq "$(peers "$A")" "$KB2"
check "ping6 A -> B with the new key" ping6 "$A" fd7a:6e61:6e61::2
check "handshake with the new key" eval '[ "$(handshake "$A" "$KB2")" -gt 0 ]'

# Compliance test 4: gw-b leaves A's desired set.
snap "$TMP/a.json" gw-a fd7a:6e61:6e61::1 51820
reconcile "$A" "$TMP/a" "$TMP/a.json"
check "A removes gw-b" counters removed=1 peers=0
check "A's wg0 has no peer left" eq "$(peers "$A")" ""
check "ping6 A -> B fails after removal" no_ping6 "$A" fd7a:6e61:6e61::2
check "ping6 B -> A fails after removal" no_ping6 "$B" fd7a:6e61:6e61::1

[ "$fails" -eq 0 ]
