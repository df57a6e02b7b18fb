// SPDX-License-Identifier: GPL-2.0
/*
 * delta_apply.c - judge a delta's device changes against the kept state
 * (delta.h lists what is checked and why), then apply them: the policy's
 * device and rule lists, the indexes, the class member counts, and the
 * patch of nn_addrs entries and counter slots. Judging changes nothing, so
 * a fall back leaves the state as it was; the changes of one delta must be
 * independent (distinct ids, no address or key in common), so judging each
 * against the state before the delta is judging them in sequence.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/delta.h"
#include "compile/delta_int.h"
#include "lib/u32sort.h"

int nn_inc_why(char *why, size_t len, const char *fmt, const char *id)
{
	snprintf(why, len, fmt, id ? id : "?");
	return -EAGAIN;
}

/* ---- judging one change ---- */

/* A one-device snapshot: the document's top level and gateway block, the
 * device's tenant and network with only its user, the nodes serving the
 * network. The snapshot parser judges it exactly as in the full document
 * (the checks that look across entries are done here against the kept
 * indexes instead). Written straight from the held document's tree, in
 * the order the jansson build of it had: the network's members in place,
 * its four lists replaced (those it lacks appended). */
char *nn_inc_mini_doc(const struct nn_inc *s, const struct nn_jv *tenant, const struct nn_jv *net,
		      const struct nn_jv *user, const json_t *dev, size_t *len)
{
	static const char *const top[] = { "api_version", "node_id", "generation", "gateway",
					   "system_defaults" };
	static const char *const lists[] = { "users", "devices", "resources", "acl" };
	const struct nn_jv *root = s->doc->d.root, *v, *tid = nn_jv_get(tenant, "tenant_id");
	struct nn_gen_out o;
	yajl_gen g = nn_gen_begin(&o);
	yajl_gen_status st = g ? yajl_gen_map_open(g) : yajl_gen_generation_complete;
	size_t i, j;

	/* Each step only while the ones before went well. */
#define DO(x)                                 \
	do {                                  \
		if (st == yajl_gen_status_ok) \
			st = (x);             \
	} while (0)
#define KEY(k) DO(yajl_gen_string(g, (const unsigned char *)(k), strlen(k)))
	for (i = 0; i < sizeof(top) / sizeof(*top); i++)
		if ((v = nn_jv_get(root, top[i]))) {
			KEY(top[i]);
			DO(nn_held_gen(g, v));
		}
	KEY("nodes");
	DO(yajl_gen_array_open(g));
	nn_jv_foreach(nn_jv_get(net, "gateways"), i, v)
	{
		const char *id = nn_jv_str(v);
		struct nn_tentry *e = id ? nn_table_get(&s->nodes, id, strlen(id)) : NULL;

		if (e)
			DO(nn_held_gen(g, *(struct nn_jv **)e->val));
	}
	DO(yajl_gen_array_close(g));
	KEY("tenants");
	DO(yajl_gen_array_open(g));
	DO(yajl_gen_map_open(g));
	if (tid) {
		KEY("tenant_id");
		DO(nn_held_gen(g, tid));
	}
	KEY("networks");
	DO(yajl_gen_array_open(g));
	DO(yajl_gen_map_open(g));
	for (i = 0; i <= net->n + 3; i++) {
		/* the network's members, then the lists it lacks */
		const char *k = i < net->n ? net->u.m[i].key : lists[i - net->n];

		for (j = 0; j < 4 && strcmp(k, lists[j]); j++)
			;
		if (i >= net->n && nn_jv_get(net, k))
			continue;
		KEY(k);
		if (j == 4) {
			DO(nn_held_gen(g, &net->u.m[i].v));
			continue;
		}
		DO(yajl_gen_array_open(g));
		if (j == 0)
			DO(nn_held_gen(g, user));
		else if (j == 1 && dev)
			DO(nn_held_gen_json(g, dev));
		DO(yajl_gen_array_close(g));
	}
	DO(yajl_gen_map_close(g));
	DO(yajl_gen_array_close(g));
	DO(yajl_gen_map_close(g));
	DO(yajl_gen_array_close(g));
	DO(yajl_gen_map_close(g));
#undef KEY
#undef DO
	return nn_gen_take(g, &o, st, len);
}

/* The one-entry snapshot nn_inc_mini_doc() makes, parsed and validated as
 * a full snapshot is. -ENOMEM (nothing to free), else the parser's result
 * in *@mp and @errs for the caller to judge and free. */
int nn_inc_mini_parse(const struct nn_inc *s, const struct nn_jv *tenant, const struct nn_jv *net,
		      const struct nn_jv *user, const json_t *dev, struct nn_policy **mp,
		      struct nn_errlist *errs)
{
	size_t len;
	char *text = nn_inc_mini_doc(s, tenant, net, user, dev, &len);
	int err;

	if (!text)
		return -ENOMEM;
	err = nn_policy_parse(text, len, s->p->node_id, &s->lim, mp, errs);
	free(text);
	if (err == -ENOMEM)
		nn_errlist_free(errs);
	return err;
}

/* Does the device, where it stands now, get a routing message? */
bool nn_inc_routing_msg(struct nn_inc *s, const struct nn_device *d)
{
	struct nn_errlist errs = { 0 };
	struct nn_device copy = *d;
	bool any;

	nn_resolve_device_routing(s->p, &copy, &errs);
	any = errs.n > 0;
	nn_errlist_free(&errs);
	return any;
}

static uint32_t owner_of(const struct nn_inc *s, char kind, const uint8_t *v)
{
	return nn_owners_get(&s->owners, s->p, kind, v);
}

/* The standing rules of network @ni naming device id @id in src.devices
 * and dst.devices (NULL: none). */
const struct inc_devrules *nn_inc_dev_rules(const struct nn_inc *s, uint32_t ni, const char *id)
{
	struct inc_key k;
	struct nn_tentry *e = nn_table_get(&s->dev_rules, &k, nn_inc_key(&k, ni, id));

	return e ? e->val : NULL;
}

/* The source signatures of device @id of user @u in network @ni: the rules
 * reaching it through its user's groups, and those naming it or its user
 * but not reaching it through a group (compile.c's src_classes() split:
 * validation puts a device a rule reaches through a group in the rule's
 * src_grp_devices, however else the rule names it). */
int nn_inc_src_sigs(struct nn_inc *s, uint32_t ni, uint32_t u, const char (*groups)[NN_NAME_MAX],
		    size_t n_groups, const char *id, struct vec *named, struct vec *grp)
{
	const struct inc_devrules *dr = nn_inc_dev_rules(s, ni, id);
	struct vec by_name = {};
	size_t i, j;
	int err = 0;

	for (i = 0; i < n_groups && !err; i++) {
		struct inc_key k;
		size_t l = nn_inc_key(&k, ni, groups[i]);
		struct nn_tentry *e = nn_table_get(&s->group_rules, &k, l);
		const struct vec *g = e ? e->val : NULL;

		for (j = 0; g && j < g->n && !err; j++)
			err = nn_c_vpush(grp, g->v[j]);
	}
	nn_c_vsort_unique(grp);
	/* The user's rules and the device's own, one sorted list. */
	if (!err && s->user_rules[u].n)
		err = nn_c_vappend(&by_name, s->user_rules[u].v, s->user_rules[u].n);
	if (!err && dr && dr->src.n)
		err = nn_c_vappend(&by_name, dr->src.v, dr->src.n);
	nn_c_vsort_unique(&by_name);
	for (i = 0, j = 0; i < by_name.n && !err; i++) {
		while (j < grp->n && grp->v[j] < by_name.v[i])
			j++;
		if (j >= grp->n || grp->v[j] != by_name.v[i])
			err = nn_c_vpush(named, by_name.v[i]);
	}
	free(by_name.v);
	return err;
}

/* The classes of change @c's device as it will be (c->nd, c->id: in network
 * @ni, of user @u with @groups): its source signatures into c->named and
 * c->grp, then c->ncls. A class the compile state lacks refuses the fast
 * path (it would add a class, and with it cells). */
int nn_inc_new_classes(struct nn_inc *s, struct chg *c, uint32_t ni, uint32_t u,
		       const char (*groups)[NN_NAME_MAX], size_t n_groups, char *why, size_t wl)
{
	const struct inc_devrules *dr = nn_inc_dev_rules(s, ni, c->id);
	int err = nn_inc_src_sigs(s, ni, u, groups, n_groups, c->id, &c->named, &c->grp);

	if (!err)
		err = nn_compile_dev_classes(s->cs, &c->nd, c->named.v, c->named.n, c->grp.v,
					     c->grp.n, dr ? dr->dst.v : NULL, dr ? dr->dst.n : 0,
					     c->ncls);
	if (err == -ENOENT)
		return nn_inc_why(why, wl, "device %s: would need a class that does not exist",
				  c->id);
	return err;
}

static int judge_upsert(struct nn_inc *s, struct chg *c, const json_t *value,
			const struct inc_net *net, char *why, size_t wl)
{
	struct nn_errlist errs = { 0 };
	struct nn_policy *mp = NULL;
	const char *uid = json_string_value(json_object_get(value, "user_id"));
	struct inc_key k;
	struct nn_tentry *ue;
	uint32_t o;
	int err;

	if (!uid)
		return nn_inc_why(why, wl, "device %s: no user_id string", c->id);
	ue = nn_table_get(&s->users, &k, nn_inc_key(&k, net->idx, uid));
	if (!ue || !((struct inc_user *)ue->val)->js)
		return nn_inc_why(why, wl,
				  "device %s: its user is not a standing user of the network",
				  c->id);
	err = nn_inc_mini_parse(s, net->tenant, net->net, ((struct inc_user *)ue->val)->js, value,
				&mp, &errs);
	if (err == -ENOMEM)
		return err;
	if (err || errs.n || !mp || mp->n_devices != 1) {
		nn_errlist_free(&errs);
		nn_policy_free(mp);
		return nn_inc_why(why, wl, "device %s: the snapshot parser has something to say",
				  c->id);
	}
	c->nd = mp->devices[0];
	/* The one-device policy is freed: its routing_preference goes with
	 * the change (into the kept policy if applied, freed if not). */
	mp->devices[0].pref = NULL;
	c->own_pref = true;
	nn_errlist_free(&errs);
	nn_policy_free(mp);
	c->nd.network = net->idx;
	c->nd.user = ((struct inc_user *)ue->val)->idx;
	if (nn_inc_routing_msg(s, &c->nd))
		return nn_inc_why(why, wl, "device %s: its routing gets a message", c->id);
	o = owner_of(s, 'a', c->nd.addr6);
	if (o != INC_NONE && o != c->old)
		return nn_inc_why(why, wl, "device %s: overlay_ipv6 held by another", c->id);
	if (c->nd.has_addr4) {
		o = owner_of(s, 'a', c->nd.addr4);
		if (o != INC_NONE && o != c->old)
			return nn_inc_why(why, wl, "device %s: overlay_ipv4 held by another",
					  c->id);
	}
	o = owner_of(s, 'k', c->nd.pubkey);
	if (o != INC_NONE && o != c->old)
		return nn_inc_why(why, wl, "device %s: public_key held by another", c->id);
	if (nn_compile_in_closed(s->cs, c->nd.addr6) ||
	    (c->nd.has_addr4 && nn_compile_in_closed(s->cs, c->nd.addr4)))
		return nn_inc_why(why, wl, "device %s: an address in closed space", c->id);
	return nn_inc_new_classes(s, c, net->idx, c->nd.user, s->p->users[c->nd.user].groups,
				  s->p->users[c->nd.user].n_groups, why, wl);
}

static int judge(struct nn_inc *s, const json_t *ch, struct chg *c, char *why, size_t wl)
{
	const char *op = json_string_value(json_object_get(ch, "op"));
	const char *kind = json_string_value(json_object_get(ch, "kind"));
	const char *tid = json_string_value(json_object_get(ch, "tenant_id"));
	const char *nid = json_string_value(json_object_get(ch, "network_id"));
	char nk[2 * NN_NAME_MAX];
	struct nn_tentry *ne;
	struct inc_key k;
	uint32_t n_doc;
	size_t l;

	c->id = json_string_value(json_object_get(ch, "id"));
	c->old = INC_NONE;
	if (!kind || strcmp(kind, "device") || !op || !c->id || !tid || !nid)
		return nn_inc_why(why, wl, "change of %s: not a device upsert or delete",
				  c->id ? c->id : kind);
	c->upsert = !strcmp(op, "upsert");
	if (!c->upsert && strcmp(op, "delete"))
		return nn_inc_why(why, wl, "change of %s: unknown op", c->id);
	l = strlen(tid) < NN_NAME_MAX && strlen(nid) < NN_NAME_MAX ? strlen(tid) + 1 + strlen(nid) :
								     0;
	if (l) {
		memcpy(nk, tid, strlen(tid) + 1);
		memcpy(nk + strlen(tid) + 1, nid, strlen(nid));
	}
	ne = l ? nn_table_get(&s->nets, nk, l) : NULL;
	if (!ne || !((struct inc_net *)ne->val)->net)
		return nn_inc_why(why, wl, "device %s: its network is not standing", c->id);
	c->ni = ((struct inc_net *)ne->val)->idx;
	if (((struct inc_net *)ne->val)->dup_rule_ids)
		return nn_inc_why(why, wl, "device %s: its network's ACL repeats a rule_id", c->id);
	c->old = nn_inc_get(&s->dev_ids, c->id, strlen(c->id));
	/* A rule of the network naming the id stands only while the device
	 * does (an allow rule is dropped, a deny rule rejects the snapshot):
	 * adding or deleting it drops or restores a rule, which renumbers
	 * every rule after it (cells, rule slots: the whole policy). A
	 * change of a device standing before and after leaves the rule as
	 * it is; its classes include the rule (judge_upsert). */
	if ((c->old == INC_NONE || !c->upsert) &&
	    nn_table_get(&s->rule_names, &k, nn_inc_key(&k, c->ni, c->id)))
		return nn_inc_why(why, wl,
				  "device %s: a rule of its network names it (the rule would be "
				  "dropped or restored)",
				  c->id);
	n_doc = nn_inc_get(&s->doc_ids, c->id, strlen(c->id));
	if (n_doc == INC_NONE)
		n_doc = 0;
	if (c->old != INC_NONE ? n_doc != 1 : n_doc != 0)
		return nn_inc_why(why, wl, "device %s: dropped or duplicated in the document",
				  c->id);
	if (c->old != INC_NONE) {
		if (s->p->devices[c->old].network != c->ni)
			return nn_inc_why(why, wl, "device %s: stands in another network", c->id);
		if (nn_inc_routing_msg(s, &s->p->devices[c->old]))
			return nn_inc_why(why, wl, "device %s: its routing had a message", c->id);
		memcpy(c->ocls, s->cls[c->old], sizeof(c->ocls));
		memcpy(c->okey, s->p->devices[c->old].pubkey, sizeof(c->okey));
	} else if (!c->upsert) {
		return nn_inc_why(why, wl, "device %s: delete of a device not standing", c->id);
	}
	if (!c->upsert)
		return 0;
	if (!json_is_object(json_object_get(ch, "value")))
		return nn_inc_why(why, wl, "device %s: no value", c->id);
	return judge_upsert(s, c, json_object_get(ch, "value"), ne->val, why, wl);
}

/* ---- the changes together ---- */

static bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
	return !memcmp(a, b, n);
}

/* Addresses and keys a change holds before and after. */
static size_t held(const struct nn_inc *s, const struct chg *c, const uint8_t *out[6])
{
	size_t n = 0;

	if (c->old != INC_NONE) {
		const struct nn_device *d = &s->p->devices[c->old];

		out[n++] = d->addr6;
		if (d->has_addr4)
			out[n++] = d->addr4;
		out[n++] = d->pubkey; /* keys are 32 bytes; compared on 16 too */
	}
	if (c->upsert) {
		out[n++] = c->nd.addr6;
		if (c->nd.has_addr4)
			out[n++] = c->nd.addr4;
		out[n++] = c->nd.pubkey;
	}
	return n;
}

static bool independent(const struct nn_inc *s, const struct chg *c, size_t n)
{
	const uint8_t *a[6], *b[6];
	size_t i, j, x, y, na, nb;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			if (!strcmp(c[i].id, c[j].id))
				return false;
			na = held(s, &c[i], a);
			nb = held(s, &c[j], b);
			/* 16 bytes: an address, or the first half of a key
			 * (a false alarm only costs a full apply). */
			for (x = 0; x < na; x++)
				for (y = 0; y < nb; y++)
					if (same_bytes(a[x], b[y], NN_ADDR_LEN))
						return false;
		}
	return true;
}

/* No class may lose its last member: it would vanish, and its cells. */
bool nn_inc_classes_stay(struct nn_inc *s, const struct chg *c, size_t n)
{
	size_t i, k;
	bool ok = true;

	for (i = 0; i < n; i++)
		for (k = 0; k < NN_DC_COUNT; k++) {
			if (c[i].old != INC_NONE)
				nn_compile_class_ref(s->cs, k >= NN_DC_DST6, c[i].ocls[k], -1);
			if (c[i].upsert)
				nn_compile_class_ref(s->cs, k >= NN_DC_DST6, c[i].ncls[k], +1);
		}
	for (i = 0; i < n && ok; i++)
		for (k = 0; k < NN_DC_COUNT && ok; k++)
			if (c[i].old != INC_NONE && c[i].ocls[k] != NN_CLASS_NONE)
				ok = nn_compile_class_refs(s->cs, k >= NN_DC_DST6, c[i].ocls[k]) >
				     0;
	if (ok)
		return true;
	/* Undo: judging changes nothing. */
	for (i = 0; i < n; i++)
		for (k = 0; k < NN_DC_COUNT; k++) {
			if (c[i].old != INC_NONE)
				nn_compile_class_ref(s->cs, k >= NN_DC_DST6, c[i].ocls[k], +1);
			if (c[i].upsert)
				nn_compile_class_ref(s->cs, k >= NN_DC_DST6, c[i].ncls[k], -1);
		}
	return false;
}

/* ---- applying ---- */

static int list_insert(uint32_t **v, size_t *n, uint32_t x)
{
	uint32_t *nv;
	size_t i;

	for (i = 0; i < *n && (*v)[i] < x; i++)
		;
	if (i < *n && (*v)[i] == x)
		return 0;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	memmove(nv + i + 1, nv + i, (*n - i) * sizeof(*nv));
	nv[i] = x;
	*v = nv;
	(*n)++;
	return 0;
}

static void list_remove(uint32_t *v, size_t *n, uint32_t x)
{
	size_t i;

	for (i = 0; i < *n && v[i] != x; i++)
		;
	if (i == *n)
		return;
	memmove(v + i, v + i + 1, (*n - i - 1) * sizeof(*v));
	(*n)--;
}

/* @from becomes @to in a sorted list (the last device taking a deleted
 * one's place). */
static int list_rename(uint32_t **v, size_t *n, uint32_t from, uint32_t to)
{
	size_t i;

	for (i = 0; i < *n && (*v)[i] != from; i++)
		;
	if (i == *n)
		return 0;
	list_remove(*v, n, from);
	return list_insert(v, n, to);
}

/* Validation hands a rule whose sources all come through groups one array
 * for src_devices and src_grp_devices (validate_acl.c); a patch changes
 * them apart, so the rule gets a copy of its own first. */
static int unalias(struct nn_rule *r)
{
	uint32_t *copy;

	if (r->src_grp_devices != r->src_devices || !r->src_devices)
		return 0;
	copy = malloc((r->n_src_grp_devices ? r->n_src_grp_devices : 1) * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, r->src_devices, r->n_src_grp_devices * sizeof(*copy));
	r->src_grp_devices = copy;
	return 0;
}

/* Device @d joins (@add) or leaves the src lists of the rules @named and @grp. */
static int rule_lists(struct nn_inc *s, uint32_t d, const struct vec *named, const struct vec *grp,
		      bool add)
{
	size_t i;
	int err = 0;

	for (i = 0; i < named->n && !err; i++) {
		struct nn_rule *r = &s->p->rules[named->v[i]];

		err = unalias(r);
		if (err)
			break;
		if (add)
			err = list_insert(&r->src_devices, &r->n_src_devices, d);
		else
			list_remove(r->src_devices, &r->n_src_devices, d);
	}
	for (i = 0; i < grp->n && !err; i++) {
		struct nn_rule *r = &s->p->rules[grp->v[i]];

		err = unalias(r);
		if (err)
			break;
		if (add) {
			err = list_insert(&r->src_devices, &r->n_src_devices, d);
			if (!err)
				err = list_insert(&r->src_grp_devices, &r->n_src_grp_devices, d);
		} else {
			list_remove(r->src_devices, &r->n_src_devices, d);
			list_remove(r->src_grp_devices, &r->n_src_grp_devices, d);
		}
	}
	return err;
}

/* @d's addresses and key now belong to @who (INC_NONE: nobody). The
 * owners index reads a device's keys from s->p->devices: @who must hold
 * them already (owners.h), and @d's entries are given up while its slot
 * still holds it. */
static int own_dev(struct nn_inc *s, const struct nn_device *d, uint32_t who)
{
	struct inc_owners *o = &s->owners;
	int err;

	err = nn_owners_put(o, s->p, 'a', d->addr6, who);
	if (!err && d->has_addr4)
		err = nn_owners_put(o, s->p, 'a', d->addr4, who);
	if (!err)
		err = nn_owners_put(o, s->p, 'k', d->pubkey, who);
	return err;
}

static int patch_grow(void **arr, size_t n, size_t size)
{
	return nn_grow(arr, n, size);
}

static int patch_del(struct nn_dev_patch *pt, const struct nn_device *d)
{
	if (patch_grow((void **)&pt->del, pt->n_del, sizeof(*pt->del)))
		return -ENOMEM;
	memcpy(pt->del[pt->n_del++], d->addr6, NN_ADDR_LEN);
	if (!d->has_addr4)
		return 0;
	if (patch_grow((void **)&pt->del, pt->n_del, sizeof(*pt->del)))
		return -ENOMEM;
	memcpy(pt->del[pt->n_del++], d->addr4, NN_ADDR_LEN);
	return 0;
}

static int patch_set(struct nn_inc *s, struct nn_dev_patch *pt, const struct nn_device *d,
		     uint32_t slot, const uint32_t *cls)
{
	struct nn_addr_ent e[2];
	size_t n = nn_compile_dev_addrs(s->cs, s->p, d, slot, cls, e), i;

	for (i = 0; i < n; i++) {
		if (patch_grow((void **)&pt->set, pt->n_set, sizeof(*pt->set)))
			return -ENOMEM;
		pt->set[pt->n_set++] = e[i];
	}
	return 0;
}

static void name_of(struct nn_name *n, const struct nn_inc *s, const struct nn_device *d)
{
	const struct nn_network *nw = &s->p->networks[d->network];

	/* As slots.c names a device: its counters follow the name. */
	memset(n, 0, sizeof(*n));
	memcpy(n->tenant, s->p->tenants[nw->tenant].id,
	       strnlen(s->p->tenants[nw->tenant].id, sizeof(n->tenant) - 1));
	memcpy(n->network, nw->id, strnlen(nw->id, sizeof(n->network) - 1));
	memcpy(n->id, d->id, strnlen(d->id, sizeof(n->id) - 1));
	n->kind = NN_AK_DEVICE;
	n->in_use = 1;
}

static int take_slot(struct nn_inc *s, struct nn_dev_patch *pt, const struct nn_device *d,
		     uint32_t *slot)
{
	uint32_t i;

	for (i = 0; i < s->slot_cap && s->taken[i]; i++)
		;
	if (i >= s->slot_cap)
		return -ENOSPC;
	if (patch_grow((void **)&pt->new_names, pt->n_new, sizeof(*pt->new_names)) ||
	    patch_grow((void **)&pt->new_slots, pt->n_new, sizeof(*pt->new_slots)))
		return -ENOMEM;
	s->taken[i] = 1;
	*slot = i;
	name_of(&pt->new_names[pt->n_new], s, d);
	pt->new_slots[pt->n_new++] = i;
	return 0;
}

/* Device @d leaves what it was in: the src lists of the rules naming it
 * (its user's and groups' rules, in its own network: a fast-path change
 * never moves a device between networks), the owner indexes of its
 * addresses and key, and its nn_addrs entries (deleted by @pt). */
static int withdraw(struct nn_inc *s, uint32_t d, struct nn_dev_patch *pt)
{
	const struct nn_device *od = &s->p->devices[d];
	struct vec on = {}, og = {};
	int err;

	err = nn_inc_src_sigs(s, od->network, od->user, s->p->users[od->user].groups,
			      s->p->users[od->user].n_groups, od->id, &on, &og);
	if (!err)
		err = rule_lists(s, d, &on, &og, false);
	free(on.v);
	free(og.v);
	if (!err)
		err = own_dev(s, od, INC_NONE);
	return err ?: patch_del(pt, od);
}

int nn_inc_apply_upsert(struct nn_inc *s, struct chg *c, struct nn_dev_patch *pt)
{
	uint32_t d = c->old, slot;
	int err = 0;

	if (d != INC_NONE) {
		/* The same device, changed: same slot, other lists. */
		err = withdraw(s, d, pt);
		slot = s->slot[d];
		if (!err && s->p->devices[d].user != c->nd.user) {
			nn_inc_udev_del(s, s->p->devices[d].user, d);
			err = nn_inc_udev_add(s, c->nd.user, d);
		}
	} else {
		if (s->p->n_devices == s->dev_cap) {
			size_t nc = s->dev_cap * 2;
			struct nn_device *nd = realloc(s->p->devices, nc * sizeof(*nd));
			uint32_t(*ncls)[NN_DC_COUNT];
			uint32_t *nslot;

			if (!nd)
				return -ENOMEM;
			s->p->devices = nd;
			ncls = realloc(s->cls, nc * sizeof(*ncls));
			if (!ncls)
				return -ENOMEM;
			s->cls = ncls;
			nslot = realloc(s->slot, nc * sizeof(*nslot));
			if (!nslot)
				return -ENOMEM;
			s->slot = nslot;
			s->dev_cap = nc;
		}
		d = (uint32_t)s->p->n_devices++;
		/* counted now: what the slot held (a moved device's copy) is
		 * not its to free */
		s->p->devices[d].pref = NULL;
		err = take_slot(s, pt, &c->nd, &slot);
		if (!err)
			err = nn_inc_put(&s->dev_ids, c->id, strlen(c->id), d);
		if (!err)
			err = nn_inc_put(&s->doc_ids, c->id, strlen(c->id), 1);
		if (!err)
			err = nn_inc_udev_add(s, c->nd.user, d);
		s->doc_devices++;
	}
	if (err)
		return err;
	/* The old routing_preference freed, unless the change shares it (a
	 * user change copies the device as it stands). */
	if (c->old != INC_NONE && s->p->devices[d].pref != c->nd.pref)
		free(s->p->devices[d].pref);
	s->p->devices[d] = c->nd;
	c->own_pref = false; /* the kept policy's now */
	memcpy(s->cls[d], c->ncls, sizeof(c->ncls));
	s->slot[d] = slot;
	err = rule_lists(s, d, &c->named, &c->grp, true);
	if (!err)
		err = own_dev(s, &c->nd, d);
	return err ?: patch_set(s, pt, &c->nd, slot, c->ncls);
}

static int apply_delete(struct nn_inc *s, const struct chg *c, struct nn_dev_patch *pt)
{
	uint32_t d = nn_inc_get(&s->dev_ids, c->id, strlen(c->id));
	uint32_t last = (uint32_t)s->p->n_devices - 1;
	const struct nn_network *nw;
	size_t r;
	int err;

	err = withdraw(s, d, pt);
	if (!err)
		err = nn_inc_put(&s->dev_ids, c->id, strlen(c->id), INC_NONE);
	if (!err)
		err = nn_inc_put(&s->doc_ids, c->id, strlen(c->id), INC_NONE);
	if (!err && patch_grow((void **)&pt->old_slots, pt->n_old, sizeof(*pt->old_slots)))
		err = -ENOMEM;
	if (err)
		return err;
	pt->old_slots[pt->n_old++] = s->slot[d];
	free(s->p->devices[d].pref);
	s->p->devices[d].pref = NULL;
	s->taken[s->slot[d]] = 0;
	s->doc_devices--;
	nn_inc_udev_del(s, s->p->devices[d].user, d);
	if (d != last) {
		/* The last device takes the place: every list naming it. */
		struct nn_device *ld = &s->p->devices[last];

		nn_inc_udev_del(s, ld->user, last);
		err = nn_inc_udev_add(s, ld->user, d);

		nw = &s->p->networks[ld->network];
		for (r = nw->first_rule; r < nw->first_rule + nw->n_rules && !err; r++) {
			struct nn_rule *ru = &s->p->rules[r];

			err = unalias(ru);
			if (!err)
				err = list_rename(&ru->src_devices, &ru->n_src_devices, last, d);
			if (!err)
				err = list_rename(&ru->src_grp_devices, &ru->n_src_grp_devices,
						  last, d);
			if (!err)
				err = list_rename(&ru->dst_devices, &ru->n_dst_devices, last, d);
		}
		if (!err)
			err = nn_inc_put(&s->dev_ids, ld->id, strlen(ld->id), d);
		if (err)
			return err;
		s->p->devices[d] = *ld;
		ld->pref = NULL; /* d's now: last's slot is dropped below */
		memcpy(s->cls[d], s->cls[last], sizeof(s->cls[d]));
		s->slot[d] = s->slot[last];
		/* After the copy: the owners index reads a device's keys
		 * from its place, so d must hold them when its entries name
		 * it (last still does until n_devices drops below). */
		err = own_dev(s, ld, d);
		if (err)
			return err;
	}
	s->p->n_devices--;
	return 0;
}

/* A key both deleted and set is only set. */
void nn_inc_collapse(struct nn_dev_patch *pt)
{
	size_t i, j, m = 0;

	for (i = 0; i < pt->n_del; i++) {
		for (j = 0; j < pt->n_set && memcmp(pt->set[j].addr, pt->del[i], NN_ADDR_LEN); j++)
			;
		if (j == pt->n_set)
			memmove(pt->del[m++], pt->del[i], NN_ADDR_LEN);
	}
	pt->n_del = m;
}

/* wg0's side of the changes: the key each device holds afterwards (wanted
 * when active) and a key it let go of (rotated away, or the device gone).
 * Keys are distinct across the changes (independent()), so the list is a
 * set and its order does not matter. */
static int patch_peers(const struct chg *c, size_t n, struct nn_dev_patch *pt)
{
	size_t i;

	pt->peers = calloc(2 * n + 1, sizeof(*pt->peers));
	if (!pt->peers)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct nn_dev_peer *e;

		if (c[i].old != INC_NONE &&
		    (!c[i].upsert || memcmp(c[i].okey, c[i].nd.pubkey, sizeof(c[i].okey)))) {
			e = &pt->peers[pt->n_peers++];
			memcpy(e->key, c[i].okey, sizeof(e->key));
		}
		if (c[i].upsert) {
			e = &pt->peers[pt->n_peers++];
			memcpy(e->key, c[i].nd.pubkey, sizeof(e->key));
			e->want = c[i].nd.state == NN_ST_ACTIVE;
			if (e->want) {
				e->dev = c[i].nd;
				e->dev.pref = NULL; /* wg0 reads none; the change may free it */
			}
		}
	}
	return 0;
}

/* The device upserts and deletes of @changes, judged, then applied. */
int nn_inc_device_delta(struct nn_inc *s, const json_t *changes, struct nn_dev_patch *pt, char *why,
			size_t whylen)
{
	struct chg c[INC_MAX_CHANGES];
	size_t n = json_array_size(changes), i, adds = 0, dels = 0;
	int err = 0;

	memset(c, 0, sizeof(c));
	if (n > INC_MAX_CHANGES)
		return nn_inc_why(why, whylen, "%s changes: not a small device delta", "too many");
	for (i = 0; i < n && !err; i++) {
		err = judge(s, json_array_get(changes, i), &c[i], why, whylen);
		adds += c[i].upsert && c[i].old == INC_NONE;
		dels += !c[i].upsert;
	}
	if (!err && !independent(s, c, n))
		err = nn_inc_why(why, whylen,
				 "%s: changes of one delta share an id, address or key", "delta");
	/* The full path counts what the document holds against the limits. */
	if (!err && s->doc_devices + adds - dels > s->lim.max_devices)
		err = nn_inc_why(why, whylen, "%s: over --max-devices", "delta");
	for (i = 0; !err && i < s->slot_cap && adds; i++)
		adds -= !s->taken[i];
	if (!err && adds)
		err = nn_inc_why(why, whylen, "%s: no free counter slot", "delta");
	if (!err && !nn_inc_classes_stay(s, c, n))
		err = nn_inc_why(why, whylen, "%s: a class would lose its last member", "delta");
	/* Before the state changes: a failure here leaves it as it was. */
	if (!err)
		err = patch_peers(c, n, pt);
	/* From here on the state changes: a failure (memory) spoils it. */
	for (i = 0; i < n && !err; i++)
		if (c[i].upsert)
			err = nn_inc_apply_upsert(s, &c[i], pt);
	for (i = 0; i < n && !err; i++)
		if (!c[i].upsert)
			err = apply_delete(s, &c[i], pt);
	for (i = 0; i < n; i++) {
		free(c[i].named.v);
		free(c[i].grp.v);
		if (c[i].own_pref)
			free(c[i].nd.pref);
	}
	return err;
}
