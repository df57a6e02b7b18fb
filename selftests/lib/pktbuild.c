// SPDX-License-Identifier: GPL-2.0
/*
 * pktbuild.c - render a struct pb description into bytes. Rendering goes
 * inside out (L4, then IP with its extension headers, then L2) so every
 * length is known when its field is written; lies and truncation are
 * applied last so they change nothing else.
 */
#include <arpa/inet.h>
#include <string.h>

#include "pktbuild.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

struct pb *pb_init(struct pb *b)
{
	memset(b, 0, sizeof(*b));
	b->ttl = 64;
	b->ip_id = 1;
	b->l4 = PB_L4_RAW;
	b->proto = 59;
	b->rh_type = 253;
	return b;
}

static int parse_addr(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (strchr(s, ':'))
		return inet_pton(AF_INET6, s, out) == 1 ? 6 : 0;
	return inet_pton(AF_INET, s, out) == 1 ? 4 : 0;
}

struct pb *pb_ip(struct pb *b, const char *src, const char *dst)
{
	int fs = parse_addr(src, b->src), fd = parse_addr(dst, b->dst);

	if (!fs || fs != fd)
		b->bad = true;
	b->family = fs;
	return b;
}

struct pb *pb_ttl(struct pb *b, uint8_t ttl)
{
	b->ttl = ttl;
	return b;
}

struct pb *pb_ip_id(struct pb *b, uint16_t id)
{
	b->ip_id = id;
	return b;
}

struct pb *pb_tcp(struct pb *b, uint16_t sport, uint16_t dport, uint8_t flags)
{
	b->l4 = PB_L4_TCP;
	b->sport = sport;
	b->dport = dport;
	b->tcp_flags = flags;
	return b;
}

struct pb *pb_udp(struct pb *b, uint16_t sport, uint16_t dport)
{
	b->l4 = PB_L4_UDP;
	b->sport = sport;
	b->dport = dport;
	return b;
}

struct pb *pb_icmp(struct pb *b, uint8_t type, uint8_t code, uint32_t rest)
{
	b->l4 = PB_L4_ICMP;
	b->icmp_type = type;
	b->icmp_code = code;
	b->icmp_rest = rest;
	return b;
}

/* Needs the family, so call it after pb_ip(). */
struct pb *pb_echo(struct pb *b, bool request, uint16_t id)
{
	uint8_t type;

	if (b->family == 6)
		type = request ? 128 : 129;
	else
		type = request ? 8 : 0;
	/* Sequence number 1 in the low half. */
	return pb_icmp(b, type, 0, (uint32_t)id << 16 | 1);
}

struct pb *pb_icmp_error(struct pb *b, uint8_t type, uint8_t code, uint32_t rest, const uint8_t *q,
			 size_t qlen)
{
	pb_icmp(b, type, code, rest);
	if (qlen > PB_MAX_QUOTE)
		qlen = PB_MAX_QUOTE;
	memcpy(b->quote, q, qlen);
	b->quote_len = qlen;
	return b;
}

struct pb *pb_ptb(struct pb *b, uint32_t mtu, const uint8_t *q, size_t qlen)
{
	return pb_icmp_error(b, 2, 0, mtu, q, qlen);
}

struct pb *pb_frag_needed(struct pb *b, uint16_t mtu, const uint8_t *q, size_t qlen)
{
	return pb_icmp_error(b, 3, 4, mtu, q, qlen);
}

struct pb *pb_dest_unreach(struct pb *b, uint8_t code, const uint8_t *q, size_t qlen)
{
	return pb_icmp_error(b, b->family == 6 ? 1 : 3, code, 0, q, qlen);
}

/* The body is a 16-byte target address (the destination), enough for
 * every ND type to look like one. */
struct pb *pb_nd(struct pb *b, uint8_t type)
{
	pb_icmp(b, type, 0, 0);
	b->ttl = 255;
	b->payload_len = 16;
	return b;
}

struct pb *pb_proto(struct pb *b, uint8_t proto)
{
	b->l4 = PB_L4_RAW;
	b->proto = proto;
	return b;
}

struct pb *pb_payload(struct pb *b, size_t n)
{
	b->payload_len = n;
	return b;
}

struct pb *pb_ip_opts(struct pb *b, unsigned int words)
{
	if (words > 10)
		b->bad = true;
	b->opt_words = words;
	b->opt_len = 0;
	return b;
}

struct pb *pb_ip_opt_bytes(struct pb *b, const uint8_t *opts, size_t n)
{
	if (n > PB_MAX_OPTS) {
		b->bad = true;
		return b;
	}
	memcpy(b->opts, opts, n);
	b->opt_len = n;
	b->opt_words = 0;
	return b;
}

/* Both lists together must fit the renderer's PB_MAX_EXT + 1 slots. */
static void add_ext(struct pb *b, uint8_t *list, unsigned int *cnt, uint8_t type, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (b->n_ext + b->n_ext_after == PB_MAX_EXT) {
			b->bad = true;
			break;
		}
		list[(*cnt)++] = type;
	}
}

struct pb *pb_ext(struct pb *b, uint8_t type, unsigned int n)
{
	add_ext(b, b->ext, &b->n_ext, type, n);
	return b;
}

struct pb *pb_ext_after_frag(struct pb *b, uint8_t type, unsigned int n)
{
	add_ext(b, b->ext_after, &b->n_ext_after, type, n);
	return b;
}

struct pb *pb_rh(struct pb *b, uint8_t type, uint8_t segleft)
{
	b->rh_type = type;
	b->rh_segleft = segleft;
	return b;
}

struct pb *pb_frag(struct pb *b, enum pb_frag kind, uint32_t id, uint16_t off8)
{
	b->frag = kind;
	b->frag_id = id;
	b->frag_off = kind == PB_FRAG_LATER ? off8 : 0;
	if (kind == PB_FRAG_LATER && off8 == 0)
		b->bad = true;
	return b;
}

struct pb *pb_eth(struct pb *b)
{
	b->eth = true;
	return b;
}

struct pb *pb_vlan(struct pb *b, uint16_t vid)
{
	b->eth = true;
	b->vlan = true;
	b->vlan_tci = vid & 0x0fff;
	return b;
}

struct pb *pb_ethertype(struct pb *b, uint16_t type)
{
	b->ethertype = type;
	return b;
}

struct pb *pb_arp(struct pb *b)
{
	b->eth = true;
	b->l4 = PB_L4_ARP;
	return b;
}

struct pb *pb_lie(struct pb *b, enum pb_field f, uint32_t value)
{
	if (f == PB_F_NONE || f >= PB_F_MAX) {
		b->bad = true;
		return b;
	}
	b->lie_set[f] = true;
	b->lie[f] = value;
	return b;
}

struct pb *pb_truncate(struct pb *b, size_t len)
{
	b->has_trunc = true;
	b->trunc = len;
	return b;
}

/* ---- Checksums ---- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo_sum(const struct pb *b, uint8_t proto, size_t len)
{
	uint8_t ph[40];
	size_t alen = b->family == 6 ? 16 : 4;

	memcpy(ph, b->src, alen);
	memcpy(ph + alen, b->dst, alen);
	if (b->family == 6) {
		wr32(ph + 32, (uint32_t)len);
		wr32(ph + 36, proto);
		return csum_add(0, ph, 40);
	}
	ph[8] = 0;
	ph[9] = proto;
	wr16(ph + 10, (uint16_t)len);
	return csum_add(0, ph, 12);
}

/* ---- Rendering ---- */

static uint8_t l4_proto(const struct pb *b)
{
	switch (b->l4) {
	case PB_L4_TCP:
		return 6;
	case PB_L4_UDP:
		return 17;
	case PB_L4_ICMP:
		return b->family == 6 ? 58 : 1;
	default:
		return b->proto;
	}
}

static void fill_payload(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(0xa0 + i);
}

/* L4 header + quote + payload at @p into *@len; false on overflow. */
static bool render_l4(const struct pb *b, uint8_t *p, size_t cap, size_t *len)
{
	size_t hl = 0, n;
	uint8_t proto = l4_proto(b);
	uint16_t sum_off = 0;
	bool has_sum = false;

	if (b->frag == PB_FRAG_LATER) {
		/* A later fragment carries no L4 header. */
		if (b->payload_len > cap)
			return false;
		fill_payload(p, b->payload_len);
		*len = b->payload_len;
		return true;
	}
	switch (b->l4) {
	case PB_L4_TCP:
		hl = 20;
		break;
	case PB_L4_UDP:
		hl = 8;
		break;
	case PB_L4_ICMP:
		hl = 8 + b->quote_len;
		break;
	default:
		hl = 0;
		break;
	}
	n = hl + b->payload_len;
	if (n > cap)
		return false;
	memset(p, 0, hl);
	switch (b->l4) {
	case PB_L4_TCP:
		wr16(p, b->sport);
		wr16(p + 2, b->dport);
		wr32(p + 4, 1); /* seq */
		wr32(p + 8, b->tcp_flags & PB_TCP_ACK ? 1 : 0);
		p[12] = 5 << 4;
		p[13] = b->tcp_flags;
		wr16(p + 14, 65535); /* window */
		has_sum = true;
		sum_off = 16;
		break;
	case PB_L4_UDP:
		wr16(p, b->sport);
		wr16(p + 2, b->dport);
		wr16(p + 4, (uint16_t)n);
		has_sum = true;
		sum_off = 6;
		break;
	case PB_L4_ICMP:
		p[0] = b->icmp_type;
		p[1] = b->icmp_code;
		wr32(p + 4, b->icmp_rest);
		memcpy(p + 8, b->quote, b->quote_len);
		has_sum = true;
		sum_off = 2;
		break;
	default:
		break;
	}
	fill_payload(p + hl, b->payload_len);

	/* Checksums over the true lengths, then the lies. */
	if (has_sum) {
		uint32_t sum = 0;
		uint16_t c;

		if (b->family == 6 || b->l4 != PB_L4_ICMP)
			sum = pseudo_sum(b, proto, n);
		c = csum_fold(csum_add(sum, p, n));
		if (b->l4 == PB_L4_UDP && c == 0)
			c = 0xffff;
		wr16(p + sum_off, c);
	}
	if (b->l4 == PB_L4_TCP && b->lie_set[PB_F_TCP_DOFF])
		p[12] = (uint8_t)((b->lie[PB_F_TCP_DOFF] & 0xf) << 4);
	if (b->l4 == PB_L4_UDP && b->lie_set[PB_F_UDP_LEN])
		wr16(p + 4, (uint16_t)b->lie[PB_F_UDP_LEN]);
	*len = n;
	return true;
}

/* One IPv6 extension header of @type whose next header is @nh. */
static size_t render_ext(const struct pb *b, uint8_t type, uint8_t nh, uint8_t *p)
{
	if (type == 51) {
		memset(p, 0, 16);
		p[0] = nh;
		p[1] = 2; /* (2 + 2) * 4 = 16 bytes */
		return 16;
	}
	memset(p, 0, 8);
	p[0] = nh;
	if (type == 0 || type == 60) {
		p[2] = 1; /* PadN over the 6 option bytes */
		p[3] = 4;
	}
	if (type == 43) {
		p[2] = b->rh_type;
		p[3] = b->rh_segleft;
	}
	return 8;
}

static size_t render_v6(const struct pb *b, uint8_t *p, size_t cap)
{
	size_t hl = 40, l4len, i;
	uint8_t types[2 * PB_MAX_EXT + 1];
	unsigned int n = b->n_ext, own = PB_MAX_EXT + 1, after = 0;

	memcpy(types, b->ext, n);
	if (b->frag != PB_FRAG_NONE) {
		own = n;
		types[n++] = 44;
	}
	/* A later fragment carries none of the fragmentable part. */
	if (b->frag != PB_FRAG_LATER) {
		memcpy(types + n, b->ext_after, b->n_ext_after);
		n += b->n_ext_after;
	} else if (b->n_ext_after) {
		after = b->ext_after[0];
	}
	for (i = 0; i < n; i++)
		hl += types[i] == 51 ? 16 : 8;
	if (hl > cap)
		return 0;
	if (!render_l4(b, p + hl, cap - hl, &l4len))
		return 0;

	memset(p, 0, 40);
	p[0] = 6 << 4;
	wr16(p + 4, (uint16_t)(hl - 40 + l4len));
	p[6] = n ? types[0] : l4_proto(b);
	p[7] = b->ttl;
	memcpy(p + 8, b->src, 16);
	memcpy(p + 24, b->dst, 16);
	hl = 40;
	for (i = 0; i < n; i++) {
		uint8_t nh = i + 1 < n ? types[i + 1] : after ? after : l4_proto(b);
		size_t len = render_ext(b, types[i], nh, p + hl);

		if (types[i] == 44) {
			/* The builder's own fragment header is the one
			 * between ext and ext_after; those from pb_ext()
			 * are atomic. */
			bool is_own = i == own;
			uint16_t fo = 0;

			if (is_own && b->frag == PB_FRAG_LATER)
				fo = (uint16_t)(b->frag_off << 3);
			if (is_own && b->frag == PB_FRAG_FIRST)
				fo = 1;
			wr16(p + hl + 2, fo);
			wr32(p + hl + 4, is_own ? b->frag_id : 0);
		}
		if (i == 0 && b->lie_set[PB_F_EXT_LEN])
			p[hl + 1] = (uint8_t)b->lie[PB_F_EXT_LEN];
		hl += len;
	}
	if (b->lie_set[PB_F_IP_LEN])
		wr16(p + 4, (uint16_t)b->lie[PB_F_IP_LEN]);
	if (b->lie_set[PB_F_VERSION])
		p[0] = (uint8_t)((b->lie[PB_F_VERSION] & 0xf) << 4);
	return hl + l4len;
}

static size_t render_v4(const struct pb *b, uint8_t *p, size_t cap)
{
	size_t optlen = b->opt_len ? (b->opt_len + 3) / 4 * 4 : b->opt_words * 4;
	size_t hl = 20 + optlen, l4len;
	uint16_t frag = 0;
	unsigned int ihl = (unsigned int)(hl / 4);

	if (hl > cap)
		return 0;
	if (!render_l4(b, p + hl, cap - hl, &l4len))
		return 0;

	memset(p, 0, hl);
	if (b->opt_len)
		memcpy(p + 20, b->opts, b->opt_len); /* EOL (0) pads the rest */
	else
		memset(p + 20, 1, hl - 20); /* NOP options */
	if (b->lie_set[PB_F_IHL])
		ihl = b->lie[PB_F_IHL] & 0xf;
	p[0] = (uint8_t)(4 << 4 | ihl);
	if (b->lie_set[PB_F_VERSION])
		p[0] = (uint8_t)((b->lie[PB_F_VERSION] & 0xf) << 4 | ihl);
	wr16(p + 2, (uint16_t)(b->lie_set[PB_F_IP_LEN] ? b->lie[PB_F_IP_LEN] : hl + l4len));
	wr16(p + 4, b->frag != PB_FRAG_NONE ? (uint16_t)b->frag_id : b->ip_id);
	if (b->frag == PB_FRAG_FIRST)
		frag = 0x2000;
	if (b->frag == PB_FRAG_LATER)
		frag = b->frag_off & 0x1fff;
	wr16(p + 6, frag);
	p[8] = b->ttl;
	p[9] = l4_proto(b);
	memcpy(p + 12, b->src, 4);
	memcpy(p + 16, b->dst, 4);
	wr16(p + 10, csum_fold(csum_add(0, p, hl)));
	return hl + l4len;
}

static size_t render_arp(const struct pb *b, uint8_t *p, size_t cap)
{
	static const uint8_t sha[6] = { 2, 0, 0, 0, 0, 1 };

	if (cap < 28)
		return 0;
	memset(p, 0, 28);
	wr16(p, 1); /* Ethernet */
	wr16(p + 2, ETH_P_IP);
	p[4] = 6;
	p[5] = 4;
	wr16(p + 6, 1); /* request */
	memcpy(p + 8, sha, 6);
	if (b->family == 4) {
		memcpy(p + 14, b->src, 4);
		memcpy(p + 24, b->dst, 4);
	}
	return 28;
}

size_t pb_build(const struct pb *b, uint8_t *buf, size_t cap)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	size_t l2 = 0, l3;
	uint16_t etype;

	if (b->bad || (b->l4 != PB_L4_ARP && !b->family))
		return 0;
	if (b->family == 4 && (b->n_ext || b->n_ext_after))
		return 0;
	if (b->family == 6 && b->opt_len)
		return 0;
	if (b->family == 4 && b->frag == PB_FRAG_ATOMIC)
		return 0;
	if (b->eth)
		l2 = b->vlan ? 18 : 14;
	if (l2 > cap)
		return 0;

	if (b->l4 == PB_L4_ARP) {
		l3 = render_arp(b, buf + l2, cap - l2);
		etype = ETH_P_ARP;
	} else if (b->family == 6) {
		l3 = render_v6(b, buf + l2, cap - l2);
		etype = ETH_P_IPV6;
	} else {
		l3 = render_v4(b, buf + l2, cap - l2);
		etype = ETH_P_IP;
	}
	if (!l3)
		return 0;
	if (b->ethertype)
		etype = b->ethertype;
	if (b->eth) {
		memcpy(buf, macs, 12);
		if (b->vlan) {
			wr16(buf + 12, ETH_P_8021Q);
			wr16(buf + 14, b->vlan_tci);
			wr16(buf + 16, etype);
		} else {
			wr16(buf + 12, etype);
		}
	}
	if (b->has_trunc && b->trunc < l2 + l3)
		return b->trunc;
	return l2 + l3;
}
