// SPDX-License-Identifier: GPL-2.0
/*
 * lib/table.c's deletion against a plain array model: keys drawn from a
 * small space so puts replace, deletes hit and miss, and the table stays
 * small and loaded (runs of probes wrap around its end); after every operation each
 * model key is looked up and the table's entry count and iteration agree
 * with the model. Then churn of same-sized keys (the id tables' key
 * rotations) must reuse the deleted keys' and values' blocks: the chunks do
 * not grow. Seeded (NN_SEED).
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

#include "lib/table.h"

#define NKEYS 340

static uint32_t rng = 2654435761u;

/* The model: key i (of length 1 + i % 40) present with value val[i]. */
static bool present[NKEYS];
static uint32_t val[NKEYS];

static size_t key_of(size_t i, uint8_t *k)
{
	size_t len = 1 + i % 40;

	memset(k, 0, len);
	memcpy(k, &i, sizeof(i) < len ? sizeof(i) : len);
	k[len - 1] ^= 0xa5;
	return len;
}

/* Every model key found (or not) as the model says, and no other entry. */
static void check(const struct nn_table *t, size_t op)
{
	uint8_t k[64];
	size_t i, n = 0, used = 0;

	for (i = 0; i < NKEYS; i++) {
		size_t len = key_of(i, k);
		struct nn_tentry *e = nn_table_get(t, k, len);

		if (!present[i]) {
			if (e)
				fail_msg("op %zu: key %zu deleted but found", op, i);
			continue;
		}
		n++;
		if (!e)
			fail_msg("op %zu: key %zu lost", op, i);
		assert_int_equal(e->vlen, sizeof(uint32_t));
		assert_memory_equal(e->val, &val[i], sizeof(uint32_t));
	}
	assert_int_equal(t->n, n);
	for (i = 0; i < t->cap; i++)
		used += t->e[i].used;
	assert_int_equal(used, n);
}

static void test_against_model(void **state)
{
	const char *s = getenv("NN_SEED");
	struct nn_table t;
	uint8_t k[64];
	size_t op, deleted = 0, missed = 0, i;

	(void)state;
	if (s)
		rng = (uint32_t)strtoul(s, NULL, 0) ?: rng;
	printf("# seed=%u\n", rng);
	nn_table_init(&t);
	for (op = 0; op < 20000; op++) {
		/* early on mostly puts (the table grows to 512 slots, near
		 * its 2/3 load), then 85 puts to 15 deletes: ~290 live, load
		 * ~0.56, so probe runs are long and some wrap around the end */
		size_t i = nn_xorshift32(&rng) % NKEYS;
		size_t len = key_of(i, k);

		if (nn_xorshift32(&rng) % 100 < (op < 2000 ? 95 : 85)) {
			val[i] = nn_xorshift32(&rng);
			assert_int_equal(nn_table_put(&t, k, len, &val[i], sizeof(val[i])), 0);
			present[i] = true;
		} else {
			bool was = nn_table_del(&t, k, len);

			assert_int_equal(was, present[i]);
			deleted += was;
			missed += !was;
			present[i] = false;
		}
		check(&t, op);
	}
	printf("# %zu deletes, %zu of absent keys, %zu entries moved back, %zu live in %zu slots\n",
	       deleted, missed, t.shifted, t.n, t.cap);
	assert_true(deleted > 1000 && missed > 100 && t.shifted > 100);
	nn_table_free(&t);
	for (i = 0; i < NKEYS; i++)
		present[i] = false;
}

/* Key rotations: a key deleted and a new one of the same size put, many
 * times over. The slots stay as they were (the live count does not grow)
 * and so do the chunks (each new key and value takes a deleted one's
 * block). */
static void test_churn_reuses(void **state)
{
	struct nn_table t;
	uint8_t k[33] = { 'k' };
	uint32_t v = 7;
	size_t i, cap, bytes;

	(void)state;
	nn_table_init(&t);
	for (i = 0; i < 1000; i++) {
		memcpy(k + 1, &i, sizeof(i));
		assert_int_equal(nn_table_put(&t, k, sizeof(k), &v, sizeof(v)), 0);
	}
	cap = t.cap;
	bytes = nn_table_chunk_bytes(&t);
	for (i = 1000; i < 100000; i++) {
		size_t old = i - 1000;

		memcpy(k + 1, &old, sizeof(old));
		assert_true(nn_table_del(&t, k, sizeof(k)));
		memcpy(k + 1, &i, sizeof(i));
		assert_int_equal(nn_table_put(&t, k, sizeof(k), &v, sizeof(v)), 0);
	}
	printf("# 99000 rotations: %zu live in %zu slots (%zu before), chunks %zu bytes (%zu)\n",
	       t.n, t.cap, cap, nn_table_chunk_bytes(&t), bytes);
	assert_int_equal(t.n, 1000);
	assert_int_equal(t.cap, cap);
	assert_int_equal(nn_table_chunk_bytes(&t), bytes);
	for (i = 99000; i < 100000; i++) {
		memcpy(k + 1, &i, sizeof(i));
		assert_non_null(nn_table_get(&t, k, sizeof(k)));
	}
	nn_table_free(&t);
}

/* A reserve of n entries: the n puts after it never move the slots (a
 * growth would rehash every entry inside one put), whatever the table
 * held before; the n + 1-th may. Entries put before the reserve survive
 * its rehash. */
static void test_reserve_holds(void **state)
{
	static const size_t sizes[] = { 0, 1, 42, 43, 44, 1000, 1365, 1366, 5000 };
	uint32_t k, v;
	size_t s, i;

	(void)state;
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s], before = n / 3;
		struct nn_table t;
		const struct nn_tentry *e0;

		nn_table_init(&t);
		for (k = 0; k < before; k++) {
			v = k * 7;
			assert_int_equal(nn_table_put(&t, &k, sizeof(k), &v, sizeof(v)), 0);
		}
		assert_int_equal(nn_table_reserve(&t, n), 0);
		e0 = t.e;
		for (; k < n; k++) {
			v = k * 7;
			assert_int_equal(nn_table_put(&t, &k, sizeof(k), &v, sizeof(v)), 0);
			if (t.e != e0)
				fail_msg("reserve %zu: put %u grew the table", n, k);
		}
		for (i = 0; i < n; i++) {
			const struct nn_tentry *e;

			k = (uint32_t)i;
			e = nn_table_get(&t, &k, sizeof(k));
			assert_non_null(e);
			assert_int_equal(*(const uint32_t *)e->val, k * 7);
		}
		/* No more room than the put's own rule would give: a
		 * reserve is not a way to waste slots. */
		assert_true(t.cap == 64 || (n + 1) * 3 > t.cap);
		nn_table_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_churn_reuses),
		cmocka_unit_test(test_reserve_holds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
