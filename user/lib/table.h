/* SPDX-License-Identifier: GPL-2.0 */
/*
 * table.h - a small open-addressing hash table with byte-string keys and
 * values of any length. The compiler uses it to intern class signatures and
 * cells; the applier uses it to diff desired map contents against what the
 * kernel holds; the incremental path keeps id tables it deletes from.
 * Keys and values are stored 8-byte aligned: no value may need more (no
 * long double, no vector types).
 */
#ifndef NANAMI_LIB_TABLE_H
#define NANAMI_LIB_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 32 bytes: a compile at 1M devices holds tables of millions of slots,
 * half of them empty, so the slot's size is most of a table's memory. */
struct nn_tentry {
	uint64_t hash;
	void *key;
	void *val;
	uint32_t klen;
	uint32_t vlen : 31;
	uint32_t used : 1;
};

/* Deleted keys and values of up to this many bytes are reused by later
 * puts (a free list per 8-byte size); larger ones stay in the chunks until
 * the table is freed. 64 covers the incremental path's id tables (device
 * ids of up to 63 bytes, 17- and 33-byte owner keys, 4-byte values). */
#define NN_TFREE_MAX 64

struct nn_table {
	struct nn_tentry *e;
	size_t cap; /* power of two */
	size_t n;
	struct nn_tchunk *chunks;      /* keys and values live here, not one malloc each */
	void *freed[NN_TFREE_MAX / 8]; /* [size / 8 - 1]: deleted blocks, linked */
	size_t shifted;		       /* entries deletions moved back, so far (a statistic) */
};

uint64_t nn_hash_bytes(const void *p, size_t n);

void nn_table_init(struct nn_table *t);
void nn_table_free(struct nn_table *t);

/* Room for @n entries: no put grows the table (a rehash of every slot)
 * until it holds more. 0, or -ENOMEM. */
int nn_table_reserve(struct nn_table *t, size_t n);

/* The entry for @key, or NULL. */
struct nn_tentry *nn_table_get(const struct nn_table *t, const void *key, size_t klen);

/* Insert or replace; copies key and value (a replacement of the same
 * length is written in place). 0, or -ENOMEM (also for a key or value
 * of 2 GiB or more). */
int nn_table_put(struct nn_table *t, const void *key, size_t klen, const void *val, size_t vlen);

/*
 * Lookups a few keys ahead. In a table of millions of slots (the compile's
 * cells and prefixes at 1M devices) a probe's first slot is a cache miss,
 * most of a lookup's time: a loop that knows its next keys hashes them
 * (nn_hash_bytes: the hash get and put use), hints their slots with
 * nn_table_prefetch, and looks each up later with its hash (the _h forms,
 * the same as nn_table_get / nn_table_put given nn_hash_bytes(key, klen)),
 * so that the misses overlap. A hint has no effect on the table; one made
 * stale by a put that grew the table only costs its load.
 */
static inline void nn_table_prefetch(const struct nn_table *t, uint64_t h)
{
	if (t->cap)
		__builtin_prefetch(&t->e[h & (t->cap - 1)]);
}

struct nn_tentry *nn_table_get_h(const struct nn_table *t, const void *key, size_t klen,
				 uint64_t h);
int nn_table_put_h(struct nn_table *t, const void *key, size_t klen, uint64_t h, const void *val,
		   size_t vlen);

/*
 * Delete @key's entry, if any (true when there was one). Backward-shift
 * deletion: the entries after it in its probe run move back, so no
 * tombstone is left and a table under churn holds its live entries only,
 * in as many slots as they need; each delete moves at most the rest of
 * one probe run (t->shifted counts them). Its key and value are reused by
 * later puts (NN_TFREE_MAX). Entry pointers taken before a delete are
 * stale after it, as after a put that grows the table. Never allocates.
 */
bool nn_table_del(struct nn_table *t, const void *key, size_t klen);

/* Bytes the table's keys and values hold from the heap (its chunks), for
 * tests that bound the table's memory under churn. */
size_t nn_table_chunk_bytes(const struct nn_table *t);

/* Iterate: for (i = 0; i < t->cap; i++) if (t->e[i].used) ...
 * The order is the hash's: nothing may depend on it. */

#endif /* NANAMI_LIB_TABLE_H */
