/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compile.h - turn a validated policy into map contents (one generation).
 *
 * The ACL is compiled into classes so that the programs need a fixed number
 * of hash/LPM lookups whatever the number of devices, rules or prefixes:
 *  - a source class groups the devices of a network that the same non-"*"
 *    rules name as src;
 *  - a destination class groups the destination points (device addresses,
 *    resource regions, ACL dst prefixes) that the same non-"*" rules name as
 *    dst;
 *  - '"*"' on either side is the class STAR(network), so "*" rules are not
 *    multiplied into every class;
 *  - a cell (src class, dst class, protocol) holds the disjoint port ranges
 *    with the first deny and the first allow rule covering each.
 */
#ifndef NANAMI_COMPILE_H
#define NANAMI_COMPILE_H

#include "nanami_abi.h"
#include "policy/policy.h"

struct nn_addr_ent {
	uint8_t addr[NN_ADDR_LEN];
	struct nn_addr_info info;
};

struct nn_prefix_ent {
	uint32_t net; /* 0: global scope; else the ACL scope */
	struct nn_prefix pfx;
	struct nn_prefix_info info;
};

/* Prefix lengths in use per scope (nn_pfx_lens). */
struct nn_pfxlens_ent {
	uint32_t net; /* 0: global scope */
	struct nn_pfx_lens lens;
};

/* One entry of a cell: the cell itself (part 0) or a node of its tree. */
struct nn_cell_ent {
	uint32_t src_class;
	uint32_t dst_class;
	uint16_t proto;
	uint32_t part;
	struct nn_cell cell;
};

/* Stable counter slots chosen by the caller (slots.c), per entity index. */
struct nn_slots {
	uint32_t *dev;	/* [n_devices] */
	uint32_t *node; /* [n_nodes] */
	uint32_t self;	/* this gateway's own counters */
	uint32_t *rule; /* [n_rules] */
};

struct nn_compiled {
	struct nn_addr_ent *addrs;
	size_t n_addrs;
	struct nn_prefix_ent *prefixes;
	size_t n_prefixes;
	struct nn_pfxlens_ent *lens; /* one per scope that has prefixes */
	size_t n_lens;
	struct nn_cell_ent *cells;
	size_t n_cells;
	struct nn_rule_info *rules; /* by rule index */
	size_t n_rules;
	uint32_t n_src_classes;
	uint32_t n_dst_classes;
};

/* The map capacities a compiled policy must fit in; 0 = unlimited. */
struct nn_compile_caps {
	size_t max_cells;    /* nn_policy entries per generation (--max-cells) */
	size_t max_prefixes; /* prefix entries per generation (--max-prefixes) */
};

/*
 * Compile @p. Fails with -E2BIG, and a message naming the capacity and the
 * flag that raises it, when the policy needs more entries than @caps
 * allows; -ENOMEM on allocation failure. No limit of the compiled form
 * itself refuses a valid policy (any number of ports compiles).
 */
int nn_compile(const struct nn_policy *p, const struct nn_slots *slots,
	       const struct nn_compile_caps *caps, struct nn_compiled *out,
	       struct nn_errlist *errs);

void nn_compiled_free(struct nn_compiled *c);

/* Room for one more element in *@arr of @n elements of @size bytes, grown
 * geometrically (the capacity is implied by @n: 16, then powers of two), so
 * appending N entries copies O(N) bytes, not O(N^2). 0 or -ENOMEM. */
int nn_grow(void **arr, size_t n, size_t size);

/* The prefix lengths of each scope and family, from out->prefixes
 * (prefixes.c). */
int nn_compile_pfx_lens(struct nn_compiled *out);

/* Port ranges of one cell protocol from the rules that apply (ports.c):
 * *out (malloc'd, NULL when none) gets every disjoint range some rule
 * covers, sorted, with its first deny and allow rule. */
int nn_cell_ranges(const struct nn_policy *p, const uint32_t *rules, size_t n_rules, uint16_t proto,
		   struct nn_port_range **out, size_t *n);

/* Lay @n sorted ranges out as the entries of the cell @key (src, dst,
 * proto), appended to @o->cells: one leaf, or a tree (nanami_abi.h).
 * -E2BIG when @o would pass @max entries. */
int nn_cell_emit(struct nn_compiled *o, const struct nn_cell_ent *key,
		 const struct nn_port_range *r, size_t n, size_t max);

#endif /* NANAMI_COMPILE_H */
