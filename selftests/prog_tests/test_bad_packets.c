// SPDX-License-Identifier: GPL-2.0
/*
 * Bad and awkward packets through the real programs (BPF_PROG_TEST_RUN) and
 * the reference model, on examples/assignments.json: both framings, both
 * from-overlay hooks (TC, XDP) and TC into the overlay. Every packet must
 * get the expected verdict, reason and deciding rule on both sides, and
 * exactly the drop counter of its reason must move by one (none on pass).
 *
 * The kernel refuses some packets before any program runs (EINVAL):
 * anything under 14 bytes, and with Ethernet framing on TC an IPv4/IPv6
 * frame too short for its IP header. Those are judged by the model alone
 * (and by XDP where it accepts them); the count is printed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "dptest.h"
#include "model_fixture.h"

#define L3 (1u << NN_FRAMING_L3)
#define ETH (1u << NN_FRAMING_ETH)
#define BOTH (L3 | ETH)
#define MAX_STEPS 4

/* One packet of a case: how to build it (at L3; Ethernet is added for that
 * framing unless the builder set L2 itself) and what both sides must say. */
struct step {
	enum nn_dir dir;
	void (*build)(struct pb *b, int arg);
	int arg;
	void (*patch)(uint8_t *l3, size_t len); /* bytes after building */
	int reason;				/* with L3 framing (and Ethernet, unless below) */
	int reason_eth;				/* -1: same as reason */
	const char *rule;			/* deciding rule id, NULL none */
	bool untouched;
	bool flow_hit;
};

/* Steps run in order on fresh flow and fragment tables. */
struct bcase {
	const char *what;
	unsigned int framings;
	struct step s[MAX_STEPS];
};

struct env {
	struct dpt t;
	struct nn_model *m;
	uint8_t framing;
	enum nn_hook hook;
	const struct nn_policy *p;
	size_t runs, model_only;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* See the top of the file: what BPF_PROG_TEST_RUN refuses to run. */
static bool kernel_refuses(const struct env *e, enum nn_dir dir, const uint8_t *p, size_t len)
{
	uint16_t et;

	if (len < 14)
		return true;
	if (e->framing != NN_FRAMING_ETH || (dir == NN_DIR_FROM_OVERLAY && e->hook == NN_HOOK_XDP))
		return false;
	et = (uint16_t)(p[12] << 8 | p[13]);
	return (et == 0x0800 && len < 34) || (et == 0x86dd && len < 54);
}

static void check(struct env *e, enum nn_dir dir, const uint8_t *pkt, size_t len, int reason,
		  const char *rule_id, bool untouched, bool flow_hit, const char *what, int arg)
{
	int32_t rule = rule_id ? mf_rule(e->p, rule_id) : -1;
	enum nn_hook hook = dir == NN_DIR_FROM_OVERLAY ? e->hook : NN_HOOK_TC;
	const char *where = e->framing == NN_FRAMING_ETH ? "eth" : "l3";
	const char *hname = hook == NN_HOOK_XDP ? "xdp" : "tc";
	struct nn_model_verdict mv;
	struct dpt_result r;
	int err, k;

	err = dpt_run(&e->t, dir, hook, pkt, len, &r);
	nn_model_judge(e->m, dir, e->framing, pkt, len, now_ns(), &mv);
	if (mv.reason != reason || mv.rule != rule || mv.untouched != untouched ||
	    mv.flow_hit != flow_hit)
		fail_msg("%s (%d, %zu bytes, %s/%s): model says reason %d rule %d untouched %d "
			 "flow %d; want %d rule %d untouched %d flow %d",
			 what, arg, len, where, hname, mv.reason, mv.rule, mv.untouched,
			 mv.flow_hit, reason, rule, untouched, flow_hit);
	if (err == -EINVAL && kernel_refuses(e, dir, pkt, len)) {
		e->model_only++;
		return;
	}
	assert_int_equal(err, 0);
	e->runs++;
	if (r.reason != (uint32_t)reason || r.rule != rule || r.untouched != untouched ||
	    r.flow_hit != flow_hit || r.passed != (reason == NN_PASS))
		fail_msg("%s (%d, %zu bytes, %s/%s): BPF says reason %u rule %d untouched %d flow "
			 "%d passed %d; want %d rule %d",
			 what, arg, len, where, hname, r.reason, r.rule, r.untouched, r.flow_hit,
			 r.passed, reason, rule);
	for (k = 1; k < NN_R_MAX; k++)
		if (r.drops[k] != (uint64_t)(k == reason && !untouched))
			fail_msg("%s (%d, %s/%s): drop counter %d moved by %llu", what, arg, where,
				 hname, k, (unsigned long long)r.drops[k]);
}

/* Render a step for the env's framing. */
static size_t render(const struct env *e, const struct step *s, uint8_t *buf, size_t cap)
{
	static const uint8_t l2[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	size_t off = 0, len;
	struct pb b;

	s->build(&b, s->arg);
	if (e->framing == NN_FRAMING_ETH && !b.eth) {
		if (!s->patch) {
			pb_eth(&b);
		} else {
			memcpy(buf, l2, 14);
			buf[12] = b.family == 6 ? 0x86 : 0x08;
			buf[13] = b.family == 6 ? 0xdd : 0x00;
			off = 14;
		}
	}
	len = pb_build(&b, buf + off, cap - off);
	assert_true(len > 0);
	if (s->patch)
		s->patch(buf + off, len);
	return off + len;
}

static void run_case(struct env *e, const struct bcase *c)
{
	uint8_t pkt[PB_BUF_LEN];
	size_t i;

	if (!(c->framings & (1u << e->framing)))
		return;
	assert_int_equal(dpt_flush_state(&e->t), 0);
	nn_model_flush_flows(e->m);
	for (i = 0; i < MAX_STEPS && c->s[i].build; i++) {
		const struct step *s = &c->s[i];
		size_t len = render(e, s, pkt, sizeof(pkt));
		int reason = e->framing == NN_FRAMING_ETH && s->reason_eth >= 0 ? s->reason_eth :
										  s->reason;

		check(e, s->dir, pkt, len, reason, s->rule, s->untouched, s->flow_hit, c->what,
		      s->arg);
	}
}

/* ---- Builders (arg: a variant number) ---- */

static void v4_tcp(struct pb *b, int arg)
{
	(void)arg;
	mf_tcp(b, ALICE4, DNS4, 40000, 443, PB_TCP_SYN);
}

static void v4_udp(struct pb *b, int arg)
{
	(void)arg;
	mf_udp(b, ALICE4, DNS4, 40001, 53);
}

static void v4_echo(struct pb *b, int arg)
{
	mf_echo(b, ALICE4, DNS4, true, (uint16_t)(arg + 1));
}

static void v6_tcp(struct pb *b, int arg)
{
	(void)arg;
	mf_ex1(b);
}

static void v6_udp(struct pb *b, int arg)
{
	(void)arg;
	mf_udp(b, ALICE6, NET6, 40002, 53);
}

static void v6_echo(struct pb *b, int arg)
{
	mf_echo(b, ALICE6, BOB6, true, (uint16_t)(arg + 1));
}

static void v4_opts(struct pb *b, int arg)
{
	v4_udp(b, 0);
	pb_ip_opts(b, (unsigned int)arg);
}

static void v4_ihl(struct pb *b, int arg)
{
	v4_udp(b, 0);
	pb_lie(b, PB_F_IHL, (uint32_t)arg);
}

/* Total length: arg 1 one more than the packet, 2 less than the header,
 * 3 one less (with Ethernet: trailing padding, and the TCP segment of 29
 * bytes still holds its header). */
static void v4_totlen(struct pb *b, int arg)
{
	v4_tcp(b, 0);
	pb_payload(b, 10);
	pb_lie(b, PB_F_IP_LEN, arg == 1 ? 51 : arg == 2 ? 19 : 49);
}

/* Payload length: arg 1 zero, 2 one more, 3 one less. */
static void v6_plen(struct pb *b, int arg)
{
	mf_tcp(b, ALICE6, NET6, 40003, 443, PB_TCP_SYN);
	pb_payload(b, 10);
	pb_lie(b, PB_F_IP_LEN, arg == 1 ? 0 : arg == 2 ? 31 : 29);
}

/* UDP length 0, 7, one less, one more; even arg IPv4, odd IPv6. */
static void udp_len(struct pb *b, int arg)
{
	static const uint32_t lie[] = { 0, 7, 11, 13 };

	if (arg & 1)
		v6_udp(b, 0);
	else
		v4_udp(b, 0);
	pb_payload(b, 4);
	pb_lie(b, PB_F_UDP_LEN, lie[arg / 2]);
}

static void tcp_doff(struct pb *b, int arg)
{
	if (arg >= 100)
		v6_tcp(b, 0);
	else
		v4_tcp(b, 0);
	pb_payload(b, 12);
	pb_lie(b, PB_F_TCP_DOFF, (uint32_t)(arg % 100));
}

/* arg extension headers of every walked type, then ex1's TCP. */
static void v6_ext(struct pb *b, int arg)
{
	static const uint8_t types[] = { 0, 43, 60, 51, 135, 139, 140, 44, 60, 60 };
	int i;

	v6_tcp(b, 0);
	for (i = 0; i < arg; i++)
		pb_ext(b, types[i], 1);
}

static void v6_ext_lie(struct pb *b, int arg)
{
	v6_tcp(b, 0);
	pb_ext(b, 60, 1);
	pb_lie(b, PB_F_EXT_LEN, (uint32_t)arg);
}

/* ---- Fragments: arg is the fragment id ---- */

static void frag6_first_ok(struct pb *b, int arg)
{
	v6_tcp(b, 0);
	pb_frag(b, PB_FRAG_FIRST, (uint32_t)arg, 0);
}

static void frag6_first_denied(struct pb *b, int arg)
{
	mf_tcp(b, ALICE6, DB6, 40010, 22, PB_TCP_SYN);
	pb_frag(b, PB_FRAG_FIRST, (uint32_t)arg, 0);
}

static void frag6_later(struct pb *b, int arg)
{
	pb_init(b);
	pb_ip(b, ALICE6, DB6);
	b->l4 = PB_L4_TCP;
	pb_frag(b, PB_FRAG_LATER, (uint32_t)arg, 3);
	pb_payload(b, 24);
}

static void frag6_later_spoofed(struct pb *b, int arg)
{
	frag6_later(b, arg);
	pb_ip(b, NOBODY6, DB6);
}

static void frag6_later_revoked(struct pb *b, int arg)
{
	frag6_later(b, arg);
	pb_ip(b, CAROL_OLD6, FILES6);
}

static void frag4_first_smtp(struct pb *b, int arg)
{
	mf_tcp(b, ALICE4, DNS4, 40011, 25, PB_TCP_SYN);
	pb_frag(b, PB_FRAG_FIRST, (uint32_t)arg, 0);
}

static void frag4_first_dns(struct pb *b, int arg)
{
	v4_udp(b, 0);
	pb_payload(b, 16);
	pb_frag(b, PB_FRAG_FIRST, (uint32_t)arg, 0);
}

static void frag4_later(struct pb *b, int arg)
{
	pb_init(b);
	pb_ip(b, ALICE4, DNS4);
	b->l4 = arg >= 100 ? PB_L4_UDP : PB_L4_TCP;
	pb_frag(b, PB_FRAG_LATER, (uint32_t)(arg % 100), 2);
	pb_payload(b, 16);
}

static void frag6_into_first(struct pb *b, int arg)
{
	mf_tcp(b, DB6, ALICE6, 22, 40012, PB_TCP_SYN);
	pb_frag(b, PB_FRAG_FIRST, (uint32_t)arg, 0);
}

static void frag6_into_later(struct pb *b, int arg)
{
	pb_init(b);
	pb_ip(b, DB6, ALICE6);
	b->l4 = PB_L4_TCP;
	pb_frag(b, PB_FRAG_LATER, (uint32_t)arg, 5);
	pb_payload(b, 8);
}

/* An atomic fragment header (from pb_ext) before the builder's own first
 * fragment header: swap their roles, so the first fragment header in the
 * chain is the real one (id 0x1234) and an atomic one (id 0x9999) follows. */
static void frag6_two_headers(struct pb *b, int arg)
{
	(void)arg;
	v6_tcp(b, 0);
	pb_ext(b, 44, 1);
	pb_frag(b, PB_FRAG_FIRST, 0x9999, 0);
}

static void patch_two_headers(uint8_t *l3, size_t len)
{
	static const uint8_t real[6] = { 0, 1, 0, 0, 0x12, 0x34 };
	static const uint8_t atomic[6] = { 0, 0, 0, 0, 0x99, 0x99 };

	assert_true(len > 56 && l3[6] == 44 && l3[40] == 44);
	memcpy(l3 + 42, real, 6);
	memcpy(l3 + 50, atomic, 6);
}

/* ---- Layer 2 (Ethernet framing only) ---- */

static void vlan_one(struct pb *b, int arg)
{
	(void)arg;
	pb_vlan(mf_ex1(b), 42);
}

/* arg: the inner EtherType after one tag, or (with arg 0) an outer 802.1ad
 * tag; 1: IPv6 under the IPv4 EtherType; 2: LLDP. */
static void l2_bad(struct pb *b, int arg)
{
	mf_ex1(b);
	if (arg == 0x8100 || arg == 0x88a8) {
		pb_vlan(b, 42);
		pb_ethertype(b, (uint16_t)arg);
	} else {
		pb_eth(b);
		pb_ethertype(b, arg == 0 ? 0x88a8 : arg == 1 ? 0x0800 : 0x88cc);
	}
}

static void arp(struct pb *b, int arg)
{
	pb_arp(pb_ip(pb_init(b), ALICE4, GW4));
	if (arg)
		pb_vlan(b, 7);
}

/* Neighbour discovery type 133 + arg % 10; arg / 10: 1 hop limit 254,
 * 2 fragmented, 3 into the overlay. */
static void nd(struct pb *b, int arg)
{
	if (arg / 10 == 3)
		pb_ip(pb_init(b), "fe80::1", "fe80::2");
	else
		pb_ip(pb_init(b), "fe80::1", "ff02::1");
	pb_nd(b, (uint8_t)(133 + arg % 10));
	if (arg / 10 == 1)
		pb_ttl(b, 254);
	if (arg / 10 == 2)
		pb_frag(b, PB_FRAG_FIRST, 1, 0);
}

/* ---- ICMP errors ---- */

static uint8_t quote[PB_BUF_LEN];

static size_t q_ex1(void)
{
	struct pb q;

	return pb_build(mf_ex1(&q), quote, sizeof(quote));
}

/* The SYN-ACK answering ex1, as it would go into the overlay. */
static size_t q_ex1_reply(void)
{
	struct pb q;

	return pb_build(mf_tcp(&q, DB6, ALICE6, 5432, 40000, PB_TCP_SYN | PB_TCP_ACK), quote,
			sizeof(quote));
}

static void ex1(struct pb *b, int arg)
{
	(void)arg;
	mf_ex1(b);
}

/* Errors about ex1's flow toward alice; arg 0 Packet Too Big, 1 address
 * unreachable, 2 from carol (another tenant), 3 from bob (same network),
 * 4 quoting a flow never opened, 5..7: the quote cut to 39, 42, 47 bytes. */
static void err_ex1(struct pb *b, int arg)
{
	static const char *const from[] = { DB6, DB6, CAROL6, BOB6, DB6 };
	size_t qlen = q_ex1();

	if (arg == 4) {
		struct pb q;

		qlen = pb_build(mf_tcp(&q, ALICE6, DB6, 40000, 9999, PB_TCP_SYN), quote,
				sizeof(quote));
	}
	if (arg >= 5)
		qlen = arg == 5 ? 39 : arg == 6 ? 42 : 47;
	pb_ip(pb_init(b), arg < 5 ? from[arg] : DB6, ALICE6);
	if (arg == 1)
		pb_dest_unreach(b, 3, quote, qlen);
	else
		pb_ptb(b, 1280, quote, qlen);
}

/* Alice reports an error about the reply of her own flow. */
static void err_from_alice(struct pb *b, int arg)
{
	(void)arg;
	pb_ip(pb_init(b), ALICE6, DB6);
	pb_dest_unreach(b, 4, quote, q_ex1_reply());
}

static void carol_dns(struct pb *b, int arg)
{
	(void)arg;
	mf_udp(b, CAROL4, DNS4, 40009, 53);
}

/* IPv4 errors toward alice4 from DNS4: arg 0 frag needed quoting alice's
 * DNS query, 1 time exceeded, 2 quoting carol's query, 3 a 19-byte quote,
 * 4 quoting alice's query with an IHL 4 header. */
static void err_v4(struct pb *b, int arg)
{
	struct pb q;
	size_t qlen;

	if (arg == 2)
		qlen = pb_build(mf_udp(&q, CAROL4, DNS4, 40009, 53), quote, sizeof(quote));
	else
		qlen = pb_build(mf_udp(&q, ALICE4, DNS4, 40001, 53), quote, sizeof(quote));
	if (arg == 3)
		qlen = 19;
	if (arg == 4)
		quote[0] = 0x44;
	pb_ip(pb_init(b), DNS4, ALICE4);
	if (arg == 1)
		pb_icmp_error(b, 11, 0, 0, quote, qlen);
	else
		pb_frag_needed(b, 1400, quote, qlen);
}

static void echo_net(struct pb *b, int arg)
{
	mf_echo(b, ALICE6, NET6, true, (uint16_t)arg);
}

/* Packet Too Big from the internet quoting alice's echo of id arg. */
static void err_echo(struct pb *b, int arg)
{
	struct pb q;
	size_t qlen =
		pb_build(mf_echo(&q, ALICE6, NET6, true, (uint16_t)arg), quote, sizeof(quote));

	pb_ip(pb_init(b), NET6, ALICE6);
	pb_ptb(b, 1280, quote, qlen);
}

/* ---- IPv4-mapped addresses inside IPv6 ---- */

/* arg 0: mapped source (alice's IPv4), 1: mapped destination, 2: an error
 * whose quoted IPv6 header has a mapped source. */
static void mapped(struct pb *b, int arg)
{
	struct pb q;
	size_t qlen;

	if (arg == 0) {
		mf_tcp(b, "::ffff:" ALICE4, DB6, 40000, 5432, PB_TCP_SYN);
	} else if (arg == 1) {
		mf_tcp(b, ALICE6, "::ffff:" DNS4, 40000, 443, PB_TCP_SYN);
	} else {
		qlen = pb_build(mf_tcp(&q, "::ffff:" ALICE4, DB6, 40000, 5432, PB_TCP_SYN), quote,
				sizeof(quote));
		pb_ip(pb_init(b), DB6, ALICE6);
		pb_ptb(b, 1280, quote, qlen);
	}
}

/* ---- The tables ---- */

#define P(d, fn, a, r, ru)                                                                 \
	{                                                                                  \
		.dir = d, .build = fn, .arg = a, .reason = r, .reason_eth = -1, .rule = ru \
	}
#define PE(d, fn, a, r, re)                                                    \
	{                                                                      \
		.dir = d, .build = fn, .arg = a, .reason = r, .reason_eth = re \
	}
#define HIT(d, fn, a)                                                                 \
	{                                                                             \
		.dir = d, .build = fn, .arg = a, .reason = NN_PASS, .reason_eth = -1, \
		.flow_hit = true                                                      \
	}
#define MAL(d, fn, a) P(d, fn, a, NN_R_MALFORMED, NULL)
#define PASS_INET(fn, a) P(FROM, fn, a, NN_PASS, NULL)
#define ONE(what, fr, ...)          \
	{                           \
		what, fr,           \
		{                   \
			__VA_ARGS__ \
		}                   \
	}

static const struct bcase cases[] = {
	/* IPv4 header length */
	ONE("IHL 0", BOTH, MAL(FROM, v4_ihl, 0)),
	ONE("IHL 1", BOTH, MAL(FROM, v4_ihl, 1)),
	ONE("IHL 4", BOTH, MAL(FROM, v4_ihl, 4)),
	ONE("IHL 4 into", BOTH, MAL(INTO, v4_ihl, 4)),
	ONE("IHL 15 beyond the packet", BOTH, MAL(FROM, v4_ihl, 15)),
	ONE("IPv4 options, 1 word", BOTH, PASS_INET(v4_opts, 1)),
	ONE("IPv4 options, 5 words", BOTH, PASS_INET(v4_opts, 5)),
	ONE("IPv4 options, 10 words", BOTH, PASS_INET(v4_opts, 10)),
	/* Length fields that lie */
	ONE("IPv4 total length +1", BOTH, MAL(FROM, v4_totlen, 1)),
	ONE("IPv4 total length < IHL", BOTH, MAL(FROM, v4_totlen, 2)),
	ONE("IPv4 total length -1 (padding)", BOTH,
	    PE(FROM, v4_totlen, 3, NN_R_MALFORMED, NN_PASS)),
	ONE("IPv6 payload length 0", BOTH, MAL(FROM, v6_plen, 1)),
	ONE("IPv6 payload length +1", BOTH, MAL(FROM, v6_plen, 2)),
	ONE("IPv6 payload length -1 (padding)", BOTH,
	    PE(FROM, v6_plen, 3, NN_R_MALFORMED, NN_PASS)),
	ONE("UDP length 0 (v4)", BOTH, MAL(FROM, udp_len, 0)),
	ONE("UDP length 0 (v6)", BOTH, MAL(FROM, udp_len, 1)),
	ONE("UDP length 7 (v4)", BOTH, MAL(FROM, udp_len, 2)),
	ONE("UDP length 7 (v6)", BOTH, MAL(INTO, udp_len, 3)),
	ONE("UDP length -1 (v4)", BOTH, MAL(FROM, udp_len, 4)),
	ONE("UDP length -1 (v6)", BOTH, MAL(FROM, udp_len, 5)),
	ONE("UDP length +1 (v4)", BOTH, MAL(FROM, udp_len, 6)),
	ONE("UDP length +1 (v6)", BOTH, MAL(FROM, udp_len, 7)),
	ONE("TCP data offset 0", BOTH, MAL(FROM, tcp_doff, 0)),
	ONE("TCP data offset 4", BOTH, MAL(FROM, tcp_doff, 4)),
	ONE("TCP data offset 4 (v6)", BOTH, MAL(FROM, tcp_doff, 104)),
	ONE("TCP data offset 9 beyond the segment", BOTH, MAL(FROM, tcp_doff, 9)),
	ONE("TCP data offset 15 (v6)", BOTH, MAL(FROM, tcp_doff, 115)),
	ONE("TCP data offset 8 (options)", BOTH, PASS_INET(tcp_doff, 8)),
	ONE("TCP data offset 8 (v6, options)", BOTH, P(FROM, tcp_doff, 108, NN_PASS, "eng-db")),
	/* IPv6 extension header chains */
	ONE("1 extension header", BOTH, P(FROM, v6_ext, 1, NN_PASS, "eng-db")),
	ONE("7 extension headers", BOTH, P(FROM, v6_ext, 7, NN_PASS, "eng-db")),
	ONE("8 extension headers", BOTH, P(FROM, v6_ext, 8, NN_PASS, "eng-db")),
	ONE("9 extension headers", BOTH, MAL(FROM, v6_ext, 9)),
	ONE("10 extension headers", BOTH, MAL(FROM, v6_ext, 10)),
	ONE("9 extension headers into", BOTH, MAL(INTO, v6_ext, 9)),
	ONE("extension header longer than the payload", BOTH, MAL(FROM, v6_ext_lie, 3)),
	ONE("extension header length 200", BOTH, MAL(FROM, v6_ext_lie, 200)),
	ONE("extension header eats the TCP header", BOTH, MAL(FROM, v6_ext_lie, 1)),
	/* Fragments */
	{ "v6 first fragment passes, later ones follow",
	  BOTH,
	  { P(FROM, frag6_first_ok, 77, NN_PASS, "eng-db"), P(FROM, frag6_later, 77, NN_PASS, NULL),
	    P(FROM, frag6_later, 78, NN_R_FRAGMENT, NULL) } },
	{ "v6 first fragment denied, later ones follow the drop",
	  BOTH,
	  { P(FROM, frag6_first_denied, 5, NN_R_ACL_DEFAULT_DENY, NULL),
	    P(FROM, frag6_later, 5, NN_R_ACL_DEFAULT_DENY, NULL) } },
	{ "v6 orphan later fragments",
	  BOTH,
	  { P(FROM, frag6_later, 9, NN_R_FRAGMENT, NULL),
	    P(FROM, frag6_later_spoofed, 9, NN_R_SPOOF, NULL),
	    P(FROM, frag6_later_revoked, 9, NN_R_REVOKED, NULL) } },
	{ "v4 first fragment denied by no-smtp, later follows",
	  BOTH,
	  { P(FROM, frag4_first_smtp, 9, NN_R_ACL_DENY, "no-smtp"),
	    P(FROM, frag4_later, 9, NN_R_ACL_DENY, NULL),
	    P(FROM, frag4_later, 8, NN_R_FRAGMENT, NULL) } },
	{ "v4 first fragment passes, later follows, orphan dropped",
	  BOTH,
	  { P(FROM, frag4_first_dns, 10, NN_PASS, NULL), P(FROM, frag4_later, 110, NN_PASS, NULL),
	    P(FROM, frag4_later, 111, NN_R_FRAGMENT, NULL),
	    P(FROM, frag4_later, 10, NN_R_FRAGMENT, NULL) } },
	{ "v6 into the overlay: first fragment denied, later follows",
	  BOTH,
	  { P(INTO, frag6_into_first, 3, NN_R_ACL_DEFAULT_DENY, NULL),
	    P(INTO, frag6_into_later, 3, NN_R_ACL_DEFAULT_DENY, NULL),
	    P(INTO, frag6_into_later, 4, NN_R_FRAGMENT, NULL) } },
	{ "v6 atomic fragment header after the real one keeps its id",
	  BOTH,
	  { { .dir = FROM,
	      .build = frag6_two_headers,
	      .patch = patch_two_headers,
	      .reason = NN_PASS,
	      .reason_eth = -1,
	      .rule = "eng-db" },
	    P(FROM, frag6_later, 0x1234, NN_PASS, NULL),
	    P(FROM, frag6_later, 0x9999, NN_R_FRAGMENT, NULL) } },
	/* Ethernet: VLAN, ARP, neighbour discovery */
	ONE("one 802.1Q tag", ETH, P(FROM, vlan_one, 0, NN_PASS, "eng-db")),
	ONE("two 802.1Q tags", ETH, MAL(FROM, l2_bad, 0x8100)),
	ONE("802.1Q then 802.1ad", ETH, MAL(FROM, l2_bad, 0x88a8)),
	ONE("outer 802.1ad", ETH, MAL(INTO, l2_bad, 0)),
	ONE("IPv6 under the IPv4 EtherType", ETH, MAL(FROM, l2_bad, 1)),
	ONE("LLDP EtherType", ETH, MAL(FROM, l2_bad, 2)),
	ONE("ARP from the overlay", ETH, { .dir = FROM, .build = arp, .untouched = true }),
	ONE("ARP into the overlay", ETH, { .dir = INTO, .build = arp, .untouched = true }),
	ONE("ARP with a VLAN tag", ETH, { .dir = FROM, .build = arp, .arg = 1, .untouched = true }),
	ONE("ND 133 (L3: judged)", L3, P(FROM, nd, 0, NN_R_SPOOF, NULL)),
	ONE("ND 133", ETH, { .dir = FROM, .build = nd, .arg = 0, .untouched = true }),
	ONE("ND 134", ETH, { .dir = FROM, .build = nd, .arg = 1, .untouched = true }),
	ONE("ND 135", ETH, { .dir = FROM, .build = nd, .arg = 2, .untouched = true }),
	ONE("ND 136", ETH, { .dir = FROM, .build = nd, .arg = 3, .untouched = true }),
	ONE("ND 137", ETH, { .dir = FROM, .build = nd, .arg = 4, .untouched = true }),
	ONE("ND 135 into", ETH, { .dir = INTO, .build = nd, .arg = 32, .untouched = true }),
	ONE("ND 135 into (L3: judged)", L3, P(INTO, nd, 32, NN_R_UNKNOWN_DST, NULL)),
	ONE("ICMPv6 138 is not ND", BOTH, P(FROM, nd, 5, NN_R_SPOOF, NULL)),
	ONE("ND with hop limit 254", BOTH, P(FROM, nd, 12, NN_R_SPOOF, NULL)),
	ONE("fragmented ND", BOTH, P(FROM, nd, 22, NN_R_SPOOF, NULL)),
	/* ICMP errors */
	{ "PTB and unreachable for a tracked flow",
	  BOTH,
	  { P(FROM, ex1, 0, NN_PASS, "eng-db"), HIT(INTO, err_ex1, 0), HIT(INTO, err_ex1, 1) } },
	{ "error from another tenant quoting alice's flow",
	  BOTH,
	  { P(FROM, ex1, 0, NN_PASS, "eng-db"), P(FROM, err_ex1, 2, NN_R_CROSS_TENANT, NULL) } },
	{ "error from bob quoting alice's flow: only the ACL",
	  BOTH,
	  { P(FROM, ex1, 0, NN_PASS, "eng-db"), P(FROM, err_ex1, 3, NN_PASS, "ping-peers") } },
	{ "error quoting an unknown flow",
	  BOTH,
	  { P(INTO, err_ex1, 4, NN_R_ACL_DEFAULT_DENY, NULL), P(FROM, ex1, 0, NN_PASS, "eng-db"),
	    P(INTO, err_ex1, 4, NN_R_ACL_DEFAULT_DENY, NULL) } },
	{ "quotes cut short",
	  BOTH,
	  { P(FROM, ex1, 0, NN_PASS, "eng-db"), MAL(INTO, err_ex1, 5), MAL(INTO, err_ex1, 6),
	    HIT(INTO, err_ex1, 7) } },
	{ "device reports an error about its flow's reply",
	  BOTH,
	  { P(FROM, ex1, 0, NN_PASS, "eng-db"), HIT(FROM, err_from_alice, 0) } },
	{ "IPv4 frag needed and time exceeded for a tracked flow",
	  BOTH,
	  { PASS_INET(v4_udp, 0), HIT(INTO, err_v4, 0), HIT(INTO, err_v4, 1) } },
	{ "IPv4 error quoting another tenant's flow",
	  BOTH,
	  { PASS_INET(carol_dns, 0), P(INTO, err_v4, 2, NN_R_ACL_DEFAULT_DENY, NULL) } },
	{ "IPv4 quotes that are not an IPv4 header",
	  BOTH,
	  { PASS_INET(v4_udp, 0), MAL(INTO, err_v4, 3), MAL(INTO, err_v4, 4) } },
	{ "errors quoting echo",
	  BOTH,
	  { PASS_INET(echo_net, 5), HIT(INTO, err_echo, 5),
	    P(INTO, err_echo, 6, NN_R_ACL_DEFAULT_DENY, NULL) } },
	/* IPv4-mapped addresses inside IPv6 */
	ONE("IPv4-mapped source", BOTH, MAL(FROM, mapped, 0)),
	ONE("IPv4-mapped destination", BOTH, MAL(FROM, mapped, 1)),
	ONE("quote with an IPv4-mapped source", BOTH, MAL(INTO, mapped, 2)),
};

/* Run @fn on every framing and hook with a fresh model over @p. */
static void for_each_env(const struct nn_policy *p, void (*fn)(struct env *e, const void *arg),
			 const void *arg)
{
	static const uint8_t framings[] = { NN_FRAMING_L3, NN_FRAMING_ETH };
	size_t runs = 0, model_only = 0, i;
	struct env e;
	int h;

	for (i = 0; i < 2; i++) {
		memset(&e, 0, sizeof(e));
		e.framing = framings[i];
		e.p = p;
		assert_int_equal(dpt_open(&e.t, e.framing), 0);
		assert_int_equal(dpt_apply(&e.t, p, NULL), 0);
		for (h = NN_HOOK_TC; h <= NN_HOOK_XDP; h++) {
			e.hook = (enum nn_hook)h;
			e.m = nn_model_new(p);
			assert_non_null(e.m);
			fn(&e, arg);
			nn_model_free(e.m);
		}
		runs += e.runs;
		model_only += e.model_only;
		dpt_close(&e.t);
	}
	printf("# %zu packets through BPF and the model, %zu refused by the kernel (model only)\n",
	       runs, model_only);
}

static void run_table(struct env *e, const void *arg)
{
	const struct bcase *c = arg;
	size_t i;

	for (i = 0; c[i].what; i++)
		run_case(e, &c[i]);
}

static void test_bad_packet_table(void **state)
{
	static struct bcase all[sizeof(cases) / sizeof(cases[0]) + 1];

	(void)state;
	memcpy(all, cases, sizeof(cases));
	for_each_env(mf_base, run_table, all);
}

/* Every truncation of valid packets is malformed; the whole one passes. */
static const struct {
	void (*build)(struct pb *b, int arg);
	const char *rule;
} bases[] = {
	{ v4_tcp, NULL },     { v4_udp, NULL }, { v4_echo, NULL },
	{ v6_tcp, "eng-db" }, { v6_udp, NULL }, { v6_echo, "ping-peers" },
};

static void run_truncations(struct env *e, const void *arg)
{
	uint8_t pkt[PB_BUF_LEN];
	size_t i, len, l;
	int into;

	(void)arg;
	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		for (into = 0; into < 2; into++) {
			struct step s = { .build = bases[i].build, .arg = into };

			assert_int_equal(dpt_flush_state(&e->t), 0);
			nn_model_flush_flows(e->m);
			len = render(e, &s, pkt, sizeof(pkt));
			for (l = 1; l < len; l++)
				check(e, into ? INTO : FROM, pkt, l, NN_R_MALFORMED, NULL, false,
				      false, "truncated", (int)i);
			if (!into)
				check(e, FROM, pkt, len, NN_PASS, bases[i].rule, false, false,
				      "whole", (int)i);
		}
	}
}

static void test_truncations(void **state)
{
	(void)state;
	for_each_env(mf_base, run_truncations, NULL);
}

/* Two devices pinging one resource with the same echo id: each has its own
 * flow, neither rides on nor answers for the other's. */
static void echo_dev(struct pb *b, int arg)
{
	mf_echo(b, arg / 1000 ? BOB6 : ALICE6, DB6, true, (uint16_t)(arg % 1000));
}

static void echo_back(struct pb *b, int arg)
{
	mf_echo(b, DB6, arg / 1000 ? BOB6 : ALICE6, false, (uint16_t)(arg % 1000));
}

static const struct bcase echo_both[] = {
	{ "both may ping acme-db with id 7",
	  BOTH,
	  { P(FROM, echo_dev, 7, NN_PASS, "ping-peers"),
	    P(FROM, echo_dev, 1007, NN_PASS, "ping-peers"), HIT(INTO, echo_back, 1007),
	    HIT(INTO, echo_back, 7) } },
	{ "a reply for bob does not ride alice's flow",
	  BOTH,
	  { P(FROM, echo_dev, 7, NN_PASS, "ping-peers"),
	    P(INTO, echo_back, 1007, NN_R_ACL_DEFAULT_DENY, NULL), HIT(INTO, echo_back, 7) } },
	{ NULL, 0, { { 0 } } },
};

static const struct bcase echo_alice_only[] = {
	{ "bob cannot use alice's echo id",
	  BOTH,
	  { P(FROM, echo_dev, 7, NN_PASS, "ping-peers"),
	    P(FROM, echo_dev, 1007, NN_R_ACL_DEFAULT_DENY, NULL),
	    P(INTO, echo_back, 1007, NN_R_ACL_DEFAULT_DENY, NULL), HIT(INTO, echo_back, 7) } },
	{ NULL, 0, { { 0 } } },
};

#define PING_PEERS "\"src\": \"*\", \"dst\": { \"devices\": [\"alice-laptop\", \"bob-phone\"] },"

static void test_echo_collisions(void **state)
{
	struct mf_ctx *c = *state;
	struct nn_policy *both, *alice;

	both = mf_variant(
		c, PING_PEERS,
		"\"src\": \"*\", \"dst\": { \"devices\": [\"alice-laptop\", \"bob-phone\"], "
		"\"resources\": [\"acme-db\"] },");
	alice = mf_variant(c, PING_PEERS,
			   "\"src\": { \"users\": [\"alice\"] }, \"dst\": { \"devices\": "
			   "[\"alice-laptop\", \"bob-phone\"], \"resources\": [\"acme-db\"] },");
	assert_non_null(both);
	assert_non_null(alice);
	for_each_env(both, run_table, echo_both);
	for_each_env(alice, run_table, echo_alice_only);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_packet_table),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test_setup_teardown(test_echo_collisions, mf_setup, mf_teardown),
	};

	return cmocka_run_group_tests_name("bad packets (BPF and model)", tests, mf_group_setup,
					   mf_group_teardown);
}
