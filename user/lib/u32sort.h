/* SPDX-License-Identifier: GPL-2.0 */
/*
 * u32sort.h - sort an array of uint32_t and drop repeats, in place. The
 * validator and the compiler turn every reference list and port set into a
 * sorted set this way; with qsort's comparison callback it was 8-16 % of a
 * cold apply. Linear for already sorted input (a user's devices come
 * sorted), insertion sort for short arrays, radix sort (O(n), no
 * adversarial worst case) otherwise.
 */
#ifndef NANAMI_LIB_U32SORT_H
#define NANAMI_LIB_U32SORT_H

#include <stddef.h>
#include <stdint.h>

/* Returns the number of distinct values, now ascending at v[0..ret). */
size_t nn_u32_sort_unique(uint32_t *v, size_t n);

#endif /* NANAMI_LIB_U32SORT_H */
