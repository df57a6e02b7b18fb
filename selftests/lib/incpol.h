/* SPDX-License-Identifier: GPL-2.0 */
/*
 * incpol.h - policies for the incremental path's randomized test
 * (test_inc_random): each a new JSON document.
 */
#ifndef NANAMI_INCPOL_H
#define NANAMI_INCPOL_H

#include <jansson.h>

/* examples/assignments.json */
json_t *incpol_example(void);
/* The example with ~1000 more devices and rules naming them (incpol.c). */
json_t *incpol_synthetic(void);
/* The example with a dropped allow rule sharing eng-db's rule_id. */
json_t *incpol_twin_rule(void);

#endif /* NANAMI_INCPOL_H */
