// SPDX-License-Identifier: GPL-2.0
/*
 * dp/ftab.c, the applier's flat record table, against a plain array model:
 * random keys (many colliding in their low bytes), values with and without
 * trailing zeros (stored trimmed, compared exactly), replacements, copies
 * (sharing their arrays until written), lookups of absent keys, deletions
 * (the incremental path's) mixed with puts, the arena bounded under churn.
 * Seeded, so a failure replays.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xorshift.h"

#include "dp/ftab.h"

#define KSZ 20
#define VSZ 40
#define NKEYS 3000

struct model {
	uint8_t key[NKEYS][KSZ];
	uint8_t val[NKEYS][VSZ];
	int present[NKEYS];
};

static uint32_t rng = 12345;

static uint32_t rnd(void)
{
	return nn_xorshift32(&rng);
}

static void random_val(uint8_t *v)
{
	size_t used = rnd() % (VSZ + 1), i;

	memset(v, 0, VSZ);
	for (i = 0; i < used; i++)
		v[i] = (uint8_t)(rnd() % 3); /* zeros inside, too */
}

/* An empty model over NKEYS random keys. */
static void random_keys(struct model *m)
{
	size_t i, k;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < NKEYS; i++)
		for (k = 0; k < KSZ; k++)
			m->key[i][k] = (uint8_t)rnd();
}

static void check_all(const struct nn_ftab *t, const struct model *m)
{
	uint8_t out[VSZ], other[VSZ];
	size_t n = 0, i;

	for (i = 0; i < NKEYS; i++) {
		long e = nn_ftab_find(t, m->key[i]);

		if (!m->present[i]) {
			assert_true(e < 0);
			continue;
		}
		n++;
		assert_true(e >= 0);
		assert_true(nn_ftab_val_eq(t, (size_t)e, m->val[i]));
		nn_ftab_val(t, (size_t)e, out);
		assert_memory_equal(out, m->val[i], VSZ);
		memcpy(other, m->val[i], VSZ);
		other[VSZ - 1] ^= 1; /* differs in the trimmed tail */
		assert_false(nn_ftab_val_eq(t, (size_t)e, other));
	}
	assert_int_equal(t->n, n);
}

static void test_against_model(void **state)
{
	static struct model m;
	struct nn_ftab t, c;
	size_t i, round;

	(void)state;
	memset(&m, 0, sizeof(m));
	for (i = 0; i < NKEYS; i++) {
		size_t k;

		/* Keys differ only in a few bytes: probing gets exercised. */
		for (k = 0; k < KSZ; k++)
			m.key[i][k] = (uint8_t)(k < 16 ? 0 : rnd());
		memcpy(m.key[i], &i, sizeof(i) < 4 ? sizeof(i) : 4);
	}
	nn_ftab_init(&t, KSZ, VSZ);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < NKEYS; i++) {
			size_t k = rnd() % NKEYS;

			random_val(m.val[k]);
			m.present[k] = 1;
			assert_int_equal(nn_ftab_put(&t, m.key[k], m.val[k]), 0);
		}
		check_all(&t, &m);
		assert_int_equal(nn_ftab_copy(&c, &t), 0);
		check_all(&c, &m);
		for (i = 0; i < t.n; i++) {
			long j = nn_ftab_find(&c, nn_ftab_key(&t, i));

			assert_true(j >= 0);
			assert_true(nn_ftab_same_val(&t, i, &c, (size_t)j));
		}
		nn_ftab_free(&c);
	}
	nn_ftab_free(&t);
	assert_true(nn_ftab_find(&t, m.key[0]) < 0);
}

/* A copy shares the arrays until one side is written: writes to either
 * leave the other as it was, whichever is written and freed first. */
static void test_shared_copies(void **state)
{
	static struct model m, before;
	struct nn_ftab t, c, d;
	size_t i, k, round;

	(void)state;
	random_keys(&m);
	nn_ftab_init(&t, KSZ, VSZ);
	for (i = 0; i < NKEYS / 2; i++) {
		random_val(m.val[i]);
		m.present[i] = 1;
		assert_int_equal(nn_ftab_put(&t, m.key[i], m.val[i]), 0);
	}
	for (round = 0; round < 4; round++) {
		struct nn_ftab *w = round & 1 ? &c : &t, *r = round & 1 ? &t : &c;

		before = m;
		assert_int_equal(nn_ftab_copy(&c, &t), 0);
		assert_int_equal(nn_ftab_copy(&d, &c), 0); /* a third holder */
		check_all(&c, &m);
		for (i = 0; i < NKEYS / 4; i++) {
			k = rnd() % NKEYS;
			if (rnd() % 3 == 0) { /* deletion must unshare too */
				m.present[k] = 0;
				assert_int_equal(nn_ftab_del(w, m.key[k]), 0);
				continue;
			}
			random_val(m.val[k]);
			m.present[k] = 1;
			assert_int_equal(nn_ftab_put(w, m.key[k], m.val[k]), 0);
		}
		check_all(w, &m);
		check_all(r, &before);
		check_all(&d, &before);
		nn_ftab_free(round & 2 ? &d : r);
		check_all(round & 2 ? r : &d, &before);
		nn_ftab_free(round & 2 ? r : &d);
		check_all(w, &m);
		if (w != &t) { /* the written copy is the table from now on */
			t = c;
			nn_ftab_init(&c, KSZ, VSZ);
		}
	}
	nn_ftab_free(&t);
}

/* A reserved table fills to its count without moving an array (the
 * applier's want tables), grows as any other past it, and a copy of it,
 * even while empty, shares and frees its arrays as a copy of any table. */
static void test_reserve(void **state)
{
	static struct model m;
	struct nn_ftab t, c;
	uint32_t *index;
	uint8_t *keys, *vals;
	size_t i, n = NKEYS / 2;

	(void)state;
	random_keys(&m);
	nn_ftab_init(&t, KSZ, VSZ);
	assert_int_equal(nn_ftab_reserve(&t, n), 0);
	assert_int_equal(nn_ftab_copy(&c, &t), 0); /* empty, sharing */
	nn_ftab_free(&c);
	index = t.index;
	keys = t.keys;
	vals = t.vals;
	for (i = 0; i < n; i++) {
		random_val(m.val[i]);
		m.present[i] = 1;
		assert_int_equal(nn_ftab_put(&t, m.key[i], m.val[i]), 0);
	}
	assert_ptr_equal(t.index, index);
	assert_ptr_equal(t.keys, keys);
	assert_ptr_equal(t.vals, vals);
	check_all(&t, &m);
	/* Written: a reservation is for fresh tables only. */
	assert_int_equal(nn_ftab_reserve(&t, NKEYS), 0);
	assert_ptr_equal(t.index, index);
	for (; i < NKEYS; i++) {
		random_val(m.val[i]);
		m.present[i] = 1;
		assert_int_equal(nn_ftab_put(&t, m.key[i], m.val[i]), 0);
	}
	check_all(&t, &m);
	assert_int_equal(nn_ftab_copy(&c, &t), 0);
	nn_ftab_free(&t);
	check_all(&c, &m);
	nn_ftab_free(&c);
}

/* A large table reserved to its count (a generation's record) takes a
 * sixteenth more without moving an array: it becomes the live record the
 * incremental path puts into, and the first device added at 1M devices
 * copied ~34 MB of keys (66 ms of the change). Past that room it grows by
 * an eighth, not twice. */
static void test_grow_past_reserve(void **state)
{
	static const uint8_t v[VSZ] = { 1 };
	size_t n = 70000, i, ecap, icap;
	struct nn_ftab t;
	uint8_t k[KSZ] = { 0 };

	(void)state;
	nn_ftab_init(&t, KSZ, VSZ);
	assert_int_equal(nn_ftab_reserve(&t, n), 0);
	ecap = t.ecap;
	icap = t.icap;
	assert_true(ecap >= n + n / 16);
	for (i = 0; i < n + n / 16; i++) {
		memcpy(k, &i, sizeof(i));
		assert_int_equal(nn_ftab_put(&t, k, v), 0);
	}
	assert_int_equal(t.ecap, ecap); /* the changes after a full apply */
	assert_int_equal(t.icap, icap);
	for (; i <= ecap; i++) {
		memcpy(k, &i, sizeof(i));
		assert_int_equal(nn_ftab_put(&t, k, v), 0);
	}
	assert_int_equal(t.n, ecap + 1);
	assert_true(t.ecap > ecap && t.ecap <= ecap + ecap / 8);
	for (i = 0; i <= ecap; i += 997) {
		memcpy(k, &i, sizeof(i));
		assert_true(nn_ftab_find(&t, k) >= 0);
	}
	nn_ftab_free(&t);
}

/* Deletion: backward shift in the index, the last entry renumbered into
 * the hole. Every entry number must still name a present key, and every
 * present key must still be found through its probe run. */
static void test_delete(void **state)
{
	static struct model m;
	struct nn_ftab t;
	size_t i, round, live = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	for (i = 0; i < NKEYS; i++) {
		memset(m.key[i], 0, KSZ);
		memcpy(m.key[i], &i, 4);
		m.key[i][19] = (uint8_t)rnd();
	}
	nn_ftab_init(&t, KSZ, VSZ);
	for (round = 0; round < 40; round++) {
		for (i = 0; i < NKEYS / 4; i++) {
			/* Few keys live at a time: long probe runs, many holes. */
			size_t k = rnd() % (NKEYS / 8);

			if (rnd() % 2) {
				random_val(m.val[k]);
				live += !m.present[k];
				m.present[k] = 1;
				assert_int_equal(nn_ftab_put(&t, m.key[k], m.val[k]), 0);
			} else {
				live -= m.present[k];
				m.present[k] = 0;
				assert_int_equal(nn_ftab_del(&t, m.key[k]), 0);
			}
		}
		check_all(&t, &m);
		assert_int_equal(t.n, live);
		for (i = 0; i < t.n; i++)
			assert_int_equal(nn_ftab_find(&t, nn_ftab_key(&t, i)), (long)i);
	}
	nn_ftab_free(&t);
}

/* Under churn (the incremental path puts a few values into the record per
 * change, for days): replaced and deleted values must not pile up in the
 * arena. It stays within four times the most live bytes it held (it is
 * packed instead of doubled once half of it is garbage), every value
 * intact through the packing; a copy that unshares takes only the live
 * values, and the table it shared with keeps its own. */
static void test_churn_bounded(void **state)
{
	static struct model m, before;
	struct nn_ftab t, c;
	size_t i, k, round, live = 0, most = 0;

	(void)state;
	random_keys(&m);
	nn_ftab_init(&t, KSZ, VSZ);
	for (round = 0; round < 400; round++) {
		for (i = 0; i < NKEYS / 4; i++) {
			k = rnd() % (NKEYS / 2);
			if (rnd() % 8 == 0) {
				m.present[k] = 0;
				assert_int_equal(nn_ftab_del(&t, m.key[k]), 0);
				continue;
			}
			random_val(m.val[k]);
			m.present[k] = 1;
			assert_int_equal(nn_ftab_put(&t, m.key[k], m.val[k]), 0);
		}
		for (live = 0, i = 0; i < t.n; i++)
			live += t.vlen[i];
		assert_int_equal(t.vlive, live);
		most = live > most ? live : most;
		assert_true(t.vbytes <= t.vcap);
		assert_true(t.vcap <= 4 * most + 16384);
		if (round % 50 == 0) {
			check_all(&t, &m);
			/* a copy, written: it packs what it takes */
			before = m;
			assert_int_equal(nn_ftab_copy(&c, &t), 0);
			k = rnd() % (NKEYS / 2);
			random_val(m.val[k]);
			m.present[k] = 1;
			assert_int_equal(nn_ftab_put(&c, m.key[k], m.val[k]), 0);
			check_all(&c, &m);
			check_all(&t, &before);
			assert_true(c.vbytes <= c.vlive + VSZ);
			nn_ftab_free(&t);
			t = c;
		}
	}
	check_all(&t, &m);
	nn_ftab_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_model), cmocka_unit_test(test_shared_copies),
		cmocka_unit_test(test_reserve),	      cmocka_unit_test(test_delete),
		cmocka_unit_test(test_churn_bounded), cmocka_unit_test(test_grow_past_reserve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
