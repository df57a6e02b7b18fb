// SPDX-License-Identifier: GPL-2.0
/*
 * compile.c - validated policy -> map entries (see compile.h for the class
 * scheme). Every step is linear in the policy size times the number of
 * distinct prefix lengths: covering prefixes are found by masking an address
 * to each length in use and looking it up, never by scanning all prefixes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "compile/compile_int.h"
#include "lib/addr.h"
#include "lib/table.h"
#include "lib/thread.h"
#include "lib/stamp.h"

static void vfree_all(struct vec *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i].v);
	free(v);
}

static int pfx_add(struct pfx_index *ix, uint32_t net, const struct nn_prefix *p, uint32_t id)
{
	struct pfx_key k = { .net = net, .len = p->len };
	struct nn_tentry *e;
	struct vec v = {};
	int err;

	nn_addr_mask(k.addr, p->addr, NN_ADDR_LEN, p->len);
	ix->lens[net][p->len] = 1;
	e = nn_table_get(&ix->t, &k, sizeof(k));
	if (e)
		v = *(struct vec *)e->val;
	err = nn_c_vpush(&v, id);
	if (err)
		return err;
	return nn_table_put(&ix->t, &k, sizeof(k), &v, sizeof(v));
}

/* The first length >= @l and <= @len in use in @lens (@len + 1 if none).
 * Eight lengths at a time: a network uses a handful of the 129, and this
 * runs for every device address and region. */
static unsigned int next_len(const uint8_t *lens, unsigned int l, unsigned int len)
{
	uint64_t w;

	while (l + 8 <= len + 1) {
		memcpy(&w, lens + l, sizeof(w));
		if (w)
			break;
		l += 8;
	}
	while (l <= len && !lens[l])
		l++;
	return l;
}

/* The IPv4-mapped block ::ffff:0:0/96, i.e. 0.0.0.0/0. */
static const struct nn_prefix v4_block = {
	.addr = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff },
	.len = 96,
};

/* Lengths looked up together by pfx_covering. */
#define PFX_AHEAD 8

/*
 * Append to @out every id whose prefix (of network @net) covers the prefix
 * (@a, @len); use len 128 for an address. An IPv6 prefix shorter than /96
 * never covers IPv4 (so "::/0" is every IPv6 address, not IPv4 too), the
 * same rule as nn_prefix_contains().
 */
static int pfx_covering(const struct pfx_index *ix, uint32_t net, const uint8_t *a,
			unsigned int len, struct vec *out)
{
	struct pfx_key k[PFX_AHEAD];
	uint64_t h[PFX_AHEAD];
	unsigned int l, n, i;
	int err;

	l = (len >= 96 && nn_addr_is_v4mapped(a)) ? 96 : 0;
	l = next_len(ix->lens[net], l, len);
	while (l <= len) {
		/* The lookups of up to PFX_AHEAD lengths are independent:
		 * their first slots are hinted together, then looked up in
		 * order (the order of @out), so that the misses overlap (a
		 * miss per length and device address at 1M devices). */
		for (n = 0; n < PFX_AHEAD && l <= len;
		     n++, l = next_len(ix->lens[net], l + 1, len)) {
			k[n].net = net; /* no padding: every byte is set */
			k[n].len = l;
			nn_addr_mask(k[n].addr, a, NN_ADDR_LEN, l);
			h[n] = nn_hash_bytes(&k[n], sizeof(k[n]));
			nn_table_prefetch(&ix->t, h[n]);
		}
		for (i = 0; i < n; i++) {
			struct nn_tentry *e = nn_table_get_h(&ix->t, &k[i], sizeof(k[i]), h[i]);
			struct vec *v;

			if (!e)
				continue;
			v = e->val;
			err = nn_c_vappend(out, v->v, v->n);
			if (err)
				return err;
		}
	}
	return 0;
}

static void pfx_free(struct pfx_index *ix)
{
	size_t i;

	for (i = 0; i < ix->t.cap; i++)
		if (ix->t.e[i].used)
			free(((struct vec *)ix->t.e[i].val)->v);
	nn_table_free(&ix->t);
	free(ix->lens);
}

/* Count one more member of class @cls in @refs (grown as classes come). */
static int ref_class(struct vec *refs, uint32_t cls)
{
	while (refs->n <= cls) {
		int err = nn_c_vpush(refs, 0);

		if (err)
			return err;
	}
	refs->v[cls]++;
	return 0;
}

/* Intern the signature @key (network, then a sorted rule list of @klen /
 * 4 - 1 > 0 rules) hashed @h as a class. */
static int intern_key(struct cstate *s, struct nn_table *sigs, struct vec *rule_classes,
		      uint32_t *next, const uint32_t *key, size_t klen, uint64_t h, uint32_t *cls)
{
	size_t i, n = klen / sizeof(uint32_t) - 1;
	struct nn_tentry *e = nn_table_get_h(sigs, key, klen, h);
	int err = 0;

	if (e) {
		*cls = *(uint32_t *)e->val;
	} else {
		*cls = ++*next;
		err = nn_table_put_h(sigs, key, klen, h, cls, sizeof(*cls));
	}
	if (!err)
		err = ref_class(sigs == &s->src_sigs ? &s->src_refs : &s->dst_refs, *cls);
	if (e || err)
		return err;
	for (i = 0; i < n; i++) {
		err = nn_c_vpush(&rule_classes[key[1 + i]], *cls);
		if (err)
			return err;
	}
	return 0;
}

/* Intern a sorted rule list of network @net as a class; 0 for none. */
static int intern(struct cstate *s, struct nn_table *sigs, struct vec *rule_classes, uint32_t *next,
		  uint32_t net, const struct vec *sig, uint32_t *cls)
{
	size_t klen = (sig->n + 1) * sizeof(uint32_t);
	uint32_t small[64], *key;
	int err;

	*cls = NN_CLASS_NONE;
	if (!sig->n)
		return 0;
	/* Most signatures are a few rules long: no allocation for those. */
	key = klen <= sizeof(small) ? small : malloc(klen);
	if (!key)
		return -ENOMEM;
	key[0] = net;
	memcpy(key + 1, sig->v, sig->n * sizeof(uint32_t));
	err = intern_key(s, sigs, rule_classes, next, key, klen, nn_hash_bytes(key, klen), cls);
	if (key != small)
		free(key);
	return err;
}

/*
 * Signatures interned a batch at a time: each one's key is built and hashed
 * and its slot hinted when it is added, and the batch is interned in the
 * order it was added (so every class number is the one a call of intern()
 * per signature gives). Per device, one signature after another, the first
 * slot of each lookup was a cache miss in a table of millions at 1M
 * devices; a batch overlaps them.
 */
#define INTERN_AHEAD 8

struct intern_batch {
	struct cstate *s;
	struct nn_table *sigs;
	struct vec *rule_classes;
	uint32_t *next;
	struct vec key[INTERN_AHEAD]; /* network, then the rules */
	uint64_t h[INTERN_AHEAD];
	uint32_t *cls[INTERN_AHEAD];
	size_t n;
};

static int batch_flush(struct intern_batch *b)
{
	size_t i;
	int err = 0;

	for (i = 0; i < b->n && !err; i++)
		err = intern_key(b->s, b->sigs, b->rule_classes, b->next, b->key[i].v,
				 b->key[i].n * sizeof(uint32_t), b->h[i], b->cls[i]);
	b->n = 0;
	return err;
}

/* Intern (@net, @sig) into *@cls by the time of the batch's flush; @sig
 * is copied. */
static int batch_add(struct intern_batch *b, uint32_t net, const struct vec *sig, uint32_t *cls)
{
	struct vec *k;
	int err;

	*cls = NN_CLASS_NONE;
	if (!sig->n)
		return 0;
	if (b->n == INTERN_AHEAD) {
		err = batch_flush(b);
		if (err)
			return err;
	}
	k = &b->key[b->n];
	k->n = 0;
	err = nn_c_vpush(k, net) ?: nn_c_vappend(k, sig->v, sig->n);
	if (err)
		return err;
	b->h[b->n] = nn_hash_bytes(k->v, k->n * sizeof(uint32_t));
	nn_table_prefetch(b->sigs, b->h[b->n]);
	b->cls[b->n++] = cls;
	return 0;
}

static void batch_free(struct intern_batch *b)
{
	size_t i;

	for (i = 0; i < INTERN_AHEAD; i++)
		free(b->key[i].v);
}

/* Each device of rule @rule's src_devices into @grp when the rule reaches
 * it through a group, else into @named; @place: count (start[d + 1]++) or
 * place (v[fill[d]++]). */
static void src_rows(const struct nn_rule *rule, uint32_t r, struct nn_c_rows *named,
		     struct nn_c_rows *grp, bool place)
{
	size_t i, g = 0;

	/* Both lists are sorted (validation builds them so): one merge
	 * instead of a binary search per device. A descent in src_devices
	 * restarts it, so the answer never depends on that order. */
	for (i = 0; i < rule->n_src_devices; i++) {
		uint32_t dv = rule->src_devices[i];
		struct nn_c_rows *w;

		if (i && dv < rule->src_devices[i - 1])
			g = 0;
		while (g < rule->n_src_grp_devices && rule->src_grp_devices[g] < dv)
			g++;
		w = g < rule->n_src_grp_devices && rule->src_grp_devices[g] == dv ? grp : named;
		if (place)
			w->v[w->fill[dv]++] = r;
		else
			w->start[dv + 1]++;
	}
}

/*
 * Two source classes per device: the rules naming it by device or user, and
 * the rules reaching it through its groups. Kept apart, a group rule costs
 * one cell per distinct group membership instead of one per device that some
 * per-device rule also names.
 */
static int src_classes(struct cstate *s)
{
	const struct nn_policy *p = s->p;
	size_t n = p->n_devices, r, d;
	struct nn_c_rows named = { .start = calloc(n + 1, sizeof(uint32_t)) },
			 grp = { .start = calloc(n + 1, sizeof(uint32_t)) };
	struct intern_batch ib = { .s = s,
				   .sigs = &s->src_sigs,
				   .rule_classes = s->rule_src,
				   .next = &s->out->n_src_classes };
	int err = 0, pass;

	if (!named.start || !grp.start)
		err = -ENOMEM;
	for (pass = 0; pass < 2 && !err; pass++) {
		if (pass)
			err = nn_c_rows_alloc(&named, n) ?: nn_c_rows_alloc(&grp, n);
		for (r = 0; r < p->n_rules && !err; r++)
			if (!p->rules[r].src_star)
				src_rows(&p->rules[r], (uint32_t)r, &named, &grp, pass);
	}
	for (d = 0; d < n && !err; d++) {
		uint32_t net = p->devices[d].network + 1;
		struct vec vn = nn_c_rows_of(&named, d), vg = nn_c_rows_of(&grp, d);

		err = batch_add(&ib, net, &vn, &s->dev_src[d]) ?:
			      batch_add(&ib, net, &vg, &s->dev_gsrc[d]);
	}
	if (!err)
		err = batch_flush(&ib);
	batch_free(&ib);
	nn_c_rows_free(&named);
	nn_c_rows_free(&grp);
	return err;
}

/* Rules of network @net whose non-"*" dst matches every address of the
 * prefix (@a, @len) inside the network: named resources covering it, and
 * ACL dst prefixes covering it. */
int nn_c_region_sig(struct cstate *s, uint32_t net, const uint8_t *a, unsigned int len,
		    struct vec *sig)
{
	struct vec *res = &s->scratch;
	size_t i;
	int err;

	/* One buffer for every call (a malloc and free per device address
	 * and region before). */
	res->n = 0;
	err = pfx_covering(&s->res_pfx, net, a, len, res);
	for (i = 0; i < res->n && !err; i++) {
		struct vec *rr = &s->res_rules[res->v[i]];

		err = nn_c_vappend(sig, rr->v, rr->n);
	}
	if (!err)
		err = pfx_covering(&s->rule_pfx, net, a, len, sig);
	nn_c_vsort_unique(sig);
	return err;
}

static int dst_classes_devices(struct cstate *s)
{
	const struct nn_policy *p = s->p;
	size_t n = p->n_devices, r, i, d;
	struct nn_c_rows named = { .start = calloc(n + 1, sizeof(uint32_t)) };
	struct intern_batch ib = { .s = s,
				   .sigs = &s->dst_sigs,
				   .rule_classes = s->rule_dst,
				   .next = &s->out->n_dst_classes };
	struct vec sig = {};
	int err = 0, pass;

	if (!named.start)
		err = -ENOMEM;
	/* The rules naming each device as dst, ascending (compressed rows). */
	for (pass = 0; pass < 2 && !err; pass++) {
		if (pass)
			err = nn_c_rows_alloc(&named, n);
		for (r = 0; r < p->n_rules && !err; r++) {
			const struct nn_rule *rule = &p->rules[r];

			if (rule->dst_star)
				continue;
			for (i = 0; i < rule->n_dst_devices; i++) {
				uint32_t dv = rule->dst_devices[i];

				if (pass)
					named.v[named.fill[dv]++] = (uint32_t)r;
				else
					named.start[dv + 1]++;
			}
		}
	}
	for (d = 0; d < n && !err; d++) {
		const struct nn_device *dev = &p->devices[d];
		uint32_t net = dev->network + 1;
		struct vec vn = nn_c_rows_of(&named, d);

		/* @sig's buffer serves every device (the batch copies it) */
		sig.n = 0;
		err = nn_c_vappend(&sig, vn.v, vn.n);
		if (!err)
			err = nn_c_region_sig(s, net, dev->addr6, 128, &sig);
		if (!err)
			err = batch_add(&ib, net, &sig, &s->dev_dst6[d]);
		sig.n = 0;
		s->dev_dst4[d] = NN_CLASS_NONE;
		if (dev->has_addr4 && !err) {
			err = nn_c_vappend(&sig, vn.v, vn.n);
			if (!err)
				err = nn_c_region_sig(s, net, dev->addr4, 128, &sig);
			if (!err)
				err = batch_add(&ib, net, &sig, &s->dev_dst4[d]);
		}
	}
	if (!err)
		err = batch_flush(&ib);
	batch_free(&ib);
	free(sig.v);
	nn_c_rows_free(&named);
	return err;
}

static int add_prefix(struct cstate *s, struct nn_table *seen, uint32_t net,
		      const struct nn_prefix *pfx, const struct nn_prefix_info *info)
{
	struct nn_compiled *o = s->out;
	struct pfx_key k = { .net = net, .len = pfx->len };
	struct nn_prefix_ent *np;

	nn_addr_mask(k.addr, pfx->addr, NN_ADDR_LEN, pfx->len);
	if (nn_table_get(seen, &k, sizeof(k)))
		return 0;
	if (nn_table_put(seen, &k, sizeof(k), "", 0))
		return -ENOMEM;
	if (nn_grow((void **)&o->prefixes, o->n_prefixes, sizeof(*np)))
		return -ENOMEM;
	np = &o->prefixes[o->n_prefixes++];
	memset(np, 0, sizeof(*np));
	np->net = net;
	np->pfx.len = pfx->len;
	memcpy(np->pfx.addr, k.addr, NN_ADDR_LEN);
	np->info = *info;
	return 0;
}

/* Length of the longest prefix of @ix (scope @net) covering the prefix
 * (@a, @len), -1 when none; families apart as in pfx_covering(). */
int nn_c_longest_covering(const struct pfx_index *ix, uint32_t net, const uint8_t *a,
			  unsigned int len)
{
	unsigned int lo = (len >= 96 && nn_addr_is_v4mapped(a)) ? 96 : 0, l;
	struct pfx_key k = { .net = net };

	for (l = len + 1; l-- > lo;) {
		if (!ix->lens[net][l])
			continue;
		k.len = l;
		nn_addr_mask(k.addr, a, NN_ADDR_LEN, l);
		if (nn_table_get(&ix->t, &k, sizeof(k)))
			return (int)l;
	}
	return -1;
}

/* One region point of network @net: a resource prefix, or an ACL dst prefix
 * inside one of the network's resources (global scope). An ACL region
 * inside closed space that is longer than the resource around it would
 * punch a hole into the closed space by longest match: it is left out, so
 * its addresses find the closed prefix (closed wins a tie, as in the
 * model). */
static int add_region(struct cstate *s, struct nn_table *seen, uint32_t net,
		      const struct nn_prefix *pfx)
{
	const struct nn_network *nw = &s->p->networks[net - 1];
	struct nn_prefix_info info = {
		.kind = NN_PK_RESOURCE,
		.tenant = nw->tenant + 1,
		.network = net,
	};
	struct vec sig = {};
	int lc, lr, err;

	lc = nn_c_longest_covering(&s->closed, 0, pfx->addr, pfx->len);
	lr = nn_c_longest_covering(&s->res_pfx, net, pfx->addr, pfx->len);
	if (lc >= 0 && lc >= lr)
		return 0;
	err = nn_c_region_sig(s, net, pfx->addr, pfx->len, &sig);
	if (!err)
		err = intern(s, &s->dst_sigs, s->rule_dst, &s->out->n_dst_classes, net, &sig,
			     &info.dst_class);
	free(sig.v);
	return err ?: add_prefix(s, seen, 0, pfx, &info);
}

/*
 * Which scopes (0 .. @nnet) hold a prefix shorter than /96 that covers the
 * IPv4 block bit for bit, as the LPM trie will see it? Not
 * nn_prefix_contains(): that one already keeps the families apart (and so
 * always says no here), which is exactly what the trie does not do by
 * itself. One pass over the first @upto prefixes (a pass per network
 * before: 3 % of a cold apply at 1M devices). @covers: [nnet + 1].
 */
static void scopes_covering_v4(const struct nn_compiled *o, size_t upto, uint8_t *covers,
			       uint32_t nnet)
{
	uint8_t m[NN_ADDR_LEN];
	size_t i;

	for (i = 0; i < upto; i++) {
		const struct nn_prefix_ent *e = &o->prefixes[i];

		if (e->pfx.len >= 96 || e->net > nnet || covers[e->net])
			continue;
		nn_addr_mask(m, v4_block.addr, NN_ADDR_LEN, e->pfx.len);
		if (!memcmp(m, e->pfx.addr, NN_ADDR_LEN))
			covers[e->net] = 1;
	}
}

/*
 * LPM matches bits, so "::/0" would also match ::ffff:a.b.c.d. Where a
 * scope holds such a short IPv6 prefix, a ::ffff:0:0/96 entry stops it: in
 * an ACL scope with the class of the IPv4 prefixes covering it, in the
 * global scope as a hole (IPv4 is then internet unless a longer IPv4
 * resource prefix matches).
 */
static int v4_holes(struct cstate *s, struct nn_table *seen)
{
	const struct nn_policy *p = s->p;
	size_t upto = s->out->n_prefixes;
	uint8_t *covers = calloc((size_t)p->n_networks + 1, 1);
	uint32_t net;
	int err = 0;

	if (!covers)
		return -ENOMEM;
	scopes_covering_v4(s->out, upto, covers, (uint32_t)p->n_networks);
	if (covers[0]) {
		struct nn_prefix_info info = { .kind = NN_PK_HOLE };

		err = add_prefix(s, seen, 0, &v4_block, &info);
	}
	for (net = 1; net <= p->n_networks && !err; net++) {
		struct nn_prefix_info info = { .kind = NN_PK_ACL, .network = net };
		struct vec sig = {};

		if (!covers[net])
			continue;
		err = pfx_covering(&s->rule_pfx, net, v4_block.addr, 96, &sig);
		nn_c_vsort_unique(&sig);
		if (!err)
			err = intern(s, &s->dst_sigs, s->rule_dst, &s->out->n_dst_classes, net,
				     &sig, &info.dst_class);
		free(sig.v);
		if (!err)
			err = add_prefix(s, seen, net, &v4_block, &info);
	}
	free(covers);
	return err;
}

static int dst_classes_prefixes(struct cstate *s, struct nn_table *seen)
{
	const struct nn_policy *p = s->p;
	size_t i, k;
	int err = 0;

	/* Closed space first: where a standing resource prefix is equally
	 * long, closed wins (the "seen" check keeps the first). */
	for (i = 0; i < p->n_closed && !err; i++) {
		struct nn_prefix_info info = { .kind = NN_PK_OVERLAY, .flags = NN_PF_CLOSED };

		err = add_prefix(s, seen, 0, &p->closed[i], &info);
	}
	for (i = 0; i < p->n_resources && !err; i++) {
		const struct nn_resource *res = &p->resources[i];

		for (k = 0; k < res->n_prefixes && !err; k++)
			err = add_region(s, seen, res->network + 1, &res->prefixes[k]);
	}
	for (i = 0; i < p->n_rules && !err; i++) {
		const struct nn_rule *rule = &p->rules[i];
		uint32_t net = rule->network + 1;

		for (k = 0; k < rule->n_dst_prefixes && !err; k++) {
			const struct nn_prefix *q = &rule->dst_prefixes[k];
			struct nn_prefix_info info = { .kind = NN_PK_ACL, .network = net };
			struct vec in = {}, sig = {};

			/* Inside one of the network's resources: a region of it. */
			err = pfx_covering(&s->res_pfx, net, q->addr, q->len, &in);
			if (!err && in.n)
				err = add_region(s, seen, net, q);
			free(in.v);
			/* Always in the network's ACL scope, for this gateway's
			 * address and internet destinations. */
			if (!err)
				err = pfx_covering(&s->rule_pfx, net, q->addr, q->len, &sig);
			nn_c_vsort_unique(&sig);
			if (!err)
				err = intern(s, &s->dst_sigs, s->rule_dst, &s->out->n_dst_classes,
					     net, &sig, &info.dst_class);
			free(sig.v);
			if (!err)
				err = add_prefix(s, seen, net, q, &info);
		}
	}
	for (i = 0; i < p->gw.n_overlay_prefixes && !err; i++) {
		const struct nn_prefix *o = &p->gw.overlay_prefixes[i];
		struct nn_prefix_info info = { .kind = NN_PK_OVERLAY };

		/* Inside closed space, unassigned overlay addresses are closed
		 * too (longest match would otherwise find this entry). */
		if (nn_c_longest_covering(&s->closed, 0, o->addr, o->len) >= 0)
			info.flags = NN_PF_CLOSED;
		err = add_prefix(s, seen, 0, o, &info);
	}
	return err ?: v4_holes(s, seen);
}

/* From this many devices, classes() interns the sources on a second CPU
 * (a thread costs tens of microseconds; at 100k devices the sources are
 * ~4 % of a cold apply). */
#define CLASSES_PAR_MIN 4096

struct src_job {
	struct cstate *s;
	int err;
};

static void *src_job_run(void *arg)
{
	struct src_job *j = arg;

	j->err = src_classes(j->s);
	return NULL;
}

/*
 * Source and destination classes. The two are independent: each side has
 * its own signature table, class counter, reference counts and rule ->
 * class vectors, and neither reports anything but -ENOMEM; so with many
 * devices the sources go to a helper thread while this one does the
 * destinations. Each side numbers its classes in the same order as alone.
 */
static int classes(struct cstate *s, struct nn_table *seen)
{
	struct src_job j = { .s = s };
	bool par = false;
	pthread_t t;
	int err;

	if (s->p->n_devices >= CLASSES_PAR_MIN)
		par = nn_thread_start(&t, src_job_run, &j);
	if (par) {
		err = dst_classes_devices(s) ?: dst_classes_prefixes(s, seen);
		pthread_join(t, NULL);
	} else {
		j.err = src_classes(s);
		err = j.err ?: dst_classes_devices(s) ?: dst_classes_prefixes(s, seen);
	}
	return j.err ?: err;
}

static int build_indexes(struct cstate *s)
{
	const struct nn_policy *p = s->p;
	size_t nnet = p->n_networks + 1, i, k;
	int err = 0;

	s->rule_pfx.lens = calloc(nnet, sizeof(*s->rule_pfx.lens));
	s->res_pfx.lens = calloc(nnet, sizeof(*s->res_pfx.lens));
	s->closed.lens = calloc(1, sizeof(*s->closed.lens));
	s->res_rules = calloc(p->n_resources ? p->n_resources : 1, sizeof(*s->res_rules));
	if (!s->rule_pfx.lens || !s->res_pfx.lens || !s->closed.lens || !s->res_rules)
		return -ENOMEM;
	for (i = 0; i < p->n_closed && !err; i++)
		err = pfx_add(&s->closed, 0, &p->closed[i], i);
	for (i = 0; i < p->n_resources && !err; i++)
		for (k = 0; k < p->resources[i].n_prefixes && !err; k++)
			err = pfx_add(&s->res_pfx, p->resources[i].network + 1,
				      &p->resources[i].prefixes[k], i);
	for (i = 0; i < p->n_rules && !err; i++) {
		const struct nn_rule *r = &p->rules[i];

		if (r->dst_star)
			continue;
		for (k = 0; k < r->n_dst_prefixes && !err; k++)
			err = pfx_add(&s->rule_pfx, r->network + 1, &r->dst_prefixes[k], i);
		for (k = 0; k < r->n_dst_resources && !err; k++)
			err = nn_c_vpush(&s->res_rules[r->dst_resources[k]], i);
	}
	return err;
}

/* A cell (key and its hash) and the rule to add to it, hashed and hinted
 * FILL_AHEAD adds before it is made (nn_table_prefetch). */
struct cell_add_op {
	struct cell_key k;
	uint32_t rule;
	uint64_t h;
};

#define FILL_AHEAD 8

static int cell_add(struct nn_table *cells, const struct cell_add_op *op)
{
	struct nn_tentry *e = nn_table_get_h(cells, &op->k, sizeof(op->k), op->h);
	struct vec v = {};
	uint32_t rule = op->rule;
	int err;

	/* A known cell grows its rule list in place (the table owns the
	 * struct vec): no second hash and probe to store it again. */
	if (e)
		return nn_c_vpush(e->val, rule);
	err = nn_c_vpush(&v, rule);
	if (err)
		return err;
	err = nn_table_put_h(cells, &op->k, sizeof(op->k), op->h, &v, sizeof(v));
	if (err)
		free(v.v);
	return err;
}

struct fill_job {
	struct cstate *s;
	uint32_t part;
	int err;
};

/* The cells whose source class has lowest bit @part, into cells[@part]:
 * every rule in order, so each table's contents and insertion order (and
 * with them its slot order, the order of the output) are those of a
 * serial fill whichever thread fills it. */
static int fill_part(struct cstate *s, uint32_t part)
{
	const struct nn_policy *p = s->p;
	struct nn_table *cells = &s->cells[part];
	struct cell_add_op ring[FILL_AHEAD];
	size_t r, i, k, n = 0;
	int err = 0;

	/* The adds are made in order, each FILL_AHEAD behind the one hashed
	 * and hinted: at 1M devices the table has millions of slots and the
	 * first slot of a probe was a miss per add. */
	for (r = 0; r < p->n_rules && !err; r++) {
		const struct nn_rule *rule = &p->rules[r];
		uint32_t star = NN_CLASS_STAR(rule->network + 1);
		struct vec one_s = { .v = &star, .n = 1 }, one_d = { .v = &star, .n = 1 };
		struct vec *S = rule->src_star ? &one_s : &s->rule_src[r];
		struct vec *D = rule->dst_star ? &one_d : &s->rule_dst[r];

		for (i = 0; i < S->n && !err; i++) {
			if ((S->v[i] & 1) != part)
				continue;
			for (k = 0; k < D->n && !err; k++, n++) {
				struct cell_add_op *op = &ring[n % FILL_AHEAD];

				if (n >= FILL_AHEAD)
					err = cell_add(cells, op);
				op->k = (struct cell_key){ S->v[i], D->v[k] };
				op->rule = (uint32_t)r;
				op->h = nn_hash_bytes(&op->k, sizeof(op->k));
				nn_table_prefetch(cells, op->h);
			}
		}
	}
	/* The adds still in the ring, oldest first. */
	for (i = n > FILL_AHEAD ? n - FILL_AHEAD : 0; i < n && !err; i++)
		err = cell_add(cells, &ring[i % FILL_AHEAD]);
	return err;
}

static void *fill_job_run(void *arg)
{
	struct fill_job *j = arg;

	j->err = fill_part(j->s, j->part);
	return NULL;
}

/* From this many rules the two cell tables are filled on two threads (at
 * 100k rules ~80 ms of hash inserts on one). Tests lower it. */
size_t nn_compile_fill_par_min = 8192;

static int fill_cells(struct cstate *s)
{
	struct fill_job j = { .s = s, .part = 1 };
	bool par = false;
	pthread_t t;
	int err;

	if (s->p->n_rules >= nn_compile_fill_par_min)
		par = nn_thread_start(&t, fill_job_run, &j);
	err = fill_part(s, 0);
	if (par)
		pthread_join(t, NULL);
	else if (!err)
		j.err = fill_part(s, 1);
	return err ?: j.err;
}

/* Whether the cell @k (hashed @h) holds a rule list. */
static bool cell_exists_h(struct cstate *s, const struct cell_key *k, uint64_t h)
{
	return k->src != NN_CLASS_NONE && k->dst != NN_CLASS_NONE &&
	       nn_table_get_h(nn_c_cells_of(s, k->src), k, sizeof(*k), h) != NULL;
}

int nn_c_cell_exists(struct cstate *s, uint32_t src, uint32_t dst)
{
	struct cell_key k = { src, dst };

	return cell_exists_h(s, &k, nn_hash_bytes(&k, sizeof(k)));
}

uint8_t nn_c_cell_flags(struct cstate *s, uint32_t net, uint32_t src, uint32_t gsrc, uint32_t dst)
{
	uint32_t star = NN_CLASS_STAR(net);
	static const uint8_t flag[4] = { NN_AF_CELL_S_STAR, NN_AF_CELL_G_STAR, NN_AF_CELL_STAR_STAR,
					 NN_AF_CELL_STAR_D };
	const struct cell_key k[4] = {
		{ src, star }, { gsrc, star }, { star, star }, { star, dst }
	};
	uint64_t h[4];
	uint8_t f = 0;
	int i;

	/* Four independent lookups, called for every device address: their
	 * first slots are hinted together so that the misses overlap (at 1M
	 * devices each was a miss in a table of millions of slots). */
	for (i = 0; i < 4; i++) {
		h[i] = nn_hash_bytes(&k[i], sizeof(k[i]));
		nn_table_prefetch(nn_c_cells_of(s, k[i].src), h[i]);
	}
	for (i = 0; i < 4; i++)
		if (cell_exists_h(s, &k[i], h[i]))
			f |= flag[i];
	return f;
}

static void put_addr(struct nn_addr_ent *na, const uint8_t *addr, const struct nn_addr_info *info)
{
	memcpy(na->addr, addr, NN_ADDR_LEN);
	na->info = *info;
}

/* A range of devices whose addresses emit_dev_addrs() writes. */
struct addrs_job {
	struct cstate *s;
	const struct nn_slots *slots;
	size_t from, to;
	struct nn_addr_ent *at;
};

/* The addresses of devices [from, to), written from @at on: each device's
 * IPv6 address, then its IPv4 one when it has one (the serial order). */
static void emit_dev_addrs(const struct addrs_job *j)
{
	const struct nn_policy *p = j->s->p;
	struct nn_addr_ent *at = j->at;
	struct nn_addr_info info;
	size_t i;

	for (i = j->from; i < j->to; i++) {
		const struct nn_device *d = &p->devices[i];
		uint32_t net = d->network + 1;

		memset(&info, 0, sizeof(info));
		info.kind = NN_AK_DEVICE;
		info.state = d->state;
		info.tenant = p->networks[d->network].tenant + 1;
		info.network = net;
		info.src_class = j->s->dev_src[i];
		info.src_gclass = j->s->dev_gsrc[i];
		info.stat_slot = j->slots->dev[i];
		info.dst_class = j->s->dev_dst6[i];
		info.flags = nn_c_cell_flags(j->s, net, info.src_class, info.src_gclass,
					     info.dst_class) |
			     (d->egress_here ? NN_AF_EGRESS : 0);
		put_addr(at++, d->addr6, &info);
		if (d->has_addr4) {
			info.dst_class = j->s->dev_dst4[i];
			info.flags = nn_c_cell_flags(j->s, net, info.src_class, info.src_gclass,
						     info.dst_class) |
				     (d->egress_here ? NN_AF_EGRESS : 0);
			put_addr(at++, d->addr4, &info);
		}
	}
}

static void *addrs_job_run(void *arg)
{
	emit_dev_addrs(arg);
	return NULL;
}

/* From this many devices the second half of the device addresses is
 * written by a helper thread. WHY: emit_addrs runs beside the emit of the
 * second cell table (nn_c_emit_cells' @also), which ends first: at 1M
 * devices the other CPU was idle ~0.5 s while this thread wrote 1.7M
 * addresses alone (session 17's stamps, docs/controller.md). Tests lower it. */
size_t nn_compile_addrs_par_min = 16384;

static int emit_addrs(struct cstate *s, const struct nn_slots *slots)
{
	const struct nn_policy *p = s->p;
	struct nn_compiled *o = s->out;
	size_t mid = p->n_devices / 2, n4_first = 0, n4 = 0, total, cap = 16, i;
	struct addrs_job a = { s, slots, 0, mid, NULL }, b = { s, slots, mid, p->n_devices, NULL };
	struct nn_addr_info info;
	struct nn_addr_ent *v;
	pthread_t t;

	if (o->n_addrs)
		return -EINVAL; /* the addresses come first and only from here */
	for (i = 0; i < p->n_devices; i++)
		if (p->devices[i].has_addr4) {
			n4++;
			n4_first += i < mid;
		}
	total = p->n_devices + n4 + p->n_nodes + 1 + (p->gw.has_ov4 ? 1 : 0);
	/* The capacity nn_grow() implies for that count, so that later
	 * appends grow the array as they would have. */
	while (cap < total)
		cap *= 2;
	v = realloc(o->addrs, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	o->addrs = v;
	/* Each half writes its own range: the output is the serial one. */
	a.at = v;
	b.at = v + mid + n4_first;
	if (p->n_devices >= nn_compile_addrs_par_min && nn_thread_start(&t, addrs_job_run, &b)) {
		emit_dev_addrs(&a);
		pthread_join(t, NULL);
	} else {
		emit_dev_addrs(&a);
		emit_dev_addrs(&b);
	}
	o->n_addrs = p->n_devices + n4;
	for (i = 0; i < p->n_nodes; i++) {
		memset(&info, 0, sizeof(info));
		info.kind = NN_AK_NODE;
		info.state = p->nodes[i].state;
		info.stat_slot = slots->node[i];
		put_addr(&v[o->n_addrs++], p->nodes[i].addr6, &info);
	}
	memset(&info, 0, sizeof(info));
	info.kind = NN_AK_SELF;
	info.state = NN_ST_ACTIVE;
	info.stat_slot = slots->self;
	put_addr(&v[o->n_addrs++], p->gw.ov6, &info);
	if (p->gw.has_ov4)
		put_addr(&v[o->n_addrs++], p->gw.ov4, &info);
	return 0;
}

/* emit_addrs() beside the emit of the cells (nn_c_emit_cells' @also): it
 * reads the cell tables (the flags) and writes only s->out's addresses. */
static int emit_addrs_job(struct cstate *s, const void *slots)
{
	return emit_addrs(s, slots);
}

/* STAR_D flags of resource regions, once every cell is known. */
static void prefix_flags(struct cstate *s)
{
	size_t i;

	for (i = 0; i < s->out->n_prefixes; i++) {
		struct nn_prefix_info *pi = &s->out->prefixes[i].info;

		if (pi->kind == NN_PK_OVERLAY)
			continue;
		if (nn_c_cell_exists(s, NN_CLASS_STAR(pi->network), pi->dst_class))
			pi->flags |= NN_AF_CELL_STAR_D;
	}
}

void nn_c_cstate_free(struct cstate *s)
{
	size_t i, k;

	pfx_free(&s->rule_pfx);
	pfx_free(&s->res_pfx);
	pfx_free(&s->closed);
	vfree_all(s->res_rules, s->n_resources);
	vfree_all(s->rule_src, s->n_rules);
	vfree_all(s->rule_dst, s->n_rules);
	free(s->src_refs.v);
	free(s->dst_refs.v);
	nn_table_free(&s->src_sigs);
	nn_table_free(&s->dst_sigs);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < s->cells[k].cap; i++)
			if (s->cells[k].e[i].used)
				free(((struct vec *)s->cells[k].e[i].val)->v);
		nn_table_free(&s->cells[k]);
	}
	free(s->dev_src);
	free(s->dev_gsrc);
	free(s->dev_dst6);
	free(s->dev_dst4);
	free(s->scratch.v);
}

int nn_compile(const struct nn_policy *p, const struct nn_slots *slots,
	       const struct nn_compile_caps *caps, struct nn_compiled *out, struct nn_errlist *errs)
{
	return nn_compile_keep(p, slots, caps, out, errs, NULL);
}

int nn_compile_keep(const struct nn_policy *p, const struct nn_slots *slots,
		    const struct nn_compile_caps *caps, struct nn_compiled *out,
		    struct nn_errlist *errs, struct nn_compile_state **keep)
{
	struct cstate s = { .p = p,
			    .out = out,
			    .errs = errs,
			    .n_resources = p->n_resources,
			    .n_rules = p->n_rules };
	size_t nd = p->n_devices ? p->n_devices : 1, nr = p->n_rules ? p->n_rules : 1, i;
	struct nn_table seen;
	int err;

	memset(out, 0, sizeof(*out));
	nn_table_init(&seen);
	s.rule_src = calloc(nr, sizeof(*s.rule_src));
	s.rule_dst = calloc(nr, sizeof(*s.rule_dst));
	s.dev_src = calloc(nd, sizeof(uint32_t));
	s.dev_gsrc = calloc(nd, sizeof(uint32_t));
	s.dev_dst6 = calloc(nd, sizeof(uint32_t));
	s.dev_dst4 = calloc(nd, sizeof(uint32_t));
	out->rules = calloc(nr, sizeof(*out->rules));
	err = (!s.rule_src || !s.rule_dst || !s.dev_src || !s.dev_gsrc || !s.dev_dst6 ||
	       !s.dev_dst4 || !out->rules) ?
		      -ENOMEM :
		      0;
	if (!err)
		err = build_indexes(&s);
	nn_stamp("c.indexes");
	if (!err)
		err = classes(&s, &seen);
	nn_stamp("c.classes");
	/* The prefixes' duplicate check is done: freed before the cells are
	 * filled and emitted, the compile's peak (~20 MB at 1M devices). */
	nn_table_free(&seen);
	if (!err)
		err = fill_cells(&s);
	nn_stamp("c.fill");
	if (!err)
		err = nn_c_emit_cells(&s, caps ? caps->max_cells : 0, emit_addrs_job, slots);
	nn_stamp("c.emit");
	if (!err)
		prefix_flags(&s);
	nn_stamp("c.pfx_flags");
	if (!err && caps && caps->max_prefixes && out->n_prefixes > caps->max_prefixes) {
		nn_errlist_add(
			errs,
			"policy too large: %zu prefix entries (resource, overlay, ACL, closed "
			"space) exceed the capacity of %zu; raise --max-prefixes",
			out->n_prefixes, caps->max_prefixes);
		err = -E2BIG;
	}
	if (!err)
		err = nn_compile_pfx_lens(out);
	nn_stamp("c.pfx_lens");
	for (i = 0; i < p->n_rules && !err; i++) {
		out->rules[i].stat_slot = slots->rule[i];
		out->rules[i].network = p->rules[i].network + 1;
	}
	out->n_rules = p->n_rules;
	nn_table_free(&seen);
	if (!err && keep) {
		*keep = calloc(1, sizeof(**keep));
		if (*keep) {
			(*keep)->s = s;
			(*keep)->s.out = NULL;
			(*keep)->s.errs = NULL;
			(*keep)->s.p = NULL; /* the queries need only the indexes */
			memset(&s, 0, sizeof(s));
		} else {
			err = -ENOMEM;
		}
	}
	nn_stamp("c.kept");
	nn_c_cstate_free(&s);
	nn_stamp("c.freed");
	if (err == -ENOMEM)
		nn_errlist_add(errs, "out of memory compiling the policy");
	if (err)
		nn_compiled_free(out);
	return err;
}

void nn_compiled_free(struct nn_compiled *c)
{
	free(c->addrs);
	free(c->prefixes);
	free(c->lens);
	free(c->cells);
	free(c->ranges);
	free(c->rules);
	memset(c, 0, sizeof(*c));
}
