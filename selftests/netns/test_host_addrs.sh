#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The gateway host's own non-overlay addresses (verdicts.md "Destination")
# are kept current while the controller runs: an address added to any
# local interface is protected like the overlay address (the ACL decides,
# else acl_default_deny) within a measured bound, and once removed it is
# internet-bound again. The controller follows rtnetlink (RTM_NEWADDR /
# RTM_DELADDR) into nn_local and moves the epoch by two per change, so open
# flows are judged again (docs/datapath.md).
#
#   node gw: tun nnha<pid> (L3, as wg0), 100.96.0.1/12 + fd7a:6e61:6e61::1/48
#            veth nnhd<pid> (no dummy driver everywhere): the addresses this test
#            adds and removes
#            nanami-gatewayd --assignments examples/assignments.json (daemon)
#
# Verdicts are read with `nanami-gwctl -j explain` (a dry run over the live
# maps); the bound is timed on nn_local itself, polled with bpftool inside
# the node, from just before `ip addr add` returns.
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

GWD=$NN_BUILD/nanami-gatewayd
GWCTL=$NN_BUILD/nanami-gwctl
EX=$NN_ROOT/examples/assignments.json
DEV=nnha$((NN_RUN % 100000))
DUM=nnhd$((NN_RUN % 100000))
PINS=/sys/fs/bpf/nanami-test-ha
BOUND_MS=${NN_HOST_ADDR_BOUND_MS:-1000}
CAROL4=100.96.32.2
ALICE6=fd7a:6e61:6e61:10::2

for bin in "$GWD" "$GWCTL"; do
	if [ ! -x "$bin" ]; then
		nn_not_ok "built: $bin" "run make first"
		nn_finish
		exit 1
	fi
done
nn_node gw || { nn_not_ok "topology"; exit 1; }
nn_in gw ip tuntap add dev "$DEV" mode tun &&
	nn_in gw ip addr add 100.96.0.1/12 dev "$DEV" &&
	nn_in gw ip addr add fd7a:6e61:6e61::1/48 dev "$DEV" nodad &&
	nn_in gw ip link set "$DEV" up &&
	nn_in gw ip link add "$DUM" type veth peer name "${DUM}p" &&
	nn_in gw ip link set "$DUM" up ||
	{ nn_not_ok "topology: tun and veth in the node"; nn_finish; exit 1; }

g() { nn_in gw "$GWCTL" --iface "$DEV" --bpffs "$PINS" "$@"; }
epoch() { g -j status | jq -r '.epoch'; }
# explain_is SRC DST PROTO PORT JQ: the dry-run verdict satisfies JQ.
explain_is() {
	local out
	out=$(g -j explain from-overlay "$1" "$2" "$3" $4 2>&1)
	jq -en "input | $5" >/dev/null 2>&1 <<<"$out" && return 0
	echo "explain $1 -> $2: $out"
	return 1
}
# The nn_local key of an address: 16 bytes, IPv4 as IPv4-mapped.
keyhex() {
	python3 -c 'import ipaddress,sys
a = ipaddress.ip_address(sys.argv[1])
b = (b"\0" * 10 + b"\xff\xff" + a.packed) if a.version == 4 else a.packed
print(" ".join("%02x" % x for x in b))' "$1"
}

nn_bg gw gwd "$GWD" --iface "$DEV" --bpffs "$PINS" --assignments "$EX" \
	--state-dir "$NN_TMP/state" --wg none --nat off --max-devices 64 --max-nodes 16 \
	--max-rules 64 --max-prefixes 128 --max-cells 256 --max-flows 1024
if ! nn_wait_for 20 bash -c "nsenter --target ${NN_PID[gw]} --mount --net -- \
	'$GWCTL' --iface '$DEV' --bpffs '$PINS' -j status | jq -en 'input | .generation == 7'"; then
	nn_not_ok "nanami-gatewayd applies the example" "$(cat "$NN_TMP/gwd.log")"
	nn_finish
	exit 1
fi
nn_ok "nanami-gatewayd runs and enforces generation 7"

# timed ADD|DEL ADDR: change the address on the veth, then poll nn_local in
# the node until it agrees; prints the milliseconds it took (or "timeout").
timed() {
	local op=$1 addr=$2 want key len
	key=$(keyhex "$addr")
	len=32
	[[ "$addr" == *:* ]] && len=128
	want=present
	[ "$op" = del ] && want=absent
	nn_in gw bash -c '
		op=$1 addr=$2 len=$3 dev=$4 pins=$5 key=$6 want=$7 bound=$8
		extra=""
		[ "$len" = 128 ] && [ "$op" = add ] && extra=nodad
		t0=$(date +%s%N)
		ip addr "$op" "$addr/$len" dev "$dev" $extra || { echo "ip-failed"; exit 1; }
		while :; do
			if bpftool map lookup pinned "$pins/nn_local" key hex $key >/dev/null 2>&1
			then got=present; else got=absent; fi
			now=$(date +%s%N)
			ms=$(( (now - t0) / 1000000 ))
			[ "$got" = "$want" ] && { echo "$ms"; exit 0; }
			[ "$ms" -gt $((bound * 5)) ] && { echo timeout; exit 1; }
			sleep 0.002
		done' _ "$op" "$addr" "$len" "$DUM" "$PINS" "$key" "$want" "$BOUND_MS"
}

# ---- before: these addresses are the internet ----
nn_check "before: carol -> 203.0.113.9 udp/53 is internet-bound (pass)" \
	explain_is $CAROL4 203.0.113.9 udp 53 '.verdict == "pass" and .dst_kind == "internet"'
nn_check "before: alice -> 2001:db8:77::9 tcp/22 is internet-bound (pass)" \
	explain_is $ALICE6 2001:db8:77::9 tcp 22 '.verdict == "pass" and .dst_kind == "internet"'
e0=$(epoch)

# ---- add: protected within the bound ----
worst=0
for a in 203.0.113.9 2001:db8:77::9; do
	ms=$(timed add "$a")
	if [ "$ms" != timeout ] && [ "$ms" != ip-failed ] && [ "$ms" -le "$BOUND_MS" ]; then
		nn_ok "add $a: in nn_local after $ms ms (bound $BOUND_MS ms)"
	else
		nn_not_ok "add $a: in nn_local within $BOUND_MS ms" "got: $ms"
	fi
	[ "$ms" != timeout ] && [ "$ms" != ip-failed ] && [ "$ms" -gt "$worst" ] && worst=$ms
done
echo "# measured: host address protected at most $worst ms after ip addr add"
nn_check "added: carol -> 203.0.113.9 udp/53: acl_default_deny (gateway_host)" \
	explain_is $CAROL4 203.0.113.9 udp 53 \
	'.verdict == "drop" and .reason == "acl_default_deny" and .dst_kind == "gateway_host"'
nn_check "added: alice -> 2001:db8:77::9 tcp/22: acl_default_deny (gateway_host)" \
	explain_is $ALICE6 2001:db8:77::9 tcp 22 \
	'.verdict == "drop" and .reason == "acl_default_deny" and .dst_kind == "gateway_host"'
nn_check "added: the ACL still decides (no-smtp's ::/0 denies tcp/25)" \
	explain_is $ALICE6 2001:db8:77::9 tcp 25 '.reason == "acl_deny" and .rule == "no-smtp"'
nn_check "added: a neighbour address is still internet-bound" \
	explain_is $CAROL4 203.0.113.10 udp 53 '.verdict == "pass" and .dst_kind == "internet"'
e1=$(epoch)
nn_check "added: each change moved the epoch by two (same slot): $e0 -> $e1" \
	test "$e1" -eq $((e0 + 4))

# ---- every local interface counts, martians stay martian ----
ms=$(timed add 192.0.2.200)
nn_check "an address on lo is the host's too ($ms ms)" \
	explain_is $CAROL4 192.0.2.200 udp 53 '.dst_kind == "gateway_host"'
nn_check "127.0.0.1 (lo) stays martian, not a host address" \
	explain_is $CAROL4 127.0.0.1 udp 53 '.reason == "martian"'
nn_in gw ip addr add 169.254.7.7/16 dev "$DUM"
sleep 0.3
nn_check "a link-local address of the host stays martian" \
	explain_is $CAROL4 169.254.7.7 udp 53 '.reason == "martian"'

# ---- remove: internet-bound again ----
worst=0
for a in 203.0.113.9 2001:db8:77::9; do
	ms=$(timed del "$a")
	if [ "$ms" != timeout ] && [ "$ms" != ip-failed ] && [ "$ms" -le "$BOUND_MS" ]; then
		nn_ok "remove $a: gone from nn_local after $ms ms (bound $BOUND_MS ms)"
	else
		nn_not_ok "remove $a: gone from nn_local within $BOUND_MS ms" "got: $ms"
	fi
	[ "$ms" != timeout ] && [ "$ms" != ip-failed ] && [ "$ms" -gt "$worst" ] && worst=$ms
done
echo "# measured: host address released at most $worst ms after ip addr del"
nn_check "removed: carol -> 203.0.113.9 udp/53 is internet-bound again (pass)" \
	explain_is $CAROL4 203.0.113.9 udp 53 '.verdict == "pass" and .dst_kind == "internet"'
nn_check "removed: alice -> 2001:db8:77::9 tcp/22 is internet-bound again (pass)" \
	explain_is $ALICE6 2001:db8:77::9 tcp 22 '.verdict == "pass" and .dst_kind == "internet"'

# ---- an interface that goes away takes its addresses with it ----
ms=$(timed add 198.51.100.77)
nn_in gw ip link del "$DUM"
nn_check "deleting the interface releases its addresses" \
	nn_wait_for 2 bash -c "nsenter --target ${NN_PID[gw]} --mount --net -- \
		'$GWCTL' --iface '$DEV' --bpffs '$PINS' -j explain from-overlay $CAROL4 \
		198.51.100.77 udp 53 | jq -en 'input | .dst_kind == \"internet\"'"
nn_check "nanami-gatewayd still running" kill -0 "$(cat "$NN_TMP/gwd.pid")"
nn_finish
