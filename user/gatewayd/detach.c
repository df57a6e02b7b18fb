// SPDX-License-Identifier: GPL-2.0
/* detach.c - --detach: everything this gateway attached, pinned and installed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dp/loader.h"
#include "dp/underlay.h"
#include "gatewayd/detach.h"
#include "gatewayd/nat.h"
#include "lib/log.h"

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
