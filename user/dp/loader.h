/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loader.h - load the policy programs, share one set of maps between them,
 * pin and adopt the maps, attach to an interface, detach.
 */
#ifndef NANAMI_DP_LOADER_H
#define NANAMI_DP_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanami_abi.h"

enum nn_hook {
	NN_HOOK_TC = 0,	 /* from-overlay on TC ingress */
	NN_HOOK_XDP = 1, /* from-overlay on XDP (generic on L3, native on Ethernet) */
};

/* Map capacities; the compiled defaults are NN_DEF_* in nanami_abi.h. */
struct nn_capacity {
	uint32_t max_devices;
	uint32_t max_nodes;
	uint32_t max_rules;
	uint32_t max_prefixes;
	uint32_t max_cells;
	uint32_t max_flows;
	uint32_t max_frags;
	uint32_t max_denied; /* nn_denied: flows the policy dropped, remembered */
};

void nn_capacity_default(struct nn_capacity *cap);

/* Device and node counter slots of @c: nn_dev_ctr's per-CPU stride (and the
 * programs' nn_dev_stride). */
static inline uint32_t nn_dev_slots(const struct nn_capacity *c)
{
	return c->max_devices + c->max_nodes + 1;
}

/* nn_srcf's lines per slot half for @c (the programs' nn_srcf_lines): at
 * least NN_SRCF_BITS_PER_KEY bits per nn_addrs and nn_cells4 entry a slot
 * can hold, a power of two (the programs mask the hash). The defaults
 * (131072 devices, 524288 cells): 16384 lines, 1 MB a half, which stays in
 * this machine's 2 MB L2 under a spray. */
static inline uint32_t nn_srcf_lines_for(const struct nn_capacity *c)
{
	uint64_t keys = 2ull * c->max_devices + c->max_nodes + 2 + c->max_cells;
	uint64_t want = (keys * NN_SRCF_BITS_PER_KEY + 511) / 512, l = 1;

	while (l < want && l < (1u << 24))
		l <<= 1;
	return (uint32_t)l;
}

/* nn_denied's sets a CPU for @c (the programs' nn_denied_sets): --max-denied
 * entries over the possible CPUs @ncpu, in sets of NN_DENIED_WAYS, rounded
 * down to a power of two (the programs mask the hash); 0 when that leaves
 * none: nothing is remembered. */
static inline uint32_t nn_denied_sets_for(const struct nn_capacity *c, int ncpu)
{
	uint64_t want = ncpu > 0 ? (uint64_t)c->max_denied / NN_DENIED_WAYS / (uint64_t)ncpu : 0,
		 s = 1;

	if (!want)
		return 0;
	while (s * 2 <= want && s < (1u << 24))
		s <<= 1;
	return (uint32_t)s;
}

/* nn_denied_tags' lines for @sets sets of nn_denied over @ncpu CPUs: a line
 * a group of NN_DENIED_GROUP sets, one group a CPU when a region has fewer
 * (denied.bpf.h nn_denied_line()). */
static inline uint64_t nn_denied_lines(uint64_t sets, int ncpu)
{
	uint64_t per = ncpu > 0 ? sets / (uint64_t)ncpu : 0;

	return (uint64_t)ncpu * (per > NN_DENIED_GROUP ? per / NN_DENIED_GROUP : 1);
}

/* The largest --max-flows: 2^22 buckets of NN_FLOW_WAYS, 2.5 GiB; the next
 * power of two (5 GiB) passes an array map's 32-bit size. */
#define NN_MAX_FLOWS ((uint32_t)NN_FLOW_WAYS << 22)

/* nn_flows' buckets for @c (the programs' nn_flow_mask + 1): room for
 * max_flows in buckets of NN_FLOW_WAYS, a power of two (the programs mask
 * the hash); the map has one more entry, the seed's (nanami_abi.h). */
static inline uint32_t nn_flow_buckets_for(const struct nn_capacity *c)
{
	uint64_t want = ((uint64_t)c->max_flows + NN_FLOW_WAYS - 1) / NN_FLOW_WAYS, b = 1;

	while (b < want && b < (1u << 30))
		b <<= 1;
	return (uint32_t)b;
}

/* The capacities maps of @map_fd (indexed by enum nn_map_id) were created
 * with: the inverse of the loader's sizing. -EINVAL when the sizes do not fit
 * it (maps of another version). */
int nn_capacity_from_maps(const int *map_fd, struct nn_capacity *cap);

struct nn_load_opts {
	const char *pin_dir;  /* NULL: nothing pinned (tests) */
	uint8_t framing;      /* enum nn_framing */
	uint8_t hook;	      /* enum nn_hook */
	bool record_last;     /* tests and explain: write nn_last */
	bool dry_run;	      /* judge only: no state, counter or event writes */
	bool load_xdp_direct; /* load the XDP program without libxdp (tests) */
	struct nn_capacity cap;
};

/* Every map, by the names in maps.bpf.h (and pinned by these names). */
enum nn_map_id {
	NN_M_ACTIVE,
	NN_M_ADDRS,
	NN_M_PREFIXES,
	NN_M_PFX_HASH,
	NN_M_PFX_LENS,
	NN_M_POLICY,
	NN_M_RULES,
	NN_M_FLOWS,
	NN_M_FRAGS,
	NN_M_CONFIG,
	NN_M_META,
	NN_M_DROPS,
	NN_M_DEV_STATS,
	NN_M_RULE_HITS,
	NN_M_DEV_NAMES,
	NN_M_RULE_NAMES,
	NN_M_EVENTS,
	NN_M_EVRL,
	NN_M_LAST,
	NN_M_SCRATCH,
	NN_M_LOCAL,
	NN_M_FLOWLIM,
	NN_M_FLOWRL,
	NN_M_CELLS4,	  /* small cells and markers (nanami_abi.h "Small cells") */
	NN_M_SRCF,	  /* the filter of nn_addrs' addresses (nanami_abi.h "Source filter") */
	NN_M_DENIED,	  /* flows the policy dropped (nanami_abi.h "Denied flows") */
	NN_M_DENIED_TAGS, /* nn_denied's tags: a line a group of its sets */
	NN_M_COUNT,
};

extern const char *const nn_map_names[NN_M_COUNT];

/* nn_last and nn_scratch are per-instance scratch (a dry-run "explain"
 * instance gets its own): every other map is pinned and shared. */
bool nn_map_is_pinned(enum nn_map_id id);

/* Our TC filters' identity on clsact ingress/egress: handle "NN". */
#define NN_TC_HANDLE 0x4e4e
#define NN_TC_PRIO 0x4e

struct nn_dp {
	struct from_overlay_tc *tc_from;
	struct into_overlay_tc *tc_into;
	struct from_overlay_xdp *xdp_from;
	struct xdp_program *xdp_prog; /* libxdp handle when attached through it */
	int map_fd[NN_M_COUNT];
	int barrier_outer; /* array-of-maps whose update waits for RCU */
	int barrier_inner;
	struct nn_load_opts opts;
	bool adopted; /* the maps were already pinned */
	/* The policy maps were created empty by this load and no apply has
	 * run since: the first apply's record starts empty instead of reading
	 * them back (apply.c cache_take: at 1M devices the read walks every
	 * bucket of maps sized for millions, 0.2-0.3 s, to find nothing). */
	bool maps_unwritten;
	/* The counter names maps were created empty by this load and no
	 * slot plan has run since (slots.c: the first plan does not scan
	 * them). Apart from maps_unwritten, which a plan leaves set. */
	bool names_unwritten;
	/* Adopted from a build before nn_cells4 (a generation applied, no
	 * cell in nn_cells4), whose programs may still be attached and look
	 * every cell up in nn_policy: until nn_dp_attach() replaces them,
	 * nn_apply() keeps every cell in nn_policy too (nanami_abi.h "Small
	 * cells"). */
	bool cells_compat;
	struct nn_apply_cache *apply_cache; /* apply.c: what the policy maps hold */
	/* Full applies that flipped (apply.c): a device patch is built on the
	 * class numbers of one of them and refused after another. */
	uint64_t full_seq;
	/* A device patch flipped without waiting for the RCU barrier
	 * (patch.c): it is waited before the next write of any half. */
	bool barrier_due;
	/* nn_flows' hash seed (the programs' nn_flow_seed): the adopted
	 * table's, else a random one written into the new table. */
	uint64_t flow_seed;
};

/* Open, configure and load every program; maps shared, pinned and adopted
 * when opts->pin_dir is set. */
int nn_dp_load(const struct nn_load_opts *opts, struct nn_dp **out);
void nn_dp_close(struct nn_dp *dp);

/*
 * Run @load(@arg), a libbpf object load (a skeleton's __load), and when it
 * fails log the reason as what it is: the kernel's verifier refusing a
 * program, with the last lines of its log; a map pinned under @pin_dir that
 * does not fit (maps of another size or version); or libbpf's error. The
 * logged line is also copied to @msg when given. Returns load's result.
 */
int nn_bpf_load_reported(const char *what, const char *pin_dir, int (*load)(void *), void *arg,
			 char *msg, size_t msglen);

/* Give @obj (opened, not loaded) the maps of @dp, by name: another instance
 * of the programs over the same state (explain, benchmarks). Maps that are
 * not ours stay the object's own. */
struct bpf_object;
int nn_dp_share_maps(struct bpf_object *obj, const struct nn_dp *dp);

/* The per-device bound on new flows and fragment verdicts (nn_flowlim):
 * @rate per second (0: no bound), @burst at once. -EINVAL when @rate
 * exceeds NN_MAX_NEW_FLOW_RATE or a bound has a zero @burst. Written at
 * every start (it is the controller's configuration, not state). */
int nn_dp_set_flow_limit(struct nn_dp *dp, uint32_t rate, uint32_t burst);

/* Write the defaults (timeouts, event sampling, the new-state bound) into
 * an nn_config that is all zero: what a first load does; maps adopted with a
 * configuration keep it. */
void nn_dp_write_defaults(struct nn_dp *dp);

/* Program fds for BPF_PROG_TEST_RUN. */
int nn_dp_prog_fd(const struct nn_dp *dp, enum nn_dir dir, enum nn_hook hook);

/*
 * Attach to @ifname: TC egress (into the overlay) and TC ingress or XDP
 * (from the overlay). Programs already attached with the same code stay
 * (same ids); changed code replaces them atomically.
 */
int nn_dp_attach(struct nn_dp *dp, const char *ifname);

/* Remove our programs from @ifname and our pins under @pin_dir. */
int nn_dp_detach(const char *ifname, const char *pin_dir);

/* Wait until no program can still be running with a value read before now
 * (one RCU grace period). */
int nn_dp_barrier(struct nn_dp *dp);

/* Default pin directory for @ifname into @buf. */
void nn_default_pin_dir(const char *ifname, char *buf, size_t len);

#endif /* NANAMI_DP_LOADER_H */
