// SPDX-License-Identifier: GPL-2.0
/*
 * ports.c - one cell protocol's port ranges: split 0-65535 at every
 * rule boundary, give each piece the first (lowest-index) deny and allow
 * rule covering it, merge equal neighbours, keep the pieces some rule covers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"

static int rule_applies(const struct nn_rule *r, uint16_t proto)
{
	if (proto == NN_PROTO_ANY)
		return r->proto == NN_PROTO_ANY;
	return r->proto == proto || r->proto == NN_PROTO_ANY;
}

/* Ports only constrain TCP/UDP rules; every other rule covers 0-65535. */
static int rule_covers(const struct nn_rule *r, uint32_t port)
{
	size_t i;

	if (r->all_ports || (r->proto != 6 && r->proto != 17))
		return 1;
	for (i = 0; i < r->n_ports; i++)
		if (r->ports[i].lo <= port && port <= r->ports[i].hi)
			return 1;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static size_t collect_bounds(const struct nn_policy *p, const uint32_t *rules, size_t n,
			     uint16_t proto, uint32_t *b)
{
	size_t nb = 0, i, k;

	b[nb++] = 0;
	for (i = 0; i < n; i++) {
		const struct nn_rule *r = &p->rules[rules[i]];

		if (!rule_applies(r, proto) || r->all_ports || (r->proto != 6 && r->proto != 17))
			continue;
		for (k = 0; k < r->n_ports; k++) {
			b[nb++] = r->ports[k].lo;
			if (r->ports[k].hi < 65535)
				b[nb++] = r->ports[k].hi + 1u;
		}
	}
	qsort(b, nb, sizeof(*b), cmp_u32);
	for (i = 1, k = 1; i < nb; i++)
		if (b[i] != b[k - 1])
			b[k++] = b[i];
	return k;
}

int nn_cell_build(const struct nn_policy *p, const uint32_t *rules, size_t n_rules, uint16_t proto,
		  struct nn_cell *cell)
{
	size_t nports = 1, i, s, nb;
	uint32_t *b;
	int err = 0;

	for (i = 0; i < n_rules; i++)
		nports += 2 * p->rules[rules[i]].n_ports;
	b = malloc(nports * sizeof(*b));
	if (!b)
		return -ENOMEM;
	memset(cell, 0, sizeof(*cell));
	nb = collect_bounds(p, rules, n_rules, proto, b);

	for (s = 0; s < nb; s++) {
		uint32_t lo = b[s], hi = s + 1 < nb ? b[s + 1] - 1 : 65535;
		uint32_t deny = NN_NONE32, allow = NN_NONE32;
		struct nn_port_range *last;

		/* rules[] is in ACL order: the first match is the lowest index. */
		for (i = 0; i < n_rules; i++) {
			const struct nn_rule *r = &p->rules[rules[i]];

			if (!rule_applies(r, proto) || !rule_covers(r, lo))
				continue;
			if (r->action == NN_ACT_DENY && deny == NN_NONE32)
				deny = rules[i];
			if (r->action == NN_ACT_ALLOW && allow == NN_NONE32)
				allow = rules[i];
		}
		if (deny == NN_NONE32 && allow == NN_NONE32)
			continue;
		last = cell->n ? &cell->r[cell->n - 1] : NULL;
		if (last && last->hi + 1u == lo && last->deny == deny && last->allow == allow) {
			last->hi = hi;
			continue;
		}
		if (cell->n == NN_MAX_PORT_RANGES) {
			err = -E2BIG;
			break;
		}
		cell->r[cell->n].lo = lo;
		cell->r[cell->n].hi = hi;
		cell->r[cell->n].deny = deny;
		cell->r[cell->n].allow = allow;
		cell->n++;
	}
	free(b);
	return err;
}
