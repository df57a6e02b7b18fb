/* SPDX-License-Identifier: GPL-2.0 */
/*
 * model.h - the reference model of the datapath (docs/datapath.md), the
 * oracle the BPF programs are tested against.
 *
 * It judges packets straight from the validated policy (struct nn_policy)
 * with loops over devices and rules, its own packet parser and plain C hash
 * tables for flows and fragments. It knows nothing about compiled maps: if
 * the compiler or the BPF side is wrong, the two disagree and a test fails.
 *
 * The model does not own the policy: the caller keeps it alive until the
 * next nn_model_set_policy() or nn_model_free().
 */
#ifndef NANAMI_MODEL_H
#define NANAMI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanami_abi.h"
#include "policy/policy.h"

struct nn_model;

struct nn_model_verdict {
	int reason;	/* enum nn_reason, NN_PASS = pass */
	int32_t rule;	/* index into p->rules of the deciding rule, -1 none */
	bool untouched; /* ARP/ND passed untouched */
	bool flow_hit;	/* a tracked flow (or tracked ICMP error) decided */
};

/* A model judging under @p, policy epoch 1, empty flow and fragment tables.
 * Returns NULL (errno = ENOMEM) when out of memory. */
struct nn_model *nn_model_new(const struct nn_policy *p);
void nn_model_free(struct nn_model *m);

/* Apply a new policy generation: the epoch advances, flows and fragment
 * verdicts are kept; flows of the older epoch are re-judged on their next
 * packet (datapath.md "Tracked flow"). */
void nn_model_set_policy(struct nn_model *m, const struct nn_policy *p);

uint32_t nn_model_epoch(const struct nn_model *m);

/*
 * This gateway host's own non-overlay addresses (verdicts.md "Destination":
 * any address of a local interface), @n of them, IPv4 as IPv4-mapped; the
 * model keeps a copy. Like a policy change, a new set advances the epoch:
 * open flows are judged again (docs/datapath.md "The gateway host's own
 * addresses"). 0, or -1 (errno ENOMEM; the old set stays).
 */
int nn_model_set_host_addrs(struct nn_model *m, const uint8_t (*addrs)[NN_ADDR_LEN], size_t n);

void nn_model_judge(struct nn_model *m, enum nn_dir dir, enum nn_framing framing,
		    const uint8_t *pkt, size_t len, uint64_t now_ns, struct nn_model_verdict *v);

/* Forget every flow and every fragment verdict. */
void nn_model_flush_flows(struct nn_model *m);

/* Number of stored entries (expired ones linger until found), for tests. */
size_t nn_model_flow_count(const struct nn_model *m);
size_t nn_model_frag_count(const struct nn_model *m);

/*
 * ---- The model's parser (parse.c), public so tests can check it ----
 */

/* Endpoints, protocol and ports of a packet or of an ICMP error's quote.
 * Addresses are 16 bytes, IPv4 as IPv4-mapped. */
struct nn_mtuple {
	uint8_t src[NN_ADDR_LEN];
	uint8_t dst[NN_ADDR_LEN];
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	bool v6;
};

struct nn_mpkt {
	bool untouched;	    /* ARP, or ND with Ethernet framing */
	struct nn_mtuple t; /* ports 0 where datapath.md says so */
	uint8_t tcp_flags;
	bool frag_first;   /* offset 0, more fragments */
	bool frag_later;   /* offset > 0: no L4 header was read; IPv6: proto 0 */
	uint32_t frag_id;  /* IPv4 16-bit id / IPv6 32-bit id */
	uint16_t frag_off; /* fragment offset, 8-byte units */
	bool frag_mf;	   /* more fragments */
	bool frag_hdr;	   /* IPv6: a Fragment header, even an atomic one */
	bool icmp;	   /* ICMP in IPv4 or ICMPv6 in IPv6 */
	bool echo;	   /* echo request/reply: ports are the echo id */
	bool icmp_err;	   /* an error with a parsed quote */
	uint8_t icmp_type;
	uint8_t icmp_code;
	struct nn_mtuple quote; /* the quoted flow, when icmp_err */
	bool quote_flowable;	/* the quote can name a flow at all */
};

/* Parse @pkt as docs/datapath.md "Parsing" says. Returns NN_PASS with @out
 * filled, or NN_R_MALFORMED. */
int nn_model_parse(enum nn_framing framing, const uint8_t *pkt, size_t len, struct nn_mpkt *out);

/* True when the tuple's protocol is ICMP of its family (1 in IPv4, 58 in
 * IPv6); ICMP carried in the other family is "another protocol". */
bool nn_mtuple_is_icmp(const struct nn_mtuple *t);

/*
 * ---- Flow and fragment tables (flow.c), shared by model*.c ----
 */

struct nn_mentry;

/* Separate chaining, doubling when the load passes 2: unbounded, since the
 * oracle must never evict (eviction is a BPF-side property tested apart). */
struct nn_mtab {
	struct nn_mentry **b;
	size_t nb;
	size_t n;
};

int nn_mtab_init(struct nn_mtab *t);
void nn_mtab_clear(struct nn_mtab *t);
void nn_mtab_free(struct nn_mtab *t);

/* Canonical key of @t: the lower (address, port) endpoint is a. *is_b is
 * set when the tuple goes b -> a. */
void nn_mflow_key(const struct nn_mtuple *t, struct nn_flow_key *k, bool *is_b);
/* The flow of @k, or NULL; an expired one is deleted and reported absent. */
struct nn_flow *nn_mflow_find(struct nn_mtab *t, const struct nn_flow_key *k, uint64_t now_ns);
/* Insert (or overwrite) @k; NULL when out of memory. */
struct nn_flow *nn_mflow_put(struct nn_mtab *t, const struct nn_flow_key *k);
void nn_mflow_del(struct nn_mtab *t, const struct nn_flow_key *k);
/* The packet (@t, @tcp_flags) of flow @f passed: refresh and move state. */
void nn_mflow_update(struct nn_flow *f, const struct nn_mtuple *t, uint8_t tcp_flags,
		     uint64_t now_ns);
/* The opening packet of flow @f under key @k, as a tuple. */
void nn_mflow_opener(const struct nn_flow_key *k, const struct nn_flow *f, struct nn_mtuple *t);

void nn_mfrag_key(const struct nn_mpkt *pk, struct nn_frag_key *k);
struct nn_frag *nn_mfrag_find(struct nn_mtab *t, const struct nn_frag_key *k, uint64_t now_ns);
struct nn_frag *nn_mfrag_put(struct nn_mtab *t, const struct nn_frag_key *k);

#endif /* NANAMI_MODEL_H */
