/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ftab.h - a flat hash table of fixed-size keys and values, for the
 * applier's record of what each slot of a policy map holds (apply.c).
 *
 * Entries are kept densely in insertion order (keys in one array, values in
 * one byte arena), indexed by an open-addressing table of entry numbers:
 * no allocation per entry, and walking the entries is walking an array. A
 * value is stored without its trailing zero bytes (a cell is 392 bytes of
 * which most are unused ranges), and compared the same way, so equality is
 * exact. Deletion (nn_ftab_del) is for the incremental path's few keys
 * per change; a table is otherwise built once per generation.
 */
#ifndef NANAMI_DP_FTAB_H
#define NANAMI_DP_FTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nn_ftab {
	size_t ksz;	 /* key bytes */
	size_t vsz;	 /* value bytes, before trimming */
	size_t n;	 /* entries */
	size_t ecap;	 /* entries allocated */
	size_t icap;	 /* index slots, a power of two, at least 2n */
	uint32_t *index; /* [icap]: entry + 1, 0 = empty */
	uint8_t *keys;	 /* [ecap * ksz] */
	uint64_t *voff;	 /* [ecap]: offset into vals */
	uint32_t *vlen;	 /* [ecap]: trimmed length */
	uint8_t *vals;
	size_t vbytes, vcap;
	size_t vlive; /* bytes of vals the entries use (the rest: replaced) */
	/* Tables holding these arrays (nn_ftab_copy shares them; the first
	 * put into a shared table gives it its own); NULL while empty. */
	size_t *holders;
};

void nn_ftab_init(struct nn_ftab *t, size_t ksz, size_t vsz);
void nn_ftab_free(struct nn_ftab *t);

/* *dst = a copy of @src, sharing its arrays until either is written (the
 * applier's record of the standby slot is mostly a copy of the live one:
 * at 1M devices a full copy was hundreds of MB). 0 or -ENOMEM (then *dst
 * is empty). */
int nn_ftab_copy(struct nn_ftab *dst, const struct nn_ftab *src);

/* Room for @want entries and a sixteenth more in a fresh (never written)
 * table, so that filling it, and the incremental path's first changes
 * after, neither rehash nor copy: the applier knows its counts, and at 1M
 * devices the doubling rehashed and copied 5M entries along the way. Any
 * other table is left to grow as it would. 0 or -ENOMEM (then @t is as
 * before). */
int nn_ftab_reserve(struct nn_ftab *t, size_t want);

/* Entry number of @key, or -1. */
long nn_ftab_find(const struct nn_ftab *t, const void *key);

/* Insert, or replace the value of an existing key. 0 or -ENOMEM. */
int nn_ftab_put(struct nn_ftab *t, const void *key, const void *val);

/* Start loading the index slot @key hashes to. A table filled from a list
 * of keys misses the cache at that slot once per put (an index of 8M
 * slots at 1M devices): a loop that hints the key a few puts ahead
 * overlaps the misses (a reserved table's 2.6M puts 0.76-0.95 -> 0.31-0.39
 * s). No effect on the table. */
void nn_ftab_prefetch(const struct nn_ftab *t, const void *key);

static inline const void *nn_ftab_key(const struct nn_ftab *t, size_t i)
{
	return t->keys + i * t->ksz;
}

/* Remove @key if present (the last entry takes its number; the value's
 * bytes stay in the arena until it is packed: see store_val). A table that shares
 * its arrays with a copy gets its own first (as nn_ftab_put does), so the
 * copy is untouched: 0 or -ENOMEM (then nothing changed). */
int nn_ftab_del(struct nn_ftab *t, const void *key);

/* Does entry @i hold exactly @val (vsz bytes)? */
bool nn_ftab_val_eq(const struct nn_ftab *t, size_t i, const void *val);

/* Do entry @i of @a and entry @j of @b hold the same value? */
bool nn_ftab_same_val(const struct nn_ftab *a, size_t i, const struct nn_ftab *b, size_t j);

/* The value of entry @i, vsz bytes, into @out. */
void nn_ftab_val(const struct nn_ftab *t, size_t i, void *out);

#endif /* NANAMI_DP_FTAB_H */
