// SPDX-License-Identifier: GPL-2.0
/*
 * test_model_parse.c - the reference model's parser (docs/datapath.md
 * "Parsing") through nn_model_parse(), and the packet builder it is fed
 * with: checksums and length fields must be right unless told to lie.
 *
 * No policy is needed here except for "untouched" (ARP/ND), which is
 * judged by a model over an empty policy: anything that is not passed
 * untouched is then dropped as spoof, which tells the two apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"
#include "pktbuild.h"

#define A6 "fd7a:6e61:6e61:10::2"
#define B6 "fd00:acc::5"
#define A4 "100.96.16.2"
#define B4 "192.0.2.53"

#define L3 NN_FRAMING_L3
#define ETH NN_FRAMING_ETH
#define MAL NN_R_MALFORMED

static uint8_t buf[PB_BUF_LEN];
static size_t len;

static size_t build(const struct pb *b)
{
	len = pb_build(b, buf, sizeof(buf));
	assert_true(len > 0);
	return len;
}

/* Build @b and parse it with @framing. */
static int parse(const struct pb *b, enum nn_framing framing, struct nn_mpkt *pk)
{
	build(b);
	return nn_model_parse(framing, buf, len, pk);
}

static int parse_l3(const struct pb *b)
{
	struct nn_mpkt pk;

	return parse(b, L3, &pk);
}

static struct pb *tcp6(struct pb *b)
{
	return pb_tcp(pb_ip(pb_init(b), A6, B6), 40000, 5432, PB_TCP_SYN);
}

static struct pb *udp4(struct pb *b)
{
	return pb_udp(pb_ip(pb_init(b), A4, B4), 5353, 53);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* One's complement sum of @n bytes plus @sum, folded. */
static uint16_t fold(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += rd16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* ---- The builder ---- */

static void test_builder_checksums(void **state)
{
	struct pb b;
	uint32_t ph;
	size_t l4;

	(void)state;
	/* IPv4 header and UDP with its pseudo header sum to 0xffff. */
	build(pb_payload(udp4(&b), 5));
	assert_int_equal(len, 20 + 8 + 5);
	assert_int_equal(rd16(buf + 2), len);
	assert_int_equal(fold(0, buf, 20), 0xffff);
	assert_int_equal(rd16(buf + 24), 13);
	ph = fold(0, buf + 12, 8) + 17 + 13;
	assert_int_equal(fold(ph, buf + 20, 13), 0xffff);

	/* IPv6 TCP after two extension headers. */
	build(pb_ext(tcp6(&b), 60, 2));
	assert_int_equal(len, 40 + 16 + 20);
	assert_int_equal(rd16(buf + 4), 36);
	assert_int_equal(buf[6], 60);
	assert_int_equal(buf[40], 60);
	assert_int_equal(buf[48], 6);
	l4 = 56;
	ph = fold(0, buf + 8, 32) + 20 + 6;
	assert_int_equal(fold(ph, buf + l4, 20), 0xffff);
	assert_int_equal(buf[l4 + 13], PB_TCP_SYN);

	/* ICMP (no pseudo header) and ICMPv6 (with one). */
	build(pb_echo(pb_ip(pb_init(&b), A4, B4), true, 7));
	assert_int_equal(fold(0, buf + 20, 8), 0xffff);
	assert_int_equal(rd16(buf + 24), 7);
	build(pb_echo(pb_ip(pb_init(&b), A6, B6), false, 7));
	assert_int_equal(buf[40], 129);
	ph = fold(0, buf + 8, 32) + 8 + 58;
	assert_int_equal(fold(ph, buf + 40, 8), 0xffff);
}

static void test_builder_lies_and_cuts(void **state)
{
	struct pb b;

	(void)state;
	build(pb_lie(udp4(&b), PB_F_IP_LEN, 999));
	assert_int_equal(rd16(buf + 2), 999);
	assert_int_equal(fold(0, buf, 20), 0xffff);
	build(pb_truncate(pb_eth(udp4(&b)), 20));
	assert_int_equal(len, 20);
	build(pb_vlan(tcp6(&b), 42));
	assert_int_equal(rd16(buf + 12), 0x8100);
	assert_int_equal(rd16(buf + 14), 42);
	assert_int_equal(rd16(buf + 16), 0x86dd);
	assert_int_equal(len, 18 + 60);
	/* Invalid descriptions build nothing. */
	assert_int_equal(pb_build(pb_ip(pb_init(&b), A4, B6), buf, 2048), 0);
	assert_int_equal(pb_build(pb_ip(pb_init(&b), "x", B6), buf, 2048), 0);
	assert_int_equal(pb_build(pb_payload(tcp6(&b), 4000), buf, 2048), 0);
}

/* ---- Fields ---- */

static void test_parse_fields(void **state)
{
	static const uint8_t a4mapped[16] = { 0, 0, 0,	  0,	0,   0,	 0,  0,
					      0, 0, 0xff, 0xff, 100, 96, 16, 2 };
	struct nn_mpkt pk;
	struct pb b;

	(void)state;
	assert_int_equal(parse(tcp6(&b), L3, &pk), NN_PASS);
	assert_true(pk.t.v6);
	assert_int_equal(pk.t.proto, 6);
	assert_int_equal(pk.t.sport, 40000);
	assert_int_equal(pk.t.dport, 5432);
	assert_int_equal(pk.tcp_flags, PB_TCP_SYN);
	assert_false(pk.frag_first || pk.frag_later || pk.icmp);

	assert_int_equal(parse(udp4(&b), L3, &pk), NN_PASS);
	assert_false(pk.t.v6);
	assert_memory_equal(pk.t.src, a4mapped, 16);
	assert_int_equal(pk.t.dport, 53);

	assert_int_equal(parse(pb_echo(pb_ip(pb_init(&b), A6, B6), true, 99), L3, &pk), NN_PASS);
	assert_true(pk.icmp && pk.echo);
	assert_int_equal(pk.t.sport, 99);
	assert_int_equal(pk.t.dport, 99);

	/* Non-echo, non-error ICMP has ports 0; so has ICMP inside IPv6. */
	assert_int_equal(parse(pb_icmp(pb_ip(pb_init(&b), A4, B4), 13, 0, 5), L3, &pk), NN_PASS);
	assert_true(pk.icmp && !pk.echo && !pk.icmp_err);
	assert_int_equal(pk.t.sport, 0);
	assert_int_equal(parse(pb_payload(pb_proto(pb_ip(pb_init(&b), A6, B6), 1), 3), L3, &pk),
			 NN_PASS);
	assert_false(pk.icmp);
	assert_int_equal(pk.t.proto, 1);
	assert_int_equal(parse(pb_payload(pb_proto(pb_ip(pb_init(&b), A4, B4), 58), 3), L3, &pk),
			 NN_PASS);
	assert_false(pk.icmp);

	/* IPv4 options are skipped; ports come after them. */
	assert_int_equal(parse(pb_ip_opts(udp4(&b), 10), L3, &pk), NN_PASS);
	assert_int_equal(pk.t.sport, 5353);
}

static void test_parse_fragments(void **state)
{
	struct nn_mpkt pk;
	struct pb b;

	(void)state;
	assert_int_equal(parse(pb_frag(tcp6(&b), PB_FRAG_FIRST, 0xabcdef01, 0), L3, &pk), NN_PASS);
	assert_true(pk.frag_first);
	assert_int_equal(pk.frag_id, 0xabcdef01);
	assert_int_equal(pk.t.dport, 5432);

	assert_int_equal(pk.frag_off, 0);
	assert_true(pk.frag_mf);

	/* A later IPv6 fragment: no protocol (its Fragment header's next
	 * header need not be L4), no ports, whatever its bytes look like. */
	assert_int_equal(parse(pb_payload(pb_frag(tcp6(&b), PB_FRAG_LATER, 9, 3), 2), L3, &pk),
			 NN_PASS);
	assert_true(pk.frag_later && !pk.frag_first);
	assert_int_equal(pk.t.proto, 0);
	assert_int_equal(pk.t.dport, 0);
	assert_int_equal(pk.frag_off, 3);
	assert_false(pk.frag_mf); /* the builder's later fragments are the last */
	/* IPv4 has no extension headers: a later fragment's protocol is L4. */
	assert_int_equal(parse(pb_frag(udp4(&b), PB_FRAG_LATER, 0x1234, 1), L3, &pk), NN_PASS);
	assert_true(pk.frag_later);
	assert_int_equal(pk.frag_id, 0x1234);
	assert_int_equal(pk.t.proto, 17);
	assert_int_equal(pk.frag_off, 1);
	assert_false(pk.frag_mf);

	/* An atomic fragment is no fragment; its walk goes on. */
	assert_int_equal(parse(pb_frag(tcp6(&b), PB_FRAG_ATOMIC, 9, 0), L3, &pk), NN_PASS);
	assert_false(pk.frag_first || pk.frag_later);
	assert_int_equal(pk.t.dport, 5432);
	assert_int_equal(parse(pb_ext(tcp6(&b), 44, 8), L3, &pk), NN_PASS);
	assert_int_equal(pk.t.dport, 5432);

	/* The fragment header counts as an extension header. */
	pb_frag(pb_ext(tcp6(&b), 0, 8), PB_FRAG_FIRST, 1, 0);
	assert_int_equal(parse_l3(&b), MAL);
	pb_frag(pb_ext(tcp6(&b), 0, 8), PB_FRAG_LATER, 1, 5);
	assert_int_equal(parse_l3(&b), MAL);
}

/* ---- Malformed ---- */

static void test_malformed_ipv4(void **state)
{
	struct pb b;
	size_t n, full;
	unsigned int ihl;

	(void)state;
	full = build(udp4(&b));
	for (n = 0; n < full; n++)
		assert_int_equal(nn_model_parse(L3, buf, n, &(struct nn_mpkt){ 0 }), MAL);
	for (ihl = 0; ihl < 5; ihl++)
		assert_int_equal(parse_l3(pb_lie(udp4(&b), PB_F_IHL, ihl)), MAL);
	assert_int_equal(parse_l3(pb_lie(udp4(&b), PB_F_IHL, 15)), MAL);
	assert_int_equal(parse_l3(pb_lie(udp4(&b), PB_F_IP_LEN, 29)), MAL);
	assert_int_equal(parse_l3(pb_lie(udp4(&b), PB_F_IP_LEN, 27)), MAL);
	assert_int_equal(parse_l3(pb_lie(udp4(&b), PB_F_IP_LEN, 19)), MAL);
	assert_int_equal(parse_l3(pb_lie(udp4(&b), PB_F_VERSION, 5)), MAL);
	/* IHL 6 claims a word of options that is really the UDP header. */
	assert_int_equal(parse_l3(pb_lie(udp4(&b), PB_F_IHL, 6)), MAL);
}

static void test_malformed_ipv6(void **state)
{
	struct pb b;
	size_t n, full;

	(void)state;
	full = build(tcp6(&b));
	for (n = 0; n < full; n++)
		assert_int_equal(nn_model_parse(L3, buf, n, &(struct nn_mpkt){ 0 }), MAL);
	assert_int_equal(parse_l3(pb_lie(tcp6(&b), PB_F_IP_LEN, 0)), MAL);
	assert_int_equal(parse_l3(pb_lie(tcp6(&b), PB_F_IP_LEN, 21)), MAL);
	assert_int_equal(parse_l3(pb_lie(tcp6(&b), PB_F_IP_LEN, 19)), MAL);
	/* An extension header running past the payload. */
	assert_int_equal(parse_l3(pb_lie(pb_ext(tcp6(&b), 43, 1), PB_F_EXT_LEN, 3)), MAL);
	assert_int_equal(parse_l3(pb_lie(pb_ext(tcp6(&b), 51, 1), PB_F_EXT_LEN, 9)), MAL);
	assert_int_equal(parse_l3(pb_payload(pb_proto(pb_ip(pb_init(&b), A6, B6), 60), 1)), MAL);
	/* 8 of every kind walked; 9 too many. */
	assert_int_equal(
		parse_l3(pb_ext(pb_ext(pb_ext(pb_ext(tcp6(&b), 0, 1), 43, 2), 51, 2), 135, 3)),
		NN_PASS);
	assert_int_equal(parse_l3(pb_ext(pb_ext(tcp6(&b), 139, 4), 140, 4)), NN_PASS);
	assert_int_equal(parse_l3(pb_ext(pb_ext(tcp6(&b), 139, 4), 140, 5)), MAL);
	/* IPv4-mapped addresses must not alias IPv4 identities. */
	assert_int_equal(parse_l3(pb_tcp(pb_ip(pb_init(&b), "::ffff:100.96.16.2", B6), 1, 2, 0)),
			 MAL);
	assert_int_equal(parse_l3(pb_tcp(pb_ip(pb_init(&b), A6, "::ffff:10.20.0.5"), 1, 2, 0)),
			 MAL);
	assert_int_equal(parse_l3(pb_lie(tcp6(&b), PB_F_VERSION, 4)), MAL);
	assert_int_equal(nn_model_parse(L3, buf, 0, &(struct nn_mpkt){ 0 }), MAL);
}

static void test_malformed_l4(void **state)
{
	struct pb b;

	(void)state;
	assert_int_equal(parse_l3(pb_lie(tcp6(&b), PB_F_TCP_DOFF, 4)), MAL);
	assert_int_equal(parse_l3(pb_lie(tcp6(&b), PB_F_TCP_DOFF, 6)), MAL);
	assert_int_equal(parse_l3(pb_lie(pb_payload(tcp6(&b), 4), PB_F_TCP_DOFF, 6)), NN_PASS);
	assert_int_equal(parse_l3(pb_payload(pb_proto(pb_ip(pb_init(&b), A6, B6), 6), 19)), MAL);
	assert_int_equal(parse_l3(pb_payload(pb_proto(pb_ip(pb_init(&b), A4, B4), 17), 7)), MAL);
	assert_int_equal(parse_l3(pb_lie(udp4(&b), PB_F_UDP_LEN, 9)), MAL);
	assert_int_equal(parse_l3(pb_lie(udp4(&b), PB_F_UDP_LEN, 7)), MAL);
	assert_int_equal(parse_l3(pb_payload(pb_proto(pb_ip(pb_init(&b), A4, B4), 1), 7)), MAL);
	assert_int_equal(parse_l3(pb_payload(pb_proto(pb_ip(pb_init(&b), A6, B6), 58), 7)), MAL);
	/* A first fragment carries only part of the L4 bytes. */
	assert_int_equal(parse_l3(pb_frag(pb_payload(pb_proto(pb_ip(pb_init(&b), A6, B6), 6), 12),
					  PB_FRAG_FIRST, 1, 0)),
			 MAL);
}

static void test_quotes(void **state)
{
	uint8_t q[PB_BUF_LEN];
	struct nn_mpkt pk;
	size_t qlen;
	struct pb b;

	(void)state;
	qlen = pb_build(tcp6(&b), q, sizeof(q));
	assert_int_equal(parse(pb_ptb(pb_ip(pb_init(&b), B6, A6), 1280, q, qlen), L3, &pk),
			 NN_PASS);
	assert_true(pk.icmp_err && pk.quote_flowable);
	assert_int_equal(pk.quote.dport, 5432);
	assert_int_equal(pk.t.sport, 0);
	assert_int_equal(parse_l3(pb_ptb(pb_ip(pb_init(&b), B6, A6), 1280, q, 44)), NN_PASS);
	assert_int_equal(parse_l3(pb_ptb(pb_ip(pb_init(&b), B6, A6), 1280, q, 43)), MAL);
	assert_int_equal(parse_l3(pb_ptb(pb_ip(pb_init(&b), B6, A6), 1280, q, 39)), MAL);
	assert_int_equal(parse_l3(pb_ptb(pb_ip(pb_init(&b), B6, A6), 1280, q, 0)), MAL);

	/* The quote must be of the outer family. */
	qlen = pb_build(udp4(&b), q, sizeof(q));
	assert_int_equal(parse_l3(pb_ptb(pb_ip(pb_init(&b), B6, A6), 1280, q, qlen)), MAL);
	assert_int_equal(parse(pb_frag_needed(pb_ip(pb_init(&b), B4, A4), 1400, q, 24), L3, &pk),
			 NN_PASS);
	assert_int_equal(pk.quote.sport, 5353);
	q[0] = 0x44; /* IHL 4 */
	assert_int_equal(parse_l3(pb_frag_needed(pb_ip(pb_init(&b), B4, A4), 1400, q, qlen)), MAL);

	/* Quoted echo needs its id; quoted non-echo ICMP names no flow. */
	qlen = pb_build(pb_echo(pb_ip(pb_init(&b), A4, B4), true, 77), q, sizeof(q));
	assert_int_equal(parse(pb_dest_unreach(pb_ip(pb_init(&b), B4, A4), 1, q, qlen), L3, &pk),
			 NN_PASS);
	assert_int_equal(pk.quote.sport, 77);
	assert_true(pk.quote_flowable);
	assert_int_equal(parse_l3(pb_dest_unreach(pb_ip(pb_init(&b), B4, A4), 1, q, 27)), MAL);
	assert_int_equal(parse_l3(pb_dest_unreach(pb_ip(pb_init(&b), B4, A4), 1, q, 20)), MAL);
	qlen = pb_build(pb_icmp(pb_ip(pb_init(&b), A4, B4), 13, 0, 0), q, sizeof(q));
	assert_int_equal(parse(pb_dest_unreach(pb_ip(pb_init(&b), B4, A4), 1, q, 21), L3, &pk),
			 NN_PASS);
	assert_false(pk.quote_flowable);

	/* A quoted later fragment has ports 0; quoted IPv6 extension
	 * headers are not walked. */
	qlen = pb_build(pb_frag(udp4(&b), PB_FRAG_LATER, 3, 2), q, sizeof(q));
	assert_int_equal(parse(pb_dest_unreach(pb_ip(pb_init(&b), B4, A4), 3, q, qlen), L3, &pk),
			 NN_PASS);
	assert_int_equal(pk.quote.sport, 0);
	qlen = pb_build(pb_ext(tcp6(&b), 60, 1), q, sizeof(q));
	assert_int_equal(parse(pb_ptb(pb_ip(pb_init(&b), B6, A6), 1280, q, qlen), L3, &pk),
			 NN_PASS);
	assert_int_equal(pk.quote.proto, 60);
	assert_int_equal(pk.quote.dport, 0);
}

/* ---- Ethernet, VLAN, ARP, ND ---- */

static void test_ethernet(void **state)
{
	struct nn_mpkt pk, l3pk;
	struct pb b;

	(void)state;
	assert_int_equal(parse(tcp6(&b), L3, &l3pk), NN_PASS);
	assert_int_equal(parse(pb_eth(tcp6(&b)), ETH, &pk), NN_PASS);
	assert_memory_equal(&pk, &l3pk, sizeof(pk));
	assert_int_equal(parse(pb_vlan(tcp6(&b), 7), ETH, &pk), NN_PASS);
	assert_memory_equal(&pk, &l3pk, sizeof(pk));
	/* L3 framing does not look for Ethernet. */
	assert_int_equal(parse(pb_eth(tcp6(&b)), L3, &pk), MAL);

	build(pb_vlan(tcp6(&b), 7));
	assert_int_equal(nn_model_parse(ETH, buf, 17, &pk), MAL);
	assert_int_equal(nn_model_parse(ETH, buf, 13, &pk), MAL);
	buf[12] = 0x88; /* outer 802.1ad */
	buf[13] = 0xa8;
	assert_int_equal(nn_model_parse(ETH, buf, len, &pk), MAL);
	assert_int_equal(parse(pb_ethertype(pb_vlan(tcp6(&b), 7), 0x8100), ETH, &pk), MAL);
	assert_int_equal(parse(pb_ethertype(pb_vlan(tcp6(&b), 7), 0x88a8), ETH, &pk), MAL);
	assert_int_equal(parse(pb_ethertype(pb_eth(tcp6(&b)), 0x0800), ETH, &pk), MAL);
	assert_int_equal(parse(pb_ethertype(pb_eth(udp4(&b)), 0x86dd), ETH, &pk), MAL);
	assert_int_equal(parse(pb_ethertype(pb_eth(udp4(&b)), 0x88cc), ETH, &pk), MAL);
	/* Only Ethernet allows trailing padding. */
	build(pb_eth(udp4(&b)));
	assert_int_equal(nn_model_parse(ETH, buf, 60, &pk), NN_PASS);
	assert_int_equal(nn_model_parse(L3, buf + 14, 46, &pk), MAL);
	build(pb_vlan(tcp6(&b), 1));
	assert_int_equal(nn_model_parse(ETH, buf, len + 2, &pk), NN_PASS);
	assert_int_equal(nn_model_parse(L3, buf + 18, len - 16, &pk), MAL);
}

/* Judge @b over the empty policy: untouched, or dropped as spoof. */
static void judge_empty(const struct pb *b, enum nn_framing framing, bool untouched)
{
	static const struct nn_policy empty;
	struct nn_model *m = nn_model_new(&empty);
	struct nn_model_verdict v;
	int dir;

	assert_non_null(m);
	build(b);
	for (dir = 0; dir < NN_DIR_MAX; dir++) {
		nn_model_judge(m, dir, framing, buf, len, 1, &v);
		assert_int_equal(v.untouched, untouched);
		if (untouched)
			assert_int_equal(v.reason, NN_PASS);
		else
			assert_int_not_equal(v.reason, NN_PASS);
	}
	assert_int_equal(nn_model_flow_count(m), 0);
	nn_model_free(m);
}

static void test_arp_nd_untouched(void **state)
{
	struct pb b;
	uint8_t type;

	(void)state;
	judge_empty(pb_arp(pb_ip(pb_init(&b), A4, B4)), ETH, true);
	judge_empty(pb_arp(pb_vlan(pb_init(&b), 3)), ETH, true);
	for (type = 133; type <= 137; type++) {
		judge_empty(pb_nd(pb_eth(pb_ip(pb_init(&b), "fe80::1", "ff02::1")), type), ETH,
			    true);
		judge_empty(pb_nd(pb_vlan(pb_ip(pb_init(&b), "fe80::1", "ff02::1"), 3), type), ETH,
			    true);
		/* Not ND: L3 framing, a routed hop limit, a fragment. */
		judge_empty(pb_nd(pb_ip(pb_init(&b), "fe80::1", "ff02::1"), type), L3, false);
		judge_empty(pb_ttl(pb_nd(pb_eth(pb_ip(pb_init(&b), "fe80::1", "ff02::1")), type),
				   64),
			    ETH, false);
		judge_empty(pb_frag(pb_nd(pb_eth(pb_ip(pb_init(&b), "fe80::1", "ff02::1")), type),
				    PB_FRAG_FIRST, 1, 0),
			    ETH, false);
	}
	judge_empty(pb_nd(pb_eth(pb_ip(pb_init(&b), "fe80::1", "ff02::1")), 138), ETH, false);
	judge_empty(pb_eth(tcp6(&b)), ETH, false);
}

/* ---- The lines verdicts.md gained from the outside review ---- */

static struct pb *tcp6_between(struct pb *b, const char *src, const char *dst)
{
	return pb_tcp(pb_ip(pb_init(b), src, dst), 40000, 5432, PB_TCP_SYN);
}

static void test_v6_embedded_v4(void **state)
{
	struct nn_mpkt pk;
	uint8_t q[PB_BUF_LEN];
	size_t qlen;
	struct pb b, qb;

	(void)state;
	/* IPv4-compatible (::/96 but :: and ::1) and IPv4-mapped, either end. */
	assert_int_equal(parse_l3(tcp6_between(&b, "::100.96.16.2", B6)), MAL);
	assert_int_equal(parse_l3(tcp6_between(&b, A6, "::192.0.2.53")), MAL);
	assert_int_equal(parse_l3(tcp6_between(&b, "::2", B6)), MAL);
	assert_int_equal(parse_l3(tcp6_between(&b, A6, "::ffff:ffff")), MAL);
	assert_int_equal(parse_l3(tcp6_between(&b, "::ffff:100.96.16.2", B6)), MAL);
	/* Not IPv4-compatible: the unspecified and loopback addresses, and
	 * anything with a bit set in the first 96. */
	assert_int_equal(parse(tcp6_between(&b, "::", B6), L3, &pk), NN_PASS);
	assert_int_equal(parse(tcp6_between(&b, A6, "::1"), L3, &pk), NN_PASS);
	assert_int_equal(pk.t.dst[15], 1);
	assert_int_equal(parse_l3(tcp6_between(&b, "::1:0:0:2", B6)), NN_PASS);
	assert_int_equal(parse_l3(tcp6_between(&b, "::fffe:100.96.16.2", B6)), NN_PASS);
	/* In a quote too. */
	qlen = pb_build(tcp6_between(&qb, B6, "::100.96.16.2"), q, sizeof(q));
	assert_int_equal(parse_l3(pb_ptb(pb_ip(pb_init(&b), B6, A6), 1280, q, qlen)), MAL);
	qlen = pb_build(tcp6_between(&qb, B6, "::1"), q, sizeof(q));
	assert_int_equal(parse_l3(pb_ptb(pb_ip(pb_init(&b), B6, A6), 1280, q, qlen)), NN_PASS);
}

static int parse_opts(const uint8_t *o, size_t n)
{
	struct pb b;

	return parse_l3(pb_ip_opt_bytes(udp4(&b), o, n));
}

static void test_v4_options(void **state)
{
	static const uint8_t lsrr[] = { 131, 7, 4, 192, 0, 2, 1 };
	static const uint8_t ssrr[] = { 137, 7, 4, 192, 0, 2, 1 };
	static const uint8_t nop_lsrr[] = { 1, 1, 131, 7, 4, 192, 0, 2, 1 };
	static const uint8_t rr_ssrr[] = { 7, 7, 4, 0, 0, 0, 0, 137, 7, 4, 192, 0, 2, 1 };
	static const uint8_t eol_lsrr[] = { 0, 131, 7, 4, 192, 0, 2, 1 };
	static const uint8_t rr[] = { 7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t ts[] = { 68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t len0[] = { 68, 0 }, len1[] = { 148, 1 };
	static const uint8_t over[] = { 1, 148, 8, 0, 0, 0, 0, 0 }; /* 8 of 8 from byte 1 */
	static const uint8_t no_len[] = { 1, 1, 1, 148 };
	static const uint8_t fill[40] = { 30, 40 }; /* one option, all 40 bytes */
	uint8_t nops[40], q[PB_BUF_LEN];
	struct nn_mpkt pk;
	struct pb b, qb;
	size_t qlen;

	(void)state;
	assert_int_equal(parse_opts(lsrr, sizeof(lsrr)), MAL);
	assert_int_equal(parse_opts(ssrr, sizeof(ssrr)), MAL);
	assert_int_equal(parse_opts(nop_lsrr, sizeof(nop_lsrr)), MAL);
	assert_int_equal(parse_opts(rr_ssrr, sizeof(rr_ssrr)), MAL);
	/* After End of Option List the rest is padding. */
	assert_int_equal(parse_opts(eol_lsrr, sizeof(eol_lsrr)), NN_PASS);
	assert_int_equal(parse_opts(rr, sizeof(rr)), NN_PASS);
	assert_int_equal(parse_opts(ts, sizeof(ts)), NN_PASS);
	assert_int_equal(parse_opts(len0, sizeof(len0)), MAL);
	assert_int_equal(parse_opts(len1, sizeof(len1)), MAL);
	assert_int_equal(parse_opts(over, sizeof(over)), MAL);
	assert_int_equal(parse_opts(no_len, sizeof(no_len)), MAL);
	assert_int_equal(parse_opts(fill, sizeof(fill)), NN_PASS);
	memset(nops, 1, sizeof(nops));
	assert_int_equal(parse_opts(nops, sizeof(nops)), NN_PASS);
	nops[39] = 131;
	assert_int_equal(parse_opts(nops, sizeof(nops)), MAL);
	/* A quote's options are a copy of what was sent: not walked. */
	qlen = pb_build(pb_ip_opt_bytes(udp4(&qb), lsrr, sizeof(lsrr)), q, sizeof(q));
	assert_int_equal(parse(pb_frag_needed(pb_ip(pb_init(&b), B4, A4), 1400, q, qlen), L3, &pk),
			 NN_PASS);
	assert_true(pk.icmp_err);
	assert_int_equal(pk.quote.dport, 53);
}

static void test_v6_routing(void **state)
{
	struct pb b;
	int segleft;

	(void)state;
	for (segleft = 0; segleft < 3; segleft++) {
		assert_int_equal(parse_l3(pb_rh(pb_ext(tcp6(&b), 43, 1), 0, (uint8_t)segleft)),
				 MAL);
		assert_int_equal(parse_l3(pb_rh(pb_ext(tcp6(&b), 43, 1), 2, (uint8_t)segleft)),
				 NN_PASS);
	}
	assert_int_equal(parse_l3(pb_rh(pb_ext(pb_ext(tcp6(&b), 0, 1), 43, 1), 0, 0)), MAL);
	assert_int_equal(parse_l3(pb_ext(tcp6(&b), 43, 1)), NN_PASS); /* type 253 */
	/* Inside the fragmentable part of a first fragment. */
	pb_frag(tcp6(&b), PB_FRAG_FIRST, 1, 0);
	assert_int_equal(parse_l3(pb_rh(pb_ext_after_frag(&b, 43, 1), 0, 0)), MAL);
}

static void test_fragment_chains(void **state)
{
	struct nn_mpkt pk;
	struct pb b;

	(void)state;
	/* The walk goes on after a first fragment's Fragment header. */
	pb_ext_after_frag(pb_frag(tcp6(&b), PB_FRAG_FIRST, 77, 0), 60, 1);
	assert_int_equal(parse(&b, L3, &pk), NN_PASS);
	assert_true(pk.frag_first && pk.frag_mf && pk.frag_hdr);
	assert_int_equal(pk.frag_id, 77);
	assert_int_equal(pk.frag_off, 0);
	assert_int_equal(pk.t.proto, 6);
	assert_int_equal(pk.t.dport, 5432);
	assert_int_equal(buf[40], 60); /* the Fragment header names dst opts */
	pb_ext_after_frag(pb_frag(tcp6(&b), PB_FRAG_FIRST, 78, 0), 51, 1);
	pb_ext_after_frag(&b, 60, 1);
	assert_int_equal(parse(&b, L3, &pk), NN_PASS);
	assert_int_equal(pk.t.proto, 6);
	assert_int_equal(pk.t.sport, 40000);
	/* The upper-layer header must be in the first fragment (RFC 7112). */
	pb_ext_after_frag(pb_frag(tcp6(&b), PB_FRAG_FIRST, 79, 0), 60, 1);
	build(&b);
	assert_int_equal(nn_model_parse(L3, buf, 40 + 8 + 8 + 19, &pk), MAL);

	/* A later fragment whose Fragment header names an extension header:
	 * no protocol claimed, nothing after it read. */
	pb_ext_after_frag(pb_frag(tcp6(&b), PB_FRAG_LATER, 77, 9), 60, 1);
	assert_int_equal(parse(pb_payload(&b, 30), L3, &pk), NN_PASS);
	assert_int_equal(buf[40], 60);
	assert_true(pk.frag_later && !pk.frag_first);
	assert_int_equal(pk.t.proto, 0);
	assert_int_equal(pk.frag_id, 77);
	assert_int_equal(pk.frag_off, 9);
	assert_int_equal(pk.t.sport, 0);

	/* Nested fragmentation: a second Fragment header with M set. */
	pb_ext_after_frag(pb_frag(tcp6(&b), PB_FRAG_FIRST, 80, 0), 44, 1);
	build(&b);
	assert_int_equal(nn_model_parse(L3, buf, len, &pk), NN_PASS);
	assert_int_equal(pk.frag_id, 80); /* the atomic one changed nothing */
	buf[40 + 8 + 3] |= 1;
	assert_int_equal(nn_model_parse(L3, buf, len, &pk), MAL);
	buf[40 + 8 + 3] &= (uint8_t)~1;
	buf[40 + 8 + 2] = 1; /* offset 32: a later fragment inside a first one */
	assert_int_equal(nn_model_parse(L3, buf, len, &pk), MAL);

	/* Headers after the Fragment header count toward the bound. */
	pb_ext_after_frag(pb_frag(pb_ext(tcp6(&b), 0, 1), PB_FRAG_FIRST, 1, 0), 60, 6);
	assert_int_equal(parse_l3(&b), NN_PASS);
	pb_ext_after_frag(&b, 60, 1);
	assert_int_equal(parse_l3(&b), MAL);
}

/* ND with Ethernet framing is untouched only when it looks like ND. */
static void test_nd_looks(void **state)
{
	static const char *const nd_dst[] = { "ff02::1", "ff05::2", "fe80::2", "febf::ffff" };
	static const char *const not_nd[] = { "fec0::2", "fe7f::2", "2001:db8::2", B6 };
	struct pb b;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		judge_empty(pb_nd(pb_eth(pb_ip(pb_init(&b), "fe80::1", nd_dst[i])), 135), ETH,
			    true);
		judge_empty(pb_nd(pb_eth(pb_ip(pb_init(&b), "fe80::1", not_nd[i])), 135), ETH,
			    false);
	}
	/* Any Fragment header, even an atomic one. */
	judge_empty(pb_frag(pb_nd(pb_eth(pb_ip(pb_init(&b), "fe80::1", "ff02::1")), 136),
			    PB_FRAG_ATOMIC, 1, 0),
		    ETH, false);
	/* From a device's own address too: ND types are no pass. */
	judge_empty(pb_nd(pb_eth(pb_ip(pb_init(&b), A6, B6)), 136), ETH, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builder_checksums),
		cmocka_unit_test(test_builder_lies_and_cuts),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_fragments),
		cmocka_unit_test(test_malformed_ipv4),
		cmocka_unit_test(test_malformed_ipv6),
		cmocka_unit_test(test_malformed_l4),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_ethernet),
		cmocka_unit_test(test_arp_nd_untouched),
		cmocka_unit_test(test_v6_embedded_v4),
		cmocka_unit_test(test_v4_options),
		cmocka_unit_test(test_v6_routing),
		cmocka_unit_test(test_fragment_chains),
		cmocka_unit_test(test_nd_looks),
	};

	return cmocka_run_group_tests_name("model_parse", tests, NULL, NULL);
}
