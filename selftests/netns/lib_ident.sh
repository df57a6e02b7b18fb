# SPDX-License-Identifier: GPL-2.0
# selftests/netns/lib_ident.sh - the reference control plane with its own CA
# (--ca-dir) for the gateway identity tests (test_identity_*.sh). Source it
# after lib.sh and lib_cp.sh; everything runs in node $CP_NODE.
#
#   id_cp_start TAG ARGS...   nanami-cp https://127.0.0.1:$CP_PORT --ca-dir
#                             $ID_CA_DIR --audit-log $ID_AUDIT; then an
#                             operator certificate (openssl, signed by that
#                             CA) for the admin API through cp_req
#   id_token [TTL]            a fresh enrollment token for gw-fra-1
#   id_enroll DIR TOKENFILE [ARGS...]   nanami-gatewayd enroll into DIR
#   id_cp_identity            GET /admin/v1/nodes/gw-fra-1/identity
#   id_wg_pub DIR             the public key of DIR/wg.key (wg pubkey, or
#                             openssl when wg is not installed)

ID_CA_DIR=$NN_TMP/cp-ca
ID_AUDIT=$NN_TMP/audit.jsonl
ID_OP=$NN_TMP/op

id_cp_start() {
	local tag=$1
	shift
	CP_URL=https://127.0.0.1:$CP_PORT
	CP_CURL_TLS=()
	rm -f "$NN_TMP/$tag.pidfile"
	nn_bg "$CP_NODE" "$tag" /usr/bin/python3 "$CPBIN" --pidfile "$NN_TMP/$tag.pidfile" \
		--admin --keepalive 1 --listen "127.0.0.1:$CP_PORT" --ca-dir "$ID_CA_DIR" \
		--audit-log "$ID_AUDIT" --operator-cn test-operator "$@"
	nn_wait_for 10 test -s "$ID_CA_DIR/ca.crt" || return 1
	if [ ! -s "$ID_OP.crt" ]; then
		(openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ID_OP.key" \
			-out "$ID_OP.csr" -subj /CN=test-operator &&
			printf 'extendedKeyUsage=clientAuth\n' >"$ID_OP.ext" &&
			openssl x509 -req -in "$ID_OP.csr" -CA "$ID_CA_DIR/ca.crt" \
				-CAkey "$ID_CA_DIR/ca.key" -CAcreateserial -days 1 -out "$ID_OP.crt" \
				-extfile "$ID_OP.ext") >"$NN_TMP/op-pki.log" 2>&1 || return 1
	fi
	CP_CURL_TLS=(--cacert "$ID_CA_DIR/ca.crt" --cert "$ID_OP.crt" --key "$ID_OP.key")
	nn_wait_for 10 cp_gen
}

id_token() {
	cp_req POST /admin/v1/tokens "{\"node_id\":\"gw-fra-1\",\"operator\":\"alice\",\"ttl\":${1:-600}}" |
		jq -r .token
}

id_enroll() {
	local dir=$1 tok=$2
	shift 2
	nn_in "$CP_NODE" "$GWD" enroll --control-plane "$CP_URL" --token-file "$tok" \
		--ca "$ID_CA_DIR/ca.crt" --state-dir "$dir" "$@"
}

id_cp_identity() { cp_req GET /admin/v1/nodes/gw-fra-1/identity; }

id_wg_pub() {
	if command -v wg >/dev/null; then
		wg pubkey <"$1/wg.key"
	else
		# The base64 private key as PKCS#8 DER (fixed 16-byte X25519 prefix).
		{ printf '\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x6e\x04\x22\x04\x20'
		  base64 -d <"$1/wg.key"; } |
			openssl pkey -inform DER -pubout -outform DER | tail -c 32 | base64
	fi
}
