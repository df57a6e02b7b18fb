#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Restart adoption with traffic running: the controller is killed with
# SIGKILL while idle and right after the control plane triggered an apply
# (several times, at different delays), restarted, and finally stopped with
# SIGTERM, all while an allowed ping (alice-laptop -> acme-db, every 50 ms)
# and a denied one (carol-desktop, other tenant -> acme-db) run through the
# gateway's programs. No allowed packet may be lost, no denied packet may
# pass, the program ids never change and nn_active / nn_meta stay consistent.
#
#   node c (clients)               node gw                          node r (acme-db)
#   eth0 10.99.1.2                 eth0 10.99.1.1 (veth, Ethernet   eth0 10.99.2.2
#     100.96.16.2 alice  --------->  framing): TC ingress             10.20.0.1
#     100.96.32.2 carol               from-overlay, TC egress         nft counter on
#                                      into-overlay;                   carol's packets
#                                    eth1 10.99.2.1 (no programs) ---->
#                                    nanami-cp on lo :8443
#                                    nanami-gatewayd --wg none
#
# The snapshot is the example plus one rule: alice-laptop may ping acme-db.
# IPv6 is off on the veths so that no router solicitation or MLD report is
# judged. Loss figures are printed as "# restart_ping_lost=N/M".
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need
command -v nft >/dev/null || { echo "ok - controller restart # SKIP nft not installed"; exit 0; }

GW_IFACE=eth0
PINS=/sys/fs/bpf/nanami-test/eth0
ALICE=100.96.16.2
CAROL=100.96.32.2
DB=10.20.0.1
COUNT=240	# 12 s of pings at 50 ms

setup() {
	nn_node gw && nn_node c && nn_node r &&
	nn_link gw eth0 c eth0 1 && nn_link gw eth1 r eth0 2 || return 1
	local n
	for n in gw c r; do
		nn_in $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 || return 1
	done
	nn_in gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.eth1.disable_ipv6=1 &&
	nn_in gw ip route add 100.96.0.0/12 via 10.99.1.2 &&
	nn_in gw ip route add 10.20.0.0/16 via 10.99.2.2 &&
	nn_in c ip addr add $ALICE/32 dev eth0 &&
	nn_in c ip addr add $CAROL/32 dev eth0 &&
	nn_in c ip route add 10.20.0.0/16 via 10.99.1.1 &&
	nn_in r ip addr add $DB/32 dev eth0 &&
	nn_in r ip route add 100.96.0.0/12 via 10.99.2.1 &&
	nn_in r nft -f - <<-EOF
	table inet nn_test {
		counter carol { }
		counter alice { }
		chain in {
			type filter hook input priority 0;
			ip saddr $CAROL counter name carol
			ip saddr $ALICE counter name alice
		}
	}
	EOF
}
setup >"$NN_TMP/setup.log" 2>&1 || { nn_not_ok "topology" "$(tail -3 "$NN_TMP/setup.log")"; exit 1; }

jq '.tenants[0].networks[0].acl += [{"rule_id": "alice-ping-db", "action": "allow",
	"src": {"devices": ["alice-laptop"]}, "dst": {"resources": ["acme-db"]}, "proto": "icmp"}]' \
	"$EX" >"$NN_TMP/seed.json"
cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$NN_TMP/seed.json" ||
	{ nn_not_ok "control plane started"; exit 1; }
GWD_ARGS=(--iface eth0 --framing eth --control-plane "$CP_URL" --node-id gw-fra-1 --bpffs "$PINS"
	  --state-dir "$NN_TMP/state" --wg none --nat off --resync 1 --poll 1 "${CAPS[@]}")

gen_is() { [ "$(gwctl status | jq -r .generation)" = "$1" ]; }
# nn_active's epoch equals nn_meta's (the generation's record): "E G".
consistent() {
	local a m
	a=$(active_epoch)
	m=$(nn_in gw bpftool -j map dump pinned "$PINS/nn_meta" | jq -r '.[0].formatted.value | "\(.epoch) \(.generation)"')
	[ "$a" = "${m%% *}" ] && echo "$m"
}
carol_at_r() { nn_in r nft -j list counter inet nn_test carol | jq '.nftables[] | select(.counter) | .counter.packets'; }
alice_at_r() { nn_in r nft -j list counter inet nn_test alice | jq '.nftables[] | select(.counter) | .counter.packets'; }

gwd_start g0
nn_check "generation 7 applied" nn_wait_for 5 gen_is 7
ids=$(prog_ids eth0)
nn_check "explain: alice -> acme-db icmp passes, carol -> acme-db dropped" test \
	"$(verdict $ALICE $DB icmp) $(verdict $CAROL $DB icmp)" = "pass drop"
nn_check "a first allowed ping goes through" nn_in c ping -n -c 1 -W 2 -I $ALICE $DB

nn_bg c ping_alice ping -n -i 0.05 -c $COUNT -W 1 -I $ALICE $DB
nn_bg c ping_carol ping -n -i 0.05 -c $COUNT -W 1 -I $CAROL $DB
sleep 1

# kill -9 while idle, restart: nothing detached, nothing rewritten.
e=$(active_epoch)
gwd_kill g0 KILL
nn_check "SIGKILL: programs still attached, same ids" test "$(prog_ids eth0)" = "$ids"
gwd_start g1 --metrics-listen "$METRICS"
nn_check "restart: generation 7 re-read from the control plane" nn_wait_for 10 \
	sh -c "grep -q 'event=applied .*generation=7' '$NN_TMP/g1.log'"
nn_check "restart adopts the pinned maps: same program ids" test "$(prog_ids eth0)" = "$ids"
nn_check "restart with the same state: no flip (epoch $e), no map write" \
	test "$(active_epoch) $(metric nanami_map_writes_total)" = "$e 0"

# kill -9 right after the control plane triggered an apply, at several
# delays: somewhere before, inside or after the apply.
state=disabled
for delay in 0 0.005 0.01 0.02 0.04; do
	prev=$(ls "$NN_TMP"/g*.pid | wc -l)
	cp_req PUT /admin/v1/devices/bob-phone/state "{\"state\":\"$state\"}" >/dev/null
	sleep $delay
	gwd_kill "g$((prev - 1))" KILL
	state=$([ $state = disabled ] && echo active || echo disabled)
	[ "$(prog_ids eth0)" = "$ids" ] || nn_not_ok "SIGKILL after an apply was triggered (+${delay}s): program ids kept"
	gwd_start "g$prev"
	g=$(cp_gen)
	nn_wait_for 5 gen_is "$g" || nn_not_ok "restart after SIGKILL (+${delay}s): generation $g applied"
	c=$(consistent) || nn_not_ok "restart after SIGKILL (+${delay}s): nn_active epoch = nn_meta epoch" "$c"
	sleep 0.4
done
nn_ok "5 SIGKILLs right after an apply was triggered: ids kept, restarts applied the newest generation"
nn_check "after the kills: nn_active and nn_meta consistent ($(consistent))" consistent
nn_check "after the kills: the program ids are the first ones ($ids)" test "$(prog_ids eth0)" = "$ids"

# SIGTERM: the dataplane stays attached and enforcing without a controller.
last=$(($(ls "$NN_TMP"/g*.pid | wc -l) - 1))
gwd_kill "g$last" TERM
nn_check "SIGTERM: exit 0" test "$(gwd_wait_rc "g$last")" = 0
nn_check "SIGTERM: programs still attached, same ids" test "$(prog_ids eth0)" = "$ids"

# Let the pings finish (deadline: COUNT * 50 ms from their start).
nn_wait_for 20 sh -c "! kill -0 $(cat "$NN_TMP/ping_alice.pid") 2>/dev/null"
nn_wait_for 5 sh -c "! kill -0 $(cat "$NN_TMP/ping_carol.pid") 2>/dev/null"
rx_a=$(grep -o '[0-9]* received' "$NN_TMP/ping_alice.log" | cut -d' ' -f1)
rx_c=$(grep -o '[0-9]* received' "$NN_TMP/ping_carol.log" | cut -d' ' -f1)
echo "# restart_ping_lost=$((COUNT - ${rx_a:-0}))/$COUNT (allowed flow, 50 ms interval, 7 controller kills/stops)"
nn_check "allowed ping: no packet lost across the restarts ($rx_a/$COUNT)" test "${rx_a:-0}" = $COUNT
nn_check "allowed ping: every request reached acme-db ($(alice_at_r))" test "$(alice_at_r)" -ge $((COUNT + 1))
nn_check "denied ping: no reply ($rx_c/$COUNT)" test "${rx_c:-x}" = 0
nn_check "denied ping: no packet reached acme-db ($(carol_at_r))" test "$(carol_at_r)" = 0
nn_check "denied packets counted as drops (gwctl stats, cross_tenant >= $COUNT)" test "$(gwctl stats |
	jq '[.. | objects | select(has("cross_tenant")) | .cross_tenant | if type == "object" then .packets else . end] | max')" -ge $COUNT

nn_finish
