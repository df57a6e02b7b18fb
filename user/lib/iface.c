// SPDX-License-Identifier: GPL-2.0
/*
 * iface.c - facts about a network interface (see iface.h).
 *
 * Asked of the kernel through a socket of the caller's network namespace,
 * never read from /sys/class/net: /sys shows the namespace that mounted it,
 * so under `nsenter --net` or systemd's NetworkNamespacePath= it names
 * another namespace's interfaces (or none).
 */
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/iface.h"
#include "nanami_abi.h"

int nn_iface_type(const char *ifname)
{
	struct ifreq ifr;
	int fd, err = 0;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name) - 1);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	close(fd);
	return err ? err : ifr.ifr_hwaddr.sa_family;
}

int nn_iface_framing(const char *ifname)
{
	int type = nn_iface_type(ifname);

	if (type < 0)
		return type;
	/* ARPHRD_NONE: TUN in L3 mode, which is how wireguard-go and the
	 * kernel's wireguard present wg0. */
	return type == ARPHRD_NONE ? NN_FRAMING_L3 : NN_FRAMING_ETH;
}
