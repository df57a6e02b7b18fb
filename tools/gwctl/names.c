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
#include "lib/names.h"

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
	return nn_parse_u32(s, max, out);
}
