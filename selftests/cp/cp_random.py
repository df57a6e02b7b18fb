#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Randomized check of the reference control plane's deltas and journal.

A seeded random sequence of changes through tools/cp/nanami-cp's admin and
operator APIs (devices disabled / enabled, deleted, added, re-added at the
end, moved to another network under the same id, keys rotated, routing
preference and policy set, ACLs replaced, the world replaced), with the
control plane stopped (SIGTERM) or killed (SIGKILL) and started again from
its state file at random points, a torn journal line, and compaction made
frequent (--compact-bytes). Two gateways (gw-fra-1 serves both networks,
gw-ams-1 only acme-prod), so views differ.

The oracle is written from docs/assignments-v1.md, not from tools/cp: a
model world the test changes the way each request is specified, its own
view of it per gateway, and its own apply of a delta. After every change:
- each gateway's full snapshot equals the model's view;
- for every generation M still in the history (--history), ?since=M applied
  to the snapshot served at M equals the snapshot at N exactly; a 410 is
  accepted only across a replaced world or below the base generation the
  control plane restarted from;
- after every restart the world and generation (GET /admin/v1/state) equal
  those before it.
TAP on stdout. Usage: cp_random.py [--seed S] [--steps N] [--devices N]
"""
import argparse
import base64
import copy
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
CP = os.path.join(ROOT, "tools", "cp", "nanami-cp")
EX = os.path.join(ROOT, "examples", "assignments.json")
GWS = ("gw-fra-1", "gw-ams-1")
HISTORY = 8
KIND_LIST = {"node": "nodes", "tenant": "tenants", "network": "networks",
             "user": "users", "device": "devices"}
ID_KEY = {"node": "node_id", "tenant": "tenant_id", "network": "network_id",
          "user": "user_id", "device": "device_id"}

failures = []
counts = {}


def fail(what, key="other"):
    """A failed check, filed under the TAP line it belongs to."""
    failures.append((key, what))
    print("# FAIL: " + what[:2000])
    sys.stdout.flush()


def count(name, n=1):
    counts[name] = counts.get(name, 0) + n


# ---- the model, from the contract ----

def model_view(world, gw, gen):
    """Gateway gw's snapshot: its gateway block, every node but itself, the
    networks listing it in "gateways" (tenants without one left out)."""
    tenants = []
    for t in world["tenants"]:
        nets = [n for n in t["networks"] if gw in n.get("gateways", [])]
        if nets:
            tv = {k: v for k, v in t.items() if k != "networks"}
            tv["networks"] = nets
            tenants.append(tv)
    return {"api_version": "v1", "node_id": gw, "generation": gen,
            "gateway": world["gateways"][gw], "system_defaults": world["system_defaults"],
            "nodes": [n for n in world["nodes"] if n["node_id"] != gw],
            "tenants": tenants}


def contract_apply(snap, delta):
    """The contract: changes in order; upsert replaces in place or appends,
    delete removes (and must find it)."""
    out = copy.deepcopy(snap)
    if delta.get("since") != snap["generation"] or delta.get("full") is not False:
        raise ValueError("since/full: %r" % ({k: delta.get(k) for k in ("since", "full")},))
    for c in delta["changes"]:
        kind = c["kind"]
        if kind in ("node", "tenant"):
            lst = out["nodes" if kind == "node" else "tenants"]
        else:
            t = [x for x in out["tenants"] if x["tenant_id"] == c["tenant_id"]][0]
            if kind == "network":
                lst = t["networks"]
            else:
                n = [x for x in t["networks"] if x["network_id"] == c["network_id"]][0]
                lst = n.setdefault(KIND_LIST[kind], [])
        idx = [i for i, x in enumerate(lst) if x[ID_KEY[kind]] == c["id"]]
        if c["op"] == "delete":
            if not idx:
                raise ValueError("delete of %s %s: not there" % (kind, c["id"]))
            del lst[idx[0]]
        elif c["op"] == "upsert":
            if c["value"].get(ID_KEY[kind]) != c["id"]:
                raise ValueError("upsert value id is not %s" % c["id"])
            if idx:
                lst[idx[0]] = c["value"]
            else:
                lst.append(c["value"])
        else:
            raise ValueError("op %r" % c["op"])
    out["generation"] = delta["generation"]
    return out


def rand_key(rng):
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(32))).decode()


def model_devices(world):
    """device id -> (network, device), first in world order."""
    out = {}
    for t in world["tenants"]:
        for n in t["networks"]:
            for d in n.get("devices", []):
                out.setdefault(d["device_id"], (n, d))
    return out


def model_net(world, nid):
    return [n for t in world["tenants"] for n in t["networks"] if n["network_id"] == nid][0]


# ---- the control plane under test ----

class Plane:
    def __init__(self, tmp, seeds):
        self.tmp, self.seeds = tmp, seeds
        self.state = os.path.join(tmp, "state.json")
        self.proc = None
        self.port = 18600
        self.runs = 0

    def start(self):
        self.runs += 1
        log = open(os.path.join(self.tmp, "cp.log"), "a")
        args = ["/usr/bin/python3", CP, "--listen", "127.0.0.1:%d" % self.port,
                "--state", self.state, "--admin", "--keepalive", "1",
                "--history", str(HISTORY), "--compact-bytes", "6000",
                "--check-deltas", "off"]     # the test is the check
        for s in self.seeds:
            args += ["--seed-from", s]
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        end = time.time() + 20
        while time.time() < end:
            try:
                self.req("GET", "/admin/v1/state")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        raise SystemExit("control plane did not start: %s" % open(log.name).read()[-2000:])

    def stop(self, sig):
        self.proc.send_signal(sig)
        self.proc.wait(20)
        self.proc = None

    def req(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        r = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data,
                                   method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(r, timeout=30) as f:
                raw = f.read()
                return f.status, json.loads(raw) if raw else None, f.headers
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None, e.headers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=int(os.environ.get("CP_RANDOM_SEED", "0")) or
                    random.SystemRandom().randrange(1, 1 << 30))
    ap.add_argument("--steps", type=int, default=160)
    ap.add_argument("--devices", type=int, default=60)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    print("TAP version 13")
    print("# seed %d (CP_RANDOM_SEED=%d reproduces it)" % (a.seed, a.seed))
    tmp = tempfile.mkdtemp(prefix="cp_random.")

    # Seeds: the example for gw-fra-1 with synthetic devices in both
    # networks, and gw-ams-1's own snapshot (it serves acme-prod).
    snap = json.load(open(EX))
    nets = {n["network_id"]: n for t in snap["tenants"] for n in t["networks"]}
    users = {nid: [u["user_id"] for u in n.get("users", [])] for nid, n in nets.items()}
    serial = [0]

    def new_device(nid):
        serial[0] += 1
        i = serial[0]
        return {"device_id": "rnd-%d" % i, "user_id": rng.choice(users[nid]),
                "public_key": rand_key(rng),
                "overlay_ipv6": "fd7a:6e61:6e61:%x::%x" % (0x100 + i // 60000, i % 60000 + 1),
                "overlay_ipv4": None, "endpoint": None, "persistent_keepalive": None,
                "state": "active", "key_generation": 1, "routing_preference": None}

    for _ in range(a.devices):
        nid = rng.choice(sorted(nets))
        nets[nid].setdefault("devices", []).append(new_device(nid))
    fra = os.path.join(tmp, "fra.json")
    json.dump(snap, open(fra, "w"))
    ams_node = [n for n in snap["nodes"] if n["node_id"] == "gw-ams-1"][0]
    ams = {"api_version": "v1", "node_id": "gw-ams-1", "generation": snap["generation"],
           "gateway": {"roles": ams_node["roles"], "overlay_ipv6": ams_node["overlay_ipv6"],
                       "overlay_prefixes": snap["gateway"]["overlay_prefixes"],
                       "listen_port": 51820, "mtu": 1420},
           "system_defaults": snap["system_defaults"],
           "nodes": [{"node_id": "gw-fra-1", "public_key": rand_key(rng),
                      "overlay_ipv6": snap["gateway"]["overlay_ipv6"],
                      "endpoint": "[2001:db8:1::1]:51820", "roles": snap["gateway"]["roles"],
                      "state": "active", "key_generation": 1}],
           "tenants": [{"tenant_id": "acme", "networks": [nets["acme-prod"]]}]}
    amsf = os.path.join(tmp, "ams.json")
    json.dump(ams, open(amsf, "w"))

    # The model world: seeds merged the way the README says (one world).
    world = {"system_defaults": snap["system_defaults"],
             "gateways": {"gw-fra-1": snap["gateway"], "gw-ams-1": ams["gateway"]},
             "nodes": copy.deepcopy(snap["nodes"]) + copy.deepcopy(ams["nodes"]),
             "tenants": copy.deepcopy(snap["tenants"])}
    gen = snap["generation"]

    cp = Plane(tmp, [fra, amsf])
    cp.start()
    st, cur, _ = cp.req("GET", "/admin/v1/state")
    if cur["generation"] != gen or cur["world"] != world:
        fail("the seeded world is not the model's", "snapshots")
        world = cur["world"]
    served = {gw: {} for gw in GWS}     # gateway -> generation -> snapshot
    floor = gen                         # no delta from below (replace, restart base)

    gws = list(GWS)

    def fetch_all():
        for gw in gws:
            st, body, hdr = cp.req("GET", "/api/v1/gateways/%s/assignments" % gw)
            want = model_view(world, gw, gen)
            if st != 200 or body != want:
                fail("snapshot of %s at %d is not the model's view (status %d)" % (gw, gen, st),
                     "snapshots")
            served[gw][gen] = body
            count("snapshots")
            st2, _, _ = cp.req("GET", "/api/v1/gateways/%s/assignments" % gw,
                               headers={"If-None-Match": hdr.get("ETag", "")})
            if st2 != 304:
                fail("If-None-Match with the ETag of %s at %d: %d, not 304" % (gw, gen, st2),
                     "etag304")
            count("etag304")

    def check_deltas():
        for gw in gws:
            for m in range(max(floor, gen - HISTORY + 1), gen + 1):
                st, d, _ = cp.req("GET", "/api/v1/gateways/%s/assignments?since=%d" % (gw, m))
                if st == 410:
                    fail("?since=%d for %s at %d: 410 inside the history" % (m, gw, gen), "deltas")
                    continue
                if st != 200 or d.get("generation") != gen:
                    fail("?since=%d for %s at %d: status %d %r" % (m, gw, gen, st, d), "deltas")
                    continue
                try:
                    got = contract_apply(served[gw][m], d)
                except (ValueError, KeyError, IndexError) as e:
                    fail("?since=%d for %s at %d does not apply: %s: %s" % (m, gw, gen, e, d),
                         "deltas")
                    continue
                if got != served[gw][gen]:
                    fail("?since=%d for %s at %d applied to snapshot %d is not snapshot %d: %s"
                         % (m, gw, gen, m, gen, json.dumps(d)[:1500]), "deltas")
                count("deltas")
                count("changes", len(d["changes"]))
            # Out of the history: 410.
            m = gen - HISTORY
            if m >= floor:
                st, _, _ = cp.req("GET", "/api/v1/gateways/%s/assignments?since=%d" % (gw, m))
                if st != 410:
                    fail("?since=%d for %s at %d (history %d): %d, not 410" %
                         (m, gw, gen, HISTORY, st), "gone410")
                count("gone410")

    fetch_all()
    forced = None
    removed = []        # (network, device) deleted, may come back under the same id
    for step in range(a.steps):
        devs = model_devices(world)
        ids = sorted(devs)
        r = rng.random()
        op = None
        if r < 0.05:
            # Restart: SIGTERM or SIGKILL (the journal is synced before any
            # answer), sometimes a torn last line left by a crash.
            before = cp.req("GET", "/admin/v1/state")[1]
            how = rng.choice([signal.SIGTERM, signal.SIGKILL])
            cp.stop(how)
            if rng.random() < 0.5:
                segs = sorted((int(p.rsplit(".", 1)[1]), p) for p in os.listdir(tmp)
                              if p.startswith("state.json.journal."))
                if segs:
                    with open(os.path.join(tmp, segs[-1][1]), "ab") as f:
                        f.write(b'{"seq": 999999, "g": 1, "ops": [["dev_del", "ali')
                    count("torn")
            cp.start()
            # The base it started from (or a later one): no delta is owed
            # from below it.
            base = json.load(open(cp.state))
            after = cp.req("GET", "/admin/v1/state")[1]
            if after != before:
                fail("restart (%s) at %d: the replayed world/generation differ (got %s)" %
                     (signal.Signals(how).name, gen, after.get("generation")), "restarts")
            count("restarts")
            floor = max(floor, base["generation"])
            check_deltas()
            continue
        if r < 0.25 and ids:
            did = rng.choice(ids)
            new = "disabled" if devs[did][1]["state"] == "active" else "active"
            op = ("PUT", "/admin/v1/devices/%s/state" % did, {"state": new})
            d = dict(devs[did][1], state=new)
            lst = devs[did][0]["devices"]
            lst[lst.index(devs[did][1])] = d
        elif r < 0.40 and ids:
            did = rng.choice(ids)
            op = ("DELETE", "/admin/v1/devices/" + did, None)
            devs[did][0]["devices"].remove(devs[did][1])
            removed.append((devs[did][0]["network_id"], devs[did][1]))
        elif r < 0.55:
            nid = rng.choice(sorted(nets))
            if removed and rng.random() < 0.5:
                # Back under the same id, maybe in the other network (a move).
                _, d = removed.pop(rng.randrange(len(removed)))
                d = dict(d, user_id=rng.choice(users[nid]), key_generation=2)
            else:
                d = new_device(nid)
            op = ("PUT", "/admin/v1/networks/%s/devices/%s" % (nid, d["device_id"]), d)
            model_net(world, nid).setdefault("devices", []).append(d)
        elif r < 0.68 and ids:
            did = rng.choice(ids)
            n, old = devs[did]
            d = dict(old, public_key=rand_key(rng), key_generation=old["key_generation"] + 1)
            op = ("PUT", "/admin/v1/networks/%s/devices/%s" % (n["network_id"], did), d)
            n["devices"][n["devices"].index(old)] = d
        elif r < 0.80 and ids:
            did = rng.choice(ids)
            val = rng.choice([None, {"traffic_mode": "full_tunnel"},
                              {"traffic_mode": "vpn_only", "routing_mode": "auto"}])
            op = ("PUT", "/api/v1/devices/%s/routing-preference" % did, val)
            n, old = devs[did]
            if old.get("routing_preference") == val:
                op = op + ("same",)
            else:
                d = dict(old)
                d["routing_preference"] = val
                n["devices"][n["devices"].index(old)] = d
        elif r < 0.88:
            nid = rng.choice(sorted(nets))
            val = rng.choice([None, {"traffic_mode": "full_tunnel"},
                              {"traffic_mode": "vpn_only"}])
            op = ("PUT", "/api/v1/networks/%s/routing-policy" % nid, val)
            n = model_net(world, nid)
            if n.get("routing_policy") == val:
                op = op + ("same",)
            else:
                n["routing_policy"] = val
        elif r < 0.97:
            nid = rng.choice(sorted(nets))
            acl = [{"rule_id": "r%d" % step, "action": rng.choice(["allow", "deny"]),
                    "src": "*", "dst": "*", "proto": "tcp", "ports": [str(rng.randrange(1, 65535))]}]
            op = ("PUT", "/admin/v1/networks/%s/acl" % nid, acl)
            model_net(world, nid)["acl"] = acl
        else:
            # The world replaced by gw-fra-1's current snapshot (no delta
            # crosses it; gw-ams-1's block stays, the world's nodes merge).
            body = copy.deepcopy(served["gw-fra-1"][gen])
            # Not quite the current view: one network's ACL differs.
            nw = rng.choice([n for t in body["tenants"] for n in t["networks"]])
            nw["acl"] = [{"rule_id": "replaced-%d" % step, "action": "allow", "src": "*",
                          "dst": "*", "proto": "udp", "ports": ["53"]}]
            op = ("PUT", "/admin/v1/snapshot", body)
            if rng.random() < 0.5:
                # A control plane restored from a backup: the generation
                # goes back, and numbers already served come again.
                forced = max(1, gen - rng.choice([0, 0, 1, 5]))
                op = ("PUT", "/admin/v1/snapshot?force_generation=%d" % forced, body)
            world = {"system_defaults": body["system_defaults"],
                     "gateways": {"gw-fra-1": body["gateway"]},
                     "nodes": copy.deepcopy(body["nodes"]),
                     "tenants": copy.deepcopy(body["tenants"])}
        if op is None:
            continue
        st, ans, _ = cp.req(op[0], op[1], op[2])
        if st != 200:
            fail("%s %s: %d %r" % (op[0], op[1], st, ans))
            break
        if len(op) == 4:        # unchanged value: no new generation
            if ans["generation"] != gen:
                fail("%s %s with the current value made generation %d" % (op[0], op[1],
                                                                            ans["generation"]))
            continue
        gen = gen + 1 if forced is None else forced
        if ans["generation"] != gen:
            fail("%s %s: generation %d, not %d" % (op[0], op[1], ans["generation"], gen))
            gen = ans["generation"]
        count("changes_made")
        if op[1].startswith("/admin/v1/snapshot"):
            count("replaced_forced" if forced is not None else "replaced")
            floor = gen
            gws = ["gw-fra-1"]  # gw-ams-1's block went with the old world
            served = {gw: {} for gw in GWS}
            forced = None
        fetch_all()
        check_deltas()
    cp.stop(signal.SIGTERM)
    with open(os.path.join(tmp, "cp.log")) as f:
        logtext = f.read()
    count("compactions", logtext.count("event=compacted"))
    count("torn_dropped", logtext.count("event=journal_torn"))
    if counts.get("torn_dropped", 0) != counts.get("torn", 0):
        fail("%d torn journal lines written, %d dropped" % (counts.get("torn", 0),
                                                            counts.get("torn_dropped", 0)),
             "restarts")
    for bad in ("Traceback", "level=error"):
        if bad in logtext:
            fail("the control plane logged %s" % bad)

    print("# " + " ".join("%s=%d" % kv for kv in sorted(counts.items())))
    checks = [
        ("snapshots equal the model's view after every change", "snapshots"),
        ("If-None-Match with the ETag: 304", "etag304"),
        ("every ?since=M in the history applied to snapshot M gives snapshot N", "deltas"),
        ("?since= out of the history: 410", "gone410"),
        ("restarts (SIGTERM/SIGKILL, torn journal line) replay the same world and generation",
         "restarts"),
        ("the journal was compacted (forked writer) while changes went on", "compactions"),
    ]
    n = 0
    for name, key in checks:
        n += 1
        if counts.get(key, 0) == 0:
            print("not ok %d - %s (never exercised)" % (n, name))
        elif any(k == key for k, _ in failures):
            print("not ok %d - %s (%d) # see FAIL lines" % (n, name, counts[key]))
        else:
            print("ok %d - %s (%d)" % (n, name, counts[key]))
    n += 1
    other = [w for k, w in failures if k == "other"]
    print("%s %d - every request answered as specified, nothing logged as an error%s" %
          ("not ok" if other else "ok", n, " (%d failures)" % len(other) if other else ""))
    print("1..%d" % n)
    if not failures:
        subprocess.run(["rm", "-rf", tmp])
    else:
        print("# state kept in " + tmp)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
