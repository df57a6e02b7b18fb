// SPDX-License-Identifier: GPL-2.0
/*
 * owners.c - see owners.h. Linear probing over 8-byte slots; a slot's home
 * is its 32-bit hash scaled to the capacity (multiply-shift), so the
 * capacity is sized to the policy rather than to a power of two and a
 * slot's home needs no key. Deletion by backward shift as lib/table.c's:
 * no tombstones under churn (a key rotation deletes the old key's entry).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/owners.h"

#define EMPTY UINT32_MAX
#define FIELD_SHIFT 30
#define IDX_MASK (NN_OWNERS_MAX_DEVICES - 1)

/* Which of a device's fields a slot is (the top two bits of who). */
enum { F_ADDR6, F_ADDR4, F_KEY };

/* Grown past 3/4 full: at 1M devices with the reserve of nn_inc_new a
 * lookup that misses reads ~4 slots, one or two cache lines. */
#define LOAD_NUM 3
#define LOAD_DEN 4

static size_t len_of(char kind)
{
	return kind == 'k' ? NN_KEY_LEN : NN_ADDR_LEN;
}

static uint32_t hash_of(char kind, const uint8_t *v)
{
	return (uint32_t)(nn_hash_bytes(v, len_of(kind)) >> 32);
}

static size_t home(size_t cap, uint32_t h)
{
	return (size_t)(((uint64_t)h * cap) >> 32);
}

static const uint8_t *field_of(const struct nn_policy *p, uint32_t who)
{
	const struct nn_device *d = &p->devices[who & IDX_MASK];

	switch (who >> FIELD_SHIFT) {
	case F_ADDR6:
		return d->addr6;
	case F_ADDR4:
		return d->addr4;
	default:
		return d->pubkey;
	}
}

static bool kind_is(uint32_t who, char kind)
{
	return (who >> FIELD_SHIFT == F_KEY) == (kind == 'k');
}

/* @v's slot: the one holding it (*found), else the empty slot ending its
 * run. The table is never full (LOAD_NUM / LOAD_DEN). */
static size_t find(const struct inc_owners *o, const struct nn_policy *p, char kind,
		   const uint8_t *v, uint32_t h, bool *found)
{
	size_t i = home(o->cap, h);

	for (;;) {
		const struct inc_oslot *e = &o->s[i];

		if (e->who == EMPTY) {
			*found = false;
			return i;
		}
		if (e->h == h && kind_is(e->who, kind) &&
		    !memcmp(field_of(p, e->who), v, len_of(kind))) {
			*found = true;
			return i;
		}
		if (++i == o->cap)
			i = 0;
	}
}

static size_t other_key(uint8_t *k, char kind, const uint8_t *v)
{
	k[0] = (uint8_t)kind;
	memcpy(k + 1, v, len_of(kind));
	return len_of(kind) + 1;
}

/* A whole new slot array: the slots are moved by their stored hashes, no
 * device is read. In slot order the homes ascend (multiply-shift keeps
 * the hash's order), so the new array is written nearly in order. */
static int resize(struct inc_owners *o, size_t ncap)
{
	struct inc_oslot *ns;
	size_t i, j;

	if (ncap > UINT32_MAX || ncap <= o->n)
		return -E2BIG;
	ns = malloc(ncap * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	memset(ns, 0xff, ncap * sizeof(*ns));
	for (i = 0; i < o->cap; i++) {
		if (o->s[i].who == EMPTY)
			continue;
		for (j = home(ncap, o->s[i].h); ns[j].who != EMPTY;)
			if (++j == ncap)
				j = 0;
		ns[j] = o->s[i];
	}
	free(o->s);
	o->s = ns;
	o->cap = ncap;
	return 0;
}

int nn_owners_init(struct inc_owners *o, size_t entries)
{
	memset(o, 0, sizeof(*o));
	nn_table_init(&o->other);
	return resize(o, entries / LOAD_NUM * LOAD_DEN + 64);
}

void nn_owners_free(struct inc_owners *o)
{
	free(o->s);
	nn_table_free(&o->other);
	memset(o, 0, sizeof(*o));
}

uint32_t nn_owners_get(const struct inc_owners *o, const struct nn_policy *p, char kind,
		       const uint8_t *v)
{
	uint8_t k[1 + NN_KEY_LEN];
	bool found;
	size_t i = find(o, p, kind, v, hash_of(kind, v), &found);

	if (found)
		return o->s[i].who & IDX_MASK;
	if (o->other.n && nn_table_get(&o->other, k, other_key(k, kind, v)))
		return INC_OTHER;
	return INC_NONE;
}

static size_t dist(size_t cap, size_t from, size_t to)
{
	return to >= from ? to - from : to + cap - from;
}

/* Empty slot @i, closing the hole: an entry later in the run moves into it
 * unless its home lies in (i, j] (a lookup from there would no longer pass
 * the hole); the run ends at the first empty slot. */
static void del_at(struct inc_owners *o, size_t i)
{
	size_t j = i;

	for (;;) {
		if (++j == o->cap)
			j = 0;
		if (o->s[j].who == EMPTY)
			break;
		if (dist(o->cap, home(o->cap, o->s[j].h), j) < dist(o->cap, i, j))
			continue;
		o->s[i] = o->s[j];
		o->shifted++;
		i = j;
	}
	o->s[i].who = EMPTY;
	o->s[i].h = EMPTY;
	o->n--;
}

/* Device @who's slot word for @v: which of its fields holds @v. */
static int who_of(const struct nn_policy *p, char kind, const uint8_t *v, uint32_t who,
		  uint32_t *code)
{
	const struct nn_device *d;

	if (who >= NN_OWNERS_MAX_DEVICES)
		return -E2BIG;
	if (who >= p->n_devices)
		return -EINVAL;
	d = &p->devices[who];
	if (kind == 'k' && !memcmp(d->pubkey, v, NN_KEY_LEN))
		*code = who | (uint32_t)F_KEY << FIELD_SHIFT;
	else if (kind == 'a' && !memcmp(d->addr6, v, NN_ADDR_LEN))
		*code = who | (uint32_t)F_ADDR6 << FIELD_SHIFT;
	else if (kind == 'a' && d->has_addr4 && !memcmp(d->addr4, v, NN_ADDR_LEN))
		*code = who | (uint32_t)F_ADDR4 << FIELD_SHIFT;
	else
		return -EINVAL;
	return 0;
}

int nn_owners_put(struct inc_owners *o, const struct nn_policy *p, char kind, const uint8_t *v,
		  uint32_t who)
{
	uint8_t k[1 + NN_KEY_LEN];
	size_t kl = other_key(k, kind, v), i;
	uint32_t h = hash_of(kind, v), code;
	bool found;
	int err;

	if (who == INC_NONE || who == INC_OTHER) {
		i = find(o, p, kind, v, h, &found);
		if (found)
			del_at(o, i);
		if (who == INC_NONE) {
			nn_table_del(&o->other, k, kl);
			return 0;
		}
		return nn_table_put(&o->other, k, kl, "", 0);
	}
	err = who_of(p, kind, v, who, &code);
	if (err)
		return err;
	if ((o->n + 1) * LOAD_DEN > o->cap * LOAD_NUM) {
		err = resize(o, o->cap * 2);
		if (err)
			return err;
	}
	if (o->other.n)
		nn_table_del(&o->other, k, kl);
	i = find(o, p, kind, v, h, &found);
	o->s[i].h = h;
	o->s[i].who = code;
	o->n += !found;
	return 0;
}

int nn_owners_check(const struct inc_owners *o, const struct nn_policy *p, size_t n_fields,
		    char *why, size_t wl)
{
	size_t i, j, n = 0;

	for (i = 0; i < o->cap; i++) {
		uint32_t who = o->s[i].who, d = who & IDX_MASK, f = who >> FIELD_SHIFT;
		char kind = f == F_KEY ? 'k' : 'a';

		if (who == EMPTY)
			continue;
		n++;
		if (d >= p->n_devices || f > F_KEY || (f == F_ADDR4 && !p->devices[d].has_addr4)) {
			snprintf(why, wl, "owners slot %zu: device %u field %u of %zu devices", i,
				 d, f, p->n_devices);
			return -EINVAL;
		}
		if (o->s[i].h != hash_of(kind, field_of(p, who))) {
			snprintf(why, wl,
				 "owners slot %zu: device %s field %u does not hold the key hashed",
				 i, p->devices[d].id, f);
			return -EINVAL;
		}
		for (j = home(o->cap, o->s[i].h); j != i; j = j + 1 == o->cap ? 0 : j + 1)
			if (o->s[j].who == EMPTY) {
				snprintf(why, wl,
					 "owners slot %zu: device %s field %u past an empty slot "
					 "%zu from its home",
					 i, p->devices[d].id, f, j);
				return -EINVAL;
			}
	}
	if (n != o->n || n != n_fields) {
		snprintf(why, wl, "owners: %zu slots used, %zu counted, %zu device fields", n, o->n,
			 n_fields);
		return -EINVAL;
	}
	for (i = 0; i < o->other.cap; i++) {
		const struct nn_tentry *e = &o->other.e[i];
		bool found;

		if (!e->used)
			continue;
		find(o, p, (char)((uint8_t *)e->key)[0], (uint8_t *)e->key + 1,
		     hash_of((char)((uint8_t *)e->key)[0], (uint8_t *)e->key + 1), &found);
		if (found) {
			snprintf(why, wl, "owners: a key of another owner is also a device's");
			return -EINVAL;
		}
	}
	return 0;
}
