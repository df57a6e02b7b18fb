// SPDX-License-Identifier: GPL-2.0
/*
 * The incremental path for device and user deltas (compile/delta.h,
 * nn_apply_patch) against the full path, on the real maps: random sequences
 * of device deltas (revoke/restore, add/delete, key rotation, routing
 * preference, addresses and devices moving, plus invalid ones: duplicate
 * address or key, unknown user, bad key, bad state; devices rules name by
 * id among them) and user deltas (groups, routing preference) over
 * examples/assignments.json and a synthetic ~1k-device policy built from it
 * (selftests/lib/incpol.c). Each delta goes through the
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
 *   NN_INC_TRACE=1   print each delta and the path it took
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
#include "delta_oracle.h"
#include "dp/apply.h"
#include "dp/batch.h"
#include "dp/cache.h"
#include "dptest.h"
#include "lib/base64.h"
#include "lib/table.h"
#include "incpol.h"
#include "mapcanon.h"
#include "model_fixture.h"
#include "xorshift.h"

static uint32_t seed;

/* What a patch writes besides nn_addrs entries: the source filter's
 * entries, the meta, the flip (8 in every seed tried). */
#define PATCH_FIXED_WRITES 8
static size_t steps_ex = 300, steps_big = 150;

struct run {
	struct dpt t;
	json_t *doc;
	struct nn_held *hd; /* the kept state's document (a second reference) */
	struct nn_inc *inc;
	struct nn_errlist held; /* messages of the last full apply */
	uint32_t rng;
	uint32_t fresh; /* counter for new ids, addresses, keys */
	size_t fast, full, kept_old, step;
	size_t named_fast;  /* fast steps changing a device a rule names by id */
	size_t user_fast;   /* fast steps changing a user */
	size_t shifted;	    /* id table entries deletions moved, kept states gone */
	bool fixed;	    /* no full apply slipped in before a patch */
	bool small_journal; /* the halves differ by at most the last patch */
	size_t last_keys;   /* the last patch's nn_addrs keys */
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
	if (r->inc) {
		struct nn_inc_ids ids;

		nn_inc_id_stats(r->inc, &ids);
		r->shifted += ids.shifted;
	}
	nn_inc_free(r->inc);
	nn_held_put(r->hd);
	r->hd = nn_test_held_of(doc);
	assert_non_null(r->hd);
	r->inc = nn_inc_new(p, kept.cs, &kept.slots, kept.slot_cap, kept.seq, r->hd, NULL);
	assert_non_null(r->inc);
	nn_slots_free(&kept.slots, &none);
	nn_errlist_free(&r->held);
	r->held = errs;
	json_decref(r->doc);
	r->doc = json_incref(doc);
	return true;
}

/* After a patch the standby half's record is kept as its difference from
 * the live one (dp/cache.h), at most the patch's keys: never a second whole
 * record (0.2 GB at 1M devices), and a journal that does not grow. */
static void standby_kept_small(struct run *r, const struct nn_dev_patch *pt)
{
	const struct nn_apply_cache *c = r->t.dp->apply_cache;
	uint32_t sb;
	int set;

	assert_non_null(c);
	if (!c->sb.held)
		fail_msg("step %zu: a patch left the standby record whole", r->step);
	sb = NN_SLOT(c->epoch) ^ 1;
	for (set = 0; set < SET_COUNT; set++)
		if (c->have[set][sb].n || c->journal[set].n > pt->n_set + pt->n_del)
			fail_msg("step %zu: map %s: standby record %zu entries, journal %zu "
				 "keys after a patch of %zu",
				 r->step, nn_set_defs[set].name, c->have[set][sb].n,
				 c->journal[set].n, pt->n_set + pt->n_del);
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
	char why[256];
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
	/* what the id tables' deletions left is found (a delete losing
	 * an entry after it would only send later changes to the full
	 * path, which the comparisons below cannot see) */
	if (nn_inc_check_ids(r->inc, why, sizeof(why)))
		fail_msg("step %zu: the id tables: %s (seed=%u)", r->step, why, seed);

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

/* A random device id the ACL of @net names in src.devices or dst.devices
 * (standing or not), or NULL. */
static const char *acl_dev_name(struct run *r, const json_t *net)
{
	static const char *const sides[] = { "src", "dst" };
	const char *names[64];
	size_t n = 0, i, j, k;
	json_t *rule, *v;

	json_array_foreach(json_object_get(net, "acl"), i, rule)
	{
		for (k = 0; k < 2; k++)
			json_array_foreach(
				json_object_get(json_object_get(rule, sides[k]), "devices"), j, v)
			{
				if (json_is_string(v) && n < sizeof(names) / sizeof(*names))
					names[n++] = json_string_value(v);
			}
	}
	return n ? names[rnd(r, (uint32_t)n)] : NULL;
}

/* The index of device @id in @net's devices, SIZE_MAX when absent. */
static size_t dev_index(const json_t *net, const char *id)
{
	json_t *d;
	size_t i;

	json_array_foreach(json_object_get(net, "devices"), i, d)
	{
		const char *x = json_string_value(json_object_get(d, "device_id"));

		if (id && x && !strcmp(x, id))
			return i;
	}
	return SIZE_MAX;
}

/* A random network, and a random device of it (dev = SIZE_MAX: none); a
 * third of the time one its rules name by id, when one stands. */
static struct where pick(struct run *r)
{
	json_t *ts = json_object_get(r->doc, "tenants"), *t, *n;
	struct where w = {};
	size_t nd, named;

	t = json_array_get(ts, rnd(r, (uint32_t)json_array_size(ts)));
	n = json_array_get(json_object_get(t, "networks"),
			   rnd(r, (uint32_t)json_array_size(json_object_get(t, "networks"))));
	w.tenant = t;
	w.net = n;
	nd = json_array_size(json_object_get(n, "devices"));
	w.dev = nd ? rnd(r, (uint32_t)nd) : SIZE_MAX;
	if (!rnd(r, 3) && (named = dev_index(n, acl_dev_name(r, n))) != SIZE_MAX)
		w.dev = named;
	return w;
}

static json_t *dev_of(const struct where *w)
{
	return json_array_get(json_object_get(w->net, "devices"), w->dev);
}

static json_t *change_k(const struct where *w, const char *kind, const char *op, const char *id,
			json_t *value)
{
	json_t *c =
		json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", op, "kind", kind, "id", id,
			  "tenant_id", json_string_value(json_object_get(w->tenant, "tenant_id")),
			  "network_id", json_string_value(json_object_get(w->net, "network_id")));

	if (!c)
		fail_msg("change %s %s: no ids", op, id ? id : "(null)");
	if (value)
		json_object_set_new(c, "value", value);
	return c;
}

static json_t *change(const struct where *w, const char *op, const char *id, json_t *value)
{
	return change_k(w, "device", op, id, value);
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

/* A user of @w's network with other groups (one joined from those the
 * network knows or a new one, one left), sometimes another routing
 * preference, now and then a bad groups list. */
static json_t *user_change(struct run *r, const struct where *w)
{
	static const char *const pool[] = { "eng", "sales", "ops", "g-a", "g-b", "g-new" };
	json_t *users = json_object_get(w->net, "users");
	json_t *u = json_deep_copy(json_array_get(users, rnd(r, (uint32_t)json_array_size(users))));
	json_t *g;

	assert_non_null(u);
	g = json_object_get(u, "groups");
	if (!json_is_array(g)) {
		g = json_array();
		json_object_set_new(u, "groups", g);
	}
	/* A bad group lasts until the user's next change: kept for good, it
	 * would hold the user's devices on the full path for the rest of
	 * the run (the twin policy's only fast network has one user). */
	for (size_t i = json_array_size(g); i-- > 0;)
		if (!json_is_string(json_array_get(g, i)))
			json_array_remove(g, i);
	if (json_array_size(g) && rnd(r, 2))
		json_array_remove(g, rnd(r, (uint32_t)json_array_size(g)));
	if (rnd(r, 3))
		json_array_append_new(g, json_string(pool[rnd(r, 6)]));
	/* g0 of the synthetic policy: the first user's first group */
	if (!rnd(r, 4))
		json_array_append(
			g, json_array_get(json_object_get(json_array_get(users, 0), "groups"), 0));
	if (!rnd(r, 3))
		json_object_set_new(u, "routing_preference", routing(r));
	if (!rnd(r, 25))
		json_object_set_new(u, "groups", json_pack("[i]", 5));
	return change_k(w, "user", "upsert", json_string_value(json_object_get(u, "user_id")), u);
}

static json_t *gen_delta(struct run *r)
{
	json_t *ch = json_array(), *d, *v;
	struct where w = pick(r), w2;
	char id[64];
	const char *did;
	uint32_t op = rnd(r, 100);

	assert_non_null(ch);
	if (!rnd(r, 8) && json_array_size(json_object_get(w.net, "users"))) {
		json_array_append_new(ch, user_change(r, &w));
		return ch;
	}
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
		const char *nm = rnd(r, 4) ? NULL : acl_dev_name(r, w.net);

		/* Sometimes an id a rule names that is not there (deleted, or
		 * a rule of another network's): the rule may come back. */
		if (nm && dev_index(w.net, nm) == SIZE_MAX)
			snprintf(id, sizeof(id), "%s", nm);
		else
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
		bool del = rnd(r, 3) != 0;

		w2 = pick(r);
		d = new_device(r, &w2, did);
		/* A third of the time without the delete: a copy in another
		 * network (every copy dropped), or in its own network the
		 * device anew (other addresses, key, maybe user). */
		if (del)
			json_array_append_new(ch, change(&w, "delete", did, NULL));
		if (w2.net != w.net || !del)
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

/* Does a rule of its network name one of @changes' devices by id? */
static bool names_changed(const json_t *doc, const json_t *changes)
{
	static const char *const sides[] = { "src", "dst" };
	json_t *c, *t, *n, *rule, *v;
	size_t i, j, k, x, y;

	json_array_foreach(changes, i, c)
	{
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *nid = json_string_value(json_object_get(c, "network_id"));

		json_array_foreach(json_object_get(doc, "tenants"), j, t)
		{
			json_array_foreach(json_object_get(t, "networks"), k, n)
			{
				if (strcmp(json_string_value(json_object_get(n, "network_id")),
					   nid))
					continue;
				json_array_foreach(json_object_get(n, "acl"), x, rule)
				{
					for (int sd = 0; sd < 2; sd++)
						json_array_foreach(
							json_object_get(json_object_get(rule,
											sides[sd]),
									"devices"),
							y, v)
						{
							if (!strcmp(json_string_value(v), id))
								return true;
						}
				}
			}
		}
	}
	return false;
}

/* One delta (@changes, taken over): the fast path when it accepts it,
 * else the full path, then the checks. */
static void step_with(struct run *r, json_t *changes)
{
	json_t *delta, *next;
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
	if (!r->fixed && !rnd(r, 25) && stale_patch(r, next, changes, (uint64_t)gen + 1)) {
		/* Another full apply came first: the patch was refused. */
		r->small_journal = false;
		r->full++;
		check_step(r);
		goto out;
	}
	/* Now and then the document moves under the kept state (the client
	 * repacks it once half is garbage): its pointers must follow. */
	if (!rnd(r, 8))
		assert_int_equal(nn_held_repack(r->hd), 0);
	err = nn_inc_delta(r->inc, changes, (uint64_t)gen + 1, &pt, why, sizeof(why));
	if (getenv("NN_INC_TRACE")) {
		char *x = json_dumps(changes, JSON_COMPACT);

		printf("# step %zu: %s %s\n", r->step, err ? why : "FAST", x);
		free(x);
	}
	if (!err) {
		assert_int_equal(nn_apply_patch(r->t.dp, &pt, &res, &errs), NN_APPLY_APPLIED);
		/* A change writes its own entries and the last one's (after
		 * a full apply, the first patch also writes that apply's
		 * diff: the journal it builds from the record), plus a fixed
		 * few: the source filter's, the meta, the flip. A user's
		 * change patches every device of the user, so the bound
		 * follows the patch, not a device count. */
		size_t keys = pt.n_set + pt.n_del;

		if (r->small_journal && res.writes > keys + r->last_keys + PATCH_FIXED_WRITES)
			fail_msg("step %zu: %zu map writes for a change of %zu entries after one "
				 "of %zu (seed=%u)",
				 r->step, res.writes, keys, r->last_keys, seed);
		r->last_keys = keys;
		r->small_journal = true;
		standby_kept_small(r, &pt);
		nn_dev_patch_free(&pt);
		r->named_fast += names_changed(r->doc, changes);
		r->user_fast += !strcmp(
			json_string_value(json_object_get(json_array_get(changes, 0), "kind")),
			"user");
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

static void step(struct run *r)
{
	step_with(r, gen_delta(r));
}

/* @min_fast: fast steps required; @min_named: of those, on rule-named
 * devices (the example's two named devices may be deleted for good before
 * any change of theirs: none required; the synthetic one has ~100); @min_user: of those, user changes (the
 * example's users change groups the ACL names: mostly the full path). */
static void run_policy(json_t *doc, size_t steps, size_t min_fast, size_t min_named,
		       size_t min_user, const char *what)
{
	struct run r = { .rng = seed ? seed : 1 };
	struct nn_inc_ids ids;
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
	nn_inc_id_stats(r.inc, &ids);
	r.shifted += ids.shifted;
	printf("# %s: %zu steps: %zu fast (%zu of a device a rule names, %zu of a user), %zu full, "
	       "%zu rejected whole, %zu id table entries moved back by deletions\n",
	       what, steps, r.fast, r.named_fast, r.user_fast, r.full, r.kept_old, r.shifted);
	/* The fast path must have carried a real share, rule-named devices
	 * too, the fallback too. */
	assert_true(r.fast >= min_fast);
	assert_true(r.named_fast >= min_named);
	assert_true(r.user_fast >= min_user);
	assert_true(r.full >= steps / 20);
	nn_inc_free(r.inc);
	nn_held_put(r.hd);
	nn_errlist_free(&r.held);
	json_decref(r.doc);
	json_decref(doc);
	dpt_close(&r.t);
}

static void test_inc_example(void **state)
{
	(void)state;
	run_policy(incpol_example(), steps_ex, steps_ex / 8, 0, 0, "example");
}

static void test_inc_twin_rule(void **state)
{
	(void)state;
	/* acme-prod takes the full path only; globex-main the fast one */
	run_policy(incpol_twin_rule(), steps_ex / 4, 1, 0, 0, "twin rule_id");
}

/* The user @uid of the example's acme-prod with groups @g (JSON). */
static json_t *acme_user(const json_t *doc, const char *uid, json_t *g)
{
	json_t *n = json_array_get(
		json_object_get(json_array_get(json_object_get(doc, "tenants"), 0), "networks"), 0);
	json_t *u = NULL, *v, *c;
	size_t i;

	json_array_foreach(json_object_get(n, "users"), i, v)
	{
		if (!strcmp(json_string_value(json_object_get(v, "user_id")), uid))
			u = json_deep_copy(v);
	}
	assert_non_null(u);
	json_object_set_new(u, "groups", g);
	c = json_pack("[{s:s, s:s, s:s, s:s, s:s, s:o}]", "op", "upsert", "kind", "user", "id", uid,
		      "tenant_id", "acme", "network_id", "acme-prod", "value", u);
	assert_non_null(c);
	return c;
}

/* A group a rule names, left by its members one by one: bob joins eng
 * (alice's group, which eng-db names) and leaves it, both on the fast
 * path (another member stays); then alice leaves it, the last member: eng
 * would vanish and eng-db be dropped, so that one must not be fast (the
 * checks after each step see the messages and maps). Then alice joins
 * again (eng-db comes back: not fast either). */
static void test_inc_user_groups(void **state)
{
	struct run r = { .rng = seed ? seed : 1, .fixed = true };
	json_t *doc = incpol_example();
	size_t fast;

	(void)state;
	assert_int_equal(dpt_open(&r.t, NN_FRAMING_L3), 0);
	assert_true(full_apply(&r, doc));
	json_decref(doc); /* r.doc holds it */
	check_step(&r);
	step_with(&r, acme_user(r.doc, "bob", json_pack("[s,s]", "sales", "eng")));
	step_with(&r, acme_user(r.doc, "bob", json_pack("[s]", "sales")));
	assert_int_equal(r.fast, 2);
	step_with(&r, acme_user(r.doc, "alice", json_pack("[]")));
	fast = r.fast;
	step_with(&r, acme_user(r.doc, "alice", json_pack("[s]", "eng")));
	printf("# user groups: %zu of 4 fast\n", r.fast);
	assert_int_equal(fast, 2);
	assert_int_equal(r.fast, 2);
	nn_inc_free(r.inc);
	nn_held_put(r.hd);
	nn_errlist_free(&r.held);
	json_decref(r.doc);
	dpt_close(&r.t);
}

/* Device @did of @doc's network @t/@n with its public_key set to @key. */
static json_t *key_change(const json_t *doc, size_t t, size_t n, const char *did, const char *key)
{
	json_t *tn = json_array_get(json_object_get(doc, "tenants"), t);
	json_t *nw = json_array_get(json_object_get(tn, "networks"), n);
	json_t *d = NULL, *v, *c;
	size_t i;

	json_array_foreach(json_object_get(nw, "devices"), i, v)
	{
		if (!strcmp(json_string_value(json_object_get(v, "device_id")), did))
			d = json_deep_copy(v);
	}
	assert_non_null(d);
	json_object_set_new(d, "public_key", json_string(key));
	c = json_pack("[{s:s, s:s, s:s, s:O, s:O, s:o}]", "op", "upsert", "kind", "device", "id",
		      did, "tenant_id", json_object_get(tn, "tenant_id"), "network_id",
		      json_object_get(nw, "network_id"), "value", d);
	assert_non_null(c);
	return c;
}

/* A key two dropped copies share (carol-desktop took alice-laptop's: every
 * copy dropped, the full path) is held: bob-phone taking it too must not
 * be fast (the full parse drops it as a third copy). */
static void test_inc_dropped_key(void **state)
{
	static const char *const k = "jwx5oERvgWFmXLoUhBqhOyGp7v4PHr3xrzovm7NhZ0Q=";
	struct run r = { .rng = seed ? seed : 1, .fixed = true };
	json_t *doc = incpol_example();

	(void)state;
	assert_int_equal(dpt_open(&r.t, NN_FRAMING_L3), 0);
	assert_true(full_apply(&r, doc));
	json_decref(doc); /* r.doc holds it */
	step_with(&r, key_change(r.doc, 1, 0, "carol-desktop", k));
	step_with(&r, key_change(r.doc, 0, 0, "bob-phone", k));
	assert_int_equal(r.fast, 0);
	nn_inc_free(r.inc);
	nn_held_put(r.hd);
	nn_errlist_free(&r.held);
	json_decref(r.doc);
	dpt_close(&r.t);
}

/* User churn: every fast-path user change keeps a copy of the user object
 * and the one it replaces is garbage. With the compaction at every
 * doubling (nn_inc_held_min 0) the arena stays within a few copies over 60
 * changes, and what moved is still read right: a key change of bob's
 * device after each compaction makes its one-device snapshot from bob's
 * (moved) object, and every step is checked against a full compile. */
static void test_inc_user_churn(void **state)
{
	static const char *const keys[] = { "Y2h1cm5jaHVybmNodXJuY2h1cm5jaHVybmNodXJuMDE=",
					    "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=" };
	struct run r = { .rng = seed ? seed : 1, .fixed = true };
	json_t *doc = incpol_example();
	unsigned long comp = 0, seen = 0;
	size_t i, first = 0, bytes = 0;

	(void)state;
	nn_inc_held_min = 0;
	assert_int_equal(dpt_open(&r.t, NN_FRAMING_L3), 0);
	assert_true(full_apply(&r, doc));
	json_decref(doc); /* r.doc holds it */
	for (i = 0; i < 60; i++) {
		step_with(&r, acme_user(r.doc, "bob",
					i % 2 ? json_pack("[s]", "sales") :
						json_pack("[s,s]", "sales", "eng")));
		bytes = nn_inc_held_bytes(r.inc, &comp);
		if (!first)
			first = bytes;
		if (comp != seen) {
			seen = comp;
			step_with(&r, key_change(r.doc, 0, 0, "bob-phone", keys[comp % 2]));
		}
	}
	printf("# user churn: %zu fast of %zu, arena %zu bytes (one copy %zu), %lu compactions\n",
	       r.fast, i + seen, bytes, first, comp);
	assert_int_equal(r.fast, 60 + seen);
	assert_true(comp >= 3);
	assert_true(bytes <= 4 * first);
	nn_inc_held_min = 64u << 10;
	nn_inc_free(r.inc);
	nn_held_put(r.hd);
	nn_errlist_free(&r.held);
	json_decref(r.doc);
	dpt_close(&r.t);
}

/* Device @id added to @doc's network @t/@n as a copy of @like with a fresh
 * key and IPv6 address (no IPv4), or deleted when @like is NULL. */
static json_t *add_or_delete(struct run *r, const json_t *doc, size_t t, size_t n, const char *like,
			     const char *id)
{
	struct where w = { .tenant = json_array_get(json_object_get(doc, "tenants"), t) };
	json_t *d = NULL;

	w.net = json_array_get(json_object_get(w.tenant, "networks"), n);
	if (like) {
		d = json_deep_copy(
			json_array_get(json_object_get(w.net, "devices"), dev_index(w.net, like)));
		assert_non_null(d);
		json_object_set_new(d, "device_id", json_string(id));
		json_object_set_new(d, "public_key", fresh_key(r));
		json_object_set_new(d, "overlay_ipv6", fresh_addr(r, false));
		json_object_del(d, "overlay_ipv4");
	}
	return json_pack("[o]", change(&w, like ? "upsert" : "delete", id, d));
}

/* Entries one change may move back in the id tables (lib/table.c's
 * backward shift: the rest of a probe run per delete, at most five
 * deletes per change, in tables at most half full). A delete that rebuilt
 * a table, or a sweep of all of it in one step, moves every live entry of
 * it: 80-250 per table here. */
#define ID_SHIFT_MAX 40
#define ID_FILL 80 /* devices added first, so the tables are not tiny */

/* One step of the tombstone test, and the id tables after it: @live
 * entries exactly (0: not checked), in the slots they had at the start
 * (@slots0: nothing rebuilt or grown), at most ID_SHIFT_MAX entries moved
 * by the step's deletions. */
static void id_step(struct run *r, json_t *changes, size_t live, size_t slots0, size_t *shifted,
		    size_t *most_moved)
{
	struct nn_inc_ids ids;

	step_with(r, changes);
	nn_inc_id_stats(r->inc, &ids);
	if (live && ids.entries != live)
		fail_msg("step %zu: %zu id table entries, %zu live", r->step, ids.entries, live);
	if (ids.slots != slots0)
		fail_msg("step %zu: %zu id table slots, %zu at the start", r->step, ids.slots,
			 slots0);
	if (ids.shifted - *shifted > ID_SHIFT_MAX)
		fail_msg("step %zu: one change moved %zu id table entries", r->step,
			 ids.shifted - *shifted);
	if (ids.shifted - *shifted > *most_moved)
		*most_moved = ids.shifted - *shifted;
	*shifted = ids.shifted;
}

/* Tombstones: a key rotation gives the old key's owner entry up, a device
 * added and deleted its id in two tables and its key and address in a
 * third. ID_FILL devices are added first (so a table rebuilt whole in one
 * step is told from a shift). Each is deleted (nn_inc_put of INC_NONE), so after every step the
 * id tables hold exactly the live entries (the start's after a rotation or
 * an add and delete), in the same slots, their chunks reused (the keys'
 * heap does not grow), and no change moves more than ID_SHIFT_MAX entries;
 * what the deletions moved back is still read right: after them
 * carol-desktop taking bob-phone's current key must not be fast (a full
 * parse drops both copies), and check_step holds every step against a full
 * compile. */
static void test_inc_tombstones(void **state)
{
	struct run r = { .rng = seed ? seed : 1, .fixed = true };
	json_t *doc = incpol_example(), *k = NULL;
	struct nn_inc_ids first, ids;
	size_t i, fast, steps = 0, shifted, most_moved = 0;
	char id[32];

	(void)state;
	assert_int_equal(dpt_open(&r.t, NN_FRAMING_L3), 0);
	assert_true(full_apply(&r, doc));
	json_decref(doc); /* r.doc holds it */
	for (i = 0; i < ID_FILL; i++, steps++) {
		snprintf(id, sizeof(id), "fill-%zu", i);
		step_with(&r, add_or_delete(&r, r.doc, 0, 0, "bob-phone", id));
	}
	nn_inc_id_stats(r.inc, &first);
	shifted = first.shifted;
	for (i = 0; i < 150; i++, steps++) {
		json_decref(k);
		k = fresh_key(&r);
		id_step(&r, key_change(r.doc, 0, 0, "bob-phone", json_string_value(k)),
			first.entries, first.slots, &shifted, &most_moved);
		if (i % 3 == 0) {
			snprintf(id, sizeof(id), "tomb-%zu", i);
			id_step(&r, add_or_delete(&r, r.doc, 0, 0, "bob-phone", id), 0, first.slots,
				&shifted, &most_moved);
			id_step(&r, add_or_delete(&r, r.doc, 0, 0, NULL, id), first.entries,
				first.slots, &shifted, &most_moved);
			steps += 2;
		}
	}
	fast = r.fast;
	nn_inc_id_stats(r.inc, &ids);
	step_with(&r, key_change(r.doc, 1, 0, "carol-desktop", json_string_value(k)));
	printf("# tombstones: %zu fast of %zu, id entries %zu in %zu slots (%zu at the start), "
	       "%zu moved back by deletions (at most %zu by one change), keys' heap %zu -> %zu "
	       "bytes; the key collision after them %s\n",
	       fast, steps, ids.entries, ids.slots, first.entries, ids.shifted - first.shifted,
	       most_moved, first.chunk_bytes, ids.chunk_bytes, r.fast == fast ? "full" : "FAST");
	assert_int_equal(fast, steps);
	assert_int_equal(r.fast, fast);
	/* 250 new keys and 50 new ids took the deleted ones' blocks */
	assert_int_equal(ids.chunk_bytes, first.chunk_bytes);
	json_decref(k);
	nn_inc_free(r.inc);
	nn_held_put(r.hd);
	nn_errlist_free(&r.held);
	json_decref(r.doc);
	dpt_close(&r.t);
}

static void test_inc_synthetic(void **state)
{
	(void)state;
	run_policy(incpol_synthetic(), steps_big, steps_big / 5, steps_big / 15, steps_big / 50,
		   "synthetic");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inc_example),	cmocka_unit_test(test_inc_synthetic),
		cmocka_unit_test(test_inc_twin_rule),	cmocka_unit_test(test_inc_user_groups),
		cmocka_unit_test(test_inc_dropped_key), cmocka_unit_test(test_inc_user_churn),
		cmocka_unit_test(test_inc_tombstones),
	};
	const char *s = getenv("NN_SEED"), *n = getenv("NN_INC_STEPS");

	seed = s ? (uint32_t)strtoul(s, NULL, 0) : (uint32_t)(time(NULL) ^ (getpid() << 8));
	if (!seed)
		seed = 1;
	if (n)
		steps_ex = steps_big = strtoul(n, NULL, 0);
	printf("# seed=%u\n", seed);
	/* Every full apply fills its cells' tables on a helper thread (from
	 * 16384 cells otherwise): the oracle checks that path. */
	nn_apply_want_par_min = 1;
	return cmocka_run_group_tests(tests, mf_group_setup, mf_group_teardown);
}
