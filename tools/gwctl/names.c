// SPDX-License-Identifier: GPL-2.0
/*
 * names.c - protocol names (dp/explain.c holds the table) and number
 * parsing for the command line (the ABI's enum names: user/lib/names.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dp/explain.h"
#include "gwctl.h"

void gw_proto_name(uint32_t proto, char *buf, size_t len)
{
	nn_proto_name(proto, buf, len);
}

int gw_proto_parse(const char *s)
{
	return nn_proto_parse(s);
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
