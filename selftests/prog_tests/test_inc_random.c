// SPDX-License-Identifier: GPL-2.0
/*
 * The incremental path for device deltas (compile/delta.h, nn_apply_patch)
 * against the full path, on the real maps: random sequences of device
 * deltas (revoke/restore, add/delete, key rotation, routing preference,
 * addresses and devices moving, plus invalid ones: duplicate address or key,
 * unknown user, bad key, bad state) over examples/assignments.json and a
 * synthetic ~1k-device policy built from it. Each delta goes through the
 * fast path when it accepts it, else through a full parse and apply. After
 * EVERY step the oracle is a from-scratch parse and compile of the same
 * document: the live half of every policy map must equal its compile
 * (classes compared by what they are -- network and rule list -- not by
 * number; counter slots by the names map), the validation messages kept
 * from the last full apply must equal the full snapshot's, the patched
 * policy must hold the same devices and rule lists, and the applier's
 * record must equal the maps.
 *
 *   NN_SEED=N   replay a run (the seed is printed first, "# seed=N")
 *   NN_INC_STEPS=N   steps per policy (default 300 / 150)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "compile/delta.h"
#include "cp/client.h"
#include "dp/apply.h"
#include "dp/batch.h"
#include "dptest.h"
#include "lib/base64.h"
#include "lib/table.h"
#include "mapcanon.h"
#include "model_fixture.h"
#include "xorshift.h"

static uint32_t seed;
static size_t steps_ex = 300, steps_big = 150;

struct run {
	struct dpt t;
	json_t *doc;
	struct nn_inc *inc;
	struct nn_errlist held; /* messages of the last full apply */
	uint32_t rng;
	uint32_t fresh; /* counter for new ids, addresses, keys */
	size_t fast, full, kept_old, step;
	bool small_journal; /* the halves differ by at most the last patch */
};

static uint32_t rnd(struct run *r, uint32_t n)
{
	return n ? nn_xorshift32(&r->rng) % n : 0;
}

/* ---- the full path ---- */

/* @doc as the daemon would read it: written out, then parsed. */
static struct nn_policy *parse(const json_t *doc, struct nn_errlist *errs, int *err)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	struct nn_policy *p = NULL;

	assert_non_null(text);
	*err = nn_policy_parse(text, strlen(text), "gw-fra-1", NULL, &p, errs);
	free(text);
	return p;
}

/* Parse and apply @doc in full; the incremental state is rebuilt from it.
 * false when the snapshot is rejected whole (nothing changes then). */
static bool full_apply(struct run *r, json_t *doc)
{
	struct nn_errlist errs = { 0 };
	struct nn_apply_kept kept = {};
	struct nn_apply_result res;
	struct nn_slot_plan none = {};
	struct nn_policy *p;
	int err;

	p = parse(doc, &errs, &err);
	if (err) {
		nn_errlist_free(&errs);
		return false;
	}
	assert_int_equal(nn_apply_keep(r->t.dp, p, &res, &errs, &kept), NN_APPLY_APPLIED);
	nn_inc_free(r->inc);
	r->inc = nn_inc_new(p, kept.cs, &kept.slots, kept.slot_cap, kept.seq, doc, NULL);
	assert_non_null(r->inc);
	nn_slots_free(&kept.slots, &none);
	nn_errlist_free(&r->held);
	r->held = errs;
	json_decref(r->doc);
	r->doc = json_incref(doc);
	return true;
}

static void check_step(struct run *r)
{
	struct nn_errlist errs = { 0 };
	struct nn_compiled c;
	struct nn_compile_state *cs = NULL;
	struct nn_slots slots = {};
	struct canon cn = {};
	struct ents got = {}, want = {};
	struct nn_policy *p;
	size_t i, differ = 99, n_addrs;
	long m;
	int err;

	p = parse(r->doc, &errs, &err);
	assert_int_equal(err, 0);
	/* The messages: the fast path keeps those of the last full apply. */
	if (errs.n != r->held.n)
		fail_msg("step %zu: %zu messages kept, the full snapshot has %zu (seed=%u)",
			 r->step, r->held.n, errs.n, seed);
	for (i = 0; i < errs.n; i++)
		assert_string_equal(errs.msgs[i], r->held.msgs[i]);
	mapcanon_same_policy(nn_inc_policy(r->inc), p);

	mapcanon_slots(r->t.dp, p, &slots);
	assert_int_equal(nn_compile_keep(p, &slots, NULL, &c, &errs, &cs), 0);
	nn_table_init(&cn.sigs);
	mapcanon_compiled(&c, cs, &cn, &want);
	mapcanon_live(r->t.dp, nn_inc_compile_state(r->inc), &cn, &got);
	if (!mapcanon_equal(&got, &want))
		fail_msg("step %zu: the live maps differ from a compile from scratch (seed=%u)",
			 r->step, seed);
	assert_int_equal(nn_apply_check(r->t.dp, &differ), 0);
	assert_int_equal(differ, 0);
	/* The source filter follows every patch and apply: stamped for the
	 * live epoch, and no live address "surely absent". */
	if ((m = dpt_srcf_missing(&r->t, &n_addrs)) != 0)
		fail_msg("step %zu: the live source filter %s (%ld of %zu keys missing, "
			 "seed=%u)",
			 r->step, m < 0 ? "is not stamped for the live epoch" : "misses keys", m,
			 n_addrs, seed);

	free(got.v);
	free(want.v);
	nn_table_free(&cn.sigs);
	nn_compiled_free(&c);
	nn_compile_state_free(cs);
	free(slots.dev);
	free(slots.node);
	free(slots.rule);
	nn_errlist_free(&errs);
	nn_policy_free(p);
}

/* ---- random deltas ---- */

struct where {
	json_t *tenant, *net;
	size_t dev; /* index in net.devices */
};

/* A random network, and a random device of it (dev = SIZE_MAX: none). */
static struct where pick(struct run *r)
{
	json_t *ts = json_object_get(r->doc, "tenants"), *t, *n;
	struct where w = {};
	size_t nd;

	t = json_array_get(ts, rnd(r, (uint32_t)json_array_size(ts)));
	n = json_array_get(json_object_get(t, "networks"),
			   rnd(r, (uint32_t)json_array_size(json_object_get(t, "networks"))));
	w.tenant = t;
	w.net = n;
	nd = json_array_size(json_object_get(n, "devices"));
	w.dev = nd ? rnd(r, (uint32_t)nd) : SIZE_MAX;
	return w;
}

static json_t *dev_of(const struct where *w)
{
	return json_array_get(json_object_get(w->net, "devices"), w->dev);
}

static json_t *change(const struct where *w, const char *op, const char *id, json_t *value)
{
	json_t *c =
		json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", op, "kind", "device", "id", id,
			  "tenant_id", json_string_value(json_object_get(w->tenant, "tenant_id")),
			  "network_id", json_string_value(json_object_get(w->net, "network_id")));

	if (!c)
		fail_msg("change %s %s: no ids", op, id ? id : "(null)");
	if (value)
		json_object_set_new(c, "value", value);
	return c;
}

static json_t *fresh_key(struct run *r)
{
	uint8_t k[NN_KEY_LEN] = { 0x1c, 0x0d };
	char b[NN_KEY_B64_SIZE];

	r->fresh++;
	memcpy(k + 4, &r->fresh, sizeof(r->fresh));
	memcpy(k + 8, &seed, sizeof(seed));
	nn_key_to_base64(k, b);
	return json_string(b);
}

/* A new address: in one of a few /64s (some covered by ACL prefixes, some
 * not), rarely another device's (a collision). */
static json_t *fresh_addr(struct run *r, bool v4)
{
	static const char *const v6net[] = { "fd7a:6e61:6e61:10", "fd7a:6e61:6e61:11",
					     "fd7a:6e61:6e61:20", "fd7a:6e61:6e61:12" };
	char a[64];

	r->fresh++;
	if (v4)
		snprintf(a, sizeof(a), "100.%u.%u.%u", 96 + rnd(r, 3), 16 + rnd(r, 20),
			 2 + (r->fresh % 250));
	else
		snprintf(a, sizeof(a), "%s::%x:%x", v6net[rnd(r, 4)], 0x7000 + (r->fresh >> 16),
			 r->fresh & 0xffff);
	return json_string(a);
}

static json_t *routing(struct run *r)
{
	switch (rnd(r, 6)) {
	case 0:
		return json_null();
	case 1:
		return json_pack("{s:s}", "traffic_mode", "full_tunnel");
	case 2:
		return json_pack("{s:s}", "traffic_mode", "vpn_only");
	case 3:
		return json_pack("{s:s, s:s}", "routing_mode", "manual", "egress_device",
				 "gw-fra-1");
	case 4: /* a routing message: not a gateway of the network */
		return json_pack("{s:s, s:s, s:s}", "traffic_mode", "full_tunnel", "routing_mode",
				 "manual", "egress_device", "gw-nowhere");
	default:
		return json_pack("{s:s}", "routing_mode", "auto");
	}
}

static json_t *new_device(struct run *r, const struct where *w, const char *id)
{
	json_t *users = json_object_get(w->net, "users"), *d;
	json_t *u = json_array_get(users, rnd(r, (uint32_t)json_array_size(users)));
	const char *uid = json_string_value(json_object_get(u, "user_id"));

	d = json_pack("{s:s, s:s, s:o, s:o, s:n, s:i, s:s, s:i, s:o}", "device_id", id, "user_id",
		      rnd(r, 12) ? (uid ? uid : "x") : "nobody", "public_key", fresh_key(r),
		      "overlay_ipv6", fresh_addr(r, false), "endpoint", "persistent_keepalive", 25,
		      "state", rnd(r, 5) ? "active" : "disabled", "key_generation", 1,
		      "routing_preference", routing(r));
	assert_non_null(d);
	if (rnd(r, 10) < 7)
		json_object_set_new(d, "overlay_ipv4", fresh_addr(r, true));
	return d;
}

/* Another device's field @f (for collisions), or NULL. */
static json_t *other_field(struct run *r, const char *f)
{
	struct where w = pick(r);

	return w.dev == SIZE_MAX ? NULL : json_object_get(dev_of(&w), f);
}

static json_t *gen_delta(struct run *r)
{
	json_t *ch = json_array(), *d, *v;
	struct where w = pick(r), w2;
	char id[64];
	const char *did;
	uint32_t op = rnd(r, 100);

	assert_non_null(ch);
	if (w.dev == SIZE_MAX)
		op = 50; /* an empty network: add */
	did = w.dev == SIZE_MAX ? NULL :
				  json_string_value(json_object_get(dev_of(&w), "device_id"));
	if (w.dev != SIZE_MAX && !did) {
		char *x = json_dumps(dev_of(&w), 0);

		fail_msg("step %zu: device without id: %s", r->step, x);
	}
	if (op < 20) { /* revoke / restore */
		d = json_deep_copy(dev_of(&w));
		v = json_object_get(d, "state");
		json_object_set_new(
			d, "state",
			json_string(json_is_string(v) && !strcmp(json_string_value(v), "active") ?
					    "disabled" :
					    "active"));
		if (!rnd(r, 20)) /* invalid */
			json_object_set_new(d, "state", json_string("sleepy"));
		json_array_append_new(ch, change(&w, "upsert", did, d));
	} else if (op < 32) { /* key rotation */
		d = json_deep_copy(dev_of(&w));
		v = rnd(r, 10) ? NULL : other_field(r, "public_key");
		json_object_set_new(d, "public_key", v ? json_incref(v) : fresh_key(r));
		if (!rnd(r, 15))
			json_object_set_new(d, "public_key", json_string("bm90IGEga2V5"));
		json_object_set_new(d, "key_generation", json_integer(r->fresh));
		json_array_append_new(ch, change(&w, "upsert", did, d));
	} else if (op < 42) { /* routing preference */
		d = json_deep_copy(dev_of(&w));
		json_object_set_new(d, "routing_preference", routing(r));
		json_array_append_new(ch, change(&w, "upsert", did, d));
	} else if (op < 62) { /* add */
		snprintf(id, sizeof(id), "new-%u-%u", seed % 1000, ++r->fresh);
		d = new_device(r, &w, id);
		if (!rnd(r, 10) && (v = other_field(r, "overlay_ipv6")))
			json_object_set(d, "overlay_ipv6", v);
		json_array_append_new(ch, change(&w, "upsert", id, d));
		if (!rnd(r, 6)) {
			/* A twin in the same delta: the same new address. */
			v = json_object_get(d, "overlay_ipv6");
			snprintf(id, sizeof(id), "tw-%u-%u", seed % 1000, ++r->fresh);
			d = new_device(r, &w, id);
			json_object_set(d, "overlay_ipv6", v);
			json_array_append_new(ch, change(&w, "upsert", id, d));
		}
	} else if (op < 77) { /* delete */
		json_array_append_new(ch, change(&w, "delete", did, NULL));
	} else if (op < 84) { /* address moves to a new device */
		v = json_object_get(dev_of(&w), "overlay_ipv6");
		snprintf(id, sizeof(id), "mv-%u-%u", seed % 1000, ++r->fresh);
		w2 = pick(r);
		d = new_device(r, &w2, id);
		json_object_set(d, "overlay_ipv6", v);
		json_array_append_new(ch, change(&w, "delete", did, NULL));
		json_array_append_new(ch, change(&w2, "upsert", id, d));
	} else if (op < 90) { /* the device moves to another network */
		w2 = pick(r);
		d = new_device(r, &w2, did);
		json_array_append_new(ch, change(&w, "delete", did, NULL));
		if (w2.net != w.net)
			json_array_append_new(ch, change(&w2, "upsert", did, d));
		else
			json_decref(d);
	} else { /* two changes at once */
		d = json_deep_copy(dev_of(&w));
		json_object_set_new(d, "state", json_string("disabled"));
		json_array_append_new(ch, change(&w, "upsert", did, d));
		w2 = pick(r);
		if (w2.dev != SIZE_MAX && dev_of(&w2) != dev_of(&w)) {
			d = json_deep_copy(dev_of(&w2));
			json_object_set_new(d, "persistent_keepalive", json_integer(rnd(r, 60)));
			json_array_append_new(
				ch, change(&w2, "upsert",
					   json_string_value(json_object_get(d, "device_id")), d));
		}
	}
	return ch;
}

/* A full apply of @next without keeping its state (the daemon's drift
 * re-apply, say) between the kept state and a patch: a flip renumbers
 * classes, so the patch must be refused, and the full path then rebuilds.
 * true when that happened (false: no flip, nothing checked). */
static bool stale_patch(struct run *r, json_t *next, const json_t *changes, uint64_t gen)
{
	struct nn_errlist errs = { 0 };
	struct nn_apply_result res, pres;
	struct nn_dev_patch pt;
	struct nn_policy *p;
	char why[256];
	int err;

	p = parse(next, &errs, &err);
	if (err) {
		nn_errlist_free(&errs);
		return false;
	}
	assert_int_equal(nn_apply(r->t.dp, p, &res, &errs), NN_APPLY_APPLIED);
	nn_policy_free(p);
	if (!res.flipped) {
		nn_errlist_free(&errs);
		return false;
	}
	if (!nn_inc_delta(r->inc, changes, gen, &pt, why, sizeof(why))) {
		assert_int_equal(nn_apply_patch(r->t.dp, &pt, &pres, &errs), NN_APPLY_FAILED);
		assert_int_equal(pres.error, -EAGAIN);
		nn_dev_patch_free(&pt);
	}
	nn_errlist_free(&errs);
	assert_true(full_apply(r, next));
	return true;
}

static void step(struct run *r)
{
	json_t *changes = gen_delta(r), *delta, *next;
	json_int_t gen = json_integer_value(json_object_get(r->doc, "generation"));
	struct nn_errlist errs = { 0 };
	struct nn_apply_result res;
	struct nn_dev_patch pt;
	char why[256];
	int err;

	delta = json_pack("{s:I, s:I, s:b, s:O}", "generation", gen + 1, "since", gen, "full", 0,
			  "changes", changes);
	next = json_deep_copy(r->doc);
	assert_non_null(delta);
	assert_non_null(next);
	if (nn_cp_delta_apply(next, delta, NULL, why, sizeof(why))) {
		/* e.g. a delete of what a move just deleted: not a delta the
		 * control plane sends. */
		goto out;
	}
	if (!rnd(r, 25) && stale_patch(r, next, changes, (uint64_t)gen + 1)) {
		/* Another full apply came first: the patch was refused. */
		r->small_journal = false;
		r->full++;
		check_step(r);
		goto out;
	}
	err = nn_inc_delta(r->inc, changes, (uint64_t)gen + 1, &pt, why, sizeof(why));
	if (!err) {
		assert_int_equal(nn_apply_patch(r->t.dp, &pt, &res, &errs), NN_APPLY_APPLIED);
		/* A device change writes its own entries and the last one's
		 * (after a full apply, the first patch also writes that
		 * apply's diff: the journal it builds from the record). */
		if (r->small_journal && res.writes > 16)
			fail_msg("step %zu: %zu map writes for a device change (seed=%u)", r->step,
				 res.writes, seed);
		r->small_journal = true;
		nn_dev_patch_free(&pt);
		json_decref(r->doc);
		r->doc = json_incref(next);
		r->fast++;
	} else {
		assert_int_equal(err, -EAGAIN);
		if (full_apply(r, next)) {
			r->full++;
			r->small_journal = false;
		} else
			r->kept_old++; /* rejected whole: the old generation stays */
	}
	check_step(r);
out:
	r->step++;
	nn_errlist_free(&errs);
	json_decref(next);
	json_decref(delta);
	json_decref(changes);
}

/* ---- the policies ---- */

static json_t *example(void)
{
	json_error_t je;
	json_t *d = json_loads(mf_json, 0, &je);

	assert_non_null(d);
	return d;
}

/* The example with ~1000 more devices: per network, users in its groups
 * and in new ones, two devices each in two /64s, and rules naming users,
 * groups and an overlay prefix, so devices spread over several classes. */
static json_t *synthetic(void)
{
	json_t *d = example(), *t, *n;
	size_t i, j, k;
	char s[96], a[64];
	uint32_t key = 0;

	json_array_foreach(json_object_get(d, "tenants"), i, t)
	{
		json_array_foreach(json_object_get(t, "networks"), j, n)
		{
			json_t *users = json_object_get(n, "users");
			json_t *devs = json_object_get(n, "devices");
			json_t *g0 = json_array_get(
				json_object_get(json_array_get(users, 0), "groups"), 0);
			json_t *named = json_array();
			uint32_t sub = i ? 0x20 : 0x10;

			for (k = 0; k < 250; k++) {
				uint8_t kb[NN_KEY_LEN] = { 0x5e, (uint8_t)i, (uint8_t)j };
				char b64[NN_KEY_B64_SIZE];

				snprintf(s, sizeof(s), "u%zu-%zu", i, k);
				json_array_append_new(users,
						      json_pack("{s:s, s:[O,s], s:n}", "user_id", s,
								"groups", g0, k % 3 ? "g-a" : "g-b",
								"routing_preference"));
				if (k % 7 == 0)
					json_array_append_new(named, json_string(s));
				for (int m = 0; m < 2; m++) {
					char id[64];

					key++;
					memcpy(kb + 4, &key, sizeof(key));
					nn_key_to_base64(kb, b64);
					snprintf(id, sizeof(id), "d%zu-%zu-%d", i, k, m);
					snprintf(a, sizeof(a), "fd7a:6e61:6e61:%x::%zx:%d",
						 sub + (unsigned int)m, 0x100 + k, m);
					json_array_append_new(
						devs,
						json_pack("{s:s, s:s, s:s, s:s, s:n, s:s, s:i}",
							  "device_id", id, "user_id", s,
							  "public_key", b64, "overlay_ipv6", a,
							  "endpoint", "state",
							  k % 50 ? "active" : "disabled",
							  "key_generation", 1));
				}
			}
			snprintf(s, sizeof(s), "fd7a:6e61:6e61:%x::/64", sub);
			json_array_append_new(
				json_object_get(n, "acl"),
				json_pack("{s:s, s:s, s:{s:o}, s:{s:[s]}, s:s, s:[s]}", "rule_id",
					  "users-ssh", "action", "allow", "src", "users", named,
					  "dst", "prefixes", s, "proto", "tcp", "ports", "22"));
			json_array_append_new(json_object_get(n, "acl"),
					      json_pack("{s:s, s:s, s:{s:[s]}, s:s, s:s}",
							"rule_id", "gb-any", "action", "allow",
							"src", "groups", "g-b", "dst", "*", "proto",
							"udp"));
		}
	}
	return d;
}

static void run_policy(json_t *doc, size_t steps, const char *what)
{
	struct run r = { .rng = seed ? seed : 1 };
	size_t i;

	assert_int_equal(dpt_open(&r.t, NN_FRAMING_L3), 0);
	assert_true(full_apply(&r, doc));
	check_step(&r);
	for (i = 0; i < steps; i++) {
		step(&r);
		/* Now and then the idle standby sync, as the daemon's timer. */
		if (!rnd(&r, 10)) {
			size_t w;

			assert_int_equal(nn_apply_sync_standby(r.t.dp, &w), 0);
			r.small_journal = true;
		}
	}
	printf("# %s: %zu steps: %zu fast, %zu full, %zu rejected whole\n", what, steps, r.fast,
	       r.full, r.kept_old);
	/* The fast path must have carried a real share, the fallback too. */
	assert_true(r.fast >= steps / 5);
	assert_true(r.full >= steps / 20);
	nn_inc_free(r.inc);
	nn_errlist_free(&r.held);
	json_decref(r.doc);
	json_decref(doc);
	dpt_close(&r.t);
}

static void test_inc_example(void **state)
{
	(void)state;
	run_policy(example(), steps_ex, "example");
}

static void test_inc_synthetic(void **state)
{
	(void)state;
	run_policy(synthetic(), steps_big, "synthetic");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inc_example),
		cmocka_unit_test(test_inc_synthetic),
	};
	const char *s = getenv("NN_SEED"), *n = getenv("NN_INC_STEPS");

	seed = s ? (uint32_t)strtoul(s, NULL, 0) : (uint32_t)(time(NULL) ^ (getpid() << 8));
	if (!seed)
		seed = 1;
	if (n)
		steps_ex = steps_big = strtoul(n, NULL, 0);
	printf("# seed=%u\n", seed);
	return cmocka_run_group_tests(tests, mf_group_setup, mf_group_teardown);
}
