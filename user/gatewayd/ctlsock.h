/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ctlsock.h - the controller's control socket: a local API, JSON over HTTP
 * on a Unix socket (default /run/nanami/<iface>.sock; docs/interfaces.md).
 *
 *   GET  /v1/status   what the controller knows (gatewayd/state.h)
 *   POST /v1/explain  judge one packet with a dry-run instance of the
 *                     programs kept loaded over the pinned maps (dp/explain.h)
 *
 * Root only: the directory is created 0700, the socket 0600 (connecting
 * needs write permission on it). Removed when the controller exits.
 */
#ifndef NANAMI_GATEWAYD_CTLSOCK_H
#define NANAMI_GATEWAYD_CTLSOCK_H

#include <stdbool.h>

#include "gatewayd/state.h"

struct nn_ctlsock_opts {
	const char *path;
	const char *pin_dir;
	const char *iface;
	bool xdp; /* from-overlay is attached at XDP */
	struct nn_ctl_state *st;
};

struct nn_ctlsock;

/* Bind, serve from a thread, and start loading the explain instance in
 * the background. -EADDRINUSE when another controller serves @path. */
int nn_ctlsock_start(const struct nn_ctlsock_opts *o, struct nn_ctlsock **out);
void nn_ctlsock_stop(struct nn_ctlsock *s);

#endif /* NANAMI_GATEWAYD_CTLSOCK_H */
