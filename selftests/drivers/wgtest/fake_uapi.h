/* SPDX-License-Identifier: GPL-2.0 */
/* fake_uapi.h - a scripted, misbehaving UAPI daemon for the tests. */
#ifndef NANAMI_WGTEST_FAKE_UAPI_H
#define NANAMI_WGTEST_FAKE_UAPI_H

/* Listen on <sockdir>/<iface>.sock, serve one connection as @mode says
 * (modes in fake_uapi.c), exit. 0 or -errno. */
int nn_wgtest_fake_daemon(const char *sockdir, const char *iface, const char *mode);

#endif /* NANAMI_WGTEST_FAKE_UAPI_H */
