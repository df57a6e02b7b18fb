#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The per-device new-state bound with the real daemon (docs/datapath.md
# "New-state bound"): alice floods new flows (UDP datagrams, each from a new
# source port) while carol (another tenant) keeps one long-lived flow with the
# internet, which keeps sending to her. Carol's flow loses nothing, alice's excess
# is dropped [flow_limit] and counted on alice alone, and carol's new flows
# open during and after the flood.
#
#   netns fl-inet-<pid>            this script's netns + mount ns          netns fl-peer-<pid>
#   lo: 192.0.2.53, 192.0.2.54     vgi<pid> 198.51.100.1/24 (forwarding)   vpeer: 100.96.32.2 carol
#   vinet: 198.51.100.2/24   <-->  vgw<pid> 100.96.0.1/12, TC both ways <-> 100.96.16.2 alice
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.
set -u

VETH_TAG=fl
# shellcheck source=selftests/netns/lib_veth.sh
source "$(dirname "$0")/lib_veth.sh"
RATE=10
BURST=20
FLOOD=1800
veth_need jq python3

setup() {
	veth_setup &&
	ip -n "$INET" addr add 192.0.2.54/32 dev lo &&
	# carol to .53 (veth_setup), alice to .54.
	peer ip route add 192.0.2.54/32 via 100.96.0.1 src 100.96.16.2
}
if ! setup >"$TMP/setup.log" 2>&1; then
	not_ok "setup: topology" "$(cat "$TMP/setup.log")"
	exit 1
fi
mkdir -p "$TMP/state"
if ! "$GATEWAYD" --iface "$VGW" --assignments examples/assignments.json --once \
	--state-dir "$TMP/state" --bpffs "$PINS" --max-devices 64 --max-nodes 16 --max-rules 64 \
	--max-prefixes 128 --max-cells 256 --max-flows 256 \
	--max-new-flows-per-device "$RATE/$BURST" >"$TMP/gwd.log" 2>&1; then
	not_ok "setup: nanami-gatewayd --once attaches" "$(cat "$TMP/gwd.log")"
	exit 1
fi
ok "setup: topology and nanami-gatewayd --once --max-new-flows-per-device $RATE/$BURST"

# A bad bound is refused with the flag's name.
if "$GATEWAYD" --iface "$VGW" --assignments examples/assignments.json --once \
	--state-dir "$TMP/state" --bpffs "$PINS" --max-new-flows-per-device 0/5 \
	>"$TMP/bad.log" 2>&1; then
	not_ok "a bound of rate 0 with a burst is refused" "$(cat "$TMP/bad.log")"
elif grep -q 'max-new-flows-per-device' "$TMP/bad.log"; then
	ok "a bound of rate 0 with a burst is refused, naming the flag"
else
	not_ok "a bound of rate 0 with a burst is refused, naming the flag" "$(cat "$TMP/bad.log")"
fi

# carol's long-lived flow: one UDP flow carol opened, on which the internet
# keeps sending to her (every 50 ms for 4 s): each of those packets passes only
# on the tracked flow (nothing allows the internet into the overlay), so an
# eviction of carol's entry by alice's flood would drop them. The flow table is
# small (--max-flows 256) against the flood, so only the bound keeps it there.
ip netns exec "$INET" python3 - >"$TMP/server.log" 2>&1 <<'PY' &
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.53", 7000))
s.settimeout(5.0)
_, peer = s.recvfrom(64)
for i in range(80):
    s.sendto(b"data", peer)
    time.sleep(0.05)
print("sent", 80, "to", peer)
PY
server_pid=$!
sleep 0.3
peer python3 - >"$TMP/carol.log" 2>&1 <<'PY' &
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("100.96.32.2", 47000))
s.sendto(b"hello", ("192.0.2.53", 7000))
s.settimeout(6.0)
n = 0
try:
    while n < 80:
        s.recv(64)
        n += 1
except socket.timeout:
    pass
print("received", n)
PY
carol_pid=$!
sleep 0.5
t0=$(date +%s%N)
# alice: FLOOD datagrams over ~3 s, each from a new socket (a new source
# port: a new flow), in rounds of FLOOD/6.
peer bash -c "for r in 1 2 3 4 5 6; do for i in \$(seq $((FLOOD / 6))); do
	echo x >/dev/udp/192.0.2.54/9; done; sleep 0.5; done"
t1=$(date +%s%N)
# carol's new flows after the flood: TCP to a closed port, the RST comes back
# on the tracked flow.
for p in 1 2 3 4 5; do
	peer timeout 5 bash -c "exec 3<>/dev/tcp/192.0.2.53/$((9000 + p))" 2>/dev/null
done
wait "$server_pid"
wait "$carol_pid"

if grep -qx 'received 80' "$TMP/carol.log"; then
	ok "carol's long-lived flow lost nothing during alice's flood (80 of 80)"
else
	not_ok "carol's long-lived flow lost nothing during alice's flood" \
		"carol: $(cat "$TMP/carol.log")" "server: $(cat "$TMP/server.log")"
fi

stats=$(g -j stats)
# alice had BURST tokens and gained at most RATE per second of the flood
# (plus one for the clock's tick); everything else was refused.
elapsed_ms=$(((t1 - t0) / 1000000))
max_pass=$((BURST + RATE * elapsed_ms / 1000 + 1))
min_drop=$((FLOOD - max_pass))
jcheck "alice's excess dropped as flow_limit ($FLOOD sent in ${elapsed_ms} ms: >= $min_drop)" \
	"$stats" ".drops.flow_limit.packets >= $min_drop and .drops.flow_limit.packets <= $((FLOOD - BURST))"
jcheck "flow_limit drops are alice's alone; carol dropped nothing" "$stats" \
	'(.devices[] | select(.id == "alice-laptop") | .counters.from_overlay.drops) ==
	  .drops.flow_limit.packets and
	 (.devices[] | select(.id == "carol-desktop") |
	  .counters.from_overlay.drops + .counters.into_overlay.drops) == 0'
jcheck "carol's new flows opened: her datagram and 5 SYNs out, 80 datagrams and 5 RSTs in" "$stats" \
	'(.devices[] | select(.id == "carol-desktop") | .counters.from_overlay.packets) == 6 and
	 (.devices[] | select(.id == "carol-desktop") | .counters.into_overlay.packets) == 85'
jcheck "no other reason moved" "$stats" \
	'[.drops | to_entries[] | select(.value.packets > 0) | .key] == ["flow_limit"]'

out=$(g -j explain from-overlay 100.96.16.2 192.0.2.54 udp 9 --sport 40000 2>&1)
jcheck "explain (the policy, no bucket) still says pass for alice's flow" "$out" \
	'.verdict == "pass"'


"$GATEWAYD" --iface "$VGW" --bpffs "$PINS" --detach >/dev/null 2>&1
veth_finish
