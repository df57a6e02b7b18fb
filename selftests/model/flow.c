// SPDX-License-Identifier: GPL-2.0
/*
 * flow.c - the reference model's flow and fragment tables: plain
 * chained hash tables, unbounded, with the idle timeouts and TCP states of
 * docs/datapath.md "Flows". Both key types are fixed-size structs whose
 * padding is always zeroed, so memcmp is equality.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

#define NS_PER_S 1000000000ull
#define MTAB_MIN_BUCKETS 1024

#define TCP_FIN 0x01
#define TCP_RST 0x04

struct nn_mentry {
	struct nn_mentry *next;
	union {
		struct nn_flow_key flow;
		struct nn_frag_key frag;
	} key;
	union {
		struct nn_flow flow;
		struct nn_frag frag;
	} val;
};

/* Both key types are 40 bytes; hashing and comparing a fixed length keeps
 * one table implementation for both. */
_Static_assert(sizeof(struct nn_flow_key) == sizeof(struct nn_frag_key),
	       "flow and fragment keys must have one size");
#define MKEY_LEN sizeof(struct nn_flow_key)

static uint64_t mkey_hash(const void *key)
{
	const uint8_t *p = key;
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	size_t i;

	for (i = 0; i < MKEY_LEN; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

int nn_mtab_init(struct nn_mtab *t)
{
	t->b = calloc(MTAB_MIN_BUCKETS, sizeof(*t->b));
	if (!t->b)
		return -1;
	t->nb = MTAB_MIN_BUCKETS;
	t->n = 0;
	return 0;
}

void nn_mtab_clear(struct nn_mtab *t)
{
	size_t i;

	for (i = 0; i < t->nb; i++) {
		struct nn_mentry *e = t->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
		t->b[i] = NULL;
	}
	t->n = 0;
}

void nn_mtab_free(struct nn_mtab *t)
{
	if (!t->b)
		return;
	nn_mtab_clear(t);
	free(t->b);
	t->b = NULL;
	t->nb = 0;
}

static struct nn_mentry **mtab_slot(struct nn_mtab *t, const void *key)
{
	struct nn_mentry **pp = &t->b[mkey_hash(key) & (t->nb - 1)];

	while (*pp && memcmp(&(*pp)->key, key, MKEY_LEN) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* Doubling keeps chains short; a failed grow just leaves them longer. */
static void mtab_grow(struct nn_mtab *t)
{
	size_t nb = t->nb * 2, i;
	struct nn_mentry **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < t->nb; i++) {
		struct nn_mentry *e = t->b[i], *next;

		for (; e; e = next) {
			size_t h = mkey_hash(&e->key) & (nb - 1);

			next = e->next;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

static struct nn_mentry *mtab_find(struct nn_mtab *t, const void *key)
{
	return *mtab_slot(t, key);
}

/* The entry of @key, created zeroed when absent; NULL when out of memory. */
static struct nn_mentry *mtab_put(struct nn_mtab *t, const void *key)
{
	struct nn_mentry **pp = mtab_slot(t, key), *e;

	if (*pp) {
		memset(&(*pp)->val, 0, sizeof((*pp)->val));
		return *pp;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(&e->key, key, MKEY_LEN);
	*pp = e;
	t->n++;
	if (t->n > 2 * t->nb)
		mtab_grow(t);
	return e;
}

static void mtab_del(struct nn_mtab *t, const void *key)
{
	struct nn_mentry **pp = mtab_slot(t, key), *e = *pp;

	if (!e)
		return;
	*pp = e->next;
	free(e);
	t->n--;
}

/* "Expired" once idle for the whole timeout: at exactly the timeout the
 * entry is gone (the stricter of the two readings). A clock that went
 * backwards counts as no idle time. */
static bool idle_expired(uint64_t last_ns, uint64_t now_ns, uint32_t timeout_s)
{
	uint64_t idle = now_ns > last_ns ? now_ns - last_ns : 0;

	return idle >= (uint64_t)timeout_s * NS_PER_S;
}

static int addr_port_cmp(const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp)
{
	int c = memcmp(a, b, NN_ADDR_LEN);

	if (c)
		return c;
	return (ap > bp) - (ap < bp);
}

void nn_mflow_key(const struct nn_mtuple *t, struct nn_flow_key *k, bool *is_b)
{
	memset(k, 0, sizeof(*k));
	/* Equal endpoints (a packet to itself) are "a -> b". */
	*is_b = addr_port_cmp(t->src, t->sport, t->dst, t->dport) > 0;
	if (*is_b) {
		memcpy(k->a, t->dst, NN_ADDR_LEN);
		memcpy(k->b, t->src, NN_ADDR_LEN);
		k->aport = t->dport;
		k->bport = t->sport;
	} else {
		memcpy(k->a, t->src, NN_ADDR_LEN);
		memcpy(k->b, t->dst, NN_ADDR_LEN);
		k->aport = t->sport;
		k->bport = t->dport;
	}
	k->proto = t->proto;
}

static bool key_is_v4(const uint8_t *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

/* ICMP means ICMP of the flow's family (1 in IPv4, 58 in IPv6), as in the
 * parser; IPv6 never carries IPv4-mapped addresses (the parser drops it),
 * so the family is the family of the addresses. */
static uint32_t flow_timeout_s(const struct nn_flow_key *k, const struct nn_flow *f)
{
	bool v4 = key_is_v4(k->a);

	if (k->proto == 6) {
		if (f->state == NN_FS_EST)
			return NN_DEF_TCP_EST_TIMEOUT;
		if (f->state == NN_FS_CLOSING)
			return NN_DEF_TCP_CLOSE_TIMEOUT;
		return NN_DEF_TCP_SYN_TIMEOUT;
	}
	if (k->proto == 17)
		return NN_DEF_UDP_TIMEOUT;
	if ((v4 && k->proto == 1) || (!v4 && k->proto == 58))
		return NN_DEF_ICMP_TIMEOUT;
	return NN_DEF_OTHER_TIMEOUT;
}

struct nn_flow *nn_mflow_find(struct nn_mtab *t, const struct nn_flow_key *k, uint64_t now_ns)
{
	struct nn_mentry *e = mtab_find(t, k);

	if (!e)
		return NULL;
	if (idle_expired(e->val.flow.last_seen_ns, now_ns, flow_timeout_s(k, &e->val.flow))) {
		mtab_del(t, k);
		return NULL;
	}
	return &e->val.flow;
}

struct nn_flow *nn_mflow_put(struct nn_mtab *t, const struct nn_flow_key *k)
{
	struct nn_mentry *e = mtab_put(t, k);

	return e ? &e->val.flow : NULL;
}

void nn_mflow_del(struct nn_mtab *t, const struct nn_flow_key *k)
{
	mtab_del(t, k);
}

void nn_mflow_update(struct nn_flow *f, const struct nn_mtuple *t, uint8_t tcp_flags,
		     uint64_t now_ns)
{
	struct nn_flow_key k;
	bool is_b;

	nn_mflow_key(t, &k, &is_b);
	f->last_seen_ns = now_ns;
	if (t->proto == 6 && (tcp_flags & (TCP_FIN | TCP_RST))) {
		f->state = NN_FS_CLOSING;
		return;
	}
	/* CLOSING never goes back: a FIN or RST has been seen. */
	if (f->state == NN_FS_NEW && is_b != f->opener_is_b)
		f->state = NN_FS_EST;
}

void nn_mflow_opener(const struct nn_flow_key *k, const struct nn_flow *f, struct nn_mtuple *t)
{
	memset(t, 0, sizeof(*t));
	if (f->opener_is_b) {
		memcpy(t->src, k->b, NN_ADDR_LEN);
		memcpy(t->dst, k->a, NN_ADDR_LEN);
		t->sport = k->bport;
		t->dport = k->aport;
	} else {
		memcpy(t->src, k->a, NN_ADDR_LEN);
		memcpy(t->dst, k->b, NN_ADDR_LEN);
		t->sport = k->aport;
		t->dport = k->bport;
	}
	t->proto = k->proto;
	t->v6 = !key_is_v4(k->a);
}

void nn_mfrag_key(const struct nn_mpkt *pk, struct nn_frag_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, pk->t.src, NN_ADDR_LEN);
	memcpy(k->dst, pk->t.dst, NN_ADDR_LEN);
	k->id = pk->frag_id;
	/* verdicts.md "Fragments": IPv4 is tracked by protocol too; IPv6 by
	 * source, destination and id alone, whatever extension headers follow
	 * the Fragment header (RFC 8200 4.5). */
	k->proto = pk->t.v6 ? 0 : pk->t.proto;
}

/* A fragment verdict lives NN_DEF_FRAG_TIMEOUT from the first fragment:
 * later fragments do not extend it, so a trickle of fragments cannot keep
 * a verdict alive forever. */
struct nn_frag *nn_mfrag_find(struct nn_mtab *t, const struct nn_frag_key *k, uint64_t now_ns)
{
	struct nn_mentry *e = mtab_find(t, k);

	if (!e)
		return NULL;
	if (idle_expired(e->val.frag.seen_ns, now_ns, NN_DEF_FRAG_TIMEOUT)) {
		mtab_del(t, k);
		return NULL;
	}
	return &e->val.frag;
}

struct nn_frag *nn_mfrag_put(struct nn_mtab *t, const struct nn_frag_key *k)
{
	struct nn_mentry *e = mtab_put(t, k);

	return e ? &e->val.frag : NULL;
}
