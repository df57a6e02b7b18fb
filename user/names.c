// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "names.h"

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

const char *nn_reason_name(unsigned int reason)
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

const char *nn_dir_name(unsigned int dir)
{
	return dir == NN_DIR_FROM_OVERLAY ? "from_overlay" :
	       dir == NN_DIR_INTO_OVERLAY ? "into_overlay" : "unknown";
}
