// SPDX-License-Identifier: GPL-2.0
/* iface.c - facts about a network interface (see iface.h). */
#include <errno.h>
#include <stdio.h>

#include "lib/iface.h"
#include "nanami_abi.h"

int nn_iface_framing(const char *ifname)
{
	char path[256];
	FILE *f;
	int type = -1;

	snprintf(path, sizeof(path), "/sys/class/net/%s/type", ifname);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fscanf(f, "%d", &type) != 1)
		type = -1;
	fclose(f);
	/* 65534 = ARPHRD_NONE: TUN in L3 mode, which is how wireguard-go and
	 * the kernel's wireguard present wg0. */
	return type == 65534 ? NN_FRAMING_L3 : NN_FRAMING_ETH;
}
