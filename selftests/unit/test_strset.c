// SPDX-License-Identifier: GPL-2.0
/*
 * policy/strset.c, the validator's (scope, string) -> value map, against a
 * plain array model: ids drawn from a small alphabet so many repeat, the
 * same id in several scopes, the first insertion's value kept, lookups of
 * absent keys, and a map filled exactly to the size it was made for
 * (one more key is refused, not silently dropped). Seeded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xorshift.h"

#include "policy/strset.h"

#define NKEYS 5000

static uint32_t rng = 2654435761u;

static uint32_t rnd(void)
{
	return nn_xorshift32(&rng);
}

struct mkey {
	char s[16];
	uint32_t scope, val;
};

static struct mkey model[NKEYS];
static size_t n_model;

static struct mkey *model_get(uint32_t scope, const char *s)
{
	size_t i;

	for (i = 0; i < n_model; i++)
		if (model[i].scope == scope && !strcmp(model[i].s, s))
			return &model[i];
	return NULL;
}

static void test_against_model(void **state)
{
	static char ids[NKEYS][16];
	struct nn_strset set;
	struct mkey *m;
	uint32_t *v, scope;
	size_t i, j;
	bool found;

	(void)state;
	assert_int_equal(nn_strset_init(&set, NKEYS), 0);
	for (i = 0; i < NKEYS; i++) {
		/* "" included: an empty id is a key like any other here */
		snprintf(ids[i], sizeof(ids[i]), "%.*s", (int)(rnd() % 4), &"abcdefgh"[rnd() % 5]);
		scope = rnd() % 3;
		v = nn_strset_put(&set, scope, ids[i], (uint32_t)i, &found);
		m = model_get(scope, ids[i]);
		assert_non_null(v);
		assert_int_equal(found, m != NULL);
		if (m) {
			assert_int_equal(*v, m->val); /* the first value stays */
		} else {
			strcpy(model[n_model].s, ids[i]);
			model[n_model].scope = scope;
			model[n_model++].val = (uint32_t)i;
		}
		/* every known key, and some unknown ones, after each step */
		if (i % 500 == 0)
			for (j = 0; j < n_model; j++) {
				v = nn_strset_get(&set, model[j].scope, model[j].s);
				assert_non_null(v);
				assert_int_equal(*v, model[j].val);
				assert_null(nn_strset_get(&set, model[j].scope + 3, model[j].s));
			}
	}
	assert_null(nn_strset_get(&set, 0, "zzz"));
	printf("# %zu inserts, %zu distinct keys\n", (size_t)NKEYS, n_model);
	nn_strset_free(&set);
}

static void test_full(void **state)
{
	static char ids[40][24];
	struct nn_strset set;
	size_t i, n = 20, cap;
	uint32_t *v;
	bool found;

	(void)state;
	assert_int_equal(nn_strset_init(&set, n), 0);
	cap = set.mask + 1;
	/* sized for 20: at least 20 distinct keys fit, and the map never
	 * fills past half, so the 1 + cap/2 th is refused */
	for (i = 0; i < cap / 2; i++) {
		snprintf(ids[i], sizeof(ids[i]), "k%zu", i);
		assert_non_null(nn_strset_put(&set, 7, ids[i], (uint32_t)i, &found));
		assert_false(found);
	}
	snprintf(ids[i], sizeof(ids[i]), "k%zu", i);
	assert_null(nn_strset_put(&set, 7, ids[i], (uint32_t)i, &found));
	/* a known key is still found when full */
	v = nn_strset_put(&set, 7, "k3", 99, &found);
	assert_non_null(v);
	assert_true(found);
	assert_int_equal(*v, 3);
	assert_true(cap / 2 >= n);
	nn_strset_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
