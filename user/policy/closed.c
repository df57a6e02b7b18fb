// SPDX-License-Identifier: GPL-2.0
/*
 * closed.c - the address space of dropped entries (assignments-v1.md,
 * "Validation": dropping an entry must never open what it covered).
 *
 * A dropped resource, device, node, network or tenant still said which
 * addresses were its own; had the gateway forgotten them, they would turn
 * internet-bound and any full-tunnel device could reach them. So the claims
 * are read back from the document, as leniently as the text allows: a
 * prefix with host bits counts masked (a superset of what was meant), an
 * address where a prefix belongs counts as /128, a prefix where an address
 * belongs counts as that prefix, ::/0 counts as all of IPv6. What cannot be
 * read as an address at all claims nothing, since nothing could reach it as
 * that entry either. The result becomes p->closed; the compiler and the
 * model keep it closed (docs/datapath.md "Closed space").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "policy/json_int.h"

int nn_close_prefix(struct nn_build *b, const struct nn_prefix *pf)
{
	if (b->n_closed == b->cap_closed) {
		size_t cap = b->cap_closed ? 2 * b->cap_closed : 16;
		struct nn_prefix *v = realloc(b->closed, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->closed = v;
		b->cap_closed = cap;
	}
	b->closed[b->n_closed] = *pf;
	nn_addr_mask(b->closed[b->n_closed].addr, pf->addr, NN_ADDR_LEN, pf->len);
	b->n_closed++;
	return 0;
}

int nn_claims(const struct nn_jv *v, int (*fn)(void *arg, const struct nn_prefix *pf), void *arg)
{
	struct nn_prefix pf;
	struct nn_jv *x;
	size_t i;
	int err;

	if (nn_jv_is_array(v)) {
		nn_jv_foreach(v, i, x)
		{
			err = nn_claims(x, fn, arg);
			if (err)
				return err;
		}
		return 0;
	}
	if (!nn_jv_is_string(v))
		return 0;
	err = nn_prefix_parse(nn_jv_str(v), &pf, NULL);
	if (err == -EDOM)
		err = 0;
	if (err) {
		if (nn_addr_parse(nn_jv_str(v), pf.addr, NULL))
			return 0;
		pf.len = 128;
	}
	nn_addr_mask(pf.addr, pf.addr, NN_ADDR_LEN, pf.len);
	return fn(arg, &pf);
}

static int close_one(void *b, const struct nn_prefix *pf)
{
	return nn_close_prefix(b, pf);
}

/* A string or an array of strings: each an address or a prefix. */
static int claim(struct nn_build *b, struct nn_jv *v)
{
	return nn_claims(v, close_one, b);
}

static int claim_resource(struct nn_build *b, struct nn_jv *res)
{
	return nn_jv_is_object(res) ? claim(b, nn_jv_get(res, "prefixes")) : 0;
}

static int claim_address_holder(struct nn_build *b, struct nn_jv *v)
{
	int err;

	if (!nn_jv_is_object(v))
		return 0;
	err = claim(b, nn_jv_get(v, "overlay_ipv6"));
	return err ?: claim(b, nn_jv_get(v, "overlay_ipv4"));
}

static int claim_network(struct nn_build *b, struct nn_jv *net)
{
	struct nn_jv *x;
	size_t i;
	int err = 0;

	if (!nn_jv_is_object(net))
		return 0;
	nn_jv_foreach(nn_jv_get(net, "resources"), i, x)
	{
		err = claim_resource(b, x);
		if (err)
			return err;
	}
	nn_jv_foreach(nn_jv_get(net, "devices"), i, x)
	{
		err = claim_address_holder(b, x);
		if (err)
			return err;
	}
	return 0;
}

static int claim_tenant(struct nn_build *b, struct nn_jv *ten)
{
	struct nn_jv *x;
	size_t i;
	int err;

	if (!nn_jv_is_object(ten))
		return 0;
	nn_jv_foreach(nn_jv_get(ten, "networks"), i, x)
	{
		err = claim_network(b, x);
		if (err)
			return err;
	}
	return 0;
}

static int pfx_cmp(const void *a, const void *b)
{
	const struct nn_prefix *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, NN_ADDR_LEN);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/*
 * Every dropped entry, outermost first: a dropped tenant's or network's
 * children were never all parsed (a network without "acl" stops there), so
 * their claims are read from the parent's text; children dropped alone are
 * read from their own.
 */
int nn_collect_closed(struct nn_build *b)
{
	const struct nn_policy *p = b->p;
	size_t i, k;
	int err = 0;

	for (i = 0; i < p->n_tenants && !err; i++)
		if (b->ten_drop[i])
			err = claim_tenant(b, b->ten_js[i]);
	for (i = 0; i < p->n_networks && !err; i++)
		if (b->net_drop[i] && !b->ten_drop[p->networks[i].tenant])
			err = claim_network(b, b->net_js[i]);
	for (i = 0; i < p->n_resources && !err; i++)
		if (b->res_drop[i] && !b->net_drop[p->resources[i].network])
			err = claim_resource(b, b->res_js[i]);
	for (i = 0; i < p->n_devices && !err; i++)
		if (b->dev_drop[i] && !b->net_drop[p->devices[i].network])
			err = claim_address_holder(b, b->dev_js[i]);
	for (i = 0; i < p->n_nodes && !err; i++)
		if (b->node_drop[i])
			err = claim_address_holder(b, b->node_js[i]);
	if (err)
		return err;
	if (b->n_closed)
		qsort(b->closed, b->n_closed, sizeof(*b->closed), pfx_cmp);
	for (i = 0, k = 0; i < b->n_closed; i++)
		if (!k || pfx_cmp(&b->closed[k - 1], &b->closed[i]))
			b->closed[k++] = b->closed[i];
	b->p->closed = b->closed;
	b->p->n_closed = k;
	b->closed = NULL;
	b->n_closed = b->cap_closed = 0;
	return 0;
}
