/* SPDX-License-Identifier: GPL-2.0 */
/*
 * faults.h - JSON-level fault injectors for the fail-closed property test:
 * one for every rule of assignments-v1.md "Validation". Each takes a valid
 * snapshot (the "repaired" one), breaks one entry of it the way a buggy or
 * hostile control plane would, and says what the gateway must still keep
 * closed: the address space the faulty entry claims in the faulty text.
 *
 * The space is computed here from the JSON text alone, never from the
 * validator's output, so a validator that forgets to close something is
 * caught rather than excused.
 */
#ifndef NANAMI_FAULTS_H
#define NANAMI_FAULTS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/addr.h"
#include "nanami_abi.h"
#include "randpolicy.h"

enum flt_kind {
	FLT_RES_DUP_ID = 0,   /* two resources of one network share an id */
	FLT_RES_HOST_BITS,    /* a resource prefix with host bits set */
	FLT_RES_DEFAULT,      /* ::/0 or 0.0.0.0/0 as a resource prefix */
	FLT_RES_OVERLAY,      /* a resource prefix overlapping overlay_prefixes */
	FLT_RES_CROSS_TENANT, /* a resource prefix of another tenant: whole reject */
	FLT_RES_BAD_ID,	      /* resource_id too long */
	FLT_DEV_DUP_ID,	      /* two devices share an id */
	FLT_DEV_OUTSIDE,      /* an address outside overlay_prefixes */
	FLT_DEV_PREFIX,	      /* a prefix where a single address belongs */
	FLT_DEV_BAD_ADDR,     /* an address that does not parse */
	FLT_DEV_DUP_ADDR,     /* an address another device holds */
	FLT_DEV_BAD_KEY,      /* a public key that is not 32 bytes */
	FLT_DEV_DUP_KEY,      /* a public key another device holds */
	FLT_DEV_BAD_USER,     /* user_id not of the network */
	FLT_DEV_LONG_ID,      /* device_id too long */
	FLT_DEV_BAD_EGRESS,   /* manual egress_device that serves nothing */
	FLT_NET_NO_ACL,	      /* a network without "acl" */
	FLT_NET_DUP_ID,	      /* two networks share an id */
	FLT_TEN_DUP_ID,	      /* two tenants share an id */
	FLT_TEN_LONG_ID,      /* tenant_id too long */
	FLT_NODE_DUP_ID,      /* two nodes share an id */
	FLT_NODE_OUTSIDE,     /* a node address outside overlay_prefixes */
	FLT_ACL_UNKNOWN_REF,  /* a rule names a device not of its network */
	FLT_ACL_BAD_PORT,     /* a rule with a port > 65535 */
	FLT_ACL_DUP_ID,	      /* two rules of one ACL share an id */
	FLT_COUNT,
};

#define FLT_MAX_SPACE 64

struct flt_result {
	char *json; /* the faulty snapshot (malloc'd) */
	/* True when the fault can only be handled by rejecting the snapshot
	 * as a whole (a deny rule that cannot be dropped, an overlap between
	 * tenants): the last applied state must stay. */
	bool whole;
	/* The tenant(s) of the faulty entry ("" for nodes). */
	char tenant[2][NN_NAME_MAX];
	/* What the faulty entries claim and must stay closed. */
	struct nn_prefix space[FLT_MAX_SPACE];
	size_t n_space;
	/* A device that must not reach the internet (manual egress gone bad),
	 * by its addresses; n_noegress 0 when none. */
	uint8_t noegress[2][NN_ADDR_LEN];
	size_t n_noegress;
	const char *what; /* one line for reports */
};

const char *flt_name(enum flt_kind k);

/*
 * Break one entry of the valid snapshot @json with fault @k, choices drawn
 * from @r. Returns 0 and fills @out; -ENOENT when the snapshot has nothing
 * to break that way (no resource, one tenant, ...); -ENOMEM / -EINVAL on
 * failure.
 */
int flt_inject(const char *json, enum flt_kind k, struct nn_rng *r, struct flt_result *out);

void flt_result_free(struct flt_result *f);

#endif /* NANAMI_FAULTS_H */
