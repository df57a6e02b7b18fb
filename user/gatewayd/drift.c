// SPDX-License-Identifier: GPL-2.0
/*
 * drift.c - the drift check's parse, validate, compile and comparison on a
 * worker thread (drift.h). The worker touches only its job: the text and
 * the record copy the loop gave it, the name maps it reads through
 * nn_slots_plan (a read of their mapping: a name is published by its
 * in_use, stored last, and a freed one loses it first: dp/slot_names.c),
 * and the last-known-good file of G.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dp/apply.h"
#include "dp/batch.h"
#include "gatewayd/drift.h"
#include "gatewayd/lkg.h"

static double now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct cmp {
	size_t differ, slot_differ;
	char *msg;
	size_t msglen;
};

static void note(struct cmp *m, const char *what, bool slot_only)
{
	if (slot_only)
		m->slot_differ++;
	else
		m->differ++;
	if (m->msg[0])
		return;
	snprintf(m->msg, m->msglen, "%s%s", what, slot_only ? " (counter slot only)" : "");
}

/* One wanted entry against the record: same value, another value, or
 * missing. @slot_off: where a counter slot sits in the value (-1: none),
 * so that a difference there alone is told apart. */
static void want(struct cmp *m, const struct nn_ftab *rec, const void *key, const void *val,
		 long slot_off, const char *what)
{
	long i = nn_ftab_find(rec, key);
	uint8_t have[4096], v[4096];

	if (i < 0) {
		note(m, what, false);
		return;
	}
	if (nn_ftab_val_eq(rec, (size_t)i, val))
		return;
	if (slot_off >= 0 && rec->vsz <= sizeof(have)) {
		nn_ftab_val(rec, (size_t)i, have);
		memcpy(v, val, rec->vsz);
		memset(have + slot_off, 0, sizeof(uint32_t));
		memset(v + slot_off, 0, sizeof(uint32_t));
		if (!memcmp(have, v, rec->vsz)) {
			note(m, what, true);
			return;
		}
	}
	note(m, what, false);
}

/*
 * The map entries a compile makes (the applier's record holds them with
 * slot 0 in every key, values trimmed of trailing zeros by the table), and
 * the cells split between nn_cells4 and nn_policy as nanami_abi.h "Small
 * cells" says (with @compat the small ones in nn_policy too). An entry
 * this builds differently from the applier would show as a difference,
 * never hide one: the repair is then a full re-apply, which decides.
 */
void nn_drift_compare(const struct nn_compiled *c, bool compat, const struct nn_ftab rec[SET_COUNT],
		      const struct nn_rule_info *rules, uint32_t max_rules, size_t *differ,
		      size_t *slot_differ, char *msg, size_t msglen)
{
	struct cmp m = { .msg = msg, .msglen = msglen };
	size_t n[SET_COUNT] = {}, i;
	int s;

	msg[0] = 0;
	for (i = 0; i < c->n_addrs; i++) {
		struct nn_addr_key k;

		memset(&k, 0, sizeof(k));
		memcpy(k.addr, c->addrs[i].addr, NN_ADDR_LEN);
		want(&m, &rec[SET_ADDRS], &k, &c->addrs[i].info,
		     (long)offsetof(struct nn_addr_info, stat_slot), "nn_addrs entry");
		n[SET_ADDRS]++;
	}
	for (i = 0; i < c->n_prefixes; i++) {
		const struct nn_prefix_ent *e = &c->prefixes[i];
		struct nn_prefix_key k;
		struct nn_pfx_key hk;

		nn_prefix_keys_of(e, &k, &hk);
		want(&m, &rec[SET_PREFIXES], &k, &e->info, -1, "nn_prefixes entry");
		want(&m, &rec[SET_PFX_HASH], &hk, &e->info, -1, "nn_pfx_hash entry");
		n[SET_PREFIXES]++;
		n[SET_PFX_HASH]++;
	}
	for (i = 0; i < c->n_lens; i++) {
		struct nn_pfx_lens_key k = { .scope = NN_SCOPE(0, c->lens[i].net) };

		want(&m, &rec[SET_PFX_LENS], &k, &c->lens[i].lens, -1, "nn_pfx_lens entry");
		n[SET_PFX_LENS]++;
	}
	for (i = 0; i < c->n_cells; i++) {
		const struct nn_cell_ent *e = &c->cells[i];
		struct nn_cell_key k;
		struct nn_cell big;

		nn_cell_key_of(e, &k);
		if (!e->part) {
			struct nn_cell4 small;

			nn_cell_ent_value4(c, e, &small);
			want(&m, &rec[SET_CELLS4], &k, &small, -1, "nn_cells4 entry");
			n[SET_CELLS4]++;
			if (nn_cell_ent_small(e) && !compat)
				continue;
		}
		nn_cell_ent_value(c, e, &big);
		want(&m, &rec[SET_CELLS], &k, &big, -1, "nn_policy cell");
		n[SET_CELLS]++;
	}
	/* Entries the record holds that the compile does not make (the keys
	 * the compile makes are distinct: as many found as made means none
	 * extra). */
	for (s = 0; s < SET_COUNT; s++)
		if (rec[s].n > n[s]) {
			char w[64];

			snprintf(w, sizeof(w), "%zu entries too many in map set %d",
				 rec[s].n - n[s], s);
			m.differ += rec[s].n - n[s] - 1;
			note(&m, w, false);
		}
	for (i = 0; i < c->n_rules && i < max_rules; i++) {
		if (rules[i].network != c->rules[i].network)
			note(&m, "nn_rules entry", false);
		else if (rules[i].stat_slot != c->rules[i].stat_slot)
			note(&m, "nn_rules entry", true);
	}
	if (c->n_rules > max_rules)
		note(&m, "more rules than nn_rules holds", false);
	*differ = m.differ;
	*slot_differ = m.slot_differ;
}

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, NN_ADDR_LEN);
}

void nn_drift_filter(struct nn_drift_job *j, const uint8_t (*touched)[NN_ADDR_LEN], size_t n,
		     uint64_t full_seq_now)
{
	size_t i;

	j->map_differ = 0;
	j->map_stale = full_seq_now != j->full_seq;
	if (j->map_stale)
		return;
	if (j->map_diff_over) {
		j->map_differ = NN_DRIFT_MAX_KEYS;
		return;
	}
	for (i = 0; i < j->n_map_diff; i++) {
		const struct nn_drift_key *k = &j->map_diff[i];
		const struct nn_addr_key *ak = (const void *)k->key;

		/* the loop's own writes since: device patches, nn_addrs only */
		if (k->set == SET_ADDRS && n &&
		    bsearch(ak->addr, touched, n, NN_ADDR_LEN, addr_cmp))
			continue;
		j->map_differ++;
	}
}

enum nn_drift_action nn_drift_verdict(const struct nn_drift_job *j, uint64_t seq_now)
{
	switch (j->outcome) {
	case NN_DRIFT_SAME:
		/* the maps differ from the record: written behind our back */
		return j->map_differ ? NN_DRIFT_REPAIR : NN_DRIFT_PASS;
	case NN_DRIFT_DIFFER:
		/* G's compile against G's record: conclusive whenever. */
		if (j->differ || j->map_differ)
			return NN_DRIFT_REPAIR;
		/* Slots read from the maps of now: only if now is G. */
		return seq_now == j->seq ? NN_DRIFT_REPAIR : NN_DRIFT_STALE;
	case NN_DRIFT_ERROR:
	case NN_DRIFT_QUIT:
		break;
	}
	return NN_DRIFT_FAILED;
}

static bool quitting(const struct nn_drift_job *j);

/* The slot of @key (of map set @set), and @key with it set to 0. */
static uint32_t unslot(int set, uint8_t *key)
{
	uint32_t slot = nn_set_key_slot(set, key);

	nn_set_key_reslot(set, key, 0);
	return slot;
}

struct mread {
	struct nn_drift_job *j;
	int set;
	size_t ksz;
	uint32_t slot;
	uint8_t *seen; /* [rec[set].n] */
};

static void diff_key(struct nn_drift_job *j, int set, const void *key, size_t ksz)
{
	struct nn_drift_key *k;

	if (j->map_diff_over)
		return;
	if (j->n_map_diff == NN_DRIFT_MAX_KEYS) {
		j->map_diff_over = true;
		return;
	}
	if (!(j->n_map_diff & (j->n_map_diff + 1)) || !j->map_diff) {
		/* grow at 0, 1, 3, 7, ...: doubling */
		void *n = realloc(j->map_diff, (2 * j->n_map_diff + 2) * sizeof(*k));

		if (!n) {
			j->map_diff_over = true;
			return;
		}
		j->map_diff = n;
	}
	k = &j->map_diff[j->n_map_diff++];
	memset(k, 0, sizeof(*k));
	k->set = set;
	memcpy(k->key, key, ksz);
}

/* One entry of a policy map: of the half read, against the record. */
static int map_one(const void *key, const void *val, void *arg)
{
	struct mread *r = arg;
	const struct nn_ftab *rec = &r->j->rec[r->set];
	uint8_t k[64];
	long i;

	memcpy(k, key, r->ksz);
	if (unslot(r->set, k) != r->slot)
		return 0; /* the other half */
	i = nn_ftab_find(rec, k);
	if (i >= 0)
		r->seen[i] = 1;
	if (i < 0 || !nn_ftab_val_eq(rec, (size_t)i, val))
		diff_key(r->j, r->set, k, r->ksz);
	return 0;
}

static int rule_one(const void *key, const void *val, void *arg)
{
	struct mread *r = arg;
	uint32_t k = *(const uint32_t *)key, base = r->slot * r->j->max_rules;

	if (k >= base && k - base < r->j->max_rules &&
	    memcmp(&r->j->rules[k - base], val, sizeof(struct nn_rule_info)))
		diff_key(r->j, SET_COUNT, key, sizeof(k));
	return 0;
}

/* The live half at the handoff, as the kernel holds it now, against the
 * record of it: what the loop's record check read on the loop (0.3-2 s at
 * 100k). The loop may write this half meanwhile (it became the standby of
 * its next patch): those keys are its own, filtered out by the loop. */
static int read_maps(struct nn_drift_job *j)
{
	struct mread r = { .j = j, .slot = NN_SLOT(j->epoch) };
	size_t i;
	int s, err = 0;

	for (s = 0; s < SET_COUNT && !err && !quitting(j); s++) {
		r.set = s;
		r.ksz = nn_set_defs[s].ksz;
		r.seen = calloc(j->rec[s].n + 1, 1);
		if (!r.seen)
			return -ENOMEM;
		err = nn_map_dump(j->dp->map_fd[nn_set_defs[s].map], nn_set_defs[s].ksz,
				  nn_set_defs[s].vsz, map_one, &r);
		for (i = 0; !err && i < j->rec[s].n; i++)
			if (!r.seen[i])
				diff_key(j, s, nn_ftab_key(&j->rec[s], i), nn_set_defs[s].ksz);
		free(r.seen);
	}
	if (!err && !quitting(j))
		err = nn_map_dump(j->dp->map_fd[NN_M_RULES], sizeof(uint32_t),
				  sizeof(struct nn_rule_info), rule_one, &r);
	return err;
}

static bool quitting(const struct nn_drift_job *j)
{
	return j->quit && atomic_load(j->quit);
}

/* G's text from the last-known-good and its journal, as a restart would
 * read them, up to G: the loop serialises nothing (0.3 s at 100k). */
static int rebuild(struct nn_drift_job *j)
{
	double t0 = now_ms(CLOCK_MONOTONIC);
	uint64_t gen = 0;
	size_t applied = 0;
	char why[256] = "";
	int err;

	err = nn_lkg_load(j->lkg_from, j->lkg_max, &gen, &j->text, &j->len, why, sizeof(why));
	if (!err && gen <= j->generation)
		err = nn_lkg_journal_replay_to(j->lkg_from, j->lkg_max, j->generation, &gen,
					       &j->text, &j->len, &applied, why, sizeof(why));
	j->rebuild_ms = now_ms(CLOCK_MONOTONIC) - t0;
	/* The replay's JSON tree (several times the text) is gone: its pages
	 * go back before the parse takes its own (the check's peak RSS). */
	malloc_trim(0);
	if (!err && gen == j->generation)
		return 0;
	snprintf(j->msg, sizeof(j->msg),
		 "the last-known-good and its journal come to generation %llu, not %llu%s%.160s",
		 (unsigned long long)gen, (unsigned long long)j->generation, why[0] ? ": " : "",
		 why);
	j->rebuild_failed = true;
	free(j->text);
	j->text = NULL;
	return err ? err : -ESTALE;
}

/* Parse, validate, compile G; compare. */
static void check(struct nn_drift_job *j)
{
	struct nn_errlist errs = {};
	struct nn_policy *p = NULL;
	struct nn_compiled c = {};
	struct nn_slot_plan plan;
	struct nn_slots slots;
	double t0 = now_ms(CLOCK_MONOTONIC), t1;
	int err;

	err = nn_policy_parse(j->text, j->len, j->node_id[0] ? j->node_id : NULL, &j->lim, &p,
			      &errs);
	t1 = now_ms(CLOCK_MONOTONIC);
	j->parse_ms = t1 - t0;
	if (err) {
		snprintf(j->msg, sizeof(j->msg), "the enforced text does not parse: %s",
			 errs.n ? errs.msgs[errs.n - 1] : strerror(-err));
		goto out;
	}
	if (p->generation != j->generation) {
		snprintf(j->msg, sizeof(j->msg), "the text is of generation %llu, not %llu",
			 (unsigned long long)p->generation, (unsigned long long)j->generation);
		goto out;
	}
	nn_errlist_free(&errs);
	if (quitting(j)) {
		j->outcome = NN_DRIFT_QUIT;
		goto out;
	}
	err = nn_slots_plan(j->dp, p, &slots, &plan, &errs);
	if (!err) {
		err = nn_compile(p, &slots, &j->caps, &c, &errs);
		/* Names to claim or release: a slot the maps do not hold as G
		 * had it (or a device of later generations). */
		j->slot_differ = plan.n_new + plan.n_old;
		nn_slots_free(&slots, &plan);
	}
	j->compile_ms = now_ms(CLOCK_MONOTONIC) - t1;
	if (err) {
		snprintf(j->msg, sizeof(j->msg), "compile: %s",
			 errs.n ? errs.msgs[0] : strerror(-err));
		goto out;
	}
	t1 = now_ms(CLOCK_MONOTONIC);
	{
		size_t slot_names = j->slot_differ;

		nn_drift_compare(&c, j->compat, j->rec, j->rules, j->max_rules, &j->differ,
				 &j->slot_differ, j->msg, sizeof(j->msg));
		j->slot_differ += slot_names;
		if (!j->msg[0] && slot_names)
			snprintf(j->msg, sizeof(j->msg),
				 "%zu counter slot names to claim or release", slot_names);
	}
	j->compare_ms = now_ms(CLOCK_MONOTONIC) - t1;
	t1 = now_ms(CLOCK_MONOTONIC);
	err = read_maps(j);
	j->maps_ms = now_ms(CLOCK_MONOTONIC) - t1;
	if (err) {
		snprintf(j->msg, sizeof(j->msg), "couldn't read the maps back: %s", strerror(-err));
		goto out;
	}
	j->outcome = j->differ || j->slot_differ ? NN_DRIFT_DIFFER : NN_DRIFT_SAME;
out:
	nn_compiled_free(&c);
	nn_errlist_free(&errs);
	nn_policy_free(p);
}

static void *worker(void *arg)
{
	struct nn_drift_job *j = arg;
	double c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
	uint64_t one = 1;

	j->outcome = NN_DRIFT_ERROR;
	/* A background check: the loop's changes first. On this 2-core VM the
	 * worker's seconds of CPU at 100k otherwise take the loop's turns. */
	/* (refused: the check runs at the loop's priority, no harm) */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	/* Tests: a check long enough for changes to arrive during it. */
	for (unsigned int ms = j->delay_ms; ms && !quitting(j); ms -= ms < 50 ? ms : 50)
		usleep((ms < 50 ? ms : 50) * 1000);
	if (quitting(j))
		j->outcome = NN_DRIFT_QUIT;
	else if (j->text || !rebuild(j))
		check(j);
	/* The text is G's and parsed (whatever the comparison found: it is
	 * what the control plane sent): the last-known-good of G, put in
	 * place by the loop, which trims the journal then. */
	if (j->state_dir && (j->outcome == NN_DRIFT_SAME || j->outcome == NN_DRIFT_DIFFER) &&
	    !quitting(j)) {
		double t0 = now_ms(CLOCK_MONOTONIC);

		j->lkg_err = nn_lkg_save(j->state_dir, j->generation, j->text, j->len, j->lkg_why,
					 sizeof(j->lkg_why));
		j->lkg_ms = now_ms(CLOCK_MONOTONIC) - t0;
	}
	/* The parse and compile freed hundreds of MB at 100k, in this thread's
	 * malloc arena: given back here, not on the loop (tens of ms). */
	malloc_trim(0);
	j->cpu_ms = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
	/* The job is the loop's again from here. */
	if (write(j->wake_fd, &one, sizeof(one)) < 0)
		perror("nanami-gatewayd: drift check: wakeup"); /* eventfd: cannot */
	return NULL;
}

int nn_drift_job_start(struct nn_drift_job *j)
{
	int err = -pthread_create(&j->th, NULL, worker, j);

	j->started = !err;
	return err;
}

void nn_drift_job_join(struct nn_drift_job *j)
{
	if (j->started)
		pthread_join(j->th, NULL);
	j->started = false;
}

void nn_drift_job_finish(struct nn_drift_job *j)
{
	int s;

	nn_drift_job_join(j);
	for (s = 0; s < SET_COUNT; s++)
		nn_ftab_free(&j->rec[s]);
	free(j->rules);
	free(j->text);
	free((char *)j->lkg_from);
	free(j->map_diff);
	j->map_diff = NULL;
	j->rules = NULL;
	j->text = NULL;
	j->lkg_from = NULL;
}
