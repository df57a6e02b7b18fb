// SPDX-License-Identifier: GPL-2.0
/*
 * names.c - the names people and scripts see for the ABI's enums. Drop
 * reasons are exactly the names of docs/verdicts.md: scripts match on them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gwctl.h"

static const char *const reason_names[NN_R_MAX] = {
	[NN_R_MALFORMED] = "malformed",
	[NN_R_SPOOF] = "spoof",
	[NN_R_REVOKED] = "revoked",
	[NN_R_NO_TRANSIT] = "no_transit",
	[NN_R_CROSS_TENANT] = "cross_tenant",
	[NN_R_CROSS_NETWORK] = "cross_network",
	[NN_R_UNKNOWN_DST] = "unknown_dst",
	[NN_R_NO_EGRESS] = "no_egress",
	[NN_R_ACL_DENY] = "acl_deny",
	[NN_R_ACL_DEFAULT_DENY] = "acl_default_deny",
	[NN_R_FRAGMENT] = "fragment",
	[NN_R_WG_MALFORMED] = "wg_malformed",
	[NN_R_WG_HANDSHAKE_RATE] = "wg_handshake_rate",
};

const char *gw_reason_name(uint32_t reason)
{
	return reason < NN_R_MAX ? reason_names[reason] : NULL;
}

int gw_reason_parse(const char *s)
{
	int i;

	for (i = 1; i < NN_R_MAX; i++)
		if (reason_names[i] && !strcmp(s, reason_names[i]))
			return i;
	return -1;
}

const char *gw_dir_name(uint32_t dir)
{
	switch (dir) {
	case NN_DIR_FROM_OVERLAY:
		return "from-overlay";
	case NN_DIR_INTO_OVERLAY:
		return "into-overlay";
	}
	return "unknown";
}

const char *gw_addr_kind_name(uint32_t kind)
{
	switch (kind) {
	case NN_AK_DEVICE:
		return "device";
	case NN_AK_NODE:
		return "node";
	case NN_AK_SELF:
		return "self";
	}
	return NULL;
}

/* Mirrors NN_DK_PREFIX_BASE / NN_DK_INTERNET of bpf/policy.bpf.h (BPF-only
 * defines, so they cannot be included here). */
#define GW_DK_PREFIX_BASE 16
#define GW_DK_INTERNET 32

const char *gw_dst_kind_name(uint32_t kind)
{
	switch (kind) {
	case GW_DK_PREFIX_BASE + NN_PK_RESOURCE:
		return "resource";
	case GW_DK_PREFIX_BASE + NN_PK_OVERLAY:
		return "unassigned_overlay";
	case GW_DK_PREFIX_BASE + NN_PK_ACL:
		return "acl_prefix";
	case GW_DK_INTERNET:
		return "internet";
	}
	return gw_addr_kind_name(kind);
}

const char *gw_state_name(uint32_t state)
{
	switch (state) {
	case NN_ST_ACTIVE:
		return "active";
	case NN_ST_DISABLED:
		return "disabled";
	}
	return NULL;
}

const char *gw_flow_state_name(uint32_t state)
{
	switch (state) {
	case NN_FS_NEW:
		return "new";
	case NN_FS_EST:
		return "established";
	case NN_FS_CLOSING:
		return "closing";
	}
	return "unknown";
}

static const struct {
	const char *name;
	uint8_t num;
} protos[] = {
	{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "gre", 47 }, { "esp", 50 },
	{ "icmpv6", 58 }, { "sctp", 132 },
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
