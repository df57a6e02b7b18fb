// SPDX-License-Identifier: GPL-2.0
/*
 * randpkt_underlay.c - random Ethernet frames for the underlay WireGuard
 * guard (bpf/underlay_xdp.bpf.c), the way a peer on the internet could send
 * them: UDP to the listen port (mostly) or elsewhere, one 802.1Q tag or
 * none, IPv4 options, IPv6 extension-header chains of every length from
 * none to twice the guard's bound (NN_MAX_EXT_HDRS) with the Fragment
 * header and headers after it, first and later fragments, WireGuard
 * messages of every type at their size and off it, nonzero reserved bytes,
 * and IP and UDP lengths that lie. Issue 10, class 4: a guard that stops
 * walking at its bound and passes the rest must meet such chains in every
 * run. The frames carry no verdict: the test judges them from the spec.
 */
#include <stdio.h>
#include <string.h>

#include "randpkt_int.h"

static const uint8_t ext_types[] = { 0, 43, 51, 60, 60, 135, 139, 140, 44 /* atomic */ };

/* Chain lengths, weighted around the bound. */
static unsigned int chain_len(struct nn_rng *r)
{
	static const unsigned int pick[] = { 0,
					     0,
					     0,
					     1,
					     2,
					     3,
					     NN_MAX_EXT_HDRS - 1,
					     NN_MAX_EXT_HDRS,
					     NN_MAX_EXT_HDRS,
					     NN_MAX_EXT_HDRS + 1,
					     NN_MAX_EXT_HDRS + 1,
					     NN_MAX_EXT_HDRS + 2,
					     PB_MAX_EXT - 2 };

	return pick[rng_below(r, sizeof(pick) / sizeof(pick[0]))];
}

/* A message size: mostly the right one for @type. */
static size_t msg_size(struct nn_rng *r, uint8_t type)
{
	static const size_t good[] = { 0, NN_WG_INITIATION_LEN, NN_WG_RESPONSE_LEN,
				       NN_WG_COOKIE_LEN };
	size_t n;

	if (type >= 1 && type <= 3 && rng_pct(r, 70))
		n = good[type];
	else if (type == NN_WG_DATA && rng_pct(r, 70))
		n = NN_WG_DATA_MIN_LEN + 16 * rng_below(r, 60);
	else
		n = rng_below(r, 200);
	if (rng_pct(r, 10))
		n = rng_pct(r, 50) ? n + 1 : (n ? n - 1 : 0);
	return n;
}

size_t rk_underlay_frame(struct nn_rng *r, uint16_t port, uint32_t serial, uint8_t *buf,
			 const char **kind)
{
	bool v6 = rng_pct(r, 60), udp = rng_pct(r, 88);
	uint8_t type = rng_pct(r, 90) ? (uint8_t)(1 + rng_below(r, 4)) : (uint8_t)rng_below(r, 256);
	size_t msglen = udp ? msg_size(r, type) : rng_below(r, 120), len, at;
	uint16_t dport = rng_pct(r, 85) ? port : (uint16_t)rng_below(r, 65536);
	char src[64];
	struct pb b;

	/* A source of its own per frame: the handshake rate never decides,
	 * so every frame's verdict follows from its bytes alone. */
	if (v6)
		snprintf(src, sizeof(src), "2001:db8:%x:%x::1", serial >> 16, serial & 0xffff);
	else
		snprintf(src, sizeof(src), "10.%u.%u.%u", (serial >> 16) & 0xff,
			 (serial >> 8) & 0xff, serial & 0xff);
	pb_ip(pb_eth(pb_init(&b)), src, v6 ? "2001:db8:ffff::1" : "198.51.100.1");
	if (udp)
		pb_udp(&b, (uint16_t)(1024 + rng_below(r, 60000)), dport);
	else if (rng_pct(r, 50))
		pb_tcp(&b, 40000, dport, PB_TCP_SYN);
	else
		pb_proto(&b, 50);
	pb_payload(&b, msglen);
	*kind = v6 ? "underlay-v6" : "underlay-v4";
	if (rng_pct(r, 15))
		pb_vlan(&b, (uint16_t)(1 + rng_below(r, 4000)));
	if (!v6 && rng_pct(r, 20))
		pb_ip_opts(&b, 1 + rng_below(r, 10));
	if (v6) {
		unsigned int n = chain_len(r), i, after = 0;

		if (n > 2 && rng_pct(r, 30))
			after = rng_below(r, 3);
		for (i = 0; i < n; i++)
			pb_ext(&b, ext_types[rng_below(r, sizeof(ext_types))], 1);
		for (i = 0; i < after; i++)
			pb_ext_after_frag(&b, rng_pct(r, 50) ? 60 : 51, 1);
		if (n || after)
			*kind = n > NN_MAX_EXT_HDRS ? "underlay-v6-long-chain" :
						      "underlay-v6-chain";
	}
	if (rng_pct(r, 15)) {
		bool later = rng_pct(r, 40);

		pb_frag(&b, later ? PB_FRAG_LATER : PB_FRAG_FIRST, serial,
			later ? (uint16_t)(1 + rng_below(r, 100)) : 0);
		*kind = later ? "underlay-later-fragment" : "underlay-first-fragment";
	}
	if (rng_pct(r, 6))
		pb_lie(&b, PB_F_UDP_LEN, rng_below(r, 300));
	if (rng_pct(r, 4))
		pb_lie(&b, PB_F_IP_LEN, rng_below(r, 600));
	len = pb_build(&b, buf, PB_BUF_LEN);
	if (!len || !udp || msglen < 1 || len < msglen)
		return len; /* 0: over the builder's limits, a generator bug */
	/* The message is the payload, at the end of the frame. */
	at = len - msglen;
	buf[at] = type;
	if (msglen >= 4)
		memset(&buf[at + 1], rng_pct(r, 8) ? (int)(1 + rng_below(r, 255)) : 0, 3);
	return len;
}
