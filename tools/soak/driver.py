#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tools/soak/driver.py: the soak's clock, run by tools/soak/soak.sh inside the
gateway node (its network and mount namespaces: the control plane on
127.0.0.1:8443, the control socket, the pins).

  driver.py seed SNAPSHOT N      add N synthetic devices to SNAPSHOT (in place)
  driver.py run                  the soak itself (environment below)

Environment of `run`: SOAK_SECONDS, SOAK_OUT (directory for the JSON-lines
records), SOAK_SEED, SOAK_PIDS ("node=pid ..." of the topology's node
holders), SOAK_TMP (the topology's log directory), SOAK_PYTHON, SOAK_CONNECT.

What it does, all at once, for SOAK_SECONDS:
- one change a second through the control plane's admin and operator API:
  synthetic devices added, deleted, disabled/enabled, given a new key, their
  routing preference flipped, addresses moved between tenants; and, one at a
  time, changes that must cut real traffic: alice or carol revoked for a
  while, the eng-db rule removed for a while;
- faults at random: nanami-gatewayd killed with SIGKILL and restarted, the
  control plane restarted (SIGTERM) or frozen (SIGSTOP: connections accepted,
  nothing answered) for seconds;
- probes every few seconds between fixed pairs, each with its expected
  verdict from the spec's reading of the current state (verdicts.md), never
  from the gateway: cross-tenant and denied pairs must never connect;
- two long-lived TCP flows (a line a second, echoed) that must stay up unless
  a change that should cut them is enforced, and must be cut when it is;
- every change's generation followed to the gateway's applied generation
  (control socket): the event-to-enforcement latency;
- every 10 s: the controller's RSS and the memory of its maps (bpftool).

Records go to SOAK_OUT/{changes,probes,flows,faults,samples}.jsonl;
tools/soak/report.py turns them into report.md.
"""
import base64
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

CP = "http://127.0.0.1:8443"
SOCK = "/run/nanami/wg0.sock"
NETS = {"acme-prod": ("acme", ["alice", "bob"]), "globex-main": ("globex", ["carol"])}
SYN_PREFIX = "fd7a:6e61:6e61:f"     # synthetic devices: fd7a:6e61:6e61:fXXX::/52
ALICE, BOB, CAROL = "fd7a:6e61:6e61:10::2", "fd7a:6e61:6e61:10::3", "fd7a:6e61:6e61:20::2"
DB, FILES = "fd00:acc::5", "fd00:6b0::1"


def now():
    return time.monotonic()


def rand_key(rng):
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(32))).decode()


def syn_device(rng, idx, net):
    users = NETS[net][1]
    return {"device_id": "soak-%d" % idx, "user_id": rng.choice(users),
            "public_key": rand_key(rng), "overlay_ipv6": syn_addr(idx),
            "overlay_ipv4": None, "endpoint": None, "persistent_keepalive": None,
            "state": "active", "key_generation": 1, "routing_preference": None}


def syn_addr(idx):
    return "%s%03x::%x" % (SYN_PREFIX, (idx >> 16) & 0xfff, (idx & 0xffff) + 1)


def seed(path, n):
    rng = random.Random(1)
    snap = json.load(open(path))
    nets = {nw["network_id"]: nw for t in snap["tenants"] for nw in t["networks"]}
    for i in range(n):
        net = "acme-prod" if i % 2 == 0 else "globex-main"
        nets[net]["devices"].append(syn_device(rng, i, net))
    tmp = path + ".tmp"
    json.dump(snap, open(tmp, "w"))
    os.replace(tmp, path)


class Records:
    def __init__(self, out):
        self.files, self.lock, self.t0 = {}, threading.Lock(), now()
        for k in ("changes", "probes", "flows", "faults", "samples"):
            self.files[k] = open(os.path.join(out, k + ".jsonl"), "a")

    def put(self, stream, **rec):
        rec["t"] = round(now() - self.t0, 3)
        with self.lock:
            self.files[stream].write(json.dumps(rec) + "\n")
            self.files[stream].flush()


def cp_req(method, path, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(CP + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


class UnixHTTP(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(SOCK)


def applied_generation():
    try:
        c = UnixHTTP("localhost", timeout=2)
        c.request("GET", "/v1/status")
        st = json.loads(c.getresponse().read())
        c.close()
        return st["sync"]["applied_generation"]
    except (OSError, ValueError, KeyError, http.client.HTTPException):
        return None


def map_memlock(pid):
    """The memory of the BPF maps PID holds open: the memlock of each map
    (fdinfo), once per map id. Maps only the kernel holds (inner maps of a
    map-in-map the controller closed) are not counted."""
    seen, total = set(), 0
    try:
        fds = os.listdir("/proc/%d/fdinfo" % pid)
    except OSError:
        return None
    for fd in fds:
        info = {}
        try:
            for line in open("/proc/%d/fdinfo/%s" % (pid, fd)):
                k, _, v = line.partition(":")
                info[k] = v.strip()
        except OSError:
            continue
        if "map_id" in info and info["map_id"] not in seen:
            seen.add(info["map_id"])
            total += int(info.get("memlock", 0))
    return total


class Proc:
    """A daemon of the topology we may kill and start again (same argv)."""

    def __init__(self, name, pidfile, log):
        self.name, self.log = name, log
        self.pid = int(open(pidfile).read())
        self.argv = open("/proc/%d/cmdline" % self.pid, "rb").read().split(b"\0")[:-1]
        self.cwd = os.readlink("/proc/%d/cwd" % self.pid)

    def signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def wait_gone(self, timeout=10):
        end = now() + timeout
        while now() < end:
            try:
                os.kill(self.pid, 0)
                # reap it if it is our child
                try:
                    os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            except ProcessLookupError:
                return True
            time.sleep(0.05)
        return False

    def start(self):
        p = subprocess.Popen(self.argv, cwd=self.cwd, stdin=subprocess.DEVNULL,
                             stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        self.pid = p.pid


class Soak:
    def __init__(self):
        self.rng = random.Random(int(os.environ.get("SOAK_SEED", "1")))
        self.rec = Records(os.environ["SOAK_OUT"])
        self.end = now() + float(os.environ["SOAK_SECONDS"])
        tmp = os.environ["SOAK_TMP"]
        self.pids = dict(kv.split("=") for kv in os.environ["SOAK_PIDS"].split())
        self.python = os.environ.get("SOAK_PYTHON", "python3")
        self.connect = os.environ["SOAK_CONNECT"]
        self.gwctl = os.environ["SOAK_GWCTL"]
        self.last_drops = None
        self.gwd = Proc("gatewayd", tmp + "/gatewayd.pid", tmp + "/gatewayd.log")
        self.cp = Proc("cp", tmp + "/cp.pid", tmp + "/cp.log")
        self.lock = threading.Lock()
        self.cp_up = True           # changes are made only while it answers
        self.gwd_up = True
        # The real state the probes depend on: requested, and enforced (the
        # gateway applied a generation at least that of the request).
        self.state = {"alice": True, "carol": True, "engdb": True}
        self.pending = []           # [generation, t0, kind, category]
        self.transition_until = 0.0  # stateful expectations are "either" before
        self.stop = threading.Event()
        world = cp_req("GET", "/admin/v1/state")["world"]
        self.syn = {}               # device id -> [network, state, device]
        self.engdb_acl = None       # acme-prod's ACL with the eng-db rule
        self.real_gen = 0
        for t in world["tenants"]:
            for nw in t["networks"]:
                for d in nw.get("devices") or []:
                    if d["device_id"].startswith("soak-"):
                        self.syn[d["device_id"]] = [nw["network_id"], d["state"], d]
                if any(r.get("rule_id") == "eng-db" for r in nw.get("acl") or []):
                    self.engdb_acl = list(nw["acl"])
        if self.engdb_acl is None:
            sys.exit("driver.py: no network has the eng-db rule the probes rely on")
        self.next_idx = max([int(k[5:]) for k in self.syn] + [0]) + 1

    # ---- expectations (verdicts.md, for the probe pairs) ----

    def expect(self, pair):
        s = self.state
        table = {
            "alice->acme-db tcp/5432": s["alice"] and s["engdb"],  # eng-db
            "bob->acme-db tcp/5432": False,      # bob is in sales: default deny
            "carol->acme-db tcp/5432": False,    # cross-tenant
            "alice->acme-db tcp/22": False,      # no rule
            "carol->globex-files tcp/7000": s["carol"],  # ops-files, any proto
            "carol->alice tcp/7777": False,      # cross-tenant
            "bob->alice tcp/7777": False,        # same network, no tcp rule
            "alice->internet udp/53": s["alice"],  # full_tunnel via this exit
        }
        return table[pair]

    STATEFUL = {"alice->acme-db tcp/5432", "carol->globex-files tcp/7000",
                "alice->internet udp/53"}

    # ---- changes ----

    def change(self, kind, method, path, body=None, category=None):
        t0 = now()
        try:
            r = cp_req(method, path, body)
        except Exception as e:  # refused, down, frozen: recorded, not retried
            self.rec.put("changes", kind=kind, ok=False, error=str(e)[:200])
            return None
        gen = r.get("generation")
        cat = category or ("controller_down" if not self.gwd_up else "normal")
        with self.lock:
            self.pending.append([gen, t0, kind, cat])
        self.rec.put("changes", kind=kind, ok=True, generation=gen, category=cat,
                     request_ms=round((now() - t0) * 1000, 1))
        return gen

    def synthetic_change(self):
        rng, syn = self.rng, self.syn
        kinds = ["add", "delete", "state", "rotate", "routing", "move"]
        kind = rng.choices(kinds, weights=[25, 15, 20, 20, 10, 10])[0]
        if kind != "add" and not syn:
            kind = "add"
        if kind == "add":
            net = rng.choice(list(NETS))
            d = syn_device(rng, self.next_idx, net)
            self.next_idx += 1
            if self.change("add", "PUT", "/admin/v1/networks/%s/devices/%s" %
                           (net, d["device_id"]), d):
                syn[d["device_id"]] = [net, "active", d]
            return
        did = rng.choice(list(syn))
        net, st, d = syn[did]
        if kind == "delete":
            if self.change("delete", "DELETE", "/admin/v1/devices/" + did):
                del syn[did]
        elif kind == "state":
            new = "disabled" if st == "active" else "active"
            if self.change("state", "PUT", "/admin/v1/devices/%s/state" % did,
                           {"state": new}):
                syn[did][1] = new
                d["state"] = new
        elif kind == "rotate":
            d = dict(d, public_key=rand_key(rng), key_generation=d["key_generation"] + 1)
            if self.change("rotate", "PUT", "/admin/v1/networks/%s/devices/%s" %
                           (net, did), d):
                syn[did][2] = d
        elif kind == "routing":
            pref = rng.choice([None, {"traffic_mode": "full_tunnel"},
                               {"traffic_mode": "vpn_only"}])
            self.change("routing", "PUT", "/api/v1/devices/%s/routing-preference" % did,
                        pref)
        elif kind == "move":
            # the same overlay address, now another tenant's device
            other = [n for n in NETS if n != net][0]
            if not self.change("move_out", "DELETE", "/admin/v1/devices/" + did):
                return
            del syn[did]
            nd = syn_device(rng, self.next_idx, other)
            self.next_idx += 1
            nd["overlay_ipv6"] = d["overlay_ipv6"]
            if self.change("move_in", "PUT", "/admin/v1/networks/%s/devices/%s" %
                           (other, nd["device_id"]), nd):
                syn[nd["device_id"]] = [other, "active", nd]

    def real_change(self, what, on):
        """Flip what the probes depend on; the expectations of the stateful
        pairs are "either" until the gateway applied it."""
        if what in ("alice", "carol"):
            dev = {"alice": "alice-laptop", "carol": "carol-desktop"}[what]
            gen = self.change("real_" + what, "PUT", "/admin/v1/devices/%s/state" % dev,
                              {"state": "active" if on else "disabled"})
        else:
            acl = self.engdb_acl if on else [r for r in self.engdb_acl
                                              if r.get("rule_id") != "eng-db"]
            gen = self.change("real_engdb", "PUT", "/admin/v1/networks/acme-prod/acl", acl)
        if gen is None:
            return False
        with self.lock:
            self.state[what] = on
            self.transition_until = float("inf")
            self.real_gen = gen
        return True

    def change_loop(self):
        real_next = now() + self.rng.uniform(20, 40)
        real_undo = None
        while now() < self.end:
            t = now()
            if self.cp_up:
                if real_undo and t >= real_undo[0]:
                    if self.real_change(real_undo[1], True):
                        real_undo = None
                        real_next = t + self.rng.uniform(30, 60)
                elif not real_undo and t >= real_next:
                    what = self.rng.choice(["alice", "carol", "engdb"])
                    if self.real_change(what, False):
                        real_undo = (t + self.rng.uniform(10, 20), what)
                else:
                    self.synthetic_change()
            time.sleep(max(0, 1.0 - (now() - t)))

    # ---- enforcement latency ----

    def enforcement_loop(self):
        while not self.stop.is_set():
            with self.lock:
                waiting = bool(self.pending)
            if not waiting:
                time.sleep(0.02)
                continue
            g = applied_generation()
            t = now()
            done = []
            with self.lock:
                if g is not None:
                    done = [p for p in self.pending if p[0] is not None and p[0] <= g]
                    self.pending = [p for p in self.pending if p not in done]
                if (g is not None and self.transition_until == float("inf") and
                        g >= self.real_gen):
                    # enforced now: the flows it cuts must be cut within the bound
                    self.transition_until = t
            for gen, t0, kind, cat in done:
                self.rec.put("changes", kind=kind, enforced=True, generation=gen,
                             category=cat, latency_ms=round((t - t0) * 1000, 1),
                             applied=g)
            time.sleep(0.02)

    def in_transition(self, t_start):
        with self.lock:
            # +8 s: a device enabled again is a new peer on wg0, and its
            # client needs a fresh handshake (REKEY_TIMEOUT 5 s) first
            return self.transition_until == float("inf") or t_start < self.transition_until + 8

    # ---- probes ----

    PROBES = [
        ("alice->acme-db tcp/5432", "alice", ["-t", "2", DB, "5432"]),
        ("bob->acme-db tcp/5432", "bob", ["-t", "2", DB, "5432"]),
        ("carol->acme-db tcp/5432", "carol", ["-t", "2", DB, "5432"]),
        ("alice->acme-db tcp/22", "alice", ["-t", "2", DB, "22"]),
        ("carol->globex-files tcp/7000", "carol", ["-t", "2", FILES, "7000"]),
        ("carol->alice tcp/7777", "carol", ["-t", "2", ALICE, "7777"]),
        ("bob->alice tcp/7777", "bob", ["-t", "2", ALICE, "7777"]),
        ("alice->internet udp/53", "alice", ["-t", "2", "-u", "192.0.2.53", "53"]),
    ]

    def nsexec(self, node, argv, timeout):
        return subprocess.run(["nsenter", "--target", self.pids[node], "--net", "--"] + argv,
                              capture_output=True, timeout=timeout)

    def probe_loop(self):
        while now() < self.end:
            for pair, node, args in self.PROBES:
                t0 = now()
                with self.lock:
                    want = self.expect(pair)
                try:
                    r = self.nsexec(node, [self.python, self.connect] + args, 10)
                    passed = r.returncode == 0
                except subprocess.TimeoutExpired:
                    passed = False
                either = pair in self.STATEFUL and (self.in_transition(t0) or
                                                    self.in_transition(now()))
                with self.lock:
                    want_end = self.expect(pair)
                if want_end != want:
                    either = True
                bad = (not either) and passed != want
                self.rec.put("probes", pair=pair, passed=passed,
                             want=None if either else want,
                             violation=bad, delivered_denied=bad and passed)
            time.sleep(2)

    # ---- long-lived flows ----

    FLOW_CLIENT = r'''
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
f = s.makefile("rb"); f.readline(); print("up", flush=True)
s.settimeout(5)
n = 0
while True:
    n += 1
    try:
        s.sendall(b"%d\n" % n)
        if f.readline().strip() != b"%d" % n:
            raise OSError("closed")
    except OSError as e:
        print("cut", e, flush=True); sys.exit(1)
    print("tick", flush=True); time.sleep(1)
'''

    def flow_loop(self, name, node, addr, port, cond):
        while now() < self.end:
            with self.lock:
                want = self.expect(cond)
            if not want or self.in_transition(now()):
                time.sleep(1)
                continue
            p = subprocess.Popen(["nsenter", "--target", self.pids[node], "--net", "--",
                                  self.python, "-c", self.FLOW_CLIENT, addr, str(port)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            opened, last_tick = now(), now()
            self.rec.put("flows", flow=name, event="open")
            while now() < self.end:
                line = p.stdout.readline()
                t = now()
                if line.startswith("up"):
                    self.rec.put("flows", flow=name, event="up")
                    continue
                if not line and t - opened < 4:
                    with self.lock:
                        want = self.expect(cond)
                    self.rec.put("flows", flow=name, event="open_failed",
                                 expected=(not want) or self.in_transition(opened))
                    break
                if not line or line.startswith("cut"):
                    with self.lock:
                        want = self.expect(cond)
                        enforced_at = self.transition_until
                        gwd_up, cp_up = self.gwd_up, self.cp_up
                    expected = (not want) or self.in_transition(last_tick)
                    # What tells a cut from a stall: the client's error (a
                    # reset or close is a cut; a timeout is either), the
                    # gateway's drops that moved since the last sample, and
                    # the faults in progress.
                    self.rec.put("flows", flow=name, event="cut", expected=expected,
                                 lived_s=round(t - opened, 1),
                                 after_enforced_s=None if enforced_at == float("inf")
                                 else round(t - enforced_at, 2),
                                 error=line[4:].strip() if line else "client exited",
                                 drops_moved=self.drops_moved(), gatewayd_up=gwd_up,
                                 cp_up=cp_up)
                    break
                last_tick = t
                with self.lock:
                    want = self.expect(cond)
                    enforced_at = self.transition_until
                if not want and enforced_at != float("inf") and t > enforced_at + 3:
                    # still echoing 3 s after a change that must cut it
                    self.rec.put("flows", flow=name, event="survived", expected=False,
                                 after_enforced_s=round(t - enforced_at, 2))
                    break
            p.kill()
            p.wait()
            time.sleep(1)

    # ---- faults ----

    def fault_loop(self):
        rng = self.rng
        nxt = {"kill_gatewayd": now() + rng.uniform(60, 180),
               "restart_cp": now() + rng.uniform(120, 300),
               "freeze_cp": now() + rng.uniform(150, 400)}
        while now() < self.end - 30:
            kind = min(nxt, key=nxt.get)
            time.sleep(max(0, nxt[kind] - now()))
            if now() >= self.end - 30:
                break
            t0 = now()
            if kind == "kill_gatewayd":
                self.gwd_up = False
                self.gwd.signal(signal.SIGKILL)
                self.gwd.wait_gone()
                down = rng.uniform(0, 5)
                time.sleep(down)
                self.gwd.start()
                self.gwd_up = True
                detail = {"down_s": round(down, 1)}
                nxt[kind] = now() + rng.uniform(120, 300)
            elif kind == "restart_cp":
                self.cp_up = False
                self.cp.signal(signal.SIGTERM)
                self.cp.wait_gone()
                down = rng.uniform(1, 10)
                time.sleep(down)
                self.cp.start()
                ok = self.wait_cp()
                self.cp_up = ok
                detail = {"down_s": round(down, 1), "back": ok}
                nxt[kind] = now() + rng.uniform(180, 400)
            else:
                self.cp_up = False
                self.cp.signal(signal.SIGSTOP)
                down = rng.uniform(5, 30)
                time.sleep(down)
                self.cp.signal(signal.SIGCONT)
                self.cp_up = self.wait_cp()
                detail = {"frozen_s": round(down, 1)}
                nxt[kind] = now() + rng.uniform(200, 500)
            self.rec.put("faults", kind=kind, took_s=round(now() - t0, 1), **detail)

    def wait_cp(self):
        end = now() + 20
        while now() < end:
            try:
                cp_req("GET", "/admin/v1/state", timeout=2)
                return True
            except Exception:
                time.sleep(0.2)
        return False

    # ---- samples ----

    def drops(self):
        """Drops by reason from the pinned maps (nanami-gwctl stats), or None."""
        try:
            out = subprocess.run([self.gwctl, "-j", "stats"], capture_output=True,
                                 timeout=10, check=True).stdout
            return {r: v["packets"] for r, v in json.loads(out)["drops"].items()}
        except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
            return None

    def drops_moved(self):
        """The reasons whose drop count moved since the last sample."""
        cur, last = self.drops(), self.last_drops
        if cur is None or last is None:
            return None
        return {r: n - last.get(r, 0) for r, n in cur.items() if n != last.get(r, 0)}

    def sample_loop(self):
        while not self.stop.is_set():
            self.last_drops = self.drops() or self.last_drops
            rss = cp_rss = maps = None
            try:
                for line in open("/proc/%d/status" % self.gwd.pid):
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                for line in open("/proc/%d/status" % self.cp.pid):
                    if line.startswith("VmRSS:"):
                        cp_rss = int(line.split()[1]) * 1024
            except OSError:
                pass
            maps = map_memlock(self.gwd.pid)
            self.rec.put("samples", gatewayd_rss=rss, cp_rss=cp_rss, map_bytes=maps,
                         devices=len(self.syn))
            self.stop.wait(10)

    def run(self):
        threads = [threading.Thread(target=f, daemon=True) for f in
                   (self.enforcement_loop, self.probe_loop, self.fault_loop, self.sample_loop)]
        threads += [threading.Thread(target=self.flow_loop, daemon=True, args=a) for a in
                    (("alice->acme-db tcp/5432", "alice", DB, 5432,
                      "alice->acme-db tcp/5432"),
                     ("carol->globex-files tcp/7000", "carol", FILES, 7000,
                      "carol->globex-files tcp/7000"))]
        for t in threads:
            t.start()
        self.change_loop()
        time.sleep(5)           # the last changes' enforcement
        self.stop.set()
        for t in threads:
            t.join(timeout=15)
        with self.lock:
            for gen, t0, kind, cat in self.pending:
                self.rec.put("changes", kind=kind, enforced=False, generation=gen,
                             category=cat)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "seed":
        seed(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 2 and sys.argv[1] == "run":
        Soak().run()
    else:
        sys.exit("usage: driver.py seed SNAPSHOT N | run")


if __name__ == "__main__":
    main()
