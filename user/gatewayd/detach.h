/* SPDX-License-Identifier: GPL-2.0 */
/* detach.h - nanami-gatewayd --detach. */
#ifndef NANAMI_GATEWAYD_DETACH_H
#define NANAMI_GATEWAYD_DETACH_H

/* --detach: the underlay guard (when @underlay is set), then the policy
 * programs and pins, then the exit NAT table. 0 or -errno (logged). */
int nn_gw_detach(const char *iface, const char *underlay, const char *pin_dir);

#endif /* NANAMI_GATEWAYD_DETACH_H */
