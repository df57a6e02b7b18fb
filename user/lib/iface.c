// SPDX-License-Identifier: GPL-2.0
/*
 * iface.c - facts about a network interface (see iface.h).
 *
 * Asked of the kernel over rtnetlink, never read from /sys/class/net: /sys
 * shows the namespace that mounted it, so under `nsenter --net` or systemd's
 * NetworkNamespacePath= it names another namespace's interfaces (or none).
 * A netlink socket belongs to the namespace of the process that opens it.
 */
#include <errno.h>
#include <net/if_arp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "lib/iface.h"
#include "lib/nl.h"
#include "nanami_abi.h"

/* An ifinfomsg plus the name and a filter: a few hundred bytes. */
#define REQ_SIZE 512

struct link_reply {
	struct nn_iface_info *info;
	bool seen;
};

static int linkinfo_cb(const struct nlattr *a, void *data)
{
	struct nn_iface_info *info = data;

	if (mnl_attr_get_type(a) != IFLA_INFO_KIND)
		return MNL_CB_OK;
	if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_ERROR;
	snprintf(info->kind, sizeof(info->kind), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct nn_iface_info *info = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_MTU:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		info->mtu = mnl_attr_get_u32(a);
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			return MNL_CB_ERROR;
		return mnl_attr_parse_nested(a, linkinfo_cb, info);
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_reply *r = data;
	const struct ifinfomsg *ifi;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi)) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	ifi = mnl_nlmsg_get_payload(nlh);
	r->info->ifindex = ifi->ifi_index;
	r->info->type = ifi->ifi_type;
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, r->info) < 0) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	r->seen = true;
	return MNL_CB_OK;
}

static struct nlmsghdr *link_req(char *buf, uint16_t type, uint16_t flags, const char *ifname)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return nlh;
}

static int check_name(const char *ifname)
{
	size_t n = ifname ? strlen(ifname) : 0;

	if (!n)
		return -EINVAL;
	return n >= IFNAMSIZ ? -ENAMETOOLONG : 0;
}

int nn_iface_get(const char *ifname, struct nn_iface_info *out)
{
	struct link_reply r = { .info = out };
	char buf[REQ_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	int err;

	memset(out, 0, sizeof(*out));
	err = check_name(ifname);
	if (err)
		return err;
	nl = nn_nl_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	nlh = link_req(buf, RTM_GETLINK, 0, ifname);
	/* Counters are most of a link message and of no use here. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	err = nn_nl_talk(nl, nlh, link_cb, &r);
	mnl_socket_close(nl);
	if (!err && (!r.seen || out->ifindex <= 0))
		err = -EPROTO;
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

int nn_iface_set_mtu(const char *ifname, unsigned int mtu)
{
	char buf[REQ_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	int err;

	err = check_name(ifname);
	if (err)
		return err;
	nl = nn_nl_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	nlh = link_req(buf, RTM_NEWLINK, 0, ifname);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	err = nn_nl_talk(nl, nlh, NULL, NULL);
	mnl_socket_close(nl);
	return err;
}

int nn_iface_type(const char *ifname)
{
	struct nn_iface_info info;
	int err = nn_iface_get(ifname, &info);

	return err ? err : (int)info.type;
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
