// SPDX-License-Identifier: GPL-2.0
/* write_slot.c - one slot of a policy map brought from what its record
 * says it holds to what is wanted (apply_int.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp/apply_int.h"
#include "dp/batch.h"

/* Wanted entries diffed and written per nn_map_update_many call by
 * write_slot: the buffer's bound (65536 cells: 26 MB). */
#define WRITE_CHUNK 65536

int nn_ap_kv_push(struct nn_ap_kv *b, const struct mapset *ms, int set, uint32_t slot,
		  const void *key, const struct nn_ftab *t, size_t i)
{
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 256;
		uint8_t *k = realloc(b->k, nc * ms->ksz), *v;

		if (!k)
			return -ENOMEM;
		b->k = k;
		v = realloc(b->v, nc * (ms->vsz ? ms->vsz : 1));
		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = nc;
	}
	memcpy(b->k + b->n * ms->ksz, key, ms->ksz);
	nn_set_key_reslot(set, b->k + b->n * ms->ksz, slot);
	if (t)
		nn_ftab_val(t, i, b->v + b->n * ms->vsz);
	b->n++;
	return 0;
}

void nn_ap_kv_free(struct nn_ap_kv *b)
{
	free(b->k);
	free(b->v);
	memset(b, 0, sizeof(*b));
}

int nn_ap_delete_stale(const struct mapset *ms, int set, uint32_t slot, const struct nn_ftab *want,
		       const struct nn_ftab *have, size_t *writes)
{
	struct nn_ap_kv del = {};
	size_t i;
	int err = 0;

	for (i = 0; i < have->n && !err; i++)
		if (nn_ftab_find(want, nn_ftab_key(have, i)) < 0)
			err = nn_ap_kv_push(&del, ms, set, slot, nn_ftab_key(have, i), NULL, 0);
	if (!err && del.n)
		err = nn_map_delete_many(ms->fd, del.k, ms->ksz, del.n);
	if (!err)
		*writes += del.n;
	nn_ap_kv_free(&del);
	return err;
}

int nn_ap_push_diff(struct nn_ap_kv *b, const struct mapset *ms, int set, uint32_t slot,
		    const struct nn_ftab *want, const struct nn_ftab *have, size_t lo, size_t hi)
{
	size_t i;
	int err = 0;

	for (i = lo; i < hi && !err; i++) {
		long j = nn_ftab_find(have, nn_ftab_key(want, i));

		if (j < 0 || !nn_ftab_same_val(want, i, have, (size_t)j))
			err = nn_ap_kv_push(b, ms, set, slot, nn_ftab_key(want, i), want, i);
	}
	return err;
}

/* Make slot @slot of one map hold @want, knowing it holds @have: what
 * differs is written, then what @have has and @want lacks is deleted (the
 * order of the applier before the record: a map too full for the new
 * generation fails the apply, the previous one stays enforced). */
int nn_ap_write_slot(const struct mapset *ms, int set, uint32_t slot, const struct nn_ftab *want,
		     const struct nn_ftab *have, size_t *writes)
{
	struct nn_ap_kv upd = {};
	size_t lo, hi;
	int err = 0;

	/* Written a chunk at a time: a cold apply at 1M devices buffered
	 * every cell at full size (1.6 GB) before writing. */
	for (lo = 0; lo < want->n && !err; lo = hi) {
		hi = want->n - lo < WRITE_CHUNK ? want->n : lo + WRITE_CHUNK;
		upd.n = 0;
		err = nn_ap_push_diff(&upd, ms, set, slot, want, have, lo, hi);
		if (!err && upd.n)
			err = nn_map_update_many(ms->fd, upd.k, ms->ksz, upd.v, ms->vsz, upd.n);
		if (!err)
			*writes += upd.n;
	}
	nn_ap_kv_free(&upd);
	return err ?: nn_ap_delete_stale(ms, set, slot, want, have, writes);
}
