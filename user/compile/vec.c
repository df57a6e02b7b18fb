// SPDX-License-Identifier: GPL-2.0
/*
 * vec.c - the compiler's id vectors and compressed per-device rows
 * (compile_int.h), shared by compile.c and the kept state's queries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_int.h"
#include "lib/u32sort.h"

int nn_c_vpush(struct vec *v, uint32_t x)
{
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 8;
		uint32_t *nv = realloc(v->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = ncap;
	}
	v->v[v->n++] = x;
	return 0;
}

/* Append @n ids to @v: one growth check for the lot (pfx_covering appends
 * a prefix's whole id list per match). */
int nn_c_vappend(struct vec *v, const uint32_t *x, size_t n)
{
	if (!n)
		return 0; /* nothing to copy, and v->v may still be NULL */
	if (v->n + n > v->cap) {
		size_t ncap = v->cap ? v->cap : 8;
		uint32_t *nv;

		while (ncap < v->n + n)
			ncap *= 2;
		nv = realloc(v->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = ncap;
	}
	memcpy(v->v + v->n, x, n * sizeof(*x));
	v->n += n;
	return 0;
}

void nn_c_vsort_unique(struct vec *v)
{
	v->n = nn_u32_sort_unique(v->v, v->n);
}

void nn_c_rows_free(struct nn_c_rows *w)
{
	free(w->start);
	free(w->v);
	free(w->fill);
}

/* @w->start holds each device's count in [d + 1]: turn the counts into
 * offsets and allocate the rows. */
int nn_c_rows_alloc(struct nn_c_rows *w, size_t n)
{
	size_t d;

	for (d = 0; d < n; d++)
		w->start[d + 1] += w->start[d];
	w->v = malloc((w->start[n] ? w->start[n] : 1) * sizeof(*w->v));
	w->fill = malloc((n ? n : 1) * sizeof(*w->fill));
	if (!w->v || !w->fill)
		return -ENOMEM;
	memcpy(w->fill, w->start, n * sizeof(*w->fill));
	return 0;
}

struct vec nn_c_rows_of(const struct nn_c_rows *w, size_t d)
{
	return (struct vec){ .v = w->v + w->start[d], .n = w->start[d + 1] - w->start[d] };
}
