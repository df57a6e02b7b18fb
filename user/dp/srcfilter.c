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

/* Keys of @want (nn_addrs keys) that @have lacks. */
static size_t new_keys(const struct nn_ftab *want, const struct nn_ftab *have)
{
	size_t i, n = 0;

	for (i = 0; i < want->n; i++)
		n += nn_ftab_find(have, nn_ftab_key(want, i)) < 0;
	return n;
}

int nn_srcf_begin_diff(struct nn_dp *dp, uint32_t slot, uint32_t covered,
		       const struct nn_ftab *want, const struct nn_ftab *have,
		       struct nn_srcf_op *op, size_t *writes)
{
	return nn_srcf_begin(dp, slot, covered, new_keys(want, have) > 0, op, writes);
}

/* The whole half from the addresses of @t (nn_addrs keys): one batch. */
static int build(struct nn_dp *dp, uint32_t lines, uint32_t slot, const struct nn_ftab *t,
		 size_t *writes)
{
	struct nn_srcf_line *buf = calloc(lines, sizeof(*buf));
	uint32_t *keys = malloc(lines * sizeof(*keys)), base = half_base(lines, slot), i;
	int err = 0;

	if (!buf || !keys) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < t->n; i++) {
		const struct nn_addr_key *k = nn_ftab_key(t, i);
		uint64_t h = nn_srcf_hash(k->addr);

		set_bits(&buf[(uint32_t)(h >> 32) & (lines - 1)], h);
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

/* One address into the half: its line read, or'ed and written back. */
static int add_one(struct nn_dp *dp, uint32_t lines, uint32_t slot, const uint8_t *addr,
		   size_t *writes)
{
	uint64_t h = nn_srcf_hash(addr);
	uint32_t key = half_base(lines, slot) + 1 + ((uint32_t)(h >> 32) & (lines - 1));
	struct nn_srcf_line l, was;
	int err = line_get(dp->map_fd[NN_M_SRCF], key, &l);

	if (err)
		return err;
	was = l;
	set_bits(&l, h);
	if (!memcmp(&l, &was, sizeof(l)))
		return 0;
	return line_put(dp->map_fd[NN_M_SRCF], key, &l, writes);
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
		   const struct nn_ftab *want, const struct nn_ftab *have, uint32_t epoch,
		   size_t *writes)
{
	uint32_t lines = lines_of(dp);
	size_t i, n_new = op->inc ? new_keys(want, have) : 0;
	uint64_t added = op->added + n_new;
	int err = 0;

	if (!lines)
		return 0;
	if (rebuild_due(op, lines, n_new, want->n)) {
		err = build(dp, lines, slot, want, writes);
		added = want->n;
	} else {
		for (i = 0; i < want->n && !err && n_new; i++)
			if (nn_ftab_find(have, nn_ftab_key(want, i)) < 0)
				err = add_one(
					dp, lines, slot,
					((const struct nn_addr_key *)nn_ftab_key(want, i))->addr,
					writes);
	}
	if (!err)
		err = seal(dp, lines, slot, op, epoch, added, writes);
	return finished(err, slot);
}

int nn_srcf_finish_patch(struct nn_dp *dp, uint32_t slot, const struct nn_srcf_op *op,
			 const struct nn_ftab *now, const struct nn_keylist *jl,
			 const struct nn_dev_patch *pt, uint32_t epoch, size_t *writes)
{
	uint32_t lines = lines_of(dp);
	size_t i, n = jl->n + pt->n_set;
	uint64_t added = op->added + n;
	int err = 0;

	if (!lines)
		return 0;
	if (rebuild_due(op, lines, n, now->n)) {
		err = build(dp, lines, slot, now, writes);
		added = now->n;
	} else {
		/* Every key written is in one of the two lists (deleted ones
		 * too: a bit too many is only a maybe). */
		for (i = 0; i < jl->n && !err; i++)
			err = add_one(dp, lines, slot,
				      ((const struct nn_addr_key *)(jl->k + i * jl->ksz))->addr,
				      writes);
		for (i = 0; i < pt->n_set && !err; i++)
			err = add_one(dp, lines, slot, pt->set[i].addr, writes);
	}
	if (!err)
		err = seal(dp, lines, slot, op, epoch, added, writes);
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
