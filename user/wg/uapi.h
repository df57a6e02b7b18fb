/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uapi.h - client of the WireGuard cross-platform userspace API
 * (wireguard.com/xplatform): the "get=1" / "set=1" key=value protocol that
 * wireguard-go serves on /var/run/wireguard/<iface>.sock, the same one wg(8)
 * speaks to it.
 *
 * Every call is bounded: in time (the daemon must make progress within
 * timeout_ms, and the whole exchange, connect to last byte, ends by
 * total_timeout_ms), in reply size, line length and number of peers. Errors are
 * -errno; an "errno=N" reply from the daemon is returned as -|N| (wireguard-go
 * answers with negative numbers, the spec with positive ones).
 */
#ifndef NANAMI_WG_UAPI_H
#define NANAMI_WG_UAPI_H

#include <stddef.h>

#include "wg/device.h"

#define NN_WG_SOCK_DIR "/var/run/wireguard"

#define NN_WG_TIMEOUT_MS_DEFAULT 5000	     /* no progress for this long: give up */
#define NN_WG_TOTAL_TIMEOUT_MS_DEFAULT 60000 /* whole exchange */
#define NN_WG_SET_MS_PER_PEER_DEFAULT 10     /* added to a set's deadline per peer */
#define NN_WG_MAX_BYTES_DEFAULT (128u << 20) /* ~300k peers as wireguard-go prints them */
#define NN_WG_LINE_MAX 1024		     /* longest key=value line we accept */
/* wireguard-go's MaxPeers (device/constants.go): a set adding more fails
 * with the connection dropped. Only named in the error, never enforced here:
 * another UAPI daemon may hold more. */
#define NN_WG_GO_MAX_PEERS 65536u

/* Where and how to talk to one interface's daemon. */
struct nn_wg_uapi {
	char path[108];	      /* sizeof(sun_path) */
	int timeout_ms;	      /* longest wait for any progress */
	int total_timeout_ms; /* whole exchange; a set gets in addition */
	int set_ms_per_peer;  /* this much per peer section it sends */
	size_t max_bytes;     /* reply size cap */
	size_t max_peers;
};

/*
 * @sockdir NULL means NN_WG_SOCK_DIR. Fills in the defaults above.
 * -EINVAL for an interface name that is not a plain name of < IFNAMSIZ bytes,
 * -ENAMETOOLONG when the socket path does not fit.
 */
int nn_wg_uapi_init(struct nn_wg_uapi *u, const char *iface, const char *sockdir);

/*
 * Read the whole device into @dev (zeroed first; free with
 * nn_wg_device_free()). -ENOENT / -ECONNREFUSED: no daemon behind the path;
 * -ETIMEDOUT; -EMSGSIZE over a cap; -EPROTO for a reply we cannot read;
 * -N for "errno=N".
 */
int nn_wg_get(const struct nn_wg_uapi *u, struct nn_wg_device *dev);

/*
 * Apply @dev as one set operation. The daemon applies lines in order and
 * does not roll back, so on error part of it may be in place: callers
 * re-read and reconcile again.
 */
int nn_wg_set(const struct nn_wg_uapi *u, const struct nn_wg_device *dev);

#endif /* NANAMI_WG_UAPI_H */
