/* SPDX-License-Identifier: GPL-2.0 */
/*
 * policy.h - the validated, resolved policy: what one assignments snapshot
 * (assignments-v1.md) means once every entry has been checked and every
 * reference and routing layer resolved.
 *
 * Produced by nn_policy_parse() (snapshot.c + validate.c + routing.c), consumed
 * by the compiler (compile.c, which turns it into map entries) and by the
 * reference model (selftests/model/, the test oracle, which judges packets on it
 * directly). Nothing here is BPF-specific.
 *
 * Indices: every cross reference is an index into the arrays of struct
 * nn_policy. In BPF maps a tenant or network is its index + 1 (0 = none).
 * Addresses are 16 bytes, IPv4 as IPv4-mapped IPv6; a prefix length counts
 * IPv6 bits (an IPv4 /N is 96+N).
 */
#ifndef NANAMI_POLICY_H
#define NANAMI_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "nanami_abi.h"

enum nn_traffic_mode {
	NN_TM_UNSET = 0,
	NN_TM_VPN_ONLY = 1,
	NN_TM_FULL_TUNNEL = 2,
};

enum nn_routing_mode {
	NN_RM_UNSET = 0,
	NN_RM_AUTO = 1,
	NN_RM_MANUAL = 2,
};

#define NN_ROLE_INGRESS 0x1 /* "ingress_gateway" */
#define NN_ROLE_EXIT 0x2    /* "exit_gateway" */

enum nn_action {
	NN_ACT_ALLOW = 1,
	NN_ACT_DENY = 2,
};

/* One routing layer; a field that is NN_*_UNSET / empty is "not set here". */
struct nn_routing_layer {
	uint8_t traffic_mode;	   /* enum nn_traffic_mode */
	uint8_t routing_mode;	   /* enum nn_routing_mode */
	char ingress[NN_NAME_MAX]; /* "" = not set */
	char egress[NN_NAME_MAX];  /* "" = not set */
};

/*
 * The gateway's own key as the snapshot gives it (gateway.public_key and
 * gateway.key_generation, identity-v1.md), read by the snapshot parser so
 * that the controller's identity check needs no second parse of the
 * document (at 10k devices that parse cost as much as the rest of an
 * apply). Not judged here: the identity check refuses a snapshot whose key
 * or generation is unreadable, and says so.
 */
struct nn_gw_key {
	bool unreadable; /* public_key not a base64 32-byte key, or key_generation
			  * not an integer >= 0 */
	bool has_key;	 /* present and not null */
	uint8_t public_key[32];
	bool has_gen;
	uint64_t gen;
};

/* Fill @k from the "gateway" object @gateway of a parsed document
 * (policy/jdoc.h; NULL: nothing there). -EBADMSG when unreadable
 * (k->unreadable set), else 0. */
struct nn_jv;
int nn_gw_key_read(const struct nn_jv *gateway, struct nn_gw_key *k);

struct nn_gateway {
	uint32_t roles; /* NN_ROLE_* */
	uint8_t ov6[NN_ADDR_LEN];
	bool has_ov4;
	uint8_t ov4[NN_ADDR_LEN]; /* IPv4-mapped */
	struct nn_prefix *overlay_prefixes;
	size_t n_overlay_prefixes;
	uint16_t listen_port;
	uint16_t mtu;
	struct nn_gw_key key;
};

/* Room for an endpoint as validation accepts it (nn_js_endpoint): a literal
 * address and a port, "[" + 45 (the longest IPv6 text inet_pton takes) +
 * "]:" + 5 digits + NUL = 54. WHY not more: every device carries one, and
 * 128 bytes of it were 128 MB of the policy at 1M devices. */
#define NN_ENDPOINT_MAX 56

/* Another overlay node (entry of "nodes"). */
struct nn_node {
	char id[NN_NAME_MAX];
	uint8_t pubkey[32];
	uint8_t addr6[NN_ADDR_LEN];
	char endpoint[NN_ENDPOINT_MAX]; /* "" = none */
	uint32_t roles;
	uint8_t state; /* enum nn_state */
	uint32_t key_generation;
};

struct nn_tenant {
	char id[NN_NAME_MAX];
};

struct nn_network {
	char id[NN_NAME_MAX];
	uint32_t tenant;	       /* index into tenants */
	char (*gateways)[NN_NAME_MAX]; /* node ids serving this network */
	size_t n_gateways;
	bool served_here; /* this gateway's node_id is in gateways */
	struct nn_routing_layer policy;
	uint32_t first_rule; /* this network's rules: rules[first_rule ..] */
	uint32_t n_rules;
};

struct nn_user {
	char id[NN_NAME_MAX];
	uint32_t network; /* index into networks */
	char (*groups)[NN_NAME_MAX];
	size_t n_groups;
	struct nn_routing_layer pref;
};

/* Where a device's effective egress node id is (routing.c): nowhere, this
 * gateway's node_id, or the egress_device of the routing layer that set it.
 * WHY not the name itself: 64 bytes in every device (64 MB at 1M devices)
 * for a name the policy holds already. */
enum nn_egress_from {
	NN_EGRESS_NONE,
	NN_EGRESS_HERE,	    /* p->node_id */
	NN_EGRESS_DEVICE,   /* d->pref->egress */
	NN_EGRESS_USER,	    /* the user's pref.egress */
	NN_EGRESS_NETWORK,  /* the network's policy.egress */
	NN_EGRESS_DEFAULTS, /* p->defaults.egress */
};

struct nn_device {
	char id[NN_NAME_MAX];
	uint32_t user;	  /* index into users */
	uint32_t network; /* index into networks */
	uint8_t pubkey[32];
	uint8_t addr6[NN_ADDR_LEN];
	bool has_addr4;
	uint8_t addr4[NN_ADDR_LEN];	/* IPv4-mapped */
	char endpoint[NN_ENDPOINT_MAX]; /* "" = none */
	int32_t keepalive;		/* seconds, -1 = none */
	uint8_t state;			/* enum nn_state */
	uint32_t key_generation;
	/* Its own routing_preference, NULL when it sets nothing (most
	 * devices: inline it was 130 of the device's bytes, 0.13 GB at 1M
	 * devices). The policy's own, freed with it; a device copied into
	 * another policy takes it along (compile/delta_apply.c). */
	struct nn_routing_layer *pref;

	/* Effective routing (routing.c), each field from the highest layer
	 * that sets it: device, user, network, system defaults. */
	uint8_t traffic_mode; /* enum nn_traffic_mode, never UNSET */
	uint8_t routing_mode; /* enum nn_routing_mode, never UNSET */
	uint8_t egress_from;  /* enum nn_egress_from: read the effective
				   * egress node id with nn_device_egress() */
	bool egress_here;     /* internet-bound traffic may leave here:
					 * full_tunnel, egress is this gateway,
					 * and this gateway has the exit role */
};

struct nn_resource {
	char id[NN_NAME_MAX];
	uint32_t network; /* index into networks */
	struct nn_prefix *prefixes;
	size_t n_prefixes;
};

struct nn_port_span {
	uint16_t lo;
	uint16_t hi;
};

struct nn_rule {
	char id[NN_NAME_MAX];
	uint32_t network; /* index into networks */
	uint8_t action;	  /* enum nn_action */

	/* src: "*" or the union of devices, users' devices and groups'
	 * devices, all of this network; resolved to device indices. */
	bool src_star;
	uint32_t *src_devices;
	size_t n_src_devices;
	/* The part of src_devices reached through "groups" (the compiler keeps
	 * group-level and device/user-level sources apart, see compile.h).
	 * The same array as src_devices when they are equal (sources by
	 * groups only): read-only, freed by nn_rule_release() alone. */
	uint32_t *src_grp_devices;
	size_t n_src_grp_devices;

	/* dst: "*" (every device and resource of the network) or any of
	 * devices, resources, prefixes. */
	bool dst_star;
	uint32_t *dst_devices;
	size_t n_dst_devices;
	uint32_t *dst_resources;
	size_t n_dst_resources;
	struct nn_prefix *dst_prefixes;
	size_t n_dst_prefixes;

	uint16_t proto;		    /* 0..255, or NN_PROTO_ANY */
	bool all_ports;		    /* "ports" absent (or proto without ports) */
	struct nn_port_span *ports; /* tcp/udp only; empty list matches nothing */
	size_t n_ports;
};

struct nn_policy {
	uint64_t generation;
	char node_id[NN_NAME_MAX];
	struct nn_gateway gw;
	struct nn_routing_layer defaults; /* system_defaults */

	struct nn_tenant *tenants;
	size_t n_tenants;
	struct nn_network *networks;
	size_t n_networks;
	struct nn_user *users;
	size_t n_users;
	struct nn_device *devices;
	size_t n_devices;
	struct nn_node *nodes;
	size_t n_nodes;
	struct nn_resource *resources;
	size_t n_resources;
	struct nn_rule *rules; /* grouped by network, ACL order */
	size_t n_rules;

	/* The address space of what validation dropped (assignments-v1.md:
	 * "Dropping an entry must never open what it covered"): the prefixes
	 * of dropped resources (and resource prefixes dropped alone), the
	 * addresses (/128) of dropped devices and nodes, every claim inside a
	 * dropped network or tenant, read as leniently as the text allows.
	 * Nothing may reach it or come from it; a standing identity at one of
	 * these addresses and a longer standing resource prefix keep theirs.
	 * Sorted, unique. */
	struct nn_prefix *closed;
	size_t n_closed;
};

/* Configurable maxima; a snapshot over any of them is rejected whole. */
struct nn_limits {
	size_t max_body;  /* bytes of JSON */
	size_t max_depth; /* JSON nesting */
	size_t max_devices;
	size_t max_rules;
	size_t max_prefixes; /* resource + ACL dst + overlay prefixes */
	size_t max_nodes;
};

void nn_limits_default(struct nn_limits *lim);

/* Validation messages: one line per problem, naming the entry
 * ("tenant=acme network=acme-prod device=alice-laptop") and the reason. */
struct nn_errlist {
	char **msgs;
	size_t n;
	size_t cap;
};

void nn_errlist_add(struct nn_errlist *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void nn_errlist_free(struct nn_errlist *e);

/*
 * Parse and validate a snapshot. Entries that break a rule are dropped alone
 * where that cannot widen access, each with a message in @errs, and the call
 * still succeeds. Returns 0 and sets *out on success; returns -EINVAL (and
 * *out = NULL) when the snapshot must be rejected as a whole, with the reason
 * as the last message in @errs. @node_id, when not NULL, must equal the
 * snapshot's node_id.
 */
int nn_policy_parse(const char *json, size_t len, const char *node_id, const struct nn_limits *lim,
		    struct nn_policy **out, struct nn_errlist *errs);

/*
 * nn_policy_parse() of a document already parsed (policy/jdoc.h), e.g. the
 * control-plane client's held document (policy/held.h): one parse of a
 * fetched snapshot instead of two (at 1M devices the second tree was
 * ~760 MB). @len: the bytes of the document's text (the body limit).
 * The tree must have been parsed as strictly as nn_policy_parse() parses
 * (nn_jdoc_parse: duplicate keys, UTF-8, ...) and is only read; the
 * policy borrows nothing from it (every id and string is copied), so the
 * tree may change or go once this returns. A document over the body or
 * nesting limit (nn_policy_tree_fits) is not judged here: -EINVAL with a
 * message saying so; the caller validates its text instead, whose
 * message names the byte (the held document's path does: held_policy.c).
 */
int nn_policy_from_tree(const struct nn_jv *root, size_t len, const char *node_id,
			const struct nn_limits *lim, struct nn_policy **out,
			struct nn_errlist *errs);
/* 0 when @root (of @len bytes of text) is within @lim's body and nesting
 * limits, -EFBIG over the body's, -E2BIG deeper than max_depth. */
int nn_policy_tree_fits(const struct nn_jv *root, size_t len, const struct nn_limits *lim);

void nn_policy_free(struct nn_policy *p);

/* From this much per-network work (list elements), validation runs on two
 * threads with the serial messages and verdict (validate_split.c); tests
 * lower it to 0 to compare the two. */
extern size_t nn_validate_par_min;
/* Tests: the networks handed to the two threads alternately rather than
 * to whichever is free, so both threads' work is merged at any size. */
extern bool nn_validate_split_fixed;

/* Effective routing of one device @d of @p (d->network and d->user set), as
 * the snapshot parser resolves every device's, with the same messages into
 * @errs: for the incremental path, which judges one device alone. */
void nn_resolve_device_routing(struct nn_policy *p, struct nn_device *d, struct nn_errlist *errs);
/* The effective egress node id of device @d of @p (resolved as above), ""
 * = none: read from the layer that set it, so valid while @p's layers are
 * the ones @d was resolved under. */
const char *nn_device_egress(const struct nn_policy *p, const struct nn_device *d);

/* Free what one rule owns (not the rule itself); the rule stays safe to free
 * again. */
void nn_rule_release(struct nn_rule *r);

/* Lookups used by the compiler and the model (linear; not for packet paths). */
int nn_policy_find_network(const struct nn_policy *p, const char *id);

/* Which device or node of @p holds a WireGuard public key (keyindex.c):
 * the index borrows @p's ids (free it before @p). NULL: out of memory. */
struct nn_key_index;
struct nn_key_index *nn_key_index_new(const struct nn_policy *p);
/* The id, or NULL when no device or node holds @key. */
const char *nn_key_index_id(const struct nn_key_index *ix, const uint8_t key[32]);
void nn_key_index_free(struct nn_key_index *ix);

#endif /* NANAMI_POLICY_H */
