// SPDX-License-Identifier: GPL-2.0
/*
 * ports.c - one cell protocol's port ranges: split 0-65535 at every
 * rule boundary, give each piece the first (lowest-index) deny and allow
 * rule covering it, merge equal neighbours, keep the pieces some rule covers;
 * then lay them out as map entries: one, or a tree of them for a cell with
 * more than NN_MAX_PORT_RANGES ranges (nanami_abi.h), so that no number of
 * ports or rules is too many.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "lib/u32sort.h"

static int rule_applies(const struct nn_rule_port *r, uint16_t proto)
{
	if (proto == NN_PROTO_ANY)
		return r->proto == NN_PROTO_ANY;
	return r->proto == proto || r->proto == NN_PROTO_ANY;
}

static size_t collect_bounds(const struct nn_rule_ports *rp, const uint32_t *rules, size_t n,
			     uint16_t proto, uint32_t *b)
{
	size_t nb = 0, i, k;

	b[nb++] = 0;
	for (i = 0; i < n; i++) {
		const struct nn_rule_port *r = &rp->r[rules[i]];
		const struct nn_port_span *ps = &rp->spans[r->first];

		if (!rule_applies(r, proto) || r->all_ports || (r->proto != 6 && r->proto != 17))
			continue;
		for (k = 0; k < r->n; k++) {
			b[nb++] = ps[k].lo;
			if (ps[k].hi < 65535)
				b[nb++] = ps[k].hi + 1u;
		}
	}
	return nn_u32_sort_unique(b, nb);
}

/* Index of boundary @x in the sorted @b (every range end is one). */
static size_t bound_index(const uint32_t *b, size_t nb, uint32_t x)
{
	size_t lo = 0, hi = nb;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Give the pieces [@from, @to) that have no rule in @slot yet rule @rule;
 * count in *@full the pieces that now have both a deny and an allow. */
static void fill(uint32_t *slot, const uint32_t *other, size_t from, size_t to, uint32_t rule,
		 size_t *full)
{
	size_t s;

	for (s = from; s < to; s++) {
		if (slot[s] != NN_NONE32)
			continue;
		slot[s] = rule;
		if (other[s] != NN_NONE32)
			(*full)++;
	}
}

int nn_rule_ports_pack(const struct nn_policy *p, struct nn_rule_ports *rp)
{
	size_t i, n = 0;

	for (i = 0; i < p->n_rules; i++)
		n += p->rules[i].n_ports;
	rp->r = malloc((p->n_rules ? p->n_rules : 1) * sizeof(*rp->r));
	rp->spans = malloc((n ? n : 1) * sizeof(*rp->spans));
	if (!rp->r || !rp->spans) {
		nn_rule_ports_free(rp);
		return -ENOMEM;
	}
	for (i = 0, n = 0; i < p->n_rules; i++) {
		const struct nn_rule *r = &p->rules[i];

		rp->r[i] = (struct nn_rule_port){ .first = n,
						  .n = r->n_ports,
						  .proto = r->proto,
						  .action = r->action,
						  .all_ports = r->all_ports };
		if (r->n_ports)
			memcpy(&rp->spans[n], r->ports, r->n_ports * sizeof(*r->ports));
		n += r->n_ports;
	}
	return 0;
}

void nn_rule_ports_free(struct nn_rule_ports *rp)
{
	free(rp->r);
	free(rp->spans);
	rp->r = NULL;
	rp->spans = NULL;
}

int nn_cell_ranges(const struct nn_policy *p, const uint32_t *rules, size_t n_rules, uint16_t proto,
		   struct nn_port_range **out, size_t *n_out)
{
	struct nn_rule_ports rp;
	struct nn_ranges_scratch sc = {};
	struct nn_port_range *r;
	int err;

	*out = NULL;
	*n_out = 0;
	err = nn_rule_ports_pack(p, &rp);
	if (err)
		return err;
	err = nn_cell_ranges_packed(&rp, rules, n_rules, proto, &sc, &r, n_out);
	nn_rule_ports_free(&rp);
	if (!err && r) {
		/* the caller's own copy: the scratch goes */
		*out = malloc(*n_out * sizeof(*r));
		if (*out)
			memcpy(*out, r, *n_out * sizeof(*r));
		else
			err = -ENOMEM;
	}
	nn_ranges_scratch_free(&sc);
	if (err)
		*n_out = 0;
	return err;
}

void nn_ranges_scratch_free(struct nn_ranges_scratch *sc)
{
	free(sc->b);
	free(sc->v);
	memset(sc, 0, sizeof(*sc));
}

/* Room in @sc for @n boundaries. */
static int scratch_reserve(struct nn_ranges_scratch *sc, size_t n)
{
	size_t cap = sc->cap ? sc->cap : 64;
	uint32_t *b;
	struct nn_port_range *v;

	if (n <= sc->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	b = malloc(3 * cap * sizeof(*b));
	/* At most one range per boundary. */
	v = malloc(cap * sizeof(*v));
	if (!b || !v) {
		free(b);
		free(v);
		return -ENOMEM;
	}
	free(sc->b);
	free(sc->v);
	sc->b = b;
	sc->v = v;
	sc->cap = cap;
	return 0;
}

int nn_cell_ranges_packed(const struct nn_rule_ports *rp, const uint32_t *rules, size_t n_rules,
			  uint16_t proto, struct nn_ranges_scratch *sc, struct nn_port_range **out,
			  size_t *n_out)
{
	size_t nports = 1, i, k, s, nb, n = 0, full = 0;
	struct nn_port_range *v;
	uint32_t *b, *deny, *allow;

	*out = NULL;
	*n_out = 0;
	for (i = 0; i < n_rules; i++)
		nports += 2 * rp->r[rules[i]].n;
	/* The boundaries, then per piece between two boundaries its first
	 * deny and first allow rule. */
	if (scratch_reserve(sc, nports))
		return -ENOMEM;
	b = sc->b;
	v = sc->v;
	nb = collect_bounds(rp, rules, n_rules, proto, b);
	deny = b + nports;
	allow = deny + nports;
	memset(deny, 0xff, nb * sizeof(*deny));
	memset(allow, 0xff, nb * sizeof(*allow));
	/* rules[] is in ACL order: the first match is the lowest index, so
	 * each rule fills only the pieces of its ranges still without one,
	 * and once every piece has both, later rules change nothing. Every
	 * range end is a boundary, so a range is a run of whole pieces. */
	for (i = 0; i < n_rules && full < nb; i++) {
		const struct nn_rule_port *r = &rp->r[rules[i]];
		uint32_t *slot, *other;

		if (!rule_applies(r, proto))
			continue;
		if (r->action == NN_ACT_DENY) {
			slot = deny;
			other = allow;
		} else if (r->action == NN_ACT_ALLOW) {
			slot = allow;
			other = deny;
		} else {
			continue;
		}
		/* Ports only constrain TCP/UDP rules; every other rule
		 * covers 0-65535. */
		if (r->all_ports || (r->proto != 6 && r->proto != 17)) {
			fill(slot, other, 0, nb, rules[i], &full);
			continue;
		}
		for (k = 0; k < r->n; k++) {
			const struct nn_port_span *ps = &rp->spans[r->first + k];

			if (ps->lo > ps->hi)
				continue;
			fill(slot, other, bound_index(b, nb, ps->lo),
			     ps->hi >= 65535 ? nb : bound_index(b, nb, ps->hi + 1u), rules[i],
			     &full);
		}
	}

	for (s = 0; s < nb; s++) {
		uint32_t lo = b[s], hi = s + 1 < nb ? b[s + 1] - 1 : 65535;
		struct nn_port_range *last;

		if (deny[s] == NN_NONE32 && allow[s] == NN_NONE32)
			continue;
		last = n ? &v[n - 1] : NULL;
		if (last && last->hi + 1u == lo && last->deny == deny[s] &&
		    last->allow == allow[s]) {
			last->hi = (uint16_t)hi;
			continue;
		}
		v[n].lo = (uint16_t)lo;
		v[n].hi = (uint16_t)hi;
		v[n].deny = deny[s];
		v[n].allow = allow[s];
		n++;
	}
	*out = n ? v : NULL;
	*n_out = n;
	return 0;
}

/* A new entry of the cell @key holding the @n ranges @r, or NULL (full:
 * @max entries, or out of memory). */
static struct nn_cell_ent *new_ent(struct nn_compiled *o, const struct nn_cell_ent *key,
				   uint32_t part, uint32_t index, const struct nn_port_range *r,
				   size_t n, size_t max)
{
	struct nn_cell_ent *ce;

	if (max && o->n_cells >= max)
		return NULL;
	if (nn_grow((void **)&o->cells, o->n_cells, sizeof(*ce)))
		return NULL;
	if (o->n_ranges + n > o->cap_ranges) {
		size_t cap = o->cap_ranges ? 2 * o->cap_ranges : 1024;
		struct nn_port_range *v;

		while (cap < o->n_ranges + n)
			cap *= 2;
		v = realloc(o->ranges, cap * sizeof(*v));
		if (!v)
			return NULL;
		o->ranges = v;
		o->cap_ranges = cap;
	}
	ce = &o->cells[o->n_cells++];
	memset(ce, 0, sizeof(*ce));
	ce->src_class = key->src_class;
	ce->dst_class = key->dst_class;
	ce->proto = key->proto;
	ce->part = part;
	ce->index = index;
	ce->n = (uint16_t)n;
	ce->first = o->n_ranges;
	memcpy(&o->ranges[o->n_ranges], r, n * sizeof(*r));
	o->n_ranges += n;
	return ce;
}

void nn_cell_ent_value(const struct nn_compiled *c, const struct nn_cell_ent *e,
		       struct nn_cell *out)
{
	memset(out, 0, sizeof(*out));
	out->n = e->n;
	out->index = e->index;
	memcpy(out->r, &c->ranges[e->first], e->n * sizeof(out->r[0]));
}

void nn_cell_ent_value4(const struct nn_compiled *c, const struct nn_cell_ent *e,
			struct nn_cell4 *out)
{
	memset(out, 0, sizeof(*out));
	if (!nn_cell_ent_small(e)) {
		out->index = NN_CELL4_BIG;
		return;
	}
	out->n = e->n;
	memcpy(out->r, &c->ranges[e->first], e->n * sizeof(out->r[0]));
}

/*
 * Bottom up: the ranges in leaves of NN_MAX_PORT_RANGES, then index levels
 * of NN_MAX_PORT_RANGES children each, until one entry (the root, part 0)
 * remains. Each level's entries are kept as (lo, hi, part) spans in @lvl;
 * parts are numbered in the order they are made, the root last gets 0.
 */
int nn_cell_emit(struct nn_compiled *o, const struct nn_cell_ent *key,
		 const struct nn_port_range *r, size_t n, size_t max)
{
	const size_t F = NN_MAX_PORT_RANGES;
	struct nn_port_range *lvl = NULL, *up;
	struct nn_cell_ent *ce;
	uint32_t next = 1;
	size_t i, m, depth = 1;
	int index = 0;

	if (!n)
		return 0;
	/* One entry: the cell is its own root (the common case). */
	while (n > F) {
		m = (n + F - 1) / F;
		up = malloc(m * sizeof(*up));
		if (!up) {
			free(lvl);
			return -ENOMEM;
		}
		for (i = 0; i < m; i++) {
			size_t cnt = n - i * F < F ? n - i * F : F;

			const struct nn_port_range *src = (lvl ? lvl : r) + i * F;

			ce = new_ent(o, key, next, (uint32_t)index, src, cnt, max);
			if (!ce) {
				free(up);
				free(lvl);
				return max && o->n_cells >= max ? -E2BIG : -ENOMEM;
			}
			up[i].lo = src[0].lo;
			up[i].hi = src[cnt - 1].hi;
			up[i].deny = next++; /* the child's part */
			up[i].allow = NN_NONE32;
		}
		free(lvl);
		lvl = up;
		n = m;
		index = 1;
		depth++;
	}
	/* NN_CELL_DEPTH levels of NN_MAX_PORT_RANGES hold more than the
	 * 65536 ranges any cell can have. */
	if (depth > NN_CELL_DEPTH) {
		free(lvl);
		return -EOVERFLOW;
	}
	ce = new_ent(o, key, 0, (uint32_t)index, lvl ? lvl : r, n, max);
	free(lvl);
	if (!ce)
		return max && o->n_cells >= max ? -E2BIG : -ENOMEM;
	return 0;
}
