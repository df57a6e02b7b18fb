#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
#
# `nanami-gatewayd enroll` against the reference control plane (its own CA,
# TLS, single-use tokens): the identity written with its modes and checked
# here by openssl and wg (not by the code under test), the control plane
# holding the same public key and the audit line; every refusal and failure
# (token reused, unknown, expired; wrong CA; the control plane answering
# 409, 500, garbage, or closing without a byte) leaving nothing behind;
# an existing identity kept without --force and replaced with it; and a
# daemon started with only --control-plane on the enrolled state directory.
#
#   +--------------------------------------------------------------+
#   | node gw (own netns + mount ns)                               |
#   |  nanami-cp https://127.0.0.1:8446 --ca-dir (CA made by it)   |
#   |       ^ TLS, token (enroll); mTLS (assignments)              |
#   |  nanami-gatewayd enroll / nanami-gatewayd --wg none on eth0  |
#   +--------------------------------------------------------------+
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
# shellcheck source=selftests/netns/lib_ident.sh
source "$(dirname "$0")/lib_ident.sh"
lib_cp_need

CP_PORT=8446
GW_IFACE=eth0
PINS=/sys/fs/bpf/nanami-test/eth0
S=$NN_TMP/state

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }
id_cp_start cp --state "$NN_TMP/cp.json" --seed-from "$EX" ||
	{ nn_not_ok "control plane with its CA started" "$(tail -5 "$NN_TMP/cp.log")"; exit 1; }

tokfile() { id_token "${2:-600}" >"$NN_TMP/$1.tok" && [ -s "$NN_TMP/$1.tok" ]; }
mode_of() { stat -c %a "$1"; }
# Nothing at all in DIR (or DIR absent): a failed enrollment leaves nothing.
empty_dir() { [ ! -e "$1" ] || [ -z "$(ls -A "$1")" ]; }
refused() {	# NAME DIR TOKENFILE WANT-IN-LOG [ARGS...]: exit 1, the message, DIR empty
	local name=$1 dir=$2 tok=$3 want=$4
	shift 4
	if id_enroll "$dir" "$tok" "$@" >"$NN_TMP/enroll.out" 2>&1; then
		nn_not_ok "$name" "enroll succeeded"
	elif ! grep -q -- "$want" "$NN_TMP/enroll.out"; then
		nn_not_ok "$name" "no '$want' in: $(tail -2 "$NN_TMP/enroll.out")"
	elif ! empty_dir "$dir"; then
		nn_not_ok "$name" "left behind: $(ls -A "$dir" | paste -sd' ')"
	else
		nn_ok "$name"
	fi
}

# ---- the happy path ----
tokfile t1 || { nn_not_ok "token minted"; exit 1; }
if id_enroll "$S" "$NN_TMP/t1.tok" --endpoint '[2001:db8:1::10]:51820' \
	--endpoint 203.0.113.10:51820 >"$NN_TMP/enroll1.out" 2>&1; then
	nn_ok "enroll: exit 0"
else
	nn_not_ok "enroll: exit 0" "$(tail -3 "$NN_TMP/enroll1.out")"
fi
nn_check "enroll: state dir 0700, wg.key and tls.key 0600" sh -c \
	"[ $(mode_of "$S") = 700 ] && [ $(mode_of "$S/wg.key") = 600 ] && [ $(mode_of "$S/tls.key") = 600 ]"
nn_check "enroll: exactly node.json wg.key tls.key tls.crt ca.crt" \
	test "$(ls -A "$S" | sort | paste -sd' ')" = "ca.crt node.json tls.crt tls.key wg.key"
nn_check "enroll: node.json from the answer (node id, overlay address, port, mtu, generation 1)" \
	jq -e '.node_id == "gw-fra-1" and .overlay_ipv6 == "fd7a:6e61:6e61::1" and
	       .listen_port == 51820 and .mtu == 1420 and .key_generation == 1 and
	       (.control_plane | startswith("https://127.0.0.1"))' "$S/node.json"
nn_check "enroll: tls.crt verifies against the CA (openssl) as a client certificate" \
	openssl verify -CAfile "$ID_CA_DIR/ca.crt" -purpose sslclient "$S/tls.crt"
nn_check "enroll: tls.crt carries tls.key's public key (openssl)" test \
	"$(openssl x509 -in "$S/tls.crt" -noout -pubkey)" = "$(openssl pkey -in "$S/tls.key" -pubout)"
PUB1=$(id_wg_pub "$S")
nn_check "enroll: the control plane holds wg.key's public key, generation 1" sh -c \
	"[ \"\$(echo '$(id_cp_identity)' | jq -r '.public_key + \" \" + (.key_generation|tostring)')\" = '$PUB1 1' ]"
nn_check "enroll: the control plane got both endpoints" sh -c \
	"echo '$(id_cp_identity)' | jq -e '.endpoints == [\"[2001:db8:1::10]:51820\", \"203.0.113.10:51820\"]'"
nn_check "enroll: audit node.enrolled with wg.key's fingerprint and the token's operator" \
	jq -se --arg fp "$(printf '%s' "$PUB1" | base64 -d | sha256sum | cut -c1-16)" \
	'[.[] | select(.event == "node.enrolled")] | length == 1 and .[0].wg_key_fingerprint == $fp and
	 .[0].operator == "alice" and .[0].node_id == "gw-fra-1"' "$ID_AUDIT"

# ---- refusals leave nothing ----
SUM=$(cd "$S" && sha256sum ./* | sha256sum)
tokfile t2
if id_enroll "$S" "$NN_TMP/t2.tok" >"$NN_TMP/enroll.out" 2>&1; then
	nn_not_ok "enrolled dir without --force: refused" "succeeded"
else
	nn_check "enrolled dir without --force: refused, files untouched" sh -c \
		"grep -q -- '--force' '$NN_TMP/enroll.out' && [ \"\$(cd '$S' && sha256sum ./* | sha256sum)\" = '$SUM' ]"
fi
refused "used token: 401, nothing written" "$NN_TMP/s-used" "$NN_TMP/t1.tok" "HTTP 401"
echo "nnt1_unknownunknownunknownunknownunknownunknow" >"$NN_TMP/bad.tok"
refused "unknown token: 401, nothing written" "$NN_TMP/s-unknown" "$NN_TMP/bad.tok" "HTTP 401"
tokfile t3 1
sleep 2
refused "expired token: 401, nothing written" "$NN_TMP/s-expired" "$NN_TMP/t3.tok" "HTTP 401"
nn_in gw openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-keyout "$NN_TMP/other.key" -out "$NN_TMP/other.crt" -subj /CN=other >/dev/null 2>&1
tokfile t4
if nn_in gw "$GWD" enroll --control-plane "$CP_URL" --token-file "$NN_TMP/t4.tok" \
	--ca "$NN_TMP/other.crt" --state-dir "$NN_TMP/s-ca" >"$NN_TMP/enroll.out" 2>&1; then
	nn_not_ok "wrong --ca: the server is refused, nothing written" "succeeded"
else
	nn_check "wrong --ca: the server is refused, nothing written" sh -c \
		"grep -qi 'certificate' '$NN_TMP/enroll.out' && [ ! -e '$NN_TMP/s-ca' ] || [ -z \"\$(ls -A '$NN_TMP/s-ca')\" ]"
fi
for f in 409:"HTTP 409" 500:"HTTP 500" malformed:"not a JSON object" nothing:"control plane"; do
	mode=${f%%:*}
	cp_fault "$mode" enroll 1
	refused "control plane answers $mode: refused, nothing written" "$NN_TMP/s-$mode" \
		"$NN_TMP/t4.tok" "${f#*:}"
done
cp_fault none enroll
nn_check "the token survived the failed tries (only a 201 uses it)" \
	id_enroll "$NN_TMP/s-t4" "$NN_TMP/t4.tok"

# ---- a daemon on the enrolled directory needs only --control-plane ----
GWD_ARGS=(--iface eth0 --bpffs "$PINS" --wg none --nat off --metrics-listen "$METRICS"
	  --resync 2 --poll 1 "${CAPS[@]}")
gwd_start gwd --control-plane "$CP_URL" --state-dir "$S"
ctl() { gwctl status; }
nn_check "daemon: applied with node id, certificate and CA from the state dir" \
	nn_wait_for 10 sh -c "nsenter --target ${NN_PID[gw]} --mount --net -- '$GWCTL' --iface eth0 --bpffs $PINS -j status | jq -e '.generation >= 7'"
st=$(nn_in gw "$GWCTL" --iface eth0 --bpffs "$PINS" -j status 2>/dev/null)
nn_check "daemon: status identity (enrolled, node id, key generation 1, certificate expiry)" \
	sh -c "echo '$st' | jq -e '.controller.identity | .enrolled == true and .node_id == \"gw-fra-1\" and
		.key_generation == 1 and (.certificate_expires_at | type == \"string\") and
		.pending_rotation == false and (has(\"not_implemented\") | not)'"
NOT_AFTER=$(date -d "$(openssl x509 -in "$S/tls.crt" -noout -enddate | cut -d= -f2)" +%s)
nn_check "daemon: certificate expiry metric is tls.crt's notAfter (openssl)" \
	test "$(metric nanami_certificate_expiry_timestamp_seconds)" = "$NOT_AFTER"
gwd_kill gwd

# ---- --force replaces the identity, with a new key ----
tokfile t5
nn_check "--force: re-enrolled" id_enroll "$S" "$NN_TMP/t5.tok" --force
PUB2=$(id_wg_pub "$S")
# Generation 3: the enrollment into s-t4 above was the second.
nn_check "--force: a new wg key, held by the control plane with generation 3" sh -c \
	"[ '$PUB2' != '$PUB1' ] && [ \"\$(jq .key_generation '$S/node.json')\" = 3 ] &&
	 [ \"\$(echo '$(id_cp_identity)' | jq -r '.public_key + \" \" + (.key_generation|tostring)')\" = '$PUB2 3' ]"
nn_finish
