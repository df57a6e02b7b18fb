#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# wg0 reconciliation through the running controller (control plane source,
# --wg uapi, real wireguard-go): the peer set is exact after start (AllowedIPs
# /128 and /32 only), changes made by hand are put back on the next drift
# resync and counted (a stray peer, AllowedIPs widened to a /64 and ::/0, a
# device's key swapped), and a key rotation on the control plane cuts over
# (old key gone, new key present, the same addresses).
#
#   +---------------------------------------------------------------+
#   | node gw (own netns + mount ns: private bpffs, tmpfs /run/wireguard)
#   |                                                               |
#   |  nanami-cp http://127.0.0.1:8443 --admin                      |
#   |       ^                                                       |
#   |  nanami-gatewayd --wg uapi --resync 2 --metrics-listen :9108  |
#   |       | UAPI                                                  |
#   |       v                                                       |
#   |  wg0 (wireguard-go)  <--  `wg set` by hand (the drift)        |
#   +---------------------------------------------------------------+
#
# Assertions read `wg show wg0 dump` and the metrics
# (nanami_drift_repairs_total, nanami_wg_changes_total).
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need
for t in wireguard-go wg; do
	command -v $t >/dev/null || { echo "ok - controller wg # SKIP $t not installed"; exit 0; }
done
[ -c /dev/net/tun ] || { echo "ok - controller wg # SKIP no /dev/net/tun"; exit 0; }

GW_IFACE=wg0
PINS=/sys/fs/bpf/nanami-test/wg0
RESYNC=2
K_ALICE=jwx5oERvgWFmXLoUhBqhOyGp7v4PHr3xrzovm7NhZ0Q=
K_BOB=6EutjYpzde0Mvv+qBAnAPAxWVjkaFaSUeTQLsBwxIko=
K_CAROL=aSRNyxI0PQiSjGoMWSFsyGfMXmO8/+0g9GPFm8Qd6m4=
K_CAROL_OLD=SkKUh1d3Ucozo/fYrmT0NmyCrlymdCR0guruGfVcCQQ=
K_AMS=65jPZjmK+lpqIAaX1n0FJEDBvSlkNnO4bsacj1Z50AU=
K_STRAY=$(wg genkey | wg pubkey)
K_ALICE2=$(wg genkey | wg pubkey)

nn_node gw || { nn_not_ok "topology"; exit 1; }
WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL=error nn_bg gw wggo wireguard-go -f wg0
if ! nn_wait_for 5 nn_in gw test -S /run/wireguard/wg0.sock; then
	nn_not_ok "wireguard-go wg0 up" "$(cat "$NN_TMP/wggo.log")"
	exit 1
fi
nn_in gw ip link set wg0 up
cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$EX" ||
	{ nn_not_ok "control plane started"; exit 1; }
GWD_ARGS=(--iface wg0 --control-plane "$CP_URL" --node-id gw-fra-1 --bpffs "$PINS"
	  --state-dir "$NN_TMP/state" --wg uapi --nat off --metrics-listen "$METRICS" "${CAPS[@]}")

# "KEY AIP,AIP" per peer (AllowedIPs sorted), peers sorted, one line.
peers() {
	nn_in gw wg show wg0 dump | tail -n +2 |
		while read -r k _ _ aips _; do
			echo "$k $(echo "$aips" | tr ',' '\n' | sort | paste -sd,)"
		done | sort | paste -sd' '
}
want() {	# the desired peers of the example, with alice's key $1
	printf '%s\n' "$1 100.96.16.2/32,fd7a:6e61:6e61:10::2/128" \
		"$K_BOB fd7a:6e61:6e61:10::3/128" \
		"$K_CAROL 100.96.32.2/32,fd7a:6e61:6e61:20::2/128" \
		"$K_AMS fd7a:6e61:6e61::2/128" | sort | paste -sd' '
}
peers_are() { [ "$(peers)" = "$(want "$1")" ]; }
drift() { metric nanami_drift_repairs_total; }
drift_above() { [ "$(drift)" -gt "$1" ]; }

gwd_start gwd --resync $RESYNC --poll 30
nn_check "generation 7 applied" nn_wait_for 5 sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- '$GWCTL' --iface wg0 --bpffs $PINS -j status |
	 jq -en 'input | .generation == 7'"
nn_check "peers exact after start: 4 peers, AllowedIPs /128 and /32 only" peers_are "$K_ALICE"
nn_check "no AllowedIPs wider than /128 or /32 on wg0" sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- wg show wg0 allowed-ips |
	 awk '{ for (i = 2; i <= NF; i++) print \$i }' >'$NN_TMP/aips' &&
	 [ \$(wc -l <'$NN_TMP/aips') = 6 ] && ! grep -Ev ':[0-9a-f:]*/128$|^[0-9.]+/32$' '$NN_TMP/aips'"
nn_check "disabled carol-old-laptop is not a peer" sh -c "! echo '$(peers)' | grep -q '$K_CAROL_OLD'"
nn_check "listen port from the snapshot (51820)" \
	test "$(nn_in gw wg show wg0 listen-port)" = 51820
nn_check "peers gauge in the metrics (4)" test "$(metric nanami_peers)" = 4

# ---- drift: a stray peer ----
d0=$(drift)
nn_in gw wg set wg0 peer "$K_STRAY" allowed-ips fd7a:6e61:6e61:99::1/128
# on wg0, unless a resync already took it off (the check below counts that
# repair): on a loaded machine a resync may fall between the two commands
stray_added() { nn_in gw wg show wg0 peers | grep -q "$K_STRAY" || drift_above "$d0"; }
nn_check "a peer added by hand is on wg0 (or already repaired)" stray_added
nn_check "stray peer removed at the next resync" nn_wait_for $((RESYNC * 2 + 1)) peers_are "$K_ALICE"
nn_check "stray peer removal counted (nanami_drift_repairs_total > $d0)" drift_above "$d0"

# ---- drift: AllowedIPs widened by hand ----
d0=$(drift)
nn_in gw wg set wg0 peer "$K_BOB" allowed-ips fd7a:6e61:6e61:10::/64,::/0
nn_check "AllowedIPs widened by hand (/64, ::/0)" sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- wg show wg0 allowed-ips | grep '$K_BOB' | grep -q '::/0'"
nn_check "AllowedIPs restored at the next resync" nn_wait_for $((RESYNC * 2 + 1)) peers_are "$K_ALICE"
nn_check "AllowedIPs repair counted (nanami_drift_repairs_total > $d0)" drift_above "$d0"

# ---- drift: a device's key swapped by hand (its addresses on another key) ----
d0=$(drift)
nn_in gw wg set wg0 peer "$K_CAROL" remove peer "$K_STRAY" \
	allowed-ips fd7a:6e61:6e61:20::2/128,100.96.32.2/32
nn_check "key swapped by hand at the next resync: back to the device's key" \
	nn_wait_for $((RESYNC * 2 + 1)) peers_are "$K_ALICE"
nn_check "key swap repair counted (nanami_drift_repairs_total > $d0)" drift_above "$d0"

# ---- nothing by hand: resyncs change nothing ----
c0=$(metric nanami_wg_changes_total) d0=$(drift)
sleep $((RESYNC * 2 + 1))
nn_check "no drift: no wg0 change, no repair over two resyncs" \
	test "$(metric nanami_wg_changes_total) $(drift)" = "$c0 $d0"

# ---- key rotation on the control plane ----
dev=$(cp_req GET /admin/v1/state | jq -c --arg k "$K_ALICE2" \
	'.world.tenants[] | .networks[] | .devices[] | select(.device_id == "alice-laptop") |
	 .public_key = $k | .key_generation += 1')
t0=$(nn_now_ms)
cp_req PUT /admin/v1/networks/acme-prod/devices/alice-laptop "$dev" >/dev/null
nn_wait_for 3 peers_are "$K_ALICE2"
ms=$(($(nn_now_ms) - t0))
echo "# key_rotation_ms=$ms (stream up)"
nn_check "key rotation: new key with alice's addresses, old key gone (${ms} ms)" peers_are "$K_ALICE2"
nn_check "key rotation: the dataplane still knows alice-laptop" test "$(gwctl devices |
	jq -r '.devices[] | select(.id == "alice-laptop") | .state')" = active
# ---- the fast path: a device no rule names, restored then disabled again ----
# carol-old-laptop joins a class carol-desktop keeps standing, so both
# changes are device deltas the incremental path takes; it sets only the
# peers its delta touched. A peer added by hand just before stays until the
# drift timer's full reconcile: the change did not go through a diff of wg0.
cp_device() {	# device $1 of globex-main with jq filter $2 applied, PUT back
	local v
	v=$(cp_req GET /admin/v1/state | jq -c --arg id "$1" \
		".world.tenants[] | .networks[] | .devices[] | select(.device_id == \$id) | $2")
	cp_req PUT "/admin/v1/networks/globex-main/devices/$1" "$v" >/dev/null
}
fast() { metric 'nanami_applies_total{path="fast"}'; }
on_wg() { nsenter --target "${NN_PID[gw]}" --mount --net -- wg show wg0 allowed-ips | grep -q "$1"; }
# The stray may also go by a drift reconcile that happens to run meanwhile
# (every $RESYNC s): then its removal is logged after the fast apply's line.
no_diff() {
	tail -n +$((n0 + 1)) "$NN_TMP/gwd.log" | awk -v k="public_key=$K_STRAY" '
		/event=applied/ && /path=fast/ { fast = NR }
		/event=wg_peer_removed/ && index($0, k) { rm = NR }
		END { exit !(fast && (!rm || rm > fast)) }'
}
f0=$(fast) n0=$(wc -l <"$NN_TMP/gwd.log")
nn_in gw wg set wg0 peer "$K_STRAY" allowed-ips fd7a:6e61:6e61:99::1/128
cp_device carol-old-laptop '.state = "active"'
nn_check "restore: carol-old-laptop's peer on wg0 with its /128" nn_wait_for 3 on_wg \
	"$K_CAROL_OLD	fd7a:6e61:6e61:20::3/128"
nn_check "restore: by the fast path ($(fast) > $f0)" test "$(fast)" -gt "$f0"
nn_check "restore: a per-peer set (event=wg_peer_set), no full reconcile" grep -q \
	"event=wg_peer_set peer=carol-old-laptop kind=device public_key=$K_CAROL_OLD" "$NN_TMP/gwd.log"
nn_check "restore: the stray peer added by hand just before was not removed by it (no diff of wg0)" \
	no_diff
f0=$(fast)
cp_device carol-old-laptop '.state = "disabled"'
nn_check "revocation: carol-old-laptop's peer gone from wg0" nn_wait_for 3 sh -c \
	"! nsenter --target ${NN_PID[gw]} --mount --net -- wg show wg0 peers | grep -q '$K_CAROL_OLD'"
nn_check "revocation: by the fast path" test "$(fast)" -gt "$f0"
nn_check "revocation: logged as a removal of that key" grep -q \
	"event=wg_peer_removed public_key=$K_CAROL_OLD reason=change" "$NN_TMP/gwd.log"
nn_check "the stray peer goes at the next drift reconcile" \
	nn_wait_for $((RESYNC * 3 + 3)) peers_are "$K_ALICE2"

gwd_kill gwd TERM
nn_check "SIGTERM: wg0 peers left as they are" peers_are "$K_ALICE2"

nn_finish
