// SPDX-License-Identifier: GPL-2.0
#include "examples.h"
#include "model_fixture.h"

static void ex1(struct pb *b)
{
	mf_ex1(b);
}

static void ex2(struct pb *b)
{
	mf_tcp(b, ALICE6, DB6, 40001, 22, PB_TCP_SYN);
}

static void ex3(struct pb *b)
{
	mf_tcp(b, BOB6, DB6, 40002, 5432, PB_TCP_SYN);
}

static void ex4(struct pb *b)
{
	mf_tcp(b, BOB6, WEB6, 40003, 443, PB_TCP_SYN);
}

static void ex5(struct pb *b)
{
	mf_tcp(b, NOBODY6, DB6, 40004, 5432, PB_TCP_SYN);
}

static void ex6(struct pb *b)
{
	mf_tcp(b, ALICE6, NET6, 40005, 443, PB_TCP_SYN);
}

static void ex7(struct pb *b)
{
	mf_tcp(b, ALICE6, NET6, 40006, 25, PB_TCP_SYN);
}

static void ex8(struct pb *b)
{
	mf_tcp(b, BOB6, NET6, 40007, 443, PB_TCP_SYN);
}

static void ex9(struct pb *b)
{
	mf_tcp(b, CAROL6, DB6, 40008, 5432, PB_TCP_SYN);
}

static void ex10(struct pb *b)
{
	mf_udp(b, CAROL4, DNS4, 40009, 53);
}

static void ex11(struct pb *b)
{
	mf_tcp(b, CAROL_OLD6, FILES6, 40010, 445, PB_TCP_SYN);
}

static void ex12(struct pb *b)
{
	mf_tcp(b, CAROL4, ALICE4, 40011, 22, PB_TCP_SYN);
}

static void ex13(struct pb *b)
{
	mf_tcp(b, ALICE6, "fd7a:6e61:6e61:ff::1", 40012, 80, PB_TCP_SYN);
}

static void ex14(struct pb *b)
{
	mf_tcp(b, ALICE6, AMS6, 40013, 22, PB_TCP_SYN);
}

static void ex14c(struct pb *b)
{
	mf_tcp(b, ALICE6, GW6, 40014, 22, PB_TCP_SYN);
}

static void ex14a(struct pb *b)
{
	mf_udp(b, AMS6, GW6, 40015, 4789);
}

static void ex14b(struct pb *b)
{
	mf_tcp(b, AMS6, ALICE6, 40016, 22, PB_TCP_SYN);
}

static void ex15(struct pb *b)
{
	mf_tcp(b, DB6, ALICE6, 5432, 40000, PB_TCP_SYN | PB_TCP_ACK);
}

static void ex16(struct pb *b)
{
	mf_tcp(b, NET6, ALICE6, 443, 40017, PB_TCP_SYN);
}

static void ex17(struct pb *b)
{
	mf_tcp(b, FILES6, ALICE6, 445, 40018, PB_TCP_SYN);
}

static void ex18(struct pb *b)
{
	uint8_t q[PB_BUF_LEN];
	struct pb inner;
	size_t qlen = pb_build(mf_ex1(&inner), q, sizeof(q));

	pb_ptb(pb_ip(pb_init(b), DB6, ALICE6), 1280, q, qlen);
}

const struct nn_example nn_examples[] = {
	{ "1", NN_DIR_FROM_OVERLAY, "alice -> acme-db tcp/5432", ex1, NN_PASS, "eng-db" },
	{ "2", NN_DIR_FROM_OVERLAY, "alice -> acme-db tcp/22", ex2, NN_R_ACL_DEFAULT_DENY, NULL },
	{ "3", NN_DIR_FROM_OVERLAY, "bob -> acme-db tcp/5432", ex3, NN_R_ACL_DEFAULT_DENY, NULL },
	{ "4", NN_DIR_FROM_OVERLAY, "bob -> acme-web tcp/443", ex4, NN_PASS, "all-web" },
	{ "5", NN_DIR_FROM_OVERLAY, "unassigned source", ex5, NN_R_SPOOF, NULL },
	{ "6", NN_DIR_FROM_OVERLAY, "alice -> internet tcp/443", ex6, NN_PASS, NULL },
	{ "7", NN_DIR_FROM_OVERLAY, "alice -> internet tcp/25", ex7, NN_R_ACL_DENY, "no-smtp" },
	{ "8", NN_DIR_FROM_OVERLAY, "bob -> internet tcp/443", ex8, NN_R_NO_EGRESS, NULL },
	{ "9", NN_DIR_FROM_OVERLAY, "carol -> acme-db", ex9, NN_R_CROSS_TENANT, NULL },
	{ "10", NN_DIR_FROM_OVERLAY, "carol v4 -> internet udp/53", ex10, NN_PASS, NULL },
	{ "11", NN_DIR_FROM_OVERLAY, "carol-old-laptop (disabled)", ex11, NN_R_REVOKED, NULL },
	{ "12", NN_DIR_FROM_OVERLAY, "carol v4 -> alice v4", ex12, NN_R_CROSS_TENANT, NULL },
	{ "13", NN_DIR_FROM_OVERLAY, "alice -> unassigned overlay", ex13, NN_R_UNKNOWN_DST, NULL },
	{ "14", NN_DIR_FROM_OVERLAY, "alice -> gw-ams-1 tcp/22", ex14, NN_R_NO_TRANSIT, NULL },
	{ "14c", NN_DIR_FROM_OVERLAY, "alice -> gw-fra-1 tcp/22", ex14c, NN_R_ACL_DEFAULT_DENY,
	  NULL },
	{ "14a", NN_DIR_FROM_OVERLAY, "gw-ams-1 -> gw-fra-1 udp/4789", ex14a, NN_PASS, NULL },
	{ "14b", NN_DIR_FROM_OVERLAY, "gw-ams-1 -> alice", ex14b, NN_R_NO_TRANSIT, NULL },
	{ "15", NN_DIR_INTO_OVERLAY, "acme-db SYN-ACK answering 1", ex15, NN_PASS, NULL },
	{ "16", NN_DIR_INTO_OVERLAY, "internet -> alice unsolicited", ex16, NN_R_ACL_DEFAULT_DENY,
	  NULL },
	{ "17", NN_DIR_INTO_OVERLAY, "globex resource -> alice", ex17, NN_R_CROSS_TENANT, NULL },
	{ "18", NN_DIR_INTO_OVERLAY, "Packet Too Big quoting 1", ex18, NN_PASS, NULL },
};

const size_t nn_n_examples = sizeof(nn_examples) / sizeof(nn_examples[0]);

size_t nn_example_build(const struct nn_example *e, uint8_t framing, uint8_t *buf, size_t cap)
{
	struct pb b;

	e->describe(&b);
	if (framing == NN_FRAMING_ETH)
		pb_eth(&b);
	return pb_build(&b, buf, cap);
}
