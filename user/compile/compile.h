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

struct nn_cell_ent {
	uint32_t src_class;
	uint32_t dst_class;
	uint16_t proto;
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

/*
 * Compile @p. Fails with -E2BIG (and a message naming the network) when the
 * policy needs more than @max_cells cells, or a cell more than
 * NN_MAX_PORT_RANGES port ranges; -ENOMEM on allocation failure.
 */
int nn_compile(const struct nn_policy *p, const struct nn_slots *slots, size_t max_cells,
	       struct nn_compiled *out, struct nn_errlist *errs);

void nn_compiled_free(struct nn_compiled *c);

/* The prefix lengths of each scope and family, from out->prefixes
 * (prefixes.c). */
int nn_compile_pfx_lens(struct nn_compiled *out);

/* Port ranges of one cell protocol from the rules that apply (ports.c). */
int nn_cell_build(const struct nn_policy *p, const uint32_t *rules, size_t n_rules, uint16_t proto,
		  struct nn_cell *cell);

#endif /* NANAMI_COMPILE_H */
