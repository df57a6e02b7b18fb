/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pktdesc.h - a packet described as data, for fixture tables: every field
 * a row sets names what it varies, and a zeroed field means the builder's
 * default (no lie, no fragment, no extension header, no VLAN tag, ...).
 *
 *	{ .kind = PD_TCP, .src = ALICE6, .dst = NET6, .sport = 40003,
 *	  .dport = 443, .flags = PB_TCP_SYN, .payload = 12,
 *	  .lie = PB_F_TCP_DOFF, .value = 4 }
 *
 * pd_describe() turns one into a pktbuild description (struct pb), so the
 * bytes come from the one packet builder every test shares.
 */
#ifndef NANAMI_PKTDESC_H
#define NANAMI_PKTDESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pktbuild.h"

/* What the packet carries after the IP header (and its extensions). */
enum pd_kind {
	PD_RAW = 0,	  /* nothing: "no next header" (59) */
	PD_TCP,		  /* .sport, .dport, .flags */
	PD_UDP,		  /* .sport, .dport */
	PD_ECHO_REQUEST,  /* ICMP or ICMPv6 (by family), .echo_id */
	PD_ECHO_REPLY,	  /* same */
	PD_PTB,		  /* ICMPv6 Packet Too Big (2/0), .mtu, .quote */
	PD_FRAG_NEEDED,	  /* ICMP destination unreachable 3/4, .mtu, .quote */
	PD_UNREACH,	  /* destination unreachable of the family, .code, .quote */
	PD_TIME_EXCEEDED, /* ICMP 11/0 or ICMPv6 3/0, .quote */
	PD_ND,		  /* neighbour discovery of .nd_type (hop limit 255) */
	PD_ARP,		  /* an ARP request (Ethernet): .src and .dst IPv4 */
};

struct pkt_desc {
	enum pd_kind kind;
	const char *src; /* text; the family (4 or 6) follows from it */
	const char *dst;

	uint16_t sport;
	uint16_t dport;
	uint8_t flags; /* PB_TCP_* */

	uint16_t echo_id;
	uint8_t nd_type;
	uint8_t code;		      /* PD_UNREACH */
	uint32_t mtu;		      /* PD_PTB, PD_FRAG_NEEDED */
	const struct pkt_desc *quote; /* ICMP errors: the packet quoted (L3) */
	size_t quote_cut;	      /* keep only this many bytes of it (0: all) */

	uint8_t ttl;		 /* TTL / hop limit; 0: the builder's (64, ND 255) */
	unsigned int ip_opts;	 /* IPv4 options, 4-byte words of NOP */
	uint8_t ext[PB_MAX_EXT]; /* IPv6 extension headers, in order */
	unsigned int n_ext;
	enum pb_frag frag; /* PB_FRAG_NONE: not a fragment */
	uint32_t frag_id;
	uint16_t frag_off; /* PB_FRAG_LATER: 8-byte units */
	size_t payload;	   /* bytes after the L4 header */

	enum pb_field lie; /* PB_F_NONE: every length field true */
	uint32_t value;	   /* what .lie says instead */

	uint16_t vlan;	    /* 802.1Q VID (implies Ethernet); 0: none */
	bool eth;	    /* an Ethernet header, whatever the framing */
	uint16_t ethertype; /* force the (inner) EtherType; 0: by family */
};

/* Fill @b from @d; returns @b (pb_build() fails on a bad description). */
struct pb *pd_describe(struct pb *b, const struct pkt_desc *d);

/* Describe and render @d, with an Ethernet header when @eth (and when @d
 * asks for one); returns the length, 0 on a bad description. */
size_t pd_build(const struct pkt_desc *d, bool eth, uint8_t *buf, size_t cap);

#endif /* NANAMI_PKTDESC_H */
