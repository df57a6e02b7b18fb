// SPDX-License-Identifier: GPL-2.0
/* table.c - see table.h. Linear probing, grown at 50% load, no deletion
 * (every user builds a table once and throws it away). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/table.h"

uint64_t nn_hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	/* Final mix: FNV's low bits are weak for short keys. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

void nn_table_init(struct nn_table *t)
{
	memset(t, 0, sizeof(*t));
}

void nn_table_free(struct nn_table *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++) {
		if (t->e[i].used) {
			free(t->e[i].key);
			free(t->e[i].val);
		}
	}
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static struct nn_tentry *slot_for(const struct nn_table *t, uint64_t h, const void *key,
				  size_t klen)
{
	size_t i = h & (t->cap - 1);

	for (;;) {
		struct nn_tentry *e = &t->e[i];

		if (!e->used)
			return e;
		if (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen))
			return e;
		i = (i + 1) & (t->cap - 1);
	}
}

struct nn_tentry *nn_table_get(const struct nn_table *t, const void *key, size_t klen)
{
	struct nn_tentry *e;

	if (!t->cap)
		return NULL;
	e = slot_for(t, nn_hash_bytes(key, klen), key, klen);
	return e->used ? e : NULL;
}

static int grow(struct nn_table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64, i;
	struct nn_tentry *ne = calloc(ncap, sizeof(*ne)), *old = t->e;
	size_t ocap = t->cap;

	if (!ne)
		return -ENOMEM;
	t->e = ne;
	t->cap = ncap;
	for (i = 0; i < ocap; i++) {
		if (old[i].used)
			*slot_for(t, old[i].hash, old[i].key, old[i].klen) = old[i];
	}
	free(old);
	return 0;
}

int nn_table_put(struct nn_table *t, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct nn_tentry *e;
	uint64_t h;
	void *v;

	if ((t->n + 1) * 2 > t->cap && grow(t))
		return -ENOMEM;
	h = nn_hash_bytes(key, klen);
	e = slot_for(t, h, key, klen);
	v = malloc(vlen ? vlen : 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, val, vlen);
	if (e->used) {
		free(e->val);
		e->val = v;
		e->vlen = vlen;
		return 0;
	}
	e->key = malloc(klen ? klen : 1);
	if (!e->key) {
		free(v);
		return -ENOMEM;
	}
	memcpy(e->key, key, klen);
	e->klen = klen;
	e->hash = h;
	e->val = v;
	e->vlen = vlen;
	e->used = 1;
	t->n++;
	return 0;
}
