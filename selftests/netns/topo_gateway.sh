# SPDX-License-Identifier: GPL-2.0
# selftests/netns/topo_gateway.sh - the demo gateway, for `make demo` and the
# end-to-end tests. Source it after lib.sh, then call topo_up.
#
#   alice  (wg0 fd7a:6e61:6e61:10::2, 100.96.16.2) ──ul1──┐
#   bob    (wg0 fd7a:6e61:6e61:10::3)              ──ul2──┤
#   carol  (wg0 fd7a:6e61:6e61:20::2, 100.96.32.2) ──ul3──┤
#                                                          gw ──lan0── res
#     gw: wg0 fd7a:6e61:6e61::1/48 100.96.0.1/12              fd00:acc::5 (acme-db)
#         WireGuard, nanami-gatewayd (--control-plane)        fd00:acc:1::9 (acme-web)
#         nanami-cp on 127.0.0.1:8443                         fd00:6b0::1 (globex-files)
#                                                             10.20.0.5 (acme-db v4)
#                                                   └──wan0── inet (the internet)
#                                                             2001:db8:ffff::1, 192.0.2.53
#
# Underlay ulN: gw fd00:99:N::1 / 10.99.N.1, client fd00:99:N::2 / 10.99.N.2.
# The snapshot is examples/assignments.json with fresh WireGuard keys for the
# three devices that exist here (the example's keys have no private half).
# Clients route everything through wg0 (AllowedIPs ::/0, 0.0.0.0/0): the
# gateway, not the client, decides what passes.
#
# TOPO_WG chooses the WireGuard implementation of every node: "go" (the
# default) runs wireguard-go on a TUN wg0 and the controller drives it with
# --wg uapi; "kernel" creates kernel wg0 links (`ip link add wg0 type
# wireguard`, configured with `wg set`) and the controller runs with --wg
# auto, which picks the generic-netlink backend on a link of kind wireguard.
# The tests are the same for both; selftests/vm/guest/test_e2e_kernel.sh runs
# them on kernel WireGuard in the VM guests.

TOPO_CP=http://127.0.0.1:8443
# TOPO_ENROLL=1: the gateway has no keys handed to it: the control plane runs
# its own CA (--ca-dir, https), the operator mints a token, and
# `nanami-gatewayd enroll` makes the gateway's identity (identity-v1.md)
# before the daemon starts on it with --control-plane alone. The operator's
# requests (cp_api) then carry a client certificate from that CA.
TOPO_ENROLL=${TOPO_ENROLL:-0}
TOPO_CURL_TLS=()
[ "$TOPO_ENROLL" = 1 ] && TOPO_CP=https://127.0.0.1:8443
TOPO_METRICS=127.0.0.1:9100
TOPO_RESYNC=${TOPO_RESYNC:-5}
TOPO_POLL=${TOPO_POLL:-2}
# A jq filter applied to the seeded snapshot (tests add nodes, networks, ...).
TOPO_SNAPSHOT_FILTER=${TOPO_SNAPSHOT_FILTER:-.}
TOPO_GWD_ARGS=(--max-devices 1024 --max-rules 1024 --max-prefixes 4096 --max-cells 8192
	       --max-flows 65536 --max-nodes 64)
TOPO_WG=${TOPO_WG:-go}
case $TOPO_WG in
go) TOPO_WG_TOOL=wireguard-go TOPO_WG_BACKEND=uapi ;;
kernel) TOPO_WG_TOOL=wg TOPO_WG_BACKEND=auto ;;
*)
	echo "not ok - TOPO_WG=$TOPO_WG: want go or kernel"
	exit 1
	;;
esac
# The tests' "within 1 s" bounds: TOPO_1S_MS milliseconds, named TOPO_1S in
# their messages (1 s on the host, 1 s x NN_TIME_SCALE under emulation).
TOPO_1S_MS=$(nn_scale_ms 1000)
TOPO_1S="1 s"
[ "$NN_TIME_SCALE" = 1 ] || TOPO_1S="1 s x NN_TIME_SCALE $NN_TIME_SCALE"
GWCTL=$NN_BUILD/nanami-gwctl
LISTEN=$NN_ROOT/tools/demo/nn-listen.py
CONNECT=$NN_ROOT/tools/demo/nn-connect.py

declare -A TOPO_KEY TOPO_PUB
TOPO_CLIENTS=(alice bob carol)
declare -A TOPO_DEV=([alice]=alice-laptop [bob]=bob-phone [carol]=carol-desktop)
declare -A TOPO_V6=([alice]=fd7a:6e61:6e61:10::2 [bob]=fd7a:6e61:6e61:10::3
		    [carol]=fd7a:6e61:6e61:20::2)
declare -A TOPO_V4=([alice]=100.96.16.2 [carol]=100.96.32.2)
declare -A TOPO_UL=([alice]=1 [bob]=2 [carol]=3)

# gwctl ARGS...: nanami-gwctl -j on the gateway.
gwctl() { nn_in gw "$GWCTL" --iface wg0 -j "$@"; }

# cp METHOD PATH [JSON]: the reference control plane's API, from the gateway;
# prints "STATUS BODY", fails on an HTTP error. curl, not a Python client: a
# Python start costs a second or more under emulation, inside timed windows.
cp_api() {
	local m=$1 path=$2 body=${3:-} out code
	local args=(-sS --max-time 5 -X "$m" -w '\n%{http_code}')
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	out=$(nn_in gw curl "${args[@]}" "${TOPO_CURL_TLS[@]}" "$TOPO_CP$path") ||
		{ echo "000 $out"; return 1; }
	code=${out##*$'\n'}
	echo "$code ${out%$'\n'*}"
	[ "$code" -lt 400 ]
}

# drops REASON: the gateway's drop counter for REASON.
drops() { gwctl stats | jq -r --arg r "$1" '.drops[$r].packets // 0'; }

topo_snapshot() {
	local out=$1 c filter='.'
	for c in "${TOPO_CLIENTS[@]}"; do
		filter+=" | (.tenants[].networks[].devices[] | select(.device_id == \"${TOPO_DEV[$c]}\") | .public_key) = \"${TOPO_PUB[$c]}\""
	done
	jq "$filter | $TOPO_SNAPSHOT_FILTER" "$NN_ROOT/examples/assignments.json" >"$out"
}

# topo_wg_link NODE: an unconfigured wg0 in NODE, of the TOPO_WG kind.
topo_wg_link() {
	if [ "$TOPO_WG" = kernel ]; then
		nn_in "$1" ip link add wg0 type wireguard
	else
		nn_in "$1" wireguard-go wg0 >/dev/null 2>&1
	fi
}

topo_client_up() {
	local c=$1 n=${TOPO_UL[$1]} gwpub=$2
	topo_wg_link "$c" || return 1
	echo "${TOPO_KEY[$c]}" >"$NN_TMP/$c.key"
	nn_in "$c" wg set wg0 private-key "$NN_TMP/$c.key" peer "$gwpub" \
		endpoint "[fd00:99:$n::1]:51820" allowed-ips ::/0,0.0.0.0/0 \
		persistent-keepalive 1 || return 1
	nn_ip "$c" <<-EOF
		link set wg0 mtu 1420 up
		addr add ${TOPO_V6[$c]}/128 dev wg0 nodad
		$([ -n "${TOPO_V4[$c]:-}" ] && echo "addr add ${TOPO_V4[$c]}/32 dev wg0")
		route add ::/0 dev wg0
		route add 0.0.0.0/0 dev wg0
	EOF
	return 0
}

topo_services() {
	[ -n "${NN_PID[res]:-}" ] || nn_node res inet || return 1
	nn_link gw lan0 res lan0 10 && nn_link gw wan0 inet wan0 11 || return 1
	nn_ip gw <<-EOF
		addr add fd00:acc::1/64 dev lan0 nodad
		addr add fd00:acc:1::1/64 dev lan0 nodad
		addr add fd00:6b0::fe/64 dev lan0 nodad
		addr add 10.20.0.1/16 dev lan0
		addr add 2001:db8:ffff::fe/64 dev wan0 nodad
		addr add 192.0.2.254/24 dev wan0
		route add ::/0 via 2001:db8:ffff::1
		route add 0.0.0.0/0 via 192.0.2.53
	EOF
	nn_ip res <<-EOF
		addr add fd00:acc::5/64 dev lan0 nodad
		addr add fd00:acc:1::9/64 dev lan0 nodad
		addr add fd00:6b0::1/64 dev lan0 nodad
		addr add 10.20.0.5/16 dev lan0
		route add ::/0 via fd00:acc::1
		route add 0.0.0.0/0 via 10.20.0.1
	EOF
	nn_ip inet <<-EOF
		addr add 2001:db8:ffff::1/64 dev wan0 nodad
		addr add 192.0.2.53/24 dev wan0
	EOF
	nn_bg res listen-res "$LISTEN" acme-db 5432 22 443 445
	nn_bg inet listen-inet "$LISTEN" internet 80 443 25 53/udp
}

# Bring everything up; returns non-zero (with a message) on failure.
topo_up() {
	local c gwpub i
	# Every node at once (topo_services' too): their holders start in parallel.
	nn_node gw "${TOPO_CLIENTS[@]}" res inet || return 1
	for c in "${TOPO_CLIENTS[@]}"; do
		nn_link gw "ul${TOPO_UL[$c]}" "$c" ul0 "${TOPO_UL[$c]}" || return 1
		TOPO_KEY[$c]=$(wg genkey)
		TOPO_PUB[$c]=$(echo "${TOPO_KEY[$c]}" | wg pubkey)
	done
	topo_services || return 1
	topo_snapshot "$NN_TMP/snapshot.json"

	if [ "$TOPO_WG" = kernel ] && ! modprobe wireguard 2>"$NN_TMP/modprobe.log"; then
		echo "# modprobe wireguard failed (kernel $(uname -r)): $(cat "$NN_TMP/modprobe.log")"
		return 1
	fi
	topo_wg_link gw || { echo "# wg0 ($TOPO_WG) failed"; return 1; }
	nn_ip gw <<-EOF
		addr add fd7a:6e61:6e61::1/48 dev wg0 nodad
		addr add 100.96.0.1/12 dev wg0
		link set wg0 up
	EOF
	nn_bg gw cp python3 "$NN_ROOT/tools/cp/nanami-cp" --listen 127.0.0.1:8443 \
		--state "$NN_TMP/cp-state.json" --seed-from "$NN_TMP/snapshot.json" --admin \
		--keepalive 2 $(topo_cp_ident_args)
	if [ "$TOPO_ENROLL" = 1 ]; then
		topo_enroll || return 1
	else
		nn_wait_for 10 nn_in gw curl -sf --max-time 1 -o /dev/null "$TOPO_CP/admin/v1/state" ||
			{ echo "# the control plane did not start"; return 1; }
		TOPO_GWD_ARGS+=(--node-id gw-fra-1)
	fi
	nn_bg gw gatewayd "$NN_BUILD/nanami-gatewayd" --iface wg0 --control-plane "$TOPO_CP" \
		--state-dir "$NN_TMP/gw-state" --wg "$TOPO_WG_BACKEND" \
		--resync "$TOPO_RESYNC" --poll "$TOPO_POLL" --metrics-listen "$TOPO_METRICS" \
		"${TOPO_GWD_ARGS[@]}"
	# The controller sets wg0's key (from its state dir) once it applied.
	i=$(($(nn_now_ms) + 10000 * NN_TIME_SCALE))
	while :; do
		gwpub=$(nn_in gw wg show wg0 public-key 2>/dev/null)
		[ -n "$gwpub" ] && [ "$gwpub" != "(none)" ] && break
		[ "$(nn_now_ms)" -lt "$i" ] || break
		nn_nap 0.1
	done
	[ -n "$gwpub" ] && [ "$gwpub" != "(none)" ] ||
		{ echo "# the controller did not configure wg0"; return 1; }
	nn_wait_for 10 gwctl status || { echo "# no dataplane pinned"; return 1; }
	for c in "${TOPO_CLIENTS[@]}"; do
		topo_client_up "$c" "$gwpub" || { echo "# client $c failed"; return 1; }
	done
	for c in "${TOPO_CLIENTS[@]}"; do
		nn_wait_for 10 topo_handshaked "$c" ||
			{ echo "# client $c: no handshake with the gateway"; return 1; }
	done
	return 0
}

# The control plane's identity flags (TOPO_ENROLL=1): its CA and audit log.
topo_cp_ident_args() {
	[ "$TOPO_ENROLL" = 1 ] && echo --ca-dir "$NN_TMP/cp-ca" --audit-log "$NN_TMP/audit.jsonl" --operator-cn demo-operator
}

# topo_enroll: an operator certificate from the control plane's new CA, a
# token for gw-fra-1, and `nanami-gatewayd enroll` into the state directory.
topo_enroll() {
	local ca=$NN_TMP/cp-ca op=$NN_TMP/operator
	nn_wait_for 10 test -s "$ca/ca.crt" || { echo "# the control plane made no CA"; return 1; }
	(openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$op.key" \
		-out "$op.csr" -subj /CN=demo-operator &&
		printf 'extendedKeyUsage=clientAuth\n' >"$op.ext" &&
		openssl x509 -req -in "$op.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial \
			-days 1 -out "$op.crt" -extfile "$op.ext") >"$NN_TMP/operator.log" 2>&1 ||
		{ echo "# operator certificate: $(tail -1 "$NN_TMP/operator.log")"; return 1; }
	TOPO_CURL_TLS=(--cacert "$ca/ca.crt" --cert "$op.crt" --key "$op.key")
	nn_wait_for 10 cp_api GET /admin/v1/state || { echo "# the control plane did not start"; return 1; }
	cp_api POST /admin/v1/tokens '{"node_id": "gw-fra-1", "operator": "demo-operator", "ttl": 600}' |
		sed 's/^[0-9]* //' | jq -r .token >"$NN_TMP/enroll.token"
	[ -s "$NN_TMP/enroll.token" ] || { echo "# no enrollment token"; return 1; }
	nn_in gw "$NN_BUILD/nanami-gatewayd" enroll --control-plane "$TOPO_CP" \
		--token-file "$NN_TMP/enroll.token" --ca "$ca/ca.crt" --state-dir "$NN_TMP/gw-state" \
		--endpoint "[fd00:99:1::1]:51820" >"$NN_TMP/enroll.log" 2>&1 ||
		{ echo "# enrollment failed: $(tail -1 "$NN_TMP/enroll.log")"; return 1; }
}

# The client's tunnel to the gateway has completed a handshake.
topo_handshaked() {
	local ts
	ts=$(nn_in "$1" wg show wg0 latest-handshakes | awk '{print $2}')
	[ -n "$ts" ] && [ "$ts" -gt 0 ]
}

# ---- helpers for the end-to-end tests (selftests/netns/test_e2e_*.sh) ----

# topo_try NODE tcp|udp ADDR PORT [nn-connect options...]: one connection or
# UDP exchange from NODE; prints the server's line, status 0 when it answered.
topo_try() {
	local n=$1 proto=$2 addr=$3 port=$4
	shift 4
	nn_in "$n" "$CONNECT" -t "${TOPO_TRY_T:-2}" $([ "$proto" = udp ] && echo -u) "$@" \
		"$addr" "$port" 2>&1
}

# topo_metric NAME: one sample of the controller's Prometheus metrics
# (NAME may carry labels exactly as rendered, e.g. 'x{state="stream"}').
topo_metric() {
	nn_in gw curl -s --max-time 2 "http://$TOPO_METRICS/metrics" |
		awk -v m="$1" '$1 == m { print $2; exit }'
}

# topo_hits RULE: the gateway's hit counter for ACL rule RULE.
topo_hits() { gwctl rules | jq -r --arg id "$1" '[.rules[] | select(.id == $id) | .hits][0] // 0'; }

# topo_gen: the generation the dataplane enforces; topo_cp_gen: the control plane's.
topo_gen() { gwctl status | jq -r '.generation'; }
topo_cp_gen() { cp_api GET /admin/v1/state | sed 's/^[0-9]* //' | jq -r '.generation'; }

# topo_gw_pub: the gateway's WireGuard public key (the controller set it).
topo_gw_pub() { nn_in gw wg show wg0 public-key; }

# topo_gw_allowed KEY: the gateway's AllowedIPs for peer KEY, sorted, one line
# (empty when there is no such peer).
topo_gw_allowed() {
	nn_in gw wg show wg0 allowed-ips | awk -v k="$1" '$1 == k { $1 = ""; print }' |
		tr ' ' '\n' | sed '/^$/d' | sort | paste -sd' '
}

# topo_gw_has_peer KEY: KEY is a peer of the gateway's wg0.
topo_gw_has_peer() { nn_in gw wg show wg0 peers | grep -qxF "$1"; }

# topo_key NAME: a fresh WireGuard key pair in TOPO_KEY/TOPO_PUB[NAME]
# (before topo_up, so that TOPO_SNAPSHOT_FILTER can name the public key).
topo_key() {
	TOPO_KEY[$1]=$(wg genkey)
	TOPO_PUB[$1]=$(echo "${TOPO_KEY[$1]}" | wg pubkey)
}

# topo_extra_client NAME UL V6 [V4]: one more client like alice/bob/carol
# (wg0 with TOPO_KEY[NAME], AllowedIPs ::/0 toward the gateway), on underlay
# link ulUL. The key need not be known to the control plane.
topo_extra_client() {
	local c=$1
	TOPO_UL[$c]=$2
	TOPO_V6[$c]=$3
	[ -n "${4:-}" ] && TOPO_V4[$c]=$4
	[ -n "${TOPO_KEY[$c]:-}" ] || topo_key "$c"
	nn_node "$c" && nn_link gw "ul$2" "$c" ul0 "$2" || return 1
	topo_client_up "$c" "$(topo_gw_pub)"
}

# topo_overlay_node NAME UL OV6: another overlay node (a gateway of the full
# mesh, configured by hand: it is not the system under test) on underlay link
# ulUL, listening on 51820, with one peer: this gateway, AllowedIPs its
# overlay address only (as the overlay spec wants), keepalive 1 s. The
# control plane must list it (public key TOPO_PUB[NAME], endpoint
# [fd00:99:UL::2]:51820) for the gateway to accept it.
topo_overlay_node() {
	local n=$1 ul=$2 ov6=$3
	nn_node "$n" && nn_link gw "ul$ul" "$n" ul0 "$ul" || return 1
	topo_wg_link "$n" || return 1
	echo "${TOPO_KEY[$n]}" >"$NN_TMP/$n.key"
	nn_in "$n" wg set wg0 private-key "$NN_TMP/$n.key" listen-port 51820 \
		peer "$(topo_gw_pub)" endpoint "[fd00:99:$ul::1]:51820" \
		allowed-ips fd7a:6e61:6e61::1/128 persistent-keepalive 1 || return 1
	nn_ip "$n" <<-EOF
		link set wg0 mtu 1420 up
		addr add $ov6/128 dev wg0 nodad
		route add fd7a:6e61:6e61::/48 dev wg0
	EOF
}

# topo_cp_stop: stop the reference control plane (SIGTERM, as an operator would).
topo_cp_stop() {
	local f pid
	for f in "$NN_TMP"/cp*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		rm -f "$f"
	done
}

# topo_cp_start [ARGS...]: start it again on the same --state (which wins over
# --seed-from); waits until it answers.
TOPO_CP_STARTS=0
topo_cp_start() {
	TOPO_CP_STARTS=$((TOPO_CP_STARTS + 1))
	nn_bg gw "cp$TOPO_CP_STARTS" python3 "$NN_ROOT/tools/cp/nanami-cp" \
		--listen 127.0.0.1:8443 --state "$NN_TMP/cp-state.json" \
		--seed-from "$NN_TMP/snapshot.json" --admin --keepalive 2 $(topo_cp_ident_args) "$@"
	nn_wait_for 10 cp_api GET /admin/v1/state
}

# topo_stream_state: the controller's control-plane state (none, down,
# polling, stream) from its metrics.
topo_stream_state() {
	local s
	for s in stream polling down none; do
		[ "$(topo_metric "nanami_control_plane_state{state=\"$s\"}")" = 1 ] &&
			{ echo "$s"; return 0; }
	done
	echo unknown
}
topo_stream_is() { [ "$(topo_stream_state)" = "$1" ]; }

# topo_stream_down: the control plane refuses event streams (500) from now
# on and the open stream is cut (ss -K): the controller falls back to polling.
topo_stream_down() {
	cp_api POST /admin/v1/fault '{"mode": "500", "target": "events", "count": 0}' >/dev/null ||
		return 1
	nn_in gw ss -K dst 127.0.0.1 dport 8443 >/dev/null 2>&1
	nn_wait_for 5 topo_stream_is polling
}

# topo_wait_ms SECONDS CMD...: poll CMD every 20 ms for up to SECONDS x
# NN_TIME_SCALE; prints the milliseconds it took and succeeds, or prints the
# timeout and fails.
topo_wait_ms() {
	local secs=$(($1 * NN_TIME_SCALE)) t0 now
	shift
	t0=$(nn_now_ms)
	while :; do
		if "$@" >/dev/null 2>&1; then
			echo $(($(nn_now_ms) - t0))
			return 0
		fi
		now=$(nn_now_ms)
		if [ $((now - t0)) -ge $((secs * 1000)) ]; then
			echo $((now - t0))
			return 1
		fi
		sleep 0.02
	done
}
