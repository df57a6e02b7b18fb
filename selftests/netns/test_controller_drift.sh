#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
# nn-test: long (about 30 s or more: selftests/run.sh starts it first)
#
# The drift check on its worker thread (issue 13; docs/controller.md "The
# drift check on a worker thread"), through the real controller and the
# reference control plane:
#
#   node gw: veth eth0 (TC), nanami-cp seeded with a 300-device synthetic
#            snapshot, nanami-gatewayd --wg none --resync 1, every drift
#            check's worker held 3 s (NN_TEST_DRIFT_DELAY_MS, a test hook)
#
# 1. Changes while a check runs: a revocation, an addition and a deletion
#    arrive after the check started; each is enforced (nn_meta names the
#    control plane's generation) while the worker still holds its check --
#    the loop is not blocked by it -- and the check ends without finding
#    anything to repair (pass, or stale when only counter slots were read
#    after the changes); the next check passes.
# 2. A real drift while a revocation arrives: a device's nn_addrs entry is
#    deleted from the live half behind the controller's back; the next
#    check is held, a device is revoked meanwhile (fast path, enforced at
#    once, its keys written into the half the worker reads); the worker's
#    read of the maps finds the deletion and only it (the loop filters out
#    its own writes), and the repair re-applies what is
#    enforced then: the deleted entry is back in both halves, and the
#    revoked device is disabled in the live half at every sample from its
#    revocation to two checks later -- a repair that applied the check's
#    own (older) generation would re-admit it (tried: this test fails).
#    The next check passes.
# 3. SIGTERM while a worker holds a check: the controller exits 0 within
#    the test's bound (no hang), the maps stay enforcing.
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need

PINS=/sys/fs/bpf/nanami-test/drift
GW_IFACE=eth0
NODE=gw-bench
SNAP=$NN_TMP/seed.json
LOG=$NN_TMP/gwd.log
HOLD_MS=3000

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }
"$NN_BUILD/nn-microbench" policy -n 300 -o "$SNAP" >/dev/null || { nn_not_ok "snapshot"; exit 1; }
if ! cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$SNAP"; then
	nn_not_ok "control plane started" "$(tail -3 "$NN_TMP/cp.log")"
	exit 1
fi
GWD_ARGS=(--iface eth0 --control-plane "$CP_URL" --node-id $NODE --bpffs "$PINS"
	  --state-dir "$NN_TMP/state" --wg none --nat off --metrics-listen "$METRICS"
	  --max-devices 512 --max-rules 512 --max-prefixes 2048 --max-cells 8192
	  --max-flows 4096 --max-nodes 16 --resync 1 --poll 30 --verbose)

snapshot() { cp_req GET /api/v1/gateways/$NODE/assignments; }
gen_is() { [ "$(meta_gen)" = "$1" ]; }
n_of() { grep -c "$1" "$LOG"; }
# Devices no rule names: their changes take the fast path.
FREE=($(jq -r '[.tenants[].networks[] | (.acl | tostring) as $a | .devices[] | .device_id as $i |
	select(($a | contains("\"" + $i + "\"")) | not) | $i][:40][]' "$SNAP"))
[ "${#FREE[@]}" -gt 10 ] || { nn_not_ok "the snapshot has devices no rule names"; exit 1; }
dev_obj() { snapshot | jq -c --arg d "$1" '[.tenants[].networks[].devices[] | select(.device_id == $d)][0]'; }
dev_net() {
	snapshot | jq -r --arg d "$1" \
		'[.tenants[].networks[] | select(any(.devices[]; .device_id == $d)) | .network_id][0]'
}
# The overlay IPv6 address of device $1 as bpftool's key bytes (JSON array).
addr_bytes() {
	python3 -c "import ipaddress,sys; print(list(ipaddress.IPv6Address(sys.argv[1]).packed))" \
		"$(dev_obj "$1" | jq -r .overlay_ipv6)"
}
addrs() { nn_in gw bpftool -j map dump pinned "$PINS/nn_addrs"; }
# The state (1 active, 2 disabled) of key bytes $1 in slot $2 ("" if absent).
state_in() {
	addrs | jq -r --argjson a "$1" --argjson s "$2" \
		'[.[] | select(.formatted.key.slot == $s and .formatted.key.addr == $a) |
		  .formatted.value.state][0] // ""'
}
live() { echo $(($(active_epoch) & 1)); }
# A check that started after line count $1 of drift_check_started has ended.
checks_ended() { [ "$(n_of 'event=drift_checked')" -ge "$1" ]; }

nn_bg "$CP_NODE" gwd env NN_TEST_DRIFT_DELAY_MS=$HOLD_MS "$GWD" "${GWD_ARGS[@]}"
nn_check "controller applies generation $(cp_gen)" nn_wait_for 20 gen_is "$(cp_gen)"
nn_check "kept state built" nn_wait_for 10 grep -q 'event=kept_state_built' "$LOG"
nn_check "a drift check ran on the worker and passed" \
	nn_wait_for 15 grep -q 'event=drift_checked result=pass' "$LOG"

# ---- 1. changes while a check runs ----
s0=$(n_of 'event=drift_check_started')
nn_wait_for 10 sh -c "[ \$(grep -c event=drift_check_started '$LOG') -gt $s0 ]" ||
	{ nn_not_ok "a check started"; nn_finish; }
e0=$(n_of 'event=drift_checked')
A=${FREE[2]}
cp_req PUT "/admin/v1/devices/$A/state" '{"state":"disabled"}' >/dev/null
g=$(cp_gen)
t0=$(date +%s%N)
nn_wait_for 2 gen_is "$g"
ms=$((($(date +%s%N) - t0) / 1000000))
nn_check "revocation of $A enforced in ${ms} ms while the worker holds its check (${HOLD_MS} ms)" \
	test "$(n_of 'event=drift_checked')" = "$e0" -a "$ms" -lt 1500
o=$(dev_obj "${FREE[3]}" | jq -c '.device_id = "drift-new" | .public_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpBQkNERUY=" |
	.overlay_ipv6 = "fd7a:6e61:6e61:fffe::1" | .overlay_ipv4 = "100.126.0.1" | .state = "active"')
cp_req PUT "/admin/v1/networks/$(dev_net "${FREE[3]}")/devices/drift-new" "$o" >/dev/null
cp_req DELETE "/admin/v1/devices/${FREE[4]}" >/dev/null
g=$(cp_gen)
nn_check "an addition and a deletion enforced during the same check" nn_wait_for 2 gen_is "$g"
nn_check "... before the check ended" test "$(n_of 'event=drift_checked')" = "$e0"
nn_check "the check ends" nn_wait_for 10 checks_ended $((e0 + 1))
r=$(grep 'event=drift_checked' "$LOG" | sed -n "$((e0 + 1))p" | grep -oE 'result=[a-z]+')
echo "# the check that overlapped the changes: $r"
nn_check "... without a repair (pass, or stale slots)" \
	test "$r" = result=pass -o "$r" = result=stale
nn_check "the next check passes" nn_wait_for 15 \
	sh -c "grep event=drift_checked '$LOG' | tail -n +$((e0 + 2)) | grep -q result=pass"
nn_check "no difference found so far (event=drift_found)" sh -c "! grep -q event=drift_found '$LOG'"
nn_check "$A disabled in the live half" test "$(state_in "$(addr_bytes "$A")" "$(live)")" = 2

# ---- 2. a real drift while a revocation arrives ----
B=${FREE[5]} C=${FREE[6]}
BB=$(addr_bytes "$B") CB=$(addr_bytes "$C")
# Just after a check's handoff: its worker holds for HOLD_MS, then reads
# the maps -- after the deletion and the revocation below.
s2=$(n_of 'event=drift_check_started')
nn_wait_for 10 sh -c "[ \$(grep -c event=drift_check_started '$LOG') -gt $s2 ]" ||
	nn_not_ok "a check started"
e2=$(n_of 'event=drift_checked')
l=$(live)
hex=$(python3 -c "import json,sys; print(' '.join('%02x' % b for b in json.loads(sys.argv[1])))" "$BB")
nn_check "$B's nn_addrs entry deleted from the live slot ($l) behind the controller's back" \
	nn_in gw bpftool map delete pinned "$PINS/nn_addrs" key hex 0$l 00 00 00 $hex
cp_req PUT "/admin/v1/devices/$C/state" '{"state":"disabled"}' >/dev/null
g=$(cp_gen)
nn_check "$C revoked during that check: enforced" nn_wait_for 3 gen_is "$g"
nn_check "... before the check ended" test "$(n_of 'event=drift_checked')" = "$e2"
# C must read disabled in the live half at every sample from here to two
# checks later (the repair, and the check after it).
bad=0 samples=0
while ! checks_ended $((e2 + 2)); do
	st=$(state_in "$CB" "$(live)")
	samples=$((samples + 1))
	[ "$st" = 2 ] || { bad=1; echo "# sample $samples: $C state '$st' in the live half"; }
	[ $samples -lt 150 ] || break
	nn_nap 0.1
done
nn_check "the worker's read of the maps found the deletion, not the revocation (map_differ=1)" \
	grep -qE 'event=drift_found .*map_differ=1 ' "$LOG"
nn_check "the repair's record check on the loop saw it too (event=policy_maps_drift)" \
	grep -q 'event=policy_maps_drift' "$LOG"
nn_check "the repair re-applied what was enforced then (generation $g)" \
	grep -qE "event=applied .*trigger=drift .*generation=$g " "$LOG"
nn_check "$C disabled in the live half at every one of $samples samples through the repair" \
	test $bad = 0 -a $samples -gt 3
nn_check "$B's entry is back in both halves" \
	test "$(state_in "$BB" 0)" = 1 -a "$(state_in "$BB" 1)" = 1
nn_check "the check after the repair passes" \
	nn_wait_for 15 sh -c "grep event=drift_checked '$LOG' | tail -n +$((e2 + 2)) | grep -q result=pass"
nn_check "nn_meta names the control plane's generation" gen_is "$(cp_gen)"
nn_check "nanami_drift_checks_total{result=\"repair\"} counted it" \
	test "$(metric 'nanami_drift_checks_total{result="repair"}')" -ge 1

# ---- 3. SIGTERM while a worker holds a check ----
e3=$(n_of 'event=drift_check_started')
nn_wait_for 10 sh -c "[ \$(grep -c event=drift_check_started '$LOG') -gt $e3 ]"
t0=$(date +%s%N)
nn_check "SIGTERM during a held check: the controller exits" gwd_kill gwd TERM
ms=$((($(date +%s%N) - t0) / 1000000))
nn_check "... in ${ms} ms, status $(gwd_wait_rc gwd)" test "$ms" -lt 4000
nn_check "the maps still name generation $(cp_gen)" gen_is "$(cp_gen)"
nn_in gw "$GWD" --iface eth0 --bpffs "$PINS" --detach >/dev/null 2>&1
nn_finish
