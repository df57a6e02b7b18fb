/* SPDX-License-Identifier: GPL-2.0 */
/*
 * genl.h - the kernel's WireGuard over generic netlink (family "wireguard",
 * <linux/wireguard.h>): WG_CMD_GET_DEVICE as a dump, WG_CMD_SET_DEVICE as
 * one or more acked requests. The same struct nn_wg_device as the UAPI
 * backend, the same meaning of every flag.
 *
 * Splitting: a set goes out in messages of at most msg_max bytes. A netlink
 * attribute's length is 16 bits, so WGDEVICE_A_PEERS cannot carry more than
 * 64 KiB in one message; 2000 peers with two AllowedIPs each take ~350 KiB.
 * The device attributes (private key, listen port, fwmark, REPLACE_PEERS)
 * travel in the first message only. A peer whose AllowedIPs do not fit is
 * continued in the next message: its public key again, its REMOVE_ME and
 * UPDATE_ONLY flags again, the rest of its AllowedIPs, but not
 * REPLACE_ALLOWEDIPS (that would drop the first part), nor its endpoint or
 * keepalive (already set). Every part carries at least one AllowedIP unless
 * the peer has none to send. Messages go out in order, each acked before the
 * next, so removals placed first stay first.
 *
 * Reading: the kernel's dump may split one peer's AllowedIPs the same way
 * (the continuation repeats only the public key); consecutive parts with one
 * key are joined. A dump the kernel marks interrupted (NLM_F_DUMP_INTR: the
 * peer list changed under it) is read again, a few times at most.
 */
#ifndef NANAMI_WG_GENL_H
#define NANAMI_WG_GENL_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

#include "wg/device.h"

#define NN_WG_GENL_MSG_MAX_DEFAULT 32768 /* well under the 64 KiB attribute cap */
#define NN_WG_GENL_MSG_MIN 512		 /* one full peer part always fits */
#define NN_WG_GENL_DUMP_RETRIES 5	 /* NLM_F_DUMP_INTR re-reads */

struct nn_wg_genl {
	char iface[IFNAMSIZ];
	size_t msg_max;	  /* bytes per SET message; 0: default */
	size_t max_peers; /* a get refuses more (-EMSGSIZE); 0: NN_WG_MAX_PEERS_DEFAULT */
};

/* -EINVAL for a name that is not a plain one of < IFNAMSIZ bytes. */
int nn_wg_genl_init(struct nn_wg_genl *g, const char *iface);

/* The whole device into @dev (zeroed first). -ENODEV: no such interface;
 * -EOPNOTSUPP: it is not a WireGuard interface; -ENOENT: the wireguard
 * family is not registered (module not loaded). */
int nn_wg_genl_get(const struct nn_wg_genl *g, struct nn_wg_device *dev);

/* Apply @dev. *@n_msgs (may be NULL) is how many messages went out. The
 * kernel applies each message before it acks it and does not roll back: on
 * error the earlier messages are in place and callers reconcile again. */
int nn_wg_genl_set(const struct nn_wg_genl *g, const struct nn_wg_device *dev,
		   unsigned int *n_msgs);

/* ---- the pure parts, exposed for the unit tests ---- */

/* Called once per SET message built; a nonzero return stops the build. */
typedef int (*nn_wg_genl_emit_fn)(struct nlmsghdr *nlh, void *ctx);

/*
 * Build the SET messages for @dev on @iface (generic netlink family id
 * @family) into @buf (at least @msg_max bytes, reused for every message),
 * calling @emit for each. 0, the first nonzero @emit return, or -EINVAL for
 * an AllowedIP of unknown family or @msg_max below NN_WG_GENL_MSG_MIN.
 */
int nn_wg_genl_build_set(const char *iface, uint16_t family, const struct nn_wg_device *dev,
			 size_t msg_max, void *buf, nn_wg_genl_emit_fn emit, void *ctx);

/* The GET request for @iface into @buf (NN_WG_GENL_MSG_MIN bytes). */
struct nlmsghdr *nn_wg_genl_build_get(const char *iface, uint16_t family, void *buf);

/*
 * Fold one WG_CMD_GET_DEVICE reply message into @dev (joining a peer
 * continued from the previous message). 0, -EPROTO for a malformed message
 * (a peer without its key, an attribute of the wrong size, an AllowedIP
 * longer than its family), -EMSGSIZE over @max_peers, -ENOMEM.
 */
int nn_wg_genl_parse_msg(const struct nlmsghdr *nlh, struct nn_wg_device *dev, size_t max_peers);

#endif /* NANAMI_WG_GENL_H */
