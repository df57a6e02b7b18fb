/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * parse.bpf.h - packet parsing exactly as docs/datapath.md "Parsing" says.
 * Every bounds check lives in these helpers; callers get a struct nn_pkt or
 * NN_R_MALFORMED. Ports are only ever read from a real L4 header.
 */
#ifndef NANAMI_PARSE_BPF_H
#define NANAMI_PARSE_BPF_H

#include "ctx.bpf.h"
#include "maps.bpf.h"

#define NN_ETH_P_IP 0x0800
#define NN_ETH_P_IPV6 0x86DD
#define NN_ETH_P_ARP 0x0806
#define NN_ETH_P_8021Q 0x8100
#define NN_ETH_P_8021AD 0x88A8

#define NN_IPPROTO_ICMP 1
#define NN_IPPROTO_TCP 6
#define NN_IPPROTO_UDP 17
#define NN_IPPROTO_ICMPV6 58

enum nn_frag_kind {
	NN_FRAG_NONE = 0,
	NN_FRAG_FIRST = 1,
	NN_FRAG_LATER = 2,
};

enum nn_icmp_kind {
	NN_ICMP_NONE = 0, /* not ICMP, or a type without meaning here */
	NN_ICMP_ECHO_REQ = 1,
	NN_ICMP_ECHO_REP = 2,
	NN_ICMP_ERROR = 3,
	NN_ICMP_PTB = 4, /* ICMPv6 Packet Too Big / ICMP frag needed */
};

struct nn_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* IPv4-mapped IPv6: ::ffff:a.b.c.d */
static __always_inline void nn_map_v4(__u8 *dst, __be32 v4)
{
	__u32 *d = (__u32 *)dst;

	d[0] = 0;
	d[1] = 0;
	d[2] = bpf_htonl(0x0000ffff);
	d[3] = v4;
}

static __always_inline void nn_copy16(__u8 *dst, const void *src)
{
	__builtin_memcpy(dst, src, NN_ADDR_LEN);
}

/* An IPv4-mapped address: how the maps store IPv4. */
static __always_inline int nn_is_v4mapped(const __u8 *a)
{
	__u32 w[3];

	__builtin_memcpy(w, a, sizeof(w));
	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

/*
 * An IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d) address
 * inside an IPv6 header would pose as the IPv4 address of a device (the maps
 * store IPv4 mapped): such packets are malformed. :: and ::1 are addresses
 * of their own (unspecified, loopback), not IPv4-compatible ones.
 */
static __always_inline int nn_v6_embeds_v4(const __u8 *a)
{
	__u32 w[4];

	__builtin_memcpy(w, a, sizeof(w));
	if (w[0] || w[1])
		return 0;
	if (w[2] == bpf_htonl(0x0000ffff))
		return 1;
	return w[2] == 0 && bpf_ntohl(w[3]) > 1;
}

/*
 * Make an upper bound the verifier can see whatever the compiler did to
 * the checks before (older verifiers lose bounds across 32-bit compares and
 * min()): @n & @mask, in an asm the compiler cannot fold away.
 */
static __always_inline __u32 nn_bound(__u32 n, const __u32 mask)
{
	asm volatile("%0 &= %1" : "+r"(n) : "i"(mask));
	return n;
}

/*
 * L4 headers (and an ICMP error's quote) are parsed from a stack copy of at
 * most NN_L4_BUF bytes: enough for ICMP (8) + a quoted IPv4 header with
 * options (60) + quoted ports or echo id (8). Indices are masked so every
 * read is provably inside the buffer; lengths are checked against @n, the
 * number of L4 bytes the packet really has (capped at NN_L4_BUF).
 */

static __always_inline __u8 nn_b(const __u8 *b, __u32 i)
{
	return b[i & (NN_L4_BUF - 1)];
}

static __always_inline __u16 nn_be16(const __u8 *b, __u32 i)
{
	return ((__u16)nn_b(b, i) << 8) | nn_b(b, i + 1);
}

/* The quote of an ICMP error, at b[8..n) (docs/datapath.md). */
static __always_inline int nn_parse_quote(const __u8 *b, __u32 n, int v6, struct nn_pkt *p)
{
	__u32 l4;

	if (!v6) {
		__u32 ihl;

		if (n < 8 + 20 || (b[8] >> 4) != 4)
			return NN_R_MALFORMED;
		ihl = (b[8] & 0xf) * 4;
		if (ihl < 20 || 8 + ihl > n)
			return NN_R_MALFORMED;
		nn_map_v4(p->q_src, *(__be32 *)&b[8 + 12]);
		nn_map_v4(p->q_dst, *(__be32 *)&b[8 + 16]);
		p->q_proto = b[8 + 9];
		l4 = 8 + ihl;
		p->q_flowable = 1;
		/* A quoted later fragment carries no L4 header. */
		if (nn_be16(b, 8 + 6) & 0x1fff)
			return 0;
	} else {
		if (n < 8 + 40 || (b[8] >> 4) != 6)
			return NN_R_MALFORMED;
		if (nn_v6_embeds_v4(&b[8 + 8]) || nn_v6_embeds_v4(&b[8 + 24]))
			return NN_R_MALFORMED;
		nn_copy16(p->q_src, &b[8 + 8]);
		nn_copy16(p->q_dst, &b[8 + 24]);
		p->q_proto = b[8 + 6];
		l4 = 8 + 40;
		p->q_flowable = 1;
	}
	if (p->q_proto == NN_IPPROTO_TCP || p->q_proto == NN_IPPROTO_UDP) {
		if (l4 + 4 > n)
			return NN_R_MALFORMED;
		p->q_sport = nn_be16(b, l4);
		p->q_dport = nn_be16(b, l4 + 2);
	} else if ((!v6 && p->q_proto == NN_IPPROTO_ICMP) ||
		   (v6 && p->q_proto == NN_IPPROTO_ICMPV6)) {
		__u8 t, req = v6 ? 128 : 8, rep = v6 ? 129 : 0;

		/* The type byte says whether it is an echo (the only ICMP
		 * that makes flows); an echo needs its id too. */
		if (l4 + 1 > n)
			return NN_R_MALFORMED;
		t = nn_b(b, l4);
		if (t == req || t == rep) {
			if (l4 + 8 > n)
				return NN_R_MALFORMED;
			p->q_sport = nn_be16(b, l4 + 4);
			p->q_dport = p->q_sport;
		} else {
			p->q_flowable = 0;
		}
	}
	return 0;
}

static __always_inline int nn_parse_icmp(const __u8 *b, __u32 n, int v6, __u8 hop_limit,
					 struct nn_pkt *p)
{
	__u8 type = b[0], code = b[1];

	if ((!v6 && (type == 8 || type == 0)) || (v6 && (type == 128 || type == 129))) {
		p->sport = nn_be16(b, 4);
		p->dport = p->sport;
		p->icmp = (type == 8 || type == 128) ? NN_ICMP_ECHO_REQ : NN_ICMP_ECHO_REP;
		return 0;
	}
	if ((!v6 && (type == 3 || type == 11 || type == 12)) || (v6 && type >= 1 && type <= 4)) {
		p->icmp = ((v6 && type == 2) || (!v6 && type == 3 && code == 4)) ? NN_ICMP_PTB :
										   NN_ICMP_ERROR;
		return nn_parse_quote(b, n, v6, p);
	}
	/* Only what looks like ND is ND: hop limit 255, never a Fragment
	 * header (RFC 6980), to a link-local or multicast address (RFC 4861). */
	if (v6 && type >= 133 && type <= 137 && hop_limit == 255 && nn_framing == NN_FRAMING_ETH &&
	    !p->frag_hdr &&
	    (p->dst[0] == 0xff || (p->dst[0] == 0xfe && (p->dst[1] & 0xc0) == 0x80)))
		p->untouched = 1;
	return 0;
}

/*
 * The furthest L4 offset read in place (NN_L4_DIRECT_MAX - 1 + 20 bytes):
 * far beyond any real header chain, and small enough that the verifier
 * keeps data + offset a bounded packet pointer.
 */
#define NN_L4_DIRECT_MAX 4096

/*
 * TCP and UDP headers read in place when they lie in the linear data (XDP
 * always; TC once pulled): 0 or NN_R_MALFORMED when @p was filled or found
 * malformed, -1 when the caller must copy the header (nn_load). The same
 * checks as the copy's path below. On the path of every TCP/UDP packet this
 * replaces a helper call and a copy of up to NN_L4_BUF bytes by a bounds
 * check: the offset becomes a packet pointer only here, at the end of the
 * walk, so the header chain's states stay plain scalars (see nn_load).
 */
static __always_inline int nn_parse_l4_direct(struct nn_ctx *c, __u32 off, __u32 len,
					      struct nn_pkt *p)
{
	__u32 w;
	__u8 *h;

	if (off >= NN_L4_DIRECT_MAX)
		return -1;
	h = c->data + nn_bound(off, NN_L4_DIRECT_MAX - 1);
	if ((void *)(h + 8) > c->data_end)
		return -1;
	w = bpf_ntohl(*(__u32 *)(void *)h);
	if (p->proto == NN_IPPROTO_UDP) {
		if (p->frag == NN_FRAG_NONE && (((__u32)h[4] << 8) | h[5]) != len)
			return NN_R_MALFORMED;
	} else {
		if ((void *)(h + 20) > c->data_end)
			return -1;
		if ((h[12] >> 4) * 4 < 20 || (h[12] >> 4) * 4 > len)
			return NN_R_MALFORMED;
		p->tcp_flags = h[13];
	}
	p->sport = w >> 16;
	p->dport = w & 0xffff;
	return 0;
}

/* L4 header at packet offset @off, @len bytes of L4 in this packet. */
static __always_inline int nn_parse_l4(struct nn_ctx *c, __u32 off, __u32 len, int v6,
				       __u8 hop_limit, struct nn_pkt *p)
{
	__u32 n = len < NN_L4_BUF ? len : NN_L4_BUF, zero = 0;
	int icmp = (!v6 && p->proto == NN_IPPROTO_ICMP) || (v6 && p->proto == NN_IPPROTO_ICMPV6);
	struct nn_scratch *s;
	__u8 *b;

	if (p->proto != NN_IPPROTO_TCP && p->proto != NN_IPPROTO_UDP && !icmp)
		return 0;
	if (n < 8 || (p->proto == NN_IPPROTO_TCP && n < 20))
		return NN_R_MALFORMED;
	if (!icmp) {
		int r = nn_parse_l4_direct(c, off, len, p);

		if (r >= 0)
			return r;
	}
	s = bpf_map_lookup_elem(&nn_scratch, &zero);
	if (!s)
		return NN_R_MALFORMED;
	b = s->l4;
	/* n is 8..NN_L4_BUF: say so in a form every verifier follows. */
	if (nn_load(c, off, b, nn_bound(n - 1, NN_L4_BUF - 1) + 1))
		return NN_R_MALFORMED;
	if (p->proto == NN_IPPROTO_TCP) {
		__u32 doff = (b[12] >> 4) * 4;

		if (doff < 20 || doff > len)
			return NN_R_MALFORMED;
		p->sport = nn_be16(b, 0);
		p->dport = nn_be16(b, 2);
		p->tcp_flags = b[13];
		return 0;
	}
	if (p->proto == NN_IPPROTO_UDP) {
		if (p->frag == NN_FRAG_NONE && nn_be16(b, 4) != len)
			return NN_R_MALFORMED;
		p->sport = nn_be16(b, 0);
		p->dport = nn_be16(b, 2);
		return 0;
	}
	return nn_parse_icmp(b, n, v6, hop_limit, p);
}

#define NN_V4_OPT_MAX 40 /* IHL 15: 60 - 20 bytes of options */
#define NN_IPOPT_EOL 0
#define NN_IPOPT_NOP 1
#define NN_IPOPT_LSRR 131
#define NN_IPOPT_SSRR 137

/*
 * Walk the @n (1..40) option bytes at @off (docs/datapath.md "IPv4"): a
 * source route, or options that do not add up, are malformed. The walk is
 * unrolled over every byte position with constant indices; @next says where
 * the next option starts, so each position is either an option's first byte
 * or skipped. No back-edge, no variable stack offset: every verifier since
 * bounded loops follows it.
 */
static __always_inline int nn_ipv4_opts(struct nn_ctx *c, __u32 off, __u32 n)
{
	__u32 zero = 0, next = 0;
	struct nn_scratch *s;
	__u8 *o;
	int i;

	s = bpf_map_lookup_elem(&nn_scratch, &zero);
	if (!s || n > NN_V4_OPT_MAX)
		return NN_R_MALFORMED;
	o = s->l4;
	if (nn_load(c, off, o, nn_bound(n - 1, 63) + 1))
		return NN_R_MALFORMED;
#pragma unroll
	for (i = 0; i < NN_V4_OPT_MAX; i++) {
		__u8 t, l;

		if (i != next)
			continue;
		if (i >= n)
			return 0;
		t = o[i];
		if (t == NN_IPOPT_EOL)
			return 0; /* the rest is padding */
		if (t == NN_IPOPT_NOP) {
			next = i + 1;
			continue;
		}
		if (t == NN_IPOPT_LSRR || t == NN_IPOPT_SSRR)
			return NN_R_MALFORMED;
		if (i + 1 >= NN_V4_OPT_MAX || i + 2 > n)
			return NN_R_MALFORMED;
		l = o[i + 1];
		if (l < 2 || i + l > n)
			return NN_R_MALFORMED;
		next = i + l;
	}
	return 0;
}

static __always_inline int nn_parse_ipv4(struct nn_ctx *c, void *l3, __u32 l3off, struct nn_pkt *p)
{
	struct iphdr *ip = l3;
	__u32 avail = c->len - l3off, tot, hl;
	__u16 frag;

	if ((void *)(ip + 1) > c->data_end)
		return NN_R_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return NN_R_MALFORMED;
	hl = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (hl > avail || tot < hl || tot > avail)
		return NN_R_MALFORMED;
	if (nn_framing == NN_FRAMING_L3 && tot != avail)
		return NN_R_MALFORMED;
	if (hl > 20) {
		int r = nn_ipv4_opts(c, l3off + 20, hl - 20);

		if (r)
			return r;
	}
	nn_map_v4(p->src, ip->saddr);
	nn_map_v4(p->dst, ip->daddr);
	p->proto = ip->protocol;
	frag = bpf_ntohs(ip->frag_off);
	p->frag_id = bpf_ntohs(ip->id);
	p->frag_off = frag & 0x1fff;
	p->frag_mf = !!(frag & 0x2000);
	if (frag & 0x1fff) {
		p->frag = NN_FRAG_LATER;
		return 0;
	}
	if (frag & 0x2000)
		p->frag = NN_FRAG_FIRST;
	return nn_parse_l4(c, l3off + hl, tot - hl, 0, ip->ttl, p);
}

static __always_inline int nn_is_ext(__u8 nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 135 || nh == 139 || nh == 140 || nh == 51 ||
	       nh == 44;
}

static __always_inline int nn_parse_ipv6(struct nn_ctx *c, void *l3, __u32 l3off, struct nn_pkt *p)
{
	struct ipv6hdr *ip6 = l3;
	__u32 avail = c->len - l3off, plen, off, pend;
	__u8 nh;
	int i;

	if ((void *)(ip6 + 1) > c->data_end)
		return NN_R_MALFORMED;
	if (ip6->version != 6)
		return NN_R_MALFORMED;
	plen = bpf_ntohs(ip6->payload_len);
	if (plen == 0 || 40 + plen > avail)
		return NN_R_MALFORMED;
	if (nn_framing == NN_FRAMING_L3 && 40 + plen != avail)
		return NN_R_MALFORMED;
	p->v6 = 1;
	nn_copy16(p->src, &ip6->saddr);
	nn_copy16(p->dst, &ip6->daddr);
	if (nn_v6_embeds_v4(p->src) || nn_v6_embeds_v4(p->dst))
		return NN_R_MALFORMED;
	off = l3off + 40;
	pend = l3off + 40 + plen;
	nh = ip6->nexthdr;

	/*
	 * Bounded walk: NN_MAX_EXT_HDRS headers, then one more look to see
	 * whether the chain goes on (that is "over the bound"). Fully
	 * unrolled: a loop's back-edge is laid out by clang in forms some
	 * verifiers refuse (6.1: "back-edge from insn N to N+1", issue 11).
	 */
#pragma unroll
	for (i = 0; i < NN_MAX_EXT_HDRS + 1; i++) {
		__u8 h[8];
		__u32 len;

		if (!nn_is_ext(nh))
			break;
		if (i == NN_MAX_EXT_HDRS)
			return NN_R_MALFORMED;
		if (off + 8 > pend || nn_load(c, off, h, 8))
			return NN_R_MALFORMED;
		if (nh == 44) {
			__u16 fo = ((__u16)h[2] << 8) | h[3];

			p->frag_hdr = 1;
			/* An atomic header (RFC 6946) makes no fragment and
			 * changes nothing; a second one that does would be
			 * nested fragmentation. */
			if (fo & 0xfff9) {
				if (p->frag != NN_FRAG_NONE)
					return NN_R_MALFORMED;
				p->frag_id = ((__u32)h[4] << 24) | ((__u32)h[5] << 16) |
					     ((__u32)h[6] << 8) | h[7];
				p->frag_off = fo >> 3;
				p->frag_mf = fo & 1;
				p->frag = NN_FRAG_FIRST;
				if (fo >> 3) {
					/* Nothing after it is here: its next
					 * header may be another extension
					 * header, so no L4 protocol is known. */
					p->frag = NN_FRAG_LATER;
					p->proto = 0;
					return 0;
				}
			}
			len = 8;
		} else if (nh == 51) {
			len = ((__u32)h[1] + 2) * 4;
		} else {
			/* A type 0 routing header is a source route (RFC 5095). */
			if (nh == 43 && h[2] == 0)
				return NN_R_MALFORMED;
			len = ((__u32)h[1] + 1) * 8;
		}
		if (off + len > pend)
			return NN_R_MALFORMED;
		nh = h[0];
		off += len;
	}
	p->proto = nh;
	return nn_parse_l4(c, off, pend - off, 1, ip6->hop_limit, p);
}

/* Parse the packet in @c into @p: 0, or NN_R_MALFORMED. */
static __always_inline int nn_parse(struct nn_ctx *c, struct nn_pkt *p)
{
	void *data = c->data, *end = c->data_end;
	void *l3 = data;
	__u32 l3off = 0;
	__u16 etype = 0;
	__u8 ver;

	if (nn_framing == NN_FRAMING_ETH) {
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > end)
			return NN_R_MALFORMED;
		etype = bpf_ntohs(eth->h_proto);
		l3 = (void *)(eth + 1);
		l3off = sizeof(*eth);
		if (etype == NN_ETH_P_8021Q) {
			struct nn_vlan_hdr *vh = l3;

			if ((void *)(vh + 1) > end)
				return NN_R_MALFORMED;
			etype = bpf_ntohs(vh->encap_proto);
			l3 = (void *)(vh + 1);
			l3off += sizeof(*vh);
			if (etype == NN_ETH_P_8021Q || etype == NN_ETH_P_8021AD)
				return NN_R_MALFORMED;
		} else if (etype == NN_ETH_P_8021AD) {
			return NN_R_MALFORMED;
		}
		if (etype == NN_ETH_P_ARP) {
			p->untouched = 1;
			return 0;
		}
		if (etype != NN_ETH_P_IP && etype != NN_ETH_P_IPV6)
			return NN_R_MALFORMED;
	}
	if (l3 + 1 > end)
		return NN_R_MALFORMED;
	ver = *(__u8 *)l3 >> 4;
	if (ver == 4 && (etype == 0 || etype == NN_ETH_P_IP))
		return nn_parse_ipv4(c, l3, l3off, p);
	if (ver == 6 && (etype == 0 || etype == NN_ETH_P_IPV6))
		return nn_parse_ipv6(c, l3, l3off, p);
	return NN_R_MALFORMED;
}

#endif /* NANAMI_PARSE_BPF_H */
