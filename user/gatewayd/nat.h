/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nat.h - the exit gateway's source NAT and forwarding.
 *
 * When this gateway has the exit_gateway role, overlay sources leaving for
 * the internet (any destination outside the overlay and resource prefixes,
 * through any interface but the overlay one) are masqueraded, and IPv4/IPv6
 * forwarding is on. Resources keep seeing the real overlay source. The rules live in one nftables table the
 * controller owns ("inet nanami_<iface>"), replaced atomically on every
 * apply and deleted by --detach; no other table is ever touched.
 */
#ifndef NANAMI_GATEWAYD_NAT_H
#define NANAMI_GATEWAYD_NAT_H

#include "policy/policy.h"

/* Table name for @iface into @buf. */
void nn_nat_table(const char *iface, char *buf, size_t len);

/* Make the table match @p (exit role: masquerade + forwarding; otherwise
 * no table). 0 or -errno; the nft error text goes to the log. */
int nn_nat_apply(const char *iface, const struct nn_policy *p);

/* Delete our table if present. */
int nn_nat_remove(const char *iface);

#endif /* NANAMI_GATEWAYD_NAT_H */
