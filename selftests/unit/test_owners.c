// SPDX-License-Identifier: GPL-2.0
/*
 * compile/owners.c (the kept state's address and key owners, keys read
 * from the policy's devices) against a plain array model, driven as the
 * incremental path drives it: a device changed (its entries given up while
 * it still holds them, the new ones put once it does), a device deleted
 * (the last one copied into its place and renumbered, delta_apply.c's
 * apply_delete), a device added, and other owners (nodes, dropped copies)
 * put and deleted. Addresses and keys come from small pools so that a
 * freed one is soon taken again; the index starts small, so it grows and
 * its probe runs are long and wrap around its end. After every operation
 * every pool address and key is looked up against the model and
 * nn_owners_check() passes (hashes, reachability, counts). Seeded
 * (NN_SEED).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xorshift.h"

#include "compile/owners.h"

#define NDEV_MAX 48
#define NADDR 300 /* 0..199 IPv6, 200..299 IPv4-mapped */
#define NKEY 200

static uint32_t rng = 2463534242u;

/* The model: who owns address a / key k (INC_NONE, INC_OTHER, a device). */
static uint32_t own_a[NADDR], own_k[NKEY];
/* What each device holds (pool numbers), alongside p.devices. */
static struct {
	uint32_t a6, a4, k;
} held[NDEV_MAX];

static struct nn_device devs[NDEV_MAX];
static struct nn_policy pol = { .devices = devs };

static void addr_of(uint32_t a, uint8_t *v)
{
	memset(v, 0, NN_ADDR_LEN);
	if (a < 200) {
		v[0] = 0xfd;
		v[14] = (uint8_t)(a >> 8);
		v[15] = (uint8_t)a;
	} else {
		v[10] = v[11] = 0xff;
		v[12] = 10;
		v[15] = (uint8_t)(a - 200);
	}
}

static void key_of(uint32_t k, uint8_t *v)
{
	memset(v, 0x5a, NN_KEY_LEN);
	memcpy(v, &k, sizeof(k));
}

static uint32_t rnd(uint32_t n)
{
	return nn_xorshift32(&rng) % n;
}

/* A pool member nobody owns, from [lo, lo + n). */
static uint32_t free_one(const uint32_t *own, uint32_t lo, uint32_t n)
{
	uint32_t x;

	do
		x = lo + rnd(n);
	while (own[x] != INC_NONE);
	return x;
}

static void put_a(struct inc_owners *o, uint32_t a, uint32_t who)
{
	uint8_t v[NN_ADDR_LEN];

	addr_of(a, v);
	assert_int_equal(nn_owners_put(o, &pol, 'a', v, who), 0);
	own_a[a] = who;
}

static void put_k(struct inc_owners *o, uint32_t k, uint32_t who)
{
	uint8_t v[NN_KEY_LEN];

	key_of(k, v);
	assert_int_equal(nn_owners_put(o, &pol, 'k', v, who), 0);
	own_k[k] = who;
}

/* Device @d's entries to @who (INC_NONE: given up), as own_dev does. */
static void own_dev(struct inc_owners *o, uint32_t d, uint32_t who)
{
	put_a(o, held[d].a6, who);
	if (devs[d].has_addr4)
		put_a(o, held[d].a4, who);
	put_k(o, held[d].k, who);
}

/* Device @d takes fresh addresses and a key (in the policy first). */
static void fill_dev(uint32_t d)
{
	held[d].a6 = free_one(own_a, 0, 200);
	held[d].k = free_one(own_k, 0, NKEY);
	addr_of(held[d].a6, devs[d].addr6);
	key_of(held[d].k, devs[d].pubkey);
	devs[d].has_addr4 = rnd(3) != 0;
	if (devs[d].has_addr4) {
		held[d].a4 = free_one(own_a, 200, NADDR - 200);
		addr_of(held[d].a4, devs[d].addr4);
	}
	snprintf(devs[d].id, sizeof(devs[d].id), "dev-%u", d);
}

static void check(const struct inc_owners *o, size_t op)
{
	uint8_t v[NN_KEY_LEN];
	char why[256];
	size_t i, fields = 0;

	for (i = 0; i < NADDR; i++) {
		addr_of((uint32_t)i, v);
		if (nn_owners_get(o, &pol, 'a', v) != own_a[i])
			fail_msg("op %zu: address %zu owned by %u, the model says %u", op, i,
				 nn_owners_get(o, &pol, 'a', v), own_a[i]);
	}
	for (i = 0; i < NKEY; i++) {
		key_of((uint32_t)i, v);
		if (nn_owners_get(o, &pol, 'k', v) != own_k[i])
			fail_msg("op %zu: key %zu owned by %u, the model says %u", op, i,
				 nn_owners_get(o, &pol, 'k', v), own_k[i]);
	}
	for (i = 0; i < pol.n_devices; i++)
		fields += 2 + devs[i].has_addr4;
	if (nn_owners_check(o, &pol, fields, why, sizeof(why)))
		fail_msg("op %zu: %s", op, why);
}

static void test_against_model(void **state)
{
	const char *s = getenv("NN_SEED");
	size_t op, cap0, moves = 0, others = 0;
	struct inc_owners o;
	uint32_t d, last, x;

	(void)state;
	if (s)
		rng = (uint32_t)strtoul(s, NULL, 0) ?: rng;
	printf("# seed=%u\n", rng);
	for (x = 0; x < NADDR; x++)
		own_a[x] = INC_NONE;
	for (x = 0; x < NKEY; x++)
		own_k[x] = INC_NONE;
	assert_int_equal(nn_owners_init(&o, 0), 0);
	cap0 = o.cap;
	for (op = 0; op < 20000; op++) {
		uint32_t what = rnd(100);

		if (what < 30 && pol.n_devices < NDEV_MAX) {
			d = (uint32_t)pol.n_devices++;
			fill_dev(d);
			own_dev(&o, d, d);
		} else if (what < 55 && pol.n_devices) {
			/* a change: given up while held, then the new ones */
			d = rnd((uint32_t)pol.n_devices);
			own_dev(&o, d, INC_NONE);
			fill_dev(d);
			own_dev(&o, d, d);
		} else if (what < 70 && pol.n_devices) {
			d = rnd((uint32_t)pol.n_devices);
			last = (uint32_t)pol.n_devices - 1;
			own_dev(&o, d, INC_NONE);
			if (d != last) {
				devs[d] = devs[last];
				held[d] = held[last];
				own_dev(&o, d, d);
				moves++;
			}
			pol.n_devices--;
		} else if (what < 85) {
			x = rnd(NADDR);
			if (own_a[x] == INC_NONE || own_a[x] == INC_OTHER) {
				put_a(&o, x, rnd(2) ? INC_OTHER : INC_NONE);
				others++;
			}
		} else {
			x = rnd(NKEY);
			if (own_k[x] == INC_NONE || own_k[x] == INC_OTHER) {
				put_k(&o, x, rnd(2) ? INC_OTHER : INC_NONE);
				others++;
			}
		}
		check(&o, op);
	}
	printf("# %zu devices, %zu entries in %zu slots (%zu at the start), %zu moved back by "
	       "deletions, %zu devices renumbered, %zu other owners' puts\n",
	       pol.n_devices, o.n, o.cap, cap0, o.shifted, moves, others);
	assert_true(o.cap > cap0 && o.shifted > 1000 && moves > 1000);
	nn_owners_free(&o);
}

/* A put naming a device that does not hold the key is refused, and so is
 * an index the slot cannot hold; nothing changes. */
static void test_put_refused(void **state)
{
	struct nn_device one = { .has_addr4 = false };
	struct nn_policy p = { .devices = &one, .n_devices = 1 };
	struct inc_owners o;
	uint8_t a[NN_ADDR_LEN] = { 0xfd, 1 }, k[NN_KEY_LEN] = { 7 };
	char why[128];

	(void)state;
	memcpy(one.addr6, a, sizeof(a));
	memcpy(one.pubkey, k, sizeof(k));
	assert_int_equal(nn_owners_init(&o, 3), 0);
	assert_int_equal(nn_owners_put(&o, &p, 'a', k, 0), -EINVAL); /* not its address */
	assert_int_equal(nn_owners_put(&o, &p, 'a', a, 1), -EINVAL); /* no device 1 */
	assert_int_equal(nn_owners_put(&o, &p, 'a', a, NN_OWNERS_MAX_DEVICES), -E2BIG);
	assert_int_equal(nn_owners_check(&o, &p, 0, why, sizeof(why)), 0);
	assert_int_equal(nn_owners_put(&o, &p, 'a', a, 0), 0);
	assert_int_equal(nn_owners_put(&o, &p, 'k', k, 0), 0);
	assert_int_equal(nn_owners_get(&o, &p, 'a', a), 0);
	/* the key's bytes are no address: the kinds are apart */
	assert_int_equal(nn_owners_get(&o, &p, 'a', k), INC_NONE);
	assert_int_equal(nn_owners_check(&o, &p, 2, why, sizeof(why)), 0);
	/* the device changes its key without giving it up: check says so */
	one.pubkey[0] ^= 1;
	assert_int_equal(nn_owners_check(&o, &p, 2, why, sizeof(why)), -EINVAL);
	printf("# %s\n", why);
	nn_owners_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_put_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
