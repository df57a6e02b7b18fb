// SPDX-License-Identifier: GPL-2.0
/*
 * names.c - protocol names and number parsing for the command line (the
 * ABI's enum names live in user/lib/names.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gwctl.h"

static const struct {
	const char *name;
	uint8_t num;
} protos[] = {
	{ "icmp", 1 }, { "tcp", 6 },	 { "udp", 17 },	  { "gre", 47 },
	{ "esp", 50 }, { "icmpv6", 58 }, { "sctp", 132 },
};

void gw_proto_name(uint32_t proto, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].num == proto) {
			snprintf(buf, len, "%s", protos[i].name);
			return;
		}
	snprintf(buf, len, "%u", proto);
}

int gw_proto_parse(const char *s)
{
	uint32_t v;
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcasecmp(s, protos[i].name))
			return protos[i].num;
	if (!strcasecmp(s, "ipv6-icmp"))
		return 58;
	if (!gw_parse_u32(s, 255, &v))
		return (int)v;
	return -1;
}

int gw_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}
