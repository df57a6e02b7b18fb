#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""render: draw the Grafana dashboard's panels from recorded /metrics scrapes.

    render.py [--dashboard JSON] [--title T] [--summary OUT.json] SCRAPES_DIR OUT.png

SCRAPES_DIR holds one Prometheus text exposition per scrape, named
<unix milliseconds>.prom (tools/dashboard/scenario.sh writes them). Debian
packages no Grafana, so this draws the same panels itself with matplotlib:
each panel of packaging/grafana/nanami-gateway.json, at its grid position,
has a function here computing what its queries compute (rate() and
increase() over a window of 4 scrapes, as Grafana's $__rate_interval is 4
scrape intervals, and at least a resync interval for the per-peer figures
the controller reads at each resync; histogram_quantile() interpolating
inside a bucket, as Prometheus does). A dashboard panel with no function here is an error, so
the two cannot drift apart. --summary writes, per panel, each series' peak
(the test asserts on it).
"""
import argparse
import json
import math
import os
import re
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
WINDOW = 4  # scrapes per rate window


def parse(text):
    """{(name, frozenset(labels)): value} of one exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def load(d):
    scrapes = []
    for f in sorted(os.listdir(d)):
        if f.endswith(".prom"):
            with open(os.path.join(d, f)) as fh:
                scrapes.append((int(f[:-5]) / 1000.0, parse(fh.read())))
    if len(scrapes) < WINDOW + 1:
        sys.exit("render: %d scrapes in %s, want at least %d" % (len(scrapes), d, WINDOW + 1))
    return scrapes


class Data:
    def __init__(self, scrapes):
        self.s = scrapes
        self.t0 = scrapes[0][0]
        self.x = [t - self.t0 for t, _ in scrapes]

    def series(self, name, match=None):
        """{labels: [value per scrape or None]} of metric @name."""
        out = defaultdict(lambda: [None] * len(self.s))
        for i, (_, sc) in enumerate(self.s):
            for (n, lab), v in sc.items():
                if n == name and (not match or match(dict(lab))):
                    out[lab][i] = v
        return out

    def increase(self, vals, i, window=WINDOW):
        """Counter increase over the window ending at scrape @i (resets
        handled as Prometheus does: a drop restarts from 0)."""
        j = i - window
        if j < 0 or vals[j] is None or vals[i] is None:
            return None
        inc = 0.0
        for k in range(j + 1, i + 1):
            a, b = vals[k - 1], vals[k]
            if a is None or b is None:
                return None
            inc += b - a if b >= a else b
        return inc

    def rate(self, vals, i, window=WINDOW):
        inc = self.increase(vals, i, window)
        if inc is None:
            return None
        return inc / (self.s[i][0] - self.s[i - window][0])

    def peer_window(self):
        """Scrapes spanning a resync interval: the controller reads wg0's
        per-peer figures at each resync, so a shorter window sees steps
        (in Grafana, $__rate_interval at a 15 s scrape is a minute)."""
        resync = max((v for v in self.sum_by("nanami_resync_interval_seconds", (), None)[()]
                      if v is not None), default=0)
        step = (self.s[-1][0] - self.s[0][0]) / max(len(self.s) - 1, 1)
        return max(WINDOW, int(math.ceil(resync / step)) + 1 if step > 0 else WINDOW)

    def sum_by(self, name, by, fn, match=None):
        """sum by (@by) (fn(name)) per scrape: fn is rate, increase or None (gauge)."""
        out = defaultdict(lambda: [None] * len(self.s))
        for lab, vals in self.series(name, match).items():
            d = dict(lab)
            key = tuple(d.get(b, "") for b in by)
            for i in range(len(self.s)):
                v = vals[i] if fn is None else fn(vals, i)
                if v is None:
                    continue
                out[key][i] = (out[key][i] or 0.0) + v
        return out

    def quantile(self, q, name, match):
        """histogram_quantile(q, sum by (le) (rate(name_bucket[w])))."""
        by_le = self.sum_by(name + "_bucket", ("le",), self.rate, match)
        res = [None] * len(self.s)
        for i in range(len(self.s)):
            b = sorted(((float(le[0]), v[i]) for le, v in by_le.items() if v[i] is not None))
            if not b or b[-1][1] <= 0:
                continue
            rank = q * b[-1][1]
            lo_le, lo_c = 0.0, 0.0
            for le, c in b:
                if c >= rank:
                    if math.isinf(le):
                        res[i] = lo_le
                    else:
                        res[i] = lo_le + (le - lo_le) * ((rank - lo_c) / (c - lo_c) if c > lo_c else 1)
                    break
                lo_le, lo_c = le, c
        return res


def drops_by_reason(d):
    return {r[0]: v for r, v in d.sum_by("nanami_drops_total", ("reason",), d.rate).items()
            if any(x for x in v if x)}


def tenant(lab):
    return lab.get("tenant", "") != ""  # overlay nodes (this gateway too) have none


def traffic_per_tenant(d):
    return {"%s %s" % k: v for k, v in
            d.sum_by("nanami_device_bytes_total", ("tenant", "direction"), d.rate, tenant).items()}


def drops_per_tenant(d):
    return {k[0]: v
            for k, v in d.sum_by("nanami_device_drops_total", ("tenant",), d.rate, tenant).items()}


def peers(d):
    return {"peers": d.sum_by("nanami_peers", (), None)[()]}


def handshake_age(d):
    out = {}
    ts = [t for t, _ in d.s]
    for lab, vals in d.series("nanami_peer_last_handshake_timestamp_seconds").items():
        out[dict(lab).get("peer", "?")] = [None if v is None else ts[i] - v
                                           for i, v in enumerate(vals)]
    newest = d.sum_by("nanami_last_handshake_timestamp_seconds", (), None)[()]
    out["newest, any peer"] = [None if not v else ts[i] - v for i, v in enumerate(newest)]
    return out


def apply_latency(d):
    change = lambda lab: lab.get("kind") == "change"  # noqa: E731
    drift = lambda lab: lab.get("kind") == "drift"  # noqa: E731
    s = d.sum_by("nanami_apply_duration_seconds_sum", (), d.rate, drift)[()]
    c = d.sum_by("nanami_apply_duration_seconds_count", (), d.rate, drift)[()]
    return {
        "p50 change": d.quantile(0.5, "nanami_apply_duration_seconds", change),
        "p99 change": d.quantile(0.99, "nanami_apply_duration_seconds", change),
        "mean drift": [a / b if a is not None and b else None for a, b in zip(s, c)],
    }


def map_fill(d):
    return {k[0]: v for k, v in d.sum_by("nanami_map_fill_ratio", ("map",), None).items()}


def state_age(d):
    ts = [t for t, _ in d.s]
    last = d.sum_by("nanami_last_sync_timestamp_seconds", (), None)[()]
    resync = d.sum_by("nanami_resync_interval_seconds", (), None)[()]
    return {"since last sync": [ts[i] - v if v else None for i, v in enumerate(last)],
            "3x resync": [3 * v if v is not None else None for v in resync]}


def config_errors(d):
    out = {k[0]: v for k, v in d.sum_by("nanami_config_errors_total", ("kind",), d.increase).items()}
    out["drift repairs"] = d.sum_by("nanami_drift_repairs_total", (), d.increase)[()]
    return out


def peer_traffic(d):
    w = d.peer_window()
    rate = lambda vals, i: d.rate(vals, i, w)  # noqa: E731
    out = {}
    for k, v in d.sum_by("nanami_peer_rx_bytes_total", ("peer",), rate).items():
        out["rx " + k[0]] = v
    for k, v in d.sum_by("nanami_peer_tx_bytes_total", ("peer",), rate).items():
        out["tx " + k[0]] = v
    return out


PANELS = {
    "Drops by reason": drops_by_reason,
    "Traffic per tenant": traffic_per_tenant,
    "Drops per tenant": drops_per_tenant,
    "wg0 peers": peers,
    "Handshake age": handshake_age,
    "Apply latency": apply_latency,
    "Map fill": map_fill,
    "Desired state age": state_age,
    "Config errors": config_errors,
    "Peer traffic": peer_traffic,
}
UNITS = {"pps": "packets/s", "Bps": "bytes/s", "s": "seconds", "percentunit": "fill",
         "short": ""}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dashboard", default="packaging/grafana/nanami-gateway.json")
    ap.add_argument("--title", default="Nanami gateway")
    ap.add_argument("--summary")
    ap.add_argument("scrapes")
    ap.add_argument("out")
    a = ap.parse_args()
    with open(a.dashboard) as f:
        dash = json.load(f)
    missing = [p["title"] for p in dash["panels"] if p["title"] not in PANELS]
    if missing:
        sys.exit("render: no renderer for the dashboard's panel(s) %s" % ", ".join(missing))
    d = Data(load(a.scrapes))
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dash["panels"]) // 8
    fig = plt.figure(figsize=(16, 3.4 * rows), layout="constrained")
    gs = fig.add_gridspec(rows, 24)
    summary = {}
    for p in dash["panels"]:
        g = p["gridPos"]
        ax = fig.add_subplot(gs[g["y"] // 8:(g["y"] + g["h"]) // 8, g["x"]:g["x"] + g["w"]])
        series = PANELS[p["title"]](d)
        summary[p["title"]] = {}
        for name, vals in sorted(series.items()):
            pts = [(x, v) for x, v in zip(d.x, vals) if v is not None]
            summary[p["title"]][name] = max((v for _, v in pts), default=None)
            if pts:
                ax.plot([x for x, _ in pts], [v for _, v in pts], label=name, linewidth=1.2)
        unit = p["fieldConfig"]["defaults"].get("unit", "")
        if unit == "percentunit":
            ax.axhline(0.8, color="red", linewidth=0.8, linestyle="--")
            ax.set_ylim(0, 1)
        ax.set_title(p["title"], fontsize=11, loc="left")
        ax.set_ylabel(UNITS.get(unit, unit), fontsize=8)
        ax.set_xlabel("seconds since the first scrape", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.suptitle(a.title, fontsize=13)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    fig.savefig(a.out, dpi=72)
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump({"scrapes": len(d.s), "seconds": d.x[-1], "panels": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
