// SPDX-License-Identifier: GPL-2.0
/*
 * nft.c - `nn-microbench nft`: the same synthetic policy as an nftables
 * ruleset written the way an expert would, for the packet-rate comparison.
 *
 * It starts from the same compiled classes as our maps (nn_compile), because
 * that is what an expert does by hand with named sets: classify the source
 * once, then one lookup per question.
 *  - table netdev: the per-peer source check at ingress (hash sets of the
 *    active device addresses; anything else is dropped before routing);
 *  - table inet, forward chain: conntrack first (a verdict map on ct state:
 *    replies and later packets are accepted there), then the source class
 *    (meta mark, a hash map address -> class) and a verdict map address ->
 *    the source's network chain, which holds that network's concatenated
 *    interval sets class . daddr . l4proto . dport (and daddr . l4proto .
 *    dport for its '"*"' cells), deny sets first (a deny anywhere overrides
 *    an allow, as in our cells), then the allow sets, then internet egress
 *    (source may egress, daddr outside every overlay and resource prefix: an
 *    interval set), else drop.
 * Simplifications (documented in README.md): proto "any" cells are expanded
 * to tcp, udp, icmp and icmpv6 only; ACL prefixes of a network apply to
 * every destination (ours: only outside the overlay and its resources).
 *
 * --linear (-l): the same elements as one rule each in one chain (no sets;
 * the '"*"' class in ct mark), to show how a rule-per-line ruleset scales.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_main.h"
#include "compile/compile.h"
#include "policy/policy.h"

static bool v4m(const uint8_t *a)
{
	static const uint8_t p[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, p, 12);
}

static void paddr(FILE *f, const uint8_t *a)
{
	char s[INET6_ADDRSTRLEN];

	if (v4m(a))
		inet_ntop(AF_INET, a + 12, s, sizeof(s));
	else
		inet_ntop(AF_INET6, a, s, sizeof(s));
	fputs(s, f);
}

/* A point of a destination class: an exact address or a prefix. */
struct point {
	uint8_t addr[16];
	uint8_t len; /* in the address's own family */
	uint32_t net;
};

struct pts {
	struct point *p;
	size_t n, cap;
};

static int add_point(struct pts *v, const uint8_t *a, uint8_t len, uint32_t net)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 4;
		struct point *np = realloc(v->p, nc * sizeof(*np));

		if (!np)
			return -ENOMEM;
		v->p = np;
		v->cap = nc;
	}
	memcpy(v->p[v->n].addr, a, 16);
	v->p[v->n].len = len;
	v->p[v->n].net = net;
	v->n++;
	return 0;
}

static void ppoint(FILE *f, const struct point *p)
{
	paddr(f, p->addr);
	if (p->len != (v4m(p->addr) ? 32 : 128))
		fprintf(f, "/%u", p->len);
}

static const char *protos_of(uint16_t proto, bool v4, int *n, uint16_t *out)
{
	if (proto != NN_PROTO_ANY) {
		out[0] = proto;
		*n = 1;
		return NULL;
	}
	out[0] = 6;
	out[1] = 17;
	out[2] = v4 ? 1 : 58;
	*n = 3;
	return NULL;
}

struct ctx {
	const struct nn_compiled *c;
	struct pts *by_dc;   /* indexed by dst class (non-star) */
	struct pts *members; /* indexed by network: STAR(net) as dst */
	uint32_t max_dc, max_net;
	size_t elems;
	const char *iface;
	bool linear;
};

static struct pts *points_of(struct ctx *x, uint32_t dc)
{
	if (dc & NN_CLASS_STAR_BIT) {
		uint32_t net = dc & ~NN_CLASS_STAR_BIT;

		return net <= x->max_net ? &x->members[net] : NULL;
	}
	return dc <= x->max_dc ? &x->by_dc[dc] : NULL;
}

/* One element of a deny/allow set (or one linear rule). */
struct el {
	uint32_t mark;
	uint16_t lo, hi;
	uint8_t proto, len;
	uint8_t addr[16];
};

static int pt_cmp(const void *a, const void *b)
{
	const struct el *x = a, *y = b;
	int c;

	if (x->mark != y->mark)
		return x->mark < y->mark ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->len != y->len)
		return x->len - y->len;
	c = memcmp(x->addr, y->addr, 16);
	if (c)
		return c;
	return x->lo - y->lo;
}

/* The same point, class and protocol in several cells: one element per
 * merged port range. Returns the new count. */
static size_t merge_ports(struct el *v, size_t n)
{
	size_t i, o = 0;

	qsort(v, n, sizeof(*v), pt_cmp);
	for (i = 0; i < n; i++) {
		if (o && v[o - 1].mark == v[i].mark && v[o - 1].proto == v[i].proto &&
		    v[o - 1].len == v[i].len && !memcmp(v[o - 1].addr, v[i].addr, 16) &&
		    (uint32_t)v[i].lo <= (uint32_t)v[o - 1].hi + 1) {
			if (v[i].hi > v[o - 1].hi)
				v[o - 1].hi = v[i].hi;
			continue;
		}
		v[o++] = v[i];
	}
	return o;
}

static int el_cmp(const void *a, const void *b)
{
	const struct el *x = a, *y = b;

	if (x->mark != y->mark)
		return x->mark < y->mark ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->len != y->len)
		return x->len - y->len;
	if (x->lo != y->lo)
		return x->lo - y->lo;
	return memcmp(x->addr, y->addr, 16);
}

/* @in (family bits) inside prefix @p/@len (both 16-byte, mapped for v4). */
static bool covers(const uint8_t *p, unsigned int plen, const uint8_t *in)
{
	unsigned int i;

	for (i = 0; i < plen; i++)
		if ((p[i / 8] ^ in[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

static void emit(FILE *f, struct ctx *x, const struct el *e, bool v4, bool want_deny, bool *first)
{
	struct point pt;

	memcpy(pt.addr, e->addr, 16);
	pt.len = e->len;
	if (x->linear) {
		fprintf(f, "\t\t%s mark 0x%x %s daddr ",
			e->mark & NN_CLASS_STAR_BIT ? "ct" : "meta", e->mark, v4 ? "ip" : "ip6");
		ppoint(f, &pt);
		fprintf(f, " meta l4proto %u th dport %u-%u %s\n", e->proto, e->lo, e->hi,
			want_deny ? "counter name drops drop" : "accept");
	} else {
		fprintf(f, "%s0x%x . ", *first ? "" : ",\n\t\t\t", e->mark);
		ppoint(f, &pt);
		if (e->lo == e->hi)
			fprintf(f, " . %u . %u", e->proto, e->lo);
		else
			fprintf(f, " . %u . %u-%u", e->proto, e->lo, e->hi);
	}
	*first = false;
	x->elems++;
}

/* Elements (or linear rules) of one family: want_deny picks the set. Nested
 * points with the same class, protocol and ports are one element (nftables
 * refuses overlapping intervals in a set, and the inner one adds nothing). */
static size_t collect(struct ctx *x, bool v4, bool want_deny, struct el **res)
{
	const struct nn_compiled *c = x->c;
	size_t ci, k, pi, n = 0, cap = 0, i, g, j, nk, np_ = 0, pcap;
	struct el *v = NULL, **kept = NULL, *pieces;

	for (ci = 0; ci < c->n_cells; ci++) {
		const struct nn_cell_ent *e = &c->cells[ci];
		struct pts *pts = points_of(x, e->dst_class);
		uint16_t protos[3];
		int np, q;

		/* Index entries of a large cell's tree hold no rules. */
		if (!pts || e->index)
			continue;
		protos_of(e->proto, v4, &np, protos);
		for (k = 0; k < e->n; k++) {
			const struct nn_port_range *r = &c->ranges[e->first + k];
			bool deny = r->deny != NN_NONE32;

			if (deny != want_deny || (!deny && r->allow == NN_NONE32))
				continue;
			for (pi = 0; pi < pts->n; pi++) {
				const struct point *p = &pts->p[pi];

				if (v4m(p->addr) != v4)
					continue;
				for (q = 0; q < np; q++) {
					bool ports = protos[q] == 6 || protos[q] == 17;

					if (n == cap) {
						cap = cap ? cap * 2 : 4096;
						v = realloc(v, cap * sizeof(*v));
						if (!v)
							exit(1);
					}
					v[n].mark = e->src_class;
					v[n].proto = protos[q];
					v[n].lo = ports ? r->lo : 0;
					v[n].hi = ports ? r->hi : 65535;
					v[n].len = p->len;
					memcpy(v[n].addr, p->addr, 16);
					n++;
				}
			}
		}
	}
	n = merge_ports(v, n);
	qsort(v, n, sizeof(*v), el_cmp);
	kept = calloc(n + 1, sizeof(*kept));
	pcap = 4 * n + 64;
	pieces = calloc(pcap, sizeof(*pieces));
	for (i = 0; i < n; i = g) {
		/* A group: same class and protocol; shortest prefixes first.
		 * Each element keeps only the ports no enclosing element of the
		 * group already has (nftables refuses overlapping intervals). */
		for (g = i; g < n && v[g].mark == v[i].mark && v[g].proto == v[i].proto; g++)
			;
		nk = 0;
		for (j = i; j < g; j++) {
			struct el *e = &v[j];
			unsigned int off = v4 ? 96 : 0, full = v4 ? 32 : 128;
			uint32_t lo = e->lo, hi = e->hi, cut;
			size_t m;

			/* Ports left after every enclosing element (sorted by lo). */
			for (;;) {
				bool moved = false;

				for (m = 0; m < nk; m++) {
					struct el *o = kept[m];

					if (!covers(o->addr, off + o->len, e->addr) ||
					    o->len > e->len || (o->len == e->len && o == e))
						continue;
					if (o->lo <= lo && lo <= o->hi) {
						lo = (uint32_t)o->hi + 1;
						moved = true;
					}
				}
				if (!moved)
					break;
			}
			while (lo <= hi && np_ < pcap) {
				/* Up to the next enclosing range start. */
				cut = hi;
				for (m = 0; m < nk; m++) {
					struct el *o = kept[m];

					if (covers(o->addr, off + o->len, e->addr) && o->lo > lo &&
					    o->lo <= cut)
						cut = o->lo - 1u;
				}
				pieces[np_] = *e;
				pieces[np_].lo = lo;
				pieces[np_].hi = cut;
				if (e->len < full)
					kept[nk++] = &pieces[np_];
				np_++;
				lo = cut + 1;
				/* Skip what enclosing elements hold from here. */
				for (;;) {
					bool moved = false;

					for (m = 0; m < nk; m++) {
						struct el *o = kept[m];

						if (o == &pieces[np_ - 1] ||
						    !covers(o->addr, off + o->len, e->addr))
							continue;
						if (o->lo <= lo && lo <= o->hi) {
							lo = (uint32_t)o->hi + 1;
							moved = true;
						}
					}
					if (!moved)
						break;
				}
			}
		}
	}
	free(kept);
	free(v);
	*res = pieces;
	return np_;
}

static void elements(FILE *f, struct ctx *x, bool v4, bool want_deny, bool *first)
{
	struct el *v;
	size_t n = collect(x, v4, want_deny, &v), i;

	for (i = 0; i < n; i++)
		emit(f, x, &v[i], v4, want_deny, first);
	free(v);
}

static void addr_map(FILE *f, const struct nn_compiled *c, bool v4, bool star)
{
	bool first = true;
	size_t i;

	for (i = 0; i < c->n_addrs; i++) {
		const struct nn_addr_ent *a = &c->addrs[i];

		if (a->info.kind != NN_AK_DEVICE || a->info.state != NN_ST_ACTIVE ||
		    v4m(a->addr) != v4)
			continue;
		fputs(first ? "" : ",\n\t\t\t", f);
		paddr(f, a->addr);
		fprintf(f, " : 0x%x", star ? NN_CLASS_STAR(a->info.network) : a->info.src_class);
		first = false;
	}
	if (first)
		fputs(v4 ? "255.255.255.255 : 0" : "::ffff:ffff:ffff : 0", f);
}

static void addr_set(FILE *f, const struct nn_compiled *c, bool v4, bool egress_only)
{
	bool first = true;
	size_t i;

	for (i = 0; i < c->n_addrs; i++) {
		const struct nn_addr_ent *a = &c->addrs[i];

		if (a->info.kind == NN_AK_SELF || a->info.state != NN_ST_ACTIVE ||
		    v4m(a->addr) != v4)
			continue;
		if (egress_only && !(a->info.flags & NN_AF_EGRESS))
			continue;
		fputs(first ? "" : ",\n\t\t\t", f);
		paddr(f, a->addr);
		first = false;
	}
	if (first)
		fputs(v4 ? "255.255.255.255" : "::ffff:ffff:ffff", f);
}

/* Overlay and resource prefixes (global scope): "inside", not internet. */
static void inside_set(FILE *f, const struct nn_compiled *c, const struct nn_policy *p, bool v4)
{
	bool first = true;
	size_t i;

	for (i = 0; i < p->gw.n_overlay_prefixes; i++) {
		const struct nn_prefix *o = &p->gw.overlay_prefixes[i];
		struct point pt;

		if (v4m(o->addr) != v4)
			continue;
		memcpy(pt.addr, o->addr, 16);
		pt.len = v4 ? o->len - 96 : o->len;
		fputs(first ? "" : ",\n\t\t\t", f);
		ppoint(f, &pt);
		first = false;
	}
	for (i = 0; i < c->n_prefixes; i++) {
		const struct nn_prefix_ent *e = &c->prefixes[i];
		struct point pt;

		if (e->net || e->info.kind != NN_PK_RESOURCE || v4m(e->pfx.addr) != v4)
			continue;
		memcpy(pt.addr, e->pfx.addr, 16);
		pt.len = v4 ? e->pfx.len - 96 : e->pfx.len;
		fputs(first ? "" : ",\n\t\t\t", f);
		ppoint(f, &pt);
		first = false;
	}
}

static int build_points(struct ctx *x, const struct nn_compiled *c)
{
	size_t i;
	int err = 0;

	x->max_dc = c->n_dst_classes + 1;
	x->max_net = 0;
	for (i = 0; i < c->n_addrs; i++)
		if (c->addrs[i].info.network > x->max_net)
			x->max_net = c->addrs[i].info.network;
	for (i = 0; i < c->n_addrs; i++)
		if (c->addrs[i].info.dst_class > x->max_dc)
			x->max_dc = c->addrs[i].info.dst_class;
	for (i = 0; i < c->n_prefixes; i++) {
		if (c->prefixes[i].info.dst_class > x->max_dc &&
		    !(c->prefixes[i].info.dst_class & NN_CLASS_STAR_BIT))
			x->max_dc = c->prefixes[i].info.dst_class;
		if (c->prefixes[i].info.network > x->max_net)
			x->max_net = c->prefixes[i].info.network;
	}
	x->by_dc = calloc(x->max_dc + 1, sizeof(*x->by_dc));
	x->members = calloc(x->max_net + 1, sizeof(*x->members));
	if (!x->by_dc || !x->members)
		return -ENOMEM;
	for (i = 0; i < c->n_addrs && !err; i++) {
		const struct nn_addr_ent *a = &c->addrs[i];
		uint8_t len = v4m(a->addr) ? 32 : 128;

		if (a->info.kind != NN_AK_DEVICE || a->info.state != NN_ST_ACTIVE)
			continue;
		if (a->info.dst_class && !(a->info.dst_class & NN_CLASS_STAR_BIT))
			err = add_point(&x->by_dc[a->info.dst_class], a->addr, len,
					a->info.network);
		if (!err && a->info.network <= x->max_net)
			err = add_point(&x->members[a->info.network], a->addr, len,
					a->info.network);
	}
	for (i = 0; i < c->n_prefixes && !err; i++) {
		const struct nn_prefix_ent *e = &c->prefixes[i];
		uint8_t len = v4m(e->pfx.addr) ? e->pfx.len - 96 : e->pfx.len;
		uint32_t dc = e->info.dst_class;

		if (e->info.kind != NN_PK_RESOURCE && e->info.kind != NN_PK_ACL)
			continue;
		if (dc && !(dc & NN_CLASS_STAR_BIT))
			err = add_point(&x->by_dc[dc], e->pfx.addr, len, e->info.network);
		if (!err && e->net == 0 && e->info.kind == NN_PK_RESOURCE &&
		    e->info.network <= x->max_net)
			err = add_point(&x->members[e->info.network], e->pfx.addr, len,
					e->info.network);
	}
	return err;
}

static void family(FILE *f, struct ctx *x, bool v4)
{
	const char *ip = v4 ? "ip" : "ip6", *sfx = v4 ? "4" : "6";
	bool first;

	if (x->linear) {
		fprintf(f, "\t\tmeta mark set %s saddr map @cls%s\n", ip, sfx);
		fprintf(f, "\t\tct mark set %s saddr map @star%s\n", ip, sfx);
		elements(f, x, v4, true, &first);
		elements(f, x, v4, false, &first);
	} else {
		fprintf(f, "\t\tmeta mark set %s saddr map @cls%s\n", ip, sfx);
		fprintf(f, "\t\tct mark set %s saddr map @star%s\n", ip, sfx);
		fprintf(f,
			"\t\tmeta mark . %s daddr . meta l4proto . th dport @deny%s counter name drops drop\n",
			ip, sfx);
		fprintf(f,
			"\t\tct mark . %s daddr . meta l4proto . th dport @deny%s counter name drops drop\n",
			ip, sfx);
		fprintf(f, "\t\tmeta mark . %s daddr . meta l4proto . th dport @allow%s accept\n",
			ip, sfx);
		fprintf(f, "\t\tct mark . %s daddr . meta l4proto . th dport @allow%s accept\n", ip,
			sfx);
	}
	fprintf(f, "\t\t%s saddr @egress%s %s daddr != @inside%s accept\n", ip, sfx, ip, sfx);
}

static void sets(FILE *f, struct ctx *x, const struct nn_policy *p, bool v4)
{
	const char *t = v4 ? "ipv4_addr" : "ipv6_addr", *sfx = v4 ? "4" : "6";
	bool first;

	fprintf(f, "\tmap cls%s {\n\t\ttype %s : mark\n\t\telements = { ", sfx, t);
	addr_map(f, x->c, v4, false);
	fprintf(f, " }\n\t}\n\tmap star%s {\n\t\ttype %s : mark\n\t\telements = { ", sfx, t);
	addr_map(f, x->c, v4, true);
	fprintf(f, " }\n\t}\n\tset egress%s {\n\t\ttype %s\n\t\telements = { ", sfx, t);
	addr_set(f, x->c, v4, true);
	fprintf(f,
		" }\n\t}\n\tset inside%s {\n\t\ttype %s\n\t\tflags interval\n\t\tauto-merge\n"
		"\t\telements = { ",
		sfx, t);
	inside_set(f, x->c, p, v4);
	fprintf(f, " }\n\t}\n");
	if (x->linear)
		return;
	for (int d = 1; d >= 0; d--) {
		fprintf(f,
			"\tset %s%s {\n\t\ttype mark . %s . inet_proto . inet_service\n"
			"\t\tflags interval\n",
			d ? "deny" : "allow", sfx, t);
		first = true;
		fprintf(f, "\t\telements = { ");
		elements(f, x, v4, d, &first);
		if (first) /* an empty set still needs a valid declaration */
			fprintf(f, "0xffffffff . %s . 255 . 0",
				v4 ? "255.255.255.255" : "::ffff:ffff:ffff");
		fprintf(f, " }\n\t}\n");
	}
}

/* ---- the per-network form (nft_eq) ----
 * A verdict map sends each source to its network's chain (the source check
 * and the dispatch in one hash lookup); each network's chain holds its own
 * small concatenated interval sets: class cells keyed by the source's class
 * (meta mark), '"*"' cells keyed by the destination only. */
static uint32_t *cls_net;
static size_t n_cls_net;

static uint32_t net_of(uint32_t mark)
{
	if (mark & NN_CLASS_STAR_BIT)
		return mark & ~NN_CLASS_STAR_BIT;
	return mark < n_cls_net ? cls_net[mark] : 0;
}

static int net_cmp(const void *a, const void *b)
{
	const struct el *x = a, *y = b;
	uint32_t nx = net_of(x->mark), ny = net_of(y->mark);
	int sx = !!(x->mark & NN_CLASS_STAR_BIT), sy = !!(y->mark & NN_CLASS_STAR_BIT);

	if (nx != ny)
		return nx < ny ? -1 : 1;
	if (sx != sy)
		return sx - sy;
	return el_cmp(a, b);
}

/* Bit per network and set kind: 1 class deny, 2 star deny, 4 class allow,
 * 8 star allow. */
static uint8_t *net_sets;

static void net_sets_of(FILE *f, struct ctx *x, bool v4, bool deny)
{
	const char *t = v4 ? "ipv4_addr" : "ipv6_addr";
	struct el *v;
	size_t n = collect(x, v4, deny, &v), i, g;

	qsort(v, n, sizeof(*v), net_cmp);
	for (i = 0; i < n; i = g) {
		uint32_t net = net_of(v[i].mark);
		bool star = v[i].mark & NN_CLASS_STAR_BIT;

		for (g = i;
		     g < n && net_of(v[g].mark) == net && !!(v[g].mark & NN_CLASS_STAR_BIT) == star;
		     g++)
			;
		if (net > x->max_net)
			continue;
		net_sets[net] |= (deny ? 1 : 4) << star;
		fprintf(f,
			"\tset %c%c%u_%c {\n\t\ttype %s%s . inet_proto . inet_service\n"
			"\t\tflags interval\n\t\telements = { ",
			deny ? 'd' : 'a', star ? 's' : 'c', net, v4 ? '4' : '6',
			star ? "" : "mark . ", t);
		for (size_t j = i; j < g; j++) {
			struct point pt;

			memcpy(pt.addr, v[j].addr, 16);
			pt.len = v[j].len;
			if (j > i)
				fputs(",\n\t\t\t", f);
			if (!star)
				fprintf(f, "0x%x . ", v[j].mark);
			ppoint(f, &pt);
			if (v[j].lo == v[j].hi)
				fprintf(f, " . %u . %u", v[j].proto, v[j].lo);
			else
				fprintf(f, " . %u . %u-%u", v[j].proto, v[j].lo, v[j].hi);
			x->elems++;
		}
		fprintf(f, " }\n\t}\n");
	}
	free(v);
}

static void eq_family(FILE *f, struct ctx *x, const struct nn_policy *p, bool v4)
{
	const char *ip = v4 ? "ip" : "ip6", *t = v4 ? "ipv4_addr" : "ipv6_addr";
	char fam = v4 ? '4' : '6';
	const struct nn_compiled *c = x->c;
	bool first = true;
	uint32_t net;
	size_t i;

	memset(net_sets, 0, x->max_net + 1);
	fprintf(f, "\tmap cls%c {\n\t\ttype %s : mark\n\t\telements = { ", fam, t);
	addr_map(f, c, v4, false);
	fprintf(f, " }\n\t}\n\tset egress%c {\n\t\ttype %s\n\t\telements = { ", fam, t);
	addr_set(f, c, v4, true);
	fprintf(f,
		" }\n\t}\n\tset inside%c {\n\t\ttype %s\n\t\tflags interval\n\t\tauto-merge\n"
		"\t\telements = { ",
		fam, t);
	inside_set(f, c, p, v4);
	fprintf(f, " }\n\t}\n");
	net_sets_of(f, x, v4, true);
	net_sets_of(f, x, v4, false);
	fprintf(f, "\tmap net%c {\n\t\ttype %s : verdict\n\t\telements = { ", fam, t);
	for (i = 0; i < c->n_addrs; i++) {
		const struct nn_addr_ent *a = &c->addrs[i];

		if (a->info.kind != NN_AK_DEVICE || a->info.state != NN_ST_ACTIVE ||
		    v4m(a->addr) != v4)
			continue;
		fputs(first ? "" : ",\n\t\t\t", f);
		paddr(f, a->addr);
		fprintf(f, " : jump n%u_%c", a->info.network, fam);
		first = false;
	}
	if (first)
		fprintf(f, "%s : drop", v4 ? "255.255.255.255" : "::ffff:ffff:ffff");
	fprintf(f, " }\n\t}\n");
	for (net = 0; net <= x->max_net; net++) {
		bool used = false;

		for (i = 0; i < c->n_addrs && !used; i++)
			used = c->addrs[i].info.kind == NN_AK_DEVICE &&
			       c->addrs[i].info.network == net && v4m(c->addrs[i].addr) == v4;
		if (!used)
			continue;
		fprintf(f, "\tchain n%u_%c {\n", net, fam);
		if (net_sets[net] & 1)
			fprintf(f,
				"\t\tmeta mark . %s daddr . meta l4proto . th dport @dc%u_%c counter name drops drop\n",
				ip, net, fam);
		if (net_sets[net] & 2)
			fprintf(f,
				"\t\t%s daddr . meta l4proto . th dport @ds%u_%c counter name drops drop\n",
				ip, net, fam);
		if (net_sets[net] & 4)
			fprintf(f,
				"\t\tmeta mark . %s daddr . meta l4proto . th dport @ac%u_%c accept\n",
				ip, net, fam);
		if (net_sets[net] & 8)
			fprintf(f, "\t\t%s daddr . meta l4proto . th dport @as%u_%c accept\n", ip,
				net, fam);
		fprintf(f, "\t\t%s saddr @egress%c %s daddr != @inside%c accept\n", ip, fam, ip,
			fam);
		fprintf(f, "\t\tcounter name drops drop\n\t}\n");
	}
	fprintf(f,
		"\tchain from%c {\n\t\tmeta mark set %s saddr map @cls%c\n"
		"\t\t%s saddr vmap @net%c\n\t\tcounter name drops drop\n\t}\n",
		fam, ip, fam, ip, fam);
}

static int cls_net_build(struct ctx *x)
{
	const struct nn_compiled *c = x->c;
	size_t i;

	n_cls_net = 1;
	for (i = 0; i < c->n_addrs; i++)
		if (!(c->addrs[i].info.src_class & NN_CLASS_STAR_BIT) &&
		    c->addrs[i].info.src_class + 1 > n_cls_net)
			n_cls_net = c->addrs[i].info.src_class + 1;
	cls_net = calloc(n_cls_net, sizeof(*cls_net));
	net_sets = calloc(x->max_net + 1, 1);
	if (!cls_net || !net_sets)
		return -ENOMEM;
	for (i = 0; i < c->n_addrs; i++)
		if (!(c->addrs[i].info.src_class & NN_CLASS_STAR_BIT))
			cls_net[c->addrs[i].info.src_class] = c->addrs[i].info.network;
	return 0;
}

int nft_main(int argc, char **argv)
{
	struct bench_gen g;
	struct nn_limits lim;
	struct nn_policy *p = NULL;
	struct nn_errlist errs = {};
	struct nn_compiled c = {};
	struct nn_slots slots = {};
	struct ctx x = { .iface = "eth0" };
	const char *out = NULL;
	size_t n = 10, i;
	FILE *f;
	int opt, err;

	while ((opt = getopt(argc, argv, "n:i:o:l")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'i':
			x.iface = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'l':
			x.linear = true;
			break;
		default:
			fprintf(stderr, "usage: nn-microbench nft -n N [-i IFACE] [-l] -o FILE\n");
			return 2;
		}
	}
	if (!out)
		return 2;
	err = bench_genpolicy(n, &g);
	if (err)
		return 1;
	nn_limits_default(&lim);
	lim.max_devices = lim.max_rules = n + 1024;
	lim.max_prefixes = 2 * n + 4096;
	lim.max_body = g.len; /* our own synthetic snapshot: 485 MB at 1M */
	err = nn_policy_parse(g.json, g.len, "gw-bench", &lim, &p, &errs);
	if (err) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "# policy: %s\n", errs.msgs[i]);
		return 1;
	}
	slots.dev = calloc(p->n_devices + 1, sizeof(uint32_t));
	slots.node = calloc(p->n_nodes + 1, sizeof(uint32_t));
	slots.rule = calloc(p->n_rules + 1, sizeof(uint32_t));
	for (i = 0; i < p->n_devices; i++)
		slots.dev[i] = i;
	for (i = 0; i < p->n_nodes; i++)
		slots.node[i] = p->n_devices + i;
	for (i = 0; i < p->n_rules; i++)
		slots.rule[i] = i;
	slots.self = p->n_devices + p->n_nodes;
	err = nn_compile(p, &slots, &(struct nn_compile_caps){ .max_cells = 64 * n + 100000 }, &c,
			 &errs);
	if (!err)
		err = build_points(&x, &c);
	if (err) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "# compile: %s\n", errs.msgs[i]);
		return 1;
	}
	x.c = &c;
	f = fopen(out, "w");
	if (!f)
		return 1;
	fprintf(f,
		"# generated by nn-microbench nft -n %zu%s: %zu devices, %zu rules, "
		"%zu cells\n",
		n, x.linear ? " -l" : "", p->n_devices, p->n_rules, c.n_cells);
	fprintf(f, "table netdev nnb {\n\tset src4 {\n\t\ttype ipv4_addr\n\t\telements = { ");
	addr_set(f, &c, true, false);
	fprintf(f, " }\n\t}\n\tset src6 {\n\t\ttype ipv6_addr\n\t\telements = { ");
	addr_set(f, &c, false, false);
	fprintf(f,
		" }\n\t}\n\tcounter drops { }\n"
		"\tchain ingress {\n\t\ttype filter hook ingress device \"%s\" priority 0; policy accept;\n"
		"\t\tmeta protocol vmap { ip : jump v4, ip6 : jump v6 }\n\t}\n"
		"\tchain v4 {\n\t\tip saddr != @src4 counter name drops drop\n\t}\n"
		"\tchain v6 {\n\t\tip6 saddr != @src6 counter name drops drop\n\t}\n}\n",
		x.iface);
	fprintf(f, "table inet nnb {\n\tcounter drops { }\n");
	if (x.linear) {
		sets(f, &x, p, true);
		sets(f, &x, p, false);
	} else {
		if (cls_net_build(&x))
			return 1;
		eq_family(f, &x, p, true);
		eq_family(f, &x, p, false);
	}
	fprintf(f,
		"\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n"
		"\t\tct state vmap { established : accept, related : accept, invalid : drop }\n"
		"\t\tiifname \"%s\" meta nfproto vmap { ipv4 : jump from4, ipv6 : jump from6 }\n"
		"\t}\n",
		x.iface);
	if (x.linear) {
		fprintf(f, "\tchain from4 {\n");
		family(f, &x, true);
		fprintf(f, "\t\tcounter name drops drop\n\t}\n\tchain from6 {\n");
		family(f, &x, false);
		fprintf(f, "\t\tcounter name drops drop\n\t}\n");
	}
	fprintf(f, "}\n");
	fclose(f);
	printf("{\"n\": %zu, \"linear\": %s, \"elements\": %zu, \"cells\": %zu}\n", n,
	       x.linear ? "true" : "false", x.elems, c.n_cells);
	nn_compiled_free(&c);
	nn_policy_free(p);
	bench_gen_free(&g);
	return 0;
}
