// SPDX-License-Identifier: GPL-2.0
/*
 * Every worked example of verdicts.md through the real programs with
 * BPF_PROG_TEST_RUN: both framings (L3 as on wg0, Ethernet as on veth) and
 * both from-overlay hooks (TC, XDP). Each asserts the verdict, the reason,
 * the deciding rule, that exactly the right drop counter moved by one, and
 * that the reference model says the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dptest.h"
#include "examples.h"
#include "model_fixture.h"

static void run_examples(uint8_t framing, enum nn_hook hook)
{
	struct nn_model *m = nn_model_new(mf_base);
	struct dpt t;
	size_t i;
	int err;

	err = dpt_open_shared(&t, framing);
	assert_int_equal(err, 0);
	assert_int_equal(dpt_apply(&t, mf_base, NULL), 0);
	for (i = 0; i < nn_n_examples; i++) {
		const struct nn_example *e = &nn_examples[i];
		struct nn_model_verdict mv;
		struct dpt_result r;
		uint8_t pkt[PB_BUF_LEN];
		size_t len = nn_example_build(e, framing, pkt, sizeof(pkt));
		int32_t rule = e->rule ? mf_rule(mf_base, e->rule) : -1;
		int k;

		assert_true(len > 0);
		assert_int_equal(dpt_run(&t, e->dir, hook, pkt, len, &r), 0);
		nn_model_judge(m, e->dir, framing, pkt, len, T0, &mv);
		if (r.reason != (uint32_t)e->reason || r.rule != rule ||
		    r.passed != (e->reason == NN_PASS))
			fail_msg(
				"example #%s (%s): got reason %u rule %d passed %d, want reason %d "
				"rule %d",
				e->id, e->what, r.reason, r.rule, r.passed, e->reason, rule);
		for (k = 1; k < NN_R_MAX; k++)
			if (r.drops[k] != (uint64_t)(k == e->reason))
				fail_msg("example #%s: drop counter %d moved by %llu", e->id, k,
					 (unsigned long long)r.drops[k]);
		if (mv.reason != e->reason || mv.rule != rule)
			fail_msg("example #%s: model says reason %d rule %d", e->id, mv.reason,
				 mv.rule);
	}
	printf("# %zu worked examples through BPF and the model\n", nn_n_examples);
	nn_model_free(m);
	dpt_close(&t);
}

static void test_examples_l3_tc(void **state)
{
	(void)state;
	run_examples(NN_FRAMING_L3, NN_HOOK_TC);
}

static void test_examples_l3_xdp(void **state)
{
	(void)state;
	run_examples(NN_FRAMING_L3, NN_HOOK_XDP);
}

static void test_examples_eth_tc(void **state)
{
	(void)state;
	run_examples(NN_FRAMING_ETH, NN_HOOK_TC);
}

static void test_examples_eth_xdp(void **state)
{
	(void)state;
	run_examples(NN_FRAMING_ETH, NN_HOOK_XDP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples_l3_tc),
		cmocka_unit_test(test_examples_l3_xdp),
		cmocka_unit_test(test_examples_eth_tc),
		cmocka_unit_test(test_examples_eth_xdp),
	};

	return cmocka_run_group_tests_name("worked examples (BPF)", tests, mf_group_setup,
					   mf_group_teardown);
}
