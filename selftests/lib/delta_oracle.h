/* SPDX-License-Identifier: GPL-2.0 */
/*
 * delta_oracle.h - the jansson reference of delta application, for tests
 * (delta_oracle.c).
 */
#ifndef NANAMI_DELTA_ORACLE_H
#define NANAMI_DELTA_ORACLE_H

#include <stddef.h>

#include <jansson.h>

#include "policy/held.h"

/* Apply a delta document ({"generation", "since", "full": false,
 * "changes"}) to snap in place: the rules of docs/assignments-v1.md
 * (upsert replaces the object with that id in place or appends it; delete
 * removes it and it must exist). On error snap may be half-changed: apply
 * to a copy. *n_changes (may be NULL) gets the number applied. The product
 * applies deltas with nn_held_delta_apply() (policy/held.h), message for
 * message the same. */
int nn_cp_delta_apply(json_t *snap, const json_t *delta, size_t *n_changes, char *err,
		      size_t errlen);

/* @doc as the client holds it: its text parsed into a held document.
 * NULL (with the reason on stderr) if that fails. */
struct nn_held *nn_test_held_of(const json_t *doc);

#endif /* NANAMI_DELTA_ORACLE_H */
