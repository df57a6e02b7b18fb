// SPDX-License-Identifier: GPL-2.0
/* want.c - what an apply wants in the maps: the tables of each policy map's
 * entries (apply_int.h) built from the compiled policy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "dp/apply.h"
#include "dp/apply_int.h"
#include "lib/thread.h"

static int want_put(struct nn_ftab *t, int set, void *key, const void *val)
{
	nn_set_key_reslot(set, key, 0);
	return nn_ftab_put(t, key, val);
}

/* How many entries ahead build_want() hints the index slot of the key it
 * will put (nn_ftab_prefetch): enough to cover a miss, few enough that
 * the line is still there when the put comes. */
#define WANT_AHEAD 8

void nn_cell_key_of(const struct nn_cell_ent *e, struct nn_cell_key *k)
{
	memset(k, 0, sizeof(*k)); /* whole keys are hashed and written */
	k->src_class = e->src_class;
	k->dst_class = e->dst_class;
	k->proto = e->proto;
	k->part = e->part;
}

/* The table an entry of the cells goes to first: nn_cells4 for a root. */
static void cells_ahead(struct nn_ftab *want, const struct nn_compiled *c, size_t i)
{
	struct nn_cell_key k;

	if (i >= c->n_cells)
		return;
	nn_cell_key_of(&c->cells[i], &k);
	nn_ftab_prefetch(&want[c->cells[i].part ? SET_CELLS : SET_CELLS4], &k);
}

/* The cells, split between the two maps (nanami_abi.h "Small cells"):
 * every root in nn_cells4, whole when small, else as a marker; the big
 * cells and their trees in nn_policy, and with @compat the small ones too
 * (programs of an older build still attached read only nn_policy). */
int nn_ap_want_cells(struct nn_ftab *want, const struct nn_compiled *c, bool compat)
{
	struct nn_cell big;
	size_t i;
	int err = 0;

	for (i = 0; i < c->n_cells && !err; i++) {
		const struct nn_cell_ent *e = &c->cells[i];
		struct nn_cell_key k;

		nn_cell_key_of(e, &k);
		cells_ahead(want, c, i + WANT_AHEAD);
		if (!e->part) {
			struct nn_cell4 small;

			nn_cell_ent_value4(c, e, &small);
			err = want_put(&want[SET_CELLS4], SET_CELLS4, &k, &small);
			if (err || (nn_cell_ent_small(e) && !compat))
				continue;
		}
		nn_cell_ent_value(c, e, &big);
		err = want_put(&want[SET_CELLS], SET_CELLS, &k, &big);
	}
	return err;
}

void nn_prefix_keys_of(const struct nn_prefix_ent *e, struct nn_prefix_key *k,
		       struct nn_pfx_key *hk)
{
	memset(k, 0, sizeof(*k)); /* whole keys are hashed and written */
	memset(hk, 0, sizeof(*hk));
	k->prefixlen = NN_SCOPE_BITS + e->pfx.len;
	k->scope = NN_SCOPE(0, e->net);
	hk->scope = NN_SCOPE(0, e->net);
	hk->len = e->pfx.len;
	memcpy(k->addr, e->pfx.addr, NN_ADDR_LEN);
	memcpy(hk->addr, e->pfx.addr, NN_ADDR_LEN);
}

/* The addresses and prefixes of @c into @want (the cells: nn_ap_want_cells). */
int nn_ap_want_addrs(struct nn_ftab *want, const struct nn_compiled *c)
{
	size_t i;
	int err = 0;

	for (i = 0; i < c->n_addrs && !err; i++) {
		struct nn_addr_key k = { .slot = 0 };

		if (i + WANT_AHEAD < c->n_addrs) {
			memcpy(k.addr, c->addrs[i + WANT_AHEAD].addr, NN_ADDR_LEN);
			nn_ftab_prefetch(&want[SET_ADDRS], &k);
		}
		memcpy(k.addr, c->addrs[i].addr, NN_ADDR_LEN);
		err = want_put(&want[SET_ADDRS], SET_ADDRS, &k, &c->addrs[i].info);
	}
	for (i = 0; i < c->n_prefixes && !err; i++) {
		struct nn_prefix_key k;
		struct nn_pfx_key hk;

		if (i + WANT_AHEAD < c->n_prefixes) {
			nn_prefix_keys_of(&c->prefixes[i + WANT_AHEAD], &k, &hk);
			nn_ftab_prefetch(&want[SET_PREFIXES], &k);
			nn_ftab_prefetch(&want[SET_PFX_HASH], &hk);
		}
		nn_prefix_keys_of(&c->prefixes[i], &k, &hk);
		err = want_put(&want[SET_PREFIXES], SET_PREFIXES, &k, &c->prefixes[i].info);
		if (!err)
			err = want_put(&want[SET_PFX_HASH], SET_PFX_HASH, &hk,
				       &c->prefixes[i].info);
	}
	for (i = 0; i < c->n_lens && !err; i++) {
		struct nn_pfx_lens_key k = { .scope = NN_SCOPE(0, c->lens[i].net) };

		err = want_put(&want[SET_PFX_LENS], SET_PFX_LENS, &k, &c->lens[i].lens);
	}
	return err;
}

/* From this many cells, build_want() fills the cells' tables on a helper
 * thread while this one fills the rest (each table is one thread's; at 1M
 * devices the cells are 2.6M of the 4.9M entries). */
size_t nn_apply_want_par_min = 16384;

struct cells_job {
	struct nn_ftab *want;
	const struct nn_compiled *c;
	bool compat;
	int err;
};

static void *cells_job_run(void *arg)
{
	struct cells_job *j = arg;

	j->err = nn_ap_want_cells(j->want, j->c, j->compat);
	return NULL;
}

int nn_ap_want_reserve(struct nn_ftab *want, const struct nn_compiled *c)
{
	/* Every count is known: no table rehashes or copies as it fills.
	 * The big cells' count is not (a cell's size decides), so nn_policy's
	 * table grows; it holds few. */
	return nn_ftab_reserve(&want[SET_ADDRS], c->n_addrs)		   ?:
		       nn_ftab_reserve(&want[SET_PREFIXES], c->n_prefixes) ?:
		       nn_ftab_reserve(&want[SET_PFX_HASH], c->n_prefixes) ?:
		       nn_ftab_reserve(&want[SET_PFX_LENS], c->n_lens)	   ?:
		       nn_ftab_reserve(&want[SET_CELLS4], c->n_cells);
}

int nn_ap_build_want(struct nn_ftab *want, const struct nn_compiled *c, bool compat)
{
	struct cells_job j = { .want = want, .c = c, .compat = compat };
	bool par = false;
	pthread_t t;
	int err;

	err = nn_ap_want_reserve(want, c);
	if (err)
		return err;
	if (c->n_cells >= nn_apply_want_par_min)
		par = nn_thread_start(&t, cells_job_run, &j);
	err = nn_ap_want_addrs(want, c);
	if (par)
		pthread_join(t, NULL);
	else if (!err)
		j.err = nn_ap_want_cells(want, c, compat);
	return err ?: j.err;
}

void nn_ap_drop_addrs(struct nn_compiled *c)
{
	free(c->addrs);
	free(c->prefixes);
	free(c->lens);
	c->addrs = NULL;
	c->prefixes = NULL;
	c->lens = NULL;
}

void nn_ap_drop_cells(struct nn_compiled *c)
{
	free(c->cells);
	free(c->ranges);
	c->cells = NULL;
	c->ranges = NULL;
}
