/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ctlpath.h - where the controller's control socket lives by default
 * (docs/interfaces.md): one per overlay interface, in a root-only directory.
 * Shared by nanami-gatewayd (serves it) and nanami-gwctl (asks it).
 */
#ifndef NANAMI_LIB_CTLPATH_H
#define NANAMI_LIB_CTLPATH_H

#include <stddef.h>
#include <stdio.h>

#define NN_CTL_SOCK_DIR "/run/nanami"

static inline void nn_default_ctl_sock(const char *iface, char *buf, size_t len)
{
	snprintf(buf, len, NN_CTL_SOCK_DIR "/%s.sock", iface);
}

#endif /* NANAMI_LIB_CTLPATH_H */
