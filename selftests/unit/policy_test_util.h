/* SPDX-License-Identifier: GPL-2.0 */
/*
 * policy_test_util.h - helpers shared by the nn_policy_parse() unit tests
 * (test_policy.c, test_policy_acl.c): load examples/assignments.json, change
 * one field by dotted path, parse, and look for messages.
 *
 * Each test binary is one translation unit, so the helpers are static.
 */
#ifndef NANAMI_POLICY_TEST_UTIL_H
#define NANAMI_POLICY_TEST_UTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/addr.h"
#include "policy/policy.h"

#define NET0 "tenants.0.networks.0"
#define DEV(n) NET0 ".devices." #n
#define ACL(n) NET0 ".acl." #n
#define GLOBEX "tenants.1.networks.0"
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static json_t *example;

static inline json_t *load_example(void)
{
	const char *cands[] = { "examples/assignments.json", "../examples/assignments.json",
				"../../examples/assignments.json",
				"../../../examples/assignments.json" };
	char path[4096];
	const char *src = getenv("NN_SRCDIR");
	json_t *j;
	size_t i;

	if (src) {
		snprintf(path, sizeof(path), "%s/examples/assignments.json", src);
		j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
		if (j)
			return j;
	}
	for (i = 0; i < sizeof(cands) / sizeof(*cands); i++) {
		j = json_load_file(cands[i], JSON_REJECT_DUPLICATES, NULL);
		if (j)
			return j;
	}
	return NULL;
}

static inline int setup(void **state)
{
	(void)state;
	example = load_example();
	return example ? 0 : -1;
}

static inline int teardown(void **state)
{
	(void)state;
	json_decref(example);
	return 0;
}

/* The JSON value at a dotted path ("tenants.0.networks.0"), or NULL. */
static inline json_t *jat(json_t *j, const char *path)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(j))
			j = json_array_get(j, strtoul(tok, NULL, 10));
		else
			j = json_object_get(j, tok);
	}
	return j;
}

/* Set (or, with v NULL, delete) the member at @path; steals @v. */
static inline void jset(json_t *doc, const char *path, json_t *v)
{
	char parent[256], *dot;
	json_t *p;

	snprintf(parent, sizeof(parent), ".%s", path);
	dot = strrchr(parent, '.');
	*dot = '\0';
	p = dot == parent ? doc : jat(doc, parent + 1);
	assert_non_null(p);
	if (json_is_array(p)) {
		if (v)
			assert_int_equal(json_array_set_new(p, strtoul(dot + 1, NULL, 10), v), 0);
		else
			json_array_remove(p, strtoul(dot + 1, NULL, 10));
	} else if (v) {
		assert_int_equal(json_object_set_new(p, dot + 1, v), 0);
	} else {
		json_object_del(p, dot + 1);
	}
}

static inline void jappend(json_t *doc, const char *path, json_t *v)
{
	json_t *a = jat(doc, path);

	assert_true(json_is_array(a));
	json_array_append_new(a, v);
}

static inline json_t *jparse(const char *s)
{
	json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	return v;
}

static inline json_t *doc(void)
{
	return json_deep_copy(example);
}

struct res {
	int err;
	struct nn_policy *p;
	struct nn_errlist e;
};

static inline void run_lim(json_t *d, const char *node, const struct nn_limits *l, struct res *r)
{
	char *s = json_dumps(d, 0);

	assert_non_null(s);
	memset(r, 0, sizeof(*r));
	r->err = nn_policy_parse(s, strlen(s), node, l, &r->p, &r->e);
	free(s);
	json_decref(d);
	if (r->err)
		assert_null(r->p);
	else
		assert_non_null(r->p);
}

static inline void run(json_t *d, struct res *r)
{
	run_lim(d, "gw-fra-1", NULL, r);
}

static inline void run_raw(const char *s, size_t len, const struct nn_limits *l, struct res *r)
{
	memset(r, 0, sizeof(*r));
	r->err = nn_policy_parse(s, len, "gw-fra-1", l, &r->p, &r->e);
}

static inline void done(struct res *r)
{
	nn_policy_free(r->p);
	nn_errlist_free(&r->e);
}

/* Some message contains every one of the NULL-terminated substrings. */
static inline bool has_msg(const struct res *r, ...)
{
	size_t i;

	for (i = 0; i < r->e.n; i++) {
		va_list ap;
		const char *s;
		bool all = true;

		va_start(ap, r);
		while ((s = va_arg(ap, const char *)))
			if (!strstr(r->e.msgs[i], s))
				all = false;
		va_end(ap);
		if (all)
			return true;
	}
	for (i = 0; i < r->e.n; i++)
		print_message("  msg[%zu]: %s\n", i, r->e.msgs[i]);
	return false;
}

static inline const char *last_msg(const struct res *r)
{
	return r->e.n ? r->e.msgs[r->e.n - 1] : "";
}

static inline void expect_reject(struct res *r, const char *what)
{
	assert_int_equal(r->err, -EINVAL);
	if (!strstr(last_msg(r), what) || strncmp(last_msg(r), "snapshot rejected", 17))
		fail_msg("last message \"%s\" lacks \"%s\"", last_msg(r), what);
	done(r);
}

static inline int dev(const struct nn_policy *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->n_devices; i++)
		if (!strcmp(p->devices[i].id, id))
			return (int)i;
	return -1;
}

static inline int rule(const struct nn_policy *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->n_rules; i++)
		if (!strcmp(p->rules[i].id, id))
			return (int)i;
	return -1;
}

#endif /* NANAMI_POLICY_TEST_UTIL_H */
