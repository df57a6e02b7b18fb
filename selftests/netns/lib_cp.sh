# SPDX-License-Identifier: GPL-2.0
# selftests/netns/lib_cp.sh - the reference control plane, test certificates,
# the controller and its metrics, for the test_controller_*.sh scripts.
# Source it after lib.sh (bash only). Everything runs inside one node
# ($CP_NODE, default gw): the control plane listens on that node's loopback,
# where plain http:// is allowed.
#
#   cp_start TAG ARGS...      start tools/cp/nanami-cp (--admin, --keepalive 1),
#                             wait until it answers; log in $NN_TMP/TAG.log
#   cp_stop TAG / cp_kill TAG SIGTERM (wait for the exit) / SIGKILL
#   cp_req METHOD PATH [BODY] one request to $CP_URL (curl, $CP_CURL_TLS for
#                             TLS); prints the body, fails on HTTP >= 400
#   cp_fault MODE [TARGET] [COUNT]   the admin fault API
#   cp_gen                    the control plane's current generation
#   cp_pki DIR                CA, ca2, server cert (127.0.0.1), client certs
#                             cli (CA) and cli2 (ca2), all with openssl
#   gwd_start TAG ARGS...     nanami-gatewayd in the background ($GWD_ARGS
#                             first); gwd_pid TAG; gwd_kill TAG [SIG]
#   metric NAME[{labels}]     one value from --metrics-listen $METRICS
#   gwctl ARGS...             nanami-gwctl -j on $GW_IFACE / $PINS
#   verdict SRC DST PROTO PORT  "pass"/"drop" from gwctl explain from-overlay
#   active_epoch / meta_gen   nn_active epoch / nn_meta generation (bpftool -j)

CP_NODE=${CP_NODE:-gw}
CP_PORT=${CP_PORT:-8443}
CP_URL=${CP_URL:-http://127.0.0.1:$CP_PORT}
CP_CURL_TLS=()
CPBIN=$NN_ROOT/tools/cp/nanami-cp
EX=$NN_ROOT/examples/assignments.json
# Private copies: a concurrent `make` relinking build/ must not pull a
# binary from under a running test.
GWD=$NN_TMP/nanami-gatewayd
GWCTL=$NN_TMP/nanami-gwctl
cp "$NN_BUILD/nanami-gatewayd" "$GWD" 2>/dev/null
cp "$NN_BUILD/nanami-gwctl" "$GWCTL" 2>/dev/null
METRICS=${METRICS:-127.0.0.1:9108}
# Small maps and short timers; every run in one node names the same sizes.
CAPS=(--max-devices 64 --max-rules 64 --max-prefixes 256 --max-cells 512
      --max-flows 4096 --max-nodes 16)

lib_cp_need() {
	local t
	for t in curl jq bpftool python3 openssl; do
		command -v "$t" >/dev/null || { echo "ok - controller tests # SKIP $t not installed"; exit 0; }
	done
	if [ ! -x "$GWD" ] || [ ! -x "$GWCTL" ]; then
		nn_not_ok "nanami-gatewayd and nanami-gwctl built" "run make"
		nn_finish
		exit 1
	fi
}

cp_start() {
	local tag=$1
	shift
	rm -f "$NN_TMP/$tag.pidfile"
	nn_bg "$CP_NODE" "$tag" /usr/bin/python3 "$CPBIN" --pidfile "$NN_TMP/$tag.pidfile" \
		--admin --keepalive 1 "$@"
	# A readiness wait, no bound of the test's: python and the state's load
	# took over 5 s at nice 19 beside a CI run (test_controller_inc, seeds
	# 434834849, 2630231936, 1570490553, 51710638: "control plane restarted"
	# with the control plane's log saying it listened). A control plane that
	# never starts still fails, 15 s later.
	nn_wait_for 15 test -s "$NN_TMP/$tag.pidfile" && nn_wait_for 5 cp_gen
}

cp_stop() {
	local pid
	pid=$(cat "$NN_TMP/$1.pid" 2>/dev/null) || return 1
	kill -TERM "$pid" 2>/dev/null
	nn_wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
}

cp_kill() {
	local pid
	pid=$(cat "$NN_TMP/$1.pid" 2>/dev/null) || return 1
	kill -KILL "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null	# reaped here: no "Killed" job notice
	return 0
}

# cp_req METHOD PATH [BODY]: BODY "@FILE" sends FILE's bytes on curl's
# stdin (a snapshot of a few hundred devices passes the kernel's 128 KiB
# limit on one argument: "Argument list too long").
cp_req() {
	local m=$1 path=$2 body=${3-}
	if [ "${body:0:1}" = @ ]; then
		nn_in "$CP_NODE" curl -sS -f --max-time 5 "${CP_CURL_TLS[@]}" -X "$m" \
			-H 'Content-Type: application/json' --data-binary @- "$CP_URL$path" \
			<"${body#@}"
	elif [ -n "$body" ]; then
		nn_in "$CP_NODE" curl -sS -f --max-time 5 "${CP_CURL_TLS[@]}" -X "$m" \
			-H 'Content-Type: application/json' --data-binary "$body" "$CP_URL$path"
	else
		nn_in "$CP_NODE" curl -sS -f --max-time 5 "${CP_CURL_TLS[@]}" -X "$m" "$CP_URL$path"
	fi
}

cp_fault() {
	cp_req POST /admin/v1/fault "{\"mode\":\"$1\",\"target\":\"${2:-assignments}\",\"count\":${3:-0}}" >/dev/null
}

cp_gen() { cp_req GET /admin/v1/state | jq -en 'input | .generation'; }

# Whether the last-known-good in state dir $1 holds gateway $2's snapshot as
# the control plane serves it now. Device lists are compared sorted by id:
# the daemon's compacted LKG and the control plane list a network's devices
# in different orders.
snapshot_norm() {
	jq -S 'walk(if type == "array" and length > 0 and (.[0] | type) == "object" and
		(.[0] | has("device_id")) then sort_by(.device_id) else . end)'
}
lkg_is_cp_snapshot() {
	[ "$(sed 1d "$1/last-good.snapshot" | snapshot_norm)" = \
		"$(cp_req GET "/api/v1/gateways/$2/assignments" | snapshot_norm)" ]
}

cp_pki() { nn_test_pki "$1"; }

gwd_start() {
	local tag=$1
	shift
	nn_bg "$CP_NODE" "$tag" "$GWD" "${GWD_ARGS[@]}" "$@"
}

gwd_pid() { cat "$NN_TMP/$1.pid"; }

gwd_kill() {
	local pid
	pid=$(cat "$NN_TMP/$1.pid" 2>/dev/null) || return 1
	kill "-${2:-TERM}" "$pid" 2>/dev/null
	if [ "${2:-TERM}" = KILL ]; then
		{ wait "$pid"; } 2>/dev/null
		return 0
	fi
	nn_wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
}

# The exit status of a background controller that has ended ("" while running).
gwd_wait_rc() {
	local pid
	pid=$(cat "$NN_TMP/$1.pid" 2>/dev/null) || return 1
	wait "$pid" 2>/dev/null
	echo $?
}

scrape() { nn_in "$CP_NODE" curl -sS --max-time 3 "http://$METRICS/metrics"; }

# metric 'nanami_map_writes_total' or 'nanami_drops_total{reason="spoof"}'
metric() {
	scrape | awk -v m="$1" '$1 == m { print $2; found = 1 } END { exit !found }'
}

gwctl() { nn_in "$CP_NODE" "$GWCTL" --iface "$GW_IFACE" --bpffs "$PINS" -j "$@"; }

verdict() { gwctl explain from-overlay "$@" | jq -r '.verdict'; }
reason() { gwctl explain from-overlay "$@" | jq -r '.reason'; }

active_epoch() {
	nn_in "$CP_NODE" bpftool -j map dump pinned "$PINS/nn_active" | jq -r '.[0].formatted.value.epoch'
}

meta_gen() {
	nn_in "$CP_NODE" bpftool -j map dump pinned "$PINS/nn_meta" | jq -r '.[0].formatted.value.generation'
}

# Program ids on DEV: "tc-ingress=ID tc-egress=ID xdp=ID".
prog_ids() {
	nn_in "$CP_NODE" bpftool -j net show dev "$1" | jq -r '
		.[0] as $n |
		"tc-ingress=\([$n.tc[] | select(.kind == "clsact/ingress") | .id] | join(","))" +
		" tc-egress=\([$n.tc[] | select(.kind == "clsact/egress") | .id] | join(","))" +
		" xdp=\([$n.xdp[] | .id] | join(","))"'
}

# A snapshot JSON from the example with jq applied: snap_jq FILE FILTER
snap_jq() { jq "$2" "$EX" >"$1"; }
