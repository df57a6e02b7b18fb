// SPDX-License-Identifier: GPL-2.0
/* srcfilter.c - see srcfilter.h; the layout is nanami_abi.h "Source filter". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "compile/delta.h"
#include "dp/batch.h"
#include "dp/srcfilter.h"
#include "lib/log.h"

/* Lines per half, 0 when there is no filter to keep. */
static uint32_t lines_of(const struct nn_dp *dp)
{
	return dp->map_fd[NN_M_SRCF] < 0 ? 0 : nn_srcf_lines_for(&dp->opts.cap);
}

static uint32_t half_base(uint32_t lines, uint32_t slot)
{
	return (slot & 1) * (lines + 1);
}

/* A key's line hash and bit hash (nanami_abi.h "Source filter"): @set is
 * SET_ADDRS or SET_CELLS4, @key its record's key (slot 0). */
static void place(int set, const void *key, uint64_t *line_h, uint64_t *bits_h)
{
	if (set == SET_ADDRS) {
		*line_h = nn_srcf_hash(((const struct nn_addr_key *)key)->addr);
		*bits_h = *line_h;
	} else {
		const struct nn_cell_key *k = key;

		*line_h = nn_cellf_hash(k->src_class, k->dst_class);
		*bits_h = nn_cellf_bits(*line_h, k->proto);
	}
}

static uint32_t line_idx(uint32_t lines, uint64_t line_h)
{
	return (uint32_t)(line_h >> 32) & (lines - 1);
}

static void set_bits(struct nn_srcf_line *l, uint64_t h)
{
	uint32_t b[NN_SRCF_K] = { h & 511, (h >> 9) & 511, (h >> 18) & 511 }, i;

	for (i = 0; i < NN_SRCF_K; i++)
		l->w[b[i] >> 6] |= 1ull << (b[i] & 63);
}

static int line_get(int fd, uint32_t key, struct nn_srcf_line *l)
{
	return bpf_map_lookup_elem(fd, &key, l) ? -errno : 0;
}

static int line_put(int fd, uint32_t key, const struct nn_srcf_line *l, size_t *writes)
{
	if (bpf_map_update_elem(fd, &key, l, BPF_ANY))
		return -errno;
	(*writes)++;
	return 0;
}

int nn_srcf_begin(struct nn_dp *dp, uint32_t slot, uint32_t covered, bool adds,
		  struct nn_srcf_op *op, size_t *writes)
{
	uint32_t lines = lines_of(dp), key = half_base(lines, slot);
	struct nn_srcf_line h;
	int err;

	memset(op, 0, sizeof(*op));
	if (!lines)
		return 0;
	err = line_get(dp->map_fd[NN_M_SRCF], key, &h);
	if (err)
		return err;
	op->inc = h.w[0] == NN_SRCF_STAMP(covered);
	op->added = h.w[1];
	op->stamp = h.w[0];
	/* Writes that only change values or delete keep the filter covering
	 * the half at every step: the stamp may stay (it names an epoch this
	 * half is not going live at, so the programs skip it until sealed). */
	if (!h.w[0] || (op->inc && !adds))
		return 0;
	h.w[0] = 0;
	op->stamp = 0;
	return line_put(dp->map_fd[NN_M_SRCF], key, &h, writes);
}

/* The two maps whose keys the filter holds, in a record's set order. */
static const int kept_sets[2] = { SET_ADDRS, SET_CELLS4 };

/* Keys of @want (a record of set @set) that @have lacks. */
static size_t new_keys(const struct nn_ftab *want, const struct nn_ftab *have)
{
	size_t i, n = 0;

	for (i = 0; i < want->n; i++)
		n += nn_ftab_find(have, nn_ftab_key(want, i)) < 0;
	return n;
}

int nn_srcf_begin_diff(struct nn_dp *dp, uint32_t slot, uint32_t covered,
		       const struct nn_ftab *want_addrs, const struct nn_ftab *want_cells,
		       const struct nn_apply_cache *c, struct nn_srcf_op *op, size_t *writes)
{
	size_t n = new_keys(want_addrs, &c->have[SET_ADDRS][slot & 1]) +
		   new_keys(want_cells, &c->have[SET_CELLS4][slot & 1]);

	return nn_srcf_begin(dp, slot, covered, n > 0, op, writes);
}

/* The whole half from the keys of @t[0] (nn_addrs) and @t[1] (nn_cells4):
 * one batch. */
static int build(struct nn_dp *dp, uint32_t lines, uint32_t slot, const struct nn_ftab *const t[2],
		 size_t *writes)
{
	struct nn_srcf_line *buf = calloc(lines, sizeof(*buf));
	uint32_t *keys = malloc(lines * sizeof(*keys)), base = half_base(lines, slot), i;
	int err = 0, k;

	if (!buf || !keys) {
		err = -ENOMEM;
		goto out;
	}
	for (k = 0; k < 2; k++)
		for (i = 0; i < t[k]->n; i++) {
			uint64_t lh, bh;

			place(kept_sets[k], nn_ftab_key(t[k], i), &lh, &bh);
			set_bits(&buf[line_idx(lines, lh)], bh);
		}
	for (i = 0; i < lines; i++)
		keys[i] = base + 1 + i;
	err = nn_map_update_many(dp->map_fd[NN_M_SRCF], keys, sizeof(*keys), buf, sizeof(*buf),
				 lines);
	if (!err)
		*writes += lines;
out:
	free(buf);
	free(keys);
	return err;
}

/* One key into the half: its line read, or'ed and written back. */
static int add_one(struct nn_dp *dp, uint32_t lines, uint32_t slot, int set, const void *key,
		   size_t *writes)
{
	uint64_t lh, bh;
	struct nn_srcf_line l, was;
	uint32_t idx;
	int err;

	place(set, key, &lh, &bh);
	idx = half_base(lines, slot) + 1 + line_idx(lines, lh);
	err = line_get(dp->map_fd[NN_M_SRCF], idx, &l);
	if (err)
		return err;
	was = l;
	set_bits(&l, bh);
	if (!memcmp(&l, &was, sizeof(l)))
		return 0;
	return line_put(dp->map_fd[NN_M_SRCF], idx, &l, writes);
}

static int seal(struct nn_dp *dp, uint32_t lines, uint32_t slot, const struct nn_srcf_op *op,
		uint32_t epoch, uint64_t added, size_t *writes)
{
	struct nn_srcf_line h = { .w = { NN_SRCF_STAMP(epoch), added } };

	if (op->stamp == h.w[0] && op->added == added)
		return 0; /* as it was (an idle sync that added nothing) */
	return line_put(dp->map_fd[NN_M_SRCF], half_base(lines, slot), &h, writes);
}

/* Adding beats a rebuild for a few addresses; past a quarter of the lines
 * the rebuild's one batch is cheaper, and once the half was given twice
 * the addresses it holds, deleted ones' bits are cleared by a rebuild. */
static bool rebuild_due(const struct nn_srcf_op *op, uint32_t lines, size_t n_new, size_t n_have)
{
	return !op->inc || n_new > lines / 4 || op->added + n_new > 2 * (uint64_t)n_have + 1024;
}

static int finished(int err, uint32_t slot)
{
	/* The half stays unstamped: the programs look every address up, as
	 * without the filter. Nothing to undo. */
	if (err)
		nn_log_warn("event=srcf slot=%u error=\"couldn't write the source filter: %s (the "
			    "programs look every address up)\"",
			    slot, strerror(-err));
	return err;
}

int nn_srcf_finish(struct nn_dp *dp, uint32_t slot, const struct nn_srcf_op *op,
		   const struct nn_ftab *want_addrs, const struct nn_ftab *want_cells,
		   const struct nn_apply_cache *c, uint32_t epoch, size_t *writes)
{
	const struct nn_ftab *want[2] = { want_addrs, want_cells };
	uint32_t lines = lines_of(dp);
	size_t i, n_new = 0, n_want = want_addrs->n + want_cells->n;
	uint64_t added;
	int err = 0, k;

	if (!lines)
		return 0;
	for (k = 0; op->inc && k < 2; k++)
		n_new += new_keys(want[k], &c->have[kept_sets[k]][slot & 1]);
	added = op->added + n_new;
	if (rebuild_due(op, lines, n_new, n_want)) {
		err = build(dp, lines, slot, want, writes);
		added = n_want;
	} else {
		for (k = 0; k < 2 && n_new; k++) {
			const struct nn_ftab *have = &c->have[kept_sets[k]][slot & 1];

			for (i = 0; i < want[k]->n && !err; i++)
				if (nn_ftab_find(have, nn_ftab_key(want[k], i)) < 0)
					err = add_one(dp, lines, slot, kept_sets[k],
						      nn_ftab_key(want[k], i), writes);
		}
	}
	if (!err)
		err = seal(dp, lines, slot, op, epoch, added, writes);
	return finished(err, slot);
}

int nn_srcf_finish_patch(struct nn_dp *dp, uint32_t slot, const struct nn_srcf_op *op,
			 const struct nn_apply_cache *c, const struct nn_dev_patch *pt,
			 uint32_t epoch, size_t *writes)
{
	const struct nn_ftab *now[2] = { &c->have[SET_ADDRS][slot & 1],
					 &c->have[SET_CELLS4][slot & 1] };
	uint32_t lines = lines_of(dp);
	size_t i, n = pt->n_set;
	uint64_t added;
	int err = 0, k;

	if (!lines)
		return 0;
	for (k = 0; k < 2; k++)
		n += c->journal[kept_sets[k]].n;
	added = op->added + n;
	if (rebuild_due(op, lines, n, now[0]->n + now[1]->n)) {
		err = build(dp, lines, slot, now, writes);
		added = now[0]->n + now[1]->n;
	} else {
		/* Every key written is in the journal or the patch (deleted
		 * ones too: a bit too many is only a maybe). */
		for (k = 0; k < 2; k++) {
			const struct nn_keylist *jl = &c->journal[kept_sets[k]];

			for (i = 0; i < jl->n && !err; i++)
				err = add_one(dp, lines, slot, kept_sets[k], jl->k + i * jl->ksz,
					      writes);
		}
		for (i = 0; i < pt->n_set && !err; i++) {
			struct nn_addr_key key = { .slot = 0 };

			memcpy(key.addr, pt->set[i].addr, NN_ADDR_LEN);
			err = add_one(dp, lines, slot, SET_ADDRS, &key, writes);
		}
	}
	if (!err)
		err = seal(dp, lines, slot, op, epoch, added, writes);
	return finished(err, slot);
}

int nn_srcf_ensure_live(struct nn_dp *dp, uint32_t epoch, const struct nn_apply_cache *c,
			size_t *writes)
{
	uint32_t lines = lines_of(dp), slot = NN_SLOT(epoch), key = half_base(lines, slot);
	const struct nn_ftab *now[2] = { &c->have[SET_ADDRS][slot], &c->have[SET_CELLS4][slot] };
	struct nn_srcf_op op = { 0 };
	struct nn_srcf_line h;
	int err;

	if (!lines || !epoch)
		return 0;
	err = line_get(dp->map_fd[NN_M_SRCF], key, &h);
	if (err || h.w[0] == NN_SRCF_STAMP(epoch))
		return err ? finished(err, slot) : 0;
	/* Not stamped for the live epoch, so the programs skip it: it can be
	 * rebuilt in place, from the record of what the live half holds,
	 * and stamped last. Any other stamp goes first. */
	if (h.w[0]) {
		h.w[0] = 0;
		err = line_put(dp->map_fd[NN_M_SRCF], key, &h, writes);
	}
	if (!err)
		err = build(dp, lines, slot, now, writes);
	if (!err)
		err = seal(dp, lines, slot, &op, epoch, now[0]->n + now[1]->n, writes);
	return finished(err, slot);
}

int nn_srcf_restamp(struct nn_dp *dp, uint32_t from, uint32_t to)
{
	uint32_t lines = lines_of(dp), i;
	size_t writes = 0;
	int err = 0;

	/* i = 0: the live half (stamped @from), 1: the standby (@from - 1). */
	for (i = 0; lines && i < 2 && !err; i++) {
		uint32_t key = half_base(lines, NN_SLOT(from + i));
		struct nn_srcf_line h;

		err = line_get(dp->map_fd[NN_M_SRCF], key, &h);
		if (err || h.w[0] != NN_SRCF_STAMP(from - i))
			continue;
		h.w[0] = NN_SRCF_STAMP(to - i);
		err = line_put(dp->map_fd[NN_M_SRCF], key, &h, &writes);
	}
	return finished(err, NN_SLOT(from));
}
