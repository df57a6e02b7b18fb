#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""nn-listen: tiny TCP/UDP services for the demo and end-to-end tests.

Every TCP connection gets one line "hello from NAME port P peer ADDR" and is
closed; every UDP datagram is answered the same way. The peer address shows
whether the gateway masqueraded (internet) or not (resources).

    nn-listen.py NAME PORT[/udp] [PORT[/udp] ...]
"""
import socket
import sys
import threading


def tcp(name, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(64)
    while True:
        c, peer = s.accept()
        try:
            c.sendall(("hello from %s port %d peer %s\n" % (name, port, peer[0])).encode())
        except OSError:
            pass
        c.close()


def udp(name, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    s.bind(("::", port))
    while True:
        _, anc, _, peer = s.recvmsg(2048, socket.CMSG_SPACE(20))
        msg = ("hello from %s port %d peer %s\n" % (name, port, peer[0])).encode()
        # Answer from the address the request went to: a host with several
        # addresses must not let the kernel pick another source.
        pktinfo = [(lvl, t, d) for lvl, t, d in anc
                   if lvl == socket.IPPROTO_IPV6 and t == socket.IPV6_PKTINFO]
        s.sendmsg([msg], pktinfo, 0, peer)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    name = sys.argv[1]
    for spec in sys.argv[2:]:
        port, _, proto = spec.partition("/")
        fn = udp if proto == "udp" else tcp
        threading.Thread(target=fn, args=(name, int(port)), daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
