// SPDX-License-Identifier: GPL-2.0
/*
 * validate_cross.c - checks across the entries of a snapshot (unique ids,
 * addresses and keys, resource prefixes of different networks) and the
 * final compaction that removes dropped slots and renumbers references.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "lib/addr.h"
#include "lib/table.h"
#include "policy/json_int.h"
#include "policy/strset.h"
#include "lib/stamp.h"

/* Append @what to the last message when one was added since @since, so a
 * reason reads "...; device dropped" and says what happened because of it. */
void nn_note_drop(struct nn_build *b, size_t since, const char *what)
{
	struct nn_errlist *e = b->errs;
	char *msg;

	if (!e || e->n <= since)
		return;
	if (asprintf(&msg, "%s; %s dropped", e->msgs[e->n - 1], what) < 0)
		return;
	free(e->msgs[e->n - 1]);
	e->msgs[e->n - 1] = msg;
}

size_t nn_nerrs(const struct nn_build *b)
{
	return b->errs ? b->errs->n : 0;
}

const char *nn_label_net(const struct nn_build *b, uint32_t ni, char *buf, size_t len)
{
	const struct nn_network *n = &b->p->networks[ni];

	nn_bprintf(buf, len, "tenant=%s network=%s", b->p->tenants[n->tenant].id, n->id);
	return buf;
}

const char *nn_label_of(const struct nn_build *b, uint32_t ni, const char *kind, const char *id,
			char *buf, size_t len)
{
	char net[NN_LABEL_MAX];

	nn_bprintf(buf, len, "%s %s=%s", nn_label_net(b, ni, net, sizeof(net)), kind, id);
	return buf;
}

/* ---- sorted keys, for duplicate detection and lookups ---- */

int nn_skey_cmp(const void *a, const void *b)
{
	const struct nn_skey *x = a, *y = b;
	int c;

	if (x->scope != y->scope)
		return x->scope < y->scope ? -1 : 1;
	c = strcmp(x->s, y->s);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Keys hashed and hinted ahead of their put in nn_find_dups. */
#define DUP_AHEAD 8
/* A value of nn_find_dups' map: the index of a key's first copy, with this
 * bit once that copy is among the duplicates. */
#define DUP_TAKEN 0x80000000u

static int dups_push(struct nn_skey **d, size_t *n, size_t *cap, const struct nn_skey *k)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct nn_skey *g = realloc(*d, nc * sizeof(*g));

		if (!g)
			return -ENOMEM;
		*d = g;
		*cap = nc;
	}
	(*d)[(*n)++] = *k;
	return 0;
}

/* Call @dup for every key whose (scope, string) occurs more than once. */
int nn_find_dups(struct nn_skey *k, size_t n, void (*dup)(struct nn_build *, uint32_t, size_t),
		 struct nn_build *b)
{
	struct nn_skey *d = NULL;
	uint64_t hash[DUP_AHEAD];
	struct nn_strset set;
	size_t i, j, m, nd = 0, dcap = 0;
	uint32_t *first;
	bool found;
	int err = 0;

	/* One pass through a hash map keeps the keys that occur more than
	 * once, and only those are sorted: linear when there are no
	 * duplicates (the normal case), and the callbacks run in the order
	 * the sort of all keys gave before (scope, s, idx: a total order, so
	 * the order keys were kept in does not matter). The map's value is
	 * the first copy's index: its second copy keeps both. Each key is
	 * hashed and its slot hinted DUP_AHEAD puts ahead: at 1M devices the
	 * map has millions of slots and each put missed at its first. */
	if (n >= DUP_TAKEN)
		return -ENOMEM; /* the index must fit beside the flag */
	if (nn_strset_init(&set, n))
		return -ENOMEM;
	for (i = 0; i < n + DUP_AHEAD && !err; i++) {
		/* Key j = i - DUP_AHEAD is put before key i takes its hash's
		 * place in the ring. */
		if (i >= DUP_AHEAD) {
			j = i - DUP_AHEAD;
			first = nn_strset_put_h(&set, k[j].scope, k[j].s, hash[j % DUP_AHEAD],
						(uint32_t)j, &found);
			if (!first) {
				err = -ENOMEM;
			} else if (found) {
				if (!(*first & DUP_TAKEN)) {
					err = dups_push(&d, &nd, &dcap, &k[*first]);
					*first |= DUP_TAKEN;
				}
				if (!err)
					err = dups_push(&d, &nd, &dcap, &k[j]);
			}
		}
		if (i < n) {
			hash[i % DUP_AHEAD] = nn_strset_hash(&set, k[i].scope, k[i].s);
			nn_strset_prefetch(&set, hash[i % DUP_AHEAD]);
		}
	}
	nn_strset_free(&set);
	if (err) {
		free(d);
		return err;
	}
	if (nd)
		memcpy(k, d, nd * sizeof(*k));
	free(d);
	n = nd;
	qsort(k, n, sizeof(*k), nn_skey_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && k[j].scope == k[i].scope && !strcmp(k[j].s, k[i].s); j++)
			;
		if (j - i < 2)
			continue;
		for (m = i; m < j; m++)
			dup(b, k[m].idx, j - i);
	}
	return 0;
}

/* ---- checks across entries ---- */

static void drop_dup_tenant(struct nn_build *b, uint32_t i, size_t n)
{
	b->ten_drop[i] = true;
	nn_errlist_add(
		b->errs,
		"tenant=%s: tenant_id appears %zu times; every copy dropped with everything in it",
		b->p->tenants[i].id, n);
}

static void drop_dup_network(struct nn_build *b, uint32_t i, size_t n)
{
	char l[NN_LABEL_MAX];

	b->net_drop[i] = true;
	nn_errlist_add(b->errs,
		       "%s: network_id appears %zu times; every copy dropped with everything in it",
		       nn_label_net(b, i, l, sizeof(l)), n);
}

static void drop_dup_node(struct nn_build *b, uint32_t i, size_t n)
{
	b->node_drop[i] = true;
	nn_errlist_add(b->errs, "node=%s: node_id appears %zu times; every copy dropped",
		       b->p->nodes[i].id, n);
}

static void drop_dup_device(struct nn_build *b, uint32_t i, size_t n)
{
	char l[NN_LABEL_MAX];

	b->dev_drop[i] = true;
	nn_errlist_add(b->errs, "%s: device_id appears %zu times; every copy dropped",
		       nn_label_of(b, b->p->devices[i].network, "device", b->p->devices[i].id, l,
				   sizeof(l)),
		       n);
}

/* Drop children of dropped parents (no message: the parent's said it). */
static void cascade(struct nn_build *b)
{
	struct nn_policy *p = b->p;
	size_t i;

	for (i = 0; i < p->n_networks; i++)
		if (b->ten_drop[p->networks[i].tenant])
			b->net_drop[i] = true;
	for (i = 0; i < p->n_users; i++)
		if (b->net_drop[p->users[i].network])
			b->user_drop[i] = true;
	for (i = 0; i < p->n_resources; i++)
		if (b->net_drop[p->resources[i].network])
			b->res_drop[i] = true;
	for (i = 0; i < p->n_devices; i++)
		if (b->net_drop[p->devices[i].network] || b->user_drop[p->devices[i].user])
			b->dev_drop[i] = true;
}

typedef void (*dup_fn)(struct nn_build *, uint32_t, size_t);

/* Live ids of one kind, globally unique. */
static int unique_ids(struct nn_build *b, size_t n, const bool *drop,
		      const char *(*id)(const struct nn_policy *, size_t), dup_fn dup)
{
	struct nn_skey *k = calloc(n + 1, sizeof(*k));
	size_t i, m = 0;
	int err;

	if (!k)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (drop[i])
			continue;
		k[m].s = id(b->p, i);
		k[m++].idx = (uint32_t)i;
	}
	err = nn_find_dups(k, m, dup, b);
	free(k);
	return err;
}

static const char *tenant_id(const struct nn_policy *p, size_t i)
{
	return p->tenants[i].id;
}

static const char *network_id(const struct nn_policy *p, size_t i)
{
	return p->networks[i].id;
}

static const char *node_id(const struct nn_policy *p, size_t i)
{
	return p->nodes[i].id;
}

static const char *device_id(const struct nn_policy *p, size_t i)
{
	return p->devices[i].id;
}

/* Something that holds an address or a key: this gateway, a node, a device. */
enum { OWN_GW, OWN_NODE, OWN_DEV };

struct owned {
	uint8_t v[32]; /* address (16 bytes used) or public key */
	uint8_t kind;
	uint32_t idx;
	const char *field;
};

static int owned_cmp(const void *a, const void *b)
{
	const struct owned *x = a, *y = b;
	int c = memcmp(x->v, y->v, sizeof(x->v));

	if (c)
		return c;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static const char *owner_label(const struct nn_build *b, const struct owned *o, char *buf,
			       size_t len)
{
	if (o->kind == OWN_GW)
		nn_bprintf(buf, len, "this gateway (%s)", b->p->node_id);
	else if (o->kind == OWN_NODE)
		nn_bprintf(buf, len, "node=%s", b->p->nodes[o->idx].id);
	else
		nn_label_of(b, b->p->devices[o->idx].network, "device", b->p->devices[o->idx].id,
			    buf, len);
	return buf;
}

/*
 * Move the entries of @o whose value another entry holds too to its front,
 * in any order, and return how many. WHY: drop_shared sorted every value
 * (~1.7M addresses, then ~1M keys at 1M devices: 0.9 s of one thread,
 * docs/controller.md "Cold apply (session 17)") to find groups that are
 * almost always absent; what it reports depends only on the groups, sorted
 * among themselves, so only their members are sorted now. -ENOMEM: none
 * filtered (then all are sorted, as before).
 */
static ssize_t keep_shared_hash(struct owned *o, size_t n)
{
	size_t cap = 16, i, m = 0;
	uint32_t *t;
	bool *shared;

	while (cap < 2 * n)
		cap <<= 1;
	t = calloc(cap, sizeof(*t));
	shared = calloc(n ? n : 1, sizeof(*shared));
	if (!t || !shared) {
		free(t);
		free(shared);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		size_t h = nn_hash_bytes(o[i].v, sizeof(o[i].v)) & (cap - 1);

		for (; t[h]; h = (h + 1) & (cap - 1)) {
			uint32_t j = t[h] - 1;

			if (!memcmp(o[j].v, o[i].v, sizeof(o[i].v))) {
				/* the first holder stays in the table for the
				 * next equal value */
				shared[i] = shared[j] = true;
				break;
			}
		}
		if (!t[h])
			t[h] = (uint32_t)i + 1;
	}
	for (i = 0; i < n; i++)
		if (shared[i]) {
			struct owned x = o[m];

			o[m++] = o[i];
			o[i] = x;
		}
	free(t);
	free(shared);
	return (ssize_t)m;
}

static size_t keep_shared(struct owned *o, size_t n)
{
	ssize_t m = keep_shared_hash(o, n);

	return m < 0 ? n : (size_t)m;
}

/*
 * Every value held twice: drop every holder but this gateway (which cannot
 * be dropped), since the dataplane could not tell them apart and either
 * could receive the other's traffic. @keys says what is compared.
 */
static void drop_shared(struct nn_build *b, struct owned *o, size_t n, bool keys)
{
	char me[NN_LABEL_MAX], other[NN_LABEL_MAX], a[NN_ADDR_STRLEN];
	size_t i, j, m;

	n = keep_shared(o, n);
	qsort(o, n, sizeof(*o), owned_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && !memcmp(o[j].v, o[i].v, sizeof(o->v)); j++)
			;
		for (m = i; j - i > 1 && m < j; m++) {
			const struct owned *x = &o[m], *y = &o[m == i ? i + 1 : i];

			if (x->kind == OWN_GW)
				continue;
			if (x->kind == OWN_NODE)
				b->node_drop[x->idx] = true;
			else
				b->dev_drop[x->idx] = true;
			owner_label(b, x, me, sizeof(me));
			owner_label(b, y, other, sizeof(other));
			if (keys)
				nn_errlist_add(b->errs,
					       "%s: public_key is also held by %s; dropped", me,
					       other);
			else
				nn_errlist_add(b->errs, "%s: %s %s is also used by %s; dropped", me,
					       x->field, nn_addr_format(x->v, a, sizeof(a)), other);
		}
	}
}

static void own(struct owned *o, size_t *n, const uint8_t *v, size_t len, int kind, size_t idx,
		const char *field)
{
	memset(&o[*n], 0, sizeof(o[*n]));
	memcpy(o[*n].v, v, len);
	o[*n].kind = (uint8_t)kind;
	o[*n].idx = (uint32_t)idx;
	o[*n].field = field;
	(*n)++;
}

static int unique_addrs_keys(struct nn_build *b)
{
	struct nn_policy *p = b->p;
	size_t i, n = 0;
	struct owned *o = calloc(2 * p->n_devices + p->n_nodes + 2, sizeof(*o));

	if (!o)
		return -ENOMEM;
	own(o, &n, p->gw.ov6, NN_ADDR_LEN, OWN_GW, 0, "overlay_ipv6");
	if (p->gw.has_ov4)
		own(o, &n, p->gw.ov4, NN_ADDR_LEN, OWN_GW, 0, "overlay_ipv4");
	for (i = 0; i < p->n_nodes; i++)
		if (!b->node_drop[i])
			own(o, &n, p->nodes[i].addr6, NN_ADDR_LEN, OWN_NODE, i, "overlay_ipv6");
	for (i = 0; i < p->n_devices; i++) {
		if (b->dev_drop[i])
			continue;
		own(o, &n, p->devices[i].addr6, NN_ADDR_LEN, OWN_DEV, i, "overlay_ipv6");
		if (p->devices[i].has_addr4)
			own(o, &n, p->devices[i].addr4, NN_ADDR_LEN, OWN_DEV, i, "overlay_ipv4");
	}
	drop_shared(b, o, n, false);

	/* Keys among what survived the address check: a holder dropped for
	 * its address no longer takes a key's other holder with it. */
	n = 0;
	for (i = 0; i < p->n_nodes; i++)
		if (!b->node_drop[i])
			own(o, &n, p->nodes[i].pubkey, 32, OWN_NODE, i, NULL);
	for (i = 0; i < p->n_devices; i++)
		if (!b->dev_drop[i])
			own(o, &n, p->devices[i].pubkey, 32, OWN_DEV, i, NULL);
	drop_shared(b, o, n, true);
	free(o);
	return 0;
}

struct pref_ref {
	struct nn_prefix pf;
	uint32_t res;
};

/* IPv4 prefixes are kept IPv4-mapped (::ffff:0:0/96 and below). */
static bool pref_is_v4(const struct nn_prefix *pf)
{
	return pf->len >= 96 && nn_addr_is_v4mapped(pf->addr);
}

/*
 * Family first, then address, then length. Families must not interleave:
 * an IPv6 prefix never contains an IPv4 one (lib/addr.c), so an IPv4 prefix
 * sorting between ::/8 and a prefix inside it would pop ::/8 off the stack
 * below and hide the overlap.
 */
static int pref_cmp(const void *a, const void *b)
{
	const struct pref_ref *x = a, *y = b;
	bool x4 = pref_is_v4(&x->pf), y4 = pref_is_v4(&y->pf);
	int c;

	if (x4 != y4)
		return x4 ? -1 : 1;
	c = memcmp(x->pf.addr, y->pf.addr, NN_ADDR_LEN);
	if (c)
		return c;
	if (x->pf.len != y->pf.len)
		return x->pf.len < y->pf.len ? -1 : 1;
	return x->res < y->res ? -1 : x->res > y->res;
}

/*
 * Resource prefixes of two networks must not overlap: the dataplane decides
 * tenant and network of a destination by longest match, and either choice
 * would put one network's traffic into the other's. Dropping one side is
 * not safe either (its traffic would turn internet-bound), so: reject.
 * Sorted by address then length, every prefix's containers precede it; the
 * stack holds the chain of containers of the current prefix, and all of it
 * belongs to one network, or we would have stopped already.
 */
static int resource_overlaps(struct nn_build *b)
{
	struct nn_policy *p = b->p;
	char la[NN_LABEL_MAX], lb[NN_LABEL_MAX];
	char pa[NN_PREFIX_STRLEN], pb[NN_PREFIX_STRLEN];
	struct pref_ref *r, **st = NULL;
	size_t i, j, n = 0, top = 0;
	int err = 0;

	for (i = 0; i < p->n_resources; i++)
		if (!b->res_drop[i])
			n += p->resources[i].n_prefixes;
	r = calloc(n + 1, sizeof(*r));
	st = calloc(n + 1, sizeof(*st));
	if (!r || !st) {
		err = -ENOMEM;
		goto out;
	}
	n = 0;
	for (i = 0; i < p->n_resources; i++) {
		for (j = 0; !b->res_drop[i] && j < p->resources[i].n_prefixes; j++) {
			r[n].pf = p->resources[i].prefixes[j];
			r[n++].res = (uint32_t)i;
		}
	}
	qsort(r, n, sizeof(*r), pref_cmp);
	for (i = 0; i < n; i++) {
		const struct nn_resource *x, *y;

		while (top && !nn_prefix_contains(&st[top - 1]->pf, r[i].pf.addr))
			top--;
		if (top) {
			x = &p->resources[st[0]->res];
			y = &p->resources[r[i].res];
			if (x->network != y->network) {
				err = nn_reject(
					b,
					"%s: prefix %s overlaps prefix %s of %s; one tenant's or network's traffic would reach the other",
					nn_label_of(b, y->network, "resource", y->id, la,
						    sizeof(la)),
					nn_prefix_format(&r[i].pf, pa, sizeof(pa)),
					nn_prefix_format(&st[0]->pf, pb, sizeof(pb)),
					nn_label_of(b, x->network, "resource", x->id, lb,
						    sizeof(lb)));
				goto out;
			}
		}
		st[top++] = &r[i];
	}
out:
	free(r);
	free(st);
	return err;
}

int nn_cross_checks(struct nn_build *b)
{
	int err;

	/* Outermost first, so a dropped parent's children do not count as
	 * duplicates of anybody. */
	err = unique_ids(b, b->p->n_tenants, b->ten_drop, tenant_id, drop_dup_tenant);
	cascade(b);
	if (!err)
		err = unique_ids(b, b->p->n_networks, b->net_drop, network_id, drop_dup_network);
	cascade(b);
	if (!err)
		err = unique_ids(b, b->p->n_nodes, b->node_drop, node_id, drop_dup_node);
	nn_stamp("v.x.ids");
	if (!err)
		err = unique_ids(b, b->p->n_devices, b->dev_drop, device_id, drop_dup_device);
	nn_stamp("v.x.dev_ids");
	if (!err)
		err = unique_addrs_keys(b);
	nn_stamp("v.x.addrs_keys");
	if (!err)
		err = resource_overlaps(b);
	return err;
}

/* ---- compaction ---- */

static uint32_t *make_map(const bool *drop, size_t n, size_t *kept)
{
	uint32_t *map = calloc(n + 1, sizeof(*map));
	size_t i, j = 0;

	if (!map)
		return NULL;
	for (i = 0; i < n; i++)
		map[i] = drop[i] ? NN_NONE32 : (uint32_t)j++;
	*kept = j;
	return map;
}

static void remap(uint32_t *v, size_t n, const uint32_t *map)
{
	size_t i;

	/* Maps are increasing, so sorted lists stay sorted. */
	for (i = 0; i < n; i++)
		v[i] = map[v[i]];
}

/*
 * Remove dropped slots and renumber every cross reference. Everything that
 * refers to a slot is dropped with it (cascade, ACL resolution), so no
 * reference can map to NN_NONE32 here.
 */
int nn_compact(struct nn_build *b)
{
	struct nn_policy *p = b->p;
	uint32_t *tm, *nm, *um, *dm, *rm;
	size_t i, j, k, nt = 0, nn = 0, nu = 0, nd = 0, nr = 0;
	int err = -ENOMEM;

	for (i = 0; i < p->n_rules; i++)
		if (b->net_drop[p->rules[i].network])
			b->rule_drop[i] = true;
	tm = make_map(b->ten_drop, p->n_tenants, &nt);
	nm = make_map(b->net_drop, p->n_networks, &nn);
	um = make_map(b->user_drop, p->n_users, &nu);
	dm = make_map(b->dev_drop, p->n_devices, &nd);
	rm = make_map(b->res_drop, p->n_resources, &nr);
	if (!tm || !nm || !um || !dm || !rm)
		goto out;

	for (i = 0, j = 0; i < p->n_tenants; i++)
		if (!b->ten_drop[i])
			p->tenants[j++] = p->tenants[i];
	p->n_tenants = nt;
	for (i = 0, j = 0; i < p->n_networks; i++) {
		if (b->net_drop[i]) {
			free(p->networks[i].gateways);
			continue;
		}
		p->networks[j] = p->networks[i];
		p->networks[j++].tenant = tm[p->networks[i].tenant];
	}
	p->n_networks = nn;
	for (i = 0, j = 0; i < p->n_users; i++) {
		if (b->user_drop[i]) {
			free(p->users[i].groups);
			continue;
		}
		p->users[j] = p->users[i];
		p->users[j++].network = nm[p->users[i].network];
	}
	p->n_users = nu;
	for (i = 0, j = 0; i < p->n_devices; i++) {
		if (b->dev_drop[i]) {
			free(p->devices[i].pref);
			continue;
		}
		p->devices[j] = p->devices[i];
		p->devices[j].network = nm[p->devices[i].network];
		p->devices[j++].user = um[p->devices[i].user];
	}
	p->n_devices = nd;
	for (i = 0, j = 0; i < p->n_resources; i++) {
		if (b->res_drop[i]) {
			free(p->resources[i].prefixes);
			continue;
		}
		p->resources[j] = p->resources[i];
		p->resources[j++].network = nm[p->resources[i].network];
	}
	p->n_resources = nr;
	for (i = 0, j = 0; i < p->n_nodes; i++)
		if (!b->node_drop[i])
			p->nodes[j++] = p->nodes[i];
	p->n_nodes = j;
	for (i = 0, j = 0; i < p->n_rules; i++) {
		struct nn_rule *r = &p->rules[i];

		if (b->rule_drop[i]) {
			nn_rule_release(r);
			continue;
		}
		r->network = nm[r->network];
		remap(r->src_devices, r->n_src_devices, dm);
		if (r->src_grp_devices != r->src_devices) /* one array for both */
			remap(r->src_grp_devices, r->n_src_grp_devices, dm);
		remap(r->dst_devices, r->n_dst_devices, dm);
		remap(r->dst_resources, r->n_dst_resources, rm);
		p->rules[j++] = *r;
	}
	p->n_rules = j;

	/* Rules were read network by network in ACL order, so each
	 * network's rules are one run. */
	for (i = 0, k = 0; i < p->n_networks; i++) {
		p->networks[i].first_rule = (uint32_t)k;
		while (k < p->n_rules && p->rules[k].network == i)
			k++;
		p->networks[i].n_rules = (uint32_t)(k - p->networks[i].first_rule);
	}
	err = 0;
out:
	free(tm);
	free(nm);
	free(um);
	free(dm);
	free(rm);
	return err;
}
