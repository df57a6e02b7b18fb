#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
# nn-test: long (about 30 s or more: selftests/run.sh starts it first)
# The operator's monitoring kit (packaging/prometheus, packaging/grafana,
# tools/dashboard) against the real daemon: the demo gateway (topology in
# selftests/netns/topo_gateway.sh) runs OBS_SECONDS of traffic and events
# (tools/dashboard/scenario.sh) while its /metrics is scraped every second.
#
#   alice, bob, carol ──wg0── gw (nanami-gatewayd --metrics-listen) ── res, inet
#                              scraped every 1 s -> $NN_TMP/scrapes/*.prom
#
#   1. promtool check rules, promtool test rules (a series that fires and one
#      that does not, for every alert: nanami.rules.test.yml)
#   2. promtool check metrics: the real page is valid exposition (lint clean)
#   3. every metric the rules and the dashboard query is one the real page
#      exports (selftests/obs/check_names.py: names from the scrape itself),
#      and the check refuses a rule and a panel with a misspelt name; the
#      dashboard's layout (unique ids, $datasource, no overlapping panels)
#   4. the dashboard's panels drawn from the recorded scrapes
#      (tools/dashboard/render.py), and the data in them is what the
#      scenario made: both tenants' traffic, the drops it provoked by reason,
#      a peer fewer after the revocation, a refused snapshot, a drift repair
set -u
. "$(dirname "$0")/lib.sh"
TOPO_RESYNC=3
. "$NN_ROOT/selftests/netns/topo_gateway.sh"
. "$NN_ROOT/tools/dashboard/scenario.sh"
RULES=$NN_ROOT/packaging/prometheus/nanami.rules.yml
RULES_TEST=$NN_ROOT/packaging/prometheus/nanami.rules.test.yml
DASH=$NN_ROOT/packaging/grafana/nanami-gateway.json
OBS_SECONDS=${OBS_SECONDS:-20}
# Low bitrates: wireguard-go encrypts in user space on a loaded test machine,
# and the other clients' attempts must still get through.
OBS_ALICE_BPS=1M
OBS_CAROL_BPS=512K

for tool in promtool iperf3 /usr/bin/python3; do
	command -v "$tool" >/dev/null ||
		{ echo "not ok - $tool is not installed (tools/install-deps.sh)"; exit 1; }
done

nn_check "promtool check rules" promtool check rules "$RULES"
# promtool resolves rule_files relative to the test file
nn_check "promtool test rules: every alert fires on its bad series and not on the good" \
	promtool test rules "$RULES_TEST"
# Every alert of the rules file has a test that expects it to fire.
untested=$(comm -23 <(grep -oP '^\s*- alert: \K\w+' "$RULES" | sort -u) \
	<(grep -B1 -A2 'exp_alerts:$' "$RULES_TEST" | grep -oP 'alertname: \K\w+' | sort -u))
if [ -z "$untested" ] && grep -q 'alert:' "$RULES"; then
	nn_ok "every alert has a test in which it fires"
else
	nn_not_ok "every alert has a test in which it fires" "untested: $untested"
fi

if ! topo_up; then
	nn_not_ok "the demo gateway came up" "logs in $NN_TMP"
	nn_finish
	exit 1
fi
scrapes=$NN_TMP/scrapes
obs_run "$OBS_SECONDS" 1 "$scrapes"
last=$(ls "$scrapes"/*.prom | tail -n 1)

if promtool check metrics <"$last" >"$NN_TMP/lint.out" 2>&1; then
	nn_ok "promtool check metrics: the real page is valid and lint clean"
else
	nn_not_ok "promtool check metrics: the real page is valid and lint clean"
	sed 's/^/#   /' "$NN_TMP/lint.out" | head -30
fi

/usr/bin/python3 "$NN_ROOT/selftests/obs/check_names.py" "$last" "$RULES" "$DASH" \
	>"$NN_TMP/names.out" 2>&1
cat "$NN_TMP/names.out"
NN_PASSED=$((NN_PASSED + $(grep -c '^ok ' "$NN_TMP/names.out")))
NN_FAILED=$((NN_FAILED + $(grep -c '^not ok ' "$NN_TMP/names.out")))
grep -qE '^(ok|not ok) ' "$NN_TMP/names.out" ||
	nn_not_ok "check_names.py reported nothing"

# The check can fail: a dashboard and a rule naming a metric the page lacks.
jq '.panels[0].targets[0].expr |= sub("nanami_drops_total"; "nanami_drop_total")' "$DASH" \
	>"$NN_TMP/bad-dash.json"
sed 's/nanami_map_fill_ratio > 0.8/nanami_map_fill > 0.8/' "$RULES" >"$NN_TMP/bad-rules.yml"
/usr/bin/python3 "$NN_ROOT/selftests/obs/check_names.py" "$last" "$NN_TMP/bad-rules.yml" \
	"$NN_TMP/bad-dash.json" >"$NN_TMP/names-bad.out" 2>&1
if grep -q 'NanamiMapFull: nanami_map_fill is not exported' "$NN_TMP/names-bad.out" &&
	grep -q "nanami_drop_total is not exported" "$NN_TMP/names-bad.out" &&
	[ "$(grep -c '^not ok ' "$NN_TMP/names-bad.out")" = 2 ]; then
	nn_ok "the name check refuses a rule and a panel naming metrics the page lacks"
else
	nn_not_ok "the name check refuses a rule and a panel naming metrics the page lacks"
	sed 's/^/#   /' "$NN_TMP/names-bad.out"
fi

png=$NN_BUILD/dashboard/test-dashboard.png
summary=$NN_TMP/summary.json
if /usr/bin/python3 "$NN_ROOT/tools/dashboard/render.py" --dashboard "$DASH" \
	--summary "$summary" "$scrapes" "$png" >"$NN_TMP/render.out" 2>&1 &&
	[ -s "$png" ] && [ "$(head -c 4 "$png" | tail -c 3)" = PNG ]; then
	nn_ok "render.py drew the dashboard's $(jq '.panels | length' "$summary") panels from $(jq .scrapes "$summary") scrapes ($png)"
else
	nn_not_ok "render.py drew the dashboard" "$(tail -n 5 "$NN_TMP/render.out")"
	nn_finish
	exit 1
fi

# peak PANEL SERIES: the series' highest value in the drawing (null: no data)
peak() { jq -r --arg p "$1" --arg s "$2" '.panels[$p][$s] // "null"' "$summary"; }
positive() { awk -v v="$1" 'BEGIN { exit !(v != "null" && v + 0 > 0) }'; }
check_positive() { # NAME PANEL SERIES
	local v
	v=$(peak "$2" "$3")
	if positive "$v"; then
		nn_ok "$1 (peak $v)"
	else
		nn_not_ok "$1" "panel '$2' series '$3': $v; panel: $(jq -c --arg p "$2" '.panels[$p]' "$summary")"
	fi
}
check_positive "traffic per tenant: acme's iperf3 stream is drawn" "Traffic per tenant" \
	"acme from-overlay"
check_positive "traffic per tenant: globex's iperf3 stream is drawn" "Traffic per tenant" \
	"globex from-overlay"
check_positive "drops by reason: carol -> acme is cross_tenant" "Drops by reason" cross_tenant
check_positive "drops by reason: bob -> acme-db tcp/5432 is acl_default_deny" \
	"Drops by reason" acl_default_deny
check_positive "drops by reason: alice's SMTP is acl_deny" "Drops by reason" acl_deny
check_positive "map fill: nn_flows holds the flows" "Map fill" nn_flows
check_positive "config errors: the snapshot giving globex acme's prefix was refused" "Config errors" \
	snapshot_rejected
check_positive "config errors: the widened AllowedIPs was repaired" "Config errors" \
	"drift repairs"
check_positive "apply latency: the resync's re-applies are timed" "Apply latency" "mean drift"
check_positive "handshake age: the newest handshake is drawn" "Handshake age" \
	"newest, any peer"
# bob-phone disabled: one peer fewer on the page, as scraped
first=$(ls "$scrapes"/*.prom | head -n 1)
p0=$(awk '$1 == "nanami_peers" { print $2 }' "$first")
p1=$(awk '$1 == "nanami_peers" { print $2 }' "$last")
if [ -n "$p0" ] && [ "$p1" = $((p0 - 1)) ]; then
	nn_ok "wg0 peers: $p0 before bob-phone is disabled, $p1 after"
else
	nn_not_ok "wg0 peers: one fewer after bob-phone is disabled" "first $p0, last $p1"
fi
# Every peer of wg0 is labelled with the device or node holding its key.
nn_check "per-peer metrics: alice-laptop's peer by name, no peer unknown" sh -c \
	"grep -q '^nanami_peer_rx_bytes_total{peer=\"alice-laptop\"}' '$last' &&
	 ! grep -q 'peer=\"unknown\"' '$last'"
nn_finish
