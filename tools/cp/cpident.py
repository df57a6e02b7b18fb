# SPDX-License-Identifier: GPL-2.0
"""cpident - gateway identity in the reference control plane (identity-v1.md).

Enrollment tokens, the enroll / rotate-key / renew-certificate decisions and
the audit log. The HTTP glue is in nanami-cp; the CA in cpca.

State (persisted with the world, key "identity" of the state file):
  tokens: {sha256 hex of the token: {node_id, operator, created, expires,
           used (null or time), used_fingerprint}}  - never the token itself
  nodes:  {node_id: {rotation_allowed, enrolled_at, operator, endpoints}}
What the gateways see lives in the world: the gateway block's public_key and
key_generation, and (when the world lists the gateway among "nodes", so other
gateways peer with it) that node entry's public_key and key_generation.

A token names the gateway it enrolls: a gateway block that already exists in
the world (the operator planned the gateway; enrolling binds a host to it).
It is single use (consumed only by a 201), and expires after its TTL.
"""
import base64
import binascii
import hashlib
import ipaddress
import json
import os
import secrets
import time

import cpca
from cpstate import Invalid

TOKEN_PREFIX = "nnt1_"
MAX_TOKEN = 256
MAX_TTL = 30 * 86400
MAX_ENDPOINTS = 16
ENROLL_FIELDS = {"enrollment_token": True, "wireguard_public_key": True, "csr": True,
                 "endpoints": False}
ROTATE_FIELDS = {"wireguard_public_key": True, "key_generation": True}
RENEW_FIELDS = {"csr": True}


def empty():
    return {"tokens": {}, "nodes": {}}


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def token_hash(tok):
    return hashlib.sha256(tok.encode()).hexdigest()


def fingerprint(b64key):
    """First 16 hex digits of sha256 over the raw 32-byte WireGuard key."""
    return hashlib.sha256(base64.b64decode(b64key)).hexdigest()[:16]


def mint(ident, world, node_id, operator, ttl, now=None):
    """A new token for gateway node_id: (token, record). Raises Invalid."""
    if not isinstance(node_id, str) or node_id not in world["gateways"]:
        raise Invalid("node_id %r is not a gateway this control plane serves" % (node_id,),
                      "node_id", 400)
    if not isinstance(operator, str) or not operator or len(operator) > 128 or \
            any(ord(c) < 0x20 for c in operator):
        raise Invalid("operator must be a non-empty printable string (at most 128)",
                      "operator", 400)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= MAX_TTL:
        raise Invalid("ttl must be an integer number of seconds in 1..%d" % MAX_TTL,
                      "ttl", 400)
    now = time.time() if now is None else now
    tok = TOKEN_PREFIX + secrets.token_urlsafe(32)
    rec = {"node_id": node_id, "operator": operator, "created": iso(now),
           "expires": int(now) + ttl, "used": None}
    ident["tokens"][token_hash(tok)] = rec
    return tok, rec


def check_fields(body, fields):
    if not isinstance(body, dict):
        raise Invalid("request body must be a JSON object", None, 400)
    for k in body:
        if k not in fields:
            raise Invalid("unknown field %s" % k, k, 400)
    for k, req in fields.items():
        if req and k not in body:
            raise Invalid("missing field %s" % k, k, 400)


def check_wg_key(v, field):
    """A canonical base64 string of 32 bytes, not all zero; returns it."""
    if not isinstance(v, str) or len(v) != 44:
        raise Invalid("%s must be base64 of 32 bytes (44 characters)" % field, field, 400)
    try:
        raw = base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("%s is not valid base64" % field, field, 400)
    if len(raw) != 32 or base64.b64encode(raw).decode() != v:
        raise Invalid("%s must be canonical base64 of exactly 32 bytes" % field, field, 400)
    if raw == bytes(32):
        raise Invalid("%s is the all-zero key" % field, field, 400)
    return v


def check_endpoints(v):
    if not isinstance(v, list) or len(v) > MAX_ENDPOINTS:
        raise Invalid("endpoints must be a list of at most %d HOST:PORT strings"
                      % MAX_ENDPOINTS, "endpoints", 400)
    for i, e in enumerate(v):
        f = "endpoints[%d]" % i
        if not isinstance(e, str) or len(e) > 64:
            raise Invalid("%s must be a HOST:PORT string" % f, f, 400)
        host, sep, port = e.rpartition(":")
        v6 = host.startswith("[") and host.endswith("]")
        try:
            a = ipaddress.ip_address(host[1:-1] if v6 else host)
        except ValueError:
            raise Invalid("%s %r: host is not an IP address" % (f, e), f, 400)
        if not sep or (a.version == 6) != v6 or not port.isdigit() or \
                not 1 <= int(port) <= 65535 or port != str(int(port)):
            raise Invalid("%s %r is not [IPv6]:PORT or IPv4:PORT (port 1..65535)" % (f, e),
                          f, 400)
    return v


def key_owner(world, key):
    """Which gateway, node or device holds this WireGuard key, or None."""
    for gid, g in world["gateways"].items():
        if g.get("public_key") == key:
            return "gateway " + gid
    for n in world["nodes"]:
        if n.get("public_key") == key:
            return "node " + str(n.get("node_id"))
    for t in world["tenants"]:
        for net in t.get("networks") or []:
            for d in net.get("devices") or []:
                if d.get("public_key") == key:
                    return "device " + str(d.get("device_id"))
    return None


def _set_key(world, node_id, key, gen):
    """This gateway's key everywhere the world names it (its block, its peer entry)."""
    world["gateways"][node_id]["public_key"] = key
    world["gateways"][node_id]["key_generation"] = gen
    for n in world["nodes"]:
        if n.get("node_id") == node_id:
            n["public_key"] = key
            n["key_generation"] = gen


def enroll(world, ident, body, ca, lifetime_s, now=None):
    """Decide an enroll request on a copy of world / ident.

    Returns (answer, audit record); raises Invalid with 400/401/409. The
    token is consumed only here, on success."""
    check_fields(body, ENROLL_FIELDS)
    tok = body["enrollment_token"]
    if not isinstance(tok, str) or not 1 <= len(tok) <= MAX_TOKEN:
        raise Invalid("enrollment_token must be a string of 1..%d characters" % MAX_TOKEN,
                      "enrollment_token", 400)
    key = check_wg_key(body["wireguard_public_key"], "wireguard_public_key")
    endpoints = check_endpoints(body.get("endpoints", []))
    csr = body["csr"]
    now = time.time() if now is None else now
    rec = ident["tokens"].get(token_hash(tok))
    if rec is None:
        raise Invalid("enrollment token unknown", "enrollment_token", 401)
    if rec["used"] is not None:
        raise Invalid("enrollment token already used (%s)" % rec["used"],
                      "enrollment_token", 401)
    if now >= rec["expires"]:
        raise Invalid("enrollment token expired at %s" % iso(rec["expires"]),
                      "enrollment_token", 401)
    node_id = rec["node_id"]
    gw = world["gateways"].get(node_id)
    if gw is None:
        raise Invalid("enrollment token names gateway %s, which this control plane no "
                      "longer serves" % node_id, "enrollment_token", 401)
    owner = key_owner(world, key)
    if owner is not None:
        raise Invalid("that WireGuard key is already enrolled (%s)" % owner,
                      "wireguard_public_key", 409)
    for k in ("overlay_ipv6", "listen_port", "mtu"):
        if k not in gw:
            raise Invalid("gateway block of %s has no %s: fix the control plane's "
                          "world" % (node_id, k), None, 500)
    try:
        cert = ca.sign_csr(csr, node_id, lifetime_s)
    except cpca.BadCSR as e:
        raise Invalid(str(e), "csr", 400)
    # A re-enrollment (new token for a planned gateway whose host was
    # reinstalled) continues the generation count: a generation never
    # names two keys.
    gen = int(gw.get("key_generation") or 0) + 1
    _set_key(world, node_id, key, gen)
    rec["used"] = iso(now)
    rec["used_fingerprint"] = fingerprint(key)
    node = ident["nodes"].setdefault(node_id, {"rotation_allowed": True})
    node.update({"enrolled_at": iso(now), "operator": rec["operator"],
                 "endpoints": endpoints})
    ans = {"node_id": node_id, "certificate": cert, "ca": ca.bundle,
           "overlay_ipv6": gw["overlay_ipv6"]}
    if gw.get("overlay_ipv4"):
        ans["overlay_ipv4"] = gw["overlay_ipv4"]
    ans.update({"listen_port": gw["listen_port"], "mtu": gw["mtu"], "key_generation": gen})
    audit = {"event": "node.enrolled", "time": iso(now), "node_id": node_id,
             "wg_key_fingerprint": fingerprint(key), "operator": rec["operator"],
             "key_generation": gen}
    return ans, audit


def rotate(world, ident, node_id, body, now=None):
    """Decide a rotate-key request (the caller checked the client cert).

    Returns (answer, audit record or None for a replay); raises Invalid
    with 400/403/404/409."""
    gw = world["gateways"].get(node_id)
    if gw is None:
        raise Invalid("unknown gateway %s" % node_id, "node_id", 404)
    check_fields(body, ROTATE_FIELDS)
    key = check_wg_key(body["wireguard_public_key"], "wireguard_public_key")
    kg = body["key_generation"]
    if not isinstance(kg, int) or isinstance(kg, bool) or not 1 <= kg <= 0xffffffff:
        raise Invalid("key_generation must be an integer in 1..4294967295",
                      "key_generation", 400)
    cur_key, cur = gw.get("public_key"), int(gw.get("key_generation") or 0)
    if cur_key is None:
        raise Invalid("gateway %s is not enrolled" % node_id, "node_id", 409)
    if not ident["nodes"].get(node_id, {}).get("rotation_allowed", True):
        raise Invalid("key rotation is disabled for %s" % node_id, "node_id", 403)
    # The exact request that was approved, sent again (the answer was lost
    # to a transport error): approved again, so the gateway finishes the
    # rotation instead of abandoning a key the control plane holds.
    if kg == cur and key == cur_key:
        return {"approved": True, "key_generation": cur}, None
    if kg != cur + 1:
        raise Invalid("key_generation %d is not current + 1 (current %d)" % (kg, cur),
                      "key_generation", 409)
    owner = key_owner(world, key)
    if owner is not None:
        raise Invalid("that WireGuard key is already enrolled (%s)" % owner,
                      "wireguard_public_key", 409)
    now = time.time() if now is None else now
    _set_key(world, node_id, key, kg)
    audit = {"event": "node.key_rotated", "time": iso(now), "node_id": node_id,
             "old_fingerprint": fingerprint(cur_key), "new_fingerprint": fingerprint(key),
             "key_generation": kg}
    return {"approved": True, "key_generation": kg}, audit


def renew(world, node_id, body, ca, lifetime_s, old_cert_der):
    if node_id not in world["gateways"]:
        raise Invalid("unknown gateway %s" % node_id, "node_id", 404)
    check_fields(body, RENEW_FIELDS)
    try:
        return {"certificate": ca.sign_csr(body["csr"], node_id, lifetime_s, old_cert_der)}
    except cpca.BadCSR as e:
        raise Invalid(str(e), "csr", 400)


class Audit:
    """Append-only JSON lines, each fsync'd before the request is answered."""

    def __init__(self, path):
        self.path = path

    def write(self, rec):
        if not self.path or rec is None:
            return
        line = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
