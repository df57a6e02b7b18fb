/* SPDX-License-Identifier: GPL-2.0 */
/*
 * strset.h - a fixed-size hash map from (scope, string) to a uint32_t, for
 * the validator's name checks: duplicate ids, addresses and keys, and a
 * device's user by id. Linear where the sorted checks it replaces were
 * n log n string compares (and a device's user a scan of its network's
 * users: quadratic in a network's size). Keys are borrowed: the strings
 * must outlive the map. Sized once for the number of keys to come.
 */
#ifndef NANAMI_POLICY_STRSET_H
#define NANAMI_POLICY_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nn_strset_e {
	const char *s; /* NULL: free */
	uint32_t scope;
	uint32_t val;
	uint64_t hash;
};

struct nn_strset {
	struct nn_strset_e *e;
	size_t mask; /* capacity - 1, capacity a power of two */
	size_t n;
	uint64_t seed;
};

/* Room for @n keys (the table is kept at most half full). -ENOMEM or 0. */
int nn_strset_init(struct nn_strset *h, size_t n);
void nn_strset_free(struct nn_strset *h);
/* The value of (@scope, @s): inserted as @val when absent (*@found false),
 * else the existing one (*@found true). NULL when the map is full (more
 * keys than it was sized for). */
uint32_t *nn_strset_put(struct nn_strset *h, uint32_t scope, const char *s, uint32_t val,
			bool *found);
/* The value of (@scope, @s) or NULL. */
uint32_t *nn_strset_get(const struct nn_strset *h, uint32_t scope, const char *s);

/* Puts a few keys ahead: a map of millions of slots (the ids, addresses
 * and keys of 1M devices) misses the cache at a probe's first slot, most
 * of a put's time. A loop hashes its next keys, hints their slots, and puts
 * each later with its hash (nn_strset_put_h: nn_strset_put given
 * nn_strset_hash(@h, @scope, @s)), so that the misses overlap. */
uint64_t nn_strset_hash(const struct nn_strset *h, uint32_t scope, const char *s);
static inline void nn_strset_prefetch(const struct nn_strset *h, uint64_t hash)
{
	__builtin_prefetch(&h->e[hash & h->mask]);
}
uint32_t *nn_strset_put_h(struct nn_strset *h, uint32_t scope, const char *s, uint64_t hash,
			  uint32_t val, bool *found);

#endif /* NANAMI_POLICY_STRSET_H */
