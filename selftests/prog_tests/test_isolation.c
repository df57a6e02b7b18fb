// SPDX-License-Identifier: GPL-2.0
/*
 * The isolation holes of issue 10 that live in state and destinations,
 * as multi-step scenarios through the real programs (BPF_PROG_TEST_RUN)
 * with the real compiler and generation switch, on both framings (L3 as on
 * wg0, Ethernet as on veth) and both from-overlay hooks (TC, XDP). Every
 * step is also judged by the reference model (selftests/model/, written
 * from verdicts.md), and both must give the expected verdict:
 *
 *  - an ICMP error, Packet Too Big and "fragmentation needed" included,
 *    quoting a flow whose source address moved to another tenant or whose
 *    rule was removed is dropped after the flip; errors of flows that stay
 *    allowed still pass (PMTUD keeps working);
 *  - later fragments follow their first fragment only within its
 *    generation: after a flip they are dropped [fragment];
 *  - an IPv6 first fragment with Destination Options or AH after the
 *    Fragment header and its later fragments pass (or drop) together;
 *  - martian destinations drop [martian], whatever the routing or rules;
 *  - the gateway host's own non-overlay addresses are judged like its
 *    overlay address (the ACL decides), including flows already open when
 *    an address appears, and are internet again once it is gone.
 *
 * Policies are examples/assignments.json with text edits.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dp/local.h"
#include "dptest.h"
#include "model_fixture.h"

#define SYN PB_TCP_SYN
#define ACK PB_TCP_ACK
#define SYNACK (PB_TCP_SYN | PB_TCP_ACK)
#define MAX_POL 8
#define MS 1000000ull

/* One scenario: the programs and the model, fed the same steps. */
struct iso {
	struct dpt t;
	struct nn_model *m;
	uint8_t framing;
	enum nn_hook hook;
	struct nn_policy *pol[MAX_POL];
	size_t n_pol;
	uint64_t now;
};

static const struct {
	uint8_t framing;
	enum nn_hook hook;
	const char *name;
} configs[] = {
	{ NN_FRAMING_L3, NN_HOOK_TC, "l3/tc" },
	{ NN_FRAMING_L3, NN_HOOK_XDP, "l3/xdp" },
	{ NN_FRAMING_ETH, NN_HOOK_TC, "eth/tc" },
	{ NN_FRAMING_ETH, NN_HOOK_XDP, "eth/xdp" },
};
static const char *cfg_name;

/* ---- Policies from edited JSON ---- */

/* @json with the first @from replaced by @to; @json is freed. */
static char *edit(char *json, const char *from, const char *to)
{
	char *out = mf_edit(json, from, to);

	free(json);
	return out;
}

/* The example with @n (from, to) edits, parsed as gw-fra-1. */
static struct nn_policy *variant(struct iso *s, int n, ...)
{
	struct nn_errlist errs = { 0 };
	struct nn_policy *p = NULL;
	char *json = strdup(mf_json);
	va_list ap;
	size_t i;
	int err;

	assert_non_null(json);
	va_start(ap, n);
	while (n--) {
		const char *from = va_arg(ap, const char *);
		const char *to = va_arg(ap, const char *);

		json = edit(json, from, to);
	}
	va_end(ap);
	err = nn_policy_parse(json, strlen(json), "gw-fra-1", NULL, &p, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "# policy: %s\n", errs.msgs[i]);
	nn_errlist_free(&errs);
	free(json);
	assert_int_equal(err, 0);
	assert_true(s->n_pol < MAX_POL);
	s->pol[s->n_pol++] = p;
	return p;
}

/* ---- The two judges ---- */

static void iso_open(struct iso *s, size_t cfg)
{
	memset(s, 0, sizeof(*s));
	s->framing = configs[cfg].framing;
	s->hook = configs[cfg].hook;
	cfg_name = configs[cfg].name;
	assert_int_equal(dpt_open(&s->t, s->framing), 0);
	assert_int_equal(dpt_apply(&s->t, mf_base, NULL), 0);
	s->m = nn_model_new(mf_base);
	assert_non_null(s->m);
	s->now = T0;
}

static void iso_close(struct iso *s)
{
	size_t i;

	nn_model_free(s->m);
	dpt_close(&s->t);
	for (i = 0; i < s->n_pol; i++)
		nn_policy_free(s->pol[i]);
}

/* A new policy generation for both. */
static void flip(struct iso *s, const struct nn_policy *p)
{
	assert_int_equal(dpt_apply(&s->t, p, NULL), 0);
	nn_model_set_policy(s->m, p);
}

/* The host's own addresses (text), for both. */
static void host_addrs(struct iso *s, const char *const *addrs, size_t n)
{
	struct nn_host_addr h[8] = { 0 };
	uint8_t a[8][NN_ADDR_LEN];
	struct nn_local_change chg;
	uint32_t before = 0;
	size_t i;

	assert_true(n <= 8);
	for (i = 0; i < n; i++) {
		memset(a[i], 0, NN_ADDR_LEN);
		if (inet_pton(AF_INET6, addrs[i], a[i]) != 1) {
			a[i][10] = 0xff;
			a[i][11] = 0xff;
			assert_int_equal(inet_pton(AF_INET, addrs[i], a[i] + 12), 1);
		}
		memcpy(h[i].addr, a[i], NN_ADDR_LEN);
		h[i].ifindex = 1;
	}
	assert_int_equal(nn_live_epoch(s->t.dp, &before), 0);
	assert_int_equal(nn_local_set(s->t.dp, h, n, &chg), 0);
	/* A change moves the epoch by two: the same slot, a new generation. */
	if (chg.added || chg.removed)
		assert_int_equal(chg.epoch, before + 2);
	else
		assert_int_equal(chg.epoch, before);
	assert_int_equal(nn_model_set_host_addrs(s->m, (const uint8_t(*)[NN_ADDR_LEN])a, n), 0);
}

/*
 * Judge @b (framed for the scenario) in both; fail unless both say
 * @reason with the deciding rule @rule (NULL: none; "-": not checked),
 * @hit (-1: not checked) as "a tracked flow decided", and only that drop
 * counter moved, by one.
 */
static void step_at(int line, struct iso *s, const struct nn_policy *p, enum nn_dir dir,
		    struct pb *b, int reason, const char *rule, int hit)
{
	int32_t want_rule = rule && strcmp(rule, "-") ? mf_rule(p, rule) : -1;
	uint8_t pkt[PB_BUF_LEN];
	struct nn_model_verdict mv;
	struct dpt_result r;
	size_t len;
	int k;

	if (s->framing == NN_FRAMING_ETH)
		pb_eth(b);
	len = pb_build(b, pkt, sizeof(pkt));
	assert_true(len > 0);
	s->now += MS;
	assert_int_equal(dpt_run(&s->t, dir, s->hook, pkt, len, &r), 0);
	nn_model_judge(s->m, dir, s->framing, pkt, len, s->now, &mv);
	if (r.passed != (reason == NN_PASS) || r.reason != (uint32_t)reason ||
	    (!rule || strcmp(rule, "-") ? r.rule != want_rule : 0) ||
	    (hit >= 0 && r.flow_hit != (bool)hit))
		fail_msg(
			"%s line %d: BPF says passed %d reason %u rule %d flow_hit %d, want reason "
			"%d rule %d flow_hit %d",
			cfg_name, line, r.passed, r.reason, r.rule, r.flow_hit, reason, want_rule,
			hit);
	if (mv.reason != reason || (!rule || strcmp(rule, "-") ? mv.rule != want_rule : 0) ||
	    (hit >= 0 && mv.flow_hit != (bool)hit))
		fail_msg("%s line %d: model says reason %d rule %d flow_hit %d, want reason %d "
			 "rule %d",
			 cfg_name, line, mv.reason, mv.rule, mv.flow_hit, reason, want_rule);
	for (k = 1; k < NN_R_MAX; k++)
		if (r.drops[k] != (uint64_t)(k == reason))
			fail_msg("%s line %d: drop counter %d moved by %llu", cfg_name, line, k,
				 (unsigned long long)r.drops[k]);
}

#define step(s, p, dir, b, reason, rule, hit) step_at(__LINE__, s, p, dir, b, reason, rule, hit)

/* The L3 bytes of @b (for quoting in an ICMP error). */
static size_t l3(struct pb *b, uint8_t *out)
{
	size_t len = pb_build(b, out, PB_BUF_LEN);

	assert_true(len > 0);
	return len;
}

static struct pb *udp(struct pb *b, const char *s, const char *d, uint16_t sp, uint16_t dp)
{
	return mf_udp(b, s, d, sp, dp);
}

/* ---- 1. ICMP errors quoting stale flows ---- */

/* alice-laptop's IPv6 address becomes carol-desktop's (globex); alice gets
 * another one. */
static struct nn_policy *alice6_to_globex(struct iso *s)
{
	return variant(s, 2, "\"overlay_ipv6\": \"fd7a:6e61:6e61:10::2\"",
		       "\"overlay_ipv6\": \"fd7a:6e61:6e61:10::12\"",
		       "\"overlay_ipv6\": \"fd7a:6e61:6e61:20::2\"",
		       "\"overlay_ipv6\": \"fd7a:6e61:6e61:10::2\"");
}

static void icmp_error_address_moves(size_t cfg)
{
	uint8_t q1[PB_BUF_LEN], q2[PB_BUF_LEN], q3[PB_BUF_LEN];
	size_t l1, l2, l3len;
	struct nn_policy *p;
	struct iso s;
	struct pb b;

	iso_open(&s, cfg);
	/* Flow A (alice -> db tcp/5432), flow B (alice -> db, another port
	 * pair), flow C (bob -> web tcp/443), all allowed. */
	l1 = l3(mf_tcp(&b, ALICE6, DB6, 40000, 5432, SYN), q1);
	step(&s, mf_base, FROM, mf_tcp(&b, ALICE6, DB6, 40000, 5432, SYN), NN_PASS, "eng-db", 0);
	step(&s, mf_base, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, SYNACK), NN_PASS, NULL, 1);
	step(&s, mf_base, FROM, mf_tcp(&b, ALICE6, DB6, 40001, 5432, SYN), NN_PASS, "eng-db", 0);
	l2 = l3(mf_tcp(&b, DB6, ALICE6, 5432, 40001, SYNACK), q2);
	step(&s, mf_base, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40001, SYNACK), NN_PASS, NULL, 1);
	l3len = l3(mf_tcp(&b, BOB6, WEB6, 41000, 443, SYN), q3);
	step(&s, mf_base, FROM, mf_tcp(&b, BOB6, WEB6, 41000, 443, SYN), NN_PASS, "all-web", 0);
	/* Before the flip, a PTB on flow A passes on the flow. */
	step(&s, mf_base, INTO, pb_ptb(pb_ip(pb_init(&b), DB6, ALICE6), 1280, q1, l1), NN_PASS,
	     NULL, 1);

	p = alice6_to_globex(&s);
	flip(&s, p);
	/* The flow's source is another tenant's now: the PTB re-judges flow A,
	 * which is cut, and is itself a packet from acme's resource to a
	 * globex device. */
	step(&s, p, INTO, pb_ptb(pb_ip(pb_init(&b), DB6, ALICE6), 1280, q1, l1), NN_R_CROSS_TENANT,
	     NULL, 0);
	step(&s, p, INTO, mf_tcp(&b, DB6, ALICE6, 5432, 40000, ACK), NN_R_CROSS_TENANT, NULL, 0);
	/* From the overlay: the address's new holder sends an error quoting
	 * flow B's reply: flow B is judged again and cut, the error is a
	 * globex device's packet to an acme resource. */
	step(&s, p, FROM, pb_dest_unreach(pb_ip(pb_init(&b), ALICE6, DB6), 4, q2, l2),
	     NN_R_CROSS_TENANT, NULL, 0);
	/* Flow C is still allowed: PMTUD keeps working for it. */
	step(&s, p, INTO, pb_ptb(pb_ip(pb_init(&b), WEB6, BOB6), 1280, q3, l3len), NN_PASS, NULL,
	     1);
	step(&s, p, INTO, mf_tcp(&b, WEB6, BOB6, 443, 41000, SYNACK), NN_PASS, NULL, 1);
	iso_close(&s);
}

static void icmp_error_rule_removed(size_t cfg)
{
	uint8_t q1[PB_BUF_LEN], q2[PB_BUF_LEN], q4[PB_BUF_LEN], q5[PB_BUF_LEN];
	size_t l1, l2, l4, l5;
	struct nn_policy *p;
	struct iso s;
	struct pb b;

	iso_open(&s, cfg);
	/* IPv6: alice -> db on 5432 and on 8000 (eng-db allows both). */
	l1 = l3(mf_tcp(&b, ALICE6, DB6, 40000, 5432, SYN), q1);
	step(&s, mf_base, FROM, mf_tcp(&b, ALICE6, DB6, 40000, 5432, SYN), NN_PASS, "eng-db", 0);
	l2 = l3(mf_tcp(&b, ALICE6, DB6, 40002, 8000, SYN), q2);
	step(&s, mf_base, FROM, mf_tcp(&b, ALICE6, DB6, 40002, 8000, SYN), NN_PASS, "eng-db", 0);
	/* IPv4: carol -> 192.0.2.53 udp/53 (globex-main is full_tunnel) and
	 * alice -> 192.0.2.53 udp/53 (alice's own full_tunnel). */
	l4 = l3(udp(&b, CAROL4, DNS4, 50000, 53), q4);
	step(&s, mf_base, FROM, udp(&b, CAROL4, DNS4, 50000, 53), NN_PASS, NULL, 0);
	l5 = l3(udp(&b, ALICE4, DNS4, 50001, 53), q5);
	step(&s, mf_base, FROM, udp(&b, ALICE4, DNS4, 50001, 53), NN_PASS, NULL, 0);

	/* 5432 leaves eng-db; globex-main loses its full tunnel. */
	p = variant(&s, 2, "\"ports\": [\"5432\", \"8000-8080\"]", "\"ports\": [\"8000-8080\"]",
		    "\"traffic_mode\": \"full_tunnel\", \"routing_mode\": \"auto\"",
		    "\"traffic_mode\": \"vpn_only\", \"routing_mode\": \"auto\"");
	flip(&s, p);
	step(&s, p, INTO, pb_ptb(pb_ip(pb_init(&b), DB6, ALICE6), 1400, q1, l1),
	     NN_R_ACL_DEFAULT_DENY, NULL, 0);
	step(&s, p, INTO, pb_ptb(pb_ip(pb_init(&b), DB6, ALICE6), 1400, q2, l2), NN_PASS, NULL, 1);
	step(&s, p, INTO, pb_frag_needed(pb_ip(pb_init(&b), DNS4, CAROL4), 1400, q4, l4),
	     NN_R_ACL_DEFAULT_DENY, NULL, 0);
	step(&s, p, INTO, pb_frag_needed(pb_ip(pb_init(&b), DNS4, ALICE4), 1400, q5, l5), NN_PASS,
	     NULL, 1);
	/* Other errors the same way; the cut flows stay cut. */
	step(&s, p, INTO, pb_dest_unreach(pb_ip(pb_init(&b), DNS4, CAROL4), 3, q4, l4),
	     NN_R_ACL_DEFAULT_DENY, NULL, 0);
	step(&s, p, FROM, udp(&b, CAROL4, DNS4, 50000, 53), NN_R_NO_EGRESS, NULL, 0);
	step(&s, p, FROM, mf_tcp(&b, ALICE6, DB6, 40000, 5432, ACK), NN_R_ACL_DEFAULT_DENY, NULL,
	     0);
	step(&s, p, FROM, mf_tcp(&b, ALICE6, DB6, 40002, 8000, ACK), NN_PASS, NULL, 1);
	iso_close(&s);
}

/* ---- 2. Later fragments across a flip ---- */

static struct pb *later(struct pb *b, const char *s, const char *d, uint8_t proto, uint32_t id)
{
	return pb_payload(pb_frag(pb_proto(pb_ip(pb_init(b), s, d), proto), PB_FRAG_LATER, id, 4),
			  64);
}

static void fragments_across_flip(size_t cfg)
{
	struct nn_policy *p;
	struct iso s;
	struct pb b;
	const char *const host[] = { "198.51.100.7" };

	iso_open(&s, cfg);
	/* IPv6 from the overlay: alice -> db tcp/5432, id 7. */
	step(&s, mf_base, FROM,
	     pb_frag(mf_tcp(&b, ALICE6, DB6, 40000, 5432, SYN), PB_FRAG_FIRST, 7, 0), NN_PASS,
	     "eng-db", 0);
	step(&s, mf_base, FROM, later(&b, ALICE6, DB6, 6, 7), NN_PASS, "-", -1);
	/* IPv4 from the overlay: carol -> 192.0.2.53 udp/53, id 9. */
	step(&s, mf_base, FROM, pb_frag(udp(&b, CAROL4, DNS4, 50000, 53), PB_FRAG_FIRST, 9, 0),
	     NN_PASS, NULL, 0);
	step(&s, mf_base, FROM, later(&b, CAROL4, DNS4, 17, 9), NN_PASS, "-", -1);
	/* Into the overlay on the tracked flow: db -> alice, id 11. */
	step(&s, mf_base, INTO,
	     pb_frag(mf_tcp(&b, DB6, ALICE6, 5432, 40000, SYNACK), PB_FRAG_FIRST, 11, 0), NN_PASS,
	     NULL, 1);
	step(&s, mf_base, INTO, later(&b, DB6, ALICE6, 6, 11), NN_PASS, "-", -1);

	/* A generation that allows all of it still ends the fragments'
	 * verdicts: they were reached under the old one. */
	p = variant(&s, 1, "\"8000-8080\"", "\"8000-8081\"");
	flip(&s, p);
	step(&s, p, FROM, later(&b, ALICE6, DB6, 6, 7), NN_R_FRAGMENT, NULL, -1);
	step(&s, p, FROM, later(&b, CAROL4, DNS4, 17, 9), NN_R_FRAGMENT, NULL, -1);
	step(&s, p, INTO, later(&b, DB6, ALICE6, 6, 11), NN_R_FRAGMENT, NULL, -1);
	/* The sender's retransmission is judged again, and its fragments
	 * follow it in the new generation. */
	step(&s, p, FROM, pb_frag(mf_tcp(&b, ALICE6, DB6, 40000, 5432, SYN), PB_FRAG_FIRST, 7, 0),
	     NN_PASS, NULL, 1);
	step(&s, p, FROM, later(&b, ALICE6, DB6, 6, 7), NN_PASS, "-", -1);
	step(&s, p, FROM, pb_frag(udp(&b, CAROL4, DNS4, 50000, 53), PB_FRAG_FIRST, 9, 0), NN_PASS,
	     NULL, 1);

	/* Toward an address that now belongs to another tenant: the old
	 * verdict is void, the new first fragment is cross_tenant. */
	step(&s, p, FROM, pb_frag(mf_tcp(&b, ALICE6, DB6, 40010, 5432, SYN), PB_FRAG_FIRST, 12, 0),
	     NN_PASS, "eng-db", 0);
	p = alice6_to_globex(&s);
	flip(&s, p);
	step(&s, p, FROM, later(&b, ALICE6, DB6, 6, 12), NN_R_FRAGMENT, NULL, -1);
	step(&s, p, FROM, pb_frag(mf_tcp(&b, ALICE6, DB6, 40010, 5432, SYN), PB_FRAG_FIRST, 12, 0),
	     NN_R_CROSS_TENANT, NULL, 0);
	step(&s, p, FROM, later(&b, ALICE6, DB6, 6, 12), NN_R_CROSS_TENANT, "-", -1);

	/* A change of the host's addresses is a new generation too. */
	step(&s, p, FROM, pb_frag(udp(&b, CAROL4, DNS4, 50000, 53), PB_FRAG_FIRST, 9, 0), NN_PASS,
	     NULL, 1);
	step(&s, p, FROM, later(&b, CAROL4, DNS4, 17, 9), NN_PASS, "-", -1);
	host_addrs(&s, host, 1);
	step(&s, p, FROM, later(&b, CAROL4, DNS4, 17, 9), NN_R_FRAGMENT, NULL, -1);
	iso_close(&s);
}

/* ---- 3. IPv6 extension headers after the Fragment header ---- */

/*
 * The rendered first fragment @pkt has IPv6 | @ext (@ext_len bytes) |
 * Fragment | L4: move the Fragment header in front, so the datagram is
 * IPv6 | Fragment | @ext | L4, as RFC 8200 4.5 builds it (Destination
 * Options and AH belong to the fragmentable part).
 */
static void frag_header_first(uint8_t *pkt, size_t l3off, size_t ext_len)
{
	uint8_t *ip = pkt + l3off, ext[16], frag[8];
	uint8_t ext_type = ip[6];

	assert_true(ext_len <= sizeof(ext));
	memcpy(ext, ip + 40, ext_len);
	memcpy(frag, ip + 40 + ext_len, 8);
	assert_int_equal(ext[0], 44);
	ext[0] = frag[0]; /* the extension header now leads to the L4 */
	frag[0] = ext_type;
	ip[6] = 44;
	memcpy(ip + 40, frag, 8);
	memcpy(ip + 48, ext, ext_len);
}

static void step_ext_first(struct iso *s, int line, uint8_t ext, uint16_t dport, uint32_t id,
			   int reason, const char *rule)
{
	size_t len, l3off = s->framing == NN_FRAMING_ETH ? 14 : 0;
	uint8_t pkt[PB_BUF_LEN];
	struct nn_model_verdict mv;
	int32_t want_rule = rule ? mf_rule(mf_base, rule) : -1;
	struct dpt_result r;
	struct pb b;

	pb_frag(pb_ext(mf_tcp(&b, ALICE6, DB6, 40100, dport, SYN), ext, 1), PB_FRAG_FIRST, id, 0);
	if (s->framing == NN_FRAMING_ETH)
		pb_eth(&b);
	len = pb_build(&b, pkt, sizeof(pkt));
	assert_true(len > 0);
	frag_header_first(pkt, l3off, ext == 51 ? 16 : 8);
	s->now += MS;
	assert_int_equal(dpt_run(&s->t, FROM, s->hook, pkt, len, &r), 0);
	nn_model_judge(s->m, FROM, s->framing, pkt, len, s->now, &mv);
	if (r.reason != (uint32_t)reason || r.rule != want_rule || mv.reason != reason ||
	    mv.rule != want_rule)
		fail_msg("%s line %d: first fragment with header %u after the Fragment header: BPF "
			 "%u rule %d, model %d rule %d, want %d rule %d",
			 cfg_name, line, ext, r.reason, r.rule, mv.reason, mv.rule, reason,
			 want_rule);
}

static void ext_after_fragment_header(size_t cfg)
{
	struct iso s;
	struct pb b;

	iso_open(&s, cfg);
	/* Destination Options after the Fragment header, allowed port: the
	 * later fragments (Fragment next header 60) follow. */
	step_ext_first(&s, __LINE__, 60, 5432, 21, NN_PASS, "eng-db");
	step(&s, mf_base, FROM, later(&b, ALICE6, DB6, 60, 21), NN_PASS, "-", -1);
	step(&s, mf_base, FROM, later(&b, ALICE6, DB6, 60, 21), NN_PASS, "-", -1);
	/* AH after the Fragment header (Fragment next header 51). */
	step_ext_first(&s, __LINE__, 51, 8000, 22, NN_PASS, "eng-db");
	step(&s, mf_base, FROM, later(&b, ALICE6, DB6, 51, 22), NN_PASS, "-", -1);
	/* A denied first fragment: its later fragments are denied alike. */
	step_ext_first(&s, __LINE__, 60, 22, 23, NN_R_ACL_DEFAULT_DENY, NULL);
	step(&s, mf_base, FROM, later(&b, ALICE6, DB6, 60, 23), NN_R_ACL_DEFAULT_DENY, "-", -1);
	/* Another datagram (id), or the same id between other endpoints,
	 * has no first fragment. */
	step(&s, mf_base, FROM, later(&b, ALICE6, DB6, 60, 24), NN_R_FRAGMENT, NULL, -1);
	step(&s, mf_base, FROM, later(&b, ALICE6, WEB6, 60, 21), NN_R_FRAGMENT, NULL, -1);
	/* IPv4 keeps the protocol in the key: the same id with another
	 * protocol is another datagram. */
	step(&s, mf_base, FROM, pb_frag(udp(&b, CAROL4, DNS4, 50000, 53), PB_FRAG_FIRST, 25, 0),
	     NN_PASS, NULL, 0);
	step(&s, mf_base, FROM, later(&b, CAROL4, DNS4, 17, 25), NN_PASS, "-", -1);
	step(&s, mf_base, FROM, later(&b, CAROL4, DNS4, 6, 25), NN_R_FRAGMENT, NULL, -1);
	iso_close(&s);
}

/* ---- 4. Martian destinations ---- */

static const char *const martians[] = {
	"127.0.0.1",   "127.255.255.254", "0.0.0.0",   "0.1.2.3",	  "169.254.1.1",
	"224.0.0.251", "239.255.255.250", "240.0.0.1", "255.255.255.255", "::1",
	"::",	       "fe80::1",	  "febf::1",   "ff02::1",	  "ff0e::1",
};
/* Their closest neighbours, which are plain internet destinations. */
static const char *const not_martians[] = {
	"126.255.255.255", "1.0.0.0", "169.253.255.255", "169.255.0.1", "223.255.255.255",
	"::1:0:0:2",	   "fec0::1", "fe7f::1",	 "2001:db8::1",
};

static bool is_v4(const char *a)
{
	return strchr(a, ':') == NULL;
}

static void martian_destinations(size_t cfg)
{
	struct nn_policy *p;
	struct iso s;
	struct pb b;
	size_t i;

	iso_open(&s, cfg);
	/* A rule that names loopback and multicast opens nothing: martian
	 * comes before any ACL. */
	p = variant(&s, 1, "{ \"rule_id\": \"no-smtp\"",
		    "{ \"rule_id\": \"open-lo\", \"action\": \"allow\", \"src\": \"*\", "
		    "\"dst\": { \"prefixes\": [\"127.0.0.0/8\", \"ff00::/8\", \"fe80::/10\"] }, "
		    "\"proto\": \"any\" },\n            { \"rule_id\": \"no-smtp\"");
	for (i = 0; i < 2; i++) {
		const struct nn_policy *pol = i ? p : mf_base;
		size_t k;

		if (i)
			flip(&s, p);
		for (k = 0; k < sizeof(martians) / sizeof(martians[0]); k++) {
			const char *d = martians[k];

			/* alice is full_tunnel through here, bob is vpn_only:
			 * both martian (before no_egress), echo and udp. */
			step(&s, pol, FROM, udp(&b, is_v4(d) ? ALICE4 : ALICE6, d, 5353, 53),
			     NN_R_MARTIAN, NULL, 0);
			if (!is_v4(d))
				step(&s, pol, FROM, mf_udp(&b, BOB6, d, 5353, 53), NN_R_MARTIAN,
				     NULL, 0);
			step(&s, pol, FROM, mf_echo(&b, is_v4(d) ? CAROL4 : CAROL6, d, true, 7),
			     NN_R_MARTIAN, NULL, 0);
		}
		for (k = 0; k < sizeof(not_martians) / sizeof(not_martians[0]); k++) {
			const char *d = not_martians[k];

			/* A port per round: no flow of the first round. */
			step(&s, pol, FROM,
			     udp(&b, is_v4(d) ? ALICE4 : ALICE6, d, (uint16_t)(5353 + i), 53),
			     NN_PASS, NULL, 0);
			if (!is_v4(d))
				step(&s, pol, FROM, mf_udp(&b, BOB6, d, 5353, 53), NN_R_NO_EGRESS,
				     NULL, 0);
		}
	}
	iso_close(&s);
}

/* ---- 5. The gateway host's own addresses ---- */

static void host_addresses(size_t cfg)
{
	const char *const both[] = { "198.51.100.7", "2001:db8:ffff::fe" };
	const char *const v6only[] = { "2001:db8:ffff::fe" };
	struct nn_policy *p;
	struct iso s;
	struct pb b;

	iso_open(&s, cfg);
	/* Before the host holds 198.51.100.7 it is internet: alice's full
	 * tunnel opens a flow to it. */
	step(&s, mf_base, FROM, mf_tcp(&b, ALICE4, "198.51.100.7", 40000, 443, SYN), NN_PASS, NULL,
	     0);
	step(&s, mf_base, INTO, mf_tcp(&b, "198.51.100.7", ALICE4, 443, 40000, SYNACK), NN_PASS,
	     NULL, 1);

	host_addrs(&s, both, 2);
	/* Like the overlay address: no rule names it, default deny, for
	 * every source whatever its routing. The open flow is judged again
	 * and cut, in both directions. */
	step(&s, mf_base, FROM, mf_tcp(&b, ALICE4, "198.51.100.7", 40000, 443, ACK),
	     NN_R_ACL_DEFAULT_DENY, NULL, 0);
	step(&s, mf_base, INTO, mf_tcp(&b, "198.51.100.7", ALICE4, 443, 40000, ACK),
	     NN_R_ACL_DEFAULT_DENY, NULL, 0);
	step(&s, mf_base, FROM, mf_tcp(&b, ALICE4, "198.51.100.7", 40001, 22, SYN),
	     NN_R_ACL_DEFAULT_DENY, NULL, 0);
	step(&s, mf_base, FROM, mf_tcp(&b, BOB6, "2001:db8:ffff::fe", 40001, 22, SYN),
	     NN_R_ACL_DEFAULT_DENY, NULL, 0);
	step(&s, mf_base, FROM, mf_udp(&b, CAROL4, "198.51.100.7", 40001, 161),
	     NN_R_ACL_DEFAULT_DENY, NULL, 0);
	/* The ACL decides through dst prefixes: no-smtp's ::/0 denies. */
	step(&s, mf_base, FROM, mf_tcp(&b, ALICE6, "2001:db8:ffff::fe", 40002, 25, SYN),
	     NN_R_ACL_DENY, "no-smtp", 0);
	/* Neighbours of the host's addresses are still the internet. */
	step(&s, mf_base, FROM, mf_tcp(&b, ALICE4, "198.51.100.8", 40003, 22, SYN), NN_PASS, NULL,
	     0);

	/* A rule naming the host's address opens it, for its network only. */
	p = variant(&s, 1, "{ \"rule_id\": \"no-smtp\"",
		    "{ \"rule_id\": \"ssh-host\", \"action\": \"allow\", "
		    "\"src\": { \"groups\": [\"eng\"] }, "
		    "\"dst\": { \"prefixes\": [\"198.51.100.7/32\"] }, \"proto\": \"tcp\", "
		    "\"ports\": [\"22\"] },\n            { \"rule_id\": \"no-smtp\"");
	flip(&s, p);
	step(&s, p, FROM, mf_tcp(&b, ALICE4, "198.51.100.7", 40004, 22, SYN), NN_PASS, "ssh-host",
	     0);
	step(&s, p, INTO, mf_tcp(&b, "198.51.100.7", ALICE4, 22, 40004, SYNACK), NN_PASS, NULL, 1);
	step(&s, p, FROM, mf_tcp(&b, ALICE4, "198.51.100.7", 40005, 23, SYN), NN_R_ACL_DEFAULT_DENY,
	     NULL, 0);
	step(&s, p, FROM, mf_tcp(&b, CAROL4, "198.51.100.7", 40004, 22, SYN), NN_R_ACL_DEFAULT_DENY,
	     NULL, 0);

	/* The address leaves the host: internet again (alice passes as
	 * full_tunnel, carol as full_tunnel, bob has no egress); the allowed
	 * flow is judged again as internet-bound and stays. */
	host_addrs(&s, v6only, 1);
	step(&s, p, FROM, mf_tcp(&b, ALICE4, "198.51.100.7", 40004, 22, ACK), NN_PASS, NULL, 1);
	step(&s, p, FROM, mf_tcp(&b, ALICE4, "198.51.100.7", 40006, 443, SYN), NN_PASS, NULL, 0);
	step(&s, p, FROM, mf_udp(&b, CAROL4, "198.51.100.7", 40001, 161), NN_PASS, NULL, 0);
	step(&s, p, FROM, mf_tcp(&b, BOB6, "2001:db8:ffff::fe", 40001, 22, SYN),
	     NN_R_ACL_DEFAULT_DENY, NULL, 0);
	/* The same set again is no change: no new generation. */
	host_addrs(&s, v6only, 1);
	iso_close(&s);
}

/* ---- cmocka ---- */

/* Each scenario on every framing and hook. */
static void all_configs(void (*fn)(size_t cfg))
{
	size_t i;

	for (i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
		fn(i);
}

static void test_icmp_error_address_moves(void **state)
{
	(void)state;
	all_configs(icmp_error_address_moves);
}

static void test_icmp_error_rule_removed(void **state)
{
	(void)state;
	all_configs(icmp_error_rule_removed);
}

static void test_fragments_across_flip(void **state)
{
	(void)state;
	all_configs(fragments_across_flip);
}

static void test_ext_after_fragment_header(void **state)
{
	(void)state;
	all_configs(ext_after_fragment_header);
}

static void test_martian_destinations(void **state)
{
	(void)state;
	all_configs(martian_destinations);
}

static void test_host_addresses(void **state)
{
	(void)state;
	all_configs(host_addresses);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_icmp_error_address_moves),
		cmocka_unit_test(test_icmp_error_rule_removed),
		cmocka_unit_test(test_fragments_across_flip),
		cmocka_unit_test(test_ext_after_fragment_header),
		cmocka_unit_test(test_martian_destinations),
		cmocka_unit_test(test_host_addresses),
	};

	return cmocka_run_group_tests_name("isolation: state and destinations (BPF + model)", tests,
					   mf_group_setup, mf_group_teardown);
}
