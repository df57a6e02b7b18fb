# SPDX-License-Identifier: GPL-2.0
"""cpworld - the reference control plane's world, changed in place.

The world (cpstate's shape; each network's "devices" a cpstate.Devs) with
indexes (network id -> (tenant, network), device id -> (tenant, network),
node id -> node), so one change costs the same at 10 devices and at 1M:
the primitives below find, change and log one object and never copy the
world.

Each primitive returns its "touches", the change log's unit:
  ("gw", node_id)                       a gateway block changed
  ("node", node_id, how)                an overlay node
  ("net", nid, gateways_before)         a network's own fields (not devices)
  ("dev", nid, device_id, how)          a device of network nid
with how "mod" (replaced in place: it existed and keeps its position),
"new" (appended: it did not exist) or "del" (removed).

?since=M for gateway X merges the touches of generations M+1..N per object
(delta()): an object that existed at M and still does, never removed in
between, is an upsert in place; one removed is a delete; one (re)appended
is an upsert at the end, in the order of the appends, after a delete when
it existed at M. The position rule is checked against the live world (the
appended objects must be the tail of their list, in that order); a change
of the gateway block of X, a network entering or leaving X's view, a
replaced world (barrier, the log starts again) or a world with duplicate
or id-less entries (dirty) answers None: 410, a full snapshot.
"""
import json

import cpstate
from cpstate import Devs

KEEP_FIELDS = ("users", "devices")


def _text(x):
    return isinstance(x, str)


class World:
    def __init__(self, w):
        self.replace(w)

    # ---- indexes ----

    def replace(self, w):
        """Install a plain world (seed, admin replace, state file)."""
        self.w = w
        self.reindex()

    def reindex(self):
        """Rebuild every index; O(world): loading and replacing only, or a
        change to a dirty world."""
        w = self.w
        self.nets, self.devs, self.nodes = {}, {}, {}
        dirty = False
        for n in w.get("nodes") or []:
            nid = n.get("node_id") if isinstance(n, dict) else None
            if not _text(nid) or nid in self.nodes:
                dirty = True
            else:
                self.nodes[nid] = n
        for t in w.get("tenants") or []:
            if not isinstance(t, dict) or not isinstance(t.get("networks", []), list):
                dirty = True
                continue
            for net in t.get("networks") or []:
                nid = net.get("network_id") if isinstance(net, dict) else None
                if not _text(nid) or nid in self.nets:
                    dirty = True
                    continue
                self.nets[nid] = (t, net)
                devs = net.get("devices")
                if isinstance(devs, list):
                    devs = net["devices"] = Devs(devs)
                if not isinstance(devs, Devs):
                    dirty = dirty or devs is not None
                    continue
                dirty = dirty or devs.dirty
                for did in devs.d:
                    if not _text(did):
                        continue
                    if did in self.devs:
                        dirty = True        # one id in two networks
                    else:
                        self.devs[did] = (t, net)
        self.dirty = dirty

    def find_network(self, nid):
        """(tenant, network) or None."""
        return self.nets.get(nid)

    def find_device(self, did):
        """(tenant, device, network) or None: the first in world order."""
        hit = self.devs.get(did)
        if hit is None:
            return None
        return hit[0], hit[1]["devices"].get(did), hit[1]

    def device_count(self):
        return len(self.devs)

    # ---- primitives: change one object in place, return the touches ----

    def dev_put(self, nid, dev):
        """Upsert dev in network nid (replace in place, or append)."""
        t, net = self.nets[nid]
        devs = net.get("devices")
        if not isinstance(devs, Devs):
            devs = net["devices"] = Devs(devs or [])
        how = devs.put(dev)
        other = self.devs.get(dev["device_id"])
        if self.dirty or (other is not None and other[1] is not net):
            self.reindex()      # dirty, or now one id in two networks
        else:
            self.devs[dev["device_id"]] = (t, net)
        return [("dev", nid, dev["device_id"], how)]

    def dev_del(self, did):
        t, dev, net = self.find_device(did)
        net["devices"].delete(did)
        if self.dirty:
            self.reindex()
        else:
            del self.devs[did]
        return [("dev", net["network_id"], did, "del")]

    def net_set(self, nid, field, value):
        """Set one of a network's own fields (acl, routing_policy)."""
        if field in KEEP_FIELDS:
            raise ValueError("net_set of %s" % field)
        net = self.nets[nid][1]
        before = tuple(g for g in net.get("gateways") or [] if _text(g))
        net[field] = value
        return [("net", nid, before)]

    def set_key(self, node_id, key, gen):
        """A gateway's key in its block and its node entry (cpident)."""
        import cpident
        cpident._set_key(self.w, node_id, key, gen)
        out = [("gw", node_id)]
        if node_id in self.nodes:
            out.append(("node", node_id, "mod"))
        return out

    # ---- deltas ----

    def in_view(self, net, x):
        return x in (net.get("gateways") or [])

    def delta(self, log, x, m, n):
        """The contract's changes from generation m to n (current) for
        gateway x, from log {generation: touches}; None -> 410."""
        if self.dirty:
            return None
        ev = {}         # object -> [first how, last how, removed?, order of last append]
        order = 0
        whole = {}      # network id -> True: upsert the whole network
        for g in range(m + 1, n + 1):
            for t in log[g]:
                kind = t[0]
                if kind == "gw":
                    if t[1] == x:
                        return None     # no change kind for the gateway block
                    continue
                if kind == "net":
                    hit = self.nets.get(t[1])
                    if hit is None or (x in t[2]) != self.in_view(hit[1], x):
                        return None     # entering / leaving the view
                    if x in t[2]:
                        whole[t[1]] = True
                    continue
                if kind == "node":
                    if t[1] == x:
                        continue        # not in x's own view
                    key = ("node", t[1])
                    how = t[2]
                else:
                    key = ("dev", t[1], t[2])
                    how = t[3]
                order += 1
                e = ev.get(key)
                if e is None:
                    e = ev[key] = [how, how, False, 0]
                e[1] = how
                if how == "del":
                    e[2] = True
                elif how == "new":
                    e[3] = order
        dels, mods, appends = [], [], {}
        for key, (first, last, removed, aorder) in ev.items():
            if key[0] == "dev":
                hit = self.nets.get(key[1])
                if hit is None or key[1] in whole or not self.in_view(hit[1], x):
                    continue
                tid = hit[0].get("tenant_id")
                scope = (tid, key[1])
            else:
                scope = (None, None)
            existed = first != "new"
            exists = last != "del"
            moved = removed or (existed and aorder)
            if existed and (not exists or moved):
                dels.append((key, scope))
            if exists and existed and not moved:
                mods.append((key, scope))
            elif exists:
                appends.setdefault(key[:-1], []).append((aorder, key, scope))
        changes = [self._change("delete", k, s) for k, s in dels]
        changes += [self._change("upsert", k, s) for k, s in mods]
        for cont, items in appends.items():
            items.sort()
            if not self._is_tail(cont, x, [k[-1] for _, k, _ in items]):
                return None
            changes += [self._change("upsert", k, s) for _, k, s in items]
        for nid in whole:
            t, net = self.nets[nid]
            changes.append(cpstate._change("upsert", "network", nid, t.get("tenant_id"),
                                           value=net))
        return {"generation": n, "since": m, "full": False, "changes": changes}

    def _change(self, op, key, scope):
        if key[0] == "node":
            return cpstate._change(op, "node", key[1], value=self.nodes.get(key[1]))
        return cpstate._change(op, "device", key[2], scope[0], scope[1],
                               value=self.nets[key[1]][1]["devices"].get(key[2]))

    def _is_tail(self, cont, x, ids):
        """ids (in order) are the last entries of their list in x's view."""
        if cont[0] == "node":
            tail = []
            for nd in reversed(self.w["nodes"]):
                if len(tail) == len(ids):
                    break
                if nd.get("node_id") != x:
                    tail.append(nd.get("node_id"))
        else:
            tail = self.nets[cont[1]][1]["devices"].tail(len(ids))
        return tail[::-1] == ids


def check_delta(old_world_json, new_view_json, x, m, d):
    """The exact check: delta d applied to the snapshot of generation m
    (from the serialised world) gives the current snapshot. O(world):
    small worlds and tests only (--check-deltas)."""
    old = cpstate.view(json.loads(old_world_json), x, m)
    try:
        return cpstate.apply(old, json.loads(cpstate.dumps(d))) == json.loads(new_view_json)
    except (KeyError, ValueError, TypeError):
        return False
