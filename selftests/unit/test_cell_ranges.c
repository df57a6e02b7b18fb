// SPDX-License-Identifier: GPL-2.0
/*
 * compile/ports.c nn_cell_ranges() against a per-port model written from
 * verdicts.md's rule order: for every one of the 65536 ports, the first
 * rule of the cell's list (ACL order) that applies to the protocol and
 * covers the port decides, the first deny and the first allow kept apart;
 * ports only constrain TCP and UDP rules ("any" applies to every protocol;
 * an empty port list matches nothing). The model's per-port answers are
 * merged into maximal ranges of equal (deny, allow) and compared with the
 * compiler's ranges exactly. Random rule lists, many overlapping ranges,
 * all protocols; seeded.
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

#include "compile/compile.h"

#define NRULES 40

static uint32_t rng = 1234567u;

static uint32_t rnd(void)
{
	return nn_xorshift32(&rng);
}

static uint32_t m_deny[65536], m_allow[65536];

static bool applies(const struct nn_rule *r, uint16_t proto)
{
	if (proto == NN_PROTO_ANY)
		return r->proto == NN_PROTO_ANY;
	return r->proto == proto || r->proto == NN_PROTO_ANY;
}

static bool covers(const struct nn_rule *r, uint32_t port)
{
	size_t i;

	if (r->proto != 6 && r->proto != 17)
		return true;
	if (r->all_ports)
		return true;
	for (i = 0; i < r->n_ports; i++)
		if (r->ports[i].lo <= port && port <= r->ports[i].hi)
			return true;
	return false;
}

/* The model's ranges into @out; returns their count. */
static size_t model(const struct nn_policy *p, const uint32_t *rules, size_t n, uint16_t proto,
		    struct nn_port_range *out)
{
	size_t i, m = 0;
	uint32_t port;

	for (port = 0; port < 65536; port++) {
		m_deny[port] = m_allow[port] = NN_NONE32;
		for (i = 0; i < n; i++) {
			const struct nn_rule *r = &p->rules[rules[i]];

			if (!applies(r, proto) || !covers(r, port))
				continue;
			if (r->action == NN_ACT_DENY && m_deny[port] == NN_NONE32)
				m_deny[port] = rules[i];
			if (r->action == NN_ACT_ALLOW && m_allow[port] == NN_NONE32)
				m_allow[port] = rules[i];
		}
	}
	for (port = 0; port < 65536; port++) {
		if (m_deny[port] == NN_NONE32 && m_allow[port] == NN_NONE32)
			continue;
		if (m && out[m - 1].hi + 1u == port && out[m - 1].deny == m_deny[port] &&
		    out[m - 1].allow == m_allow[port]) {
			out[m - 1].hi = (uint16_t)port;
			continue;
		}
		out[m].lo = out[m].hi = (uint16_t)port;
		out[m].deny = m_deny[port];
		out[m].allow = m_allow[port];
		m++;
	}
	return m;
}

static void random_rule(struct nn_rule *r)
{
	static const uint16_t protos[] = { 6, 17, 1, 58, NN_PROTO_ANY };
	size_t k;

	memset(r, 0, sizeof(*r));
	r->proto = protos[rnd() % 5];
	r->action = rnd() % 3 ? NN_ACT_ALLOW : NN_ACT_DENY;
	r->all_ports = rnd() % 6 == 0;
	if (r->all_ports)
		return;
	r->n_ports = rnd() % 5; /* 0: matches nothing (tcp/udp) */
	r->ports = calloc(r->n_ports + 1, sizeof(*r->ports));
	assert_non_null(r->ports);
	for (k = 0; k < r->n_ports; k++) {
		uint32_t lo, len;

		/* Ports cluster so ranges overlap and touch; some reach
		 * 0 or 65535. */
		switch (rnd() % 4) {
		case 0:
			lo = rnd() % 65536;
			len = rnd() % 65536;
			break;
		case 1:
			lo = 65535 - rnd() % 4;
			len = rnd() % 4;
			break;
		default:
			lo = 20 + rnd() % 60;
			len = rnd() % 30;
		}
		r->ports[k].lo = (uint16_t)lo;
		r->ports[k].hi = (uint16_t)(lo + len > 65535 ? 65535 : lo + len);
	}
}

static void test_against_model(void **state)
{
	static const uint16_t cell_protos[] = { 6, 17, 1, 58, NN_PROTO_ANY };
	struct nn_rule rules[NRULES];
	struct nn_policy p = { .rules = rules, .n_rules = NRULES };
	struct nn_port_range *want = malloc(65536 * sizeof(*want)), *got;
	uint32_t list[NRULES];
	size_t round, i, n, nw, ng, checked = 0, nonempty = 0;

	(void)state;
	assert_non_null(want);
	for (round = 0; round < 60; round++) {
		for (i = 0; i < NRULES; i++)
			random_rule(&rules[i]);
		for (i = 0; i < 5; i++) {
			uint16_t proto = cell_protos[i];
			size_t k;

			/* a cell's list: an ascending subset of the rules */
			for (k = 0, n = 0; k < NRULES; k++)
				if (rnd() % 3)
					list[n++] = (uint32_t)k;
			nw = model(&p, list, n, proto, want);
			assert_int_equal(nn_cell_ranges(&p, list, n, proto, &got, &ng), 0);
			if (ng != nw || (nw && memcmp(got, want, nw * sizeof(*want))))
				fail_msg("round %zu proto %u: %zu ranges, model %zu", round, proto,
					 ng, nw);
			free(got);
			checked++;
			nonempty += nw > 0;
		}
		for (i = 0; i < NRULES; i++)
			free(rules[i].ports);
	}
	printf("# %zu cells, %zu with ranges\n", checked, nonempty);
	assert_true(nonempty > checked / 2);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
