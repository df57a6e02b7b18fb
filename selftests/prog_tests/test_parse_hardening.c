// SPDX-License-Identifier: GPL-2.0
/*
 * The parse-level lines verdicts.md gained from the outside review (issue
 * 10), through the real programs (BPF_PROG_TEST_RUN) and the reference
 * model, on examples/assignments.json: IPv4-mapped and IPv4-compatible
 * addresses in IPv6 headers, IPv4 source routes (and option lists that do
 * not add up), IPv6 type-0 routing headers, neighbour discovery only when it
 * looks like ND, and IPv6 fragments with extension headers after the
 * Fragment header.
 *
 * Every case runs on both framings (L3, Ethernet) and, from the overlay, on
 * both hooks (TC, XDP); into the overlay on TC. Each packet must get the
 * expected reason, deciding rule and "untouched" from BPF and from the
 * model, and exactly the drop counter of its reason must move, by one.
 */
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
#define MAX_STEPS 3
#define MAL NN_R_MALFORMED

struct step {
	enum nn_dir dir;
	void (*build)(struct pb *b, int arg);
	int arg;
	void (*patch)(uint8_t *l3, size_t len); /* on the L3 bytes, after building */
	int reason;
	const char *rule; /* deciding rule id, NULL none */
	bool untouched;
	bool flow_hit;
};

/* The steps run in order on empty flow and fragment tables. */
struct hcase {
	const char *what;
	unsigned int framings;
	struct step s[MAX_STEPS];
};

struct env {
	struct dpt t;
	struct nn_model *m;
	uint8_t framing;
	enum nn_hook hook;
	size_t runs;
	size_t failures; /* reported one by one, the test fails at the end */
};

/* One line per wrong answer, so a broken build shows every case it breaks. */
static void report(struct env *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# MISMATCH ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	e->failures++;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* L3 bytes of @s, behind an Ethernet header for that framing unless the
 * builder chose its own L2 (ND with a VLAN tag). */
static size_t render(const struct env *e, const struct step *s, uint8_t *buf, size_t cap)
{
	static const uint8_t l2[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	size_t off = 0, len;
	struct pb b;

	s->build(&b, s->arg);
	if (e->framing == NN_FRAMING_ETH && !b.eth) {
		memcpy(buf, l2, sizeof(l2));
		buf[12] = b.family == 6 ? 0x86 : 0x08;
		buf[13] = b.family == 6 ? 0xdd : 0x00;
		off = 14;
	}
	if (e->framing == NN_FRAMING_L3)
		assert_false(b.eth);
	len = pb_build(&b, buf + off, cap - off);
	assert_true(len > 0);
	if (s->patch)
		s->patch(buf + off + (b.eth ? (b.vlan ? 18 : 14) : 0), len);
	return off + len;
}

static void check(struct env *e, const struct hcase *c, const struct step *s, const uint8_t *pkt,
		  size_t len)
{
	int32_t rule = s->rule ? mf_rule(mf_base, s->rule) : -1;
	enum nn_hook hook = s->dir == NN_DIR_FROM_OVERLAY ? e->hook : NN_HOOK_TC;
	const char *where = e->framing == NN_FRAMING_ETH ? "eth" : "l3";
	const char *hname = hook == NN_HOOK_XDP ? "xdp" : "tc";
	struct nn_model_verdict mv;
	struct dpt_result r;
	int k;

	nn_model_judge(e->m, s->dir, e->framing, pkt, len, now_ns(), &mv);
	if (mv.reason != s->reason || mv.rule != rule || mv.untouched != s->untouched ||
	    mv.flow_hit != s->flow_hit)
		report(e,
		       "%s (arg %d, %s/%s): model says reason %d rule %d untouched %d flow %d; "
		       "want %d rule %d untouched %d flow %d",
		       c->what, s->arg, where, hname, mv.reason, mv.rule, mv.untouched, mv.flow_hit,
		       s->reason, rule, s->untouched, s->flow_hit);
	assert_int_equal(dpt_run(&e->t, s->dir, hook, pkt, len, &r), 0);
	e->runs++;
	if (r.reason != (uint32_t)s->reason || r.rule != rule || r.untouched != s->untouched ||
	    r.flow_hit != s->flow_hit || r.passed != (s->reason == NN_PASS))
		report(e,
		       "%s (arg %d, %s/%s): BPF says reason %u rule %d untouched %d flow %d "
		       "passed %d; want %d rule %d untouched %d flow %d",
		       c->what, s->arg, where, hname, r.reason, r.rule, r.untouched, r.flow_hit,
		       r.passed, s->reason, rule, s->untouched, s->flow_hit);
	for (k = 1; k < NN_R_MAX; k++)
		if (r.drops[k] != (uint64_t)(k == s->reason))
			report(e, "%s (arg %d, %s/%s): drop counter %d moved by %llu", c->what,
			       s->arg, where, hname, k, (unsigned long long)r.drops[k]);
}

static void run_case(struct env *e, const struct hcase *c)
{
	uint8_t pkt[PB_BUF_LEN];
	size_t i;

	if (!(c->framings & (1u << e->framing)))
		return;
	assert_int_equal(dpt_flush_state(&e->t), 0);
	nn_model_flush_flows(e->m);
	for (i = 0; i < MAX_STEPS && c->s[i].build; i++)
		check(e, c, &c->s[i], pkt, render(e, &c->s[i], pkt, sizeof(pkt)));
}

/* ---- IPv4 inside IPv6 addresses ---- */

/* arg: 0 compatible source posing as alice4, 1 compatible destination, 2
 * compatible source into the overlay, 3 mapped source into the overlay, 4
 * the unspecified source ::, 5 the loopback source ::1 (neither is
 * IPv4-compatible: judged, spoof), 6 ::2 (the smallest compatible one). */
static void v6_embeds(struct pb *b, int arg)
{
	static const char *const src[] = { "::" ALICE4, ALICE6, "::" DNS4, "::ffff:" DNS4,
					   "::",	"::1",	"::2" };
	static const char *const dst[] = { DB6, "::" DNS4, ALICE6, ALICE6, DB6, DB6, DB6 };

	mf_tcp(b, src[arg], dst[arg], 40000, 5432, PB_TCP_SYN);
}

static uint8_t quote[PB_BUF_LEN];

/* Packet Too Big toward alice quoting ex1 sent from an IPv4-compatible
 * address (arg 0) or to one (arg 1). */
static void quote_compat(struct pb *b, int arg)
{
	struct pb q;
	size_t qlen = pb_build(mf_tcp(&q, arg ? ALICE6 : "::" ALICE4, arg ? "::" DNS4 : DB6, 40000,
				      5432, PB_TCP_SYN),
			       quote, sizeof(quote));

	pb_ptb(pb_ip(pb_init(b), DB6, ALICE6), 1280, quote, qlen);
}

/* ---- IPv4 options ---- */

/* Option lists, each after alice4's DNS query (which passes: internet). */
static const struct {
	uint8_t len;
	uint8_t o[40];
} opts[] = {
	/* 0 LSRR via 192.0.2.1 */
	{ 7, { 131, 7, 4, 192, 0, 2, 1 } },
	/* 1 SSRR */
	{ 7, { 137, 7, 4, 192, 0, 2, 1 } },
	/* 2 NOPs, then LSRR */
	{ 10, { 1, 1, 1, 131, 7, 4, 192, 0, 2, 1 } },
	/* 3 router alert, then SSRR */
	{ 11, { 148, 4, 0, 0, 137, 7, 4, 192, 0, 2, 1 } },
	/* 4 End of Option List, then "LSRR" bytes: padding, passes */
	{ 8, { 0, 131, 7, 4, 192, 0, 2, 1 } },
	/* 5 record route, room for one address: passes */
	{ 7, { 7, 7, 4, 0, 0, 0, 0 } },
	/* 6 router alert: passes */
	{ 4, { 148, 4, 0, 0 } },
	/* 7 length 1 */
	{ 4, { 7, 1, 0, 0 } },
	/* 8 length 0 */
	{ 4, { 68, 0, 0, 0 } },
	/* 9 length past the header (8 option bytes) */
	{ 8, { 1, 7, 8, 4, 0, 0, 0, 0 } },
	/* 10 a type byte with no room left for its length */
	{ 4, { 1, 1, 1, 7 } },
	/* 11 one unknown option filling all 40 bytes: passes */
	{ 40, { 30, 40 } },
	/* 12 39 NOPs then LSRR's type byte in the last one */
	{ 40, { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 131 } },
	/* 13 39 NOPs then EOL: passes */
	{ 40, { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 } },
	/* 14 an option after a NOP that exactly ends the header */
	{ 8, { 1, 68, 6, 5, 0, 0, 0, 0 } },
	/* 15 LSRR with its length overrunning: malformed either way */
	{ 4, { 131, 39, 4, 0 } },
};

static void v4_opt(struct pb *b, int arg)
{
	mf_udp(b, ALICE4, DNS4, 40001, 53);
	pb_ip_opt_bytes(b, opts[arg].o, opts[arg].len);
}

static void v4_opt_into(struct pb *b, int arg)
{
	mf_udp(b, DNS4, ALICE4, 53, 40001);
	pb_ip_opt_bytes(b, opts[arg].o, opts[arg].len);
}

static void v4_dns(struct pb *b, int arg)
{
	(void)arg;
	mf_udp(b, ALICE4, DNS4, 40001, 53);
}

/* Fragmentation needed from DNS4 quoting alice's query sent with option
 * list @arg: quotes are copies, their options are not walked. */
static void v4_quote_opts(struct pb *b, int arg)
{
	struct pb q;
	size_t qlen;

	v4_opt(&q, arg);
	qlen = pb_build(&q, quote, sizeof(quote));
	pb_frag_needed(pb_ip(pb_init(b), DNS4, ALICE4), 1400, quote, qlen);
}

/* ---- IPv6 routing headers ---- */

/* ex1 with one routing header: arg = type * 10 + segments left; arg >= 1000:
 * the same after a Destination Options header. */
static void v6_rh(struct pb *b, int arg)
{
	int a = arg % 1000;

	mf_ex1(b);
	if (arg >= 1000)
		pb_ext(b, 60, 1);
	pb_rh(pb_ext(b, 43, 1), (uint8_t)(a / 10), (uint8_t)(a % 10));
}

/* A type-0 routing header in the fragmentable part of a first fragment. */
static void v6_rh0_after_frag(struct pb *b, int arg)
{
	mf_ex1(b);
	pb_frag(b, PB_FRAG_FIRST, (uint32_t)arg, 0);
	pb_rh(pb_ext_after_frag(b, 43, 1), 0, 0);
}

static void v6_rh0_into(struct pb *b, int arg)
{
	(void)arg;
	mf_tcp(b, DB6, ALICE6, 5432, 40000, PB_TCP_SYN | PB_TCP_ACK);
	pb_rh(pb_ext(b, 43, 1), 0, 1);
}

/* Packet Too Big toward alice quoting ex1 sent with a type-0 routing
 * header: the quote's chain is not walked, so it names no flow (its
 * protocol is 43) and the error is an ordinary ICMPv6 packet. */
static void quote_rh0(struct pb *b, int arg)
{
	struct pb q;
	size_t qlen;

	(void)arg;
	pb_rh(pb_ext(mf_ex1(&q), 43, 1), 0, 0);
	qlen = pb_build(&q, quote, sizeof(quote));
	pb_ptb(pb_ip(pb_init(b), DB6, ALICE6), 1280, quote, qlen);
}

static void ex1(struct pb *b, int arg)
{
	(void)arg;
	mf_ex1(b);
}

/* ---- Neighbour discovery ---- */

/* ND type 133 + arg % 10 from fe80::1, hop limit 255, to: arg / 10 = 0
 * ff02::1, 1 a solicited-node group, 2 fe80::2, 3 febf::2 (the top of
 * fe80::/10), 4 fec0::2 (site-local: not link-local), 5 a global address,
 * 6 ff02::1 behind an atomic Fragment header, 7 ff02::1 with a VLAN tag. */
static void nd(struct pb *b, int arg)
{
	static const char *const dst[] = { "ff02::1", "ff02::1:ff00:2", "fe80::2", "febf::2",
					   "fec0::2", "2001:db8::2",	"ff02::1", "ff02::1" };
	int d = arg / 10;

	pb_nd(pb_ip(pb_init(b), "fe80::1", dst[d]), (uint8_t)(133 + arg % 10));
	if (d == 6)
		pb_frag(b, PB_FRAG_ATOMIC, 7, 0);
	if (d == 7)
		pb_vlan(b, 7);
}

/* An ND-typed message from alice to a resource (arg 0: acme-db, no ICMPv6
 * rule) or to bob (arg 1: ping-peers allows ICMPv6), hop limit 255: judged,
 * since it goes to neither a link-local nor a multicast address. */
static void nd_from_alice(struct pb *b, int arg)
{
	pb_nd(pb_ip(pb_init(b), ALICE6, arg ? BOB6 : DB6), 136);
}

/* ---- IPv6 fragments with headers after the Fragment header ---- */

/* First fragment of ex1 (or, arg >= 1000, of alice -> acme-db tcp/22, which
 * the ACL drops) with id arg % 1000 and, after the Fragment header, a
 * Destination Options header (arg % 2 == 0) or AH. */
static void f6_first(struct pb *b, int arg)
{
	if (arg >= 1000)
		mf_tcp(b, ALICE6, DB6, 40010, 22, PB_TCP_SYN);
	else
		mf_ex1(b);
	pb_frag(b, PB_FRAG_FIRST, (uint32_t)(arg % 1000), 0);
	pb_ext_after_frag(b, arg % 2 ? 51 : 60, 1);
	pb_payload(b, 40);
}

/* A later fragment of the same, id arg % 1000: its Fragment header names
 * the header that follows it in the first fragment; arg >= 2000: names TCP
 * instead (the key has no protocol: it still follows). */
static void f6_later(struct pb *b, int arg)
{
	pb_init(b);
	pb_ip(b, ALICE6, DB6);
	b->l4 = PB_L4_TCP;
	pb_frag(b, PB_FRAG_LATER, (uint32_t)(arg % 1000), 8);
	if (arg < 2000)
		pb_ext_after_frag(b, arg % 2 ? 51 : 60, 1);
	pb_payload(b, 24);
}

/* ex1 as a first fragment with 7 extension headers before the Fragment
 * header and @arg after it (8 in all is the bound). */
static void f6_long(struct pb *b, int arg)
{
	mf_ex1(b);
	pb_ext(b, 60, 6);
	pb_frag(b, PB_FRAG_FIRST, 5, 0);
	pb_ext_after_frag(b, 60, (unsigned int)arg);
}

/* A first fragment whose fragmentable part starts with an atomic Fragment
 * header: patched below into a second first-fragment header. */
static void f6_nested(struct pb *b, int arg)
{
	mf_ex1(b);
	pb_frag(b, PB_FRAG_FIRST, (uint32_t)arg, 0);
	pb_ext_after_frag(b, 44, 1);
}

static void patch_nested(uint8_t *l3, size_t len)
{
	assert_true(len > 56 && l3[6] == 44 && l3[40] == 44 && (l3[43] & 1) && l3[48] == 6);
	l3[51] |= 1; /* M on the second Fragment header */
}

/* IPv4 keeps the protocol in its key: the first fragment of alice's DNS
 * query (UDP), then later fragments of id 10 as UDP (arg 17) or TCP. */
static void f4_first(struct pb *b, int arg)
{
	(void)arg;
	mf_udp(b, ALICE4, DNS4, 40001, 53);
	pb_payload(b, 16);
	pb_frag(b, PB_FRAG_FIRST, 10, 0);
}

static void f4_later(struct pb *b, int arg)
{
	pb_init(b);
	pb_ip(b, ALICE4, DNS4);
	b->l4 = arg == 17 ? PB_L4_UDP : PB_L4_TCP;
	pb_frag(b, PB_FRAG_LATER, 10, 3);
	pb_payload(b, 16);
}

/* ---- The table ---- */

#define S(d, fn, a, r, ru)                                               \
	{                                                                \
		.dir = d, .build = fn, .arg = a, .reason = r, .rule = ru \
	}
#define M(d, fn, a) S(d, fn, a, MAL, NULL)
#define UNTOUCHED(d, fn, a)                                        \
	{                                                          \
		.dir = d, .build = fn, .arg = a, .untouched = true \
	}
#define HIT(d, fn, a)                                                                \
	{                                                                            \
		.dir = d, .build = fn, .arg = a, .reason = NN_PASS, .flow_hit = true \
	}
#define ONE(what, fr, ...)          \
	{                           \
		what, fr,           \
		{                   \
			__VA_ARGS__ \
		}                   \
	}

static const struct hcase cases[] = {
	/* IPv4-mapped and IPv4-compatible addresses in IPv6 headers */
	ONE("IPv4-compatible source", BOTH, M(FROM, v6_embeds, 0)),
	ONE("IPv4-compatible destination", BOTH, M(FROM, v6_embeds, 1)),
	ONE("IPv4-compatible source into", BOTH, M(INTO, v6_embeds, 2)),
	ONE("IPv4-mapped source into", BOTH, M(INTO, v6_embeds, 3)),
	ONE("unspecified source is not IPv4-compatible", BOTH,
	    S(FROM, v6_embeds, 4, NN_R_SPOOF, NULL)),
	ONE("loopback source is not IPv4-compatible", BOTH,
	    S(FROM, v6_embeds, 5, NN_R_SPOOF, NULL)),
	ONE("::2 is IPv4-compatible", BOTH, M(FROM, v6_embeds, 6)),
	ONE("quote from an IPv4-compatible address", BOTH, M(INTO, quote_compat, 0)),
	ONE("quote to an IPv4-compatible address", BOTH, M(INTO, quote_compat, 1)),
	/* IPv4 options */
	ONE("LSRR", BOTH, M(FROM, v4_opt, 0)),
	ONE("SSRR", BOTH, M(FROM, v4_opt, 1)),
	ONE("LSRR after NOPs", BOTH, M(FROM, v4_opt, 2)),
	ONE("SSRR after router alert", BOTH, M(FROM, v4_opt, 3)),
	ONE("LSRR bytes after End of Option List", BOTH, S(FROM, v4_opt, 4, NN_PASS, NULL)),
	ONE("record route", BOTH, S(FROM, v4_opt, 5, NN_PASS, NULL)),
	ONE("router alert", BOTH, S(FROM, v4_opt, 6, NN_PASS, NULL)),
	ONE("option length 1", BOTH, M(FROM, v4_opt, 7)),
	ONE("option length 0", BOTH, M(FROM, v4_opt, 8)),
	ONE("option past the header", BOTH, M(FROM, v4_opt, 9)),
	ONE("option type with no length byte", BOTH, M(FROM, v4_opt, 10)),
	ONE("one 40-byte option", BOTH, S(FROM, v4_opt, 11, NN_PASS, NULL)),
	ONE("LSRR type in the 40th byte", BOTH, M(FROM, v4_opt, 12)),
	ONE("39 NOPs and EOL", BOTH, S(FROM, v4_opt, 13, NN_PASS, NULL)),
	ONE("option ending the header exactly", BOTH, S(FROM, v4_opt, 14, NN_PASS, NULL)),
	ONE("LSRR overrunning the header", BOTH, M(FROM, v4_opt, 15)),
	ONE("LSRR into", BOTH, M(INTO, v4_opt_into, 0)),
	ONE("SSRR into", BOTH, M(INTO, v4_opt_into, 1)),
	{ "quoted LSRR is not walked: frag needed follows the flow",
	  BOTH,
	  { S(FROM, v4_dns, 0, NN_PASS, NULL), HIT(INTO, v4_quote_opts, 0),
	    HIT(INTO, v4_quote_opts, 7) } },
	/* IPv6 routing headers */
	ONE("routing type 0, segments left 0", BOTH, M(FROM, v6_rh, 0)),
	ONE("routing type 0, segments left 2", BOTH, M(FROM, v6_rh, 2)),
	ONE("routing type 0 after destination options", BOTH, M(FROM, v6_rh, 1000)),
	ONE("routing type 0 after a Fragment header", BOTH, M(FROM, v6_rh0_after_frag, 3)),
	ONE("routing type 0 into", BOTH, M(INTO, v6_rh0_into, 0)),
	ONE("routing type 4 (SRH), segments left 0", BOTH, S(FROM, v6_rh, 40, NN_PASS, "eng-db")),
	ONE("routing type 253", BOTH, S(FROM, v6_rh, 2530, NN_PASS, "eng-db")),
	{ "quoted type-0 routing header is not walked",
	  BOTH,
	  { S(FROM, ex1, 0, NN_PASS, "eng-db"),
	    S(INTO, quote_rh0, 0, NN_R_ACL_DEFAULT_DENY, NULL) } },
	/* Neighbour discovery: untouched only with Ethernet, only as ND */
	ONE("ND 133 to ff02::1", ETH, UNTOUCHED(FROM, nd, 0)),
	ONE("ND 135 to a solicited-node group", ETH, UNTOUCHED(FROM, nd, 12)),
	ONE("ND 136 to fe80::2", ETH, UNTOUCHED(FROM, nd, 23)),
	ONE("ND 137 to febf::2", ETH, UNTOUCHED(FROM, nd, 34)),
	ONE("ND 135 into, link-local", ETH, UNTOUCHED(INTO, nd, 22)),
	ONE("ND 134 with a VLAN tag", ETH, UNTOUCHED(FROM, nd, 71)),
	ONE("ND 136 to fec0::2 (site-local)", ETH, S(FROM, nd, 43, NN_R_SPOOF, NULL)),
	ONE("ND 135 to a global address", BOTH, S(FROM, nd, 52, NN_R_SPOOF, NULL)),
	ONE("ND 135 to a global address into", BOTH, S(INTO, nd, 52, NN_R_UNKNOWN_DST, NULL)),
	ONE("ND 136 behind an atomic Fragment header", BOTH, S(FROM, nd, 63, NN_R_SPOOF, NULL)),
	ONE("ND to ff02::1 with L3 framing", L3, S(FROM, nd, 0, NN_R_SPOOF, NULL)),
	ONE("ND-typed from alice to acme-db", BOTH,
	    S(FROM, nd_from_alice, 0, NN_R_ACL_DEFAULT_DENY, NULL)),
	ONE("ND-typed from alice to bob", BOTH, S(FROM, nd_from_alice, 1, NN_PASS, "ping-peers")),
	/* IPv6 fragments: headers after the Fragment header */
	{ "destination options after the Fragment header: later fragments follow",
	  BOTH,
	  { S(FROM, f6_first, 40, NN_PASS, "eng-db"), S(FROM, f6_later, 40, NN_PASS, NULL),
	    S(FROM, f6_later, 42, NN_R_FRAGMENT, NULL) } },
	{ "AH after the Fragment header: later fragments follow",
	  BOTH,
	  { S(FROM, f6_first, 41, NN_PASS, "eng-db"), S(FROM, f6_later, 41, NN_PASS, NULL),
	    S(FROM, f6_later, 43, NN_R_FRAGMENT, NULL) } },
	{ "headers after the Fragment header: a denied first fragment's drop is followed",
	  BOTH,
	  { S(FROM, f6_first, 1044, NN_R_ACL_DEFAULT_DENY, NULL),
	    S(FROM, f6_later, 44, NN_R_ACL_DEFAULT_DENY, NULL) } },
	{ "the IPv6 key has no protocol",
	  BOTH,
	  { S(FROM, f6_first, 46, NN_PASS, "eng-db"), S(FROM, f6_later, 2046, NN_PASS, NULL) } },
	{ "the IPv4 key keeps the protocol",
	  BOTH,
	  { S(FROM, f4_first, 0, NN_PASS, NULL), S(FROM, f4_later, 17, NN_PASS, NULL),
	    S(FROM, f4_later, 6, NN_R_FRAGMENT, NULL) } },
	ONE("8 headers around the Fragment header", BOTH, S(FROM, f6_long, 1, NN_PASS, "eng-db")),
	ONE("9 headers around the Fragment header", BOTH, M(FROM, f6_long, 2)),
	ONE("a second Fragment header that fragments again", BOTH,
	    { .dir = FROM, .build = f6_nested, .arg = 9, .patch = patch_nested, .reason = MAL }),
	{ "an atomic Fragment header after the real one changes nothing",
	  BOTH,
	  { S(FROM, f6_nested, 11, NN_PASS, "eng-db"), S(FROM, f6_later, 2011, NN_PASS, NULL) } },
};

static void test_parse_hardening_table(void **state)
{
	static const uint8_t framings[] = { NN_FRAMING_L3, NN_FRAMING_ETH };
	size_t i, c, runs = 0, failures = 0;
	struct env e;
	int h;

	(void)state;
	for (i = 0; i < 2; i++) {
		memset(&e, 0, sizeof(e));
		e.framing = framings[i];
		/* A few flows a case, cleared before each (a clear scans the
		 * table: 16,384 flows, not the tests' usual 1M). */
		assert_int_equal(dpt_open_tables(&e.t, e.framing, 1 << 14, 0), 0);
		assert_int_equal(dpt_apply(&e.t, mf_base, NULL), 0);
		for (h = NN_HOOK_TC; h <= NN_HOOK_XDP; h++) {
			e.hook = (enum nn_hook)h;
			e.m = nn_model_new(mf_base);
			assert_non_null(e.m);
			for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
				run_case(&e, &cases[c]);
			nn_model_free(e.m);
		}
		runs += e.runs;
		failures += e.failures;
		dpt_close(&e.t);
	}
	printf("# %zu cases, %zu packets through BPF and the model, %zu wrong answers\n",
	       sizeof(cases) / sizeof(cases[0]), runs, failures);
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_hardening_table),
	};

	return cmocka_run_group_tests_name("parse hardening (BPF and model)", tests, mf_group_setup,
					   mf_group_teardown);
}
