/* SPDX-License-Identifier: GPL-2.0 */
/*
 * randpkt.h - random packets for the differential test, drawn from the
 * addresses of the applied policy: new flows between real endpoints in both
 * directions, their replies and later packets, ICMP errors quoting earlier
 * packets (from the right peer, or from a third party), echo with colliding
 * ids, first/later/orphan fragments, spoofed and unassigned sources,
 * malformed packets (truncated, lying length fields, too many extension
 * headers, IPv4-mapped addresses in IPv6), and with Ethernet framing ARP,
 * neighbour discovery and VLAN tags.
 *
 * The generator remembers the packets it made (a ring), so that replies and
 * errors refer to flows that really were opened, also across policy changes.
 */
#ifndef NANAMI_RANDPKT_H
#define NANAMI_RANDPKT_H

#include <stddef.h>
#include <stdint.h>

#include "dp/loader.h"
#include "nanami_abi.h"
#include "pktbuild.h"
#include "policy/policy.h"
#include "randpolicy.h"

struct rk_pkt {
	enum nn_dir dir;
	enum nn_hook hook; /* TC or XDP for from-overlay; TC into it */
	size_t len;	   /* always >= 14: BPF_PROG_TEST_RUN's minimum */
	uint8_t buf[PB_BUF_LEN];
	const char *kind; /* what the generator meant, for failure reports */
};

struct rk_gen;

/* A generator for @framing, seeded from @seed; NULL when out of memory. */
struct rk_gen *rk_new(uint64_t seed, uint8_t framing);
void rk_free(struct rk_gen *g);

/* Take endpoints from @p (kept by the caller while in use); the history of
 * earlier packets is kept, so replies cross policy changes. */
int rk_set_policy(struct rk_gen *g, const struct nn_policy *p);

void rk_next(struct rk_gen *g, struct rk_pkt *out);

/* The packet rk_next() just made passed: when it opened a flow, replies,
 * later packets and ICMP errors will mostly refer to it. */
void rk_passed(struct rk_gen *g);

/*
 * A random Ethernet frame for the underlay guard into @buf (PB_BUF_LEN):
 * mostly UDP to @port, IPv6 chains around NN_MAX_EXT_HDRS, fragments, WG
 * messages on and off their sizes, lying lengths (randpkt_underlay.c). The
 * source is unique per @serial. Its length (0: a generator bug); @kind says
 * what it meant.
 */
/*
 * Up to @max addresses for the gateway host's own interfaces (nn_local),
 * drawn from what the generator sends to: internet and ACL destinations,
 * so packets meet them. Returns how many (0 is a valid set).
 */
size_t rk_host_addrs(struct rk_gen *g, uint8_t (*out)[NN_ADDR_LEN], size_t max);

size_t rk_underlay_frame(struct nn_rng *r, uint16_t port, uint32_t serial, uint8_t *buf,
			 const char **kind);

#endif /* NANAMI_RANDPKT_H */
