// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/names.h"

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
	[NN_R_MARTIAN] = "martian",
	[NN_R_FLOW_LIMIT] = "flow_limit",
};

const char *nn_reason_name(uint32_t reason)
{
	return reason < NN_R_MAX ? reason_names[reason] : NULL;
}

int nn_reason_from_name(const char *name)
{
	int i;

	for (i = 1; i < NN_R_MAX; i++)
		if (reason_names[i] && !strcmp(reason_names[i], name))
			return i;
	return -1;
}

const char *nn_dir_name(uint32_t dir)
{
	switch (dir) {
	case NN_DIR_FROM_OVERLAY:
		return "from-overlay";
	case NN_DIR_INTO_OVERLAY:
		return "into-overlay";
	}
	return "unknown";
}

const char *nn_addr_kind_name(uint32_t kind)
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

const char *nn_dst_kind_name(uint32_t kind)
{
	switch (kind) {
	case NN_DK_PREFIX_BASE + NN_PK_RESOURCE:
		return "resource";
	case NN_DK_PREFIX_BASE + NN_PK_OVERLAY:
		return "unassigned_overlay";
	case NN_DK_PREFIX_BASE + NN_PK_ACL:
		return "acl_prefix";
	case NN_DK_INTERNET:
		return "internet";
	case NN_DK_HOST:
		return "gateway_host";
	case NN_DK_MARTIAN:
		return "martian";
	}
	return nn_addr_kind_name(kind);
}

const char *nn_state_name(uint32_t state)
{
	switch (state) {
	case NN_ST_ACTIVE:
		return "active";
	case NN_ST_DISABLED:
		return "disabled";
	}
	return NULL;
}

const char *nn_flow_state_name(uint32_t state)
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

int nn_parse_u32(const char *s, uint32_t max, uint32_t *out)
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
