// SPDX-License-Identifier: GPL-2.0
/* gatewayd.c - interface framing and --detach. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gatewayd.h"
#include "loader.h"
#include "log.h"
#include "nat.h"
#include "underlay.h"

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

int nn_gw_detach(const char *iface, const char *underlay, const char *pin_dir)
{
	int err = 0;

	/* The underlay pins live inside the pin directory: they go first so
	 * that the directory itself can go too. */
	if (underlay) {
		err = nn_underlay_detach(underlay, pin_dir);
		if (err)
			nn_log_err("event=underlay_detach iface=%s pin_dir=%s error=\"%s\"",
				   underlay, pin_dir, strerror(-err));
	}
	if (!err) {
		err = nn_dp_detach(iface, pin_dir);
		if (err)
			nn_log_err("event=detach iface=%s pin_dir=%s error=\"%s\"", iface, pin_dir,
				   strerror(-err));
	}
	if (!err)
		err = nn_nat_remove(iface);
	if (!err)
		nn_log_info("event=detached iface=%s underlay=%s pin_dir=%s", iface,
			    underlay ? underlay : "-", pin_dir);
	return err;
}
