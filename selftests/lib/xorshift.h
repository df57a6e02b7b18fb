/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xorshift.h - the unit tests' seeded generator (Marsaglia's xorshift32):
 * each test keeps its own state and seed, so a failure replays exactly.
 */
#ifndef NANAMI_XORSHIFT_H
#define NANAMI_XORSHIFT_H

#include <stdint.h>

static inline uint32_t nn_xorshift32(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

#endif /* NANAMI_XORSHIFT_H */
