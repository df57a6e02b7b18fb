// SPDX-License-Identifier: GPL-2.0
/*
 * validate.c - the entries of a snapshot (nodes, tenants, networks, users,
 * resources, devices), each checked on its own; the checks across them and
 * the compaction are in validate_cross.c, the ACL in validate_acl.c.
 *
 * Safety rule (assignments-v1.md, "Validation"): a bad entry is dropped
 * alone only where dropping it cannot widen access. Dropping a device, node,
 * user or resource removes an identity, so its traffic is refused (spoof,
 * unknown_dst). What cannot be made safe by dropping one entry (resource
 * prefixes of two networks overlapping, the gateway block, limits) rejects
 * the whole snapshot, with the reason as the last message.
 *
 * Duplicates are judged among the entries still standing: an entry already
 * dropped for its own fault does not exist and takes nobody down with it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "policy/json_int.h"
#include "lib/stamp.h"

/* ---- entries ---- */

static int parse_node(struct nn_build *b, struct nn_jv *v, size_t i)
{
	uint32_t idx = (uint32_t)b->p->n_nodes++;
	struct nn_node *nd = &b->p->nodes[idx];
	struct nn_ent e;
	int64_t x;
	bool set;
	int err;

	b->node_js[idx] = v;
	nn_ent_init_at(&e, NULL, "node", NULL, "nodes", i);
	if (!nn_jv_is_object(v)) {
		nn_ent_err(b, &e, "nodes[%zu] is not an object", i);
		return -EINVAL;
	}
	err = nn_js_id(b, &e, v, "node_id", nd->id);
	if (err)
		return err;
	nn_ent_init_at(&e, NULL, "node", nd->id, "nodes", i);
	if (!strcmp(nd->id, b->p->node_id)) {
		nn_ent_err(b, &e, "node_id is this gateway's own node_id");
		return -EINVAL;
	}
	err = nn_js_key(b, &e, v, "public_key", nd->pubkey);
	if (!err)
		err = nn_js_overlay_addr(b, &e, v, "overlay_ipv6", NN_JS_REQUIRED, NN_FAM_V6,
					 nd->addr6, NULL);
	if (!err)
		err = nn_js_endpoint(b, &e, v, nd->endpoint);
	if (!err)
		err = nn_js_roles(b, &e, v, &nd->roles);
	if (!err)
		err = nn_js_state(b, &e, v, &nd->state);
	if (!err)
		err = nn_js_int(b, &e, v, "key_generation", NN_JS_OPTIONAL, 0, UINT32_MAX, &x,
				&set);
	if (!err && set)
		nd->key_generation = (uint32_t)x;
	return err;
}

static int parse_user(struct nn_build *b, const struct nn_ent *ne, uint32_t ni, struct nn_jv *v,
		      size_t i, uint32_t idx)
{
	struct nn_user *u = &b->p->users[idx];
	struct nn_ent e;
	int err;

	u->network = ni;
	nn_ent_init_at(&e, ne, "user", NULL, "users", i);
	if (!nn_jv_is_object(v)) {
		nn_ent_err(b, &e, "%s is not an object", e.path);
		return -EINVAL;
	}
	err = nn_js_id(b, &e, v, "user_id", u->id);
	if (err)
		return err;
	nn_ent_init_at(&e, ne, "user", u->id, "users", i);
	err = nn_js_id_list(b, &e, v, "groups", NN_JS_OPTIONAL, &u->groups, &u->n_groups);
	if (!err)
		err = nn_js_layer(b, &e, v, "routing_preference", &u->pref);
	return err;
}

static int parse_resource(struct nn_build *b, const struct nn_ent *ne, uint32_t ni, struct nn_jv *v,
			  size_t i, uint32_t idx)
{
	const struct nn_gateway *gw = &b->p->gw;
	struct nn_resource *r = &b->p->resources[idx];
	char q[NN_PREFIX_STRLEN + 8];
	struct nn_prefix *pf;
	struct nn_ent e;
	struct nn_jv *arr, *pv;
	size_t j, k;
	int err;

	b->res_js[idx] = v;
	r->network = ni;
	nn_ent_init_at(&e, ne, "resource", NULL, "resources", i);
	if (!nn_jv_is_object(v)) {
		nn_ent_err(b, &e, "%s is not an object", e.path);
		return -EINVAL;
	}
	err = nn_js_id(b, &e, v, "resource_id", r->id);
	if (err)
		return err;
	nn_ent_init_at(&e, ne, "resource", r->id, "resources", i);
	err = nn_js_array(b, &e, v, "prefixes", NN_JS_REQUIRED, &arr);
	if (err)
		return err;
	r->prefixes = calloc(nn_jv_size(arr) + 1, sizeof(*r->prefixes));
	if (!r->prefixes)
		return -ENOMEM;
	nn_jv_foreach(arr, j, pv)
	{
		const char *s = nn_jv_str(pv);

		pf = &r->prefixes[r->n_prefixes];
		if (!s) {
			nn_ent_err(b, &e, "%s.prefixes[%zu]: expected a string", e.path, j);
			return -EINVAL;
		}
		nn_quote(s, q, sizeof(q));
		err = nn_prefix_parse(s, pf, NULL);
		if (err == -EDOM) {
			nn_ent_err(b, &e, "prefix %s has host bits set beyond its length", q);
			return -EINVAL;
		}
		if (err) {
			nn_ent_err(b, &e, "prefix \"%s\" is not an address/length prefix", q);
			return -EINVAL;
		}
		if (nn_prefix_is_default(pf)) {
			nn_ent_err(b, &e,
				   "prefix %s would cover every address; only an ACL dst may", q);
			return -EINVAL;
		}
		/* Overlay addresses are identities, never resources: this one
		 * prefix goes, the rest of the resource is still sound. */
		for (k = 0; k < gw->n_overlay_prefixes; k++)
			if (nn_prefix_overlaps(pf, &gw->overlay_prefixes[k]))
				break;
		if (k < gw->n_overlay_prefixes) {
			nn_ent_err(b, &e,
				   "prefix %s overlaps gateway.overlay_prefixes; prefix dropped, "
				   "its space stays closed",
				   q);
			err = nn_close_prefix(b, pf);
			if (err)
				return err;
			continue;
		}
		r->n_prefixes++;
	}
	return 0;
}

/* The user of a device: same network, by id; the first slot wins (two slots
 * with one id were both dropped by the per-network duplicate check).
 * @users maps the network's user ids to their first slot. */
static int device_user(struct nn_build *b, const struct nn_ent *e, const struct nn_strset *users,
		       const char *uid, uint32_t *out)
{
	const uint32_t *i = nn_strset_get(users, 0, uid);

	if (!i) {
		nn_ent_err(b, e, "user_id %s is not a user of this network", uid);
		return -EINVAL;
	}
	if (b->user_drop[*i]) {
		nn_ent_err(b, e, "its user %s was dropped", uid);
		return -EINVAL;
	}
	*out = *i;
	return 0;
}

/* The network's user ids -> first slot (empty ids, of users whose id did
 * not parse, never match a device's valid user_id). */
static int index_users(struct nn_build *b, const struct nn_net_stage *ns, struct nn_strset *set)
{
	uint32_t i;
	bool found;

	if (nn_strset_init(set, ns->n_users))
		return -ENOMEM;
	for (i = ns->first_user; i < ns->first_user + ns->n_users; i++)
		if (b->p->users[i].id[0] && !nn_strset_put(set, 0, b->p->users[i].id, i, &found))
			return -ENOMEM;
	return 0;
}

static int parse_device(struct nn_build *b, const struct nn_ent *ne, uint32_t ni, struct nn_jv *v,
			size_t i, uint32_t idx)
{
	static const struct nn_routing_layer none;
	struct nn_device *d = &b->p->devices[idx];
	struct nn_routing_layer pref;
	char uid[NN_NAME_MAX];
	struct nn_ent e;
	int64_t x;
	bool set;
	int err;

	b->dev_js[idx] = v;
	d->network = ni;
	d->keepalive = -1;
	nn_ent_init_at(&e, ne, "device", NULL, "devices", i);
	if (!nn_jv_is_object(v)) {
		nn_ent_err(b, &e, "%s is not an object", e.path);
		return -EINVAL;
	}
	err = nn_js_id(b, &e, v, "device_id", d->id);
	if (err)
		return err;
	nn_ent_init_at(&e, ne, "device", d->id, "devices", i);
	err = nn_js_id(b, &e, v, "user_id", uid);
	if (!err)
		err = device_user(b, &e, b->net_users, uid, &d->user);
	if (!err)
		err = nn_js_key(b, &e, v, "public_key", d->pubkey);
	if (!err)
		err = nn_js_overlay_addr(b, &e, v, "overlay_ipv6", NN_JS_REQUIRED, NN_FAM_V6,
					 d->addr6, NULL);
	if (!err)
		err = nn_js_overlay_addr(b, &e, v, "overlay_ipv4", NN_JS_OPTIONAL, NN_FAM_V4,
					 d->addr4, &d->has_addr4);
	if (!err)
		err = nn_js_endpoint(b, &e, v, d->endpoint);
	if (!err)
		err = nn_js_int(b, &e, v, "persistent_keepalive", NN_JS_OPTIONAL, 0, 65535, &x,
				&set);
	if (!err && set)
		d->keepalive = (int32_t)x;
	if (!err)
		err = nn_js_state(b, &e, v, &d->state);
	if (!err)
		err = nn_js_int(b, &e, v, "key_generation", NN_JS_OPTIONAL, 0, UINT32_MAX, &x,
				&set);
	if (!err && set)
		d->key_generation = (uint32_t)x;
	if (!err)
		err = nn_js_layer(b, &e, v, "routing_preference", &pref);
	if (!err && memcmp(&pref, &none, sizeof(pref))) {
		d->pref = malloc(sizeof(*d->pref));
		if (!d->pref)
			return -ENOMEM;
		*d->pref = pref;
	}
	return err;
}

static void drop_dup_user(struct nn_build *b, uint32_t i, size_t n)
{
	char l[NN_LABEL_MAX];

	b->user_drop[i] = true;
	nn_errlist_add(
		b->errs, "%s: user_id appears %zu times in the network; every copy dropped",
		nn_label_of(b, b->p->users[i].network, "user", b->p->users[i].id, l, sizeof(l)), n);
}

static void drop_dup_res(struct nn_build *b, uint32_t i, size_t n)
{
	char l[NN_LABEL_MAX];

	b->res_drop[i] = true;
	nn_errlist_add(b->errs,
		       "%s: resource_id appears %zu times in the network; every copy dropped",
		       nn_label_of(b, b->p->resources[i].network, "resource", b->p->resources[i].id,
				   l, sizeof(l)),
		       n);
}

/* Ids unique per network over the live slots [first, first + n). */
static int dup_in_range(struct nn_build *b, uint32_t first, uint32_t n, bool users)
{
	struct nn_skey *k = calloc(n + 1, sizeof(*k));
	size_t m = 0;
	uint32_t i;
	int err;

	if (!k)
		return -ENOMEM;
	for (i = first; i < first + n; i++) {
		if (users ? b->user_drop[i] : b->res_drop[i])
			continue;
		k[m].s = users ? b->p->users[i].id : b->p->resources[i].id;
		k[m++].idx = i;
	}
	err = nn_find_dups(k, m, users ? drop_dup_user : drop_dup_res, b);
	free(k);
	return err;
}

/* Parse a network's children (@j: the lists, the slot ranges), in an
 * order that lets devices resolve their user: users, resources, devices.
 * The ACL waits for the cross checks. Only -ENOMEM stops it. */
static int parse_children(struct nn_build *b, struct nn_vjob *j)
{
	const struct nn_ent *ne = &b->nets[j->ni].ent;
	struct nn_net_stage *ns = &b->nets[j->ni];
	struct nn_strset users_set = { 0 };
	uint32_t ni = j->ni;
	size_t i, since;
	struct nn_jv *v;
	int err;

	nn_jv_foreach(j->users, i, v)
	{
		since = nn_nerrs(b);
		err = parse_user(b, ne, ni, v, i, j->first_user + (uint32_t)i);
		if (err == -ENOMEM)
			return err;
		if (err) {
			b->user_drop[j->first_user + i] = true;
			nn_note_drop(b, since, "user and its devices");
		}
	}
	err = dup_in_range(b, ns->first_user, ns->n_users, true);
	if (err)
		return err;

	nn_jv_foreach(j->res, i, v)
	{
		since = nn_nerrs(b);
		err = parse_resource(b, ne, ni, v, i, j->first_res + (uint32_t)i);
		if (err == -ENOMEM)
			return err;
		if (err) {
			b->res_drop[j->first_res + i] = true;
			nn_note_drop(b, since, "resource");
		}
	}
	err = dup_in_range(b, ns->first_res, ns->n_res, false);
	if (err)
		return err;

	err = index_users(b, ns, &users_set);
	if (err) {
		nn_strset_free(&users_set);
		return err;
	}
	b->net_users = &users_set;
	nn_jv_foreach(j->devs, i, v)
	{
		since = nn_nerrs(b);
		err = parse_device(b, ne, ni, v, i, j->first_dev + (uint32_t)i);
		if (err == -ENOMEM)
			break;
		if (err) {
			b->dev_drop[j->first_dev + i] = true;
			nn_note_drop(b, since, "device");
			err = 0;
		}
	}
	b->net_users = NULL;
	nn_strset_free(&users_set);
	return err;
}

static int children_job(struct nn_build *tb, struct nn_vjob *j, void *arg)
{
	(void)arg;
	return parse_children(tb, j);
}

/* Every list element takes a slot, valid or not: the network's ranges are
 * known before any child is read, which lets the children of different
 * networks be read on different threads (validate_split.c). */
static int network_children(struct nn_build *b, uint32_t ni, struct nn_jv *users, struct nn_jv *res,
			    struct nn_jv *devs)
{
	struct nn_policy *p = b->p;
	struct nn_net_stage *ns = &b->nets[ni];
	struct nn_vjob j = { .ni = ni, .users = users, .res = res, .devs = devs };

	j.first_user = ns->first_user = (uint32_t)p->n_users;
	j.first_res = ns->first_res = (uint32_t)p->n_resources;
	j.first_dev = ns->first_dev = (uint32_t)p->n_devices;
	ns->n_users = (uint32_t)nn_jv_size(users);
	ns->n_res = (uint32_t)nn_jv_size(res);
	ns->n_devs = (uint32_t)nn_jv_size(devs);
	p->n_users += ns->n_users;
	p->n_resources += ns->n_res;
	p->n_devices += ns->n_devs;
	if (!b->jobs)
		return parse_children(b, &j);
	j.at = nn_nerrs(b);
	b->jobs[b->n_jobs++] = j;
	return 0;
}

static int parse_network(struct nn_build *b, const struct nn_ent *te, uint32_t ti, struct nn_jv *v,
			 size_t i)
{
	uint32_t idx = (uint32_t)b->p->n_networks++;
	struct nn_network *n = &b->p->networks[idx];
	struct nn_jv *users, *res, *devs;
	struct nn_ent e;
	size_t since = nn_nerrs(b);
	int err;

	b->net_js[idx] = v;
	n->tenant = ti;
	nn_ent_init_at(&e, te, "network", NULL, "networks", i);
	if (!nn_jv_is_object(v)) {
		nn_ent_err(b, &e, "%s is not an object", e.path);
		goto drop;
	}
	if (nn_js_id(b, &e, v, "network_id", n->id))
		goto drop;
	nn_ent_init_at(&e, te, "network", n->id, "networks", i);
	err = nn_js_id_list(b, &e, v, "gateways", NN_JS_REQUIRED, &n->gateways, &n->n_gateways);
	if (err == -ENOMEM)
		return err;
	/* A missing "acl" could be a missing deny rule: never read it as an
	 * empty list; the network goes instead. */
	if (err || nn_js_layer(b, &e, v, "routing_policy", &n->policy) ||
	    nn_js_array(b, &e, v, "acl", NN_JS_REQUIRED, &b->nets[idx].acl) ||
	    nn_js_array(b, &e, v, "users", NN_JS_REQUIRED, &users) ||
	    nn_js_array(b, &e, v, "resources", NN_JS_REQUIRED, &res) ||
	    nn_js_array(b, &e, v, "devices", NN_JS_REQUIRED, &devs))
		goto drop;
	b->nets[idx].ent = e;
	return network_children(b, idx, users, res, devs);
drop:
	b->net_drop[idx] = true;
	nn_note_drop(b, since, "network with everything in it");
	return 0;
}

static int parse_tenant(struct nn_build *b, struct nn_jv *v, size_t i)
{
	uint32_t idx = (uint32_t)b->p->n_tenants++;
	struct nn_tenant *t = &b->p->tenants[idx];
	size_t j, since = nn_nerrs(b);
	struct nn_ent e;
	struct nn_jv *nets, *nv;
	int err;

	b->ten_js[idx] = v;
	nn_ent_init_at(&e, NULL, "tenant", NULL, "tenants", i);
	if (!nn_jv_is_object(v)) {
		nn_ent_err(b, &e, "tenants[%zu] is not an object", i);
		goto drop;
	}
	if (nn_js_id(b, &e, v, "tenant_id", t->id))
		goto drop;
	nn_ent_init_at(&e, NULL, "tenant", t->id, "tenants", i);
	if (nn_js_array(b, &e, v, "networks", NN_JS_REQUIRED, &nets))
		goto drop;
	nn_jv_foreach(nets, j, nv)
	{
		err = parse_network(b, &e, idx, nv, j);
		if (err)
			return err;
	}
	return 0;
drop:
	b->ten_drop[idx] = true;
	nn_note_drop(b, since, "tenant with everything in it");
	return 0;
}

int nn_validate_entries(struct nn_build *b)
{
	struct nn_jv *root = b->root, *arr, *v;
	struct nn_ent e;
	size_t i, since = nn_nerrs(b);
	int err;

	nn_ent_init(&e, NULL, "snapshot", NULL, "%s", "");
	nn_bprintf(e.label, sizeof(e.label), "snapshot");
	/* The lists themselves are structure: without them nothing can be
	 * read as a whole. */
	err = nn_js_array(b, &e, root, "nodes", NN_JS_REQUIRED, &arr);
	if (err)
		return nn_reject_last(b, since);
	nn_jv_foreach(arr, i, v)
	{
		size_t s = nn_nerrs(b);

		err = parse_node(b, v, i);
		if (err == -ENOMEM)
			return err;
		if (err) {
			b->node_drop[b->p->n_nodes - 1] = true;
			nn_note_drop(b, s, "node");
		}
	}
	since = nn_nerrs(b);
	err = nn_js_array(b, &e, root, "tenants", NN_JS_REQUIRED, &arr);
	if (err)
		return nn_reject_last(b, since);
	/* Enough work for two threads: the networks' children are queued
	 * by the walk and read after it. */
	if (b->cap_users + b->cap_resources + b->cap_devices >= nn_validate_par_min &&
	    b->cap_networks > 1) {
		b->jobs = calloc(b->cap_networks, sizeof(*b->jobs));
		if (!b->jobs)
			return -ENOMEM;
	}
	nn_jv_foreach(arr, i, v)
	{
		err = parse_tenant(b, v, i);
		if (err)
			break;
	}
	if (!err && b->jobs)
		err = nn_split_jobs(b, b->jobs, b->n_jobs, children_job, (void *[2]){ NULL, NULL });
	nn_stamp("v.children");
	free(b->jobs);
	b->jobs = NULL;
	b->n_jobs = 0;
	if (err)
		return err;
	nn_acl_prepare(b);
	nn_stamp("v.acl_prepared");
	return nn_cross_checks(b);
}
