/* SPDX-License-Identifier: GPL-2.0 */
/*
 * batch.h - read and write many entries of one map in few system calls
 * (BPF_MAP_*_BATCH, kernel 5.6+: hash and array maps on every kernel we
 * support, 6.1 and 6.12). Maps without batch operations (the LPM trie) fall
 * back to one call per entry, so callers need not know the map type.
 */
#ifndef NANAMI_DP_BATCH_H
#define NANAMI_DP_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* Call @cb for every entry of map @fd (keys of @ksz, values of @vsz bytes,
 * at most 64 and 4096). Stops at @cb's first non-zero result. */
int nn_map_dump(int fd, size_t ksz, size_t vsz,
		int (*cb)(const void *key, const void *val, void *arg), void *arg);

/* Write @n entries: @keys and @vals are contiguous arrays. 0 or -errno. */
int nn_map_update_many(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz,
		       size_t n);

/* nn_map_update_many() in the calling thread alone, for a caller that
 * runs its own threads. */
int nn_map_update_serial(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz,
			 size_t n);

/* Zero every CPU's copy of @n elements (u32 @keys) of the per-CPU array
 * @fd, values of @vsz bytes: batched, a bounded zero buffer. A plain array
 * is a counter array cut in per-CPU regions (nanami_abi.h "Counter
 * layout"): @keys are its slots, every CPU's entry of each is zeroed. */
int nn_map_zero_percpu(int fd, const uint32_t *keys, size_t n, size_t vsz);

/* Delete @n keys (contiguous); a key already absent is not an error. */
int nn_map_delete_many(int fd, const void *keys, size_t ksz, size_t n);

#endif /* NANAMI_DP_BATCH_H */
