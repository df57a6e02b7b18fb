// SPDX-License-Identifier: GPL-2.0
/* apply.c - see apply.h for the generation switch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "dp/apply.h"
#include "dp/batch.h"
#include "dp/cache.h"
#include "dp/ftab.h"
#include "dp/apply_int.h"
#include "dp/slot_names.h"
#include "dp/srcfilter.h"
#include "lib/log.h"
#include "lib/thread.h"
#include "lib/stamp.h"

struct dump_arg {
	struct nn_apply_cache *c;
	int set;
	size_t ksz;
};

static int dump_one(const void *key, const void *val, void *arg)
{
	struct dump_arg *a = arg;
	uint8_t k[64];
	uint32_t slot = nn_set_key_slot(a->set, key) & 1;

	memcpy(k, key, a->ksz);
	nn_set_key_reslot(a->set, k, 0);
	return nn_ftab_put(&a->c->have[a->set][slot], k, val);
}

static int dump_rule(const void *key, const void *val, void *arg)
{
	struct nn_apply_cache *c = arg;
	uint32_t k = *(const uint32_t *)key;

	if (c->max_rules && k < 2 * c->max_rules)
		c->rules[k / c->max_rules][k % c->max_rules] = *(const struct nn_rule_info *)val;
	return 0;
}

/* A record of maps that hold nothing: empty tables, zeroed rule slots. */
static struct nn_apply_cache *cache_empty(struct nn_dp *dp, const struct mapset *sets,
					  uint32_t epoch)
{
	struct nn_apply_cache *c = calloc(1, sizeof(*c));
	uint32_t mr = dp->opts.cap.max_rules;
	int i;

	if (!c)
		return NULL;
	c->epoch = epoch;
	c->max_rules = mr;
	for (i = 0; i < SET_COUNT; i++) {
		nn_ftab_init(&c->have[i][0], sets[i].ksz, sets[i].vsz);
		nn_ftab_init(&c->have[i][1], sets[i].ksz, sets[i].vsz);
	}
	c->rules[0] = calloc(mr ? mr : 1, sizeof(struct nn_rule_info));
	c->rules[1] = calloc(mr ? mr : 1, sizeof(struct nn_rule_info));
	if (!c->rules[0] || !c->rules[1]) {
		nn_apply_cache_free(c);
		return NULL;
	}
	return c;
}

/* Read what the kernel holds: the start, or after any doubt. */
static int cache_read(struct nn_dp *dp, const struct mapset *sets, uint32_t epoch,
		      struct nn_apply_cache **out)
{
	struct nn_apply_cache *c = cache_empty(dp, sets, epoch);
	int i, err = 0;

	if (!c)
		return -ENOMEM;
	for (i = 0; i < SET_COUNT && !err; i++) {
		struct dump_arg a = { .c = c, .set = i, .ksz = sets[i].ksz };

		err = nn_map_dump(sets[i].fd, sets[i].ksz, sets[i].vsz, dump_one, &a);
	}
	if (!err)
		err = nn_map_dump(dp->map_fd[NN_M_RULES], sizeof(uint32_t),
				  sizeof(struct nn_rule_info), dump_rule, c);
	if (err) {
		nn_apply_cache_free(c);
		return err;
	}
	*out = c;
	return 0;
}

/* Free the compiled map entries once the want tables have them; the
 * counts and the rule slots stay. */
static void drop_entries(struct nn_compiled *c)
{
	nn_ap_drop_addrs(c);
	nn_ap_drop_cells(c);
}

/* Do two records of one map hold the same entries? */
static bool same_entries(const struct nn_ftab *a, const struct nn_ftab *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		long j = nn_ftab_find(b, nn_ftab_key(a, i));

		if (j < 0 || !nn_ftab_same_val(a, i, b, (size_t)j))
			return false;
	}
	return true;
}

/* The rule slots of one half: @want[0..n) where they differ from @have. */
static int write_rules(int fd, uint32_t base, const struct nn_rule_info *want, size_t n,
		       const struct nn_rule_info *have, size_t *writes)
{
	uint32_t *keys = malloc((n ? n : 1) * sizeof(*keys));
	struct nn_rule_info *vals = malloc((n ? n : 1) * sizeof(*vals));
	size_t i, m = 0;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!memcmp(&want[i], &have[i], sizeof(*want)))
			continue;
		keys[m] = base + (uint32_t)i;
		vals[m++] = want[i];
	}
	err = nn_map_update_many(fd, keys, sizeof(*keys), vals, sizeof(*vals), m);
	if (!err)
		*writes += m;
out:
	free(keys);
	free(vals);
	return err;
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

/*
 * The names of new counter slots (nn_slots_write_new: their counters
 * zeroed, then slot -> name) written by a helper thread while this one
 * compiles and writes the policy maps: a cold apply at 100k names 200k
 * entities (stores through the names maps' mappings since session 16,
 * where they were ~0.1 s of the kernel's hash inserts). Only from NAMES_PAR_MIN
 * new names (a device change stays in one thread), and joined before the
 * flip. An apply rejected or failed meanwhile frees them again (they
 * were free slots: zeroed), so that it leaves the name maps as the serial
 * order did: untouched.
 */
#define NAMES_PAR_MIN 8192

struct names_job {
	const struct nn_slot_plan *plan;
	int err;
};

static void *names_run(void *arg)
{
	struct names_job *j = arg;

	j->err = nn_slots_write_new(j->plan);
	nn_stamp("names.written");
	return NULL;
}

static void names_undo(const struct nn_slot_plan *plan)
{
	int s, err;

	for (s = 0; s < NN_SLOT_SPACES; s++) {
		err = nn_slot_names_free(plan->news[s].fd, plan->news[s].slot, plan->news[s].n);
		if (err)
			nn_log_warn("event=counter_names_undo_failed err=%s", strerror(-err));
	}
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

void nn_ap_init_sets(const struct nn_dp *dp, struct mapset *sets)
{
	int i;

	for (i = 0; i < SET_COUNT; i++) {
		sets[i].fd = dp->map_fd[nn_set_defs[i].map];
		sets[i].ksz = nn_set_defs[i].ksz;
		sets[i].vsz = nn_set_defs[i].vsz;
	}
}

/* The record kept by the last apply holds the live generation @epoch. */
static bool cache_kept(const struct nn_dp *dp, uint32_t epoch)
{
	const struct nn_apply_cache *c = dp->apply_cache;

	return c && c->epoch == epoch && c->max_rules == dp->opts.cap.max_rules;
}

/* The wanted tables are built and written at once (apply_pipe.c) when
 * the apply is large (as build_want's helper), the record is at hand
 * before the build (kept, or the empty one of maps this process created:
 * one read back from the maps waits for the compiled arrays to go), and
 * the apply cannot find the live generation wanted again, which only
 * complete tables tell (a first apply; counter slots that change). */
static bool pipe_fits(const struct nn_dp *dp, uint32_t epoch, const struct nn_slot_plan *plan,
		      const struct nn_compiled *c, const struct nn_apply_cache *taken)
{
	return c->n_cells >= nn_apply_want_par_min && (epoch == 0 || plan->n_new || plan->n_old) &&
	       (taken || (dp->maps_unwritten && epoch == 0));
}

/* The record of what the maps hold at live epoch @epoch: the one kept from
 * the last apply, or read from the kernel. Owned by the caller until
 * handed back with cache_keep(). */
static int cache_take(struct nn_dp *dp, const struct mapset *sets, uint32_t epoch,
		      struct nn_apply_cache **c)
{
	bool unwritten = dp->maps_unwritten && epoch == 0, kept = cache_kept(dp, epoch);

	/* From now on the maps may hold whatever this apply writes, even if
	 * it fails midway (the record is then dropped and read back). */
	dp->maps_unwritten = false;
	*c = dp->apply_cache;
	dp->apply_cache = NULL;
	if (kept)
		return 0;
	nn_apply_cache_free(*c);
	*c = NULL;
	if (unwritten) {
		*c = cache_empty(dp, sets, epoch);
		return *c ? 0 : -ENOMEM;
	}
	return cache_read(dp, sets, epoch, c);
}

static void cache_keep(struct nn_dp *dp, struct nn_apply_cache *c, uint32_t epoch)
{
	c->epoch = epoch;
	nn_apply_cache_free(dp->apply_cache);
	dp->apply_cache = c;
}

/* The record taken by an apply that wrote nothing (the compile refused
 * the policy, or it is the live generation already) handed back: the live
 * half's record swapped back from the standby's in place, the standby's
 * then kept as its difference (cache.h). A record whose live half was not
 * set aside (@ld empty) goes back as it is. 0, or -ENOMEM with @c left
 * for the caller to drop (the next apply reads the maps). */
static int cache_give_back(struct nn_dp *dp, struct nn_apply_cache *c, struct nn_half_diff *ld,
			   uint32_t live, uint32_t epoch)
{
	uint32_t standby = live ^ 1;
	int i, err = 0;

	for (i = 0; i < SET_COUNT && ld->held && !err; i++) {
		err = nn_half_diff_swap(ld, i, &c->have[i][standby]);
		c->have[i][live] = c->have[i][standby];
		nn_ftab_init(&c->have[i][standby], c->have[i][live].ksz, c->have[i][live].vsz);
	}
	if (err)
		return err;
	if (ld->held) {
		c->sb = *ld;
		memset(ld, 0, sizeof(*ld));
	}
	cache_keep(dp, c, epoch);
	return 0;
}

int nn_dp_barrier_settle(struct nn_dp *dp)
{
	int err;

	if (!dp->barrier_due)
		return 0;
	err = nn_dp_barrier(dp);
	if (!err)
		dp->barrier_due = false;
	return err;
}

enum nn_apply_outcome nn_apply(struct nn_dp *dp, const struct nn_policy *p,
			       struct nn_apply_result *res, struct nn_errlist *errs)
{
	return nn_apply_keep(dp, p, res, errs, NULL);
}

enum nn_apply_outcome nn_apply_keep(struct nn_dp *dp, const struct nn_policy *p,
				    struct nn_apply_result *res, struct nn_errlist *errs,
				    struct nn_apply_kept *keep)
{
	struct nn_compile_state *cs = NULL;
	struct mapset sets[SET_COUNT];
	struct nn_ftab want[SET_COUNT];
	uint32_t epoch, live, standby, max_rules = dp->opts.cap.max_rules, zero = 0;
	struct nn_apply_cache *cache = NULL;
	struct nn_compiled c = {};
	struct nn_slot_plan plan;
	struct nn_slots slots;
	bool same = true, rejected = false, names_par = false, piped;
	struct names_job nj = { .plan = &plan };
	struct nn_half_diff ld = {};
	pthread_t names_t;
	struct nn_srcf_op fo;
	const char *what = "the counter slots";
	int i, err;

	nn_stamp("apply");
	memset(res, 0, sizeof(*res));
	nn_ap_init_sets(dp, sets);
	for (i = 0; i < SET_COUNT; i++)
		nn_ftab_init(&want[i], sets[i].ksz, sets[i].vsz);
	err = nn_live_epoch(dp, &epoch);
	if (err) {
		nn_errlist_add(errs, "couldn't read the live epoch: %s", strerror(-err));
		return outcome(res, err, false);
	}
	live = NN_SLOT(epoch);
	standby = NN_SLOT(epoch + 1);
	err = nn_dp_barrier_settle(dp); /* a patch's flip: before any write */
	if (err) {
		nn_errlist_add(errs, "couldn't wait for the programs to leave the standby half: %s",
			       strerror(-err));
		return outcome(res, err, false);
	}

	/* Capacities the snapshot exceeds (counter slots: -ENOSPC; cells:
	 * -E2BIG) are its own property: rejected. Anything else is ours. */
	err = nn_slots_plan(dp, p, &slots, &plan, errs);
	nn_stamp("a.slots_plan");
	if (err)
		return outcome(res, err, err == -ENOSPC);
	if (plan.n_new >= NAMES_PAR_MIN)
		names_par = nn_thread_start(&names_t, names_run, &nj);
	/* A record kept from the last apply is taken before the compile, and
	 * its live half set aside as where it differs from the standby's
	 * (live_diff.c): the compile is the apply's peak, and a record of two
	 * whole halves (a full apply not yet followed by the idle sync) was
	 * ~0.22 GB more there at 1M devices. want[] is then built in its room
	 * (without the memory for that, both stay). A record read back from
	 * the maps (after a restart, or a failed apply) is read after the
	 * compiled arrays are dropped, so that both halves read from the
	 * kernel never sit beside them. */
	if (cache_kept(dp, epoch)) {
		dp->maps_unwritten = false; /* as cache_take() */
		cache = dp->apply_cache;
		dp->apply_cache = NULL;
		if (nn_live_diff_take(cache, live, &ld) && cache->sb.held) {
			/* a swap failed midway: neither half's record; read
			 * back from the maps below (without the pipeline,
			 * which needs the record before the build) */
			nn_apply_cache_free(cache);
			cache = NULL;
		}
	}
	err = nn_compile_keep(p, &slots,
			      &(struct nn_compile_caps){ .max_cells = dp->opts.cap.max_cells,
							 .max_prefixes =
								 dp->opts.cap.max_prefixes },
			      &c, errs, keep ? &cs : NULL);
	if (err) {
		rejected = err == -E2BIG;
		/* Nothing written: the record stays good (or is dropped). */
		if (cache && !cache_give_back(dp, cache, &ld, live, epoch))
			cache = NULL;
		goto out_slots;
	}
	nn_stamp("a.compiled");
	res->addrs = c.n_addrs;
	res->prefixes = c.n_prefixes;
	res->cells = c.n_cells;
	piped = pipe_fits(dp, epoch, &plan, &c, cache);
	if (piped && !cache) {
		err = cache_take(dp, sets, epoch, &cache); /* the maps' empty one */
		if (err) {
			nn_errlist_add(errs, "couldn't read the maps: %s", strerror(-err));
			goto out;
		}
	}
	if (piped) {
		struct nn_ap_pipe pp = { .dp = dp,
					 .sets = sets,
					 .want = want,
					 .c = &c,
					 .compat = dp->cells_compat,
					 .have = cache,
					 .slot = standby,
					 .covered = epoch - 1,
					 .fo = &fo };

		err = nn_ap_pipe_run(&pp);
		nn_stamp("a.pipe");
		res->writes += pp.writes;
		drop_entries(&c);
		if (err && !pp.built) {
			nn_errlist_add(errs, "couldn't record the new generation: %s",
				       strerror(-err));
			goto out;
		}
		what = pp.what;
		goto written;
	}
	err = nn_ap_build_want(want, &c, dp->cells_compat);
	/* want[] holds the entries now (values trimmed); the compiled arrays
	 * are dead (their cells were once the largest thing alive during the
	 * writes at 1M devices, 1 GB at 408 bytes each). Their counts stay
	 * for the result and nn_meta. */
	drop_entries(&c);
	if (err) {
		nn_errlist_add(errs, "couldn't record the new generation: %s", strerror(-err));
		goto out;
	}
	if (!cache) {
		err = cache_take(dp, sets, epoch, &cache);
		if (err) {
			nn_errlist_add(errs, "couldn't read the maps: %s", strerror(-err));
			goto out;
		}
	}

	/* Nothing to do when the live generation is already this policy. */
	same = epoch != 0 && !plan.n_new && !plan.n_old &&
	       !memcmp(cache->rules[live], c.rules, c.n_rules * sizeof(*c.rules));
	for (i = 0; i < SET_COUNT && same; i++)
		same = ld.held ? nn_live_diff_same(&ld, i, &want[i], &cache->have[i][standby]) :
				 same_entries(&want[i], &cache->have[i][live]);
	if (same) {
		for (i = 0; i < SET_COUNT; i++)
			nn_ftab_free(&want[i]);
		/* The live record back, swapped from the standby's in place. */
		err = cache_give_back(dp, cache, &ld, live, epoch);
		if (err) {
			nn_errlist_add(errs, "couldn't keep the record of the maps: %s",
				       strerror(-err));
			goto out;
		}
		cache = NULL;
		nn_srcf_ensure_live(dp, epoch, dp->apply_cache, &res->writes);
		err = write_meta(dp, p, &c, epoch, &res->writes);
		res->epoch = epoch;
		goto out;
	}

	/* The standby half holds an older generation (the one before the
	 * live one, as recorded): only what differs from it is written. Its
	 * source filter is unstamped first and follows once it is written. */
	err = nn_srcf_begin_diff(dp, standby, epoch - 1, &want[SET_ADDRS], &want[SET_CELLS4], cache,
				 &fo, &res->writes);
	what = "nn_srcf";
	for (i = 0; i < SET_COUNT && !err; i++) {
		err = nn_ap_write_slot(&sets[i], i, standby, &want[i], &cache->have[i][standby],
				       &res->writes);
		what = nn_set_defs[i].name;
	}
written:
	if (!err) {
		err = write_rules(dp->map_fd[NN_M_RULES], standby * max_rules, c.rules, c.n_rules,
				  cache->rules[standby], &res->writes);
		what = "nn_rules";
	}
	if (!err) {
		if (names_par) {
			pthread_join(names_t, NULL);
			names_par = false;
			nn_stamp("a.names_joined");
			err = nj.err;
		} else {
			err = nn_slots_write_new(&plan);
		}
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
	nn_srcf_finish(dp, standby, &fo, &want[SET_ADDRS], &want[SET_CELLS4], cache, epoch + 1,
		       &res->writes);
	nn_stamp("a.srcf");
	/* The standby half now holds what is wanted; the record it held
	 * becomes the live one it was set aside from (in place). */
	for (i = 0; i < SET_COUNT && !err; i++) {
		if (ld.held) {
			err = nn_live_diff_apply(&ld, i, &cache->have[i][standby]);
			cache->have[i][live] = cache->have[i][standby];
		} else {
			nn_ftab_free(&cache->have[i][standby]);
		}
		cache->have[i][standby] = want[i];
		nn_ftab_init(&want[i], sets[i].ksz, sets[i].vsz);
	}
	if (err) {
		nn_errlist_add(errs, "couldn't keep the record of the maps: %s", strerror(-err));
		goto out;
	}
	memcpy(cache->rules[standby], c.rules, c.n_rules * sizeof(*c.rules));
	cache->journal_ok = false; /* the halves now differ by a whole diff */
	nn_stamp("a.record");

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
	dp->full_seq++; /* new class numbers: older device patches are void */
	err = nn_dp_barrier(dp);
	nn_stamp("a.flip_barrier");
	/* Without the barrier, programs may still read the old half: the
	 * record is dropped so that nothing writes it on its strength. */
	if (!err) {
		cache_keep(dp, cache, epoch);
		cache = NULL;
		err = nn_slots_release_old(&plan);
	}
	nn_stamp("a.released");
	if (!err)
		err = write_meta(dp, p, &c, epoch, &res->writes);
	if (err)
		nn_errlist_add(errs, "generation %u is live but cleanup failed: %s", epoch,
			       strerror(-err));
out:
	nn_compiled_free(&c);
	if (!err && keep) {
		/* The incremental path goes on from here (compile/delta.h). */
		keep->cs = cs;
		keep->slots = slots;
		keep->slot_cap = dp->opts.cap.max_devices + dp->opts.cap.max_nodes + 1;
		keep->seq = dp->full_seq;
		cs = NULL;
		memset(&slots, 0, sizeof(slots));
	}
	nn_stamp("a.out");
	nn_compile_state_free(cs);
out_slots:
	if (names_par) {
		/* Rejected or failed before the flip, while the names were
		 * written. */
		pthread_join(names_t, NULL);
		names_undo(&plan);
	}
	for (i = 0; i < SET_COUNT; i++)
		nn_ftab_free(&want[i]);
	nn_half_diff_free(&ld);
	nn_apply_cache_free(cache);
	nn_stamp("a.end");
	nn_slots_free(&slots, &plan);
	return outcome(res, err, rejected);
}

int nn_apply_sync_standby(struct nn_dp *dp, size_t *writes)
{
	struct mapset sets[SET_COUNT];
	struct nn_apply_cache *c = dp->apply_cache;
	uint32_t epoch = 0, live, standby, mr = dp->opts.cap.max_rules;
	struct nn_srcf_op fo;
	int i, err;

	*writes = 0;
	nn_ap_init_sets(dp, sets);
	err = nn_live_epoch(dp, &epoch);
	if (err)
		return err;
	/* Only on the strength of a record of this very generation: anything
	 * else (nothing applied yet, another writer) is left alone. */
	if (!epoch || !c || c->epoch != epoch || c->max_rules != mr)
		return 0;
	err = nn_dp_barrier_settle(dp);
	if (err)
		return err;
	live = NN_SLOT(epoch);
	standby = NN_SLOT(epoch + 1);
	dp->apply_cache = NULL;
	/* The whole standby record for the diff below (after a sync or a
	 * patch it is kept as a difference: a copy only where it differs). */
	err = nn_ap_standby_unfold(c, live);
	if (!err)
		err = nn_srcf_begin_diff(dp, standby, epoch - 1, &c->have[SET_ADDRS][live],
					 &c->have[SET_CELLS4][live], c, &fo, writes);
	for (i = 0; i < SET_COUNT && !err; i++)
		err = nn_ap_write_slot(&sets[i], i, standby, &c->have[i][live],
				       &c->have[i][standby], writes);
	if (!err)
		nn_srcf_finish(dp, standby, &fo, &c->have[SET_ADDRS][live],
			       &c->have[SET_CELLS4][live], c, epoch - 1, writes);
	if (!err)
		err = write_rules(dp->map_fd[NN_M_RULES], standby * mr, c->rules[live], mr,
				  c->rules[standby], writes);
	if (err) {
		nn_apply_cache_free(c);
		return err;
	}
	memcpy(c->rules[standby], c->rules[live], mr * sizeof(*c->rules[live]));
	/* The halves are equal: an empty journal. */
	for (i = 0; i < SET_COUNT; i++) {
		nn_ap_journal_fit(&c->journal[i], sets[i].ksz);
		c->journal[i].n = 0;
	}
	c->n_jrules = 0;
	c->journal_ok = true;
	/* The standby record is the live one: kept as an empty difference
	 * (its whole record freed), so that the next patch's puts copy
	 * nothing (cache.h). */
	err = nn_ap_standby_fold(c, live);
	if (err) {
		nn_apply_cache_free(c);
		return err;
	}
	dp->apply_cache = c;
	return 0;
}

struct check_arg {
	const struct nn_apply_cache *rec;
	int set;
	size_t ksz;
	size_t found[2]; /* entries of each slot that the record has too */
	size_t differ;
};

static int check_one(const void *key, const void *val, void *arg)
{
	struct check_arg *a = arg;
	uint32_t slot = nn_set_key_slot(a->set, key) & 1;
	const struct nn_ftab *t;
	uint8_t k[64];
	long j;

	memcpy(k, key, a->ksz);
	nn_set_key_reslot(a->set, k, 0);
	j = nn_ap_half_find(a->rec, a->set, slot, k, &t);
	if (j >= 0)
		a->found[slot]++; /* the rest of the record is missing from the map */
	if (j < 0 || !nn_ftab_val_eq(t, (size_t)j, val))
		a->differ++;
	return 0;
}

struct check_rules {
	const struct nn_apply_cache *rec;
	size_t differ;
};

static int check_rule(const void *key, const void *val, void *arg)
{
	struct check_rules *a = arg;
	uint32_t k = *(const uint32_t *)key, mr = a->rec->max_rules;

	if (mr && k < 2 * mr)
		a->differ +=
			!!memcmp(&a->rec->rules[k / mr][k % mr], val, sizeof(struct nn_rule_info));
	return 0;
}

int nn_apply_check(struct nn_dp *dp, size_t *differ)
{
	struct mapset sets[SET_COUNT];
	struct nn_apply_cache *rec = dp->apply_cache, *now = NULL;
	struct check_rules cr = { .rec = rec };
	uint32_t epoch = 0, mr = dp->opts.cap.max_rules;
	int set, err = 0;

	*differ = 0;
	nn_ap_init_sets(dp, sets);
	err = nn_live_epoch(dp, &epoch);
	if (err)
		return err;
	if (!rec || rec->epoch != epoch || rec->max_rules != mr)
		return 0; /* no record of this generation: the next apply reads */
	/* Streamed: each entry read is looked up in the record, nothing is
	 * built unless something differs. */
	for (set = 0; set < SET_COUNT && !err; set++) {
		struct check_arg a = { .rec = rec, .set = set, .ksz = sets[set].ksz };

		err = nn_map_dump(sets[set].fd, sets[set].ksz, sets[set].vsz, check_one, &a);
		*differ += a.differ + (nn_ap_half_count(rec, set, 0) - a.found[0]) +
			   (nn_ap_half_count(rec, set, 1) - a.found[1]);
	}
	if (!err)
		err = nn_map_dump(dp->map_fd[NN_M_RULES], sizeof(uint32_t),
				  sizeof(struct nn_rule_info), check_rule, &cr);
	*differ += cr.differ;
	if (err || !*differ)
		return err;
	/* What the kernel holds is the truth: the next apply diffs against it
	 * and so repairs whatever changed behind the controller's back. */
	err = cache_read(dp, sets, epoch, &now);
	if (err)
		return err;
	nn_apply_cache_free(rec);
	dp->apply_cache = now;
	return 0;
}
