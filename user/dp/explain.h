/* SPDX-License-Identifier: GPL-2.0 */
/*
 * explain.h - "why was this packet dropped?", answered by the dataplane
 * itself: a private copy of the real programs loaded over the PINNED maps
 * (so it sees the live generation, flows included) with dry_run (no flow,
 * fragment, counter or event writes) and record_last (the verdict, the
 * deciding rule and the classification land in nn_last); the packet is run
 * once through BPF_PROG_TEST_RUN. It agrees with the attached programs by
 * construction: same code, same maps, same framing.
 *
 * One engine for both askers: nanami-gwctl explain (loads an instance per
 * call) and the controller's control socket (keeps one loaded, POST
 * /v1/explain). Both print the JSON object nn_explain() builds, so the two
 * answers can be compared field by field.
 */
#ifndef NANAMI_DP_EXPLAIN_H
#define NANAMI_DP_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nanami_abi.h"

#define NN_EXPLAIN_DEF_SPORT 40000

/* "tcp", "udp", "icmp", ... or the number; nn_proto_parse: -1 unknown. */
void nn_proto_name(uint32_t proto, char *buf, size_t len);
int nn_proto_parse(const char *s);

/* The packet explain judges, at L3. */
struct nn_pkt_spec {
	uint8_t src[NN_ADDR_LEN];
	uint8_t dst[NN_ADDR_LEN];
	int family; /* enum nn_family */
	uint8_t proto;
	uint16_t sport;
	uint16_t dport;
};

/* Build it (IP header first) into @buf: TCP SYN, UDP with 8 payload bytes,
 * ICMP/ICMPv6 echo request (id = sport), or 8 payload bytes for any other
 * protocol. Returns the length, 0 if it does not fit. */
size_t nn_pkt_build(const struct nn_pkt_spec *s, uint8_t *buf, size_t cap);

/* The question in the CLI's words (nanami-gwctl explain DIR SRC DST PROTO
 * [DPORT] [--sport N]); the socket's JSON request carries the same. */
struct nn_explain_args {
	const char *dir;   /* "from-overlay" | "into-overlay" */
	const char *src;   /* IPv4 or IPv6 */
	const char *dst;   /* same family */
	const char *proto; /* name or number */
	const char *dport; /* decimal; NULL: none (required for tcp/udp) */
	uint32_t sport;	   /* with has_sport, else NN_EXPLAIN_DEF_SPORT */
	bool has_sport;
};

struct nn_explain_req {
	uint8_t dir; /* enum nn_dir */
	struct nn_pkt_spec pkt;
};

/* Check @a and fill @r; -EINVAL with the reason in @err (the CLI's usage
 * messages: "SRC 'x' is not an IPv4 or IPv6 address", ...). */
int nn_explain_parse(const struct nn_explain_args *a, struct nn_explain_req *r, char *err,
		     size_t errlen);

struct nn_explainer;

/*
 * Open the maps pinned under @pin_dir (the dataplane attached to @iface) and
 * load a dry-run instance over them; @with_xdp also loads the XDP program
 * (needed to explain from-overlay when the XDP hook is attached). -errno
 * with the reason in @err: -ENOENT when nothing is pinned there.
 */
int nn_explainer_open(const char *pin_dir, const char *iface, bool with_xdp,
		      struct nn_explainer **out, char *err, size_t errlen);
void nn_explainer_free(struct nn_explainer *x);

/*
 * Is @x still an instance over what is pinned under its pin dir, with the
 * interface's framing (and the XDP program when @need_xdp)? A detach and a
 * fresh start replace the pins; a recreated interface may change framing.
 */
bool nn_explainer_current(const struct nn_explainer *x, bool need_xdp);

/*
 * Judge @r and build the answer (the object nanami-gwctl explain -j prints:
 * verdict, reason, rule, classification, both sides named from the live
 * generation, epoch, hook, framing, packet). @xdp: the from-overlay hook
 * attached is XDP. Serialised internally; the calling thread's CPU affinity
 * is restored before returning. 0 or -errno with the reason in @err.
 */
int nn_explain(struct nn_explainer *x, const struct nn_explain_req *r, bool xdp, json_t **out,
	       char *err, size_t errlen);

#endif /* NANAMI_DP_EXPLAIN_H */
