/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nl.h - one request and its answer over a netlink socket (libmnl): the
 * exchange loop rtnetlink (iface.c) and WireGuard's generic netlink family
 * (wg/genl.c) share. Sockets belong to the caller's network namespace.
 */
#ifndef NANAMI_LIB_NL_H
#define NANAMI_LIB_NL_H

#include <stdint.h>
#include <libmnl/libmnl.h>

/* Big enough for any message the kernel sends us: a dump part is at most
 * 32 KiB (netlink_recvmsg caps max_recvmsg_len there), twice that for
 * slack. A part that still does not fit is -EMSGSIZE, never truncated. */
#define NN_NL_RECV_SIZE 65536
#define NN_NL_TIMEOUT_MS 10000 /* the kernel answers inline; a guard only */

/* A bound socket on @bus (NETLINK_ROUTE, NETLINK_GENERIC). NULL + errno. */
struct mnl_socket *nn_nl_open(int bus);

/*
 * Send @nlh (its seq is set here) and run @cb over every answer until the
 * ack, NLMSG_DONE or an error. 0, or -errno: the kernel's error from an
 * NLMSG_ERROR, -EINTR when a dump was interrupted by a concurrent change
 * (NLM_F_DUMP_INTR: the caller retries), -ETIMEDOUT, -EMSGSIZE, or what
 * @cb put in errno when it returned MNL_CB_ERROR.
 */
int nn_nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

#endif /* NANAMI_LIB_NL_H */
