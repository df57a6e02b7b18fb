// SPDX-License-Identifier: GPL-2.0
/*
 * Flows the policy dropped, remembered (nn_denied, docs/datapath.md "A denied
 * flow remembered") through the real programs (BPF_PROG_TEST_RUN, L3
 * framing) over examples/assignments.json:
 * - a denied flow is remembered on its first denial, and its later packets
 *   are decided by its entry, counted exactly as the full judge counts it:
 *   the verdict nn_last shows, the per-reason, per-device and per-rule
 *   counters, one drop event per drop; on both from-overlay hooks and into
 *   the overlay;
 * - a round-robin spray of distinct denied flows half the size of a CPU's
 *   region (the veth bench's pattern: docs/datapath.md "Session 15
 *   (spray15)") is remembered: from its second round nearly every packet is
 *   a hit;
 * - a flow whose sets are another's (a hash collision) never takes the
 *   other's judgement: the whole key is compared, also where its tag
 *   (nn_denied_tags) matches; a tag whose way holds no entry is replaced;
 *   a flow's own stale entry is replaced in its way;
 * - a generation flip makes every entry stale at once: a rule that now
 *   allows the flow passes its next packet; a revoked device's next packet
 *   is [revoked]; back to the first policy, the flow is denied again;
 * - an entry answers only the sender and direction that made it: the other
 *   end of the same flow key, or the same addresses the other way through
 *   the gateway, are judged and counted on their own device;
 * - a flood of distinct denied flows evicts entries of nn_denied only: an
 *   established flow stays in nn_flows and passes as a flow hit;
 * - every CPU has a region of its own: a flow denied on one CPU is judged
 *   again on another, and remembered there too.
 * Expected verdicts are the worked examples' (verdicts.md); what a hit must
 * reproduce is the first, fully judged, packet's verdict.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/apply.h"
#include "dp/counters.h"
#include "dp/denied.h"
#include "dptest.h"
#include "model_fixture.h"

#define SYN PB_TCP_SYN
#define ACK PB_TCP_ACK
#define REPEAT 16

struct dt {
	struct dpt t;
	void *mf; /* mf_setup()'s context: policy variants */
};

static int setup(void **state)
{
	struct dt *d = calloc(1, sizeof(*d));
	struct nn_apply_result res;

	if (!d || mf_setup(&d->mf) || dpt_open_shared(&d->t, NN_FRAMING_L3) ||
	    dpt_apply(&d->t, mf_base, &res))
		return -1;
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dt *d = *state;

	mf_teardown(&d->mf);
	dpt_close(&d->t);
	free(d);
	return 0;
}

static void apply(struct dt *d, const struct nn_policy *p)
{
	struct nn_apply_result res;

	assert_int_equal(dpt_apply(&d->t, p, &res), 0);
	assert_true(res.flipped);
}

static struct dpt_result run_on(struct dpt *t, enum nn_dir dir, enum nn_hook hook, struct pb *b,
				size_t *len_out)
{
	uint8_t pkt[PB_BUF_LEN];
	struct dpt_result r;
	size_t len = pb_build(b, pkt, sizeof(pkt));

	assert_true(len > 0);
	assert_int_equal(dpt_run(t, dir, hook, pkt, len, &r), 0);
	if (len_out)
		*len_out = len;
	return r;
}

static struct dpt_result run(struct dt *d, enum nn_dir dir, enum nn_hook hook, struct pb *b,
			     size_t *len_out)
{
	return run_on(&d->t, dir, hook, b, len_out);
}

/* Fail unless @r is a drop [@reason] (only that counter moved, by one), or
 * a pass when @reason is NN_PASS, and decided by nn_denied iff @hit. */
static void expect_at(int line, const struct dpt_result *r, int reason, int hit)
{
	int k;

	if (r->passed != (reason == NN_PASS) || r->reason != (uint32_t)reason ||
	    r->denied_hit != (hit == 1))
		fail_msg("line %d: passed %d reason %u denied_hit %d, want reason %d hit %d", line,
			 r->passed, r->reason, r->denied_hit, reason, hit);
	for (k = 1; k < NN_R_MAX; k++)
		if (r->drops[k] != (uint64_t)(k == reason))
			fail_msg("line %d: drop counter %d moved by %llu", line, k,
				 (unsigned long long)r->drops[k]);
}

#define expect(r, reason, hit)                         \
	do {                                           \
		struct dpt_result r_ = (r);            \
		expect_at(__LINE__, &r_, reason, hit); \
	} while (0)

/* @b sent three times: judged once (and remembered), then decided by
 * nn_denied, [@reason] each time. */
static void remembered_at(int line, struct dt *d, enum nn_dir dir, enum nn_hook hook, struct pb *b,
			  int reason)
{
	int i;

	for (i = 0; i < 3; i++) {
		struct dpt_result r = run(d, dir, hook, b, NULL);

		expect_at(line, &r, reason, i >= 1);
	}
}

#define remembered(dir, hook, b, reason) remembered_at(__LINE__, d, dir, hook, b, reason)

static uint32_t slot_of(int names_fd, const char *id)
{
	uint32_t key, next, *prev = NULL;
	struct nn_name n;

	while (!bpf_map_get_next_key(names_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(names_fd, &key, &n) && n.in_use && !strcmp(n.id, id))
			return key;
	}
	fail_msg("no counter slot for %s", id);
	return NN_NONE32;
}

static struct nn_dev_stats dev(struct dt *d, const char *id)
{
	struct nn_dev_stats s = { 0 };

	assert_int_equal(nn_percpu_sum(d->t.dp->map_fd[NN_M_DEV_STATS],
				       slot_of(d->t.dp->map_fd[NN_M_DEV_NAMES], id), sizeof(s) / 8,
				       (uint64_t *)&s),
			 0);
	return s;
}

static uint64_t rule_hits(struct dt *d, const char *id)
{
	uint64_t sum = 0;

	assert_int_equal(nn_percpu_sum(d->t.dp->map_fd[NN_M_RULE_HITS],
				       slot_of(d->t.dp->map_fd[NN_M_RULE_NAMES], id), 1, &sum),
			 0);
	return sum;
}

/* Entries nn_denied holds for the live epoch (every CPU's). */
static size_t denied_entries(struct dpt *t)
{
	uint32_t epoch = 0;
	uint64_t n = 0;

	assert_int_equal(nn_live_epoch(t->dp, &epoch), 0);
	assert_int_equal(nn_denied_count(t->dp->map_fd[NN_M_DENIED],
					 t->dp->map_fd[NN_M_DENIED_TAGS], epoch, &n),
			 0);
	return (size_t)n;
}

struct ev_buf {
	struct nn_event ev[REPEAT];
	size_t n;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct ev_buf *eb = ctx;

	assert_int_equal(size, sizeof(struct nn_event));
	if (eb->n < REPEAT)
		memcpy(&eb->ev[eb->n], data, sizeof(struct nn_event));
	eb->n++;
	return 0;
}

static void events_every_drop(struct dt *d)
{
	struct nn_config cfg;
	uint32_t zero = 0;
	int fd = d->t.dp->map_fd[NN_M_CONFIG];

	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &cfg), 0);
	cfg.event_sample = 1;
	cfg.event_rate = 100000;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &cfg, 0), 0);
}

/*
 * REPEAT packets of one denied flow (@b, sent @dir through @hook): the first
 * judged in full, every later one from nn_denied with the same verdict, the
 * same drop counter, @id's device counter and @rule's hit counter (NULL:
 * none) moved once a packet, and a drop event equal to the first one's.
 */
static void repeat(struct dt *d, enum nn_dir dir, enum nn_hook hook, struct pb *b, int reason,
		   const char *id, const char *rule)
{
	struct nn_dev_stats d0 = dev(d, id), d1;
	uint64_t h0 = rule ? rule_hits(d, rule) : 0;
	struct ev_buf eb = { 0 };
	struct ring_buffer *rb;
	struct dpt_result first, r;
	size_t len, i;

	events_every_drop(d);
	rb = ring_buffer__new(d->t.dp->map_fd[NN_M_EVENTS], on_event, &eb, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	eb.n = 0;
	first = run(d, dir, hook, b, &len);
	expect(first, reason, 0);
	if (rule)
		assert_int_equal(first.rule, mf_rule(mf_base, rule));
	/* The first denial is remembered: every later packet is a hit. */
	for (i = 1; i < REPEAT; i++) {
		r = run(d, dir, hook, b, NULL);
		expect(r, reason, 1);
		r.v.denied_hit = 0;
		assert_memory_equal(&r.v, &first.v, sizeof(r.v));
	}
	d1 = dev(d, id);
	assert_int_equal(d1.drops[dir] - d0.drops[dir], REPEAT);
	assert_int_equal(d1.drops[!dir], d0.drops[!dir]);
	assert_int_equal(d1.packets[dir], d0.packets[dir]);
	if (rule)
		assert_int_equal(rule_hits(d, rule) - h0, REPEAT);
	assert_int_equal(ring_buffer__consume(rb), REPEAT);
	assert_int_equal(eb.n, REPEAT);
	for (i = 1; i < REPEAT; i++) {
		eb.ev[i].ts_ns = eb.ev[0].ts_ns;
		assert_memory_equal(&eb.ev[i], &eb.ev[0], sizeof(eb.ev[0]));
	}
	assert_int_equal(eb.ev[0].reason, reason);
	assert_int_equal(eb.ev[0].pkt_len, len);
	assert_int_equal(eb.ev[0].dev_slot, slot_of(d->t.dp->map_fd[NN_M_DEV_NAMES], id));
	assert_int_equal(eb.ev[0].rule_slot,
			 rule ? slot_of(d->t.dp->map_fd[NN_M_RULE_NAMES], rule) : NN_NONE32);
	ring_buffer__free(rb);
}

static void test_repeat_counted_as_judged(void **state)
{
	struct dt *d = *state;
	struct pb b;

	/* Example #2 (default deny), the deny rule no-smtp, on each hook. */
	repeat(d, FROM, NN_HOOK_TC, mf_tcp(&b, ALICE6, DB6, 45000, 22, SYN), NN_R_ACL_DEFAULT_DENY,
	       "alice-laptop", NULL);
	repeat(d, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 45001, 22, SYN), NN_R_ACL_DEFAULT_DENY,
	       "alice-laptop", NULL);
	repeat(d, FROM, NN_HOOK_TC, mf_tcp(&b, ALICE6, NET6, 45002, 25, SYN), NN_R_ACL_DENY,
	       "alice-laptop", "no-smtp");
	repeat(d, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE4, DNS4, 45003, 25, ACK), NN_R_ACL_DENY,
	       "alice-laptop", "no-smtp");
	/* Unsolicited from the internet toward alice. */
	repeat(d, INTO, NN_HOOK_TC, mf_tcp(&b, NET6, ALICE6, 80, 45004, SYN), NN_R_ACL_DEFAULT_DENY,
	       "alice-laptop", NULL);
	/* Not only the ACL's reasons: a judge's drop of another tenant. */
	repeat(d, FROM, NN_HOOK_TC, mf_udp(&b, ALICE6, CAROL6, 45005, 53), NN_R_CROSS_TENANT,
	       "alice-laptop", NULL);
}

/* A rule that now allows the flow takes effect at the flip; back to the
 * first policy, the flow is cut and denied again, then remembered again. */
static void test_flip_allows(void **state)
{
	struct dt *d = *state;
	struct nn_policy *open22 = mf_variant(d->mf, "\"5432\"", "\"22\"");
	struct pb b;

	remembered(FROM, NN_HOOK_TC, mf_tcp(&b, ALICE6, DB6, 46000, 22, SYN),
		   NN_R_ACL_DEFAULT_DENY);
	remembered(INTO, NN_HOOK_TC, mf_tcp(&b, NET6, ALICE6, 80, 46001, SYN),
		   NN_R_ACL_DEFAULT_DENY);
	apply(d, open22);
	expect(run(d, FROM, NN_HOOK_TC, mf_tcp(&b, ALICE6, DB6, 46000, 22, SYN), NULL), NN_PASS, 0);
	expect(run(d, INTO, NN_HOOK_TC, mf_tcp(&b, DB6, ALICE6, 22, 46000, SYN), NULL), NN_PASS, 0);
	/* Still denied under the new policy: its entry is stale, so it is
	 * judged again and remembered under the new epoch: the next packet
	 * is a hit. */
	expect(run(d, INTO, NN_HOOK_TC, mf_tcp(&b, NET6, ALICE6, 80, 46001, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 0);
	expect(run(d, INTO, NN_HOOK_TC, mf_tcp(&b, NET6, ALICE6, 80, 46001, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 1);
	apply(d, mf_base);
	/* The flow opened under open22 is cut, judged, denied and
	 * remembered: the XDP hook's next packet is a hit. */
	expect(run(d, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 46000, 22, ACK), NULL),
	       NN_R_ACL_DEFAULT_DENY, 0);
	expect(run(d, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 46000, 22, ACK), NULL),
	       NN_R_ACL_DEFAULT_DENY, 1);
}

/* Revocation flips the generation: the revoked device's remembered denied
 * flows, both ways, give [revoked] at once. */
static void test_revocation(void **state)
{
	struct dt *d = *state;
	struct nn_policy *revoked = mf_variant(d->mf,
					       "\"state\": \"active\", \"key_generation\": 3",
					       "\"state\": \"disabled\", \"key_generation\": 3");
	struct pb b;

	remembered(FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 47000, 22, SYN),
		   NN_R_ACL_DEFAULT_DENY);
	remembered(INTO, NN_HOOK_TC, mf_tcp(&b, NET6, ALICE6, 80, 47001, SYN),
		   NN_R_ACL_DEFAULT_DENY);
	apply(d, revoked);
	expect(run(d, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 47000, 22, SYN), NULL),
	       NN_R_REVOKED, 0);
	expect(run(d, INTO, NN_HOOK_TC, mf_tcp(&b, NET6, ALICE6, 80, 47001, SYN), NULL),
	       NN_R_REVOKED, 0);
}

/*
 * alice -> bob tcp/22 is denied (default deny) and remembered. The same
 * flow key sent by bob, and alice's addresses toward bob into the overlay
 * (the host routing a packet that claims alice's source), are other senders:
 * judged in full and counted on bob's device, never on alice's.
 */
static void test_other_sender(void **state)
{
	struct dt *d = *state;
	struct nn_dev_stats a0 = dev(d, "alice-laptop"), b0 = dev(d, "bob-phone"), a1, b1;
	struct pb b;

	remembered(FROM, NN_HOOK_TC, mf_tcp(&b, ALICE6, BOB6, 48000, 22, SYN),
		   NN_R_ACL_DEFAULT_DENY);
	remembered(FROM, NN_HOOK_XDP, mf_tcp(&b, BOB6, ALICE6, 22, 48000, ACK),
		   NN_R_ACL_DEFAULT_DENY);
	remembered(INTO, NN_HOOK_TC, mf_tcp(&b, ALICE6, BOB6, 48000, 22, SYN),
		   NN_R_ACL_DEFAULT_DENY);
	a1 = dev(d, "alice-laptop");
	b1 = dev(d, "bob-phone");
	assert_int_equal(a1.drops[FROM] - a0.drops[FROM], 3);
	assert_int_equal(a1.drops[INTO] - a0.drops[INTO], 0);
	assert_int_equal(b1.drops[FROM] - b0.drops[FROM], 3);
	assert_int_equal(b1.drops[INTO] - b0.drops[INTO], 3);
}

/*
 * A flood of distinct denied flows evicts remembered denied flows only.
 * nn_flows of 1024 a CPU (buckets of NN_FLOW_WAYS: at this fill no bucket
 * overflows) holds carol's 64 established flows; nn_denied has 64 entries a
 * CPU. alice sends 40 times nn_denied's size of distinct denied flows, each
 * twice (remembered, then a hit that marks it kept). alice's first is no
 * longer remembered (nn_denied did evict); nn_denied holds no more than its
 * size; every one of carol's flows is still tracked and passes as a flow
 * hit. Were denied flows kept in nn_flows, the flood would push carol's
 * flows out of their buckets.
 */
static void test_flood_keeps_flows(void **state)
{
	struct dt *d = *state;
	uint32_t ncpu = (uint32_t)libbpf_num_possible_cpus(), flood, i;
	struct nn_apply_result res;
	uint8_t pkt[PB_BUF_LEN];
	struct dpt_result r;
	struct dpt small;
	struct pb b;
	size_t len, n;

	(void)d;
	flood = 40 * 64 * ncpu < 50000 ? 40 * 64 * ncpu : 50000;
	assert_int_equal(dpt_open_tables(&small, NN_FRAMING_L3, 1024 * ncpu, 64 * ncpu), 0);
	assert_int_equal(dpt_apply(&small, mf_base, &res), 0);
	for (i = 0; i < 64; i++) {
		len = pb_build(mf_udp(&b, CAROL6, FILES6, (uint16_t)(5000 + i), 53), pkt,
			       sizeof(pkt));
		assert_int_equal(dpt_run_fast(&small, FROM, NN_HOOK_TC, pkt, len, &r), 0);
		assert_true(r.passed && !r.flow_hit);
		len = pb_build(mf_udp(&b, FILES6, CAROL6, 53, (uint16_t)(5000 + i)), pkt,
			       sizeof(pkt));
		assert_int_equal(dpt_run_fast(&small, INTO, NN_HOOK_TC, pkt, len, &r), 0);
		assert_true(r.passed && r.flow_hit);
	}
	/* The flood: each flow twice, remembered and hit. */
	for (i = 0; i < 2 * flood; i++) {
		len = pb_build(mf_tcp(&b, ALICE6, DB6, (uint16_t)(10000 + i / 2), 22, SYN), pkt,
			       sizeof(pkt));
		assert_int_equal(dpt_run_fast(&small, FROM, NN_HOOK_XDP, pkt, len, &r), 0);
		assert_int_equal(r.reason, NN_R_ACL_DEFAULT_DENY);
	}
	n = denied_entries(&small);
	if (n == 0 || n > 64 * (size_t)ncpu)
		fail_msg("nn_denied holds %zu entries after the flood (%u asked)", n, 64 * ncpu);
	len = pb_build(mf_tcp(&b, ALICE6, DB6, 10000, 22, SYN), pkt, sizeof(pkt));
	assert_int_equal(dpt_run_fast(&small, FROM, NN_HOOK_XDP, pkt, len, &r), 0);
	assert_true(r.reason == NN_R_ACL_DEFAULT_DENY && !r.denied_hit);
	for (i = 0; i < 64; i++) {
		len = pb_build(mf_udp(&b, CAROL6, FILES6, (uint16_t)(5000 + i), 53), pkt,
			       sizeof(pkt));
		assert_int_equal(dpt_run_fast(&small, FROM, NN_HOOK_XDP, pkt, len, &r), 0);
		if (!r.passed || !r.flow_hit)
			fail_msg("carol's flow %u after the flood: passed %d flow_hit %d", i,
				 r.passed, r.flow_hit);
	}
	dpt_close(&small);
}

/* Packets decided by nn_denied among @n denied flows alice -> db tcp/22,
 * source ports @port0.., sent once each in order on this CPU (CPU 0: the
 * verdict's readback is CPU 0's nn_last). */
static uint32_t spray_round(struct dpt *t, uint16_t port0, uint32_t n)
{
	uint8_t pkt[PB_BUF_LEN];
	struct dpt_result r;
	uint32_t i, hits = 0;
	struct pb b;
	size_t len;

	for (i = 0; i < n; i++) {
		len = pb_build(mf_tcp(&b, ALICE6, DB6, (uint16_t)(port0 + i), 22, SYN), pkt,
			       sizeof(pkt));
		assert_int_equal(dpt_run(t, FROM, NN_HOOK_XDP, pkt, len, &r), 0);
		if (r.passed || r.reason != NN_R_ACL_DEFAULT_DENY ||
		    r.drops[NN_R_ACL_DEFAULT_DENY] != 1)
			fail_msg("spray packet %u: passed %d reason %u counted %llu", i, r.passed,
				 r.reason, (unsigned long long)r.drops[NN_R_ACL_DEFAULT_DENY]);
		hits += r.denied_hit;
	}
	return hits;
}

/*
 * The veth bench's spray (docs/datapath.md "Session 15 (spray15)"): distinct
 * denied flows sent round robin, as many as half a CPU's region (1,024 flows,
 * 1,024 sets of two a CPU), so each flow comes back after all the others.
 * The first round is judged and remembered; the next rounds are decided by
 * nn_denied for at least 97 % of their packets (the two sets a flow may take
 * give 98.5-99.6 % in a model of the table; one set alone 83 %; the
 * admission on a second denial of session 10, 37 % at best), and every
 * packet is counted under its reason either way.
 */
static void test_spray_remembered(void **state)
{
	struct dt *d = *state;
	uint32_t ncpu = (uint32_t)libbpf_num_possible_cpus(), n = 1024, h1, h2, h3;
	struct nn_apply_result res;
	struct dpt small;

	(void)d;
	assert_int_equal(dpt_open_tables(&small, NN_FRAMING_L3, 0, 2 * n * ncpu), 0);
	assert_int_equal(dpt_apply(&small, mf_base, &res), 0);
	h1 = spray_round(&small, 30000, n);
	h2 = spray_round(&small, 30000, n);
	h3 = spray_round(&small, 30000, n);
	printf("# spray of %u flows round robin: hits %u, %u, %u\n", n, h1, h2, h3);
	if (h1 != 0 || h2 < n * 97 / 100 || h3 < n * 97 / 100)
		fail_msg("spray of %u flows: hits %u, %u, %u a round; want 0, then >= %u", n, h1,
			 h2, h3, n * 97 / 100);
	dpt_close(&small);
}

/*
 * A collision never lends a judgement. nn_denied of one set a CPU: every
 * flow's two sets are that one, so all share its two ways. alice -> db
 * tcp/22 (default deny) is remembered; alice -> db tcp/5432 from the same
 * port, allowed, the same addresses and another port word, passes, judged
 * in full, twice (then a flow hit); alice -> NET6 tcp/25 (the deny rule
 * no-smtp) takes the other way, and each denied flow's next packet is a hit
 * with its own reason and rule. An entry compared on a part of the key (the
 * addresses) would drop the allowed flow as the denied one.
 */
static void test_collision_never_drops(void **state)
{
	struct dt *d = *state;
	uint32_t ncpu = (uint32_t)libbpf_num_possible_cpus(), ilen = sizeof(struct bpf_map_info);
	struct bpf_map_info info = { 0 };
	struct nn_apply_result res;
	struct dpt_result r;
	struct dpt one;
	struct pb b;

	(void)d;
	assert_int_equal(dpt_open_tables(&one, NN_FRAMING_L3, 0, NN_DENIED_WAYS * ncpu), 0);
	assert_int_equal(dpt_apply(&one, mf_base, &res), 0);
	assert_int_equal(bpf_obj_get_info_by_fd(one.dp->map_fd[NN_M_DENIED], &info, &ilen), 0);
	assert_int_equal(nn_denied_capacity(info.max_entries, (int)ncpu), NN_DENIED_WAYS * ncpu);
	expect(run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 0);
	expect(run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 1);
	r = run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 5432, SYN), NULL);
	expect(r, NN_PASS, 0);
	assert_false(r.flow_hit);
	r = run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 5432, ACK), NULL);
	expect(r, NN_PASS, 0);
	assert_true(r.flow_hit);
	expect(run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, NET6, 40000, 25, SYN), NULL),
	       NN_R_ACL_DENY, 0);
	r = run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, NET6, 40000, 25, SYN), NULL);
	expect(r, NN_R_ACL_DENY, 1);
	assert_int_equal(r.rule, mf_rule(mf_base, "no-smtp"));
	r = run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL);
	expect(r, NN_R_ACL_DEFAULT_DENY, 1);
	assert_int_equal(r.rule, -1);
	assert_int_equal(denied_entries(&one), 2);
	dpt_close(&one);
}

/* nn_denied and nn_denied_tags of @t mapped for writing: the tests' view of
 * the tag line (nanami_abi.h "nn_denied_tags"), to make a tag collide or go
 * stale. Unmapped by tables_unmap(). */
struct tables {
	struct nn_denied_set *set;
	struct nn_denied_tags *tag;
	uint32_t sets, lines;
	size_t len, glen;
};

static void *map_rw(int fd, uint32_t *n, size_t *len)
{
	struct bpf_map_info info = { 0 };
	uint32_t ilen = sizeof(info);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *p;

	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &ilen), 0);
	*n = info.max_entries;
	*len = ((size_t)info.max_entries * info.value_size + page - 1) & ~(page - 1);
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	return p;
}

static void tables_map(struct dpt *t, struct tables *m)
{
	m->set = map_rw(t->dp->map_fd[NN_M_DENIED], &m->sets, &m->len);
	m->tag = map_rw(t->dp->map_fd[NN_M_DENIED_TAGS], &m->lines, &m->glen);
}

static void tables_unmap(struct tables *m)
{
	munmap(m->set, m->len);
	munmap(m->tag, m->glen);
}

/* The one live way of a table of one set a CPU (set c, tag line c): its CPU
 * into *@cpu and way into *@way; fails unless exactly one way is live. */
static struct nn_denied *only_entry(struct tables *m, uint32_t *cpu, int *way)
{
	struct nn_denied *d = NULL;
	uint32_t c;
	int w, n = 0;

	assert_int_equal(m->sets, m->lines);
	for (c = 0; c < m->sets; c++)
		for (w = 0; w < NN_DENIED_WAYS; w++)
			if (m->tag[c].t[w] && m->set[c].e[w].key.side) {
				d = &m->set[c].e[w];
				*cpu = c;
				*way = w;
				n++;
			}
	if (n != 1)
		fail_msg("%d live ways, want the one just remembered", n);
	return d;
}

/* A table of one set a CPU (@one) that remembered alice -> db tcp/22 (D,
 * default deny) from its first packet, mapped into @m: D's entry, its CPU
 * into *@cpu and way into *@way. */
static struct nn_denied *one_remembered(struct dpt *one, struct tables *m, uint32_t *cpu, int *way)
{
	uint32_t ncpu = (uint32_t)libbpf_num_possible_cpus();
	struct nn_apply_result res;
	struct pb b;

	assert_int_equal(dpt_open_tables(one, NN_FRAMING_L3, 0, NN_DENIED_WAYS * ncpu), 0);
	assert_int_equal(dpt_apply(one, mf_base, &res), 0);
	expect(run_on(one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 0);
	tables_map(one, m);
	return only_entry(m, cpu, way);
}

/*
 * A tag is a hint, never a verdict. nn_denied of one set a CPU: alice ->
 * db tcp/22 (default deny) is remembered; its way's tag is then rewritten to
 * the tag of alice -> db tcp/5432 (allowed, the same addresses), computed
 * from the entry's own key with the ports changed. The
 * allowed flow's packet meets a way whose tag is its own and whose key is
 * the denied flow's: it must pass, judged in full. Then the denied flow,
 * whose tag no longer names its entry, is judged again (no hit), remembered
 * in the free way, and its next packet is a hit. An entry taken on its tag
 * alone (no key compare) drops the allowed flow as the denied one.
 */
static void test_tag_match_other_key_never_drops(void **state)
{
	struct nn_flow_key kp;
	struct dpt_result r;
	uint32_t c = 0;
	struct nn_denied *d;
	struct tables m;
	struct dpt one;
	struct pb b;
	uint16_t tp, sport;
	int w = 0;

	(void)state;
	d = one_remembered(&one, &m, &c, &w);
	/* P's key from D's: the ports are in host order (flow.bpf.h
	 * nn_flow_key_make), db's 22 becomes 5432 and alice's source port
	 * the first from 40000 whose tag differs from D's (a tag of 15 bits:
	 * D's next packet must miss). */
	for (sport = 40000;; sport++) {
		kp = d->key;
		if (kp.aport == 22 && kp.bport == 40000) {
			kp.aport = 5432;
			kp.bport = sport;
		} else if (kp.bport == 22 && kp.aport == 40000) {
			kp.bport = 5432;
			kp.aport = sport;
		} else {
			fail_msg("the entry's ports %u %u are not alice's 40000 and db's 22",
				 kp.aport, kp.bport);
		}
		tp = nn_denied_tag(nn_denied_hash(&kp, one.dp->flow_seed));
		if ((tp & NN_DENIED_TAG_MASK) != (m.tag[c].t[w] & NN_DENIED_TAG_MASK))
			break;
	}
	m.tag[c].t[w] = tp;
	r = run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, sport, 5432, SYN), NULL);
	expect(r, NN_PASS, 0);
	assert_false(r.flow_hit);
	assert_int_equal(m.tag[c].t[w], tp); /* a pass is not remembered */
	expect(run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 0);
	expect(run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 1);
	tables_unmap(&m);
	dpt_close(&one);
}

/*
 * Stale tags: a tag whose way holds no entry costs a judgement, never a
 * verdict, and is replaced. nn_denied of one set a CPU: alice -> db tcp/22
 * is remembered, then its entry is emptied and both ways' tags set to its
 * tag, marked hit (the second-chance mark). Its next packet is judged (the
 * entries hold no key), and not remembered: every way is marked, so the
 * insert only clears the marks; the packet after is judged and remembered
 * over a way now unmarked; the third is a hit, and one entry is live. A
 * table whose marks are never cleared never takes the flow back (the third
 * packet judged); an empty entry taken on its tag gives no hit either: its
 * reason is a pass.
 */
static void test_stale_tag_replaced(void **state)
{
	uint32_t c = 0;
	struct tables m;
	struct dpt one;
	struct pb b;
	uint16_t tag;
	int w = 0;

	(void)state;
	one_remembered(&one, &m, &c, &w);
	tag = m.tag[c].t[w];
	memset(&m.set[c], 0, sizeof(m.set[c]));
	m.tag[c].t[0] = (uint16_t)(tag | NN_DENIED_TAG_REF);
	m.tag[c].t[1] = (uint16_t)(tag | NN_DENIED_TAG_REF);
	expect(run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 0);
	assert_int_equal(denied_entries(&one), 0);
	expect(run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 0);
	expect(run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 1);
	assert_int_equal(denied_entries(&one), 1);
	tables_unmap(&m);
	dpt_close(&one);
}

/*
 * A flow's own entry, stale after two flips, is replaced in place: the way
 * nn_denied_find found it in is the way nn_denied_note writes (the find's
 * walk kept in the scratch, not walked again). nn_denied of one set a CPU:
 * alice -> db tcp/22 (D) remembered under the base policy; open22 and back
 * (D never sent between: no flow); D is judged again, and its entry is still
 * the only live way, its tag the one it had, the other way free; the next
 * packet is a hit. A note that forgets the find's answer takes the free way
 * (two live ways: the stale entry's key is D's, so it counts).
 */
static void test_stale_own_entry_in_place(void **state)
{
	struct dt *d = *state;
	struct nn_policy *open22 = mf_variant(d->mf, "\"5432\"", "\"22\"");
	struct nn_apply_result res;
	uint32_t c = 0, c2 = 0;
	struct tables m;
	struct dpt one;
	struct pb b;
	uint16_t tag;
	int w = 0, w2 = 0;

	one_remembered(&one, &m, &c, &w);
	tag = m.tag[c].t[w] & NN_DENIED_TAG_MASK;
	assert_int_equal(dpt_apply(&one, open22, &res), 0);
	assert_int_equal(dpt_apply(&one, mf_base, &res), 0);
	assert_true(res.flipped);
	expect(run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 0);
	only_entry(&m, &c2, &w2);
	assert_int_equal(c2, c);
	assert_int_equal(w2, w);
	assert_int_equal(m.tag[c].t[w] & NN_DENIED_TAG_MASK, tag);
	assert_int_equal(m.tag[c].t[!w], 0);
	expect(run_on(&one, FROM, NN_HOOK_XDP, mf_tcp(&b, ALICE6, DB6, 40000, 22, SYN), NULL),
	       NN_R_ACL_DEFAULT_DENY, 1);
	tables_unmap(&m);
	dpt_close(&one);
}

/* Send @b once on CPU @cpu (the fast run: no verdict readback, which is
 * CPU 0's nn_last). 0, -1 when the process cannot run there (nothing ran),
 * -2 when the run failed or passed the packet. */
static int deny_on(struct dt *d, int cpu, struct pb *b)
{
	uint8_t pkt[PB_BUF_LEN];
	struct dpt_result r;
	cpu_set_t one;
	size_t len = pb_build(b, pkt, sizeof(pkt));

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -1;
	if (len == 0 || dpt_run_fast(&d->t, FROM, NN_HOOK_XDP, pkt, len, &r) || r.passed)
		return -2;
	return 0;
}

/*
 * nn_denied is one array cut into a region per possible CPU (nanami_abi.h
 * "Denied flows"). On every CPU this process may run on, a denied flow sent
 * once adds its entry and sent again adds none (the same entry); a flow
 * denied on the first such CPU and then on another is remembered on each (two
 * entries). Catches a CPU whose region the loader did not size (nothing
 * remembered there) and regions that overlap (the second CPU finds the
 * first's entry). A CPU the process cannot be pinned to (offline, or outside
 * its cgroup's cpuset) is not tested: the CPUs tested are printed, and with
 * one alone the cross-CPU half says it did not run.
 */
static void test_every_cpu_region(void **state)
{
	struct dt *d = *state;
	int ncpu = d->t.ncpu < CPU_SETSIZE ? d->t.ncpu : CPU_SETSIZE, c, runs = 0;
	size_t once[CPU_SETSIZE], twice[CPU_SETSIZE], base = denied_entries(&d->t), n;
	int err[CPU_SETSIZE] = { 0 }, ran[CPU_SETSIZE] = { 0 }, first = -1, other = -1;
	size_t cross_one = 0, cross_two = 0;
	cpu_set_t old;
	struct pb b;

	assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
	for (c = 0; c < ncpu; c++) {
		mf_tcp(&b, ALICE6, DB6, (uint16_t)(20000 + c), 22, SYN);
		err[c] = deny_on(d, c, &b);
		if (err[c] == -1) {
			err[c] = 0;
			continue; /* cannot run there */
		}
		once[c] = denied_entries(&d->t);
		err[c] = err[c] ?: deny_on(d, c, &b);
		twice[c] = denied_entries(&d->t);
		ran[c] = 1;
		runs++;
		if (first < 0)
			first = c;
		else if (other < 0)
			other = c;
	}
	if (other > 0) {
		mf_tcp(&b, ALICE6, DB6, 21000, 22, SYN);
		err[first] = err[first] ?: deny_on(d, first, &b);
		cross_one = denied_entries(&d->t);
		err[first] = err[first] ?: deny_on(d, other, &b);
		cross_two = denied_entries(&d->t);
	}
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
	printf("# regions tested on %d CPUs (online %ld, possible %d)%s\n", runs,
	       sysconf(_SC_NPROCESSORS_ONLN), d->t.ncpu,
	       other < 0 ? "; the cross-CPU half NOT run: one CPU to run on" : "");
	n = base;
	for (c = 0; c < ncpu; c++) {
		if (!ran[c])
			continue;
		if (err[c] || once[c] != n + 1 || twice[c] != n + 1)
			fail_msg(
				"CPU %d: error %d; nn_denied %zu -> %zu after one denial, %zu after "
				"two; want %zu, %zu",
				c, err[c], n, once[c], twice[c], n + 1, n + 1);
		n++;
	}
	assert_true(runs >= 1);
	if (other > 0 && (cross_one != n + 1 || cross_two != n + 2))
		fail_msg("denied on CPU %d, then on CPU %d: nn_denied %zu -> %zu, then %zu; want "
			 "%zu, %zu",
			 first, other, n, cross_one, cross_two, n + 1, n + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repeat_counted_as_judged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_allows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revocation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_keeps_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spray_remembered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collision_never_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_match_other_key_never_drops, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_tag_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_own_entry_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_cpu_region, setup, teardown),
	};

	return cmocka_run_group_tests_name("denied flows remembered (BPF)", tests, mf_group_setup,
					   mf_group_teardown);
}
