#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
# nn-test: long (about 30 s or more: selftests/run.sh starts it first)
#
# nanami-gwctl against a real attachment with known traffic: every command's
# -j output, exact counters (the underlay guard's drops among them),
# explain on every worked example of verdicts.md, explain changing nothing,
# monitor catching a spoofed and an ACL-dropped packet, errors and exit codes.
#
#   netns gwctl-inet-<pid>     this script's own netns + mount ns      netns gwctl-peer-<pid>
#   ("the internet")           (bpffs and sysfs mounted privately)
#   +------------------+       +---------------------------------+       +--------------------------+
#   | lo: 192.0.2.53   |       | vgi<pid>: 198.51.100.1/24       |       | vpeer: 100.96.32.2 carol |
#   | vinet:           |<veth->|   (a host address: gateway_host)|       |        100.96.16.2 alice |
#   |  198.51.100.2/24 |       | vgw<pid>: 100.96.0.1/12         |<veth->|        100.96.16.99 spoof|
#   +------------------+       |   TC ingress: from-overlay      |       | routes pick the source   |
#                              |   TC egress:  into-overlay      |       |                          |
#                              | vul<pid>: 10.99.9.1/24          |<veth->| vulp: 10.99.9.2/24       |
#                              |   XDP: the underlay guard       |       | sends UDP to :51820      |
#                              +---------------------------------+       +--------------------------+
#
# "The internet" is a namespace of its own, reached by forwarding: an
# address of the gateway's own interfaces is the gateway host's, which a
# device reaches only when a rule names it (verdicts.md).
#
# Traffic is plain IPv4 sent with bash's /dev/tcp and /dev/udp (IPv6 is off
# on both ends so that no router solicitation or MLD report lands in a
# counter): every packet is accounted for.
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.
set -u

VETH_TAG=gwctl
# shellcheck source=selftests/netns/lib_veth.sh
source "$(dirname "$0")/lib_veth.sh"
VUL=vul$$
veth_need jq

# ---- topology ----
setup() {
	veth_setup &&
	peer ip addr add 100.96.16.99/32 dev vpeer &&
	peer ip route add 192.0.2.25/32 via 100.96.0.1 src 100.96.16.2 &&
	peer ip route add 192.0.2.99/32 via 100.96.0.1 src 100.96.16.99 &&
	peer ip route add 239.1.2.3/32 dev vpeer src 100.96.16.2 &&
	ip link add "$VUL" type veth peer name vulp netns "$PEER" &&
	sysctl -qw "net.ipv6.conf.$VUL.disable_ipv6=1" &&
	peer sysctl -qw net.ipv6.conf.vulp.disable_ipv6=1 &&
	ip addr add 10.99.9.1/24 dev "$VUL" &&
	ip link set "$VUL" up &&
	peer ip addr add 10.99.9.2/24 dev vulp &&
	peer ip link set vulp up
}
if ! setup >"$TMP/setup.log" 2>&1; then
	not_ok "setup: topology" "$(cat "$TMP/setup.log")"
	exit 1
fi
mkdir -p "$TMP/state/$VGW"
if ! "$GATEWAYD" --iface "$VGW" --underlay "$VUL" --assignments examples/assignments.json --once \
	--state-dir "$TMP/state/$VGW" --bpffs "$PINS" --max-devices 64 --max-nodes 16 --max-rules 64 --max-prefixes 128 \
	--max-cells 256 --max-flows 1024 >"$TMP/gwd.log" 2>&1; then
	not_ok "setup: nanami-gatewayd --once attaches" "$(cat "$TMP/gwd.log")"
	exit 1
fi
ok "setup: topology and nanami-gatewayd --once"

# ---- status, devices, rules before any traffic ----
out=$(g -j status)
jcheck "status -j: generation 7, epoch live" "$out" \
	'.generation == 7 and .epoch >= 1 and .live_slot == (.epoch % 2) and .applied_at != null'
jcheck "status -j: both TC programs attached, using the pinned maps" "$out" \
	'[.programs[] | select(.pinned_maps) | .name] | sort ==
	 ["nn_tc_from_overlay", "nn_tc_into_overlay"]'
jcheck "status -j: map usage against capacity" "$out" \
	'.maps.nn_addrs == {"entries": 9, "capacity": 146} and
	 .maps.nn_policy.capacity == 256 and .maps.nn_flows == {"entries": 0, "capacity": 1024}'
jcheck "status -j: last_error key present (null)" "$out" 'has("last_error")'

out=$(g -j devices)
jcheck "devices -j: alice-laptop with both addresses, egress" "$out" \
	'.devices[] | select(.id == "alice-laptop") | .tenant == "acme" and
	 .network == "acme-prod" and .state == "active" and .egress == true and
	 (.addresses | sort) == ["100.96.16.2", "fd7a:6e61:6e61:10::2"]'
jcheck "devices -j: every device and node of the snapshot" "$out" \
	'[.devices[].id] | sort == ["alice-laptop", "bob-phone", "carol-desktop",
	  "carol-old-laptop", "gw-ams-1", "gw-fra-1"]'
jcheck "devices -j: carol-old-laptop disabled, bob without egress" "$out" \
	'(.devices[] | select(.id == "carol-old-laptop") | .state == "disabled") and
	 (.devices[] | select(.id == "bob-phone") | .egress == false)'

out=$(g -j rules)
jcheck "rules -j: every rule, no hits yet" "$out" \
	'[.rules[] | .id] | sort == ["all-web", "eng-db", "no-smtp", "ops-files", "ping-peers"]'

# ---- known traffic ----
# carol -> 192.0.2.53 tcp/9 (closed): SYN passes (internet, full_tunnel), the
# RST comes back into the overlay on the tracked flow.
for i in 1 2 3; do
	peer timeout 5 bash -c 'exec 3<>/dev/tcp/192.0.2.53/9' 2>/dev/null
done
# carol -> 192.0.2.53 udp/7 (closed): passes; the port unreachable quotes the
# tracked flow and passes into the overlay.
peer bash -c 'echo hi >/dev/udp/192.0.2.53/7'
# alice -> this gateway udp/53: no rule names it: acl_default_deny, twice.
peer bash -c 'echo hi >/dev/udp/100.96.0.1/53; echo hi >/dev/udp/100.96.0.1/53'
# an unassigned source: spoof.
peer bash -c 'echo hi >/dev/udp/192.0.2.99/53'
# alice -> internet tcp/25: acl_deny by no-smtp. The SYN is dropped; stop
# before the kernel retransmits it (1 s).
peer timeout 0.5 bash -c 'exec 3<>/dev/tcp/192.0.2.25/25' 2>/dev/null
# alice -> 239.1.2.3 udp (multicast): never valid from the overlay: martian.
peer bash -c 'echo hi >/dev/udp/239.1.2.3/5000'
sleep 0.2

stats=$(g -j stats)
jcheck "stats -j: drops by reason, exact" "$stats" \
	'([.drops | to_entries[] | select(.value.packets > 0) | {(.key): .value.packets}] | add) ==
	 {"spoof": 1, "acl_default_deny": 2, "acl_deny": 1, "martian": 1} and .drops_total == 5'
jcheck "stats -j: every reason name of verdicts.md" "$stats" \
	'.drops | keys | sort == ["acl_default_deny", "acl_deny", "cross_network",
	  "cross_tenant", "flow_limit", "fragment", "malformed", "martian", "no_egress", "no_transit",
	  "revoked", "spoof", "unknown_dst", "wg_handshake_rate", "wg_malformed"]'
jcheck "stats -j: drop bytes (UDP 45 B framed, SYN 74 B)" "$stats" \
	'.drops.spoof.bytes == 45 and .drops.acl_default_deny.bytes == 90 and
	 .drops.acl_deny.bytes == 74 and .drops.martian.bytes == 45'
jcheck "stats -j: per-rule hits (no-smtp 1)" "$stats" \
	'[.rules[] | select(.hits > 0) | {(.id): .hits}] | add == {"no-smtp": 1}'
jcheck "stats -j: the underlay guard is loaded, no wg_* drops yet" "$stats" \
	'.underlay_guard == true and .drops.wg_malformed.packets == 0 and
	 .drops.wg_handshake_rate.packets == 0'

out=$(g -j devices)
jcheck "devices -j: carol-desktop 4 packets each way, no drops" "$out" \
	'.devices[] | select(.id == "carol-desktop") | .counters ==
	 {"from_overlay": {"packets": 4, "bytes": 267, "drops": 0},
	  "into_overlay": {"packets": 4, "bytes": 235, "drops": 0}}'
jcheck "devices -j: alice-laptop 4 drops from the overlay, nothing passed" "$out" \
	'.devices[] | select(.id == "alice-laptop") | .counters ==
	 {"from_overlay": {"packets": 0, "bytes": 0, "drops": 4},
	  "into_overlay": {"packets": 0, "bytes": 0, "drops": 0}}'
jcheck "devices -j: no other device counted" "$out" \
	'[.devices[] | select(.id != "carol-desktop" and .id != "alice-laptop") |
	  .counters[] | .packets + .drops] | add == 0'

flows=$(g -j flows)
jcheck "flows -j: carol's 4 flows, opened from the overlay" "$flows" \
	'(.flows | length) == 4 and
	 all(.flows[]; .src == "100.96.32.2" and .dst == "192.0.2.53" and
	     .direction == "from-overlay" and .device == "carol-desktop" and .current)'
jcheck "flows -j: TCP closed by the RST, UDP new" "$flows" \
	'[.flows[] | select(.proto == "tcp") | .state] == ["closing", "closing", "closing"] and
	 [.flows[] | select(.proto == "udp") | .dport] == [7]'
out=$(g -j flows --device carol-desktop --proto tcp --port 9)
jcheck "flows -j --device --proto --port filter" "$out" '(.flows | length) == 3'
out=$(g -j flows --device alice-laptop)
jcheck "flows -j --device alice-laptop: none (all dropped)" "$out" '(.flows | length) == 0'
out=$(g -j flows --addr 100.96.32.2 --proto udp)
jcheck "flows -j --addr --proto udp" "$out" '(.flows | length) == 1'

# explain sees the live flow table: the reply to carol's UDP flow passes on it.
usport=$(jq '.flows[] | select(.proto == "udp") | .sport' <<<"$flows")
out=$(g -j explain into-overlay 192.0.2.53 100.96.32.2 udp "$usport" --sport 7)
jcheck "explain -j: a reply on a tracked flow passes (flow_hit)" "$out" \
	'.verdict == "pass" and .flow_hit == true and .rule == null'

# ---- the underlay guard's drops (real packets on vul<pid>) ----
# A handshake bucket of 2 that never refills (rate 0) makes the count exact
# whatever the machine's speed: of 5 initiations, 3 are over the rate.
# nn_wg_config is {u16 listen_port, u16 pad, u32 hs_rate, u32 hs_burst, u32
# pad2} in host order (little-endian here); the port bytes are kept.
cfg=$PINS/underlay/nn_wg_config
port_bytes=$(bpftool -j map lookup pinned "$cfg" key 0 0 0 0 | jq -r '.value[0:4] | join(" ")')
# shellcheck disable=SC2086
check "underlay: handshake rate 0, burst 2" \
	bpftool map update pinned "$cfg" key 0 0 0 0 value $port_bytes 0 0 0 0 2 0 0 0 0 0 0 0
# 3 bytes (shorter than a message header) and a 33-byte data message: both
# wg_malformed (45 and 75 bytes framed); then 5 initiations of 148 bytes
# (190 framed) from one source.
peer bash -c 'printf abc >/dev/udp/10.99.9.1/51820
	printf "\x04\x00\x00\x00%029d" 0 >/dev/udp/10.99.9.1/51820
	for i in 1 2 3 4 5; do
		printf "\x01\x00\x00\x00%0144d" 0 >/dev/udp/10.99.9.1/51820
	done' 2>/dev/null
for _ in $(seq 40); do
	stats=$(g -j stats)
	jq -en 'input | .drops.wg_handshake_rate.packets >= 3' >/dev/null <<<"$stats" && break
	sleep 0.05
done
jcheck "stats -j: underlay drops by reason, exact (wg_malformed 2, wg_handshake_rate 3)" \
	"$stats" '.drops.wg_malformed == {"packets": 2, "bytes": 120} and
	 .drops.wg_handshake_rate == {"packets": 3, "bytes": 570}'
jcheck "stats -j: drops_total counts the guard's drops too (5 + 5)" "$stats" \
	'.drops_total == 10 and .drops.spoof.packets == 1'
check "stats table: wg_malformed 2 packets, 120 bytes" \
	bash -c "'$GWCTL' --iface '$VGW' --bpffs '$PINS' stats |
		awk '\$1 == \"wg_malformed\" { ok = \$2 == 2 && \$3 == 120 } END { exit !ok }'"
check "stats table: wg_handshake_rate 3 packets" \
	bash -c "'$GWCTL' --iface '$VGW' --bpffs '$PINS' stats |
		awk '\$1 == \"wg_handshake_rate\" { ok = \$2 == 3 } END { exit !ok }'"
# Without the guard's pins (moved aside) the wg_* figures are zero and say so.
mv "$PINS/underlay" "$PINS/../underlay-aside-$$"
out=$(g -j stats)
jcheck "stats -j without an underlay guard: underlay_guard false, wg_* zero" "$out" \
	'.underlay_guard == false and .drops.wg_malformed.packets == 0 and .drops_total == 5'
check "stats table without an underlay guard says so" \
	bash -c "'$GWCTL' --iface '$VGW' --bpffs '$PINS' stats | grep -q '^(no underlay guard'"
mv "$PINS/../underlay-aside-$$" "$PINS/underlay"

# ---- explain: every worked example of verdicts.md (selftests/lib/examples.c) ----
# Examples 15 and 18 need example 1's flow, which explain never records.
A6=fd7a:6e61:6e61:10::2 A4=100.96.16.2 B6=fd7a:6e61:6e61:10::3
C6=fd7a:6e61:6e61:20::2 C4=100.96.32.2 CO6=fd7a:6e61:6e61:20::3
N6=fd7a:6e61:6e61:10::99 GW6=fd7a:6e61:6e61::1 AMS6=fd7a:6e61:6e61::2
DB6=fd00:acc::5 WEB6=fd00:acc:1::9 FILES6=fd00:6b0::1 NET6=2001:db8:ffff::1
DNS4=192.0.2.53
# id direction src dst proto dport sport verdict reason rule
examples="
1 from-overlay $A6 $DB6 tcp 5432 40000 pass - eng-db
2 from-overlay $A6 $DB6 tcp 22 40001 drop acl_default_deny -
3 from-overlay $B6 $DB6 tcp 5432 40002 drop acl_default_deny -
4 from-overlay $B6 $WEB6 tcp 443 40003 pass - all-web
5 from-overlay $N6 $DB6 tcp 5432 40004 drop spoof -
6 from-overlay $A6 $NET6 tcp 443 40005 pass - -
7 from-overlay $A6 $NET6 tcp 25 40006 drop acl_deny no-smtp
8 from-overlay $B6 $NET6 tcp 443 40007 drop no_egress -
9 from-overlay $C6 $DB6 tcp 5432 40008 drop cross_tenant -
10 from-overlay $C4 $DNS4 udp 53 40009 pass - -
11 from-overlay $CO6 $FILES6 tcp 445 40010 drop revoked -
12 from-overlay $C4 $A4 tcp 22 40011 drop cross_tenant -
13 from-overlay $A6 fd7a:6e61:6e61:ff::1 tcp 80 40012 drop unknown_dst -
14 from-overlay $A6 $AMS6 tcp 22 40013 drop no_transit -
14c from-overlay $A6 $GW6 tcp 22 40014 drop acl_default_deny -
14a from-overlay $AMS6 $GW6 udp 4789 40015 pass - -
14b from-overlay $AMS6 $A6 tcp 22 40016 drop no_transit -
16 into-overlay $NET6 $A6 tcp 40017 443 drop acl_default_deny -
17 into-overlay $FILES6 $A6 tcp 40018 445 drop cross_tenant -
"
# explain_examples LABEL FRAMING HOOK GWCTL-ARGS...: every example through one
# attachment, in one --batch call (one dry-run load for all of them: a load
# per packet was most of this test's time); FRAMING and HOOK are what explain
# must have mirrored.
explain_examples() {
	local label=$1 framing=$2 hook=$3 id dir src dst proto dport sport verdict reason rule
	local want got out rc n=0
	shift 3
	awk 'NF { print $2, $3, $4, $5, $6, $7, "# example", $1 }' <<<"$examples" >"$TMP/batch"
	"$GWCTL" "$@" -j explain --batch "$TMP/batch" >"$TMP/batch.out" 2>"$TMP/batch.err"
	rc=$?
	while read -r id dir src dst proto dport sport verdict reason rule; do
		[ -z "$id" ] && continue
		n=$((n + 1))
		want=$(jq -cn --arg v "$verdict" --arg r "$reason" --arg u "$rule" \
			'{verdict: $v, reason: (if $r == "-" then null else $r end),
			  rule: (if $u == "-" then null else $u end)}')
		out=$(sed -n "${n}p" "$TMP/batch.out")
		got=$(jq -c '{verdict, reason, rule}' <<<"$out" 2>/dev/null)
		[ "$dir" = into-overlay ] && want_hook=tc || want_hook=$hook
		if [ "$rc" -eq 0 ] && [ "$want" = "$got" ] &&
		   jq -en --arg f "$framing" --arg h "$want_hook" --arg s "$src" --arg d "$dst" \
			'input | .framing == $f and .hook == $h and .packet.src == $s and
			 .packet.dst == $d' >/dev/null <<<"$out"; then
			ok "explain -j ($label): verdicts.md example $id"
		else
			not_ok "explain -j ($label): verdicts.md example $id" \
				"want $want framing $framing hook $want_hook" "got (rc $rc) $out" \
				"$(cat "$TMP/batch.err")"
		fi
	done <<<"$examples"
	check "explain --batch ($label): one answer a packet" \
		test "$(wc -l <"$TMP/batch.out")" = "$n"
}

before_stats=$(g -j stats)
before_flows=$(g -j flows | jq -S '[.flows[] | del(.age_s, .expired)] | sort_by(.sport)')
explain_examples "veth, tc" ethernet tc --iface "$VGW" --bpffs "$PINS"

out=$(g -j explain from-overlay $A6 $DB6 tcp 5432)
jcheck "explain -j: classification of example 1" "$out" \
	'.src_kind == "device" and .dst_kind == "resource" and .tenant == "acme" and
	 .network == "acme-prod" and .src.id == "alice-laptop" and .dst.kind == "resource"'
out=$(g -j explain from-overlay $C4 $DNS4 icmp)
jcheck "explain -j: icmp echo to the internet from carol passes" "$out" \
	'.verdict == "pass" and .dst_kind == "internet" and .packet.proto == "icmp"'
out=$(g -j explain from-overlay $A6 $B6 icmpv6)
jcheck "explain -j: icmpv6 echo alice -> bob allowed by ping-peers" "$out" \
	'.verdict == "pass" and .rule == "ping-peers"'
out=$(g -j explain from-overlay $A6 $DB6 47)
jcheck "explain -j: raw protocol number (gre) alice -> acme-db" "$out" \
	'.verdict == "drop" and .reason == "acl_default_deny" and .packet.proto == "gre"'
# Destinations that are not the internet although outside the overlay.
out=$(g -j explain from-overlay $C4 198.51.100.1 tcp 22)
jcheck "explain -j: the gateway host's own address: acl_default_deny, gateway_host" "$out" \
	'.verdict == "drop" and .reason == "acl_default_deny" and .dst_kind == "gateway_host" and
	 .dst.kind == "gateway_host"'
out=$(g -j explain from-overlay $C4 127.0.0.1 udp 53)
jcheck "explain -j: loopback from the overlay: martian" "$out" \
	'.verdict == "drop" and .reason == "martian" and .dst_kind == "martian" and
	 .dst.kind == "martian"'
out=$(g -j explain from-overlay $A6 ff02::1 icmpv6)
jcheck "explain -j: IPv6 multicast from the overlay: martian" "$out" \
	'.verdict == "drop" and .reason == "martian"'
check "explain: table output names martian" \
	bash -c "'$GWCTL' --iface '$VGW' --bpffs '$PINS' explain from-overlay $C4 169.254.1.1 udp 53 |
		grep -q '^reason *martian'"
check "explain: table output names the rule" \
	bash -c "'$GWCTL' --iface '$VGW' --bpffs '$PINS' explain from-overlay $A6 $NET6 tcp 25 |
		grep -q '^rule *no-smtp$'"

after_stats=$(g -j stats)
after_flows=$(g -j flows | jq -S '[.flows[] | del(.age_s, .expired)] | sort_by(.sport)')
if [ "$before_stats" = "$after_stats" ]; then
	ok "explain changes no counter (stats -j identical)"
else
	not_ok "explain changes no counter (stats -j identical)" "before $before_stats" \
		"after $after_stats"
fi
if [ "$before_flows" = "$after_flows" ]; then
	ok "explain changes no flow (flows -j identical)"
else
	not_ok "explain changes no flow (flows -j identical)" "before $before_flows" \
		"after $after_flows"
fi

# ---- the same on L3 interfaces (TUN, framed like wg0), TC and XDP hooks ----
# A TUN device without a reader carries nothing, which is all explain needs:
# it must mirror the attached hook and the interface's L3 framing.
TUN_TC=tnc$$ TUN_XDP=tnx$$
tun_ok=1
for t in "$TUN_TC" "$TUN_XDP"; do
	ip tuntap add dev "$t" mode tun >>"$TMP/setup.log" 2>&1 &&
		ip link set "$t" up >>"$TMP/setup.log" 2>&1 || tun_ok=0
done
attach_tun() {
	mkdir -p "$TMP/state/$1"
	# --wg none: a bare TUN is L3 but no WireGuard, which --wg auto refuses.
	"$GATEWAYD" --iface "$1" --assignments examples/assignments.json --once \
		--state-dir "$TMP/state/$1" --wg none \
		--bpffs "/sys/fs/bpf/nanami-test/$1" --max-devices 32 --max-nodes 8 \
		--max-rules 16 --max-prefixes 64 --max-cells 64 --max-flows 256 --max-denied 128 \
		"${@:2}" \
		>>"$TMP/gwd.log" 2>&1
}
if [ "$tun_ok" = 1 ] && attach_tun "$TUN_TC" && attach_tun "$TUN_XDP" --hook xdp; then
	ok "setup: TUN devices attached (tc, xdp)"
	out=$("$GWCTL" --iface "$TUN_XDP" --bpffs "/sys/fs/bpf/nanami-test/$TUN_XDP" -j status)
	jcheck "status -j: XDP from-overlay attachment reported with its mode" "$out" \
		'[.programs[] | select(.pinned_maps) | [.name, .mode]] | sort ==
		 [["nn_tc_into_overlay", "tc"], ["nn_xdp_from_overlay", "xdp-generic"]]'
	jcheck "status -j: capacities of the second attachment" "$out" \
		'.maps.nn_addrs.capacity == 74 and .maps.nn_flows.capacity == 256 and
		 .maps.nn_denied.capacity == 128'
	explain_examples "tun, tc" l3 tc --iface "$TUN_TC" --bpffs "/sys/fs/bpf/nanami-test/$TUN_TC"
	explain_examples "tun, xdp" l3 xdp --iface "$TUN_XDP" \
		--bpffs "/sys/fs/bpf/nanami-test/$TUN_XDP"
else
	not_ok "setup: TUN devices attached (tc, xdp)" "$(cat "$TMP/setup.log" "$TMP/gwd.log")"
fi

# ---- monitor ----
# The monitor skips events queued before it started, so keep sending until
# it reports one (each attempt is one more drop of the same kind).
monitor_catch() {
	local file=$1 send=$2 i
	shift 2
	g -j monitor --count 1 --timeout 20 "$@" >"$file" 2>&1 &
	local pid=$!
	bg_pids+=("$pid")
	for i in $(seq 1 40); do
		sleep 0.25
		kill -0 "$pid" 2>/dev/null || break
		peer bash -c "$send" 2>/dev/null
	done
	wait "$pid"
}
monitor_catch "$TMP/mon-spoof" 'echo hi >/dev/udp/192.0.2.99/53'
rc=$?
out=$(cat "$TMP/mon-spoof")
jcheck "monitor -j --count 1: spoofed packet (rc $rc)" "$out" \
	'.reason == "spoof" and .src == "100.96.16.99" and .dst == "192.0.2.99" and
	 .dport == 53 and .proto == "udp" and .direction == "from-overlay" and
	 .device == null and .rule == null'
monitor_catch "$TMP/mon-acl" 'timeout 0.2 bash -c "exec 3<>/dev/tcp/192.0.2.25/25"' \
	--reason acl_deny
rc=$?
out=$(cat "$TMP/mon-acl")
jcheck "monitor -j --count 1: ACL-dropped packet with rule (rc $rc)" "$out" \
	'.reason == "acl_deny" and .rule == "no-smtp" and .device == "alice-laptop" and
	 .tenant == "acme" and .network == "acme-prod" and .src == "100.96.16.2" and
	 .dst == "192.0.2.25" and .dport == 25 and .proto == "tcp"'
g -j monitor --count 1 --timeout 1 >"$TMP/mon-none" 2>&1
rc=$?
jcheck "monitor -j --timeout without events: exit 1, JSON error" \
	"$(cat "$TMP/mon-none")" ".error | test(\"timeout\")"
[ "$rc" -eq 1 ] || not_ok "monitor --timeout exit code" "rc $rc"

# ---- errors and exit codes ----
out=$("$GWCTL" --iface "$VGW" --bpffs "$TMP/nothing" -j status)
rc=$?
jcheck "missing pins: JSON error names the path and how to attach" "$out" \
	".error | test(\"$TMP/nothing/nn_active\") and test(\"nanami-gatewayd --iface\")"
[ "$rc" -eq 1 ] && ok "missing pins: exit 1" || not_ok "missing pins: exit 1" "rc $rc"
for cmd in devices rules stats flows monitor "explain from-overlay $A6 $DB6 tcp 1"; do
	# shellcheck disable=SC2086
	"$GWCTL" --iface "$VGW" --bpffs "$TMP/nothing" -j $cmd >"$TMP/err" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && jq -en 'input | .error' "$TMP/err" >/dev/null 2>&1; then
		ok "missing pins: ${cmd%% *} exits 1 with a JSON error"
	else
		not_ok "missing pins: ${cmd%% *} exits 1 with a JSON error" "rc $rc: $(cat "$TMP/err")"
	fi
done
usage_case() {
	local name=$1
	shift
	g -j "$@" >"$TMP/usage" 2>&1
	local rc=$?
	if [ "$rc" -eq 2 ] && jq -en 'input | .error' "$TMP/usage" >/dev/null 2>&1; then
		ok "usage error: $name exits 2 with a JSON error"
	else
		not_ok "usage error: $name exits 2 with a JSON error" "rc $rc: $(cat "$TMP/usage")"
	fi
}
usage_case "unknown object" bogus
usage_case "explain without ports for tcp" explain from-overlay "$A6" "$DB6" tcp
usage_case "explain mixed families" explain from-overlay "$A4" "$DB6" udp 53
usage_case "explain bad direction" explain sideways "$A6" "$DB6" tcp 1
printf '# comment\n\nfrom-overlay %s %s tcp 5432\nfrom-overlay %s %s tcp\n' \
	"$A6" "$DB6" "$A6" "$DB6" >"$TMP/badbatch"
usage_case "explain --batch with a bad line" explain --batch "$TMP/badbatch"
check "explain --batch: the error names the line, and nothing was judged" \
	bash -c "g() { '$GWCTL' --iface '$VGW' --bpffs '$PINS' \"\$@\"; }
		 out=\$(g -j explain --batch '$TMP/badbatch' 2>&1)
		 [ \$(wc -l <<<\"\$out\") = 1 ] && jq -e '.error | test(\"line 4: \")' <<<\"\$out\""
usage_case "explain --batch with packets on the command line too" \
	explain --batch "$TMP/badbatch" from-overlay "$A6" "$DB6" tcp 5432
usage_case "stats --watch with -j" stats --watch 1
usage_case "flows bad --proto" flows --proto nope
usage_case "monitor bad --reason" monitor --reason nope
for cmd in "" status devices rules stats flows monitor explain; do
	# shellcheck disable=SC2086
	if "$GWCTL" $cmd --help >"$TMP/help" 2>&1 && grep -q '^Usage: nanami-gwctl' "$TMP/help"
	then
		ok "--help ${cmd:-(global)}: exit 0"
	else
		not_ok "--help ${cmd:-(global)}: exit 0" "$(cat "$TMP/help")"
	fi
done

# ---- table output for people (smoke) ----
for cmd in status devices rules stats flows; do
	if g $cmd >"$TMP/table" 2>&1 && [ -s "$TMP/table" ]; then
		ok "table output: $cmd"
	else
		not_ok "table output: $cmd" "$(cat "$TMP/table")"
	fi
done

veth_finish
