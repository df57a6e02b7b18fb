#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""
dissect.py - the third-party reading of packets for test_dissector.

    dissect.py eth|l3 PCAP

Reads PCAP (written by selftests/prog_tests/test_dissector.c) and prints one
JSON object per packet on stdout: what Scapy (Debian's python3-scapy) makes
of it, reduced to the fields the gateway's parsers produce, plus "ok": false
with a "why" when the rules of docs/datapath.md "Parsing" and
spec/verdicts.md (step 1, "Parse") call the packet malformed.

Every header's fields come from Scapy's own field definitions (IP, IPv6,
IPv6ExtHdr*, AH, the mobility header, TCP, UDP, ICMP, ICMPv6, IPerror,
IPerror6, ...), each dissected from the offset the chain puts it at. The
chain itself (where the next header starts, when to stop) and the length
rules are applied here, from the spec, not from the BPF or model code: that
way a header Scapy leaves undissected (it stops after AH, it does not know
HIP or shim6) is still walked, and a length Scapy would tolerate is still
checked.
"""
import ipaddress
import json
import sys

from scapy.all import (ICMP, IP, TCP, UDP, Dot1Q, Ether, IPerror,
                       IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrRouting,
                       RawPcapReader)
from scapy.layers.inet6 import IPerror6, ICMPv6Unknown, MIP6MH_BRR
from scapy.layers.ipsec import AH

MAX_EXT = 8  # NN_MAX_EXT_HDRS, docs/datapath.md
EXT = {0, 43, 44, 51, 60, 135, 139, 140}


class Malformed(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Malformed(why)


def addr16(text):
    a = ipaddress.ip_address(text)
    if a.version == 4:
        return (b"\0" * 10 + b"\xff\xff" + a.packed).hex()
    return a.packed.hex()


def v4_in_v6(packed):
    """IPv4-mapped (::ffff:0:0/96) or IPv4-compatible (::a.b.c.d; :: and ::1
    are the unspecified and loopback addresses, not IPv4-compatible)."""
    if packed[:10] != b"\0" * 10:
        return False
    if packed[10:12] == b"\xff\xff":
        return True
    return packed[10:12] == b"\0\0" and int.from_bytes(packed[12:], "big") > 1


def ext_header(nh, b):
    """(next header, length, fields) of extension header @nh at b[0:]."""
    need(len(b) >= 8, "extension header %d past the payload" % nh)
    # Scapy reads a routing header's addresses by its length field, 16
    # bytes at a time: zeros after the header keep it from running out
    # (the header's own bytes are what it reads; the caller checks that
    # the header lies inside the payload).
    b = bytes(b) + bytes(2064)
    if nh == 44:
        h = IPv6ExtHdrFragment(b[:8])
        return h.nh, 8, {"offset": h.offset, "m": h.m, "id": h.id}
    if nh == 51:
        h = AH(b)
        return h.nh, (h.payloadlen + 2) * 4, {}
    if nh == 43:
        try:
            h = IPv6ExtHdrRouting(b)
        except ValueError:
            # Scapy reads the addresses 16 bytes at a time and fails on
            # a length that is no whole number of them (legal for types
            # it does not know): RFC 8200 4.4's first four bytes then.
            return b[0], (b[1] + 1) * 8, {"rtype": b[2]}
        return h.nh, (h.len + 1) * 8, {"rtype": h.type}
    if nh == 135:
        h = MIP6MH_BRR(b)
        return h.nh, (h.len + 1) * 8, {}
    if nh in (0, 60):
        cls = IPv6ExtHdrHopByHop if nh == 0 else IPv6ExtHdrDestOpt
        h = cls(b)
        return h.nh, (h.len + 1) * 8, {}
    # HIP (139) and shim6 (140): Scapy has no dissector; RFC 7045's common
    # layout (next header, length in 8-byte units after the first 8).
    return b[0], (b[1] + 1) * 8, {}


def icmp_hdr(v6, b):
    """The first 8 bytes of an ICMP/ICMPv6 message. Scapy's type-specific
    fields (timestamps, ...) may want more than the packet has: it gets
    zeros after the 8 bytes, which are all that is read."""
    b = bytes(b[:8]) + bytes(64)
    return ICMPv6Unknown(b) if v6 else ICMP(b)


def echo_id(v6, m):
    return int.from_bytes(bytes(m.msgbody)[:2], "big") if v6 else m.id


def icmp_echo(v6, t):
    return t in (128, 129) if v6 else t in (8, 0)


def icmp_error(v6, t):
    return 1 <= t <= 4 if v6 else t in (3, 11, 12)


def parse_quote(v6, q, out):
    """The quote of an ICMP error (datapath.md "ICMP error quotes")."""
    if v6:
        need(len(q) >= 40 and q[0] >> 4 == 6, "quote is no IPv6 header")
        h = IPerror6(q[:40])
        need(not v4_in_v6(q[8:24]) and not v4_in_v6(q[24:40]),
             "quote has an IPv4-mapped/compatible address")
        qp, l4, later = h.nh, q[40:], False
    else:
        need(len(q) >= 20 and q[0] >> 4 == 4, "quote is no IPv4 header")
        h = IPerror(q)
        need(h.ihl >= 5 and h.ihl * 4 <= len(q), "quote's IHL")
        qp, l4, later = h.proto, q[h.ihl * 4:], h.frag != 0
    o = {"src": addr16(h.src), "dst": addr16(h.dst), "proto": qp,
         "sport": 0, "dport": 0, "flowable": True}
    if not later and qp in (6, 17):
        need(len(l4) >= 4, "quoted ports cut short")
        # TCPerror/UDPerror leave a 4-byte quote undissected (Raw); the
        # ports are the first two 16-bit fields of either.
        cls = TCP if qp == 6 else UDP
        p = cls(l4 + b"\0" * 20)
        o["sport"], o["dport"] = p.sport, p.dport
    elif not later and qp == (58 if v6 else 1):
        need(len(l4) >= 1, "quoted ICMP type missing")
        if icmp_echo(v6, l4[0]):
            need(len(l4) >= 8, "quoted echo id cut short")
            o["sport"] = o["dport"] = echo_id(v6, icmp_hdr(v6, l4))
        else:
            o["flowable"] = False
    out["quote"] = o


def parse_l4(v6, proto, l4, frag, hlim, eth, dst, out, frag_hdr=False):
    if proto == 6:
        need(len(l4) >= 20, "TCP shorter than 20")
        t = TCP(l4)
        need(t.dataofs >= 5 and t.dataofs * 4 <= len(l4), "TCP data offset")
        out["sport"], out["dport"] = t.sport, t.dport
    elif proto == 17:
        need(len(l4) >= 8, "UDP shorter than 8")
        u = UDP(l4)
        need(frag != 0 or u.len == len(l4), "UDP length")
        out["sport"], out["dport"] = u.sport, u.dport
    elif proto == (58 if v6 else 1):
        need(len(l4) >= 8, "ICMP shorter than 8")
        m = icmp_hdr(v6, l4)
        out["icmp"] = [m.type, m.code]
        if icmp_echo(v6, m.type):
            out["sport"] = out["dport"] = echo_id(v6, m)
        elif icmp_error(v6, m.type):
            parse_quote(v6, l4[8:], out)
        elif (v6 and eth and 133 <= m.type <= 137 and hlim == 255 and
              not frag_hdr and (dst.is_link_local or dst.is_multicast)):
            out["untouched"] = True


def parse_v4(b, exact, out):
    need(len(b) >= 20, "IPv4 shorter than 20")
    ip = IP(b)
    hl = ip.ihl * 4
    need(ip.ihl >= 5 and hl <= len(b), "IHL")
    need(hl <= ip.len <= len(b), "total length")
    need(not exact or ip.len == len(b), "total length (L3)")
    for opt in ip.options:
        # LSRR 131 and SSRR 137 (RFC 7126): malformed.
        need((opt.copy_flag, opt.optclass, opt.option) not in
             ((1, 0, 3), (1, 0, 9)), "IPv4 source route option")
    out.update(v6=False, src=addr16(ip.src), dst=addr16(ip.dst),
               proto=ip.proto)
    frag = 2 if ip.frag else (1 if ip.flags.MF else 0)
    out["frag"] = frag
    if frag:
        out["frag_id"] = ip.id
    if frag == 2:
        return
    parse_l4(False, ip.proto, b[hl:ip.len], frag, ip.ttl, False, None, out)


def parse_v6(b, exact, eth, out):
    need(len(b) >= 40, "IPv6 shorter than 40")
    ip = IPv6(b[:40])
    need(ip.plen != 0 and 40 + ip.plen <= len(b), "payload length")
    need(not exact or 40 + ip.plen == len(b), "payload length (L3)")
    need(not v4_in_v6(b[8:24]) and not v4_in_v6(b[24:40]),
         "IPv4-mapped/compatible address")
    out.update(v6=True, src=addr16(ip.src), dst=addr16(ip.dst))
    pay = b[40:40 + ip.plen]
    nh, pos, walk, frag = ip.nh, 0, [], 0
    while nh in EXT:
        need(len(walk) < MAX_EXT, "more than %d extension headers" % MAX_EXT)
        walk.append(nh)
        nxt, ln, f = ext_header(nh, pay[pos:])
        need(pos + ln <= len(pay), "extension header %d past the payload" % nh)
        need(f.get("rtype", 1) != 0, "routing header type 0")
        if nh == 44 and (f["offset"] or f["m"]):
            # A second header that makes a fragment: nested fragmentation.
            need(not frag, "a second Fragment header")
            out["frag_id"] = f["id"]
            if f["offset"]:
                frag, nh = 2, nxt
                break
            frag = 1
        nh, pos = nxt, pos + ln
    out.update(proto=nh, frag=frag, ext=walk)
    if frag == 2:
        return
    # ND is never fragmented (RFC 6980): not even an atomic Fragment
    # header may be in its chain.
    parse_l4(True, nh, pay[pos:], frag, ip.hlim, eth,
             ipaddress.ip_address(ip.dst), out, 44 in walk)


def dissect(framing, b):
    out = {"ok": True, "untouched": False}
    try:
        exact = framing == "l3"
        etype = None
        if not exact:
            need(len(b) >= 14, "shorter than Ethernet")
            e = Ether(b[:14])
            etype, off = e.type, 14
            need(etype != 0x88a8, "802.1ad tag")
            if etype == 0x8100:
                need(len(b) >= 18, "802.1Q tag cut short")
                etype, off = Dot1Q(b[14:18]).type, 18
                need(etype not in (0x8100, 0x88a8), "second VLAN tag")
            if etype == 0x0806:
                out["untouched"] = True
                return out
            need(etype in (0x0800, 0x86dd), "EtherType %#x" % etype)
            b = b[off:]
        need(len(b) >= 1, "empty")
        ver = b[0] >> 4
        need(etype is None or ver == (4 if etype == 0x0800 else 6),
             "version disagrees with EtherType")
        if ver == 4:
            parse_v4(b, exact, out)
        elif ver == 6:
            parse_v6(b, exact, not exact, out)
        else:
            raise Malformed("IP version %d" % ver)
    except Malformed as m:
        out = {"ok": False, "why": str(m)}
    return out


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("eth", "l3"):
        sys.stderr.write("usage: dissect.py eth|l3 PCAP\n")
        return 2
    w = sys.stdout.write
    for i, (pkt, _meta) in enumerate(RawPcapReader(sys.argv[2])):
        d = dissect(sys.argv[1], bytes(pkt))
        d["i"] = i
        w(json.dumps(d, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
