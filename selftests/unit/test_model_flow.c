// SPDX-License-Identifier: GPL-2.0
/*
 * test_model_flow.c - the reference model's state (docs/datapath.md
 * "Flows, ICMP errors, fragments"): replies, idle timeouts and TCP states,
 * re-judgement of flows of an older policy epoch, fragment verdicts and
 * ICMP errors quoting tracked flows.
 *
 * Policy variants (a revoked rule, a disabled device...) are the example
 * snapshot with one string replaced, so each test shows what changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "model_fixture.h"

/* ---- Flows ---- */

static void test_flow_internet_reply(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge(c->m, FROM, mf_tcp(&b, ALICE6, NET6, 40000, 443, PB_TCP_SYN), T0);
	mf_expect(&v, NN_PASS, NULL);
	v = mf_judge(c->m, INTO, mf_tcp(&b, NET6, ALICE6, 443, 40000, PB_TCP_SYN | PB_TCP_ACK), T0);
	mf_expect(&v, NN_PASS, NULL);
	assert_true(v.flow_hit);
	/* Another port pair is not the flow. */
	v = mf_judge(c->m, INTO, mf_tcp(&b, NET6, ALICE6, 443, 40001, PB_TCP_ACK), T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
}

/* UDP idles out after 60 s; every packet refreshes it. */
static void test_flow_udp_idle(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge(c->m, FROM, mf_udp(&b, CAROL4, DNS4, 5353, 53), T0);
	mf_expect(&v, NN_PASS, NULL);
	v = mf_judge(c->m, INTO, mf_udp(&b, DNS4, CAROL4, 53, 5353), T0 + 59 * SEC);
	assert_true(v.flow_hit);
	v = mf_judge(c->m, INTO, mf_udp(&b, DNS4, CAROL4, 53, 5353), T0 + 118 * SEC);
	assert_true(v.flow_hit);
	v = mf_judge(c->m, INTO, mf_udp(&b, DNS4, CAROL4, 53, 5353), T0 + 178 * SEC);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
	assert_int_equal(nn_model_flow_count(c->m), 0);
}

/* TCP: new 60 s, established 7200 s, closing 10 s. */
static void test_flow_tcp_states(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	mf_judge(c->m, FROM, mf_ex1(&b), T0);
	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_ACK), T0 + 60 * SEC);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);

	mf_judge(c->m, FROM, mf_ex1(&b), T0);
	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_SYN | PB_TCP_ACK),
		     T0 + SEC);
	assert_true(v.flow_hit);
	v = mf_judge(c->m, FROM, mf_tcp(&b, ALICE6, DB6, 40000, 5432, PB_TCP_ACK), T0 + 3000 * SEC);
	assert_true(v.flow_hit);
	v = mf_judge(c->m, FROM, mf_tcp(&b, ALICE6, DB6, 40000, 5432, PB_TCP_FIN | PB_TCP_ACK),
		     T0 + 3001 * SEC);
	assert_true(v.flow_hit);
	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_FIN | PB_TCP_ACK),
		     T0 + 3010 * SEC);
	assert_true(v.flow_hit);
	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_ACK), T0 + 3020 * SEC);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
	assert_false(v.flow_hit);
}

/* Echo flows are keyed by the id and idle out after 30 s. */
static void test_flow_echo(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge(c->m, FROM, mf_echo(&b, CAROL4, DNS4, true, 9), T0);
	mf_expect(&v, NN_PASS, NULL);
	v = mf_judge(c->m, INTO, mf_echo(&b, DNS4, CAROL4, false, 9), T0 + SEC);
	mf_expect(&v, NN_PASS, NULL);
	assert_true(v.flow_hit);
	v = mf_judge(c->m, INTO, mf_echo(&b, DNS4, CAROL4, false, 10), T0 + SEC);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
	v = mf_judge(c->m, INTO, mf_echo(&b, DNS4, CAROL4, false, 9), T0 + 31 * SEC);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);

	v = mf_judge(c->m, FROM, mf_echo(&b, BOB6, ALICE6, true, 3), T0);
	mf_expect(&v, NN_PASS, "ping-peers");
	v = mf_judge(c->m, INTO, mf_echo(&b, ALICE6, BOB6, false, 3), T0);
	assert_true(v.flow_hit);
}

/* A new generation keeps a flow its policy still allows. */
static void test_flow_stale_kept(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	mf_judge(c->m, FROM, mf_ex1(&b), T0);
	nn_model_set_policy(c->m, mf_variant(c, "\"generation\": 7", "\"generation\": 8"));
	assert_int_equal(nn_model_epoch(c->m), 2);
	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_SYN | PB_TCP_ACK),
		     T0 + SEC);
	mf_expect(&v, NN_PASS, NULL);
	assert_true(v.flow_hit);
	assert_int_equal(nn_model_flow_count(c->m), 1);
}

/* Re-judgement judges the opener in its own direction: bob -> alice was
 * opened into the overlay, and only alice is a ping-peers destination now,
 * so alice's reply (which alone would be default-denied) still passes. */
static void test_flow_stale_opener_direction(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct nn_policy *p;
	struct pb b;

	v = mf_judge(c->m, INTO, mf_echo(&b, BOB6, ALICE6, true, 5), T0);
	mf_expect(&v, NN_PASS, "ping-peers");
	p = mf_variant(c, "\"devices\": [\"alice-laptop\", \"bob-phone\"]",
		       "\"devices\": [\"alice-laptop\"]");
	nn_model_set_policy(c->m, p);
	v = mf_judge(c->m, FROM, mf_echo(&b, ALICE6, BOB6, false, 5), T0 + SEC);
	mf_expect_p(&v, p, NN_PASS, NULL);
	assert_true(v.flow_hit);
	v = mf_judge(c->m, FROM, mf_echo(&b, ALICE6, BOB6, true, 6), T0 + SEC);
	mf_expect_p(&v, p, NN_R_ACL_DEFAULT_DENY, NULL);
}

/* Revoking the rule cuts the flow on its next packet. */
static void test_flow_stale_rule_revoked(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct nn_policy *p;
	struct pb b;

	mf_judge(c->m, FROM, mf_ex1(&b), T0);
	p = mf_variant(c, "\"ports\": [\"5432\", \"8000-8080\"]", "\"ports\": [\"8000-8080\"]");
	nn_model_set_policy(c->m, p);
	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_SYN | PB_TCP_ACK),
		     T0 + SEC);
	mf_expect_p(&v, p, NN_R_ACL_DEFAULT_DENY, NULL);
	assert_false(v.flow_hit);
	assert_int_equal(nn_model_flow_count(c->m), 0);
	v = mf_judge(c->m, FROM, mf_ex1(&b), T0 + 2 * SEC);
	mf_expect_p(&v, p, NN_R_ACL_DEFAULT_DENY, NULL);
}

/* A disabled device's flows stop in both directions. */
static void test_flow_device_revoked(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct nn_policy *p;
	struct pb b;

	mf_judge(c->m, FROM, mf_ex1(&b), T0);
	p = mf_variant(c, "\"state\": \"active\", \"key_generation\": 3",
		       "\"state\": \"disabled\", \"key_generation\": 3");
	nn_model_set_policy(c->m, p);
	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_ACK), T0 + SEC);
	mf_expect_p(&v, p, NN_R_REVOKED, NULL);
	v = mf_judge(c->m, FROM, mf_tcp(&b, ALICE6, DB6, 40000, 5432, PB_TCP_ACK), T0 + SEC);
	mf_expect_p(&v, p, NN_R_REVOKED, NULL);
}

static void test_flow_flush(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	mf_judge(c->m, FROM, mf_ex1(&b), T0);
	nn_model_flush_flows(c->m);
	assert_int_equal(nn_model_flow_count(c->m), 0);
	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_ACK), T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
}

/* ---- Fragments ---- */

static void test_frag_v6(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge(c->m, FROM, pb_frag(mf_ex1(&b), PB_FRAG_FIRST, 77, 0), T0);
	mf_expect(&v, NN_PASS, "eng-db");
	assert_int_equal(nn_model_frag_count(c->m), 1);
	pb_payload(pb_frag(mf_ex1(&b), PB_FRAG_LATER, 77, 10), 64);
	v = mf_judge(c->m, FROM, &b, T0 + SEC);
	mf_expect(&v, NN_PASS, NULL);
	/* Step 1 still comes first. */
	pb_payload(pb_frag(mf_tcp(&b, NOBODY6, DB6, 1, 1, 0), PB_FRAG_LATER, 77, 10), 64);
	v = mf_judge(c->m, FROM, &b, T0 + SEC);
	mf_expect(&v, NN_R_SPOOF, NULL);
	/* An orphan, and an expired verdict. */
	v = mf_judge(c->m, FROM, pb_frag(mf_ex1(&b), PB_FRAG_LATER, 78, 10), T0);
	mf_expect(&v, NN_R_FRAGMENT, NULL);
	v = mf_judge(c->m, FROM, pb_frag(mf_ex1(&b), PB_FRAG_LATER, 77, 20), T0 + 30 * SEC);
	mf_expect(&v, NN_R_FRAGMENT, NULL);

	/* A dropped first fragment's reason follows. */
	pb_frag(mf_tcp(&b, ALICE6, DB6, 40000, 22, PB_TCP_SYN), PB_FRAG_FIRST, 80, 0);
	v = mf_judge(c->m, FROM, &b, T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
	v = mf_judge(c->m, FROM, pb_frag(&b, PB_FRAG_LATER, 80, 3), T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
}

static void test_frag_v4(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	/* A first fragment's UDP length covers the whole datagram. */
	mf_udp(&b, CAROL4, DNS4, 5353, 53);
	pb_lie(pb_payload(pb_frag(&b, PB_FRAG_FIRST, 5, 0), 32), PB_F_UDP_LEN, 3000);
	v = mf_judge(c->m, FROM, &b, T0);
	mf_expect(&v, NN_PASS, NULL);
	v = mf_judge(c->m, FROM, pb_frag(mf_udp(&b, CAROL4, DNS4, 0, 0), PB_FRAG_LATER, 5, 100),
		     T0);
	mf_expect(&v, NN_PASS, NULL);
	/* The first fragment opened a flow; a later fragment of the reply
	 * has its own (absent) first-fragment verdict. */
	v = mf_judge(c->m, INTO, mf_udp(&b, DNS4, CAROL4, 53, 5353), T0);
	assert_true(v.flow_hit);
	v = mf_judge(c->m, INTO, pb_frag(mf_udp(&b, DNS4, CAROL4, 0, 0), PB_FRAG_LATER, 9, 100),
		     T0);
	mf_expect(&v, NN_R_FRAGMENT, NULL);
}

/* ---- ICMP errors ---- */

static size_t build(struct pb *b, uint8_t *buf)
{
	return pb_build(b, buf, PB_BUF_LEN);
}

static void test_icmp_error_untracked(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	uint8_t q[PB_BUF_LEN];
	size_t qlen;
	struct pb b;

	qlen = build(mf_ex1(&b), q);
	v = mf_judge(c->m, INTO, pb_ptb(pb_ip(pb_init(&b), DB6, ALICE6), 1280, q, qlen), T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
	assert_false(v.flow_hit);

	/* #4's flow is bob's: an error about it toward alice is not tracked. */
	qlen = build(mf_tcp(&b, BOB6, WEB6, 40000, 443, PB_TCP_SYN), q);
	mf_expect((v = mf_judge(c->m, FROM, &b, T0), &v), NN_PASS, "all-web");
	v = mf_judge(c->m, INTO, pb_ptb(pb_ip(pb_init(&b), WEB6, ALICE6), 1280, q, qlen), T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
	v = mf_judge(c->m, INTO, pb_ptb(pb_ip(pb_init(&b), WEB6, BOB6), 1280, q, qlen), T0);
	mf_expect(&v, NN_PASS, NULL);
	assert_true(v.flow_hit);
}

/* An error from a device about the reply it received passes outward. */
static void test_icmp_error_from_overlay(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	uint8_t q[PB_BUF_LEN];
	size_t qlen;
	struct pb b;

	mf_judge(c->m, FROM, mf_ex1(&b), T0);
	qlen = build(mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_ACK), q);
	pb_dest_unreach(pb_ip(pb_init(&b), ALICE6, DB6), 4, q, qlen);
	v = mf_judge(c->m, FROM, &b, T0);
	mf_expect(&v, NN_PASS, NULL);
	assert_true(v.flow_hit);
	qlen = build(mf_tcp(&b, DB6, ALICE6, 5432, 40001, PB_TCP_ACK), q);
	pb_dest_unreach(pb_ip(pb_init(&b), ALICE6, DB6), 4, q, qlen);
	v = mf_judge(c->m, FROM, &b, T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
}

/* An error quoting a flow of an older epoch first has the flow judged
 * again, Packet Too Big included: a cut flow carries no errors (and is
 * deleted), a flow still allowed keeps PMTUD working. */
static void test_icmp_error_stale(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	uint8_t q[PB_BUF_LEN];
	struct nn_policy *p, *same;
	size_t qlen;
	struct pb b;

	qlen = build(mf_ex1(&b), q);
	mf_judge(c->m, FROM, &b, T0);
	/* A new generation that still allows the flow: PTB passes on it. */
	same = mf_variant(c, "\"ports\": [\"5432\", \"8000-8080\"]",
			  "\"ports\": [\"5432\", \"8000-8081\"]");
	nn_model_set_policy(c->m, same);
	v = mf_judge(c->m, INTO, pb_ptb(pb_ip(pb_init(&b), DB6, ALICE6), 1280, q, qlen), T0);
	mf_expect_p(&v, same, NN_PASS, NULL);
	assert_true(v.flow_hit);
	assert_int_equal(nn_model_flow_count(c->m), 1);
	/* The rule is gone: the PTB is judged as a packet of its own. */
	p = mf_variant(c, "\"ports\": [\"5432\", \"8000-8080\"]", "\"ports\": [\"8000-8080\"]");
	nn_model_set_policy(c->m, p);
	v = mf_judge(c->m, INTO, pb_ptb(pb_ip(pb_init(&b), DB6, ALICE6), 1280, q, qlen), T0);
	mf_expect_p(&v, p, NN_R_ACL_DEFAULT_DENY, NULL);
	assert_false(v.flow_hit);
	assert_int_equal(nn_model_flow_count(c->m), 0);
	v = mf_judge(c->m, INTO, pb_dest_unreach(pb_ip(pb_init(&b), DB6, ALICE6), 4, q, qlen), T0);
	mf_expect_p(&v, p, NN_R_ACL_DEFAULT_DENY, NULL);
}

static void test_icmp_error_v4(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	uint8_t q[PB_BUF_LEN];
	size_t qlen;
	struct pb b;

	qlen = build(mf_udp(&b, CAROL4, DNS4, 5353, 53), q);
	mf_judge(c->m, FROM, &b, T0);
	v = mf_judge(c->m, INTO,
		     pb_frag_needed(pb_ip(pb_init(&b), "192.0.2.1", CAROL4), 1400, q, qlen), T0);
	mf_expect(&v, NN_PASS, NULL);
	assert_true(v.flow_hit);
	v = mf_judge(c->m, INTO, pb_dest_unreach(pb_ip(pb_init(&b), DNS4, CAROL4), 3, q, qlen), T0);
	assert_true(v.flow_hit);
	/* A quote cut inside the ports is malformed. */
	v = mf_judge(c->m, INTO, pb_dest_unreach(pb_ip(pb_init(&b), DNS4, CAROL4), 3, q, 22), T0);
	mf_expect(&v, NN_R_MALFORMED, NULL);
	assert_int_equal(nn_model_flow_count(c->m), 1);
}

/* Every test gets a fresh model over the example policy. */
#define MODEL_TEST(f) cmocka_unit_test_setup_teardown(f, mf_setup, mf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		MODEL_TEST(test_flow_internet_reply),
		MODEL_TEST(test_flow_udp_idle),
		MODEL_TEST(test_flow_tcp_states),
		MODEL_TEST(test_flow_echo),
		MODEL_TEST(test_flow_stale_kept),
		MODEL_TEST(test_flow_stale_opener_direction),
		MODEL_TEST(test_flow_stale_rule_revoked),
		MODEL_TEST(test_flow_device_revoked),
		MODEL_TEST(test_flow_flush),
		MODEL_TEST(test_frag_v6),
		MODEL_TEST(test_frag_v4),
		MODEL_TEST(test_icmp_error_untracked),
		MODEL_TEST(test_icmp_error_from_overlay),
		MODEL_TEST(test_icmp_error_stale),
		MODEL_TEST(test_icmp_error_v4),
	};

	return cmocka_run_group_tests_name("model_flow", tests, mf_group_setup, mf_group_teardown);
}
