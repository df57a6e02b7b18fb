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

/* One entry of a cell: the cell itself (part 0) or a node of its tree.
 * Its ranges are the compile's ranges[first .. first + n): the compiled
 * form holds no unused range (a whole struct nn_cell per entry was 408
 * bytes, 1 GB for the 2.63M cells of 1M devices). nn_cell_ent_value()
 * makes the map value. */
struct nn_cell_ent {
	uint32_t src_class;
	uint32_t dst_class;
	uint16_t proto;
	uint16_t n;	/* ranges, at most NN_MAX_PORT_RANGES */
	uint32_t part;	/* nn_cell_key.part */
	uint32_t index; /* nn_cell.index: 0 a leaf, 1 an index node */
	size_t first;	/* into nn_compiled.ranges */
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
	struct nn_port_range *ranges; /* of every cell entry, back to back */
	size_t n_ranges, cap_ranges;
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

/* Cells from which the compile emits the second of its two cell tables on
 * a helper thread (compile/emit.c; the same output in the same order),
 * and rules from which it fills them on two threads (compile.c). Tests
 * lower them. */
extern size_t nn_compile_emit_par_min;
extern size_t nn_compile_fill_par_min;
/* Devices from which a helper thread writes half of the device addresses
 * (compile.c emit_addrs; the same output). Tests lower it. */
extern size_t nn_compile_addrs_par_min;

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

/*
 * The incremental path (compile/delta.h) keeps the compiler's state of the
 * last full compile: signatures -> classes, cells, prefix indexes, how many
 * members each class has. nn_compile_keep() is nn_compile() handing that
 * state to *@keep (NULL: not kept) on success.
 */
struct nn_compile_state;
int nn_compile_keep(const struct nn_policy *p, const struct nn_slots *slots,
		    const struct nn_compile_caps *caps, struct nn_compiled *out,
		    struct nn_errlist *errs, struct nn_compile_state **keep);
void nn_compile_state_free(struct nn_compile_state *k);

/* Class indexes of one device: source named (by device or user), source
 * through groups, destination of addr6, destination of addr4. */
enum { NN_DC_SRC, NN_DC_GSRC, NN_DC_DST6, NN_DC_DST4, NN_DC_COUNT };

/* The classes the kept compile gave device @d of its policy. */
void nn_compile_state_dev(const struct nn_compile_state *k, size_t d, uint32_t cls[NN_DC_COUNT]);

/* The classes @dev would get with the source signatures @named and @grp
 * and the rules @dst naming it in dst.devices (sorted rule indices of its
 * network): only classes that exist already. -ENOENT when a signature has
 * no class (it would create one: not a per-device change), -ENOMEM. */
int nn_compile_dev_classes(struct nn_compile_state *k, const struct nn_device *dev,
			   const uint32_t *named, size_t n_named, const uint32_t *grp, size_t n_grp,
			   const uint32_t *dst, size_t n_dst, uint32_t cls[NN_DC_COUNT]);

/* Members of a source (@dst false) or destination class; ±1 by hand as a
 * device joins or leaves. NN_CLASS_NONE has no count (0). */
uint32_t nn_compile_class_refs(const struct nn_compile_state *k, bool dst, uint32_t cls);
void nn_compile_class_ref(struct nn_compile_state *k, bool dst, uint32_t cls, int delta);

/* Is @addr (16 bytes) inside the closed space of the kept compile? */
bool nn_compile_in_closed(const struct nn_compile_state *k, const uint8_t *addr);

/* The nn_addrs entries of @dev (one, or two with an IPv4 address) exactly
 * as the compile emits them; returns how many. */
size_t nn_compile_dev_addrs(struct nn_compile_state *k, const struct nn_policy *p,
			    const struct nn_device *dev, uint32_t slot,
			    const uint32_t cls[NN_DC_COUNT], struct nn_addr_ent out[2]);

/* What a class is, whatever its number: (network, sorted rule indices),
 * *@n words; NULL for an unknown class. For comparing two compiles. */
const uint32_t *nn_compile_class_sig(struct nn_compile_state *k, bool dst, uint32_t cls, size_t *n);

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

/* What nn_cell_ranges reads of each rule, packed in rule order: a cell's
 * rules are scattered over p->rules, and each was a cache miss into a
 * 200-byte struct nn_rule and another into its own port list at 100k
 * rules. */
struct nn_rule_port {
	size_t first; /* its spans: spans[first .. first + n) */
	size_t n;
	uint16_t proto;
	uint8_t action;
	bool all_ports;
};

struct nn_rule_ports {
	struct nn_rule_port *r;	    /* [p->n_rules] */
	struct nn_port_span *spans; /* every rule's ports, in rule order */
};

/* 0 or -ENOMEM; free with nn_rule_ports_free. */
int nn_rule_ports_pack(const struct nn_policy *p, struct nn_rule_ports *rp);
void nn_rule_ports_free(struct nn_rule_ports *rp);
/* Working arrays of nn_cell_ranges_packed, kept by its caller from one
 * cell to the next: at 1M devices the emit met 2.6M cells, each two
 * allocations and their frees. Zero-initialised; nn_ranges_scratch_free. */
struct nn_ranges_scratch {
	uint32_t *b;		 /* boundaries, then each piece's first deny and allow */
	struct nn_port_range *v; /* the ranges */
	size_t cap;		 /* boundaries each holds room for */
};

void nn_ranges_scratch_free(struct nn_ranges_scratch *sc);

/* nn_cell_ranges from the packed view of the policy's rules; *out points
 * into @sc (NULL when none), valid until its next use. */
int nn_cell_ranges_packed(const struct nn_rule_ports *rp, const uint32_t *rules, size_t n_rules,
			  uint16_t proto, struct nn_ranges_scratch *sc, struct nn_port_range **out,
			  size_t *n);

/* Lay @n sorted ranges out as the entries of the cell @key (src, dst,
 * proto), appended to @o->cells: one leaf, or a tree (nanami_abi.h).
 * -E2BIG when @o would pass @max entries. */
int nn_cell_emit(struct nn_compiled *o, const struct nn_cell_ent *key,
		 const struct nn_port_range *r, size_t n, size_t max);

/* Entry @e of @c as an nn_policy value (unused ranges zero). */
void nn_cell_ent_value(const struct nn_compiled *c, const struct nn_cell_ent *e,
		       struct nn_cell *out);

/* Is @e a small cell, held whole by nn_cells4 (nanami_abi.h "Small
 * cells"): a root that is a leaf of at most NN_CELL4_RANGES ranges? */
static inline bool nn_cell_ent_small(const struct nn_cell_ent *e)
{
	return !e->part && !e->index && e->n <= NN_CELL4_RANGES;
}

/* The nn_cells4 value of the root @e: the cell when small, else a marker. */
void nn_cell_ent_value4(const struct nn_compiled *c, const struct nn_cell_ent *e,
			struct nn_cell4 *out);

#endif /* NANAMI_COMPILE_H */
