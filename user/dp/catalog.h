/* SPDX-License-Identifier: GPL-2.0 */
/*
 * catalog.h - the live generation's names, read back from the pinned maps:
 * counter slot -> device or rule, tenant and network index -> name, and the
 * live slot's addresses. What nanami-gwctl prints instead of indices, and
 * what explain (gwctl's and the controller's) names a verdict with.
 */
#ifndef NANAMI_DP_CATALOG_H
#define NANAMI_DP_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "nanami_abi.h"

struct nn_named {
	uint32_t slot;
	struct nn_name name;
};

struct nn_cat_addr {
	uint8_t addr[NN_ADDR_LEN];
	struct nn_addr_info info;
};

struct nn_catalog {
	uint32_t epoch;
	uint32_t slot;	       /* live slot: epoch & 1 */
	uint32_t max_rules;    /* nn_rules stride */
	struct nn_named *devs; /* sorted by slot */
	size_t n_devs;
	struct nn_named *rules; /* sorted by slot */
	size_t n_rules;
	struct nn_cat_addr *addrs; /* live slot only */
	size_t n_addrs;
	/* index -> name, from devices and rules of the live generation */
	char (*tenants)[NN_NAME_MAX];
	size_t n_tenants;
	char (*networks)[NN_NAME_MAX];
	size_t n_networks;
};

/* Read the catalog from @map_fd (indexed by enum nn_map_id; the pinned
 * ones must be open). 0 or -errno; on error @c is empty. */
int nn_catalog_load(const int *map_fd, struct nn_catalog *c);
void nn_catalog_free(struct nn_catalog *c);

/* NULL when the slot (or index) names nothing in the live generation. */
const struct nn_name *nn_cat_dev_name(const struct nn_catalog *c, uint32_t slot);
const struct nn_name *nn_cat_rule_name(const struct nn_catalog *c, uint32_t slot);
const struct nn_cat_addr *nn_cat_addr_find(const struct nn_catalog *c,
					   const uint8_t a[NN_ADDR_LEN]);
const char *nn_cat_tenant_name(const struct nn_catalog *c, uint32_t idx);
const char *nn_cat_network_name(const struct nn_catalog *c, uint32_t idx);
/* Rule index of the live generation -> counter slot (NN_NONE32 if none). */
uint32_t nn_cat_rule_index_slot(const int *map_fd, const struct nn_catalog *c, uint32_t idx);

#endif /* NANAMI_DP_CATALOG_H */
