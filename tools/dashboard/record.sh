#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Record the demo gateway's /metrics over a few minutes of traffic and events
# (scenario.sh) and draw the dashboard's panels from it (render.py): the
# source of docs/dashboard.png. Needs root (network namespaces, BPF), a
# build (make all), iperf3, wireguard-go, python3-matplotlib.
#
#   tools/dashboard/record.sh [OUT.png]     (default $O/dashboard/dashboard.png)
#   RECORD_SECONDS=180 RECORD_INTERVAL=2    how long, how often to scrape
set -u
cd "$(dirname "$0")/../.." || exit 2
if [ "$(id -u)" -ne 0 ]; then
	echo "record.sh needs root (network namespaces, BPF)" >&2
	exit 1
fi
O=${O:-build}
out=${1:-$O/dashboard/dashboard.png}
secs=${RECORD_SECONDS:-180}
ivl=${RECORD_INTERVAL:-2}
dir=$O/dashboard/scrapes
rm -rf "$dir"
mkdir -p "$dir"
TOPO_RESYNC=${TOPO_RESYNC:-10}
. selftests/netns/lib.sh
. selftests/netns/topo_gateway.sh
. tools/dashboard/scenario.sh
topo_up || { echo "record.sh: the topology did not come up; logs in $NN_TMP" >&2; exit 1; }
echo "record.sh: ${secs}s of traffic and events, a scrape every ${ivl}s into $dir" >&2
obs_run "$secs" "$ivl" "$dir"
tools/dashboard/render.py --dashboard packaging/grafana/nanami-gateway.json \
	--title "Nanami gateway gw-fra-1: make demo topology, ${secs} s ($(date -u +%F))" \
	"$dir" "$out"
