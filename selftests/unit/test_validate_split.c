// SPDX-License-Identifier: GPL-2.0
/*
 * policy/validate_split.c: from nn_validate_par_min list elements, the
 * networks' children and ACLs are validated on two threads and the
 * messages merged. Lowered to 0, every snapshot with two networks or more
 * takes that path; the verdict, every message (byte for byte, in order) and
 * the validated policy must be those of the serial walk (the threshold out
 * of reach). Inputs: random valid snapshots (selftests/lib/randpolicy.c),
 * the same with one to three injected validation faults (faults.c), and
 * with random structural edits (a member deleted, a value of another type,
 * an array element duplicated), which reach the drops of whole networks
 * and tenants, unreadable rules and deny rules that reject the snapshot.
 *
 * The same inputs validated from a held document's tree (policy/held.h,
 * nn_held_policy: the daemon's one parse of a fetched snapshot), with its
 * text and without (a document deltas changed: its length counted from
 * the tree): the same verdict, messages and policy, compared after the
 * document is gone (the policy borrows nothing from it). And the limits
 * that the text path judges before any tree: body size and nesting.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "faults.h"
#include "policy/held.h"
#include "policy/policy.h"
#include "randpolicy.h"

struct outcome {
	int err;
	struct nn_errlist errs;
	struct nn_policy *p;
};

static void parse_at(const char *json, size_t par_min, bool fixed, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	nn_validate_par_min = par_min;
	nn_validate_split_fixed = fixed;
	o->err = nn_policy_parse(json, strlen(json), RP_NODE_ID, NULL, &o->p, &o->errs);
	nn_validate_par_min = SIZE_MAX;
	nn_validate_split_fixed = false;
}

static void outcome_free(struct outcome *o)
{
	nn_errlist_free(&o->errs);
	nn_policy_free(o->p);
}

/* memcmp of one element with its pointer members zeroed in both copies
 * (calloc'd slots: padding and string tails are zero in both runs). */
#define SAME_SCALARS(a, b, T, ...)                        \
	do {                                              \
		T x_ = *(a), y_ = *(b);                   \
		__VA_ARGS__;                              \
		assert_memory_equal(&x_, &y_, sizeof(T)); \
	} while (0)

static void same_array(const void *a, const void *b, size_t n, size_t size)
{
	if (n)
		assert_memory_equal(a, b, n * size);
}

static void same_policy(const struct nn_policy *a, const struct nn_policy *b)
{
	size_t i;

	assert_int_equal(a->n_tenants, b->n_tenants);
	assert_int_equal(a->n_networks, b->n_networks);
	assert_int_equal(a->n_users, b->n_users);
	assert_int_equal(a->n_devices, b->n_devices);
	assert_int_equal(a->n_nodes, b->n_nodes);
	assert_int_equal(a->n_resources, b->n_resources);
	assert_int_equal(a->n_rules, b->n_rules);
	assert_int_equal(a->n_closed, b->n_closed);
	same_array(a->tenants, b->tenants, a->n_tenants, sizeof(*a->tenants));
	for (i = 0; i < a->n_devices; i++) {
		SAME_SCALARS(&a->devices[i], &b->devices[i], struct nn_device,
			     x_.pref = y_.pref = NULL);
		assert_int_equal(!a->devices[i].pref, !b->devices[i].pref);
		same_array(a->devices[i].pref, b->devices[i].pref, !!a->devices[i].pref,
			   sizeof(*a->devices[i].pref));
	}
	same_array(a->nodes, b->nodes, a->n_nodes, sizeof(*a->nodes));
	same_array(a->closed, b->closed, a->n_closed, sizeof(*a->closed));
	for (i = 0; i < a->n_networks; i++) {
		SAME_SCALARS(&a->networks[i], &b->networks[i], struct nn_network,
			     x_.gateways = y_.gateways = NULL);
		same_array(a->networks[i].gateways, b->networks[i].gateways,
			   a->networks[i].n_gateways, sizeof(*a->networks[i].gateways));
	}
	for (i = 0; i < a->n_users; i++) {
		SAME_SCALARS(&a->users[i], &b->users[i], struct nn_user,
			     x_.groups = y_.groups = NULL);
		same_array(a->users[i].groups, b->users[i].groups, a->users[i].n_groups,
			   sizeof(*a->users[i].groups));
	}
	for (i = 0; i < a->n_resources; i++) {
		SAME_SCALARS(&a->resources[i], &b->resources[i], struct nn_resource,
			     x_.prefixes = y_.prefixes = NULL);
		same_array(a->resources[i].prefixes, b->resources[i].prefixes,
			   a->resources[i].n_prefixes, sizeof(*a->resources[i].prefixes));
	}
	for (i = 0; i < a->n_rules; i++) {
		const struct nn_rule *x = &a->rules[i], *y = &b->rules[i];

		SAME_SCALARS(x, y, struct nn_rule,
			     x_.src_devices = y_.src_devices = x_.src_grp_devices =
				     y_.src_grp_devices = x_.dst_devices = y_.dst_devices =
					     x_.dst_resources = y_.dst_resources = NULL;
			     x_.dst_prefixes = y_.dst_prefixes = NULL; x_.ports = y_.ports = NULL);
		assert_int_equal(x->src_grp_devices == x->src_devices,
				 y->src_grp_devices == y->src_devices);
		same_array(x->src_devices, y->src_devices, x->n_src_devices,
			   sizeof(*x->src_devices));
		same_array(x->src_grp_devices, y->src_grp_devices, x->n_src_grp_devices,
			   sizeof(*x->src_grp_devices));
		same_array(x->dst_devices, y->dst_devices, x->n_dst_devices,
			   sizeof(*x->dst_devices));
		same_array(x->dst_resources, y->dst_resources, x->n_dst_resources,
			   sizeof(*x->dst_resources));
		same_array(x->dst_prefixes, y->dst_prefixes, x->n_dst_prefixes,
			   sizeof(*x->dst_prefixes));
		same_array(x->ports, y->ports, x->n_ports, sizeof(*x->ports));
	}
}

/* Counts of what the comparisons saw, so the test shows it reached the
 * cases it claims to (and fails when it does not). */
struct tally {
	size_t total, accepted, rejected, with_msgs, msgs;
};

/* The split (@fixed: networks alternating between the threads; else to
 * whichever is free) against the serial walk. */
static void compare_one(const struct outcome *s, const char *json, bool fixed)
{
	struct outcome m;
	size_t i;

	parse_at(json, 0, fixed, &m);
	assert_int_equal(s->err, m.err);
	if (s->errs.n != m.errs.n)
		fail_msg("%zu messages serially, %zu split; first serial: %s", s->errs.n, m.errs.n,
			 s->errs.n ? s->errs.msgs[0] : "-");
	for (i = 0; i < s->errs.n; i++)
		assert_string_equal(s->errs.msgs[i], m.errs.msgs[i]);
	assert_int_equal(!s->p, !m.p);
	if (s->p)
		same_policy(s->p, m.p);
	outcome_free(&m);
}

/* The same outcome as @s? */
static void same_outcome(const struct outcome *s, const struct outcome *m)
{
	size_t i;

	assert_int_equal(s->err, m->err);
	if (s->errs.n != m->errs.n)
		fail_msg("%zu messages from the text, %zu from the tree; first: %s / %s", s->errs.n,
			 m->errs.n, s->errs.n ? s->errs.msgs[0] : "-",
			 m->errs.n ? m->errs.msgs[0] : "-");
	for (i = 0; i < s->errs.n; i++)
		assert_string_equal(s->errs.msgs[i], m->errs.msgs[i]);
	assert_int_equal(!s->p, !m->p);
	if (s->p)
		same_policy(s->p, m->p);
}

/* @json through a held document (with its text: @with_text; else the
 * length from the tree) against nn_policy_parse() of the text the tree
 * gives (@json when @with_text). The document is freed first. */
static void compare_held(const char *json, const struct nn_limits *lim, bool with_text)
{
	struct outcome s = { 0 }, m = { 0 };
	struct nn_held *h;
	char why[256], *text = NULL;
	size_t len = strlen(json);

	if (nn_held_parse(json, len, &h, why, sizeof(why)))
		return; /* not a JSON object: the client refuses it first */
	if (!with_text) {
		text = nn_held_dump(h->d.root, &len);
		assert_non_null(text);
	}
	m.err = nn_held_policy(h, with_text ? json : NULL, with_text ? len : 0, RP_NODE_ID, lim,
			       &m.p, &m.errs);
	/* Anything the policy kept pointing into the tree dies here (ASan:
	 * make san; else garbage in the comparison). */
	memset(h->d.root, 0xa5, sizeof(*h->d.root));
	nn_held_put(h);
	s.err = nn_policy_parse(with_text ? json : text, len, RP_NODE_ID, lim, &s.p, &s.errs);
	same_outcome(&s, &m);
	outcome_free(&s);
	outcome_free(&m);
	free(text);
}

static void compare(const char *json, struct tally *t)
{
	struct outcome s;

	parse_at(json, SIZE_MAX, false, &s);
	compare_one(&s, json, true);
	compare_one(&s, json, false);
	compare_held(json, NULL, true);
	compare_held(json, NULL, false);
	t->total++;
	t->accepted += !s.err;
	t->rejected += s.err == -EINVAL;
	t->with_msgs += s.errs.n > 0;
	t->msgs += s.errs.n;
	outcome_free(&s);
}

/* Every member and element of @v, as (container, key or index) places. */
struct place {
	json_t *parent;
	const char *key; /* NULL: an array element */
	size_t idx;
};

static void collect(json_t *v, struct place **pl, size_t *n, size_t *cap)
{
	const char *k;
	json_t *c;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, c)
		{
			if (*n == *cap) {
				*cap = *cap ? 2 * *cap : 256;
				*pl = realloc(*pl, *cap * sizeof(**pl));
				assert_non_null(*pl);
			}
			(*pl)[(*n)++] = (struct place){ v, k, 0 };
			collect(c, pl, n, cap);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c)
		{
			if (*n == *cap) {
				*cap = *cap ? 2 * *cap : 256;
				*pl = realloc(*pl, *cap * sizeof(**pl));
				assert_non_null(*pl);
			}
			(*pl)[(*n)++] = (struct place){ v, NULL, i };
			collect(c, pl, n, cap);
		}
	}
}

/* One structural edit at a random place of the tenants list. */
static void edit(json_t *root, struct nn_rng *r)
{
	static const char *const strs[] = { "*", "", "deny", "allow", "u0", "x y" };
	struct place *pl = NULL, p;
	size_t n = 0, cap = 0;
	json_t *v, *nv;

	collect(json_object_get(root, "tenants"), &pl, &n, &cap);
	if (!n) {
		free(pl);
		return;
	}
	p = pl[rng_below(r, (uint32_t)n)];
	free(pl);
	v = p.key ? json_object_get(p.parent, p.key) : json_array_get(p.parent, p.idx);
	switch (rng_below(r, 5)) {
	case 0: /* gone */
		if (p.key)
			json_object_del(p.parent, p.key);
		else
			json_array_remove(p.parent, p.idx);
		return;
	case 1: /* another type */
		nv = rng_pct(r, 50) ? json_integer(rng_below(r, 70000)) :
				      json_string(strs[rng_below(r, 6)]);
		break;
	case 2:
		nv = rng_pct(r, 50) ? json_null() : json_array();
		break;
	case 3: /* an element twice (duplicate ids, addresses, keys) */
		if (!p.key) {
			json_array_insert_new(p.parent, p.idx, json_deep_copy(v));
			return;
		}
		nv = json_object();
		break;
	default: /* an element moved to the end of its list */
		if (!p.key) {
			json_array_append(p.parent, v);
			json_array_remove(p.parent, p.idx);
			return;
		}
		nv = json_string(strs[rng_below(r, 6)]);
		break;
	}
	assert_non_null(nv);
	if (p.key)
		json_object_set_new(p.parent, p.key, nv);
	else
		json_array_set_new(p.parent, p.idx, nv);
}

static char *edited(const char *json, struct nn_rng *r, unsigned n)
{
	json_t *root = json_loads(json, 0, NULL);
	char *out;

	assert_non_null(root);
	while (n--)
		edit(root, r);
	out = json_dumps(root, JSON_COMPACT);
	assert_non_null(out);
	json_decref(root);
	return out;
}

static char *faulted(const char *json, struct nn_rng *r, unsigned n)
{
	char *cur = strdup(json);

	assert_non_null(cur);
	while (n--) {
		struct flt_result f = { 0 };

		if (flt_inject(cur, (enum flt_kind)rng_below(r, FLT_COUNT), r, &f))
			continue;
		free(cur);
		cur = f.json;
		f.json = NULL;
		flt_result_free(&f);
	}
	return cur;
}

/* Snapshots compared. Each split validation starts a helper thread, which
 * under ASan (make san) maps and unmaps its shadow stacks: a quarter there,
 * the plain build covering all 400. */
#ifdef __SANITIZE_ADDRESS__
#define N_SNAPSHOTS 100
#else
#define N_SNAPSHOTS 400
#endif

static void test_split_equals_serial(void **state)
{
	struct nn_rng r = { .s = 0x13d5a11d };
	struct tally valid = { 0 }, faults = { 0 }, edits = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < N_SNAPSHOTS; i++) {
		char *json = rp_generate(&r, i + 1), *bad;

		assert_non_null(json);
		compare(json, &valid);
		bad = faulted(json, &r, 1 + rng_below(&r, 3));
		compare(bad, &faults);
		free(bad);
		bad = edited(json, &r, 1 + rng_below(&r, 3));
		compare(bad, &edits);
		free(bad);
		free(json);
	}
	print_message("# valid %zu (%zu accepted); faults %zu (%zu accepted, %zu rejected, "
		      "%zu messages); edits %zu (%zu accepted, %zu rejected, %zu messages)\n",
		      valid.total, valid.accepted, faults.total, faults.accepted, faults.rejected,
		      faults.msgs, edits.total, edits.accepted, edits.rejected, edits.msgs);
	/* The comparisons must have covered drops and rejections both. */
	assert_int_equal(valid.accepted, valid.total);
	assert_true(faults.with_msgs > faults.total / 2);
	assert_true(faults.rejected > 10 && edits.rejected > 10);
	assert_true(edits.accepted > 10 && edits.with_msgs > edits.total / 2);
}

/* Nested @depth deep at "system_defaults" (the root object is 1, the
 * array there 2, each array inside one more). */
static char *nested(const char *json, size_t depth)
{
	json_t *root = json_loads(json, 0, NULL), *v = json_array(), *inner = v;
	char *out;
	size_t i;

	assert_non_null(root);
	for (i = 2; i < depth; i++) {
		json_t *a = json_array();

		json_array_append_new(inner, a);
		inner = a;
	}
	json_object_set_new(root, "system_defaults", v);
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	assert_non_null(out);
	return out;
}

/* What nn_policy_parse() judges on the raw bytes: a held document over the
 * nesting or body limit gets the text's message, byte offset included,
 * with or without its text; at the limit it is validated. */
static void test_held_limits(void **state)
{
	struct nn_rng r = { .s = 0x5eed };
	char *json = rp_generate(&r, 3), *deep;
	struct nn_limits lim;
	struct outcome m = { 0 };
	struct nn_held *h;
	char why[128];
	size_t d;

	(void)state;
	assert_non_null(json);
	nn_limits_default(&lim);
	for (d = lim.max_depth - 1; d <= lim.max_depth + 2; d++) {
		deep = nested(json, d);
		compare_held(deep, &lim, true);
		compare_held(deep, &lim, false);
		/* and the verdict is the limit's */
		assert_int_equal(nn_held_parse(deep, strlen(deep), &h, why, sizeof(why)), 0);
		m.err = nn_held_policy(h, NULL, 0, RP_NODE_ID, &lim, &m.p, &m.errs);
		if (d > lim.max_depth) {
			assert_int_equal(m.err, -EINVAL);
			assert_non_null(strstr(m.errs.msgs[m.errs.n - 1], "JSON nesting deeper"));
		} else {
			assert_true(!m.errs.n ||
				    !strstr(m.errs.msgs[m.errs.n - 1], "JSON nesting deeper"));
		}
		outcome_free(&m);
		memset(&m, 0, sizeof(m));
		nn_held_put(h);
		free(deep);
	}
	/* the body: one byte over, and exactly at the limit; its length the
	 * text's, or counted from the tree (no text) */
	for (d = 0; d < 4; d++) {
		bool text = d < 2;
		size_t len;

		assert_int_equal(nn_held_parse(json, strlen(json), &h, why, sizeof(why)), 0);
		len = strlen(json);
		if (!text)
			assert_int_equal(nn_held_text_len(h->d.root, &len), 0);
		lim.max_body = len - 1 + d % 2;
		compare_held(json, &lim, text);
		m.err = nn_held_policy(h, text ? json : NULL, text ? len : 0, RP_NODE_ID, &lim,
				       &m.p, &m.errs);
		assert_int_equal(m.err, d % 2 ? 0 : -EINVAL);
		if (!(d % 2))
			assert_non_null(strstr(m.errs.msgs[m.errs.n - 1], "exceeds the limit"));
		outcome_free(&m);
		memset(&m, 0, sizeof(m));
		nn_held_put(h);
	}
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_equals_serial),
		cmocka_unit_test(test_held_limits),
	};

	nn_validate_par_min = SIZE_MAX;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
