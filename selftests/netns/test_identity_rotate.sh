#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The gateway's own WireGuard key rotation (identity-v1.md), end to end on
# wireguard-go: an enrolled gateway, a client (alice) with a real tunnel to
# it, and the reference control plane with its CA.
#
#   alice (wireguard-go wg0) ──ul1── gw: wireguard-go wg0, nanami-gatewayd
#                                        --wg uapi, nanami-cp https (--ca-dir)
#
# Checked:
# - `nanami-gwctl rotate-key`: wg0 runs a new key; the control plane, wg.key,
#   node.json (generation 2) and the audit line agree; alice handshakes with
#   the new key, and a peer holding the old key gets no handshake at all
#   (the overlay spec's compliance test 5, for the gateway's own key). The
#   time from rotate-key to the first handshake on the new key is printed.
# - the control plane answering 409, 403 (rotation disabled), 500, garbage:
#   the key kept, no wg.key.next, nanami_key_rotation_failures_total counts;
#   500 after it took the key: the snapshot finishes the rotation; nothing
#   (connection closed): retried with backoff, then approved.
# - kill -9 after each step of the procedure (NN_TEST_ROTATE_CRASH_AT=1|2|3):
#   the restart converges to the key the control plane holds.
# - --key-lifetime: a key older than that is rotated on the schedule.
# - a snapshot naming a key we do not hold: refused, counted as an identity
#   error, key and generation kept.
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
# shellcheck source=selftests/netns/lib_ident.sh
source "$(dirname "$0")/lib_ident.sh"
lib_cp_need
for t in wireguard-go wg; do
	command -v $t >/dev/null || { nn_not_ok "$t installed (tools/install-deps.sh)"; nn_finish; exit 1; }
done

CP_PORT=8447
GW_IFACE=wg0
PINS=/sys/fs/bpf/nanami-test/wg0
S=$NN_TMP/state
AK=$(wg genkey)
AP=$(echo "$AK" | wg pubkey)

{ nn_node gw && nn_node alice && nn_link gw ul1 alice ul0 1; } || { nn_not_ok "topology"; exit 1; }
jq --arg k "$AP" '(.tenants[].networks[].devices[] | select(.device_id == "alice-laptop") |
	.public_key) = $k' "$EX" >"$NN_TMP/seed.json"
id_cp_start cp --state "$NN_TMP/cp.json" --seed-from "$NN_TMP/seed.json" ||
	{ nn_not_ok "control plane with its CA started" "$(tail -5 "$NN_TMP/cp.log")"; exit 1; }
id_token >"$NN_TMP/t.tok" && id_enroll "$S" "$NN_TMP/t.tok" >"$NN_TMP/enroll.out" 2>&1 ||
	{ nn_not_ok "gateway enrolled" "$(tail -3 "$NN_TMP/enroll.out")"; exit 1; }

for n in gw alice; do
	WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL=error nn_bg $n wggo-$n wireguard-go -f wg0
	nn_wait_for 5 nn_in $n test -S /run/wireguard/wg0.sock || { nn_not_ok "wireguard-go on $n"; exit 1; }
done
nn_in gw ip addr add fd7a:6e61:6e61::1/48 dev wg0 nodad
nn_in gw ip link set wg0 up
nn_in alice ip addr add fd7a:6e61:6e61:10::2/128 dev wg0 nodad
nn_in alice ip link set wg0 up
echo "$AK" >"$NN_TMP/alice.key"

GWD_ARGS=(--iface wg0 --control-plane "$CP_URL" --state-dir "$S" --bpffs "$PINS" --wg uapi
	  --nat off --metrics-listen "$METRICS" --resync 2 --poll 1 "${CAPS[@]}")
RUN=0
start_gwd() {	# [ENV=VALUE...]: a new controller run; waits until it applied
	RUN=$((RUN + 1))
	nn_bg gw "gwd$RUN" env "$@" "$GWD" "${GWD_ARGS[@]}"
	nn_wait_for 10 gwd_applied
}
gwd_applied() { gwctl status 2>/dev/null | jq -e '.controller.sync.applied_generation > 0'; }
gw_pub() { nn_in gw wg show wg0 public-key; }
cp_pub() { id_cp_identity | jq -r .public_key; }
cp_kgen() { id_cp_identity | jq -r .key_generation; }
ident() { gwctl status | jq -c ".controller.identity$1"; }
# The state the procedure must end in: one key everywhere, no wg.key.next.
converged() {
	local p
	p=$(gw_pub) && [ -n "$p" ] && [ "$p" = "$(id_wg_pub "$S")" ] && [ "$p" = "$(cp_pub)" ] &&
		[ ! -e "$S/wg.key.next" ] && [ "$(jq .key_generation "$S/node.json")" = "$(cp_kgen)" ]
}
alice_peer() {	# KEY: alice's only peer is the gateway with KEY
	local old
	for old in $(nn_in alice wg show wg0 peers); do nn_in alice wg set wg0 peer "$old" remove; done
	nn_in alice wg set wg0 private-key "$NN_TMP/alice.key" peer "$1" \
		endpoint "[fd00:99:1::1]:51820" allowed-ips fd7a:6e61:6e61::1/128 persistent-keepalive 1
}
alice_hs() { nn_in alice wg show wg0 latest-handshakes | awk -v k="$1" '$1 == k { print $2 }'; }
alice_handshaked() { [ "$(alice_hs "$1")" -gt 0 ] 2>/dev/null; }
failures() { metric nanami_key_rotation_failures_total; }

start_gwd || { nn_not_ok "controller applied on the enrolled state dir" "$(tail -5 "$NN_TMP/gwd1.log")"; exit 1; }
K1=$(gw_pub)
nn_check "start: wg0 runs wg.key (the enrolled key the control plane holds)" converged
alice_peer "$K1"
nn_check "start: alice handshakes with the gateway" nn_wait_for 10 alice_handshaked "$K1"

# ---- rotate-key ----
t0=$(nn_now_ms)
if gwctl rotate-key >"$NN_TMP/rot.json" 2>&1 && jq -e '.result.result == "approved"' "$NN_TMP/rot.json" >/dev/null; then
	nn_ok "rotate-key: approved"
else
	nn_not_ok "rotate-key: approved" "$(cat "$NN_TMP/rot.json")"
fi
t_cut=$(nn_now_ms)
K2=$(gw_pub)
nn_check "rotate-key: wg0 runs a new key, held by the control plane, in wg.key; no wg.key.next" \
	sh -c "[ '$K2' != '$K1' ] && [ '$K2' = '$(cp_pub)' ] && [ '$K2' = '$(id_wg_pub "$S")' ] && [ ! -e '$S/wg.key.next' ]"
nn_check "rotate-key: key generation 2 in node.json, at the control plane and in the status" sh -c \
	"[ \"\$(jq .key_generation '$S/node.json')\" = 2 ] && [ '$(cp_kgen)' = 2 ] && [ '$(ident .key_generation)' = 2 ]"
nn_check "rotate-key: audit node.key_rotated (old and new fingerprints, generation 2)" \
	jq -se --arg o "$(printf '%s' "$K1" | base64 -d | sha256sum | cut -c1-16)" \
	--arg n "$(printf '%s' "$K2" | base64 -d | sha256sum | cut -c1-16)" \
	'[.[] | select(.event == "node.key_rotated")] | length == 1 and .[0].old_fingerprint == $o and
	 .[0].new_fingerprint == $n and .[0].key_generation == 2' "$ID_AUDIT"
alice_peer "$K2"
if nn_wait_for 10 alice_handshaked "$K2"; then
	t1=$(nn_now_ms)
	nn_ok "cutover: alice handshakes with the new key"
	echo "# figure: rotate-key to first handshake on the new key: $((t1 - t0)) ms (rotate-key itself $((t_cut - t0)) ms)"
else
	nn_not_ok "cutover: alice handshakes with the new key"
fi
alice_peer "$K1"
sleep 6	# one initiation goes out at once, a retry after 5 s
nn_check "cutover: the old key is not accepted (no handshake in 6 s)" test "$(alice_hs "$K1")" = 0
alice_peer "$K2"
nn_check "cutover: no rotation failure counted" test "$(failures)" = 0

# ---- refusals and errors ----
refused_case() {	# NAME WANT-RESULT: rotate-key fails, the key and generation stay
	local name=$1 want=$2 f0 k0 g0
	f0=$(failures) k0=$(gw_pub) g0=$(cp_kgen)
	if gwctl rotate-key >"$NN_TMP/rot.json" 2>&1; then
		nn_not_ok "$name: rotate-key fails" "$(cat "$NN_TMP/rot.json")"
		return
	fi
	if ! jq -e --arg w "$want" '.error | contains($w)' "$NN_TMP/rot.json" >/dev/null; then
		nn_not_ok "$name: rotate-key fails with '$want' (JSON error)" "$(cat "$NN_TMP/rot.json")"
		return
	fi
	if nn_wait_for 5 converged && [ "$(gw_pub)" = "$k0" ] && [ "$(cp_kgen)" = "$g0" ] &&
		[ "$(failures)" = $((f0 + 1)) ]; then
		nn_ok "$name: key kept, no wg.key.next, one failure counted"
	else
		nn_not_ok "$name: key kept, no wg.key.next, one failure counted" \
			"key $(gw_pub) (was $k0), failures $(failures) (was $f0), next $(ls "$S")"
	fi
}
cp_fault 409 rotate 1
refused_case "control plane answers 409" "refused: HTTP 409"
cp_req PUT /admin/v1/nodes/gw-fra-1/rotation '{"allowed": false}' >/dev/null
refused_case "rotation disabled (403)" "refused: HTTP 403"
cp_req PUT /admin/v1/nodes/gw-fra-1/rotation '{"allowed": true}' >/dev/null
cp_fault 500 rotate 1
refused_case "control plane answers 500 (it kept the key)" "abandoned"
cp_fault malformed rotate 1
refused_case "control plane answers garbage (it kept the key)" "abandoned"

f0=$(failures)
cp_req POST /admin/v1/fault '{"mode":"500","target":"rotate","count":1,"apply":true}' >/dev/null
if gwctl rotate-key >"$NN_TMP/rot.json" 2>&1 && jq -e '.result.result == "finished"' "$NN_TMP/rot.json" >/dev/null; then
	nn_ok "500 after the control plane took the key: its snapshot finishes the rotation"
else
	nn_not_ok "500 after the control plane took the key: its snapshot finishes the rotation" "$(cat "$NN_TMP/rot.json")"
fi
nn_check "500 after taking it: converged on generation 3, one failure counted" sh -c \
	"[ '$(cp_kgen)' = 3 ] && [ \"\$(jq .key_generation '$S/node.json')\" = 3 ] && [ '$(failures)' = $((f0 + 1)) ]"
nn_check "500 after taking it: one key everywhere" converged

f0=$(failures)
k0=$(gw_pub)
# Two: libcurl resends once by itself on a reused connection closed without a byte.
cp_fault nothing rotate 2
if gwctl rotate-key >"$NN_TMP/rot.json" 2>&1 && jq -e '.result.result == "approved"' "$NN_TMP/rot.json" >/dev/null; then
	nn_ok "no answer (connection closed): retried with backoff, then approved"
else
	nn_not_ok "no answer (connection closed): retried with backoff, then approved" "$(cat "$NN_TMP/rot.json")"
fi
nn_check "no answer: new key everywhere, one failure counted" sh -c \
	"[ '$(gw_pub)' != '$k0' ] && [ '$(failures)' = $((f0 + 1)) ]"
nn_check "no answer: converged" converged
nn_check "faults: the log says transport_error, then approved" \
	grep -q 'event=key_rotation result=transport_error' "$NN_TMP/gwd1.log"

# ---- kill -9 after each step ----
for step in 1 2 3; do
	gwd_kill "gwd$RUN"
	k0=$(gw_pub)
	g0=$(cp_kgen)
	if ! start_gwd NN_TEST_ROTATE_CRASH_AT=$step; then
		nn_not_ok "crash at step $step: controller started" "$(tail -3 "$NN_TMP/gwd$RUN.log")"
		continue
	fi
	pid=$(gwd_pid "gwd$RUN")
	gwctl rotate-key --no-wait >/dev/null
	# Reaped here (no job notice); a controller that never dies is
	# stopped by the guard with SIGTERM, which the check below tells apart.
	(sleep $((15 * NN_TIME_SCALE)); kill -TERM "$pid" 2>/dev/null) &
	guard=$!
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	kill "$guard" 2>/dev/null
	{ wait "$guard"; } 2>/dev/null
	if [ "$rc" != 137 ]; then
		nn_not_ok "crash at step $step: the controller died of SIGKILL" "exit status $rc"
		continue
	fi
	nn_check "crash at step $step: wg.key.next left on disk" test -e "$S/wg.key.next"
	start_gwd || { nn_not_ok "crash at step $step: restarted"; continue; }
	nn_check "crash at step $step: the restart converges" nn_wait_for 10 converged
	if [ $step = 1 ]; then
		nn_check "crash at step 1 (before the request): abandoned, key and generation kept" sh -c \
			"[ '$(gw_pub)' = '$k0' ] && [ '$(cp_kgen)' = '$g0' ] && [ '$(ident .last_rotation.result)' = '\"abandoned\"' ]"
	else
		nn_check "crash at step $step (approved): finished, the new key on wg0" sh -c \
			"[ '$(gw_pub)' != '$k0' ] && [ '$(cp_kgen)' = $((g0 + 1)) ] && [ '$(ident .last_rotation.result)' = '\"finished\"' ]"
	fi
done

# ---- --key-lifetime ----
gwd_kill "gwd$RUN"
k0=$(gw_pub)
touch -d '3 days ago' "$S/wg.key"
GWD_ARGS+=(--key-lifetime 2)
start_gwd || nn_not_ok "--key-lifetime: controller started"
nn_check "--key-lifetime 2 with a 3-day-old key: rotated on the schedule" \
	nn_wait_for 10 sh -c "[ \"\$(nsenter --target ${NN_PID[gw]} --mount --net -- wg show wg0 public-key)\" != '$k0' ]"
nn_check "--key-lifetime: converged" nn_wait_for 5 converged
nn_check "--key-lifetime: the status says trigger schedule" \
	test "$(ident .last_rotation.trigger)" = '"schedule"'

# ---- a snapshot naming a key we do not hold ----
gen0=$(gwctl status | jq .controller.sync.applied_generation)
k0=$(gw_pub)
SNAP=$(cp_req GET /api/v1/gateways/gw-fra-1/assignments | jq --arg k "$(wg genkey | wg pubkey)" \
	'.gateway.public_key = $k | .generation += 1')
cp_req PUT /admin/v1/snapshot "$SNAP" >/dev/null
nn_check "identity error: metric key_mismatch > 0" \
	nn_wait_for 10 sh -c "nsenter --target ${NN_PID[gw]} --mount --net -- curl -s http://$METRICS/metrics | grep -q '^nanami_identity_errors_total{kind=\"key_mismatch\"} [1-9]'"
nn_check "identity error: the snapshot refused, generation and key kept" sh -c \
	"[ \"\$(nsenter --target ${NN_PID[gw]} --mount --net -- '$GWCTL' --iface wg0 --bpffs $PINS -j status | jq .controller.sync.applied_generation)\" = '$gen0' ] && [ '$(gw_pub)' = '$k0' ]"
nn_check "identity error: status last_error kind key_mismatch" test "$(ident .last_error.kind)" = '"key_mismatch"'
nn_finish
