// SPDX-License-Identifier: GPL-2.0
/*
 * What nn_apply() says it came to, through the real compiler, generation
 * switch and maps: the controller retries a failure and never a rejection,
 * so the two must not be confused by the errno behind them.
 *
 * - A map that cannot take the new generation (full: the kernel answers
 *   E2BIG) is a failure of this host: NN_APPLY_FAILED, the live generation
 *   untouched, and the same policy applies once the map has room again.
 * - A policy over the cell capacity is the snapshot's own property:
 *   NN_APPLY_REJECTED, nothing written.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <bpf/bpf.h>

#include "dptest.h"
#include "model_fixture.h"

struct ut {
	struct dpt t;
	struct nn_policy *base, *moved;
};

/* The text of ut.moved (with_rules() extends it). */
static char *mf_json_moved;

static struct nn_policy *parse(const char *json)
{
	struct nn_errlist errs = { 0 };
	struct nn_policy *p = NULL;

	assert_int_equal(nn_policy_parse(json, strlen(json), "gw-fra-1", NULL, &p, &errs), 0);
	nn_errlist_free(&errs);
	return p;
}

/* examples/assignments.json, and the same with one device on a new
 * address: applying the second needs new entries in nn_addrs. */
static int setup(void **state)
{
	struct ut *u = calloc(1, sizeof(*u));
	const char *from = "\"" ALICE6 "\"", *to = "\"fd7a:6e61:6e61:10::77\"";
	const char *at;
	char *json;

	if (!u || mf_group_setup(state))
		return -1;
	at = strstr(mf_json, from);
	if (!at)
		return -1;
	json = calloc(1, strlen(mf_json) + strlen(to) + 1);
	memcpy(json, mf_json, (size_t)(at - mf_json));
	strcat(json, to);
	strcat(json, at + strlen(from));
	u->base = parse(mf_json);
	u->moved = parse(json);
	free(mf_json_moved);
	mf_json_moved = json;
	if (dpt_open(&u->t, NN_FRAMING_L3))
		return -1;
	assert_int_equal(dpt_apply(&u->t, u->base, NULL), 0);
	*state = u;
	return 0;
}

static int teardown(void **state)
{
	struct ut *u = *state;

	dpt_close(&u->t);
	nn_policy_free(u->base);
	nn_policy_free(u->moved);
	free(u);
	mf_group_teardown(state);
	return 0;
}

static uint32_t live_epoch(struct ut *u)
{
	uint32_t e = 0;

	assert_int_equal(nn_live_epoch(u->t.dp, &e), 0);
	return e;
}

/* Fill nn_addrs with entries of the live slot that no policy names, until
 * the kernel refuses one. Returns how many went in. */
static uint32_t fill_addrs(struct ut *u, uint32_t live)
{
	struct nn_addr_key k = { .slot = live };
	struct nn_addr_info v = { 0 };
	int fd = u->t.dp->map_fd[NN_M_ADDRS];
	uint32_t n;

	k.addr[0] = 0xfe; /* nobody's: fe.. is not in any example prefix */
	for (n = 0; n < (1u << 24); n++) {
		memcpy(&k.addr[12], &n, sizeof(n));
		if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST)) {
			assert_int_equal(errno, E2BIG);
			return n;
		}
	}
	fail_msg("nn_addrs never filled up");
	return n;
}

static void drain_addrs(struct ut *u, uint32_t live, uint32_t n)
{
	struct nn_addr_key k = { .slot = live };
	uint32_t i;

	k.addr[0] = 0xfe;
	for (i = 0; i < n; i++) {
		memcpy(&k.addr[12], &i, sizeof(i));
		assert_int_equal(bpf_map_delete_elem(u->t.dp->map_fd[NN_M_ADDRS], &k), 0);
	}
}

static void test_full_map_is_a_failure(void **state)
{
	struct ut *u = *state;
	struct nn_errlist errs = { 0 };
	struct nn_apply_result res;
	uint32_t e0 = live_epoch(u), junk;

	junk = fill_addrs(u, NN_SLOT(e0));
	assert_true(junk > 0);
	assert_int_equal(nn_apply(u->t.dp, u->moved, &res, &errs), NN_APPLY_FAILED);
	assert_int_equal(res.error, -E2BIG); /* E2BIG, and still not a rejection */
	assert_true(errs.n > 0);
	assert_non_null(strstr(errs.msgs[errs.n - 1], "previous one stays enforced"));
	nn_errlist_free(&errs);
	assert_int_equal(live_epoch(u), e0);
	assert_false(res.flipped);

	/* Room again: the same policy, retried, applies. */
	drain_addrs(u, NN_SLOT(e0), junk);
	assert_int_equal(nn_apply(u->t.dp, u->moved, &res, &errs), NN_APPLY_APPLIED);
	nn_errlist_free(&errs);
	assert_int_equal(res.error, 0);
	assert_true(res.flipped);
	assert_int_equal(live_epoch(u), e0 + 1);
}

static void test_over_cell_capacity_is_a_rejection(void **state)
{
	struct ut *u = *state;
	struct nn_errlist errs = { 0 };
	struct nn_apply_result res;
	uint32_t e0 = live_epoch(u), saved = u->t.dp->opts.cap.max_cells;
	bool named = false;
	size_t i;

	u->t.dp->opts.cap.max_cells = 1;
	assert_int_equal(nn_apply(u->t.dp, u->moved, &res, &errs), NN_APPLY_REJECTED);
	u->t.dp->opts.cap.max_cells = saved;
	assert_int_equal(res.error, -E2BIG);
	for (i = 0; i < errs.n; i++)
		named |= strstr(errs.msgs[i], "cells") != NULL;
	assert_true(named);
	nn_errlist_free(&errs);
	assert_int_equal(res.writes, 0);
	assert_int_equal(live_epoch(u), e0);
}

/* Slots in use of map @fd (a counter slot -> name map, an array by slot:
 * a free slot is an entry too, its in_use 0). */
static size_t names_count(int fd)
{
	uint32_t key, next;
	struct nn_name n;
	size_t c = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		assert_int_equal(bpf_map_lookup_elem(fd, &key, &n), 0);
		c += n.in_use != 0;
	}
	return c;
}

/* Names in use in map @fd (a counter slot -> name map) of kind @kind. */
static size_t kind_count(int fd, uint32_t kind)
{
	uint32_t key, next;
	struct nn_name n;
	size_t c = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &n) && n.in_use && n.kind == kind)
			c++;
	}
	return c;
}

/* The moved policy with @n more rules ("bulk-<i>", src and dst "*"). */
static struct nn_policy *with_rules(struct ut *u, const char *json, size_t n)
{
	const char *at = strstr(json, "\"acl\": [");
	size_t cap = strlen(json) + n * 160 + 1, i;
	struct nn_policy *p;
	char *out, *w;

	(void)u;
	assert_non_null(at);
	at += strlen("\"acl\": [");
	out = malloc(cap);
	assert_non_null(out);
	memcpy(out, json, (size_t)(at - json));
	w = out + (at - json);
	for (i = 0; i < n; i++)
		w += sprintf(w,
			     "{\"rule_id\": \"bulk-%zu\", \"action\": \"allow\", \"src\": \"*\", "
			     "\"dst\": \"*\", \"proto\": \"udp\", \"ports\": [\"9\"]},",
			     i);
	strcpy(w, at);
	p = parse(out);
	free(out);
	return p;
}

/* A failed apply with enough new entities that their names are written
 * beside the compile and the map writes (dp/apply.c NAMES_PAR_MIN, 8192),
 * and a rejected one, leave the name maps as they were: the names written
 * meanwhile are freed again. On
 * maps of its own: dpt_open()'s hold 4096 rules. */
static void test_failed_large_apply_leaves_names(void **state)
{
	struct ut *u = *state;
	struct nn_load_opts o = { .framing = NN_FRAMING_L3, .load_xdp_direct = true };
	struct nn_errlist errs = { 0 };
	struct nn_apply_result res;
	struct nn_policy *big = with_rules(u, mf_json_moved, 9000);
	struct dpt own = { 0 };
	uint32_t e0, junk;
	size_t before;
	int fd;

	o.cap = u->t.dp->opts.cap;
	o.cap.max_rules = 16384;
	o.cap.max_cells = 1 << 17;
	assert_int_equal(nn_dp_load(&o, &own.dp), 0);
	assert_int_equal(nn_apply(own.dp, u->base, &res, &errs), NN_APPLY_APPLIED);
	fd = own.dp->map_fd[NN_M_RULE_NAMES];
	before = names_count(fd);
	e0 = 0;
	assert_int_equal(nn_live_epoch(own.dp, &e0), 0);
	/* Rejected by the compile (over the cell capacity): the same. */
	own.dp->opts.cap.max_cells = 1;
	assert_int_equal(nn_apply(own.dp, big, &res, &errs), NN_APPLY_REJECTED);
	own.dp->opts.cap.max_cells = o.cap.max_cells;
	nn_errlist_free(&errs);
	assert_int_equal(names_count(fd), before);
	{
		struct ut v = { .t = own };

		junk = fill_addrs(&v, NN_SLOT(e0));
		assert_int_equal(nn_apply(own.dp, big, &res, &errs), NN_APPLY_FAILED);
		nn_errlist_free(&errs);
		assert_int_equal(res.error, -E2BIG);
		assert_int_equal(names_count(fd), before);

		/* Room again: it applies, and every new rule has its name. */
		drain_addrs(&v, NN_SLOT(e0), junk);
	}
	assert_int_equal(nn_apply(own.dp, big, &res, &errs), NN_APPLY_APPLIED);
	nn_errlist_free(&errs);
	assert_int_equal(names_count(fd), before + 9000);
	/* Each name is its entity's (kind, tenant, network, id), written
	 * to the entity's slot (slots.c builds them a batch at a time):
	 * planned again, every device, node, this gateway and rule finds
	 * its slot by its name, none is new and none is left over. */
	{
		struct nn_slot_plan plan;
		struct nn_slots slots;

		assert_int_equal(nn_slots_plan(own.dp, big, &slots, &plan, &errs), 0);
		assert_int_equal(plan.n_new, 0);
		assert_int_equal(plan.n_old, 0);
		nn_slots_free(&slots, &plan);
		assert_int_equal(kind_count(own.dp->map_fd[NN_M_DEV_NAMES], NN_AK_DEVICE),
				 big->n_devices);
		assert_int_equal(kind_count(own.dp->map_fd[NN_M_DEV_NAMES], NN_AK_NODE),
				 big->n_nodes);
		assert_int_equal(kind_count(own.dp->map_fd[NN_M_DEV_NAMES], NN_AK_SELF), 1);
		assert_int_equal(kind_count(fd, 0), big->n_rules);
	}
	nn_policy_free(big);
	nn_dp_close(own.dp);
}

/* A first apply on maps this process created starts from an empty record
 * instead of reading them back (loader.h maps_unwritten); one that fails
 * midway leaves the maps holding what it wrote, so the next apply must read
 * them again: whatever the failed attempt left in the standby half (here,
 * entries no policy names) is deleted before the flip, not enforced. */
static void test_failed_first_apply_reads_back(void **state)
{
	struct ut *u = *state;
	struct nn_load_opts o = { .framing = NN_FRAMING_L3, .load_xdp_direct = true };
	struct nn_errlist errs = { 0 };
	struct nn_apply_result res;
	struct dpt own = { 0 };
	struct ut v;
	struct nn_addr_key k = { .slot = NN_SLOT(1) };
	struct nn_addr_info val;
	uint32_t junk, keep = 3, i, e = 0;

	o.cap = u->t.dp->opts.cap;
	assert_int_equal(nn_dp_load(&o, &own.dp), 0);
	assert_true(own.dp->maps_unwritten);
	v.t = own;
	/* Epoch 0: the standby half is slot 1, where the first apply writes. */
	junk = fill_addrs(&v, NN_SLOT(1));
	assert_true(junk > keep);
	assert_int_equal(nn_apply(own.dp, u->base, &res, &errs), NN_APPLY_FAILED);
	assert_true(errs.n > 0);
	assert_non_null(strstr(errs.msgs[errs.n - 1], "into nn_addrs ("));
	assert_non_null(strstr(errs.msgs[errs.n - 1], "previous one stays enforced"));
	nn_errlist_free(&errs);
	assert_int_equal(res.error, -E2BIG);
	/* Room again, but @keep entries of the failed attempt's half stay. */
	k.addr[0] = 0xfe;
	for (i = keep; i < junk; i++) {
		memcpy(&k.addr[12], &i, sizeof(i));
		assert_int_equal(bpf_map_delete_elem(own.dp->map_fd[NN_M_ADDRS], &k), 0);
	}
	assert_int_equal(nn_apply(own.dp, u->base, &res, &errs), NN_APPLY_APPLIED);
	nn_errlist_free(&errs);
	assert_true(res.flipped);
	assert_int_equal(nn_live_epoch(own.dp, &e), 0);
	assert_int_equal(e, 1);
	for (i = 0; i < keep; i++) {
		memcpy(&k.addr[12], &i, sizeof(i));
		assert_int_not_equal(bpf_map_lookup_elem(own.dp->map_fd[NN_M_ADDRS], &k, &val), 0);
	}
	nn_dp_close(own.dp);
}

/* The same two through the build and the writes at once (dp/apply_pipe.c:
 * a large first apply, or one with new counter slots): a map refusing a
 * chunk fails the whole apply, names the map, and undoes the names. */
static size_t saved_par_min;

static int setup_piped(void **state)
{
	saved_par_min = nn_apply_want_par_min;
	nn_apply_want_par_min = 1;
	return setup(state);
}

static int teardown_piped(void **state)
{
	nn_apply_want_par_min = saved_par_min;
	return teardown(state);
}

/* A large first apply through the pipeline on maps of its own: every
 * entry of every chunk of every map written (the record, nn_apply_check,
 * equals the maps). */
static void test_piped_large_first_apply(void **state)
{
	struct ut *u = *state;
	struct nn_load_opts o = { .framing = NN_FRAMING_L3, .load_xdp_direct = true };
	struct nn_errlist errs = { 0 };
	struct nn_apply_result res;
	struct nn_policy *big = with_rules(u, mf_json_moved, 9000);
	struct nn_dp *dp = NULL;
	size_t differ = 1;

	o.cap = u->t.dp->opts.cap;
	o.cap.max_rules = 16384;
	o.cap.max_cells = 1 << 17;
	assert_int_equal(nn_dp_load(&o, &dp), 0);
	assert_int_equal(nn_apply(dp, big, &res, &errs), NN_APPLY_APPLIED);
	nn_errlist_free(&errs);
	assert_true(res.writes > 9000);
	assert_int_equal(nn_apply_check(dp, &differ), 0);
	assert_int_equal(differ, 0);
	nn_policy_free(big);
	nn_dp_close(dp);
}

static void test_outcome_names(void **state)
{
	(void)state;
	assert_string_equal(nn_apply_outcome_name(NN_APPLY_APPLIED), "applied");
	assert_string_equal(nn_apply_outcome_name(NN_APPLY_REJECTED), "rejected");
	assert_string_equal(nn_apply_outcome_name(NN_APPLY_FAILED), "failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_map_is_a_failure, setup, teardown),
		{ "test_failed_first_apply_reads_back_piped", test_failed_first_apply_reads_back,
		  setup_piped, teardown_piped, NULL },
		{ "test_failed_large_apply_leaves_names_piped",
		  test_failed_large_apply_leaves_names, setup_piped, teardown_piped, NULL },
		{ "test_piped_large_first_apply", test_piped_large_first_apply, setup_piped,
		  teardown_piped, NULL },
		cmocka_unit_test_setup_teardown(test_over_cell_capacity_is_a_rejection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_large_apply_leaves_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_first_apply_reads_back, setup,
						teardown),
		cmocka_unit_test(test_outcome_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
