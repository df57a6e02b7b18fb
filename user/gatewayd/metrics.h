/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics.h - the controller's Prometheus text endpoint (--metrics-listen).
 *
 * Dataplane figures are read from the maps at scrape time; controller
 * figures come from struct nn_ctl_state, which the controller updates under
 * its mutex. A scrape never blocks the controller for longer than a copy.
 */
#ifndef NANAMI_GATEWAYD_METRICS_H
#define NANAMI_GATEWAYD_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "dp/loader.h"

enum nn_cp_state {
	NN_CP_NONE = 0,	   /* file mode: no control plane */
	NN_CP_DOWN = 1,	   /* unreachable */
	NN_CP_POLLING = 2, /* reachable, event stream down */
	NN_CP_STREAM = 3,  /* event stream up */
};

#define NN_METRICS_MAX_PEERS 4096

struct nn_peer_metrics {
	char id[NN_NAME_MAX];	     /* device or node id */
	int64_t last_handshake_unix; /* 0: never */
	uint64_t rx_bytes;
	uint64_t tx_bytes;
};

struct nn_ctl_state {
	pthread_mutex_t mu;
	uint64_t applied_generation;
	int64_t last_sync_unix;	    /* last successful sync with desired state */
	uint64_t validation_errors; /* entries rejected, snapshots rejected */
	uint64_t apply_errors;
	uint64_t drift_repairs;
	uint64_t map_writes;
	uint64_t wg_changes;
	int cp_state;		       /* enum nn_cp_state */
	struct nn_peer_metrics *peers; /* owned; replaced after each wg reconcile */
	size_t n_peers;
};

void nn_ctl_state_init(struct nn_ctl_state *st);

struct nn_metrics;
struct nn_underlay;

/* Serve http://@listen/metrics ("ADDR:PORT", "[v6]:PORT") from a thread.
 * @ul is the underlay guard whose drops (wg_*) are shown, NULL when the
 * controller runs without one; it must outlive the server. */
int nn_metrics_start(const char *listen, struct nn_dp *dp, const struct nn_underlay *ul,
		     struct nn_ctl_state *st, struct nn_metrics **out);
void nn_metrics_stop(struct nn_metrics *m);

/* Render the whole page into a malloc'd string (also used by tests). */
char *nn_metrics_render(struct nn_dp *dp, const struct nn_underlay *ul, struct nn_ctl_state *st);

#endif /* NANAMI_GATEWAYD_METRICS_H */
