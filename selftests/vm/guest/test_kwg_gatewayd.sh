#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# nanami-gatewayd on a kernel wg0, driven by the reference control plane:
# --wg auto (the default) picks the kernel backend; the peer set is exact;
# a client's handshake shows in /metrics and `nanami-gwctl devices`; a
# revoked device leaves wg0 within the bound; the gateway, enrolled from a
# token (identity-v1.md), rotates its own key through genl (`nanami-gwctl
# rotate-key`) and alice handshakes with the new key and never with the old
# (a device's key rotated by the control plane is test_e2e_compliance's, on
# this same kernel); a kill -9 and restart adopts the programs and wg0 as
# they are (no peer re-created: the handshake time survives); --detach
# removes the programs and leaves wg0's peers alone.
#
#   node gw (netns + mount ns)                      node alice (netns + mount ns)
#   +--------------------------------------------+  +------------------------------+
#   | nanami-cp https://127.0.0.1:8443 --ca-dir  |  |                              |
#   | nanami-gatewayd --iface wg0 (--wg auto)    |  |                              |
#   |   --resync 2, metrics 127.0.0.1:9108       |  |                              |
#   | wg0 (kernel) fd7a:6e61:6e61::1/48          |  | wg0 (kernel) alice's key     |
#   |   key: enrolled (nanami-gatewayd enroll)   |~~|   fd7a:6e61:6e61:10::2/128   |
#   | eth0 fd00:99:1::1/64                       |--| eth0 fd00:99:1::2/64         |
#   +--------------------------------------------+  +------------------------------+
#
# Bounds that emulation stretches are multiplied by NN_TIME_SCALE (the VM
# runner exports it; 1 on real hardware). Needs root and the wireguard
# module; fails without them.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/../../netns/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/../../netns/lib_cp.sh"
# shellcheck source=selftests/netns/lib_ident.sh
source "$(dirname "$0")/../../netns/lib_ident.sh"
lib_cp_need
WGTEST=$NN_BUILD/nn-wgtest
command -v wg >/dev/null || { nn_not_ok "wg installed"; nn_finish; exit 1; }
if ! modprobe wireguard 2>"$NN_TMP/modprobe.log"; then
	nn_not_ok "modprobe wireguard (kernel $(uname -r))" "$(cat "$NN_TMP/modprobe.log")"
	nn_finish
	exit 1
fi

SCALE=${NN_TIME_SCALE:-1}
scaled() { awk -v v="$1" -v s="$SCALE" 'BEGIN { printf "%d", v * s }'; }
GW_IFACE=wg0
PINS=/sys/fs/bpf/nanami-test/wg0
STATE=$NN_TMP/state
K_BOB=6EutjYpzde0Mvv+qBAnAPAxWVjkaFaSUeTQLsBwxIko=
K_CAROL=aSRNyxI0PQiSjGoMWSFsyGfMXmO8/+0g9GPFm8Qd6m4=
K_AMS=65jPZjmK+lpqIAaX1n0FJEDBvSlkNnO4bsacj1Z50AU=

nn_node gw && nn_node alice && nn_link gw eth0 alice eth0 1 ||
	{ nn_not_ok "topology"; nn_finish; exit 1; }
(umask 077 && wg genkey >"$NN_TMP/alice1.key")
K_A1=$(wg pubkey <"$NN_TMP/alice1.key")

nn_in gw ip link add wg0 type wireguard &&
	nn_in gw ip addr add fd7a:6e61:6e61::1/48 dev wg0 nodad &&
	nn_in gw ip link set wg0 up &&
	nn_in alice ip link add wg0 type wireguard &&
	nn_in alice ip addr add fd7a:6e61:6e61:10::2/128 dev wg0 nodad &&
	nn_in alice ip link set wg0 up &&
	nn_in alice ip route add fd7a:6e61:6e61::/48 dev wg0 &&
	nn_in alice wg set wg0 private-key "$NN_TMP/alice1.key" ||
	{ nn_not_ok "kernel wg0 in gw and alice"; nn_finish; exit 1; }
# alice's side of the tunnel: the gateway on key $1 (default K_GW), as a
# fresh peer entry (no session); every other peer removed.
alice_peer() {
	local k
	for k in $(nn_in alice wg show wg0 peers); do nn_in alice wg set wg0 peer "$k" remove; done
	nn_in alice wg set wg0 peer "${1:-$K_GW}" endpoint '[fd00:99:1::1]:51820' \
		allowed-ips fd7a:6e61:6e61::/48
}

# The example, with alice-laptop on the key alice's wg0 runs; the control
# plane with its own CA; the gateway enrolled from a token (generation 8).
jq --arg k "$K_A1" \
		'(.tenants[].networks[].devices[] | select(.device_id == "alice-laptop") | .public_key) = $k' \
		"$EX" >"$NN_TMP/seed.json"
id_cp_start cp --state "$NN_TMP/cp.json" --seed-from "$NN_TMP/seed.json" ||
	{ nn_not_ok "control plane started" "$(tail -3 "$NN_TMP/cp.log")"; nn_finish; exit 1; }
if ! { id_token >"$NN_TMP/t.tok" &&
	id_enroll "$STATE" "$NN_TMP/t.tok" >"$NN_TMP/enroll.out" 2>&1; }; then
	nn_not_ok "gateway enrolled from a token" "$(tail -3 "$NN_TMP/enroll.out")"
	nn_finish
	exit 1
fi
K_GW=$(id_wg_pub "$STATE")
alice_peer
GWD_ARGS=(--iface wg0 --control-plane "$CP_URL" --bpffs "$PINS" --state-dir "$STATE" --nat off
	  --metrics-listen "$METRICS" --resync 2 --poll 30 "${CAPS[@]}")

gen_is() { [ "$(gwctl status | jq -r .generation)" = "$1" ]; }
peers() {	# "KEY AIP,AIP" per peer, sorted, one line
	nn_in gw wg show wg0 allowed-ips |
		while read -r k aips; do
			echo "$k $(echo "$aips" | tr ' ' '\n' | sort | paste -sd,)"
		done | sort | paste -sd' '
}
want() {	# the example's desired peers, alice on key $1, bob unless $2 = nobob
	{
		echo "$1 100.96.16.2/32,fd7a:6e61:6e61:10::2/128"
		[ "${2:-}" = nobob ] || echo "$K_BOB fd7a:6e61:6e61:10::3/128"
		echo "$K_CAROL 100.96.32.2/32,fd7a:6e61:6e61:20::2/128"
		echo "$K_AMS fd7a:6e61:6e61::2/128"
	} | sort | paste -sd' '
}
peers_are() { [ "$(peers)" = "$(want "$@")" ]; }
hs() { nn_in "$1" wg show wg0 latest-handshakes | awk -v k="$2" '$1 == k { print $2 }'; }
hs_set() { [ "$(hs "$1" "$2")" -gt 0 ] 2>/dev/null; }
poke() {	# a few probes from alice through the tunnel; replies do not matter
	nn_in alice "$WGTEST" --ping6 fd7a:6e61:6e61::1 --count 3 --wait-ms 300 >/dev/null 2>&1
	return 0
}
# wait_s SECONDS CMD...: poll CMD until it succeeds, for SECONDS of wall
# time (lib.sh's nn_wait_for counts polls, which emulation makes slow).
wait_s() {
	local end=$(($(nn_now_ms) + $1 * 1000))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(nn_now_ms)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
# The controller gone (a program the kernel refused, say): nothing after
# this can pass, so stop with its last words rather than time out check
# by check.
gwd_alive() {
	local pid
	pid=$(gwd_pid "$1") && kill -0 "$pid" 2>/dev/null && return 0
	nn_not_ok "nanami-gatewayd ($1) still running" "$(tail -5 "$NN_TMP/$1.log" | cut -c1-400)"
	nn_finish
	exit 1
}
# ms_until BOUND_S CMD...: milliseconds until CMD succeeds (polled every
# 20 ms), or 999999 after BOUND_S seconds.
ms_until() {
	local t0 end
	t0=$(nn_now_ms)
	end=$((t0 + $1 * 1000))
	shift
	while [ "$(nn_now_ms)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && { echo $(($(nn_now_ms) - t0)); return 0; }
		sleep 0.02
	done
	echo 999999
}

# ---- start: --wg auto on a kernel wg0 ----
gwd_start gwd
nn_check "generation 8 (the enrollment's) applied" wait_s "$(scaled 5)" gen_is 8
gwd_alive gwd
nn_check "--wg auto chose the kernel backend" \
	grep -q 'event=wg_mode iface=wg0 mode=genl' "$NN_TMP/gwd.log"
nn_check "peers exact after start: 4 peers, AllowedIPs /128 and /32 only" \
	wait_s "$(scaled 3)" peers_are "$K_A1"
nn_check "wg0 runs the enrolled key (wg.key)" test "$(nn_in gw wg show wg0 public-key)" = "$K_GW"
nn_check "listen port from the snapshot (51820)" test "$(nn_in gw wg show wg0 listen-port)" = 51820
nn_check "MTU from the snapshot (1420)" \
	test "$(nn_in gw ip -j link show wg0 | jq -r '.[0].mtu')" = 1420

# ---- a client's handshake in /metrics and gwctl devices ----
poke
nn_check "alice completes a handshake with the gateway" wait_s "$(scaled 5)" hs_set gw "$K_A1"
nn_check "metrics: alice-laptop's handshake age and bytes" wait_s "$(scaled 6)" eval \
	'metric "nanami_peer_handshake_age_seconds{peer=\"alice-laptop\"}" >/dev/null &&
	 [ "$(metric "nanami_peer_rx_bytes_total{peer=\"alice-laptop\"}")" -gt 0 ]'
dev=$(gwctl devices | jq -c '.devices[] | select(.id == "alice-laptop") | .wireguard')
nn_check "gwctl devices: alice's peer read through genl, handshake age and bytes ($dev)" \
	jq -en 'input | .backend == "genl" and .latest_handshake_age_s >= 0 and .rx_bytes > 0 and
	       (.endpoint | startswith("[fd00:99:1::2]:"))' <<<"$dev"

# ---- revocation ----
bound=$(scaled 1000)
cp_req PUT /admin/v1/devices/bob-phone/state '{"state":"disabled"}' >/dev/null
ms=$(ms_until "$(scaled 10)" sh -c "! nsenter --target ${NN_PID[gw]} --mount --net -- wg show wg0 peers | grep -q '$K_BOB'")
echo "# revocation_kernel_wg_ms=$ms (bound ${bound} ms, NN_TIME_SCALE=$SCALE)"
nn_check "revoked bob-phone removed from the kernel wg0 within ${bound} ms (${ms} ms)" \
	test "$ms" -le "$bound"
nn_check "and nothing else changed on wg0" peers_are "$K_A1" nobob

# ---- the gateway's own key rotation: cut over, no handshake on the old key ----
t0=$(nn_now_ms)
gwctl rotate-key --timeout "$(scaled 10)" >"$NN_TMP/rot.json" 2>&1
K_R=$(nn_in gw wg show wg0 public-key)
ms=$(($(nn_now_ms) - t0))
echo "# gateway_key_rotation_kernel_wg_ms=$ms (rotate-key)"
nn_check "rotate-key: approved; wg0 (genl) runs the new key the control plane holds (${ms} ms)" \
	sh -c "jq -e '.result.result == \"approved\"' '$NN_TMP/rot.json' && [ '$K_R' != '$K_GW' ] &&
	 [ '$K_R' = \"\$(jq -r .wg_public_key '$NN_TMP/rot.json')\" ] &&
	 [ '$K_R' = '$(id_cp_identity | jq -r .public_key)' ]"
nn_check "rotate-key: the peers stay (one set with the private key alone)" peers_are "$K_A1" nobob
alice_peer
poke
sleep "$(scaled 2)"
nn_check "old key after cutover: no handshake completes (alice's side)" \
	test "$(hs alice "$K_GW")" = 0
alice_peer "$K_R"
poke
nn_check "new key: handshake completes" wait_s "$(scaled 5)" hs_set alice "$K_R"
nn_check "new key: the gateway sees the handshake too" hs_set gw "$K_A1"

# ---- kill -9, restart: programs and wg0 adopted as they are ----
ids=$(prog_ids wg0)
hs_keep=$(hs gw "$K_A1")
gwd_kill gwd KILL
nn_check "SIGKILL: programs still attached" test "$(prog_ids wg0)" = "$ids"
gwd_start gwd2
nn_check "restart: generation 10 re-read from the control plane" wait_s "$(scaled 5)" gen_is 10
gwd_alive gwd2
nn_check "restart adopts the pinned programs: same ids ($ids)" test "$(prog_ids wg0)" = "$ids"
nn_check "restart: wg0 already exact, no change made" wait_s "$(scaled 5)" eval \
	'[ "$(metric nanami_wg_changes_total)" = 0 ] && peers_are "$K_A1" nobob'
nn_check "restart: alice's peer not re-created (handshake time kept: $hs_keep)" \
	test "$(hs gw "$K_A1")" = "$hs_keep"

# ---- --detach ----
gwd_kill gwd2 TERM
nn_check "--detach exits 0" nn_in gw "$GWD" --iface wg0 --bpffs "$PINS" --detach
nn_check "--detach: no program left on wg0" test "$(prog_ids wg0)" = "tc-ingress= tc-egress= xdp="
nn_check "--detach: pins removed" nn_in gw test ! -e "$PINS/nn_active"
nn_check "--detach: wg0's peers left alone" peers_are "$K_A1" nobob

nn_finish
