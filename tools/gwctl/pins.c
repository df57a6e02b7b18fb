// SPDX-License-Identifier: GPL-2.0
/*
 * pins.c - open the maps the controller pinned, read counters, and collect
 * the live generation's names (counter slot -> device or rule, tenant and
 * network index -> name) so every command prints names, not indices.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gwctl.h"

int gw_pins_open(struct gw *g)
{
	char path[GW_PATH_MAX + 32];
	size_t i;

	for (i = 0; i < NN_M_COUNT; i++) {
		g->fd[i] = -1;
		if (!nn_map_is_pinned(i))
			continue;
		snprintf(path, sizeof(path), "%s/%s", g->pin_dir, nn_map_names[i]);
		g->fd[i] = bpf_obj_get(path);
		if (g->fd[i] >= 0)
			continue;
		if (errno == ENOENT && i == 0)
			return gw_err(g, GW_ERR,
				      "no pinned maps at %s: the dataplane is not attached "
				      "to %s with this pin directory (attach it with: "
				      "nanami-gatewayd --iface %s --assignments FILE --bpffs %s)",
				      path, g->iface, g->iface, g->pin_dir);
		if (errno == ENOENT)
			return gw_err(
				g, GW_ERR,
				"%s is missing (pins of another version? re-attach "
				"with: nanami-gatewayd --iface %s --assignments FILE --bpffs %s)",
				path, g->iface, g->pin_dir);
		return gw_err(g, GW_ERR, "couldn't open %s: %s%s", path, strerror(errno),
			      errno == EPERM || errno == EACCES ? " (needs root or CAP_BPF)" : "");
	}
	return 0;
}

void gw_pins_close(struct gw *g)
{
	size_t i;

	for (i = 0; i < NN_M_COUNT; i++) {
		if (g->fd[i] >= 0)
			close(g->fd[i]);
		g->fd[i] = -1;
	}
}

int gw_map_max_entries(int fd, uint32_t *max)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*max = info.max_entries;
	return 0;
}

int gw_live_epoch(struct gw *g, uint32_t *epoch)
{
	struct nn_active a = {};
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(g->fd[NN_M_ACTIVE], &zero, &a))
		return -errno;
	*epoch = a.epoch;
	return 0;
}

int gw_ncpus(void)
{
	static int n;

	if (!n)
		n = libbpf_num_possible_cpus();
	return n;
}

int gw_dev_counters(struct gw *g, uint32_t slot, struct gw_dev_counters *out)
{
	_Static_assert(sizeof(struct nn_dev_stats) == sizeof(struct gw_dev_counters),
		       "gw_dev_counters mirrors nn_dev_stats");
	return nn_percpu_sum(g->fd[NN_M_DEV_STATS], slot, sizeof(*out) / 8, (uint64_t *)out);
}

json_t *gw_json_dev_counters(const struct gw_dev_counters *d)
{
	return json_pack("{s:{s:I,s:I,s:I},s:{s:I,s:I,s:I}}", "from_overlay", "packets",
			 (json_int_t)d->packets[0], "bytes", (json_int_t)d->bytes[0], "drops",
			 (json_int_t)d->drops[0], "into_overlay", "packets",
			 (json_int_t)d->packets[1], "bytes", (json_int_t)d->bytes[1], "drops",
			 (json_int_t)d->drops[1]);
}

int gw_capacity_from_pins(struct gw *g, struct nn_capacity *cap)
{
	return nn_capacity_from_maps(g->fd, cap);
}

/* ---- catalog ---- */

static int cmp_named(const void *a, const void *b)
{
	uint32_t x = ((const struct gw_named *)a)->slot, y = ((const struct gw_named *)b)->slot;

	return x < y ? -1 : x > y;
}

static int load_names(int fd, struct gw_named **out, size_t *n)
{
	uint32_t key, next, *prev = NULL;
	struct gw_named *v = NULL;
	size_t cap = 0;

	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (*n == cap) {
			struct gw_named *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		if (bpf_map_lookup_elem(fd, &key, &v[*n].name) || !v[*n].name.in_use)
			continue; /* deleted meanwhile, or a free slot */
		v[*n].name.id[NN_NAME_MAX - 1] = 0;
		v[*n].name.tenant[NN_NAME_MAX - 1] = 0;
		v[*n].name.network[NN_NAME_MAX - 1] = 0;
		v[*n].slot = key;
		(*n)++;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_named);
	*out = v;
	return 0;
}

static int load_addrs(int fd, uint32_t slot, struct gw_addr **out, size_t *n)
{
	struct nn_addr_key key, next, *prev = NULL;
	struct gw_addr *v = NULL;
	size_t cap = 0;

	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.slot != slot)
			continue;
		if (*n == cap) {
			struct gw_addr *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));

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

int gw_catalog_load(struct gw *g, struct gw_catalog *c)
{
	struct nn_meta meta = {};
	uint32_t zero = 0, i;
	size_t k;
	int err;

	memset(c, 0, sizeof(*c));
	err = gw_live_epoch(g, &c->epoch);
	if (!err)
		err = gw_map_max_entries(g->fd[NN_M_RULE_HITS], &c->max_rules);
	if (!err)
		err = load_names(g->fd[NN_M_DEV_NAMES], &c->devs, &c->n_devs);
	if (!err)
		err = load_names(g->fd[NN_M_RULE_NAMES], &c->rules, &c->n_rules);
	c->slot = NN_SLOT(c->epoch);
	if (!err)
		err = load_addrs(g->fd[NN_M_ADDRS], c->slot, &c->addrs, &c->n_addrs);
	for (k = 0; !err && k < c->n_addrs; k++) {
		const struct nn_addr_info *ai = &c->addrs[k].info;
		const struct nn_name *nm = gw_dev_name(c, ai->stat_slot);

		if (!nm || ai->kind != NN_AK_DEVICE)
			continue;
		err = index_name(&c->tenants, &c->n_tenants, ai->tenant, nm->tenant) ?:
			      index_name(&c->networks, &c->n_networks, ai->network, nm->network);
	}
	/* Networks with rules but no device get their name from the rules. */
	bpf_map_lookup_elem(g->fd[NN_M_META], &zero, &meta);
	for (i = 0; !err && c->epoch && i < meta.rules && i < c->max_rules; i++) {
		struct nn_rule_info ri;
		uint32_t key = c->slot * c->max_rules + i;
		const struct nn_name *nm;

		if (bpf_map_lookup_elem(g->fd[NN_M_RULES], &key, &ri))
			break;
		nm = gw_rule_name(c, ri.stat_slot);
		if (nm)
			err = index_name(&c->networks, &c->n_networks, ri.network, nm->network);
	}
	if (err) {
		gw_catalog_free(c);
		return gw_err(g, GW_ERR, "couldn't read the pinned maps under %s: %s", g->pin_dir,
			      strerror(-err));
	}
	return 0;
}

void gw_catalog_free(struct gw_catalog *c)
{
	free(c->devs);
	free(c->rules);
	free(c->addrs);
	free(c->tenants);
	free(c->networks);
	memset(c, 0, sizeof(*c));
}

static const struct nn_name *find_named(const struct gw_named *v, size_t n, uint32_t slot)
{
	struct gw_named key = { .slot = slot };
	const struct gw_named *r;

	if (!n || slot == NN_NONE32)
		return NULL;
	r = bsearch(&key, v, n, sizeof(*v), cmp_named);
	return r ? &r->name : NULL;
}

const struct nn_name *gw_dev_name(const struct gw_catalog *c, uint32_t slot)
{
	return find_named(c->devs, c->n_devs, slot);
}

const struct nn_name *gw_rule_name(const struct gw_catalog *c, uint32_t slot)
{
	return find_named(c->rules, c->n_rules, slot);
}

const struct gw_addr *gw_addr_find(const struct gw_catalog *c, const uint8_t a[NN_ADDR_LEN])
{
	size_t i;

	for (i = 0; i < c->n_addrs; i++)
		if (!memcmp(c->addrs[i].addr, a, NN_ADDR_LEN))
			return &c->addrs[i];
	return NULL;
}

const char *gw_tenant_name(const struct gw_catalog *c, uint32_t idx)
{
	return idx && idx < c->n_tenants && c->tenants[idx][0] ? c->tenants[idx] : NULL;
}

const char *gw_network_name(const struct gw_catalog *c, uint32_t idx)
{
	return idx && idx < c->n_networks && c->networks[idx][0] ? c->networks[idx] : NULL;
}

uint32_t gw_rule_index_slot(struct gw *g, const struct gw_catalog *c, uint32_t idx)
{
	struct nn_rule_info ri;
	uint32_t key;

	if (idx == NN_NONE32 || idx >= c->max_rules)
		return NN_NONE32;
	key = c->slot * c->max_rules + idx;
	if (bpf_map_lookup_elem(g->fd[NN_M_RULES], &key, &ri))
		return NN_NONE32;
	return ri.stat_slot;
}
