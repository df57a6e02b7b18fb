/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loop.h - the long-running controller: keeps the dataplane and wg0 at
 * the state the control plane (or a file) wants, survives every fault of its
 * inputs without opening anything, and shows what it is doing.
 */
#ifndef NANAMI_GATEWAYD_LOOP_H
#define NANAMI_GATEWAYD_LOOP_H

#include <signal.h>
#include <stdbool.h>

#include "cp/client.h"
#include "dp/loader.h"
#include "wg/reconcile.h"

#define NN_DEF_RESYNC_S 30
#define NN_DEF_POLL_S 30
#define NN_DEF_STATE_ROOT "/var/lib/nanami"

struct nn_daemon_opts {
	const char *iface;
	const char *underlay;	 /* NULL: no underlay guard */
	const char *assignments; /* file mode */
	struct nn_cp_opts cp;	 /* control-plane mode when cp.url is set */
	const char *node_id;	 /* must match the snapshot's */
	const char *pin_dir;
	const char *state_dir;
	const char *metrics_listen; /* NULL: no endpoint */
	const char *ctl_socket;	    /* control socket path (not with once) */
	uint8_t framing;
	uint8_t hook;
	enum nn_wg_mode wg;
	bool nat; /* manage the exit NAT table */
	bool once;
	unsigned int resync_s;
	unsigned int poll_s;
	struct nn_capacity cap;
};

/* Run until *stop (or once). 0, or -errno with the reason logged. */
int nn_daemon_run(const struct nn_daemon_opts *o, volatile sig_atomic_t *stop);

#endif /* NANAMI_GATEWAYD_LOOP_H */
