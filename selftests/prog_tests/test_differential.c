// SPDX-License-Identifier: GPL-2.0
/*
 * Differential test: random valid policies (randpolicy) applied through the
 * real compiler and generation switch, random packets (randpkt) through the
 * real programs with BPF_PROG_TEST_RUN and through the reference model, in
 * the same order and at the same time; every packet must get the same
 * verdict, reason, deciding rule, flow hit and untouched flag. The policy
 * changes many times during a run, each generation an edit of the last
 * (rp_evolve: addresses and prefixes move between networks and tenants,
 * rules disappear under open flows), so flows, ICMP errors and later
 * fragments of an older epoch get judged again (randpkt makes those on
 * purpose after every switch).
 *
 * The underlay guard (bpf/underlay_xdp) gets random frames of its own
 * (randpkt_underlay.c), each judged from docs/datapath.md "Underlay" by
 * ul_expect() below: the guard must never stop looking early.
 *
 *   NN_SEED=N          replay a run (the seed is printed first, "# seed=N")
 *   NN_DIFF_PACKETS=N  packets per framing (default 250000; underlay: 1/5)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/apply.h"
#include "dp/cache.h"
#include "dp/local.h"
#include "dp/underlay.h"
#include "dptest.h"
#include "faults.h"
#include "lib/log.h"
#include "lib/names.h"
#include "model/model.h"
#include "randpkt.h"
#include "randpolicy.h"

#define DEF_PACKETS 250000 /* per framing: 500k per run */
#define SWITCHES 16
/* Both sides forget every flow this often: the shortest flow timeout is
 * 10 s, and the programs refresh last_seen at most once a second where the
 * model refreshes on every packet (datapath.md "Flows"), so flows never get
 * old enough for that documented difference to show. */
#define FLUSH_NS (4ull * 1000000000ull)

static uint64_t seed;
static size_t n_packets = DEF_PACKETS;

static uint64_t now_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC: the model gets the same now. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The series of snapshots; a quarter of them carry one validation fault
 * (selftests/lib/faults.c): entries dropped for their fault (their space
 * closed) and whole snapshots rejected, between the switches. */
static struct rp_series series;

#define FAULT_PCT 25
static unsigned int faults_injected[FLT_COUNT], snapshots_rejected;

static char *inject_fault(struct nn_rng *r, char *json)
{
	enum flt_kind k = (enum flt_kind)rng_below(r, FLT_COUNT);
	struct flt_result f;

	if (flt_inject(json, k, r, &f))
		return json; /* nothing to break that way in this snapshot */
	free(json);
	json = f.json;
	f.json = NULL;
	flt_result_free(&f);
	faults_injected[k]++;
	return json;
}

static struct nn_policy *random_policy(struct nn_rng *r, uint64_t generation, char **json_out)
{
	int tries;

	for (tries = 0; tries < 20; tries++) {
		struct nn_errlist errs = { 0 };
		struct nn_policy *p = NULL;
		char *json = rp_evolve(r, &series, generation);
		size_t i;

		assert_non_null(json);
		if (!nn_policy_parse(json, strlen(json), RP_NODE_ID, NULL, &p, &errs)) {
			nn_errlist_free(&errs);
			free(*json_out);
			*json_out = json;
			return p;
		}
		/* Rejected whole (an injected fault that cannot be dropped
		 * alone): the gateway keeps the last state; draw another. */
		snapshots_rejected++;
		if (tries == 19)
			for (i = 0; i < errs.n; i++)
				fprintf(stderr, "# rejected snapshot: %s\n", errs.msgs[i]);
		nn_errlist_free(&errs);
		free(json);
	}
	fail_msg("no acceptable random snapshot in 20 tries");
	return NULL;
}

static void print_faults(void)
{
	unsigned int k, n = 0;

	for (k = 0; k < FLT_COUNT; k++)
		n += faults_injected[k];
	printf("# %u validation faults injected (%u snapshots rejected whole):", n,
	       snapshots_rejected);
	for (k = 0; k < FLT_COUNT; k++)
		if (faults_injected[k])
			printf(" %s=%u", flt_name((enum flt_kind)k), faults_injected[k]);
	printf("\n");
}

static void hexdump(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		fprintf(stderr, "%s%02x%s", i % 16 ? "" : "#   ", p[i],
			i % 16 == 15 || i + 1 == len ? "\n" : " ");
}

static const char *rname(unsigned int r)
{
	const char *n = r ? nn_reason_name(r) : "pass";

	return n ? n : "?";
}

struct run {
	uint8_t framing;
	struct dpt t;
	struct nn_model *m;
	struct nn_policy *p;
	char *json; /* the snapshot of p, for failure reports */
	char *next_json;
	struct rk_gen *g;
	struct nn_rng r;
	uint64_t generation;
	size_t by_reason[NN_R_MAX + 1];
	size_t flow_hits, untouched, switches, host_sets, record_checks;
	/* Drops decided by a remembered denied flow (nn_denied): the path
	 * must be reached, or these packets check nothing of it. */
	size_t denied_hits;
};

/* A new set of the gateway host's own addresses into both (verdicts.md
 * "Destination"): like a policy change, a new generation for open flows. */
static void switch_host_addrs(struct run *ru)
{
	struct nn_host_addr h[4] = { 0 };
	uint8_t a[4][NN_ADDR_LEN];
	struct nn_local_change chg;
	size_t i, n = rk_host_addrs(ru->g, a, 4);

	for (i = 0; i < n; i++) {
		memcpy(h[i].addr, a[i], NN_ADDR_LEN);
		h[i].ifindex = 1 + (uint32_t)i;
	}
	assert_int_equal(nn_local_set(ru->t.dp, h, n, &chg), 0);
	assert_int_equal(nn_model_set_host_addrs(ru->m, (const uint8_t(*)[NN_ADDR_LEN])a, n), 0);
	ru->host_sets++;
}

/* The applier's record of the maps (dp/cache.h) after every apply: equal
 * to what the maps hold; half the time the daemon's idle standby sync runs
 * (so the next switch writes N -> N+1 rather than N-1 -> N+1); a fifth of
 * the time the record is dropped, as after a restart, and the same policy
 * applied from what the maps hold must find nothing to write: the state
 * kept across generations equals a from-scratch apply. */
static void record_checks(struct run *ru, const struct nn_policy *np)
{
	struct nn_apply_result again;
	size_t differ = 1, w;

	assert_int_equal(nn_apply_check(ru->t.dp, &differ), 0);
	assert_int_equal(differ, 0);
	if (rng_pct(&ru->r, 50))
		assert_int_equal(nn_apply_sync_standby(ru->t.dp, &w), 0);
	if (rng_pct(&ru->r, 20)) {
		nn_apply_cache_free(ru->t.dp->apply_cache);
		ru->t.dp->apply_cache = NULL;
		assert_int_equal(dpt_apply(&ru->t, np, &again), 0);
		assert_false(again.flipped);
		assert_true(again.writes <= 1); /* nn_meta's apply time at most */
	}
	ru->record_checks++;
}

/* A new random policy into both: the BPF side through nn_apply, the model
 * only when the generation switched (same epochs on both sides). */
static void switch_policy(struct run *ru)
{
	struct nn_apply_result res = { 0 };
	struct nn_policy *np;
	int tries;

	for (tries = 0; tries < 10; tries++) {
		np = random_policy(&ru->r, ++ru->generation, &ru->next_json);
		if (!dpt_apply(&ru->t, np, &res))
			break;
		nn_policy_free(np);
		np = NULL;
	}
	assert_non_null(np);
	record_checks(ru, np);
	if (!ru->m) {
		ru->m = nn_model_new(np);
		assert_non_null(ru->m);
	} else if (res.flipped) {
		nn_model_set_policy(ru->m, np);
		ru->switches++;
	} else {
		nn_policy_free(np);
		return;
	}
	nn_policy_free(ru->p);
	ru->p = np;
	free(ru->json);
	ru->json = ru->next_json;
	ru->next_json = NULL;
	assert_int_equal(rk_set_policy(ru->g, ru->p), 0);
	/* Half the generations also move the host's own addresses. */
	if (rng_pct(&ru->r, 50))
		switch_host_addrs(ru);
}

static void report(struct run *ru, size_t i, const struct rk_pkt *pk, const struct dpt_result *r,
		   const struct nn_model_verdict *mv)
{
	char path[96];
	FILE *f;

	fprintf(stderr, "# MISMATCH seed=%llu framing=%s packet=%zu (%s, %s, hook %s, epoch %u)\n",
		(unsigned long long)seed, ru->framing == NN_FRAMING_ETH ? "eth" : "l3", i, pk->kind,
		pk->dir == NN_DIR_FROM_OVERLAY ? "from overlay" : "into overlay",
		pk->hook == NN_HOOK_XDP ? "xdp" : "tc", nn_model_epoch(ru->m));
	hexdump(pk->buf, pk->len);
	fprintf(stderr, "#   bpf:   passed=%d reason=%s rule=%d flow_hit=%d untouched=%d\n",
		r->passed, rname(r->reason), r->rule, r->flow_hit, r->untouched);
	fprintf(stderr, "#   model: reason=%s rule=%d flow_hit=%d untouched=%d\n",
		rname((unsigned int)mv->reason), mv->rule, mv->flow_hit, mv->untouched);
	if (r->rule >= 0 && (size_t)r->rule < ru->p->n_rules)
		fprintf(stderr, "#   bpf rule: %s\n", ru->p->rules[r->rule].id);
	if (mv->rule >= 0 && (size_t)mv->rule < ru->p->n_rules)
		fprintf(stderr, "#   model rule: %s\n", ru->p->rules[mv->rule].id);
	snprintf(path, sizeof(path), "/tmp/nn-diff-%llu-%s.json", (unsigned long long)seed,
		 ru->framing == NN_FRAMING_ETH ? "eth" : "l3");
	f = fopen(path, "w");
	if (f) {
		fputs(ru->json, f);
		fclose(f);
		fprintf(stderr, "#   policy in force: %s\n", path);
	}
}

/* The run in progress, so that a failed assertion still removes its TUN
 * device and maps (teardown). */
static struct run *cur;

static void run_free(struct run *ru)
{
	nn_model_free(ru->m);
	nn_policy_free(ru->p);
	free(ru->json);
	free(ru->next_json);
	rk_free(ru->g);
	if (ru->t.dp)
		dpt_close(&ru->t);
	free(ru);
}

static int teardown(void **state)
{
	(void)state;
	if (cur)
		run_free(cur);
	cur = NULL;
	return 0;
}

static void run_diff(uint8_t framing)
{
	struct run *ru = calloc(1, sizeof(*ru));
	uint64_t last_flush, start = now_ns();
	size_t i, k;
	int err;

	assert_non_null(ru);
	cur = ru;
	ru->framing = framing;
	ru->r.s = seed ^ (framing == NN_FRAMING_ETH ? 0xe7e7e7e7e7e7e7e7ull : 0);
	series.have = false;
	series.fault = inject_fault;
	series.fault_pct = FAULT_PCT;
	ru->g = rk_new(rng_next(&ru->r), framing);
	assert_non_null(ru->g);
	assert_int_equal(dpt_open(&ru->t, framing), 0);
	/* The model has no new-flow bucket (docs/datapath.md "New-state
	 * bound"): the bound stays on, so every new flow and fragment verdict
	 * pays its token as in production, but at a rate no generator reaches
	 * on any machine. test_flow_limit tests the bound itself. */
	assert_int_equal(nn_dp_set_flow_limit(ru->t.dp, NN_MAX_NEW_FLOW_RATE, 0x7fffffffu), 0);
	switch_policy(ru);
	last_flush = now_ns();
	for (i = 0; i < n_packets; i++) {
		struct nn_model_verdict mv;
		struct dpt_result r;
		struct rk_pkt pk;
		uint64_t now;

		if (i && i % (n_packets / (SWITCHES + 1) + 1) == 0)
			switch_policy(ru);
		if (now_ns() - last_flush > FLUSH_NS) {
			assert_int_equal(dpt_flush_state(&ru->t), 0);
			nn_model_flush_flows(ru->m);
			last_flush = now_ns();
		}
		rk_next(ru->g, &pk);
		now = now_ns();
		err = dpt_run_fast(&ru->t, pk.dir, pk.hook, pk.buf, pk.len, &r);
		if (err) {
			hexdump(pk.buf, pk.len);
			fail_msg("packet %zu (%s, %zu bytes, hook %d): test run failed: %d", i,
				 pk.kind, pk.len, pk.hook, err);
		}
		nn_model_judge(ru->m, pk.dir, framing, pk.buf, pk.len, now, &mv);
		if (r.reason != (uint32_t)mv.reason || r.rule != mv.rule ||
		    r.flow_hit != mv.flow_hit || r.untouched != mv.untouched ||
		    r.passed != (mv.reason == NN_PASS)) {
			report(ru, i, &pk, &r, &mv);
			fail_msg("BPF and model disagree at packet %zu (seed=%llu)", i,
				 (unsigned long long)seed);
		}
		if (mv.reason == NN_PASS)
			rk_passed(ru->g);
		ru->by_reason[mv.reason < NN_R_MAX ? mv.reason : NN_R_MAX]++;
		ru->flow_hits += mv.flow_hit;
		ru->denied_hits += r.denied_hit;
		ru->untouched += mv.untouched;
	}
	fprintf(stderr,
		"# %s: %zu packets in %.1f s, %zu policy switches, %zu flow hits, "
		"%zu denied-flow hits, %zu untouched, %zu host address sets, %zu record checks\n",
		framing == NN_FRAMING_ETH ? "eth" : "l3", n_packets,
		(double)(now_ns() - start) / 1e9, ru->switches, ru->flow_hits, ru->denied_hits,
		ru->untouched, ru->host_sets, ru->record_checks);
	for (k = 0; k < NN_R_MAX; k++)
		if (ru->by_reason[k])
			fprintf(stderr, "#   %-18s %zu\n", k ? rname((unsigned int)k) : "pass",
				ru->by_reason[k]);
	if (!ru->denied_hits)
		fail_msg("no packet of %zu reached a remembered denied flow", n_packets);
	run_free(ru);
	cur = NULL;
}

static void test_differential_l3(void **state)
{
	(void)state;
	run_diff(NN_FRAMING_L3);
}

static void test_differential_eth(void **state)
{
	(void)state;
	run_diff(NN_FRAMING_ETH);
}

/* ---- the underlay guard against docs/datapath.md "Underlay" ---- */

#define UL_PORT 51820
#define UL_PASS 2 /* XDP_PASS */
#define UL_DROP 1 /* XDP_DROP */

static uint32_t ul_rd16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static bool ul_is_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 135 || nh == 139 ||
	       nh == 140;
}

/*
 * What the guard must do with frame @f (@len bytes), from datapath.md
 * "Underlay" and verdicts.md: NN_PASS, or the wg_* drop reason. Written
 * from the text, as the kernel would find the UDP header: one 802.1Q tag,
 * IPv4 options skipped, IPv6 extension headers walked to the end, not to
 * a bound. A chain longer than NN_MAX_EXT_HDRS is [wg_malformed] whatever
 * it carries (the guard cannot see whether the kernel would deliver it to
 * WireGuard, so it fails closed); a frame whose UDP header cannot be found
 * is not the guard's. Every frame has its own source, so the handshake
 * rate never decides here.
 */
static uint32_t ul_expect(const uint8_t *f, size_t len, const char **why)
{
	size_t off = 14, l4, ext = 0, n_ext = 0, l4len, msglen;
	bool first = false, bad;
	uint32_t etype, tot;
	uint8_t nh;

	*why = "not UDP to the port";
	if (len < 14)
		return NN_PASS;
	etype = ul_rd16(f + 12);
	if (etype == 0x8100) {
		if (len < 18)
			return NN_PASS;
		etype = ul_rd16(f + 16);
		off = 18;
	}
	if (etype == 0x0800) {
		size_t hl;

		if (len < off + 20 || f[off] >> 4 != 4 || (f[off] & 0xf) < 5 || f[off + 9] != 17)
			return NN_PASS;
		if (ul_rd16(f + off + 6) & 0x1fff)
			return NN_PASS; /* a later fragment: nothing to judge */
		first = ul_rd16(f + off + 6) & 0x2000;
		hl = (size_t)(f[off] & 0xf) * 4;
		tot = ul_rd16(f + off + 2);
		l4 = off + hl;
		bad = tot < hl || tot > len - off;
		l4len = bad ? 0 : tot - hl;
	} else if (etype == 0x86dd) {
		if (len < off + 40 || f[off] >> 4 != 6)
			return NN_PASS;
		nh = f[off + 6];
		l4 = off + 40;
		while (ul_is_ext(nh)) {
			size_t hlen;

			if (l4 + 8 > len)
				break; /* the kernel drops it: not the guard's */
			if (++n_ext > NN_MAX_EXT_HDRS) {
				*why = "extension headers over the bound";
				return NN_R_WG_MALFORMED;
			}
			if (nh == 44) {
				if (ul_rd16(f + l4 + 2) & 0xfff8)
					return NN_PASS; /* later fragment */
				first |= f[l4 + 3] & 1;
				hlen = 8;
			} else if (nh == 51) {
				hlen = ((size_t)f[l4 + 1] + 2) * 4;
			} else {
				hlen = ((size_t)f[l4 + 1] + 1) * 8;
			}
			nh = f[l4];
			l4 += hlen;
			ext += hlen;
		}
		if (ul_is_ext(nh) || nh != 17)
			return NN_PASS;
		tot = ul_rd16(f + off + 4);
		bad = tot > len - off - 40 || tot < ext;
		l4len = bad ? 0 : tot - ext;
	} else {
		return NN_PASS;
	}
	if (l4 + 8 > len || ul_rd16(f + l4 + 2) != UL_PORT)
		return NN_PASS;
	*why = "IP or UDP length";
	if (bad || l4len < 8 || (!first && ul_rd16(f + l4 + 4) != l4len))
		return NN_R_WG_MALFORMED;
	msglen = l4len - 8;
	*why = "message header";
	if (msglen < 4 || l4 + 12 > len || f[l4 + 9] || f[l4 + 10] || f[l4 + 11])
		return NN_R_WG_MALFORMED;
	*why = "message type or size";
	if (first)
		return f[l4 + 8] == NN_WG_DATA ? NN_PASS : NN_R_WG_MALFORMED;
	switch (f[l4 + 8]) {
	case NN_WG_INITIATION:
		return msglen == NN_WG_INITIATION_LEN ? NN_PASS : NN_R_WG_MALFORMED;
	case NN_WG_RESPONSE:
		return msglen == NN_WG_RESPONSE_LEN ? NN_PASS : NN_R_WG_MALFORMED;
	case NN_WG_COOKIE:
		return msglen == NN_WG_COOKIE_LEN ? NN_PASS : NN_R_WG_MALFORMED;
	case NN_WG_DATA:
		return msglen >= NN_WG_DATA_MIN_LEN && msglen % 16 == 0 ? NN_PASS :
									  NN_R_WG_MALFORMED;
	}
	return NN_R_WG_MALFORMED;
}

static struct nn_underlay *ul;

static int ul_teardown(void **state)
{
	(void)state;
	nn_underlay_close(ul);
	ul = NULL;
	return 0;
}

static uint64_t ul_drops(uint32_t reason)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct nn_reason_stats *v = calloc((size_t)ncpu, sizeof(*v));
	uint64_t sum = 0;

	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(ul->map_fd[NN_UL_DROPS], &reason, v), 0);
	for (i = 0; i < ncpu; i++)
		sum += v[i].packets;
	free(v);
	return sum;
}

static void test_differential_underlay(void **state)
{
	struct nn_rng r = { seed ^ 0x0de71a70de71a7ull };
	size_t i, n = n_packets / 5 + 1, by[NN_R_MAX] = { 0 }, kinds = 0;
	uint64_t start = now_ns(), before = 0, after = 0;
	uint8_t buf[PB_BUF_LEN], out[PB_BUF_LEN + 64];

	(void)state;
	nn_log_set_level(NN_LOG_WARN);
	assert_int_equal(nn_underlay_load(NULL, &ul), 0);
	assert_int_equal(nn_underlay_set_port(ul, UL_PORT, NULL), 0);
	before = ul_drops(NN_R_WG_MALFORMED) + ul_drops(NN_R_WG_HANDSHAKE_RATE);
	for (i = 0; i < n; i++) {
		const char *kind, *why;
		size_t len = rk_underlay_frame(&r, UL_PORT, (uint32_t)i, buf, &kind);
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (uint32_t)len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		uint32_t want, got;

		if (!len)
			fail_msg("frame %zu (%s): the generator made none", i, kind);
		want = ul_expect(buf, len, &why);
		assert_int_equal(bpf_prog_test_run_opts(nn_underlay_prog_fd(ul), &o), 0);
		got = o.retval == UL_PASS ? NN_PASS : NN_R_WG_MALFORMED;
		if (o.retval != UL_PASS && o.retval != UL_DROP)
			fail_msg("frame %zu: XDP action %u", i, o.retval);
		if (got != want) {
			fprintf(stderr,
				"# MISMATCH seed=%llu underlay frame=%zu (%s): guard %s, want %s "
				"(%s)\n",
				(unsigned long long)seed, i, kind, rname(got), rname(want), why);
			hexdump(buf, len);
			fail_msg(
				"the underlay guard and datapath.md disagree at frame %zu (seed=%llu)",
				i, (unsigned long long)seed);
		}
		by[want]++;
		kinds += !strcmp(kind, "underlay-v6-long-chain");
	}
	/* Every drop was a wg_malformed one (no handshake-rate drops). */
	after = ul_drops(NN_R_WG_MALFORMED) + ul_drops(NN_R_WG_HANDSHAKE_RATE);
	assert_int_equal(after - before, by[NN_R_WG_MALFORMED]);
	assert_int_equal(ul_drops(NN_R_WG_HANDSHAKE_RATE), 0);
	fprintf(stderr,
		"# underlay: %zu frames in %.1f s, %zu pass, %zu wg_malformed, %zu over-bound "
		"chains\n",
		n, (double)(now_ns() - start) / 1e9, by[NN_PASS], by[NN_R_WG_MALFORMED], kinds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_differential_l3, teardown),
		cmocka_unit_test_teardown(test_differential_eth, teardown),
		cmocka_unit_test_teardown(test_differential_underlay, ul_teardown),
	};
	const char *s = getenv("NN_SEED"), *n = getenv("NN_DIFF_PACKETS");
	int err;

	seed = s ? strtoull(s, NULL, 0) : ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
	if (n)
		n_packets = strtoul(n, NULL, 0);
	if (!n_packets)
		n_packets = 1;
	printf("# seed=%llu\n", (unsigned long long)seed);
	fflush(stdout);
	err = cmocka_run_group_tests_name("differential: BPF vs model", tests, NULL, NULL);
	print_faults();
	return err;
}
