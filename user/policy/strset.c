// SPDX-License-Identifier: GPL-2.0
/*
 * strset.c - nn_strset (strset.h): open addressing, linear probing, the
 * full 64-bit hash kept per slot so a probe compares strings only on a
 * hash match.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "policy/strset.h"

int nn_strset_init(struct nn_strset *h, size_t n)
{
	size_t cap = 16;

	/* Seeded per map: ids come from the control plane, and an unseeded
	 * hash lets a crafted snapshot put every id in one probe chain. */
	if (getrandom(&h->seed, sizeof(h->seed), GRND_NONBLOCK) != sizeof(h->seed))
		h->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)h;
	while (cap < 2 * n)
		cap *= 2;
	h->e = calloc(cap, sizeof(*h->e));
	h->mask = cap - 1;
	h->n = 0;
	return h->e ? 0 : -ENOMEM;
}

void nn_strset_free(struct nn_strset *h)
{
	free(h->e);
	h->e = NULL;
	h->mask = 0;
	h->n = 0;
}

uint64_t nn_strset_hash(const struct nn_strset *m, uint32_t scope, const char *s)
{
	/* FNV-1a from a seeded basis, then a full mix (FNV's low bits are
	 * weak for short keys). */
	uint64_t h = m->seed ^ ((uint64_t)scope * 0x9e3779b97f4a7c15ull);

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static struct nn_strset_e *slot(const struct nn_strset *h, uint32_t scope, const char *s,
				uint64_t hash)
{
	size_t i = hash & h->mask, tries;
	struct nn_strset_e *e;

	for (tries = 0; tries <= h->mask; tries++, i = (i + 1) & h->mask) {
		e = &h->e[i];
		if (!e->s || (e->hash == hash && e->scope == scope && !strcmp(e->s, s)))
			return e;
	}
	return NULL;
}

uint32_t *nn_strset_put(struct nn_strset *h, uint32_t scope, const char *s, uint32_t val,
			bool *found)
{
	return nn_strset_put_h(h, scope, s, nn_strset_hash(h, scope, s), val, found);
}

uint32_t *nn_strset_put_h(struct nn_strset *h, uint32_t scope, const char *s, uint64_t hash,
			  uint32_t val, bool *found)
{
	struct nn_strset_e *e;

	*found = false;
	/* Half full at most: probes stay short, and a free slot exists. */
	if (2 * (h->n + 1) > h->mask + 1) {
		e = slot(h, scope, s, hash);
		if (e && e->s) {
			*found = true;
			return &e->val;
		}
		return NULL;
	}
	e = slot(h, scope, s, hash);
	if (e->s) {
		*found = true;
		return &e->val;
	}
	e->s = s;
	e->scope = scope;
	e->hash = hash;
	e->val = val;
	h->n++;
	return &e->val;
}

uint32_t *nn_strset_get(const struct nn_strset *h, uint32_t scope, const char *s)
{
	struct nn_strset_e *e;

	if (!h->e)
		return NULL;
	e = slot(h, scope, s, nn_strset_hash(h, scope, s));
	return e && e->s ? &e->val : NULL;
}
