// SPDX-License-Identifier: GPL-2.0
/* apply.c - see apply.h for the generation switch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "dp/apply.h"
#include "lib/log.h"
#include "lib/table.h"

enum { SET_ADDRS, SET_PREFIXES, SET_PFX_HASH, SET_PFX_LENS, SET_CELLS, SET_COUNT };
/* The pinned names, for errors: an operator must know which map is full. */
static const char *const set_name[SET_COUNT] = { "nn_addrs", "nn_prefixes", "nn_pfx_hash",
						 "nn_pfx_lens", "nn_policy" };

/* One double-buffered map: what is wanted in the standby slot, and what the
 * kernel holds in each slot. */
struct mapset {
	int fd;
	size_t ksz;
	size_t vsz;
	struct nn_table want;
	struct nn_table have[2];
};

static uint32_t key_slot(int set, const void *key)
{
	switch (set) {
	case SET_ADDRS:
		return ((const struct nn_addr_key *)key)->slot;
	case SET_PREFIXES:
		return ((const struct nn_prefix_key *)key)->scope >> 31;
	case SET_PFX_HASH:
		return ((const struct nn_pfx_key *)key)->scope >> 31;
	case SET_PFX_LENS:
		return ((const struct nn_pfx_lens_key *)key)->scope >> 31;
	default:
		return ((const struct nn_cell_key *)key)->slot;
	}
}

/* The same key in the other slot. */
static void key_reslot(int set, void *key, uint32_t slot)
{
	switch (set) {
	case SET_ADDRS:
		((struct nn_addr_key *)key)->slot = slot;
		break;
	case SET_PREFIXES: {
		struct nn_prefix_key *k = key;

		k->scope = NN_SCOPE(slot, k->scope & 0x7fffffffu);
		break;
	}
	case SET_PFX_HASH: {
		struct nn_pfx_key *k = key;

		k->scope = NN_SCOPE(slot, k->scope & 0x7fffffffu);
		break;
	}
	case SET_PFX_LENS: {
		struct nn_pfx_lens_key *k = key;

		k->scope = NN_SCOPE(slot, k->scope & 0x7fffffffu);
		break;
	}
	default:
		((struct nn_cell_key *)key)->slot = slot;
	}
}

static int dump_map(struct mapset *ms, int set)
{
	uint8_t key[64], next[64], val[sizeof(struct nn_cell)];
	void *prev = NULL;
	int err;

	while (!bpf_map_get_next_key(ms->fd, prev, next)) {
		memcpy(key, next, ms->ksz);
		prev = key;
		if (bpf_map_lookup_elem(ms->fd, key, val))
			continue; /* deleted meanwhile */
		err = nn_table_put(&ms->have[key_slot(set, key) & 1], key, ms->ksz, val, ms->vsz);
		if (err)
			return err;
	}
	return 0;
}

static int want_put(struct mapset *ms, const void *key, const void *val)
{
	return nn_table_put(&ms->want, key, ms->ksz, val, ms->vsz);
}

static int build_want(struct mapset *sets, const struct nn_compiled *c, uint32_t slot)
{
	size_t i;
	int err = 0;

	for (i = 0; i < c->n_addrs && !err; i++) {
		struct nn_addr_key k = { .slot = slot };

		memcpy(k.addr, c->addrs[i].addr, NN_ADDR_LEN);
		err = want_put(&sets[SET_ADDRS], &k, &c->addrs[i].info);
	}
	for (i = 0; i < c->n_prefixes && !err; i++) {
		const struct nn_prefix_ent *e = &c->prefixes[i];
		struct nn_prefix_key k = {
			.prefixlen = NN_SCOPE_BITS + e->pfx.len,
			.scope = NN_SCOPE(slot, e->net),
		};

		memcpy(k.addr, e->pfx.addr, NN_ADDR_LEN);
		err = want_put(&sets[SET_PREFIXES], &k, &e->info);
		if (!err) {
			struct nn_pfx_key hk = {
				.scope = NN_SCOPE(slot, e->net),
				.len = e->pfx.len,
			};

			memcpy(hk.addr, e->pfx.addr, NN_ADDR_LEN);
			err = want_put(&sets[SET_PFX_HASH], &hk, &e->info);
		}
	}
	for (i = 0; i < c->n_lens && !err; i++) {
		struct nn_pfx_lens_key k = { .scope = NN_SCOPE(slot, c->lens[i].net) };

		err = want_put(&sets[SET_PFX_LENS], &k, &c->lens[i].lens);
	}
	for (i = 0; i < c->n_cells && !err; i++) {
		const struct nn_cell_ent *e = &c->cells[i];
		struct nn_cell_key k = {
			.src_class = e->src_class,
			.dst_class = e->dst_class,
			.proto = e->proto,
			.slot = slot,
			.part = e->part,
		};

		err = want_put(&sets[SET_CELLS], &k, &e->cell);
	}
	return err;
}

/* Does the live slot already hold exactly what is wanted? */
static bool live_matches(struct mapset *ms, int set, uint32_t live, uint32_t standby)
{
	const struct nn_table *h = &ms->have[live];
	uint8_t key[64];
	size_t i;

	if (h->n != ms->want.n)
		return false;
	for (i = 0; i < h->cap; i++) {
		struct nn_tentry *e;

		if (!h->e[i].used)
			continue;
		memcpy(key, h->e[i].key, ms->ksz);
		key_reslot(set, key, standby);
		e = nn_table_get(&ms->want, key, ms->ksz);
		if (!e || memcmp(e->val, h->e[i].val, ms->vsz))
			return false;
	}
	return true;
}

/* Make the standby slot hold exactly what is wanted. */
static int write_standby(struct mapset *ms, uint32_t standby, size_t *writes)
{
	const struct nn_table *h = &ms->have[standby];
	size_t i;

	for (i = 0; i < ms->want.cap; i++) {
		const struct nn_tentry *w = &ms->want.e[i];
		struct nn_tentry *e;

		if (!w->used)
			continue;
		e = nn_table_get(h, w->key, ms->ksz);
		if (e && !memcmp(e->val, w->val, ms->vsz))
			continue;
		if (bpf_map_update_elem(ms->fd, w->key, w->val, BPF_ANY))
			return -errno;
		(*writes)++;
	}
	for (i = 0; i < h->cap; i++) {
		if (!h->e[i].used || nn_table_get(&ms->want, h->e[i].key, ms->ksz))
			continue;
		if (bpf_map_delete_elem(ms->fd, h->e[i].key) && errno != ENOENT)
			return -errno;
		(*writes)++;
	}
	return 0;
}

static bool rules_match(int fd, uint32_t base, const struct nn_compiled *c)
{
	struct nn_rule_info ri;
	uint32_t i, k;

	for (i = 0; i < c->n_rules; i++) {
		k = base + i;
		if (bpf_map_lookup_elem(fd, &k, &ri) || memcmp(&ri, &c->rules[i], sizeof(ri)))
			return false;
	}
	return true;
}

static int write_rules(int fd, uint32_t base, const struct nn_compiled *c, size_t *writes)
{
	struct nn_rule_info ri;
	uint32_t i, k;

	for (i = 0; i < c->n_rules; i++) {
		k = base + i;
		if (!bpf_map_lookup_elem(fd, &k, &ri) && !memcmp(&ri, &c->rules[i], sizeof(ri)))
			continue;
		if (bpf_map_update_elem(fd, &k, &c->rules[i], BPF_ANY))
			return -errno;
		(*writes)++;
	}
	return 0;
}

uint64_t nn_map_count(int fd, size_t ksz, uint32_t (*slot_of)(const void *key), uint32_t slot)
{
	uint8_t key[64], next[64];
	void *prev = NULL;
	uint64_t n = 0;

	if (ksz > sizeof(key))
		return 0;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		if (!slot_of || slot_of(key) == slot)
			n++;
	}
	return n;
}

int nn_live_epoch(struct nn_dp *dp, uint32_t *epoch)
{
	struct nn_active a = {};
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(dp->map_fd[NN_M_ACTIVE], &zero, &a))
		return -errno;
	*epoch = a.epoch;
	return 0;
}

static int write_meta(struct nn_dp *dp, const struct nn_policy *p, const struct nn_compiled *c,
		      uint32_t epoch, size_t *writes)
{
	struct nn_meta m = {}, cur = {};
	struct timespec ts;
	uint32_t zero = 0;

	bpf_map_lookup_elem(dp->map_fd[NN_M_META], &zero, &cur);
	m.generation = p->generation;
	m.epoch = epoch;
	m.devices = p->n_devices;
	m.rules = p->n_rules;
	m.cells = c->n_cells;
	m.prefixes = c->n_prefixes;
	m.applied_unix_ns = cur.applied_unix_ns;
	if (!memcmp(&m, &cur, sizeof(m)))
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	m.applied_unix_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	if (bpf_map_update_elem(dp->map_fd[NN_M_META], &zero, &m, BPF_ANY))
		return -errno;
	(*writes)++;
	return 0;
}

const char *nn_apply_outcome_name(enum nn_apply_outcome o)
{
	switch (o) {
	case NN_APPLY_APPLIED:
		return "applied";
	case NN_APPLY_REJECTED:
		return "rejected";
	case NN_APPLY_FAILED:
		return "failed";
	}
	return "unknown";
}

static enum nn_apply_outcome outcome(struct nn_apply_result *res, int err, bool rejected)
{
	res->error = err;
	if (!err)
		return NN_APPLY_APPLIED;
	return rejected ? NN_APPLY_REJECTED : NN_APPLY_FAILED;
}

enum nn_apply_outcome nn_apply(struct nn_dp *dp, const struct nn_policy *p,
			       struct nn_apply_result *res, struct nn_errlist *errs)
{
	struct mapset sets[SET_COUNT] = {
		[SET_ADDRS] = { .fd = dp->map_fd[NN_M_ADDRS],
				.ksz = sizeof(struct nn_addr_key),
				.vsz = sizeof(struct nn_addr_info) },
		[SET_PREFIXES] = { .fd = dp->map_fd[NN_M_PREFIXES],
				   .ksz = sizeof(struct nn_prefix_key),
				   .vsz = sizeof(struct nn_prefix_info) },
		[SET_PFX_HASH] = { .fd = dp->map_fd[NN_M_PFX_HASH],
				   .ksz = sizeof(struct nn_pfx_key),
				   .vsz = sizeof(struct nn_prefix_info) },
		[SET_PFX_LENS] = { .fd = dp->map_fd[NN_M_PFX_LENS],
				   .ksz = sizeof(struct nn_pfx_lens_key),
				   .vsz = sizeof(struct nn_pfx_lens) },
		[SET_CELLS] = { .fd = dp->map_fd[NN_M_POLICY],
				.ksz = sizeof(struct nn_cell_key),
				.vsz = sizeof(struct nn_cell) },
	};
	uint32_t epoch, live, standby, max_rules = dp->opts.cap.max_rules, zero = 0;
	struct nn_compiled c = {};
	struct nn_slot_plan plan;
	struct nn_slots slots;
	bool same = true, rejected = false;
	const char *what = "the counter slots";
	int i, err;

	memset(res, 0, sizeof(*res));
	err = nn_live_epoch(dp, &epoch);
	if (err) {
		nn_errlist_add(errs, "couldn't read the live epoch: %s", strerror(-err));
		return outcome(res, err, false);
	}
	live = NN_SLOT(epoch);
	standby = NN_SLOT(epoch + 1);

	/* Capacities the snapshot exceeds (counter slots: -ENOSPC; cells:
	 * -E2BIG) are its own property: rejected. Anything else is ours. */
	err = nn_slots_plan(dp, p, &slots, &plan, errs);
	if (err)
		return outcome(res, err, err == -ENOSPC);
	err = nn_compile(p, &slots,
			 &(struct nn_compile_caps){ .max_cells = dp->opts.cap.max_cells,
						    .max_prefixes = dp->opts.cap.max_prefixes },
			 &c, errs);
	if (err) {
		rejected = err == -E2BIG;
		goto out_slots;
	}
	res->addrs = c.n_addrs;
	res->prefixes = c.n_prefixes;
	res->cells = c.n_cells;
	for (i = 0; i < SET_COUNT; i++) {
		nn_table_init(&sets[i].want);
		nn_table_init(&sets[i].have[0]);
		nn_table_init(&sets[i].have[1]);
	}
	err = build_want(sets, &c, standby);
	for (i = 0; i < SET_COUNT && !err; i++)
		err = dump_map(&sets[i], i);
	if (err) {
		nn_errlist_add(errs, "couldn't read the maps: %s", strerror(-err));
		goto out;
	}

	/* Nothing to do when the live generation is already this policy. */
	same = epoch != 0 && !plan.n_new && !plan.n_old &&
	       rules_match(dp->map_fd[NN_M_RULES], live * max_rules, &c);
	for (i = 0; i < SET_COUNT && same; i++)
		same = live_matches(&sets[i], i, live, standby);
	if (same) {
		err = write_meta(dp, p, &c, epoch, &res->writes);
		res->epoch = epoch;
		goto out;
	}

	for (i = 0; i < SET_COUNT && !err; i++) {
		err = write_standby(&sets[i], standby, &res->writes);
		what = set_name[i];
	}
	if (!err) {
		err = write_rules(dp->map_fd[NN_M_RULES], standby * max_rules, &c, &res->writes);
		what = "nn_rules";
	}
	if (!err) {
		err = nn_slots_write_new(&plan);
		what = "the counter slots";
	}
	if (err) {
		nn_errlist_add(errs,
			       "couldn't write the new generation into %s (%s%s): the previous "
			       "one stays enforced",
			       what, strerror(-err),
			       err == -E2BIG || err == -ENOSPC ? ", the map is full" : "");
		goto out;
	}

	/* The switch: one 4-byte write; then wait out readers of the old slot. */
	epoch++;
	if (bpf_map_update_elem(dp->map_fd[NN_M_ACTIVE], &zero, &epoch, BPF_ANY)) {
		err = -errno;
		nn_errlist_add(errs, "couldn't switch generations: %s", strerror(-err));
		goto out;
	}
	res->writes++;
	res->flipped = true;
	res->epoch = epoch;
	err = nn_dp_barrier(dp);
	if (!err)
		err = nn_slots_release_old(&plan);
	if (!err)
		err = write_meta(dp, p, &c, epoch, &res->writes);
	if (err)
		nn_errlist_add(errs, "generation %u is live but cleanup failed: %s", epoch,
			       strerror(-err));
out:
	for (i = 0; i < SET_COUNT; i++) {
		nn_table_free(&sets[i].want);
		nn_table_free(&sets[i].have[0]);
		nn_table_free(&sets[i].have[1]);
	}
	nn_compiled_free(&c);
out_slots:
	nn_slots_free(&slots, &plan);
	return outcome(res, err, rejected);
}
