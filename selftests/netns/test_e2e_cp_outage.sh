#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The control plane goes away and comes back while traffic runs.
#
#   alice (acme eng)  ──ul1──┐                      ┌──lan0── res  fd00:acc::5
#   bob   (acme sales)──ul2──┼── gw  wg0 + nanami-gatewayd --resync 5 --poll 2
#   carol (globex)    ──ul3──┘       nanami-cp 127.0.0.1:8443   (stopped, then
#                                    restarted on its --state)  └──wan0── inet
#
# While nanami-cp is down (longer than one resync): alice pings bob every
# 200 ms without loss, allowed connections pass, denied ones are dropped and
# counted, the generation and epoch stay put (nothing re-applied). Meanwhile
# the control plane's state file is changed (a new allow rule, bob's
# routing preference): when nanami-cp returns on that state, the gateway
# applies it within resync + 1 s, without a restart.
set -u
cd "$(dirname "$0")/../.." || exit 2
TOPO_RESYNC=5
. selftests/netns/lib.sh
. selftests/netns/topo_gateway.sh

for t in wireguard-go wg jq python3 curl; do
	command -v "$t" >/dev/null || { echo "ok - e2e cp outage # SKIP $t not installed"; exit 0; }
done
if ! topo_up; then
	nn_not_ok "topology up" "see $NN_TMP"
	tail -20 "$NN_TMP/gatewayd.log" | sed 's/^/#   /'
	nn_finish
	exit 1
fi
nn_ok "topology up"

DB=fd00:acc::5 BOB=fd7a:6e61:6e61:10::3 INET6=2001:db8:ffff::1

# round: one allowed and one denied attempt; status 0 when both behaved.
ROUND_BAD=""
round() {
	local d0
	topo_try alice tcp "$DB" 5432 >/dev/null || { ROUND_BAD="alice tcp/5432 failed"; return 1; }
	d0=$(drops acl_default_deny)
	if TOPO_TRY_T=0.5 topo_try alice tcp "$DB" 22 >/dev/null; then
		ROUND_BAD="alice tcp/22 passed"
		return 1
	fi
	[ "$(drops acl_default_deny)" -gt "$d0" ] || { ROUND_BAD="tcp/22 not counted"; return 1; }
}

# The first round right after the topology came up may meet a tunnel or
# listener still warming up (CI saw one such failure): up to 3 tries, each
# failure printed, so a real fault still fails the check.
first_round() {
	local i
	for i in 1 2 3; do
		round && return 0
		echo "try $i: $ROUND_BAD"
		sleep 0.5
	done
	return 1
}

nn_bg alice pingloop ping -6 -i 0.2 -W 1 "$BOB"
nn_check "before: allowed passes, denied dropped" first_round
gen0=$(topo_gen)
epoch0=$(gwctl status | jq '.epoch')
hits0=$(topo_hits eng-db)

topo_cp_stop
t_down=$(nn_now_ms)
nn_check "nanami-cp stopped (SIGTERM)" eval '! nn_in gw curl -s --max-time 1 $TOPO_CP/admin/v1/state'
nn_check "the controller notices: no event stream" \
	nn_wait_for 5 eval '! topo_stream_is stream'
rounds=0 bad=0
while [ $(($(nn_now_ms) - t_down)) -lt $(((TOPO_RESYNC + 2) * 1000)) ]; do
	rounds=$((rounds + 1))
	round || { bad=$((bad + 1)); echo "# round $rounds: $ROUND_BAD"; }
	sleep 0.2
done
nn_check "control plane down for $(($(nn_now_ms) - t_down)) ms (> one resync): $rounds rounds, allowed passed and denied dropped in each" \
	test "$bad" -eq 0 -a "$rounds" -ge 3
nn_check "eng-db counted every allowed connection ($rounds + 1)" \
	test "$(topo_hits eng-db)" -eq $((hits0 + rounds))
nn_check "enforcement unchanged: same generation ($gen0), same epoch ($epoch0)" \
	test "$(topo_gen)" = "$gen0" -a "$(gwctl status | jq '.epoch')" = "$epoch0"
nn_check "the controller reports the control plane down (metrics)" \
	eval '[ "$(topo_stream_state)" = down ] || [ "$(topo_stream_state)" = polling ]'

# Changes made while it is down: nanami-cp's --state file, edited offline.
st=$NN_TMP/cp-state.json
jq '.generation += 1
    | (.world.tenants[].networks[] | select(.network_id == "acme-prod") | .acl) |=
	([{ "rule_id": "eng-ssh", "action": "allow", "src": { "groups": ["eng"] },
	    "dst": { "resources": ["acme-db"] }, "proto": "tcp", "ports": ["22"] }] + .)
    | (.world.tenants[].networks[].devices[] | select(.device_id == "bob-phone")
	| .routing_preference) = { "traffic_mode": "full_tunnel" }' "$st" >"$st.new" &&
	mv "$st.new" "$st"
gen1=$(jq .generation "$st")
nn_check "state file changed offline: generation $gen0 -> $gen1" test "$gen1" -eq $((gen0 + 1))

nn_check "nanami-cp back on the same --state" topo_cp_start
t_up=$(nn_now_ms)
applied() { [ "$(topo_gen)" = "$gen1" ]; }
if nn_wait_for $((TOPO_RESYNC + 3)) applied; then
	ms=$(($(nn_now_ms) - t_up))
	echo "# cp_return_apply_ms=$ms"
	nn_check "the gateway applied generation $gen1 within resync + 1 s ($ms ms)" \
		test "$ms" -le $(((TOPO_RESYNC + 1) * 1000))
else
	nn_not_ok "the gateway applied generation $gen1" "still $(topo_gen)"
fi
h0=$(topo_hits eng-ssh)
nn_check "the new rule is enforced: alice -> acme-db tcp/22 passes" topo_try alice tcp "$DB" 22
nn_check "... counted on eng-ssh" test "$(topo_hits eng-ssh)" -eq $((h0 + 1))
nn_check "bob's new routing preference is enforced: bob reaches the internet" \
	topo_try bob tcp "$INET6" 443
d0=$(drops acl_default_deny)
if TOPO_TRY_T=1 topo_try bob tcp "$DB" 5432 >/dev/null; then
	nn_not_ok "still denied: bob -> acme-db tcp/5432" "it passed"
else
	nn_check "still denied: bob -> acme-db tcp/5432" test "$(drops acl_default_deny)" -gt "$d0"
fi
nn_check "the controller talks to the control plane again (metrics: polling or stream)" \
	nn_wait_for 5 eval '[ "$(topo_stream_state)" = stream ] || [ "$(topo_stream_state)" = polling ]'

# The ping loop ran through all of it.
kill -INT "$(cat "$NN_TMP/pingloop.pid")" 2>/dev/null
nn_wait_for 3 grep -q 'packets transmitted' "$NN_TMP/pingloop.log"
read -r tx rx < <(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p' \
	"$NN_TMP/pingloop.log")
echo "# ping alice -> bob every 200 ms: ${tx:-?} sent, ${rx:-?} received"
nn_check "no ping lost across the outage and the return (${rx:-?}/${tx:-?}; the one in flight at the end may be missing)" \
	test "${tx:-0}" -ge 30 -a "${rx:-0}" -ge $((${tx:-0} - 1))
rm -f "$NN_TMP/pingloop.pid"

nn_finish
