// SPDX-License-Identifier: GPL-2.0
/*
 * The drift check's comparison and its stale-result rule (gatewayd/drift.h,
 * docs/controller.md "The drift check on a worker thread").
 *
 * The record compared against is the one the applier itself keeps
 * (dp->apply_cache, built by apply.c from a real apply into the loaded
 * maps), not one this test builds: the comparison's own idea of the map
 * layout must agree with the applier's on every entry (example policy:
 * addresses, prefixes, lengths, small and big cells, rules). Then a record
 * changed one entry at a time -- a value, a counter slot alone, an entry
 * missing, an entry extra, a cell -- must be seen, and told apart.
 *
 * The rule: a policy difference is conclusive whatever happened since the
 * handoff (both sides are the checked generation's); a difference in
 * counter slots alone only when nothing changed since (the slots were read
 * from the maps of now); no verdict without a result.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dptest.h"
#include "gatewayd/drift.h"
#include "model_fixture.h"

struct ut {
	struct dpt t;
	struct nn_policy *p;
	struct nn_compiled c;
	struct nn_ftab rec[SET_COUNT]; /* copies of the live half's record */
	struct nn_rule_info *rules;
	uint32_t max_rules;
	size_t slot_names; /* names nn_slots_plan wanted to claim or release */
};

static int setup(void **state)
{
	struct ut *u = calloc(1, sizeof(*u));
	struct nn_errlist errs = { 0 };
	struct nn_slot_plan plan;
	struct nn_slots slots;
	struct nn_apply_cache *ac;
	uint32_t epoch = 0, live;
	int s;

	if (!u || mf_group_setup(state))
		return -1;
	assert_int_equal(nn_policy_parse(mf_json, strlen(mf_json), "gw-fra-1", NULL, &u->p, &errs),
			 0);
	if (dpt_open(&u->t, NN_FRAMING_L3))
		return -1;
	assert_int_equal(dpt_apply(&u->t, u->p, NULL), 0);
	assert_int_equal(nn_live_epoch(u->t.dp, &epoch), 0);
	ac = u->t.dp->apply_cache;
	assert_non_null(ac);
	assert_int_equal(ac->epoch, epoch);
	live = NN_SLOT(epoch);
	for (s = 0; s < SET_COUNT; s++)
		assert_int_equal(nn_ftab_copy(&u->rec[s], &ac->have[s][live]), 0);
	u->max_rules = ac->max_rules;
	u->rules = calloc(ac->max_rules, sizeof(*u->rules));
	memcpy(u->rules, ac->rules[live], ac->max_rules * sizeof(*u->rules));
	/* The worker's compile: slots from the name maps, as it does. */
	assert_int_equal(nn_slots_plan(u->t.dp, u->p, &slots, &plan, &errs), 0);
	u->slot_names = plan.n_new + plan.n_old;
	assert_int_equal(nn_compile(u->p, &slots,
				    &(struct nn_compile_caps){
					    .max_cells = u->t.dp->opts.cap.max_cells,
					    .max_prefixes = u->t.dp->opts.cap.max_prefixes },
				    &u->c, &errs),
			 0);
	nn_slots_free(&slots, &plan);
	nn_errlist_free(&errs);
	*state = u;
	return 0;
}

static int teardown(void **state)
{
	struct ut *u = *state;
	int s;

	for (s = 0; s < SET_COUNT; s++)
		nn_ftab_free(&u->rec[s]);
	free(u->rules);
	nn_compiled_free(&u->c);
	dpt_close(&u->t);
	nn_policy_free(u->p);
	free(u);
	mf_group_teardown(state);
	return 0;
}

static void compare(struct ut *u, size_t *differ, size_t *slot_differ, char *msg, size_t n)
{
	nn_drift_compare(&u->c, u->t.dp->cells_compat, u->rec, u->rules, u->max_rules, differ,
			 slot_differ, msg, n);
}

/* The applier's record and the comparison agree on every entry. */
static void test_same_as_the_applier(void **state)
{
	struct ut *u = *state;
	size_t differ = 9, slot = 9;
	char msg[256];
	int s, sets = 0;

	for (s = 0; s < SET_COUNT; s++)
		sets += u->rec[s].n > 0;
	/* the example fills every map but, possibly, one of the cell maps */
	assert_true(sets >= SET_COUNT - 1);
	assert_int_equal(u->slot_names, 0);
	compare(u, &differ, &slot, msg, sizeof(msg));
	assert_int_equal(differ, 0);
	assert_int_equal(slot, 0);
	assert_string_equal(msg, "");
}

/* Entry @i of @t with byte @off of its value changed by @by. */
static void poke(struct nn_ftab *t, size_t i, size_t off, uint8_t by)
{
	uint8_t key[64], val[4096];

	memcpy(key, nn_ftab_key(t, i), t->ksz);
	nn_ftab_val(t, i, val);
	val[off] ^= by;
	assert_int_equal(nn_ftab_put(t, key, val), 0);
}

static void test_value_differs(void **state)
{
	struct ut *u = *state;
	size_t differ, slot;
	char msg[256];

	poke(&u->rec[SET_ADDRS], 0, offsetof(struct nn_addr_info, state), 3);
	compare(u, &differ, &slot, msg, sizeof(msg));
	assert_int_equal(differ, 1);
	assert_int_equal(slot, 0);
	assert_non_null(strstr(msg, "nn_addrs"));
}

static void test_counter_slot_alone(void **state)
{
	struct ut *u = *state;
	size_t differ, slot;
	char msg[256];

	poke(&u->rec[SET_ADDRS], 1, offsetof(struct nn_addr_info, stat_slot), 0x40);
	compare(u, &differ, &slot, msg, sizeof(msg));
	assert_int_equal(differ, 0);
	assert_int_equal(slot, 1);
	assert_non_null(strstr(msg, "counter slot only"));
	/* a rule's counter slot alone too */
	u->rules[0].stat_slot ^= 0x40;
	compare(u, &differ, &slot, msg, sizeof(msg));
	assert_int_equal(differ, 0);
	assert_int_equal(slot, 2);
	/* and a rule's network is the policy */
	u->rules[0].network ^= 1;
	compare(u, &differ, &slot, msg, sizeof(msg));
	assert_int_equal(differ, 1);
}

static void test_missing_and_extra(void **state)
{
	struct ut *u = *state;
	struct nn_ftab *t = &u->rec[SET_PREFIXES];
	uint8_t key[64], val[4096];
	size_t differ, slot;
	char msg[256];

	memcpy(key, nn_ftab_key(t, 0), t->ksz);
	nn_ftab_val(t, 0, val);
	assert_int_equal(nn_ftab_del(t, key), 0);
	compare(u, &differ, &slot, msg, sizeof(msg));
	assert_int_equal(differ, 1);
	assert_int_equal(slot, 0);
	/* back, and one more the compile does not make */
	assert_int_equal(nn_ftab_put(t, key, val), 0);
	compare(u, &differ, &slot, msg, sizeof(msg));
	assert_int_equal(differ, 0);
	key[t->ksz - 1] ^= 0x55;
	assert_int_equal(nn_ftab_put(t, key, val), 0);
	compare(u, &differ, &slot, msg, sizeof(msg));
	assert_int_equal(differ, 1);
	assert_non_null(strstr(msg, "too many"));
}

static void test_cell_differs(void **state)
{
	struct ut *u = *state;
	struct nn_ftab *t = u->rec[SET_CELLS4].n ? &u->rec[SET_CELLS4] : &u->rec[SET_CELLS];
	size_t differ, slot;
	char msg[256];

	assert_true(t->n > 0);
	/* the last byte of a cell's first range */
	poke(t, t->n - 1, t->vsz > 8 ? 8 : t->vsz - 1, 1);
	compare(u, &differ, &slot, msg, sizeof(msg));
	assert_int_equal(differ, 1);
	assert_int_equal(slot, 0);
}

/* A whole job on the worker thread, against the loaded maps: the example's
 * text checks out; an nn_addrs entry deleted from the live half behind the
 * applier's back is found by the worker's read of the maps, and filtered
 * out only when the loop says it wrote that address itself. */
static void run_job(struct ut *u, struct nn_drift_job *j)
{
	uint64_t v;
	int s;

	memset(j, 0, sizeof(*j));
	j->text = strdup(mf_json);
	j->len = strlen(mf_json);
	j->generation = u->p->generation;
	snprintf(j->node_id, sizeof(j->node_id), "gw-fra-1");
	nn_limits_default(&j->lim);
	j->caps.max_cells = u->t.dp->opts.cap.max_cells;
	j->caps.max_prefixes = u->t.dp->opts.cap.max_prefixes;
	j->compat = u->t.dp->cells_compat;
	j->dp = u->t.dp;
	j->full_seq = u->t.dp->full_seq;
	assert_int_equal(nn_live_epoch(u->t.dp, &j->epoch), 0);
	for (s = 0; s < SET_COUNT; s++)
		assert_int_equal(nn_ftab_copy(&j->rec[s], &u->rec[s]), 0);
	j->max_rules = u->max_rules;
	j->rules = calloc(u->max_rules, sizeof(*j->rules));
	memcpy(j->rules, u->rules, u->max_rules * sizeof(*j->rules));
	j->wake_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(j->wake_fd >= 0);
	assert_int_equal(nn_drift_job_start(j), 0);
	assert_int_equal(read(j->wake_fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	nn_drift_job_join(j);
	close(j->wake_fd);
}

static void test_worker_job(void **state)
{
	struct ut *u = *state;
	struct nn_drift_job j;
	struct nn_addr_key k = { .slot = 0 };
	uint8_t mine[2][NN_ADDR_LEN] = {}, other[1][NN_ADDR_LEN] = { { 0xff } };
	uint32_t epoch = 0;

	run_job(u, &j);
	assert_int_equal(j.outcome, NN_DRIFT_SAME);
	assert_int_equal(j.n_map_diff, 0);
	nn_drift_filter(&j, NULL, 0, u->t.dp->full_seq);
	assert_int_equal(nn_drift_verdict(&j, j.seq), NN_DRIFT_PASS);
	nn_drift_job_finish(&j);

	/* behind the applier's back: the first address, from the live half */
	assert_int_equal(nn_live_epoch(u->t.dp, &epoch), 0);
	memcpy(k.addr, u->c.addrs[0].addr, NN_ADDR_LEN);
	k.slot = NN_SLOT(epoch);
	assert_int_equal(bpf_map_delete_elem(u->t.dp->map_fd[NN_M_ADDRS], &k), 0);
	run_job(u, &j);
	assert_int_equal(j.outcome, NN_DRIFT_SAME); /* the compile matches the record */
	assert_int_equal(j.n_map_diff, 1);	    /* the maps do not */
	nn_drift_filter(&j, (const uint8_t(*)[NN_ADDR_LEN])other, 1, u->t.dp->full_seq);
	assert_int_equal(j.map_differ, 1);
	assert_int_equal(nn_drift_verdict(&j, j.seq + 5), NN_DRIFT_REPAIR);
	/* the loop wrote that address itself since the handoff: not drift */
	memcpy(mine[1], u->c.addrs[0].addr, NN_ADDR_LEN);
	nn_drift_filter(&j, (const uint8_t(*)[NN_ADDR_LEN])mine, 2, u->t.dp->full_seq);
	assert_int_equal(j.map_differ, 0);
	assert_int_equal(nn_drift_verdict(&j, j.seq + 5), NN_DRIFT_PASS);
	/* a full apply since: the map part says nothing */
	nn_drift_filter(&j, NULL, 0, u->t.dp->full_seq + 1);
	assert_true(j.map_stale);
	assert_int_equal(j.map_differ, 0);
	nn_drift_job_finish(&j);
}

static void test_stale_rule(void **state)
{
	struct nn_drift_job j = { .seq = 7 };

	(void)state;
	j.outcome = NN_DRIFT_SAME;
	assert_int_equal(nn_drift_verdict(&j, 7), NN_DRIFT_PASS);
	assert_int_equal(nn_drift_verdict(&j, 9), NN_DRIFT_PASS);
	/* a policy difference: conclusive whenever */
	j.outcome = NN_DRIFT_DIFFER;
	j.differ = 1;
	assert_int_equal(nn_drift_verdict(&j, 7), NN_DRIFT_REPAIR);
	assert_int_equal(nn_drift_verdict(&j, 8), NN_DRIFT_REPAIR);
	/* slots alone: only when nothing changed since */
	j.differ = 0;
	j.slot_differ = 2;
	assert_int_equal(nn_drift_verdict(&j, 7), NN_DRIFT_REPAIR);
	assert_int_equal(nn_drift_verdict(&j, 8), NN_DRIFT_STALE);
	j.outcome = NN_DRIFT_ERROR;
	assert_int_equal(nn_drift_verdict(&j, 7), NN_DRIFT_FAILED);
	j.outcome = NN_DRIFT_QUIT;
	assert_int_equal(nn_drift_verdict(&j, 7), NN_DRIFT_FAILED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_as_the_applier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_differs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter_slot_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_extra, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cell_differs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_job, setup, teardown),
		cmocka_unit_test(test_stale_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
