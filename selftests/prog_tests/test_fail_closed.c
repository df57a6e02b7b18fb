// SPDX-License-Identifier: GPL-2.0
/*
 * Fail-closed validation as a property test (assignments-v1.md
 * "Validation"). For every fault of faults.h, over random valid snapshots
 * (randpolicy): the snapshot with that fault injected ("bad") and the same
 * snapshot as generated ("repaired") are both applied through the real
 * compiler and programs (BPF_PROG_TEST_RUN) and given to the model, and the
 * same packets are judged under each. Every verdict must agree between the
 * programs and the model, and:
 *
 *  (a) no packet passes under "bad" that "repaired" drops;
 *  (b) no packet reaches the address space the faulty entry claims (the
 *      space is read from the faulty JSON by faults.c, not from the
 *      validator): toward it from an active device -> unknown_dst, from it
 *      out of the overlay -> spoof, from it into the overlay -> spoof;
 *      only a standing identity (device, node, this gateway) at an address
 *      in the space, or a standing resource prefix longer than the claim,
 *      keeps its own verdicts;
 *  (c) no packet of another tenant (its device end) turns from drop into
 *      pass (a subset of (a), counted apart since it is the one that
 *      matters most);
 *  and a fault that only a whole rejection can handle is rejected.
 *
 * Both runs start from empty flow and fragment tables and see the same
 * packets in the same order. Tables only grow by packets that passed, so
 * by induction whatever passes under "bad" has its state under "repaired"
 * too: (a) holds for replies and later fragments as for first packets.
 *
 *   NN_SEED=N       replay (the seed is printed first, "# seed=N")
 *   NN_FC_ROUNDS=N  snapshots per fault and framing (default 8)
 */
#include <errno.h>
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

#include "dp/flowtab.h"
#include "dptest.h"
#include "faults.h"
#include "lib/names.h"
#include "model/model.h"
#include "pktbuild.h"
#include "randpkt.h"
#include "randpolicy.h"

#define RANDOM_PKTS 160
#define MAX_PKTS (RANDOM_PKTS + 8 * FLT_MAX_SPACE + 64)

enum expect {
	EX_NONE = 0,
	EX_TOWARD,   /* (b): from an active device toward the space */
	EX_FROM,     /* (b): from the space, out of the overlay */
	EX_INTO,     /* (b): from the space, into the overlay */
	EX_NOEGRESS, /* the faulty device toward the internet */
};

struct tpkt {
	struct rk_pkt pk;
	enum expect ex;
	int victim; /* device end belongs to another tenant than the fault's */
};

struct verdict {
	uint32_t reason;
	int32_t rule;
};

static uint64_t seed;
static unsigned int rounds = 8;

struct fstats {
	size_t runs, rejected, unexpected_reject, pkts, space_pkts;
};

struct run {
	uint8_t framing;
	struct dpt t;
	struct rk_gen *g;
	struct nn_rng r;
	struct tpkt *pk;
	size_t n_pk;
	struct verdict *v_ok, *v_bad;
	struct fstats st[FLT_COUNT];
	uint64_t gen;
	/* for reports */
	const char *json_ok, *json_bad;
	enum flt_kind k;
};

static struct run *cur;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *rname(unsigned int r)
{
	const char *n = r ? nn_reason_name(r) : "pass";

	return n ? n : "?";
}

static void dump(const char *tag, const char *json)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/nn-fc-%llu-%s.json", (unsigned long long)seed, tag);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(json, f);
	fclose(f);
	fprintf(stderr, "#   %s snapshot: %s\n", tag, path);
}

static void describe(struct run *ru, size_t i)
{
	const struct tpkt *t = &ru->pk[i];
	char s[NN_ADDR_STRLEN] = "?", d[NN_ADDR_STRLEN] = "?";
	struct nn_mpkt mp;

	if (!nn_model_parse(ru->framing, t->pk.buf, t->pk.len, &mp)) {
		nn_addr_format(mp.t.src, s, sizeof(s));
		nn_addr_format(mp.t.dst, d, sizeof(d));
	}
	fprintf(stderr,
		"# seed=%llu framing=%s fault=\"%s\" packet %zu (%s, %s, %s -> %s, proto %u "
		"dport %u)\n",
		(unsigned long long)seed, ru->framing == NN_FRAMING_ETH ? "eth" : "l3",
		flt_name(ru->k), i, t->pk.kind,
		t->pk.dir == NN_DIR_FROM_OVERLAY ? "from overlay" : "into overlay", s, d,
		mp.t.proto, mp.t.dport);
	dump("repaired", ru->json_ok);
	if (ru->json_bad)
		dump("faulty", ru->json_bad);
}

/* Empty one hash map: the keys first, in one walk (deleting while walking
 * from the start again would scan the whole table once per entry). */
static void empty_map(int fd, size_t ksz)
{
	uint8_t *keys = NULL, *k;
	size_t n = 0, cap = 0, i;

	for (k = NULL;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			keys = realloc(keys, cap * ksz);
			assert_non_null(keys);
		}
		if (bpf_map_get_next_key(fd, k, keys + n * ksz))
			break;
		k = keys + n++ * ksz;
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(fd, keys + i * ksz);
	free(keys);
}

/* Judge every packet under @p with the programs and the model, both from
 * empty flow and fragment tables; they must agree. */
static void judge_all(struct run *ru, const struct nn_policy *p, struct verdict *out)
{
	struct nn_model *m = nn_model_new(p);
	size_t i, k;
	int err;

	assert_non_null(m);
	assert_int_equal(nn_flow_clear_tests_only(ru->t.dp->map_fd[NN_M_FLOWS]), 0);
	empty_map(ru->t.dp->map_fd[NN_M_FRAGS], sizeof(struct nn_frag_key));
	for (i = 0; i < ru->n_pk; i++) {
		const struct rk_pkt *pk = &ru->pk[i].pk;
		struct nn_model_verdict mv;
		struct dpt_result r;
		uint64_t now = now_ns();

		err = dpt_run_fast(&ru->t, pk->dir, pk->hook, pk->buf, pk->len, &r);
		if (err) {
			describe(ru, i);
			for (k = 0; k < pk->len; k++)
				fprintf(stderr, "%02x%s", pk->buf[k], k % 16 == 15 ? "\n" : " ");
			fail_msg("test run failed: %d (hook %d, %zu bytes)", err, pk->hook,
				 pk->len);
		}
		nn_model_judge(m, pk->dir, ru->framing, pk->buf, pk->len, now, &mv);
		if (r.reason != (uint32_t)mv.reason || r.rule != mv.rule ||
		    r.passed != (mv.reason == NN_PASS)) {
			describe(ru, i);
			fprintf(stderr, "#   bpf %s rule %d, model %s rule %d\n", rname(r.reason),
				r.rule, rname((unsigned int)mv.reason), mv.rule);
			fail_msg("programs and model disagree");
		}
		out[i].reason = r.reason;
		out[i].rule = r.rule;
	}
	nn_model_free(m);
}

static struct nn_policy *parse(const char *json, struct nn_errlist *errs)
{
	struct nn_policy *p = NULL;

	if (nn_policy_parse(json, strlen(json), RP_NODE_ID, NULL, &p, errs))
		return NULL;
	return p;
}

/* ---- packets ---- */

static bool same_family(const uint8_t *a, const uint8_t *b)
{
	return nn_addr_is_v4mapped(a) == nn_addr_is_v4mapped(b);
}

static void add_pkt(struct run *ru, enum nn_dir dir, const uint8_t *src, const uint8_t *dst,
		    enum expect ex, int victim, const char *kind)
{
	char s[NN_ADDR_STRLEN], d[NN_ADDR_STRLEN];
	struct tpkt *t;
	struct pb b;

	if (ru->n_pk == MAX_PKTS)
		return;
	t = &ru->pk[ru->n_pk];
	pb_init(&b);
	pb_ip(&b, nn_addr_format(src, s, sizeof(s)), nn_addr_format(dst, d, sizeof(d)));
	pb_tcp(&b, (uint16_t)(1024 + rng_below(&ru->r, 60000)),
	       (uint16_t)(rng_pct(&ru->r, 50) ? 443 : rng_below(&ru->r, 65536)), PB_TCP_SYN);
	if (ru->framing == NN_FRAMING_ETH)
		pb_eth(&b);
	t->pk.len = pb_build(&b, t->pk.buf, sizeof(t->pk.buf));
	assert_true(t->pk.len >= 14);
	t->pk.dir = dir;
	t->pk.hook = dir == NN_DIR_FROM_OVERLAY && rng_pct(&ru->r, 50) ? NN_HOOK_XDP : NN_HOOK_TC;
	t->pk.kind = kind;
	t->ex = ex;
	t->victim = victim;
	ru->n_pk++;
}

/* An address inside @pf: a random one, or its first. */
static void sample(struct nn_rng *r, const struct nn_prefix *pf, uint8_t *a)
{
	unsigned int i;

	for (i = 0; i < NN_ADDR_LEN; i++)
		a[i] = (uint8_t)rng_next(r);
	for (i = 0; i < pf->len; i++) {
		uint8_t bit = (uint8_t)(0x80 >> (i % 8));

		a[i / 8] = (uint8_t)((a[i / 8] & ~bit) | (pf->addr[i / 8] & bit));
	}
	if (rng_pct(r, 30) && pf->len < 128) {
		memcpy(a, pf->addr, NN_ADDR_LEN);
		a[15] |= 1;
	}
}

static bool prefix_covers(const struct nn_prefix *pf, const uint8_t *a)
{
	return nn_prefix_contains(pf, a);
}

/* A standing identity at @a, or a standing resource prefix longer than
 * @len covering it: those keep their own verdicts. */
static bool standing(const struct nn_policy *p, const uint8_t *a, unsigned int len)
{
	size_t i, k;

	if (!memcmp(a, p->gw.ov6, NN_ADDR_LEN) || (p->gw.has_ov4 && !memcmp(a, p->gw.ov4, 16)))
		return true;
	for (i = 0; i < p->n_devices; i++)
		if (!memcmp(a, p->devices[i].addr6, 16) ||
		    (p->devices[i].has_addr4 && !memcmp(a, p->devices[i].addr4, 16)))
			return true;
	for (i = 0; i < p->n_nodes; i++)
		if (!memcmp(a, p->nodes[i].addr6, 16))
			return true;
	for (i = 0; i < p->n_resources; i++)
		for (k = 0; k < p->resources[i].n_prefixes; k++)
			if (p->resources[i].prefixes[k].len > len &&
			    prefix_covers(&p->resources[i].prefixes[k], a))
				return true;
	return false;
}

/* The longest claim of the fault covering @a, -1 when none. */
static int claim_len(const struct flt_result *f, const uint8_t *a)
{
	int best = -1;
	size_t i;

	for (i = 0; i < f->n_space; i++)
		if (prefix_covers(&f->space[i], a) && f->space[i].len > best)
			best = f->space[i].len;
	return best;
}

static bool tenant_is(const struct flt_result *f, const char *t)
{
	return (f->tenant[0][0] && !strcmp(f->tenant[0], t)) ||
	       (f->tenant[1][0] && !strcmp(f->tenant[1], t));
}

/* The tenant of the device at @a in @p, or NULL. */
static const char *dev_tenant(const struct nn_policy *p, const uint8_t *a)
{
	size_t i;

	for (i = 0; i < p->n_devices; i++)
		if (!memcmp(a, p->devices[i].addr6, 16) ||
		    (p->devices[i].has_addr4 && !memcmp(a, p->devices[i].addr4, 16)))
			return p->tenants[p->networks[p->devices[i].network].tenant].id;
	return NULL;
}

/* Active devices of @p with an address of @a's family. */
static const uint8_t *active_dev(struct run *ru, const struct nn_policy *p, const uint8_t *fam)
{
	size_t i, n = p->n_devices, start = n ? rng_below(&ru->r, (uint32_t)n) : 0;

	for (i = 0; i < n; i++) {
		const struct nn_device *d = &p->devices[(start + i) % n];

		if (d->state != NN_ST_ACTIVE)
			continue;
		if (same_family(d->addr6, fam))
			return d->addr6;
		if (d->has_addr4 && same_family(d->addr4, fam))
			return d->addr4;
	}
	return NULL;
}

static void make_packets(struct run *ru, const struct nn_policy *ok, const struct nn_policy *bad,
			 const struct flt_result *f)
{
	static const char *const inet[] = { "5000::1", "8.8.4.4" };
	const struct nn_policy *pb = bad ? bad : ok;
	uint8_t a[NN_ADDR_LEN], x[NN_ADDR_LEN];
	const uint8_t *d;
	size_t i, k;

	struct nn_model *m = nn_model_new(ok);

	/* The model under "repaired" tells the generator what passed, so
	 * that replies and errors refer to flows that were opened. */
	assert_non_null(m);
	ru->n_pk = 0;
	assert_int_equal(rk_set_policy(ru->g, ok), 0);
	for (i = 0; i < RANDOM_PKTS; i++) {
		struct tpkt *t = &ru->pk[ru->n_pk++];
		struct nn_model_verdict mv;
		struct nn_mpkt mp;
		const char *tn = NULL;

		/* This kernel's BPF_PROG_TEST_RUN refuses (EINVAL) an skb run on
		 * an L3 device shorter than 36 bytes (a bare IPv4/UDP header is
		 * 28): such packets cannot be run here, so none is drawn. */
		do
			rk_next(ru->g, &t->pk);
		while (ru->framing == NN_FRAMING_L3 && t->pk.hook == NN_HOOK_TC && t->pk.len < 36);
		nn_model_judge(m, t->pk.dir, ru->framing, t->pk.buf, t->pk.len, now_ns(), &mv);
		if (mv.reason == NN_PASS)
			rk_passed(ru->g);
		t->ex = EX_NONE;
		if (!nn_model_parse(ru->framing, t->pk.buf, t->pk.len, &mp) && !mp.untouched)
			tn = dev_tenant(ok, t->pk.dir == NN_DIR_FROM_OVERLAY ? mp.t.src : mp.t.dst);
		t->victim = tn && !tenant_is(f, tn);
	}
	nn_model_free(m);
	/* (b): a few addresses of every claim, each three ways. */
	for (i = 0; i < f->n_space; i++) {
		for (k = 0; k < 3; k++) {
			sample(&ru->r, &f->space[i], a);
			if (standing(pb, a, (unsigned int)claim_len(f, a)))
				continue;
			d = active_dev(ru, pb, a);
			if (d) {
				add_pkt(ru, NN_DIR_FROM_OVERLAY, d, a, EX_TOWARD, 0,
					"toward space");
				add_pkt(ru, NN_DIR_INTO_OVERLAY, a, d, EX_INTO, 0,
					"from space into");
				add_pkt(ru, NN_DIR_FROM_OVERLAY, a, d, EX_FROM, 0, "from space");
			}
		}
	}
	for (i = 0; i < f->n_noegress; i++) {
		for (k = 0; k < 2; k++) {
			nn_addr_parse(inet[k], x, NULL);
			if (same_family(x, f->noegress[i]))
				add_pkt(ru, NN_DIR_FROM_OVERLAY, f->noegress[i], x, EX_NOEGRESS, 0,
					"bad egress");
		}
	}
}

/* ---- the properties ---- */

static void check(struct run *ru, bool rejected)
{
	size_t i;

	for (i = 0; i < ru->n_pk; i++) {
		const struct tpkt *t = &ru->pk[i];
		uint32_t ok = ru->v_ok[i].reason, bad = ru->v_bad[i].reason;
		uint32_t want = NN_PASS;

		if (t->ex != EX_NONE && !rejected)
			ru->st[ru->k].space_pkts++;
		if (bad == NN_PASS && ok != NN_PASS) {
			describe(ru, i);
			fail_msg("(%s) passes with the fault, dropped (%s) once repaired",
				 t->victim ? "c" : "a", rname(ok));
		}
		if (rejected)
			continue;
		switch (t->ex) {
		case EX_TOWARD:
			want = NN_R_UNKNOWN_DST;
			break;
		case EX_FROM:
		case EX_INTO:
			want = NN_R_SPOOF;
			break;
		case EX_NOEGRESS:
			want = NN_R_NO_EGRESS;
			break;
		default:
			continue;
		}
		if (bad != want) {
			describe(ru, i);
			fail_msg("(b) the faulty entry's space: %s, want %s", rname(bad),
				 rname(want));
		}
	}
}

static void one_round(struct run *ru, enum flt_kind k)
{
	struct nn_apply_result res;
	struct nn_errlist errs = { 0 };
	struct nn_policy *ok = NULL, *bad = NULL;
	struct flt_result f;
	char *json = NULL;
	int tries, err = -ENOENT;

	ru->k = k;
	for (tries = 0; tries < 40 && err; tries++) {
		free(json);
		nn_policy_free(ok);
		json = rp_generate(&ru->r, ++ru->gen);
		assert_non_null(json);
		ok = parse(json, &errs);
		nn_errlist_free(&errs);
		if (!ok) {
			err = -EINVAL;
			continue;
		}
		err = flt_inject(json, k, &ru->r, &f);
		assert_true(err == 0 || err == -ENOENT);
	}
	if (err) {
		free(json);
		nn_policy_free(ok);
		return;
	}
	ru->json_ok = json;
	ru->json_bad = f.json;
	bad = parse(f.json, &errs);
	nn_errlist_free(&errs);
	ru->st[k].runs++;
	if (f.whole && bad) {
		dump("faulty", f.json);
		fail_msg("fault \"%s\" was accepted; only rejecting the snapshot is safe",
			 flt_name(k));
	}
	make_packets(ru, ok, bad, &f);
	ru->st[k].pkts += ru->n_pk;

	assert_int_equal(dpt_apply(&ru->t, ok, NULL), 0);
	judge_all(ru, ok, ru->v_ok);
	if (bad) {
		/* Every capacity of the test maps is far above what a random
		 * snapshot needs: the faulty one must apply. */
		memset(&res, 0, sizeof(res));
		assert_int_equal(dpt_apply(&ru->t, bad, &res), 0);
		judge_all(ru, bad, ru->v_bad);
	} else {
		/* Rejected whole: the last applied state (the repaired one)
		 * stays, so the verdicts are those. */
		ru->st[k].rejected++;
		ru->st[k].unexpected_reject += !f.whole;
		memcpy(ru->v_bad, ru->v_ok, ru->n_pk * sizeof(*ru->v_ok));
	}
	check(ru, !bad);
	ru->json_ok = ru->json_bad = NULL;
	nn_policy_free(ok);
	nn_policy_free(bad);
	flt_result_free(&f);
	free(json);
}

static void run_free(struct run *ru)
{
	rk_free(ru->g);
	if (ru->t.dp)
		dpt_close(&ru->t);
	free(ru->pk);
	free(ru->v_ok);
	free(ru->v_bad);
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

static void run_fc(uint8_t framing)
{
	struct run *ru = calloc(1, sizeof(*ru));
	size_t total = 0, space = 0;
	unsigned int i;
	int k;

	assert_non_null(ru);
	cur = ru;
	ru->framing = framing;
	ru->r.s = seed ^ (framing == NN_FRAMING_ETH ? 0x5eed5eed5eed5eedull : 0);
	ru->pk = calloc(MAX_PKTS, sizeof(*ru->pk));
	ru->v_ok = calloc(MAX_PKTS, sizeof(*ru->v_ok));
	ru->v_bad = calloc(MAX_PKTS, sizeof(*ru->v_bad));
	ru->g = rk_new(rng_next(&ru->r), framing);
	assert_true(ru->pk && ru->v_ok && ru->v_bad && ru->g);
	/* At most MAX_PKTS flows between two clears, each of which scans the
	 * table: 16,384 flows, not the tests' usual 1M (a bucket of 8 ways
	 * overflowing at that load: ~1e-10 per bucket). */
	assert_int_equal(dpt_open_tables(&ru->t, framing, 1 << 14, 0), 0);
	for (i = 0; i < rounds; i++)
		for (k = 0; k < FLT_COUNT; k++)
			one_round(ru, (enum flt_kind)k);
	for (k = 0; k < FLT_COUNT; k++) {
		const struct fstats *s = &ru->st[k];

		fprintf(stderr, "#   %-48s %2zu snapshots %2zu rejected whole%s %5zu packets\n",
			flt_name((enum flt_kind)k), s->runs, s->rejected,
			s->unexpected_reject ? " (some unexpectedly)" : "", s->pkts);
		/* Every fault must really have been tried. */
		assert_true(s->runs > 0);
		total += s->pkts;
		space += s->space_pkts;
	}
	fprintf(stderr, "# %s: %zu packets judged twice, %zu of them into claimed space\n",
		framing == NN_FRAMING_ETH ? "eth" : "l3", total, space);
	run_free(ru);
	cur = NULL;
}

static void test_fail_closed_l3(void **state)
{
	(void)state;
	run_fc(NN_FRAMING_L3);
}

static void test_fail_closed_eth(void **state)
{
	(void)state;
	run_fc(NN_FRAMING_ETH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fail_closed_l3, teardown),
		cmocka_unit_test_teardown(test_fail_closed_eth, teardown),
	};
	const char *s = getenv("NN_SEED"), *n = getenv("NN_FC_ROUNDS");

	seed = s ? strtoull(s, NULL, 0) : ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
	if (n)
		rounds = (unsigned int)strtoul(n, NULL, 0);
	if (!rounds)
		rounds = 1;
	printf("# seed=%llu\n", (unsigned long long)seed);
	fflush(stdout);
	return cmocka_run_group_tests_name("fail-closed validation", tests, NULL, NULL);
}
