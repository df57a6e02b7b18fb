#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
#
# nanami-gatewayd --once on a real interface, end to end: attach (TC, then
# XDP through libxdp), pins with BTF, re-applying keeps the program ids and
# writes nothing, a changed snapshot flips the epoch in place, rejected and
# older snapshots change nothing, the underlay guard (native XDP on veth,
# SKB mode on a bridge) drops real malformed WireGuard packets, --detach
# removes every program and pin.
#
#   node gw (own netns + mount ns, private bpffs)      node peer
#   eth0: overlay interface (veth) ------------------- eth0
#   eth1: underlay NIC, guard in native XDP ---------- eth1 (sends UDP to :51820)
#   eth2 + br0: second gateway, guard on br0 (no native XDP: SKB mode)
#
# Assertions read bpftool -j, tc -j and exit codes; log lines only where a
# message is the point (the reason a snapshot was rejected).
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

GWD=$NN_BUILD/nanami-gatewayd
EX=$NN_ROOT/examples/assignments.json
PINS=/sys/fs/bpf/nanami-test/eth0
PINS2=/sys/fs/bpf/nanami-test/eth2
# Small maps: every run must name the same sizes (they are pinned).
CAPS=(--max-devices 1024 --max-rules 1024 --max-prefixes 2048 --max-cells 4096
      --max-flows 65536 --max-nodes 64)

if [ ! -x "$GWD" ]; then
	nn_not_ok "nanami-gatewayd built" "$GWD missing: run make"
	nn_finish
	exit 1
fi
if ! { nn_node gw && nn_node peer && nn_link gw eth0 peer eth0 1 &&
	nn_link gw eth1 peer eth1 2 && nn_link gw eth2 peer eth2 3; }; then
	nn_not_ok "topology" "couldn't build it"
	exit 1
fi
nn_in gw ip link add br0 type bridge && nn_in gw ip link set br0 up

# gwd LOG ARGS...: run the controller in gw, output in $NN_TMP/LOG.log.
gwd() {
	local log=$1
	shift
	nn_in gw "$GWD" --iface eth0 --bpffs "$PINS" "${CAPS[@]}" "$@" >"$NN_TMP/$log.log" 2>&1
}

# Snapshot variants: the example with text replaced (sed expressions).
snap() {
	local name=$1
	shift
	sed "$@" "$EX" >"$NN_TMP/$name.json"
	echo "$NN_TMP/$name.json"
}

# Program ids attached to DEV, one line: "tc-ingress=ID tc-egress=ID xdp=ID".
prog_ids() {
	nn_in gw bpftool -j net show dev "$1" | jq -r '
		.[0] as $n |
		"tc-ingress=\([$n.tc[] | select(.kind == "clsact/ingress") | .id] | join(","))" +
		" tc-egress=\([$n.tc[] | select(.kind == "clsact/egress") | .id] | join(","))" +
		" xdp=\([$n.xdp[] | .id] | join(","))"'
}

# XDP mode on DEV as bpftool names it (driver, generic, ...), or "".
xdp_mode() {
	nn_in gw bpftool -j net show dev "$1" | jq -r '[.[0].xdp[] | .mode] | join(",")'
}

map_json() { nn_in gw bpftool -j map dump pinned "$1"; }
# bpftool -j puts the BTF-decoded entry under "formatted".
epoch() { map_json "$PINS/nn_active" | jq -r '.[0].formatted.value.epoch'; }
state() { map_json "$PINS/nn_active"; map_json "$PINS/nn_meta"; }
log_has() { grep -q -- "$2" "$NN_TMP/$1.log"; }

# Sum over CPUs of the underlay drop counter for reason $2 in pin dir $1.
wg_drops() {
	map_json "$1/underlay/nn_wg_drops" |
		jq "[.[].formatted | select(.key == $2) | .values[].value.packets] | add"
}

# ---- first apply ----
if gwd once1 --assignments "$EX" --underlay eth1 --once; then
	nn_ok "--once exits 0"
else
	nn_not_ok "--once exits 0" "exit $?: $(tail -3 "$NN_TMP/once1.log")"
fi
ids1=$(prog_ids eth0)
case "$ids1" in
tc-ingress=[0-9]*" tc-egress="[0-9]*" xdp=") nn_ok "TC ingress and egress attached ($ids1)" ;;
*) nn_not_ok "TC ingress and egress attached" "bpftool net: $ids1" ;;
esac
nn_check "underlay guard attached in native XDP" test "$(xdp_mode eth1)" = driver
nn_check "maps pinned with BTF (named fields in nn_addrs)" sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- bpftool -j map dump pinned $PINS/nn_addrs |
	 jq -en 'input | length > 0 and (.[0].formatted.key | has(\"slot\") and has(\"addr\")) and
	        (.[0].formatted.value | has(\"kind\") and has(\"stat_slot\"))'"
nn_check "underlay listen port from the snapshot" sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- bpftool -j map dump pinned \
	 $PINS/underlay/nn_wg_config | jq -en 'input | .[0].formatted.value | .listen_port == 51820 and
	 .hs_rate == 20 and .hs_burst == 40'"
e1=$(epoch)
nn_check "epoch 1 after the first apply" test "$e1" = 1
uids1=$(prog_ids eth1)

# ---- real traffic through the guard (native XDP on the veth) ----
m0=$(wg_drops "$PINS" 12)
# A 3-byte "message" and a 33-byte "data" message: both malformed.
nn_in peer bash -c 'printf abc >/dev/udp/10.99.2.1/51820;
	printf "\x04\x00\x00\x00%029d" 0 >/dev/udp/10.99.2.1/51820;
	printf "not wireguard" >/dev/udp/10.99.2.1/51821' 2>/dev/null
nn_wait_for 2 sh -c "test \"\$(nsenter --target ${NN_PID[gw]} --mount --net -- bpftool -j \
	map dump pinned $PINS/underlay/nn_wg_drops | jq '[.[].formatted | select(.key == 12) |
	.values[].value.packets] | add')\" -ge $((m0 + 2))"
m1=$(wg_drops "$PINS" 12)
nn_check "malformed WireGuard packets dropped on the underlay (wg_malformed +2)" \
	test "$m1" = $((m0 + 2))

# ---- the same file again ----
gwd once2 --assignments "$EX" --underlay eth1 --once
rc=$?
nn_check "re-run exits 0" test $rc = 0
nn_check "re-run keeps the program ids" test "$(prog_ids eth0)" = "$ids1"
nn_check "re-run keeps the underlay program id" test "$(prog_ids eth1)" = "$uids1"
nn_check "re-run writes nothing (writes=0, flipped=0)" sh -c \
	"grep 'event=applied' '$NN_TMP/once2.log' | grep -q 'flipped=0 writes=0 '"
nn_check "re-run keeps the epoch" test "$(epoch)" = "$e1"

# ---- a changed file: new generation, one rule changed ----
changed=$(snap changed -e 's/"generation": 7/"generation": 8/' \
	-e 's/"ports": \["5432", "8000-8080"\]/"ports": ["5432"]/')
nn_check "changed snapshot differs in generation and one rule" \
	test "$(diff "$EX" "$changed" | grep -c '^>')" = 2
gwd once3 --assignments "$changed" --underlay eth1 --once
nn_check "changed snapshot applies" test $? = 0
e2=$(epoch)
nn_check "changed snapshot flips the epoch ($e1 -> $e2)" test "$e2" = $((e1 + 1))
nn_check "changed snapshot keeps the program ids" test "$(prog_ids eth0)" = "$ids1"
nn_check "nn_meta holds generation 8" sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- bpftool -j map dump pinned \
	 $PINS/nn_meta | jq -en 'input | .[0].formatted.value | .generation == 8 and .epoch == $e2'"

# ---- rejected snapshots change nothing ----
before=$(state)
# A missing comma; a future API version; an older generation.
snap bad_json -e 's/"generation": 7,/"generation": 9/' >/dev/null
snap bad_api -e 's/"api_version": "v1"/"api_version": "v2"/' \
	-e 's/"generation": 7/"generation": 9/' >/dev/null
snap older -e 's/"generation": 7/"generation": 6/' >/dev/null
for t in bad_json:JSON bad_api:api_version older:generation; do
	name=${t%%:*} word=${t#*:}
	gwd "rej_$name" --assignments "$NN_TMP/$name.json" --underlay eth1 --once
	rc=$?
	nn_check "$name: exits non-zero" test $rc -ne 0
	nn_check "$name: the reason names $word" sh -c \
		"grep 'event=snapshot_rejected' '$NN_TMP/rej_$name.log' | grep -q 'reason=.*$word'"
	nn_check "$name: nn_active and nn_meta unchanged" test "$(state)" = "$before"
	nn_check "$name: program ids unchanged" test "$(prog_ids eth0)" = "$ids1"
done

# ---- XDP hook through libxdp ----
gwd xdp --assignments "$changed" --underlay eth1 --hook xdp --once
nn_check "--hook xdp exits 0" test $? = 0
ids_x=$(prog_ids eth0)
case "$ids_x" in
"tc-ingress= tc-egress=${ids1##*tc-egress=}"*) egress_kept=1 ;;
*) egress_kept=0 ;;
esac
nn_check "--hook xdp attaches the XDP program natively on the veth ($ids_x)" \
	test "$(xdp_mode eth0)" = driver
nn_check "--hook xdp: the XDP program is nn_xdp_from_overlay" sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- bpftool -j prog show id ${ids_x##*xdp=} |
	 jq -en 'input | .name == \"nn_xdp_from_overlay\"'"
nn_check "--hook xdp: XDP program is ours (xdp-loader status)" sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- xdp-loader status eth0 |
	 grep -q nn_xdp_from_overlay"
nn_check "--hook xdp removes the TC ingress filter, keeps egress" test "$egress_kept" = 1
nn_check "--hook xdp keeps the epoch" test "$(epoch)" = "$e2"
gwd xdp2 --assignments "$changed" --underlay eth1 --hook xdp --once
nn_check "--hook xdp re-run keeps the program ids" test "$(prog_ids eth0)" = "$ids_x"

# ---- a NIC without native XDP: the guard falls back to SKB mode ----
nn_in gw "$GWD" --iface eth2 --bpffs "$PINS2" "${CAPS[@]}" --assignments "$EX" \
	--underlay br0 --once >"$NN_TMP/br.log" 2>&1
nn_check "bridge underlay: exits 0" test $? = 0
nn_check "bridge underlay: guard in SKB mode" test "$(xdp_mode br0)" = generic
nn_check "bridge underlay: the fallback is logged" \
	grep -q 'event=underlay_attached iface=br0 mode=skb' "$NN_TMP/br.log"
nn_in gw "$GWD" --iface eth2 --underlay br0 --bpffs "$PINS2" --detach >>"$NN_TMP/br.log" 2>&1
nn_check "bridge underlay: detached" test -z "$(xdp_mode br0)"
nn_check "bridge underlay: its pins are gone" nn_in gw test ! -e "$PINS2"
nn_check "bridge underlay: the first gateway is untouched" test "$(prog_ids eth0)" = "$ids_x"

# ---- detach ----
gwd detach --underlay eth1 --detach
nn_check "--detach exits 0" test $? = 0
none="tc-ingress= tc-egress= xdp="
nn_check "--detach removes the overlay programs" test "$(prog_ids eth0)" = "$none"
nn_check "--detach removes the underlay guard" test "$(prog_ids eth1)" = "$none"
nn_check "--detach removes every pin" nn_in gw test ! -e "$PINS"

nn_finish
