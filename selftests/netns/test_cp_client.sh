#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# test_cp_client.sh - the control-plane client (user/cp/client.c, driven by
# build/nn-cptest) against the reference control plane (tools/cp/nanami-cp)
# on the loopback of a private network namespace: snapshot, ETag 304,
# deltas and 410, the event stream (latency, keepalives, dead stream,
# polling fallback), persistence across a restart, mTLS (good, missing and
# foreign client certificates, wrong CA, pinned key), timeouts, size cap,
# faulty responses, and the operator API's validation (422) and audit log.
. "$(dirname "$0")/lib.sh"

T=$NN_TMP
# A private copy: a concurrent `make` relinking build/ must not pull the
# binary from under a running test.
CPT=$T/nn-cptest
cp "$NN_BUILD/nn-cptest" "$CPT" 2>/dev/null
CP="/usr/bin/python3 $NN_ROOT/tools/cp/nanami-cp"
EX=$NN_ROOT/examples/assignments.json
URL=http://127.0.0.1:8443
PREF=/api/v1/devices/bob-phone/routing-preference

if [ ! -x "$CPT" ]; then
	nn_not_ok "nn-cptest built" "missing $NN_BUILD/nn-cptest (run make)"
	nn_finish
	exit 1
fi

nn_node cp || { nn_not_ok "namespace"; nn_finish; exit 1; }

cpt() { nn_in cp "$CPT" --url "$URL" --keepalive 1 "$@"; }
# key=value from the last line of stdin that has the key.
kv() { grep -o "\b$1=[^ ]*" | tail -1 | cut -d= -f2-; }
# JSON equality of two files, key order ignored.
json_eq() { /usr/bin/python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:3]); sys.exit(a!=b)' "$1" "$2"; }
# ok NAME when CMD succeeds, else not ok with the output file shown.
expect() {
	local name=$1 out=$2
	shift 2
	if "$@"; then
		nn_ok "$name"
	else
		nn_not_ok "$name" "in $(basename "$out"):"
		tail -4 "$out" | cut -c1-300 | sed 's/^/#     /'
	fi
}
start_cp() {	# TAG ARGS...: start, wait until it answers
	local tag=$1
	shift
	nn_bg cp "$tag" $CP --pidfile "$T/$tag.pidfile" "$@"
	nn_wait_for 5 test -s "$T/$tag.pidfile"
}
stop_cp() {	# TAG: SIGTERM, wait for the exit
	local pid
	pid=$(cat "$T/$1.pid" 2>/dev/null) || return 1
	kill -TERM "$pid" 2>/dev/null
	nn_wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
}
gen_now() { cpt full 2>/dev/null | kv generation; }

# ---- plain HTTP on loopback: snapshot, ETag, deltas ----

start_cp cp --listen 127.0.0.1:8443 --state "$T/state.json" --seed-from "$EX" \
	--admin --keepalive 1 --history 4
nn_wait_for 5 cpt full >/dev/null

cpt --out "$T/full.json" full full >"$T/o" 2>&1
expect "snapshot fetch: 200 with an ETag, same document as the seed" "$T/o" \
	sh -c "grep '^step=' '$T/o' | head -1 | grep -q 'status=200 generation=7 .*etag=\"7-'"
expect "snapshot equals examples/assignments.json" "$T/o" json_eq "$T/full.json" "$EX"
expect "If-None-Match with the ETag gives 304 (unchanged)" "$T/o" \
	sh -c "grep '^step=' '$T/o' | sed -n 2p | grep -q 'result=unchanged via=full status=304'"

cpt --out "$T/delta.json" full \
	"req:PUT:$PREF:{\"routing_mode\":\"manual\",\"egress_device\":\"gw-ams-1\"}" \
	delta delta >"$T/o" 2>&1
cpt --out "$T/full8.json" full >/dev/null 2>&1
expect "delta after a routing-preference PUT: one change, generation 8" "$T/o" \
	sh -c "grep '^step=' '$T/o' | sed -n 3p | grep -q 'result=new via=delta status=200 generation=8 changes=1'"
expect "delta applied to snapshot 7 equals snapshot 8 exactly" "$T/o" json_eq "$T/delta.json" "$T/full8.json"
expect "delta at the current generation: empty, unchanged" "$T/o" \
	sh -c "grep '^step=' '$T/o' | sed -n 4p | grep -q 'result=unchanged via=delta .*changes=0'"

cpt --out "$T/delta.json" full \
	'req:PUT:/admin/v1/devices/carol-desktop/state:{"state":"disabled"}' \
	'req:DELETE:/admin/v1/devices/alice-laptop' delta >"$T/o" 2>&1
cpt --out "$T/full10.json" full >/dev/null 2>&1
chk() { grep '^step=' "$T/o" | tail -1 | grep -q 'via=delta .*generation=10 changes=2' && json_eq "$T/delta.json" "$T/full10.json"; }
expect "delta with a disabled and a deleted device applies exactly" "$T/o" chk

# --history 4: generation 10 - 5 is gone.
cpt --out "$T/fb.json" full "req:PUT:$PREF:{\"traffic_mode\":\"full_tunnel\"}" \
	"req:PUT:$PREF:{\"traffic_mode\":\"vpn_only\"}" "req:PUT:$PREF:null" \
	"req:PUT:$PREF:{\"traffic_mode\":\"full_tunnel\"}" "req:PUT:$PREF:null" delta >"$T/o" 2>&1
cpt --out "$T/full15.json" full >/dev/null 2>&1
expect "410 for a generation out of history, fallback to a full snapshot" "$T/o" \
	sh -c "grep '^step=' '$T/o' | tail -1 | grep -q 'result=new via=fallback status=200 generation=15' && grep -q 'event=cp_delta_gone since=10' '$T/o'"
expect "fallback snapshot equals the control plane's" "$T/o" json_eq "$T/fb.json" "$T/full15.json"

# ---- the operator API: validation and audit ----

cpt 'req:PUT:/api/v1/devices/carol-desktop/routing-preference:{"routing_mode":"manual","egress_device":"gw-ams-1"}' \
	'req:PUT:/api/v1/devices/bob-phone/routing-preference:{"routing_mode":"manual","ingress_device":"gw-ams-1"}' \
	'req:PUT:/api/v1/networks/acme-prod/routing-policy:{"routing_mode":"manual","egress_device":"gw-nowhere"}' \
	'req:PUT:/api/v1/devices/bob-phone/routing-preference:{"routing_mode":"manual","exit":"gw-fra-1"}' \
	>"$T/o" 2>&1
expect "422: manual egress that is not a gateway of the device's network (other tenant)" "$T/o" \
	sh -c "grep '^step=' '$T/o' | sed -n 1p | grep -q 'status=422 .*is not a gateway of network globex-main.*field.*egress_device'"
expect "422: manual ingress without the ingress_gateway role" "$T/o" \
	sh -c "grep '^step=' '$T/o' | sed -n 2p | grep -q 'status=422 .*does not have the ingress_gateway role.*field.*ingress_device'"
expect "422: network routing policy naming an unknown gateway" "$T/o" \
	sh -c "grep '^step=' '$T/o' | sed -n 3p | grep -q 'status=422 .*gw-nowhere is not a gateway of network acme-prod'"
expect "422: unknown field named" "$T/o" \
	sh -c "grep '^step=' '$T/o' | sed -n 4p | grep -q 'status=422 .*unknown field exit.*field.*exit'"
expect "refused changes do not bump the generation" "$T/o" test "$(gen_now)" = 15
cpt 'req:PUT:/api/v1/networks/acme-prod/routing-policy:{"traffic_mode":"full_tunnel","routing_mode":"manual","ingress_device":"gw-fra-1","egress_device":"gw-ams-1"}' \
	'req:GET:/api/v1/networks/acme-prod/routing-policy' >"$T/o" 2>&1
expect "valid routing policy accepted, readable, audited" "$T/o" \
	sh -c "grep -q 'status=200 .*generation..: 16' '$T/o' && grep '^step=' '$T/o' | sed -n 2p | grep -q 'egress_device[^:]*: [^a-z]*gw-ams-1' &&
	       grep -q 'event=audit actor=anonymous object=network/acme-prod change=.routing_policy=' '$T/cp.log'"

# ---- event stream ----

cpt "sse-latency:PUT:$PREF:{\"traffic_mode\":\"full_tunnel\"}" >"$T/o" 2>&1
lat=$(kv latency_ms <"$T/o")
echo "# event latency after a PUT: ${lat:-none} ms (the PUT itself: $(kv request_ms <"$T/o") ms)"
expect "event arrives within 1 s of a PUT" "$T/o" test "${lat:-99999}" -lt 1000

cpt stream:3.5 >"$T/o" 2>&1
ka=$(kv keepalives <"$T/o")
echo "# keepalives in 3.5 s at --keepalive 1: ${ka:-none}"
expect "keepalive comments seen (>= 3 in 3.5 s)" "$T/o" test "${ka:-0}" -ge 3
expect "stream sends the current generation on connect" "$T/o" grep -q "^event generation=17" "$T/o"

# A stopped control plane sends nothing: dead after 2x keepalive.
cppid=$(cat "$T/cp.pid")
( sleep 0.5; kill -STOP "$cppid" ) &
cpt stream:10 >"$T/o" 2>&1
kill -CONT "$cppid"
el=$(kv elapsed_ms <"$T/o")
echo "# dead stream detected after ${el:-?} ms (keepalive 1 s)"
expect "dead stream (no bytes for 2x keepalive) detected" "$T/o" \
	sh -c "grep -q 'errno=ETIMEDOUT .*event stream dead' '$T/o' && [ ${el:-0} -ge 2000 ] && [ ${el:-99999} -lt 4500 ]"

# Polling fallback: the events endpoint fails, changes arrive by polling.
cpt 'req:POST:/admin/v1/fault:{"mode":"500","target":"events"}' >/dev/null 2>&1
nn_bg cp watch "$CPT" --url "$URL" --keepalive 1 --poll-ms 300 --until-gen 18 watch:8
sleep 1
t0=$(nn_now_ms)
cpt "req:PUT:$PREF:{\"traffic_mode\":\"vpn_only\"}" >/dev/null 2>&1
nn_wait_for 8 sh -c "grep -q 'step=watch done rc=' '$T/watch.log'"
echo "# polling fallback picked up generation 18 after $(( $(nn_now_ms) - t0 )) ms (poll 300 ms)"
expect "polling fallback while the stream endpoint fails (HTTP 500)" "$T/watch.log" \
	sh -c "grep -q 'stream_down .*HTTP 500' '$T/watch.log' && grep -q 'via=delta+poll .*generation=18' '$T/watch.log' &&
	       grep -q 'step=watch done rc=0 generation=18' '$T/watch.log'"
cpt 'req:POST:/admin/v1/fault:{"mode":"none"}' >/dev/null 2>&1

# Stream up: the same loop takes the change from the stream.
nn_bg cp watch2 "$CPT" --url "$URL" --keepalive 1 --poll-ms 300 --until-gen 19 watch:8
sleep 1
cpt "req:PUT:$PREF:{\"traffic_mode\":\"full_tunnel\"}" >/dev/null 2>&1
nn_wait_for 8 sh -c "grep -q 'step=watch done rc=' '$T/watch2.log'"
expect "with the stream up, changes arrive by the stream" "$T/watch2.log" \
	sh -c "grep -q 'via=delta+stream .*generation=19' '$T/watch2.log' && ! grep -q stream_down '$T/watch2.log'"

# Killed mid-stream; restarted from its state file.
cpt --out "$T/full19.json" full >/dev/null 2>&1
nn_bg cp midstream "$CPT" --url "$URL" --keepalive 1 stream:10
sleep 1
stop_cp cp
rc_cp=$?
nn_wait_for 5 sh -c "grep -q 'step=stream' '$T/midstream.log'"
expect "control plane stopped mid-stream: stream reports it closed" "$T/midstream.log" \
	grep -q "errno=ECONNRESET .*event stream closed by the control plane" "$T/midstream.log"
expect "SIGTERM: clean exit, pidfile removed" "$T/cp.log" \
	sh -c "[ $rc_cp = 0 ] && [ ! -e '$T/cp.pidfile' ] && grep -q 'event=stopped generation=19' '$T/cp.log'"
expect "state file persisted (format 1, generation 19)" "$T/state.json" \
	/usr/bin/python3 -c "import json,sys; s=json.load(open('$T/state.json')); sys.exit(not (s['format']==1 and s['generation']==19))"
start_cp cp2 --listen 127.0.0.1:8443 --state "$T/state.json" --seed-from "$EX" --admin --keepalive 1
nn_wait_for 5 cpt full >/dev/null
cpt --out "$T/after.json" full delta >"$T/o" 2>&1
chk() { grep '^step=' "$T/o" | head -1 | grep -q 'status=200 generation=19' && json_eq "$T/after.json" "$T/full19.json" &&
	grep '^step=' "$T/o" | tail -1 | grep -q 'result=unchanged via=delta'; }
expect "restart from the state file: same generation 19, same content, deltas from it" "$T/o" chk

# ---- faults ----

fault() { echo "req:POST:/admin/v1/fault:{\"mode\":\"$1\",\"count\":1}"; }
cpt --low-speed-limit 100 --low-speed-time 2 "$(fault slow)" full >"$T/o" 2>&1
el=$(kv elapsed_ms <"$T/o")
echo "# 1 byte/s response aborted after ${el:-?} ms (low speed 100 B/s for 2 s)"
expect "a 1 byte/s response hits the low-speed timeout" "$T/o" \
	sh -c "grep -q 'errno=ETIMEDOUT .*too slow' '$T/o' && [ ${el:-0} -lt 4000 ]"
cpt --max-bytes 1048576 "$(fault oversized)" full >"$T/o" 2>&1
expect "an oversized chunked body is cut by the size cap" "$T/o" \
	grep -q "errno=EFBIG .*response larger than 1048576 bytes, cut" "$T/o"
cpt "$(fault 500)" full >"$T/o" 2>&1
expect "HTTP 500 reported as an error" "$T/o" grep -q "errno=EPROTO .*HTTP 500" "$T/o"
cpt "$(fault truncated)" full >"$T/o" 2>&1
expect "truncated response reported as an error" "$T/o" grep -q "errno=EIO .*remaining to read" "$T/o"
cpt "$(fault malformed)" full "$(fault dupkey)" full "$(fault deep)" full >"$T/o" 2>&1
expect "malformed, duplicate-key and 100000-deep JSON refused" "$T/o" \
	test "$(grep -c 'step=full rc=-74 errno=EBADMSG .*invalid JSON' "$T/o")" = 3
cpt full "$(fault 500)" delta delta >"$T/o" 2>&1
expect "a failed delta fetch keeps the held snapshot (next delta works)" "$T/o" \
	sh -c "grep '^step=' '$T/o' | sed -n 3p | grep -q 'step=delta rc=-71 errno=EPROTO' && grep '^step=' '$T/o' | sed -n 4p | grep -q 'result=unchanged via=delta'"
cpt --timeout-ms 1000 --low-speed-limit 1 --low-speed-time 60 "$(fault hang)" full >"$T/o" 2>&1
el=$(kv elapsed_ms <"$T/o")
expect "total timeout (headers, then nothing) after ${el:-?} ms of 1000" "$T/o" \
	sh -c "grep -q 'errno=ETIMEDOUT .*timed out after' '$T/o' && [ ${el:-0} -ge 1000 ] && [ ${el:-99999} -lt 2000 ]"
# A listener that never accepts: TCP connects, TLS never starts.
nn_bg cp blackhole /usr/bin/python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1", 8446)); s.listen(1); time.sleep(60)'
nn_wait_for 3 nn_in cp sh -c "ss -ltn | grep -q ':8446 '"
cpt --url https://127.0.0.1:8446 --connect-timeout-ms 500 full >"$T/o" 2>&1
el=$(kv elapsed_ms <"$T/o")
expect "connect timeout (TLS handshake never answered) after ${el:-?} ms of 500" "$T/o" \
	sh -c "grep -q 'errno=ETIMEDOUT .*https://127.0.0.1:8446/' '$T/o' && [ ${el:-0} -ge 500 ] && [ ${el:-99999} -lt 1500 ]"
cpt --url http://127.0.0.1:8447 full >"$T/o" 2>&1
expect "control plane down: connection refused, named" "$T/o" \
	grep -q "errno=ECONNREFUSED .*control plane http://127.0.0.1:8447/.*" "$T/o"
# A held last-known-good as the base: the next fetch is a delta from it.
cpt "req:PUT:$PREF:{\"traffic_mode\":\"vpn_only\"}" >/dev/null 2>&1
cpt --out "$T/lkg-next.json" "base:$T/full19.json" delta >"$T/o" 2>&1
cpt --out "$T/full20.json" full >/dev/null 2>&1
chk() { grep -q 'step=base rc=0 generation=19' "$T/o" && grep '^step=' "$T/o" | tail -1 | grep -q 'via=delta .*generation=20 changes=1' &&
	json_eq "$T/lkg-next.json" "$T/full20.json"; }
expect "a held last-known-good snapshot is the base for ?since=" "$T/o" chk
# Admin replace with an older generation (a control plane restored from a
# backup): a delta from a newer base is refused (410), the full snapshot
# carries generation 5 for the gateway to reject.
cpt "base:$T/full20.json" "req:PUT:/admin/v1/snapshot?force_generation=5:$(cat "$EX")" delta >"$T/o" 2>&1
expect "admin snapshot replace, older generation: 410 then the full snapshot" "$T/o" \
	sh -c "grep -q 'event=cp_delta_gone since=20' '$T/o' && grep '^step=' '$T/o' | tail -1 | grep -q 'via=fallback status=200 generation=5'"
cpt --url http://10.99.0.1:8443 full >"$T/o" 2>&1
expect "plain http:// to a non-loopback address refused" "$T/o" \
	grep -q "errno=EPERM .*plain http:// only to a loopback address" "$T/o"
nn_in cp $CP --listen 10.99.0.1:8445 >"$T/o" 2>&1
expect "control plane refuses plain HTTP off loopback" "$T/o" grep -q "plain HTTP only on a loopback" "$T/o"
stop_cp cp2

# ---- TLS with client certificates ----

pki() {
	nn_test_pki "$T" || return 1
	cd "$T" || return 1
	openssl x509 -in srv.crt -pubkey -noout | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | base64 >srv.pin
}
if ! (pki) >"$T/pki.log" 2>&1; then
	nn_not_ok "test certificates generated with openssl" "$(tail -3 "$T/pki.log")"
	nn_finish
	exit 1
fi
TLS="--url https://127.0.0.1:8444 --ca $T/ca.crt"
start_cp cptls --listen 127.0.0.1:8444 --state "$T/tls-state.json" --seed-from "$EX" \
	--tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --client-ca "$T/ca.crt" --keepalive 1
sleep 0.3
cpt $TLS --cert "$T/cli.crt" --key "$T/cli.key" full \
	"req:PUT:$PREF:{\"traffic_mode\":\"full_tunnel\"}" delta >"$T/o" 2>&1
expect "mTLS: good client certificate works (snapshot, PUT, delta)" "$T/o" \
	sh -c "grep '^step=' '$T/o' | head -1 | grep -q 'status=200 generation=7' && grep '^step=' '$T/o' | tail -1 | grep -q 'via=delta .*generation=8'"
expect "audit line names the client certificate's CN" "$T/cptls.log" \
	grep -q "event=audit actor=gw-fra-1 object=device/bob-phone" "$T/cptls.log"
cpt $TLS --url https://localhost:8444 --cert "$T/cli.crt" --key "$T/cli.key" full >"$T/o" 2>&1
expect "mTLS: server name localhost verifies too" "$T/o" grep -q "status=200" "$T/o"
cpt $TLS full >"$T/o" 2>&1
expect "mTLS: no client certificate refused" "$T/o" \
	sh -c "grep -q 'step=full rc=-.*control plane https://127.0.0.1:8444/.*client certificate' '$T/o' &&
	       grep -q 'event=tls_refused .*CERTIFICATE' '$T/cptls.log'"
cpt $TLS --cert "$T/cli2.crt" --key "$T/cli2.key" full >"$T/o" 2>&1
expect "mTLS: client certificate from another CA refused" "$T/o" \
	sh -c "grep -q 'step=full rc=-.*control plane https://127.0.0.1:8444/.*client certificate' '$T/o' &&
	       [ \$(grep -c 'event=tls_refused' '$T/cptls.log') = 2 ]"
cpt $TLS --cert "$T/cli3.crt" --key "$T/cli3.key" full >"$T/o" 2>&1
expect "mTLS: another gateway's certificate cannot read gw-fra-1's snapshot (403, named)" "$T/o" \
	sh -c "grep -q 'HTTP 403: .*client certificate names gw-ams-1, not gateway gw-fra-1' '$T/o' &&
	       grep -q 'event=tls_refused .*node_id=gw-fra-1' '$T/cptls.log'"
nn_in cp curl -sS -o "$T/ev" -w '%{http_code}' --max-time 3 --cacert "$T/ca.crt" \
	--cert "$T/cli3.crt" --key "$T/cli3.key" \
	https://127.0.0.1:8444/api/v1/gateways/gw-fra-1/events >"$T/code" 2>"$T/o"
expect "mTLS: nor its event stream (403)" "$T/code" grep -qx 403 "$T/code"
cpt $TLS --ca "$T/ca2.crt" --cert "$T/cli.crt" --key "$T/cli.key" full >"$T/o" 2>&1
expect "wrong CA: server certificate not trusted, clear error" "$T/o" \
	grep -q "errno=EPERM .*control plane https://127.0.0.1:8444/.*SSL certificate problem" "$T/o"
cpt $TLS --cert "$T/cli.crt" --key "$T/cli.key" --pin "sha256//$(cat "$T/srv.pin")" full >"$T/o" 2>&1
expect "pinned server public key: match works" "$T/o" grep -q "status=200" "$T/o"
cpt $TLS --cert "$T/cli.crt" --key "$T/cli.key" \
	--pin "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" full >"$T/o" 2>&1
expect "pinned server public key: mismatch refused" "$T/o" grep -q "errno=EPERM .*public key" "$T/o"
cpt $TLS --cert "$T/cli.crt" --key "$T/cli.key" \
	"sse-latency:PUT:$PREF:{\"traffic_mode\":\"vpn_only\"}" >"$T/o" 2>&1
lat=$(kv latency_ms <"$T/o")
echo "# event latency over mTLS: ${lat:-none} ms (the PUT itself: $(kv request_ms <"$T/o") ms)"
expect "event stream over mTLS within 1 s" "$T/o" test "${lat:-99999}" -lt 1000
stop_cp cptls

nn_finish
