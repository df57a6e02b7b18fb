// SPDX-License-Identifier: GPL-2.0
/*
 * test_cp_backoff.c - the control-plane client's pure parts (cp/client.h):
 * reconnect backoff and timer jitter, the size cap, the http:// loopback
 * rule, and delta application against examples/assignments.json (each
 * case builds the expected document by editing a copy by hand and compares
 * it with what nn_cp_delta_apply() makes of the delta).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cp/client.h"
#include "delta_oracle.h"

/* ---- backoff and jitter ---- */

static void test_backoff_bounds(void **state)
{
	static const uint32_t rnds[] = { 0, 1, 7, 12345, 0x7fffffff, UINT32_MAX };
	unsigned int a, i, d, v;

	(void)state;
	for (a = 0; a < 40; a++) {
		d = a >= 32 || (200ull << a) > 30000 ? 30000 : 200u << a;
		for (i = 0; i < sizeof(rnds) / sizeof(*rnds); i++) {
			v = nn_cp_backoff_ms(a, 200, 30000, rnds[i]);
			assert_true(v >= d / 2);
			assert_true(v <= d);
		}
	}
	/* rnd = 0 gives the floor: exponential growth is visible. */
	assert_int_equal(nn_cp_backoff_ms(0, 200, 30000, 0), 100);
	assert_int_equal(nn_cp_backoff_ms(1, 200, 30000, 0), 200);
	assert_int_equal(nn_cp_backoff_ms(4, 200, 30000, 0), 1600);
	assert_int_equal(nn_cp_backoff_ms(10, 200, 30000, 0), 15000);
	/* Ceiling reachable, never exceeded, no overflow at huge attempts. */
	assert_int_equal(nn_cp_backoff_ms(0, 200, 30000, 100), 200);
	assert_int_equal(nn_cp_backoff_ms(1000, 200, 30000, 15000), 30000);
	assert_true(nn_cp_backoff_ms(UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX) <= UINT32_MAX);
	assert_true(nn_cp_backoff_ms(31, 3, UINT32_MAX, UINT32_MAX) <= UINT32_MAX);
	/* base above max is clamped; zero stays zero. */
	assert_true(nn_cp_backoff_ms(0, 9000, 1000, 77) <= 1000);
	assert_int_equal(nn_cp_backoff_ms(5, 0, 1000, 77), 0);
}

static void test_backoff_spreads(void **state)
{
	unsigned int seen[2001] = { 0 }, distinct = 0, i, v;

	(void)state;
	/* Gateways reconnecting at once land on many different delays. */
	for (i = 0; i < 1000; i++) {
		v = nn_cp_backoff_ms(3, 250, 60000, nn_cp_random());
		assert_true(v >= 1000 && v <= 2000);
		distinct += !seen[v]++;
	}
	assert_true(distinct > 200);
}

static void test_jitter(void **state)
{
	unsigned int i, v;

	(void)state;
	assert_int_equal(nn_cp_jitter_ms(30000, 0, 12345), 30000);
	assert_int_equal(nn_cp_jitter_ms(30000, 10, 0), 27000);
	assert_int_equal(nn_cp_jitter_ms(30000, 10, 6000), 33000);
	for (i = 0; i < 1000; i++) {
		v = nn_cp_jitter_ms(30000, 20, nn_cp_random());
		assert_true(v >= 24000 && v <= 36000);
	}
	/* pct over 100 is clamped: never negative, never above 2x. */
	assert_int_equal(nn_cp_jitter_ms(1000, 500, 0), 0);
	assert_true(nn_cp_jitter_ms(1000, 500, UINT32_MAX) <= 2000);
	assert_true(nn_cp_jitter_ms(UINT32_MAX, 100, UINT32_MAX) <= UINT32_MAX);
}

/* ---- size cap ---- */

static void test_cap(void **state)
{
	(void)state;
	assert_true(nn_cp_cap_ok(0, 0, 0));
	assert_true(nn_cp_cap_ok(0, 100, 100));
	assert_true(nn_cp_cap_ok(60, 40, 100));
	assert_false(nn_cp_cap_ok(60, 41, 100));
	assert_false(nn_cp_cap_ok(0, 101, 100));
	assert_false(nn_cp_cap_ok(101, 0, 100));
	/* Chunks whose sum wraps around must not slip under the cap. */
	assert_false(nn_cp_cap_ok(SIZE_MAX - 1, 16, 1 << 20));
	assert_false(nn_cp_cap_ok(16, SIZE_MAX - 1, 1 << 20));
	assert_true(nn_cp_cap_ok(SIZE_MAX - 16, 16, SIZE_MAX));
}

/* ---- URL rule ---- */

static void test_url(void **state)
{
	static const struct {
		const char *url;
		int ret;
	} t[] = {
		{ "https://cp.example:8443", 0 },
		{ "https://10.0.0.1", 0 },
		{ "https://cp.example/prefix/", 0 },
		{ "http://127.0.0.1:8443", 0 },
		{ "http://127.3.2.1", 0 },
		{ "http://localhost:80", 0 },
		{ "http://LOCALHOST", 0 },
		{ "http://[::1]:8443", 0 },
		{ "http://10.0.0.1:8443", -EPERM },
		{ "http://128.0.0.1", -EPERM },
		{ "http://cp.example", -EPERM },
		{ "http://127.0.0.1.evil.example", -EPERM },
		{ "http://localhost.evil.example", -EPERM },
		{ "http://[::2]", -EPERM },
		{ "http://[::ffff:127.0.0.1]", -EPERM },
		{ "http://[fe80::1]", -EPERM },
		{ "ftp://127.0.0.1", -EINVAL },
		{ "file:///etc/passwd", -EINVAL },
		{ "https://cp.example/?x=1", -EINVAL },
		{ "https://cp.example/#frag", -EINVAL },
		{ "127.0.0.1:8443", -EINVAL },
		{ "", -EINVAL },
		{ NULL, -EINVAL },
	};
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(*t); i++) {
		err[0] = 0;
		if (nn_cp_check_url(t[i].url, err, sizeof(err)) != t[i].ret)
			fail_msg("%s: want %d, err \"%s\"", t[i].url, t[i].ret, err);
		if (t[i].ret)
			assert_true(err[0]);
	}
	nn_cp_check_url("http://10.1.1.1", err, sizeof(err));
	assert_non_null(strstr(err, "loopback"));
}

/* ---- deltas ---- */

static json_t *example;

static int setup(void **state)
{
	const char *src = getenv("NN_SRCDIR");
	char path[4096];

	(void)state;
	snprintf(path, sizeof(path), "%s/examples/assignments.json", src ? src : ".");
	example = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	if (!example)
		example = json_load_file("examples/assignments.json", JSON_REJECT_DUPLICATES, NULL);
	return example ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(example);
	return 0;
}

static json_t *at(json_t *j, const char *path)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, strtoul(tok, NULL, 10)) :
				       json_object_get(j, tok);
	return j;
}

static json_t *delta_doc(long long since, long long gen, const char *changes)
{
	json_t *c = json_loads(changes, JSON_REJECT_DUPLICATES, NULL);
	json_t *d;

	assert_non_null(c);
	d = json_pack("{s:I, s:I, s:b, s:o}", "generation", (json_int_t)gen, "since",
		      (json_int_t)since, "full", 0, "changes", c);
	assert_non_null(d);
	return d;
}

/* Apply changes to a copy of the example; compare with want (consumed).
 * The held document takes the same delta to the same bytes. */
static void check(const char *changes, long long gen, json_t *want)
{
	json_t *snap = json_deep_copy(example), *d = delta_doc(7, gen, changes);
	struct nn_held *h = nn_test_held_of(example);
	char err[256] = "", *ht, *wt;
	size_t n, hl, wl;
	int ret;

	assert_non_null(h);
	json_object_set_new(want, "generation", json_integer(gen));
	ret = nn_cp_delta_apply(snap, d, &n, err, sizeof(err));
	if (ret)
		fail_msg("apply: %d %s", ret, err);
	assert_int_equal(n, json_array_size(json_object_get(d, "changes")));
	if (!json_equal(snap, want)) {
		char *a = json_dumps(snap, JSON_COMPACT), *b = json_dumps(want, JSON_COMPACT);

		fail_msg("got  %s\nwant %s", a, b);
	}
	/* Order matters too (the contract says "exactly"). */
	char *a = json_dumps(snap, JSON_COMPACT | JSON_SORT_KEYS);
	char *b = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);

	assert_string_equal(a, b);
	free(a);
	free(b);
	ret = nn_held_delta_apply(h, d, &n, err, sizeof(err));
	if (ret)
		fail_msg("held apply: %d %s", ret, err);
	assert_int_equal(n, json_array_size(json_object_get(d, "changes")));
	ht = nn_held_dump(h->d.root, &hl);
	wt = nn_cp_dump(want, &wl);
	assert_non_null(ht);
	assert_non_null(wt);
	assert_string_equal(ht, wt);
	free(ht);
	free(wt);
	nn_held_put(h);
	json_decref(snap);
	json_decref(d);
	json_decref(want);
}

#define BOB "{\"device_id\":\"bob-phone\",\"user_id\":\"bob\",\"state\":\"disabled\"}"
#define DAVE "{\"device_id\":\"dave-pc\",\"user_id\":\"bob\"}"

static void test_delta_device(void **state)
{
	json_t *w;

	(void)state;
	/* Upsert of an existing device replaces it in place. */
	w = json_deep_copy(example);
	json_array_set_new(at(w, "tenants.0.networks.0.devices"), 1, json_loads(BOB, 0, NULL));
	check("[{\"op\":\"upsert\",\"kind\":\"device\",\"id\":\"bob-phone\",\"tenant_id\":\"acme\","
	      "\"network_id\":\"acme-prod\",\"value\":" BOB "}]",
	      8, w);
	/* A new one is appended; a delete removes; both in one delta. */
	w = json_deep_copy(example);
	json_array_append_new(at(w, "tenants.0.networks.0.devices"), json_loads(DAVE, 0, NULL));
	json_array_remove(at(w, "tenants.0.networks.0.devices"), 0);
	check("[{\"op\":\"upsert\",\"kind\":\"device\",\"id\":\"dave-pc\",\"tenant_id\":\"acme\","
	      "\"network_id\":\"acme-prod\",\"value\":" DAVE "},"
	      "{\"op\":\"delete\",\"kind\":\"device\",\"id\":\"alice-laptop\",\"tenant_id\":\"acme\","
	      "\"network_id\":\"acme-prod\"}]",
	      12, w);
}

static void test_delta_kinds(void **state)
{
	json_t *w;

	(void)state;
	w = json_deep_copy(example);
	json_array_remove(at(w, "tenants.1.networks.0.users"), 0);
	json_object_set_new(at(w, "nodes.0"), "state", json_string("disabled"));
	json_array_append_new(json_object_get(w, "nodes"),
			      json_pack("{s:s}", "node_id", "gw-par-1"));
	check("[{\"op\":\"delete\",\"kind\":\"user\",\"id\":\"carol\",\"tenant_id\":\"globex\","
	      "\"network_id\":\"globex-main\"},"
	      "{\"op\":\"upsert\",\"kind\":\"node\",\"id\":\"gw-ams-1\",\"tenant_id\":null,"
	      "\"network_id\":null,\"value\":{\"node_id\":\"gw-ams-1\",\"public_key\":"
	      "\"65jPZjmK+lpqIAaX1n0FJEDBvSlkNnO4bsacj1Z50AU=\",\"overlay_ipv6\":"
	      "\"fd7a:6e61:6e61::2\",\"endpoint\":\"[2001:db8:2::1]:51820\",\"roles\":"
	      "[\"exit_gateway\"],\"state\":\"disabled\",\"key_generation\":1}},"
	      "{\"op\":\"upsert\",\"kind\":\"node\",\"id\":\"gw-par-1\",\"value\":"
	      "{\"node_id\":\"gw-par-1\"}}]",
	      9, w);

	/* Tenants and networks: whole objects, in place or appended. */
	w = json_deep_copy(example);
	json_array_remove(json_object_get(w, "tenants"), 0);
	json_array_append_new(at(w, "tenants.0.networks"),
			      json_pack("{s:s,s:[]}", "network_id", "globex-lab", "devices"));
	json_array_append_new(json_object_get(w, "tenants"),
			      json_pack("{s:s,s:[]}", "tenant_id", "initech", "networks"));
	check("[{\"op\":\"delete\",\"kind\":\"tenant\",\"id\":\"acme\"},"
	      "{\"op\":\"upsert\",\"kind\":\"network\",\"id\":\"globex-lab\",\"tenant_id\":\"globex\","
	      "\"value\":{\"network_id\":\"globex-lab\",\"devices\":[]}},"
	      "{\"op\":\"upsert\",\"kind\":\"tenant\",\"id\":\"initech\",\"value\":"
	      "{\"tenant_id\":\"initech\",\"networks\":[]}}]",
	      10, w);

	/* No changes: same document, new generation. */
	check("[]", 7, json_deep_copy(example));
	check("[]", 8, json_deep_copy(example));
}

static void bad(long long since, long long gen, const char *changes, const char *msg)
{
	json_t *snap = json_deep_copy(example), *d = delta_doc(since, gen, changes);
	struct nn_held *h = nn_test_held_of(example);
	char err[256] = "", herr[256] = "";
	int ret = nn_cp_delta_apply(snap, d, NULL, err, sizeof(err));

	assert_non_null(h);
	if (ret != -EBADMSG || !strstr(err, msg))
		fail_msg("%s: ret %d err \"%s\", want \"%s\"", changes, ret, err, msg);
	/* The held document refuses it alike, in the same words. */
	assert_int_equal(nn_held_delta_apply(h, d, NULL, herr, sizeof(herr)), ret);
	assert_string_equal(herr, err);
	nn_held_put(h);
	json_decref(snap);
	json_decref(d);
}

static void test_delta_refused(void **state)
{
	json_t *snap = json_deep_copy(example), *d;
	char err[256];

	(void)state;
	bad(6, 8, "[]", "does not apply to base generation 7");
	bad(7, 6, "[]", "does not apply");
	bad(7, 8,
	    "[{\"op\":\"delete\",\"kind\":\"device\",\"id\":\"ghost\",\"tenant_id\":\"acme\","
	    "\"network_id\":\"acme-prod\"}]",
	    "delete of device ghost, which is not in");
	bad(7, 8,
	    "[{\"op\":\"upsert\",\"kind\":\"device\",\"id\":\"bob-phone\",\"tenant_id\":\"acme\","
	    "\"network_id\":\"acme-prod\",\"value\":" DAVE "}]",
	    "value must be an object with device_id");
	bad(7, 8,
	    "[{\"op\":\"upsert\",\"kind\":\"device\",\"id\":\"dave-pc\",\"tenant_id\":\"nope\","
	    "\"network_id\":\"acme-prod\",\"value\":" DAVE "}]",
	    "tenant nope not in");
	bad(7, 8,
	    "[{\"op\":\"upsert\",\"kind\":\"device\",\"id\":\"dave-pc\",\"tenant_id\":\"globex\","
	    "\"network_id\":\"acme-prod\",\"value\":" DAVE "}]",
	    "network globex/acme-prod not in");
	bad(7, 8,
	    "[{\"op\":\"upsert\",\"kind\":\"device\",\"id\":\"dave-pc\",\"tenant_id\":\"acme\","
	    "\"value\":" DAVE "}]",
	    "network acme/(none)");
	bad(7, 8, "[{\"op\":\"upsert\",\"kind\":\"gateway\",\"id\":\"x\",\"value\":{}}]",
	    "known kind");
	bad(7, 8, "[{\"op\":\"replace\",\"kind\":\"node\",\"id\":\"x\"}]", "upsert|delete");
	bad(7, 8, "[{\"op\":\"delete\",\"kind\":\"node\",\"id\":\"\"}]", "an id");
	bad(7, 8, "[42]", "delta change 0");
	/* A later change failing names its index. */
	bad(7, 8,
	    "[{\"op\":\"delete\",\"kind\":\"node\",\"id\":\"gw-ams-1\"},"
	    "{\"op\":\"delete\",\"kind\":\"node\",\"id\":\"gw-ams-1\"}]",
	    "delta change 1");

	/* Shape of the delta document itself. */
	d = json_pack("{s:I,s:I,s:b,s:[]}", "generation", 8, "since", 7, "full", 1, "changes");
	assert_int_equal(nn_cp_delta_apply(snap, d, NULL, err, sizeof(err)), -EBADMSG);
	json_decref(d);
	d = json_pack("{s:I,s:I}", "generation", 8, "since", 7);
	assert_int_equal(nn_cp_delta_apply(snap, d, NULL, err, sizeof(err)), -EBADMSG);
	json_decref(d);
	d = json_pack("{s:s,s:I,s:[]}", "generation", "8", "since", 7, "changes");
	assert_int_equal(nn_cp_delta_apply(snap, d, NULL, err, sizeof(err)), -EBADMSG);
	json_object_del(snap, "generation");
	json_object_set_new(d, "generation", json_integer(8));
	assert_int_equal(nn_cp_delta_apply(snap, d, NULL, err, sizeof(err)), -EINVAL);
	json_decref(d);
	json_decref(snap);
}

/* nn_cp_dump: the bytes json_dumps(JSON_COMPACT) gives for the example
 * snapshot, and text that reads back equal for strings that need escapes,
 * nesting, every value type and a delta applied. */
static void test_dump(void **state)
{
	/* JSON string bodies (escapes as JSON writes them) */
	static const char *const odd[] = {
		"quote \\\" back \\\\ slash", "tab\\t nl\\n cr\\r",
		"ctl \\u0001 \\u001f",	      "utf-8 \\u00e9 \\u4e2d \\ud83d\\ude00",
		"slash \\/ and \\u2028",      ""
	};
	char *a, *b;
	size_t len, i;
	json_t *j, *back;

	(void)state;
	a = json_dumps(example, JSON_COMPACT);
	b = nn_cp_dump(example, &len);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(len, strlen(b));
	assert_string_equal(a, b);
	free(a);
	free(b);
	j = json_pack("{s:[i,I,b,b,n,{s:[]},[],{}],s:{}}", "vals", 0,
		      (json_int_t)-9007199254740993LL, 1, 0, "e", "empty");
	assert_non_null(j);
	for (i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
		char text[128];
		json_t *s;

		snprintf(text, sizeof(text), "\"%s\"", odd[i]);
		s = json_loads(text, JSON_DECODE_ANY, NULL);
		assert_non_null(s);
		json_object_set_new(j, odd[i], s); /* as key and as value */
	}
	b = nn_cp_dump(j, &len);
	assert_non_null(b);
	back = json_loadb(b, len, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(back);
	assert_true(json_equal(j, back));
	free(b);
	json_decref(back);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_backoff_spreads),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_delta_device),
		cmocka_unit_test(test_delta_kinds),
		cmocka_unit_test(test_delta_refused),
		cmocka_unit_test(test_dump),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
