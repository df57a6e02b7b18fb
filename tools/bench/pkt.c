// SPDX-License-Identifier: GPL-2.0
/*
 * pkt.c - the packet shapes the benchmark sends, built by the tests' packet
 * builder (selftests/lib/pktbuild.c, linked in): one builder, so what the
 * benchmark measures is what the tests judge.
 */
#include <string.h>

#include "bench.h"
#include "pktbuild.h"

_Static_assert(BENCH_TCP_OPEN == PB_TCP_SYN && BENCH_TCP_EST == PB_TCP_ACK &&
		       BENCH_TCP_REPLY == (PB_TCP_SYN | PB_TCP_ACK),
	       "bench.h names pktbuild.h's flags");

size_t bench_pkt(uint8_t *buf, bool eth, const char *src, const char *dst, int l4,
		 uint8_t tcp_flags, uint16_t sport, uint16_t dport, size_t payload)
{
	struct pb b;

	pb_ip(pb_init(&b), src, dst);
	if (eth)
		pb_eth(&b);
	if (l4 == BENCH_TCP)
		pb_tcp(&b, sport, dport, tcp_flags);
	else
		pb_udp(&b, sport, dport);
	pb_payload(&b, payload);
	return pb_build(&b, buf, BENCH_PKT_MAX);
}
