/* SPDX-License-Identifier: GPL-2.0 */
/* gatewayd.h - the controller's run loop (the flags live in gatewayd_main.c). */
#ifndef NANAMI_GATEWAYD_H
#define NANAMI_GATEWAYD_H

#include <signal.h>
#include <stdbool.h>

#include "loader.h"

struct nn_gw_opts {
	const char *iface;
	const char *underlay;		/* underlay NIC for the WireGuard guard, or NULL */
	const char *assignments;
	const char *node_id;
	const char *pin_dir;
	int framing;			/* enum nn_framing, -1: from the interface type */
	uint8_t hook;			/* enum nn_hook */
	bool once;
	bool detach;
	struct nn_capacity cap;
};

/* Framing of @ifname from its device type: L3 for ARPHRD_NONE (TUN, wg). */
int nn_iface_framing(const char *ifname);

/* Load, apply, attach (and the underlay guard with its listen port when
 * o->underlay is set); with once, return; else re-apply on file changes
 * until *stop. 0, or -errno (the reason has been logged). */
int nn_gw_run(struct nn_gw_opts *o, volatile sig_atomic_t *stop);

/* --detach: the underlay guard (when o->underlay is set), then the policy
 * programs and every pin. 0, or -errno (logged). */
int nn_gw_detach(const struct nn_gw_opts *o);

#endif /* NANAMI_GATEWAYD_H */
