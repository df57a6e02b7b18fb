/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jdoc_int.h - what jdoc.c (the tree from yajl's events, the raw-bytes
 * pass, the serial parse) shares with jdoc_split.c (a large document
 * parsed in two halves). Private to these two files.
 */
#ifndef NANAMI_POLICY_JDOC_INT_H
#define NANAMI_POLICY_JDOC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_parse.h>

#include "policy/jdoc.h"

struct nn_jchunk {
	struct nn_jchunk *next;
	size_t used, cap;
	size_t pad; /* keeps data[] 16-byte aligned */
	char data[];
};

/* Objects up to this size check a new key against the earlier ones as it
 * comes (the error then points at it); larger ones sort their keys once
 * at the end, so no object costs more than n log n. */
#define DUP_SCAN_MAX 16

struct open {
	size_t start;	 /* first member in ctx.stk */
	const char *key; /* this container's own key in its parent */
	bool obj;
};

/* Short strings are interned through a direct-mapped cache: keys repeat in
 * every device, rule and user, and so do values such as "active" or
 * "tcp"; at 1M devices their copies were a fifth of the tree. A hit reuses
 * the arena copy (no string is ever written, not even in a held document
 * that deltas edit, policy/held.c; nothing compares pointers). */
#define INTERN_SLOTS 1024
#define INTERN_MAX 24 /* bytes: keys and enum-like values, not ids */

struct ctx {
	struct nn_jdoc *d;
	const char *interned[INTERN_SLOTS];
	uint8_t interned_len[INTERN_SLOTS];
	struct nn_jmem *stk; /* members of the open containers, innermost last */
	size_t n, cap;
	struct open *open;
	size_t n_open, cap_open;
	const char *key; /* the key the next value belongs to */
	struct nn_jv root;
	bool have_root;
	const char *why; /* our own rejection; NULL: out of memory */
};

/*
 * Where a large document is cut in two for two parsers (nn_jdoc_parse):
 * the first ',' at or after @from that separates two elements of an array
 * which is a member of the top-level object (depth 2, outside strings).
 * The scan reports it through found(), or SPLIT_NONE once it ends without
 * one, and goes on checking.
 */
#define SPLIT_NONE ((size_t)-1)

struct split {
	size_t from;
	void (*found)(struct split *sp, size_t at);
	bool done;
};

/* The arena of @d: @n bytes, 8-byte aligned; NULL when out of memory. */
void *nn_jd_arena_alloc(struct nn_jdoc *d, size_t n);

/* One pass over the raw bytes (jdoc.c): NN_JDOC_OK, or DEPTH / SYNTAX with
 * *@at and (SYNTAX) *@why set. With @sp, the split point is reported as
 * it is passed (struct split). */
int nn_jd_raw_scan(const char *s, size_t len, size_t max, size_t *at, const char **why,
		   struct split *sp);

/* Keys of a large object sorted once: any equal neighbours? -1: no memory. */
int nn_jd_dup_sorted(const struct nn_jmem *m, size_t n);

/* yajl's events into a struct ctx's tree. */
extern const yajl_callbacks nn_jd_callbacks;

/* nn_jdoc_parse() by one parser over the whole text. */
int nn_jd_parse_serial(const char *text, size_t len, size_t max_depth, struct nn_jdoc *doc,
		       char *err, size_t errlen, size_t *at);

#endif /* NANAMI_POLICY_JDOC_INT_H */
