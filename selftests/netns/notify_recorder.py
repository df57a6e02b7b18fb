#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Stand in for systemd's notification socket: bind a unix datagram socket
at PATH (what $NOTIFY_SOCKET names), and write one line per datagram to OUT:
"<ms since the epoch, kernel receive time> <key=value|key=value...>" (newlines become "|").

--on-ready CMD runs CMD through sh the moment a datagram carrying READY=1
arrives, its output appended to OUT prefixed "ready-check: ": the sender has
already claimed readiness, so what CMD sees is what "ready" meant.
Runs until killed (SIGTERM)."""
import argparse
import os
import signal
import socket
import struct
import subprocess
import sys

# The kernel's receive timestamp, not the time we got round to reading: the
# --on-ready command may hold us up while the next datagrams queue.
SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("out")
    ap.add_argument("--on-ready", default=None)
    a = ap.parse_args()
    try:
        os.unlink(a.path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
    s.bind(a.path)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(a.out, "a", buffering=1) as out:
        while True:
            data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(16))
            ms = 0
            for level, kind, val in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(val) >= 16:
                    sec, usec = struct.unpack("qq", val[:16])
                    ms = sec * 1000 + usec // 1000
            msg = data.decode("utf-8", "replace")
            out.write("%d %s\n" % (ms, msg.strip("\n").replace("\n", "|")))
            if a.on_ready and "READY=1" in msg.split("\n"):
                r = subprocess.run(a.on_ready, shell=True, capture_output=True, text=True)
                for line in (r.stdout + r.stderr).splitlines():
                    out.write("ready-check: %s\n" % line)
                out.write("ready-check-rc: %d\n" % r.returncode)


if __name__ == "__main__":
    main()
