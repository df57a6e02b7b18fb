// SPDX-License-Identifier: GPL-2.0
/*
 * randpkt.c - random packets over the endpoints of a policy; see randpkt.h.
 * Packets are described with pktbuild at L3, remembered (L3 bytes, for
 * ICMP quotes), then wrapped in Ethernet (optionally one 802.1Q tag) when
 * the framing asks for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "randpkt_int.h"

static const char *const inet_text[] = {
	"2001:db8:ffff::1", "2001:db8:1::25", "2606:4700::1111", "2a00:1450::5",
	"192.0.2.53",	    "198.51.100.7",   "8.8.8.8",	 "203.0.113.9",
};

static const char *const stray_text[] = {
	"fd7a:6e61:6e61:ff::99", "fd7a:6e61:6e61:10::99", "fd7a:6e61:6e61::99",
	"100.96.200.7",		 "100.96.1.99",		  "fd7a:6e61:6e61:20::ff",
};

bool rk_is4(const uint8_t *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

static void add_net(struct rk_gen *g, enum cat c, const uint8_t *a, int net)
{
	if (g->n[c] < MAX_POOL) {
		memcpy(g->pool[c][g->n[c]].a, a, NN_ADDR_LEN);
		g->pool[c][g->n[c]++].net = net;
	}
}

static void add(struct rk_gen *g, enum cat c, const uint8_t *a)
{
	add_net(g, c, a, -1);
}

void rk_add_text(struct rk_gen *g, enum cat c, const char *s)
{
	struct pb b;
	uint8_t a[NN_ADDR_LEN] = { 0 };

	pb_ip(pb_init(&b), s, s);
	if (b.family == 4) {
		a[10] = 0xff;
		a[11] = 0xff;
		memcpy(a + 12, b.src, 4);
	} else {
		memcpy(a, b.src, NN_ADDR_LEN);
	}
	add(g, c, a);
}

/* A random address inside @p, near its start (low 24 bits random), so
 * addresses of nested prefixes fall in and out of the inner ones. */
static void addr_in(struct rk_gen *g, const struct nn_prefix *p, uint8_t *out)
{
	unsigned int bit = p->len > 104 ? p->len : 104;

	memcpy(out, p->addr, NN_ADDR_LEN);
	for (; bit < 128; bit++)
		if (rng_pct(&g->r, 50))
			out[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	if (rng_pct(&g->r, 20))
		out[15] &= 0xf0;
}

int rk_set_policy(struct rk_gen *g, const struct nn_policy *p)
{
	uint8_t a[NN_ADDR_LEN];
	size_t i, k, j;

	/* What passed so far passed under the policy being replaced: keep
	 * the most recent openers and first fragments for errors and later
	 * fragments that arrive after the change. */
	for (i = 0; g->ngood && i < STALE; i++)
		g->stale[i] =
			g->good[(g->ngood - 1 - i % (g->ngood < HIST ? g->ngood : HIST)) % HIST];
	if (g->ngood)
		g->nstale = STALE;
	memset(g->n, 0, sizeof(g->n));
	for (i = 0; i < p->n_devices; i++) {
		add_net(g, C_DEV, p->devices[i].addr6, (int)p->devices[i].network);
		if (p->devices[i].has_addr4)
			add_net(g, C_DEV, p->devices[i].addr4, (int)p->devices[i].network);
	}
	for (i = 0; i < p->n_nodes; i++)
		add(g, C_NODE, p->nodes[i].addr6);
	add(g, C_SELF, p->gw.ov6);
	if (p->gw.has_ov4)
		add(g, C_SELF, p->gw.ov4);
	for (i = 0; i < p->n_resources; i++) {
		for (k = 0; k < p->resources[i].n_prefixes; k++) {
			for (j = 0; j < 3; j++) {
				addr_in(g, &p->resources[i].prefixes[k], a);
				add_net(g, C_RES, a, (int)p->resources[i].network);
			}
		}
	}
	for (i = 0; i < p->n_rules; i++) {
		for (k = 0; k < p->rules[i].n_dst_prefixes; k++) {
			for (j = 0; j < 2; j++) {
				addr_in(g, &p->rules[i].dst_prefixes[k], a);
				add_net(g, C_ACL, a, (int)p->rules[i].network);
			}
		}
	}
	for (i = 0; i < sizeof(inet_text) / sizeof(inet_text[0]); i++)
		rk_add_text(g, C_INET, inet_text[i]);
	for (i = 0; i < sizeof(stray_text) / sizeof(stray_text[0]); i++)
		rk_add_text(g, C_STRAY, stray_text[i]);
	/* What dropped entries claimed (closed space): as destinations and
	 * as would-be sources, so a snapshot with a validation fault gets
	 * packets aimed at what must stay closed. */
	for (i = 0; i < p->n_closed; i++) {
		for (j = 0; j < 3; j++) {
			addr_in(g, &p->closed[i], a);
			add(g, j ? C_RES : C_STRAY, a);
		}
	}
	/* Every device dropped for a fault: the sources are strays (spoof). */
	for (i = 0; !g->n[C_DEV] && i < g->n[C_STRAY]; i++)
		add(g, C_DEV, g->pool[C_STRAY][i].a);
	return g->n[C_DEV] ? 0 : -EINVAL;
}

size_t rk_host_addrs(struct rk_gen *g, uint8_t (*out)[NN_ADDR_LEN], size_t max)
{
	size_t n = rng_below(&g->r, (uint32_t)max + 1), i;

	for (i = 0; i < n; i++)
		rk_pick_addr(g, rng_pct(&g->r, 70) ? C_INET : C_ACL, 0, out[i]);
	return n;
}

struct rk_gen *rk_new(uint64_t seed, uint8_t framing)
{
	struct rk_gen *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->r.s = seed;
	g->framing = framing;
	return g;
}

void rk_free(struct rk_gen *g)
{
	free(g);
}

/* An address of category @c (by weights when @c is C_MAX) of family @fam
 * (0: any). Falls back to an internet address of the family. */
void rk_pick_addr(struct rk_gen *g, enum cat c, int fam, uint8_t *out)
{
	static const uint8_t w[C_MAX] = { 40, 6, 6, 18, 14, 10, 6 };
	int tries;

	for (tries = 0; tries < 32; tries++) {
		enum cat cc = c;
		const uint8_t *a;

		if (c == C_MAX) {
			uint32_t x = rng_below(&g->r, 100), s = 0;

			for (cc = 0; cc < C_MAX - 1; cc++) {
				s += w[cc];
				if (x < s)
					break;
			}
		}
		if (!g->n[cc])
			continue;
		a = g->pool[cc][rng_below(&g->r, (uint32_t)g->n[cc])].a;
		if (fam && (fam == 4) != rk_is4(a))
			continue;
		memcpy(out, a, NN_ADDR_LEN);
		return;
	}
	rk_add_text(g, C_INET, fam == 4 ? "192.0.2.1" : "2001:db8::1");
	memcpy(out, g->pool[C_INET][g->n[C_INET] - 1].a, NN_ADDR_LEN);
	g->n[C_INET]--;
}

static int net_of(const struct rk_gen *g, const uint8_t *a)
{
	size_t i;

	for (i = 0; i < g->n[C_DEV]; i++)
		if (!memcmp(g->pool[C_DEV][i].a, a, NN_ADDR_LEN))
			return g->pool[C_DEV][i].net;
	return -1;
}

/* Most traffic that policy can pass stays inside one network: the other end
 * is a device, resource or ACL destination of @net, when there is one.
 * False when none was found. */
static bool pick_same_net(struct rk_gen *g, int net, int fam, uint8_t *out)
{
	static const enum cat cats[] = { C_DEV, C_RES, C_ACL };
	int tries;

	for (tries = 0; net >= 0 && tries < 48; tries++) {
		enum cat c = cats[rng_below(&g->r, 3)];
		const struct addr *a;

		if (!g->n[c])
			continue;
		a = &g->pool[c][rng_below(&g->r, (uint32_t)g->n[c])];
		if (a->net != net || (fam == 4) != rk_is4(a->a))
			continue;
		memcpy(out, a->a, NN_ADDR_LEN);
		return true;
	}
	return false;
}

/* The overlay end of a packet: mostly devices, sometimes nodes, this
 * gateway or stray addresses. */
void rk_pick_overlay_end(struct rk_gen *g, int fam, uint8_t *out)
{
	uint32_t x = rng_below(&g->r, 100);

	rk_pick_addr(g, x < 80 ? C_DEV : x < 88 ? C_NODE : x < 93 ? C_SELF : C_STRAY, fam, out);
}

void rk_set_ip(struct pb *b, const uint8_t *s, const uint8_t *d)
{
	b->family = rk_is4(s) ? 4 : 6;
	memset(b->src, 0, sizeof(b->src));
	memset(b->dst, 0, sizeof(b->dst));
	if (b->family == 4) {
		memcpy(b->src, s + 12, 4);
		memcpy(b->dst, d + 12, 4);
	} else {
		memcpy(b->src, s, NN_ADDR_LEN);
		memcpy(b->dst, d, NN_ADDR_LEN);
	}
}

static uint16_t rand_dport(struct rk_gen *g)
{
	static const uint16_t menu[] = { 22,   25,   53, 80,	443,  5432, 8000,
					 8080, 8081, 0,	 65535, 1023, 1024, 40500 };

	if (rng_pct(&g->r, 15))
		return (uint16_t)rng_next(&g->r);
	return menu[rng_below(&g->r, sizeof(menu) / sizeof(menu[0]))];
}

uint16_t rk_echo_id(struct rk_gen *g)
{
	static const uint16_t ids[] = { 0, 1, 7, 0xbeef };

	/* Few ids: different devices collide on them all the time. */
	return ids[rng_below(&g->r, 4)];
}

/* Random L4 for a new packet of family @fam. */
static void rand_l4(struct rk_gen *g, struct pb *b, struct hist *h)
{
	static const uint8_t raw[] = { 47, 50, 132, 59, 1, 58 };
	uint32_t x = rng_below(&g->r, 100);
	uint8_t flags = PB_TCP_SYN;

	if (x < 38) {
		uint32_t f = rng_below(&g->r, 20);

		if (f == 0)
			flags = PB_TCP_ACK;
		else if (f == 1)
			flags = PB_TCP_FIN | PB_TCP_ACK;
		else if (f == 2)
			flags = PB_TCP_RST;
		pb_tcp(b, (uint16_t)(40000 + rng_below(&g->r, 1000)), rand_dport(g), flags);
	} else if (x < 66) {
		pb_udp(b, (uint16_t)(40000 + rng_below(&g->r, 1000)), rand_dport(g));
	} else if (x < 86) {
		pb_echo(b, rng_pct(&g->r, 80), rk_echo_id(g));
	} else if (x < 92) {
		/* Informational ICMP that is neither echo nor error. */
		pb_icmp(b, b->family == 6 ? (uint8_t)(130 + rng_below(&g->r, 8)) : 13, 0, 0);
	} else {
		/* Other protocols, including ICMP numbers of the other family. */
		pb_proto(b, raw[rng_below(&g->r, sizeof(raw))]);
	}
	pb_payload(b, rng_below(&g->r, 4) ? rng_below(&g->r, 48) : 0);
	h->l4 = b->l4;
	h->proto = b->proto;
	h->sport = b->sport;
	h->dport = b->dport;
	if (b->l4 == PB_L4_ICMP) {
		h->sport = (uint16_t)(b->icmp_rest >> 16);
		h->dport = h->sport;
		h->proto = b->icmp_type;
	}
}

/* IP-level decorations that must not change the verdict. */
static void decorate(struct rk_gen *g, struct pb *b)
{
	static const uint8_t ext[] = { 0, 43, 60, 51, 135, 139, 140, 44 };

	if (b->family == 4 && rng_pct(&g->r, 8))
		pb_ip_opts(b, 1 + rng_below(&g->r, 10));
	if (b->family == 6 && rng_pct(&g->r, 10))
		pb_ext(b, ext[rng_below(&g->r, sizeof(ext))], 1 + rng_below(&g->r, 3));
}

static struct hist *remember(struct rk_gen *g, const struct hist *h)
{
	struct hist *n = &g->h[g->nh++ % HIST];

	*n = *h;
	g->last = n;
	return n;
}

void rk_passed(struct rk_gen *g)
{
	if (g->last && g->last->l3len)
		g->good[g->ngood++ % HIST] = *g->last;
}

struct hist *rk_recall(struct rk_gen *g)
{
	size_t have = g->nh < HIST ? g->nh : HIST;

	size_t ngood = g->ngood < HIST ? g->ngood : HIST;

	/* Mostly openers that passed: their replies find flows. */
	if (ngood && rng_pct(&g->r, 75)) {
		if (rng_pct(&g->r, 70) && ngood > 8)
			return &g->good[(g->ngood - 1 - rng_below(&g->r, 8)) % HIST];
		return &g->good[rng_below(&g->r, (uint32_t)ngood)];
	}
	if (!have)
		return NULL;
	/* Otherwise recent packets, whatever became of them. */
	if (rng_pct(&g->r, 70) && have > 16)
		return &g->h[(g->nh - 1 - rng_below(&g->r, 16)) % HIST];
	return &g->h[rng_below(&g->r, (uint32_t)have)];
}

static size_t render_l3(const struct pb *b, uint8_t *buf, size_t cap)
{
	size_t len = pb_build(b, buf, cap);

	return len;
}

/* A new packet (an opener): both ends, L4, decorations. */
size_t rk_gen_new(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap, bool frag)
{
	struct hist h = { 0 };
	struct pb b;
	int fam = rng_pct(&g->r, 35) ? 4 : 6;
	size_t len;

	o->dir = rng_pct(&g->r, 60) ? NN_DIR_FROM_OVERLAY : NN_DIR_INTO_OVERLAY;
	if (o->dir == NN_DIR_FROM_OVERLAY) {
		rk_pick_overlay_end(g, fam, h.src);
		fam = rk_is4(h.src) ? 4 : 6;
		if (!rng_pct(&g->r, 50) || !pick_same_net(g, net_of(g, h.src), fam, h.dst))
			rk_pick_addr(g, C_MAX, fam, h.dst);
	} else {
		rk_pick_overlay_end(g, fam, h.dst);
		fam = rk_is4(h.dst) ? 4 : 6;
		if (!rng_pct(&g->r, 45) || !pick_same_net(g, net_of(g, h.dst), fam, h.src))
			rk_pick_addr(g, C_MAX, fam, h.src);
	}
	h.dir = o->dir;
	pb_init(&b);
	rk_set_ip(&b, h.src, h.dst);
	rand_l4(g, &b, &h);
	decorate(g, &b);
	if (frag) {
		h.frag_first = true;
		h.frag_id = rng_below(&g->r, 4) ? rng_below(&g->r, 1000) : 0;
		pb_frag(&b, PB_FRAG_FIRST, h.frag_id, 0);
	}
	len = render_l3(&b, l3, cap);
	/* Destination options, AH, ... after the Fragment header: the first
	 * and later fragments must still meet (issue 10, class 3). */
	if (len && frag && fam == 6 && rng_pct(&g->r, 40))
		len = rk_ext_after_frag(&g->r, l3, len, cap, &h.frag_nh);
	h.l3len = len < HIST_L3 ? len : HIST_L3;
	memcpy(h.l3, l3, h.l3len);
	if (len)
		remember(g, &h);
	return len;
}

enum nn_dir rk_flip(enum nn_dir d)
{
	return d == NN_DIR_FROM_OVERLAY ? NN_DIR_INTO_OVERLAY : NN_DIR_FROM_OVERLAY;
}

/* A reply to (or, @again, a later packet of) a remembered packet. */
static size_t gen_reply(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap, bool again)
{
	struct hist *h = rk_recall(g);
	const uint8_t *s, *d;
	uint8_t other[NN_ADDR_LEN];
	struct pb b;
	uint16_t sp, dp;

	if (!h)
		return rk_gen_new(g, o, l3, cap, false);
	o->dir = again ? h->dir : rk_flip(h->dir);
	s = again ? h->src : h->dst;
	d = again ? h->dst : h->src;
	sp = again ? h->sport : h->dport;
	dp = again ? h->dport : h->sport;
	/* Echo id collisions: another device answering or asking with the
	 * same id must not ride on this flow. */
	if (h->l4 == PB_L4_ICMP && rng_pct(&g->r, 25)) {
		rk_pick_addr(g, C_DEV, rk_is4(d) ? 4 : 6, other);
		d = other;
	}
	pb_init(&b);
	rk_set_ip(&b, s, d);
	switch (h->l4) {
	case PB_L4_TCP:
		pb_tcp(&b, sp, dp,
		       rng_pct(&g->r, 10) ? PB_TCP_FIN | PB_TCP_ACK :
		       rng_pct(&g->r, 5)  ? PB_TCP_RST :
		       again		  ? PB_TCP_ACK :
					    PB_TCP_SYN | PB_TCP_ACK);
		break;
	case PB_L4_UDP:
		pb_udp(&b, sp, dp);
		break;
	case PB_L4_ICMP:
		if (h->proto == 8 || h->proto == 0 || h->proto == 128 || h->proto == 129)
			pb_echo(&b, again ? rng_pct(&g->r, 80) : rng_pct(&g->r, 10), sp);
		else
			pb_icmp(&b, h->proto, 0, 0);
		break;
	default:
		pb_proto(&b, h->proto);
		break;
	}
	pb_payload(&b, rng_below(&g->r, 32));
	decorate(g, &b);
	return render_l3(&b, l3, cap);
}

/* An ICMP error quoting a remembered packet, normally sent back by the
 * quoted packet's destination; sometimes by a third party, to the wrong
 * place, or with a quote cut short. */
size_t rk_gen_error(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap, struct hist *h)
{
	if (!h)
		h = rk_recall(g);
	uint8_t s[NN_ADDR_LEN], d[NN_ADDR_LEN];
	struct pb b;
	size_t qlen;
	uint32_t x;
	int fam;

	if (!h || !h->l3len)
		return rk_gen_new(g, o, l3, cap, false);
	fam = rk_is4(h->src) ? 4 : 6;
	o->dir = rk_flip(h->dir);
	memcpy(s, h->dst, NN_ADDR_LEN);
	memcpy(d, h->src, NN_ADDR_LEN);
	x = rng_below(&g->r, 100);
	if (x < 12)
		rk_pick_addr(g, C_MAX, fam, s); /* a third party */
	else if (x < 18)
		rk_pick_addr(g, C_MAX, fam, d); /* to somebody else */
	else if (x < 24)
		o->dir = h->dir; /* the wrong way */
	pb_init(&b);
	rk_set_ip(&b, s, d);
	qlen = h->l3len;
	x = rng_below(&g->r, 100);
	if (x < 15)
		qlen = (fam == 4 ? 28 : 48) < qlen ? (fam == 4 ? 28 : 48) : qlen;
	else if (x < 25)
		qlen = rng_below(&g->r, (uint32_t)qlen + 1);
	x = rng_below(&g->r, 100);
	if (fam == 6) {
		if (x < 35)
			pb_ptb(&b, 1280, h->l3, qlen);
		else
			pb_icmp_error(&b, (uint8_t)(1 + rng_below(&g->r, 4)),
				      (uint8_t)rng_below(&g->r, 5), 0, h->l3, qlen);
	} else {
		if (x < 35)
			pb_frag_needed(&b, 1400, h->l3, qlen);
		else if (x < 75)
			pb_icmp_error(&b, 3, (uint8_t)rng_below(&g->r, 6), 0, h->l3, qlen);
		else
			pb_icmp_error(&b, rng_pct(&g->r, 50) ? 11 : 12, 0, 0, h->l3, qlen);
	}
	return render_l3(&b, l3, cap);
}

/* A later fragment of first fragment @h, of a recent first fragment when
 * @h is NULL, or an orphan. */
size_t rk_gen_later(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap, struct hist *h)
{
	struct pb b;
	size_t i, len;

	for (i = 0; !h && i < 24 && g->nh; i++) {
		struct hist *c = &g->h[(g->nh - 1 - i) % HIST];

		if (i < g->nh && c->frag_first) {
			h = c;
			break;
		}
	}
	if (!h || rng_pct(&g->r, 20)) {
		/* An orphan: a fresh description, then made a later one. */
		size_t len = rk_gen_new(g, o, l3, cap, false);

		h = &g->h[(g->nh - 1) % HIST];
		h->frag_first = false;
		if (!len)
			return 0;
	}
	o->dir = h->dir;
	pb_init(&b);
	rk_set_ip(&b, h->src, h->dst);
	if (h->l4 == PB_L4_ICMP)
		pb_icmp(&b, 0, 0, 0);
	else if (h->l4 == PB_L4_RAW)
		pb_proto(&b, h->proto);
	else
		b.l4 = h->l4;
	if (rng_pct(&g->r, 10))
		pb_proto(&b, 47); /* another protocol: another fragment */
	pb_frag(&b, PB_FRAG_LATER, rng_pct(&g->r, 90) ? h->frag_id : h->frag_id + 1,
		(uint16_t)(1 + rng_below(&g->r, 180)));
	pb_payload(&b, 8 + rng_below(&g->r, 56));
	len = render_l3(&b, l3, cap);
	/* IPv6: every fragment's Fragment header names the same next header,
	 * the first header after it in the first fragment (RFC 8200 4.5). */
	if (len && h->frag_nh && rng_pct(&g->r, 90))
		rk_set_frag_nh(l3, len, h->frag_nh);
	return len;
}

/* Wrap an L3 packet for the framing; sometimes with Ethernet padding (a
 * lie on L3 framing) or a broken L2 header. */
static size_t wrap(struct rk_gen *g, uint8_t *out, const uint8_t *l3, size_t len)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	uint16_t et = (l3[0] >> 4) == 4 ? 0x0800 : 0x86dd;
	size_t off = 0;

	if (g->framing == NN_FRAMING_ETH) {
		uint32_t x = rng_below(&g->r, 100);

		memcpy(out, macs, 12);
		off = 12;
		if (x < 10 || (x >= 96)) {
			out[off++] = 0x81;
			out[off++] = 0x00;
			out[off++] = 0;
			out[off++] = 7;
		}
		if (x >= 96) {
			/* A second tag (or an 802.1ad one): malformed. */
			out[off++] = x == 99 ? 0x88 : 0x81;
			out[off++] = x == 99 ? 0xa8 : 0x00;
			out[off++] = 0;
			out[off++] = 8;
		} else if (x == 95) {
			et = et == 0x0800 ? 0x86dd : 0x0800; /* mismatch */
		} else if (x == 94) {
			et = 0x88cc; /* LLDP: neither IP nor ARP */
		}
		out[off++] = (uint8_t)(et >> 8);
		out[off++] = (uint8_t)et;
	}
	memcpy(out + off, l3, len);
	off += len;
	if (rng_pct(&g->r, 4)) {
		size_t pad = 1 + rng_below(&g->r, 20);

		memset(out + off, 0, pad);
		off += pad;
	}
	while (off < 14)
		out[off++] = 0; /* BPF_PROG_TEST_RUN needs 14 bytes */
	return off;
}

/*
 * BPF_PROG_TEST_RUN for TC reads every buffer as an Ethernet frame
 * (eth_type_trans), also on L3 framing where bytes 12-13 are really part of
 * the IP header, and refuses (EINVAL) one whose "EtherType" is IPv4 or IPv6
 * but that is too short for that header after those 14 bytes: those can
 * only run through XDP (test_bad_packets judges them on every hook where
 * the kernel lets it, and on the model everywhere).
 */
static bool short_for_tc(const struct rk_gen *g, const struct rk_pkt *o)
{
	uint16_t et;

	(void)g;
	if (o->len < 14)
		return false;
	et = (uint16_t)(o->buf[12] << 8 | o->buf[13]);
	return (et == 0x0800 && o->len < 14 + 20) || (et == 0x86dd && o->len < 14 + 40);
}

void rk_next(struct rk_gen *g, struct rk_pkt *o)
{
	uint8_t l3[PB_BUF_LEN];
	size_t len = 0;
	uint32_t x;

	do {
		x = rng_below(&g->r, 100);
		memset(o, 0, sizeof(*o));
		g->last = NULL;
		if (x < 28) {
			o->kind = "new";
			len = rk_gen_new(g, o, l3, sizeof(l3) - 64, false);
		} else if (x < 48) {
			o->kind = "reply";
			len = gen_reply(g, o, l3, sizeof(l3) - 64, false);
			g->last = NULL;
		} else if (x < 56) {
			o->kind = "again";
			len = gen_reply(g, o, l3, sizeof(l3) - 64, true);
			g->last = NULL;
		} else if (x < 68) {
			o->kind = "icmp-error";
			len = rk_gen_error(g, o, l3, sizeof(l3) - 64, NULL);
			g->last = NULL;
		} else if (x < 74) {
			o->kind = "first-fragment";
			len = rk_gen_new(g, o, l3, sizeof(l3) - 64, true);
		} else if (x < 80) {
			o->kind = "later-fragment";
			len = rk_gen_later(g, o, l3, sizeof(l3) - 64, NULL);
			g->last = NULL;
		} else if (x < 90) {
			/* kind set by the generator */
			len = rk_gen_attack(g, o, l3, sizeof(l3) - 64);
			g->last = NULL;
		} else if (x < 97 || g->framing != NN_FRAMING_ETH) {
			o->kind = "broken";
			len = rk_gen_broken(g, o, l3, sizeof(l3) - 64);
			g->last = NULL;
		} else {
			o->kind = "l2";
			o->len = rk_gen_l2(g, o, o->buf, sizeof(o->buf));
			if (o->len < 14)
				o->len = 0;
			len = o->len;
			if (len)
				break;
			continue;
		}
		if (len)
			o->len = wrap(g, o->buf, l3, len);
		if (len && short_for_tc(g, o)) {
			/* TC's test run refuses these (see short_for_tc). */
			if (o->dir == NN_DIR_INTO_OVERLAY)
				len = 0;
			else
				o->hook = NN_HOOK_XDP;
		}
	} while (!len);
	if (!o->hook)
		o->hook = o->dir == NN_DIR_FROM_OVERLAY && rng_pct(&g->r, 50) ? NN_HOOK_XDP :
										NN_HOOK_TC;
}
