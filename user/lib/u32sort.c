// SPDX-License-Identifier: GPL-2.0
/*
 * u32sort.c - nn_u32_sort_unique() (u32sort.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/u32sort.h"

/* Below this, insertion sort beats the radix passes' 256 counters. */
#define INSERTION_MAX 48
/* Radix scratch up to this many elements lives on the stack. */
#define STACK_MAX 512

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void insertion(uint32_t *v, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		uint32_t x = v[i];

		for (j = i; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* LSD radix sort, a byte per pass; a pass where every element has the same
 * byte (the high bytes of small indices) is skipped. */
static void radix(uint32_t *v, size_t n, uint32_t *tmp)
{
	uint32_t *src = v, *dst = tmp, *t;
	size_t count[256], i, sum, c;
	unsigned int shift;

	for (shift = 0; shift < 32; shift += 8) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i] >> shift) & 0xff]++;
		if (count[(src[0] >> shift) & 0xff] == n)
			continue;
		for (i = 0, sum = 0; i < 256; i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 0xff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

size_t nn_u32_sort_unique(uint32_t *v, size_t n)
{
	uint32_t stack[STACK_MAX], *tmp;
	size_t i, m;
	bool sorted = true;

	for (i = 1; i < n && sorted; i++)
		sorted = v[i - 1] <= v[i];
	if (!sorted) {
		if (n <= INSERTION_MAX) {
			insertion(v, n);
		} else if (n <= STACK_MAX) {
			radix(v, n, stack);
		} else {
			tmp = malloc(n * sizeof(*tmp));
			if (tmp)
				radix(v, n, tmp);
			else /* still correct, only slower */
				qsort(v, n, sizeof(*v), cmp_u32);
			free(tmp);
		}
	}
	for (i = 0, m = 0; i < n; i++)
		if (!m || v[m - 1] != v[i])
			v[m++] = v[i];
	return m;
}
