/* SPDX-License-Identifier: GPL-2.0 */
/*
 * verdict_table.h - fixture tables of packets run through the real programs
 * (BPF_PROG_TEST_RUN, dptest.h) and the reference model at once: both
 * framings, both from-overlay hooks (TC, XDP) and TC into the overlay.
 * Every packet must get the expected verdict, reason and deciding rule on
 * both sides, and exactly the drop counter of its reason must move by one
 * (none on pass or when the packet is left untouched).
 *
 * The kernel refuses some packets before any program runs (EINVAL):
 * anything under 14 bytes, and with Ethernet framing on TC an IPv4/IPv6
 * frame too short for its IP header. Those are judged by the model alone
 * (and by XDP where it accepts them); vt_for_each_env() prints the count.
 */
#ifndef NANAMI_VERDICT_TABLE_H
#define NANAMI_VERDICT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dptest.h"
#include "model/model.h"
#include "pktdesc.h"
#include "policy/policy.h"

#define VT_L3 (1u << NN_FRAMING_L3)
#define VT_ETH (1u << NN_FRAMING_ETH)
#define VT_BOTH (VT_L3 | VT_ETH)
#define VT_MAX_STEPS 4

/* One packet of a case and what both sides must say about it. */
struct vt_step {
	enum nn_dir dir;
	int reason;
	struct pkt_desc pkt; /* at L3; Ethernet is added for that framing */
	/* The IP length is shorter than the packet: on L3 (wg0) that is
	 * @reason, with Ethernet it is trailing padding and the packet passes. */
	bool eth_padding;
	const char *rule; /* deciding rule id, NULL none */
	bool untouched;
	bool flow_hit;
	void (*patch)(uint8_t *l3, size_t len); /* bytes after building */
};

/* Steps run in order on fresh flow and fragment tables; a step without
 * a source address ends the case. */
struct vt_case {
	const char *what;
	unsigned int framings;
	struct vt_step s[VT_MAX_STEPS];
};

struct vt_env {
	struct dpt t;
	struct nn_model *m;
	uint8_t framing;
	enum nn_hook hook;
	const struct nn_policy *p;
	size_t runs, model_only;
};

/* Check one rendered packet on both sides; @what and step @n name it in
 * failure messages. */
void vt_check(struct vt_env *e, enum nn_dir dir, const uint8_t *pkt, size_t len, int reason,
	      const char *rule_id, bool untouched, bool flow_hit, const char *what, size_t n);

/* Render step @s for @e's framing into @buf; fails the test when invalid. */
size_t vt_render(const struct vt_env *e, const struct vt_step *s, uint8_t *buf, size_t cap);

/* Run case @c when @e's framing is one of its framings. */
void vt_run_case(struct vt_env *e, const struct vt_case *c);

/* Run every case of @arg (a struct vt_case array ended by a NULL .what). */
void vt_run_table(struct vt_env *e, const void *arg);

/* Run @fn on every framing and hook with a fresh model over @p. */
void vt_for_each_env(const struct nn_policy *p, void (*fn)(struct vt_env *e, const void *arg),
		     const void *arg);

#endif /* NANAMI_VERDICT_TABLE_H */
