#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel WireGuard backend (user/wg/genl.c, through nn-wgtest: one
# nn_wg_reconcile() per call) against two real kernel wg0s, in a guest whose
# kernel has the wireguard module: --wg auto picks genl on a link of kind
# wireguard; peers added with exact /128 (+/32) AllowedIPs; a tunnel that
# carries IPv6 and whose handshake time, bytes and learned endpoint our get
# reads exactly as wg(8) does; drift repaired (AllowedIPs widened with
# `wg set`, a stray peer); a key rotated in one set, traffic on the new key
# and the old one gone; the listen port and MTU moved; a peer removed and
# traffic stopped; and 1000 devices added, read back and removed, which the
# kernel only takes split over several messages (1000 devices by default,
# NN_KWG_PEERS to change).
#
#   node a (netns + mount ns)                  node b (netns + mount ns)
#   +------------------------------+           +------------------------------+
#   | wg0 (kernel) fd7a:6e61:6e61::1/48        | wg0 (kernel) fd7a:6e61:6e61::2/48
#   |   node gw-a, key by nn-wgtest| ~~~~~~~~~ |   node gw-b, key from the test
#   |   listen 51820               |  overlay  |   listen 51821               |
#   | eth0 fd00:99:1::1/64         |-----------| eth0 fd00:99:1::2/64         |
#   +------------------------------+  underlay +------------------------------+
#
# Assertions read nn-wgtest's counters (JSON), `wg show`, and `ip -j link`.
# Needs root and `modprobe wireguard` (a VM guest: selftests/vm/); without
# them it fails, it does not skip.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/../../netns/lib.sh"
WGTEST=$NN_BUILD/nn-wgtest

for t in wg jq python3 nsenter; do
	command -v "$t" >/dev/null || { nn_not_ok "$t installed"; nn_finish; exit 1; }
done
[ -x "$WGTEST" ] || { nn_not_ok "nn-wgtest built ($WGTEST)"; nn_finish; exit 1; }
if ! modprobe wireguard 2>"$NN_TMP/modprobe.log"; then
	nn_not_ok "modprobe wireguard (kernel $(uname -r))" "$(cat "$NN_TMP/modprobe.log")"
	nn_finish
	exit 1
fi

eq() { [ "$1" = "$2" ] || { echo "#   got '$1', want '$2'"; return 1; }; }

# snap FILE NODE_ID OV6 PORT MTU [PEER_ID PEER_KEY PEER_OV6 PEER_ENDPOINT]
GEN=0
snap() {
	local nodes=""
	[ $# -gt 5 ] && nodes='{ "node_id": "'$6'", "public_key": "'$7'", "overlay_ipv6": "'$8'",
		  "endpoint": "'$9'", "roles": ["ingress_gateway"], "state": "active",
		  "key_generation": 1 }'
	cat >"$1" <<EOF
{ "api_version": "v1", "node_id": "$2", "generation": $((GEN += 1)),
  "gateway": { "roles": ["ingress_gateway"], "overlay_ipv6": "$3",
    "overlay_prefixes": ["fd7a:6e61:6e61::/48", "100.96.0.0/12"], "listen_port": $4, "mtu": $5 },
  "system_defaults": { "traffic_mode": "vpn_only", "routing_mode": "auto" },
  "nodes": [ $nodes ],
  "tenants": [] }
EOF
}

# reconcile NODE STATE_DIR SNAPSHOT: counters JSON in $OUT, status in $RC.
reconcile() {
	OUT=$(nn_in "$1" "$WGTEST" --wg auto --iface wg0 --state-dir "$2" --assignments "$3" \
		2>"$NN_TMP/rec.log")
	RC=$?
	[ "${V:-0}" = 1 ] && { echo "# $1 rc=$RC $OUT"; sed 's/^/#   /' "$NN_TMP/rec.log"; }
	return 0
}
counters() { # KEY=VALUE...: nn-wgtest's counters hold each, read by one jq (a jq
	# start costs ~0.3 s under TCG: one per key was a fifth of the test's time)
	local kv keys="" want="" got
	[ "$RC" = 0 ] || { echo "#   rc=$RC: $(cat "$NN_TMP/rec.log")"; return 1; }
	for kv in "$@"; do
		keys+="${keys:+, }.${kv%%=*}"
		want+="${want:+ }${kv#*=}"
	done
	got=$(jq -r "[$keys] | map(tostring) | join(\" \")" <<<"$OUT")
	[ "$got" = "$want" ] || { echo "#   $* got '$got'"; return 1; }
}
ping6() {
	nn_in "$1" "$WGTEST" --ping6 "$2" --count 5 --wait-ms 1000 --stop-after 2 >/dev/null 2>&1
}
no_ping6() {
	eq "$(nn_in "$1" "$WGTEST" --ping6 "$2" --count 3 --wait-ms 500 2>/dev/null)" \
		'{"sent":3,"received":0}'
}
handshake() { nn_in "$1" wg show wg0 latest-handshakes | awk -v k="$2" '$1 == k { print $2 }'; }
peers() { nn_in "$1" wg show wg0 peers | sort | paste -sd,; }
aips() { nn_in "$1" wg show wg0 allowed-ips | sort | tr '\t' ' ' | paste -sd';'; }
mtu() { nn_in "$1" ip -j link show wg0 | jq -r '.[0].mtu'; }

nn_node a && nn_node b && nn_link a eth0 b eth0 1 || { nn_not_ok "topology"; nn_finish; exit 1; }
for n in a b; do
	nn_in $n ip link add wg0 type wireguard || { nn_not_ok "kernel wg0 in $n"; nn_finish; exit 1; }
done
nn_in a ip addr add fd7a:6e61:6e61::1/48 dev wg0 nodad
nn_in b ip addr add fd7a:6e61:6e61::2/48 dev wg0 nodad
nn_in a ip link set wg0 up
nn_in b ip link set wg0 up
nn_ok "kernel wg0 in two nodes (wireguard $(modinfo -F version wireguard 2>/dev/null), $(uname -r))"

mkdir -p "$NN_TMP/a" "$NN_TMP/b"
KA=$(nn_in a "$WGTEST" --wg genl --iface wg0 --state-dir "$NN_TMP/a" --print-public-key 2>/dev/null)
(umask 077 && wg genkey >"$NN_TMP/b/wg0.key")
KB=$(wg pubkey <"$NN_TMP/b/wg0.key")
snap "$NN_TMP/a.json" gw-a fd7a:6e61:6e61::1 51820 1380 gw-b "$KB" fd7a:6e61:6e61::2 '[fd00:99:1::2]:51821'
snap "$NN_TMP/b.json" gw-b fd7a:6e61:6e61::2 51821 1420 gw-a "$KA" fd7a:6e61:6e61::1 '[fd00:99:1::1]:51820'

reconcile a "$NN_TMP/a" "$NN_TMP/a.json"
nn_check "--wg auto picks genl on a kernel wg0" grep -q 'event=wg_key_loaded iface=wg0 backend=genl' "$NN_TMP/rec.log"
nn_check "A: peer added, private key, listen port and MTU set in one message" \
	counters added=1 private_key_set=1 listen_port_set=1 mtu_set=1 set_ops=1 peers=1
reconcile b "$NN_TMP/b" "$NN_TMP/b.json"
nn_check "B: peer added, provisioned key and port set" \
	counters added=1 private_key_set=1 listen_port_set=1 mtu_set=0 peers=1
nn_check "B runs the provisioned key" eq "$(nn_in b wg show wg0 public-key)" "$KB"
nn_check "A runs the key nn-wgtest created" eq "$(nn_in a wg show wg0 public-key)" "$KA"
nn_check "listen ports on the kernel devices" \
	eq "$(nn_in a wg show wg0 listen-port) $(nn_in b wg show wg0 listen-port)" "51820 51821"
nn_check "MTU set over rtnetlink (1380)" eq "$(mtu a)" 1380
nn_check "exact AllowedIPs /128 on A" eq "$(aips a)" "$KB fd7a:6e61:6e61::2/128"
nn_check "endpoint written to the kernel" \
	eq "$(nn_in a wg show wg0 endpoints | cut -f2)" "[fd00:99:1::2]:51821"

nn_check "ping6 A -> B over kernel wg0" ping6 a fd7a:6e61:6e61::2
nn_check "ping6 B -> A over kernel wg0" ping6 b fd7a:6e61:6e61::1
# Bytes only grow: ours must lie between two readings by wg taken around it.
X1=$(nn_in a wg show wg0 transfer | cut -f2,3)
SHOW=$(nn_in a "$WGTEST" --wg genl --iface wg0 --show 2>/dev/null)
X2=$(nn_in a wg show wg0 transfer | cut -f2,3)
within() {	# within "RX TX" "RX1 TX1" "RX2 TX2"
	local r t r1 t1 r2 t2
	read -r r t <<<"$1"
	read -r r1 t1 <<<"$2"
	read -r r2 t2 <<<"$3"
	[ "$r1" -le "$r" ] && [ "$r" -le "$r2" ] && [ "$t1" -le "$t" ] && [ "$t" -le "$t2" ] &&
		[ "$r" -gt 0 ] && [ "$t" -gt 0 ] || { echo "#   $1 not within $2 .. $3"; return 1; }
}
nn_check "our genl get reads the handshake time wg reports" \
	eq "$(jq -r '.peers[0] | "\(.public_key) \(.last_handshake_sec)"' <<<"$SHOW")" \
	"$KB $(handshake a "$KB")"
nn_check "our genl get reads the bytes wg reports (non-zero)" \
	within "$(jq -r '.peers[0] | "\(.rx_bytes) \(.tx_bytes)"' <<<"$SHOW")" "$X1" "$X2"
nn_check "our genl get reads the endpoint and keepalive" \
	eq "$(jq -r '.peers[0] | "\(.endpoint) \(.keepalive)"' <<<"$SHOW")" "[fd00:99:1::2]:51821 0"
reconcile a "$NN_TMP/a" "$NN_TMP/a.json"
nn_check "traffic is not drift: zero changes, no set" counters changes=0 set_ops=0

# ---- drift ----
nn_in a wg set wg0 peer "$KB" allowed-ips fd7a:6e61:6e61::/48,0.0.0.0/0,::/0
nn_check "AllowedIPs widened by hand with wg set" \
	eval '[ "$(nn_in a wg show wg0 allowed-ips | wc -w)" = 4 ]'
reconcile a "$NN_TMP/a" "$NN_TMP/a.json"
nn_check "widened AllowedIPs repaired" counters allowed_ips_repaired=1 added=0 removed=0 set_ops=1
nn_check "AllowedIPs exact again" eq "$(aips a)" "$KB fd7a:6e61:6e61::2/128"
KS=$(wg genkey | wg pubkey)
nn_in a wg set wg0 peer "$KS" allowed-ips fd7a:6e61:6e61:99::1/128
reconcile a "$NN_TMP/a" "$NN_TMP/a.json"
nn_check "stray peer removed" counters removed=1 added=0 changes=1
nn_check "only gw-b left" eq "$(peers a)" "$KB"
nn_in a ip link set wg0 mtu 1500
reconcile a "$NN_TMP/a" "$NN_TMP/a.json"
nn_check "MTU changed by hand put back" eval 'counters mtu_set=1 changes=1 && eq "$(mtu a)" 1380'

# ---- key rotation (overlay compliance test 5) ----
t_old=$(handshake a "$KB")
(umask 077 && wg genkey >"$NN_TMP/b/wg0.key.new") && mv "$NN_TMP/b/wg0.key.new" "$NN_TMP/b/wg0.key"
KB2=$(wg pubkey <"$NN_TMP/b/wg0.key")
reconcile b "$NN_TMP/b" "$NN_TMP/b.json"
nn_check "B takes its new private key" counters private_key_set=1 added=0 removed=0
snap "$NN_TMP/a.json" gw-a fd7a:6e61:6e61::1 51820 1380 gw-b "$KB2" fd7a:6e61:6e61::2 '[fd00:99:1::2]:51821'
reconcile a "$NN_TMP/a" "$NN_TMP/a.json"
nn_check "A rotates gw-b's key in one set" counters keys_rotated=1 added=0 removed=0 set_ops=1
nn_check "A: only the new key remains, same AllowedIPs" eq "$(aips a)" "$KB2 fd7a:6e61:6e61::2/128"
nn_check "ping6 A -> B with the new key" ping6 a fd7a:6e61:6e61::2
nn_check "handshake with the new key" eval '[ "$(handshake a "$KB2")" -gt 0 ]'
nn_check "no handshake on the old key after cutover (no such peer: was $t_old)" \
	eq "$(handshake a "$KB")" ""

# ---- listen port ----
snap "$NN_TMP/a.json" gw-a fd7a:6e61:6e61::1 51999 1380 gw-b "$KB2" fd7a:6e61:6e61::2 '[fd00:99:1::2]:51821'
reconcile a "$NN_TMP/a" "$NN_TMP/a.json"
nn_check "listen port moved" eval 'counters listen_port_set=1 changes=1 &&
	eq "$(nn_in a wg show wg0 listen-port)" 51999'

# ---- removal (overlay compliance test 4) ----
snap "$NN_TMP/a.json" gw-a fd7a:6e61:6e61::1 51999 1380
reconcile a "$NN_TMP/a" "$NN_TMP/a.json"
nn_check "A removes gw-b" counters removed=1 peers=0
nn_check "A's wg0 has no peer left" eq "$(peers a)" ""
nn_check "ping6 B -> A fails after removal" no_ping6 b fd7a:6e61:6e61::1

# ---- N devices: split over several messages, read back whole ----
# 1000 by default: 4 SET messages of 32 KiB and a dump of several parts; the
# kernel's per-peer X25519 precomputation makes each add ~13 ms under TCG.
N=${NN_KWG_PEERS:-1000}
echo "# small-device part done at ${SECONDS}s"
python3 - "$N" "$NN_TMP/big.json" "$NN_TMP/big.want" <<'EOF'
import base64, hashlib, json, sys
n, out, want = int(sys.argv[1]), sys.argv[2], sys.argv[3]
devs, lines = [], []
for i in range(n):
    key = base64.b64encode(hashlib.sha256(b"nn-kwg-%d" % i).digest()).decode()
    v6 = "fd7a:6e61:6e61:10::1:%x" % i
    v4 = "100.100.%d.%d" % (i // 250, i % 250 + 1)
    devs.append({"device_id": "d%d" % i, "user_id": "u", "public_key": key,
                 "overlay_ipv6": v6, "overlay_ipv4": v4,
                 "endpoint": "[2001:db8:77::%x]:51820" % i if i % 4 == 1 else None,
                 "persistent_keepalive": 25 if i % 2 else None, "state": "active",
                 "key_generation": 1})
    lines.append("%s %s/128 %s/32" % (key, v6, v4))
snap = {"api_version": "v1", "node_id": "gw-a", "generation": 100,
        "gateway": {"roles": ["ingress_gateway"], "overlay_ipv6": "fd7a:6e61:6e61::1",
                    "overlay_prefixes": ["fd7a:6e61:6e61::/48", "100.96.0.0/12"],
                    "listen_port": 51999, "mtu": 1380},
        "system_defaults": {"traffic_mode": "vpn_only", "routing_mode": "auto"},
        "nodes": [],
        "tenants": [{"tenant_id": "t", "networks": [{"network_id": "n", "users": [{"user_id": "u"}],
                     "devices": devs, "resources": [], "acl": [], "gateways": ["gw-a"]}]}]}
json.dump(snap, open(out, "w"))
open(want, "w").write("\n".join(sorted(lines)) + "\n")
EOF
t0=$(nn_now_ms)
reconcile a "$NN_TMP/a" "$NN_TMP/big.json"
ms=$(($(nn_now_ms) - t0))
echo "# add_${N}_peers_ms=$ms set_ops=$(jq -r .set_ops <<<"$OUT" 2>/dev/null)"
nn_check "$N peers added" counters added=$N peers=$N
nn_check "the set went out split over several messages" \
	eval '[ "$(jq .set_ops <<<"$OUT")" -gt 1 ]'
# wg prints a peer's AllowedIPs in its own order: compare sorted per peer.
nn_in a wg show wg0 allowed-ips |
	awk '{ if ($2 ~ /:/) print $1, $2, $3; else print $1, $3, $2 }' | sort >"$NN_TMP/big.got"
nn_check "every one of the $N peers on the kernel wg0 with exactly its /128 and /32" \
	cmp "$NN_TMP/big.want" "$NN_TMP/big.got"
SHOW=$(nn_in a "$WGTEST" --wg genl --iface wg0 --show 2>/dev/null)
nn_check "our get reads all $N back (a dump of several parts)" \
	eq "$(jq '[.peers[] | select(.allowed_ips | length == 2)] | length' <<<"$SHOW")" "$N"
# Every other device asks for 25 s; wg0 gets it only where the snapshot gives
# an endpoint too (every fourth): a roaming device keeps its own NAT mapping.
nn_check "keepalive written to the peers with an endpoint only" \
	eq "$(nn_in a wg show wg0 persistent-keepalive | awk '$2 == 25' | wc -l)" $(((N + 2) / 4))
reconcile a "$NN_TMP/a" "$NN_TMP/big.json"
nn_check "and then nothing to do" counters changes=0 set_ops=0 peers=$N
nn_in a wg set wg0 peer "$(head -1 "$NN_TMP/big.want" | cut -d' ' -f1)" allowed-ips ::/0
reconcile a "$NN_TMP/a" "$NN_TMP/big.json"
nn_check "one widened peer among $N repaired" counters allowed_ips_repaired=1 changes=1
# One-peer changes among N (issue 13): the set carries that peer only (a
# rotation: the old key removed, the new one added), every other peer stays
# as it was, and the view handed to the metrics page equals wg(8)'s.
DEVS=.tenants[0].networks[0].devices
I=$((N / 2))
KI=$(jq -r "$DEVS[$I].public_key" "$NN_TMP/big.json")
KNEW=$(wg genkey | wg pubkey)
big_got() {
	nn_in a wg show wg0 allowed-ips |
		awk '{ if ($2 ~ /:/) print $1, $2, $3; else print $1, $3, $2 }' | sort
}
jq -c "$DEVS[$I].state = \"disabled\" | .generation += 1" "$NN_TMP/big.json" >"$NN_TMP/big1.json"
reconcile a "$NN_TMP/a" "$NN_TMP/big1.json"
nn_check "revoke one of $N: one removal in one peer section" \
	counters removed=1 added=0 set_ops=1 set_peers=1 peers=$((N - 1))
nn_check "revoke: that peer gone, the other $((N - 1)) exactly as before" \
	eval 'big_got >"$NN_TMP/big.got1" && grep -v "^$KI " "$NN_TMP/big.want" | cmp - "$NN_TMP/big.got1"'
jq -c ".generation += 2" "$NN_TMP/big.json" >"$NN_TMP/big2.json"
reconcile a "$NN_TMP/a" "$NN_TMP/big2.json"
nn_check "re-enable: one addition in one peer section" \
	counters added=1 removed=0 set_ops=1 set_peers=1 peers=$N
nn_check "re-enable: wg0 as after the cold add" eval 'big_got | cmp - "$NN_TMP/big.want"'
jq -c "$DEVS[$I].public_key = \"$KNEW\" | .generation += 3" "$NN_TMP/big.json" >"$NN_TMP/big3.json"
OUT=$(nn_in a "$WGTEST" --wg genl --iface wg0 --state-dir "$NN_TMP/a" \
	--assignments "$NN_TMP/big3.json" --print-after 2>"$NN_TMP/rec.log")
RC=$?
nn_check "rotate one of $N: one rotation in two peer sections (old out, new in)" \
	counters keys_rotated=1 added=0 removed=0 set_ops=1 set_peers=2 peers=$N
nn_check "rotate: the new key holds the old one's AllowedIPs, the others as before" \
	eval 'big_got | cmp - <(sed "s|^$KI |$KNEW |" "$NN_TMP/big.want" | sort)'
nn_check "rotate: the view handed to the metrics equals wg show (all $N)" \
	eval 'jq -r ".after[]" <<<"$OUT" | awk "{ split(\$2, a, \",\"); print \$1, a[2], a[1] }" |
	      sort | cmp - <(big_got)'
reconcile a "$NN_TMP/a" "$NN_TMP/a.json"
nn_check "$N peers removed" eval 'counters removed=$N peers=0 && eq "$(peers a)" ""'
echo "# large part done at ${SECONDS}s"

nn_finish
