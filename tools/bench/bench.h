/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h - shared by the pieces of nn-microbench: the synthetic policy
 * generator (genpolicy.c), the packet constructor (pkt.c) and the timing
 * driver (main.c).
 */
#ifndef NANAMI_BENCH_H
#define NANAMI_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_ADDR_STR 48

/* clock.c: monotonic wall ms, this process's CPU ms (user + system), and
 * process @pid's CPU ms from /proc (-1 when there is no such process). */
double bench_wall_ms(void);
double bench_cpu_ms(void);
double bench_pid_cpu_ms(int pid);
/* A kB field of /proc/@pid/status ("VmRSS", "VmHWM"; @pid 0: this
 * process); -1 when unreadable. */
long bench_status_kb(int pid, const char *field);
/* This process's high-water mark (VmHWM) back to its current RSS ("5" to
 * /proc/self/clear_refs, Linux >= 4.0). */
void bench_hwm_reset(void);

/*
 * Addresses the generator guarantees a verdict for, taken from a network in
 * the middle of the policy (not the first entries: a lookup of the first
 * key inserted is not a typical lookup). Every field is a textual address.
 *  a:    device A (user in group g0, has IPv4, full_tunnel, egress here)
 *  b:    device B (rule 3 allows A -> B udp 5000-5100)
 *  c:    device C (no rule names it: A -> C tcp 22 is acl_default_deny)
 *  res:  a host inside resource r0 (rule 0 allows g0 -> r0 tcp 5432)
 *  net:  an internet host (A may leave here; only deny rules apply)
 *  spoof: an unassigned overlay address
 */
struct bench_pick {
	char a[BENCH_ADDR_STR], b[BENCH_ADDR_STR], c[BENCH_ADDR_STR];
	char res[BENCH_ADDR_STR], net[BENCH_ADDR_STR], spoof[BENCH_ADDR_STR];
};

/* One generated network, for enumerating traffic (bench_pairs). */
struct bench_net {
	size_t idx, dev0, d, res0, r;
};

struct bench_gen {
	char *json; /* NUL-terminated snapshot text */
	size_t len;
	size_t n_devices;
	size_t n_rules;
	size_t n_networks;
	size_t n_tenants;
	size_t n_resources;
	struct bench_pick v6;
	struct bench_pick v4;
	struct bench_net *nets; /* [n_networks] */
};

/* Options of the generator beyond N. nested: that many of the pick
 * network's rules (from rule 5 on) become rules to prefixes one bit longer
 * than the last, inside its resource r0 around the benchmark's resource
 * host (global scope) and around its internet host (the network's ACL
 * scope): the adversarial, deeply nested policy, with far more than
 * NN_MAX_PFX_LENS lengths in both scopes. */
struct bench_gen_opts {
	unsigned int nested;
};

/* Traffic endpoints drawn from a generated policy, spread evenly over all
 * active devices (one per device at most). */
struct bench_pair {
	uint8_t src[16]; /* IPv4: first 4 bytes */
	uint8_t dst[16];
};

enum bench_pair_kind {
	BP_ALLOW, /* device -> its network's res1 host, tcp 443 ("*" rule 2) */
	BP_DENY,  /* device -> another device of its network, tcp 22 (default deny) */
	BP_SPOOF, /* unassigned overlay source -> res1 host */
};

/* Fill up to @max pairs of @kind (@v4: IPv4 addresses). Returns the count. */
size_t bench_pairs(const struct bench_gen *g, enum bench_pair_kind kind, bool v4,
		   struct bench_pair *out, size_t max);

/* Generate a snapshot with @n devices and @n rules. 0 or -ENOMEM. */
int bench_genpolicy(size_t n, struct bench_gen *g);
int bench_genpolicy_opts(size_t n, const struct bench_gen_opts *o, struct bench_gen *g);
void bench_gen_free(struct bench_gen *g);

/* ---- packets (pkt.c) ---- */
#define BENCH_PKT_MAX 128

enum bench_l4 { BENCH_TCP = 6, BENCH_UDP = 17 };

/* The TCP flags of a flow's opening packet and of its packets once the
 * handshake is done (pktbuild.h's PB_TCP_*): an established case sends
 * what an established flow carries, not its opening SYN again. */
#define BENCH_TCP_OPEN 0x02  /* SYN */
#define BENCH_TCP_REPLY 0x12 /* SYN|ACK: the responder's first packet */
#define BENCH_TCP_EST 0x10   /* ACK */

/* An IPv6 or IPv4 (family from the text) TCP packet with flags @tcp_flags
 * (ignored for UDP) or UDP packet with @payload bytes, starting at L3, or
 * at L2 when @eth. Lengths are right; checksums are not computed (no
 * program reads them). Returns the length, 0 on a bad address or mixed
 * families. */
size_t bench_pkt(uint8_t *buf, bool eth, const char *src, const char *dst, int l4,
		 uint8_t tcp_flags, uint16_t sport, uint16_t dport, size_t payload);

#endif /* NANAMI_BENCH_H */
