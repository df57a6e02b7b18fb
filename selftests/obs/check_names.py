#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""check_names: every metric the alert rules and the dashboard query is one
the gateway exports, judged against a real scrape of the daemon's /metrics.

    check_names.py SCRAPE RULES.yml DASHBOARD.json

Prints TAP lines ("ok - ..." / "not ok - ..."), one per file checked, and
exits 1 when any failed. The exported names are read from the scrape only
(never from a list kept here): each family's "# TYPE" line (a family with no
series yet, e.g. per-device counters before traffic, is still exported) and
each sample's name (a histogram is queried through _bucket/_sum/_count).

The metric names of an expression are found by a small PromQL lexer: strings,
label matchers {...}, ranges [...] and label lists of by/without/on/ignoring/
group_left/group_right are removed; what remains is function calls (a name
followed by "("), keywords, numbers and metric names.

PENDING names are metrics other work in flight adds (named in its brief):
they are allowed while absent from the scrape, each reported on a "#" line,
and reported as no longer pending once the scrape has them.
"""
import json
import re
import sys

import yaml

PENDING = {
    "nanami_key_rotation_failures_total": "the gateway's identity (issue 12, key rotation)",
    "nanami_certificate_expiry_timestamp_seconds": "the gateway's identity (issue 12, renewal)",
}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "atan2", "inf", "nan"}
IDENT = re.compile(r"(?<![A-Za-z0-9_.:$])[A-Za-z_:][A-Za-z0-9_:]*")


def exported(scrape):
    names = set()
    for line in scrape.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            if kind.strip() in ("histogram", "summary"):
                names.update(name + s for s in ("_bucket", "_sum", "_count"))
            else:
                names.add(name)
        elif line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def _strip_nested(expr, open_c, close_c):
    out, depth = [], 0
    for c in expr:
        if c == open_c:
            depth += 1
        elif c == close_c and depth:
            depth -= 1
        elif not depth:
            out.append(c)
    return "".join(out)


def metric_names(expr):
    """The metric names PromQL @expr selects."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    e = _strip_nested(e, "{", "}")
    e = _strip_nested(e, "[", "]")
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in IDENT.finditer(e):
        tok = m.group(0)
        if tok.lower() in KEYWORDS or re.match(r"\s*\(", e[m.end():]):
            continue
        names.add(tok)
    return names


def rule_exprs(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    for g in doc["groups"]:
        for r in g["rules"]:
            yield r.get("alert") or r.get("record"), r["expr"]


def dashboard_exprs(path):
    with open(path) as f:
        doc = json.load(f)
    for p in doc["panels"]:
        if not p.get("targets"):
            yield "panel %r" % p.get("title"), ""  # a panel without a query
        for t in p.get("targets", []):
            yield "panel %r %s" % (p["title"], t.get("refId")), t.get("expr", "")
    for v in doc.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.match(r"\s*label_values\(\s*(.*),\s*[A-Za-z_]\w*\s*\)\s*$", q)
        yield "variable %r" % v["name"], m.group(1) if m else q


def check(what, exprs, have):
    bad, pending = [], set()
    n = 0
    for where, expr in exprs:
        n += 1
        names = metric_names(expr)
        if not names:
            bad.append("%s: names no metric: %r" % (where, expr))
        for name in sorted(names):
            if name in have:
                continue
            if name in PENDING:
                pending.add(name)
                continue
            bad.append("%s: %s is not exported by the gateway" % (where, name))
    for name in sorted(pending):
        print("# %s: %s not exported by this build yet: pending, from %s"
              % (what, name, PENDING[name]))
    for name in sorted(set(PENDING) & have):
        print("# %s: %s is exported now: no longer pending" % (what, name))
    for b in bad:
        print("#   " + b)
    ok = not bad and n > 0
    print("%s - %s: every query (%d) names only metrics the gateway exports"
          % ("ok" if ok else "not ok", what, n))
    return ok


def check_layout(path):
    """The dashboard as Grafana needs it: unique panel ids, unique refIds in
    a panel, every query on the $datasource variable, panels inside the
    24-column grid and not overlapping."""
    with open(path) as f:
        doc = json.load(f)
    bad, cells, ids = [], {}, set()
    for p in doc["panels"]:
        t = p.get("title")
        if p.get("id") in ids:
            bad.append("panel %r: id %s used twice" % (t, p.get("id")))
        ids.add(p.get("id"))
        refs = [q.get("refId") for q in p.get("targets", [])]
        if len(refs) != len(set(refs)):
            bad.append("panel %r: refIds %s not unique" % (t, refs))
        for q in [p] + p.get("targets", []):
            if q.get("datasource", {}).get("uid") != "${datasource}":
                bad.append("panel %r: a query not on the ${datasource} variable" % t)
        g = p["gridPos"]
        if g["x"] < 0 or g["w"] <= 0 or g["h"] <= 0 or g["x"] + g["w"] > 24:
            bad.append("panel %r: gridPos %s outside the 24-column grid" % (t, g))
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    bad.append("panel %r overlaps panel %r" % (t, cells[(x, y)]))
                    break
                cells[(x, y)] = t
            else:
                continue
            break
    for b in bad:
        print("#   " + b)
    print("%s - dashboard layout: %d panels, unique ids and refIds, on $datasource, "
          "no overlap" % ("ok" if not bad else "not ok", len(doc["panels"])))
    return not bad


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        have = exported(f.read())
    if not any(n.startswith("nanami_") for n in have):
        print("not ok - the scrape %s holds no nanami_ metric" % sys.argv[1])
        return 1
    ok = check("alert rules", rule_exprs(sys.argv[2]), have)
    ok &= check("dashboard", dashboard_exprs(sys.argv[3]), have)
    ok &= check_layout(sys.argv[3])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
