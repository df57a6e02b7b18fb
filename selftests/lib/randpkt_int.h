/* SPDX-License-Identifier: GPL-2.0 */
/*
 * randpkt_int.h - what randpkt.c (ordinary traffic: flows, replies, errors,
 * fragments) and randpkt_attack.c (broken and hostile packets) share.
 * Private to selftests/lib/.
 */
#ifndef NANAMI_RANDPKT_INT_H
#define NANAMI_RANDPKT_INT_H

#include <stdbool.h>

#include "randpkt.h"

#define HIST 512
#define HIST_L3 160
#define MAX_POOL 1024
#define STALE 64

enum cat {
	C_DEV = 0, /* device addresses, disabled ones too */
	C_NODE,
	C_SELF,
	C_RES, /* inside resource prefixes */
	C_ACL, /* inside ACL dst prefixes */
	C_INET,
	C_STRAY, /* unassigned overlay space, spoofed sources */
	C_MAX,
};

struct addr {
	uint8_t a[NN_ADDR_LEN];
	int net; /* network index of the owner, -1 none */
};

struct hist {
	enum nn_dir dir;
	uint8_t src[NN_ADDR_LEN], dst[NN_ADDR_LEN];
	enum pb_l4 l4;
	uint8_t proto;	       /* PB_L4_RAW */
	uint16_t sport, dport; /* echo: the id in both */
	bool frag_first;
	uint32_t frag_id;
	uint8_t frag_nh; /* IPv6: the Fragment header's next header, 0 if L4 */
	uint8_t l3[HIST_L3];
	size_t l3len;
};

struct rk_gen {
	struct nn_rng r;
	uint8_t framing;
	struct addr pool[C_MAX][MAX_POOL];
	size_t n[C_MAX];
	struct hist h[HIST];
	size_t nh;		/* packets remembered in total */
	struct hist good[HIST]; /* openers that passed (rk_passed) */
	size_t ngood;
	struct hist *last; /* the opener rk_next() just made, or NULL */
	/* Openers (and first fragments) that passed under an earlier policy:
	 * their flows went stale when the policy changed. */
	struct hist stale[STALE];
	size_t nstale;
};

/* ---- randpkt.c ---- */
bool rk_is4(const uint8_t *a);
void rk_add_text(struct rk_gen *g, enum cat c, const char *s);
void rk_pick_addr(struct rk_gen *g, enum cat c, int fam, uint8_t *out);
void rk_pick_overlay_end(struct rk_gen *g, int fam, uint8_t *out);
void rk_set_ip(struct pb *b, const uint8_t *s, const uint8_t *d);
uint16_t rk_echo_id(struct rk_gen *g);
struct hist *rk_recall(struct rk_gen *g);
enum nn_dir rk_flip(enum nn_dir d);
/* Each makes an L3 packet into @l3 and returns its length (0: none). */
size_t rk_gen_new(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap, bool frag);
/* An ICMP error quoting @h (NULL: a remembered packet). */
size_t rk_gen_error(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap, struct hist *h);
/* A later fragment of first fragment @h (NULL: a recent one, or none). */
size_t rk_gen_later(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap, struct hist *h);

/* ---- randpkt_attack.c ---- */
size_t rk_gen_broken(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap);
/* Ethernet framing only: ARP and neighbour discovery (made at L2). */
size_t rk_gen_l2(struct rk_gen *g, struct rk_pkt *o, uint8_t *buf, size_t cap);
/* What the review sent: see randpkt_attack.c. @kind says which. */
size_t rk_gen_attack(struct rk_gen *g, struct rk_pkt *o, uint8_t *l3, size_t cap);
/* IPv6 first fragment @l3 (Fragment header last in its chain): move 1-3
 * new extension headers in after the Fragment header. Returns the new
 * length (@len when it did nothing); *frag_nh gets the Fragment header's
 * new next header. */
size_t rk_ext_after_frag(struct nn_rng *r, uint8_t *l3, size_t len, size_t cap, uint8_t *frag_nh);
/* Set the next header of the last Fragment header of IPv6 packet @l3. */
void rk_set_frag_nh(uint8_t *l3, size_t len, uint8_t nh);

#endif /* NANAMI_RANDPKT_INT_H */
