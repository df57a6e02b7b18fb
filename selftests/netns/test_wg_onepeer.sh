#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A one-peer change touches one peer (issue 13, "wg0 at 100k peers"): with
# N devices on a real wireguard-go wg0 (1000 by default, NN_ONEPEER_N),
# a revocation, a re-enable, a key rotation, an AllowedIPs widened by hand
# and a stray peer added by hand each send a set that carries only that
# peer (a rotation: the old key removed and the new one added).
#
#   +-------------------------------------------------------------+
#   | netns nnwg1-<pid>  (+ own mount ns: tmpfs /var/run/wireguard)
#   |   wg0 (wireguard-go, LOG_LEVEL=verbose)  <---UAPI---  nn-wgtest
#   |   N peers d0..d<N-1>: /128 + /32, keepalive on every other |
#   +-------------------------------------------------------------+
#
# What was sent is checked twice, by two parties: our counters (set_ops,
# set_peers: the peer sections in the set) and wireguard-go's own verbose
# log, which names every peer a set makes it touch ("peer(AbCd…WxYz) -
# UAPI: ..."): after each change, the only peers named are the changed
# ones. wg(8) checks the result: every other peer's configuration is what
# it was. Also checked: the device view nn_wg_reconcile_dev() hands to the
# metrics page (nn-wgtest --print-after) equals what wg(8) reads after the
# set, so the page needs no second full read.
set -u
export LC_ALL=C # sort as python3 and strcmp do
cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
WGTEST=$PWD/$O/nn-wgtest
. selftests/netns/lib_wg.sh

NS=nnwg1-$$
TMP=$(mktemp -d /tmp/nn-wg1.XXXXXX)
STATE=$TMP/state
N=${NN_ONEPEER_N:-1000}
fails=0

cleanup() {
	wgns_teardown
	rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=selftests/netns/lib_tap.sh
. selftests/netns/lib_tap.sh
eq() { [ "$1" = "$2" ] || { echo "#   got '$1', want '$2'"; return 1; }; }

for t in wireguard-go wg nsenter unshare jq python3; do
	command -v "$t" >/dev/null || { nok "$t installed"; exit 1; }
done
[ -c /dev/net/tun ] || { nok "/dev/net/tun present"; exit 1; }
[ -x "$WGTEST" ] || { nok "nn-wgtest built ($WGTEST)"; exit 1; }

# gen STATE_OF_D<K> KEY_OF_D<K>: the snapshot with device d<K> in that state
# and with that key ("" keeps the generated one); keys are sha256 of a label
# so the test can name them without wg(8).
K=$((N / 2))
GEN=0
gen() {
	GEN=$((GEN + 1))
	python3 - "$N" "$K" "$1" "$2" "$GEN" "$TMP/snap.json" <<'EOF'
import base64, hashlib, json, sys
n, k, kstate, kkey, gen, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
devs = []
for i in range(n):
    key = base64.b64encode(hashlib.sha256(b"nn-onepeer-%d" % i).digest()).decode()
    if i == k and kkey:
        key = kkey
    devs.append({"device_id": "d%d" % i, "user_id": "u", "public_key": key,
                 "overlay_ipv6": "fd7a:6e61:6e61:10::1:%x" % i,
                 "overlay_ipv4": "100.100.%d.%d" % (i // 250, i % 250 + 1), "endpoint": None,
                 "persistent_keepalive": 25 if i % 2 else None,
                 "state": kstate if i == k else "active", "key_generation": 1})
snap = {"api_version": "v1", "node_id": "gw-a", "generation": gen,
        "gateway": {"roles": ["ingress_gateway"], "overlay_ipv6": "fd7a:6e61:6e61::1",
                    "overlay_prefixes": ["fd7a:6e61:6e61::/48", "100.96.0.0/12"],
                    "listen_port": 51999, "mtu": 1380},
        "system_defaults": {"traffic_mode": "vpn_only", "routing_mode": "auto"},
        "nodes": [],
        "tenants": [{"tenant_id": "t", "networks": [{"network_id": "n", "users": [{"user_id": "u"}],
                     "devices": devs, "resources": [], "acl": [], "gateways": ["gw-a"]}]}]}
json.dump(snap, open(out, "w"))
EOF
}
keyof() { python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).decode())' "$1"; }
# wireguard-go's name for a key in its log: peer(AbCd…WxYz).
short() { echo "peer(${1:0:4}…${1:39:4})"; }

LOGF=
mark() { MARK=$(wc -l <"$LOGF"); }
# The distinct peers wireguard-go's log names in UAPI lines since mark.
touched() {
	tail -n +$((MARK + 1)) "$LOGF" | grep -o 'peer([^)]*) - UAPI' | sed 's/ - UAPI//' |
		sort -u | paste -sd' '
}
# After the set: what wg(8) reads, as "key aips-sorted keepalive" lines.
wgconf() {
	wgns "$NS" wg show wg0 dump | python3 -c '
import sys
rows = []
for line in list(sys.stdin)[1:]:
    f = line.split("\t")
    ka = f[-1].strip()
    rows.append("%s %s %s" % (f[0], ",".join(sorted(f[3].split(","))), "0" if ka == "off" else ka))
print("\n".join(sorted(rows)))'
}
reconcile() {
	mark
	OUT=$(wgns "$NS" "$WGTEST" --iface wg0 --assignments "$TMP/snap.json" \
		--state-dir "$STATE" --print-after 2>"$TMP/log")
	RC=$?
	[ "${V:-0}" = 1 ] && { echo "# rc=$RC $(jq -c 'del(.after)' <<<"$OUT")"; sed 's/^/#   /' "$TMP/log"; }
	jq -r '.after[]' <<<"$OUT" 2>/dev/null | sort >"$TMP/after"
	return 0
}
counters() {
	local kv
	[ "$RC" = 0 ] || { echo "#   rc=$RC: $(tail -3 "$TMP/log")"; return 1; }
	for kv in "$@"; do
		eq "$(jq -r ".${kv%%=*}" <<<"$OUT")" "${kv#*=}" || return 1
	done
}
has() { awk -v k="$1" '$1 == k { f = 1 } END { exit !f }' "$TMP/now"; }
conf_of() { awk -v k="$1" '$1 == k { $1 = ""; print }' "$2"; }
view_matches() { wgconf >"$TMP/now" && cmp -s "$TMP/after" "$TMP/now" ||
	{ echo "#   view and wg show differ: $(diff "$TMP/after" "$TMP/now" | head -4 | tr '\n' ' ')"; return 1; }; }
# Every peer but those named is configured as before the change.
others_unchanged() {
	local skip
	skip=$(printf '%s ' "$@")
	awk -v s=" $skip" 'index(s, " " $1 " ") == 0' "$TMP/before" >"$TMP/b1"
	awk -v s=" $skip" 'index(s, " " $1 " ") == 0' "$TMP/now" >"$TMP/n1"
	cmp -s "$TMP/b1" "$TMP/n1" || { echo "#   other peers changed"; return 1; }
}

WG_LOG_LEVEL=verbose wgns_add "$NS" || { nok "wireguard-go wg0 in $NS"; exit 1; }
LOGF=$WGNS_LOGDIR/$NS.log
wgns "$NS" ip link set wg0 up

KK=$(keyof "nn-onepeer-$K")
KNEW=$(keyof "nn-onepeer-rotated")
KSTRAY=$(keyof "nn-onepeer-stray")
KFIX=$(keyof "nn-onepeer-3")

gen active ""
reconcile
check "cold: $N peers added in one set of $N peer sections" \
	counters added=$N set_ops=1 set_peers=$N peers=$N
check "cold: the view handed to the metrics equals wg show (all $N)" view_matches
wgconf >"$TMP/before"

reconcile
check "noop at $N peers: no set, no peer section" counters changes=0 set_ops=0 set_peers=0
check "noop: wireguard-go was told about no peer" eq "$(touched)" ""
check "noop: the view equals wg show" view_matches

gen disabled ""
reconcile
check "revoke one of $N: one removal, one peer section" \
	counters removed=1 added=0 set_ops=1 set_peers=1 peers=$((N - 1))
check "revoke: wireguard-go touched only that peer" eq "$(touched)" "$(short "$KK")"
check "revoke: the peer is gone, the other $((N - 1)) as before" \
	eval 'view_matches && ! has "$KK" && others_unchanged "$KK"'

gen active ""
reconcile
check "re-enable: one addition, one peer section" \
	counters added=1 removed=0 set_ops=1 set_peers=1 peers=$N
check "re-enable: wireguard-go touched only that peer" eq "$(touched)" "$(short "$KK")"
check "re-enable: wg0 is back to the cold state" eval 'view_matches && cmp -s "$TMP/before" "$TMP/now"'

gen active "$KNEW"
reconcile
check "rotate: one rotation, two peer sections (old removed, new added)" \
	counters keys_rotated=1 added=0 removed=0 set_ops=1 set_peers=2 peers=$N
check "rotate: wireguard-go touched only the old and the new key" \
	eq "$(touched)" "$(printf '%s\n' "$(short "$KK")" "$(short "$KNEW")" | sort | paste -sd' ')"
check "rotate: the new key holds the old one's AllowedIPs, the others as before" \
	eval 'view_matches && ! has "$KK" &&
	      eq "$(conf_of "$KNEW" "$TMP/now")" "$(conf_of "$KK" "$TMP/before")" &&
	      others_unchanged "$KK" "$KNEW"'

gen active ""
reconcile
check "rotate back" counters keys_rotated=1 set_peers=2
wgns "$NS" wg set wg0 peer "$KFIX" allowed-ips ::/0
reconcile
check "AllowedIPs widened by hand on one of $N: one repair, one peer section" \
	counters allowed_ips_repaired=1 added=0 removed=0 set_ops=1 set_peers=1
check "widened: wireguard-go touched only that peer" eq "$(touched)" "$(short "$KFIX")"
check "widened: wg0 is back to the cold state" eval 'view_matches && cmp -s "$TMP/before" "$TMP/now"'

wgns "$NS" wg set wg0 peer "$KSTRAY" allowed-ips fd7a:6e61:6e61:10::99/128
reconcile
check "stray peer added by hand: one removal, one peer section" \
	counters removed=1 added=0 set_ops=1 set_peers=1
check "stray: wireguard-go touched only the stray" eq "$(touched)" "$(short "$KSTRAY")"
check "stray: wg0 is back to the cold state" eval 'view_matches && cmp -s "$TMP/before" "$TMP/now"'

[ "$fails" -eq 0 ]
