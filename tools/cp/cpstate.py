# SPDX-License-Identifier: GPL-2.0
"""cpstate - the reference control plane's data model (tools/cp/nanami-cp).

The world: {"system_defaults", "gateways": {node_id: gateway block},
"nodes": [every overlay node], "tenants": [...]}. A gateway's snapshot
(docs/assignments-v1.md) is a view of it: its own gateway block, every
other node, and the networks that list it in "gateways".

Deltas are built by cpworld from the log of what each change touched;
apply() here is the exact check of one (--check-deltas, tests), with the
same rules as user/cp/client.c's nn_cp_delta_apply():
  upsert: replace the object with that id in place, or append it;
  delete: remove it (it must exist);
  node: in "nodes"; tenant: in "tenants"; network: in the tenant's
  "networks"; user, device: in the network's "users" / "devices".
"""
import copy
import json

ID_KEY = {"node": "node_id", "tenant": "tenant_id", "network": "network_id",
          "user": "user_id", "device": "device_id"}
LAYER_KEYS = ("traffic_mode", "routing_mode", "ingress_device", "egress_device")


class Invalid(Exception):
    """A request the control plane refuses; field names what is wrong."""

    def __init__(self, msg, field, status=422):
        super().__init__(msg)
        self.msg, self.field, self.status = msg, field, status


def no_dup_keys(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key %r" % k)
        d[k] = v
    return d


class Devs:
    """A network's "devices" inside the control plane: an ordered map
    device_id -> device, so finding, replacing in place, deleting and
    appending one device cost O(1) at any size. Insertion order is list
    order, and the contract's upsert / delete (replace in place or append;
    remove) are exactly a dict's item assignment and deletion. It is
    serialised as the list it stands for (enc()).

    An entry that is not an object with a string device_id, or whose id
    repeats (admin replaces feed bad content on purpose), gets a private
    key: it is kept and served as it came, in its place, and dirty is set
    (the world then serves no deltas, cpworld)."""

    __slots__ = ("d", "dirty", "_n")

    def __init__(self, items=()):
        self.rebuild(list(items))

    def rebuild(self, items):
        self.d, self.dirty, self._n = {}, False, 0
        for x in items:
            did = x.get("device_id") if isinstance(x, dict) else None
            if not isinstance(did, str) or did in self.d:
                self._n += 1
                self.d[("#", self._n)] = x
                self.dirty = True
            else:
                self.d[did] = x

    def __iter__(self):
        return iter(self.d.values())

    def __len__(self):
        return len(self.d)

    def __eq__(self, other):
        return list(self) == list(other) if isinstance(other, (Devs, list)) else NotImplemented

    def get(self, did):
        return self.d.get(did)

    def put(self, dev):
        """Upsert by device_id: "mod" (replaced in place) or "new" (appended)."""
        did = dev["device_id"]
        how = "mod" if did in self.d else "new"
        self.d[did] = dev
        return how

    def delete(self, did):
        del self.d[did]
        if self.dirty:      # a repeated id behind it becomes reachable by id
            self.rebuild(list(self.d.values()))

    def tail(self, k):
        """The ids of the last k entries, last first."""
        out = []
        for key in reversed(self.d):
            if len(out) == k:
                break
            out.append(key)
        return out


def enc(o):
    """json default= hook: a Devs is the list it stands for."""
    if isinstance(o, Devs):
        return list(o.d.values())
    raise TypeError("%s is not JSON serialisable" % type(o).__name__)


def dumps(obj):
    return (json.dumps(obj, separators=(", ", ": "), default=enc) + "\n").encode()


def empty_world():
    return {"system_defaults": {"traffic_mode": "vpn_only", "routing_mode": "auto"},
            "gateways": {}, "nodes": [], "tenants": []}


def _merge_list(dst, src, key):
    for item in src:
        for i, old in enumerate(dst):
            if old.get(key) == item.get(key):
                dst[i] = item
                break
        else:
            dst.append(item)


def merge_snapshot(world, snap):
    """Fold one gateway's snapshot into the world (seeding, admin replace)."""
    node_id = snap.get("node_id")
    if not isinstance(node_id, str) or not isinstance(snap.get("gateway"), dict):
        raise Invalid("snapshot needs node_id and gateway", "node_id", 400)
    world["gateways"][node_id] = snap["gateway"]
    if "system_defaults" in snap:
        world["system_defaults"] = snap["system_defaults"]
    _merge_list(world["nodes"], snap.get("nodes") or [], "node_id")
    for t in snap.get("tenants") or []:
        for wt in world["tenants"]:
            if wt.get("tenant_id") == t.get("tenant_id"):
                _merge_list(wt.setdefault("networks", []), t.get("networks") or [],
                            "network_id")
                break
        else:
            world["tenants"].append(copy.deepcopy(t))


def view(world, node_id, generation):
    """The snapshot for gateway node_id (shares objects with world)."""
    tenants = []
    for t in world["tenants"]:
        nets = [n for n in t.get("networks") or [] if node_id in (n.get("gateways") or [])]
        if nets:
            tv = {k: v for k, v in t.items() if k != "networks"}
            tv["networks"] = nets
            tenants.append(tv)
    return {"api_version": "v1", "node_id": node_id, "generation": generation,
            "gateway": world["gateways"][node_id],
            "system_defaults": world["system_defaults"],
            "nodes": [n for n in world["nodes"] if n.get("node_id") != node_id],
            "tenants": tenants}


def find_network(world, network_id):
    """(tenant, network) or None."""
    for t in world["tenants"]:
        for n in t.get("networks") or []:
            if n.get("network_id") == network_id:
                return t, n
    return None


def find_device(world, device_id):
    """(tenant, device, network) or None."""
    for t in world["tenants"]:
        for n in t.get("networks") or []:
            for d in n.get("devices") or []:
                if d.get("device_id") == device_id:
                    return t, d, n
    return None


def node_roles(world, node_id):
    if node_id in world["gateways"]:
        return world["gateways"][node_id].get("roles") or []
    for n in world["nodes"]:
        if n.get("node_id") == node_id:
            return n.get("roles") or []
    return None


def check_layer(world, net, val, field):
    """The seed's validation of one routing layer for network net."""
    if val is None:
        return
    if not isinstance(val, dict):
        raise Invalid("%s must be an object or null" % field, field)
    for k in val:
        if k not in LAYER_KEYS:
            raise Invalid("unknown field %s" % k, k)
    enums = {"traffic_mode": ("vpn_only", "full_tunnel"), "routing_mode": ("auto", "manual")}
    for k, allowed in enums.items():
        if val.get(k) is not None and val[k] not in allowed:
            raise Invalid("%s must be one of %s or null" % (k, ", ".join(allowed)), k)
    for k, role in (("ingress_device", "ingress_gateway"), ("egress_device", "exit_gateway")):
        g = val.get(k)
        if g is None:
            continue
        if not isinstance(g, str):
            raise Invalid("%s must be a node id or null" % k, k)
        # Listed in the network's gateways = same tenant and target network.
        if g not in (net.get("gateways") or []):
            raise Invalid("%s %s is not a gateway of network %s" %
                          (k, g, net.get("network_id")), k)
        roles = node_roles(world, g)
        if roles is None:
            raise Invalid("%s %s is not a known node" % (k, g), k)
        if role not in roles:
            raise Invalid("%s %s does not have the %s role" % (k, g, role), k)


# ---- deltas ----

def _change(op, kind, oid, tenant=None, network=None, value=None):
    c = {"op": op, "kind": kind, "id": oid, "tenant_id": tenant, "network_id": network}
    if op == "upsert":
        c["value"] = value
    return c


def _container(snap, c):
    kind = c["kind"]
    if kind == "node":
        return snap.setdefault("nodes", [])
    if kind == "tenant":
        return snap.setdefault("tenants", [])
    t = [x for x in snap["tenants"] if x.get("tenant_id") == c["tenant_id"]]
    if not t:
        raise KeyError("tenant %s" % c["tenant_id"])
    if kind == "network":
        return t[0].setdefault("networks", [])
    n = [x for x in t[0]["networks"] if x.get("network_id") == c["network_id"]]
    if not n:
        raise KeyError("network %s" % c["network_id"])
    return n[0].setdefault("users" if kind == "user" else "devices", [])


def apply(snap, d):
    """Apply delta d to a deep copy of snap (the reference for the C apply)."""
    out = copy.deepcopy(snap)
    if d["since"] != out["generation"]:
        raise ValueError("delta since %s, base %s" % (d["since"], out["generation"]))
    for c in d["changes"]:
        lst = _container(out, c)
        key = ID_KEY[c["kind"]]
        idx = [i for i, x in enumerate(lst) if x.get(key) == c["id"]]
        if c["op"] == "delete":
            if not idx:
                raise KeyError(c["id"])
            del lst[idx[0]]
        elif idx:
            lst[idx[0]] = copy.deepcopy(c["value"])
        else:
            lst.append(copy.deepcopy(c["value"]))
    out["generation"] = d["generation"]
    return out
