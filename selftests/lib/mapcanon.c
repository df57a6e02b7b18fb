// SPDX-License-Identifier: GPL-2.0
/* mapcanon.c - see mapcanon.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dp/apply.h"
#include "dp/batch.h"
#include "mapcanon.h"

static uint32_t canon_class(struct canon *cn, struct nn_compile_state *cs, bool dst, uint32_t c)
{
	uint32_t key[4096], id;
	const uint32_t *sig;
	struct nn_tentry *e;
	size_t n;

	if (c == NN_CLASS_NONE || (c & NN_CLASS_STAR_BIT))
		return c;
	sig = nn_compile_class_sig(cs, dst, c, &n);
	if (!sig)
		fail_msg("class %u (%s) has no signature", c, dst ? "dst" : "src");
	assert_true(n + 1 <= 4096);
	key[0] = dst;
	memcpy(key + 1, sig, n * sizeof(*sig));
	e = nn_table_get(&cn->sigs, key, (n + 1) * sizeof(*key));
	if (e)
		return *(uint32_t *)e->val;
	id = 0x40000000u | ++cn->next;
	assert_int_equal(nn_table_put(&cn->sigs, key, (n + 1) * sizeof(*key), &id, sizeof(id)), 0);
	return id;
}

static void ent_add(struct ents *es, int set, const void *k, size_t kl, const void *v, size_t vl)
{
	struct ent *e;

	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 256;
		es->v = realloc(es->v, es->cap * sizeof(*es->v));
		assert_non_null(es->v);
	}
	e = &es->v[es->n++];
	memset(e, 0, sizeof(*e));
	e->set = set;
	memcpy(e->b, k, kl);
	memcpy(e->b + kl, v, vl);
	e->len = kl + vl;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	if (x->set != y->set)
		return x->set - y->set;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->b, y->b, x->len);
}

/* E_CELL: every cell entry as an nn_policy value, whichever map holds it
 * (a small cell read from nn_cells4 is widened); E_MARK: nn_cells4's
 * markers, which a compile owes each big root (nanami_abi.h "Small
 * cells"). So the maps must hold exactly the compiled cells, each in the
 * map its size says. */
enum { E_ADDR, E_PFX, E_PHASH, E_LENS, E_CELL, E_CELL4, E_MARK = E_CELL4 };

static void add_addr(struct ents *es, struct canon *cn, struct nn_compile_state *cs,
		     const uint8_t *addr, struct nn_addr_info in)
{
	struct nn_addr_key k = { .slot = 0 };

	memcpy(k.addr, addr, NN_ADDR_LEN);
	in.src_class = canon_class(cn, cs, false, in.src_class);
	in.src_gclass = canon_class(cn, cs, false, in.src_gclass);
	in.dst_class = canon_class(cn, cs, true, in.dst_class);
	ent_add(es, E_ADDR, &k, sizeof(k), &in, sizeof(in));
}

static void add_cell(struct ents *es, struct canon *cn, struct nn_compile_state *cs,
		     struct nn_cell_key k, const struct nn_cell *c)
{
	k.slot = 0;
	k.src_class = canon_class(cn, cs, false, k.src_class);
	k.dst_class = canon_class(cn, cs, true, k.dst_class);
	ent_add(es, E_CELL, &k, sizeof(k), c, sizeof(*c));
}

struct dump {
	struct ents *es;
	struct canon *cn;
	struct nn_compile_state *cs;
	uint32_t live;
	int set;
};

static int dump_cb(const void *key, const void *val, void *arg)
{
	struct dump *d = arg;

	switch (d->set) {
	case E_ADDR: {
		const struct nn_addr_key *k = key;

		if (k->slot == d->live)
			add_addr(d->es, d->cn, d->cs, k->addr, *(const struct nn_addr_info *)val);
		break;
	}
	case E_PFX: {
		struct nn_prefix_key k = *(const struct nn_prefix_key *)key;
		struct nn_prefix_info in = *(const struct nn_prefix_info *)val;

		if (k.scope >> 31 != d->live)
			break;
		k.scope &= 0x7fffffffu;
		in.dst_class = canon_class(d->cn, d->cs, true, in.dst_class);
		ent_add(d->es, E_PFX, &k, sizeof(k), &in, sizeof(in));
		break;
	}
	case E_PHASH: {
		struct nn_pfx_key k = *(const struct nn_pfx_key *)key;
		struct nn_prefix_info in = *(const struct nn_prefix_info *)val;

		if (k.scope >> 31 != d->live)
			break;
		k.scope &= 0x7fffffffu;
		in.dst_class = canon_class(d->cn, d->cs, true, in.dst_class);
		ent_add(d->es, E_PHASH, &k, sizeof(k), &in, sizeof(in));
		break;
	}
	case E_LENS: {
		struct nn_pfx_lens_key k = *(const struct nn_pfx_lens_key *)key;

		if (k.scope >> 31 != d->live)
			break;
		k.scope &= 0x7fffffffu;
		ent_add(d->es, E_LENS, &k, sizeof(k), val, sizeof(struct nn_pfx_lens));
		break;
	}
	case E_CELL: {
		const struct nn_cell_key *k = key;
		const struct nn_cell *c = val;

		if (k->slot != d->live)
			break;
		if (!k->part && !c->index && c->n <= NN_CELL4_RANGES)
			fail_msg("a small cell (%u ranges) in nn_policy", c->n);
		add_cell(d->es, d->cn, d->cs, *k, c);
		break;
	}
	default: {
		struct nn_cell_key k = *(const struct nn_cell_key *)key;
		const struct nn_cell4 *c4 = val;
		struct nn_cell c = {};

		if (k.slot != d->live)
			break;
		if (k.part)
			fail_msg("part %u of a cell in nn_cells4", k.part);
		if (c4->index == NN_CELL4_BIG) {
			k.slot = 0;
			k.src_class = canon_class(d->cn, d->cs, false, k.src_class);
			k.dst_class = canon_class(d->cn, d->cs, true, k.dst_class);
			ent_add(d->es, E_MARK, &k, sizeof(k), c4, sizeof(*c4));
			break;
		}
		if (c4->index || c4->n > NN_CELL4_RANGES)
			fail_msg("nn_cells4 entry of index %u, %u ranges", c4->index, c4->n);
		c.n = c4->n;
		memcpy(c.r, c4->r, sizeof(c4->r));
		add_cell(d->es, d->cn, d->cs, k, &c);
	}
	}
	return 0;
}

void mapcanon_live(struct nn_dp *dp, struct nn_compile_state *cs, struct canon *cn, struct ents *es)
{
	static const struct {
		int map;
		size_t ksz, vsz;
	} m[] = {
		[E_ADDR] = { NN_M_ADDRS, sizeof(struct nn_addr_key), sizeof(struct nn_addr_info) },
		[E_PFX] = { NN_M_PREFIXES, sizeof(struct nn_prefix_key),
			    sizeof(struct nn_prefix_info) },
		[E_PHASH] = { NN_M_PFX_HASH, sizeof(struct nn_pfx_key),
			      sizeof(struct nn_prefix_info) },
		[E_LENS] = { NN_M_PFX_LENS, sizeof(struct nn_pfx_lens_key),
			     sizeof(struct nn_pfx_lens) },
		[E_CELL] = { NN_M_POLICY, sizeof(struct nn_cell_key), sizeof(struct nn_cell) },
		[E_CELL4] = { NN_M_CELLS4, sizeof(struct nn_cell_key), sizeof(struct nn_cell4) },
	};
	struct dump d = { .es = es, .cn = cn, .cs = cs };
	uint32_t epoch = 0;
	int i;

	assert_int_equal(nn_live_epoch(dp, &epoch), 0);
	d.live = NN_SLOT(epoch);
	for (i = E_ADDR; i <= E_CELL4; i++) {
		d.set = i;
		assert_int_equal(nn_map_dump(dp->map_fd[m[i].map], m[i].ksz, m[i].vsz, dump_cb, &d),
				 0);
	}
}

/* What the compile of @p with @slots puts in the maps, canonical. */
void mapcanon_compiled(const struct nn_compiled *c, struct nn_compile_state *cs, struct canon *cn,
		       struct ents *es)
{
	size_t i;

	for (i = 0; i < c->n_addrs; i++)
		add_addr(es, cn, cs, c->addrs[i].addr, c->addrs[i].info);
	for (i = 0; i < c->n_prefixes; i++) {
		const struct nn_prefix_ent *e = &c->prefixes[i];
		struct nn_prefix_key k = { .prefixlen = NN_SCOPE_BITS + e->pfx.len,
					   .scope = NN_SCOPE(0, e->net) };
		struct nn_pfx_key hk = { .scope = NN_SCOPE(0, e->net), .len = e->pfx.len };
		struct nn_prefix_info in = e->info;

		memcpy(k.addr, e->pfx.addr, NN_ADDR_LEN);
		memcpy(hk.addr, e->pfx.addr, NN_ADDR_LEN);
		in.dst_class = canon_class(cn, cs, true, in.dst_class);
		ent_add(es, E_PFX, &k, sizeof(k), &in, sizeof(in));
		ent_add(es, E_PHASH, &hk, sizeof(hk), &in, sizeof(in));
	}
	for (i = 0; i < c->n_lens; i++) {
		struct nn_pfx_lens_key k = { .scope = NN_SCOPE(0, c->lens[i].net) };

		ent_add(es, E_LENS, &k, sizeof(k), &c->lens[i].lens, sizeof(c->lens[i].lens));
	}
	for (i = 0; i < c->n_cells; i++) {
		const struct nn_cell_ent *e = &c->cells[i];
		struct nn_cell_key k = { .src_class = e->src_class,
					 .dst_class = e->dst_class,
					 .proto = e->proto,
					 .part = e->part };

		struct nn_cell v;

		nn_cell_ent_value(c, e, &v);
		add_cell(es, cn, cs, k, &v);
		if (!e->part && !nn_cell_ent_small(e)) {
			struct nn_cell4 mark = { .index = NN_CELL4_BIG };

			k.src_class = canon_class(cn, cs, false, k.src_class);
			k.dst_class = canon_class(cn, cs, true, k.dst_class);
			ent_add(es, E_MARK, &k, sizeof(k), &mark, sizeof(mark));
		}
	}
}

/* name -> slot from nn_dev_names, for the oracle's compile. */
static int names_cb(const void *key, const void *val, void *arg)
{
	const struct nn_name *n = val;
	char k[3 * NN_NAME_MAX + 8];
	int l = snprintf(k, sizeof(k), "%u/%s/%s/%s", n->kind, n->tenant, n->network, n->id);

	if (!n->in_use)
		return 0;
	if (nn_table_get(arg, k, (size_t)l))
		fail_msg("counter slot name %s held twice", k);
	return nn_table_put(arg, k, (size_t)l, key, sizeof(uint32_t));
}

static uint32_t slot_by_name(struct nn_table *t, uint32_t kind, const char *ten, const char *net,
			     const char *id)
{
	char k[3 * NN_NAME_MAX + 8];
	int l = snprintf(k, sizeof(k), "%u/%s/%s/%s", kind, ten, net, id);
	struct nn_tentry *e = nn_table_get(t, k, (size_t)l);

	if (!e)
		fail_msg("no counter slot named %s", k);
	return *(uint32_t *)e->val;
}

static void first_diff(const struct ents *a, const struct ents *b)
{
	size_t i;

	for (i = 0; i < a->n && i < b->n; i++)
		if (ent_cmp(&a->v[i], &b->v[i]))
			break;
	fprintf(stderr, "# maps %zu entries, compile %zu; first difference at %zu (set %d/%d)\n",
		a->n, b->n, i, i < a->n ? a->v[i].set : -1, i < b->n ? b->v[i].set : -1);
}

/* The patched policy against the full parse: the same devices (by id, in
 * any order) and the same rule lists (as sets of device ids). */
void mapcanon_same_policy(const struct nn_policy *a, const struct nn_policy *b)
{
	size_t i, j, k;

	assert_int_equal(a->n_devices, b->n_devices);
	assert_int_equal(a->n_rules, b->n_rules);
	assert_int_equal(a->generation, b->generation);
	/* Users (a user change patches groups and preference in place). */
	assert_int_equal(a->n_users, b->n_users);
	for (i = 0; i < a->n_users; i++) {
		const struct nn_user *x = &a->users[i], *y = &b->users[i];

		assert_string_equal(x->id, y->id);
		assert_int_equal(x->network, y->network);
		assert_int_equal(x->n_groups, y->n_groups);
		for (j = 0; j < x->n_groups; j++)
			assert_string_equal(x->groups[j], y->groups[j]);
		assert_memory_equal(&x->pref, &y->pref, sizeof(x->pref));
	}
	for (i = 0; i < a->n_devices; i++) {
		const struct nn_device *x = &a->devices[i], *y = NULL;

		for (j = 0; j < b->n_devices && !y; j++)
			if (!strcmp(b->devices[j].id, x->id))
				y = &b->devices[j];
		if (!y)
			fail_msg("device %s not in the full parse", x->id);
		assert_int_equal(x->user, y->user);
		assert_int_equal(x->network, y->network);
		assert_memory_equal(x->pubkey, y->pubkey, 32);
		assert_memory_equal(x->addr6, y->addr6, NN_ADDR_LEN);
		assert_int_equal(x->has_addr4, y->has_addr4);
		if (x->has_addr4)
			assert_memory_equal(x->addr4, y->addr4, NN_ADDR_LEN);
		assert_string_equal(x->endpoint, y->endpoint);
		assert_int_equal(x->keepalive, y->keepalive);
		assert_int_equal(x->state, y->state);
		assert_int_equal(x->key_generation, y->key_generation);
		/* NULL exactly when the device sets nothing (validate.c) */
		assert_int_equal(!x->pref, !y->pref);
		if (x->pref)
			assert_memory_equal(x->pref, y->pref, sizeof(*x->pref));
		assert_int_equal(x->traffic_mode, y->traffic_mode);
		assert_int_equal(x->routing_mode, y->routing_mode);
		assert_string_equal(nn_device_egress(a, x), nn_device_egress(b, y));
		assert_int_equal(x->egress_here, y->egress_here);
	}
	for (i = 0; i < a->n_rules; i++) {
		const struct nn_rule *x = &a->rules[i], *y = &b->rules[i];
		const uint32_t *lx[3] = { x->src_devices, x->src_grp_devices, x->dst_devices };
		const uint32_t *ly[3] = { y->src_devices, y->src_grp_devices, y->dst_devices };
		size_t nx[3] = { x->n_src_devices, x->n_src_grp_devices, x->n_dst_devices };
		size_t ny[3] = { y->n_src_devices, y->n_src_grp_devices, y->n_dst_devices };

		assert_string_equal(x->id, y->id);
		for (k = 0; k < 3; k++) {
			assert_int_equal(nx[k], ny[k]);
			for (j = 0; j < nx[k]; j++) {
				size_t m;

				for (m = 0; m < ny[k]; m++)
					if (!strcmp(a->devices[lx[k][j]].id,
						    b->devices[ly[k][m]].id))
						break;
				if (m == ny[k])
					fail_msg("rule %s: list %zu differs", x->id, k);
			}
		}
	}
}

void mapcanon_slots(struct nn_dp *dp, const struct nn_policy *p, struct nn_slots *slots)
{
	struct nn_table names;
	size_t i;

	nn_table_init(&names);
	assert_int_equal(nn_map_dump(dp->map_fd[NN_M_DEV_NAMES], sizeof(uint32_t),
				     sizeof(struct nn_name), names_cb, &names),
			 0);
	slots->dev = calloc(p->n_devices + 1, sizeof(uint32_t));
	slots->node = calloc(p->n_nodes + 1, sizeof(uint32_t));
	slots->rule = calloc(p->n_rules + 1, sizeof(uint32_t));
	for (i = 0; i < p->n_devices; i++) {
		const struct nn_network *nw = &p->networks[p->devices[i].network];

		slots->dev[i] = slot_by_name(&names, NN_AK_DEVICE, p->tenants[nw->tenant].id,
					     nw->id, p->devices[i].id);
	}
	for (i = 0; i < p->n_nodes; i++)
		slots->node[i] = slot_by_name(&names, NN_AK_NODE, "", "", p->nodes[i].id);
	slots->self = slot_by_name(&names, NN_AK_SELF, "", "", p->node_id);
	/* Every name in the map is an entity of the snapshot. */
	assert_int_equal(names.n, p->n_devices + p->n_nodes + 1);
	nn_table_free(&names);
}

bool mapcanon_equal(struct ents *got, struct ents *want)
{
	qsort(got->v, got->n, sizeof(*got->v), ent_cmp);
	qsort(want->v, want->n, sizeof(*want->v), ent_cmp);
	if (got->n == want->n && !memcmp(got->v, want->v, got->n * sizeof(*got->v)))
		return true;
	first_diff(got, want);
	return false;
}
