/* SPDX-License-Identifier: GPL-2.0 */
/*
 * names.h - the names people and scripts see for the stable enums of
 * nanami_abi.h. Drop reasons are exactly the names of docs/verdicts.md:
 * scripts and dashboards match on them.
 */
#ifndef NANAMI_LIB_NAMES_H
#define NANAMI_LIB_NAMES_H

#include <stdint.h>

#include "nanami_abi.h"

/* "spoof", "acl_deny", ...; NULL for NN_PASS or unknown. */
const char *nn_reason_name(uint32_t reason);

/* The reason for @name, or -1. */
int nn_reason_from_name(const char *name);

/* "from-overlay" / "into-overlay" (the CLI grammar's words). */
const char *nn_dir_name(uint32_t dir);

/* "device", "node", "self"; NULL for unknown. */
const char *nn_addr_kind_name(uint32_t kind);

/* nn_verdict.dst_kind: an address kind, a prefix kind or "internet". */
const char *nn_dst_kind_name(uint32_t kind);

/* "active", "disabled"; NULL for unknown. */
const char *nn_state_name(uint32_t state);

/* "new", "established", "closing". */
const char *nn_flow_state_name(uint32_t state);

/* A decimal number typed by an operator (a port, a count): digits only, no
 * sign, at most @max. 0, or -EINVAL. */
int nn_parse_u32(const char *s, uint32_t max, uint32_t *out);

#endif /* NANAMI_LIB_NAMES_H */
