// SPDX-License-Identifier: GPL-2.0
/*
 * Bad and awkward packets through the real programs (BPF_PROG_TEST_RUN) and
 * the reference model, on examples/assignments.json: both framings, both
 * from-overlay hooks (TC, XDP) and TC into the overlay. Every packet must
 * get the expected verdict, reason and deciding rule on both sides, and
 * exactly the drop counter of its reason must move by one (none on pass).
 *
 * Each row describes its packets as data (pktdesc.h): a base packet named
 * below plus the fields the row varies, e.g. a TCP data offset that lies.
 * The runner is verdict_table.h, which also says which packets the kernel
 * refuses to run (those are judged by the model alone; the count is printed).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "model_fixture.h"
#include "pktdesc.h"
#include "verdict_table.h"

/* An atomic fragment header (from .ext) before the builder's own first
 * fragment header: swap their roles, so the first fragment header in the
 * chain is the real one (id 0x1234) and an atomic one (id 0x9999) follows. */
static void patch_two_headers(uint8_t *l3, size_t len)
{
	static const uint8_t real[6] = { 0, 1, 0, 0, 0x12, 0x34 };
	static const uint8_t atomic[6] = { 0, 0, 0, 0, 0x99, 0x99 };

	assert_true(len > 56 && l3[6] == 44 && l3[40] == 44);
	memcpy(l3 + 42, real, 6);
	memcpy(l3 + 50, atomic, 6);
}

/* ---- Base packets: rows add the fields they vary ---- */

#define SYN PB_TCP_SYN
#define MAL NN_R_MALFORMED
/* alice's IPv4 to the internet: TCP/443 and DNS */
#define V4_TCP \
	.kind = PD_TCP, .src = ALICE4, .dst = DNS4, .sport = 40000, .dport = 443, .flags = SYN
#define V4_UDP .kind = PD_UDP, .src = ALICE4, .dst = DNS4, .sport = 40001, .dport = 53
/* example 1 (alice -> acme-db tcp/5432, rule eng-db), and alice's IPv6 to the internet */
#define V6_TCP \
	.kind = PD_TCP, .src = ALICE6, .dst = DB6, .sport = 40000, .dport = 5432, .flags = SYN
#define V6_TCP_INET \
	.kind = PD_TCP, .src = ALICE6, .dst = NET6, .sport = 40003, .dport = 443, .flags = SYN
#define V6_UDP .kind = PD_UDP, .src = ALICE6, .dst = NET6, .sport = 40002, .dport = 53
/* later fragments (no L4 header) of alice's flows: v6 to acme-db, v4 to the internet */
#define V6_LATER                                                                         \
	.kind = PD_TCP, .src = ALICE6, .dst = DB6, .frag = PB_FRAG_LATER, .frag_off = 3, \
	.payload = 24
#define V4_LATER .src = ALICE4, .dst = DNS4, .frag = PB_FRAG_LATER, .frag_off = 2, .payload = 16
/* the first fragment's followers into the overlay: acme-db to alice */
#define V6_INTO_LATER                                                                    \
	.kind = PD_TCP, .src = DB6, .dst = ALICE6, .frag = PB_FRAG_LATER, .frag_off = 5, \
	.payload = 8
/* neighbour discovery from a link-local address, to all nodes and to one */
#define ND_ALL .kind = PD_ND, .src = "fe80::1", .dst = "ff02::1"
#define ND_LINK .kind = PD_ND, .src = "fe80::1", .dst = "fe80::2"
/* errors toward alice: acme-db's Packet Too Big, the DNS server's frag needed */
#define PTB_DB6 .kind = PD_PTB, .src = DB6, .dst = ALICE6, .mtu = 1280
#define FRAG_NEEDED_DNS4 .kind = PD_FRAG_NEEDED, .src = DNS4, .dst = ALICE4, .mtu = 1400

/* What ICMP errors quote (at VT_L3). */
static const struct pkt_desc q_ex1 = { V6_TCP };
static const struct pkt_desc q_never_opened = { .kind = PD_TCP,
						.src = ALICE6,
						.dst = DB6,
						.sport = 40000,
						.dport = 9999,
						.flags = SYN };
static const struct pkt_desc q_ex1_reply = { .kind = PD_TCP,
					     .src = DB6,
					     .dst = ALICE6,
					     .sport = 5432,
					     .dport = 40000,
					     .flags = SYN | PB_TCP_ACK };
static const struct pkt_desc q_v4_udp = { V4_UDP };
static const struct pkt_desc q_v4_udp_ihl4 = { V4_UDP, .lie = PB_F_IHL, .value = 4 };
static const struct pkt_desc q_carol_dns = { .kind = PD_UDP,
					     .src = CAROL4,
					     .dst = DNS4,
					     .sport = 40009,
					     .dport = 53 };
static const struct pkt_desc q_echo5 = { .kind = PD_ECHO_REQUEST,
					 .src = ALICE6,
					 .dst = NET6,
					 .echo_id = 5 };
static const struct pkt_desc q_echo6 = { .kind = PD_ECHO_REQUEST,
					 .src = ALICE6,
					 .dst = NET6,
					 .echo_id = 6 };
static const struct pkt_desc q_mapped = { .kind = PD_TCP,
					  .src = "::ffff:" ALICE4,
					  .dst = DB6,
					  .sport = 40000,
					  .dport = 5432,
					  .flags = SYN };

/* ---- The tables ---- */

static const struct vt_case cases[] = {
	/* IPv4 header length */
	{ "IHL 0",
	  VT_BOTH,
	  { { .dir = FROM, .reason = MAL, .pkt = { V4_UDP, .lie = PB_F_IHL, .value = 0 } } } },
	{ "IHL 1",
	  VT_BOTH,
	  { { .dir = FROM, .reason = MAL, .pkt = { V4_UDP, .lie = PB_F_IHL, .value = 1 } } } },
	{ "IHL 4",
	  VT_BOTH,
	  { { .dir = FROM, .reason = MAL, .pkt = { V4_UDP, .lie = PB_F_IHL, .value = 4 } } } },
	{ "IHL 4 into",
	  VT_BOTH,
	  { { .dir = INTO, .reason = MAL, .pkt = { V4_UDP, .lie = PB_F_IHL, .value = 4 } } } },
	{ "IHL 15 beyond the packet",
	  VT_BOTH,
	  { { .dir = FROM, .reason = MAL, .pkt = { V4_UDP, .lie = PB_F_IHL, .value = 15 } } } },
	{ "IPv4 options, 1 word",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V4_UDP, .ip_opts = 1 } } } },
	{ "IPv4 options, 5 words",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V4_UDP, .ip_opts = 5 } } } },
	{ "IPv4 options, 10 words",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V4_UDP, .ip_opts = 10 } } } },
	/* Length fields that lie (the true IPv4 total length is 50, IPv6 payload length 30) */
	{ "IPv4 total length +1",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V4_TCP, .payload = 10, .lie = PB_F_IP_LEN, .value = 51 } } } },
	{ "IPv4 total length < IHL",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V4_TCP, .payload = 10, .lie = PB_F_IP_LEN, .value = 19 } } } },
	{ "IPv4 total length -1 (padding)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V4_TCP, .payload = 10, .lie = PB_F_IP_LEN, .value = 49 },
	      .eth_padding = true } } },
	{ "IPv6 payload length 0",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_TCP_INET, .payload = 10, .lie = PB_F_IP_LEN, .value = 0 } } } },
	{ "IPv6 payload length +1",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_TCP_INET, .payload = 10, .lie = PB_F_IP_LEN, .value = 31 } } } },
	{ "IPv6 payload length -1 (padding)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_TCP_INET, .payload = 10, .lie = PB_F_IP_LEN, .value = 29 },
	      .eth_padding = true } } },
	/* (the true UDP length is 12) */
	{ "UDP length 0 (v4)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V4_UDP, .payload = 4, .lie = PB_F_UDP_LEN, .value = 0 } } } },
	{ "UDP length 0 (v6)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_UDP, .payload = 4, .lie = PB_F_UDP_LEN, .value = 0 } } } },
	{ "UDP length 7 (v4)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V4_UDP, .payload = 4, .lie = PB_F_UDP_LEN, .value = 7 } } } },
	{ "UDP length 7 (v6)",
	  VT_BOTH,
	  { { .dir = INTO,
	      .reason = MAL,
	      .pkt = { V6_UDP, .payload = 4, .lie = PB_F_UDP_LEN, .value = 7 } } } },
	{ "UDP length -1 (v4)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V4_UDP, .payload = 4, .lie = PB_F_UDP_LEN, .value = 11 } } } },
	{ "UDP length -1 (v6)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_UDP, .payload = 4, .lie = PB_F_UDP_LEN, .value = 11 } } } },
	{ "UDP length +1 (v4)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V4_UDP, .payload = 4, .lie = PB_F_UDP_LEN, .value = 13 } } } },
	{ "UDP length +1 (v6)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_UDP, .payload = 4, .lie = PB_F_UDP_LEN, .value = 13 } } } },
	/* (12 bytes after a 20-byte TCP header) */
	{ "TCP data offset 0",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V4_TCP, .payload = 12, .lie = PB_F_TCP_DOFF, .value = 0 } } } },
	{ "TCP data offset 4",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V4_TCP, .payload = 12, .lie = PB_F_TCP_DOFF, .value = 4 } } } },
	{ "TCP data offset 4 (v6)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_TCP, .payload = 12, .lie = PB_F_TCP_DOFF, .value = 4 } } } },
	{ "TCP data offset 9 beyond the segment",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V4_TCP, .payload = 12, .lie = PB_F_TCP_DOFF, .value = 9 } } } },
	{ "TCP data offset 15 (v6)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_TCP, .payload = 12, .lie = PB_F_TCP_DOFF, .value = 15 } } } },
	{ "TCP data offset 8 (options)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { V4_TCP, .payload = 12, .lie = PB_F_TCP_DOFF, .value = 8 } } } },
	{ "TCP data offset 8 (v6, options)",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { V6_TCP, .payload = 12, .lie = PB_F_TCP_DOFF, .value = 8 },
	      .rule = "eng-db" } } },
	/* IPv6 extension header chains: every walked type, then more */
	{ "1 extension header",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { V6_TCP, .ext = { 0 }, .n_ext = 1 },
	      .rule = "eng-db" } } },
	{ "7 extension headers",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { V6_TCP, .ext = { 0, 43, 60, 51, 135, 139, 140 }, .n_ext = 7 },
	      .rule = "eng-db" } } },
	{ "8 extension headers",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { V6_TCP, .ext = { 0, 43, 60, 51, 135, 139, 140, 44 }, .n_ext = 8 },
	      .rule = "eng-db" } } },
	{ "9 extension headers",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_TCP, .ext = { 0, 43, 60, 51, 135, 139, 140, 44, 60 }, .n_ext = 9 } } } },
	{ "10 extension headers",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_TCP, .ext = { 0, 43, 60, 51, 135, 139, 140, 44, 60, 60 },
		       .n_ext = 10 } } } },
	{ "9 extension headers into",
	  VT_BOTH,
	  { { .dir = INTO,
	      .reason = MAL,
	      .pkt = { V6_TCP, .ext = { 0, 43, 60, 51, 135, 139, 140, 44, 60 }, .n_ext = 9 } } } },
	{ "extension header longer than the payload",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_TCP, .ext = { 60 }, .n_ext = 1, .lie = PB_F_EXT_LEN, .value = 3 } } } },
	{ "extension header length 200",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_TCP, .ext = { 60 }, .n_ext = 1, .lie = PB_F_EXT_LEN, .value = 200 } } } },
	{ "extension header eats the TCP header",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { V6_TCP, .ext = { 60 }, .n_ext = 1, .lie = PB_F_EXT_LEN, .value = 1 } } } },
	/* Fragments */
	{ "v6 first fragment passes, later ones follow",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { V6_TCP, .frag = PB_FRAG_FIRST, .frag_id = 77 },
	      .rule = "eng-db" },
	    { .dir = FROM, .reason = NN_PASS, .pkt = { V6_LATER, .frag_id = 77 } },
	    { .dir = FROM, .reason = NN_R_FRAGMENT, .pkt = { V6_LATER, .frag_id = 78 } } } },
	{ "v6 first fragment denied, later ones follow the drop",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_R_ACL_DEFAULT_DENY,
	      .pkt = { .kind = PD_TCP,
		       .src = ALICE6,
		       .dst = DB6,
		       .sport = 40010,
		       .dport = 22,
		       .flags = SYN,
		       .frag = PB_FRAG_FIRST,
		       .frag_id = 5 } },
	    { .dir = FROM, .reason = NN_R_ACL_DEFAULT_DENY, .pkt = { V6_LATER, .frag_id = 5 } } } },
	{ "v6 orphan later fragments",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_R_FRAGMENT, .pkt = { V6_LATER, .frag_id = 9 } },
	    { .dir = FROM,
	      .reason = NN_R_SPOOF,
	      .pkt = { .kind = PD_TCP,
		       .src = NOBODY6,
		       .dst = DB6,
		       .frag = PB_FRAG_LATER,
		       .frag_id = 9,
		       .frag_off = 3,
		       .payload = 24 } },
	    { .dir = FROM,
	      .reason = NN_R_REVOKED,
	      .pkt = { .kind = PD_TCP,
		       .src = CAROL_OLD6,
		       .dst = FILES6,
		       .frag = PB_FRAG_LATER,
		       .frag_id = 9,
		       .frag_off = 3,
		       .payload = 24 } } } },
	{ "v4 first fragment denied by no-smtp, later follows",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_R_ACL_DENY,
	      .pkt = { .kind = PD_TCP,
		       .src = ALICE4,
		       .dst = DNS4,
		       .sport = 40011,
		       .dport = 25,
		       .flags = SYN,
		       .frag = PB_FRAG_FIRST,
		       .frag_id = 9 },
	      .rule = "no-smtp" },
	    { .dir = FROM,
	      .reason = NN_R_ACL_DENY,
	      .pkt = { V4_LATER, .kind = PD_TCP, .frag_id = 9 } },
	    { .dir = FROM,
	      .reason = NN_R_FRAGMENT,
	      .pkt = { V4_LATER, .kind = PD_TCP, .frag_id = 8 } } } },
	{ "v4 first fragment passes, later follows, orphan dropped",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { V4_UDP, .payload = 16, .frag = PB_FRAG_FIRST, .frag_id = 10 } },
	    { .dir = FROM, .reason = NN_PASS, .pkt = { V4_LATER, .kind = PD_UDP, .frag_id = 10 } },
	    { .dir = FROM,
	      .reason = NN_R_FRAGMENT,
	      .pkt = { V4_LATER, .kind = PD_UDP, .frag_id = 11 } },
	    { .dir = FROM,
	      .reason = NN_R_FRAGMENT,
	      .pkt = { V4_LATER, .kind = PD_TCP, .frag_id = 10 } } } },
	{ "v6 into the overlay: first fragment denied, later follows",
	  VT_BOTH,
	  { { .dir = INTO,
	      .reason = NN_R_ACL_DEFAULT_DENY,
	      .pkt = { .kind = PD_TCP,
		       .src = DB6,
		       .dst = ALICE6,
		       .sport = 22,
		       .dport = 40012,
		       .flags = SYN,
		       .frag = PB_FRAG_FIRST,
		       .frag_id = 3 } },
	    { .dir = INTO, .reason = NN_R_ACL_DEFAULT_DENY, .pkt = { V6_INTO_LATER, .frag_id = 3 } },
	    { .dir = INTO, .reason = NN_R_FRAGMENT, .pkt = { V6_INTO_LATER, .frag_id = 4 } } } },
	{ "v6 atomic fragment header after the real one keeps its id",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { V6_TCP, .ext = { 44 }, .n_ext = 1, .frag = PB_FRAG_FIRST, .frag_id = 0x9999 },
	      .patch = patch_two_headers,
	      .rule = "eng-db" },
	    { .dir = FROM, .reason = NN_PASS, .pkt = { V6_LATER, .frag_id = 0x1234 } },
	    { .dir = FROM, .reason = NN_R_FRAGMENT, .pkt = { V6_LATER, .frag_id = 0x9999 } } } },
	/* Ethernet: VLAN, ARP, neighbour discovery */
	{ "one 802.1Q tag",
	  VT_ETH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V6_TCP, .vlan = 42 }, .rule = "eng-db" } } },
	{ "two 802.1Q tags",
	  VT_ETH,
	  { { .dir = FROM, .reason = MAL, .pkt = { V6_TCP, .vlan = 42, .ethertype = 0x8100 } } } },
	{ "802.1Q then 802.1ad",
	  VT_ETH,
	  { { .dir = FROM, .reason = MAL, .pkt = { V6_TCP, .vlan = 42, .ethertype = 0x88a8 } } } },
	{ "outer 802.1ad",
	  VT_ETH,
	  { { .dir = INTO, .reason = MAL, .pkt = { V6_TCP, .eth = true, .ethertype = 0x88a8 } } } },
	{ "IPv6 under the IPv4 EtherType",
	  VT_ETH,
	  { { .dir = FROM, .reason = MAL, .pkt = { V6_TCP, .eth = true, .ethertype = 0x0800 } } } },
	{ "LLDP EtherType",
	  VT_ETH,
	  { { .dir = FROM, .reason = MAL, .pkt = { V6_TCP, .eth = true, .ethertype = 0x88cc } } } },
	{ "ARP from the overlay",
	  VT_ETH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { .kind = PD_ARP, .src = ALICE4, .dst = GW4 },
	      .untouched = true } } },
	{ "ARP into the overlay",
	  VT_ETH,
	  { { .dir = INTO,
	      .reason = NN_PASS,
	      .pkt = { .kind = PD_ARP, .src = ALICE4, .dst = GW4 },
	      .untouched = true } } },
	{ "ARP with a VLAN tag",
	  VT_ETH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { .kind = PD_ARP, .src = ALICE4, .dst = GW4, .vlan = 7 },
	      .untouched = true } } },
	{ "ND 133 (VT_L3: judged)",
	  VT_L3,
	  { { .dir = FROM, .reason = NN_R_SPOOF, .pkt = { ND_ALL, .nd_type = 133 } } } },
	{ "ND 133",
	  VT_ETH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { ND_ALL, .nd_type = 133 },
	      .untouched = true } } },
	{ "ND 134",
	  VT_ETH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { ND_ALL, .nd_type = 134 },
	      .untouched = true } } },
	{ "ND 135",
	  VT_ETH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { ND_ALL, .nd_type = 135 },
	      .untouched = true } } },
	{ "ND 136",
	  VT_ETH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { ND_ALL, .nd_type = 136 },
	      .untouched = true } } },
	{ "ND 137",
	  VT_ETH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { ND_ALL, .nd_type = 137 },
	      .untouched = true } } },
	{ "ND 135 into",
	  VT_ETH,
	  { { .dir = INTO,
	      .reason = NN_PASS,
	      .pkt = { ND_LINK, .nd_type = 135 },
	      .untouched = true } } },
	{ "ND 135 into (VT_L3: judged)",
	  VT_L3,
	  { { .dir = INTO, .reason = NN_R_UNKNOWN_DST, .pkt = { ND_LINK, .nd_type = 135 } } } },
	{ "ICMPv6 138 is not ND",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_R_SPOOF, .pkt = { ND_ALL, .nd_type = 138 } } } },
	{ "ND with hop limit 254",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_R_SPOOF, .pkt = { ND_ALL, .nd_type = 135, .ttl = 254 } } } },
	{ "fragmented ND",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_R_SPOOF,
	      .pkt = { ND_ALL, .nd_type = 135, .frag = PB_FRAG_FIRST, .frag_id = 1 } } } },
	/* ICMP errors */
	{ "PTB and unreachable for a tracked flow",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V6_TCP }, .rule = "eng-db" },
	    { .dir = INTO, .reason = NN_PASS, .pkt = { PTB_DB6, .quote = &q_ex1 }, .flow_hit = true },
	    { .dir = INTO,
	      .reason = NN_PASS,
	      .pkt = { .kind = PD_UNREACH, .src = DB6, .dst = ALICE6, .code = 3, .quote = &q_ex1 },
	      .flow_hit = true } } },
	{ "error from another tenant quoting alice's flow",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V6_TCP }, .rule = "eng-db" },
	    { .dir = FROM,
	      .reason = NN_R_CROSS_TENANT,
	      .pkt = { .kind = PD_PTB,
		       .src = CAROL6,
		       .dst = ALICE6,
		       .mtu = 1280,
		       .quote = &q_ex1 } } } },
	{ "error from bob quoting alice's flow: only the ACL",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V6_TCP }, .rule = "eng-db" },
	    { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { .kind = PD_PTB, .src = BOB6, .dst = ALICE6, .mtu = 1280, .quote = &q_ex1 },
	      .rule = "ping-peers" } } },
	{ "error quoting an unknown flow",
	  VT_BOTH,
	  { { .dir = INTO,
	      .reason = NN_R_ACL_DEFAULT_DENY,
	      .pkt = { PTB_DB6, .quote = &q_never_opened } },
	    { .dir = FROM, .reason = NN_PASS, .pkt = { V6_TCP }, .rule = "eng-db" },
	    { .dir = INTO,
	      .reason = NN_R_ACL_DEFAULT_DENY,
	      .pkt = { PTB_DB6, .quote = &q_never_opened } } } },
	{ "quotes cut short",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V6_TCP }, .rule = "eng-db" },
	    { .dir = INTO, .reason = MAL, .pkt = { PTB_DB6, .quote = &q_ex1, .quote_cut = 39 } },
	    { .dir = INTO, .reason = MAL, .pkt = { PTB_DB6, .quote = &q_ex1, .quote_cut = 42 } },
	    { .dir = INTO,
	      .reason = NN_PASS,
	      .pkt = { PTB_DB6, .quote = &q_ex1, .quote_cut = 47 },
	      .flow_hit = true } } },
	{ "device reports an error about its flow's reply",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V6_TCP }, .rule = "eng-db" },
	    { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { .kind = PD_UNREACH,
		       .src = ALICE6,
		       .dst = DB6,
		       .code = 4,
		       .quote = &q_ex1_reply },
	      .flow_hit = true } } },
	{ "IPv4 frag needed and time exceeded for a tracked flow",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V4_UDP } },
	    { .dir = INTO,
	      .reason = NN_PASS,
	      .pkt = { FRAG_NEEDED_DNS4, .quote = &q_v4_udp },
	      .flow_hit = true },
	    { .dir = INTO,
	      .reason = NN_PASS,
	      .pkt = { .kind = PD_TIME_EXCEEDED, .src = DNS4, .dst = ALICE4, .quote = &q_v4_udp },
	      .flow_hit = true } } },
	{ "IPv4 error quoting another tenant's flow",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { .kind = PD_UDP, .src = CAROL4, .dst = DNS4, .sport = 40009, .dport = 53 } },
	    { .dir = INTO,
	      .reason = NN_R_ACL_DEFAULT_DENY,
	      .pkt = { FRAG_NEEDED_DNS4, .quote = &q_carol_dns } } } },
	{ "IPv4 quotes that are not an IPv4 header",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { V4_UDP } },
	    { .dir = INTO,
	      .reason = MAL,
	      .pkt = { FRAG_NEEDED_DNS4, .quote = &q_v4_udp, .quote_cut = 19 } },
	    { .dir = INTO, .reason = MAL, .pkt = { FRAG_NEEDED_DNS4, .quote = &q_v4_udp_ihl4 } } } },
	{ "errors quoting echo",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = NN_PASS,
	      .pkt = { .kind = PD_ECHO_REQUEST, .src = ALICE6, .dst = NET6, .echo_id = 5 } },
	    { .dir = INTO,
	      .reason = NN_PASS,
	      .pkt = { .kind = PD_PTB, .src = NET6, .dst = ALICE6, .mtu = 1280, .quote = &q_echo5 },
	      .flow_hit = true },
	    { .dir = INTO,
	      .reason = NN_R_ACL_DEFAULT_DENY,
	      .pkt = { .kind = PD_PTB,
		       .src = NET6,
		       .dst = ALICE6,
		       .mtu = 1280,
		       .quote = &q_echo6 } } } },
	/* IPv4-mapped addresses inside IPv6 */
	{ "IPv4-mapped source",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { .kind = PD_TCP,
		       .src = "::ffff:" ALICE4,
		       .dst = DB6,
		       .sport = 40000,
		       .dport = 5432,
		       .flags = SYN } } } },
	{ "IPv4-mapped destination",
	  VT_BOTH,
	  { { .dir = FROM,
	      .reason = MAL,
	      .pkt = { .kind = PD_TCP,
		       .src = ALICE6,
		       .dst = "::ffff:" DNS4,
		       .sport = 40000,
		       .dport = 443,
		       .flags = SYN } } } },
	{ "quote with an IPv4-mapped source",
	  VT_BOTH,
	  { { .dir = INTO, .reason = MAL, .pkt = { PTB_DB6, .quote = &q_mapped } } } },
	{ NULL, 0, { { 0 } } },
};

static void test_bad_packet_table(void **state)
{
	(void)state;
	vt_for_each_env(mf_base, vt_run_table, cases);
}

/* Every truncation of valid packets is malformed; the whole one passes. */
static const struct {
	struct pkt_desc pkt;
	const char *rule;
} bases[] = {
	{ { V4_TCP }, NULL },
	{ { V4_UDP }, NULL },
	{ { .kind = PD_ECHO_REQUEST, .src = ALICE4, .dst = DNS4, .echo_id = 1 }, NULL },
	{ { V6_TCP }, "eng-db" },
	{ { V6_UDP }, NULL },
	{ { .kind = PD_ECHO_REQUEST, .src = ALICE6, .dst = BOB6, .echo_id = 1 }, "ping-peers" },
};

static void run_truncations(struct vt_env *e, const void *arg)
{
	uint8_t pkt[PB_BUF_LEN];
	size_t i, len, l;
	int into;

	(void)arg;
	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		for (into = 0; into < 2; into++) {
			struct vt_step s = { .pkt = bases[i].pkt };

			assert_int_equal(dpt_flush_state(&e->t), 0);
			nn_model_flush_flows(e->m);
			len = vt_render(e, &s, pkt, sizeof(pkt));
			for (l = 1; l < len; l++)
				vt_check(e, into ? INTO : FROM, pkt, l, NN_R_MALFORMED, NULL, false,
					 false, "truncated", i);
			if (!into)
				vt_check(e, FROM, pkt, len, NN_PASS, bases[i].rule, false, false,
					 "whole", i);
		}
	}
}

static void test_truncations(void **state)
{
	(void)state;
	vt_for_each_env(mf_base, run_truncations, NULL);
}

/* Two devices pinging one resource with the same echo id: each has its own
 * flow, neither rides on nor answers for the other's. */
#define ECHO_ALICE .kind = PD_ECHO_REQUEST, .src = ALICE6, .dst = DB6, .echo_id = 7
#define ECHO_BOB .kind = PD_ECHO_REQUEST, .src = BOB6, .dst = DB6, .echo_id = 7
#define REPLY_ALICE .kind = PD_ECHO_REPLY, .src = DB6, .dst = ALICE6, .echo_id = 7
#define REPLY_BOB .kind = PD_ECHO_REPLY, .src = DB6, .dst = BOB6, .echo_id = 7

static const struct vt_case echo_both[] = {
	{ "both may ping acme-db with id 7",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { ECHO_ALICE }, .rule = "ping-peers" },
	    { .dir = FROM, .reason = NN_PASS, .pkt = { ECHO_BOB }, .rule = "ping-peers" },
	    { .dir = INTO, .reason = NN_PASS, .pkt = { REPLY_BOB }, .flow_hit = true },
	    { .dir = INTO, .reason = NN_PASS, .pkt = { REPLY_ALICE }, .flow_hit = true } } },
	{ "a reply for bob does not ride alice's flow",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { ECHO_ALICE }, .rule = "ping-peers" },
	    { .dir = INTO, .reason = NN_R_ACL_DEFAULT_DENY, .pkt = { REPLY_BOB } },
	    { .dir = INTO, .reason = NN_PASS, .pkt = { REPLY_ALICE }, .flow_hit = true } } },
	{ NULL, 0, { { 0 } } },
};

static const struct vt_case echo_alice_only[] = {
	{ "bob cannot use alice's echo id",
	  VT_BOTH,
	  { { .dir = FROM, .reason = NN_PASS, .pkt = { ECHO_ALICE }, .rule = "ping-peers" },
	    { .dir = FROM, .reason = NN_R_ACL_DEFAULT_DENY, .pkt = { ECHO_BOB } },
	    { .dir = INTO, .reason = NN_R_ACL_DEFAULT_DENY, .pkt = { REPLY_BOB } },
	    { .dir = INTO, .reason = NN_PASS, .pkt = { REPLY_ALICE }, .flow_hit = true } } },
	{ NULL, 0, { { 0 } } },
};

#define PING_PEERS "\"src\": \"*\", \"dst\": { \"devices\": [\"alice-laptop\", \"bob-phone\"] },"

static void test_echo_collisions(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_policy *both, *alice;

	both = mf_variant(
		c, PING_PEERS,
		"\"src\": \"*\", \"dst\": { \"devices\": [\"alice-laptop\", \"bob-phone\"], "
		"\"resources\": [\"acme-db\"] },");
	alice = mf_variant(c, PING_PEERS,
			   "\"src\": { \"users\": [\"alice\"] }, \"dst\": { \"devices\": "
			   "[\"alice-laptop\", \"bob-phone\"], \"resources\": [\"acme-db\"] },");
	assert_non_null(both);
	assert_non_null(alice);
	vt_for_each_env(both, vt_run_table, echo_both);
	vt_for_each_env(alice, vt_run_table, echo_alice_only);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_packet_table),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test_setup_teardown(test_echo_collisions, mf_setup, mf_teardown),
	};

	return cmocka_run_group_tests_name("bad packets (BPF and model)", tests, mf_group_setup,
					   mf_group_teardown);
}
