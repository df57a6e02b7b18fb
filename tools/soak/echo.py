#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tools/soak/echo.py PORT...: TCP servers for the soak's probes and long-lived
flows. On connect a greeting line (as tools/demo/nn-listen.py, so nn-connect.py
takes it as an answer), then every line is echoed back until the peer closes:
a long-lived flow is one connection exchanging a line a second."""
import socket
import sys
import threading


def serve(conn):
    with conn:
        try:
            conn.sendall(b"hello from soak\n")
            f = conn.makefile("rb")
            for line in f:
                conn.sendall(line)
        except OSError:
            pass


def listen(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(128)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def main():
    ports = [int(p) for p in sys.argv[1:]]
    for p in ports[1:]:
        threading.Thread(target=listen, args=(p,), daemon=True).start()
    listen(ports[0])


if __name__ == "__main__":
    main()
