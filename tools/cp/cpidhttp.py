# SPDX-License-Identifier: GPL-2.0
"""cpidhttp - the HTTP side of gateway identity in nanami-cp (identity-v1.md).

A mixin of nanami-cp's request handler: the three gateway endpoints, their
faults, and the identity part of the test-only admin API. The decisions are
cpident's; this file checks who is asking (the client certificate), holds
the control plane's lock across decide + commit + audit, and answers.
"""
import copy
import json
import time

import cpident
from cpstate import Invalid

GARBAGE = b'{"node_id": "gw\x00\xff <html>not json at all'


class IdentityAPI:
    def ident_route(self, method, parts):
        """True when parts (after /api/v1) named an identity endpoint."""
        if parts == ["nodes", "enroll"] and method == "POST":
            self.ident_call("enroll", None, 201)
            return True
        if len(parts) == 3 and parts[0] == "nodes" and method == "POST" and \
                parts[2] in ("rotate-key", "renew-certificate"):
            self.ident_call("rotate" if parts[2] == "rotate-key" else "renew", parts[1], 200)
            return True
        return False

    def ident_call(self, what, node_id, ok_status):
        cp = self.cp
        if cp.ca is None:
            return self.error(404, "identity endpoints need --ca-dir")
        if what != "enroll":
            # mTLS: the certificate must name the node it acts for.
            names = self.peer_names()
            if not names:
                return self.error(401, "client certificate required for %s" % what)
            if node_id not in names:
                self.ident_log("warn", what, node_id, "refused",
                               "client certificate names %s" % ",".join(sorted(names)))
                return self.error(403, "client certificate names %s, not %s" %
                                  (",".join(sorted(names)), node_id), "node_id")
        body = self.read_json()
        mode, apply = cp.fault.take(what)
        if mode != "none" and not apply:
            return self.ident_fault(mode, ok_status)
        with cp.lock:
            w, ident = copy.deepcopy(cp.world), copy.deepcopy(cp.ident)
            try:
                if what == "enroll":
                    ans, audit = cpident.enroll(w, ident, body, cp.ca, cp.cert_lifetime)
                    node_id = ans["node_id"]
                elif what == "rotate":
                    ans, audit = cpident.rotate(w, ident, node_id, body)
                else:
                    ans = cpident.renew(w, node_id, body, cp.ca, cp.cert_lifetime,
                                        self.connection.getpeercert(binary_form=True))
                    audit = None
            except Invalid as e:
                self.ident_log("info", what, node_id, "refused", e.msg, e.status)
                if mode != "none":
                    return self.ident_fault(mode, ok_status)
                raise
            if w != cp.world:
                cp.ident = ident
                cp.commit(w, self.actor(), "node/" + node_id,
                          "%s key_generation=%s" % (audit["event"], ans["key_generation"]))
            elif ident != cp.ident:
                cp.ident = ident
                cp.persist()
            cp.audit.write(audit)
        self.ident_log("info", what, node_id, "ok", audit["event"] if audit else "")
        if mode != "none":
            return self.ident_fault(mode, ok_status)
        return self.send_json(ok_status, ans)

    def ident_log(self, level, what, node_id, result, reason, status=None):
        f = [("event", "identity"), ("op", what), ("node_id", node_id or "-"),
             ("result", result), ("actor", self.actor())]
        if status:
            f.append(("status", status))
        self.log_fn(level, f + [("reason", reason)])

    def ident_fault(self, mode, ok_status):
        self.close_connection = True
        if mode in ("500", "401", "403", "409"):
            return self.error(int(mode), "injected fault")
        if mode == "nothing":
            return      # the connection closes without a byte
        self.send_response(ok_status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        if mode == "malformed":
            self.send_header("Content-Length", str(len(GARBAGE)))
            self.end_headers()
            self.wfile.write(GARBAGE)
            return
        self.send_header("Content-Length", "4096")       # hang: promised, never sent
        self.end_headers()
        self.wfile.flush()
        end = time.time() + 600
        while not self.cp.stopping and time.time() < end:
            time.sleep(0.2)

    def peer_names(self):
        return self.peer_names_fn(self.connection)

    # ---- test-only admin API ----

    def ident_admin(self, method, p):
        """True when p (after /admin/v1) named an identity admin endpoint."""
        cp = self.cp
        if p == ["tokens"] and method == "POST":
            b = self.read_json()
            cpident.check_fields(b, {"node_id": True, "operator": True, "ttl": True})
            with cp.lock:
                ident = copy.deepcopy(cp.ident)
                tok, rec = cpident.mint(ident, cp.world, b["node_id"], b["operator"], b["ttl"])
                cp.ident = ident
                cp.persist()
            self.log_fn("info", [("event", "token_minted"), ("node_id", rec["node_id"]),
                                 ("operator", rec["operator"]), ("expires", rec["expires"])])
            self.send_json(201, {"token": tok, "node_id": rec["node_id"],
                                 "operator": rec["operator"], "expires": rec["expires"]})
            return True
        if len(p) == 3 and p[0] == "nodes" and p[2] in ("rotation", "identity"):
            node_id = p[1]
            with cp.lock:
                if node_id not in cp.world["gateways"]:
                    raise Invalid("unknown gateway %s" % node_id, "node_id", 404)
            if p[2] == "identity" and method == "GET":
                with cp.lock:
                    g = cp.world["gateways"][node_id]
                    rec = dict(cp.ident["nodes"].get(node_id, {"rotation_allowed": True}))
                    rec.update({"node_id": node_id, "public_key": g.get("public_key"),
                                "key_generation": g.get("key_generation")})
                self.send_json(200, rec)
                return True
            if p[2] == "rotation" and method == "PUT":
                b = self.read_json()
                cpident.check_fields(b, {"allowed": True})
                if not isinstance(b["allowed"], bool):
                    raise Invalid("allowed must be true or false", "allowed", 400)
                with cp.lock:
                    ident = copy.deepcopy(cp.ident)
                    ident["nodes"].setdefault(node_id, {})["rotation_allowed"] = b["allowed"]
                    cp.ident = ident
                    cp.persist()
                self.log_fn("info", [("event", "rotation_allowed"), ("node_id", node_id),
                                     ("allowed", json.dumps(b["allowed"]))])
                self.send_json(200, {"node_id": node_id, "rotation_allowed": b["allowed"]})
                return True
        return False
