# SPDX-License-Identifier: GPL-2.0
# tools/dashboard/scenario.sh - a few minutes of a gateway's life on the demo
# topology (selftests/netns/topo_gateway.sh), its /metrics scraped all along:
# the real data behind docs/dashboard.png and test_observability. Source it
# after lib.sh and topo_gateway.sh, with the topology up.
#
#   obs_run SECONDS INTERVAL DIR   traffic and events for SECONDS, a scrape of
#                                  the controller's /metrics every INTERVAL
#                                  seconds into DIR/<unix ms>.prom
#
# What happens, as fractions of SECONDS:
#   all along  alice (acme) streams to acme-db tcp/8000 (rule eng-db) and
#              carol (globex) to globex-files tcp/8001 (ops-files) with
#              iperf3 at a fixed bitrate; every second bob opens acme-web
#              (passes) and acme-db tcp/5432 (acl_default_deny), carol tries
#              acme-db (cross_tenant), alice tries SMTP on the internet
#              (acl_deny, rule no-smtp)
#   0.45       the control plane disables bob-phone: a change applied, one
#              peer fewer, bob's attempts stop reaching the dataplane
#   0.55       an operator loads a snapshot in which globex claims acme's
#              prefix: refused as a whole at every fetch (nanami_config_
#              errors_total{kind="snapshot_rejected"}), the previous
#              generation stays enforced
#   0.65       the operator loads the corrected snapshot: applied
#   0.70       alice's AllowedIPs on wg0 widened by hand: the next resync
#              repairs it (nanami_drift_repairs_total)

OBS_ALICE_BPS=${OBS_ALICE_BPS:-4M}
OBS_CAROL_BPS=${OBS_CAROL_BPS:-2M}

# obs_loop NODE TAG SECONDS PROTO ADDR PORT: one attempt a second.
obs_loop() {
	local node=$1 tag=$2 secs=$3 proto=$4 addr=$5 port=$6
	nn_bg "$node" "$tag" bash -c "end=\$((SECONDS + $secs)); while [ \$SECONDS -lt \$end ]; do
		$CONNECT -t ${OBS_TRY_T:-1} $([ "$proto" = udp ] && echo -u) $addr $port; sleep 1; done"
}

# obs_scrape_loop SECONDS INTERVAL DIR: the scraper (a Prometheus stand-in).
obs_scrape_loop() {
	local end=$(($(nn_now_ms) + $1 * 1000)) ivl=$2 dir=$3 t
	while [ "$(nn_now_ms)" -lt "$end" ]; do
		t=$(nn_now_ms)
		nn_in gw curl -s --max-time 2 "http://$TOPO_METRICS/metrics" >"$dir/$t.prom.tmp" &&
			mv "$dir/$t.prom.tmp" "$dir/$t.prom"
		sleep "$ivl"
	done
}

obs_at() { # FRACTION T0_MS SECONDS: sleep until T0 + FRACTION x SECONDS
	local due
	due=$(awk -v f="$1" -v t0="$2" -v s="$3" 'BEGIN { printf "%.0f", t0 + f * s * 1000 }')
	while [ "$(nn_now_ms)" -lt "$due" ]; do sleep 0.2; done
}

obs_run() {
	local secs=$1 ivl=$2 dir=$3 t0 scraper gen
	local bob_off='(.tenants[].networks[].devices[] | select(.device_id == "bob-phone") | .state) = "disabled"'
	mkdir -p "$dir"
	nn_bg res iperf-acme iperf3 -s -p 8000
	nn_bg res iperf-globex iperf3 -s -p 8001
	sleep 0.5
	t0=$(nn_now_ms)
	obs_scrape_loop "$secs" "$ivl" "$dir" &
	scraper=$!
	echo "$scraper" >"$NN_TMP/obs-scraper.pid" # nn_teardown stops it if we are stopped
	nn_bg alice tr-alice iperf3 -c fd00:acc::5 -p 8000 -b "$OBS_ALICE_BPS" -t "$secs" -i 0
	nn_bg carol tr-carol iperf3 -c fd00:6b0::1 -p 8001 -b "$OBS_CAROL_BPS" -t "$secs" -i 0
	obs_loop bob tr-bob-web "$secs" tcp fd00:acc:1::9 443
	obs_loop bob tr-bob-db "$secs" tcp fd00:acc::5 5432
	obs_loop carol tr-carol-x "$secs" tcp fd00:acc::5 5432
	obs_loop alice tr-alice-smtp "$secs" tcp 2001:db8:ffff::1 25

	obs_at 0.45 "$t0" "$secs"
	cp_api PUT /admin/v1/devices/bob-phone/state '{"state": "disabled"}' >/dev/null
	obs_at 0.55 "$t0" "$secs"
	gen=$(topo_cp_gen)
	jq "$bob_off"' | (.tenants[1].networks[0].resources[0].prefixes) = ["fd00:acc::/64"]' \
		"$NN_TMP/snapshot.json" >"$NN_TMP/obs-bad.json"
	cp_api PUT "/admin/v1/snapshot?force_generation=$((gen + 10))" "$(cat "$NN_TMP/obs-bad.json")" \
		>/dev/null
	obs_at 0.65 "$t0" "$secs"
	jq "$bob_off" "$NN_TMP/snapshot.json" >"$NN_TMP/obs-good.json"
	cp_api PUT "/admin/v1/snapshot?force_generation=$((gen + 20))" \
		"$(cat "$NN_TMP/obs-good.json")" >/dev/null
	obs_at 0.70 "$t0" "$secs"
	nn_in gw wg set wg0 peer "${TOPO_PUB[alice]}" \
		allowed-ips fd7a:6e61:6e61:10::2/128,100.96.16.2/32,fd7a:6e61:6e61:10::99/128
	wait "$scraper"
	rm -f "$NN_TMP/obs-scraper.pid"
}
