/* SPDX-License-Identifier: GPL-2.0 */
/*
 * denied.h - the remembered denied flows (nn_denied) from user space: its
 * capacity and the entries of the live epoch, for gwctl status and the
 * metrics; emptied by the tests. The layout is nanami_abi.h's "Denied
 * flows"; the programs' side is bpf/denied.bpf.h.
 */
#ifndef NANAMI_DP_DENIED_H
#define NANAMI_DP_DENIED_H

#include <stdint.h>

/* Entries a table of @max_entries sets holds over @ncpu possible CPUs: 0
 * when it has less than a set a CPU (the loader's one element: nothing is
 * remembered). */
uint64_t nn_denied_capacity(uint32_t max_entries, int ncpu);

/* Entries of epoch @epoch, the live one (any other is stale), named by a
 * tag (nn_denied_tags @tags_fd), in the table @fd into @n; -errno when it
 * cannot be read (EPROTO: not this version's layout, an older pin). */
int nn_denied_count(int fd, int tags_fd, uint32_t epoch, uint64_t *n);

/* Empties every CPU's region: for tests only, with no program running. */
int nn_denied_clear_tests_only(int fd, int tags_fd);

#endif /* NANAMI_DP_DENIED_H */
