// SPDX-License-Identifier: GPL-2.0
/* ftab.c - see ftab.h. Linear probing over an index of entry numbers, grown
 * at 50% load; keys hashed eight bytes at a time (they are short and of
 * fixed size, so no byte loop is needed). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp/ftab.h"
#include "lib/table.h"

void nn_ftab_init(struct nn_ftab *t, size_t ksz, size_t vsz)
{
	memset(t, 0, sizeof(*t));
	t->ksz = ksz;
	t->vsz = vsz;
}

/* The arrays a table owns (or shares with its copies: callers decide). */
static void free_arrays(struct nn_ftab *t)
{
	free(t->holders);
	free(t->index);
	free(t->keys);
	free(t->voff);
	free(t->vlen);
	free(t->vals);
}

void nn_ftab_free(struct nn_ftab *t)
{
	if (t->holders && --*t->holders) {
		nn_ftab_init(t, t->ksz, t->vsz); /* another table still holds them */
		return;
	}
	free_arrays(t);
	nn_ftab_init(t, t->ksz, t->vsz);
}

/* The index slot of @key: its entry's, or the empty one it would take. */
static size_t slot_of(const struct nn_ftab *t, const void *key)
{
	size_t i = nn_hash_bytes(key, t->ksz) & (t->icap - 1);

	while (t->index[i] && memcmp(t->keys + (t->index[i] - 1) * t->ksz, key, t->ksz))
		i = (i + 1) & (t->icap - 1);
	return i;
}

long nn_ftab_find(const struct nn_ftab *t, const void *key)
{
	size_t s;

	if (!t->icap)
		return -1;
	s = slot_of(t, key);
	return t->index[s] ? (long)t->index[s] - 1 : -1;
}

void nn_ftab_prefetch(const struct nn_ftab *t, const void *key)
{
	if (t->icap)
		__builtin_prefetch(&t->index[nn_hash_bytes(key, t->ksz) & (t->icap - 1)]);
}

static int grow_index(struct nn_ftab *t)
{
	size_t ncap = t->icap ? t->icap * 2 : 1024, i;
	uint32_t *old = t->index;

	t->index = calloc(ncap, sizeof(*t->index));
	if (!t->index) {
		t->index = old;
		return -ENOMEM;
	}
	t->icap = ncap;
	for (i = 0; i < t->n; i++)
		t->index[slot_of(t, t->keys + i * t->ksz)] = (uint32_t)i + 1;
	free(old);
	return 0;
}

/* Entries past which the arrays grow by an eighth, not double. WHY: a
 * generation's record is reserved to its count and a sixteenth
 * (nn_ftab_reserve) and then kept as the live record the incremental path
 * puts into: doubling keys, offsets and lengths of a table of 1.7M
 * addresses copies ~55 MB (most are below glibc's mmap threshold) in the
 * middle of a change. Still geometric, so puts stay amortised O(1). */
#define GROW_SLOW_FROM 65536

static int grow_entries(struct nn_ftab *t)
{
	size_t nc = !t->ecap ? 512 : t->ecap < GROW_SLOW_FROM ? t->ecap * 2 : t->ecap + t->ecap / 8;
	uint8_t *k = realloc(t->keys, nc * t->ksz);
	uint64_t *o;
	uint32_t *l;

	if (!k)
		return -ENOMEM;
	t->keys = k;
	o = realloc(t->voff, nc * sizeof(*o));
	if (!o)
		return -ENOMEM;
	t->voff = o;
	l = realloc(t->vlen, nc * sizeof(*l));
	if (!l)
		return -ENOMEM;
	t->vlen = l;
	t->ecap = nc;
	return 0;
}

int nn_ftab_reserve(struct nn_ftab *t, size_t want)
{
	/* Room past the count: this record becomes the live one the
	 * incremental path puts into, and its first added device must not
	 * grow it (a realloc copying ~34 MB of keys was 66 ms of an add at
	 * 1M devices). Untouched, the room costs no memory. */
	size_t icap = 1024, n = want + want / 16 + 64;

	if (t->holders || t->icap || !want)
		return 0; /* not a fresh table: it grows as it would */
	while (icap < 2 * n)
		icap *= 2;
	t->holders = malloc(sizeof(*t->holders));
	t->index = calloc(icap, sizeof(*t->index));
	t->keys = malloc(n * t->ksz);
	t->voff = malloc(n * sizeof(*t->voff));
	t->vlen = malloc(n * sizeof(*t->vlen));
	/* untrimmed: an upper bound, its untouched pages cost nothing */
	t->vals = malloc(n * (t->vsz ? t->vsz : 1));
	if (!t->holders || !t->index || !t->keys || !t->voff || !t->vlen || !t->vals) {
		free_arrays(t);
		nn_ftab_init(t, t->ksz, t->vsz);
		return -ENOMEM;
	}
	*t->holders = 1;
	t->icap = icap;
	t->ecap = n;
	t->vcap = n * (t->vsz ? t->vsz : 1);
	return 0;
}

/* Length of @val without its trailing zero bytes: eight at a time first (a
 * cell is 392 bytes, mostly zero). */
static size_t trimmed(const void *val, size_t vsz)
{
	const uint8_t *b = val;
	uint64_t w;

	while (vsz >= 8) {
		memcpy(&w, b + vsz - 8, 8);
		if (w)
			break;
		vsz -= 8;
	}
	while (vsz && !b[vsz - 1])
		vsz--;
	return vsz;
}

/* The live values of @t into a new arena of @cap bytes (at least
 * t->vlive), in entry order; the offsets follow. NULL: no memory (nothing
 * changed). */
static uint8_t *packed_vals(struct nn_ftab *t, size_t cap, uint64_t *voff)
{
	uint8_t *v = malloc(cap ? cap : 1);
	uint64_t off = 0;
	size_t i;

	if (!v)
		return NULL;
	for (i = 0; i < t->n; i++) {
		memcpy(v + off, t->vals + t->voff[i], t->vlen[i]);
		voff[i] = off;
		off += t->vlen[i];
	}
	return v;
}

/* Append @len bytes of @val to the arena; its offset in *off. A replaced
 * or deleted value leaves its bytes behind: when they are at least half of
 * what a full arena holds, the arena is packed instead of doubled, so that
 * a table under steady churn (the incremental path's puts into the record,
 * 100 changes a second for days) stays within four times the most live
 * bytes it held (it doubles only when more than half of it is live). */
static int store_val(struct nn_ftab *t, const void *val, size_t len, uint64_t *off)
{
	if (t->vbytes + len > t->vcap) {
		size_t nc = t->vcap ? t->vcap * 2 : 16384;
		uint8_t *v;

		if (t->vbytes - t->vlive >= t->vbytes / 2 && t->vlive + len <= t->vcap / 2) {
			/* packed into the same capacity: the garbage goes, the
			 * arena does not grow */
			v = packed_vals(t, t->vcap, t->voff);
			if (!v)
				return -ENOMEM;
			free(t->vals);
			t->vals = v;
			t->vbytes = t->vlive;
		} else {
			while (nc < t->vbytes + len)
				nc *= 2;
			v = realloc(t->vals, nc);
			if (!v)
				return -ENOMEM;
			t->vals = v;
			t->vcap = nc;
		}
	}
	if (len) /* an all-zero value into a table with no arena yet: vals is NULL */
		memcpy(t->vals + t->vbytes, val, len);
	*off = t->vbytes;
	t->vbytes += len;
	return 0;
}

static void *dup_bytes(const void *p, size_t n)
{
	void *d = malloc(n ? n : 1);

	if (d && n)
		memcpy(d, p, n);
	return d;
}

/* Give @t arrays of its own (it shared them with a copy): exactly sized,
 * the next put grows them. */
static int unshare(struct nn_ftab *t)
{
	struct nn_ftab o = *t;

	t->holders = malloc(sizeof(*t->holders));
	t->index = dup_bytes(o.index, o.icap * sizeof(*o.index));
	t->keys = dup_bytes(o.keys, o.n * o.ksz);
	t->voff = malloc(o.n ? o.n * sizeof(*o.voff) : 1);
	t->vlen = dup_bytes(o.vlen, o.n * sizeof(*o.vlen));
	/* only the live values: the copy's garbage is not ours to keep */
	t->vals = t->voff ? packed_vals(&o, o.vlive, t->voff) : NULL;
	if (!t->holders || !t->index || !t->keys || !t->voff || !t->vlen || !t->vals) {
		free_arrays(t);
		*t = o;
		return -ENOMEM;
	}
	*t->holders = 1;
	t->ecap = o.n;
	t->vbytes = o.vlive;
	t->vcap = o.vlive;
	--*o.holders;
	return 0;
}

int nn_ftab_put(struct nn_ftab *t, const void *key, const void *val)
{
	size_t len = trimmed(val, t->vsz), s, e;
	int err;

	if (!t->holders) {
		t->holders = malloc(sizeof(*t->holders));
		if (!t->holders)
			return -ENOMEM;
		*t->holders = 1;
	} else if (*t->holders > 1) {
		err = unshare(t);
		if (err)
			return err;
	}

	if ((t->n + 1) * 2 > t->icap) {
		err = grow_index(t);
		if (err)
			return err;
	}
	s = slot_of(t, key);
	if (t->index[s]) {
		e = t->index[s] - 1;
	} else {
		if (t->n == t->ecap) {
			err = grow_entries(t);
			if (err)
				return err;
		}
		if (t->n >= UINT32_MAX - 1)
			return -ENOMEM;
		e = t->n;
		memcpy(t->keys + e * t->ksz, key, t->ksz);
	}
	err = store_val(t, val, len, &t->voff[e]);
	if (err)
		return err;
	if (t->index[s])
		t->vlive -= t->vlen[e]; /* the replaced value's bytes */
	t->vlive += len;
	t->vlen[e] = (uint32_t)len;
	if (!t->index[s]) {
		t->index[s] = (uint32_t)e + 1;
		t->n++;
	}
	return 0;
}

int nn_ftab_del(struct nn_ftab *t, const void *key)
{
	size_t mask = t->icap - 1, s, e, last, i, j, h;
	int err;

	if (!t->icap)
		return 0;
	s = slot_of(t, key);
	if (!t->index[s])
		return 0;
	if (t->holders && *t->holders > 1) {
		/* shared with a copy (the standby record after a sync): ours
		 * first; the slot is the same in our copy of the index */
		err = unshare(t);
		if (err)
			return err;
	}
	e = t->index[s] - 1;
	last = t->n - 1;
	t->vlive -= t->vlen[e];
	/* Backward-shift deletion: every later entry of the probe run that
	 * could live at the hole moves into it, so no search stops early. */
	t->index[s] = 0;
	for (i = s, j = (s + 1) & mask; t->index[j]; j = (j + 1) & mask) {
		h = nn_hash_bytes(t->keys + (t->index[j] - 1) * t->ksz, t->ksz) & mask;
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		t->index[i] = t->index[j];
		t->index[j] = 0;
		i = j;
	}
	if (e != last) {
		/* The last entry moves into the freed number. */
		memcpy(t->keys + e * t->ksz, t->keys + last * t->ksz, t->ksz);
		t->voff[e] = t->voff[last];
		t->vlen[e] = t->vlen[last];
		t->index[slot_of(t, t->keys + e * t->ksz)] = (uint32_t)e + 1;
	}
	t->n--;
	return 0;
}

bool nn_ftab_val_eq(const struct nn_ftab *t, size_t i, const void *val)
{
	size_t len = trimmed(val, t->vsz);

	/* len 0: no bytes, and perhaps no arena (t->vals NULL) */
	return t->vlen[i] == len && (!len || !memcmp(t->vals + t->voff[i], val, len));
}

bool nn_ftab_same_val(const struct nn_ftab *a, size_t i, const struct nn_ftab *b, size_t j)
{
	return a->vlen[i] == b->vlen[j] &&
	       (!a->vlen[i] || !memcmp(a->vals + a->voff[i], b->vals + b->voff[j], a->vlen[i]));
}

void nn_ftab_val(const struct nn_ftab *t, size_t i, void *out)
{
	if (t->vlen[i]) /* an all-zero value stores nothing: maybe no arena */
		memcpy(out, t->vals + t->voff[i], t->vlen[i]);
	memset((uint8_t *)out + t->vlen[i], 0, t->vsz - t->vlen[i]);
}

int nn_ftab_copy(struct nn_ftab *dst, const struct nn_ftab *src)
{
	*dst = *src;
	if (src->holders)
		++*src->holders;
	return 0;
}
