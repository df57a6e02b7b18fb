// SPDX-License-Identifier: GPL-2.0
/*
 * explain_pkt.c - the one packet explain judges, built at L3 exactly as a peer's
 * packet arrives on wg0: a well-formed IPv4 or IPv6 header (lengths that
 * the parser checks against the packet), then a TCP SYN, a UDP datagram,
 * an ICMP/ICMPv6 echo request, or a few bytes of any other protocol.
 * Checksums are filled in so the packet is also fine for any other tool.
 */
#include <string.h>

#include "dp/explain.h"
#include "lib/addr.h"

#define NN_XPKT_PAYLOAD 8

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* L4 header and payload for @s at @l4; returns its length. */
static size_t build_l4(const struct nn_pkt_spec *s, uint8_t *l4)
{
	switch (s->proto) {
	case 6: /* TCP SYN, no options */
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		l4[7] = 1;	 /* seq 1 */
		l4[12] = 5 << 4; /* data offset */
		l4[13] = 0x02;	 /* SYN */
		put16(l4 + 14, 65535);
		return 20;
	case 17:
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put16(l4 + 4, 8 + NN_XPKT_PAYLOAD);
		return 8 + NN_XPKT_PAYLOAD;
	case 1:
	case 58: /* echo request, id = sport, seq 1 */
		l4[0] = s->proto == 1 ? 8 : 128;
		put16(l4 + 4, s->sport);
		put16(l4 + 6, 1);
		return 8 + NN_XPKT_PAYLOAD;
	default:
		return NN_XPKT_PAYLOAD;
	}
}

size_t nn_pkt_build(const struct nn_pkt_spec *s, uint8_t *buf, size_t cap)
{
	size_t hl = s->family == NN_FAM_V4 ? 20 : 40, l4len;
	uint8_t *l4 = buf + hl;
	uint32_t ps;
	int csum_off;

	if (cap < hl + 20 + NN_XPKT_PAYLOAD)
		return 0;
	memset(buf, 0, hl + 20 + NN_XPKT_PAYLOAD);
	l4len = build_l4(s, l4);
	if (s->family == NN_FAM_V4) {
		buf[0] = 0x45;
		put16(buf + 2, (uint16_t)(hl + l4len));
		put16(buf + 6, 0x4000); /* DF: not a fragment */
		buf[8] = 64;
		buf[9] = s->proto;
		memcpy(buf + 12, s->src + 12, 4);
		memcpy(buf + 16, s->dst + 12, 4);
		put16(buf + 10, fold(sum16(buf, 20, 0)));
		ps = sum16(buf + 12, 8, 0);
	} else {
		buf[0] = 0x60;
		put16(buf + 4, (uint16_t)l4len);
		buf[6] = s->proto;
		buf[7] = 64; /* not 255: never neighbour discovery */
		memcpy(buf + 8, s->src, NN_ADDR_LEN);
		memcpy(buf + 24, s->dst, NN_ADDR_LEN);
		ps = sum16(buf + 8, 32, 0);
	}
	/* Pseudo-header (both families): addresses, protocol, L4 length. */
	ps += s->proto + (uint32_t)l4len;
	csum_off = s->proto == 6 ? 16 : s->proto == 17 ? 6 : -1;
	if (s->proto == 1)
		put16(l4 + 2, fold(sum16(l4, l4len, 0))); /* ICMPv4: no pseudo-header */
	else if (s->proto == 58)
		csum_off = 2;
	if (csum_off >= 0)
		put16(l4 + csum_off, fold(sum16(l4, l4len, ps)));
	return hl + l4len;
}
