// SPDX-License-Identifier: GPL-2.0
/*
 * The underlay WireGuard guard (bpf/underlay_xdp) under BPF_PROG_TEST_RUN:
 * Ethernet frames, IPv4 and IPv6 UDP to the listen port. Every case checks
 * the XDP action and that exactly the right nn_wg_drops counter moved (by
 * one for a drop, none for a pass).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/underlay.h"
#include "lib/log.h"
#include "pktbuild.h"

#define PORT 51820
#define PASS_ 2 /* XDP_PASS */
#define DROP_ 1 /* XDP_DROP */

static struct nn_underlay *u;

/* Optional knobs of one WireGuard packet. */
struct wg {
	const char *src;      /* default per family */
	uint16_t dport;	      /* default PORT */
	uint8_t rsv[3];	      /* reserved bytes */
	int udp_len;	      /* > 0: lie in the UDP length */
	unsigned int ip_opts; /* IPv4 option words */
	uint8_t ext;	      /* IPv6 extension header type, 0 none */
	unsigned int n_ext;   /* > 0: that many of type ext (0 is hop-by-hop) */
	uint8_t ext_after;    /* one header of this type after the Fragment header */
	bool vlan;
	enum pb_frag frag;
};

static uint64_t wg_drops(uint32_t reason)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct nn_reason_stats *v = calloc(ncpu, sizeof(*v));
	uint64_t sum = 0;

	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(u->map_fd[NN_UL_DROPS], &reason, v), 0);
	for (i = 0; i < ncpu; i++)
		sum += v[i].packets;
	free(v);
	return sum;
}

/* Run @pkt; fail unless the action is @want and only counter @reason
 * (NN_PASS: none) moved, by one. */
static void run_at(int line, const uint8_t *pkt, size_t len, int want, uint32_t reason)
{
	uint8_t out[PB_BUF_LEN + 64];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);
	uint64_t before[NN_R_MAX];
	int r;

	for (r = 0; r < NN_R_MAX; r++)
		before[r] = wg_drops(r);
	assert_int_equal(bpf_prog_test_run_opts(nn_underlay_prog_fd(u), &o), 0);
	if ((int)o.retval != want)
		fail_msg("line %d: action %u, want %d", line, o.retval, want);
	for (r = 0; r < NN_R_MAX; r++) {
		uint64_t d = wg_drops(r) - before[r];

		if (d != (uint64_t)(r == (int)reason && reason != NN_PASS))
			fail_msg("line %d: drop counter %d moved by %llu (want reason %u)", line, r,
				 (unsigned long long)d, reason);
	}
}

/* A WireGuard message of @type and @msglen bytes over UDP in family @fam. */
static size_t build_wg(int fam, uint8_t type, size_t msglen, const struct wg *w, uint8_t *buf)
{
	const char *src = w && w->src ? w->src : fam == 4 ? "192.0.2.1" : "2001:db8:1::1";
	const char *dst = fam == 4 ? "198.51.100.1" : "2001:db8:2::1";
	uint16_t dport = w && w->dport ? w->dport : PORT;
	struct pb b;
	size_t len;

	pb_payload(pb_udp(pb_ip(pb_eth(pb_init(&b)), src, dst), 40000, dport), msglen);
	if (w && w->vlan)
		pb_vlan(&b, 7);
	if (w && w->ip_opts)
		pb_ip_opts(&b, w->ip_opts);
	if (w && w->n_ext)
		pb_ext(&b, w->ext, w->n_ext);
	else if (w && w->ext)
		pb_ext(&b, w->ext, 1);
	if (w && w->ext_after)
		pb_ext_after_frag(&b, w->ext_after, 1);
	if (w && w->frag)
		pb_frag(&b, w->frag, 99, w->frag == PB_FRAG_LATER ? 10 : 0);
	if (w && w->udp_len > 0)
		pb_lie(&b, PB_F_UDP_LEN, w->udp_len);
	len = pb_build(&b, buf, PB_BUF_LEN);
	assert_true(len > 0);
	/* The message is the payload, at the end of the frame. */
	if (msglen >= 1)
		buf[len - msglen] = type;
	if (msglen >= 4)
		memcpy(&buf[len - msglen + 1], w ? w->rsv : (uint8_t[3]){ 0 }, 3);
	return len;
}

#define expect(fam, type, msglen, w, want, reason)                  \
	do {                                                        \
		uint8_t pkt_[PB_BUF_LEN];                           \
		size_t len_ = build_wg(fam, type, msglen, w, pkt_); \
		run_at(__LINE__, pkt_, len_, want, reason);         \
	} while (0)
#define pass(fam, type, msglen, w) expect(fam, type, msglen, w, PASS_, NN_PASS)
#define malformed(fam, type, msglen, w) expect(fam, type, msglen, w, DROP_, NN_R_WG_MALFORMED)

static int setup(void **state)
{
	(void)state;
	nn_log_set_level(NN_LOG_WARN);
	nn_log_libbpf();
	if (nn_underlay_load(NULL, &u))
		return -1;
	return nn_underlay_set_port(u, PORT, NULL);
}

static int teardown(void **state)
{
	(void)state;
	nn_underlay_close(u);
	return 0;
}

static void test_config_defaults(void **state)
{
	struct nn_wg_config c = {};
	uint32_t zero = 0;
	bool changed = true;

	(void)state;
	assert_int_equal(bpf_map_lookup_elem(u->map_fd[NN_UL_CONFIG], &zero, &c), 0);
	assert_int_equal(c.listen_port, PORT);
	assert_int_equal(c.hs_rate, NN_DEF_WG_HS_RATE);
	assert_int_equal(c.hs_burst, NN_DEF_WG_HS_BURST);
	/* The same port again writes nothing. */
	assert_int_equal(nn_underlay_set_port(u, PORT, &changed), 0);
	assert_false(changed);
	assert_int_equal(nn_underlay_configure(u, PORT, NN_UL_MAX_HS_RATE + 1, 1, NULL), -ERANGE);
}

static void sizes(int fam)
{
	const int bad_data[] = { 0, 4, 16, 31, 33, 40, 47, 1441 };
	size_t i;

	pass(fam, NN_WG_INITIATION, 148, NULL);
	malformed(fam, NN_WG_INITIATION, 147, NULL);
	malformed(fam, NN_WG_INITIATION, 149, NULL);
	pass(fam, NN_WG_RESPONSE, 92, NULL);
	malformed(fam, NN_WG_RESPONSE, 91, NULL);
	malformed(fam, NN_WG_RESPONSE, 93, NULL);
	pass(fam, NN_WG_COOKIE, 64, NULL);
	malformed(fam, NN_WG_COOKIE, 63, NULL);
	malformed(fam, NN_WG_COOKIE, 65, NULL);
	pass(fam, NN_WG_DATA, 32, NULL);
	pass(fam, NN_WG_DATA, 48, NULL);
	pass(fam, NN_WG_DATA, 1440, NULL);
	for (i = 0; i < sizeof(bad_data) / sizeof(bad_data[0]); i++)
		malformed(fam, NN_WG_DATA, (size_t)bad_data[i], NULL);
	/* Unknown types, and messages too short to carry a type. */
	malformed(fam, 5, 148, NULL);
	malformed(fam, 0, 32, NULL);
	malformed(fam, 0xff, 64, NULL);
	malformed(fam, NN_WG_DATA, 3, NULL);
	malformed(fam, NN_WG_DATA, 1, NULL);
}

static void test_sizes_ipv4(void **state)
{
	(void)state;
	sizes(4);
}

static void test_sizes_ipv6(void **state)
{
	(void)state;
	sizes(6);
}

static void test_reserved(void **state)
{
	int fam, i;

	(void)state;
	for (fam = 4; fam <= 6; fam += 2) {
		for (i = 0; i < 3; i++) {
			struct wg w = {};

			w.rsv[i] = 1;
			malformed(fam, NN_WG_DATA, 32, &w);
			malformed(fam, NN_WG_INITIATION, 148, &w);
		}
	}
}

/* Not addressed to the listen port, or not UDP: untouched, whatever it is. */
static void test_untouched(void **state)
{
	struct wg other = { .dport = PORT + 1 }, low = { .dport = 53 };
	uint8_t pkt[PB_BUF_LEN], q[PB_BUF_LEN];
	struct pb b;
	size_t len, qlen;
	int fam;

	(void)state;
	for (fam = 4; fam <= 6; fam += 2) {
		const char *s = fam == 4 ? "192.0.2.1" : "2001:db8:1::1";
		const char *d = fam == 4 ? "198.51.100.1" : "2001:db8:2::1";

		pass(fam, 5, 33, &other);
		pass(fam, NN_WG_INITIATION, 147, &low);
		len = pb_build(pb_payload(pb_tcp(pb_ip(pb_eth(pb_init(&b)), s, d), 40000, PORT,
						 PB_TCP_SYN),
					  33),
			       pkt, sizeof(pkt));
		run_at(__LINE__, pkt, len, PASS_, NN_PASS);
		len = pb_build(pb_payload(pb_proto(pb_ip(pb_eth(pb_init(&b)), s, d), 50), 33), pkt,
			       sizeof(pkt));
		run_at(__LINE__, pkt, len, PASS_, NN_PASS);
		/* An ICMP error quoting a UDP packet to the port is not UDP. */
		qlen = pb_build(pb_payload(pb_udp(pb_ip(pb_init(&b), d, s), 40000, PORT), 148), q,
				sizeof(q));
		len = pb_build(pb_dest_unreach(pb_ip(pb_eth(pb_init(&b)), s, d), 3, q, qlen), pkt,
			       sizeof(pkt));
		run_at(__LINE__, pkt, len, PASS_, NN_PASS);
	}
	len = pb_build(pb_arp(pb_init(&b)), pkt, sizeof(pkt));
	run_at(__LINE__, pkt, len, PASS_, NN_PASS);
}

/* A UDP length that disagrees with the IP length, either way. */
static void test_udp_len_lies(void **state)
{
	int fam;

	(void)state;
	for (fam = 4; fam <= 6; fam += 2) {
		struct wg shorter = { .udp_len = 8 + 92 }, longer = { .udp_len = 8 + 148 + 16 };
		struct wg tiny = { .udp_len = 4 }, exact = { .udp_len = 8 + 148 };

		/* A 148-byte initiation claiming to be 92 bytes: not a response. */
		malformed(fam, NN_WG_INITIATION, 148, &shorter);
		malformed(fam, NN_WG_INITIATION, 148, &longer);
		malformed(fam, NN_WG_INITIATION, 148, &tiny);
		pass(fam, NN_WG_INITIATION, 148, &exact);
	}
}

/* IPv4 options, IPv6 extension headers and a VLAN tag do not hide it. */
static void test_headers_no_bypass(void **state)
{
	struct wg opts = { .ip_opts = 2 }, dst_opts = { .ext = 60 }, hbh = { .ext = 0 };
	struct wg vlan = { .vlan = true };

	(void)state;
	pass(4, NN_WG_DATA, 32, &opts);
	malformed(4, NN_WG_DATA, 33, &opts);
	pass(6, NN_WG_DATA, 32, &dst_opts);
	malformed(6, NN_WG_DATA, 33, &dst_opts);
	malformed(6, 5, 148, &hbh);
	pass(4, NN_WG_COOKIE, 64, &vlan);
	malformed(4, NN_WG_COOKIE, 65, &vlan);
	malformed(6, NN_WG_COOKIE, 63, &vlan);
}

/* First fragments can only be data; later fragments cannot be judged. */
static void test_fragments(void **state)
{
	struct wg first = { .frag = PB_FRAG_FIRST }, later = { .frag = PB_FRAG_LATER };
	int fam;

	(void)state;
	for (fam = 4; fam <= 6; fam += 2) {
		pass(fam, NN_WG_DATA, 1000, &first);
		malformed(fam, NN_WG_INITIATION, 148, &first);
		malformed(fam, NN_WG_RESPONSE, 92, &first);
		malformed(fam, 7, 100, &first);
		pass(fam, 5, 33, &later);
	}
}

/*
 * The guard never stops looking early (verdicts.md "Underlay"): a chain
 * longer than NN_MAX_EXT_HDRS is dropped whatever it carries, since the
 * kernel would walk it and deliver the datagram.
 */
static void test_ext_chain_bound(void **state)
{
	struct wg eight = { .ext = 60, .n_ext = NN_MAX_EXT_HDRS };
	struct wg nine = { .ext = 60, .n_ext = NN_MAX_EXT_HDRS + 1 };
	struct wg hbh9 = { .ext = 0, .n_ext = NN_MAX_EXT_HDRS + 1 };
	struct wg many = { .ext = 60, .n_ext = PB_MAX_EXT };
	struct wg nine_other = { .ext = 60, .n_ext = NN_MAX_EXT_HDRS + 1, .dport = 53 };
	struct wg later9 = { .ext = 60, .n_ext = NN_MAX_EXT_HDRS, .frag = PB_FRAG_LATER };
	uint8_t pkt[PB_BUF_LEN];
	struct pb b;
	size_t len;

	(void)state;
	pass(6, NN_WG_DATA, 32, &eight);
	malformed(6, NN_WG_DATA, 33, &eight);
	pass(6, NN_WG_INITIATION, 148, &eight);
	/* One more: a valid message, another port, a later fragment (whose
	 * Fragment header is the ninth): all dropped. */
	malformed(6, NN_WG_DATA, 32, &nine);
	malformed(6, NN_WG_INITIATION, 148, &hbh9);
	malformed(6, NN_WG_DATA, 64, &many);
	malformed(6, NN_WG_DATA, 32, &nine_other);
	malformed(6, 5, 33, &later9);
	/* Not UDP behind the long chain either. */
	pb_payload(pb_tcp(pb_ip(pb_eth(pb_init(&b)), "2001:db8:1::1", "2001:db8:2::1"), 40000, PORT,
			  PB_TCP_SYN),
		   33);
	len = pb_build(pb_ext(&b, 60, NN_MAX_EXT_HDRS), pkt, sizeof(pkt));
	run_at(__LINE__, pkt, len, PASS_, NN_PASS);
	len = pb_build(pb_ext(&b, 60, 1), pkt, sizeof(pkt));
	run_at(__LINE__, pkt, len, DROP_, NN_R_WG_MALFORMED);
}

/* Headers after the Fragment header are walked in a first fragment; an
 * atomic Fragment header after the real one leaves it a first fragment. */
static void test_fragment_chains(void **state)
{
	struct wg dst = { .frag = PB_FRAG_FIRST, .ext_after = 60 };
	struct wg ah = { .frag = PB_FRAG_FIRST, .ext_after = 51 };
	struct wg atomic = { .frag = PB_FRAG_FIRST, .ext_after = 44, .udp_len = 8 + 1440 };
	struct wg later = { .frag = PB_FRAG_LATER, .ext_after = 60 };

	(void)state;
	pass(6, NN_WG_DATA, 1000, &dst);
	malformed(6, NN_WG_INITIATION, 148, &dst);
	pass(6, NN_WG_DATA, 1000, &ah);
	malformed(6, NN_WG_COOKIE, 64, &ah);
	/* The UDP length is the whole datagram's, as in any first fragment. */
	pass(6, NN_WG_DATA, 1000, &atomic);
	malformed(6, NN_WG_RESPONSE, 92, &atomic);
	/* Later fragments pass: their datagram's offset-0 fragment is the one
	 * judged (docs/datapath.md "Underlay"). */
	pass(6, NN_WG_INITIATION, 148, &later);
}

/* Send @n initiations from @src; how many passed. */
static int initiations(int fam, const char *src, int n)
{
	struct wg w = { .src = src };
	uint8_t pkt[PB_BUF_LEN], out[PB_BUF_LEN + 64];
	size_t len = build_wg(fam, NN_WG_INITIATION, 148, &w, pkt);
	int i, passed = 0;

	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		assert_int_equal(bpf_prog_test_run_opts(nn_underlay_prog_fd(u), &o), 0);
		passed += o.retval == PASS_;
	}
	return passed;
}

static void test_handshake_rate(void **state)
{
	struct wg a4 = { .src = "203.0.113.1" }, a6 = { .src = "2001:db8:aa:1::7" };
	struct wg same64 = { .src = "2001:db8:aa:1::8" }, other64 = { .src = "2001:db8:aa:2::7" };
	struct wg b4 = { .src = "203.0.113.2" };
	uint64_t rate0 = wg_drops(NN_R_WG_HANDSHAKE_RATE);

	(void)state;
	/* Defaults: a burst of NN_DEF_WG_HS_BURST (refill 1 per 50 ms, far
	 * slower than this loop). */
	assert_int_equal(initiations(4, "203.0.113.100", NN_DEF_WG_HS_BURST + 5),
			 NN_DEF_WG_HS_BURST);
	assert_int_equal(wg_drops(NN_R_WG_HANDSHAKE_RATE) - rate0, 5);

	/* A slow refill makes the rest exact whatever the machine's speed. */
	assert_int_equal(nn_underlay_configure(u, PORT, 1, 8, NULL), 0);
	assert_int_equal(initiations(4, a4.src, 8), 8);
	expect(4, NN_WG_INITIATION, 148, &a4, DROP_, NN_R_WG_HANDSHAKE_RATE);
	/* Another source still passes; the limited one stays limited. */
	pass(4, NN_WG_INITIATION, 148, &b4);
	expect(4, NN_WG_INITIATION, 148, &a4, DROP_, NN_R_WG_HANDSHAKE_RATE);
	/* Only initiations are limited. */
	pass(4, NN_WG_RESPONSE, 92, &a4);
	pass(4, NN_WG_DATA, 64, &a4);

	/* IPv6 sources share a bucket per /64. */
	assert_int_equal(initiations(6, a6.src, 8), 8);
	expect(6, NN_WG_INITIATION, 148, &same64, DROP_, NN_R_WG_HANDSHAKE_RATE);
	pass(6, NN_WG_INITIATION, 148, &other64);

	/* A wrong-sized initiation is malformed, not a rate drop. */
	malformed(4, NN_WG_INITIATION, 147, &a4);
	assert_int_equal(nn_underlay_set_port(u, PORT, NULL), 0);
}

/* Listen port 0: the guard is off and everything passes. */
static void test_guard_off(void **state)
{
	(void)state;
	assert_int_equal(nn_underlay_set_port(u, 0, NULL), 0);
	pass(4, 5, 33, NULL);
	pass(6, NN_WG_INITIATION, 147, NULL);
	assert_int_equal(nn_underlay_set_port(u, PORT, NULL), 0);
	malformed(6, NN_WG_INITIATION, 147, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),	  cmocka_unit_test(test_sizes_ipv4),
		cmocka_unit_test(test_sizes_ipv6),	  cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_untouched),	  cmocka_unit_test(test_udp_len_lies),
		cmocka_unit_test(test_headers_no_bypass), cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_ext_chain_bound),	  cmocka_unit_test(test_fragment_chains),
		cmocka_unit_test(test_handshake_rate),	  cmocka_unit_test(test_guard_off),
	};

	return cmocka_run_group_tests_name("underlay WireGuard guard (BPF)", tests, setup,
					   teardown);
}
