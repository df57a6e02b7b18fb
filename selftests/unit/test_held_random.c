// SPDX-License-Identifier: GPL-2.0
/*
 * test_held_random.c - the held snapshot document (policy/held.h) against an
 * independent oracle: random sequences of deltas (upserts and deletes of
 * every kind, moves between networks, lists created by an upsert, and
 * refusals: a delete of a missing id, a tenant or network not there, a
 * value without its id, a list that is not one, a wrong base generation)
 * go to the held document (nn_held_delta_apply) and to jansson's tree
 * (nn_cp_delta_apply, the reference). After every delta: the same verdict
 * and message, and on success byte-equal text (nn_held_dump against
 * nn_cp_dump) and the repack rule (garbage under half of the arena). A
 * refused delta leaves both dropped; they start again from the text before
 * it, as the client does with a full fetch.
 *
 *   NN_SEED=N   replay a run (the seed is printed first, "# seed=N")
 *   NN_STEPS=N  deltas per run (default 3000)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "cp/client.h"
#include "delta_oracle.h"
#include "policy/held.h"
#include "xorshift.h"

static uint32_t seed, rng;

static uint32_t rnd(uint32_t n)
{
	return n ? nn_xorshift32(&rng) % n : 0;
}

/* Ids that are prefixes of each other: a match must be exact. */
static const char *const ids[] = { "a", "a1", "a10", "a100", "b", "b2", "\xc3\xa9t\xc3\xa9" };
#define N_IDS (sizeof(ids) / sizeof(*ids))

static const char *const words[] = { "x",
				     "state",
				     "quote \" and \\ back",
				     "tab\t nl\n ctl \x01",
				     "\xe2\x80\xa8 line sep",
				     "\xf0\x9f\x98\x80",
				     "",
				     "a long string of more than twenty-four bytes" };
#define N_WORDS (sizeof(words) / sizeof(*words))

/* A random value: every JSON type, nested a little. */
static json_t *value(int depth)
{
	json_t *v;
	size_t i, n;

	switch (rnd(depth > 2 ? 6 : 8)) {
	case 0:
		return json_string(words[rnd(N_WORDS)]);
	case 1:
		return json_integer((json_int_t)rnd(2000) - 1000);
	case 2:
		return json_real(rnd(2) ? 0.5 : -1e300);
	case 3:
		return rnd(2) ? json_true() : json_false();
	case 4:
		return json_null();
	case 5:
		return json_integer(rnd(2) ? INT64_MAX : INT64_MIN);
	case 6:
		v = json_array();
		n = rnd(4);
		for (i = 0; i < n; i++)
			json_array_append_new(v, value(depth + 1));
		return v;
	default:
		v = json_object();
		n = rnd(4);
		for (i = 0; i < n; i++)
			json_object_set_new(v, words[rnd(N_WORDS)], value(depth + 1));
		return v;
	}
}

static const char *const kinds[] = { "node", "tenant", "network", "user", "device" };
static const char *const keys[] = { "node_id", "tenant_id", "network_id", "user_id", "device_id" };
static const char *const lists[] = { "nodes", "tenants", "networks", "users", "devices" };

/* An object of kind @k with id @id, sometimes with its own lists. */
static json_t *entity(int k, const char *id)
{
	json_t *o = json_object();
	size_t i, n = rnd(3);

	json_object_set_new(o, keys[k], json_string(id));
	for (i = 0; i < n; i++)
		json_object_set_new(o, words[rnd(N_WORDS)], value(1));
	/* A container now and then without the list below it (an upsert
	 * into it creates the list), or with one that is not a list. */
	if ((k == 1 || k == 2) && rnd(4)) {
		json_t *l = json_array();

		for (i = rnd(3); i > 0; i--)
			json_array_append_new(l, entity(k + 1, ids[rnd(N_IDS)]));
		json_object_set_new(o, lists[k + 1], l);
	}
	if (k == 2 && rnd(3)) {
		json_t *l = json_array();

		for (i = rnd(4); i > 0; i--)
			json_array_append_new(l, entity(4, ids[rnd(N_IDS)]));
		json_object_set_new(o, "devices",
				    rnd(20) ? l : (json_decref(l), json_string("no")));
	}
	return o;
}

static json_t *base_doc(void)
{
	json_t *d = json_pack("{s:s, s:s, s:I, s:{s:s}}", "api_version", "v1", "node_id", "gw-1",
			      "generation", (json_int_t)1, "gateway", "overlay", "fd00::/64");
	json_t *nodes = json_array(), *ts = json_array();
	size_t i;

	for (i = 0; i < 3; i++)
		json_array_append_new(nodes, entity(0, ids[i]));
	for (i = 0; i < 3; i++)
		json_array_append_new(ts, entity(1, ids[i * 2]));
	json_object_set_new(d, "nodes", nodes);
	json_object_set_new(d, "tenants", ts);
	return d;
}

/* An id of a member of @list (by @key) most of the time, else any. */
static const char *some_id(const json_t *list, const char *key)
{
	size_t n = json_array_size(list);
	const char *s;

	if (n && rnd(12)) {
		s = json_string_value(json_object_get(json_array_get(list, rnd(n)), key));
		if (s)
			return s;
	}
	return ids[rnd(N_IDS)];
}

/* One change, sometimes malformed. */
static json_t *change(const json_t *doc)
{
	int k = (int)rnd(5);
	const json_t *ts = json_object_get(doc, "tenants"), *t = NULL, *n = NULL;
	const char *tid = NULL, *nid = NULL, *id;
	bool upsert = rnd(10) < 7;
	json_t *c, *v;

	if (k >= 1 && k <= 2 && rnd(3))
		k += 2; /* users and devices most */
	/* Where there is nothing to change in, make it first. */
	if (k >= 2 && !json_array_size(ts))
		k = 1;
	if (k >= 2) {
		t = json_array_get(ts, rnd(json_array_size(ts)));
		if (k >= 3 && !json_array_size(json_object_get(t, "networks")))
			k = 2;
	}
	if (k == 1 || k == 2)
		upsert = rnd(10) > 0; /* containers are rarely deleted */
	if (k >= 2) {
		tid = json_string_value(json_object_get(t, "tenant_id"));
		if (!tid || !rnd(60))
			tid = "t-missing";
	}
	if (k >= 3) {
		const json_t *ns = json_object_get(t, "networks");

		n = json_array_get(ns, rnd(json_array_size(ns)));
		nid = json_string_value(json_object_get(n, "network_id"));
		if (!nid || !rnd(60))
			nid = "n-missing";
	}
	id = some_id(k == 0 ? json_object_get(doc, "nodes") :
		     k == 1 ? ts :
		     k == 2 ? json_object_get(t, "networks") :
			      json_object_get(n, lists[k]),
		     keys[k]);
	c = json_pack("{s:s, s:s, s:s}", "op", upsert ? "upsert" : "delete", "kind", kinds[k], "id",
		      id);
	if (tid)
		json_object_set_new(c, "tenant_id", json_string(tid));
	if (nid)
		json_object_set_new(c, "network_id", json_string(nid));
	if (upsert) {
		v = entity(k, id);
		if (!rnd(40))
			json_object_set_new(v, keys[k], json_string("other"));
		json_object_set_new(c, "value", rnd(60) ? v : (json_decref(v), json_integer(3)));
	}
	switch (rnd(150)) {
	case 0:
		json_object_del(c, "op");
		break;
	case 1:
		json_object_set_new(c, "kind", json_string("gateway"));
		break;
	case 2:
		json_object_set_new(c, "id", json_string(""));
		break;
	}
	return c;
}

/* A device moved: deleted from one network, upserted into another. */
static void move(const json_t *doc, json_t *changes)
{
	const json_t *t = json_array_get(json_object_get(doc, "tenants"), 0);
	const json_t *ns = json_object_get(t, "networks"), *from = json_array_get(ns, 0);
	const json_t *to = json_array_get(ns, json_array_size(ns) - 1);
	const char *tid = json_string_value(json_object_get(t, "tenant_id"));
	const char *id = some_id(json_object_get(from, "devices"), "device_id");

	if (!tid || !json_object_get(from, "network_id") || !json_object_get(to, "network_id"))
		return;
	json_array_append_new(changes,
			      json_pack("{s:s, s:s, s:s, s:s, s:O}", "op", "delete", "kind",
					"device", "id", id, "tenant_id", tid, "network_id",
					json_object_get(from, "network_id")));
	json_array_append_new(changes,
			      json_pack("{s:s, s:s, s:s, s:s, s:O, s:o}", "op", "upsert", "kind",
					"device", "id", id, "tenant_id", tid, "network_id",
					json_object_get(to, "network_id"), "value", entity(4, id)));
}

static json_t *delta(const json_t *doc)
{
	json_int_t g = json_integer_value(json_object_get(doc, "generation"));
	json_t *changes = json_array();
	size_t i, n = 1 + rnd(3);

	if (!rnd(8))
		move(doc, changes);
	for (i = 0; i < n; i++)
		json_array_append_new(changes, change(doc));
	switch (rnd(100)) {
	case 0: /* not from our generation */
		return json_pack("{s:I, s:I, s:b, s:o}", "generation", g + 2, "since", g - 1,
				 "full", 0, "changes", changes);
	case 1: /* backwards */
		return json_pack("{s:I, s:I, s:b, s:o}", "generation", g - 1, "since", g, "full", 0,
				 "changes", changes);
	case 2:
		return json_pack("{s:I, s:I, s:b, s:o}", "generation", g + 1, "since", g, "full", 1,
				 "changes", changes);
	}
	return json_pack("{s:I, s:I, s:b, s:o}", "generation", g + rnd(2), "since", g, "full", 0,
			 "changes", changes);
}

static struct nn_held *held_of(const char *text)
{
	struct nn_held *h = NULL;
	char e[256];

	if (nn_held_parse(text, strlen(text), &h, e, sizeof(e)))
		fail_msg("held: %s (seed=%u)", e, seed);
	return h;
}

static void test_random(void **state)
{
	const char *sn = getenv("NN_STEPS");
	size_t steps = sn ? strtoul(sn, NULL, 10) : 3000, i, ok = 0, refused = 0, hn, on;
	unsigned long repacks = 0;
	json_t *oracle = base_doc();
	char *text, *ht, *ot, herr[512], oerr[512];
	struct nn_held *h;
	size_t len, hl, ol;
	int hr, orr;

	(void)state;
	text = nn_cp_dump(oracle, &len);
	assert_non_null(text);
	h = held_of(text);
	for (i = 0; i < steps; i++) {
		json_t *d = delta(oracle);

		herr[0] = oerr[0] = 0;
		orr = nn_cp_delta_apply(oracle, d, &on, oerr, sizeof(oerr));
		hr = nn_held_delta_apply(h, d, &hn, herr, sizeof(herr));
		if (hr != orr || strcmp(herr, oerr)) {
			char *x = json_dumps(d, JSON_COMPACT);

			fail_msg("step %zu: held %d \"%s\", oracle %d \"%s\" on %s (seed=%u)", i,
				 hr, herr, orr, oerr, x, seed);
		}
		json_decref(d);
		if (orr) {
			/* Both dropped: start again from the text before. */
			refused++;
			if (getenv("NN_HELD_TRACE"))
				printf("# step %zu refused: %s\n", i, oerr);
			json_decref(oracle);
			repacks += h->repacks;
			nn_held_put(h);
			oracle = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
			assert_non_null(oracle);
			h = held_of(text);
			continue;
		}
		ok++;
		assert_int_equal(hn, on);
		ht = nn_held_dump(h->d.root, &hl);
		ot = nn_cp_dump(oracle, &ol);
		assert_non_null(ht);
		assert_non_null(ot);
		if (hl != ol || memcmp(ht, ot, ol))
			fail_msg("step %zu: texts differ (seed=%u)\nheld   %s\noracle %s", i, seed,
				 ht, ot);
		free(ht);
		free(text);
		text = ot;
		len = ol;
		/* The repack rule holds after every delta. */
		if (h->garbage * 2 >= nn_held_bytes(h))
			fail_msg("step %zu: garbage %zu of %zu bytes kept (seed=%u)", i, h->garbage,
				 nn_held_bytes(h), seed);
	}
	repacks += h->repacks;
	print_message("# %zu deltas applied, %zu refused, %lu repacks\n", ok, refused, repacks);
	/* The run reached what it is about. */
	assert_true(ok > steps / 4);
	assert_true(refused > steps / 20);
	assert_true(repacks > 0 || ok < 50);
	nn_held_put(h);
	json_decref(oracle);
	free(text);
}

/* A repack keeps the bytes and gives back the garbage: its arena is the
 * size a fresh parse of the same text makes (interning may differ a
 * little: the cache is direct-mapped). */
static void test_repack(void **state)
{
	json_t *doc = base_doc(), *d;
	struct nn_held *h, *fresh;
	char *t0, *t1, err[256];
	size_t l0, l1, i;

	(void)state;
	t0 = nn_cp_dump(doc, &l0);
	h = held_of(t0);
	free(t0);
	for (i = 0; i < 200; i++) {
		d = json_pack("{s:I, s:I, s:b, s:[{s:s, s:s, s:s, s:o}]}", "generation",
			      (json_int_t)(i + 2), "since", (json_int_t)(i + 1), "full", 0,
			      "changes", "op", "upsert", "kind", "node", "id", ids[i % 3], "value",
			      entity(0, ids[i % 3]));
		assert_int_equal(nn_cp_delta_apply(doc, d, NULL, err, sizeof(err)), 0);
		assert_int_equal(nn_held_delta_apply(h, d, NULL, err, sizeof(err)), 0);
		json_decref(d);
	}
	assert_true(h->repacks > 0);
	t0 = nn_held_dump(h->d.root, &l0);
	assert_int_equal(nn_held_repack(h), 0);
	t1 = nn_held_dump(h->d.root, &l1);
	assert_non_null(t0);
	assert_non_null(t1);
	assert_string_equal(t0, t1);
	assert_int_equal(h->garbage, 0);
	fresh = held_of(t1);
	if (nn_held_bytes(h) > nn_held_bytes(fresh) + nn_held_bytes(fresh) / 10 + 1024)
		fail_msg("repacked %zu bytes, a fresh parse %zu", nn_held_bytes(h),
			 nn_held_bytes(fresh));
	nn_held_put(fresh);
	free(t0);
	free(t1);
	nn_held_put(h);
	json_decref(doc);
}

/* Many devices added to one network, one delta each: the list's vector
 * grows in place and moves when full; the text follows the oracle's. */
static void test_appends(void **state)
{
	json_t *doc = json_pack("{s:I, s:[{s:s, s:[{s:s, s:[]}]}]}", "generation", (json_int_t)1,
				"tenants", "tenant_id", "t", "networks", "network_id", "n",
				"devices"),
	       *d;
	struct nn_held *h;
	char *a, *b, err[256], id[32];
	size_t la, lb, i;

	(void)state;
	a = nn_cp_dump(doc, &la);
	h = held_of(a);
	free(a);
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "dev-%zu", i);
		d = json_pack("{s:I, s:I, s:b, s:[{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:i}}]}",
			      "generation", (json_int_t)(i + 2), "since", (json_int_t)(i + 1),
			      "full", 0, "changes", "op", "upsert", "kind", "device", "id", id,
			      "tenant_id", "t", "network_id", "n", "value", "device_id", id, "n",
			      (int)i);
		assert_int_equal(nn_cp_delta_apply(doc, d, NULL, err, sizeof(err)), 0);
		assert_int_equal(nn_held_delta_apply(h, d, NULL, err, sizeof(err)), 0);
		json_decref(d);
		a = nn_held_dump(h->d.root, &la);
		b = nn_cp_dump(doc, &lb);
		assert_non_null(a);
		assert_non_null(b);
		if (strcmp(a, b))
			fail_msg("device %zu: texts differ\nheld   %s\noracle %s", i, a, b);
		free(a);
		free(b);
	}
	nn_held_put(h);
	json_decref(doc);
}

/* What the client refuses to hold, and the message it gives. */
static void test_parse_refused(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "[1]", "not a JSON object" },
		{ "{\"a\":1,\"a\":2}", "invalid JSON at line 1 column" },
		{ "{\"a\":\"\\u0000\"}", "invalid JSON at line 1 column" },
		{ "{\"a\":1} x", "invalid JSON at line 1 column" },
		{ "", "invalid JSON" },
	};
	struct nn_held *h;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		err[0] = 0;
		assert_int_equal(nn_held_parse(cases[i].text, strlen(cases[i].text), &h, err,
					       sizeof(err)),
				 -EBADMSG);
		assert_null(h);
		if (!strstr(err, cases[i].msg))
			fail_msg("%s: \"%s\", want \"%s\"", cases[i].text, err, cases[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_repack),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_parse_refused),
	};
	const char *s = getenv("NN_SEED");

	seed = s ? (uint32_t)strtoul(s, NULL, 10) : (uint32_t)time(NULL);
	if (!seed)
		seed = 1;
	rng = seed;
	printf("# seed=%u\n", seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
