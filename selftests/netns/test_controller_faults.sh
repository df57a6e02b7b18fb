#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: long (about 30 s or more: selftests/run.sh starts it first)
#
# Faults of the controller's inputs keep the old state enforced and are
# reported: control plane down at start with and without a last-known-good,
# killed mid-stream, HTTP 500, truncated / malformed / duplicate-key /
# 100000-deep / oversized responses, an older generation, conflicting
# assignments (an address used twice, overlapping tenant prefixes, a
# cross-tenant ACL reference), a wrong node_id, a torn or corrupt
# last-known-good file, and a full map (an apply failure: retried, not a
# rejection).
#
#   +-----------------------------------------------------------+
#   | node gw (own netns + mount ns, private bpffs)             |
#   |                                                           |
#   |  nanami-cp http://127.0.0.1:8443 (--admin, fault API)     |
#   |       ^                                                   |
#   |  nanami-gatewayd --wg none --metrics-listen 127.0.0.1:9108|
#   |       |  TC ingress/egress, pins /sys/fs/bpf/nanami-test/ |
#   |       v                                                   |
#   |  eth0 (veth, Ethernet framing) ------------------------------ eth0  node c
#   +-----------------------------------------------------------+
#
# "Still enforcing" is checked on what the programs use: nn_active's epoch,
# gwctl status's generation and an explain verdict. "Reported" is a counter
# on --metrics-listen (nanami_validation_errors_total) or, for transport
# failures (500, truncated, unreachable), the control-plane state and
# nanami_seconds_since_last_sync, plus the log line naming the error.
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need

GW_IFACE=eth0
PINS=/sys/fs/bpf/nanami-test/a
BOB=fd7a:6e61:6e61:10::3
ALICE=fd7a:6e61:6e61:10::2
CAROL=fd7a:6e61:6e61:20::2
SA=$NN_TMP/state-a

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }
base_args() {	# PIN_DIR STATE_DIR
	GWD_ARGS=(--iface eth0 --control-plane "$CP_URL" --node-id gw-fra-1 --bpffs "$1"
		  --state-dir "$2" --wg none --nat off --metrics-listen "$METRICS" "${CAPS[@]}")
}
gen() { gwctl status | jq -r .generation; }
gen_is() { [ "$(gen)" = "$1" ]; }
cp_state_is() { [ "$(metric "nanami_control_plane_state{state=\"$1\"}")" = 1 ]; }
verr() { metric nanami_validation_errors_total; }
# The enforced state in one line: generation, epoch, one verdict per device.
enforced() {
	echo "gen=$(gen) epoch=$(active_epoch) bob=$(verdict $BOB fd00:acc:1::1 tcp 443)"
}
log_has() { grep -q -- "$2" "$NN_TMP/$1.log"; }

# ---- control plane down at start, no last-known-good: deny everything ----
base_args "$PINS" "$SA"
gwd_start g1 --resync 2 --poll 1 --max-snapshot-mb 16
nn_check "CP down, no LKG: programs attached anyway" nn_wait_for 5 sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- bpftool -j net show dev eth0 |
	 jq -en 'input | [.[0].tc[] | .kind] | index(\"clsact/ingress\") != null'"
nn_check "CP down, no LKG: nn_active epoch 0" test "$(active_epoch)" = 0
nn_check "CP down, no LKG: a device's packet dropped as spoof (epoch 0)" \
	test "$(reason $BOB fd00:acc:1::1 tcp 443)" = spoof
nn_check "CP down, no LKG: control plane state down" nn_wait_for 3 cp_state_is down
nn_check "CP down, no LKG: the log says everything is denied" \
	log_has g1 'event=no_snapshot .*everything from the overlay is denied'
cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$EX" \
	--oversize-mb 20 || { nn_not_ok "control plane started"; exit 1; }
nn_check "CP comes up: generation 7 applied by polling" nn_wait_for 5 gen_is 7
nn_check "CP comes up: bob-phone passes" test "$(verdict $BOB fd00:acc:1::1 tcp 443)" = pass
nn_check "last-known-good written" nn_in gw test -s "$SA/last-good.snapshot"
gwd_kill g1 TERM

# ---- control plane down at start with a last-known-good (fresh pins) ----
cp_stop cp
PINS=/sys/fs/bpf/nanami-test/b
base_args "$PINS" "$SA"
gwd_start g2 --resync 2 --poll 1 --max-snapshot-mb 16
nn_check "CP down, LKG: gwctl status shows the LKG's generation 7" nn_wait_for 5 gen_is 7
nn_check "CP down, LKG: bob-phone passes, carol-desktop passes" \
	test "$(verdict $BOB fd00:acc:1::1 tcp 443) $(verdict $CAROL fd00:6b0::1 tcp 443)" = "pass pass"
nn_check "CP down, LKG: control plane state down" nn_wait_for 3 cp_state_is down
gwd_kill g2 TERM

# ---- torn and corrupt last-known-good: ignored, pinned state kept ----
before=$(echo "gen=$(gen) epoch=$(active_epoch)")
cp "$SA/last-good.snapshot" "$NN_TMP/lkg.good"
head -c 300 "$NN_TMP/lkg.good" >"$SA/last-good.snapshot"
gwd_start g3 --resync 2 --poll 1 --max-snapshot-mb 16
nn_check "torn LKG: clear message at start" nn_wait_for 10 \
	log_has g3 'event=lkg_ignored .*reason=.*torn'
nn_check "torn LKG: the pinned generation stays enforced ($before)" \
	test "$(echo "gen=$(gen) epoch=$(active_epoch)")" = "$before"
gwd_kill g3 TERM
sed 's/"acme-prod"/"acme-prox"/' "$NN_TMP/lkg.good" >"$SA/last-good.snapshot"
gwd_start g4 --resync 2 --poll 1 --max-snapshot-mb 16
nn_check "corrupt LKG (same length, other bytes): checksum mismatch reported" nn_wait_for 10 \
	log_has g4 'event=lkg_ignored .*reason=.*checksum'
nn_check "corrupt LKG: the pinned generation stays enforced ($before)" \
	test "$(echo "gen=$(gen) epoch=$(active_epoch)")" = "$before"
gwd_kill g4 TERM
cp "$NN_TMP/lkg.good" "$SA/last-good.snapshot"

# ---- killed mid-stream ----
cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --oversize-mb 20
gwd_start g5 --resync 2 --poll 1 --max-snapshot-mb 16
nn_check "stream up" nn_wait_for 5 cp_state_is stream
ref=$(enforced)
cp_kill cp
nn_check "CP killed mid-stream: state down" nn_wait_for 4 cp_state_is down
nn_check "CP killed mid-stream: still enforcing ($ref)" test "$(enforced)" = "$ref"
nn_check "CP killed mid-stream: unreachable reported" log_has g5 'event=control_plane_unreachable'
cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --oversize-mb 20
nn_check "CP back: stream again" nn_wait_for 5 cp_state_is stream
gwd_kill g5 TERM

# ---- faulty responses, stream up: every fetch gets the fault ----
gwd_start g6 --resync 2 --poll 1 --max-snapshot-mb 16
nn_wait_for 5 cp_state_is stream
ref=$(enforced)
flip=disabled
bump() {	# a change on the control plane: an event, then a fetch
	flip=$([ $flip = disabled ] && echo active || echo disabled)
	cp_req PUT /admin/v1/devices/carol-old-laptop/state "{\"state\":\"$flip\"}" >/dev/null
}
verr_above() { [ "$(verr)" -gt "$1" ]; }
since_sync_ge() { [ "$(metric nanami_seconds_since_last_sync)" -ge "$1" ]; }
for mode in malformed dupkey deep oversized; do
	v0=$(verr)
	cp_fault $mode assignments 0
	bump
	nn_check "$mode response: nanami_validation_errors_total moves" nn_wait_for 4 verr_above "$v0"
	nn_check "$mode response: previous generation still enforced" test "$(enforced)" = "$ref"
done
log_has g6 'event=snapshot_rejected .*invalid JSON' &&
log_has g6 'event=snapshot_rejected .*larger than' &&
	nn_ok "bad JSON and oversized bodies: the log names the reason" ||
	nn_not_ok "bad JSON and oversized bodies: the log names the reason"
for mode in 500 truncated; do
	cp_fault $mode assignments 0
	bump
	sleep 1
	nn_check "$mode response: previous generation still enforced" test "$(enforced)" = "$ref"
done
nn_check "500 and truncated responses: reported (control_plane_unreachable, HTTP 500)" \
	log_has g6 'event=control_plane_unreachable .*HTTP 500'
nn_check "failing fetches: nanami_seconds_since_last_sync grows past the resync interval" \
	nn_wait_for 4 since_sync_ge 3
cp_fault none all 0
g=$(cp_gen)
nn_check "faults cleared: the next resync catches up (generation $g)" nn_wait_for 4 gen_is "$g"
ref=$(enforced)

# ---- an older generation (a control plane restored from a backup) ----
v0=$(verr)
cp_req PUT "/admin/v1/snapshot?force_generation=5" "$(cat "$EX")" >/dev/null
nn_check "older generation 5: rejected (validation error counted)" nn_wait_for 4 verr_above "$v0"
nn_check "older generation 5: previous generation still enforced" test "$(enforced)" = "$ref"
nn_check "older generation 5: the log names the generations" \
	log_has g6 "event=snapshot_rejected .*generation 5 is older than the applied generation $g"
G=$((g + 10))

# ---- conflicting assignments (the control plane does not validate) ----
# Overlapping resource prefixes across tenants: rejected as a whole.
v0=$(verr)
jq '(.tenants[1].networks[0].resources[0].prefixes) = ["fd00:acc::/64"]' "$EX" >"$NN_TMP/overlap.json"
cp_req PUT "/admin/v1/snapshot?force_generation=$G" "$(cat "$NN_TMP/overlap.json")" >/dev/null
nn_check "overlapping tenant prefixes: validation error counted" nn_wait_for 4 verr_above "$v0"
nn_check "overlapping tenant prefixes: rejected whole, previous generation enforced" \
	test "$(enforced)" = "$ref"
# The same address twice: both devices dropped, the rest applies.
G=$((G + 1))
v0=$(verr)
jq --arg a "$BOB" '(.tenants[1].networks[0].devices[0].overlay_ipv6) = $a' "$EX" >"$NN_TMP/dup.json"
cp_req PUT "/admin/v1/snapshot?force_generation=$G" "$(cat "$NN_TMP/dup.json")" >/dev/null
nn_check "address used twice: the rest applies (generation $G)" nn_wait_for 4 gen_is $G
nn_check "address used twice: validation error counted" verr_above "$v0"
nn_check "address used twice: both devices gone from the live slot" test "$(gwctl devices |
	jq -r '[.devices[] | select(.id == "bob-phone" or .id == "carol-desktop")] | length')" = 0
nn_check "address used twice: its packets dropped (explain: $(reason $BOB fd00:acc:1::1 tcp 443))" \
	test "$(verdict $BOB fd00:acc:1::1 tcp 443)" = drop
nn_check "address used twice: alice-laptop still passes" \
	test "$(verdict $ALICE fd00:acc::1 tcp 5432)" = pass
# A rule naming another tenant's device: that rule dropped, the rest applies.
G=$((G + 1))
v0=$(verr)
jq '.tenants[0].networks[0].acl += [{"rule_id": "x-tenant", "action": "allow", "src": "*",
	"dst": {"devices": ["carol-desktop"]}, "proto": "tcp", "ports": ["22"]}]' "$EX" >"$NN_TMP/xt.json"
cp_req PUT "/admin/v1/snapshot?force_generation=$G" "$(cat "$NN_TMP/xt.json")" >/dev/null
nn_check "cross-tenant rule: the rest applies (generation $G)" nn_wait_for 4 gen_is $G
nn_check "cross-tenant rule: validation error counted" verr_above "$v0"
nn_check "cross-tenant rule: dropped from the live rules, the others kept" test "$(gwctl rules |
	jq -r '[.. | objects | select(has("rule_id") or has("id")) | (.rule_id // .id)] | sort | unique | join(",")')" \
	= "all-web,eng-db,no-smtp,ops-files,ping-peers"
nn_check "cross-tenant rule: bob-phone and carol-desktop pass again" \
	test "$(verdict $BOB fd00:acc:1::1 tcp 443) $(verdict $CAROL fd00:6b0::1 tcp 443)" = "pass pass"
gwd_kill g6 TERM

# ---- a wrong node_id (file source: the control plane always names the
# gateway it serves) ----
ref=$(enforced)
jq --argjson g $((G + 1)) '.generation = $g | .node_id = "gw-ams-1"' "$EX" >"$NN_TMP/file.json"
GWD_ARGS=(--iface eth0 --assignments "$NN_TMP/file.json" --node-id gw-fra-1 --bpffs "$PINS"
	  --state-dir "$SA" --wg none --nat off --metrics-listen "$METRICS" "${CAPS[@]}")
gwd_start g7 --resync 2
nn_check "wrong node_id: rejected (validation error counted)" nn_wait_for 4 verr_above 0
nn_check "wrong node_id: the log names node_id" log_has g7 'event=snapshot_rejected .*node_id'
nn_check "wrong node_id: previous generation still enforced" test "$(enforced)" = "$ref"
gwd_kill g7 TERM

# ---- a map that cannot take the new generation: a failure of this host,
# retried with backoff (not a rejection, although the kernel says E2BIG) ----
ref=$(enforced)
live=$(( $(active_epoch) & 1 ))
info=$(nn_in gw bpftool -j map show pinned "$PINS/nn_addrs")
ksz=$(jq -r .bytes_key <<<"$info") vsz=$(jq -r .bytes_value <<<"$info")
max=$(jq -r .max_entries <<<"$info")
have=$(nn_in gw bpftool -j map dump pinned "$PINS/nn_addrs" | jq length)
# Keys of the live slot that no policy names (fe80::/16 + a counter), until
# the map is full: what the standby half of the next generation needs has
# no room.
junk_key() {	# N
	printf '%02x 00 00 00 fe 80' "$live"
	printf ' 00%.0s' $(seq 1 $((ksz - 4 - 2 - 4)))
	printf ' %02x %02x %02x %02x\n' $(($1 & 255)) $(($1 >> 8 & 255)) 0 0
}
zeros=$(printf ' 00%.0s' $(seq 1 "$vsz"))
for ((i = 0; i < max - have; i++)); do
	echo "map update pinned $PINS/nn_addrs key hex $(junk_key $i) value hex$zeros"
done >"$NN_TMP/fill.batch"
nn_check "nn_addrs filled to its ${max} entries" nn_in gw bpftool batch file "$NN_TMP/fill.batch"
G=$((G + 2))
jq --argjson g $G '.generation = $g | .node_id = "gw-fra-1"' "$EX" |
	sed 's/"fd7a:6e61:6e61:10::2"/"fd7a:6e61:6e61:10::77"/' >"$NN_TMP/file.json"
gwd_start g8 --resync 30
nn_check "full map: apply failed, retry scheduled" nn_wait_for 5 \
	log_has g8 'event=apply_retry'
apply_error_only() { [ "$(metric nanami_apply_errors_total)" -ge 1 ] && [ "$(verr)" = 0 ]; }
nn_check "full map: counted as an apply error, not a validation error" apply_error_only
nn_check "full map: previous generation still enforced" test "$(enforced)" = "$ref"
sed 's/^map update/map delete/; s/ value hex.*//' "$NN_TMP/fill.batch" >"$NN_TMP/drain.batch"
nn_in gw bpftool batch file "$NN_TMP/drain.batch" >/dev/null
nn_check "room again: the retry applies generation $G" nn_wait_for 8 gen_is $G
nn_check "room again: alice's new address passes" \
	test "$(verdict fd7a:6e61:6e61:10::77 fd00:acc::1 tcp 5432)" = pass
gwd_kill g8 TERM
cp_stop cp

nn_finish
