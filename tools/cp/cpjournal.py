# SPDX-License-Identifier: GPL-2.0
"""cpjournal - the reference control plane's state on disk.

STATE            the base: {"format": 1, "generation", "seq", "world",
                 "identity"}, written atomically (tmp, fsync, rename, fsync dir)
STATE.journal.K  segments of the journal, K = 1, 2, ...: one JSON object a
                 line, {"seq", "g", "ops": [...], "identity"?}, appended and
                 fdatasync'd before the request is answered

A change costs one line (its objects, not the world). Replay: the base, then
every record of every segment with seq > the base's, in order. A last line
cut short by a crash (never acknowledged: the answer waits for the sync) is
dropped and the segment truncated to the last whole line; a bad line
anywhere else refuses to start, naming the file and line.

Compaction, when the journal holds more than a quarter of the base's bytes
(at least --compact-bytes, 1 MiB): under the control plane's lock a new segment starts and a
forked child writes the base from its copy-on-write image of the world
(the parent keeps answering); when the child succeeds the older segments go.
A crash at any point leaves a base and segments whose replay gives the same
state (records at or below the base's seq are skipped).
"""
import glob
import json
import os
import threading

import cpstate

MIN_COMPACT = 1 << 20


def fsync_dir(path):
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def write_atomic(path, data):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        mv = memoryview(data)
        while mv:
            mv = mv[os.write(fd, mv):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    fsync_dir(path)


def encode_state(generation, seq, world, ident):
    return json.dumps({"format": 1, "generation": generation, "seq": seq,
                       "world": world, "identity": ident},
                      separators=(",", ":"), default=cpstate.enc).encode()


class Journal:
    def __init__(self, path, log=None, min_compact=MIN_COMPACT):
        self.path = path
        self.min_compact = min_compact
        self.log = log or (lambda level, fields: None)
        self.fd = None
        self.seg = 0
        self.bytes = 0          # journal bytes since the base
        self.base_bytes = 0
        self.child = None       # compaction in progress: pid
        self.compactions = 0

    def segments(self):
        out = []
        for p in glob.glob(glob.escape(self.path) + ".journal.*"):
            suf = p.rsplit(".", 1)[1]
            if suf.isdigit():
                out.append((int(suf), p))
        return [p for _, p in sorted(out)]

    def load(self):
        """(base dict or None, [records with seq > base seq])."""
        base = None
        if os.path.exists(self.path):
            with open(self.path, "rb") as f:
                raw = f.read()
            self.base_bytes = len(raw)
            base = json.loads(raw)
            if base.get("format") != 1:
                raise SystemExit("nanami-cp: %s: unknown state format" % self.path)
        floor = int((base or {}).get("seq", 0))
        recs = []
        segs = self.segments()
        if base is None and segs:
            # The base is written before the first record: it was removed.
            raise SystemExit("nanami-cp: %s is missing but its journal %s is there: restore "
                             "the base or remove the journal" % (self.path, segs[0]))
        for i, p in enumerate(segs):
            with open(p, "rb") as f:
                data = f.read()
            self.bytes += len(data)
            lines = data.split(b"\n")
            for ln, line in enumerate(lines, 1):
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                    if not isinstance(rec, dict) or not isinstance(rec.get("seq"), int):
                        raise ValueError("not a journal record")
                except ValueError as e:
                    last = i == len(segs) - 1 and ln == len(lines)
                    if not last:
                        raise SystemExit("nanami-cp: %s line %d: %s" % (p, ln, e))
                    # A torn last write: never acknowledged, dropped.
                    self.log("warn", [("event", "journal_torn"), ("file", p), ("line", ln)])
                    with open(p, "r+b") as f:
                        f.truncate(sum(len(x) + 1 for x in lines[:ln - 1]))
                        os.fsync(f.fileno())
                    break
                if rec["seq"] > floor:
                    recs.append(rec)
            self.seg = max(self.seg, int(p.rsplit(".", 1)[1]))
        return base, recs

    def open_segment(self):
        if self.fd is not None:
            os.close(self.fd)
        self.seg += 1
        p = "%s.journal.%d" % (self.path, self.seg)
        self.fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fsync_dir(p)

    def append(self, rec):
        if self.fd is None:
            self.open_segment()
        line = (json.dumps(rec, separators=(",", ":"), default=cpstate.enc) + "\n").encode()
        mv = memoryview(line)
        while mv:
            mv = mv[os.write(self.fd, mv):]
        os.fdatasync(self.fd)
        self.bytes += len(line)

    def write_base(self, data):
        """The base written here and now (first start, clean stop,
        --mint-token): the older segments go."""
        old = self.segments()
        write_atomic(self.path, data)
        self.base_bytes = len(data)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        for p in old:
            os.unlink(p)
        self.bytes = 0

    def due(self):
        return self.child is None and self.bytes >= max(self.min_compact, self.base_bytes // 4)

    def compact(self, encode):
        """Fork a child that writes encode() as the base (caller holds the
        lock, so the child's image is one consistent state)."""
        old = self.segments()
        self.open_segment()
        pid = os.fork()
        if pid == 0:
            rc = 1
            try:
                write_atomic(self.path, encode())
                rc = 0
            finally:
                os._exit(rc)
        self.child = pid
        moved, self.bytes = self.bytes, 0

        def reap():
            _, status = os.waitpid(pid, 0)
            ok = os.waitstatus_to_exitcode(status) == 0
            if ok:
                for p in old:
                    try:
                        os.unlink(p)
                    except FileNotFoundError:
                        pass
                self.base_bytes = os.path.getsize(self.path)
                self.compactions += 1
            else:
                self.bytes += moved    # the old segments stay: try again later
            self.log("info" if ok else "warn",
                     [("event", "compacted" if ok else "compaction_failed"),
                      ("journal_bytes", moved), ("base_bytes", self.base_bytes)])
            self.child = None

        threading.Thread(target=reap, daemon=True).start()
