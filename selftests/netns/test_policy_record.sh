#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
#
# The applier's record of the policy maps (docs/controller.md), through the
# real daemon and its drift timer (--resync 1):
#
#   node gw: veth eth0 (Ethernet framing, TC),
#            nanami-gatewayd --assignments examples/assignments.json
#
# - the drift timer brings the standby half up to date: both slots of
#   nn_addrs end up with the same entries (the first apply filled only one);
# - an entry deleted behind the controller's back (bpftool, in the live slot)
#   is seen by the drift check (event=policy_maps_drift) and repaired by the
#   re-apply that follows: the address is back in both slots.
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need

PINS=/sys/fs/bpf/nanami-test/pr
SA=$NN_TMP/state
# alice-laptop's overlay address, fd7a:6e61:6e61:10::2, as the 16 key bytes.
ALICE_HEX=(fd 7a 6e 61 6e 61 00 10 00 00 00 00 00 00 00 02)
ALICE_JQ='[253,122,110,97,110,97,0,16,0,0,0,0,0,0,0,2]'

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }

addrs() { nn_in gw bpftool -j map dump pinned "$PINS/nn_addrs"; }
# Entries of nn_addrs in slot $1.
slot_n() { addrs | jq "[.[] | select(.formatted.key.slot == $1)] | length"; }
# Both slots hold the same, non-empty set of entries.
slots_equal() {
	local a
	a=$(addrs) || return 1
	jq -e '([.[] | select(.formatted.key.slot == 0) | [(.formatted.key.addr), .formatted.value]]
		| sort) as $z | ([.[] | select(.formatted.key.slot == 1) |
		[(.formatted.key.addr), .formatted.value]] | sort) as $o |
		($z | length) > 0 and $z == $o' <<<"$a"
}
# alice's address is in $1 slots.
alice_in() {
	test "$(addrs | jq "[.[] | select(.formatted.key.addr == $ALICE_JQ)] | length")" = "$1"
}

GWD_ARGS=(--iface eth0 --assignments "$EX" --node-id gw-fra-1 --bpffs "$PINS"
	  --state-dir "$SA" --wg none --nat off --resync 1 --verbose "${CAPS[@]}")
gwd_start g1
nn_check "controller applied the snapshot" \
	nn_wait_for 10 grep -q 'event=applied .*flipped=1' "$NN_TMP/g1.log"

# ---- the idle standby sync ----
nn_check "drift timer: both slots of nn_addrs hold the same entries" nn_wait_for 10 slots_equal
nn_check "... logged as event=standby_sync with the entries it wrote" \
	grep -q 'event=standby_sync writes=[1-9]' "$NN_TMP/g1.log"

# ---- an entry deleted behind the controller's back ----
live=$(($(active_epoch) & 1))
nn_check "alice-laptop deleted from the live slot ($live) with bpftool" \
	nn_in gw bpftool map delete pinned "$PINS/nn_addrs" key hex \
	"0$live" 00 00 00 "${ALICE_HEX[@]}"
nn_check "the drift check sees it (event=policy_maps_drift)" \
	nn_wait_for 10 grep -q 'event=policy_maps_drift entries=1 ' "$NN_TMP/g1.log"
nn_check "the re-apply repairs it: alice-laptop back in both slots" nn_wait_for 10 alice_in 2
nn_check "and both slots agree again" nn_wait_for 10 slots_equal
nn_check "the repair was a drift re-apply that switched generations" \
	grep -q 'event=applied .*trigger=drift .*flipped=1' "$NN_TMP/g1.log"
nn_check "slot sizes after the repair: $(slot_n 0) and $(slot_n 1)" \
	test "$(slot_n 0)" = "$(slot_n 1)"

gwd_kill g1 TERM
nn_in gw "$GWD" --iface eth0 --bpffs "$PINS" --detach >/dev/null 2>&1
nn_finish
