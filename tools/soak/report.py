#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tools/soak/report.py DIR [--minutes M --devices N --seed S --wg KIND]:
DIR/report.md (and DIR/*.png) from the records tools/soak/driver.py wrote.
Exit status 1 when a check failed:
- a probe that must drop was delivered (cross-tenant above all), or one that
  must pass did not;
- a long-lived flow cut when nothing should have cut it, or not cut (still
  echoing 3 s after) a change that must cut it was enforced;
- a change never enforced, or one made with the stream up and the
  controller running enforced later than its bound (1 s);
- the controller's RSS or its maps' memory growing: the last quarter's
  median over the first quarter's (after the first 2 minutes) above 1.2."""
import argparse
import collections
import json
import os
import statistics
import sys

BOUND_MS = 1000


def load(d, kind):
    try:
        return [json.loads(line) for line in open(os.path.join(d, kind + ".jsonl"))]
    except FileNotFoundError:
        return []


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def fmt(x, unit=""):
    return "-" if x is None else ("%.0f%s" % (x, unit) if x >= 10 else "%.1f%s" % (x, unit))


def quarter_ratio(samples, key):
    s = [(r["t"], r[key]) for r in samples if r.get(key) and r["t"] >= 120]
    if len(s) < 8:
        return None, None, None
    q = len(s) // 4
    first = statistics.median(v for _, v in s[:q])
    last = statistics.median(v for _, v in s[-q:])
    return first, last, last / first


def plots(d, samples, changes):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["(no plots: python3-matplotlib is not installed)"]
    out = []
    fig, ax = plt.subplots(figsize=(9, 3.5))
    t = [r["t"] / 60 for r in samples]
    for key, label in (("gatewayd_rss", "nanami-gatewayd RSS"), ("map_bytes", "its maps"),
                       ("cp_rss", "reference control plane RSS")):
        ax.plot(t, [(r.get(key) or 0) / 2**20 for r in samples], label=label)
    ax.set_xlabel("minutes")
    ax.set_ylabel("MiB")
    ax.legend(loc="upper left")
    ax.set_title("memory over the soak")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "memory.png"), dpi=90)
    out.append("![memory](memory.png)")
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for cat, mark in (("normal", "."), ("controller_down", "x")):
        pts = [(c["t"] / 60, c["latency_ms"]) for c in changes
               if c.get("enforced") and c.get("category") == cat]
        if pts:
            ax.scatter(*zip(*pts), s=6, marker=mark, label=cat)
    ax.axhline(BOUND_MS, color="red", linewidth=0.8, label="bound (stream up)")
    ax.set_yscale("log")
    ax.set_xlabel("minutes")
    ax.set_ylabel("event to enforcement, ms")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "latency.png"), dpi=90)
    out.append("![latency](latency.png)")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--minutes")
    ap.add_argument("--devices")
    ap.add_argument("--seed")
    ap.add_argument("--wg")
    a = ap.parse_args()
    d = a.dir
    changes, probes, flows = load(d, "changes"), load(d, "probes"), load(d, "flows")
    faults, samples = load(d, "faults"), load(d, "samples")
    fails = []
    md = ["# Soak report", "",
          "%s min, %s devices, seed %s, WireGuard: %s (tools/soak/soak.sh)." %
          (a.minutes, a.devices, a.seed, a.wg), ""]

    made = [c for c in changes if "ok" in c]
    enforced = [c for c in changes if c.get("enforced")]
    lost = [c for c in changes if c.get("enforced") is False]
    kinds = collections.Counter(c["kind"] for c in made if c["ok"])
    refused = [c for c in made if not c["ok"]]
    md += ["## Changes", "",
           "%d made (%s); %d requests failed (the control plane down or frozen: "
           "expected during its faults)." % (len(made) - len(refused), ", ".join(
               "%s %d" % kv for kv in sorted(kinds.items())), len(refused)), "",
           "| category | enforced | p50 ms | p99 ms | max ms | bound |", "| --- | --- | --- | --- | --- | --- |"]
    for cat in ("normal", "controller_down"):
        lat = [c["latency_ms"] for c in enforced if c.get("category") == cat]
        over = [x for x in lat if x > BOUND_MS]
        bound = "%d ms, %d over" % (BOUND_MS, len(over)) if cat == "normal" else \
            "restart + sync"
        md.append("| %s | %d | %s | %s | %s | %s |" % (cat, len(lat), fmt(pct(lat, 50)),
                                                   fmt(pct(lat, 99)), fmt(pct(lat, 100)), bound))
    # "normal" changes over the bound: fail unless a fault explains them
    # (a control-plane restart or freeze right before: the stream was down).
    fault_times = [(f["t"] - f["took_s"], f["t"] + 10) for f in faults]
    normal_late = [c for c in enforced if c.get("category") == "normal" and
                   c["latency_ms"] > BOUND_MS and
                   not any(lo <= c["t"] <= hi for lo, hi in fault_times)]
    if normal_late:
        fails.append("%d changes enforced later than %d ms with no fault around them "
                     "(worst %.0f ms)" % (len(normal_late), BOUND_MS,
                                          max(c["latency_ms"] for c in normal_late)))
    if lost:
        fails.append("%d changes never enforced" % len(lost))
    md.append("")

    md += ["## Probes", "", "| pair | runs | passed | must drop: delivered | must pass: "
           "failed | in transition |", "| --- | --- | --- | --- | --- | --- |"]
    by = collections.defaultdict(list)
    for p in probes:
        by[p["pair"]].append(p)
    for pair, ps in by.items():
        delivered = sum(1 for p in ps if p["want"] is False and p["passed"])
        failed = sum(1 for p in ps if p["want"] is True and not p["passed"])
        md.append("| %s | %d | %d | %d | %d | %d |" % (
            pair, len(ps), sum(p["passed"] for p in ps), delivered, failed,
            sum(1 for p in ps if p["want"] is None)))
        if delivered:
            fails.append("%s: %d probes that must drop were delivered" % (pair, delivered))
        if failed:
            fails.append("%s: %d probes that must pass failed" % (pair, failed))
    md.append("")

    md += ["## Long-lived flows", "", "| flow | opened | cut as expected | cut unexpectedly "
           "| survived a cutting change | cut after enforcement, max s |",
           "| --- | --- | --- | --- | --- | --- |"]
    byf = collections.defaultdict(list)
    cuts = []
    for f in flows:
        byf[f["flow"]].append(f)
    for name, fs in byf.items():
        exp = [f for f in fs if f["event"] == "cut" and f["expected"]]
        unexp = [f for f in fs if f["event"] == "cut" and not f["expected"]]
        surv = [f for f in fs if f["event"] == "survived"]
        nopen = [f for f in fs if f["event"] == "open_failed" and not f["expected"]]
        if nopen:
            fails.append("%s: could not open %d times when it must pass" % (name, len(nopen)))
        after = [f["after_enforced_s"] for f in exp if f.get("after_enforced_s") is not None]
        md.append("| %s | %d | %d | %d | %d | %s |" % (
            name, sum(f["event"] == "up" for f in fs), len(exp), len(unexp), len(surv),
            fmt(max(after) if after else None)))
        if unexp:
            fails.append("%s: cut %d times with nothing to cut it" % (name, len(unexp)))
            for f in unexp[:10]:
                cuts.append("| %s | %.0f | %s | %s | %s | %s |" % (
                    name, f["t"], f.get("error", "?"),
                    ", ".join("%s +%d" % kv for kv in sorted((f.get("drops_moved") or {}).items()))
                    or "none", "up" if f.get("gatewayd_up", True) else "**down**",
                    "up" if f.get("cp_up", True) else "**down**"))
        if surv:
            fails.append("%s: survived %d changes that must cut it" % (name, len(surv)))
    md.append("")
    if cuts:
        md += ["Unexpected cuts (the first ten of each flow): the client's error, the "
               "gateway's drops that moved since the last 10 s sample (none: the packets "
               "were not dropped by the dataplane, a stall or a loss elsewhere), the "
               "controller and the control plane at that moment.", "",
               "| flow | t, s | error | drops moved | controller | control plane |",
               "| --- | --- | --- | --- | --- | --- |"] + cuts + [""]

    md += ["## Faults", "", "| fault | times | took, s (max) |", "| --- | --- | --- |"]
    for kind in sorted({f["kind"] for f in faults}):
        fs = [f for f in faults if f["kind"] == kind]
        md.append("| %s | %d | %s |" % (kind, len(fs), fmt(max(f["took_s"] for f in fs))))
    md.append("")

    md += ["## Memory", "", "| | first quarter (median) | last quarter | ratio |",
           "| --- | --- | --- | --- |"]
    for key, label in (("gatewayd_rss", "nanami-gatewayd RSS"), ("map_bytes", "its maps"),
                       ("cp_rss", "control plane RSS (reference, not the product)")):
        first, last, ratio = quarter_ratio(samples, key)
        md.append("| %s | %s | %s | %s |" % (
            label, fmt(first and first / 2**20, " MiB"), fmt(last and last / 2**20, " MiB"),
            "-" if ratio is None else "%.2f" % ratio))
        if ratio is not None and ratio > 1.2 and key != "cp_rss":
            fails.append("%s grew: %.2fx from the first to the last quarter" % (label, ratio))
    # A soak that did little proves little: at least one change every two
    # seconds, a probe round every 30 s and a sample a minute.
    secs = float(a.minutes or 0) * 60
    if len(made) < secs / 2:
        fails.append("only %d changes made in %.0f s" % (len(made), secs))
    if len(probes) < secs / 30 * len(by or [0]):
        fails.append("only %d probes in %.0f s" % (len(probes), secs))
    if len(samples) < secs / 60:
        fails.append("only %d samples in %.0f s" % (len(samples), secs))
    md += [""] + plots(d, samples, enforced) + [""]

    md += ["## Verdict", ""]
    md += ["- FAIL: " + f for f in fails] or ["All checks held."]
    open(os.path.join(d, "report.md"), "w").write("\n".join(md) + "\n")
    print("\n".join(md))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
