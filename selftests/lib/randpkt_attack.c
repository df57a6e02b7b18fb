// SPDX-License-Identifier: GPL-2.0
/*
 * randpkt_attack.c - the packets an attacker sends, or a broken stack: what
 * an outside review of the dataplane sent as a WireGuard peer (issue 10),
 * as classes, so that the differential tests meet them in every run:
 *  - IPv6 extension headers after the Fragment header, in the first
 *    fragment, and later fragments whose Fragment header names them;
 *  - extension-header chains just under, at and over the parser's bound;
 *  - IPv4 options: source routes (LSRR, SSRR), record route, timestamps,
 *    router alert, unknown options;
 *  - routing headers of type 0 (RFC 5095) and of other types;
 *  - IPv4-mapped, IPv4-compatible and IPv4-translated addresses in IPv6
 *    headers and in the IPv6 headers that ICMPv6 errors quote;
 *  - neighbour discovery look-alikes (wrong destination, hop limit, type,
 *    fragmented) on both framings;
 *  - ICMP errors (mostly Packet Too Big / fragmentation needed) quoting
 *    flows opened under an earlier policy, sent by the flow's far end;
 *  - later fragments of first fragments that passed under an earlier
 *    policy;
 *  - and the plainly broken packets (lying lengths, truncation).
 * Packets are made with pktbuild, then edited as bytes where pktbuild has no
 * word for the attack (it always puts its Fragment header last, and writes
 * only NOP options).
 */
#include <string.h>

#include "randpkt_int.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool is_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 135 || nh == 139 ||
	       nh == 140;
}

/* The extension headers of a well-formed IPv6 packet, as pktbuild makes
 * them: offsets of each header and of the byte that names it. */
struct chain {
	size_t n;
	size_t off[PB_MAX_EXT + 4];
	size_t nh_at[PB_MAX_EXT + 4]; /* where this header's type is written */
	uint8_t type[PB_MAX_EXT + 4];
	size_t l4; /* offset of what follows the chain */
};

static bool walk(const uint8_t *l3, size_t len, struct chain *c)
{
	size_t pos = 40, at = 6;
	uint8_t nh;

	if (len < 40 || l3[0] >> 4 != 6)
		return false;
	nh = l3[6];
	c->n = 0;
	while (is_ext(nh) && c->n < sizeof(c->off) / sizeof(c->off[0])) {
		size_t hl;

		if (pos + 8 > len)
			return false;
		hl = nh == 44 ? 8 :
		     nh == 51 ? ((size_t)l3[pos + 1] + 2) * 4 :
				((size_t)l3[pos + 1] + 1) * 8;
		c->off[c->n] = pos;
		c->nh_at[c->n] = at;
		c->type[c->n++] = nh;
		at = pos;
		nh = l3[pos];
		pos += hl;
	}
	c->l4 = pos;
	return pos <= len;
}

void rk_set_frag_nh(uint8_t *l3, size_t len, uint8_t nh)
{
	struct chain c;
	size_t i;

	if (!walk(l3, len, &c))
		return;
	for (i = c.n; i-- > 0;) {
		if (c.type[i] == 44) {
			l3[c.off[i]] = nh;
			return;
		}
	}
}

/* Write one extension header of @type (next header @nh) at @p; its length.
 * Routing headers get a type that is not 0 (the harmless kinds). */
static size_t put_ext(struct nn_rng *r, uint8_t type, uint8_t nh, uint8_t *p)
{
	size_t len = type == 51 ? 16 : 8 * (1 + rng_below(r, 2));

	memset(p, 0, len);
	p[0] = nh;
	p[1] = (uint8_t)(type == 51 ? len / 4 - 2 : len / 8 - 1);
	if (type == 0 || type == 60) {
		p[2] = 1; /* PadN over the option bytes */
		p[3] = (uint8_t)(len - 4);
	} else if (type == 43) {
		p[2] = (uint8_t)(2 + rng_below(r, 3)); /* types 2-4 */
	}
	return len;
}

size_t rk_ext_after_frag(struct nn_rng *r, uint8_t *l3, size_t len, size_t cap, uint8_t *frag_nh)
{
	static const uint8_t menu[] = { 60, 60, 51, 43, 0, 135 };
	uint8_t hdr[64];
	size_t k = 1 + rng_below(r, 3), i, hl = 0, f;
	struct chain c;
	uint8_t types[3];

	if (!walk(l3, len, &c) || !c.n || c.type[c.n - 1] != 44)
		return len;
	f = c.off[c.n - 1];
	for (i = 0; i < k; i++)
		types[i] = menu[rng_below(r, sizeof(menu))];
	for (i = 0; i < k; i++)
		hl += put_ext(r, types[i], i + 1 < k ? types[i + 1] : l3[f], hdr + hl);
	if (len + hl > cap || rd16(l3 + 4) + hl > 0xffff)
		return len;
	memmove(l3 + f + 8 + hl, l3 + f + 8, len - f - 8);
	memcpy(l3 + f + 8, hdr, hl);
	l3[f] = types[0];
	wr16(l3 + 4, (uint16_t)(rd16(l3 + 4) + hl));
	*frag_nh = types[0];
	return len + hl;
}

static void nd_dst(struct rk_gen *g, uint8_t *d);

/* A packet broken on purpose. */
size_t rk_gen_broken(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap)
{
	struct hist *h;
	struct pb b;
	uint32_t x = rng_below(&g->r, 100);
	size_t len = rk_gen_new(g, o, l3, cap, rng_pct(&g->r, 10));

	if (!len)
		return 0;
	h = &g->h[(g->nh - 1) % HIST];
	h->l3len = 0; /* not a flow anybody should quote */
	h->frag_first = false;
	if (x < 40) {
		/* Truncated anywhere: with L3 framing no shorter than the
		 * 14 bytes BPF_PROG_TEST_RUN needs (test_bad_packets covers
		 * shorter ones). */
		if (g->framing == NN_FRAMING_ETH)
			return 1 + rng_below(&g->r, (uint32_t)(len - 1));
		return len > 15 ? 14 + rng_below(&g->r, (uint32_t)(len - 14)) : len;
	}
	pb_init(&b);
	rk_set_ip(&b, h->src, h->dst);
	switch (rng_below(&g->r, 7)) {
	case 0:
		pb_tcp(&b, 40000, 443, PB_TCP_SYN);
		pb_lie(&b, PB_F_TCP_DOFF, rng_below(&g->r, 16));
		break;
	case 1:
		pb_udp(&b, 40000, 53);
		pb_lie(&b, PB_F_UDP_LEN, rng_below(&g->r, 64));
		break;
	case 2:
		pb_udp(&b, 40000, 53);
		pb_lie(&b, PB_F_IP_LEN, rng_below(&g->r, 100));
		break;
	case 3:
		pb_tcp(&b, 40000, 443, PB_TCP_SYN);
		if (b.family == 4)
			pb_lie(&b, PB_F_IHL, rng_below(&g->r, 16));
		else
			pb_ext(&b, rng_pct(&g->r, 50) ? 60 : 0, 7 + rng_below(&g->r, 4));
		break;
	case 4:
		pb_echo(&b, true, rk_echo_id(g));
		pb_lie(&b, PB_F_VERSION, rng_below(&g->r, 16));
		break;
	case 5:
		pb_udp(&b, 40000, 53);
		if (b.family == 6) {
			pb_ext(&b, 60, 1);
			pb_lie(&b, PB_F_EXT_LEN, rng_below(&g->r, 256));
		} else {
			pb_payload(&b, 3);
		}
		break;
	default:
		/* An IPv4-mapped address inside an IPv6 header. */
		pb_tcp(&b, 40000, 443, PB_TCP_SYN);
		if (b.family == 4) {
			uint8_t m[NN_ADDR_LEN] = { [10] = 0xff, [11] = 0xff };

			memcpy(m + 12, rng_pct(&g->r, 50) ? b.src : b.dst, 4);
			b.family = 6;
			if (rng_pct(&g->r, 50)) {
				memcpy(b.src, m, NN_ADDR_LEN);
				memcpy(b.dst, h->dst, NN_ADDR_LEN);
				if (rk_is4(h->dst))
					memcpy(b.dst, m, NN_ADDR_LEN);
			} else {
				memcpy(b.dst, m, NN_ADDR_LEN);
				memcpy(b.src, m, NN_ADDR_LEN);
			}
		}
		break;
	}
	return pb_build(&b, l3, cap);
}

/* Ethernet framing only: ARP and neighbour discovery pass untouched. */
size_t rk_gen_l2(struct rk_gen *g, struct rk_pkt *o, uint8_t *buf, size_t cap)
{
	uint8_t s[NN_ADDR_LEN], d[NN_ADDR_LEN];
	struct pb b;

	o->dir = rng_pct(&g->r, 50) ? NN_DIR_FROM_OVERLAY : NN_DIR_INTO_OVERLAY;
	pb_init(&b);
	if (rng_pct(&g->r, 30)) {
		pb_arp(&b);
		if (rng_pct(&g->r, 30))
			pb_vlan(&b, 5);
		return pb_build(&b, buf, cap);
	}
	rk_pick_overlay_end(g, 6, s);
	rk_pick_addr(g, C_MAX, 6, d);
	/* Real ND goes to link-local or multicast addresses (verdicts.md):
	 * only those pass untouched; the rest merely look like ND. */
	if (rng_pct(&g->r, 60))
		nd_dst(g, d);
	rk_set_ip(&b, s, d);
	pb_nd(&b, (uint8_t)(133 + rng_below(&g->r, 6)));
	if (rng_pct(&g->r, 20))
		pb_ttl(&b, 254);
	if (rng_pct(&g->r, 10))
		pb_frag(&b, PB_FRAG_FIRST, 5, 0);
	pb_eth(&b);
	return pb_build(&b, buf, cap);
}

/* ---- what the review sent ---- */

/* A destination real neighbour discovery uses, or one just outside. */
static void nd_dst(struct rk_gen *g, uint8_t *d)
{
	static const uint8_t pfx[][4] = {
		{ 0xfe, 0x80, 0, 0 }, /* link-local */
		{ 0xfe, 0xbf, 0, 0 }, /* still inside fe80::/10 */
		{ 0xfe, 0xc0, 0, 0 }, /* site-local: outside */
		{ 0xff, 0x02, 0, 0 }, /* all-nodes / solicited-node */
		{ 0xff, 0x05, 0, 0 }, /* site-scope multicast */
	};
	const uint8_t *p = pfx[rng_below(&g->r, sizeof(pfx) / sizeof(pfx[0]))];

	memset(d, 0, NN_ADDR_LEN);
	memcpy(d, p, 4);
	d[15] = (uint8_t)(1 + rng_below(&g->r, 3));
	if (p[0] == 0xff && rng_pct(&g->r, 50)) {
		d[11] = 1; /* ff02::1:ffXX:XXXX */
		d[12] = 0xff;
	}
}

/* ND and its look-alikes on either framing: types around 133-137, hop
 * limits 255 and not, real and wrong destinations, fragmented or not. */
static size_t gen_nd(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap)
{
	uint8_t s[NN_ADDR_LEN], d[NN_ADDR_LEN];
	struct pb b;
	uint32_t x = rng_below(&g->r, 100);

	o->dir = rng_pct(&g->r, 50) ? NN_DIR_FROM_OVERLAY : NN_DIR_INTO_OVERLAY;
	rk_pick_overlay_end(g, 6, s);
	if (rng_pct(&g->r, 70))
		nd_dst(g, d);
	else
		rk_pick_addr(g, C_MAX, 6, d);
	pb_init(&b);
	rk_set_ip(&b, o->dir == NN_DIR_FROM_OVERLAY ? s : d, o->dir == NN_DIR_FROM_OVERLAY ? d : s);
	pb_nd(&b, (uint8_t)(132 + rng_below(&g->r, 7)));
	if (x < 15)
		pb_ttl(&b, (uint8_t)(rng_pct(&g->r, 50) ? 254 : 64));
	else if (x < 25)
		pb_frag(&b, rng_pct(&g->r, 50) ? PB_FRAG_FIRST : PB_FRAG_ATOMIC, 9, 0);
	else if (x < 35)
		pb_ext(&b, rng_pct(&g->r, 50) ? 0 : 60, 1);
	return pb_build(&b, l3, cap);
}

/* A chain of 6 to 10 extension headers of every kind (a Fragment header
 * among them is atomic unless the packet is a first fragment). */
static size_t gen_chain(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap)
{
	static const uint8_t menu[] = { 0, 60, 43, 51, 135, 139, 140, 44 };
	uint8_t s[NN_ADDR_LEN], d[NN_ADDR_LEN];
	unsigned int n = 6 + rng_below(&g->r, 5), i;
	struct pb b;

	o->dir = rng_pct(&g->r, 60) ? NN_DIR_FROM_OVERLAY : NN_DIR_INTO_OVERLAY;
	rk_pick_overlay_end(g, 6, o->dir == NN_DIR_FROM_OVERLAY ? s : d);
	rk_pick_addr(g, C_MAX, 6, o->dir == NN_DIR_FROM_OVERLAY ? d : s);
	pb_init(&b);
	rk_set_ip(&b, s, d);
	if (rng_pct(&g->r, 50))
		pb_udp(&b, 40000, 53);
	else
		pb_tcp(&b, 40000, 443, PB_TCP_SYN);
	if (rng_pct(&g->r, 25)) {
		n--; /* the Fragment header is one of them */
		pb_frag(&b, PB_FRAG_FIRST, rng_below(&g->r, 1000), 0);
	}
	for (i = 0; i < n; i++)
		pb_ext(&b, menu[rng_below(&g->r, sizeof(menu))], 1);
	return pb_build(&b, l3, cap);
}

/* Options into an IPv4 header that has none: source routes, record route,
 * timestamp, router alert, an unknown one; NOP between them, EOL padding. */
static size_t add_v4_options(struct nn_rng *r, uint8_t *l3, size_t len, size_t cap)
{
	uint8_t opt[40] = { 0 };
	size_t n = 0, i, hl;
	uint32_t sum = 0;

	if (len < 20 || (l3[0] & 0xf) != 5)
		return len;
	while (n < 28 && rng_pct(r, n ? 45 : 100)) {
		uint32_t k = rng_below(r, 9);
		size_t ol = 3 + 4 * (1 + rng_below(r, 2));

		if (k < 2) {
			opt[n] = k ? 137 : 131; /* SSRR / LSRR */
			opt[n + 1] = (uint8_t)ol;
			opt[n + 2] = 4;
			for (i = 3; i < ol; i++)
				opt[n + i] = (uint8_t)rng_next(r);
		} else if (k == 2) {
			opt[n] = 7; /* record route */
			opt[n + 1] = (uint8_t)ol;
			opt[n + 2] = 4;
		} else if (k == 3) {
			ol = 8; /* timestamp, one slot */
			opt[n] = 68;
			opt[n + 1] = 8;
			opt[n + 2] = 5;
		} else if (k == 4) {
			ol = 4; /* router alert */
			opt[n] = 148;
			opt[n + 1] = 4;
		} else if (k == 5) {
			ol = 2; /* an unknown option, length 2 */
			opt[n] = 30;
			opt[n + 1] = 2;
		} else {
			ol = 1;
			opt[n] = 1; /* NOP */
		}
		n += ol;
	}
	hl = (n + 3) & ~(size_t)3; /* EOL (0) pads to a word */
	if (len + hl > cap || rd16(l3 + 2) + hl > 0xffff)
		return len;
	memmove(l3 + 20 + hl, l3 + 20, len - 20);
	memcpy(l3 + 20, opt, hl);
	l3[0] = (uint8_t)(0x40 | (5 + hl / 4));
	wr16(l3 + 2, (uint16_t)(rd16(l3 + 2) + hl));
	wr16(l3 + 10, 0);
	for (i = 0; i < 20 + hl; i += 2)
		sum += rd16(l3 + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	wr16(l3 + 10, (uint16_t)~sum);
	return len + hl;
}

/* Routing headers of type 0 (RFC 5095) and others, segments left 0-2. */
static void set_routing(struct nn_rng *r, uint8_t *l3, size_t len)
{
	static const uint8_t types[] = { 0, 0, 2, 3, 4, 253 };
	struct chain c;
	size_t i;

	if (!walk(l3, len, &c))
		return;
	for (i = 0; i < c.n; i++) {
		if (c.type[i] != 43)
			continue;
		l3[c.off[i] + 2] = types[rng_below(r, sizeof(types))];
		l3[c.off[i] + 3] = (uint8_t)rng_below(r, 3);
	}
}

/* Overwrite the IPv6 address at @a with one that embeds IPv4: mapped
 * (::ffff:a.b.c.d), compatible (::a.b.c.d), translated (::ffff:0:a.b.c.d,
 * RFC 2765: not IPv4-mapped), the unspecified or loopback address. */
static void v4_in_v6(struct rk_gen *g, uint8_t *a)
{
	uint8_t v4[NN_ADDR_LEN];
	uint32_t k = rng_below(&g->r, 6);

	rk_pick_addr(g, C_DEV, 4, v4);
	memset(a, 0, 12);
	memcpy(a + 12, v4 + 12, 4);
	if (k < 2) {
		a[10] = a[11] = 0xff;
	} else if (k == 3) {
		a[8] = a[9] = 0xff;
	} else if (k == 4) {
		memset(a + 12, 0, 4);
		a[15] = (uint8_t)rng_below(&g->r, 3);
	}
}

/* A stale opener (or first fragment, @frag), NULL when none. */
static struct hist *stale(struct rk_gen *g, bool frag)
{
	size_t i, start;

	if (!g->nstale)
		return NULL;
	start = rng_below(&g->r, (uint32_t)g->nstale);
	for (i = 0; i < g->nstale; i++) {
		struct hist *h = &g->stale[(start + i) % g->nstale];

		if (!frag || h->frag_first)
			return h;
	}
	return NULL;
}

size_t rk_gen_attack(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap)
{
	uint32_t x = rng_below(&g->r, 100);
	struct hist *h;
	size_t len;

	if (x < 14) {
		o->kind = "ext-after-fragment";
		return rk_gen_new(g, o, l3, cap, true);
	}
	if (x < 24) {
		o->kind = "long-chain";
		return gen_chain(g, o, l3, cap);
	}
	if (x < 36) {
		o->kind = "ipv4-options";
		for (x = 0; x < 4; x++) {
			len = rk_gen_new(g, o, l3, cap, rng_pct(&g->r, 15));
			if (len && (l3[0] >> 4) == 4)
				return add_v4_options(&g->r, l3, len, cap);
		}
		return len;
	}
	if (x < 44) {
		o->kind = "routing-header";
		len = rk_gen_new(g, o, l3, cap, false);
		if (len && (l3[0] >> 4) == 6) {
			struct pb b;

			/* Again with a routing header in front of L4. */
			pb_init(&b);
			rk_set_ip(&b, g->last->src, g->last->dst);
			pb_udp(&b, 40000, 53);
			pb_ext(&b, 43, 1 + rng_below(&g->r, 2));
			len = pb_build(&b, l3, cap);
			set_routing(&g->r, l3, len);
		}
		return len;
	}
	if (x < 54) {
		o->kind = "ipv4-in-ipv6";
		if (rng_pct(&g->r, 30)) {
			len = rk_gen_error(g, o, l3, cap, NULL);
			/* The quoted header: 40 + 8 bytes in. */
			if (len >= 88 && (l3[0] >> 4) == 6 && l3[6] == 58 && (l3[48] >> 4) == 6)
				v4_in_v6(g, l3 + 48 + (rng_pct(&g->r, 50) ? 8 : 24));
			return len;
		}
		len = rk_gen_new(g, o, l3, cap, false);
		if (len >= 40 && (l3[0] >> 4) == 6)
			v4_in_v6(g, l3 + (rng_pct(&g->r, 50) ? 8 : 24));
		return len;
	}
	if (x < 64) {
		o->kind = "nd-look-alike";
		return gen_nd(g, o, l3, cap);
	}
	if (x < 84) {
		o->kind = "stale-icmp-error";
		h = stale(g, false);
		return rk_gen_error(g, o, l3, cap, h);
	}
	o->kind = "stale-later-fragment";
	h = stale(g, true);
	return rk_gen_later(g, o, l3, cap, h);
}
