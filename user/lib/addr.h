/* SPDX-License-Identifier: GPL-2.0 */
/*
 * addr.h - overlay address and prefix helpers shared by the snapshot
 * validator, the compiler and gwctl.
 *
 * Every address is 16 bytes: IPv6 as is, IPv4 as IPv4-mapped IPv6
 * (::ffff:a.b.c.d), so an IPv4 /N prefix is stored as /(96+N). That is the
 * same convention as nanami_abi.h.
 */
#ifndef NANAMI_LIB_ADDR_H
#define NANAMI_LIB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanami_abi.h"

/* Big enough for any nn_addr_format() / nn_prefix_format() output. */
#define NN_ADDR_STRLEN 46
#define NN_PREFIX_STRLEN (NN_ADDR_STRLEN + 4)

/* A prefix of 16-byte addresses (IPv4 as ::ffff:a.b.c.d/(96+N)). */
struct nn_prefix {
	uint8_t addr[NN_ADDR_LEN]; /* host bits are zero */
	uint8_t len;		   /* 0..128 */
};

enum nn_family {
	NN_FAM_V6 = 6,
	NN_FAM_V4 = 4,
};

/*
 * Parse one address, IPv6 ("fd00::1") or dotted-quad IPv4 ("10.0.0.1"),
 * into @out. @family (may be NULL) says which text form it was; an IPv6
 * text that happens to be IPv4-mapped ("::ffff:10.0.0.1") reports NN_FAM_V6.
 * Returns 0, or -EINVAL when @s is not exactly one address (a "/len" suffix,
 * spaces, or anything inet_pton() refuses).
 */
int nn_addr_parse(const char *s, uint8_t out[NN_ADDR_LEN], int *family);

/*
 * Parse "addr/len". An IPv4 "a.b.c.d/N" (0 <= N <= 32) becomes the mapped
 * prefix /(96+N). The length is mandatory and is plain decimal.
 * Returns 0; -EINVAL for bad syntax or a length out of range; -EDOM when
 * the address has bits set beyond the length ("10.0.0.1/8"): such a prefix
 * is rejected rather than silently masked, since it usually means the
 * author meant something else.
 */
int nn_prefix_parse(const char *s, struct nn_prefix *out, int *family);

bool nn_addr_is_v4mapped(const uint8_t a[NN_ADDR_LEN]);

/* Text form: IPv4-mapped addresses as a dotted quad, IPv4-mapped prefixes
 * of length >= 96 as "a.b.c.d/(len-96)". Returns @buf. */
const char *nn_addr_format(const uint8_t a[NN_ADDR_LEN], char *buf, size_t len);
const char *nn_prefix_format(const struct nn_prefix *p, char *buf, size_t len);

/* @p covers @a. An IPv6 prefix shorter than /96 never covers IPv4. */
/* @out = the first @len bits of the @nbytes-byte address @a, the rest zero
 * (@out may be @a). Every mask of a prefix goes through here. */
void nn_addr_mask(uint8_t *out, const uint8_t *a, unsigned int nbytes, unsigned int len);

bool nn_prefix_contains(const struct nn_prefix *p, const uint8_t a[NN_ADDR_LEN]);

/* @a and @b share at least one address (one contains the other). */
bool nn_prefix_overlaps(const struct nn_prefix *a, const struct nn_prefix *b);

/* ::/0 or 0.0.0.0/0 (::ffff:0:0/96): "everything" in one family. */
bool nn_prefix_is_default(const struct nn_prefix *p);

#endif /* NANAMI_LIB_ADDR_H */
