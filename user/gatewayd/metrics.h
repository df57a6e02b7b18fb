/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics.h - the controller's Prometheus text endpoint (--metrics-listen).
 *
 * Dataplane figures are read from the maps at scrape time; controller
 * figures come from struct nn_ctl_state (gatewayd/state.h), which the
 * controller updates under its mutex. A scrape never blocks the controller
 * for longer than a copy. Served by libmicrohttpd (gatewayd/http.h).
 */
#ifndef NANAMI_GATEWAYD_METRICS_H
#define NANAMI_GATEWAYD_METRICS_H

#include "dp/loader.h"
#include "gatewayd/state.h"

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
