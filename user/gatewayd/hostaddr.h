/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hostaddr.h - the gateway host's own addresses, from rtnetlink: a
 * subscription to address changes (RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR)
 * whose socket the controller polls, and a full dump that is the truth each
 * time something moved. The controller keeps nn_local equal to the dump
 * (dp/local.h); docs/datapath.md "The gateway host's own addresses".
 */
#ifndef NANAMI_GATEWAYD_HOSTADDR_H
#define NANAMI_GATEWAYD_HOSTADDR_H

#include <stddef.h>

#include "dp/local.h"

struct nn_hostaddr;

/* Subscribe (before the first dump, so no change can fall in between).
 * 0 or -errno. */
int nn_hostaddr_open(struct nn_hostaddr **out);
void nn_hostaddr_close(struct nn_hostaddr *h);

/* The subscription socket, to poll for POLLIN. */
int nn_hostaddr_fd(const struct nn_hostaddr *h);

/* Read every pending notification; 1 when any arrived (or the socket
 * overflowed, which means some were lost), 0 when none, -errno. */
int nn_hostaddr_drain(struct nn_hostaddr *h);

/* Every address of every interface in this network namespace, martians
 * left out (they are dropped as martian anyway, and never by an ACL rule).
 * *out is malloc'ed (NULL when *n is 0). 0 or -errno. */
int nn_hostaddr_dump(struct nn_host_addr **out, size_t *n);

#endif /* NANAMI_GATEWAYD_HOSTADDR_H */
