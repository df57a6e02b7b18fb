/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pktbuild.h - a small packet builder for every test (model tests,
 * BPF_PROG_TEST_RUN fixtures, differential fuzzing).
 *
 * Describe a packet with calls that each return the builder, then render it:
 *
 *	struct pb b;
 *	uint8_t buf[PB_BUF_LEN];
 *	size_t len;
 *
 *	pb_tcp(pb_ip(pb_init(&b), "fd7a:6e61:6e61:10::2", "fd00:acc::5"),
 *	       40000, 5432, PB_TCP_SYN);
 *	len = pb_build(&b, buf, sizeof(buf));
 *
 * By default every length field and checksum is correct and the packet
 * starts at the IP header (L3 framing). pb_lie() makes one length field
 * lie, pb_truncate() cuts the rendered packet. pb_build() returns 0 when
 * the description is invalid (a bad address, mixed families, too big).
 */
#ifndef NANAMI_PKTBUILD_H
#define NANAMI_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PB_BUF_LEN 2048
#define PB_MAX_EXT 16 /* more than NN_MAX_EXT_HDRS, to test the bound */
#define PB_MAX_QUOTE 1400
#define PB_MAX_OPTS 40 /* IPv4 option bytes (IHL 15) */

#define PB_TCP_FIN 0x01
#define PB_TCP_SYN 0x02
#define PB_TCP_RST 0x04
#define PB_TCP_PSH 0x08
#define PB_TCP_ACK 0x10

enum pb_l4 {
	PB_L4_RAW = 0, /* protocol number + payload, no L4 header */
	PB_L4_TCP,
	PB_L4_UDP,
	PB_L4_ICMP, /* ICMP (IPv4) or ICMPv6 (IPv6) of any type */
	PB_L4_ARP,  /* an Ethernet ARP frame instead of IP */
};

enum pb_frag {
	PB_FRAG_NONE = 0,
	PB_FRAG_FIRST,	/* offset 0, more fragments */
	PB_FRAG_LATER,	/* offset > 0: payload only, no L4 header */
	PB_FRAG_ATOMIC, /* IPv6 fragment header, offset 0, M clear */
};

/* Length fields pb_lie() can override (PB_F_NONE: none, so a zeroed
 * description lies about nothing). */
enum pb_field {
	PB_F_NONE = 0,
	PB_F_IP_LEN,   /* IPv4 total length / IPv6 payload length */
	PB_F_IHL,      /* IPv4 header length nibble (words) */
	PB_F_VERSION,  /* IP version nibble */
	PB_F_TCP_DOFF, /* TCP data offset nibble (words) */
	PB_F_UDP_LEN,
	PB_F_EXT_LEN, /* length byte of the first extension header */
	PB_F_MAX,
};

struct pb {
	bool bad;	 /* an invalid call was made: build fails */
	int family;	 /* 4 or 6; 0 until pb_ip() */
	uint8_t src[16]; /* IPv4 in the first 4 bytes */
	uint8_t dst[16];
	uint8_t ttl; /* TTL / hop limit */
	uint16_t ip_id;

	bool eth;
	bool vlan;
	uint16_t vlan_tci;
	uint16_t ethertype; /* 0: chosen from the family */

	unsigned int opt_words;	   /* IPv4 options, 4-byte words of NOP */
	uint8_t opts[PB_MAX_OPTS]; /* or these option bytes, EOL-padded */
	size_t opt_len;
	uint8_t ext[PB_MAX_EXT]; /* IPv6 extension header types */
	unsigned int n_ext;
	uint8_t ext_after[PB_MAX_EXT]; /* ... and those after the Fragment header */
	unsigned int n_ext_after;
	uint8_t rh_type; /* routing headers: type (default 253, RFC 4727) */
	uint8_t rh_segleft;

	enum pb_frag frag;
	uint32_t frag_id;
	uint16_t frag_off; /* in 8-byte units */

	enum pb_l4 l4;
	uint8_t proto; /* PB_L4_RAW protocol number */
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint32_t icmp_rest; /* bytes 4-7 of the ICMP header */
	uint8_t quote[PB_MAX_QUOTE];
	size_t quote_len;
	size_t payload_len;

	bool lie_set[PB_F_MAX];
	uint32_t lie[PB_F_MAX];
	bool has_trunc;
	size_t trunc;
};

/* Empty description: TTL 64, IP id 1, raw protocol 59 (no next header). */
struct pb *pb_init(struct pb *b);

/* Addresses as text; the family (4 or 6) comes from them and must agree. */
struct pb *pb_ip(struct pb *b, const char *src, const char *dst);
struct pb *pb_ttl(struct pb *b, uint8_t ttl);
struct pb *pb_ip_id(struct pb *b, uint16_t id);

/* ---- L4 ---- */
struct pb *pb_tcp(struct pb *b, uint16_t sport, uint16_t dport, uint8_t flags);
struct pb *pb_udp(struct pb *b, uint16_t sport, uint16_t dport);
/* Echo request (@request) or reply of the packet's family, with @id;
 * after pb_ip(), which sets the family (so do pb_dest_unreach()). */
struct pb *pb_echo(struct pb *b, bool request, uint16_t id);
/* Any ICMP/ICMPv6 message: type, code, header bytes 4-7. */
struct pb *pb_icmp(struct pb *b, uint8_t type, uint8_t code, uint32_t rest);
/* An ICMP error quoting @q (an L3 packet, e.g. another pb_build() output),
 * at most PB_MAX_QUOTE bytes of it. */
struct pb *pb_icmp_error(struct pb *b, uint8_t type, uint8_t code, uint32_t rest, const uint8_t *q,
			 size_t qlen);
/* ICMPv6 Packet Too Big (2/0) with @mtu. */
struct pb *pb_ptb(struct pb *b, uint32_t mtu, const uint8_t *q, size_t qlen);
/* ICMP destination unreachable, fragmentation needed (3/4) with @mtu. */
struct pb *pb_frag_needed(struct pb *b, uint16_t mtu, const uint8_t *q, size_t qlen);
/* Destination unreachable of the family (ICMP 3 / ICMPv6 1), @code. */
struct pb *pb_dest_unreach(struct pb *b, uint8_t code, const uint8_t *q, size_t qlen);
/* Neighbour discovery message @type (133-137), hop limit 255. */
struct pb *pb_nd(struct pb *b, uint8_t type);
/* Any other protocol number: no L4 header, just the payload. */
struct pb *pb_proto(struct pb *b, uint8_t proto);
/* Bytes after the L4 header (for later fragments: all the bytes). */
struct pb *pb_payload(struct pb *b, size_t n);

/* ---- IP extras ---- */
/* IPv4 options: @words 4-byte words of NOP (IHL = 5 + words). */
struct pb *pb_ip_opts(struct pb *b, unsigned int words);
/* IPv4 options: these @n (<= 40) bytes, padded with End of Option List
 * (0) to a multiple of 4; instead of pb_ip_opts(). */
struct pb *pb_ip_opt_bytes(struct pb *b, const uint8_t *opts, size_t n);
/* Append @n IPv6 extension headers of @type (0, 43, 44 atomic, 51, 60,
 * 135, 139, 140 or any number: each is 8 bytes, AH 16). */
struct pb *pb_ext(struct pb *b, uint8_t type, unsigned int n);
/* Append @n extension headers of @type after the Fragment header of
 * pb_frag() (before it when there is none). They belong to the
 * fragmentable part: a later fragment does not carry them, its Fragment
 * header names the first of them as next header. */
struct pb *pb_ext_after_frag(struct pb *b, uint8_t type, unsigned int n);
/* Routing headers (type 43) get this routing type and segments left
 * (default 253, experimental, and 0: skipped by every stack). */
struct pb *pb_rh(struct pb *b, uint8_t type, uint8_t segleft);
/* Make the packet a fragment; @off8 in 8-byte units (LATER only). IPv6
 * puts the fragment header after the other extension headers. */
struct pb *pb_frag(struct pb *b, enum pb_frag kind, uint32_t id, uint16_t off8);

/* ---- L2 ---- */
struct pb *pb_eth(struct pb *b);
struct pb *pb_vlan(struct pb *b, uint16_t vid);
/* Force the (inner) EtherType, e.g. to test a mismatch. */
struct pb *pb_ethertype(struct pb *b, uint16_t type);
/* An ARP request frame (implies Ethernet); pb_ip() addresses, IPv4, are
 * the sender and target when given. */
struct pb *pb_arp(struct pb *b);

/* ---- Breaking it ---- */
struct pb *pb_lie(struct pb *b, enum pb_field f, uint32_t value);
/* Keep only the first @len bytes of the rendered packet (L2 included);
 * @len 0 is not useful: pb_build() returning 0 means failure. */
struct pb *pb_truncate(struct pb *b, size_t len);

/* Render into @buf; returns the length, 0 when invalid or over @cap. */
size_t pb_build(const struct pb *b, uint8_t *buf, size_t cap);

#endif /* NANAMI_PKTBUILD_H */
