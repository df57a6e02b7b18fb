/* SPDX-License-Identifier: GPL-2.0 */
/*
 * counters.h - the dataplane's per-CPU counters read as totals: the one
 * reader behind the controller's /metrics and nanami-gwctl (drops by
 * reason, device and rule counters, the underlay guard's drops).
 */
#ifndef NANAMI_DP_COUNTERS_H
#define NANAMI_DP_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "nanami_abi.h"

/* Sum every CPU's value of counter slot @key of map @fd, its first @n u64
 * fields (every counter struct of nanami_abi.h is made of u64), into @sum:
 * a per-CPU array, or a counter array cut in per-CPU regions (nanami_abi.h
 * "Counter layout": nn_dev_ctr, nn_rule_ctr). 0 or -errno. */
int nn_percpu_sum(int fd, uint32_t key, size_t n, uint64_t *sum);

/* Counter slots of counter map @fd (either layout): max_entries of a
 * per-CPU array, max_entries / possible CPUs of a cut one. 0 or -errno. */
int nn_ctr_slots(int fd, uint32_t *slots);

/* Drops by reason from a per-CPU array of struct nn_reason_stats indexed
 * by enum nn_reason (nn_drops, or the underlay guard's nn_wg_drops):
 * @out[r] for every reason, @out[NN_PASS] zero. 0 or -errno. */
int nn_read_drops(int fd, struct nn_reason_stats out[NN_R_MAX]);

#endif /* NANAMI_DP_COUNTERS_H */
