// SPDX-License-Identifier: GPL-2.0
/* table.c - see table.h. Linear probing, grown at 2/3 load, deletion by
 * backward shift (most users build a table once and throw it away; the
 * incremental path's id tables live as long as its kept state and see a
 * delete for every key rotation). Keys and values are carved from large
 * chunks freed with the table: a compile at 100k devices puts millions of
 * entries, and a malloc and free for each key and value was a tenth of its
 * time. A deleted key or value goes on a free list by size for the next
 * put of that size, so a table under churn does not grow its chunks. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib/table.h"

static uint64_t fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* Eight bytes at a time (the keys are class signatures, arrays of u32, and
 * fixed-size map keys: a byte loop was a sixth of a compile), each word
 * multiplied in and folded, then murmur3's finaliser: linear probing needs
 * every bit of the key in the low bits. */
uint64_t nn_hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull), w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, b + i, 8);
		h ^= w;
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	if (i < n) {
		w = 0;
		memcpy(&w, b + i, n - i);
		h ^= w;
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return fmix64(h);
}

void nn_table_init(struct nn_table *t)
{
	memset(t, 0, sizeof(*t));
}

struct nn_tchunk {
	struct nn_tchunk *next;
	size_t used, cap;
	max_align_t data[];
};

/* @n bytes from the table's chunks, 8-byte aligned: keys and values are
 * integers, pointers and structs of them (see table.h), and a 4-byte class
 * number or 8-byte cell key padded to 16 was a third of the chunks. */
static void *chunk_alloc(struct nn_table *t, size_t n)
{
	struct nn_tchunk *c = t->chunks;
	size_t a = (n + 7) & ~(size_t)7;
	void *p;

	if (a <= NN_TFREE_MAX && t->freed[a / 8 - 1]) {
		p = t->freed[a / 8 - 1];
		memcpy(&t->freed[a / 8 - 1], p, sizeof(p));
		return p;
	}
	if (!c || c->cap - c->used < a) {
		size_t cap = c ? c->cap * 2 : 4096;

		if (cap > (1u << 24))
			cap = 1u << 24;
		if (cap < a)
			cap = a;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = t->chunks;
		c->used = 0;
		c->cap = cap;
		t->chunks = c;
	}
	p = (char *)c->data + c->used;
	c->used += a;
	return p;
}

/* Block @p of @n bytes (as asked of chunk_alloc) back for reuse. Every
 * block is 8-byte aligned and at least 8 bytes: the link fits. */
static void chunk_release(struct nn_table *t, void *p, size_t n)
{
	size_t a = (n + 7) & ~(size_t)7;

	if (a > NN_TFREE_MAX)
		return;
	memcpy(p, &t->freed[a / 8 - 1], sizeof(p));
	t->freed[a / 8 - 1] = p;
}

size_t nn_table_chunk_bytes(const struct nn_table *t)
{
	const struct nn_tchunk *c;
	size_t b = 0;

	for (c = t->chunks; c; c = c->next)
		b += sizeof(*c) + c->cap;
	return b;
}

void nn_table_free(struct nn_table *t)
{
	struct nn_tchunk *c = t->chunks, *n;

	for (; c; c = n) {
		n = c->next;
		free(c);
	}
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static struct nn_tentry *slot_for(const struct nn_table *t, uint64_t h, const void *key,
				  uint32_t klen)
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

struct nn_tentry *nn_table_get_h(const struct nn_table *t, const void *key, size_t klen, uint64_t h)
{
	struct nn_tentry *e;

	if (!t->cap)
		return NULL;
	if (klen >= UINT32_MAX)
		return NULL;
	e = slot_for(t, h, key, (uint32_t)klen);
	return e->used ? e : NULL;
}

struct nn_tentry *nn_table_get(const struct nn_table *t, const void *key, size_t klen)
{
	return nn_table_get_h(t, key, klen, nn_hash_bytes(key, klen));
}

/* Rehash into @ncap slots (a power of two that holds every entry). */
static int rehash(struct nn_table *t, size_t ncap)
{
	struct nn_tentry *ne = calloc(ncap, sizeof(*ne)), *old = t->e;
	size_t ocap = t->cap, i;

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

static int grow(struct nn_table *t)
{
	return rehash(t, t->cap ? t->cap * 2 : 64);
}

int nn_table_reserve(struct nn_table *t, size_t n)
{
	size_t ncap = t->cap ? t->cap : 64;

	if (n > SIZE_MAX / 4)
		return -ENOMEM;
	/* The put's rule: room while (entries + 1) * 3 <= cap * 2. */
	while ((n + 1) * 3 > ncap * 2)
		ncap *= 2;
	return ncap == t->cap ? 0 : rehash(t, ncap);
}

int nn_table_put(struct nn_table *t, const void *key, size_t klen, const void *val, size_t vlen)
{
	return nn_table_put_h(t, key, klen, nn_hash_bytes(key, klen), val, vlen);
}

int nn_table_put_h(struct nn_table *t, const void *key, size_t klen, uint64_t h, const void *val,
		   size_t vlen)
{
	struct nn_tentry *e;
	void *v;

	if (klen >= UINT32_MAX || vlen >= (1u << 31))
		return -ENOMEM;
	if ((t->n + 1) * 3 > t->cap * 2 && grow(t))
		return -ENOMEM;
	e = slot_for(t, h, key, (uint32_t)klen);
	if (e->used && e->vlen == vlen) {
		memcpy(e->val, val, vlen);
		return 0;
	}
	v = chunk_alloc(t, vlen ? vlen : 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, val, vlen);
	if (e->used) {
		e->val = v;
		e->vlen = (uint32_t)vlen;
		return 0;
	}
	e->key = chunk_alloc(t, klen ? klen : 1);
	if (!e->key)
		return -ENOMEM;
	memcpy(e->key, key, klen);
	e->klen = (uint32_t)klen;
	e->hash = h;
	e->val = v;
	e->vlen = (uint32_t)vlen;
	e->used = 1;
	t->n++;
	return 0;
}

bool nn_table_del(struct nn_table *t, const void *key, size_t klen)
{
	struct nn_tentry *e = nn_table_get(t, key, klen);
	size_t mask = t->cap - 1, i, j;

	if (!e)
		return false;
	chunk_release(t, e->key, e->klen ? e->klen : 1);
	chunk_release(t, e->val, e->vlen ? e->vlen : 1);
	/* Close the hole at i: an entry later in the run moves into it unless
	 * its home slot lies in (i, j] (then a lookup from its home would no
	 * longer pass the hole); the run ends at the first empty slot. */
	i = (size_t)(e - t->e);
	for (j = (i + 1) & mask; t->e[j].used; j = (j + 1) & mask) {
		size_t home = t->e[j].hash & mask;

		if (((j - home) & mask) < ((j - i) & mask))
			continue;
		t->e[i] = t->e[j];
		t->shifted++;
		i = j;
	}
	memset(&t->e[i], 0, sizeof(t->e[i]));
	t->n--;
	return true;
}
