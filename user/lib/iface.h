/* SPDX-License-Identifier: GPL-2.0 */
/* iface.h - facts about a network interface the programs attach to, in the
 * caller's network namespace. */
#ifndef NANAMI_LIB_IFACE_H
#define NANAMI_LIB_IFACE_H

/* The device type of @ifname (ARPHRD_*), or -errno (-ENODEV: no such
 * interface in this network namespace). */
int nn_iface_type(const char *ifname);

/* Framing of @ifname from its device type: NN_FRAMING_L3 for ARPHRD_NONE
 * (TUN, wg), NN_FRAMING_ETH otherwise; -errno when it cannot be read. */
int nn_iface_framing(const char *ifname);

#endif /* NANAMI_LIB_IFACE_H */
