// SPDX-License-Identifier: GPL-2.0
/*
 * model_fixture.c - the example policy and a fresh reference model per
 * test; see model_fixture.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model_fixture.h"

#define MF_JSON_MAX (1 << 16)

char *mf_json;
struct nn_policy *mf_base;

static char *read_example(void)
{
	static const char *const paths[] = {
		"examples/assignments.json",
		"../examples/assignments.json",
		"../../examples/assignments.json",
	};
	FILE *f = NULL;
	size_t i, n;
	char *buf;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]) && !f; i++)
		f = fopen(paths[i], "r");
	if (!f) {
		fprintf(stderr, "Couldn't find examples/assignments.json\n");
		return NULL;
	}
	buf = calloc(1, MF_JSON_MAX);
	n = buf ? fread(buf, 1, MF_JSON_MAX - 1, f) : 0;
	fclose(f);
	if (buf && !n) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

/* Every validation message is printed: a variant that loses an entry to
 * validation should say so, not just change a verdict. */
static struct nn_policy *parse_json(const char *json)
{
	struct nn_errlist errs = { 0 };
	struct nn_policy *p = NULL;
	size_t i;

	if (nn_policy_parse(json, strlen(json), "gw-fra-1", NULL, &p, &errs))
		p = NULL;
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "policy: %s\n", errs.msgs[i]);
	nn_errlist_free(&errs);
	return p;
}

int mf_group_setup(void **state)
{
	(void)state;
	mf_json = read_example();
	if (!mf_json)
		return -1;
	mf_base = parse_json(mf_json);
	return mf_base ? 0 : -1;
}

int mf_group_teardown(void **state)
{
	(void)state;
	nn_policy_free(mf_base);
	free(mf_json);
	mf_base = NULL;
	mf_json = NULL;
	return 0;
}

int mf_setup(void **state)
{
	struct mf_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->m = nn_model_new(mf_base);
	*state = c;
	return c->m ? 0 : -1;
}

int mf_teardown(void **state)
{
	struct mf_ctx *c = *state;
	size_t i;

	nn_model_free(c->m);
	for (i = 0; i < c->n_var; i++)
		nn_policy_free(c->var[i]);
	free(c);
	return 0;
}

char *mf_edit(const char *json, const char *from, const char *to)
{
	const char *at = strstr(json, from);
	char *out;

	if (!at)
		fail_msg("edit: \"%s\" not in the snapshot", from);
	out = calloc(1, strlen(json) + strlen(to) + 1);
	assert_non_null(out);
	memcpy(out, json, (size_t)(at - json));
	strcat(out, to);
	strcat(out, at + strlen(from));
	return out;
}

struct nn_policy *mf_variant(struct mf_ctx *c, const char *from, const char *to)
{
	char *json = mf_edit(mf_json, from, to);
	struct nn_policy *p;

	assert_true(c->n_var < MF_MAX_VARIANTS);
	p = parse_json(json);
	free(json);
	assert_non_null(p);
	c->var[c->n_var++] = p;
	return p;
}

int32_t mf_rule(const struct nn_policy *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->n_rules; i++)
		if (!strcmp(p->rules[i].id, id))
			return (int32_t)i;
	fail_msg("no rule %s", id);
	return -1;
}

struct nn_model_verdict mf_judge_f(struct nn_model *m, enum nn_dir dir, enum nn_framing framing,
				   const struct pb *b, uint64_t now)
{
	struct nn_model_verdict v;
	uint8_t buf[PB_BUF_LEN];
	size_t len = pb_build(b, buf, sizeof(buf));

	assert_true(len > 0);
	nn_model_judge(m, dir, framing, buf, len, now, &v);
	return v;
}

struct nn_model_verdict mf_judge(struct nn_model *m, enum nn_dir dir, const struct pb *b,
				 uint64_t now)
{
	return mf_judge_f(m, dir, NN_FRAMING_L3, b, now);
}

void mf_expect_at(int line, const struct nn_model_verdict *v, const struct nn_policy *p, int reason,
		  const char *rule)
{
	int32_t want = rule ? mf_rule(p, rule) : -1;

	if (v->reason != reason || v->rule != want || v->untouched)
		fail_msg("line %d: got reason %d rule %d untouched %d, want "
			 "reason %d rule %d",
			 line, v->reason, v->rule, v->untouched, reason, want);
}

struct pb *mf_tcp(struct pb *b, const char *s, const char *d, uint16_t sport, uint16_t dport,
		  uint8_t flags)
{
	return pb_tcp(pb_ip(pb_init(b), s, d), sport, dport, flags);
}

struct pb *mf_udp(struct pb *b, const char *s, const char *d, uint16_t sport, uint16_t dport)
{
	return pb_udp(pb_ip(pb_init(b), s, d), sport, dport);
}

struct pb *mf_echo(struct pb *b, const char *s, const char *d, bool request, uint16_t id)
{
	return pb_echo(pb_ip(pb_init(b), s, d), request, id);
}

struct pb *mf_ex1(struct pb *b)
{
	return mf_tcp(b, ALICE6, DB6, 40000, 5432, PB_TCP_SYN);
}
