// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: untrusted snapshot bytes through the parser, the
 * validator, the routing resolution and the compiler. Built with ASan and
 * UBSan; any crash, leak or undefined behaviour is a finding.
 *
 *	make fuzz FUZZ_SECONDS=600      # as long as asked
 *	make test                       # a bounded run (FUZZ_SECONDS, default 20)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "policy/held.h"
#include "policy/jdoc.h"
#include "policy/policy.h"

/* The JSON tree parsed in two halves (jdoc.c) and serially: the same
 * verdict, message, offset and tree, or abort (a finding). */
static bool jv_same(const struct nn_jv *a, const struct nn_jv *b)
{
	uint32_t i;

	if (a->type != b->type || a->n != b->n)
		return false;
	if (a->type == NN_JV_OBJECT || a->type == NN_JV_ARRAY) {
		for (i = 0; i < a->n; i++)
			if (!a->u.m[i].key != !b->u.m[i].key ||
			    (a->u.m[i].key && strcmp(a->u.m[i].key, b->u.m[i].key)) ||
			    !jv_same(&a->u.m[i].v, &b->u.m[i].v))
				return false;
		return true;
	}
	if (a->type == NN_JV_STRING)
		return !memcmp(a->u.s, b->u.s, a->n + 1);
	if (a->type == NN_JV_INTEGER)
		return a->u.i == b->u.i;
	if (a->type == NN_JV_REAL)
		return !memcmp(&a->u.r, &b->u.r, sizeof(a->u.r));
	return true;
}

static void split_check(const char *s, size_t len)
{
	struct nn_jdoc d1, d2;
	char e1[160], e2[160];
	size_t at1, at2;
	int r1, r2;

	nn_jdoc_split_min = 16;
	r1 = nn_jdoc_parse(s, len, 32, &d1, e1, sizeof(e1), &at1);
	nn_jdoc_split_min = SIZE_MAX;
	r2 = nn_jdoc_parse(s, len, 32, &d2, e2, sizeof(e2), &at2);
	if (r1 != r2 || (r1 && (strcmp(e1, e2) || at1 != at2)) ||
	    (!r1 && !jv_same(d1.root, d2.root)))
		abort();
	nn_jdoc_free(&d1);
	nn_jdoc_free(&d2);
}

/* Two validations of the same input: the same verdict and the same
 * messages in the same order, or abort (frees both). */
static void same_or_abort(int r1, struct nn_errlist *e1, struct nn_policy *p1, int r2,
			  struct nn_errlist *e2, struct nn_policy *p2);

/* Validation on two threads (validate_split.c, every network a job of its
 * own, alternating between the threads) against the serial walk. */
static void validate_split_check(const char *s, size_t len, const struct nn_limits *lim)
{
	struct nn_errlist e1 = {}, e2 = {};
	struct nn_policy *p1 = NULL, *p2 = NULL;
	int r1, r2;

	nn_validate_par_min = 0;
	nn_validate_split_fixed = true;
	r1 = nn_policy_parse(s, len, NULL, lim, &p1, &e1);
	nn_validate_par_min = SIZE_MAX;
	nn_validate_split_fixed = false;
	r2 = nn_policy_parse(s, len, NULL, lim, &p2, &e2);
	same_or_abort(r1, &e1, p1, r2, &e2, p2);
}

/* The held document's tree validated where it is (held_policy.c: the
 * daemon's one parse of a fetched snapshot) against the text's parse. */
static void held_check(const char *s, size_t len, const struct nn_limits *lim)
{
	struct nn_errlist e1 = {}, e2 = {};
	struct nn_policy *p1 = NULL, *p2 = NULL;
	struct nn_held *h;
	char why[256];
	int r1, r2;

	if (nn_held_parse(s, len, &h, why, sizeof(why)))
		return; /* the client refuses it before any validation */
	r1 = nn_held_policy(h, s, len, NULL, lim, &p1, &e1);
	nn_held_put(h);
	r2 = nn_policy_parse(s, len, NULL, lim, &p2, &e2);
	same_or_abort(r1, &e1, p1, r2, &e2, p2);
}

static void same_or_abort(int r1, struct nn_errlist *e1, struct nn_policy *p1, int r2,
			  struct nn_errlist *e2, struct nn_policy *p2)
{
	size_t i;

	if (r1 != r2 || e1->n != e2->n || !p1 != !p2 ||
	    (p1 && (p1->n_devices != p2->n_devices || p1->n_rules != p2->n_rules ||
		    p1->n_closed != p2->n_closed)))
		abort();
	for (i = 0; i < e1->n; i++)
		if (strcmp(e1->msgs[i], e2->msgs[i]))
			abort();
	nn_policy_free(p1);
	nn_policy_free(p2);
	nn_errlist_free(e1);
	nn_errlist_free(e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nn_errlist errs = {};
	struct nn_compiled c = {};
	struct nn_policy *p = NULL;
	struct nn_limits lim;
	struct nn_slots slots = {};
	size_t i;

	split_check((const char *)data, size);
	nn_limits_default(&lim);
	/* Small maxima keep each input fast; the bounds themselves are part
	 * of what is being tested. */
	lim.max_body = 1 << 20;
	lim.max_devices = 4096;
	lim.max_rules = 4096;
	lim.max_prefixes = 8192;
	validate_split_check((const char *)data, size, &lim);
	held_check((const char *)data, size, &lim);
	if (nn_policy_parse((const char *)data, size, NULL, &lim, &p, &errs) == 0) {
		slots.dev = calloc(p->n_devices + 1, sizeof(uint32_t));
		slots.node = calloc(p->n_nodes + 1, sizeof(uint32_t));
		slots.rule = calloc(p->n_rules + 1, sizeof(uint32_t));
		if (slots.dev && slots.node && slots.rule) {
			for (i = 0; i < p->n_devices; i++)
				slots.dev[i] = i;
			for (i = 0; i < p->n_nodes; i++)
				slots.node[i] = p->n_devices + i;
			for (i = 0; i < p->n_rules; i++)
				slots.rule[i] = i;
			if (!nn_compile(p, &slots, &(struct nn_compile_caps){ .max_cells = 65536 },
					&c, &errs))
				nn_compiled_free(&c);
		}
		free(slots.dev);
		free(slots.node);
		free(slots.rule);
		nn_policy_free(p);
	}
	nn_errlist_free(&errs);
	return 0;
}
