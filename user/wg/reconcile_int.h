/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reconcile_int.h - the desired-peer helpers reconcile.c (the full diff)
 * and peers.c (a fast-path change's peers, no read) share. Private to
 * user/wg.
 */
#ifndef NANAMI_WG_RECONCILE_INT_H
#define NANAMI_WG_RECONCILE_INT_H

#include "wg/reconcile.h"

#define MAX_WANT_AIPS 2

/* One desired peer. */
struct want {
	const char *id;	  /* device or node id, for logs */
	const char *kind; /* "device" / "node" */
	uint8_t key[NN_KEY_LEN];
	struct nn_wg_allowedip aips[MAX_WANT_AIPS];
	size_t n_aips;
	bool has_endpoint;
	union nn_wg_endpoint endpoint;
	uint16_t keepalive;
};

/* @w as wg0 should carry active device @d. */
void nn_wg_want_device(struct want *w, const struct nn_device *d);
/* Append to @chg: @w's whole configuration (AllowedIPs replaced), or the
 * removal of @key. */
int nn_wg_put_want(struct nn_wg_device *chg, const struct want *w);
int nn_wg_put_remove(struct nn_wg_device *chg, const uint8_t key[NN_KEY_LEN]);

#endif /* NANAMI_WG_RECONCILE_INT_H */
