/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dptest.h - drive the real programs with BPF_PROG_TEST_RUN: load them
 * (record_last on, small maps, nothing pinned or attached), apply a policy
 * through the real compiler and generation switch, run one packet, read the
 * verdict, the deciding rule and the counters that moved.
 */
#ifndef NANAMI_DPTEST_H
#define NANAMI_DPTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp/apply.h"
#include "dp/loader.h"
#include "policy/policy.h"
#include "pktbuild.h"

struct dpt {
	struct nn_dp *dp;
	uint8_t framing;
	int l3_ifindex; /* a TUN device: TC test runs see L3 packets */
	char l3_ifname[16];
	int ncpu;
	bool shared; /* dpt_open_shared()'s copy: dpt_close() leaves it */
};

struct dpt_result {
	bool passed;
	uint32_t reason; /* enum nn_reason (nn_last) */
	int32_t rule;	 /* deciding rule index, -1 none */
	bool untouched;
	bool flow_hit;
	bool denied_hit;	  /* a remembered denied flow (nn_denied) decided */
	struct nn_verdict v;	  /* nn_last as the program wrote it */
	uint64_t drops[NN_R_MAX]; /* per-reason drop counter deltas */
};

/* Load with @framing; the test process is pinned to CPU 0 so per-CPU
 * values are read from one place. 0 or -errno. */
int dpt_open(struct dpt *t, uint8_t framing);
/* dpt_open() with nn_flows of @max_flows entries and nn_denied of
 * @max_denied (0: the usual sizes), for tests that fill them. */
int dpt_open_tables(struct dpt *t, uint8_t framing, uint32_t max_flows, uint32_t max_denied);
/* dpt_open() with what the loader writes left as it is (the new-state bound
 * at its defaults; dpt_open() puts it out of reach). */
int dpt_open_loader_defaults(struct dpt *t, uint8_t framing);

/*
 * Like dpt_open(), but over maps pinned in @pin_dir (created, or adopted
 * when already there), optionally as a dry-run instance: what
 * `nanami-gwctl explain` loads. Two instances on the same @pin_dir share
 * every map but nn_last. An L3 instance reuses @l3_from's TUN device when
 * given (so both see the same ifindex).
 */
int dpt_open_pinned(struct dpt *t, uint8_t framing, const char *pin_dir, bool dry_run,
		    const struct dpt *l3_from);
void dpt_close(struct dpt *t);

/* Apply through nn_apply(): 0, or the -errno behind a rejection or failure
 * (messages to stderr, with the outcome). */
int dpt_apply(struct dpt *t, const struct nn_policy *p, struct nn_apply_result *res);

/* Run @pkt (starting at L2 for Ethernet framing, at L3 otherwise) through
 * the program for @dir / @hook. 0 or -errno. */
int dpt_run(struct dpt *t, enum nn_dir dir, enum nn_hook hook, const uint8_t *pkt, size_t len,
	    struct dpt_result *r);

/* dpt_run() of @b built (pktbuild.h): -EINVAL when it does not build. */
int dpt_run_pb(struct dpt *t, enum nn_dir dir, enum nn_hook hook, const struct pb *b,
	       struct dpt_result *r);

/* As dpt_run() without the drop-counter deltas (r->drops stays zero): three
 * syscalls instead of ~30, for tests that run hundreds of thousands of
 * packets and compare verdicts only. */
int dpt_run_fast(struct dpt *t, enum nn_dir dir, enum nn_hook hook, const uint8_t *pkt, size_t len,
		 struct dpt_result *r);

/* Sum over CPUs of the drop counter for @reason. */
uint64_t dpt_drops(struct dpt *t, uint32_t reason);

/*
 * The source filter of the live slot (nanami_abi.h "Source filter"), read
 * from the maps: -1 when its half is not stamped for the live epoch (the
 * programs would not use it), else how many keys of nn_addrs' and
 * nn_cells4's live halves its bits miss (a false "surely absent": must be
 * 0). *n_keys: the keys of the live halves.
 */
long dpt_srcf_missing(struct dpt *t, size_t *n_keys);

/* Forget every tracked flow and fragment. */
int dpt_flush_state(struct dpt *t);

/*
 * The test binary's one loaded instance for @framing, handed back as
 * dpt_open() leaves a new one: every map emptied or zeroed, the loader's
 * defaults written again, the applier's record dropped, the event ring
 * drained, the new-state bound out of reach. Loading costs the verifier
 * ~3 s a program in a TCG guest (8.5 s for the three on 6.1), paid once a
 * binary instead of once a subtest. @t is a borrowed copy: dpt_close() on it
 * does nothing; the instance is closed at exit. test_dpt_reset checks that
 * a reset instance holds exactly what a fresh one does. 0 or -errno.
 */
int dpt_open_shared(struct dpt *t, uint8_t framing);

/* Bring @t back to as loaded (what dpt_open_shared() does). 0 or -errno. */
int dpt_reset(struct dpt *t);

#endif /* NANAMI_DPTEST_H */
