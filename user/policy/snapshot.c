// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot.c - read an assignments snapshot (assignments-v1.md): size and
 * nesting bounds on the raw bytes, strict JSON (jdoc.c), the top-level fields and the
 * gateway block, then validate*.c and routing.c; and freeing the result.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "policy/json_int.h"
#include "lib/stamp.h"

/* A whole snapshot holds at most one copy of the device list and then some;
 * 128 MiB leaves room for NN_DEF_MAX_DEVICES devices of ~700 bytes each. */
#define NN_DEF_MAX_BODY (128u << 20)
/* The deepest legitimate path is root{tenants[{networks[{acl[{src{devices[
 * (9 levels); 32 leaves room for additions without inviting abuse. */
#define NN_DEF_MAX_DEPTH 32
/* Nodes are full-mesh WireGuard peers of this gateway; a few thousand is
 * already a very large mesh. */
#define NN_DEF_MAX_NODES 4096

void nn_limits_default(struct nn_limits *lim)
{
	lim->max_body = NN_DEF_MAX_BODY;
	lim->max_depth = NN_DEF_MAX_DEPTH;
	lim->max_devices = NN_DEF_MAX_DEVICES;
	lim->max_rules = NN_DEF_MAX_RULES;
	lim->max_prefixes = NN_DEF_MAX_PREFIXES;
	lim->max_nodes = NN_DEF_MAX_NODES;
}

/* ---- raw bytes, document, counts ---- */

struct counts {
	size_t tenants, networks, users, devices, nodes, resources, rules;
	size_t prefixes;
};

static size_t arr_size(struct nn_jv *obj, const char *key)
{
	struct nn_jv *v = nn_jv_get(obj, key);

	return nn_jv_is_array(v) ? nn_jv_size(v) : 0;
}

/* Count what the document holds (wrong types count as nothing; the typed
 * pass reports them). Limits apply to what was sent, before any entry is
 * dropped, so the verdict does not depend on validation order. */
static void count_entries(struct nn_jv *root, struct counts *c)
{
	struct nn_jv *tenants = nn_jv_get(root, "tenants");
	struct nn_jv *t, *n, *r, *dst, *nets, *list;
	size_t i, j, k;

	memset(c, 0, sizeof(*c));
	c->nodes = arr_size(root, "nodes");
	c->prefixes = arr_size(nn_jv_get(root, "gateway"), "overlay_prefixes");
	if (!nn_jv_is_array(tenants))
		return;
	c->tenants = nn_jv_size(tenants);
	nn_jv_foreach(tenants, i, t)
	{
		nets = nn_jv_get(t, "networks");
		if (!nn_jv_is_array(nets))
			continue;
		c->networks += nn_jv_size(nets);
		nn_jv_foreach(nets, j, n)
		{
			c->users += arr_size(n, "users");
			c->devices += arr_size(n, "devices");
			list = nn_jv_get(n, "resources");
			if (nn_jv_is_array(list)) {
				c->resources += nn_jv_size(list);
				nn_jv_foreach(list, k, r) c->prefixes += arr_size(r, "prefixes");
			}
			list = nn_jv_get(n, "acl");
			if (nn_jv_is_array(list)) {
				c->rules += nn_jv_size(list);
				nn_jv_foreach(list, k, r)
				{
					dst = nn_jv_get(r, "dst");
					c->prefixes += arr_size(dst, "prefixes");
				}
			}
		}
	}
}

static int check_limits(struct nn_build *b, const struct counts *c)
{
	const struct nn_limits *l = b->lim;

	/* Each names the flag that raises it (assignments-v1.md). */
	if (c->devices > l->max_devices)
		return nn_reject(b, "%zu devices exceed the capacity of %zu; raise --max-devices",
				 c->devices, l->max_devices);
	if (c->rules > l->max_rules)
		return nn_reject(b, "%zu ACL rules exceed the capacity of %zu; raise --max-rules",
				 c->rules, l->max_rules);
	if (c->prefixes > l->max_prefixes)
		return nn_reject(b,
				 "%zu prefixes (overlay, resource and ACL) exceed the capacity of "
				 "%zu; raise --max-prefixes",
				 c->prefixes, l->max_prefixes);
	if (c->nodes > l->max_nodes)
		return nn_reject(b, "%zu nodes exceed the capacity of %zu; raise --max-nodes",
				 c->nodes, l->max_nodes);
	return 0;
}

static void *alloc_n(size_t n, size_t size)
{
	/* calloc(0) may return NULL; one spare element keeps NULL = error. */
	return calloc(n ? n : 1, size);
}

static int alloc_build(struct nn_build *b, const struct counts *c)
{
	struct nn_policy *p = b->p;

	b->cap_tenants = c->tenants;
	b->cap_networks = c->networks;
	b->cap_users = c->users;
	b->cap_devices = c->devices;
	b->cap_nodes = c->nodes;
	b->cap_resources = c->resources;
	b->cap_rules = c->rules;
	p->tenants = alloc_n(c->tenants, sizeof(*p->tenants));
	p->networks = alloc_n(c->networks, sizeof(*p->networks));
	p->users = alloc_n(c->users, sizeof(*p->users));
	p->devices = alloc_n(c->devices, sizeof(*p->devices));
	p->nodes = alloc_n(c->nodes, sizeof(*p->nodes));
	p->resources = alloc_n(c->resources, sizeof(*p->resources));
	p->rules = alloc_n(c->rules, sizeof(*p->rules));
	b->ten_drop = alloc_n(c->tenants, sizeof(bool));
	b->net_drop = alloc_n(c->networks, sizeof(bool));
	b->user_drop = alloc_n(c->users, sizeof(bool));
	b->dev_drop = alloc_n(c->devices, sizeof(bool));
	b->node_drop = alloc_n(c->nodes, sizeof(bool));
	b->res_drop = alloc_n(c->resources, sizeof(bool));
	b->rule_drop = alloc_n(c->rules, sizeof(bool));
	b->nets = alloc_n(c->networks, sizeof(*b->nets));
	b->ten_js = alloc_n(c->tenants, sizeof(struct nn_jv *));
	b->net_js = alloc_n(c->networks, sizeof(struct nn_jv *));
	b->res_js = alloc_n(c->resources, sizeof(struct nn_jv *));
	b->dev_js = alloc_n(c->devices, sizeof(struct nn_jv *));
	b->node_js = alloc_n(c->nodes, sizeof(struct nn_jv *));
	if (!p->tenants || !p->networks || !p->users || !p->devices || !p->nodes || !p->resources ||
	    !p->rules || !b->ten_drop || !b->net_drop || !b->user_drop || !b->dev_drop ||
	    !b->node_drop || !b->res_drop || !b->rule_drop || !b->nets || !b->ten_js ||
	    !b->net_js || !b->res_js || !b->dev_js || !b->node_js)
		return -ENOMEM;
	return 0;
}

static void free_build(struct nn_build *b)
{
	free(b->ten_drop);
	free(b->net_drop);
	free(b->user_drop);
	free(b->dev_drop);
	free(b->node_drop);
	free(b->res_drop);
	free(b->rule_drop);
	free(b->nets);
	free(b->ten_js);
	free(b->net_js);
	free(b->res_js);
	free(b->dev_js);
	free(b->node_js);
	free(b->closed);
}

/* ---- top level and gateway: any error here rejects the snapshot ---- */

static int parse_gateway(struct nn_build *b, struct nn_jv *root)
{
	struct nn_gateway *gw = &b->p->gw;
	struct nn_ent e;
	struct nn_jv *g, *arr, *v;
	char q[NN_PREFIX_STRLEN + 8];
	int64_t x;
	size_t i;
	int err;

	nn_ent_init(&e, NULL, "gateway", b->p->node_id, "gateway");
	err = nn_js_object(b, &e, root, "gateway", NN_JS_REQUIRED, &g);
	if (err)
		return err;
	err = nn_js_roles(b, &e, g, &gw->roles);
	if (err)
		return err;
	err = nn_js_array(b, &e, g, "overlay_prefixes", NN_JS_REQUIRED, &arr);
	if (err)
		return err;
	if (!nn_jv_size(arr)) {
		nn_ent_err(b, &e, "overlay_prefixes is empty");
		return -EINVAL;
	}
	gw->overlay_prefixes = calloc(nn_jv_size(arr), sizeof(*gw->overlay_prefixes));
	if (!gw->overlay_prefixes)
		return -ENOMEM;
	nn_jv_foreach(arr, i, v)
	{
		struct nn_prefix *pf = &gw->overlay_prefixes[i];
		const char *s = nn_jv_str(v);

		if (!s) {
			nn_ent_err(b, &e,
				   "gateway.overlay_prefixes[%zu]: expected a string, got %s", i,
				   nn_json_type(v));
			return -EINVAL;
		}
		err = nn_prefix_parse(s, pf, NULL);
		if (err == -EDOM) {
			nn_ent_err(
				b, &e,
				"overlay_prefixes[%zu] \"%s\" has host bits set beyond its length",
				i, nn_quote(s, q, sizeof(q)));
			return -EINVAL;
		}
		if (err) {
			nn_ent_err(b, &e, "overlay_prefixes[%zu] \"%s\" is not a prefix", i,
				   nn_quote(s, q, sizeof(q)));
			return -EINVAL;
		}
		if (nn_prefix_is_default(pf)) {
			nn_ent_err(b, &e, "overlay_prefixes[%zu] %s would cover everything", i,
				   nn_quote(s, q, sizeof(q)));
			return -EINVAL;
		}
		gw->n_overlay_prefixes++;
	}
	err = nn_js_overlay_addr(b, &e, g, "overlay_ipv6", NN_JS_REQUIRED, NN_FAM_V6, gw->ov6,
				 NULL);
	if (err)
		return err;
	err = nn_js_overlay_addr(b, &e, g, "overlay_ipv4", NN_JS_OPTIONAL, NN_FAM_V4, gw->ov4,
				 &gw->has_ov4);
	if (err)
		return err;
	err = nn_js_int(b, &e, g, "listen_port", NN_JS_REQUIRED, 1, 65535, &x, NULL);
	if (err)
		return err;
	gw->listen_port = (uint16_t)x;
	err = nn_js_int(b, &e, g, "mtu", NN_JS_REQUIRED, 1280, 9000, &x, NULL);
	if (err)
		return err;
	gw->mtu = (uint16_t)x;
	nn_gw_key_read(g, &gw->key);
	return 0;
}

static int parse_top(struct nn_build *b, struct nn_jv *root, const char *node_id)
{
	struct nn_policy *p = b->p;
	const char *s;
	struct nn_ent e;
	char q[80];
	int64_t gen;
	int err;

	nn_ent_init(&e, NULL, "snapshot", "?", "snapshot");
	snprintf(e.label, sizeof(e.label), "snapshot");
	e.path[0] = '\0';
	err = nn_js_string(b, &e, root, "api_version", NN_JS_REQUIRED, &s);
	if (err)
		return err;
	if (strcmp(s, "v1")) {
		nn_ent_err(b, &e, "api_version \"%s\" is not \"v1\"", nn_quote(s, q, sizeof(q)));
		return -EINVAL;
	}
	err = nn_js_id(b, &e, root, "node_id", p->node_id);
	if (err)
		return err;
	if (node_id && strcmp(p->node_id, node_id)) {
		nn_ent_err(b, &e, "node_id \"%s\" is not this gateway (%s)", p->node_id,
			   nn_quote(node_id, q, sizeof(q)));
		return -EINVAL;
	}
	err = nn_js_int(b, &e, root, "generation", NN_JS_REQUIRED, 0, INT64_MAX, &gen, NULL);
	if (err)
		return err;
	p->generation = (uint64_t)gen;
	err = parse_gateway(b, root);
	if (err)
		return err;
	nn_ent_init(&e, NULL, "system_defaults", "", "%s", "");
	snprintf(e.label, sizeof(e.label), "system_defaults");
	return nn_js_layer(b, &e, root, "system_defaults", &p->defaults);
}

/* From this much text a parse has had helper threads (jdoc.c splits from
 * 1 MB; validation from a few thousand entries, ~2 MB of text). */
#define TRIM_MIN (4u << 20)

/* Containers nested in @v, @v included (the parser's depth: the root
 * object is 1), counted no further than @stop. */
static size_t tree_depth(const struct nn_jv *v, size_t stop)
{
	size_t i, d, max = 0;

	if (v->type != NN_JV_OBJECT && v->type != NN_JV_ARRAY)
		return 0;
	if (stop <= 1)
		return 1;
	for (i = 0; i < v->n && max < stop - 1; i++) {
		d = tree_depth(&v->u.m[i].v, stop - 1);
		if (d > max)
			max = d;
	}
	return max + 1;
}

int nn_policy_tree_fits(const struct nn_jv *root, size_t len, const struct nn_limits *lim)
{
	struct nn_limits def;

	if (!lim) {
		nn_limits_default(&def);
		lim = &def;
	}
	if (len > lim->max_body)
		return -EFBIG;
	return tree_depth(root, lim->max_depth + 1) > lim->max_depth ? -E2BIG : 0;
}

/* Validation of a parsed document (both entry points): everything after
 * the JSON itself. */
static int from_tree(struct nn_jv *root, const char *node_id, const struct nn_limits *lim,
		     struct nn_policy **out, struct nn_errlist *errs)
{
	struct nn_build b = { .errs = errs, .lim = lim, .root = root };
	struct counts c;
	size_t since;
	int err;

	if (!nn_jv_is_object(b.root)) {
		err = nn_reject(&b, "top level is a JSON %s, not an object", nn_json_type(b.root));
		goto out;
	}
	b.p = calloc(1, sizeof(*b.p));
	if (!b.p) {
		err = -ENOMEM;
		goto out;
	}
	since = errs ? errs->n : 0;
	err = parse_top(&b, b.root, node_id);
	if (err == -EINVAL)
		err = nn_reject_last(&b, since);
	if (err)
		goto out;
	count_entries(b.root, &c);
	err = check_limits(&b, &c);
	if (err)
		goto out;
	err = alloc_build(&b, &c);
	if (err)
		goto out;
	nn_stamp("v.top");
	/* These return -EINVAL with the reason already last in @errs. */
	err = nn_validate_entries(&b);
	if (err)
		goto out;
	nn_stamp("v.entries");
	err = nn_validate_acls(&b);
	if (err)
		goto out;
	nn_stamp("v.acls");
	err = nn_collect_closed(&b);
	if (err)
		goto out;
	nn_stamp("v.closed");
	err = nn_compact(&b);
	if (err)
		goto out;
	nn_stamp("v.compact");
	nn_resolve_routing(b.p, errs);
	nn_stamp("v.routing");
	*out = b.p;
	b.p = NULL;
out:
	if (err == -ENOMEM)
		nn_errlist_add(errs, "snapshot rejected: out of memory");
	/* The ACL's indexes may still be being built from the policy. */
	nn_acl_pre_drop(&b);
	nn_policy_free(b.p);
	free_build(&b);
	nn_stamp("v.freed");
	return err;
}

/* What the helper threads built and freed (the ACL's name indexes, the
 * per-network indexes) is free space in their own malloc arenas, which
 * this thread's next allocations (the compile, the applier's contents)
 * cannot reuse: handed back to the system, or at 1M devices the apply's
 * peak RSS is ~250 MB higher. (The document's tree, half of it built by
 * a helper, is freed after: see nn_policy_parse.) */
static void trim_after(size_t len)
{
	if (len >= TRIM_MIN)
		malloc_trim(0);
}

int nn_policy_parse(const char *json, size_t len, const char *node_id, const struct nn_limits *lim,
		    struct nn_policy **out, struct nn_errlist *errs)
{
	struct nn_build b = { .errs = errs };
	struct nn_limits def;
	struct nn_jdoc doc = { 0 };
	char jerr[160];
	size_t at;
	int err;

	*out = NULL;
	if (!lim) {
		nn_limits_default(&def);
		lim = &def;
	}
	b.lim = lim;
	if (!json)
		return nn_reject(&b, "no body");
	if (len > lim->max_body)
		return nn_reject(&b, "body of %zu bytes exceeds the limit of %zu bytes", len,
				 lim->max_body);
	/* Depth is checked on the raw bytes before any tree is built. */
	nn_stamp("parse");
	switch (nn_jdoc_parse(json, len, lim->max_depth, &doc, jerr, sizeof(jerr), &at)) {
	case NN_JDOC_OK:
		break;
	case NN_JDOC_DEPTH:
		return nn_reject(&b, "JSON nesting deeper than %zu levels (at byte %zu)",
				 lim->max_depth, at);
	case NN_JDOC_SYNTAX:
		return nn_reject(&b, "invalid JSON at %s", jerr);
	default:
		nn_errlist_add(errs, "snapshot rejected: out of memory");
		return -ENOMEM;
	}
	nn_stamp("parse.tree");
	err = from_tree(doc.root, node_id, lim, out, errs);
	/* Trimmed before the document is freed: what goes back is the
	 * helpers' garbage, while the document's blocks, freed after, are
	 * there for the compile's tables to reuse (at 1M devices the compile
	 * otherwise faults in and zeroes ~0.4-1 s of fresh pages). */
	nn_stamp("parse.trimmed");
	trim_after(len);
	nn_jdoc_free(&doc);
	nn_stamp("parse.end");
	return err;
}

int nn_policy_from_tree(const struct nn_jv *root, size_t len, const char *node_id,
			const struct nn_limits *lim, struct nn_policy **out,
			struct nn_errlist *errs)
{
	struct nn_limits def;
	int err;

	*out = NULL;
	if (!lim) {
		nn_limits_default(&def);
		lim = &def;
	}
	if (nn_policy_tree_fits(root, len, lim)) {
		nn_errlist_add(errs, "snapshot rejected: over the body or nesting limit: "
				     "validate its text (nn_policy_parse) for where");
		return -EINVAL;
	}
	/* Read only (the getters take non-const pointers for the build's
	 * borrowed slots: nothing writes through them). */
	err = from_tree((struct nn_jv *)root, node_id, lim, out, errs);
	trim_after(len);
	return err;
}
