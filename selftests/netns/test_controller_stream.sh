#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The long-running controller against the reference control plane, with a
# real wireguard-go wg0: bounded revocation with the event stream up (< 1 s)
# and down (within one resync interval), the polling fallback, idempotent
# resyncs and polls (an empty ?since= delta or an ETag 304: no map write, no
# wg0 change, same epoch), and SIGTERM leaving the dataplane attached.
#
#   +--------------------------------------------------------------------+
#   | node gw (own netns + mount ns: private bpffs, tmpfs /run/wireguard)|
#   |                                                                    |
#   |  nanami-cp  http://127.0.0.1:8443  (--admin, keepalive 1 s)        |
#   |       ^  snapshot / ?since= / SSE events                           |
#   |       |                                                            |
#   |  nanami-gatewayd --wg uapi --metrics-listen 127.0.0.1:9108         |
#   |       |  UAPI (/run/wireguard/wg0.sock)   | pinned maps, TC progs  |
#   |       v                                   v                        |
#   |  wg0 (wireguard-go, TUN, L3) <------------+                        |
#   +--------------------------------------------------------------------+
#
# Revocation time: from just before the admin PUT until `nanami-gwctl -j
# devices` (the live slot of nn_addrs, what the programs read) shows the
# device disabled, polled every 20 ms; the verdict is then confirmed with
# `nanami-gwctl -j explain`. Printed as "# revocation_stream_ms=N" and
# "# revocation_nostream_ms=N".
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need
for t in wireguard-go wg; do
	command -v $t >/dev/null || { echo "ok - controller stream # SKIP $t not installed"; exit 0; }
done
[ -c /dev/net/tun ] || { echo "ok - controller stream # SKIP no /dev/net/tun"; exit 0; }

GW_IFACE=wg0
PINS=/sys/fs/bpf/nanami-test/wg0
RESYNC=3
BOB=fd7a:6e61:6e61:10::3
CAROL=fd7a:6e61:6e61:20::2
K_BOB=6EutjYpzde0Mvv+qBAnAPAxWVjkaFaSUeTQLsBwxIko=
K_CAROL=aSRNyxI0PQiSjGoMWSFsyGfMXmO8/+0g9GPFm8Qd6m4=

nn_node gw || { nn_not_ok "topology"; exit 1; }
WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL=error nn_bg gw wggo wireguard-go -f wg0
if ! nn_wait_for 5 nn_in gw test -S /run/wireguard/wg0.sock; then
	nn_not_ok "wireguard-go wg0 up" "$(cat "$NN_TMP/wggo.log")"
	exit 1
fi
nn_in gw ip link set wg0 up
if ! cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$EX"; then
	nn_not_ok "control plane started" "$(tail -3 "$NN_TMP/cp.log")"
	exit 1
fi
GWD_ARGS=(--iface wg0 --control-plane "$CP_URL" --node-id gw-fra-1 --bpffs "$PINS"
	  --state-dir "$NN_TMP/state" --wg uapi --nat off --metrics-listen "$METRICS" "${CAPS[@]}")

dev_state() { gwctl devices | jq -r --arg d "$1" '.devices[] | select(.id == $d) | .state'; }
gen_is() { [ "$(gwctl status | jq -r .generation)" = "$1" ]; }
cp_state_is() { [ "$(metric "nanami_control_plane_state{state=\"$1\"}")" = 1 ]; }
peer_keys() { nn_in gw wg show wg0 peers | sort | tr '\n' ' '; }
# wait_state DEV STATE: ms until the live slot shows it (polled every 20 ms, 6 s max).
wait_state() {
	local t0=$1 dev=$2 want=$3 i
	for i in $(seq 1 300); do
		[ "$(dev_state "$dev")" = "$want" ] && { echo $(($(nn_now_ms) - t0)); return 0; }
		sleep 0.02
	done
	echo 99999
	return 1
}

# ---- stream up ----
gwd_start gwd1 --resync 30 --poll 30
nn_check "controller applies the control plane's generation 7" nn_wait_for 5 gen_is 7
nn_check "event stream up (nanami_control_plane_state stream)" nn_wait_for 5 cp_state_is stream
ids=$(prog_ids wg0)
case "$ids" in
tc-ingress=[0-9]*" tc-egress="[0-9]*" xdp=") nn_ok "TC programs attached on wg0 ($ids)" ;;
*) nn_not_ok "TC programs attached on wg0" "bpftool net: $ids" ;;
esac
nn_check "bob-phone passes before the revocation (explain: pass all-web)" \
	test "$(gwctl explain from-overlay $BOB fd00:acc:1::1 tcp 443 | jq -r '.verdict + " " + .rule')" = "pass all-web"
nn_check "bob-phone is a wg0 peer" sh -c "echo '$(peer_keys)' | grep -q '$K_BOB'"

t0=$(nn_now_ms)
cp_req PUT /admin/v1/devices/bob-phone/state '{"state":"disabled"}' >/dev/null
ms=$(wait_state "$t0" bob-phone disabled)
echo "# revocation_stream_ms=$ms"
nn_check "revocation with the stream up within 1 s (${ms} ms)" test "$ms" -le 1000
v=$(gwctl explain from-overlay $BOB fd00:acc:1::1 tcp 443 | jq -r '.verdict + " " + .reason')
nn_check "revoked bob-phone dropped by the programs (explain: $v)" test "$v" = "drop revoked"
nn_check "revoked bob-phone removed from wg0" sh -c "! echo '$(peer_keys)' | grep -q '$K_BOB'"
nn_check "applied generation 8 in the metrics" test "$(metric nanami_applied_generation)" = 8

# SIGTERM: the dataplane stays attached and enforcing.
e=$(active_epoch)
gwd_kill gwd1 TERM
rc=$(gwd_wait_rc gwd1)
nn_check "SIGTERM: controller exits 0" test "$rc" = 0
nn_check "SIGTERM: programs still attached, same ids" test "$(prog_ids wg0)" = "$ids"
nn_check "SIGTERM: same epoch, bob-phone still dropped" sh -c \
	"[ '$(active_epoch)' = '$e' ] && [ '$(verdict $BOB fd00:acc:1::1 tcp 443)' = drop ]"

# ---- stream down: the events endpoint answers 500; polling is slow (30 s),
# so the drift timer (--resync 3) is what bounds the revocation ----
cp_fault 500 events 0
gwd_start gwd2 --resync $RESYNC --poll 30
nn_check "restart adopts: same program ids" sh -c "sleep 0.5; [ '$(prog_ids wg0)' = '$ids' ]"
nn_check "stream down: state polling" nn_wait_for 5 cp_state_is polling
nn_check "carol-desktop passes (explain: pass)" test "$(verdict $CAROL fd00:6b0::1 tcp 443)" = pass
sleep 1
t0=$(nn_now_ms)
cp_req PUT /admin/v1/devices/carol-desktop/state '{"state":"disabled"}' >/dev/null
ms=$(wait_state "$t0" carol-desktop disabled)
echo "# revocation_nostream_ms=$ms (resync ${RESYNC} s, jitter 10%)"
nn_check "revocation with the stream down within one resync interval + 1 s (${ms} ms)" \
	test "$ms" -le $((RESYNC * 1100 + 1000))
v=$(gwctl explain from-overlay $CAROL fd00:6b0::1 tcp 443 | jq -r '.verdict + " " + .reason')
nn_check "revoked carol-desktop dropped by the programs (explain: $v)" test "$v" = "drop revoked"
nn_check "revoked carol-desktop removed from wg0" sh -c "! echo '$(peer_keys)' | grep -q '$K_CAROL'"

# Unchanged resyncs (an empty ?since= delta or a 304, then a re-apply of the same
# state) write nothing.
w0=$(metric nanami_map_writes_total) c0=$(metric nanami_wg_changes_total) e0=$(active_epoch)
s0=$(metric nanami_validation_errors_total)
sleep $((RESYNC * 2 + 1))
nn_check "unchanged resyncs: nanami_map_writes_total unchanged ($w0)" \
	test "$(metric nanami_map_writes_total)" = "$w0"
nn_check "unchanged resyncs: nanami_wg_changes_total unchanged ($c0)" \
	test "$(metric nanami_wg_changes_total)" = "$c0"
nn_check "unchanged resyncs: nn_active epoch unchanged ($e0)" test "$(active_epoch)" = "$e0"
nn_check "unchanged resyncs: synced recently (seconds_since_last_sync <= $RESYNC)" \
	test "$(metric nanami_seconds_since_last_sync)" -le $RESYNC
nn_check "unchanged resyncs: no validation error" test "$(metric nanami_validation_errors_total)" = "$s0"
gwd_kill gwd2 TERM

# ---- polling fallback: --poll 1, drift timer far away ----
gwd_start gwd3 --resync 60 --poll 1
nn_check "poll mode: state polling" nn_wait_for 5 cp_state_is polling
sleep 0.5
t0=$(nn_now_ms)
cp_req PUT /admin/v1/devices/bob-phone/state '{"state":"active"}' >/dev/null
ms=$(wait_state "$t0" bob-phone active)
echo "# poll_pickup_ms=$ms (poll 1 s, jitter 20%)"
nn_check "change picked up by polling within --poll + 1 s (${ms} ms)" test "$ms" -le 2200
nn_check "re-enabled bob-phone passes again and is a wg0 peer" sh -c \
	"[ '$(verdict $BOB fd00:acc:1::1 tcp 443)' = pass ] && echo '$(peer_keys)' | grep -q '$K_BOB'"
w0=$(metric nanami_map_writes_total) c0=$(metric nanami_wg_changes_total) e0=$(active_epoch)
sleep 3
nn_check "unchanged polls (empty ?since= delta): no map write, no wg0 change, same epoch" sh -c \
	"[ '$(metric nanami_map_writes_total)' = '$w0' ] && [ '$(metric nanami_wg_changes_total)' = '$c0' ] &&
	 [ '$(active_epoch)' = '$e0' ]"
nn_check "polls keep the sync fresh (seconds_since_last_sync <= 2)" \
	test "$(metric nanami_seconds_since_last_sync)" -le 2
# The stream comes back: the controller switches to it.
cp_fault none all 0
gwd_kill gwd3 TERM
gwd_start gwd4 --resync 60 --poll 60
nn_check "stream back (fault cleared): state stream" nn_wait_for 5 cp_state_is stream
t0=$(nn_now_ms)
cp_req PUT /admin/v1/devices/bob-phone/state '{"state":"disabled"}' >/dev/null
ms=$(wait_state "$t0" bob-phone disabled)
echo "# revocation_stream_ms=$ms (second measurement)"
nn_check "second revocation with the stream up within 1 s (${ms} ms)" test "$ms" -le 1000
gwd_kill gwd4 TERM

nn_finish
