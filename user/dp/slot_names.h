/* SPDX-License-Identifier: GPL-2.0 */
/*
 * slot_names.h - the counter slot -> name maps (nn_dev_names, nn_rule_names):
 * BPF_F_MMAPABLE arrays of struct nn_name indexed by counter slot, in_use 0
 * marking a free slot. Written and read through a window mapped a few
 * pages at a time: no system call per name, and no more than a window of
 * the map in the process's RSS at once.
 */
#ifndef NANAMI_DP_SLOT_NAMES_H
#define NANAMI_DP_SLOT_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "nanami_abi.h"

/* Fill *@n, the name of the @i-th slot being written. */
typedef void (*nn_slot_name_fill)(size_t i, struct nn_name *n, void *arg);

/*
 * Name the @n slots @slots of names map @fd: slot @slots[i] gets what
 * @fill(i) makes of it, or, @fill NULL, is freed (zeroed: an array has no
 * delete). A name is published by its in_use, stored last; a slot freed
 * loses its in_use first. 0 or -errno (-ENOENT: a slot beyond the map;
 * -EPROTO: @fd is not such an array).
 */
int nn_slot_names_write(int fd, const uint32_t *slots, size_t n, nn_slot_name_fill fill, void *arg);

/* nn_slot_names_write() from the names @names[0..n). */
int nn_slot_names_put(int fd, const uint32_t *slots, const struct nn_name *names, size_t n);

/* Free (zero) the @n slots @slots. */
int nn_slot_names_free(int fd, const uint32_t *slots, size_t n);

/*
 * Call @cb for every slot in use of names map @fd, in slot order, with a
 * copy of its name (fields NUL-terminated). Stops at @cb's first non-zero
 * result, which it returns. -EPROTO: @fd is not such an array (a names map
 * of before session 16, a hash, pinned by an older daemon).
 */
int nn_slot_names_each(int fd, int (*cb)(uint32_t slot, const struct nn_name *n, void *arg),
		       void *arg);

/* Windows of a names map mapped by this process so far (each move of a
 * window is an unmap: for tests and profiles). */
size_t nn_slot_names_windows(void);

#endif /* NANAMI_DP_SLOT_NAMES_H */
