// SPDX-License-Identifier: GPL-2.0
/*
 * patch.c - the generation switch for a device patch (apply.h,
 * nn_apply_patch): the standby half is brought to "live overridden by the
 * patch" by writing only the journal's keys (where the halves differ) and
 * the patch's, then flipped. The record and the journal follow in O(change).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "compile/delta.h"
#include "dp/apply.h"
#include "dp/apply_int.h"
#include "dp/batch.h"
#include "dp/slot_names.h"
#include "dp/srcfilter.h"

/* The patch's value for an nn_addrs key: 1 set (*val), 0 deleted, -1 not
 * in the patch. Linear: a patch holds a few entries. */
static int patched(const struct nn_dev_patch *pt, const uint8_t *addr, struct nn_addr_info *val)
{
	size_t i;

	for (i = 0; i < pt->n_set; i++)
		if (!memcmp(pt->set[i].addr, addr, NN_ADDR_LEN)) {
			*val = pt->set[i].info;
			return 1;
		}
	for (i = 0; i < pt->n_del; i++)
		if (!memcmp(pt->del[i], addr, NN_ADDR_LEN))
			return 0;
	return -1;
}

struct wbuf {
	uint8_t *uk, *uv, *dk;
	size_t nu, nd;
};

/* Key @key (slot 0) of map @set: what standby must hold (live, or the
 * patch for nn_addrs) against what it holds; queued when they differ, and
 * the record of standby updated. */
static int one_key(struct nn_apply_cache *c, const struct mapset *ms, int set, uint32_t live,
		   const struct nn_dev_patch *pt, const uint8_t *key, struct wbuf *w)
{
	const struct nn_ftab *lv = &c->have[set][live], *sb;
	uint8_t val[NN_LIVE_DIFF_VSZ];
	static const uint8_t none;
	bool want;
	long j;
	int p = -1, err;

	if (ms->vsz > sizeof(val))
		return -EINVAL;
	if (set == SET_ADDRS)
		p = patched(pt, ((const struct nn_addr_key *)key)->addr,
			    (struct nn_addr_info *)val);
	if (p < 0) {
		j = nn_ftab_find(lv, key);
		want = j >= 0;
		if (want)
			nn_ftab_val(lv, (size_t)j, val);
	} else {
		want = p == 1;
	}
	j = nn_ap_half_find(c, set, live ^ 1, key, &sb);
	if (want && j >= 0 && nn_ftab_val_eq(sb, (size_t)j, val))
		return 0;
	if (!want && j < 0)
		return 0;
	if (want) {
		memcpy(w->uk + w->nu * ms->ksz, key, ms->ksz);
		nn_set_key_reslot(set, w->uk + w->nu * ms->ksz, live ^ 1);
		memcpy(w->uv + w->nu * ms->vsz, val, ms->vsz);
		w->nu++;
	} else {
		memcpy(w->dk + w->nd * ms->ksz, key, ms->ksz);
		nn_set_key_reslot(set, w->dk + w->nd * ms->ksz, live ^ 1);
		w->nd++;
	}
	if (!c->sb.held)
		return want ? nn_ftab_put(&c->have[set][live ^ 1], key, val) :
			      nn_ftab_del(&c->have[set][live ^ 1], key);
	/* The standby record kept as a difference: this key is one of it. */
	err = nn_ftab_put(&c->sb.keys[set], key, &none);
	if (!err)
		err = want ? nn_ftab_put(&c->sb.vals[set], key, val) :
			     nn_ftab_del(&c->sb.vals[set], key);
	return err;
}

/* With the standby record kept as a difference (c->sb) and written: the
 * live record swapped into it in place, the difference then the old
 * live's at those keys (the next standby), less the keys where the two
 * agree now (the journal's keys not in the patch: without this the
 * journal would only grow). The record moves to the half going live. */
static int swap_live(struct nn_apply_cache *c, uint32_t live)
{
	uint8_t val[NN_LIVE_DIFF_VSZ];
	int set, err = 0;

	for (set = 0; set < SET_COUNT && !err; set++) {
		struct nn_ftab *t = &c->have[set][live], *jk = &c->sb.keys[set],
			       *ov = &c->sb.vals[set];
		size_t i;

		err = nn_half_diff_swap(&c->sb, set, t);
		/* Backwards: a delete moves the last entry (seen) into i. */
		for (i = jk->n; i-- > 0 && !err;) {
			const void *key = nn_ftab_key(jk, i);
			long a = nn_ftab_find(t, key), b = nn_ftab_find(ov, key);

			if ((a < 0) != (b < 0))
				continue;
			if (a >= 0) {
				nn_ftab_val(ov, (size_t)b, val);
				if (!nn_ftab_val_eq(t, (size_t)a, val))
					continue;
				err = nn_ftab_del(ov, key);
			}
			if (!err)
				err = nn_ftab_del(jk, key);
		}
		c->have[set][live ^ 1] = *t;
		nn_ftab_init(t, c->have[set][live ^ 1].ksz, c->have[set][live ^ 1].vsz);
	}
	return err;
}

/* Standby of map @set := live overridden by @pt, on the journal's keys and
 * the patch's. */
static int write_set(struct nn_apply_cache *c, const struct mapset *ms, int set, uint32_t live,
		     const struct nn_dev_patch *pt, size_t *writes)
{
	const struct nn_keylist *jl = &c->journal[set];
	size_t n = jl->n + (set == SET_ADDRS ? pt->n_set + pt->n_del : 0), i;
	struct wbuf w = { 0 };
	int err = 0;

	if (!n)
		return 0;
	w.uk = malloc(n * ms->ksz);
	w.uv = malloc(n * ms->vsz);
	w.dk = malloc(n * ms->ksz);
	if (!w.uk || !w.uv || !w.dk)
		err = -ENOMEM;
	for (i = 0; i < jl->n && !err; i++)
		err = one_key(c, ms, set, live, pt, jl->k + i * jl->ksz, &w);
	for (i = 0; set == SET_ADDRS && i < pt->n_set + pt->n_del && !err; i++) {
		struct nn_addr_key k = { .slot = 0 };

		memcpy(k.addr, i < pt->n_set ? pt->set[i].addr : pt->del[i - pt->n_set],
		       NN_ADDR_LEN);
		err = one_key(c, ms, set, live, pt, (const uint8_t *)&k, &w);
	}
	/* Updates first, deletes after: as nn_apply() orders them. */
	if (!err && w.nu)
		err = nn_map_update_many(ms->fd, w.uk, ms->ksz, w.uv, ms->vsz, w.nu);
	if (!err && w.nd)
		err = nn_map_delete_many(ms->fd, w.dk, ms->ksz, w.nd);
	if (!err)
		*writes += w.nu + w.nd;
	free(w.uk);
	free(w.uv);
	free(w.dk);
	return err;
}

static int write_rules_j(struct nn_dp *dp, struct nn_apply_cache *c, uint32_t live, size_t *writes)
{
	uint32_t mr = c->max_rules, sb = live ^ 1;
	size_t i;

	for (i = 0; i < c->n_jrules; i++) {
		uint32_t r = c->jrules[i], key = sb * mr + r;

		if (bpf_map_update_elem(dp->map_fd[NN_M_RULES], &key, &c->rules[live][r], BPF_ANY))
			return -errno;
		c->rules[sb][r] = c->rules[live][r];
		(*writes)++;
	}
	return 0;
}

static int claim_slots(struct nn_dp *dp, const struct nn_dev_patch *pt)
{
	int err;

	if (!pt->n_new)
		return 0;
	/* Counters zeroed before the name is published (slots.c's order). */
	err = nn_map_zero_percpu(dp->map_fd[NN_M_DEV_STATS], pt->new_slots, pt->n_new,
				 sizeof(struct nn_dev_stats));
	return err   ?:
		       nn_slot_names_put(dp->map_fd[NN_M_DEV_NAMES], pt->new_slots, pt->new_names,
					 pt->n_new);
}

/* A freed slot's name is zeroed (the map is an array): no reader finds it
 * in use, and the next claim of the slot starts from nothing. */
static int release_slots(struct nn_dp *dp, const struct nn_dev_patch *pt)
{
	return nn_slot_names_free(dp->map_fd[NN_M_DEV_NAMES], pt->old_slots, pt->n_old);
}

static int meta(struct nn_dp *dp, const struct nn_dev_patch *pt, uint32_t epoch, size_t *writes)
{
	struct nn_meta m = {};
	struct timespec ts;
	uint32_t zero = 0;

	/* Cells, prefixes and rules are the live generation's: unchanged. */
	bpf_map_lookup_elem(dp->map_fd[NN_M_META], &zero, &m);
	m.generation = pt->generation;
	m.epoch = epoch;
	m.devices = pt->n_devices;
	clock_gettime(CLOCK_REALTIME, &ts);
	m.applied_unix_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	if (bpf_map_update_elem(dp->map_fd[NN_M_META], &zero, &m, BPF_ANY))
		return -errno;
	(*writes)++;
	return 0;
}

/* The journal after the flip: the patch's keys whose value now differs
 * between the new live half and the old one (now standby). */
static int journal_next(struct nn_apply_cache *c, const struct nn_dev_patch *pt, uint32_t nlive)
{
	const struct nn_ftab *a = &c->have[SET_ADDRS][nlive], *b = &c->have[SET_ADDRS][nlive ^ 1];
	size_t i;
	int set, err = 0;

	for (set = 0; set < SET_COUNT; set++)
		c->journal[set].n = 0;
	c->n_jrules = 0;
	if (c->sb.held) {
		/* The difference's keys (swap_live kept only those). */
		for (set = 0; set < SET_COUNT; set++)
			for (i = 0; i < c->sb.keys[set].n && !err; i++)
				err = nn_ap_kl_push(&c->journal[set],
						    nn_ftab_key(&c->sb.keys[set], i));
		c->journal_ok = !err;
		return err;
	}
	for (i = 0; i < pt->n_set + pt->n_del && !err; i++) {
		struct nn_addr_key k = { .slot = 0 };
		long x, y;

		memcpy(k.addr, i < pt->n_set ? pt->set[i].addr : pt->del[i - pt->n_set],
		       NN_ADDR_LEN);
		x = nn_ftab_find(a, &k);
		y = nn_ftab_find(b, &k);
		if ((x < 0) != (y < 0) || (x >= 0 && !nn_ftab_same_val(a, (size_t)x, b, (size_t)y)))
			err = nn_ap_kl_push(&c->journal[SET_ADDRS], &k);
	}
	c->journal_ok = !err;
	return err;
}

enum nn_apply_outcome nn_apply_patch(struct nn_dp *dp, const struct nn_dev_patch *pt,
				     struct nn_apply_result *res, struct nn_errlist *errs)
{
	struct mapset sets[SET_COUNT];
	struct nn_apply_cache *c = dp->apply_cache;
	uint32_t epoch = 0, live, zero = 0;
	struct nn_srcf_op fo;
	int set, err;

	memset(res, 0, sizeof(*res));
	nn_ap_init_sets(dp, sets);
	err = nn_live_epoch(dp, &epoch);
	if (!err && (!epoch || !c || c->epoch != epoch || c->max_rules != dp->opts.cap.max_rules))
		err = -EAGAIN; /* no record of the live generation: full path */
	/* Class numbers come from one full compile: another one since (the
	 * drift re-apply) renumbers them. */
	if (!err && pt->seq != dp->full_seq)
		err = -EAGAIN;
	/* The previous patch's readers of what is now standby are gone
	 * before it is written (the barrier moved here from its flip). */
	if (!err)
		err = nn_dp_barrier_settle(dp);
	if (err) {
		if (err != -EAGAIN)
			nn_errlist_add(errs,
				       "couldn't wait for the programs to leave the standby "
				       "half: %s",
				       strerror(-err));
		res->error = err;
		return NN_APPLY_FAILED;
	}
	live = NN_SLOT(epoch);
	dp->apply_cache = NULL; /* back only if everything holds */
	for (set = 0; set < SET_COUNT; set++)
		if (nn_ap_journal_fit(&c->journal[set], sets[set].ksz))
			c->journal_ok = false;
	err = c->journal_ok ? 0 : nn_ap_journal_build(c, live);
	if (!err)
		err = nn_srcf_begin(dp, live ^ 1, epoch - 1, true, &fo, &res->writes);
	for (set = 0; set < SET_COUNT && !err; set++)
		err = write_set(c, &sets[set], set, live, pt, &res->writes);
	if (!err && c->sb.held)
		err = swap_live(c, live);
	if (!err)
		nn_srcf_finish_patch(dp, live ^ 1, &fo, c, pt, epoch + 1, &res->writes);
	if (!err)
		err = write_rules_j(dp, c, live, &res->writes);
	if (!err)
		err = claim_slots(dp, pt);
	if (err) {
		nn_errlist_add(errs,
			       "couldn't write the device change into the standby half (%s): the "
			       "previous generation stays enforced",
			       strerror(-err));
		nn_apply_cache_free(c);
		res->error = err;
		return NN_APPLY_FAILED;
	}
	epoch++;
	if (bpf_map_update_elem(dp->map_fd[NN_M_ACTIVE], &zero, &epoch, BPF_ANY)) {
		err = -errno;
		nn_errlist_add(errs, "couldn't switch generations: %s", strerror(-err));
		nn_apply_cache_free(c);
		res->error = err;
		return NN_APPLY_FAILED;
	}
	res->writes++;
	res->flipped = true;
	res->epoch = epoch;
	/* Enforced from here. The RCU barrier (8-20 ms) is left due: the
	 * old half is written again only after nn_dp_barrier_settle(). A
	 * released slot's name goes now; a program still in the old half may
	 * count into the nameless slot, and a later claim zeroes it after
	 * the settle. */
	dp->barrier_due = true;
	c->epoch = epoch;
	err = meta(dp, pt, epoch, &res->writes);
	if (journal_next(c, pt, NN_SLOT(epoch))) {
		c->journal_ok = false;
		if (c->sb.held) { /* the difference needs its journal */
			nn_apply_cache_free(c);
			c = NULL;
		}
	}
	/* A record of two whole halves (read from the maps, or a full apply
	 * not yet synced): the standby's kept as a difference from now on
	 * (cache.h). Without the memory for that both stay. */
	if (c && c->journal_ok)
		(void)nn_ap_standby_fold(c, NN_SLOT(epoch));
	dp->apply_cache = c;
	if (!err)
		err = release_slots(dp, pt);
	if (err)
		nn_errlist_add(errs, "generation %u is live but cleanup failed: %s", epoch,
			       strerror(-err));
	res->addrs = dp->apply_cache ? dp->apply_cache->have[SET_ADDRS][NN_SLOT(epoch)].n : 0;
	res->error = err;
	return err ? NN_APPLY_FAILED : NN_APPLY_APPLIED;
}
