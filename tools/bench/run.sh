#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tools/bench/run.sh - `make bench` (the whole suite, minutes) and
# `make bench-smoke` (--smoke: the same harness, short, under 60 s; it never
# fails on figures, only when the harness itself breaks).
#
#   1. micro: nn-microbench (BPF_PROG_TEST_RUN) at every scale, floors,
#      parse-only, bare hash/LPM lookups, random sources, nested prefixes,
#      the line floors; then (full run, memory permitting) the issue-14
#      cases and the line floors at 100k and 1M in one process (micro1m)
#   2. veth: generator -> gateway -> sink in network namespaces, our programs
#      attached by nanami-gatewayd --once, against nftables, no filter and
#      the XDP_DROP / TC drop ceilings, alternating
#   3. controller: validate + apply at each scale (cold, warm, one device),
#      generation swaps under traffic
#   3b. e2e (full run): one-device changes of every kind, then 100 changes a
#      second for 5 minutes, through the real nanami-gatewayd and the
#      reference control plane's event stream at 100k (e2e.sh; issue 13)
#   4. tunnel (full run): iperf3 through a wireguard-go wg0, our programs
#      attached or not, alternating (tunnel.sh); then the same through the
#      kernel's WireGuard inside the Debian 6.1 and 6.12 guests (vmrun.sh)
#   5. report: build/bench/results.json, summary.md, *.svg (report.py)
#
# Root only. Needs: iproute2, nftables, python3. O=build by default.
# Environment: BENCH_ROUNDS (veth rounds, default 2), BENCH_SECS (seconds per
# veth measurement, default 3), BENCH_SKIP="micro micro1m veth ctl e2e tunnel tunnel_kernel profile" to skip
# parts, BENCH_E2E_N / BENCH_E2E_CHANGES / BENCH_E2E_RATE / BENCH_E2E_SECONDS (e2e_part), BENCH_VETH_SCALES / BENCH_CTL_SCALES ("10 10000") to override,
# BENCH_CTL_KB_PER_DEV the controller's memory estimate per device (ctl_part).
set -u
ROOT=${NN_BENCH_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
O=${O:-build}
case "$O" in /*) B=$O ;; *) B=$ROOT/$O ;; esac
BIN=$B/nn-microbench
GWD=$B/nanami-gatewayd
OUT=$B/bench
RAW=$OUT/raw
SMOKE=0
[ "${1:-}" = --smoke ] && SMOKE=1
SKIP=${BENCH_SKIP:-}

if [ "$SMOKE" = 1 ]; then
	MICRO_ARGS=(-n 10,1000 -N 1000 -R 100000 -r 3 -I -L 10000)
	MICRO_TOP=1000
	VETH_SCALES=(10)
	LINEAR_SCALE=10
	ROUNDS=1
	SECS=${BENCH_SECS:-0.4}
	WARM=0.3
	REPEAT=$((1 << 20))
	CTL_SCALES=(1000)
	SWAPS=20
	VARIANTS=(deny:65536:1 allow:65536:1)
else
	MICRO_ARGS=(-n 10,1000,10000,100000 -N 100000 -R 2000000 -r 7 -L 100000)
	MICRO_TOP=100000
	VETH_SCALES=(10 10000 100000)
	LINEAR_SCALE=1000
	ROUNDS=${BENCH_ROUNDS:-2}
	SECS=${BENCH_SECS:-3}
	WARM=1
	REPEAT=$((1 << 24))
	# 1M devices and rules: the controller only (the veth and nftables
	# parts stop at 100k; see tools/bench/README.md "1M devices and rules").
	CTL_SCALES=(1000 10000 100000 1000000)
	SWAPS=1000
	# workload:sources:cpu mode (1 single CPU, 2 threaded NAPI)
	VARIANTS=(deny:65536:1 allow:65536:1 deny:1:1 allow:1:1 deny:65536:2 allow:65536:2)
fi

[ -n "${BENCH_VETH_SCALES:-}" ] && read -ra VETH_SCALES <<<"$BENCH_VETH_SCALES"
# One comparison alone: BENCH_VARIANTS ("deny:65536:1") and BENCH_VETH_CONFIGS
# ("xdp_drop:0 ours_xdp:100000 alt_xdp:100000 nft_eq:100000"); alt_xdp/alt_tc
# (alt2_*) are ours from another build's daemon, BENCH_ALT_GWD (BENCH_ALT2_GWD):
# an A/B (A/B/C) in one run.
[ -n "${BENCH_VARIANTS:-}" ] && read -ra VARIANTS <<<"$BENCH_VARIANTS"
[ -n "${BENCH_CTL_SCALES:-}" ] && read -ra CTL_SCALES <<<"$BENCH_CTL_SCALES"
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (BPF, namespaces)" >&2; exit 1; }
[ -x "$BIN" ] && [ -x "$GWD" ] || { echo "run.sh: build first (make)" >&2; exit 1; }
mkdir -p "$RAW"
# Only the outputs of the parts that run (BENCH_SKIP keeps the others).
case " $SKIP " in *" micro "*) ;; *) rm -f "$RAW"/micro.* ;; esac
case " $SKIP " in *" micro1m "*) ;; *) rm -f "$RAW"/micro1m.* ;; esac
case " $SKIP " in *" veth "*) ;; *) rm -f "$RAW"/veth.* ;; esac
case " $SKIP " in *" ctl "*) ;; *) rm -f "$RAW"/ctl.* "$RAW"/swap*.json ;; esac
case " $SKIP " in *" profile "*) ;; *) rm -f "$RAW"/profile.* ;; esac
case " $SKIP " in *" e2e "*) ;; *) rm -rf "$RAW"/e2e "$RAW"/e2e.txt ;; esac
TAG=nnb$$
TMP=$(mktemp -d "/tmp/nn-bench-$$.XXXXXX")
PIN=/sys/fs/bpf/$TAG
say() { printf '# %s %s\n' "$(date +%T)" "$*" >&2; }

# ---- topology: gen (g0) -> (eth0) gw (eth1) -> (eth0) sink ----
NS_GEN=$TAG-gen
NS_GW=$TAG-gw
NS_SINK=$TAG-sink
in_ns() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" -- "$@"; }

teardown() {
	local ns
	for ns in "$NS_GEN" "$NS_GW" "$NS_SINK"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$PIN" "$TMP"
}
trap teardown EXIT

topo_up() {
	ip netns add "$NS_GEN" && ip netns add "$NS_GW" && ip netns add "$NS_SINK" || return 1
	ip link add "${TAG}a" type veth peer name "${TAG}b" || return 1
	ip link set "${TAG}a" netns "$NS_GEN" name g0
	ip link set "${TAG}b" netns "$NS_GW" name eth0
	ip link add "${TAG}c" type veth peer name "${TAG}d" || return 1
	ip link set "${TAG}c" netns "$NS_GW" name eth1
	ip link set "${TAG}d" netns "$NS_SINK" name eth0
	for ns in "$NS_GEN" "$NS_GW" "$NS_SINK"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_GEN" link set g0 up
	ip -n "$NS_GW" link set eth0 up
	ip -n "$NS_GW" link set eth1 up
	ip -n "$NS_SINK" link set eth0 up
	ip -n "$NS_GW" addr add 192.0.2.1/24 dev eth0
	ip -n "$NS_GW" addr add 198.51.100.1/24 dev eth1
	ip -n "$NS_SINK" addr add 198.51.100.2/24 dev eth0
	# Everything the generator sends goes on to the sink; the overlay's
	# 100.64/10 sources arrive on eth0, so no reverse-path filter.
	ip -n "$NS_GW" route add 10.0.0.0/8 via 198.51.100.2
	ip -n "$NS_GW" route add 100.64.0.0/10 via 198.51.100.2
	ip -n "$NS_GW" route add default via 198.51.100.2
	ip -n "$NS_GW" neigh replace 198.51.100.2 lladdr "$(mac "$NS_SINK" eth0)" dev eth1 nud permanent
	# No IPv6 chatter (router solicitations, MLD) from the generator.
	in_ns "$NS_GEN" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	in_ns "$NS_GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
	mkdir -p "$PIN"
	# The sink counts everything it receives (native XDP, counted, dropped).
	in_ns "$NS_SINK" "$BIN" attach count_drop eth0 "$PIN/sink" || return 1
	GW_MAC=$(mac "$NS_GW" eth0)
}

mac() { ip -n "$1" -j link show dev "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'; }

# ---- what sits on the gateway's eth0 ----
gw_clear() {
	in_ns "$NS_GW" "$GWD" --iface eth0 --detach --bpffs "$PIN/gw" >/dev/null 2>&1
	ip -n "$NS_GW" link set dev eth0 xdp off 2>/dev/null
	ip -n "$NS_GW" link set dev eth0 xdpdrv off 2>/dev/null
	tc -n "$NS_GW" qdisc del dev eth0 clsact 2>/dev/null
	in_ns "$NS_GW" nft flush ruleset 2>/dev/null
	rm -rf "$PIN/gwx" "$PIN/gw"
}

# gw_policy N: the synthetic snapshot of N devices and rules, once.
gw_policy() {
	[ -f "$TMP/policy$1.json" ] || "$BIN" policy -n "$1" -o "$TMP/policy$1.json"
}

# Start a config; sets COUNT_PINS / COUNT_CMDS (the gateway-side counters of
# packets the filter dropped; the sink is always counted too).
COUNT_PINS=()
COUNT_CMDS=()
NFT_COUNT="nsenter --net=/run/netns/$NS_GW nft list counters 2>/dev/null | grep -o 'packets [0-9]*' | awk '{s+=\$2} END {print s+0}'"
gw_config() {
	local cfg=$1 n=${2:-0} hook gwd
	gw_clear
	COUNT_PINS=("$PIN/sink/cnt")
	COUNT_CMDS=()
	case "$cfg" in
	xdp_drop)
		in_ns "$NS_GW" "$BIN" attach count_drop eth0 "$PIN/gwx" || return 1
		COUNT_PINS+=("$PIN/gwx/cnt") ;;
	tc_drop)
		in_ns "$NS_GW" "$BIN" attach count_pass eth0 "$PIN/gwp" || return 1
		in_ns "$NS_GW" "$BIN" attach tc_drop eth0 "$PIN/gwx" || return 1
		COUNT_PINS+=("$PIN/gwx/cnt") ;;
	no_filter)
		in_ns "$NS_GW" "$BIN" attach count_pass eth0 "$PIN/gwp" || return 1 ;;
	ours_xdp|ours_tc|alt_xdp|alt_tc|alt2_xdp|alt2_tc)
		hook=${cfg#*_}
		gwd=$GWD
		case "$cfg" in
		alt_*) gwd=${BENCH_ALT_GWD:?alt_$hook needs BENCH_ALT_GWD} ;;
		alt2_*) gwd=${BENCH_ALT2_GWD:?alt2_$hook needs BENCH_ALT2_GWD} ;;
		esac
		gw_policy "$n" || return 1
		# As in production: the controller loads, applies and attaches.
		# TC: an XDP_PASS program gives the veth NAPI (live frames need it).
		[ "$hook" = tc ] && { in_ns "$NS_GW" "$BIN" attach count_pass eth0 "$PIN/gwp" || return 1; }
		in_ns "$NS_GW" "$gwd" --iface eth0 --assignments "$TMP/policy$n.json" --once \
			--framing eth --hook "$hook" --wg none --nat off --bpffs "$PIN/gw" \
			--state-dir "$TMP/state" --max-devices $((n + 1024)) --max-rules $((n + 1024)) \
			--max-prefixes $((2 * n + 4096)) --max-cells $((16 * n + 4096)) \
			>"$TMP/gwd.log" 2>&1 || { cat "$TMP/gwd.log" >&2; return 1; }
		COUNT_PINS+=("$PIN/gw/nn_drops") ;;
	nft_eq|nft_linear)
		# Counted as it enters the gateway's stack (the XDP_PASS counter):
		# nftables then handles it in the same NAPI poll. Reading nft's own
		# counters takes seconds at 100k elements (the whole ruleset is
		# fetched), too slow to time a window with; they are checked once
		# after the runs instead (veth_nft_check).
		in_ns "$NS_GW" "$BIN" attach count_pass eth0 "$PIN/gwp" || return 1
		[ -f "$TMP/$cfg$n.nft" ] || "$BIN" nft -n "$n" -i eth0 $([ "$cfg" = nft_linear ] && echo -l) \
			-o "$TMP/$cfg$n.nft" >"$TMP/$cfg$n.nft.json" || return 1
		in_ns "$NS_GW" nft -f "$TMP/$cfg$n.nft" || return 1
		cp "$TMP/$cfg$n.nft.json" "$RAW/veth.$cfg$n.json"
		COUNT_PINS=("$PIN/gwp/cnt") ;;
	*) return 1 ;;
	esac
}

# One measurement: workload (allow|deny), sources, cpu mode (1|2).
veth_run() {
	local cfg=$1 n=$2 round=$3 kind=$4 src=$5 mode=$6 args=() p c pn=$2 out
	# Pairs come from the policy the gateway enforces (ceilings and no
	# filter: the 100k policy's, or the only scale of the smoke run).
	[ "$n" = 0 ] && pn=${VETH_SCALES[-1]}
	for p in "${COUNT_PINS[@]}"; do args+=(-p "$p"); done
	# nftables, allowed traffic: what reaches the sink, as for the others.
	case "$cfg:$kind" in nft_*:allow) args=(-p "$PIN/sink/cnt") ;; esac
	for c in "${COUNT_CMDS[@]}"; do args+=(-x "$c"); done
	echo "$mode" | grep -q 2 && threaded=1 || threaded=0
	ip netns exec "$NS_GW" sh -c "echo $threaded > /sys/class/net/eth0/threaded; echo $threaded > /sys/class/net/eth1/threaded" 2>/dev/null
	ip netns exec "$NS_SINK" sh -c "echo $threaded > /sys/class/net/eth0/threaded" 2>/dev/null
	out=$(in_ns "$NS_GEN" "$BIN" gen -i g0 -d "$GW_MAC" -n "$pn" -k "$kind" -S "$src" -c 0 \
		-t "$SECS" -w "$WARM" -R "$REPEAT" "${args[@]}") || { echo "# gen failed: $cfg $n $kind" >&2; return 1; }
	printf '{"config": "%s", "scale": %s, "round": %s, "cpu_mode": "%s", "gen": %s}\n' \
		"$cfg" "$n" "$round" "$([ "$threaded" = 1 ] && echo threaded || echo single)" "$out" \
		>>"$RAW/veth.jsonl"
	say "veth $cfg n=$n $kind src=$src mode=$mode: $(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f Mpps" % (d["pps"]/1e6))')"
}

veth_configs() {
	local n
	[ -n "${BENCH_VETH_CONFIGS:-}" ] && { echo "$BENCH_VETH_CONFIGS"; return; }
	echo "xdp_drop:0" "tc_drop:0" "no_filter:0"
	for n in "${VETH_SCALES[@]}"; do echo "ours_xdp:$n" "ours_tc:$n" "nft_eq:$n"; done
	echo "nft_linear:$LINEAR_SCALE"
}

veth_part() {
	local round cfgn cfg n v
	say "veth: topology"
	topo_up || { echo "run.sh: topology failed" >&2; return 1; }
	for round in $(seq 1 "$ROUNDS"); do
		for cfgn in $(veth_configs); do
			cfg=${cfgn%%:*}
			n=${cfgn#*:}
			gw_config "$cfg" "$n" || { echo "# config $cfg $n failed" >&2; continue; }
			for v in "${VARIANTS[@]}"; do
				IFS=: read -r kind src mode <<<"$v"
				veth_run "$cfg" "$n" "$round" "$kind" "$src" "$mode"
			done
			# nftables really dropped the denied traffic (its own counters,
			# read once: too slow to time a window with).
			case "$cfg" in nft_*)
				printf '{"config": "%s", "scale": %s, "round": %s, "nft_drop_counters": %s}\n' \
					"$cfg" "$n" "$round" "$(sh -c "$NFT_COUNT")" >>"$RAW/veth.nftcheck.jsonl" ;;
			esac
		done
	done
	gw_clear
}

# ---- the micro at 1M (full run only) ----
# Issue 14's cold flatness 100k -> 1M (<= 1.3) needs both scales in one
# process (the rounds interleave: the same drift for both), and the micro
# keeps every scale loaded at once: 100k and 1M together peak at ~MICRO1M_GB
# (measured: tools/bench/README.md "1M devices and rules"). So: only the
# cases that carry an issue-14 target, their floors and the line floors;
# one 1M run machine-wide at a time (/tmp/nn-1m.lock, as every 1M run on
# this machine), and only when MemAvailable covers it with 4 GB to spare,
# checked once the lock is held; otherwise micro1m.json says why not.
MICRO1M_CASES="xdp_rand/floor,xdp_rand/established,xdp_rand/spoof_drop,xdp_rand/acl_drop,xdp_rand/new_insert,xdp_one/,lines/,_from/established,_from/spoof_drop,_from/acl_drop"
MICRO1M_GB=${BENCH_MICRO1M_GB:-8}
micro1m_part() {
	local need avail lock
	exec {lock}>/tmp/nn-1m.lock
	say "micro1m: waiting for /tmp/nn-1m.lock"
	flock "$lock"
	need=$(((MICRO1M_GB + 4) * 1024 * 1024))
	avail=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
	if [ "$avail" -lt "$need" ]; then
		say "micro1m: skipped (needs ~$((need >> 20)) GB free, $((avail >> 20)) GB are)"
		printf '{"skipped": "needs ~%s GB free (%s GB for 100k and 1M in one process plus 4 GB for the rest of the machine), %s GB were"}\n' \
			"$((need >> 20))" "$MICRO1M_GB" "$((avail >> 20))" >"$RAW/micro1m.json"
	else
		say "micro1m: nn-microbench -n 100000,1000000 -C $MICRO1M_CASES"
		# GNU time, when there is one: the process's peak RSS for the summary.
		local timer=()
		[ -x /usr/bin/time ] && timer=(/usr/bin/time -f '{"max_rss_kb": %M, "wall_s": %e}' \
			-o "$RAW/micro1m.rss.json")
		"${timer[@]}" "$BIN" -j -v -n 100000,1000000 -L 0 -I -R 500000 -r 5 -C "$MICRO1M_CASES" \
			>"$RAW/micro1m.json" 2>"$RAW/micro1m.txt" ||
			{ tail -5 "$RAW/micro1m.txt" >&2; echo "# micro1m failed" >&2; rm -f "$RAW/micro1m.json"; }
	fi
	flock -u "$lock"
	exec {lock}>&-
}

# ---- controller ----
# A scale runs only when the machine has its memory free now (peak RSS plus
# map memory per device and rule: 8.4 kB measured at 1M, 9 with a margin;
# and 4 GB left for everything else); otherwise its line says why it was
# skipped, and the summary says so.
CTL_KB_PER_DEV=${BENCH_CTL_KB_PER_DEV:-9}
ctl_part() {
	local n need avail
	for n in "${CTL_SCALES[@]}"; do
		need=$((n * CTL_KB_PER_DEV + 4 * 1024 * 1024))
		avail=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
		if [ "$avail" -lt "$need" ]; then
			say "controller: apply n=$n skipped (needs ~$((need >> 20)) GB free, $((avail >> 20)) GB are)"
			printf '{"n": %s, "skipped": "needs ~%s GB free (%s kB per device and rule plus 4 GB for the rest of the machine), %s GB were"}\n' \
				"$n" "$((need >> 20))" "$CTL_KB_PER_DEV" "$((avail >> 20))" >>"$RAW/ctl.jsonl"
			continue
		fi
		say "controller: apply n=$n"
		# The daemon's unit runs it with malloc's huge pages
		# (packaging/nanami-gatewayd@.service): so does the bench.
		GLIBC_TUNABLES=${BENCH_GLIBC_TUNABLES-glibc.malloc.hugetlb=1} \
			"$BIN" apply -n "$n" >>"$RAW/ctl.jsonl" || echo "# apply $n failed" >&2
	done
}

# Issue 13's change targets where they are defined: a change made at the
# reference control plane -> the generation enforced in the maps, through
# the real daemon and the real event stream (tools/bench/e2e.sh, which
# test_e2e_changes runs at 1k in make test). Serial changes of each kind,
# then sustained churn with the daemon's RSS sampled every second.
e2e_part() {
	local n=${BENCH_E2E_N:-100000}
	say "e2e: ${BENCH_E2E_CHANGES:-10} changes of each kind, then ${BENCH_E2E_RATE:-100}/s for ${BENCH_E2E_SECONDS:-300} s, at $n"
	O=$B E2E_N=$n E2E_CHANGES=${BENCH_E2E_CHANGES:-10} E2E_CHURN=${BENCH_E2E_RATE:-100} \
		E2E_SECONDS=${BENCH_E2E_SECONDS:-300} E2E_OUT=$RAW/e2e \
		"$ROOT/tools/bench/e2e.sh" >"$RAW/e2e.txt" 2>&1 ||
		echo "# e2e failed (raw/e2e.txt)" >&2
}

# Generation swaps while allowed traffic flows (XDP hook, 10-device policy,
# one source: d0; the swaps toggle d5). Loss = allowed packets the gateway
# dropped meanwhile: the drops column of its per-device counters (every
# packet of the traffic is a device's), with the receiver's count against
# what the gateway saw from devices as a cross-check.
swap_part() {
	local n=10 before after sink0 sink1 pass0 pass1 gpid
	say "controller: $SWAPS generation swaps under traffic"
	[ -e "/run/netns/$NS_GW" ] || topo_up || return 1
	gw_config ours_xdp "$n" || return 1
	before=$("$BIN" sum "$PIN/gw/nn_dev_ctr" 32)
	sink0=$("$BIN" sum "$PIN/sink/cnt")
	pass0=$("$BIN" sum "$PIN/gw/nn_dev_ctr")
	swap_window() {	# $1: swaps (0: the control window, same length)
		before=$("$BIN" sum "$PIN/gw/nn_dev_ctr" 32)
		sink0=$("$BIN" sum "$PIN/sink/cnt")
		pass0=$("$BIN" sum "$PIN/gw/nn_dev_ctr")
		# nsenter execs the generator: $! is its pid, for the signal below.
		# 16384 frames per call: the fixed cost of each live-frames call
		# paces the load below what the gateway forwards, so every packet
		# it passes must reach the sink (no capacity drops to hide a loss).
		nsenter --net=/run/netns/"$NS_GEN" -- "$BIN" gen -i g0 -d "$GW_MAC" -n "$n" -k allow \
			-S 1 -c 0 -t 3600 -w 0 -R 16384 >"$TMP/swapgen.json" 2>&1 &
		gpid=$!
		sleep 0.5
		if [ "$1" -gt 0 ]; then
			"$BIN" swap -n "$n" -P "$PIN/gw" -c "$1" >"$RAW/swap.json" || echo "# swap failed" >&2
		else
			sleep "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$RAW/swap.json" 2>/dev/null || echo 1)"
		fi
		sleep 0.2
		kill -USR1 "$gpid" 2>/dev/null
		wait "$gpid" 2>/dev/null || kill -KILL "$gpid" 2>/dev/null
		sleep 0.3
		after=$("$BIN" sum "$PIN/gw/nn_dev_ctr" 32)
		sink1=$("$BIN" sum "$PIN/sink/cnt")
		pass1=$("$BIN" sum "$PIN/gw/nn_dev_ctr")
	}
	swap_window "$SWAPS"
	local s_drops=$((after - before)) s_seen=$((pass1 - pass0)) s_sink=$((sink1 - sink0))
	swap_window 0
	printf '{"policy_drops": %s, "gateway_seen": %s, "sink_received": %s, "control_no_swaps": {"policy_drops": %s, "gateway_seen": %s, "sink_received": %s}}\n' \
		"$s_drops" "$s_seen" "$s_sink" $((after - before)) $((pass1 - pass0)) $((sink1 - sink0)) \
		>"$RAW/swap_loss.json"
	gw_clear
}

# ---- profiles: where the time goes (full run only) ----
# perf (kernel + JITed BPF symbols) of the micro established case and of
# the denied sprayed traffic through ours (XDP) and nftables at the top
# scale; kernel.bpf_stats_enabled for the time inside our XDP program per
# packet under that traffic.
perf_top() {
	perf report -i "$1" --stdio --no-children --sort sym 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -"${2:-14}" | sed 's/^ */    /'
}

# The cold cases (issue 14): perf and kernel.bpf_stats_enabled of the
# micro xdp_rand/established and xdp_rand/acl_drop at the top micro scale,
# with their floor (the same random rewrite, then pass) under the same
# statistics, so the prologue's share can be subtracted. perf samples the
# whole process: the policy set-up (user space) is a separate group.
# Self time of the samples under BPF_PROG_TEST_RUN only (the process's
# policy set-up and the verifier are left out), relative to them.
perf_top_run() {
	perf report -i "$1" --stdio --no-children --sort sym --parent 'bpf_prog_test_run' -x \
		--percentage relative 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -"${2:-14}" | awk '{ print "    " $1 "  " $2 " " $3 }'
}

micro_profile_part() {
	local n=${MICRO_TOP} c tag stats_was
	stats_was=$(sysctl -n kernel.bpf_stats_enabled)
	for c in xdp_rand/established xdp_rand/acl_drop; do
		tag=${c//\//_}
		say "profile: micro $c at $n"
		sysctl -qw kernel.bpf_stats_enabled=0
		perf record -q -g -o "$TMP/$tag.perf" -- "$BIN" -n "$n" -L 0 -I -R 2000000 -r 3 \
			-C "$c" >/dev/null 2>&1
		sysctl -qw kernel.bpf_stats_enabled=1
		# The floor's name is a prefix-free match of its own: run both.
		"$BIN" -n "$n" -L 0 -I -R 2000000 -r 3 -C "$c" >/dev/null 2>"$TMP/$tag.stats"
		"$BIN" -n "$n" -L 0 -I -R 2000000 -r 3 -C xdp_rand/floor >/dev/null 2>>"$TMP/$tag.stats"
		sysctl -qw kernel.bpf_stats_enabled=0
		{
			echo "### micro: $c at N=$n (BPF_PROG_TEST_RUN, random pair per packet): perf, self time under the test run"
			echo
			perf_top_run "$TMP/$tag.perf" 18
			echo
			echo "(\`bench_cache\` is the JITed program: the random rewrite, then the inlined pipeline;"
			echo "map lookups the JIT inlines, arrays, count as its own time. Debian's perf cannot"
			echo "annotate JITed BPF instructions: it is built without libopcodes.)"
			echo
			echo "kernel.bpf_stats_enabled, ns per run of the program (the case, then its floor; the"
			echo "statistics add two clock reads per run, the same in both):"
			echo
			grep '^# bpf_stats' "$TMP/$tag.stats" | grep -v floor_port | sed 's/^# bpf_stats /    /'
			echo
		} >>"$RAW/profile.md"
	done
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"
}

profile_part() {
	local n=${VETH_SCALES[-1]} id rt0 rc0 rt1 rc1 stats_was out
	command -v perf >/dev/null || { echo "# no perf: no profiles" >&2; return 0; }
	# The hot path is flat in N: N=10000 keeps the policy set-up (user
	# space) a small part of the samples next to 10M repetitions per run.
	say "profile: micro xdp_from/established at 10000"
	perf record -q -g -o "$TMP/micro.perf" -- "$BIN" -n 10000 -L 0 -I -R 10000000 -r 5 \
		-C xdp_from/established >/dev/null 2>&1
	{
		echo "### micro: xdp_from/established at N=10000 (BPF_PROG_TEST_RUN), perf, self time"
		echo
		perf_top "$TMP/micro.perf" 16
		echo
	} >>"$RAW/profile.md"
	[ -e "/run/netns/$NS_GW" ] || topo_up || return 1
	stats_was=$(sysctl -n kernel.bpf_stats_enabled)
	for cfg in ours_xdp nft_eq; do
		gw_config "$cfg" "$n" || continue
		say "profile: veth $cfg n=$n, denied sprayed traffic"
		id=$(ip -n "$NS_GW" -j link show dev eth0 | python3 -c '
import json,sys
d=json.load(sys.stdin)[0]
x=d.get("xdp",{})
progs=[p["prog"]["id"] for p in x.get("attached",[]) if "prog" in p] or [x.get("prog",{}).get("id",0)]
print(progs[0] if progs else 0)')
		nsenter --net=/run/netns/"$NS_GEN" -- "$BIN" gen -i g0 -d "$GW_MAC" -n "$n" -k deny -S 65536 -c 0 -t 5 -w 0.5 \
			-R "$REPEAT" $(for p in "${COUNT_PINS[@]}"; do printf -- '-p %s ' "$p"; done) \
			>"$TMP/prof_gen.json" 2>&1 &
		sleep 1
		perf record -q -a -g -o "$TMP/$cfg.perf" -- sleep 1.5 >/dev/null 2>&1
		# Then (not during perf: the statistics cost two clock reads per
		# program run) the time inside each BPF program.
		sysctl -qw kernel.bpf_stats_enabled=1
		bpftool -j prog show >"$TMP/progs0.json" 2>/dev/null
		sleep 1
		bpftool -j prog show >"$TMP/progs1.json" 2>/dev/null
		sysctl -qw kernel.bpf_stats_enabled=0
		wait
		out=$(cat "$TMP/prof_gen.json")
		{
			echo "### veth: $cfg at N=$n, denied traffic from 65536 sources, single CPU: perf -a, self time"
			echo
			perf_top "$TMP/$cfg.perf" 18
			echo
			echo "kernel.bpf_stats_enabled for 1 s after the perf window, BPF programs that ran (ns per run, including the two clock reads the statistics add):"
			echo
			python3 - "$TMP/progs0.json" "$TMP/progs1.json" "$cfg" "$RAW/profile.json" <<'PY'
import json, sys
a = {p["id"]: p for p in json.load(open(sys.argv[1]))}
b = json.load(open(sys.argv[2]))
out = {}
for p in b:
    q = a.get(p["id"], {})
    dc = p.get("run_cnt", 0) - q.get("run_cnt", 0)
    dt = p.get("run_time_ns", 0) - q.get("run_time_ns", 0)
    if dc > 1000:
        print("    %s %s: %d runs, %.1f ns/run" % (p["type"], p.get("name", "?"), dc, dt / dc))
        out["%s/%s" % (p["type"], p.get("name", "?"))] = {"runs": dc, "ns_per_run": dt / dc}
try:
    prev = json.load(open(sys.argv[4]))
except Exception:
    prev = {}
prev[sys.argv[3]] = out
json.dump(prev, open(sys.argv[4], "w"))
PY
			echo
			echo "    generator: $out"
			echo
		} >>"$RAW/profile.md"
	done
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"
	gw_clear
}

case " $SKIP " in *" micro "*) ;; *)
	say "micro: nn-microbench ${MICRO_ARGS[*]}"
	"$BIN" -j -v "${MICRO_ARGS[@]}" >"$RAW/micro.json" 2>"$RAW/micro.txt" ||
		{ tail -5 "$RAW/micro.txt" >&2; echo "run.sh: micro failed" >&2; exit 1; } ;;
esac
if [ "$SMOKE" = 0 ]; then
	case " $SKIP " in *" micro1m "*) ;; *) micro1m_part ;; esac
fi
case " $SKIP " in *" veth "*) ;; *) veth_part || exit 1 ;; esac
case " $SKIP " in *" ctl "*) ;; *) ctl_part; swap_part ;; esac
if [ "$SMOKE" = 0 ]; then
	case " $SKIP " in *" e2e "*) ;; *) e2e_part ;; esac
fi
# ---- a real tunnel (wireguard-go wg0), with and without our programs ----
if [ "$SMOKE" = 0 ]; then
	case " $SKIP " in *" tunnel "*) ;; *)
		say "tunnel: iperf3 through wg0 at ${VETH_SCALES[-1]}, $ROUNDS+1 rounds each way"
		"$ROOT/tools/bench/tunnel.sh" "$B" "$RAW/tunnel.json" "${VETH_SCALES[-1]}" \
			$((ROUNDS + 1)) "$SECS" || echo "# tunnel failed" >&2 ;;
	esac
	# The production case: kernel WireGuard, in the Debian guests under TCG
	# (the host has no module). Emulation slows everything alike, so only
	# the with/without ratios mean anything; the 100k cold apply in a guest
	# takes a minute or two, each kernel ~6 minutes in all.
	case " $SKIP " in *" tunnel_kernel "*) ;; *)
		for kv in 6.1 6.12; do
			say "tunnel_kernel: iperf3 through kernel WireGuard in the $kv guest at ${VETH_SCALES[-1]}"
			"$ROOT/selftests/vm/vmrun.sh" --timeout 2400 --mem 4G --rwdir "$RAW" \
				--env TUNNEL_WG=kernel "$kv" -- "$ROOT/tools/bench/tunnel.sh" "$B" \
				"$RAW/tunnel_kernel_$kv.json" "${VETH_SCALES[-1]}" $((ROUNDS + 2)) "$SECS" \
				>"$RAW/tunnel_kernel_$kv.txt" 2>&1 ||
				echo "# tunnel_kernel $kv failed (raw/tunnel_kernel_$kv.txt)" >&2
		done ;;
	esac
fi
if [ "$SMOKE" = 0 ]; then
	case " $SKIP " in *" profile "*) ;; *)
		if command -v perf >/dev/null; then micro_profile_part; fi
		profile_part ;;
	esac
fi
say "report"
python3 "$ROOT/tools/bench/report.py" "$OUT" $([ "$SMOKE" = 1 ] && echo --smoke) || exit 1
echo "results: $OUT/results.json $OUT/summary.md"
