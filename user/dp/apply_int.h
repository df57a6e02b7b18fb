/* SPDX-License-Identifier: GPL-2.0 */
/*
 * apply_int.h - what the full switch (apply.c) and the patch switch
 * (patch.c) share. Private to user/dp.
 */
#ifndef NANAMI_DP_APPLY_INT_H
#define NANAMI_DP_APPLY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "dp/cache.h"
#include "dp/loader.h"

/* One double-buffered map. */
struct mapset {
	int fd;
	size_t ksz;
	size_t vsz;
};

void nn_ap_init_sets(const struct nn_dp *dp, struct mapset *sets);

#endif /* NANAMI_DP_APPLY_INT_H */
