#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""cpbench - the reference control plane's cost per change, before and after.

Runs two nanami-cp implementations in the same run on the same synthetic
worlds: "before" (tools/cp at --before REV, taken from git) and "after"
(this tree). For each world size (--devices, default 10000 and 100000
devices spread over the example's two networks, seeded like `make soak`):
- the full snapshot GET, cold (first at a generation) and again (cached);
- one admin change a request (device disabled / enabled, routing preference
  set, key rotated, device added, device deleted: the soak's mix), the
  request's latency seen by the client (persistent HTTP connection);
- after each change, ?since=N-1 (one change) and ?since=N-8 (the last eight).
Prints a table (p50 / max in ms, and after/before ratios: the machine is
shared and noisy, ratios of one run are what to compare) and writes
--json. The "before" implementation is slow at 100k (a deep copy and a
full rewrite of the state per change), so it gets --before-changes.

  tools/cp/cpbench.py [--devices "10000 100000"] [--changes 40]
                      [--before-changes 5] [--before fd80ac2] [--json F]
"""
import argparse
import base64
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.realpath(os.path.join(HERE, "..", ".."))
FILES = ("nanami-cp", "cpstate.py", "cpident.py", "cpidhttp.py", "cpca.py",
         "cpworld.py", "cpjournal.py")
GW = "gw-fra-1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rand_key(rng):
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(32))).decode()


def syn_device(rng, i, users):
    return {"device_id": "bench-%d" % i, "user_id": rng.choice(users),
            "public_key": rand_key(rng),
            "overlay_ipv6": "fd7a:6e61:6e61:%x::%x" % (0x1000 + (i >> 16), (i & 0xffff) + 1),
            "overlay_ipv4": None, "endpoint": None, "persistent_keepalive": None,
            "state": "active", "key_generation": 1, "routing_preference": None}


def seed(path, n):
    rng = random.Random(1)
    snap = json.load(open(os.path.join(ROOT, "examples", "assignments.json")))
    nets = [nw for t in snap["tenants"] for nw in t["networks"]]
    for i in range(n):
        nw = nets[i % len(nets)]
        nw.setdefault("devices", []).append(
            syn_device(rng, i, [u["user_id"] for u in nw.get("users", [])]))
    with open(path, "w") as f:
        json.dump(snap, f)
    return {nw["network_id"]: [d["device_id"] for d in nw["devices"]
                               if d["device_id"].startswith("bench-")] for nw in nets}


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def req(self, method, path, body=None, headers=None):
        """(status, body bytes, seconds)."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers or {})
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, raw, time.perf_counter() - t0
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise


def run_impl(name, cpdir, n, changes, tmp):
    work = os.path.join(tmp, "%s-%d" % (name, n))
    os.makedirs(work)
    seedf = os.path.join(work, "seed.json")
    ids = seed(seedf, n)
    port = free_port()
    log = open(os.path.join(work, "cp.log"), "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(cpdir, "nanami-cp"),
                             "--listen", "127.0.0.1:%d" % port, "--state",
                             os.path.join(work, "state.json"), "--seed-from", seedf,
                             "--admin", "--history", "64"], stdout=log, stderr=log)
    c = Client(port)
    res = {"impl": name, "devices": n}
    try:
        while True:
            try:
                st, _, _ = c.req("GET", "/api/v1/gateways/%s/events" % "no-such")
                break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit("%s exited: see %s" % (name, log.name))
                time.sleep(0.1)
        res["start_s"] = time.perf_counter() - t0
        st, body, dt = c.req("GET", "/api/v1/gateways/%s/assignments" % GW)
        res["snapshot_cold_ms"] = dt * 1e3
        res["snapshot_mb"] = len(body) / 1e6
        st, body, dt = c.req("GET", "/api/v1/gateways/%s/assignments" % GW)
        res["snapshot_again_ms"] = dt * 1e3
        rng = random.Random(2)
        lat = {"change": [], "since1": [], "since8": []}
        kinds = []
        gen = json.loads(body)["generation"]
        nid_of = {d: nid for nid, lst in ids.items() for d in lst}
        live = sorted(nid_of)
        extra = n
        for i in range(changes):
            kind = ("state", "pref", "rotate", "add", "delete")[i % 5]
            did = live[rng.randrange(len(live))]
            nid = nid_of[did]
            if kind == "state":
                req = ("PUT", "/admin/v1/devices/%s/state" % did,
                       {"state": rng.choice(["disabled", "active"])})
            elif kind == "pref":
                req = ("PUT", "/api/v1/devices/%s/routing-preference" % did,
                       {"traffic_mode": "full_tunnel", "routing_mode": None} if i % 2 else None)
            elif kind == "rotate":
                dev = syn_device(rng, int(did.split("-")[1]), ["alice", "bob"])
                req = ("PUT", "/admin/v1/networks/%s/devices/%s" % (nid, did), dev)
            elif kind == "add":
                extra += 1
                nid = rng.choice(sorted(ids))
                dev = syn_device(rng, extra, ["alice", "bob"] if nid == "acme-prod" else ["carol"])
                req = ("PUT", "/admin/v1/networks/%s/devices/%s" % (nid, dev["device_id"]), dev)
                nid_of[dev["device_id"]] = nid
                live.append(dev["device_id"])
            else:
                req = ("DELETE", "/admin/v1/devices/" + did, None)
                live.remove(did)
            st, raw, dt = c.req(*req)
            if st != 200:
                raise SystemExit("%s: %s %s: %d %s" % (name, req[0], req[1], st, raw[:200]))
            g = json.loads(raw)["generation"]
            if g == gen:
                continue        # the same value again: no change
            gen = g
            kinds.append(kind)
            lat["change"].append(dt * 1e3)
            for key, back in (("since1", 1), ("since8", 8)):
                st, raw, dt = c.req("GET", "/api/v1/gateways/%s/assignments?since=%d" %
                                    (GW, gen - back))
                if st == 200:
                    lat[key].append(dt * 1e3)
        st, body, dt = c.req("GET", "/api/v1/gateways/%s/assignments" % GW)
        res["snapshot_after_change_ms"] = dt * 1e3
        for k, v in lat.items():
            res[k + "_n"] = len(v)
            if v:
                res[k + "_p50_ms"] = statistics.median(v)
                res[k + "_max_ms"] = max(v)
        res["state_bytes"] = sum(os.path.getsize(os.path.join(work, f))
                                 for f in os.listdir(work) if f.startswith("state.json"))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", default="10000 100000")
    ap.add_argument("--changes", type=int, default=40)
    ap.add_argument("--before-changes", type=int, default=5,
                    help="changes for the before implementation at 100k and more")
    ap.add_argument("--before", default="fd80ac2",
                    help="git revision of the before implementation (the last one that "
                    "deep-copied the world per change)")
    ap.add_argument("--json")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cpbench.")
    before = os.path.join(tmp, "before")
    os.makedirs(before)
    for f in FILES:
        r = subprocess.run(["git", "-C", ROOT, "show", "%s:tools/cp/%s" % (a.before, f)],
                           capture_output=True)
        if r.returncode == 0:
            with open(os.path.join(before, f), "wb") as out:
                out.write(r.stdout)
    if not os.path.exists(os.path.join(before, "nanami-cp")):
        raise SystemExit("cpbench: no tools/cp/nanami-cp at %s" % a.before)
    results = []
    try:
        for n in [int(x) for x in a.devices.split()]:
            for name, d in (("before", before), ("after", HERE)):
                k = a.changes if name == "after" or n < 100000 else a.before_changes
                print("# %s at %d devices, %d changes ..." % (name, n, k), file=sys.stderr)
                results.append(run_impl(name, d, n, k, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    keys = [("snapshot_cold_ms", "full snapshot GET, first at a generation"),
            ("snapshot_again_ms", "full snapshot GET, again"),
            ("change_p50_ms", "admin change, p50"), ("change_max_ms", "admin change, max"),
            ("since1_p50_ms", "?since=N-1, p50"), ("since1_max_ms", "?since=N-1, max"),
            ("since8_p50_ms", "?since=N-8, p50"), ("since8_max_ms", "?since=N-8, max"),
            ("start_s", "start (s)")]
    print("| devices | what | before | after | after/before |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for n in sorted({r["devices"] for r in results}):
        b = [r for r in results if r["devices"] == n and r["impl"] == "before"][0]
        f = [r for r in results if r["devices"] == n and r["impl"] == "after"][0]
        for k, label in keys:
            if k in b and k in f:
                print("| %d | %s | %.1f | %.1f | %.4f |" % (n, label, b[k], f[k],
                                                           f[k] / b[k] if b[k] else 0))
        print("| %d | changes measured / snapshot MB | %d / %.1f | %d / %.1f | |" %
              (n, b["change_n"], b["snapshot_mb"], f["change_n"], f["snapshot_mb"]))


if __name__ == "__main__":
    main()
