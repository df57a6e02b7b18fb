/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iface.h - facts about a network interface the programs attach to, asked of
 * the kernel over rtnetlink in the caller's network namespace.
 */
#ifndef NANAMI_LIB_IFACE_H
#define NANAMI_LIB_IFACE_H

#include <net/if.h>

struct nn_iface_info {
	int ifindex;
	unsigned int type; /* ARPHRD_* (ifinfomsg.ifi_type) */
	unsigned int mtu;
	/* IFLA_INFO_KIND: "wireguard", "tun", "veth", ...; "" for devices
	 * without rtnl_link_ops (a physical NIC, lo). */
	char kind[IFNAMSIZ];
};

/* One RTM_GETLINK for @ifname. 0, -ENODEV when there is no such interface
 * in this network namespace, -ENAMETOOLONG / -EINVAL for a name that is not
 * one, -EPROTO for a reply without the facts, other -errno. */
int nn_iface_get(const char *ifname, struct nn_iface_info *out);

/* RTM_NEWLINK with IFLA_MTU. 0 or -errno (-EINVAL: out of the device's
 * range, -EPERM without CAP_NET_ADMIN). */
int nn_iface_set_mtu(const char *ifname, unsigned int mtu);

/* The device type of @ifname (ARPHRD_*), or -errno (as nn_iface_get). */
int nn_iface_type(const char *ifname);

/* Framing of @ifname from its device type: NN_FRAMING_L3 for ARPHRD_NONE
 * (TUN, wg), NN_FRAMING_ETH otherwise; -errno when it cannot be read. */
int nn_iface_framing(const char *ifname);

#endif /* NANAMI_LIB_IFACE_H */
