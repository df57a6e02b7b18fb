// SPDX-License-Identifier: GPL-2.0
/*
 * pkt.c - the few packet shapes the benchmark needs. A dozen lines instead
 * of selftests/lib/pktbuild.c: the tool links only its own directory and
 * libnanami.a (Makefile tool_rule), and a benchmark needs no lying lengths.
 */
#include <arpa/inet.h>
#include <string.h>

#include "bench.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

size_t bench_pkt(uint8_t *buf, bool eth, const char *src, const char *dst, int l4,
		 uint16_t sport, uint16_t dport, size_t payload)
{
	size_t l2 = eth ? 14 : 0, l3, l4len = (l4 == BENCH_TCP ? 20 : 8) + payload;
	uint8_t *ip = buf + l2, *th;
	bool v6 = strchr(src, ':');

	if (v6 != !!strchr(dst, ':'))
		return 0;
	l3 = v6 ? 40 : 20;
	if (l2 + l3 + l4len > BENCH_PKT_MAX)
		return 0;
	memset(buf, 0, l2 + l3 + l4len);
	if (eth) {
		memcpy(buf, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
		put16(buf + 12, v6 ? 0x86dd : 0x0800);
	}
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, l4len);
		ip[6] = l4;
		ip[7] = 64;
		if (inet_pton(AF_INET6, src, ip + 8) != 1 || inet_pton(AF_INET6, dst, ip + 24) != 1)
			return 0;
	} else {
		ip[0] = 0x45;
		put16(ip + 2, l3 + l4len);
		put16(ip + 4, 1);
		ip[8] = 64;
		ip[9] = l4;
		if (inet_pton(AF_INET, src, ip + 12) != 1 || inet_pton(AF_INET, dst, ip + 16) != 1)
			return 0;
	}
	th = ip + l3;
	put16(th, sport);
	put16(th + 2, dport);
	if (l4 == BENCH_TCP) {
		th[12] = 5 << 4;
		th[13] = 0x02;		/* SYN: the opening packet of a flow */
		put16(th + 14, 64240);
	} else {
		put16(th + 4, l4len);
	}
	return l2 + l3 + l4len;
}
