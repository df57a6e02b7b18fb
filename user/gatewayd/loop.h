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
#include "identity/identity.h"
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
	uint32_t new_flow_rate; /* --max-new-flows-per-device; 0: no bound */
	uint32_t new_flow_burst;
	size_t max_snapshot; /* --max-snapshot-mb in bytes; 0: the parser's 128 MB */
	/* identity (identity-v1.md): node.json found in state_dir */
	bool enrolled;
	struct nn_ident ident;
	const char *wg_key_path; /* NULL: <state_dir>/<iface>.key (not enrolled) */
	uint32_t key_lifetime_s; /* --key-lifetime; 0: off */
	uint32_t renew_base_ms;	 /* first retry of a failed renewal (0: 1 s) */
};

/* Run until *stop (or once). 0, or -errno with the reason logged. */
int nn_daemon_run(const struct nn_daemon_opts *o, volatile sig_atomic_t *stop);

#endif /* NANAMI_GATEWAYD_LOOP_H */
