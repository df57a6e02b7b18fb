// SPDX-License-Identifier: GPL-2.0
/*
 * delta.c - the kept state of the incremental path (see delta.h): the
 * policy and compile state of the last full apply, and the indexes that let
 * one device be judged alone: ids, addresses and keys -> owner, the rules
 * naming each user and group in src, and each device id in src and dst, the
 * device ids any rule of a network names (read from the document: a dropped
 * rule is not in the policy, and adding or deleting a device it names
 * changes whether it is dropped), the document's standing networks, users
 * and nodes for the one-device snapshot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/delta.h"
#include "compile/delta_int.h"
#include "lib/addr.h"
#include "lib/base64.h"
#include "lib/u32sort.h"

uint32_t nn_inc_get(const struct nn_table *t, const void *k, size_t klen)
{
	struct nn_tentry *e = nn_table_get(t, k, klen);

	return e ? *(uint32_t *)e->val : INC_NONE;
}

/* INC_NONE deletes: nn_inc_get() reads it and "absent" alike, and a
 * stored INC_NONE (a tombstone) would be memory without bound under churn:
 * every key rotation, address change and device delete leaves one. */
int nn_inc_put(struct nn_table *t, const void *k, size_t klen, uint32_t v)
{
	if (v == INC_NONE) {
		nn_table_del(t, k, klen);
		return 0;
	}
	return nn_table_put(t, k, klen, &v, sizeof(v));
}

size_t nn_inc_key(struct inc_key *k, uint32_t net, const char *name)
{
	size_t l = strnlen(name, NN_NAME_MAX - 1);

	memset(k, 0, sizeof(*k));
	k->net = net;
	memcpy(k->name, name, l);
	return sizeof(k->net) + l;
}

void nn_dev_patch_free(struct nn_dev_patch *pt)
{
	free(pt->set);
	free(pt->del);
	free(pt->new_names);
	free(pt->new_slots);
	free(pt->old_slots);
	free(pt->peers);
	memset(pt, 0, sizeof(*pt));
}

const struct nn_policy *nn_inc_policy(const struct nn_inc *s)
{
	return s->p;
}

struct nn_compile_state *nn_inc_compile_state(struct nn_inc *s)
{
	return s->cs;
}

static size_t net_key(char *k, const char *tid, const char *nid)
{
	size_t a = strlen(tid), b = strlen(nid);

	if (a >= NN_NAME_MAX || b >= NN_NAME_MAX)
		return 0;
	memcpy(k, tid, a + 1);
	memcpy(k + a + 1, nid, b);
	return a + 1 + b;
}

static int own(struct nn_inc *s, char kind, const uint8_t *v, uint32_t who)
{
	return nn_owners_put(&s->owners, s->p, kind, v, who);
}

int nn_inc_udev_add(struct nn_inc *s, uint32_t u, uint32_t d)
{
	return nn_c_vpush(&s->user_devs[u], d);
}

void nn_inc_udev_del(struct nn_inc *s, uint32_t u, uint32_t d)
{
	struct vec *v = &s->user_devs[u];
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->v[i] == d) {
			v->v[i] = v->v[--v->n];
			return;
		}
}

/* How many standing users of each (network, group): a user listing a group
 * twice counts once. And each user's devices. */
static int index_groups(struct nn_inc *s)
{
	const struct nn_policy *p = s->p;
	struct inc_key k;
	size_t i, j, m, l;
	int err = 0;

	for (i = 0; i < p->n_users && !err; i++) {
		const struct nn_user *u = &p->users[i];

		for (j = 0; j < u->n_groups && !err; j++) {
			uint32_t c;

			for (m = 0; m < j && strcmp(u->groups[m], u->groups[j]); m++)
				;
			if (m < j)
				continue;
			l = nn_inc_key(&k, u->network, u->groups[j]);
			c = nn_inc_get(&s->group_users, &k, l);
			err = nn_inc_put(&s->group_users, &k, l, c == INC_NONE ? 1 : c + 1);
		}
	}
	for (i = 0; i < p->n_devices && !err; i++)
		err = nn_inc_udev_add(s, p->devices[i].user, (uint32_t)i);
	return err;
}

static int index_policy(struct nn_inc *s)
{
	const struct nn_policy *p = s->p;
	struct inc_key k;
	char nk[2 * NN_NAME_MAX];
	size_t i, l;
	int err = 0;

	err = own(s, 'a', p->gw.ov6, INC_OTHER);
	if (!err && p->gw.has_ov4)
		err = own(s, 'a', p->gw.ov4, INC_OTHER);
	for (i = 0; i < p->n_nodes && !err; i++) {
		err = own(s, 'a', p->nodes[i].addr6, INC_OTHER);
		if (!err)
			err = own(s, 'k', p->nodes[i].pubkey, INC_OTHER);
	}
	for (i = 0; i < p->n_devices && !err; i++) {
		const struct nn_device *d = &p->devices[i];

		err = nn_inc_put(&s->dev_ids, d->id, strlen(d->id), (uint32_t)i);
		if (!err)
			err = own(s, 'a', d->addr6, (uint32_t)i);
		if (!err && d->has_addr4)
			err = own(s, 'a', d->addr4, (uint32_t)i);
		if (!err)
			err = own(s, 'k', d->pubkey, (uint32_t)i);
	}
	for (i = 0; i < p->n_users && !err; i++) {
		struct inc_user u = { .idx = (uint32_t)i };

		l = nn_inc_key(&k, p->users[i].network, p->users[i].id);
		err = nn_table_put(&s->users, &k, l, &u, sizeof(u));
	}
	for (i = 0; i < p->n_networks && !err; i++) {
		struct inc_net n = { .idx = (uint32_t)i };

		l = net_key(nk, p->tenants[p->networks[i].tenant].id, p->networks[i].id);
		err = l ? nn_table_put(&s->nets, nk, l, &n, sizeof(n)) : -EINVAL;
	}
	return err;
}

static const char *str_of(const struct nn_jv *o, const char *key)
{
	return nn_jv_str(nn_jv_get(o, key));
}

/* The device ids rule @rule (of network @ni, standing or dropped) names in
 * src.devices or dst.devices: adding or deleting one of those changes
 * whether the rule stands (or whether the snapshot is rejected). A rule of
 * another network naming the id says "not in this network" whether the
 * device is absent or stands elsewhere: only its own network counts. */
static int rule_device_names(struct nn_inc *s, uint32_t ni, const struct nn_jv *rule)
{
	static const char *const sides[] = { "src", "dst" };
	struct inc_key k;
	size_t i, j;
	struct nn_jv *v;
	int err = 0;

	for (i = 0; i < 2 && !err; i++) {
		const struct nn_jv *list = nn_jv_get(nn_jv_get(rule, sides[i]), "devices");

		nn_jv_foreach(list, j, v)
		{
			const char *n = nn_jv_str(v);

			if (n && !err)
				err = nn_table_put(&s->rule_names, &k, nn_inc_key(&k, ni, n), "",
						   0);
		}
	}
	/* The groups too: a group is known while some user lists it. */
	nn_jv_foreach(nn_jv_get(nn_jv_get(rule, "src"), "groups"), j, v)
	{
		const char *n = nn_jv_str(v);

		if (n && !err)
			err = nn_table_put(&s->group_names, &k, nn_inc_key(&k, ni, n), "", 0);
	}
	return err;
}

/* Standing rule @r of network @ni names these device ids in src.devices and
 * dst.devices: they are in the signatures of the devices' classes. */
static int rule_dev_refs(struct nn_inc *s, uint32_t ni, uint32_t r, const struct nn_jv *rule)
{
	static const char *const sides[] = { "src", "dst" };
	struct inc_key k;
	size_t i, j, l;
	struct nn_jv *v;
	int err = 0;

	for (i = 0; i < 2 && !err; i++) {
		const struct nn_jv *list = nn_jv_get(nn_jv_get(rule, sides[i]), "devices");

		nn_jv_foreach(list, j, v)
		{
			const char *n = nn_jv_str(v);
			struct inc_devrules one = {}, *dr;
			struct nn_tentry *e;

			if (!n || err)
				continue;
			l = nn_inc_key(&k, ni, n);
			e = nn_table_get(&s->dev_rules, &k, l);
			if (!e) {
				err = nn_table_put(&s->dev_rules, &k, l, &one, sizeof(one));
				e = err ? NULL : nn_table_get(&s->dev_rules, &k, l);
				if (!e)
					err = -ENOMEM;
			}
			if (err)
				break;
			dr = e->val;
			err = nn_c_vpush(i ? &dr->dst : &dr->src, r);
		}
	}
	return err;
}

/* Rule @r (standing) of network @ni names these users and groups in src. */
static int rule_src_refs(struct nn_inc *s, uint32_t ni, uint32_t r, const struct nn_jv *rule)
{
	const struct nn_jv *src = nn_jv_get(rule, "src");
	struct inc_key k;
	size_t j, l;
	struct nn_jv *v;
	int err = 0;

	nn_jv_foreach(nn_jv_get(src, "users"), j, v)
	{
		const char *n = nn_jv_str(v);
		struct nn_tentry *e;

		if (!n || err)
			continue;
		l = nn_inc_key(&k, ni, n);
		e = nn_table_get(&s->users, &k, l);
		/* A dropped user has no devices: nothing to index. */
		if (e)
			err = nn_c_vpush(&s->user_rules[((struct inc_user *)e->val)->idx], r);
	}
	nn_jv_foreach(nn_jv_get(src, "groups"), j, v)
	{
		const char *n = nn_jv_str(v);
		struct nn_tentry *e;
		struct vec one = {};

		if (!n || err)
			continue;
		l = nn_inc_key(&k, ni, n);
		e = nn_table_get(&s->group_rules, &k, l);
		if (e) {
			err = nn_c_vpush(e->val, r);
		} else {
			err = nn_c_vpush(&one, r);
			if (!err)
				err = nn_table_put(&s->group_rules, &k, l, &one, sizeof(one));
			if (err)
				free(one.v);
		}
	}
	return err;
}

/*
 * Network @ni's standing rules by id, into @t (empty): the ACL walk below
 * asks for each document rule, and a linear search per rule was quadratic
 * in a network's rules (10k rules: 5e7 compares). The first of a repeated
 * id wins, as the search's did.
 */
static int index_rules(const struct nn_policy *p, uint32_t ni, struct nn_table *t)
{
	const struct nn_network *n = &p->networks[ni];
	uint32_t r;
	int err = 0;

	for (r = n->first_rule; !err && r < n->first_rule + n->n_rules; r++)
		if (nn_inc_get(t, p->rules[r].id, strlen(p->rules[r].id)) == INC_NONE)
			err = nn_inc_put(t, p->rules[r].id, strlen(p->rules[r].id), r);
	return err;
}

/*
 * The key and addresses of device entry @v, when no standing device or
 * node holds them: a dropped copy's (or one of a dropped network). A
 * change taking one would share it with that copy, and the full path would
 * drop the change's device too ("every copy of a duplicate is dropped"):
 * they count as held by another. Dropped copies stay as they are while the
 * kept state lives (a change of a dropped id is refused).
 */
static int dropped_claims(struct nn_inc *s, const struct nn_jv *v)
{
	static const char *const addrs[] = { "overlay_ipv6", "overlay_ipv4" };
	uint8_t key[NN_KEY_LEN], a[NN_ADDR_LEN];
	const char *x = str_of(v, "public_key");
	size_t i;
	int fam, err = 0;

	if (x && !nn_key_from_base64(x, key) &&
	    nn_owners_get(&s->owners, s->p, 'k', key) == INC_NONE)
		err = own(s, 'k', key, INC_OTHER);
	for (i = 0; i < 2 && !err; i++) {
		x = str_of(v, addrs[i]);
		if (!x || nn_addr_parse(x, a, &fam))
			continue;
		if (nn_owners_get(&s->owners, s->p, 'a', a) == INC_NONE)
			err = own(s, 'a', a, INC_OTHER);
	}
	return err;
}

/* Does the network's ACL hold a rule_id twice (or a rule without one)? */
static int dup_rule_ids(const struct nn_jv *net, bool *dup)
{
	struct nn_table ids;
	size_t j;
	struct nn_jv *v;
	int err = 0;

	*dup = false;
	nn_table_init(&ids);
	nn_jv_foreach(nn_jv_get(net, "acl"), j, v)
	{
		const char *id = str_of(v, "rule_id");

		if (!id || nn_table_get(&ids, id, strlen(id))) {
			*dup = true;
			break;
		}
		err = nn_table_put(&ids, id, strlen(id), "", 0);
		if (err)
			break;
	}
	nn_table_free(&ids);
	return err;
}

/*
 * The kept state's pointers into network @net of tenant @tenant: the
 * network's entry and its standing users' objects (a user a fast-path
 * change replaced keeps its own copy). The network's entry, NULL for a
 * dropped network (nothing in it stands).
 */
static struct inc_net *bind_network(struct nn_inc *s, struct nn_jv *tenant, struct nn_jv *net)
{
	const char *tid = str_of(tenant, "tenant_id"), *nid = str_of(net, "network_id");
	struct nn_tentry *e = NULL;
	struct inc_net *in;
	struct inc_key k;
	char nk[2 * NN_NAME_MAX];
	size_t j, l;
	struct nn_jv *v;

	l = tid && nid ? net_key(nk, tid, nid) : 0;
	if (l)
		e = nn_table_get(&s->nets, nk, l);
	if (!e)
		return NULL;
	in = e->val;
	in->tenant = tenant;
	in->net = net;
	nn_jv_foreach(nn_jv_get(net, "users"), j, v)
	{
		const char *uid = str_of(v, "user_id");
		struct nn_tentry *ue;

		if (!uid)
			continue;
		l = nn_inc_key(&k, in->idx, uid);
		ue = nn_table_get(&s->users, &k, l);
		if (ue && !((struct inc_user *)ue->val)->own)
			((struct inc_user *)ue->val)->js = v;
	}
	return in;
}

static int walk_network(struct nn_inc *s, struct nn_jv *tenant, struct nn_jv *net)
{
	struct inc_net *in = bind_network(s, tenant, net);
	struct nn_table rules;
	uint32_t ni;
	size_t j;
	struct nn_jv *v;
	int err = 0;

	nn_jv_foreach(nn_jv_get(net, "devices"), j, v)
	{
		const char *id = str_of(v, "device_id");
		uint32_t c, d = id ? nn_inc_get(&s->dev_ids, id, strlen(id)) : INC_NONE;

		s->doc_devices++;
		/* A standing device's own entry (its id stands in this
		 * network: the only copy) holds what index_policy() owned:
		 * only the other entries are parsed (0.1-0.2 s at 100k). */
		if (!err && !(in && d != INC_NONE && s->p->devices[d].network == in->idx))
			err = dropped_claims(s, v);
		if (!id || err)
			continue;
		c = nn_inc_get(&s->doc_ids, id, strlen(id));
		err = nn_inc_put(&s->doc_ids, id, strlen(id), c == INC_NONE ? 1 : c + 1);
	}
	if (err || !in)
		return err; /* a dropped network: nothing in it stands */
	ni = in->idx;
	err = dup_rule_ids(net, &in->dup_rule_ids);
	nn_table_init(&rules);
	if (!err)
		err = index_rules(s->p, ni, &rules);
	nn_jv_foreach(nn_jv_get(net, "acl"), j, v)
	{
		const char *rid = str_of(v, "rule_id");
		uint32_t r = rid ? nn_inc_get(&rules, rid, strlen(rid)) : INC_NONE;

		if (!err)
			err = rule_device_names(s, ni, v);
		if (r != INC_NONE && !err)
			err = rule_src_refs(s, ni, r, v);
		if (r != INC_NONE && !err)
			err = rule_dev_refs(s, ni, r, v);
	}
	nn_table_free(&rules);
	return err;
}

/* The standing nodes' objects by id. */
static int bind_nodes(struct nn_inc *s)
{
	struct nn_jv *n;
	size_t i;
	int err = 0;

	nn_jv_foreach(nn_jv_get(s->doc->d.root, "nodes"), i, n)
	{
		const char *id = str_of(n, "node_id");
		size_t m;

		for (m = 0; id && m < s->p->n_nodes; m++)
			if (!strcmp(s->p->nodes[m].id, id))
				break;
		if (id && m < s->p->n_nodes && !err)
			err = nn_table_put(&s->nodes, id, strlen(id), &n, sizeof(n));
	}
	return err;
}

int nn_inc_rebind(struct nn_inc *s)
{
	struct nn_jv *t, *n;
	size_t i, j;
	int err;

	if (s->doc_epoch == s->doc->epoch)
		return 0;
	/* A repack moved the whole document: the same objects, new places.
	 * Nothing else changed in it that the kept state reads (any other
	 * change drops the kept state first). */
	err = bind_nodes(s);
	nn_jv_foreach(nn_jv_get(s->doc->d.root, "tenants"), i, t)
	{
		nn_jv_foreach(nn_jv_get(t, "networks"), j, n)
		{
			bind_network(s, t, n);
		}
	}
	if (!err)
		s->doc_epoch = s->doc->epoch;
	return err;
}

static int walk_doc(struct nn_inc *s)
{
	struct nn_jv *t, *n;
	size_t i, j;
	int err = bind_nodes(s);

	nn_jv_foreach(nn_jv_get(s->doc->d.root, "tenants"), i, t)
	{
		nn_jv_foreach(nn_jv_get(t, "networks"), j, n)
		{
			if (!err)
				err = walk_network(s, t, n);
		}
	}
	s->doc_epoch = s->doc->epoch;
	/* Sorted, unique: signatures are sorted rule lists. */
	for (i = 0; i < s->p->n_users; i++)
		nn_c_vsort_unique(&s->user_rules[i]);
	for (i = 0; i < s->group_rules.cap; i++)
		if (s->group_rules.e[i].used)
			nn_c_vsort_unique(s->group_rules.e[i].val);
	for (i = 0; i < s->dev_rules.cap; i++)
		if (s->dev_rules.e[i].used) {
			struct inc_devrules *dr = s->dev_rules.e[i].val;

			nn_c_vsort_unique(&dr->src);
			nn_c_vsort_unique(&dr->dst);
		}
	return err;
}

struct nn_inc *nn_inc_new(struct nn_policy *p, struct nn_compile_state *cs,
			  const struct nn_slots *slots, uint32_t slot_cap, uint64_t seq,
			  struct nn_held *doc, const struct nn_limits *lim)
{
	struct nn_inc *s = calloc(1, sizeof(*s));
	/* Room for new devices reserved now: growing the device array on an
	 * add would copy it whole (60 MB at 100k) inside a change. */
	size_t nd = p->n_devices + p->n_devices / 16 + 64, i;
	struct nn_device *dv;

	if (!s) {
		nn_policy_free(p);
		nn_compile_state_free(cs);
		return NULL;
	}
	s->p = p;
	s->cs = cs;
	s->seq = seq;
	s->doc = nn_held_ref(doc);
	if (lim)
		s->lim = *lim;
	else
		nn_limits_default(&s->lim);
	nn_table_init(&s->dev_ids);
	nn_table_init(&s->doc_ids);
	nn_table_init(&s->rule_names);
	nn_table_init(&s->dev_rules);
	nn_table_init(&s->group_users);
	nn_table_init(&s->group_names);
	nn_table_init(&s->users);
	nn_table_init(&s->nets);
	nn_table_init(&s->nodes);
	nn_table_init(&s->group_rules);
	dv = realloc(p->devices, nd * sizeof(*dv));
	if (!dv)
		goto fail;
	p->devices = dv;
	s->dev_cap = nd;
	/* Room for every reserved device's three entries, and its id in
	 * the id tables: no growth (a rehash of every slot: ~0.1 s at 1M)
	 * inside a change until the devices outgrow their reserve too. */
	if (nn_owners_init(&s->owners, 3 * nd) || nn_table_reserve(&s->dev_ids, nd) ||
	    nn_table_reserve(&s->doc_ids, nd))
		goto fail;
	s->cls = calloc(nd, sizeof(*s->cls));
	s->slot = calloc(nd, sizeof(*s->slot));
	s->slot_cap = slot_cap;
	s->taken = calloc(slot_cap ? slot_cap : 1, 1);
	s->user_rules = calloc(p->n_users ? p->n_users : 1, sizeof(*s->user_rules));
	s->user_devs = calloc(p->n_users ? p->n_users : 1, sizeof(*s->user_devs));
	if (!s->cls || !s->slot || !s->taken || !s->user_rules || !s->user_devs)
		goto fail;
	for (i = 0; i < p->n_devices; i++) {
		nn_compile_state_dev(cs, i, s->cls[i]);
		s->slot[i] = slots->dev[i];
		if (slots->dev[i] < slot_cap)
			s->taken[slots->dev[i]] = 1;
	}
	for (i = 0; i < p->n_nodes; i++)
		if (slots->node[i] < slot_cap)
			s->taken[slots->node[i]] = 1;
	if (slots->self < slot_cap)
		s->taken[slots->self] = 1;
	if (index_policy(s) || index_groups(s) || walk_doc(s))
		goto fail;
	return s;
fail:
	nn_inc_free(s);
	return NULL;
}

void nn_inc_id_stats(const struct nn_inc *s, struct nn_inc_ids *st)
{
	const struct nn_table *t[] = { &s->dev_ids, &s->doc_ids, &s->owners.other };
	size_t i;

	memset(st, 0, sizeof(*st));
	st->entries = s->owners.n;
	st->slots = s->owners.cap;
	st->shifted = s->owners.shifted;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		st->entries += t[i]->n;
		st->slots += t[i]->cap;
		st->shifted += t[i]->shifted;
		st->chunk_bytes += nn_table_chunk_bytes(t[i]);
	}
}

/* Device @i's entry @v (of its id, an address or its key): its index, or
 * a message. */
static int id_is(uint32_t v, uint32_t i, const char *what, const struct nn_device *d, char *why,
		 size_t wl)
{
	if (v == i)
		return 0;
	snprintf(why, wl, "device %s (index %u): %s maps to %d", d->id, i, what,
		 v == INC_NONE ? -1 : (int)v);
	return -EINVAL;
}

int nn_inc_check_ids(const struct nn_inc *s, char *why, size_t wl)
{
	const struct nn_policy *p = s->p;
	const struct inc_owners *o = &s->owners;
	size_t fields = 0;
	uint32_t i;
	int err = 0;

	for (i = 0; i < p->n_devices && !err; i++) {
		const struct nn_device *d = &p->devices[i];

		fields += 2 + d->has_addr4;
		err = id_is(nn_inc_get(&s->dev_ids, d->id, strlen(d->id)), i, "its id", d, why, wl);
		/* more than one: a copy in a network the full parse
		 * dropped whole (it drops no standing copy) */
		if (!err && nn_inc_get(&s->doc_ids, d->id, strlen(d->id)) == INC_NONE) {
			snprintf(why, wl, "device %s: not in the document's ids", d->id);
			err = -EINVAL;
		}
		if (!err)
			err = id_is(nn_owners_get(o, p, 'a', d->addr6), i, "its IPv6 address", d,
				    why, wl);
		if (!err && d->has_addr4)
			err = id_is(nn_owners_get(o, p, 'a', d->addr4), i, "its IPv4 address", d,
				    why, wl);
		if (!err)
			err = id_is(nn_owners_get(o, p, 'k', d->pubkey), i, "its key", d, why, wl);
	}
	/* and nothing else: no entry left of a device gone or changed */
	if (!err)
		err = nn_owners_check(o, p, fields, why, wl);
	if (!err && s->dev_ids.n != p->n_devices) {
		snprintf(why, wl, "%zu device ids for %zu devices", s->dev_ids.n, p->n_devices);
		err = -EINVAL;
	}
	return err;
}

struct nn_policy *nn_inc_take_policy(struct nn_inc *s)
{
	struct nn_policy *p;

	if (!s)
		return NULL;
	p = s->p;
	/* nn_inc_free() walks p's users for the per-user rule lists: free
	 * those first, then let it free the rest without the policy. */
	for (size_t i = 0; s->user_rules && i < p->n_users; i++)
		free(s->user_rules[i].v);
	for (size_t i = 0; s->user_devs && i < p->n_users; i++)
		free(s->user_devs[i].v);
	free(s->user_rules);
	free(s->user_devs);
	s->user_rules = NULL;
	s->user_devs = NULL;
	s->p = NULL;
	nn_inc_free(s);
	return p;
}

void nn_inc_free(struct nn_inc *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; s->user_rules && i < s->p->n_users; i++)
		free(s->user_rules[i].v);
	for (i = 0; s->user_devs && i < s->p->n_users; i++)
		free(s->user_devs[i].v);
	free(s->user_rules);
	free(s->user_devs);
	nn_table_free(&s->group_users);
	nn_table_free(&s->group_names);
	nn_jdoc_free(&s->held);
	for (i = 0; i < s->group_rules.cap; i++)
		if (s->group_rules.e[i].used)
			free(((struct vec *)s->group_rules.e[i].val)->v);
	nn_table_free(&s->group_rules);
	for (i = 0; i < s->dev_rules.cap; i++)
		if (s->dev_rules.e[i].used) {
			struct inc_devrules *dr = s->dev_rules.e[i].val;

			free(dr->src.v);
			free(dr->dst.v);
		}
	nn_table_free(&s->dev_rules);
	nn_table_free(&s->dev_ids);
	nn_table_free(&s->doc_ids);
	nn_table_free(&s->rule_names);
	nn_owners_free(&s->owners);
	nn_table_free(&s->users);
	nn_table_free(&s->nets);
	nn_table_free(&s->nodes);
	free(s->cls);
	free(s->slot);
	free(s->taken);
	nn_held_put(s->doc);
	nn_compile_state_free(s->cs);
	nn_policy_free(s->p);
	free(s);
}
