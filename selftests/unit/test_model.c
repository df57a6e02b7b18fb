// SPDX-License-Identifier: GPL-2.0
/*
 * test_model.c - the reference model (selftests/model/model.c) against every worked
 * example of spec/verdicts.md (#1-#18, 14a-14c), with
 * examples/assignments.json applied on gw-fra-1, asserting the reason and
 * the deciding rule; then ACL and destination cases beyond the examples.
 * Flows, fragments and ICMP errors are in test_model_flow.c, the parser in
 * test_model_parse.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "model_fixture.h"

enum ex_l4 { EX_TCP, EX_UDP, EX_ECHO6 };

struct example {
	const char *name;
	const char *src;
	const char *dst;
	enum ex_l4 l4;
	uint16_t dport;
	int reason;
	const char *rule;
};

/* #1-#14b, from the overlay, each judged on a fresh model. "anywhere"
 * (#5, #11) is several destinations. */
static const struct example from_examples[] = {
	{ "#1", ALICE6, DB6, EX_TCP, 5432, NN_PASS, "eng-db" },
	{ "#2", ALICE6, DB6, EX_TCP, 22, NN_R_ACL_DEFAULT_DENY, NULL },
	{ "#3", BOB6, DB6, EX_TCP, 5432, NN_R_ACL_DEFAULT_DENY, NULL },
	{ "#4", BOB6, WEB6, EX_TCP, 443, NN_PASS, "all-web" },
	{ "#5 db", NOBODY6, DB6, EX_TCP, 5432, NN_R_SPOOF, NULL },
	{ "#5 net", NOBODY6, NET6, EX_UDP, 53, NN_R_SPOOF, NULL },
	{ "#5 gw", NOBODY6, GW6, EX_ECHO6, 0, NN_R_SPOOF, NULL },
	{ "#5 alice", NOBODY6, ALICE6, EX_ECHO6, 0, NN_R_SPOOF, NULL },
	{ "#6", ALICE6, NET6, EX_TCP, 443, NN_PASS, NULL },
	{ "#7", ALICE6, NET6, EX_TCP, 25, NN_R_ACL_DENY, "no-smtp" },
	{ "#8", BOB6, NET6, EX_TCP, 443, NN_R_NO_EGRESS, NULL },
	{ "#9", CAROL6, DB6, EX_TCP, 5432, NN_R_CROSS_TENANT, NULL },
	{ "#10", CAROL4, DNS4, EX_UDP, 53, NN_PASS, NULL },
	{ "#11 files", CAROL_OLD6, FILES6, EX_TCP, 443, NN_R_REVOKED, NULL },
	{ "#11 net", CAROL_OLD6, NET6, EX_UDP, 53, NN_R_REVOKED, NULL },
	{ "#11 gw", CAROL_OLD6, GW6, EX_ECHO6, 0, NN_R_REVOKED, NULL },
	{ "#12", CAROL4, ALICE4, EX_TCP, 22, NN_R_CROSS_TENANT, NULL },
	{ "#13", ALICE6, "fd7a:6e61:6e61:ff::1", EX_TCP, 22, NN_R_UNKNOWN_DST, NULL },
	{ "#14", ALICE6, AMS6, EX_TCP, 22, NN_R_NO_TRANSIT, NULL },
	{ "#14c", ALICE6, GW6, EX_TCP, 22, NN_R_ACL_DEFAULT_DENY, NULL },
	{ "#14a", AMS6, GW6, EX_UDP, 4789, NN_PASS, NULL },
	{ "#14b", AMS6, ALICE6, EX_TCP, 22, NN_R_NO_TRANSIT, NULL },
};

static void test_examples_from_overlay(void **state)
{
	struct mf_ctx *c = *state;
	size_t i;

	for (i = 0; i < sizeof(from_examples) / sizeof(from_examples[0]); i++) {
		const struct example *e = &from_examples[i];
		struct nn_model_verdict v;
		struct pb b;

		pb_ip(pb_init(&b), e->src, e->dst);
		if (e->l4 == EX_TCP)
			pb_tcp(&b, 40000, e->dport, PB_TCP_SYN);
		else if (e->l4 == EX_UDP)
			pb_udp(&b, 40000, e->dport);
		else
			pb_echo(&b, true, 7);
		nn_model_flush_flows(c->m);
		v = mf_judge(c->m, FROM, &b, T0);
		if (v.reason != e->reason || v.flow_hit ||
		    v.rule != (e->rule ? mf_rule(mf_base, e->rule) : -1))
			fail_msg("example %s: got reason %d rule %d", e->name, v.reason, v.rule);
	}
}

/* #15: the SYN-ACK answering #1 passes into the overlay as a tracked flow. */
static void test_example_15(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge(c->m, FROM, mf_ex1(&b), T0);
	mf_expect(&v, NN_PASS, "eng-db");
	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_SYN | PB_TCP_ACK),
		     T0 + SEC);
	mf_expect(&v, NN_PASS, NULL);
	assert_true(v.flow_hit);
	assert_int_equal(nn_model_flow_count(c->m), 1);
}

static void test_example_16(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge(c->m, INTO, mf_tcp(&b, NET6, ALICE6, 443, 40000, PB_TCP_SYN), T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
}

static void test_example_17(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge(c->m, INTO, mf_tcp(&b, FILES6, ALICE6, 445, 40000, PB_TCP_SYN), T0);
	mf_expect(&v, NN_R_CROSS_TENANT, NULL);
	v = mf_judge(c->m, INTO, pb_echo(pb_ip(pb_init(&b), FILES6, ALICE6), true, 1), T0);
	mf_expect(&v, NN_R_CROSS_TENANT, NULL);
}

/* #18: Packet Too Big from fd00:acc::5 to alice quoting #1's packet. */
static void test_example_18(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	uint8_t q[PB_BUF_LEN];
	size_t qlen;
	struct pb b;

	qlen = pb_build(mf_ex1(&b), q, sizeof(q));
	v = mf_judge(c->m, FROM, &b, T0);
	mf_expect(&v, NN_PASS, "eng-db");
	v = mf_judge(c->m, INTO, pb_ptb(pb_ip(pb_init(&b), DB6, ALICE6), 1280, q, qlen), T0 + SEC);
	mf_expect(&v, NN_PASS, NULL);
	assert_true(v.flow_hit);
	/* Errors never create flows. */
	assert_int_equal(nn_model_flow_count(c->m), 1);
}

/* ---- ACL and destinations beyond the examples ---- */

/* Deny wins whatever the order; the deciding rule is the first match. */
static void test_acl_deny_wins(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct nn_policy *p;
	struct pb b;

	p = mf_variant(c, "{ \"rule_id\": \"no-smtp\"",
		       "{ \"rule_id\": \"ssh-ok\", \"action\": \"allow\", "
		       "\"src\": \"*\", \"dst\": { \"resources\": [\"acme-db\"] }, "
		       "\"proto\": \"tcp\", \"ports\": [\"22\"] },"
		       "{ \"rule_id\": \"bob-no\", \"action\": \"deny\", "
		       "\"src\": { \"devices\": [\"bob-phone\"] }, \"dst\": \"*\", "
		       "\"proto\": \"any\" },"
		       "{ \"rule_id\": \"no-smtp\"");
	nn_model_set_policy(c->m, p);
	v = mf_judge(c->m, FROM, mf_tcp(&b, ALICE6, DB6, 1, 22, PB_TCP_SYN), T0);
	mf_expect_p(&v, p, NN_PASS, "ssh-ok");
	v = mf_judge(c->m, FROM, mf_tcp(&b, BOB6, DB6, 1, 22, PB_TCP_SYN), T0);
	mf_expect_p(&v, p, NN_R_ACL_DENY, "bob-no");
	v = mf_judge(c->m, FROM, mf_tcp(&b, BOB6, WEB6, 1, 443, PB_TCP_SYN), T0);
	mf_expect_p(&v, p, NN_R_ACL_DENY, "bob-no");
	/* dst "*" is not this gateway: only no-smtp's prefixes reach it. */
	v = mf_judge(c->m, FROM, mf_tcp(&b, BOB6, GW6, 1, 22, PB_TCP_SYN), T0);
	mf_expect_p(&v, p, NN_R_ACL_DEFAULT_DENY, NULL);
	v = mf_judge(c->m, FROM, mf_tcp(&b, BOB6, GW6, 1, 25, PB_TCP_SYN), T0);
	mf_expect_p(&v, p, NN_R_ACL_DENY, "no-smtp");
}

static void test_acl_ipv4_and_self(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge(c->m, FROM, mf_tcp(&b, ALICE4, "10.20.0.7", 1, 8080, 0), T0);
	mf_expect(&v, NN_PASS, "eng-db");
	v = mf_judge(c->m, FROM, mf_tcp(&b, ALICE4, GW4, 1, 25, PB_TCP_SYN), T0);
	mf_expect(&v, NN_R_ACL_DENY, "no-smtp");
	v = mf_judge(c->m, FROM, mf_tcp(&b, ALICE4, "100.100.0.1", 1, 80, 0), T0);
	mf_expect(&v, NN_R_UNKNOWN_DST, NULL);
	v = mf_judge(c->m, FROM, mf_tcp(&b, GW6, DB6, 1, 5432, 0), T0);
	mf_expect(&v, NN_R_SPOOF, NULL);
	v = mf_judge(c->m, FROM, mf_echo(&b, ALICE6, CAROL_OLD6, true, 1), T0);
	mf_expect(&v, NN_R_CROSS_TENANT, NULL);
	v = mf_judge(c->m, FROM, mf_echo(&b, ALICE6, BOB6, true, 1), T0);
	mf_expect(&v, NN_PASS, "ping-peers");
	/* ICMPv6 echo is no tcp rule; ICMP carried in IPv6 is protocol 1. */
	v = mf_judge(c->m, FROM, mf_echo(&b, ALICE6, DB6, true, 1), T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
	v = mf_judge(c->m, FROM, pb_payload(pb_proto(pb_ip(pb_init(&b), CAROL6, FILES6), 1), 8),
		     T0);
	mf_expect(&v, NN_PASS, "ops-files");
}

/* Protocols without ports match by number; "any" matches them all. */
static void test_other_protocols(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge(c->m, FROM, pb_payload(pb_proto(pb_ip(pb_init(&b), CAROL6, FILES6), 47), 24),
		     T0);
	mf_expect(&v, NN_PASS, "ops-files");
	v = mf_judge(c->m, FROM, pb_payload(pb_proto(pb_ip(pb_init(&b), CAROL6, FILES6), 50), 24),
		     T0);
	mf_expect(&v, NN_PASS, "ops-files");
	v = mf_judge(c->m, FROM, pb_payload(pb_proto(pb_ip(pb_init(&b), ALICE6, DB6), 47), 24), T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
	/* Eight extension headers are walked; the ninth is too many. */
	v = mf_judge(c->m, FROM, pb_ext(mf_ex1(&b), 60, 8), T0);
	mf_expect(&v, NN_PASS, "eng-db");
	v = mf_judge(c->m, FROM, pb_ext(mf_ex1(&b), 60, 9), T0);
	mf_expect(&v, NN_R_MALFORMED, NULL);
	v = mf_judge(c->m, FROM, pb_ip_opts(mf_udp(&b, CAROL4, DNS4, 1, 53), 3), T0);
	mf_expect(&v, NN_PASS, NULL);
}

static void test_into_destinations(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, NOBODY6, 5432, 1, 0), T0);
	mf_expect(&v, NN_R_UNKNOWN_DST, NULL);
	v = mf_judge(c->m, INTO, mf_tcp(&b, DB6, GW6, 5432, 1, 0), T0);
	mf_expect(&v, NN_R_UNKNOWN_DST, NULL);
	v = mf_judge(c->m, INTO, mf_tcp(&b, FILES6, CAROL_OLD6, 445, 1, 0), T0);
	mf_expect(&v, NN_R_REVOKED, NULL);
	v = mf_judge(c->m, INTO, mf_udp(&b, GW6, AMS6, 4789, 4789), T0);
	mf_expect(&v, NN_PASS, NULL);
	v = mf_judge(c->m, INTO, mf_udp(&b, ALICE6, AMS6, 4789, 4789), T0);
	mf_expect(&v, NN_R_NO_TRANSIT, NULL);
	v = mf_judge(c->m, INTO, mf_tcp(&b, CAROL4, ALICE4, 1, 22, PB_TCP_SYN), T0);
	mf_expect(&v, NN_R_CROSS_TENANT, NULL);
	v = mf_judge(c->m, INTO, mf_echo(&b, BOB6, ALICE6, true, 2), T0);
	mf_expect(&v, NN_PASS, "ping-peers");
	v = mf_judge(c->m, INTO, mf_echo(&b, GW6, ALICE6, true, 2), T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
}

/* Ethernet framing (veth) judges the same packet the same way; ARP and
 * ND pass untouched and leave no state. */
static void test_ethernet_framing(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_model_verdict v;
	struct pb b;

	v = mf_judge_f(c->m, FROM, NN_FRAMING_ETH, pb_eth(mf_ex1(&b)), T0);
	mf_expect(&v, NN_PASS, "eng-db");
	v = mf_judge_f(c->m, INTO, NN_FRAMING_ETH,
		       pb_vlan(mf_tcp(&b, DB6, ALICE6, 5432, 40000, PB_TCP_SYN | PB_TCP_ACK), 100),
		       T0);
	mf_expect(&v, NN_PASS, NULL);
	assert_true(v.flow_hit);
	v = mf_judge_f(c->m, FROM, NN_FRAMING_ETH, pb_vlan(mf_tcp(&b, ALICE6, DB6, 1, 22, 0), 100),
		       T0);
	mf_expect(&v, NN_R_ACL_DEFAULT_DENY, NULL);
	v = mf_judge_f(c->m, FROM, NN_FRAMING_L3, pb_vlan(mf_ex1(&b), 1), T0);
	mf_expect(&v, NN_R_MALFORMED, NULL);

	nn_model_flush_flows(c->m);
	v = mf_judge_f(c->m, FROM, NN_FRAMING_ETH, pb_arp(pb_ip(pb_init(&b), ALICE4, GW4)), T0);
	assert_true(v.untouched);
	assert_int_equal(v.reason, NN_PASS);
	v = mf_judge_f(c->m, INTO, NN_FRAMING_ETH,
		       pb_nd(pb_vlan(pb_ip(pb_init(&b), "fe80::1", "fe80::2"), 100), 135), T0);
	assert_true(v.untouched);
	v = mf_judge_f(c->m, FROM, NN_FRAMING_L3,
		       pb_nd(pb_ip(pb_init(&b), "fe80::1", "fe80::2"), 135), T0);
	mf_expect(&v, NN_R_SPOOF, NULL);
	assert_int_equal(nn_model_flow_count(c->m), 0);
}

/* Every test gets a fresh model over the example policy. */
#define MODEL_TEST(f) cmocka_unit_test_setup_teardown(f, mf_setup, mf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		MODEL_TEST(test_examples_from_overlay),
		MODEL_TEST(test_example_15),
		MODEL_TEST(test_example_16),
		MODEL_TEST(test_example_17),
		MODEL_TEST(test_example_18),
		MODEL_TEST(test_acl_deny_wins),
		MODEL_TEST(test_acl_ipv4_and_self),
		MODEL_TEST(test_other_protocols),
		MODEL_TEST(test_into_destinations),
		MODEL_TEST(test_ethernet_framing),
	};

	return cmocka_run_group_tests_name("model", tests, mf_group_setup, mf_group_teardown);
}
