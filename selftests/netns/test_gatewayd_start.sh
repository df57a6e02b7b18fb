#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# How nanami-gatewayd starts, in the ways operators start it:
#
# - Entered with `nsenter --net` only (as systemd's NetworkNamespacePath=
#   does), so /sys still shows the host's interfaces: the controller asks
#   the kernel about the interface in its own namespace. An interface that
#   exists only there is found, and one that shares its name with a host
#   interface of another type gets its own framing, not the host's.
# - A first start that fails before attaching anything (an unreadable
#   snapshot) leaves no pinned maps for the next start to adopt; a failed
#   start over pins another run made leaves them alone.
# - --assignments without --node-id takes the first file's node_id and
#   rejects a later file naming another node (assignments-v1.md).
#
#   host: veth nnst<pid> (Ethernet)         node gw: tun nnst<pid> (L3, as wg0)
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

GWD=$NN_BUILD/nanami-gatewayd
EX=$NN_ROOT/examples/assignments.json
CAPS=(--max-devices 1024 --max-rules 1024 --max-prefixes 2048 --max-cells 4096
      --max-flows 65536 --max-nodes 64)
DEV=nnst$((NN_RUN % 100000))
HOSTPINS=/sys/fs/bpf/nanami-test-start-$NN_RUN

if [ ! -x "$GWD" ]; then
	nn_not_ok "nanami-gatewayd built" "$GWD missing: run make"
	nn_finish
	exit 1
fi
nn_node gw || { nn_not_ok "topology"; exit 1; }
cleanup_host() {
	ip link del "$DEV" 2>/dev/null
	rm -rf "$HOSTPINS"
	nn_teardown
}
trap cleanup_host EXIT
NS=$(nn_ns gw)
ip -n "$NS" tuntap add dev "$DEV" mode tun &&
	ip -n "$NS" addr add 100.96.0.1/16 dev "$DEV" && ip -n "$NS" link set "$DEV" up ||
	{ nn_not_ok "tun $DEV in the node"; exit 1; }

# ---- nsenter --net: the interface only the namespace has ----
nsenter --net="/run/netns/$NS" "$GWD" --iface "$DEV" --bpffs "$HOSTPINS/a" "${CAPS[@]}" \
	--assignments "$EX" --state-dir "$NN_TMP/sa" --wg none --nat off --once \
	>"$NN_TMP/ns1.log" 2>&1
nn_check "nsenter --net: an interface only the namespace has is found (exit 0)" \
	grep -q 'event=attached' "$NN_TMP/ns1.log"
nn_check "nsenter --net: its framing is its own (TUN: l3)" \
	grep -q "event=loaded iface=$DEV .*framing=l3" "$NN_TMP/ns1.log"
nn_check "nsenter --net: the programs are on the namespace's $DEV" sh -c \
	"nsenter --net=/run/netns/$NS bpftool -j net show dev $DEV |
	 jq -en 'input | [.[0].tc[] | .kind] | index(\"clsact/ingress\") != null'"
nsenter --net="/run/netns/$NS" "$GWD" --iface "$DEV" --bpffs "$HOSTPINS/a" --detach \
	>/dev/null 2>&1

# ---- the same name on the host, Ethernet there ----
ip link add "$DEV" type veth peer name "${DEV}p" || nn_not_ok "host veth $DEV"
nsenter --net="/run/netns/$NS" "$GWD" --iface "$DEV" --bpffs "$HOSTPINS/b" "${CAPS[@]}" \
	--assignments "$EX" --state-dir "$NN_TMP/sb" --wg none --nat off --once \
	>"$NN_TMP/ns2.log" 2>&1
nn_check "a host interface of the same name (veth) does not lend its framing" \
	grep -q "event=loaded iface=$DEV .*framing=l3" "$NN_TMP/ns2.log"
nsenter --net="/run/netns/$NS" "$GWD" --iface "$DEV" --bpffs "$HOSTPINS/b" --detach \
	>/dev/null 2>&1
ip link del "$DEV"

# ---- a first start that fails leaves nothing pinned ----
# The default pin directory, in the node's own bpffs.
nn_in gw "$GWD" --iface "$DEV" "${CAPS[@]}" --assignments "$NN_TMP/missing.json" \
	--state-dir "$NN_TMP/sc" --wg none --nat off --once >"$NN_TMP/fail1.log" 2>&1
rc=$?
nn_check "unreadable snapshot on a first start: exit status non-zero" test "$rc" -ne 0
nn_check "unreadable snapshot: the log names the file" \
	grep -q "event=read source=$NN_TMP/missing.json" "$NN_TMP/fail1.log"
nn_check "unreadable snapshot: nothing left under /sys/fs/bpf/nanami/$DEV" \
	nn_in gw test ! -e "/sys/fs/bpf/nanami/$DEV"
nn_check "unreadable snapshot: nothing attached" sh -c \
	"nsenter --net=/run/netns/$NS bpftool -j net show dev $DEV |
	 jq -en 'input | (.[0].tc // []) | length == 0'"

# ---- ... but a failed start over another run's pins keeps them ----
nn_in gw "$GWD" --iface "$DEV" "${CAPS[@]}" --assignments "$EX" --state-dir "$NN_TMP/sc" \
	--wg none --nat off --once >"$NN_TMP/ok.log" 2>&1
nn_check "a good start pins its maps" nn_in gw test -e "/sys/fs/bpf/nanami/$DEV/nn_active"
nn_in gw "$GWD" --iface "$DEV" "${CAPS[@]}" --assignments "$NN_TMP/missing.json" \
	--state-dir "$NN_TMP/sc" --wg none --nat off --once >"$NN_TMP/fail2.log" 2>&1
nn_check "a failed restart keeps the adopted pins (the previous generation's state)" \
	nn_in gw test -e "/sys/fs/bpf/nanami/$DEV/nn_active"
nn_check "a failed restart leaves the programs attached" sh -c \
	"nsenter --net=/run/netns/$NS bpftool -j net show dev $DEV |
	 jq -en 'input | [.[0].tc[] | .kind] | index(\"clsact/ingress\") != null'"

# ---- --assignments without --node-id: the file's node_id is taken, and a
# later file naming another node is rejected whole ----
GWCTL=$NN_BUILD/nanami-gwctl
gen() { nn_in gw "$GWCTL" --iface "$DEV" --bpffs "$FPINS" -j status | jq -r .generation; }
gen_is() { [ "$(gen)" = "$1" ]; }
FPINS=/sys/fs/bpf/nanami-test/file
jq '.generation = 7' "$EX" >"$NN_TMP/file.json"
nn_bg gw gwd-file "$GWD" --iface "$DEV" --bpffs "$FPINS" "${CAPS[@]}" \
	--assignments "$NN_TMP/file.json" --state-dir "$NN_TMP/sf" --wg none --nat off
nn_check "no --node-id: the file's node_id is taken and logged" nn_wait_for 10 \
	grep -q 'event=node_id_taken node_id=gw-fra-1' "$NN_TMP/gwd-file.log"
nn_check "no --node-id: generation 7 enforced" nn_wait_for 5 gen_is 7
jq '.generation = 8 | .node_id = "gw-ams-1"' "$EX" >"$NN_TMP/file.json.new"
mv "$NN_TMP/file.json.new" "$NN_TMP/file.json"
nn_check "a later file naming another node: rejected, naming node_id" nn_wait_for 10 \
	grep -q 'event=snapshot_rejected .*node_id "gw-ams-1" is not this gateway' "$NN_TMP/gwd-file.log"
nn_check "a later file naming another node: generation 7 stays" test "$(gen)" = 7
jq '.generation = 9' "$EX" >"$NN_TMP/file.json.new"
mv "$NN_TMP/file.json.new" "$NN_TMP/file.json"
nn_check "the right node again: generation 9 applied" nn_wait_for 5 gen_is 9

nn_finish
