#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The controller over mTLS with test certificates made here by openssl: a CA
# that signs the control plane's server certificate and the gateway's client
# certificate; a second CA with its own client certificate. The good pair
# applies and streams (revocation measured over TLS); a client certificate
# from the other CA is refused by the control plane and a wrong --ca refuses
# the server: both report a clear error and keep the enforced state.
#
#   +--------------------------------------------------------------+
#   | node gw (own netns + mount ns, private bpffs)                |
#   |                                                              |
#   |  nanami-cp https://127.0.0.1:8444 --tls-cert srv --client-ca ca
#   |       ^ mTLS (cli.crt signed by ca; cli2.crt signed by ca2)  |
#   |  nanami-gatewayd --cert --key --ca --wg none                 |
#   |       | TC programs, pins /sys/fs/bpf/nanami-test/eth0       |
#   |       v                                                      |
#   |  eth0 (veth) ------------------------------------------------- eth0  node c
#   +--------------------------------------------------------------+
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need

GW_IFACE=eth0
PINS=/sys/fs/bpf/nanami-test/eth0
BOB=fd7a:6e61:6e61:10::3
P=$NN_TMP/pki
CP_PORT=8444
CP_URL=https://127.0.0.1:$CP_PORT
CP_CURL_TLS=(--cacert "$P/ca.crt" --cert "$P/cli.crt" --key "$P/cli.key")

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }
mkdir -p "$P"
cp_pki "$P" || { nn_not_ok "test certificates made with openssl" "$(tail -3 "$P/pki.log")"; exit 1; }
cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$EX" \
	--tls-cert "$P/srv.crt" --tls-key "$P/srv.key" --client-ca "$P/ca.crt" ||
	{ nn_not_ok "control plane (mTLS) started" "$(tail -3 "$NN_TMP/cp.log")"; exit 1; }

GWD_ARGS=(--iface eth0 --control-plane "$CP_URL" --node-id gw-fra-1 --bpffs "$PINS"
	  --state-dir "$NN_TMP/state" --wg none --nat off --metrics-listen "$METRICS"
	  --resync 2 --poll 1 "${CAPS[@]}")
gen() { gwctl status | jq -r .generation; }
gen_is() { [ "$(gen)" = "$1" ]; }
cp_state_is() { [ "$(metric "nanami_control_plane_state{state=\"$1\"}")" = 1 ]; }
dev_state() { gwctl devices | jq -r --arg d "$1" '.devices[] | select(.id == $d) | .state'; }
log_has() { grep -q -- "$2" "$NN_TMP/$1.log"; }

# ---- the good pair ----
gwd_start good --cert "$P/cli.crt" --key "$P/cli.key" --ca "$P/ca.crt"
nn_check "mTLS: generation 7 applied" nn_wait_for 5 gen_is 7
nn_check "mTLS: event stream up" nn_wait_for 5 cp_state_is stream
nn_check "mTLS: the control plane saw the client certificate (CN gw-fra-1)" \
	log_has cp 'event=stream_open node_id=gw-fra-1 actor=gw-fra-1'
t0=$(nn_now_ms)
cp_req PUT /admin/v1/devices/bob-phone/state '{"state":"disabled"}' >/dev/null
for i in $(seq 1 150); do
	[ "$(dev_state bob-phone)" = disabled ] && break
	sleep 0.02
done
ms=$(($(nn_now_ms) - t0))
echo "# revocation_stream_tls_ms=$ms"
nn_check "mTLS: revocation over the stream within 1 s (${ms} ms)" test "$ms" -le 1000
nn_check "mTLS: revoked bob-phone dropped (explain)" \
	test "$(reason $BOB fd00:acc:1::1 tcp 443)" = revoked
gwd_kill good TERM

# ---- bad credentials: refused, clearly reported, state kept ----
ref="gen=$(gen) epoch=$(active_epoch) bob=$(verdict $BOB fd00:acc:1::1 tcp 443)"
# A change the refused controllers must not see.
cp_req PUT /admin/v1/devices/bob-phone/state '{"state":"active"}' >/dev/null
refused=$(grep -c 'event=tls_refused' "$NN_TMP/cp.log")
gwd_start badcert --cert "$P/cli2.crt" --key "$P/cli2.key" --ca "$P/ca.crt"
nn_check "client certificate from another CA: refused by the control plane" nn_wait_for 10 \
	sh -c "[ \$(grep -c 'event=tls_refused' '$NN_TMP/cp.log') -gt $refused ]"
nn_check "client certificate from another CA: clear error (control plane unreachable, TLS)" \
	nn_wait_for 10 log_has badcert 'event=control_plane_unreachable url=https://127.0.0.1:8444 .*error=.*certificate'
nn_check "client certificate from another CA: state down in the metrics" nn_wait_for 3 cp_state_is down
sleep 2.5	# a resync and two polls: still refused, nothing applied
nn_check "client certificate from another CA: previous state enforced ($ref)" test \
	"gen=$(gen) epoch=$(active_epoch) bob=$(verdict $BOB fd00:acc:1::1 tcp 443)" = "$ref"
gwd_kill badcert TERM
nn_check "client certificate from another CA: SIGTERM exits 0" test "$(gwd_wait_rc badcert)" = 0

gwd_start badca --cert "$P/cli.crt" --key "$P/cli.key" --ca "$P/ca2.crt"
# (10 s: the daemon loads its programs before its first fetch, seconds on a loaded machine)
nn_check "wrong --ca: server certificate not trusted, clear error" nn_wait_for 10 \
	log_has badca 'event=control_plane_unreachable url=https://127.0.0.1:8444 .*error=.*SSL certificate problem'
sleep 1
nn_check "wrong --ca: previous state enforced ($ref)" test \
	"gen=$(gen) epoch=$(active_epoch) bob=$(verdict $BOB fd00:acc:1::1 tcp 443)" = "$ref"
gwd_kill badca TERM

# The good pair again: catches up.
gwd_start good2 --cert "$P/cli.crt" --key "$P/cli.key" --ca "$P/ca.crt"
g=$(cp_gen)
nn_check "good certificate again: catches up to generation $g, bob-phone passes" sh -c \
	"for i in \$(seq 50); do [ \"\$(nsenter --target ${NN_PID[gw]} --mount --net -- '$GWCTL' --iface eth0 \
	 --bpffs $PINS -j status | jq -r .generation)\" = $g ] && exit 0; sleep 0.1; done; exit 1" &&
	nn_check "good certificate again: bob-phone passes" test "$(verdict $BOB fd00:acc:1::1 tcp 443)" = pass
gwd_kill good2 TERM
cp_stop cp

nn_finish
