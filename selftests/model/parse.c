// SPDX-License-Identifier: GPL-2.0
/*
 * parse.c - the reference model's packet parser, written from
 * docs/datapath.md "Parsing" alone. It shares no code with bpf/ on purpose:
 * two independent readings of one page are what the differential test
 * compares.
 */
#include <string.h>

#include "model/model.h"

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

#define NH_HOP 0
#define NH_ROUTING 43
#define NH_FRAGMENT 44
#define NH_AH 51
#define NH_DSTOPTS 60
#define NH_MOBILITY 135
#define NH_HIP 139
#define NH_SHIM6 140

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void map4(uint8_t out[NN_ADDR_LEN], const uint8_t *a4)
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, a4, 4);
}

/*
 * An IPv4-mapped address inside an IPv6 header must never appear on the
 * wire (RFC 4291 2.5.5.2). Because the model (like the maps) stores IPv4 as
 * IPv4-mapped, such a packet would otherwise alias an IPv4 identity: an
 * IPv6 packet from ::ffff:100.96.16.2 would be judged as alice-laptop's IPv4
 * address. The deprecated IPv4-compatible form ::a.b.c.d (RFC 4291 2.5.5.1)
 * is refused with it; :: and ::1 are not of that form (datapath.md).
 */
static bool embeds_v4(const uint8_t *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t zero[12];

	if (memcmp(a, mapped, sizeof(mapped)) == 0)
		return true;
	return memcmp(a, zero, sizeof(zero)) == 0 && rd32(a + 12) > 1;
}

bool nn_mtuple_is_icmp(const struct nn_mtuple *t)
{
	return t->v6 ? t->proto == PROTO_ICMPV6 : t->proto == PROTO_ICMP;
}

static bool icmp_is_echo(bool v6, uint8_t type)
{
	return v6 ? (type == 128 || type == 129) : (type == 8 || type == 0);
}

static bool icmp_is_error(bool v6, uint8_t type)
{
	if (v6)
		return type >= 1 && type <= 4;
	return type == 3 || type == 11 || type == 12;
}

/* The quote of an ICMP error: @q, @qlen bytes after the 8-byte header. */
static int parse_quote(struct nn_mpkt *pk, const uint8_t *q, size_t qlen)
{
	struct nn_mtuple *t = &pk->quote;
	size_t hl;
	bool later = false;

	t->v6 = pk->t.v6;
	if (t->v6) {
		if (qlen < 40 || q[0] >> 4 != 6)
			return NN_R_MALFORMED;
		if (embeds_v4(q + 8) || embeds_v4(q + 24))
			return NN_R_MALFORMED;
		memcpy(t->src, q + 8, NN_ADDR_LEN);
		memcpy(t->dst, q + 24, NN_ADDR_LEN);
		/* Extension headers are not walked: a quote whose next
		 * header is one carries that number as its protocol, which
		 * no flow can have. */
		t->proto = q[6];
		hl = 40;
	} else {
		if (qlen < 20 || q[0] >> 4 != 4)
			return NN_R_MALFORMED;
		hl = (size_t)(q[0] & 0xf) * 4;
		if (hl < 20 || hl > qlen)
			return NN_R_MALFORMED;
		map4(t->src, q + 12);
		map4(t->dst, q + 16);
		t->proto = q[9];
		later = (rd16(q + 6) & 0x1fff) != 0;
	}
	q += hl;
	qlen -= hl;
	pk->quote_flowable = true;
	if (later)
		return NN_PASS;
	if (t->proto == PROTO_TCP || t->proto == PROTO_UDP) {
		if (qlen < 4)
			return NN_R_MALFORMED;
		t->sport = rd16(q);
		t->dport = rd16(q + 2);
	} else if (nn_mtuple_is_icmp(t)) {
		/* Whether the quoted ICMP is an echo needs its type byte:
		 * with none the quote cannot be classified, so it is as
		 * malformed as a too-short echo. */
		if (qlen < 1)
			return NN_R_MALFORMED;
		if (icmp_is_echo(t->v6, q[0])) {
			if (qlen < 8)
				return NN_R_MALFORMED;
			t->sport = rd16(q + 4);
			t->dport = t->sport;
		} else {
			/* Only echo creates ICMP flows, so a quoted
			 * non-echo message belongs to none; its (0, 0)
			 * ports must not find an echo flow of id 0. */
			pk->quote_flowable = false;
		}
	}
	return NN_PASS;
}

/* L4 of a packet that is not a later fragment: @l4len bytes at @l4. */
static int parse_l4(struct nn_mpkt *pk, const uint8_t *l4, size_t l4len)
{
	struct nn_mtuple *t = &pk->t;

	if (t->proto == PROTO_TCP) {
		size_t doff;

		if (l4len < 20)
			return NN_R_MALFORMED;
		doff = (size_t)(l4[12] >> 4) * 4;
		if (doff < 20 || doff > l4len)
			return NN_R_MALFORMED;
		t->sport = rd16(l4);
		t->dport = rd16(l4 + 2);
		pk->tcp_flags = l4[13];
		return NN_PASS;
	}
	if (t->proto == PROTO_UDP) {
		if (l4len < 8)
			return NN_R_MALFORMED;
		if (!pk->frag_first && rd16(l4 + 4) != l4len)
			return NN_R_MALFORMED;
		t->sport = rd16(l4);
		t->dport = rd16(l4 + 2);
		return NN_PASS;
	}
	if (!nn_mtuple_is_icmp(t))
		return NN_PASS;

	pk->icmp = true;
	if (l4len < 8)
		return NN_R_MALFORMED;
	pk->icmp_type = l4[0];
	pk->icmp_code = l4[1];
	if (icmp_is_echo(t->v6, l4[0])) {
		pk->echo = true;
		t->sport = rd16(l4 + 4);
		t->dport = t->sport;
		return NN_PASS;
	}
	if (icmp_is_error(t->v6, l4[0])) {
		pk->icmp_err = true;
		return parse_quote(pk, l4 + 8, l4len - 8);
	}
	return NN_PASS;
}

/*
 * The IPv4 options of RFC 791, @n bytes: single-byte End of Option List
 * and No Operation, every other option (type, length >= 2, data) inside the
 * header. A source route (RFC 7126: LSRR 131, SSRR 137) is malformed.
 */
static int check_v4_options(const uint8_t *o, size_t n)
{
	size_t pos = 0;

	while (pos < n) {
		uint8_t type = o[pos];

		if (type == 0)
			break;
		if (type == 1) {
			pos++;
			continue;
		}
		if (type == 131 || type == 137)
			return NN_R_MALFORMED;
		if (n - pos < 2 || o[pos + 1] < 2 || o[pos + 1] > n - pos)
			return NN_R_MALFORMED;
		pos += o[pos + 1];
	}
	return NN_PASS;
}

static int parse_v4(struct nn_mpkt *pk, const uint8_t *ip, size_t avail, bool exact)
{
	size_t hl, tot;
	uint16_t frag;

	if (avail < 20)
		return NN_R_MALFORMED;
	hl = (size_t)(ip[0] & 0xf) * 4;
	if (hl < 20 || hl > avail)
		return NN_R_MALFORMED;
	tot = rd16(ip + 2);
	if (tot < hl || tot > avail || (exact && tot != avail))
		return NN_R_MALFORMED;
	if (check_v4_options(ip + 20, hl - 20) != NN_PASS)
		return NN_R_MALFORMED;

	pk->t.v6 = false;
	pk->t.proto = ip[9];
	map4(pk->t.src, ip + 12);
	map4(pk->t.dst, ip + 16);
	frag = rd16(ip + 6);
	pk->frag_id = rd16(ip + 4);
	pk->frag_off = frag & 0x1fff;
	pk->frag_mf = (frag & 0x2000) != 0;
	if (frag & 0x1fff)
		pk->frag_later = true;
	else if (frag & 0x2000)
		pk->frag_first = true;
	if (pk->frag_later)
		return NN_PASS;
	return parse_l4(pk, ip + hl, tot - hl);
}

static bool is_ext_hdr(uint8_t nh)
{
	switch (nh) {
	case NH_HOP:
	case NH_ROUTING:
	case NH_FRAGMENT:
	case NH_AH:
	case NH_DSTOPTS:
	case NH_MOBILITY:
	case NH_HIP:
	case NH_SHIM6:
		return true;
	default:
		return false;
	}
}

static int parse_v6(struct nn_mpkt *pk, const uint8_t *ip, size_t avail, bool exact)
{
	size_t plen, pos, end, hl;
	unsigned int n = 0;
	uint8_t nh;

	if (avail < 40)
		return NN_R_MALFORMED;
	plen = rd16(ip + 4);
	if (plen == 0 || 40 + plen > avail || (exact && 40 + plen != avail))
		return NN_R_MALFORMED;
	if (embeds_v4(ip + 8) || embeds_v4(ip + 24))
		return NN_R_MALFORMED;

	pk->t.v6 = true;
	memcpy(pk->t.src, ip + 8, NN_ADDR_LEN);
	memcpy(pk->t.dst, ip + 24, NN_ADDR_LEN);
	nh = ip[6];
	pos = 40;
	end = 40 + plen;
	while (is_ext_hdr(nh)) {
		const uint8_t *h = ip + pos;

		if (++n > NN_MAX_EXT_HDRS)
			return NN_R_MALFORMED;
		if (nh == NH_FRAGMENT) {
			uint16_t fo, off8;
			bool mf;

			if (end - pos < 8)
				return NN_R_MALFORMED;
			pk->frag_hdr = true;
			fo = rd16(h + 2);
			off8 = fo >> 3;
			mf = fo & 1;
			nh = h[0];
			pos += 8;
			if (!off8 && !mf)
				continue; /* atomic (RFC 6946): no fragment */
			if (pk->frag_first)
				return NN_R_MALFORMED; /* nested fragmentation */
			pk->frag_id = rd32(h + 4);
			pk->frag_off = off8;
			pk->frag_mf = mf;
			if (off8) {
				/* Later fragment: nothing after it is here, and
				 * its next header may name another extension
				 * header, so no L4 protocol is known. */
				pk->frag_later = true;
				pk->t.proto = 0;
				return NN_PASS;
			}
			pk->frag_first = true;
			continue;
		}
		if (nh == NH_ROUTING && end - pos >= 3 && h[2] == 0)
			return NN_R_MALFORMED; /* type 0: a source route, RFC 5095 */
		if (end - pos < 2)
			return NN_R_MALFORMED;
		if (nh == NH_AH)
			hl = ((size_t)h[1] + 2) * 4;
		else
			hl = ((size_t)h[1] + 1) * 8;
		if (hl > end - pos)
			return NN_R_MALFORMED;
		nh = h[0];
		pos += hl;
	}
	pk->t.proto = nh;
	return parse_l4(pk, ip + pos, end - pos);
}

/*
 * Neighbour discovery passes untouched with Ethernet framing, when it looks
 * like ND (datapath.md): hop limit 255, no Fragment header at all (RFC 6980
 * forbids it, atomic or not), a link-local or multicast destination. Else it
 * is judged like any packet: ND types must not smuggle a packet past policy.
 */
static bool is_nd(const struct nn_mpkt *pk, const uint8_t *ip)
{
	const uint8_t *dst = pk->t.dst;
	bool link_local = dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80;

	return pk->t.v6 && pk->icmp && !pk->frag_hdr && pk->icmp_type >= 133 &&
	       pk->icmp_type <= 137 && ip[7] == 255 && (link_local || dst[0] == 0xff);
}

int nn_model_parse(enum nn_framing framing, const uint8_t *pkt, size_t len, struct nn_mpkt *out)
{
	uint16_t etype = 0;
	size_t off = 0;
	unsigned int ver;
	int r;

	memset(out, 0, sizeof(*out));
	if (framing == NN_FRAMING_ETH) {
		if (len < ETH_HLEN)
			return NN_R_MALFORMED;
		etype = rd16(pkt + 12);
		off = ETH_HLEN;
		if (etype == ETH_P_8021AD)
			return NN_R_MALFORMED;
		if (etype == ETH_P_8021Q) {
			if (len < ETH_HLEN + VLAN_HLEN)
				return NN_R_MALFORMED;
			etype = rd16(pkt + 16);
			off += VLAN_HLEN;
			if (etype == ETH_P_8021Q || etype == ETH_P_8021AD)
				return NN_R_MALFORMED;
		}
		if (etype == ETH_P_ARP) {
			out->untouched = true;
			return NN_PASS;
		}
		if (etype != ETH_P_IP && etype != ETH_P_IPV6)
			return NN_R_MALFORMED;
	}
	if (len - off == 0)
		return NN_R_MALFORMED;
	ver = pkt[off] >> 4;
	if (framing == NN_FRAMING_ETH &&
	    ((etype == ETH_P_IP && ver != 4) || (etype == ETH_P_IPV6 && ver != 6)))
		return NN_R_MALFORMED;

	if (ver == 4)
		r = parse_v4(out, pkt + off, len - off, framing == NN_FRAMING_L3);
	else if (ver == 6)
		r = parse_v6(out, pkt + off, len - off, framing == NN_FRAMING_L3);
	else
		r = NN_R_MALFORMED;
	if (r != NN_PASS)
		return r;
	if (framing == NN_FRAMING_ETH && is_nd(out, pkt + off))
		out->untouched = true;
	return NN_PASS;
}
