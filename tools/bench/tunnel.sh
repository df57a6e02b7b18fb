#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tunnel.sh - a real tunnel with and without our programs (issue 14): iperf3
# through wg0 from a device to a resource behind the gateway, the gateway
# enforcing the synthetic policy of N devices and rules, alternating rounds
# with the programs attached (nanami-gatewayd --once --hook tc on wg0, L3
# framing, as in production) and without them (wg0's clsact removed: the
# same maps stay pinned, so the next round re-attaches without a cold apply).
#
#   tunnel.sh BIN_DIR OUT_JSON [N] [ROUNDS] [SECS]   (TUNNEL_SETTLE: pause, s)
#
# TUNNEL_WG=go (default): wireguard-go (userspace, on TUN) runs wg0 on both
# ends: this host's kernel has no WireGuard module. TUNNEL_WG=kernel: the
# kernel's WireGuard (`ip link add wg0 type wireguard`), for a Debian guest
# (tools/bench/tunnel-vm.sh runs this script inside one).
# Topology, one network namespace each (wg0's in a mount namespace of its
# own too, see selftests/netns/lib_wg.sh):
#   dev (wg0 = device d0's overlay address) --veth underlay-- gw (wg0, our
#   programs) --veth-- res (10.0.1.1: inside res0-1, reachable by "*" on
#   tcp/443; the script adds udp/443 to the same network for the small-
#   packet rate)
# Measured: TCP throughput (iperf3, bits/s received), and the rate of
# 64-byte IP packets (UDP, 36-byte payload, unlimited send rate) the
# resource received. Ratios with/without per round pair; the JSON holds
# every round.
set -u
B=$1 OUTJ=$2 N=${3:-100000} ROUNDS=${4:-3} SECS=${5:-5}
WG_MODE=${TUNNEL_WG:-go}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$B/nn-microbench GWD=$B/nanami-gatewayd
TAG=nnt$$
NS_DEV=$TAG-dev NS_GW=$TAG-gw NS_RES=$TAG-res
PIN=/sys/fs/bpf/$TAG
TMP=$(mktemp -d "/tmp/nn-tunnel-$$.XXXXXX")
WGNS_LOGDIR=$TMP
# shellcheck source=../../selftests/netns/lib_wg.sh
. "$ROOT/selftests/netns/lib_wg.sh"
case $WG_MODE in
go) WG_NAME=wireguard-go ;;
kernel)
	# The kernel's wg0 needs no private mount namespace: `wg` talks
	# generic netlink in the netns. Same three names as lib_wg.sh's.
	WG_NAME="kernel WireGuard ($(uname -r))"
	wgns_add() {
		ip netns add "$1" && ip -n "$1" link set lo up &&
			ip -n "$1" link add wg0 type wireguard
	}
	wgns() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" -- "$@"; }
	wgns_teardown() { :; }
	;;
*) echo "tunnel.sh: TUNNEL_WG=$WG_MODE: want go or kernel" >&2; exit 1 ;;
esac
say() { printf '# %s tunnel: %s\n' "$(date +%T)" "$*" >&2; }
in_ns() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" -- "$@"; }

cleanup() {
	[ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null
	in_ns "$NS_GW" "$GWD" --iface wg0 --detach --bpffs "$PIN" >/dev/null 2>&1
	wgns_teardown >/dev/null 2>&1
	for ns in "$NS_DEV" "$NS_GW" "$NS_RES"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT

for t in iperf3 wg $([ "$WG_MODE" = go ] && echo wireguard-go); do
	command -v $t >/dev/null || { echo "tunnel.sh: $t is missing (tools/install-deps.sh)" >&2; exit 1; }
done
if [ "$WG_MODE" = kernel ] && ! modprobe wireguard; then
	echo "tunnel.sh: modprobe wireguard failed on $(uname -r)" >&2
	exit 1
fi

# ---- the policy: N devices and rules, one allowed UDP port added ----
say "policy of $N devices and rules"
"$BIN" policy -n "$N" -o "$TMP/gen.json" || exit 1
python3 - "$TMP/gen.json" "$TMP/policy.json" "$TMP/addrs" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
net = d["tenants"][0]["networks"][0]
dev = net["devices"][0]
res = [r for r in net["resources"] if r["resource_id"] == "res0-1"][0]
v4 = [p for p in res["prefixes"] if ":" not in p][0]
# The small-packet rate needs UDP: the same "*" -> res0-1 as tcp/443.
net["acl"].append({"rule_id": "bench-udp", "action": "allow", "src": "*",
                   "dst": {"resources": ["res0-1"]}, "proto": "udp", "ports": ["443"]})
json.dump(d, open(sys.argv[2], "w"))
base = v4.split("/")[0].rsplit(".", 1)[0]
print(dev["overlay_ipv4"], d["gateway"]["overlay_ipv4"], base + ".1", base + ".254",
      v4, file=open(sys.argv[3], "w"))
PY
read -r DEV4 GW4 RES4 RESGW4 RESNET <"$TMP/addrs"

# ---- topology ----
say "topology: $WG_NAME on both ends"
wgns_add "$NS_DEV" && wgns_add "$NS_GW" || exit 1
ip netns add "$NS_RES" || exit 1
ip -n "$NS_RES" link set lo up
ip link add "${TAG}u0" type veth peer name "${TAG}u1" || exit 1
ip link set "${TAG}u0" netns "$NS_DEV" name u0
ip link set "${TAG}u1" netns "$NS_GW" name u0
ip link add "${TAG}r0" type veth peer name "${TAG}r1" || exit 1
ip link set "${TAG}r0" netns "$NS_GW" name r0
ip link set "${TAG}r1" netns "$NS_RES" name r0
ip -n "$NS_DEV" addr add 10.201.0.1/30 dev u0 && ip -n "$NS_DEV" link set u0 up
ip -n "$NS_GW" addr add 10.201.0.2/30 dev u0 && ip -n "$NS_GW" link set u0 up
ip -n "$NS_GW" addr add "$RESGW4/24" dev r0 && ip -n "$NS_GW" link set r0 up
ip -n "$NS_RES" addr add "$RES4/24" dev r0 && ip -n "$NS_RES" link set r0 up
ip -n "$NS_RES" route add default via "$RESGW4"
in_ns "$NS_GW" sysctl -qw net.ipv4.ip_forward=1
umask 077
wg genkey >"$TMP/dev.key" && wg genkey >"$TMP/gw.key" || exit 1
wg pubkey <"$TMP/dev.key" >"$TMP/dev.pub" && wg pubkey <"$TMP/gw.key" >"$TMP/gw.pub"
wgns "$NS_GW" wg set wg0 private-key "$TMP/gw.key" listen-port 51820 \
	peer "$(cat "$TMP/dev.pub")" allowed-ips "$DEV4/32" || exit 1
wgns "$NS_DEV" wg set wg0 private-key "$TMP/dev.key" \
	peer "$(cat "$TMP/gw.pub")" endpoint 10.201.0.2:51820 allowed-ips 0.0.0.0/0 || exit 1
ip -n "$NS_DEV" addr add "$DEV4/32" dev wg0 && ip -n "$NS_DEV" link set wg0 up
ip -n "$NS_DEV" route add "$RESNET" dev wg0
ip -n "$NS_GW" addr add "$GW4/32" dev wg0 && ip -n "$NS_GW" link set wg0 up
ip -n "$NS_GW" route add "$DEV4/32" dev wg0
in_ns "$NS_RES" iperf3 -s -p 443 >"$TMP/srv.log" 2>&1 &
SRV=$!
sleep 0.5
in_ns "$NS_DEV" ping -c 2 -W 2 "$RES4" >/dev/null ||
	{ echo "tunnel.sh: no path through wg0 without our programs" >&2; exit 1; }

attach() {
	in_ns "$NS_GW" "$GWD" --iface wg0 --assignments "$TMP/policy.json" --once --framing l3 \
		--hook tc --wg none --nat off --bpffs "$PIN" --state-dir "$TMP/state" \
		--max-devices $((N + 1024)) --max-rules $((N + 1024)) \
		--max-prefixes $((2 * N + 4096)) --max-cells $((16 * N + 4096)) \
		>>"$TMP/gwd.log" 2>&1 || { tail -5 "$TMP/gwd.log" >&2; return 1; }
}
# Without: wg0's TC hooks go (the programs with them); the pins stay.
unattach() { tc -n "$NS_GW" qdisc del dev wg0 clsact 2>/dev/null; return 0; }

# One measurement: TCP bits/s received, then 64-byte UDP packets/s received.
measure() {
	local tcp udp
	tcp=$(in_ns "$NS_DEV" iperf3 -c "$RES4" -p 443 -t "$SECS" -J 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])' 2>/dev/null)
	udp=$(in_ns "$NS_DEV" iperf3 -c "$RES4" -p 443 -u -b 0 -l 36 -t "$SECS" -J 2>/dev/null |
		python3 -c '
import json, sys
e = json.load(sys.stdin)["end"]["sum"]
print((e["packets"] - e["lost_packets"]) / e["seconds"])' 2>/dev/null)
	echo "${tcp:-null} ${udp:-null}"
}

say "first attach ($N devices: the cold apply)"
attach || exit 1
# The programs must be on the path: a denied packet (tcp/22 to the
# resource is default deny) must be dropped with them and pass without.
in_ns "$NS_DEV" timeout 3 bash -c "exec 3<>/dev/tcp/$RES4/22" 2>/dev/null
DROPS=$("$BIN" sum "$PIN/nn_drops")
[ "${DROPS:-0}" -gt 0 ] || { echo "tunnel.sh: the programs dropped nothing: not on wg0's path" >&2; exit 1; }

echo "[" >"$TMP/rounds.json"
for r in $(seq 1 "$ROUNDS"); do
	for mode in with without; do
		if [ "$mode" = with ]; then attach || exit 1; else unattach; fi
		# Both modes measure after the same pause: "with" follows an
		# apply of N devices (seconds of CPU under TCG, and the frees
		# and RCU callbacks after it), which otherwise lands in its
		# measurement (the first rounds' 64-byte rates were 0.6x).
		sleep "${TUNNEL_SETTLE:-3}"
		read -r tcp udp <<<"$(measure)"
		say "round $r $mode: tcp $tcp bit/s, udp64 $udp pkt/s"
		[ "$r$mode" = 1with ] || echo "," >>"$TMP/rounds.json"
		printf '{"round": %d, "mode": "%s", "tcp_bps": %s, "udp64_pps": %s}\n' \
			"$r" "$mode" "$tcp" "$udp" >>"$TMP/rounds.json"
	done
done
echo "]" >>"$TMP/rounds.json"
python3 - "$TMP/rounds.json" "$OUTJ" "$N" "$SECS" "$WG_NAME" <<'PY'
import json, statistics, sys
rounds = json.load(open(sys.argv[1]))
def ratios(key):
    out = []
    for r in sorted({x["round"] for x in rounds}):
        w = [x[key] for x in rounds if x["round"] == r and x["mode"] == "with"]
        o = [x[key] for x in rounds if x["round"] == r and x["mode"] == "without"]
        if w and o and w[0] and o[0]:
            out.append(w[0] / o[0])
    return out
t, u = ratios("tcp_bps"), ratios("udp64_pps")
json.dump({"n": int(sys.argv[3]), "secs": float(sys.argv[4]), "wg": sys.argv[5],
           "hook": "tc", "rounds": rounds,
           "tcp_ratio_median": statistics.median(t) if t else None, "tcp_ratios": t,
           "udp64_ratio_median": statistics.median(u) if u else None, "udp64_ratios": u},
          open(sys.argv[2], "w"), indent=1)
PY
