#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tools/soak/soak.sh - `make soak`: the gateway at SOAK_DEVICES devices (default
# 10000) on the demo's wg0 topology (selftests/netns/topo_gateway.sh:
# wireguard-go, or kernel WireGuard with TOPO_WG=kernel where the kernel has
# it), for SOAK_MINUTES (default 60), while tools/soak/driver.py changes the
# control plane every second, injects faults and checks the traffic. The
# report goes to $O/soak/report.md (tools/soak/report.py), with plots; the
# exit status is non-zero when any check failed. Needs root.
set -u
SOAK_MINUTES=${SOAK_MINUTES:-60}
SOAK_DEVICES=${SOAK_DEVICES:-10000}
SOAK_SEED=${SOAK_SEED:-$RANDOM}
[[ $SOAK_MINUTES =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "SOAK_MINUTES: a number of minutes" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "make soak needs root (network namespaces, BPF)" >&2; exit 2; }

# The drift timer and polling at production-like values: at 10k devices a
# re-apply is a full recompile (issue 13), every 5 s would be the load.
TOPO_RESYNC=${TOPO_RESYNC:-30}
TOPO_POLL=${TOPO_POLL:-5}
. "$(dirname "$0")/../../selftests/netns/lib.sh"
. "$NN_ROOT/selftests/netns/topo_gateway.sh"
PY=/usr/bin/python3
SOAK=$NN_ROOT/tools/soak
OUT=$NN_BUILD/soak
TOPO_GWD_ARGS=(--max-devices 32768 --max-rules 1024 --max-prefixes 65536 --max-cells 65536
	       --max-flows 262144 --max-nodes 64)

# The demo's snapshot plus the synthetic devices.
eval "orig_$(declare -f topo_snapshot)"
topo_snapshot() { orig_topo_snapshot "$@" && "$PY" "$SOAK/driver.py" seed "$1" "$SOAK_DEVICES"; }

rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
echo "soak: $SOAK_DEVICES devices, $SOAK_MINUTES min, seed $SOAK_SEED, wg $TOPO_WG; records in $OUT"
if ! topo_up; then
	echo "soak: the topology did not come up"
	exit 1
fi
# Echo servers for the probes and the long-lived flows: acme-db and
# globex-files (res), and alice; inet keeps nn-listen (udp/53).
kill "$(cat "$NN_TMP/listen-res.pid")" 2>/dev/null
nn_bg res echo-res "$PY" "$SOAK/echo.py" 5432 22 443 445 7000
nn_bg alice echo-alice "$PY" "$SOAK/echo.py" 7777
nn_wait_for 5 eval "nn_in res ss -ltnH 'sport = :7000' | grep -q ." &&
	nn_wait_for 5 eval "nn_in alice ss -ltnH 'sport = :7777' | grep -q ." ||
	{ echo "soak: the echo servers did not start"; exit 1; }
echo "soak: topology up at $(date -u +%H:%M:%S); running for $SOAK_MINUTES min"

pids=""
for n in "${NN_NODES[@]}"; do pids+="$n=${NN_PID[$n]} "; done
nn_in gw env SOAK_SECONDS="$(awk -v m="$SOAK_MINUTES" 'BEGIN { print m * 60 }')" \
	SOAK_OUT="$OUT" SOAK_SEED="$SOAK_SEED" SOAK_PIDS="$pids" SOAK_TMP="$NN_TMP" \
	SOAK_PYTHON="$PY" SOAK_CONNECT="$CONNECT" SOAK_GWCTL="$GWCTL" "$PY" "$SOAK/driver.py" run
rc=$?
cp "$NN_TMP"/gatewayd.log "$NN_TMP"/cp.log "$OUT/" 2>/dev/null
[ $rc = 0 ] || echo "soak: driver.py exited $rc"
"$PY" "$SOAK/report.py" "$OUT" --minutes "$SOAK_MINUTES" --devices "$SOAK_DEVICES" \
	--seed "$SOAK_SEED" --wg "$TOPO_WG" || rc=1
exit $rc
