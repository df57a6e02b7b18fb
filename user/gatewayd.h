/* SPDX-License-Identifier: GPL-2.0 */
/* gatewayd.h - what nanami-gatewayd does besides running (daemon.h). */
#ifndef NANAMI_GATEWAYD_H
#define NANAMI_GATEWAYD_H

/* Framing of @ifname from its device type: L3 for ARPHRD_NONE (TUN, wg). */
int nn_iface_framing(const char *ifname);

/* --detach: the underlay guard (when @underlay is set), then the policy
 * programs and pins, then the exit NAT table. 0 or -errno (logged). */
int nn_gw_detach(const char *iface, const char *underlay, const char *pin_dir);

#endif /* NANAMI_GATEWAYD_H */
