/* SPDX-License-Identifier: GPL-2.0 */
/*
 * randpolicy.h - random but valid assignments snapshots (assignments-v1.md)
 * as JSON text, for the differential test. The text goes through the real
 * parser (nn_policy_parse), so the compiler and the model see exactly what
 * gatewayd would.
 *
 * Address plan, chosen so that every snapshot is valid by construction:
 *  - this gateway "gw-1": fd7a:6e61:6e61::1 and (mostly) 100.96.0.1, overlay
 *    prefixes fd7a:6e61:6e61::/48 and 100.96.0.0/12;
 *  - nodes n1..n3: fd7a:6e61:6e61::11..13;
 *  - network k's devices: fd7a:6e61:6e61:k0::d and 100.96.k.d;
 *  - network k's resources: inside fd00:k::/32 and 10.k.0.0/16, nested
 *    (a /48 and /64 inside it, a /16 and /24), so networks never overlap;
 *  - at most one network owns a short IPv6 resource "::/2" (which covers
 *    the 2001:db8:: internet addresses, and bitwise the IPv4-mapped block);
 *  - ACL dst prefixes: ::/0, 0.0.0.0/0, resource prefixes and sub-prefixes,
 *    internet documentation prefixes, the overlay and this gateway.
 */
#ifndef NANAMI_RANDPOLICY_H
#define NANAMI_RANDPOLICY_H

#include <stdbool.h>
#include <stdint.h>

#define RP_NODE_ID "gw-1"

/* splitmix64: tiny, seedable, good enough for test generation. */
struct nn_rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct nn_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static inline uint32_t rng_below(struct nn_rng *r, uint32_t n)
{
	return (uint32_t)(rng_next(r) % n);
}

/* True with probability @pct percent. */
static inline bool rng_pct(struct nn_rng *r, uint32_t pct)
{
	return rng_below(r, 100) < pct;
}

/* A random snapshot of generation @generation; malloc'd text, NULL on
 * allocation failure. */
char *rp_generate(struct nn_rng *r, uint64_t generation);

/*
 * A series of snapshots where each generation is an edit of the world the
 * previous ones came from (and now and then a new world): device addresses
 * and resource prefixes move to other networks (and so other tenants),
 * rules disappear under the flows they allowed, devices get disabled or
 * enabled. @fault, when set, gets @fault_pct percent of the snapshots and
 * returns the text with one validation fault injected (it takes @json and
 * returns malloc'd text, NULL when out of memory); selftests/lib/faults.c
 * provides those.
 */
struct rp_series {
	uint64_t base; /* seed of the current world */
	bool have;
	char *(*fault)(struct nn_rng *r, char *json);
	uint32_t fault_pct;
};

char *rp_evolve(struct nn_rng *r, struct rp_series *s, uint64_t generation);

#endif /* NANAMI_RANDPOLICY_H */
