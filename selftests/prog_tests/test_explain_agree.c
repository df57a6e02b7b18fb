// SPDX-License-Identifier: GPL-2.0
/*
 * "explain" agrees with the dataplane by construction: it is the real
 * program, loaded over the pinned maps as a dry-run instance. This checks
 * the construction: for the worked examples and for random packets under
 * random policies, the dry-run instance's verdict (taken first, on the same
 * state) equals what the attached-style instance then does, and the dry run
 * leaves the flow table and the counters exactly as they were.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>

#include "dp/flowtab.h"
#include "dptest.h"
#include "examples.h"
#include "model_fixture.h"
#include "randpkt.h"
#include "randpolicy.h"

#define N_RANDOM 3000

struct pair {
	char pin_dir[128];
	struct dpt live;
	struct dpt dry;
};

static int open_pair(struct pair *p, uint8_t framing)
{
	int err;

	snprintf(p->pin_dir, sizeof(p->pin_dir), "/sys/fs/bpf/nn-explain-test-%d", getpid());
	err = dpt_open_pinned(&p->live, framing, p->pin_dir, false, NULL);
	if (!err)
		err = dpt_open_pinned(&p->dry, framing, p->pin_dir, true, &p->live);
	return err;
}

static void close_pair(struct pair *p)
{
	dpt_close(&p->dry);
	dpt_close(&p->live);
	nn_dp_detach(NULL, p->pin_dir);
}

/* One packet: explain first, then the real thing; both on the same state.
 * Returns whether it passed. */
static bool judge_both(struct pair *p, enum nn_dir dir, enum nn_hook hook, const uint8_t *pkt,
		       size_t len, const char *what, bool count_flows)
{
	int flows = p->live.dp->map_fd[NN_M_FLOWS];
	uint64_t flows_before = 0;
	struct dpt_result e, r;
	int k;

	/* Walking the 1M-bucket flow table is slow: callers sample it. */
	if (count_flows)
		assert_int_equal(nn_flow_count(flows, &flows_before), 0);
	assert_int_equal(dpt_run(&p->dry, dir, hook, pkt, len, &e), 0);
	for (k = 1; k < NN_R_MAX; k++)
		if (e.drops[k])
			fail_msg("%s: explain moved drop counter %d", what, k);
	if (count_flows) {
		uint64_t after = 0;

		assert_int_equal(nn_flow_count(flows, &after), 0);
		if (after != flows_before)
			fail_msg("%s: explain changed the flow table", what);
	}
	assert_int_equal(dpt_run(&p->live, dir, hook, pkt, len, &r), 0);
	if (e.reason != r.reason || e.rule != r.rule || e.passed != r.passed ||
	    e.untouched != r.untouched)
		fail_msg("%s: explain says reason %u rule %d passed %d, the program %u %d %d", what,
			 e.reason, e.rule, e.passed, r.reason, r.rule, r.passed);
	return r.passed;
}

static void test_examples(void **state)
{
	struct pair p = {};
	size_t i;

	(void)state;
	assert_int_equal(open_pair(&p, NN_FRAMING_L3), 0);
	assert_int_equal(dpt_apply(&p.live, mf_base, NULL), 0);
	for (i = 0; i < nn_n_examples; i++) {
		uint8_t pkt[PB_BUF_LEN];
		size_t len = nn_example_build(&nn_examples[i], NN_FRAMING_L3, pkt, sizeof(pkt));
		char what[64];

		snprintf(what, sizeof(what), "example #%s", nn_examples[i].id);
		judge_both(&p, nn_examples[i].dir, NN_HOOK_TC, pkt, len, what, true);
	}
	close_pair(&p);
}

static void test_random(void **state)
{
	struct nn_rng rng = { .s = 0x5eed0f00d };
	struct nn_policy *pol = NULL;
	struct nn_errlist errs = {};
	struct rk_gen *g;
	struct pair p = {};
	char *json;
	size_t i;

	(void)state;
	assert_int_equal(open_pair(&p, NN_FRAMING_ETH), 0);
	json = rp_generate(&rng, 1);
	assert_non_null(json);
	assert_int_equal(nn_policy_parse(json, strlen(json), RP_NODE_ID, NULL, &pol, &errs), 0);
	assert_int_equal(dpt_apply(&p.live, pol, NULL), 0);
	g = rk_new(7, NN_FRAMING_ETH);
	assert_non_null(g);
	assert_int_equal(rk_set_policy(g, pol), 0);
	for (i = 0; i < N_RANDOM; i++) {
		struct rk_pkt pk;
		char what[96];

		rk_next(g, &pk);
		snprintf(what, sizeof(what), "random packet %zu (%s)", i, pk.kind);
		/* Feeding passes back makes replies of real flows follow. */
		if (judge_both(&p, pk.dir, pk.hook, pk.buf, pk.len, what, i % 200 == 0))
			rk_passed(g);
	}
	rk_free(g);
	nn_policy_free(pol);
	nn_errlist_free(&errs);
	free(json);
	close_pair(&p);
}

/* A failed test longjmps past close_pair(): unpin here whatever happened. */
static int unpin(void **state)
{
	char dir[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/nn-explain-test-%d", getpid());
	nn_dp_detach(NULL, dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_examples, unpin),
		cmocka_unit_test_teardown(test_random, unpin),
	};

	return cmocka_run_group_tests_name("explain agrees with the programs", tests,
					   mf_group_setup, mf_group_teardown);
}
