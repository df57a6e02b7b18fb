/* SPDX-License-Identifier: GPL-2.0 */
/*
 * backend.h - one way to read and write a WireGuard device, whichever
 * implementation runs it: wireguard-go's userspace API socket (uapi.h) or
 * the kernel's generic netlink family (genl.h). Reconcile (reconcile.h), the
 * metrics page and `nanami-gwctl devices` go through this and nothing else.
 *
 * "--wg auto" (nn_wg_mode_resolve) asks the kernel about the interface in
 * the caller's network namespace: link kind "wireguard" is the kernel's
 * module (genl); otherwise a control socket <sockdir>/<iface>.sock is
 * wireguard-go (uapi); otherwise an L3 interface (ARPHRD_NONE, as wg0 is)
 * is refused, because running on a tunnel whose peers nobody manages would
 * leave revoked peers in place; an Ethernet one (veth in tests) is left
 * alone (none).
 */
#ifndef NANAMI_WG_BACKEND_H
#define NANAMI_WG_BACKEND_H

#include <stddef.h>

#include "wg/device.h"
#include "wg/genl.h"
#include "wg/uapi.h"

enum nn_wg_mode {
	NN_WG_MODE_NONE = 0, /* --wg none: leave the interface alone */
	NN_WG_MODE_UAPI = 1, /* --wg uapi: cross-platform userspace API */
	NN_WG_MODE_GENL = 2, /* --wg genl: the kernel's wireguard module */
	NN_WG_MODE_AUTO = 3, /* --wg auto: nn_wg_mode_resolve() picks */
};

/* "none", "uapi" (alias "userspace"), "genl" (alias "kernel"), "auto".
 * 0 or -EINVAL. */
int nn_wg_mode_parse(const char *s, enum nn_wg_mode *out);
const char *nn_wg_mode_name(enum nn_wg_mode m);

/*
 * What "--wg auto" means for @iface (see above). @sockdir NULL means
 * NN_WG_SOCK_DIR. 0 with *@out set (never AUTO) and @why saying what decided
 * it; -EOPNOTSUPP for an L3 interface with neither, @why saying so and what
 * to do; -ENODEV and other -errno when the interface cannot be read.
 */
int nn_wg_mode_resolve(const char *iface, const char *sockdir, enum nn_wg_mode *out, char *why,
		       size_t why_len);

struct nn_wg_backend;

struct nn_wg_ops {
	const char *name;  /* "uapi" / "genl", for logs */
	const char *where; /* the log key naming b->where: "socket" / "genl" */
	int (*get)(const struct nn_wg_backend *b, struct nn_wg_device *dev);
	/* *n_ops: set operations sent (UAPI: 1; genl: one per message). */
	int (*set)(const struct nn_wg_backend *b, const struct nn_wg_device *dev,
		   unsigned int *n_ops);
};

struct nn_wg_backend {
	const struct nn_wg_ops *ops;
	char where[128];	/* for logs: the socket path, or the interface */
	struct nn_wg_uapi uapi; /* mode uapi */
	struct nn_wg_genl genl; /* mode genl */
};

/* @mode UAPI or GENL (-EINVAL otherwise, and for a bad interface name). */
int nn_wg_backend_init(struct nn_wg_backend *b, enum nn_wg_mode mode, const char *iface,
		       const char *sockdir);

static inline int nn_wg_backend_get(const struct nn_wg_backend *b, struct nn_wg_device *dev)
{
	return b->ops->get(b, dev);
}

static inline int nn_wg_backend_set(const struct nn_wg_backend *b, const struct nn_wg_device *dev,
				    unsigned int *n_ops)
{
	return b->ops->set(b, dev, n_ops);
}

#endif /* NANAMI_WG_BACKEND_H */
