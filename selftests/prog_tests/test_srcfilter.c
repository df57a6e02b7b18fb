// SPDX-License-Identifier: GPL-2.0
/*
 * The source filter (nanami_abi.h "Source filter", docs/datapath.md "Source
 * filter"): the per-slot filter of nn_addrs' addresses that lets the
 * programs drop a packet whose overlay end is no identity from one line.
 * Through the real programs (BPF_PROG_TEST_RUN, L3 framing) over
 * examples/assignments.json:
 *
 *  - after every apply, sync and host-address bump, the live half is stamped
 *    for the live epoch and holds every address of nn_addrs' live half (a
 *    missing one would be a device dropped as spoof), while it answers
 *    "surely absent" for nearly every address that is no identity;
 *  - the programs read it: with a device's line cleared, the device's
 *    packets (even of an established flow) are [spoof] from the overlay and
 *    [unknown_dst] into it, counted; with the half unstamped the same
 *    cleared line is ignored (a stale filter never decides), and the next
 *    apply of the same policy rebuilds and stamps it;
 *  - an address moving between devices across generation switches gets
 *    each generation's verdict from the model, both ways, in every order.
 *
 * Verdicts come from the reference model (verdicts.md), not from the filter.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <bpf/bpf.h>

#include "dp/local.h"
#include "dptest.h"
#include "lib/addr.h"
#include "model_fixture.h"
#include "xorshift.h"

#define SYN PB_TCP_SYN
#define ACK PB_TCP_ACK
#define MOVED6 "fd7a:6e61:6e61:10::42" /* alice's address in the variant */

struct st {
	struct dpt t;
	void *mf; /* struct mf_ctx */
};

static int setup(void **state)
{
	struct st *s = calloc(1, sizeof(*s));
	struct nn_apply_result res;

	if (!s || mf_setup(&s->mf) || dpt_open_shared(&s->t, NN_FRAMING_L3) ||
	    dpt_apply(&s->t, mf_base, &res))
		return -1;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct st *s = *state;

	mf_teardown(&s->mf);
	dpt_close(&s->t);
	free(s);
	return 0;
}

static struct dpt_result run(struct st *s, enum nn_dir dir, enum nn_hook hook, struct pb *b)
{
	uint8_t pkt[PB_BUF_LEN];
	struct dpt_result r;
	size_t len = pb_build(b, pkt, sizeof(pkt));

	assert_true(len > 0);
	assert_int_equal(dpt_run(&s->t, dir, hook, pkt, len, &r), 0);
	return r;
}

static void expect_at(int line, struct dpt_result r, uint32_t reason, int flow_hit)
{
	if (r.passed != (reason == NN_PASS) || r.reason != reason ||
	    (flow_hit >= 0 && r.flow_hit != (flow_hit == 1)))
		fail_msg("line %d: passed %d reason %u flow_hit %d, want reason %u flow_hit %d",
			 line, r.passed, r.reason, r.flow_hit, reason, flow_hit);
	if (reason != NN_PASS && r.drops[reason] != 1)
		fail_msg("line %d: drop counter %u moved by %llu", line, reason,
			 (unsigned long long)r.drops[reason]);
}

#define expect(r, reason, flow_hit) expect_at(__LINE__, (r), (reason), (flow_hit))

/* The model's verdict for @b under @p (a fresh model, no state). */
static uint32_t model(const struct nn_policy *p, enum nn_dir dir, struct pb *b)
{
	struct nn_model *m = nn_model_new(p);
	struct nn_model_verdict v;

	assert_non_null(m);
	v = mf_judge(m, dir, b, T0);
	nn_model_free(m);
	return v.reason;
}

static void covered_at(int line, struct st *s)
{
	size_t n = 0;
	long miss = dpt_srcf_missing(&s->t, &n);

	if (miss)
		fail_msg("line %d: the live source filter %s (%ld of %zu keys missing)", line,
			 miss < 0 ? "is not stamped for the live epoch" : "misses keys", miss, n);
	assert_true(n > 0);
}

#define covered(s) covered_at(__LINE__, (s))

/* The live half's line of @addr: its key and value. */
static uint32_t line_of(struct st *s, const char *addr, struct nn_srcf_line *l, uint32_t *hdr)
{
	uint32_t lines = nn_srcf_lines_for(&s->t.dp->opts.cap), epoch = 0, key;
	uint8_t a[NN_ADDR_LEN];
	uint64_t h;

	assert_int_equal(nn_live_epoch(s->t.dp, &epoch), 0);
	assert_int_equal(nn_addr_parse(addr, a, NULL), 0);
	h = nn_srcf_hash(a);
	*hdr = NN_SLOT(epoch) * (lines + 1);
	key = *hdr + 1 + ((uint32_t)(h >> 32) & (lines - 1));
	assert_int_equal(bpf_map_lookup_elem(s->t.dp->map_fd[NN_M_SRCF], &key, l), 0);
	return key;
}

static void put(struct st *s, uint32_t key, const struct nn_srcf_line *l)
{
	assert_int_equal(bpf_map_update_elem(s->t.dp->map_fd[NN_M_SRCF], &key, l, BPF_ANY), 0);
}

/* Stamped and complete, and "surely absent" for nearly all addresses that
 * are no identity: random ones in the overlay's /48, IPv6 and IPv4. */
static void test_covers_and_answers(void **state)
{
	struct st *s = *state;
	struct nn_srcf_line l;
	uint32_t lines = nn_srcf_lines_for(&s->t.dp->opts.cap), epoch = 0, base, key;
	uint32_t rng = 0x5eed1234;
	size_t i, maybe = 0, n = 20000;

	covered(s);
	assert_int_equal(nn_live_epoch(s->t.dp, &epoch), 0);
	base = NN_SLOT(epoch) * (lines + 1);
	for (i = 0; i < n; i++) {
		uint8_t a[NN_ADDR_LEN];
		uint32_t r = nn_xorshift32(&rng);
		uint64_t h;

		if (i & 1) {
			assert_int_equal(nn_addr_parse("fd7a:6e61:6e61:10::", a, NULL), 0);
			memcpy(a + 8, &r, 4);
			r = nn_xorshift32(&rng);
			memcpy(a + 12, &r, 4);
		} else {
			assert_int_equal(nn_addr_parse("100.96.0.0", a, NULL), 0);
			memcpy(a + 14, &r, 2);
		}
		h = nn_srcf_hash(a);
		key = base + 1 + ((uint32_t)(h >> 32) & (lines - 1));
		assert_int_equal(bpf_map_lookup_elem(s->t.dp->map_fd[NN_M_SRCF], &key, &l), 0);
		maybe += nn_srcf_has(l.w, h);
	}
	fprintf(stderr, "# %u lines a half: %zu of %zu absent addresses are a maybe\n", lines,
		maybe, n);
	/* A few dozen addresses in the lines of 4096 devices' capacity:
	 * a maybe is a rare collision, far below 1 %. */
	assert_true(maybe * 100 < n);
}

/* The programs decide from the filter: a cleared line drops its device, an
 * unstamped half is ignored. Both hooks from the overlay, TC into it. */
static void test_programs_read_it(void **state)
{
	struct st *s = *state;
	struct nn_srcf_line l, back, cleared = { { 0 } }, hdr;
	struct nn_apply_result res;
	uint32_t key, hkey;
	struct pb b;

	expect(run(s, FROM, NN_HOOK_TC, mf_tcp(&b, ALICE6, DB6, 40000, 5432, SYN)), NN_PASS, 0);
	expect(run(s, INTO, NN_HOOK_TC, mf_tcp(&b, DB6, ALICE6, 5432, 40000, ACK)), NN_PASS, 1);
	key = line_of(s, ALICE6, &l, &hkey);
	put(s, key, &cleared);
	expect(run(s, FROM, NN_HOOK_TC, mf_tcp(&b, ALICE6, DB6, 40000, 5432, ACK)), NN_R_SPOOF, 0);
	expect(run(s, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 5432, ACK)), NN_R_SPOOF, 0);
	expect(run(s, INTO, NN_HOOK_TC, mf_tcp(&b, DB6, ALICE6, 5432, 40000, ACK)),
	       NN_R_UNKNOWN_DST, 0);
	/* Unstamped: the same cleared line decides nothing. */
	assert_int_equal(bpf_map_lookup_elem(s->t.dp->map_fd[NN_M_SRCF], &hkey, &hdr), 0);
	hdr.w[0] = 0;
	put(s, hkey, &hdr);
	expect(run(s, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 5432, ACK)), NN_PASS, 1);
	expect(run(s, INTO, NN_HOOK_TC, mf_tcp(&b, DB6, ALICE6, 5432, 40000, ACK)), NN_PASS, 1);
	/* The next apply of the same policy (nothing to flip) rebuilds the
	 * unstamped live half from its record, the cleared line included,
	 * and stamps it: a controller adopting maps without a filter, or
	 * after a failed filter write, gets it back. */
	assert_int_equal(dpt_apply(&s->t, mf_base, &res), 0);
	assert_false(res.flipped);
	assert_true(res.writes > 1);
	covered(s);
	assert_int_equal(bpf_map_lookup_elem(s->t.dp->map_fd[NN_M_SRCF], &key, &back), 0);
	assert_memory_equal(&back, &l, sizeof(l));
	expect(run(s, FROM, NN_HOOK_TC, mf_tcp(&b, ALICE6, DB6, 40000, 5432, ACK)), NN_PASS, 1);
	/* Stamped: the same apply again writes nothing. */
	assert_int_equal(dpt_apply(&s->t, mf_base, &res), 0);
	assert_int_equal(res.writes, 0);
}

/* One generation's verdicts for alice's two addresses, both directions,
 * from the model. */
static void judge_at(int line, struct st *s, const struct nn_policy *p, uint16_t port)
{
	const char *addr[2] = { ALICE6, MOVED6 };
	struct pb b;
	int i;

	covered_at(line, s);
	for (i = 0; i < 2; i++) {
		uint32_t want = model(p, FROM, mf_tcp(&b, addr[i], DB6, port, 5432, SYN));
		struct dpt_result r = run(s, FROM, NN_HOOK_XDP, &b);

		if (r.reason != want)
			fail_msg("line %d: %s -> db: reason %u, the model says %u", line, addr[i],
				 r.reason, want);
		want = model(p, INTO, mf_tcp(&b, DB6, addr[i], 5432, port + 1, SYN));
		r = run(s, INTO, NN_HOOK_TC, &b);
		if (r.reason != want)
			fail_msg("line %d: db -> %s: reason %u, the model says %u", line, addr[i],
				 r.reason, want);
	}
}

#define judge(s, p, port) judge_at(__LINE__, (s), (p), (port))

/* alice's address moves and back, over full applies (the filter extended
 * or rebuilt), the idle sync of the standby half and host-address bumps
 * (the live epoch moves by two on the same slot). */
static void test_moves_follow(void **state)
{
	struct st *s = *state;
	struct nn_policy *moved;
	struct nn_apply_result res;
	struct nn_local_change chg;
	struct nn_host_addr ha = { .ifindex = 1 };
	uint16_t port = 41000;
	size_t w, i;

	moved = mf_variant(s->mf, "\"overlay_ipv6\": \"" ALICE6 "\"",
			   "\"overlay_ipv6\": \"" MOVED6 "\"");
	assert_non_null(moved);
	judge(s, mf_base, port++);
	for (i = 0; i < 3; i++) {
		assert_int_equal(dpt_apply(&s->t, moved, &res), 0);
		judge(s, moved, port += 2);
		assert_int_equal(dpt_apply(&s->t, mf_base, &res), 0);
		judge(s, mf_base, port += 2);
	}
	assert_int_equal(nn_apply_sync_standby(s->t.dp, &w), 0);
	judge(s, mf_base, port += 2);
	assert_int_equal(dpt_apply(&s->t, moved, &res), 0);
	judge(s, moved, port += 2);
	assert_int_equal(nn_addr_parse("192.0.2.77", ha.addr, NULL), 0);
	assert_int_equal(nn_local_set(s->t.dp, &ha, 1, &chg), 0);
	assert_true(chg.bumped);
	judge(s, moved, port += 2);
	assert_int_equal(dpt_apply(&s->t, mf_base, &res), 0);
	judge(s, mf_base, port += 2);
	assert_int_equal(nn_local_set(s->t.dp, NULL, 0, &chg), 0);
	assert_true(chg.bumped);
	judge(s, mf_base, port += 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_covers_and_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_programs_read_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moves_follow, setup, teardown),
	};

	return cmocka_run_group_tests_name("source filter (BPF)", tests, mf_group_setup,
					   mf_group_teardown);
}
