#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
# nn-test: long (about 30 s or more: selftests/run.sh starts it first)
#
# A map made full by hand between two applies of a running controller
# (issue 15 part 6): junk keys put into a pinned map the compiler writes
# (bpftool batch of `map update`, until the kernel says E2BIG), then a
# change on the control plane. The apply fails cleanly and names the map,
# the previous generation keeps enforcing (same generation, epoch and
# verdicts), the failure is visible (nanami_apply_errors_total, the
# status's last_apply_error, the log) and not taken for a bad snapshot (no
# validation error), it is retried with backoff, and once the junk is
# removed the retry applies the change. Done for nn_addrs (device
# addresses, per slot; a device added) and nn_cells4 (compiled ACL cells,
# per slot, where every new cell is written; a rule added).
#
#   +-----------------------------------------------------------+
#   | node gw (own netns + mount ns, private bpffs)             |
#   |  nanami-cp 127.0.0.1:8443 (--admin, keepalive 1 s)        |
#   |  nanami-gatewayd --resync 30 (the stream brings changes)  |
#   |       TC on eth0, pins /sys/fs/bpf/nanami-test/mf         |
#   |  eth0 (veth) ------------------------------------------------ eth0  node c
#   +-----------------------------------------------------------+
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need

GW_IFACE=eth0
PINS=/sys/fs/bpf/nanami-test/mf
BOB=fd7a:6e61:6e61:10::3
CAROL=fd7a:6e61:6e61:20::2

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }
gen() { gwctl status | jq -r .generation; }
gen_is() { [ "$(gen)" = "$1" ]; }
cp_state_is() { [ "$(metric "nanami_control_plane_state{state=\"$1\"}")" = 1 ]; }
log_has() { grep -q -- "$2" "$NN_TMP/$1.log"; }
aerr() { metric nanami_apply_errors_total; }
aerr_above() { [ "$(aerr)" -gt "$1" ]; }
enforced() {
	echo "gen=$(gen) epoch=$(active_epoch) bob=$(verdict $BOB fd00:acc:1::1 tcp 443)" \
		"bob_udp2222=$(verdict $BOB fd00:acc:1::1 udp 2222)" \
		"carol=$(verdict $CAROL fd00:6b0::1 tcp 443)"
}
last_apply_error() { gwctl status | jq -c '.controller.last_apply_error'; }

# fill MAP: a batch file of junk keys in the live slot (first key byte; a
# counter in the last four bytes, zeros elsewhere: no policy names them)
# until the map is full; prints how many were added.
fill() {
	local map=$1 info ksz vsz max have live i zeros
	info=$(nn_in gw bpftool -j map show pinned "$PINS/$map")
	ksz=$(jq -r .bytes_key <<<"$info") vsz=$(jq -r .bytes_value <<<"$info")
	max=$(jq -r .max_entries <<<"$info")
	have=$(nn_in gw bpftool -j map dump pinned "$PINS/$map" | jq length)
	live=$(($(active_epoch) & 1))
	zeros=$(printf ' 00%.0s' $(seq 1 "$vsz"))
	for ((i = 0; i < max - have; i++)); do
		printf 'map update pinned %s key hex %02x' "$PINS/$map" "$live"
		printf ' 00%.0s' $(seq 1 $((ksz - 5)))
		printf ' %02x %02x %02x %02x value hex%s\n' $((i & 255)) $((i >> 8 & 255)) 0 0x7e "$zeros"
	done >"$NN_TMP/fill-$map.batch"
	nn_in gw bpftool batch file "$NN_TMP/fill-$map.batch" >/dev/null || return 1
	echo $((max - have))
}
drain() {
	sed 's/^map update/map delete/; s/ value hex.*//' "$NN_TMP/fill-$1.batch" >"$NN_TMP/drain-$1.batch"
	nn_in gw bpftool batch file "$NN_TMP/drain-$1.batch" >/dev/null
}
full() {	# MAP: one more key is refused
	[ "$(nn_in gw bpftool -j map dump pinned "$PINS/$1" | jq length)" = \
	  "$(nn_in gw bpftool -j map show pinned "$PINS/$1" | jq -r .max_entries)" ]
}

cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$EX" ||
	{ nn_not_ok "control plane started"; exit 1; }
GWD_ARGS=(--iface eth0 --control-plane "$CP_URL" --node-id gw-fra-1 --bpffs "$PINS"
	  --state-dir "$NN_TMP/state" --wg none --nat off --metrics-listen "$METRICS" "${CAPS[@]}")
gwd_start g1 --resync 30 --poll 1
nn_check "generation 7 applied" nn_wait_for 5 gen_is 7
nn_check "stream up" nn_wait_for 5 cp_state_is stream

for map in nn_addrs nn_cells4; do
	ref=$(enforced)
	a0=$(aerr) v0=$(metric nanami_validation_errors_total)
	n=$(fill $map) || { nn_not_ok "$map: filled by hand"; continue; }
	nn_check "$map: filled by hand ($n junk keys in the live slot)" full $map
	# A change the standby slot has no room for: a device added (new
	# nn_addrs keys; a revocation would only rewrite values the standby
	# holds since the controller synced it once idle), a new rule (new
	# cells: the standby holds the cells of an older generation).
	if [ $map = nn_addrs ]; then
		dev=$(cp_req GET /admin/v1/state | jq -c --arg k "$(head -c32 /dev/urandom | base64)" \
			'.world.tenants[] | .networks[] | .devices[] |
			 select(.device_id == "carol-desktop") | .device_id = "carol-tablet" |
			 .public_key = $k | .overlay_ipv6 = "fd7a:6e61:6e61:20::9" |
			 .overlay_ipv4 = "100.96.32.9"')
		cp_req PUT /admin/v1/networks/globex-main/devices/carol-tablet "$dev" >/dev/null
		G=$(cp_gen)
		check() { test "$(verdict fd7a:6e61:6e61:20::9 fd00:6b0::1 tcp 443)" = pass; }
		what="carol-tablet added, reaches globex-files"
	else
		G=$(($(cp_gen) + 1))
		jq '.tenants[0].networks[0].acl += [{"rule_id": "web-2222", "action": "allow",
			"src": "*", "dst": {"resources": ["acme-web"]}, "proto": "udp",
			"ports": ["2222"]}]' "$EX" >"$NN_TMP/rule.json"
		cp_req PUT "/admin/v1/snapshot?force_generation=$G" "$(cat "$NN_TMP/rule.json")" >/dev/null
		check() { test "$(verdict $BOB fd00:acc:1::1 udp 2222)" = pass; }
		what="a new rule lets bob-phone reach acme-web on udp/2222 (a new cell)"
	fi
	nn_check "$map: the apply of generation $G fails (nanami_apply_errors_total moves)" \
		nn_wait_for 5 aerr_above "$a0"
	nn_check "$map: the log names the map and says it is full" \
		log_has g1 "event=apply_failed .*into $map (Argument list too long, the map is full)"
	nn_check "$map: retried with backoff" log_has g1 'event=apply_retry'
	e=$(last_apply_error)
	nn_check "$map: status last_apply_error names $map, generation $G, current" \
		jq -e --arg m "$map" --argjson g "$G" \
		'.generation == $g and .current and (.reasons | any(contains($m)))' <<<"$e"
	nn_check "$map: not counted as a validation error" \
		test "$(metric nanami_validation_errors_total)" = "$v0"
	sleep 1
	nn_check "$map: previous generation still enforced ($ref)" test "$(enforced)" = "$ref"
	drain $map
	nn_check "$map: junk removed: the retry applies generation $G" nn_wait_for 10 gen_is "$G"
	nn_check "$map: the change is enforced: $what" check
	nn_check "$map: status last_apply_error no longer current" \
		test "$(gwctl status | jq -r '.controller.last_apply_error.current')" = false
done
gwd_kill g1 TERM
cp_stop cp

nn_finish
