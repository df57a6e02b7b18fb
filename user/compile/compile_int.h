/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compile_int.h - the compiler's working state (compile.c), shared with the
 * per-device queries on a kept state (keep.c) that the incremental path
 * uses (compile/delta.h). Private to user/compile.
 */
#ifndef NANAMI_COMPILE_INT_H
#define NANAMI_COMPILE_INT_H

#include "compile/compile.h"
#include "lib/table.h"

struct vec {
	uint32_t *v;
	size_t n;
	size_t cap;
};

/* Prefix index: (network, length, masked address) -> list of ids, and the
 * set of lengths in use per network. */
struct pfx_index {
	struct nn_table t;
	uint8_t (*lens)[129]; /* [network][len] = used */
};

struct pfx_key {
	uint32_t net;
	uint32_t len;
	uint8_t addr[NN_ADDR_LEN];
};

/*
 * Per-device rule lists in one array (compressed rows): the rules of device
 * d are v[start[d] .. start[d + 1]), ascending. Filled in two passes over
 * the rules (count, then place): a growable vector per device was a
 * malloc and a chain of reallocs each, ~4 % of a cold apply.
 */
struct nn_c_rows {
	uint32_t *start; /* [n_devices + 1] */
	uint32_t *v;
	uint32_t *fill; /* [n_devices]: next free index while placing */
};

void nn_c_rows_free(struct nn_c_rows *w);
int nn_c_rows_alloc(struct nn_c_rows *w, size_t n);
struct vec nn_c_rows_of(const struct nn_c_rows *w, size_t d);

struct cstate {
	const struct nn_policy *p;
	struct nn_compiled *out;
	struct nn_errlist *errs;
	struct pfx_index rule_pfx; /* ACL dst prefixes -> rule ids */
	struct pfx_index res_pfx;  /* resource prefixes -> resource ids */
	struct pfx_index closed;   /* closed space (net 0) -> index */
	struct vec *res_rules;	   /* [n_resources]: rules naming it as dst */
	struct vec *rule_src;	   /* [n_rules]: src classes holding the rule */
	struct vec *rule_dst;	   /* [n_rules]: dst classes holding the rule */
	struct nn_table src_sigs;  /* (net, rules...) -> class */
	struct nn_table dst_sigs;
	uint32_t *dev_src;  /* [n_devices]: named by device or user */
	uint32_t *dev_gsrc; /* [n_devices]: reached through groups */
	uint32_t *dev_dst6; /* [n_devices] */
	uint32_t *dev_dst4; /* [n_devices] */
	/* (src, dst) -> struct vec of rules, in two tables by the source
	 * class's lowest bit, each filled (and emitted) by a thread of its
	 * own at scale: cells_of() picks one. Once emitted only the keys
	 * stay: the rule lists are freed (emit.c). */
	struct nn_table cells[2];
	struct vec scratch; /* region_sig's resources, reused */
	/* How many times each class was interned (devices, regions, ACL
	 * prefixes): a class whose count would reach 0 would not exist in a
	 * compile from scratch. [class], grown with the classes. */
	struct vec src_refs, dst_refs;
	size_t n_resources, n_rules; /* sizes of the per-resource/rule vectors */
};

/* The kept state of nn_compile_keep(): the cstate outliving its compile. */
struct nn_compile_state {
	struct cstate s;
	const uint32_t **rsig[2]; /* [src/dst][class]: interned key, lazily built */
	size_t *rsig_n[2];	  /* its length in words (net first) */
	size_t rsig_cnt[2];	  /* classes + 1 */
};

struct cell_key {
	uint32_t src;
	uint32_t dst;
};

/* The cells of s->cells into s->out (emit.c); 0 or -errno, -E2BIG with the
 * message when over @max_cells. Then @also(@s, @arg), which must only read
 * the cell tables and write other parts of s->out: while a helper emits
 * the second table, this thread runs it once its own half is done (the
 * compile's addresses: else it waited for the helper, then ran it while a
 * CPU idled); its error counts after the cells'. */
int nn_c_emit_cells(struct cstate *s, size_t max_cells,
		    int (*also)(struct cstate *s, const void *arg), const void *arg);

int nn_c_vpush(struct vec *v, uint32_t x);
int nn_c_vappend(struct vec *v, const uint32_t *x, size_t n);
void nn_c_vsort_unique(struct vec *v);
int nn_c_region_sig(struct cstate *s, uint32_t net, const uint8_t *a, unsigned int len,
		    struct vec *sig);
int nn_c_longest_covering(const struct pfx_index *ix, uint32_t net, const uint8_t *a,
			  unsigned int len);
static inline struct nn_table *nn_c_cells_of(struct cstate *s, uint32_t src)
{
	return &s->cells[src & 1];
}

int nn_c_cell_exists(struct cstate *s, uint32_t src, uint32_t dst);
uint8_t nn_c_cell_flags(struct cstate *s, uint32_t net, uint32_t src, uint32_t gsrc, uint32_t dst);
void nn_c_cstate_free(struct cstate *s);

#endif /* NANAMI_COMPILE_INT_H */
