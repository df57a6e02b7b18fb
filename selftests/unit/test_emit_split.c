// SPDX-License-Identifier: GPL-2.0
/*
 * The compiler's cell tables on two threads: from nn_compile_fill_par_min
 * rules the two tables (by the source class's lowest bit) are filled on two
 * threads (compile.c), and from nn_compile_emit_par_min cells the second is
 * emitted on a helper thread and appended (emit.c), and from
 * nn_compile_addrs_par_min devices half of the device addresses are
 * written by a helper thread (compile.c). Lowered to 1,
 * every random policy (selftests/lib/randpolicy.c) takes that path; its
 * compiled output must be byte for byte the one-thread output (cells in the
 * same order, each cell's ranges where its index says), and a policy over
 * the cell capacity must be rejected the same way.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compile/compile.h"
#include "policy/policy.h"
#include "randpolicy.h"

static struct nn_policy *parse(const char *json)
{
	struct nn_errlist errs = { 0 };
	struct nn_policy *p = NULL;

	if (nn_policy_parse(json, strlen(json), RP_NODE_ID, NULL, &p, &errs))
		fail_msg("random policy rejected: %s", errs.n ? errs.msgs[errs.n - 1] : "?");
	nn_errlist_free(&errs);
	return p;
}

/* Compile @p with the split from @par_min cells; the error and its last
 * message into @err / @msg. */
static void compile_at(const struct nn_policy *p, const struct nn_slots *sl, size_t par_min,
		       size_t max_cells, struct nn_compiled *c, int *err, char *msg, size_t mlen)
{
	struct nn_errlist errs = { 0 };

	nn_compile_emit_par_min = par_min;
	nn_compile_fill_par_min = par_min;
	nn_compile_addrs_par_min = par_min;
	*err = nn_compile(p, sl, &(struct nn_compile_caps){ .max_cells = max_cells }, c, &errs);
	snprintf(msg, mlen, "%s", errs.n ? errs.msgs[errs.n - 1] : "");
	nn_errlist_free(&errs);
}

static void same_output(const struct nn_compiled *a, const struct nn_compiled *b)
{
	assert_int_equal(a->n_cells, b->n_cells);
	assert_int_equal(a->n_ranges, b->n_ranges);
	assert_memory_equal(a->cells, b->cells, a->n_cells * sizeof(*a->cells));
	assert_memory_equal(a->ranges, b->ranges, a->n_ranges * sizeof(*a->ranges));
	assert_int_equal(a->n_addrs, b->n_addrs);
	assert_memory_equal(a->addrs, b->addrs, a->n_addrs * sizeof(*a->addrs));
	assert_int_equal(a->n_prefixes, b->n_prefixes);
	assert_memory_equal(a->prefixes, b->prefixes, a->n_prefixes * sizeof(*a->prefixes));
}

static void test_split_equals_serial(void **state)
{
	struct nn_rng r = { .s = 0x5eed13c };
	size_t i, k, split_cells = 0, rejected = 0;

	(void)state;
	for (i = 0; i < 300; i++) {
		char *json = rp_generate(&r, i + 1), m1[256], m2[256];
		struct nn_policy *p = parse(json);
		struct nn_slots sl = { 0 };
		struct nn_compiled c1, c2;
		size_t cap;
		int e1, e2;

		sl.dev = calloc(p->n_devices + 1, sizeof(uint32_t));
		sl.node = calloc(p->n_nodes + 1, sizeof(uint32_t));
		sl.rule = calloc(p->n_rules + 1, sizeof(uint32_t));
		assert_true(sl.dev && sl.node && sl.rule);
		for (k = 0; k < p->n_devices; k++)
			sl.dev[k] = (uint32_t)k;
		for (k = 0; k < p->n_nodes; k++)
			sl.node[k] = (uint32_t)(p->n_devices + k);
		for (k = 0; k < p->n_rules; k++)
			sl.rule[k] = (uint32_t)k;
		compile_at(p, &sl, SIZE_MAX, 0, &c1, &e1, m1, sizeof(m1));
		compile_at(p, &sl, 1, 0, &c2, &e2, m2, sizeof(m2));
		assert_int_equal(e1, 0);
		assert_int_equal(e2, 0);
		same_output(&c1, &c2);
		split_cells += c1.n_cells;
		/* Over the cell capacity by one, and at it: the same verdict. */
		cap = c1.n_cells;
		nn_compiled_free(&c1);
		nn_compiled_free(&c2);
		if (cap > 1) {
			compile_at(p, &sl, SIZE_MAX, cap - 1, &c1, &e1, m1, sizeof(m1));
			compile_at(p, &sl, 1, cap - 1, &c2, &e2, m2, sizeof(m2));
			assert_int_equal(e1, -E2BIG);
			assert_int_equal(e2, -E2BIG);
			assert_string_equal(m1, m2);
			rejected++;
			compile_at(p, &sl, 1, cap, &c2, &e2, m2, sizeof(m2));
			assert_int_equal(e2, 0);
			nn_compiled_free(&c2);
		}
		free(sl.dev);
		free(sl.node);
		free(sl.rule);
		nn_policy_free(p);
		free(json);
	}
	nn_compile_emit_par_min = 16384;
	nn_compile_fill_par_min = 8192;
	nn_compile_addrs_par_min = 16384;
	printf("# 300 policies, %zu cells emitted in two halves, %zu over capacity\n", split_cells,
	       rejected);
	assert_true(split_cells > 3000 && rejected > 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_equals_serial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
