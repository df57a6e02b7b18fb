/* SPDX-License-Identifier: GPL-2.0 */
/*
 * table.h - a small open-addressing hash table with byte-string keys and
 * values of any length. The compiler uses it to intern class signatures and
 * cells; the applier uses it to diff desired map contents against what the
 * kernel holds. Keys and values are stored 8-byte aligned: no value may
 * need more (no long double, no vector types).
 */
#ifndef NANAMI_LIB_TABLE_H
#define NANAMI_LIB_TABLE_H

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

struct nn_table {
	struct nn_tentry *e;
	size_t cap; /* power of two */
	size_t n;
	struct nn_tchunk *chunks; /* keys and values live here, not one malloc each */
};

uint64_t nn_hash_bytes(const void *p, size_t n);

void nn_table_init(struct nn_table *t);
void nn_table_free(struct nn_table *t);

/* The entry for @key, or NULL. */
struct nn_tentry *nn_table_get(const struct nn_table *t, const void *key, size_t klen);

/* Insert or replace; copies key and value (a replacement of the same
 * length is written in place). 0, or -ENOMEM (also for a key or value
 * of 2 GiB or more). */
int nn_table_put(struct nn_table *t, const void *key, size_t klen, const void *val, size_t vlen);

/* Iterate: for (i = 0; i < t->cap; i++) if (t->e[i].used) ...
 * The order is the hash's: nothing may depend on it. */

#endif /* NANAMI_LIB_TABLE_H */
