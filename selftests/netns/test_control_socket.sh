#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: long (about 30 s or more: selftests/run.sh starts it first)
#
# The controller's control socket (docs/interfaces.md), with the real daemon
# and the reference control plane:
#
#   node gw: veth eth0 (Ethernet framing, TC), nanami-cp on 127.0.0.1,
#            nanami-gatewayd --control-plane --control-socket $NN_TMP/ctl/d/gw.sock
#   node c:  the veth's other end (unused: explain judges without traffic)
#
# - the socket is root's: directory 0700, socket 0600, refused to nobody;
# - GET /v1/status after an apply (control plane, sync, wg, identity), after
#   a rejected snapshot (the validator's reasons), after the next good one;
# - POST /v1/explain agrees with explain loaded from the pinned maps on every
#   worked example of verdicts.md, and answers faster (medians printed);
# - errors are JSON with the right HTTP status, through gwctl -j too;
# - nanami_control_plane_errors_total{kind="connect"} after a refused
#   connection, and the same in the status;
# - the controller stopped (or killed): gwctl status and explain fall back to
#   the maps and say so; a restart replaces the stale socket.
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need

GW_IFACE=eth0
PINS=/sys/fs/bpf/nanami-test/cs
SOCK=$NN_TMP/ctl/d/gw.sock
NOSOCK=$NN_TMP/ctl/none.sock
SA=$NN_TMP/state

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }

# gwctl through the socket (lib_cp's gwctl, plus --control-socket); gwmaps
# with a socket nobody serves: the pinned maps alone.
gwsock() { gwctl --control-socket "$SOCK" "$@"; }
gwmaps() { gwctl --control-socket "$NOSOCK" "$@"; }
# req METHOD PATH [BODY]: "HTTP-STATUS BODY" from the socket, with curl.
req() {
	local a=(-sS --max-time 10 --unix-socket "$SOCK" -X "$1" -w '\n%{http_code}')
	[ -n "${3-}" ] && a+=(-H 'Content-Type: application/json' --data-binary "$3")
	nn_in gw curl "${a[@]}" "http://localhost$2" | tac | tr '\n' ' '
}
# status: the body of GET /v1/status; fails unless it answered 200.
status() {
	local out
	out=$(req GET /v1/status)
	[ "${out%% *}" = 200 ] || { echo "$out"; return 1; }
	echo "${out#* }"
}
# st_is JQ: the status satisfies JQ (printed when it does not).
st_is() {
	local st
	st=$(status) && [ -n "$st" ] && jq -en "input | $1" >/dev/null 2>&1 <<<"$st" && return 0
	echo "status: $st"
	return 1
}
wait_st() { nn_wait_for "$1" st_is "$2" || st_is "$2"; }
# jqin JSON JQ: like st_is for any document.
jqin() { [ -n "$1" ] && jq -en "input | $2" >/dev/null 2>&1 <<<"$1" && return 0; echo "got: $1"; return 1; }
gen_is() { st_is ".sync.applied_generation == $1"; }

cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$EX" ||
	{ nn_not_ok "control plane started"; exit 1; }
GWD_ARGS=(--iface eth0 --control-plane "$CP_URL" --node-id gw-fra-1 --bpffs "$PINS"
	  --state-dir "$SA" --wg none --nat off --metrics-listen "$METRICS"
	  --control-socket "$SOCK" --resync 2 --poll 1 "${CAPS[@]}")
gwd_start g1
nn_check "controller applies generation 7 (status through the socket)" nn_wait_for 10 gen_is 7

# ---- permissions ----
nn_check "socket is a socket, mode 0600, owned by root" \
	test "$(nn_in gw stat -c '%F %a %u' "$SOCK")" = "socket 600 0"
nn_check "its directory was created 0700" test "$(nn_in gw stat -c '%a %u' "$(dirname "$SOCK")")" = "700 0"
nn_check "nobody (uid 65534) cannot connect" sh -c "! nsenter --target ${NN_PID[gw]} --mount --net -- \
	setpriv --reuid 65534 --regid 65534 --clear-groups curl -sS --max-time 3 \
	--unix-socket '$SOCK' http://localhost/v1/status"

# ---- status after an apply ----
st=$(status)
jqt() { jq -en "input | $1" >/dev/null <<<"$st"; }
nn_check "status: control plane url and state" jqt ".control_plane.url == \"$CP_URL\" and
	(.control_plane.state == \"stream\" or .control_plane.state == \"polling\")"
nn_check "status: last sync time and generation" jqt '.sync.applied_generation == 7 and
	(.sync.last_sync_at | test("^[0-9-]+T[0-9:]+Z$")) and .sync.seconds_since_last_sync >= 0'
nn_check "status: no rejection, no apply error yet" \
	jqt '.last_rejection == null and .last_apply_error == null'
nn_check "status: backend in use and wg state (none: not managed)" \
	jqt '.wg.backend == "none" and .wg.in_sync == null and .wg.iface == "eth0"'
nn_check "status: identity of a gateway not enrolled (node id; generation, expiry null)" \
	jqt '.identity.node_id == "gw-fra-1" and (.identity | has("key_generation") and
	.key_generation == null and .certificate_expires_at == null and .enrolled == false and
	.pending_rotation == false and .last_rotation == null and (has("not_implemented") | not))'
nn_check "status: control-plane errors by kind present" \
	jqt '.control_plane.errors_total | has("connect") and has("tls") and has("timeout")'
out=$(gwsock status)
nn_check "gwctl -j status: through the socket, maps and controller together" \
	jqin "$out" '.via == "control_socket" and .generation == 7 and .controller.sync.applied_generation == 7
	and .source == "'"$CP_URL"'" and .last_error == null'
nn_check "gwctl status (text): names the controller and its sync" sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- '$GWCTL' --iface eth0 --bpffs '$PINS' \
	--control-socket '$SOCK' status | grep -q '^control plane .*$CP_URL'"

# ---- a rejected snapshot: its reasons appear ----
jq '(.tenants[1].networks[0].resources[0].prefixes) = ["fd00:acc::/64"]' "$EX" >"$NN_TMP/overlap.json"
cp_req PUT "/admin/v1/snapshot?force_generation=20" "$(cat "$NN_TMP/overlap.json")" >/dev/null
nn_check "rejected snapshot: last_rejection with the validator's reasons" wait_st 6 \
	'.last_rejection.current == true and (.last_rejection.reasons | length) >= 1 and
	(.last_rejection.reasons | join(" ") | test("overlap"))'
st=$(status)
nn_check "rejected snapshot: generation still 7, the rejection names nothing applied" \
	jqt '.sync.applied_generation == 7 and .last_rejection.at != null'
echo "# last_rejection: $(jq -c .last_rejection <<<"$st")"
nn_check "gwctl -j status: last_error is the rejection's reason" \
	jqin "$(gwsock status)" '.last_error | test("overlap")'
cp_req PUT "/admin/v1/snapshot?force_generation=21" "$(cat "$EX")" >/dev/null
nn_check "next good snapshot applies: the rejection is no longer current" wait_st 6 \
	'.sync.applied_generation == 21 and .last_rejection.current == false'

# ---- explain through the socket agrees with explain from the maps ----
A6=fd7a:6e61:6e61:10::2 A4=100.96.16.2 B6=fd7a:6e61:6e61:10::3
C6=fd7a:6e61:6e61:20::2 C4=100.96.32.2 CO6=fd7a:6e61:6e61:20::3
N6=fd7a:6e61:6e61:10::99 GW6=fd7a:6e61:6e61::1 AMS6=fd7a:6e61:6e61::2
DB6=fd00:acc::5 WEB6=fd00:acc:1::9 FILES6=fd00:6b0::1 NET6=2001:db8:ffff::1
DNS4=192.0.2.53
# id direction src dst proto dport sport verdict reason (verdicts.md)
examples="
1 from-overlay $A6 $DB6 tcp 5432 40000 pass -
2 from-overlay $A6 $DB6 tcp 22 40001 drop acl_default_deny
4 from-overlay $B6 $WEB6 tcp 443 40003 pass -
5 from-overlay $N6 $DB6 tcp 5432 40004 drop spoof
7 from-overlay $A6 $NET6 tcp 25 40006 drop acl_deny
8 from-overlay $B6 $NET6 tcp 443 40007 drop no_egress
9 from-overlay $C6 $DB6 tcp 5432 40008 drop cross_tenant
10 from-overlay $C4 $DNS4 udp 53 40009 pass -
11 from-overlay $CO6 $FILES6 tcp 445 40010 drop revoked
12 from-overlay $C4 $A4 tcp 22 40011 drop cross_tenant
13 from-overlay $A6 fd7a:6e61:6e61:ff::1 tcp 80 40012 drop unknown_dst
14 from-overlay $A6 $AMS6 tcp 22 40013 drop no_transit
14a from-overlay $AMS6 $GW6 udp 4789 40015 pass -
16 into-overlay $NET6 $A6 tcp 40017 443 drop acl_default_deny
17 into-overlay $FILES6 $A6 tcp 40018 445 drop cross_tenant
"
strip='del(.via, .fallback_reason)'
# the maps' answers in one --batch call: one dry-run load for all of them
awk 'NF { print $2, $3, $4, $5, $6, $7 }' <<<"$examples" >"$NN_TMP/batch"
gwmaps explain --batch "$NN_TMP/batch" >"$NN_TMP/batch.out" 2>&1
n=0
while read -r id dir src dst proto dport sport verdict reason; do
	[ -z "$id" ] && continue
	n=$((n + 1))
	s=$(gwsock explain "$dir" "$src" "$dst" "$proto" "$dport" --sport "$sport")
	m=$(sed -n "${n}p" "$NN_TMP/batch.out")
	r=$(req POST /v1/explain "{\"direction\":\"$dir\",\"src\":\"$src\",\"dst\":\"$dst\",
		\"proto\":\"$proto\",\"dport\":$dport,\"sport\":$sport}")
	want=$(jq -cn --arg v "$verdict" --arg r "$reason" \
		'{verdict: $v, reason: (if $r == "-" then null else $r end)}')
	if [ "$(jq -cS "$strip" <<<"$s")" = "$(jq -cS "$strip" <<<"$m")" ] &&
	   [ "$(jq -cS "$strip" <<<"$s")" = "$(jq -cS . <<<"${r#200 }")" ] &&
	   jq -en 'input | .via == "control_socket"' >/dev/null <<<"$s" &&
	   jq -en 'input | .via == "pinned_maps" and (.fallback_reason | length > 0)' >/dev/null <<<"$m" &&
	   [ "$(jq -c '{verdict, reason}' <<<"$s")" = "$want" ]; then
		nn_ok "explain example $id: socket = maps = POST /v1/explain ($verdict $reason)"
	else
		nn_not_ok "explain example $id: socket = maps = POST /v1/explain" "want $want"
		echo "#   socket: $s"; echo "#   maps:   $m"; echo "#   POST:   $r"
	fi
done <<<"$examples"

# Latency: 7 calls each, the median in ms (gwctl end to end; a call from the
# maps loads the programs, which is what the socket saves).
median_ms() {	# GWCTL-FUNCTION
	local i t0 ts=()
	for i in $(seq 7); do
		t0=$(nn_now_ms)
		"$1" explain from-overlay "$A6" "$DB6" tcp 5432 >/dev/null
		ts+=($(($(nn_now_ms) - t0)))
	done
	printf '%s\n' "${ts[@]}" | sort -n | sed -n 4p
}
ms_sock=$(median_ms gwsock)
ms_maps=$(median_ms gwmaps)
echo "# explain_ms_median socket=$ms_sock maps=$ms_maps (7 calls each)"
nn_check "explain through the socket is faster than loading from the maps ($ms_sock ms vs $ms_maps ms)" \
	test "$((ms_sock * 2))" -lt "$ms_maps"

# ---- errors: JSON with a proper HTTP status ----
code_err() {	# WANT-CODE METHOD PATH [BODY]
	local out
	out=$(req "$2" "$3" "${4-}")
	[ "${out%% *}" = "$1" ] && jq -en 'input | .error | length > 0' >/dev/null <<<"${out#* }" ||
		{ echo "got: $out"; return 1; }
}
nn_check "error: unknown endpoint is 404 JSON" code_err 404 GET /v1/nothing
nn_check "rotate-key without wg0 managed (--wg none) is 409 JSON, saying why" \
	code_err 409 POST /v1/rotate-key
nn_check "rotate-key takes POST only (405)" code_err 405 GET /v1/rotate-key
nn_check "error: GET /v1/explain is 405 JSON" code_err 405 GET /v1/explain
nn_check "error: body not JSON is 400 JSON" code_err 400 POST /v1/explain 'nope'
out=$(req POST /v1/explain '{"direction":"from-overlay","src":"1.2.3","dst":"10.0.0.1","proto":"udp","dport":53}')
nn_check "error: bad address is 400 with the CLI's message" \
	jqin "${out#* }" '.status == 400 and (.error | test("^SRC .1.2.3. is not an IPv4"))'
nn_check "error: unknown field is 400" code_err 400 POST /v1/explain '{"direction":"from-overlay","port":1}'
out=$(gwsock explain from-overlay 1.2.3 10.0.0.1 udp 53)
rc=$?
nn_check "gwctl -j explain usage error: JSON error naming SRC, exit 2 (got $rc)" \
	sh -c "test $rc = 2 && echo '$out' | jq -en 'input | .error | test(\"SRC\")'"

# ---- control-plane errors by kind: a refused connection ----
cp_stop cp
nn_check "control plane stopped: connect errors counted in /metrics" nn_wait_for 6 sh -c \
	"test \"\$(nsenter --target ${NN_PID[gw]} --mount --net -- curl -sS --max-time 3 \
	http://$METRICS/metrics | awk '\$1 == \"nanami_control_plane_errors_total{kind=\\\"connect\\\"}\" {print \$2}')\" -gt 0"
nn_check "control plane stopped: status has the connect error and state down" wait_st 4 \
	'.control_plane.errors_total.connect > 0 and .control_plane.last_error.kind == "connect"
	and (.control_plane.last_error.message | length > 0) and .control_plane.state == "down"'
# The event stream the control plane closed on its way down is a reset;
# nothing else may be counted.
nn_check "no other kind counted (the stream it closed: reset)" \
	st_is '[.control_plane.errors_total | to_entries[] |
	select(.key != "connect" and .key != "reset" and .value > 0)] | length == 0'

# ---- the controller stopped: fallback to the maps, saying so ----
gwd_kill g1 TERM
nn_check "controller stopped: socket removed" sh -c "! nsenter --target ${NN_PID[gw]} --mount --net -- test -e '$SOCK'"
out=$(gwsock status)
nn_check "gwctl -j status falls back to the maps and says so" jqin "$out" '.via == "pinned_maps" and
	.controller == null and (.fallback_reason | test("no control socket")) and .generation == 21'
nn_check "gwctl status (text) says it reads the maps alone" sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- '$GWCTL' --iface eth0 --bpffs '$PINS' \
	--control-socket '$SOCK' status | grep -q 'pinned maps alone'"
out=$(gwsock explain from-overlay "$A6" "$DB6" tcp 5432)
nn_check "gwctl -j explain falls back to the maps and says so" \
	jqin "$out" '.via == "pinned_maps" and .verdict == "pass"'
nn_check "gwctl explain (text) says who answered" sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- '$GWCTL' --iface eth0 --bpffs '$PINS' \
	--control-socket '$SOCK' explain from-overlay $A6 $DB6 tcp 5432 | grep -q '^answered   here, from the pinned maps'"

# ---- killed: a stale socket file; the next start replaces it ----
gwd_start g2
nn_check "restarted controller serves the socket" wait_st 10 '.sync.applied_generation >= 7'
gwd_kill g2 KILL
nn_check "killed controller: the socket file stays" nn_in gw test -S "$SOCK"
nn_check "gwctl -j status with a stale socket falls back (nothing listens)" \
	jqin "$(gwsock status)" '.via == "pinned_maps" and (.fallback_reason | test("nothing listens"))'
gwd_start g3
nn_check "next start replaces the stale socket" wait_st 10 '.pid > 0'
gwd_kill g3 TERM

nn_finish
