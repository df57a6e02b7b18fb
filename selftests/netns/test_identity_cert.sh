#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Renewal of the gateway's mTLS client certificate (identity-v1.md), against
# the reference control plane issuing 12-second certificates: renewed once
# two thirds of the lifetime are gone, with a new key each time (openssl
# checks the pair and the chain, not the code under test), the controller
# still talking to the control plane with it; then renewals refused (500)
# until the certificate expires: logged, counted, in the status and the
# metrics, and the dataplane keeps enforcing the last applied generation.
#
#   node gw: nanami-cp https (--ca-dir, --cert-lifetime-s 12),
#            nanami-gatewayd --wg none on eth0 (veth to node c)
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
# shellcheck source=selftests/netns/lib_ident.sh
source "$(dirname "$0")/lib_ident.sh"
lib_cp_need

CP_PORT=8448
GW_IFACE=eth0
PINS=/sys/fs/bpf/nanami-test/eth0
S=$NN_TMP/state
LIFE=12

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }
id_cp_start cp --state "$NN_TMP/cp.json" --seed-from "$EX" --cert-lifetime-s $LIFE ||
	{ nn_not_ok "control plane with its CA started" "$(tail -5 "$NN_TMP/cp.log")"; exit 1; }
id_token >"$NN_TMP/t.tok" && id_enroll "$S" "$NN_TMP/t.tok" >"$NN_TMP/enroll.out" 2>&1 ||
	{ nn_not_ok "gateway enrolled" "$(tail -3 "$NN_TMP/enroll.out")"; exit 1; }
GWD_ARGS=(--iface eth0 --control-plane "$CP_URL" --state-dir "$S" --bpffs "$PINS" --wg none
	  --nat off --metrics-listen "$METRICS" --resync 1 --poll 1 "${CAPS[@]}")
gwd_start gwd
status() { gwctl status | jq -c ".controller$1"; }
not_after() { date -d "$(openssl x509 -in "$S/tls.crt" -noout -enddate | cut -d= -f2)" +%s; }
applied() { [ "$(status .sync.applied_generation)" -gt 0 ] 2>/dev/null; }
nn_check "controller applied with the enrolled certificate" nn_wait_for 10 applied

NA0=$(not_after)
KEY0=$(openssl pkey -in "$S/tls.key" -pubout)
renewed() { [ "$(not_after)" -gt "$NA0" ]; }
if nn_wait_for $((LIFE + 2)) renewed; then
	t=$(($(date +%s) - NA0 + LIFE))
	nn_ok "renewed (a new notAfter) $t s into a ${LIFE} s lifetime"
	nn_check "renewed after two thirds of the lifetime, not before" test "$t" -ge $((LIFE * 2 / 3))
else
	nn_not_ok "renewed before expiry" "$(grep -E 'certificate|renew' "$NN_TMP/gwd.log" | tail -3)"
fi
nn_check "renewal: a new key (tls.key 0600), the certificate carries it (openssl)" sh -c \
	"[ \"\$(openssl pkey -in '$S/tls.key' -pubout)\" != '$KEY0' ] && [ \$(stat -c %a '$S/tls.key') = 600 ] &&
	 [ \"\$(openssl x509 -in '$S/tls.crt' -noout -pubkey)\" = \"\$(openssl pkey -in '$S/tls.key' -pubout)\" ]"
nn_check "renewal: the new certificate chains to the CA as a client certificate (openssl)" \
	openssl verify -CAfile "$ID_CA_DIR/ca.crt" -purpose sslclient "$S/tls.crt"
nn_check "renewal: status and metric carry the new expiry" sh -c \
	"[ '$(status .identity.certificate_expires_unix)' = '$(not_after)' ] &&
	 [ '$(metric nanami_certificate_expiry_timestamp_seconds)' = '$(not_after)' ]"
# The old certificate expires within LIFE/3 s of the renewal: syncing on
# past that shows the controller uses the new pair.
cp_req PUT /admin/v1/devices/bob-phone/state '{"state": "disabled"}' >/dev/null
g=$(cp_gen)
synced() { [ "$(status .sync.applied_generation)" = "$g" ]; }
nn_check "renewal: the controller syncs with the new certificate (revocation applied)" \
	nn_wait_for 10 synced

# ---- renewals refused until the certificate expires ----
cp_fault 500 renew 0
NA=$(not_after)
GEN=$(status .sync.applied_generation)
expired() { [ "$(metric 'nanami_identity_errors_total{kind="certificate_expired"}')" -ge 1 ] 2>/dev/null; }
nn_check "renewal refused: counted as renewal_failed" nn_wait_for $((LIFE + 2)) sh -c \
	"nsenter --target ${NN_PID[gw]} --mount --net -- curl -s http://$METRICS/metrics | grep -q '^nanami_identity_errors_total{kind=\"renewal_failed\"} [1-9]'"
nn_check "expired: counted (nanami_identity_errors_total{kind=certificate_expired})" \
	nn_wait_for $((NA - $(date +%s) + 3)) expired
nn_check "expired: the status says so (last_error certificate_expired, expiry in the past)" sh -c \
	"[ '$(status .identity.last_error.kind)' = '\"certificate_expired\"' ] || [ \"\$(nsenter --target ${NN_PID[gw]} --mount --net -- '$GWCTL' --iface eth0 --bpffs $PINS -j status | jq -r .controller.identity.errors_total.certificate_expired)\" -ge 1 ]"
nn_check "expired: logged" grep -q 'event=identity_error kind=certificate_expired' "$NN_TMP/gwd.log"
nn_check "expired: the dataplane keeps enforcing the last generation" sh -c \
	"[ \"\$(nsenter --target ${NN_PID[gw]} --mount --net -- '$GWCTL' --iface eth0 --bpffs $PINS -j status | jq .generation)\" = '$GEN' ] && kill -0 $(gwd_pid gwd)"
cp_fault none renew
nn_finish
