// SPDX-License-Identifier: GPL-2.0
/*
 * backend.c - the two WireGuard backends behind one table, and "--wg auto"
 * (see backend.h).
 */
#include <errno.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/iface.h"
#include "wg/backend.h"

int nn_wg_mode_parse(const char *s, enum nn_wg_mode *out)
{
	if (!strcmp(s, "none"))
		*out = NN_WG_MODE_NONE;
	else if (!strcmp(s, "uapi") || !strcmp(s, "userspace"))
		*out = NN_WG_MODE_UAPI;
	else if (!strcmp(s, "genl") || !strcmp(s, "kernel"))
		*out = NN_WG_MODE_GENL;
	else if (!strcmp(s, "auto"))
		*out = NN_WG_MODE_AUTO;
	else
		return -EINVAL;
	return 0;
}

const char *nn_wg_mode_name(enum nn_wg_mode m)
{
	switch (m) {
	case NN_WG_MODE_NONE:
		return "none";
	case NN_WG_MODE_UAPI:
		return "uapi";
	case NN_WG_MODE_GENL:
		return "genl";
	case NN_WG_MODE_AUTO:
		return "auto";
	}
	return "?";
}

int nn_wg_mode_resolve(const char *iface, const char *sockdir, enum nn_wg_mode *out, char *why,
		       size_t why_len)
{
	struct nn_wg_uapi u;
	struct nn_iface_info info;
	struct stat st;
	int err;

	*out = NN_WG_MODE_NONE;
	err = nn_iface_get(iface, &info);
	if (err) {
		snprintf(why, why_len, "couldn't read interface %s: %s", iface, strerror(-err));
		return err;
	}
	if (!strcmp(info.kind, "wireguard")) {
		*out = NN_WG_MODE_GENL;
		snprintf(why, why_len, "link kind wireguard (kernel module)");
		return 0;
	}
	err = nn_wg_uapi_init(&u, iface, sockdir);
	if (err) {
		snprintf(why, why_len, "interface name %s: %s", iface, strerror(-err));
		return err;
	}
	if (!stat(u.path, &st) && S_ISSOCK(st.st_mode)) {
		*out = NN_WG_MODE_UAPI;
		snprintf(why, why_len, "control socket %s", u.path);
		return 0;
	}
	if (info.type == ARPHRD_NONE) {
		snprintf(why, why_len,
			 "%s is an L3 interface (link kind %s) that is neither kernel WireGuard "
			 "nor served on a control socket %s: start its WireGuard daemon first, "
			 "or pass --wg none if something else manages its peers",
			 iface, info.kind[0] ? info.kind : "none", u.path);
		return -EOPNOTSUPP;
	}
	snprintf(why, why_len, "%s is not a WireGuard interface (link kind %s, Ethernet framing)",
		 iface, info.kind[0] ? info.kind : "none");
	return 0;
}

static int uapi_get(const struct nn_wg_backend *b, struct nn_wg_device *dev)
{
	return nn_wg_get(&b->uapi, dev);
}

static int uapi_set(const struct nn_wg_backend *b, const struct nn_wg_device *dev,
		    unsigned int *n_ops)
{
	int err = nn_wg_set(&b->uapi, dev);

	*n_ops = err ? 0 : 1;
	return err;
}

static int genl_get(const struct nn_wg_backend *b, struct nn_wg_device *dev)
{
	return nn_wg_genl_get(&b->genl, dev);
}

static int genl_set(const struct nn_wg_backend *b, const struct nn_wg_device *dev,
		    unsigned int *n_ops)
{
	return nn_wg_genl_set(&b->genl, dev, n_ops);
}

static const struct nn_wg_ops uapi_ops = { "uapi", "socket", uapi_get, uapi_set };
static const struct nn_wg_ops genl_ops = { "genl", "genl", genl_get, genl_set };

int nn_wg_backend_init(struct nn_wg_backend *b, enum nn_wg_mode mode, const char *iface,
		       const char *sockdir)
{
	int err;

	memset(b, 0, sizeof(*b));
	switch (mode) {
	case NN_WG_MODE_UAPI:
		err = nn_wg_uapi_init(&b->uapi, iface, sockdir);
		if (err)
			return err;
		b->ops = &uapi_ops;
		snprintf(b->where, sizeof(b->where), "%s", b->uapi.path);
		return 0;
	case NN_WG_MODE_GENL:
		err = nn_wg_genl_init(&b->genl, iface);
		if (err)
			return err;
		b->ops = &genl_ops;
		snprintf(b->where, sizeof(b->where), "%s", iface);
		return 0;
	default:
		return -EINVAL;
	}
}
