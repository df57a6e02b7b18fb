// SPDX-License-Identifier: GPL-2.0
/*
 * lib/u32sort.c against qsort and a plain dedup loop: every size across
 * the insertion / stack radix / heap radix boundaries, value ranges that
 * leave high bytes equal (skipped radix passes) or not, many repeats,
 * already sorted and reversed input. Seeded, so a failure replays.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xorshift.h"

#include "lib/u32sort.h"

static uint32_t rng = 88172645u;

static uint32_t rnd(void)
{
	return nn_xorshift32(&rng);
}

static int cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static size_t model(uint32_t *v, size_t n)
{
	size_t i, m = 0;

	qsort(v, n, sizeof(*v), cmp);
	for (i = 0; i < n; i++)
		if (!m || v[m - 1] != v[i])
			v[m++] = v[i];
	return m;
}

static void test_against_qsort(void **state)
{
	static const uint32_t ranges[] = { 1, 3, 200, 70000, 1u << 24, 0xffffffffu };
	size_t sizes[] = { 0, 1, 2, 3, 47, 48, 49, 100, 511, 512, 513, 2000, 70000 };
	uint32_t *a = malloc(70000 * sizeof(*a)), *b = malloc(70000 * sizeof(*b));
	size_t si, ri, i, n, ma, mb, shape, runs = 0;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		for (ri = 0; ri < sizeof(ranges) / sizeof(ranges[0]); ri++) {
			for (shape = 0; shape < 3; shape++) {
				n = sizes[si];
				for (i = 0; i < n; i++)
					a[i] = ranges[ri] == 0xffffffffu ? rnd() :
									   rnd() % ranges[ri];
				if (shape)
					qsort(a, n, sizeof(*a), cmp);
				if (shape == 2) /* descending */
					for (i = 0; i < n / 2; i++) {
						uint32_t t = a[i];

						a[i] = a[n - 1 - i];
						a[n - 1 - i] = t;
					}
				memcpy(b, a, n * sizeof(*a));
				ma = nn_u32_sort_unique(a, n);
				mb = model(b, n);
				if (ma != mb || memcmp(a, b, ma * sizeof(*a)))
					fail_msg("n %zu range %u shape %zu: %zu vs %zu distinct", n,
						 ranges[ri], shape, ma, mb);
				runs++;
			}
		}
	}
	printf("# %zu arrays\n", runs);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_qsort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
