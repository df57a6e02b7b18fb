// SPDX-License-Identifier: GPL-2.0
/*
 * peers.c - set the few peers a fast-path change touches (reconcile.h).
 *
 * The full reconcile reads wg0 to diff it: at 100k peers that read alone
 * is hundreds of milliseconds, a hundred times the rest of a one-device
 * change. A change from the incremental path knows exactly which keys it
 * touched and what each should be, so it writes just those; whatever else
 * differs on wg0 (a peer added by hand) is the drift timer's to find.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "wg/reconcile.h"
#include "wg/reconcile_int.h"

int nn_wg_set_peers(struct nn_wg *w, const struct nn_wg_peer_change *v, size_t n,
		    struct nn_wg_counters *c)
{
	struct nn_wg_device chg = {};
	char k[NN_KEY_B64_SIZE];
	unsigned int ops = 0;
	struct want want;
	size_t i;
	int err = 0;

	memset(c, 0, sizeof(*c));
	/* Removals first: a rotated-away key and its successor may share the
	 * overlay address, and the set applies its peers in order. */
	for (i = 0; i < n && !err; i++)
		if (!v[i].dev && memcmp(v[i].key, w->public_key, NN_KEY_LEN))
			err = nn_wg_put_remove(&chg, v[i].key);
	for (i = 0; i < n && !err; i++) {
		if (!v[i].dev || !memcmp(v[i].key, w->public_key, NN_KEY_LEN))
			continue;
		nn_wg_want_device(&want, v[i].dev);
		err = nn_wg_put_want(&chg, &want);
	}
	if (!err && chg.n_peers)
		err = nn_wg_backend_set(&w->be, &chg, &ops);
	if (err) {
		nn_log_err("event=wg_apply_failed iface=%s stage=set_peers %s=%s error=\"%s\" "
			   "backend=%s",
			   w->iface, w->be.ops->where, w->be.where, strerror(-err),
			   w->be.ops->name);
		nn_wg_device_free(&chg);
		return err;
	}
	for (i = 0; i < n; i++) {
		if (!memcmp(v[i].key, w->public_key, NN_KEY_LEN))
			continue;
		nn_key_to_base64(v[i].key, k);
		if (v[i].dev) {
			c->updated++;
			nn_log_info("event=wg_peer_set peer=%s kind=device public_key=%s",
				    v[i].dev->id, k);
		} else {
			c->removed++;
			nn_log_info("event=wg_peer_removed public_key=%s reason=change", k);
		}
	}
	c->set_ops = ops;
	c->set_peers = (unsigned int)chg.n_peers;
	nn_wg_device_free(&chg);
	return 0;
}
