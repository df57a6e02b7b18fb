/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flowtab.h - the flow table (nn_flows) from user space: its hash seed, and
 * its entries for the readers (gwctl, metrics, explain, tests, the bench).
 * The layout is nanami_abi.h's "Flow table"; the programs' side is
 * bpf/flowtab.bpf.h.
 */
#ifndef NANAMI_DP_FLOWTAB_H
#define NANAMI_DP_FLOWTAB_H

#include <stddef.h>
#include <stdint.h>

#include "nanami_abi.h"

/* The flows a table of @max_entries holds: buckets of NN_FLOW_WAYS, then the
 * seed's entry (0 for a table too small to be one). */
static inline uint64_t nn_flow_capacity(uint32_t max_entries)
{
	return max_entries < 2 ? 0 : (uint64_t)(max_entries - 1) * NN_FLOW_WAYS;
}

/* The seed for a load into @pin_dir (NULL: no pins): the pinned table's when
 * there is one (its flows stay where they are), else a random one. -EPROTO
 * (and the seed) when the pinned table has another layout (nanami_abi.h
 * struct nn_flow_seed_entry). */
int nn_flow_seed_for_load(const char *pin_dir, uint64_t *seed);

/* After the load: a table created by it gets @seed and NN_FLOW_LAYOUT in its
 * seed entry (index @buckets); an adopted one must already hold them
 * (-ESTALE: another seed, -EPROTO: another layout). */
int nn_flow_seed_store(int fd, uint32_t buckets, uint64_t seed);

/* Calls @cb for every entry of the table @fd (in bucket order), skipping a
 * slot a program is writing; stops at @cb's first non-zero return, which it
 * returns. -errno when the table cannot be read (EPROTO: not this
 * version's layout). */
typedef int (*nn_flow_cb)(const struct nn_flow_key *k, const struct nn_flow *f, void *arg);
int nn_flow_each(int fd, nn_flow_cb cb, void *arg);

/* Entries in the table (@n), or -errno. */
int nn_flow_count(int fd, uint64_t *n);

/* @k's entry into @f: 0, -ENOENT when absent, -errno. */
int nn_flow_find(int fd, const struct nn_flow_key *k, struct nn_flow *f);

/* Empties the table, every bucket, not the seed: for tests only, with no
 * program running on it. It zeroes the sequence words: a program's write under
 * way would release its slot to an odd value, busy for good (never read,
 * never claimed again). */
int nn_flow_clear_tests_only(int fd);

#endif /* NANAMI_DP_FLOWTAB_H */
