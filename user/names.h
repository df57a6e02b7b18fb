/* SPDX-License-Identifier: GPL-2.0 */
/* names.h - the names people see for the stable enums of nanami_abi.h. */
#ifndef NANAMI_NAMES_H
#define NANAMI_NAMES_H

#include "nanami_abi.h"

/* "spoof", "acl_deny", ... as in verdicts.md; NULL for NN_PASS or unknown. */
const char *nn_reason_name(unsigned int reason);

/* The reason for @name, or -1. */
int nn_reason_from_name(const char *name);

const char *nn_dir_name(unsigned int dir);

#endif /* NANAMI_NAMES_H */
