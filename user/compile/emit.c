// SPDX-License-Identifier: GPL-2.0
/*
 * emit.c - the compiler's last step for the ACL: every (source class,
 * destination class) cell of the cell table, per protocol its rules have,
 * as port ranges (compile/ports.c) in nn_compiled.cells and .ranges.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_int.h"
#include "lib/thread.h"

static int emit_cell(const struct nn_rule_ports *rp, struct nn_ranges_scratch *sc,
		     struct nn_compiled *out, const struct cell_key *ck, const struct vec *rules,
		     uint16_t proto, size_t max_cells)
{
	struct nn_cell_ent key = { .src_class = ck->src, .dst_class = ck->dst, .proto = proto };
	struct nn_port_range *r;
	size_t n;
	int err;

	err = nn_cell_ranges_packed(rp, rules->v, rules->n, proto, sc, &r, &n);
	if (!err)
		err = nn_cell_emit(out, &key, r, n, max_cells);
	return err;
}

/* What nn_cell_ranges_packed() reads of a cell's rules (the packed rule
 * and its ports), fetched ahead. */
static void prefetch_rules(const struct nn_rule_ports *rp, const struct vec *rules)
{
	size_t k;

	for (k = 0; k < rules->n && k < 8; k++) {
		const struct nn_rule_port *r = &rp->r[rules->v[k]];

		__builtin_prefetch(r);
		__builtin_prefetch(&rp->spans[r->first]);
	}
}

/* The cells of table slots [@from, @to) into @out, in slot order. */
struct emit_job {
	struct nn_table *cells;
	const struct nn_rule_ports *rp; /* the rules, packed */
	size_t from, to, max_cells;
	struct nn_compiled *out;
	int err;
};

static int emit_range(const struct emit_job *j)
{
	struct nn_table *t = j->cells;
	struct nn_ranges_scratch sc = {}; /* one per thread, for all its cells */
	uint8_t seen[256] = {}, done[256];
	size_t i, k, m, n_done;
	int err = 0;

	for (i = j->from; i < j->to && !err; i++) {
		const struct nn_tentry *e = &t->e[i];
		struct vec *rules;
		int any = 0;

		/* The cells are visited in hash order, each a jump to its
		 * rule list (the table's value, then the vector it holds): two
		 * cache misses per cell at 100k rules, fetched ahead here. */
		if (i + 16 < t->cap && t->e[i + 16].used)
			__builtin_prefetch(t->e[i + 16].val);
		if (i + 8 < t->cap && t->e[i + 8].used)
			__builtin_prefetch(((const struct vec *)t->e[i + 8].val)->v);
		if (i + 4 < t->cap && t->e[i + 4].used)
			prefetch_rules(j->rp, t->e[i + 4].val);
		if (!e->used)
			continue;
		rules = e->val;
		n_done = 0;
		for (k = 0; k < rules->n && !err; k++) {
			uint16_t pr = j->rp->r[rules->v[k]].proto;

			if (pr == NN_PROTO_ANY) {
				any = 1;
				continue;
			}
			if (seen[pr])
				continue;
			seen[pr] = 1;
			done[n_done++] = (uint8_t)pr;
			err = emit_cell(j->rp, &sc, j->out, e->key, rules, pr, j->max_cells);
		}
		/* Only the marks this cell set are cleared (not 256 bytes). */
		for (m = 0; m < n_done; m++)
			seen[done[m]] = 0;
		if (any && !err)
			err = emit_cell(j->rp, &sc, j->out, e->key, rules, NN_PROTO_ANY,
					j->max_cells);
		/* The rule list is spent (after this only the cell's key is
		 * asked for: nn_c_cell_exists): freed here while warm, by the
		 * thread that filled it, not in a pass of cache misses at the
		 * end (~260k lists at 100k devices). */
		free(rules->v);
		*rules = (struct vec){};
	}
	nn_ranges_scratch_free(&sc);
	return err;
}

static void *emit_job_run(void *arg)
{
	struct emit_job *j = arg;

	j->err = emit_range(j);
	return NULL;
}

static void drop(struct nn_compiled *t)
{
	free(t->cells);
	free(t->ranges);
	t->cells = NULL;
	t->ranges = NULL;
}

/* @t's cells and ranges appended to @o's (each cell's first range moved
 * by @o's ranges), @t freed. The cell array keeps the capacity nn_grow()
 * implies for its count (the next power of two, at least 16). */
static int append_cells(struct nn_compiled *o, struct nn_compiled *t, size_t max_cells)
{
	size_t n = o->n_cells + t->n_cells, cap = 16, i;
	struct nn_cell_ent *c;
	int err = 0;

	if (max_cells && n > max_cells) {
		err = -E2BIG;
		goto out;
	}
	if (!t->n_cells)
		goto out;
	while (cap < n)
		cap *= 2;
	c = realloc(o->cells, cap * sizeof(*c));
	if (!c) {
		err = -ENOMEM;
		goto out;
	}
	o->cells = c;
	if (o->n_ranges + t->n_ranges > o->cap_ranges) {
		struct nn_port_range *r =
			realloc(o->ranges, (o->n_ranges + t->n_ranges) * sizeof(*r));

		if (!r) {
			err = -ENOMEM;
			goto out;
		}
		o->ranges = r;
		o->cap_ranges = o->n_ranges + t->n_ranges;
	}
	memcpy(o->ranges + o->n_ranges, t->ranges, t->n_ranges * sizeof(*t->ranges));
	for (i = 0; i < t->n_cells; i++) {
		c[o->n_cells + i] = t->cells[i];
		c[o->n_cells + i].first += o->n_ranges;
	}
	o->n_cells = n;
	o->n_ranges += t->n_ranges;
out:
	drop(t);
	return err;
}

/* From this many cells, the second cell table (compile.c: the source
 * classes with the lowest bit set) is emitted by a helper thread into
 * arrays of its own, appended after the first table's: the same cells in
 * the same order (the ranges of ~260k cells at 100k devices, a third of
 * the compile). Tests lower it. */
size_t nn_compile_emit_par_min = 16384;

int nn_c_emit_cells(struct cstate *s, size_t max_cells,
		    int (*also)(struct cstate *s, const void *arg), const void *arg)
{
	/* Each rule's protocol, action and ports, packed: the scan reads the
	 * protocol of every rule of every cell, nn_cell_ranges the rest, and
	 * from the 200-byte struct nn_rule and its own port list that was a
	 * cache miss or two each at 100k rules (most of this function's
	 * time). */
	struct nn_rule_ports rp;
	struct nn_compiled second = {};
	struct emit_job j = { .cells = &s->cells[0],
			      .rp = &rp,
			      .to = s->cells[0].cap,
			      .max_cells = max_cells,
			      .out = s->out },
			h = j;
	bool par = false;
	pthread_t t;
	int err, also_err = 0;

	err = nn_rule_ports_pack(s->p, &rp);
	if (err)
		return err;
	h.cells = &s->cells[1];
	h.to = s->cells[1].cap;
	if (s->cells[0].n + s->cells[1].n >= nn_compile_emit_par_min) {
		h.out = &second;
		par = nn_thread_start(&t, emit_job_run, &h);
		if (!par)
			h.out = s->out;
	}
	err = emit_range(&j);
	if (par) {
		if (!err && also)
			also_err = also(s, arg);
		pthread_join(t, NULL);
		/* The first table's error is the one a serial pass met first. */
		err = err ?: h.err;
		if (!err)
			err = append_cells(s->out, &second, max_cells);
		else
			drop(&second);
		err = err ?: also_err;
	} else {
		if (!err)
			err = emit_range(&h);
		if (!err && also)
			err = also(s, arg);
	}
	nn_rule_ports_free(&rp);
	/* A capacity of the whole generation: no one rule is to blame. */
	if (err == -E2BIG)
		nn_errlist_add(s->errs,
			       "policy too large: the compiled ACL needs more than %zu policy "
			       "map entries (cells and their port-range trees); raise "
			       "--max-cells",
			       max_cells);
	return err;
}
