#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
# nn-test: long (about 30 s or more: selftests/run.sh starts it first)
#
# The reference control plane's gateway identity (identity-v1.md), driven by
# a third-party client: curl for HTTP and mTLS, openssl for every key, CSR
# and certificate check, jq for JSON, sha256sum for the audit fingerprints
# (the expected values are computed here from the spec, not by nanami-cp's
# code). Two gateways are served (gw-fra-1 from the example, gw-ams-1 from a
# variant), and the world lists each as a peer node of the other.
#
#   +--------------------------------------------------------------+
#   | node cp (own netns: a private loopback)                      |
#   |                                                              |
#   |  nanami-cp https://127.0.0.1:8445 --ca-dir ca --audit-log    |
#   |       ^ TLS: enroll without a client certificate (token);    |
#   |       | mTLS: rotate-key, renew-certificate, assignments     |
#   |  curl + openssl (the gateways' and the operator's side)      |
#   +--------------------------------------------------------------+
#
# Checked: token minting (CLI and admin), enroll 201 (certificate chains to
# the CA, carries the CSR's key, CN and clientAuth, exact lifetime), token
# reuse / expiry / unknown 401, a key enrolled twice 409, malformed requests
# 400 (and not consuming the token), rotate 200 with the snapshot of both
# gateways and the event stream following, a stale generation 409, another
# node's certificate 403, rotation disabled 403, renewal 200 with a new
# certificate, the identity faults, the audit lines exactly, and a restart
# on the same state (CA, used and unused tokens, keys kept).
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

for t in curl jq openssl python3 sha256sum; do
	command -v "$t" >/dev/null || { nn_not_ok "$t installed (tools/install-deps.sh)"; nn_finish; exit 1; }
done
if ! /usr/bin/python3 -c 'import cryptography' 2>/dev/null; then
	nn_not_ok "python3-cryptography installed (tools/install-deps.sh)"
	nn_finish
	exit 1
fi

CPBIN=$NN_ROOT/tools/cp/nanami-cp
EX=$NN_ROOT/examples/assignments.json
T=$NN_TMP
P=$T/pki
CA=$T/ca/ca.crt
PORT=8445
URL=https://127.0.0.1:$PORT
START=$(date +%s)

nn_node cp || { nn_not_ok "topology"; exit 1; }
mkdir -p "$P"

# ---- helpers (client side: curl, openssl, jq) ----

cp_run() { # TAG ARGS...: nanami-cp in the node, up when /admin answers
	rm -f "$T/$1.pidfile"
	local tag=$1
	shift
	nn_bg cp "$tag" /usr/bin/python3 "$CPBIN" --pidfile "$T/$tag.pidfile" --admin \
		--listen 127.0.0.1:$PORT --keepalive 1 "$@"
	nn_wait_for 10 admin GET /admin/v1/state
}
cp_term() {
	local pid
	pid=$(cat "$T/$1.pid") && kill -TERM "$pid" && nn_wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
}

# call CERT METHOD PATH [BODYFILE]: the status code on stdout, the body in
# $T/body. CERT is a name in $P (NAME.crt / NAME.key) or "-" for none.
call() {
	local cert=$1 m=$2 path=$3 body=${4-} a=()
	[ "$cert" != - ] && a+=(--cert "$P/$cert.crt" --key "$P/$cert.key")
	[ -n "$body" ] && a+=(-H 'Content-Type: application/json' --data-binary "@$body")
	nn_in cp curl -sS --max-time 5 --cacert "$CA" "${a[@]}" -X "$m" -o "$T/body" \
		-w '%{http_code}' "$URL$path" 2>"$T/curl.err"
}
admin() { # METHOD PATH [JSON]: as the operator (its own certificate from pki/ca)
	local f=
	[ -n "${3-}" ] && { printf '%s' "$3" >"$T/admin.json"; f=$T/admin.json; }
	local code
	code=$(call op "$1" "$2" ${f:+"$f"})
	[[ $code == 2?? ]] && cat "$T/body"
}
fault() { admin POST /admin/v1/fault "$1" >/dev/null; }
gen() { admin GET /admin/v1/state | jq -e .generation; }

wgkey() { # NAME: an X25519 key pair made by openssl; the public key in base64
	openssl genpkey -algorithm X25519 -out "$P/$1.wg" 2>/dev/null &&
		openssl pkey -in "$P/$1.wg" -pubout -outform DER | tail -c 32 | base64
}
csr() { # NAME: an EC P-256 key and CSR (subject deliberately not the node id)
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$P/$1.key" -out "$P/$1.csr" -subj "/CN=ignored-$1" 2>/dev/null
}
fp() { printf '%s' "$1" | base64 -d | sha256sum | cut -c1-16; }
enroll_body() { # OUT TOKEN KEY CSRNAME [EXTRA-JQ]
	jq -n --arg t "$2" --arg k "$3" --rawfile c "$P/$4.csr" \
		"{enrollment_token: \$t, wireguard_public_key: \$k, csr: \$c,
		  endpoints: [\"[2001:db8:1::10]:51820\", \"203.0.113.10:51820\"]} ${5:-}" >"$1"
}
rotate_body() { jq -n --arg k "$2" --argjson g "$3" '{wireguard_public_key: $k, key_generation: $g}' >"$1"; }
# expect NAME CODE WANT [FIELD]: the status, and the error's field when given
expect() {
	local name=$1 code=$2 want=$3 field=${4-}
	if [ "$code" != "$want" ]; then
		nn_not_ok "$name" "status $code, want $want: $(head -c 300 "$T/body") $(cat "$T/curl.err")"
	elif [ -n "$field" ] && [ "$(jq -r .field "$T/body")" != "$field" ]; then
		nn_not_ok "$name" "field $(jq -c .field "$T/body"), want $field: $(head -c 300 "$T/body")"
	else
		nn_ok "$name"
	fi
}
snap() { # CERT GATEWAY: the snapshot's gateway block
	[ "$(call "$1" GET "/api/v1/gateways/$2/assignments")" = 200 ] && cat "$T/body"
}
same_pubkey() { # CERT CSR: the certificate carries the CSR's key
	[ "$(openssl x509 -in "$1" -noout -pubkey)" = "$(openssl req -in "$2" -noout -pubkey)" ]
}

# ---- the operator's PKI, the seeds, a token minted offline ----

nn_test_pki "$P" || { nn_not_ok "test certificates (openssl)" "$(tail -3 "$P/pki.log")"; exit 1; }
(cd "$P" && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout op.key \
	-out op.csr -subj /CN=test-operator &&
	printf 'extendedKeyUsage=clientAuth\n' >op.ext &&
	openssl x509 -req -in op.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
		-out op.crt -extfile op.ext) >>"$P/pki.log" 2>&1
PLACEHOLDER=$(wgkey placeholder)
jq --arg k "$PLACEHOLDER" '.node_id = "gw-ams-1" |
	.gateway = {roles: ["exit_gateway"], overlay_ipv6: "fd7a:6e61:6e61::2",
		    overlay_prefixes: .gateway.overlay_prefixes, listen_port: 51821, mtu: 1400} |
	.nodes = [{node_id: "gw-fra-1", public_key: $k, overlay_ipv6: "fd7a:6e61:6e61::1",
		   endpoint: "[2001:db8:1::10]:51820", roles: ["ingress_gateway", "exit_gateway"],
		   state: "active", key_generation: 0}]' "$EX" >"$T/ams.json"

/usr/bin/python3 "$CPBIN" --mint-token --state "$T/cp.json" --seed-from "$EX" --seed-from "$T/ams.json" \
	--node-id gw-fra-1 --operator alice --ttl 600 >"$T/tok.fra" 2>"$T/mint.log"
TOK_FRA=$(cat "$T/tok.fra")
nn_check "--mint-token prints one token (nnt1_ + 43 url-safe characters)" \
	grep -qxE 'nnt1_[A-Za-z0-9_-]{43}' "$T/tok.fra"
nn_check "the state keeps the token's sha256, never the token" sh -c "
	! grep -qF '$TOK_FRA' '$T/cp.json' &&
	jq -e --arg h \$(printf %s '$TOK_FRA' | sha256sum | cut -c1-64) \
		'.identity.tokens[\$h] | .node_id == \"gw-fra-1\" and .operator == \"alice\" and .used == null' '$T/cp.json'"
/usr/bin/python3 "$CPBIN" --mint-token --state "$T/cp.json" --node-id gw-nowhere --operator alice \
	>/dev/null 2>"$T/o"
nn_check "--mint-token for a gateway the world lacks: refused, named" grep -q "gw-nowhere" "$T/o"

cp_run cp --state "$T/cp.json" --ca-dir "$T/ca" --client-ca "$P/ca.crt" --cert-lifetime-s 3600 \
	--audit-log "$T/audit.jsonl" --operator-cn test-operator ||
	{ nn_not_ok "control plane with --ca-dir started" "$(tail -5 "$T/cp.log")"; exit 1; }
nn_ok "control plane with --ca-dir started (TLS from its own CA)"
nn_check "CA made on first use: dir 0700, ca.key 0600, a CA certificate" sh -c "
	[ \$(stat -c %a '$T/ca') = 700 ] && [ \$(stat -c %a '$T/ca/ca.key') = 600 ] &&
	openssl x509 -in '$CA' -noout -ext basicConstraints | grep -q 'CA:TRUE'"
/usr/bin/python3 "$CPBIN" --mint-token --state "$T/cp.json" --node-id gw-fra-1 --operator alice \
	>/dev/null 2>"$T/o"
nn_check "--mint-token while the control plane runs on that state: refused, says why" \
	grep -q "in use by a running control plane" "$T/o"
TOK_AMS=$(admin POST /admin/v1/tokens '{"node_id":"gw-ams-1","operator":"bob","ttl":600}' | jq -r .token)
nn_check "POST /admin/v1/tokens mints a token" test "${TOK_AMS#nnt1_}" != "$TOK_AMS"
printf '{"node_id":"gw-ams-1","operator":"bob","ttl":0}' >"$T/a.json"
expect "admin token with ttl 0: 400" "$(call op POST /admin/v1/tokens "$T/a.json")" 400 ttl
printf '{"node_id":"gw-ams-1","operator":"bob","ttl":60,"x":1}' >"$T/a.json"
expect "admin token with an unknown field: 400" "$(call op POST /admin/v1/tokens "$T/a.json")" 400 x

# ---- enroll ----

G0=$(gen)
WG_FRA=$(wgkey fra)
csr fra
enroll_body "$T/e.json" "$TOK_FRA" "$WG_FRA" fra
expect "enroll with a fresh token: 201" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 201
cp "$T/body" "$T/enrolled.json"
jq -r .certificate "$T/enrolled.json" >"$P/fra.crt"
nn_check "enroll answer: node id, addresses, port, MTU, key_generation 1 from the gateway block" \
	jq -e '.node_id == "gw-fra-1" and .overlay_ipv6 == "fd7a:6e61:6e61::1" and
	       .overlay_ipv4 == "100.96.0.1" and .listen_port == 51820 and .mtu == 1420 and
	       .key_generation == 1 and (keys | length) == 8' "$T/enrolled.json"
nn_check "enroll answer: ca is the CA certificate" sh -c "jq -j .ca '$T/enrolled.json' | cmp -s - '$CA'"
nn_check "certificate chains to the CA (openssl verify -purpose sslclient)" \
	openssl verify -CAfile "$CA" -purpose sslclient "$P/fra.crt"
nn_check "certificate carries the CSR's key" same_pubkey "$P/fra.crt" "$P/fra.csr"
nn_check "certificate: CN gw-fra-1 (not the CSR's subject), clientAuth" sh -c "
	openssl x509 -in '$P/fra.crt' -noout -subject | grep -q 'CN *= *gw-fra-1\$' &&
	openssl x509 -in '$P/fra.crt' -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication'"
life() {
	local nb na
	nb=$(date -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s)
	na=$(date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s)
	echo $((na - nb))
}
nn_check "certificate lifetime exactly --cert-lifetime-s 3600" test "$(life "$P/fra.crt")" = 3600
S=$(snap fra gw-fra-1)
nn_check "enrolled certificate works for mTLS; snapshot: public_key, key_generation 1, generation +1" \
	test "$(jq -r '[.gateway.public_key, .gateway.key_generation, .generation] | join(" ")' <<<"$S")" = \
	"$WG_FRA 1 $((G0 + 1))"
peer_key() { snap op "$1" | jq -r --arg n "$2" '.nodes[] | select(.node_id == $n) | .public_key'; }
not_theirs() { # a gateway's certificate reads only its own snapshot
	[ "$(call fra GET /api/v1/gateways/gw-ams-1/assignments)" = 403 ] &&
		grep -q 'client certificate names gw-fra-1, not gateway gw-ams-1' "$T/body"
}
nn_check "gw-fra-1's certificate cannot read another gateway's snapshot (403, named)" not_theirs
nn_check "gw-ams-1's snapshot: its peer gw-fra-1 has the enrolled key" \
	test "$(peer_key gw-ams-1 gw-fra-1)" = "$WG_FRA"
# The audit lines the spec asks for, written down here as each change happens.
want_enrolled() { # NODE KEY OPERATOR GEN
	jq -nc --arg n "$1" --arg f "$(fp "$2")" --arg o "$3" --argjson g "$4" \
		'{event: "node.enrolled", node_id: $n, wg_key_fingerprint: $f, operator: $o, key_generation: $g}' \
		>>"$T/audit.want"
}
want_rotated() { # NODE OLD NEW GEN
	jq -nc --arg n "$1" --arg o "$(fp "$2")" --arg w "$(fp "$3")" --argjson g "$4" \
		'{event: "node.key_rotated", node_id: $n, old_fingerprint: $o, new_fingerprint: $w, key_generation: $g}' \
		>>"$T/audit.want"
}
want_enrolled gw-fra-1 "$WG_FRA" alice 1

# ---- refusals of enroll: 401, 400, 409 ----

WG_X=$(wgkey x)
csr x
enroll_body "$T/e.json" "$TOK_FRA" "$WG_X" x
expect "token used once already: 401" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 401 enrollment_token
enroll_body "$T/e.json" "nnt1_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')" "$WG_X" x
expect "unknown token: 401" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 401 enrollment_token
TOK_SHORT=$(admin POST /admin/v1/tokens '{"node_id":"gw-ams-1","operator":"bob","ttl":1}' | jq -r .token)
sleep 2.2
enroll_body "$T/e.json" "$TOK_SHORT" "$WG_X" x
expect "expired token (ttl 1 s, used after 2 s): 401" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" \
	401 enrollment_token
nn_check "expired token: the error says expired" grep -q expired "$T/body"

bad() { # NAME FIELD JQ-EDIT: enroll_body with TOK_AMS edited, expect 400 naming FIELD
	enroll_body "$T/e.json" "$TOK_AMS" "$WG_X" x "| $3"
	expect "malformed enroll ($1): 400" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 400 "$2"
}
printf '{"enrollment_token": ' >"$T/e.json"
expect "malformed enroll (not JSON): 400" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 400
bad "unknown field" extra '.extra = 1'
bad "csr missing" csr 'del(.csr)'
bad "token not a string" enrollment_token '.enrollment_token = 7'
bad "key not base64" wireguard_public_key '.wireguard_public_key = ("!" * 43 + "=")'
bad "key of 31 bytes" wireguard_public_key ".wireguard_public_key = \"$(head -c 31 /dev/urandom | base64)\""
bad "key of 33 bytes" wireguard_public_key ".wireguard_public_key = \"$(head -c 33 /dev/urandom | base64)\""
bad "key all zero" wireguard_public_key ".wireguard_public_key = \"$(head -c 32 /dev/zero | base64)\""
bad "key a number" wireguard_public_key '.wireguard_public_key = 5'
bad "csr not PEM" csr '.csr = "hello"'
openssl req -in "$P/x.csr" -outform DER -out "$P/x.der"
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1; open(sys.argv[1], "wb").write(b)' "$P/x.der"
openssl req -inform DER -in "$P/x.der" -out "$P/xbad.csr" 2>/dev/null
bad "csr signature broken" csr ".csr = $(jq -Rs . "$P/xbad.csr")"
openssl req -new -newkey rsa:1024 -nodes -keyout "$P/rsa.key" -out "$P/rsa.csr" -subj /CN=x 2>/dev/null
bad "csr with a 1024-bit RSA key" csr ".csr = $(jq -Rs . "$P/rsa.csr")"
bad "endpoint a name" 'endpoints[0]' '.endpoints = ["gw.example.com:51820"]'
bad "endpoint port 0" 'endpoints[1]' '.endpoints = ["10.0.0.1:51820", "[2001:db8::1]:0"]'
bad "IPv6 endpoint without brackets" 'endpoints[0]' '.endpoints = ["2001:db8::1:51820"]'
bad "endpoints not a list" endpoints '.endpoints = "10.0.0.1:51820"'

enroll_body "$T/e.json" "$TOK_AMS" "$WG_FRA" x
expect "key already enrolled by gw-fra-1: 409" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 409 \
	wireguard_public_key
DEVKEY=$(jq -r '[.tenants[].networks[].devices[].public_key][0]' "$EX")
enroll_body "$T/e.json" "$TOK_AMS" "$DEVKEY" x
expect "key held by a device of the world: 409" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 409 \
	wireguard_public_key
WG_AMS=$(wgkey ams)
csr ams
enroll_body "$T/e.json" "$TOK_AMS" "$WG_AMS" ams
expect "the 400s and 409s left the token usable: gw-ams-1 enrolls, 201" \
	"$(call - POST /api/v1/nodes/enroll "$T/e.json")" 201
jq -r .certificate "$T/body" >"$P/ams.crt"
nn_check "gw-ams-1's answer: its own block (port 51821, MTU 1400, no IPv4), CN gw-ams-1" sh -c "
	jq -e '.node_id == \"gw-ams-1\" and .listen_port == 51821 and .mtu == 1400 and
	       (has(\"overlay_ipv4\") | not) and .key_generation == 1' '$T/body' &&
	openssl x509 -in '$P/ams.crt' -noout -subject | grep -q 'CN *= *gw-ams-1\$'"
want_enrolled gw-ams-1 "$WG_AMS" bob 1

# ---- rotate ----

G1=$(gen)
nn_bg cp events curl -sSN --cacert "$CA" --cert "$P/ams.crt" --key "$P/ams.key" \
	"$URL/api/v1/gateways/gw-ams-1/events"
nn_wait_for 5 grep -q "\"generation\": $G1" "$T/events.log"
WG_FRA2=$(wgkey fra2)
rotate_body "$T/r.json" "$WG_FRA2" 2
expect "rotate to key_generation 2 with gw-fra-1's certificate: 200" \
	"$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 200
nn_check "rotate answer exactly {approved: true, key_generation: 2}" \
	test "$(jq -c . "$T/body")" = '{"approved":true,"key_generation":2}'
want_rotated gw-fra-1 "$WG_FRA" "$WG_FRA2" 2
S=$(snap fra gw-fra-1)
nn_check "snapshot after rotation: new key, key_generation 2, generation +1" \
	test "$(jq -r '[.gateway.public_key, .gateway.key_generation, .generation] | join(" ")' <<<"$S")" = \
	"$WG_FRA2 2 $((G1 + 1))"
nn_check "gw-ams-1's snapshot: peer gw-fra-1 has the new key" test "$(peer_key gw-ams-1 gw-fra-1)" = "$WG_FRA2"
nn_check "gw-ams-1's event stream announced the new generation" \
	nn_wait_for 5 grep -q "\"generation\": $((G1 + 1))" "$T/events.log"
expect "?since= across the gateway block's change: 410" \
	"$(call fra GET "/api/v1/gateways/gw-fra-1/assignments?since=$G1")" 410
expect "the approved request sent again (lost answer): 200 again" \
	"$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 200
nn_check "...and nothing changed (generation, key)" \
	test "$(gen) $(snap fra gw-fra-1 | jq -r .gateway.public_key)" = "$((G1 + 1)) $WG_FRA2"
WG_FRA3=$(wgkey fra3)
rotate_body "$T/r.json" "$WG_FRA3" 2
expect "rotate with a stale key_generation (2 again, other key): 409" \
	"$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 409 key_generation
rotate_body "$T/r.json" "$WG_FRA3" 4
expect "rotate skipping a generation (4): 409" \
	"$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 409 key_generation
rotate_body "$T/r.json" "$WG_AMS" 3
expect "rotate to gw-ams-1's key: 409" \
	"$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 409 wireguard_public_key
rotate_body "$T/r.json" "$WG_FRA3" 3
expect "rotate gw-fra-1 with gw-ams-1's certificate: 403" \
	"$(call ams POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 403 node_id
expect "rotate without a client certificate: 401" \
	"$(call - POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 401
expect "rotate with a certificate from another CA: refused in the handshake" \
	"$(call cli2 POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 000
printf '{"wireguard_public_key": "%s", "key_generation": "3"}' "$WG_FRA3" >"$T/r2.json"
expect "rotate with key_generation a string: 400" \
	"$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r2.json")" 400 key_generation
nn_check "no refusal changed the snapshot" \
	test "$(gen) $(snap fra gw-fra-1 | jq -r .gateway.public_key)" = "$((G1 + 1)) $WG_FRA2"
admin PUT /admin/v1/nodes/gw-fra-1/rotation '{"allowed": false}' >/dev/null
expect "rotation disabled by the operator: 403" \
	"$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 403 node_id
nn_check "admin identity view says rotation_allowed false, key_generation 2" test \
	"$(admin GET /admin/v1/nodes/gw-fra-1/identity | jq -c '[.rotation_allowed, .key_generation, .operator]')" = \
	'[false,2,"alice"]'
admin PUT /admin/v1/nodes/gw-fra-1/rotation '{"allowed": true}' >/dev/null
expect "rotation allowed again: 200" "$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 200
want_rotated gw-fra-1 "$WG_FRA2" "$WG_FRA3" 3

# ---- renew ----

openssl req -new -key "$P/fra.key" -out "$P/fra-same.csr" -subj /CN=x 2>/dev/null
jq -n --rawfile c "$P/fra-same.csr" '{csr: $c}' >"$T/n.json"
expect "renew with the key of the certificate in use: 400" \
	"$(call fra POST /api/v1/nodes/gw-fra-1/renew-certificate "$T/n.json")" 400 csr

csr fra2
jq -n --rawfile c "$P/fra2.csr" '{csr: $c}' >"$T/n.json"
expect "renew-certificate with gw-fra-1's certificate: 200" \
	"$(call fra POST /api/v1/nodes/gw-fra-1/renew-certificate "$T/n.json")" 200
jq -r .certificate "$T/body" >"$P/fra2.crt"
nn_check "renewed certificate: chains to the CA, the new CSR's key, CN gw-fra-1, new serial" sh -c "
	openssl verify -CAfile '$CA' -purpose sslclient '$P/fra2.crt' &&
	[ \"\$(openssl x509 -in '$P/fra2.crt' -noout -pubkey)\" = \"\$(openssl req -in '$P/fra2.csr' -noout -pubkey)\" ] &&
	openssl x509 -in '$P/fra2.crt' -noout -subject | grep -q 'CN *= *gw-fra-1\$' &&
	[ \"\$(openssl x509 -in '$P/fra2.crt' -noout -serial)\" != \"\$(openssl x509 -in '$P/fra.crt' -noout -serial)\" ] &&
	[ \"\$(jq -c 'keys' '$T/body')\" = '[\"certificate\"]' ]"
nn_check "renewed certificate works for mTLS" test "$(snap fra2 gw-fra-1 | jq -r .gateway.key_generation)" = 3
expect "renew gw-fra-1 with gw-ams-1's certificate: 403" \
	"$(call ams POST /api/v1/nodes/gw-fra-1/renew-certificate "$T/n.json")" 403 node_id
printf '{"csr": "-----BEGIN CERTIFICATE REQUEST-----\\nAAAA\\n-----END CERTIFICATE REQUEST-----\\n"}' >"$T/n2.json"
expect "renew with a broken CSR: 400" "$(call fra POST /api/v1/nodes/gw-fra-1/renew-certificate "$T/n2.json")" 400 csr
jq '.key_generation = 1' "$T/n.json" >"$T/n2.json"
expect "renew with an unknown field: 400" \
	"$(call fra POST /api/v1/nodes/gw-fra-1/renew-certificate "$T/n2.json")" 400 key_generation

# ---- faults (for the gateway's tests) ----

TOK_AMS2=$(admin POST /admin/v1/tokens '{"node_id":"gw-ams-1","operator":"carol","ttl":600}' | jq -r .token)
WG_AMS2=$(wgkey ams2)
csr ams2
enroll_body "$T/e.json" "$TOK_AMS2" "$WG_AMS2" ams2
fault '{"mode":"500","target":"enroll","count":1}'
expect "fault enroll 500" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 500
fault '{"mode":"malformed","target":"enroll","count":1}'
code=$(call - POST /api/v1/nodes/enroll "$T/e.json")
nn_check "fault enroll malformed: 201 with a body that is not JSON" sh -c "[ $code = 201 ] && ! jq . '$T/body'"
fault '{"mode":"nothing","target":"enroll","count":1}'
code=$(call - POST /api/v1/nodes/enroll "$T/e.json")
nn_check "fault enroll nothing: the connection closes without an answer" \
	sh -c "[ $code = 000 ] && grep -qi 'empty reply' '$T/curl.err'"
fault '{"mode":"hang","target":"enroll","count":1}'
code=$(call - POST /api/v1/nodes/enroll "$T/e.json")
nn_check "fault enroll hang: headers, then nothing until the client gives up" \
	sh -c "[ $code = 201 ] && grep -qi 'timed out' '$T/curl.err'"
fault '{"mode":"409","target":"enroll","count":1}'
expect "fault enroll 409 (forced)" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 409
fault '{"mode":"slow","target":"enroll"}' 2>/dev/null
expect "fault mode slow for enroll: refused" "$(call op POST /admin/v1/fault "$T/admin.json")" 422 mode
expect "after the faults the token is still unused: re-enrollment of gw-ams-1, 201" \
	"$(call - POST /api/v1/nodes/enroll "$T/e.json")" 201
nn_check "re-enrollment continues the generation count (key_generation 2)" \
	jq -e '.key_generation == 2' "$T/body"
want_enrolled gw-ams-1 "$WG_AMS2" carol 2

WG_FRA4=$(wgkey fra4)
rotate_body "$T/r.json" "$WG_FRA4" 4
fault '{"mode":"403","target":"rotate","count":1}'
expect "fault rotate 403 (forced)" "$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 403
fault '{"mode":"nothing","target":"rotate","count":1,"apply":true}'
code=$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")
nn_check "fault rotate nothing+apply: no answer, but the control plane holds the new key" sh -c "
	[ $code = 000 ] && [ \"\$(echo '$(snap fra2 gw-fra-1 | jq -c '[.gateway.public_key, .gateway.key_generation]')')\" = '[\"$WG_FRA4\",4]' ]"
want_rotated gw-fra-1 "$WG_FRA3" "$WG_FRA4" 4
expect "...and the retried request is approved" "$(call fra POST /api/v1/nodes/gw-fra-1/rotate-key "$T/r.json")" 200
fault '{"mode":"500","target":"renew","count":1}'
expect "fault renew 500" "$(call fra POST /api/v1/nodes/gw-fra-1/renew-certificate "$T/n.json")" 500
expect "fault consumed: renew 200" "$(call fra POST /api/v1/nodes/gw-fra-1/renew-certificate "$T/n.json")" 200

# ---- restart on the same state ----

admin PUT /admin/v1/nodes/gw-ams-1/rotation '{"allowed": false}' >/dev/null
cp "$CA" "$T/ca.before"
nn_check "control plane stops on SIGTERM" cp_term cp
/usr/bin/python3 "$CPBIN" --mint-token --state "$T/cp.json" --node-id gw-fra-1 --operator dave --ttl 600 \
	>"$T/tok.r" 2>>"$T/mint.log"
nn_check "--mint-token with the control plane stopped" grep -qxE 'nnt1_[A-Za-z0-9_-]{43}' "$T/tok.r"
cp_run cp2 --state "$T/cp.json" --ca-dir "$T/ca" --client-ca "$P/ca.crt" --cert-lifetime-s 3600 \
	--audit-log "$T/audit.jsonl" --operator-cn test-operator ||
	{ nn_not_ok "control plane restarted" "$(tail -5 "$T/cp2.log")"; exit 1; }
nn_check "restart: same CA" cmp -s "$CA" "$T/ca.before"
nn_check "restart: certificates issued before still work, key and generation kept" \
	test "$(snap fra2 gw-fra-1 | jq -r '.gateway.public_key + " " + (.gateway.key_generation|tostring)')" = \
	"$WG_FRA4 4"
enroll_body "$T/e.json" "$TOK_FRA" "$WG_X" x
expect "restart: a used token stays used (401)" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 401 enrollment_token
enroll_body "$T/e.json" "$TOK_SHORT" "$WG_X" x
expect "restart: an expired token stays expired (401)" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 401 \
	enrollment_token
rotate_body "$T/r.json" "$(wgkey ams3)" 3
expect "restart: gw-ams-1's rotation stays disabled (403)" \
	"$(call ams POST /api/v1/nodes/gw-ams-1/rotate-key "$T/r.json")" 403 node_id
WG_FRA5=$(wgkey fra5)
enroll_body "$T/e.json" "$(cat "$T/tok.r")" "$WG_FRA5" x
expect "restart: the token minted while stopped enrolls (201)" "$(call - POST /api/v1/nodes/enroll "$T/e.json")" 201
want_enrolled gw-fra-1 "$WG_FRA5" dave 5

# ---- the audit log, exactly ----

NOW=$(date +%s)
jq -c 'del(.time)' "$T/audit.jsonl" >"$T/audit.got" 2>&1
if cmp -s "$T/audit.got" "$T/audit.want"; then
	nn_ok "audit log: exactly the $(wc -l <"$T/audit.want") expected lines (fields, order, fingerprints)"
else
	nn_not_ok "audit log: the expected lines" "$(diff "$T/audit.want" "$T/audit.got" | head -10 | tr '\n' '|')"
fi
bad_time=0
while read -r t; do
	s=$(date -d "$t" +%s 2>/dev/null) || { bad_time=1; break; }
	[[ $t =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] && [ "$s" -ge "$START" ] &&
		[ "$s" -le "$NOW" ] || bad_time=1
done < <(jq -r .time "$T/audit.jsonl")
nn_check "audit times: ISO 8601 UTC, within the test" test "$bad_time" = 0
nn_check "audit log mode 0600" test "$(stat -c %a "$T/audit.jsonl")" = 600

nn_finish
