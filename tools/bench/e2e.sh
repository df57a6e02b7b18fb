#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tools/bench/e2e.sh - event to enforcement through the real nanami-gatewayd
# and the real event stream (issue 13): the reference control plane seeded
# with the synthetic snapshot of E2E_N devices and rules (nn-microbench
# policy), the controller on a veth in its own namespace (--wg none: wg0's
# cost is measured on its own, tools/bench/README.md), then
# `nn-microbench e2e` (tools/bench/e2e.c): E2E_CHANGES changes of each kind
# one at a time, and with E2E_CHURN=RATE also RATE changes a second for
# E2E_SECONDS. JSON in $E2E_OUT (default build/bench/e2e/N.json), the
# controller's log beside it. Needs root.
#
#   E2E_N=100000 tools/bench/e2e.sh
#   E2E_N=100000 E2E_CHURN=100 E2E_SECONDS=300 tools/bench/e2e.sh
#   E2E_GWD_ARGS: more arguments for the controller (e.g. --verbose)
#   E2E_UNNAMED=1: change only devices no rule names by id; E2E_NAMED=1:
#   only devices a rule names by id (revoke, restore, preference, key; both
#   take the fast path: docs/controller.md)
set -u
E2E_N=${E2E_N:-100000}
E2E_CHANGES=${E2E_CHANGES:-20}
E2E_CHURN=${E2E_CHURN:-}
E2E_SECONDS=${E2E_SECONDS:-300}
[ "$(id -u)" = 0 ] || { echo "e2e.sh needs root (network namespaces, BPF)" >&2; exit 2; }
. "$(dirname "$0")/../../selftests/netns/lib.sh"
OUT=${E2E_OUT:-$NN_BUILD/bench/e2e}
mkdir -p "$OUT" || exit 1
PINS=/sys/fs/bpf/nanami-e2e/eth0
PORT=8443
MB=$NN_TMP/nn-microbench
# E2E_GWD: another build of the controller (a before/after in the same period)
cp "$NN_BUILD/nn-microbench" "$MB" && cp "${E2E_GWD:-$NN_BUILD/nanami-gatewayd}" "$NN_TMP/gwd" || exit 1

say() { echo "e2e: $*" >&2; }
meta_gen() {
	nn_in gw bpftool -j map lookup pinned "$PINS/nn_meta" key 0 0 0 0 2>/dev/null |
		jq -e '.formatted.value.generation // empty' 2>/dev/null
}
gen_ge() { local g; g=$(meta_gen) && [ "$g" -ge "$1" ]; }
cp_up() { nn_in gw ss -ltnH "sport = :$PORT" | grep -q .; }

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { say "topology"; exit 1; }
say "$E2E_N devices: making the snapshot"
"$MB" policy -n "$E2E_N" -o "$NN_TMP/snap.json" || exit 1
gen0=$(jq -r .generation "$NN_TMP/snap.json")
say "control plane starting (seed $(du -h "$NN_TMP/snap.json" | cut -f1))"
# --history: ?since= answered for E2E_HISTORY generations (the reference
# CP's default, 64, is 0.64 s of churn at 100/s: any pause of the
# controller longer than that meant a 410 and a full snapshot)
nn_bg gw cp /usr/bin/python3 "$NN_ROOT/tools/cp/nanami-cp" --admin --keepalive 1 \
	--history "${E2E_HISTORY:-10000}" \
	--listen "127.0.0.1:$PORT" --state "$NN_TMP/cp.json" --seed-from "$NN_TMP/snap.json"
nn_wait_for 120 cp_up || { say "the control plane did not start: $(tail -3 "$NN_TMP/cp.log")"; exit 1; }
say "controller starting"
nn_bg gw gatewayd "$NN_TMP/gwd" --iface eth0 --control-plane "http://127.0.0.1:$PORT" \
	--node-id gw-bench --bpffs "$PINS" --state-dir "$NN_TMP/state" --wg none --nat off \
	--max-devices $((E2E_N + 1024)) --max-rules $((E2E_N + 1024)) \
	--max-prefixes $((2 * E2E_N + 4096)) --max-cells $((16 * E2E_N + 4096)) ${E2E_GWD_ARGS:-}
t0=$(nn_now_ms)
nn_wait_for 300 gen_ge "$gen0" ||
	{ say "the controller did not apply generation $gen0: $(tail -3 "$NN_TMP/gatewayd.log")"; exit 1; }
say "cold start to enforcement: $(($(nn_now_ms) - t0)) ms; letting the standby sync run"
nn_nap 5
gwd_pid=$(cat "$NN_TMP/gatewayd.pid")
args=(--cp "http://127.0.0.1:$PORT" --pins "$PINS" --snapshot "$NN_TMP/snap.json"
      --changes "$E2E_CHANGES" --pid "$gwd_pid")
[ "${E2E_UNNAMED:-0}" = 1 ] && args+=(--unnamed)
[ "${E2E_NAMED:-0}" = 1 ] && args+=(--named)
say "serial: $E2E_CHANGES changes of each kind"
nn_in gw "$MB" e2e "${args[@]}" >"$OUT/$E2E_N.json" || { say "e2e failed"; exit 1; }
if [ -n "$E2E_CHURN" ]; then
	say "churn: $E2E_CHURN changes a second for $E2E_SECONDS s"
	nn_in gw "$MB" e2e "${args[@]}" --churn "$E2E_CHURN" --seconds "$E2E_SECONDS" \
		>"$OUT/$E2E_N-churn.json" || { say "churn failed"; exit 1; }
fi
cp "$NN_TMP/gatewayd.log" "$OUT/$E2E_N-gatewayd.log"
jq -c '{devices, serial_all, controller_cpu_ms_per_change, serial: (.serial | map_values({p50_ms, p99_ms, failed}))}' "$OUT/$E2E_N.json"
[ -z "$E2E_CHURN" ] || jq -c '{churn, rss_first: .churn_rss_kb[0], rss_last: .churn_rss_kb[-1]}' "$OUT/$E2E_N-churn.json"
