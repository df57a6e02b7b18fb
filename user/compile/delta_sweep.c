// SPDX-License-Identifier: GPL-2.0
/*
 * delta_sweep.c - the kept state's id tables without their tombstones.
 *
 * lib/table.c has no deletion, so the fast path marks what is gone with
 * INC_NONE instead: a deleted device's id (dev_ids, doc_ids), and the
 * owner entries of every address and key a device gave up (owners: a key
 * rotation leaves one, an address change one, a delete two or three).
 * nn_inc_get() reads INC_NONE and "absent" alike, so a tombstone is only
 * memory, but under churn it is memory without bound: 100 key rotations a
 * second leave 8.6 M entries a day, ~0.8 GB, until a full apply rebuilds
 * the state (a restart, a 410, a change the fast path refuses).
 *
 * So after each change a table whose entries have doubled since it was
 * last swept (and grown by nn_inc_sweep_min) is rebuilt with its live
 * entries only: O(live) every doubling, amortised O(1) a change, the
 * compaction of the user arena (delta_user.c) again. A rebuild that runs
 * out of memory leaves the table as it was.
 */
#include <errno.h>
#include <stdbool.h>

#include "compile/delta.h"
#include "compile/delta_int.h"

size_t nn_inc_sweep_min = 4096;

/* @t with only its entries whose value is not INC_NONE; *@live their
 * number. 0, or -ENOMEM with @t untouched. */
static int rebuild(struct nn_table *t, size_t *live)
{
	struct nn_table fresh;
	size_t i;

	nn_table_init(&fresh);
	for (i = 0; i < t->cap; i++) {
		const struct nn_tentry *e = &t->e[i];

		if (!e->used || *(const uint32_t *)e->val == INC_NONE)
			continue;
		if (nn_table_put_h(&fresh, e->key, e->klen, e->hash, e->val, e->vlen)) {
			nn_table_free(&fresh);
			return -ENOMEM;
		}
	}
	nn_table_free(t);
	*t = fresh;
	*live = t->n;
	return 0;
}

static void sweep(struct nn_inc *s, bool now)
{
	struct nn_table *t[INC_SWEPT] = { &s->dev_ids, &s->doc_ids, &s->owners };
	size_t i;

	for (i = 0; i < INC_SWEPT; i++) {
		if (now ? t[i]->n == s->swept_live[i] :
			  t[i]->n < 2 * s->swept_live[i] + nn_inc_sweep_min)
			continue;
		if (!rebuild(t[i], &s->swept_live[i]))
			s->sweeps++;
	}
}

void nn_inc_sweep(struct nn_inc *s)
{
	sweep(s, false);
}

void nn_inc_sweep_now(struct nn_inc *s)
{
	sweep(s, true);
}

size_t nn_inc_id_entries(const struct nn_inc *s, unsigned long *sweeps)
{
	if (sweeps)
		*sweeps = s->sweeps;
	return s->dev_ids.n + s->doc_ids.n + s->owners.n;
}
