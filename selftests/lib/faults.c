// SPDX-License-Identifier: GPL-2.0
/*
 * faults.c - break one entry of a valid snapshot per assignments-v1.md
 * "Validation" rule (see faults.h). The snapshot is edited as a JSON tree
 * (jansson), so every fault is exactly what a control plane could send.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"

static const char *const names[FLT_COUNT] = {
	[FLT_RES_DUP_ID] = "resource duplicate id",
	[FLT_RES_HOST_BITS] = "resource prefix host bits",
	[FLT_RES_DEFAULT] = "resource prefix ::/0 or 0.0.0.0/0",
	[FLT_RES_OVERLAY] = "resource prefix overlapping the overlay",
	[FLT_RES_CROSS_TENANT] = "resource prefix of another tenant",
	[FLT_RES_BAD_ID] = "resource id too long",
	[FLT_DEV_DUP_ID] = "device duplicate id",
	[FLT_DEV_OUTSIDE] = "device address outside the overlay",
	[FLT_DEV_PREFIX] = "device address is a prefix",
	[FLT_DEV_BAD_ADDR] = "device address does not parse",
	[FLT_DEV_DUP_ADDR] = "device address used twice",
	[FLT_DEV_BAD_KEY] = "device key not 32 bytes",
	[FLT_DEV_DUP_KEY] = "device key used twice",
	[FLT_DEV_BAD_USER] = "device user not of the network",
	[FLT_DEV_LONG_ID] = "device id too long",
	[FLT_DEV_BAD_EGRESS] = "device manual egress not a gateway of its network",
	[FLT_NET_NO_ACL] = "network without acl",
	[FLT_NET_DUP_ID] = "network duplicate id",
	[FLT_TEN_DUP_ID] = "tenant duplicate id",
	[FLT_TEN_LONG_ID] = "tenant id too long",
	[FLT_NODE_DUP_ID] = "node duplicate id",
	[FLT_NODE_OUTSIDE] = "node address outside the overlay",
	[FLT_ACL_UNKNOWN_REF] = "ACL rule names a device of another network",
	[FLT_ACL_BAD_PORT] = "ACL rule port out of range",
	[FLT_ACL_DUP_ID] = "ACL rule duplicate id",
};

const char *flt_name(enum flt_kind k)
{
	return k < FLT_COUNT ? names[k] : "?";
}

/* One entry of the tree with the tenant and network it sits in. */
struct ent {
	json_t *v, *net, *ten;
};

struct ents {
	struct ent e[512];
	size_t n;
};

static void push(struct ents *s, json_t *v, json_t *net, json_t *ten)
{
	if (s->n < sizeof(s->e) / sizeof(s->e[0]))
		s->e[s->n++] = (struct ent){ v, net, ten };
}

/* Every entry of @list ("resources", "devices", "acl") of every network;
 * "networks" and "tenants" list those themselves. */
static void collect(json_t *root, const char *list, struct ents *out)
{
	json_t *tens = json_object_get(root, "tenants"), *t, *n, *x;
	size_t i, j, k;

	out->n = 0;
	json_array_foreach(tens, i, t)
	{
		if (!strcmp(list, "tenants")) {
			push(out, t, NULL, t);
			continue;
		}
		json_array_foreach(json_object_get(t, "networks"), j, n)
		{
			if (!strcmp(list, "networks")) {
				push(out, n, n, t);
				continue;
			}
			json_array_foreach(json_object_get(n, list), k, x) push(out, x, n, t);
		}
	}
}

static const struct ent *pick(struct nn_rng *r, const struct ents *s)
{
	return s->n ? &s->e[rng_below(r, (uint32_t)s->n)] : NULL;
}

static const char *str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* ---- the space an entry claims, read as leniently as possible: a
 * prefix with host bits counts masked, an address as /128 ---- */

static void claim(struct flt_result *o, const char *s)
{
	struct nn_prefix pf;
	int err;

	if (!s || o->n_space == FLT_MAX_SPACE)
		return;
	err = nn_prefix_parse(s, &pf, NULL);
	if (err == -EDOM) {
		nn_addr_mask(pf.addr, pf.addr, NN_ADDR_LEN, pf.len);
		err = 0;
	}
	if (err) {
		if (nn_addr_parse(s, pf.addr, NULL))
			return;
		pf.len = 128;
	}
	o->space[o->n_space++] = pf;
}

static void claim_resource(struct flt_result *o, json_t *res)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(res, "prefixes"), i, v) claim(o, json_string_value(v));
}

static void claim_device(struct flt_result *o, json_t *dev)
{
	claim(o, str(dev, "overlay_ipv6"));
	claim(o, str(dev, "overlay_ipv4"));
}

static void claim_network(struct flt_result *o, json_t *net)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(net, "resources"), i, v) claim_resource(o, v);
	json_array_foreach(json_object_get(net, "devices"), i, v) claim_device(o, v);
}

static void claim_tenant(struct flt_result *o, json_t *ten)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(ten, "networks"), i, v) claim_network(o, v);
}

static void set_tenant(struct flt_result *o, int i, json_t *ten)
{
	const char *id = str(ten, "tenant_id");

	snprintf(o->tenant[i], sizeof(o->tenant[i]), "%s", id ? id : "");
}

static void set_str(json_t *obj, const char *key, const char *v)
{
	json_object_set_new(obj, key, json_string(v));
}

static const char *long_id(void)
{
	static char s[NN_NAME_MAX + 40];

	memset(s, 'x', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	return s;
}

/* Another entry than @a in @s, or NULL. */
static const struct ent *other(struct nn_rng *r, const struct ents *s, const struct ent *a)
{
	const struct ent *b;
	int tries;

	for (tries = 0; tries < 16 && s->n > 1; tries++) {
		b = pick(r, s);
		if (b->v != a->v)
			return b;
	}
	return NULL;
}

/* ---- resources ---- */

static int res_fault(json_t *root, enum flt_kind k, struct nn_rng *r, struct flt_result *o)
{
	static const char *const overlay[] = { "fd7a:6e61:6e61:ff00::/56", "fd7a:6e00::/24",
					       "100.111.0.0/16", "100.64.0.0/10" };
	struct ents rs, all;
	const struct ent *a, *b;
	json_t *pfx, *v;
	char buf[NN_PREFIX_STRLEN];
	struct nn_prefix pf;
	size_t i;

	collect(root, "resources", &rs);
	a = pick(r, &rs);
	if (!a)
		return -ENOENT;
	pfx = json_object_get(a->v, "prefixes");
	set_tenant(o, 0, a->ten);
	switch (k) {
	case FLT_RES_DUP_ID:
		/* Another resource of the same network, or a second copy. */
		b = NULL;
		for (i = 0; i < rs.n && !b; i++)
			if (rs.e[i].net == a->net && rs.e[i].v != a->v)
				b = &rs.e[i];
		if (b) {
			set_str(a->v, "resource_id", str(b->v, "resource_id"));
			claim_resource(o, b->v);
		} else {
			json_array_append_new(json_object_get(a->net, "resources"),
					      json_deep_copy(a->v));
		}
		claim_resource(o, a->v);
		return 0;
	case FLT_RES_HOST_BITS:
		i = rng_below(r, (uint32_t)json_array_size(pfx));
		if (nn_prefix_parse(json_string_value(json_array_get(pfx, i)), &pf, NULL) ||
		    pf.len >= 128)
			return -ENOENT;
		/* The last bit of the address: beyond any length < 128. */
		pf.addr[15] |= 1;
		nn_addr_format(pf.addr, buf, sizeof(buf));
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%u",
			 nn_addr_is_v4mapped(pf.addr) ? pf.len - 96u : pf.len);
		json_array_set_new(pfx, i, json_string(buf));
		claim_resource(o, a->v);
		return 0;
	case FLT_RES_DEFAULT:
		claim_resource(o, a->v);
		json_array_append_new(pfx, json_string(rng_pct(r, 50) ? "::/0" : "0.0.0.0/0"));
		return 0;
	case FLT_RES_OVERLAY:
		/* Only that prefix goes; it must stay closed. */
		v = json_string(overlay[rng_below(r, 4)]);
		claim(o, json_string_value(v));
		json_array_append_new(pfx, v);
		return 0;
	case FLT_RES_CROSS_TENANT:
		collect(root, "resources", &all);
		for (i = 0, b = NULL; i < all.n && !b; i++)
			if (all.e[i].ten != a->ten)
				b = &all.e[i];
		if (!b)
			return -ENOENT;
		set_tenant(o, 1, b->ten);
		json_array_append(pfx, json_array_get(json_object_get(b->v, "prefixes"), 0));
		o->whole = true;
		return 0;
	default: /* FLT_RES_BAD_ID */
		set_str(a->v, "resource_id", long_id());
		claim_resource(o, a->v);
		return 0;
	}
}

/* ---- devices ---- */

static int dev_fault(json_t *root, enum flt_kind k, struct nn_rng *r, struct flt_result *o)
{
	struct ents ds;
	const struct ent *a, *b;
	const char *s;
	char buf[NN_PREFIX_STRLEN + 8];
	json_t *pref;

	collect(root, "devices", &ds);
	a = pick(r, &ds);
	if (!a)
		return -ENOENT;
	b = other(r, &ds, a);
	set_tenant(o, 0, a->ten);
	switch (k) {
	case FLT_DEV_DUP_ID:
	case FLT_DEV_DUP_ADDR:
	case FLT_DEV_DUP_KEY:
		if (!b)
			return -ENOENT;
		set_tenant(o, 1, b->ten);
		s = k == FLT_DEV_DUP_ID	 ? "device_id" :
		    k == FLT_DEV_DUP_KEY ? "public_key" :
					   "overlay_ipv6";
		set_str(a->v, s, str(b->v, s));
		claim_device(o, b->v);
		break;
	case FLT_DEV_OUTSIDE:
		if (rng_pct(r, 50))
			set_str(a->v, "overlay_ipv4", "198.51.100.77");
		else
			set_str(a->v, "overlay_ipv6", "2001:db8:ff::7");
		break;
	case FLT_DEV_PREFIX:
		snprintf(buf, sizeof(buf), "%s/64", str(a->v, "overlay_ipv6"));
		set_str(a->v, "overlay_ipv6", buf);
		break;
	case FLT_DEV_BAD_ADDR:
		set_str(a->v, "overlay_ipv6", "fd7a:6e61:6e61:zz::1");
		break;
	case FLT_DEV_BAD_KEY:
		set_str(a->v, "public_key", "AAAA");
		break;
	case FLT_DEV_BAD_USER:
		set_str(a->v, "user_id", "no-such-user");
		break;
	case FLT_DEV_LONG_ID:
		set_str(a->v, "device_id", long_id());
		break;
	default: /* FLT_DEV_BAD_EGRESS */
		/* An active one, or its packets stop at revoked already. */
		if (strcmp(str(a->v, "state"), "active"))
			return -ENOENT;
		pref = json_pack("{s:s, s:s, s:s}", "traffic_mode", "full_tunnel", "routing_mode",
				 "manual", "egress_device", "no-such-gateway");
		json_object_set_new(a->v, "routing_preference", pref);
		o->n_noegress = 0;
		if (!nn_addr_parse(str(a->v, "overlay_ipv6"), o->noegress[0], NULL))
			o->n_noegress++;
		if (str(a->v, "overlay_ipv4") &&
		    !nn_addr_parse(str(a->v, "overlay_ipv4"), o->noegress[o->n_noegress], NULL))
			o->n_noegress++;
		return 0;
	}
	claim_device(o, a->v);
	return 0;
}

/* ---- networks, tenants, nodes ---- */

static int net_fault(json_t *root, enum flt_kind k, struct nn_rng *r, struct flt_result *o)
{
	struct ents ns;
	const struct ent *a, *b;

	collect(root, k == FLT_NET_NO_ACL || k == FLT_NET_DUP_ID ? "networks" : "tenants", &ns);
	a = pick(r, &ns);
	if (!a)
		return -ENOENT;
	set_tenant(o, 0, a->ten);
	switch (k) {
	case FLT_NET_NO_ACL:
		json_object_del(a->v, "acl");
		claim_network(o, a->v);
		return 0;
	case FLT_NET_DUP_ID:
		b = other(r, &ns, a);
		if (!b)
			return -ENOENT;
		set_tenant(o, 1, b->ten);
		set_str(a->v, "network_id", str(b->v, "network_id"));
		claim_network(o, a->v);
		claim_network(o, b->v);
		return 0;
	case FLT_TEN_DUP_ID:
		b = other(r, &ns, a);
		if (!b)
			return -ENOENT;
		set_tenant(o, 1, b->ten);
		set_str(a->v, "tenant_id", str(b->v, "tenant_id"));
		claim_tenant(o, a->v);
		claim_tenant(o, b->v);
		return 0;
	default: /* FLT_TEN_LONG_ID */
		set_str(a->v, "tenant_id", long_id());
		claim_tenant(o, a->v);
		return 0;
	}
}

static int node_fault(json_t *root, enum flt_kind k, struct nn_rng *r, struct flt_result *o)
{
	json_t *nodes = json_object_get(root, "nodes"), *a, *b;
	size_t n = json_array_size(nodes), i;

	if (n < 2)
		return -ENOENT;
	i = rng_below(r, (uint32_t)n);
	a = json_array_get(nodes, i);
	b = json_array_get(nodes, (i + 1) % n);
	if (k == FLT_NODE_DUP_ID) {
		set_str(a, "node_id", str(b, "node_id"));
		claim(o, str(b, "overlay_ipv6"));
	} else {
		set_str(a, "overlay_ipv6", "2001:db8:ff::11");
	}
	claim(o, str(a, "overlay_ipv6"));
	return 0;
}

/* ---- ACL rules: an allow rule goes alone, a deny rule cannot ---- */

static int acl_fault(json_t *root, enum flt_kind k, struct nn_rng *r, struct flt_result *o)
{
	struct ents rs, ds;
	const struct ent *a, *b = NULL;
	json_t *src;
	size_t i;

	collect(root, "acl", &rs);
	a = pick(r, &rs);
	if (!a)
		return -ENOENT;
	set_tenant(o, 0, a->ten);
	o->whole = !strcmp(str(a->v, "action"), "deny");
	switch (k) {
	case FLT_ACL_UNKNOWN_REF:
		/* A device that exists, but in another network. */
		collect(root, "devices", &ds);
		for (i = 0; i < ds.n && !b; i++)
			if (ds.e[i].net != a->net)
				b = &ds.e[i];
		if (!b)
			return -ENOENT;
		src = json_pack("{s:[s]}", "devices", str(b->v, "device_id"));
		json_object_set_new(a->v, "src", src);
		return 0;
	case FLT_ACL_BAD_PORT:
		json_object_set_new(a->v, "proto", json_string("tcp"));
		json_object_set_new(a->v, "ports", json_pack("[s]", "70000"));
		return 0;
	default: /* FLT_ACL_DUP_ID */
		for (i = 0; i < rs.n && !b; i++)
			if (rs.e[i].net == a->net && rs.e[i].v != a->v)
				b = &rs.e[i];
		if (!b)
			return -ENOENT;
		o->whole |= !strcmp(str(b->v, "action"), "deny");
		set_str(a->v, "rule_id", str(b->v, "rule_id"));
		return 0;
	}
}

int flt_inject(const char *json, enum flt_kind k, struct nn_rng *r, struct flt_result *out)
{
	json_error_t jerr;
	json_t *root;
	int err;

	memset(out, 0, sizeof(*out));
	out->what = flt_name(k);
	root = json_loads(json, 0, &jerr);
	if (!root)
		return -EINVAL;
	if (k <= FLT_RES_BAD_ID)
		err = res_fault(root, k, r, out);
	else if (k <= FLT_DEV_BAD_EGRESS)
		err = dev_fault(root, k, r, out);
	else if (k <= FLT_TEN_LONG_ID)
		err = net_fault(root, k, r, out);
	else if (k <= FLT_NODE_OUTSIDE)
		err = node_fault(root, k, r, out);
	else if (k < FLT_COUNT)
		err = acl_fault(root, k, r, out);
	else
		err = -EINVAL;
	if (!err) {
		out->json = json_dumps(root, JSON_COMPACT);
		if (!out->json)
			err = -ENOMEM;
	}
	json_decref(root);
	return err;
}

void flt_result_free(struct flt_result *f)
{
	free(f->json);
	f->json = NULL;
}
