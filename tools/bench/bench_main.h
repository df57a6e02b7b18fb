/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench_main.h - the timing driver of nn-microbench: cases, per-scale runs
 * (run.c) and the report (report.c).
 */
#ifndef NANAMI_BENCH_MAIN_H
#define NANAMI_BENCH_MAIN_H

#include <stdio.h>

#include "bench.h"
#include "dp/loader.h"

/* The incremental path's figures (ctl_inc.c): a JSON member
 * "incremental": {...} written to @out. 0 or -errno. *@json (@len bytes,
 * malloc'd) is freed and NULL once validated, as the daemon frees a
 * fetched body. *@inc_peak_kb: the phase's peak RSS; its figure
 * "full_again" (a later full apply, as the daemon makes one) has its own,
 * and leaves the high-water mark reset after it. */
struct nn_limits;
int bench_inc_figures(struct nn_dp *dp, char **json, size_t len, const struct nn_limits *lim,
		      FILE *out, long *inc_peak_kb);

#define MAX_SCALES 8
#define MAX_CASES 48
#define BENCH_MAX_PAIRS 65536
#define MAX_ROUNDS 101

enum bench_hook {
	HK_XDP_EMPTY,
	HK_TC_EMPTY,
	HK_TC_FROM,
	HK_XDP_FROM,
	HK_TC_INTO,
	HK_XDP_PARSE,
	HK_TC_PARSE,	    /* bench_parse.bpf.c: nn_parse only */
	HK_XDP_CACHE,	    /* bench_cache.bpf.c: random pair + XDP pipeline */
	HK_XDP_CACHE_FLOOR, /* the same random pair, then pass */
	/* bench_cache.bpf.c with a random source port per packet: a new
	 * flow (and its insert) every packet. _ONE: one pair (hot source). */
	HK_XDP_CACHE_P,
	HK_XDP_CACHE_P_FLOOR,
	HK_XDP_ONE_P,
	HK_XDP_ONE_P_FLOOR,
	/* bench_lines.bpf.c: the same prologue as HK_XDP_CACHE_FLOOR, then
	 * dependent random lines (the floors of what the cold cases read). */
	HK_LINES_CHASE, /* bench_case.k lines of the flow-sized table */
	HK_LINES_HIT,	/* a bucket's first line, its slot line, a counter line */
	HK_LINES_CTR,	/* a counter line, counted */
	HK_LINES_PUT,	/* a first line claimed, a slot line of its bucket stored */
};

/* Which packet (bench.h struct bench_pick roles, per family). */
enum bench_pk {
	PK_NONE,
	PK_SPOOF,	 /* spoof -> res tcp 5432: unknown source */
	PK_ACL,		 /* A -> C tcp 22: no rule allows it */
	PK_NEW,		 /* A -> res tcp 5432: rule 0 allows it */
	PK_EST,		 /* A -> res tcp 5432 on a recorded flow */
	PK_EGRESS,	 /* A -> internet tcp 443 */
	PK_INTO_UNKNOWN, /* internet -> unassigned overlay address */
	PK_INTO_ACL,	 /* internet -> A tcp 22: unsolicited */
	PK_INTO_NEW,	 /* A -> B udp 5000: rule 3 allows it */
	PK_INTO_EST,	 /* res -> A: the reply of PK_EST's flow */
	/* Many distinct sources: the pair is chosen at random per packet
	 * among up to 65536 (bench_pairs), on bench_cache.bpf.c. */
	PK_RAND_FLOOR, /* rewrite only (the floor of the PK_RAND_* cases) */
	PK_RAND_NEW,   /* device -> its network's res1 tcp 443, new flow */
	PK_RAND_EST,   /* the same, every pair's flow recorded first */
	PK_RAND_SPOOF, /* unassigned sources */
	PK_RAND_ACL,   /* device -> another device of its network tcp 22 */
	PK_RAND_INS,   /* PK_RAND_NEW with a random source port: always new */
};

enum bench_run {
	RUN_NORMAL,	 /* the program as deployed */
	RUN_JUDGE,	 /* the judge-only (dry_run) copy: no flow is written */
	RUN_ESTABLISHED, /* the flow is recorded first, then the normal program */
};

struct bench_case {
	const char *name;
	enum bench_hook hook;
	enum bench_pk pk;
	enum bench_run run;
	uint32_t expect; /* NN_PASS or the drop reason */
	uint32_t k;	 /* HK_LINES_CHASE: the dependent lines */
};

struct bench_opts {
	unsigned long repeat;
	unsigned long rounds;
	unsigned long insert_samples;
	int cpu;
	uint8_t framing;
	const char *only;
	bool json;
	bool no_insert;
	bool verbose;
	size_t nested_scale;   /* 0: none; else one more scale, adversarial */
	unsigned int nested;   /* nested rules in it */
	size_t lookup_entries; /* bare hash/LPM maps (0: skip) */
};

extern struct bench_opts bopts;

/* Per scale: what the policy became, and every figure. */
struct bench_scale_info {
	size_t devices, rules, networks, tenants, resources;
	size_t addrs, prefixes, cells;
	size_t json_bytes;
	double parse_ms, load_ms, apply_ms;
	size_t line_flow_bytes, line_ctr_bytes; /* the line floors' tables */
};

struct bench_fig {
	bool done;
	double med[2]; /* [0] IPv6, [1] IPv4 (floors: both the same run) */
	double min[2], max[2];
};

struct bench_insert {
	bool done;
	double lru_overwrite; /* bench_flow_insert, same key, ns/pkt */
	double lru_fresh;     /* bench_flow_insert, a new key each time, table full */
	double xdp_floor;
	double real_new;  /* normal program, repeat 1, distinct new flows */
	double judge_new; /* judge-only copy, the same packets */
};

/* Bare lookups (bench_lookup.bpf.c), ns/packet, median of rounds. */
struct bench_lk {
	bool done;
	size_t entries;
	double xdp_floor, rand_floor, hash_hot, lpm_hot, hash_rand, lpm_rand;
	/* A device counter at a random slot of @entries, counted: per-CPU
	 * array (the layout before issue 14) vs nanami_abi.h "Counter
	 * layout" (one line, no pointer load). */
	double ctr_percpu_rand, ctr_line_rand;
	/* nn_denied_seen's word at a random slot, read and stored: the
	 * per-CPU array (before session 12) vs one plain array's region. */
	double seen_percpu_rand, seen_line_rand;
};

struct bench_results {
	size_t scale[MAX_SCALES];
	unsigned int nested[MAX_SCALES]; /* nested rules of the scale (adversarial) */
	size_t n_scales;
	const struct bench_case *cases;
	size_t n_cases;
	struct bench_scale_info info[MAX_SCALES];
	struct bench_fig fig[MAX_SCALES][MAX_CASES];
	struct bench_insert ins[MAX_SCALES];
	struct bench_lk lookup;
	size_t pairs[MAX_SCALES][2]; /* distinct random pairs per family */
	uint64_t lines_seed;	     /* the line floors' tables (lines.c) */
};

struct bench_empty;
struct bench_parse;

/* What lives across scales: the floors' programs, the L3 device. */
struct bench_env {
	struct bench_empty *empty;
	struct bench_parse *parse;
	int tun_ifindex;
	char tun_name[16];
};

int bench_env_open(struct bench_env *env);
void bench_env_close(struct bench_env *env);
int bench_run(struct bench_env *env, struct bench_results *res);

void bench_report(const struct bench_results *res, FILE *f);
void bench_report_json(const struct bench_results *res, FILE *f);
int bench_run_lookup(struct bench_env *env, struct bench_lk *lk);

/* ---- the line floors (lines.c, bpf/bench_lines.bpf.c) ---- */
struct bench_lines;
struct bench_line;
struct nn_dev_line;

struct bench_line_floors {
	struct bench_lines *skel;
	struct bench_line *flow; /* mmapped: buckets x 10 lines */
	struct nn_dev_line *ctr; /* mmapped: possible CPUs x ctr_slots */
	size_t flow_bytes, ctr_bytes;
	uint32_t buckets, flow_lines, ctr_slots;
	uint64_t seed;
};

int bench_lines_seed(uint64_t *seed);
/* Load the programs sharing @pairs_fd (xdp_rand/floor's bench_pairs), a
 * flow-sized table of @buckets buckets and a counter table of @ctr_slots
 * slots a CPU, the former filled from @seed. 0 or -errno. */
int bench_lines_open(struct bench_line_floors *lf, int pairs_fd, uint32_t buckets,
		     uint32_t ctr_slots, uint8_t framing, uint64_t seed);
void bench_lines_close(struct bench_line_floors *lf);
int bench_lines_prog_fd(const struct bench_line_floors *lf, enum bench_hook h);
void bench_lines_set(struct bench_line_floors *lf, uint32_t n, bool v4, uint32_t k);
int bench_lines_check(struct bench_line_floors *lf, const struct bench_case *c, const void *pkt,
		      size_t len);

#endif /* NANAMI_BENCH_MAIN_H */
