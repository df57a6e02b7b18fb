// SPDX-License-Identifier: GPL-2.0
/*
 * slots.c - stable counter slots. A device, node or rule keeps its counter
 * slot for as long as it exists, across generations and controller restarts:
 * the slot -> name maps (nn_dev_names, nn_rule_names: arrays by slot,
 * slot_names.h) are the record, read back on every apply. A new entity takes the lowest free slot, whose
 * counters are zeroed first so it never inherits a predecessor's figures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "dp/apply.h"
#include "dp/batch.h"
#include "dp/slot_names.h"
#include "lib/log.h"
#include "lib/table.h"

/* One field of a name key, at most @max bytes of it. */
static size_t put_field(char *buf, size_t at, const char *f, size_t max)
{
	size_t l = strnlen(f, max);

	memcpy(buf + at, f, l);
	buf[at + l] = '/';
	return at + l + 1;
}

/* Identity of a counted entity: kind + tenant + network + id, as bytes
 * (built by hand: an snprintf per entity and apply was measurable at 100k).
 * @buf holds at least KEY_MAX bytes. @max: NN_NAME_MAX for a name read from
 * the map (its fields may lack a NUL), NN_NAME_MAX - 1 for the policy's,
 * which fill_name() cuts there. */
#define KEY_MAX (sizeof(uint32_t) + 3 * (NN_NAME_MAX + 1))

static size_t key_of(uint32_t kind, const char *tenant, const char *network, const char *id,
		     size_t max, char *buf)
{
	size_t at = sizeof(kind);

	memcpy(buf, &kind, sizeof(kind));
	at = put_field(buf, at, tenant, max);
	at = put_field(buf, at, network, max);
	return put_field(buf, at, id, max);
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

/* The parts of entity @ent of space @space (numbering in apply.h). */
struct ent_parts {
	uint32_t kind;
	const char *tenant, *network, *id;
};

static struct ent_parts ent_parts(const struct nn_policy *p, int space, uint32_t ent)
{
	const struct nn_network *nw;

	if (space == NN_SLOT_SPACE_RULE) {
		nw = &p->networks[p->rules[ent].network];
		return (struct ent_parts){ 0, p->tenants[nw->tenant].id, nw->id, p->rules[ent].id };
	}
	if (ent < p->n_devices) {
		nw = &p->networks[p->devices[ent].network];
		return (struct ent_parts){ NN_AK_DEVICE, p->tenants[nw->tenant].id, nw->id,
					   p->devices[ent].id };
	}
	ent -= (uint32_t)p->n_devices;
	if (ent < p->n_nodes)
		return (struct ent_parts){ NN_AK_NODE, "", "", p->nodes[ent].id };
	return (struct ent_parts){ NN_AK_SELF, "", "", p->node_id };
}

struct slot_space {
	int names_fd;
	uint32_t cap;
	struct nn_table by_key; /* key -> slot, as found in the map */
	uint8_t *taken;		/* [cap] */
	uint32_t next_free;
	struct nn_slot_plan *plan;
	struct nn_slot_news *news; /* this space's part of the plan */
};

static int space_add(uint32_t slot, const struct nn_name *n, void *arg)
{
	struct slot_space *sp = arg;
	char k[KEY_MAX];

	if (slot >= sp->cap)
		return 0;
	sp->taken[slot] = 1;
	return nn_table_put(&sp->by_key, k,
			    key_of(n->kind, n->tenant, n->network, n->id, NN_NAME_MAX, k), &slot,
			    sizeof(slot));
}

/* The slot -> name map as it is (through its mapping, a store per name
 * read: slot_names.c), and room for a new slot for each of @n_ents
 * entities. @empty: the map was created by this load and never written
 * (nn_dp.names_unwritten): nothing to read, where scanning every slot of
 * an empty map was ~30 ms at 1M. */
static int space_read(struct slot_space *sp, size_t n_ents, bool empty)
{
	nn_table_init(&sp->by_key);
	sp->taken = calloc(sp->cap ? sp->cap : 1, 1);
	/* At most one new slot per entity: sized once, touched as used. */
	sp->news->slot = malloc((n_ents ? n_ents : 1) * sizeof(uint32_t));
	sp->news->ent = malloc((n_ents ? n_ents : 1) * sizeof(uint32_t));
	if (!sp->taken || !sp->news->slot || !sp->news->ent)
		return -ENOMEM;
	return empty ? 0 : nn_slot_names_each(sp->names_fd, space_add, sp);
}

/* Slot for entity @ent: the one it had, or a fresh one (zeroed and named by
 * nn_slots_write_new). */
static int space_take(struct slot_space *sp, uint32_t ent, uint32_t *slot)
{
	struct ent_parts e = ent_parts(sp->plan->p, (int)(sp->news - sp->plan->news), ent);
	char k[KEY_MAX];
	struct nn_tentry *e_old;
	struct nn_slot_news *nw = sp->news;

	e_old = nn_table_get(&sp->by_key, k,
			     key_of(e.kind, e.tenant, e.network, e.id, NN_NAME_MAX - 1, k));
	if (e_old) {
		*slot = *(uint32_t *)e_old->val;
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
	nw->slot[nw->n] = *slot;
	nw->ent[nw->n++] = ent;
	sp->plan->n_new++;
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
		.cap = cap->max_devices + cap->max_nodes + 1,
		.plan = plan,
		.news = &plan->news[NN_SLOT_SPACE_DEV],
	};
	struct slot_space rule = {
		.names_fd = dp->map_fd[NN_M_RULE_NAMES],
		.cap = cap->max_rules,
		.plan = plan,
		.news = &plan->news[NN_SLOT_SPACE_RULE],
	};
	size_t i, n_dev = p->n_devices + p->n_nodes + 1;
	int err;

	memset(plan, 0, sizeof(*plan));
	memset(slots, 0, sizeof(*slots));
	plan->p = p;
	plan->news[NN_SLOT_SPACE_DEV] = (struct nn_slot_news){
		.fd = dev.names_fd,
		.stats_fd = dp->map_fd[NN_M_DEV_STATS],
		.stats_vsz = sizeof(struct nn_dev_stats),
	};
	plan->news[NN_SLOT_SPACE_RULE] = (struct nn_slot_news){
		.fd = rule.names_fd,
		.stats_fd = dp->map_fd[NN_M_RULE_HITS],
		.stats_vsz = sizeof(struct nn_rule_stats),
	};
	slots->dev = calloc(p->n_devices + 1, sizeof(uint32_t));
	slots->node = calloc(p->n_nodes + 1, sizeof(uint32_t));
	slots->rule = calloc(p->n_rules + 1, sizeof(uint32_t));
	err = (!slots->dev || !slots->node || !slots->rule) ? -ENOMEM : 0;
	if (!err)
		err = space_read(&dev, n_dev, dp->names_unwritten);
	if (!err)
		err = space_read(&rule, p->n_rules, dp->names_unwritten);
	/* Devices, nodes, this gateway: the space's numbering. */
	for (i = 0; i < p->n_devices && !err; i++)
		err = space_take(&dev, (uint32_t)i, &slots->dev[i]);
	for (i = 0; i < p->n_nodes && !err; i++)
		err = space_take(&dev, (uint32_t)(p->n_devices + i), &slots->node[i]);
	if (!err)
		err = space_take(&dev, (uint32_t)(n_dev - 1), &slots->self);
	for (i = 0; i < p->n_rules && !err; i++)
		err = space_take(&rule, (uint32_t)i, &slots->rule[i]);
	if (!err)
		err = space_release(&dev);
	if (!err)
		err = space_release(&rule);
	/* From here on an apply may write names (nn_slots_write_new).
	 * Cleared only when set: the drift check's worker plans too, after
	 * the loop's first plan, and so only reads the flag. */
	if (!err && dp->names_unwritten)
		dp->names_unwritten = false;
	if (err == -EPROTO)
		nn_errlist_add(errs, "the counter names maps (nn_dev_names, nn_rule_names) are not "
				     "this version's arrays: run nanami-gatewayd --detach once");
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

struct fill_arg {
	const struct nn_slot_plan *plan;
	int space;
};

static void fill_news(size_t i, struct nn_name *n, void *arg)
{
	const struct fill_arg *f = arg;
	struct ent_parts e = ent_parts(f->plan->p, f->space, f->plan->news[f->space].ent[i]);

	fill_name(n, e.kind, e.tenant, e.network, e.id);
}

int nn_slots_write_new(const struct nn_slot_plan *plan)
{
	int s, err = 0;

	/* Per space (devices and nodes, then rules): a space's counters are
	 * all zeroed before any of its names is written, so a name is never
	 * published over a predecessor's figures. Names go through the map's
	 * mapping: a cold apply at 1M names 2M entities, which were a kernel
	 * hash insert each. */
	for (s = 0; s < NN_SLOT_SPACES && !err; s++) {
		const struct nn_slot_news *nw = &plan->news[s];
		struct fill_arg f = { plan, s };

		if (!nw->n)
			continue;
		err = nn_map_zero_percpu(nw->stats_fd, nw->slot, nw->n, nw->stats_vsz);
		if (!err)
			err = nn_slot_names_write(nw->fd, nw->slot, nw->n, fill_news, &f);
	}
	return err;
}

int nn_slots_release_old(const struct nn_slot_plan *plan)
{
	uint32_t *run = malloc((plan->n_old ? plan->n_old : 1) * sizeof(*run));
	size_t i = 0, k;
	int err = run ? 0 : -ENOMEM;

	/* space_release() lists a space's slots together: a run per map. */
	while (i < plan->n_old && !err) {
		for (k = 0; i + k < plan->n_old && plan->old[i + k].fd == plan->old[i].fd; k++)
			run[k] = plan->old[i + k].slot;
		err = nn_slot_names_free(plan->old[i].fd, run, k);
		i += k;
	}
	free(run);
	return err;
}

void nn_slots_free(struct nn_slots *slots, struct nn_slot_plan *plan)
{
	free(slots->dev);
	free(slots->node);
	free(slots->rule);
	memset(slots, 0, sizeof(*slots));
	for (int i = 0; i < NN_SLOT_SPACES; i++) {
		free(plan->news[i].slot);
		free(plan->news[i].ent);
	}
	free(plan->old);
	memset(plan, 0, sizeof(*plan));
}
