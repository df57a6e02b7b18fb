/* SPDX-License-Identifier: GPL-2.0 */
/* array_mmap.h - a pinned BPF_F_MMAPABLE array mapped, its shape checked. */
#ifndef NANAMI_DP_ARRAY_MMAP_H
#define NANAMI_DP_ARRAY_MMAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * The shape check of nn_array_mmap alone (an mmapable array of @vsize-byte
 * elements, @n_min / @n_want as below): 0 with the count in *@n and the
 * bytes a mapping of it all takes in *@len (whole pages); -EPROTO when the
 * map has another type or shape; -errno when it cannot be asked.
 */
int nn_array_shape(int fd, uint32_t vsize, uint32_t n_min, uint32_t n_want, uint32_t *n,
		   size_t *len);

/*
 * Map array @fd (@prot) when its elements are @vsize bytes and it has
 * @n_want of them (0: any number, at least @n_min): the count in *@n, the
 * mapping's length in *@len (whole pages). NULL with errno set; EPROTO
 * when the map has another type or shape: an older version's pin, which
 * the flow table and the denied cache refuse rather than misread.
 */
void *nn_array_mmap(int fd, int prot, uint32_t vsize, uint32_t n_min, uint32_t n_want, uint32_t *n,
		    size_t *len);

#endif
