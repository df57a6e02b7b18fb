// SPDX-License-Identifier: GPL-2.0
/*
 * catalog.c - the live generation's names from the pinned maps (see
 * catalog.h). Entries may change while we read: a slot freed meanwhile
 * or a free one is skipped, never an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "dp/catalog.h"
#include "dp/counters.h"
#include "dp/loader.h"
#include "dp/slot_names.h"

static int cmp_named(const void *a, const void *b)
{
	uint32_t x = ((const struct nn_named *)a)->slot, y = ((const struct nn_named *)b)->slot;

	return x < y ? -1 : x > y;
}

struct names_acc {
	struct nn_named *v;
	size_t n, cap;
};

static int names_add(uint32_t slot, const struct nn_name *n, void *arg)
{
	struct names_acc *a = arg;

	if (a->n == a->cap) {
		size_t nc = a->cap ? 2 * a->cap : 64;
		struct nn_named *nv = realloc(a->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		a->v = nv;
		a->cap = nc;
	}
	a->v[a->n].slot = slot;
	a->v[a->n++].name = *n;
	return 0;
}

/* The names in use, in slot order (the array's: slot_names.h). */
static int load_names(int fd, struct nn_named **out, size_t *n)
{
	struct names_acc a = {};
	int err = nn_slot_names_each(fd, names_add, &a);

	if (err) {
		free(a.v);
		return err;
	}
	*out = a.v;
	*n = a.n;
	return 0;
}

static int load_addrs(int fd, uint32_t slot, struct nn_cat_addr **out, size_t *n)
{
	struct nn_addr_key key, next, *prev = NULL;
	struct nn_cat_addr *v = NULL;
	size_t cap = 0;

	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.slot != slot)
			continue;
		if (*n == cap) {
			struct nn_cat_addr *nv =
				realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		if (bpf_map_lookup_elem(fd, &key, &v[*n].info))
			continue;
		memcpy(v[*n].addr, key.addr, NN_ADDR_LEN);
		(*n)++;
	}
	*out = v;
	return 0;
}

/* Remember @name for index @idx in a grow-on-demand array. */
static int index_name(char (**arr)[NN_NAME_MAX], size_t *n, uint32_t idx, const char *name)
{
	if (!idx || idx > (1u << 24))
		return 0;
	if (idx >= *n) {
		char(*na)[NN_NAME_MAX] = realloc(*arr, (idx + 1) * sizeof(**arr));

		if (!na)
			return -ENOMEM;
		memset(na + *n, 0, (idx + 1 - *n) * sizeof(*na));
		*arr = na;
		*n = idx + 1;
	}
	if (!(*arr)[idx][0])
		snprintf((*arr)[idx], NN_NAME_MAX, "%s", name);
	return 0;
}

int nn_catalog_load(const int *map_fd, struct nn_catalog *c)
{
	uint32_t zero = 0, i, rule_slots = 0;
	struct nn_active a = {};
	struct nn_meta meta = {};
	size_t k;
	int err = 0;

	memset(c, 0, sizeof(*c));
	if (bpf_map_lookup_elem(map_fd[NN_M_ACTIVE], &zero, &a))
		err = -errno;
	else
		err = nn_ctr_slots(map_fd[NN_M_RULE_HITS], &rule_slots);
	c->epoch = a.epoch;
	c->max_rules = rule_slots;
	if (!err)
		err = load_names(map_fd[NN_M_DEV_NAMES], &c->devs, &c->n_devs);
	if (!err)
		err = load_names(map_fd[NN_M_RULE_NAMES], &c->rules, &c->n_rules);
	c->slot = NN_SLOT(c->epoch);
	if (!err)
		err = load_addrs(map_fd[NN_M_ADDRS], c->slot, &c->addrs, &c->n_addrs);
	for (k = 0; !err && k < c->n_addrs; k++) {
		const struct nn_addr_info *ai = &c->addrs[k].info;
		const struct nn_name *nm = nn_cat_dev_name(c, ai->stat_slot);

		if (!nm || ai->kind != NN_AK_DEVICE)
			continue;
		err = index_name(&c->tenants, &c->n_tenants, ai->tenant, nm->tenant) ?:
			      index_name(&c->networks, &c->n_networks, ai->network, nm->network);
	}
	/* Networks with rules but no device get their name from the rules. */
	bpf_map_lookup_elem(map_fd[NN_M_META], &zero, &meta);
	for (i = 0; !err && c->epoch && i < meta.rules && i < c->max_rules; i++) {
		struct nn_rule_info ri;
		uint32_t key = c->slot * c->max_rules + i;
		const struct nn_name *nm;

		if (bpf_map_lookup_elem(map_fd[NN_M_RULES], &key, &ri))
			break;
		nm = nn_cat_rule_name(c, ri.stat_slot);
		if (nm)
			err = index_name(&c->networks, &c->n_networks, ri.network, nm->network);
	}
	if (err) {
		nn_catalog_free(c);
		return err;
	}
	return 0;
}

void nn_catalog_free(struct nn_catalog *c)
{
	free(c->devs);
	free(c->rules);
	free(c->addrs);
	free(c->tenants);
	free(c->networks);
	memset(c, 0, sizeof(*c));
}

static const struct nn_name *find_named(const struct nn_named *v, size_t n, uint32_t slot)
{
	struct nn_named key = { .slot = slot };
	const struct nn_named *r;

	if (!n || slot == NN_NONE32)
		return NULL;
	r = bsearch(&key, v, n, sizeof(*v), cmp_named);
	return r ? &r->name : NULL;
}

const struct nn_name *nn_cat_dev_name(const struct nn_catalog *c, uint32_t slot)
{
	return find_named(c->devs, c->n_devs, slot);
}

const struct nn_name *nn_cat_rule_name(const struct nn_catalog *c, uint32_t slot)
{
	return find_named(c->rules, c->n_rules, slot);
}

const struct nn_cat_addr *nn_cat_addr_find(const struct nn_catalog *c, const uint8_t a[NN_ADDR_LEN])
{
	size_t i;

	for (i = 0; i < c->n_addrs; i++)
		if (!memcmp(c->addrs[i].addr, a, NN_ADDR_LEN))
			return &c->addrs[i];
	return NULL;
}

const char *nn_cat_tenant_name(const struct nn_catalog *c, uint32_t idx)
{
	return idx && idx < c->n_tenants && c->tenants[idx][0] ? c->tenants[idx] : NULL;
}

const char *nn_cat_network_name(const struct nn_catalog *c, uint32_t idx)
{
	return idx && idx < c->n_networks && c->networks[idx][0] ? c->networks[idx] : NULL;
}

uint32_t nn_cat_rule_index_slot(const int *map_fd, const struct nn_catalog *c, uint32_t idx)
{
	struct nn_rule_info ri;
	uint32_t key;

	if (idx == NN_NONE32 || idx >= c->max_rules)
		return NN_NONE32;
	key = c->slot * c->max_rules + idx;
	if (bpf_map_lookup_elem(map_fd[NN_M_RULES], &key, &ri))
		return NN_NONE32;
	return ri.stat_slot;
}
