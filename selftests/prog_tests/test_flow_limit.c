// SPDX-License-Identifier: GPL-2.0
/*
 * The per-device bound on new state (docs/datapath.md "New-state bound")
 * through the real programs (BPF_PROG_TEST_RUN, L3 framing, TC hooks) over
 * examples/assignments.json: one device flooding new flows and first
 * fragments beyond its bucket gets the excess dropped [flow_limit] and
 * nothing recorded, while another device's established flow keeps passing
 * and its own new flows are unaffected; the bucket refills with the coarse
 * clock the programs read, never from a last refill ahead of the clock;
 * rate 0 turns the bound off.
 *
 * Expected values come from the documented token bucket (rate per second,
 * burst at once, one token per flow entry or fragment verdict), not from
 * the program: the refill during a run is bounded by the time measured
 * around it on the same clock (CLOCK_MONOTONIC_COARSE).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <bpf/bpf.h>

#include "dptest.h"
#include "model_fixture.h"

#define H NN_HOOK_TC
#define SYN PB_TCP_SYN
#define ACK PB_TCP_ACK
#define RATE 20
#define BURST 40

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Tokens a bucket may have gained over @ns: whole tokens, plus one for a
 * coarse tick on either side. */
static unsigned int refill_max(uint64_t ns)
{
	return (unsigned int)(ns * RATE / 1000000000ull) + 1;
}

static struct dpt_result run(struct dpt *t, enum nn_dir dir, struct pb *b)
{
	struct dpt_result r;

	assert_int_equal(dpt_run_pb(t, dir, H, b, &r), 0);
	return r;
}

static void expect_at(int line, struct dpt_result r, int reason, int flow_hit)
{
	if (r.passed != (reason == NN_PASS) || r.reason != (uint32_t)reason ||
	    (flow_hit >= 0 && r.flow_hit != (flow_hit == 1)))
		fail_msg("line %d: passed %d reason %u flow_hit %d, want reason %d flow_hit %d",
			 line, r.passed, r.reason, r.flow_hit, reason, flow_hit);
	if (reason != NN_PASS && r.drops[reason] != 1)
		fail_msg("line %d: drop counter %d moved by %llu", line, reason,
			 (unsigned long long)r.drops[reason]);
}

#define expect(r, reason, flow_hit) expect_at(__LINE__, (r), (reason), (flow_hit))

/*
 * Stop every bucket's refill from now on: each used bucket's last refill is
 * moved an hour ahead of the clock, which the program must read as no time
 * elapsed (the state another CPU's later store leaves, docs/datapath.md).
 * What follows a flood then sees an empty bucket however slowly this runs
 * (a TCG guest takes tens of milliseconds a packet: a token at RATE 20).
 * Returns how many buckets were held.
 */
static unsigned int hold_clock(struct dpt *t)
{
	int fd = t->dp->map_fd[NN_M_FLOWRL];
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info), slot;
	unsigned int held = 0;

	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	for (slot = 0; slot < info.max_entries; slot++) {
		struct nn_ratelimit b;

		assert_int_equal(bpf_map_lookup_elem(fd, &slot, &b), 0);
		if (!b.last_ns)
			continue;
		b.last_ns = coarse_ns() + 3600ull * 1000000000ull;
		assert_int_equal(bpf_map_update_elem(fd, &slot, &b, BPF_ANY), 0);
		held++;
	}
	return held;
}

static void set_limit(struct dpt *t, uint32_t rate, uint32_t burst)
{
	assert_int_equal(nn_dp_set_flow_limit(t->dp, rate, burst), 0);
}

static int setup(void **state)
{
	struct dpt *t = calloc(1, sizeof(*t));
	struct nn_apply_result res;

	if (!t || dpt_open_shared(t, NN_FRAMING_L3) || dpt_apply(t, mf_base, &res))
		return -1;
	if (nn_dp_set_flow_limit(t->dp, RATE, BURST))
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct dpt *t = *state;

	dpt_close(t);
	free(t);
	return 0;
}

/* New alice -> db flows until one is refused; returns how many passed
 * (at most @max tried). Every refusal is [flow_limit], counted once. */
static unsigned int flood(struct dpt *t, uint16_t *port, unsigned int max)
{
	unsigned int passed = 0, i;
	struct pb b;

	for (i = 0; i < max; i++) {
		struct dpt_result r = run(t, FROM, mf_tcp(&b, ALICE6, DB6, (*port)++, 5432, SYN));

		if (!r.passed) {
			expect(r, NN_R_FLOW_LIMIT, 0);
			return passed;
		}
		expect(r, NN_PASS, 0);
		passed++;
	}
	return passed;
}

/* The defaults the loader writes: the documented ones. */
static void test_defaults(void **state)
{
	struct dpt *t = *state;
	struct nn_flowlim lim;
	struct dpt fresh;

	(void)t;
	assert_int_equal(dpt_open_loader_defaults(&fresh, NN_FRAMING_L3), 0);
	assert_int_equal(
		bpf_map_lookup_elem(fresh.dp->map_fd[NN_M_FLOWLIM], &(uint32_t){ 0 }, &lim), 0);
	assert_int_equal(lim.rate, NN_DEF_NEW_FLOW_RATE);
	assert_int_equal(lim.burst, NN_DEF_NEW_FLOW_BURST);
	assert_int_equal(nn_dp_set_flow_limit(fresh.dp, NN_MAX_NEW_FLOW_RATE + 1, 1), -EINVAL);
	assert_int_equal(nn_dp_set_flow_limit(fresh.dp, 5, 0), -EINVAL);
	dpt_close(&fresh);
}

/* alice floods; carol (globex) and bob (acme, alice's tenant) are not
 * touched: their established flows pass, their new flows open. */
static void test_flood_spares_others(void **state)
{
	struct dpt *t = *state;
	uint16_t port = 20000;
	unsigned int passed, i;
	uint64_t t0, t1;
	struct pb b;

	/* Established before the flood: carol's, bob's and alice's own. */
	expect(run(t, FROM, mf_udp(&b, CAROL6, FILES6, 5000, 53)), NN_PASS, 0);
	expect(run(t, INTO, mf_udp(&b, FILES6, CAROL6, 53, 5000)), NN_PASS, 1);
	expect(run(t, FROM, mf_tcp(&b, BOB6, WEB6, 6000, 443, SYN)), NN_PASS, 0);
	expect(run(t, FROM, mf_tcp(&b, ALICE6, DB6, 7000, 5432, SYN)), NN_PASS, 0);

	t0 = coarse_ns();
	passed = flood(t, &port, 10 * BURST);
	t1 = coarse_ns();
	/* alice had BURST - 1 tokens left, and what the clock added. */
	if (passed < BURST - 1 || passed > BURST - 1 + refill_max(t1 - t0))
		fail_msg("%u new flows passed in %llu ns, want %u..%u", passed,
			 (unsigned long long)(t1 - t0), BURST - 1, BURST - 1 + refill_max(t1 - t0));
	/* carol's, bob's and alice's buckets. */
	assert_int_equal(hold_clock(t), 3);
	/* Nothing was recorded for a refused flow: its next packet is new
	 * again, and refused again. */
	expect(run(t, FROM, mf_tcp(&b, ALICE6, DB6, port - 1, 5432, ACK)), NN_R_FLOW_LIMIT, 0);
	/* The flooding device's own established flow is not state creation. */
	expect(run(t, FROM, mf_tcp(&b, ALICE6, DB6, 7000, 5432, ACK)), NN_PASS, 1);
	/* Toward alice (into the overlay) the new flow is hers too. */
	expect(run(t, INTO, mf_echo(&b, BOB6, ALICE6, true, 99)), NN_R_FLOW_LIMIT, 0);

	/* The others. */
	expect(run(t, FROM, mf_udp(&b, CAROL6, FILES6, 5000, 53)), NN_PASS, 1);
	expect(run(t, INTO, mf_udp(&b, FILES6, CAROL6, 53, 5000)), NN_PASS, 1);
	expect(run(t, FROM, mf_tcp(&b, BOB6, WEB6, 6000, 443, ACK)), NN_PASS, 1);
	for (i = 0; i < BURST / 2; i++) {
		expect(run(t, FROM, mf_udp(&b, CAROL6, FILES6, 5001 + i, 53)), NN_PASS, 0);
		expect(run(t, FROM, mf_tcp(&b, BOB6, WEB6, 6001 + i, 443, SYN)), NN_PASS, 0);
	}
}

/* First fragments cost a token; a refused one records no verdict, so its
 * later fragments drop [fragment]. Another device's fragments pass. */
static void test_fragments(void **state)
{
	struct dpt *t = *state;
	uint16_t port = 30000;
	struct pb b;

	flood(t, &port, 10 * BURST);
	assert_int_equal(hold_clock(t), 1);
	expect(run(t, FROM,
		   pb_frag(mf_tcp(&b, ALICE6, DB6, 31000, 5432, SYN), PB_FRAG_FIRST, 7, 0)),
	       NN_R_FLOW_LIMIT, 0);
	expect(run(t, FROM,
		   pb_payload(pb_frag(pb_proto(pb_ip(pb_init(&b), ALICE6, DB6), 6), PB_FRAG_LATER,
				      7, 4),
			      64)),
	       NN_R_FRAGMENT, 0);
	/* A first fragment dropped anyway keeps its own reason. */
	expect(run(t, FROM, pb_frag(mf_tcp(&b, ALICE6, DB6, 31001, 22, SYN), PB_FRAG_FIRST, 8, 0)),
	       NN_R_ACL_DEFAULT_DENY, 0);
	expect(run(t, FROM, pb_frag(mf_udp(&b, CAROL6, FILES6, 5100, 53), PB_FRAG_FIRST, 9, 0)),
	       NN_PASS, 0);
	expect(run(t, FROM,
		   pb_payload(pb_frag(pb_proto(pb_ip(pb_init(&b), CAROL6, FILES6), 17),
				      PB_FRAG_LATER, 9, 4),
			      64)),
	       NN_PASS, 0);
}

/* The bucket refills at RATE per second of the coarse clock, up to BURST. */
static void test_refill(void **state)
{
	struct dpt *t = *state;
	uint16_t port = 40000;
	unsigned int passed;
	uint64_t t0, t1;
	struct timespec nap = { .tv_sec = 1, .tv_nsec = 100000000 };

	flood(t, &port, 10 * BURST);
	t0 = coarse_ns();
	nanosleep(&nap, NULL);
	passed = flood(t, &port, 10 * BURST);
	t1 = coarse_ns();
	/* At least 1.1 s of refill (less the tick either side), at most what
	 * the clock allows, never above BURST. */
	if (passed < RATE || passed > refill_max(t1 - t0) || passed > BURST)
		fail_msg("after %llu ns %u new flows passed, want %u..%u",
			 (unsigned long long)(t1 - t0), passed, RATE, refill_max(t1 - t0));
	/* A long idle bucket is full, not more. */
	set_limit(t, RATE, 5);
	nap.tv_nsec = 400000000;
	nap.tv_sec = 0;
	nanosleep(&nap, NULL);
	/* The first new flow refills (to 5, not 8) and takes one; held from
	 * there, four more pass. */
	assert_int_equal(flood(t, &port, 1), 1);
	hold_clock(t);
	assert_int_equal(flood(t, &port, 10 * BURST), 4);
}

/* A last refill ahead of the clock (another CPU's store between this CPU's
 * clock read and its load) refills nothing, however far ahead: the wrapped
 * difference must not read as a long idle. With the bucket full, the burst
 * still passes; empty, nothing does. */
static void test_clock_behind(void **state)
{
	struct dpt *t = *state;
	uint16_t port = 60000;

	assert_int_equal(flood(t, &port, 1), 1);
	assert_int_equal(hold_clock(t), 1);
	assert_int_equal(flood(t, &port, 10 * BURST), BURST - 1);
	assert_int_equal(flood(t, &port, 10 * BURST), 0);
}

/* rate 0: no bound at all. */
static void test_off(void **state)
{
	struct dpt *t = *state;
	uint16_t port = 50000;

	set_limit(t, 0, 0);
	assert_int_equal(flood(t, &port, 10 * BURST), 10 * BURST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_spares_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_behind, setup, teardown),
	};

	return cmocka_run_group_tests_name("per-device new-state bound (BPF)", tests,
					   mf_group_setup, mf_group_teardown);
}
