#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# wg0 reconciliation (user/wg/reconcile.c) against a real wireguard-go wg0:
# desired peer set from a snapshot, drift repair, key rotation, removal,
# listen port, MTU, private key file.
#
#   +-------------------------------------------------------------+
#   | netns nnwg-<pid>-gw  (+ own mount ns: tmpfs /var/run/wireguard)
#   |                                                             |
#   |   wg0 (wireguard-go -f wg0, TUN)  <---UAPI---  nn-wgtest    |
#   |    peers: alice-laptop  fd7a:6e61:6e61:10::2/128 100.96.16.2/32
#   |           carol-desk    fd7a:6e61:6e61:10::4/128            |
#   |           gw-ams-1      fd7a:6e61:6e61::2/128               |
#   |           (bob-phone: disabled, never configured)           |
#   +-------------------------------------------------------------+
#
# No underlay is needed: these cases check configuration, not traffic
# (test_wg_handshake.sh does traffic). Prints TAP lines; exits non-zero if
# any case fails. V=1 shows nn-wgtest's logs.
set -u
cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
WGTEST=$PWD/$O/nn-wgtest
. selftests/netns/lib_wg.sh

NS=nnwg-$$-gw
TMP=$(mktemp -d /tmp/nn-wgrec.XXXXXX)
STATE=$TMP/state
fails=0

cleanup() {
	wgns_teardown
	rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=selftests/netns/lib_tap.sh
. selftests/netns/lib_tap.sh
skip_all() { echo "ok - $1 # SKIP $2"; exit 0; }

for t in wireguard-go wg nsenter unshare; do
	command -v "$t" >/dev/null || skip_all "wg reconcile" "$t not installed"
done
[ -c /dev/net/tun ] || skip_all "wg reconcile" "no /dev/net/tun"
[ -x "$WGTEST" ] || { nok "nn-wgtest built ($WGTEST)"; exit 1; }

key() { wg genkey; }
pub() { echo "$1" | wg pubkey; }

K_ALICE=$(pub "$(key)")
K_ALICE2=$(pub "$(key)")
K_BOB=$(pub "$(key)")
K_CAROL=$(pub "$(key)")
K_NODE=$(pub "$(key)")
K_STRAY=$(pub "$(key)")

# Snapshot knobs; snap() writes $TMP/snap.json from them.
GEN=1 LISTEN=51820 MTU=1400 ALICE_KEY=$K_ALICE ALICE_EP=null CAROL=1 BOB_STATE=disabled

snap() {
	local carol=""
	GEN=$((GEN + 1))
	if [ "$CAROL" = 1 ]; then
		carol=',
            { "device_id": "carol-desk", "user_id": "carol", "public_key": "'$K_CAROL'",
              "overlay_ipv6": "fd7a:6e61:6e61:10::4", "overlay_ipv4": null,
              "endpoint": "[2001:db8:9::4]:41000", "persistent_keepalive": null,
              "state": "active", "key_generation": 1, "routing_preference": null }'
	fi
	cat >"$TMP/snap.json" <<EOF
{
  "api_version": "v1", "node_id": "gw-fra-1", "generation": $GEN,
  "gateway": { "roles": ["ingress_gateway"], "overlay_ipv6": "fd7a:6e61:6e61::1",
    "overlay_ipv4": "100.96.0.1", "overlay_prefixes": ["fd7a:6e61:6e61::/48", "100.96.0.0/12"],
    "listen_port": $LISTEN, "mtu": $MTU },
  "system_defaults": { "traffic_mode": "vpn_only", "routing_mode": "auto" },
  "nodes": [
    { "node_id": "gw-ams-1", "public_key": "$K_NODE", "overlay_ipv6": "fd7a:6e61:6e61::2",
      "endpoint": "[2001:db8:2::1]:51820", "roles": ["exit_gateway"], "state": "active",
      "key_generation": 1 }
  ],
  "tenants": [ { "tenant_id": "acme", "networks": [ {
      "network_id": "acme-prod", "gateways": ["gw-fra-1"],
      "routing_policy": { "traffic_mode": "vpn_only", "routing_mode": "auto",
                          "ingress_device": null, "egress_device": null },
      "resources": [],
      "users": [ { "user_id": "alice", "groups": [], "routing_preference": null },
                 { "user_id": "bob", "groups": [], "routing_preference": null },
                 { "user_id": "carol", "groups": [], "routing_preference": null } ],
      "devices": [
            { "device_id": "alice-laptop", "user_id": "alice", "public_key": "$ALICE_KEY",
              "overlay_ipv6": "fd7a:6e61:6e61:10::2", "overlay_ipv4": "100.96.16.2",
              "endpoint": $ALICE_EP, "persistent_keepalive": 25,
              "state": "active", "key_generation": 1, "routing_preference": null },
            { "device_id": "bob-phone", "user_id": "bob", "public_key": "$K_BOB",
              "overlay_ipv6": "fd7a:6e61:6e61:10::3", "overlay_ipv4": null,
              "endpoint": null, "persistent_keepalive": 25,
              "state": "$BOB_STATE", "key_generation": 1, "routing_preference": null }$carol
      ],
      "acl": [] } ] } ]
}
EOF
}

# reconcile [extra nn-wgtest args]: one run; JSON in $OUT, logs in $LOG, status in $RC.
reconcile() {
	OUT=$(wgns "$NS" "$WGTEST" --iface wg0 --assignments "$TMP/snap.json" \
		--state-dir "$STATE" "$@" 2>"$TMP/log")
	RC=$?
	LOG=$(cat "$TMP/log")
	if [ "${V:-0}" = 1 ]; then
		echo "# rc=$RC $OUT"
		sed 's/^/#   /' "$TMP/log"
	fi
}
# jget FIELD: a number (or string) from $OUT.
jget() { jq -r ".$1" <<<"$OUT" 2>/dev/null; }
# counters "added=3 removed=0 ...": every named counter has that value.
counters() {
	local kv
	[ "$RC" = 0 ] || return 1
	for kv in "$@"; do
		[ "$(jget "${kv%%=*}")" = "${kv#*=}" ] || {
			echo "#   ${kv%%=*} is $(jget "${kv%%=*}"), want ${kv#*=}: $OUT"
			return 1
		}
	done
}
dump() { wgns "$NS" wg show wg0 dump; }
# aips KEY: that peer's AllowedIPs, sorted, comma-separated ("" when absent).
aips() { dump | awk -v k="$1" 'NR > 1 && $1 == k { print $4 }' | tr ',' '\n' | sort | paste -sd,; }
has_peer() { dump | awk -v k="$1" 'NR > 1 && $1 == k { f = 1 } END { exit !f }'; }
peer_field() { dump | awk -v k="$1" -v f="$2" 'NR > 1 && $1 == k { print $f }'; }
npeers() { dump | awk 'NR > 1' | wc -l; }
# config: the configured part of the dump (no counters), in a stable order
# (wireguard-go lists peers in Go map order, which changes between reads).
config() { dump | awk '{ print $1, $2, $3, $4, $NF }' | sort; }
eq() {
	[ "$1" = "$2" ] || { echo "#   got '$1', want '$2'"; return 1; }
}

ALICE_AIPS=100.96.16.2/32,fd7a:6e61:6e61:10::2/128

wgns_add "$NS" || { nok "wireguard-go wg0 in $NS"; exit 1; }
wgns "$NS" ip link set wg0 up

# ---- first reconcile ----
snap
reconcile
check "first reconcile succeeds and adds alice, carol and gw-ams-1" \
	counters added=3 removed=0 updated=0 allowed_ips_repaired=0 keys_rotated=0 \
	private_key_set=1 listen_port_set=1 mtu_set=1 set_ops=1 peers=3
check "private key file created with mode 0600" \
	eq "$(stat -c %a "$STATE/wg0.key" 2>/dev/null)" 600
check "device runs the key file's key, public key reported" \
	eq "$(dump | awk 'NR == 1 { print $2 }')|$(jget public_key)" \
	"$(wg pubkey <"$STATE/wg0.key")|$(wg pubkey <"$STATE/wg0.key")"
check "key creation logged with the public key" \
	grep -q "event=wg_key_created iface=wg0 .*public_key=$(jget public_key)" <<<"$LOG"
check "exactly three peers" eq "$(npeers)" 3
check "alice AllowedIPs exactly /128 and /32" eq "$(aips "$K_ALICE")" "$ALICE_AIPS"
# A roaming device keeps its NAT mapping with its own keepalive; the gateway's
# would make wg0 handshake to it every 5 s while it is offline (reconcile.c).
check "alice roaming (no endpoint): keepalive off although the snapshot gives 25" \
	eq "$(peer_field "$K_ALICE" 8) $(peer_field "$K_ALICE" 3)" "off (none)"
check "carol AllowedIPs exactly /128, endpoint set, keepalive off" \
	eq "$(aips "$K_CAROL") $(peer_field "$K_CAROL" 3) $(peer_field "$K_CAROL" 8)" \
	"fd7a:6e61:6e61:10::4/128 [2001:db8:9::4]:41000 off"
check "node gw-ams-1 AllowedIPs /128 and endpoint" \
	eq "$(aips "$K_NODE") $(peer_field "$K_NODE" 3)" \
	"fd7a:6e61:6e61::2/128 [2001:db8:2::1]:51820"
check "disabled device bob-phone absent" eval '! has_peer "$K_BOB"'
check "listen port from the snapshot" eq "$(wgns "$NS" wg show wg0 listen-port)" 51820
check "MTU from the snapshot" \
	eq "$(wgns "$NS" cat /sys/class/net/wg0/mtu)" 1400
check "one log line per added peer" eq "$(grep -c 'event=wg_peer_added' <<<"$LOG")" 3

# ---- idempotence ----
before=$(config)
PUB1=$(jget public_key)
reconcile
check "second reconcile: zero changes and no set operation" \
	counters added=0 removed=0 updated=0 allowed_ips_repaired=0 keys_rotated=0 \
	private_key_set=0 listen_port_set=0 mtu_set=0 set_ops=0 changes=0 peers=3
check "second reconcile: device unchanged" eq "$(config)" "$before"
check "key file reused: same public key" eq "$(jget public_key)" "$PUB1"
check "key file reused: logged as loaded" grep -q "event=wg_key_loaded" <<<"$LOG"

# ---- drift: a peer added by hand ----
wgns "$NS" wg set wg0 peer "$K_STRAY" allowed-ips fd7a:6e61:6e61:10::99/128
reconcile
check "hand-added peer removed" counters removed=1 added=0 set_ops=1 changes=1
check "hand-added peer gone from wg0" eval '! has_peer "$K_STRAY"'
check "removal logged as not_in_snapshot" \
	grep -q "event=wg_peer_removed peer=- public_key=$K_STRAY reason=not_in_snapshot" <<<"$LOG"
check "other peers untouched by the removal" eq "$(npeers)" 3

# ---- drift: AllowedIPs widened by hand ----
wgns "$NS" wg set wg0 peer "$K_ALICE" allowed-ips fd7a:6e61:6e61:10::/64,100.96.16.2/32
wgns "$NS" wg set wg0 peer "$K_CAROL" allowed-ips ::/0,fd7a:6e61:6e61:10::4/128,10.9.9.0/24
reconcile
check "widened AllowedIPs repaired on two peers" \
	counters allowed_ips_repaired=2 added=0 removed=0 keys_rotated=0 set_ops=1
check "alice back to exactly /128 + /32 (was /64)" eq "$(aips "$K_ALICE")" "$ALICE_AIPS"
check "carol back to exactly /128 (was ::/0 + extra)" \
	eq "$(aips "$K_CAROL")" fd7a:6e61:6e61:10::4/128
check "drift repair logged per peer" \
	eval 'grep -q "event=wg_drift_repaired peer=alice-laptop kind=device what=allowed_ips" <<<"$LOG" &&
	      grep -q "event=wg_drift_repaired peer=carol-desk kind=device what=allowed_ips" <<<"$LOG"'

# ---- drift: endpoint and keepalive changed by hand ----
wgns "$NS" wg set wg0 peer "$K_NODE" endpoint '[2001:db8:2::66]:51820' persistent-keepalive 7
reconcile
check "node endpoint and keepalive put back" \
	eval 'counters updated=1 allowed_ips_repaired=0 set_ops=1 &&
	      eq "$(peer_field "$K_NODE" 3) $(peer_field "$K_NODE" 8)" "[2001:db8:2::1]:51820 off"'
check "endpoint drift logged" \
	grep -q "event=wg_drift_repaired peer=gw-ams-1 kind=node what=endpoint,keepalive" <<<"$LOG"

# ---- not drift: the endpoint wg0 learned for a roaming device ----
wgns "$NS" wg set wg0 peer "$K_ALICE" endpoint '[2001:db8:77::5]:40123'
reconcile
check "learned endpoint of a device without one in the snapshot is left alone" \
	eval 'counters changes=0 set_ops=0 &&
	      eq "$(peer_field "$K_ALICE" 3)" "[2001:db8:77::5]:40123"'

# ---- drift: a key changed by hand (alice's AllowedIPs under another key) ----
wgns "$NS" wg set wg0 peer "$K_ALICE" remove peer "$K_STRAY" \
	allowed-ips fd7a:6e61:6e61:10::2/128,100.96.16.2/32
reconcile
check "key changed by hand is put back" \
	eval 'counters keys_rotated=1 added=0 removed=0 &&
	      has_peer "$K_ALICE" && ! has_peer "$K_STRAY" &&
	      eq "$(aips "$K_ALICE")" "$ALICE_AIPS"'

# ---- drift: private key, listen port and MTU changed by hand ----
wgns "$NS" wg set wg0 private-key <(key) listen-port 40000
wgns "$NS" ip link set wg0 mtu 1300
reconcile
check "private key, listen port and MTU put back" \
	eval 'counters private_key_set=1 listen_port_set=1 mtu_set=1 added=0 removed=0 &&
	      eq "$(dump | awk "NR == 1 { print \$2 \" \" \$3 }")" "$PUB1 51820" &&
	      eq "$(wgns "$NS" cat /sys/class/net/wg0/mtu)" 1400'

# ---- a roaming device given an endpoint: its keepalive is set too ----
ALICE_EP='"[2001:db8:9::2]:41000"'
snap
reconcile
check "alice given an endpoint: endpoint and keepalive 25 set, one peer updated" \
	eval 'counters updated=1 added=0 removed=0 &&
	      eq "$(peer_field "$K_ALICE" 3) $(peer_field "$K_ALICE" 8)" "[2001:db8:9::2]:41000 25"'

# ---- key rotation in the snapshot ----
ALICE_KEY=$K_ALICE2
snap
reconcile
check "rotation counted as one key rotation" \
	counters keys_rotated=1 added=0 removed=0 set_ops=1 peers=3
check "rotation: old key gone" eval '! has_peer "$K_ALICE"'
check "rotation: new key has the same AllowedIPs" eq "$(aips "$K_ALICE2")" "$ALICE_AIPS"
check "rotation: keepalive carried to the new key" eq "$(peer_field "$K_ALICE2" 8)" 25
check "rotation logged with old and new key" \
	grep -q "event=wg_key_rotated peer=alice-laptop kind=device old_public_key=$K_ALICE new_public_key=$K_ALICE2" <<<"$LOG"

# ---- a device removed from the snapshot ----
CAROL=0
snap
reconcile
check "device removed from the snapshot is removed" \
	eval 'counters removed=1 added=0 && ! has_peer "$K_CAROL" && eq "$(npeers)" 2'

# ---- emergency revocation: a device set to disabled ----
BOB_STATE=active
snap
reconcile
check "device enabled in the snapshot is added" \
	eval 'counters added=1 removed=0 && eq "$(aips "$K_BOB")" fd7a:6e61:6e61:10::3/128'
BOB_STATE=disabled
snap
reconcile
check "device disabled in the snapshot is removed" \
	eval 'counters removed=1 added=0 && ! has_peer "$K_BOB" &&
	      grep -q "event=wg_peer_removed peer=bob-phone public_key=$K_BOB reason=disabled" <<<"$LOG"'

# ---- listen port and MTU follow the snapshot ----
LISTEN=51999 MTU=1380
snap
reconcile
check "new listen port and MTU applied" \
	eval 'counters listen_port_set=1 mtu_set=1 added=0 removed=0 &&
	      eq "$(wgns "$NS" wg show wg0 listen-port)" 51999 &&
	      eq "$(wgns "$NS" cat /sys/class/net/wg0/mtu)" 1380'
reconcile
check "and then nothing more to do" counters changes=0 set_ops=0

# ---- errors ----
# A port another wg interface holds: the daemon answers errno=-EADDRINUSE.
WG1_PID=
WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL=error \
	nsenter -t "${WGNS_PID[$NS]}" -m -n -- wireguard-go -f wg1 >/dev/null 2>&1 &
WG1_PID=$!
for _ in $(seq 1 100); do
	wgns "$NS" test -S /var/run/wireguard/wg1.sock && break
	sleep 0.05
done
wgns "$NS" ip link set wg1 up
wgns "$NS" wg set wg1 listen-port 52000
LISTEN=52000
snap
reconcile
check "daemon errno reply mapped to EADDRINUSE" \
	eval '[ "$RC" = 1 ] && grep -q "event=wg_apply_failed iface=wg0 stage=set .*error=\"Address already in use\"" <<<"$LOG"'
kill "$WG1_PID" 2>/dev/null
wait "$WG1_PID" 2>/dev/null
LISTEN=51999
snap

reconcile --sockdir "$TMP/nowhere"
check "no control socket: clear error, non-zero exit" \
	eval '[ "$RC" = 1 ] && [ -z "$OUT" ] &&
	      grep -q "stage=get socket=$TMP/nowhere/wg0.sock error=\"No such file or directory\"" <<<"$LOG"'

mkdir -p "$TMP/lax"
cp "$STATE/wg0.key" "$TMP/lax/wg0.key"
chmod 0644 "$TMP/lax/wg0.key"
OUT=$(wgns "$NS" "$WGTEST" --iface wg0 --assignments "$TMP/snap.json" \
	--state-dir "$TMP/lax" 2>"$TMP/log")
RC=$?
check "key file readable by others is refused" \
	eval '[ "$RC" = 1 ] && grep -q "event=wg_key_rejected.*mode 0644" "$TMP/log" &&
	      eq "$(dump | awk "NR == 1 { print \$2 }")" "$PUB1"'

[ "$fails" -eq 0 ]
