#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""nn-connect: one TCP connection or UDP exchange with a timeout.

Prints the server's line and exits 0, or prints why it failed and exits 1.

    nn-connect.py [-u] [-s SRC] [-t SECONDS] ADDR PORT
"""
import argparse
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-u", action="store_true", help="UDP")
    ap.add_argument("-s", help="source address")
    ap.add_argument("-t", type=float, default=2.0)
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    a = ap.parse_args()
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM if a.u else socket.SOCK_STREAM)
    s.settimeout(a.t)
    try:
        if a.s:
            s.bind((a.s, 0))
        if a.u:
            s.sendto(b"hi\n", (a.addr, a.port))
            data = s.recv(2048)
        else:
            s.connect((a.addr, a.port))
            data = s.recv(2048)
    except OSError as e:
        print("failed: %s" % (e.strerror or e))
        sys.exit(1)
    print(data.decode().strip())


if __name__ == "__main__":
    main()
