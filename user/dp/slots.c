// SPDX-License-Identifier: GPL-2.0
/*
 * slots.c - stable counter slots. A device, node or rule keeps its counter
 * slot for as long as it exists, across generations and controller restarts:
 * the slot -> name maps (nn_dev_names, nn_rule_names) are the record, read
 * back on every apply. A new entity takes the lowest free slot, whose
 * counters are zeroed first so it never inherits a predecessor's figures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "dp/apply.h"
#include "dp/batch.h"
#include "lib/log.h"
#include "lib/table.h"

static size_t put_field(char *buf, size_t at, const char *f)
{
	size_t l = strnlen(f, NN_NAME_MAX);

	memcpy(buf + at, f, l);
	buf[at + l] = '/';
	return at + l + 1;
}

/* Identity of a counted entity: kind + tenant + network + id, as bytes
 * (built by hand: an snprintf per entity and apply was measurable at 100k).
 * @buf holds at least sizeof(kind) + 3 * (NN_NAME_MAX + 1) bytes. */
static size_t name_key(const struct nn_name *n, char *buf, size_t len)
{
	size_t at = sizeof(n->kind);

	(void)len;
	memcpy(buf, &n->kind, sizeof(n->kind));
	at = put_field(buf, at, n->tenant);
	at = put_field(buf, at, n->network);
	return put_field(buf, at, n->id);
}

static void fill_name(struct nn_name *n, uint32_t kind, const char *tenant, const char *network,
		      const char *id)
{
	memset(n, 0, sizeof(*n));
	memcpy(n->tenant, tenant, strnlen(tenant, sizeof(n->tenant) - 1));
	memcpy(n->network, network, strnlen(network, sizeof(n->network) - 1));
	memcpy(n->id, id, strnlen(id, sizeof(n->id) - 1));
	n->kind = kind;
	n->in_use = 1;
}

struct slot_space {
	int names_fd;
	int stats_fd;
	size_t stats_vsz;
	uint32_t cap;
	struct nn_table by_key; /* key -> slot, as found in the map */
	uint8_t *taken;		/* [cap] */
	uint32_t next_free;
	struct nn_slot_plan *plan;
	size_t n_wanted;
};

static int space_add(const void *key, const void *val, void *arg)
{
	struct slot_space *sp = arg;
	const struct nn_name *n = val;
	uint32_t slot = *(const uint32_t *)key;
	char k[NN_NAME_MAX * 3 + 16];

	if (!n->in_use || slot >= sp->cap)
		return 0;
	sp->taken[slot] = 1;
	return nn_table_put(&sp->by_key, k, name_key(n, k, sizeof(k)), &slot, sizeof(slot));
}

/* The slot -> name map as it is (batched: one call per few thousand
 * names, where a lookup per name was 200k calls at 100k devices and rules). */
static int space_read(struct slot_space *sp)
{
	nn_table_init(&sp->by_key);
	sp->taken = calloc(sp->cap ? sp->cap : 1, 1);
	if (!sp->taken)
		return -ENOMEM;
	return nn_map_dump(sp->names_fd, sizeof(uint32_t), sizeof(struct nn_name), space_add, sp);
}

/* Slot for @n: the one it had, or a fresh zeroed one. */
static int space_take(struct slot_space *sp, const struct nn_name *n, uint32_t *slot)
{
	char k[NN_NAME_MAX * 3 + 16];
	struct nn_tentry *e = nn_table_get(&sp->by_key, k, name_key(n, k, sizeof(k)));
	struct nn_slot_plan *pl = sp->plan;

	if (e) {
		*slot = *(uint32_t *)e->val;
		/* Mark as wanted: what is not wanted at the end is freed. */
		sp->taken[*slot] = 2;
		return 0;
	}
	while (sp->next_free < sp->cap && sp->taken[sp->next_free])
		sp->next_free++;
	if (sp->next_free >= sp->cap)
		return -ENOSPC;
	*slot = sp->next_free;
	sp->taken[*slot] = 2;
	if (pl->n_new == pl->cap_new) {
		size_t nc = pl->cap_new ? pl->cap_new * 2 : 64;
		struct nn_slot_new *nn = realloc(pl->new_names, nc * sizeof(*nn));

		if (!nn)
			return -ENOMEM;
		pl->new_names = nn;
		pl->cap_new = nc;
	}
	pl->new_names[pl->n_new].fd = sp->names_fd;
	pl->new_names[pl->n_new].stats_fd = sp->stats_fd;
	pl->new_names[pl->n_new].stats_vsz = sp->stats_vsz;
	pl->new_names[pl->n_new].slot = *slot;
	pl->new_names[pl->n_new].name = *n;
	pl->n_new++;
	return 0;
}

/* Slots read from the map that nobody wants any more. */
static int space_release(struct slot_space *sp)
{
	struct nn_slot_plan *pl = sp->plan;
	uint32_t i;

	for (i = 0; i < sp->cap; i++) {
		if (sp->taken[i] != 1)
			continue;
		if (pl->n_old == pl->cap_old) {
			size_t nc = pl->cap_old ? pl->cap_old * 2 : 64;
			struct nn_slot_old *no = realloc(pl->old, nc * sizeof(*no));

			if (!no)
				return -ENOMEM;
			pl->old = no;
			pl->cap_old = nc;
		}
		pl->old[pl->n_old].fd = sp->names_fd;
		pl->old[pl->n_old].slot = i;
		pl->n_old++;
	}
	return 0;
}

static void space_free(struct slot_space *sp)
{
	nn_table_free(&sp->by_key);
	free(sp->taken);
}

int nn_slots_plan(struct nn_dp *dp, const struct nn_policy *p, struct nn_slots *slots,
		  struct nn_slot_plan *plan, struct nn_errlist *errs)
{
	const struct nn_capacity *cap = &dp->opts.cap;
	struct slot_space dev = {
		.names_fd = dp->map_fd[NN_M_DEV_NAMES],
		.stats_fd = dp->map_fd[NN_M_DEV_STATS],
		.stats_vsz = sizeof(struct nn_dev_stats),
		.cap = cap->max_devices + cap->max_nodes + 1,
		.plan = plan,
	};
	struct slot_space rule = {
		.names_fd = dp->map_fd[NN_M_RULE_NAMES],
		.stats_fd = dp->map_fd[NN_M_RULE_HITS],
		.stats_vsz = sizeof(struct nn_rule_stats),
		.cap = cap->max_rules,
		.plan = plan,
	};
	struct nn_name n;
	size_t i;
	int err;

	memset(plan, 0, sizeof(*plan));
	memset(slots, 0, sizeof(*slots));
	slots->dev = calloc(p->n_devices + 1, sizeof(uint32_t));
	slots->node = calloc(p->n_nodes + 1, sizeof(uint32_t));
	slots->rule = calloc(p->n_rules + 1, sizeof(uint32_t));
	err = (!slots->dev || !slots->node || !slots->rule) ? -ENOMEM : 0;
	if (!err)
		err = space_read(&dev);
	if (!err)
		err = space_read(&rule);
	for (i = 0; i < p->n_devices && !err; i++) {
		const struct nn_device *d = &p->devices[i];
		const struct nn_network *nw = &p->networks[d->network];

		fill_name(&n, NN_AK_DEVICE, p->tenants[nw->tenant].id, nw->id, d->id);
		err = space_take(&dev, &n, &slots->dev[i]);
	}
	for (i = 0; i < p->n_nodes && !err; i++) {
		fill_name(&n, NN_AK_NODE, "", "", p->nodes[i].id);
		err = space_take(&dev, &n, &slots->node[i]);
	}
	if (!err) {
		fill_name(&n, NN_AK_SELF, "", "", p->node_id);
		err = space_take(&dev, &n, &slots->self);
	}
	for (i = 0; i < p->n_rules && !err; i++) {
		const struct nn_rule *r = &p->rules[i];
		const struct nn_network *nw = &p->networks[r->network];

		fill_name(&n, 0, p->tenants[nw->tenant].id, nw->id, r->id);
		err = space_take(&rule, &n, &slots->rule[i]);
	}
	if (!err)
		err = space_release(&dev);
	if (!err)
		err = space_release(&rule);
	if (err == -ENOSPC)
		nn_errlist_add(errs, "no free counter slot: more devices, nodes or rules than "
				     "the maps were sized for (--max-devices / --max-rules)");
	space_free(&dev);
	space_free(&rule);
	if (err) {
		nn_slots_free(slots, plan);
		return err;
	}
	return 0;
}

int nn_slots_write_new(const struct nn_slot_plan *plan)
{
	struct nn_name *names;
	uint32_t *keys;
	size_t i, j, k;
	int err = 0;

	/* Batched per run of entries on the same maps (devices and nodes,
	 * then rules): a cold apply at 100k names 200k new entities, which
	 * were two system calls and an allocation each. A run's counters
	 * are all zeroed before any of its names is written, so a name is
	 * never published over a predecessor's figures. */
	keys = malloc((plan->n_new + 1) * sizeof(*keys));
	names = malloc((plan->n_new + 1) * sizeof(*names));
	if (!keys || !names) {
		free(keys);
		free(names);
		return -ENOMEM;
	}
	for (i = 0; i < plan->n_new && !err; i = j) {
		const struct nn_slot_new *s = &plan->new_names[i];

		for (j = i; j < plan->n_new && plan->new_names[j].fd == s->fd &&
			    plan->new_names[j].stats_fd == s->stats_fd &&
			    plan->new_names[j].stats_vsz == s->stats_vsz;
		     j++) {
			keys[j - i] = plan->new_names[j].slot;
			names[j - i] = plan->new_names[j].name;
		}
		k = j - i;
		err = nn_map_zero_percpu(s->stats_fd, keys, k, s->stats_vsz);
		if (!err)
			err = nn_map_update_many(s->fd, keys, sizeof(*keys), names, sizeof(*names),
						 k);
	}
	free(keys);
	free(names);
	return err;
}

int nn_slots_release_old(const struct nn_slot_plan *plan)
{
	size_t i;
	int err = 0;

	for (i = 0; i < plan->n_old; i++)
		if (bpf_map_delete_elem(plan->old[i].fd, &plan->old[i].slot) && errno != ENOENT)
			err = -errno;
	return err;
}

void nn_slots_free(struct nn_slots *slots, struct nn_slot_plan *plan)
{
	free(slots->dev);
	free(slots->node);
	free(slots->rule);
	memset(slots, 0, sizeof(*slots));
	free(plan->new_names);
	free(plan->old);
	memset(plan, 0, sizeof(*plan));
}
