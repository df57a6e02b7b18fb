// SPDX-License-Identifier: GPL-2.0
/*
 * Policy updates through the real programs (BPF_PROG_TEST_RUN, L3 framing
 * as on wg0, TC hooks) and the real compiler and generation switch:
 * open flows are cut when the new generation no longer allows them and kept
 * when it does, revocation is immediate in both directions, re-applying is
 * free, rejected snapshots change nothing, counters move exactly, counter
 * slots are stable and never inherited, drops produce ring-buffer events.
 *
 * Policies are examples/assignments.json with text edits.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/cache.h"
#include "dp/counters.h"
#include "dptest.h"
#include "examples.h"
#include "model_fixture.h"

#define H NN_HOOK_TC
#define SYN PB_TCP_SYN
#define ACK PB_TCP_ACK
#define SYNACK (PB_TCP_SYN | PB_TCP_ACK)
#define MAX_POL 8

struct ut {
	struct dpt t;
	struct nn_policy *pol[MAX_POL];
	size_t n_pol;
};

/* ---- Policies from edited JSON ---- */

/* @json without the array element that starts at @start and ends with the
 * first @end after it, and without the comma that separated it. */
static char *cut(const char *json, const char *start, const char *end)
{
	const char *a = strstr(json, start), *b = a ? strstr(a, end) : NULL;
	size_t n = strlen(json);
	char *out;

	if (!a || !b)
		fail_msg("cut: \"%s\" ... \"%s\" not in the snapshot", start, end);
	b += strlen(end);
	while (a > json && strchr(" \n\t", a[-1]))
		a--;
	if (a > json && a[-1] == ',') {
		a--;
	} else {
		while (*b && strchr(" \n\t", *b))
			b++;
		assert_true(*b == ',');
		b++;
	}
	out = calloc(1, n + 1);
	assert_non_null(out);
	memcpy(out, json, (size_t)(a - json));
	strcat(out, b);
	return out;
}

/* Parse @json (freed here) as gw-fra-1; the policy is freed at teardown. */
static struct nn_policy *policy(struct ut *u, char *json)
{
	struct nn_errlist errs = { 0 };
	struct nn_policy *p = NULL;
	size_t i;
	int err;

	err = nn_policy_parse(json, strlen(json), "gw-fra-1", NULL, &p, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "# policy: %s\n", errs.msgs[i]);
	nn_errlist_free(&errs);
	free(json);
	assert_int_equal(err, 0);
	assert_true(u->n_pol < MAX_POL);
	u->pol[u->n_pol++] = p;
	return p;
}

static struct nn_policy *variant(struct ut *u, const char *from, const char *to)
{
	return policy(u, mf_edit(mf_json, from, to));
}

static struct nn_apply_result apply(struct ut *u, const struct nn_policy *p)
{
	struct nn_apply_result res;

	assert_int_equal(dpt_apply(&u->t, p, &res), 0);
	return res;
}

static uint32_t live_epoch(struct ut *u)
{
	uint32_t e = 0;

	assert_int_equal(nn_live_epoch(u->t.dp, &e), 0);
	return e;
}

/* ---- Packets and verdicts ---- */

static size_t tcp_pkt(uint8_t *pkt, const char *s, const char *d, uint16_t sp, uint16_t dp,
		      uint8_t flags)
{
	struct pb b;
	size_t len = pb_build(mf_tcp(&b, s, d, sp, dp, flags), pkt, PB_BUF_LEN);

	assert_true(len > 0);
	return len;
}

static struct dpt_result run_pkt(struct ut *u, enum nn_dir dir, const uint8_t *pkt, size_t len)
{
	struct dpt_result r;
	int err = dpt_run(&u->t, dir, H, pkt, len, &r);

	/* The TC run names dptest's TUN device: say which, should it vanish. */
	if (err)
		fail_msg("dpt_run: %d (tun %s ifindex %d, now %u)", err, u->t.l3_ifname,
			 u->t.l3_ifindex, if_nametoindex(u->t.l3_ifname));
	return r;
}

static struct dpt_result tcp(struct ut *u, enum nn_dir dir, const char *s, const char *d,
			     uint16_t sp, uint16_t dp, uint8_t flags)
{
	uint8_t pkt[PB_BUF_LEN];
	size_t len = tcp_pkt(pkt, s, d, sp, dp, flags);

	return run_pkt(u, dir, pkt, len);
}

/* Fail unless @r is @reason decided by @rule (NULL: none) of @p, and only
 * that drop counter moved, by one. */
static void expect_at(int line, const struct dpt_result *r, const struct nn_policy *p, int reason,
		      const char *rule)
{
	int32_t want_rule = rule ? mf_rule(p, rule) : -1;
	int k;

	if (r->passed != (reason == NN_PASS) || r->reason != (uint32_t)reason ||
	    r->rule != want_rule)
		fail_msg("line %d: passed %d reason %u rule %d, want reason %d rule %d", line,
			 r->passed, r->reason, r->rule, reason, want_rule);
	for (k = 1; k < NN_R_MAX; k++)
		if (r->drops[k] != (uint64_t)(k == reason))
			fail_msg("line %d: drop counter %d moved by %llu", line, k,
				 (unsigned long long)r->drops[k]);
}

#define expect(r, p, reason, rule)                         \
	do {                                               \
		struct dpt_result r_ = (r);                \
		expect_at(__LINE__, &r_, p, reason, rule); \
	} while (0)

/* ---- Counters by name ---- */

static uint32_t slot_of(int names_fd, const char *id)
{
	uint32_t key, next, *prev = NULL, found = NN_NONE32;
	struct nn_name n;

	while (!bpf_map_get_next_key(names_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(names_fd, &key, &n) && n.in_use && !strcmp(n.id, id)) {
			assert_true(found == NN_NONE32); /* one slot per name */
			found = key;
		}
	}
	return found;
}

static uint32_t dev_slot(struct ut *u, const char *id)
{
	uint32_t s = slot_of(u->t.dp->map_fd[NN_M_DEV_NAMES], id);

	if (s == NN_NONE32)
		fail_msg("no counter slot for device %s", id);
	return s;
}

static uint32_t rule_slot(struct ut *u, const char *id)
{
	uint32_t s = slot_of(u->t.dp->map_fd[NN_M_RULE_NAMES], id);

	if (s == NN_NONE32)
		fail_msg("no counter slot for rule %s", id);
	return s;
}

/* Sum over CPUs of device counter slot @slot: the readers' own function
 * (gwctl, metrics), checked against packet counts by the tests below. */
static struct nn_dev_stats dev_stats(struct ut *u, uint32_t slot)
{
	struct nn_dev_stats s = { 0 };

	assert_int_equal(nn_percpu_sum(u->t.dp->map_fd[NN_M_DEV_STATS], slot, sizeof(s) / 8,
				       (uint64_t *)&s),
			 0);
	return s;
}

static uint64_t rule_hits(struct ut *u, const char *id)
{
	uint32_t slot = rule_slot(u, id);
	uint64_t sum = 0;

	assert_int_equal(nn_percpu_sum(u->t.dp->map_fd[NN_M_RULE_HITS], slot, 1, &sum), 0);
	return sum;
}

static bool stats_zero(const struct nn_dev_stats *s)
{
	static const struct nn_dev_stats zero;

	return !memcmp(s, &zero, sizeof(zero));
}

/* ---- Fixture: the example policy applied, nothing tracked ---- */

static int setup(void **state)
{
	struct ut *u = calloc(1, sizeof(*u));
	struct nn_apply_result res;

	if (!u || dpt_open_shared(&u->t, NN_FRAMING_L3) || dpt_apply(&u->t, mf_base, &res))
		return -1;
	*state = u;
	return 0;
}

static int teardown(void **state)
{
	struct ut *u = *state;
	size_t i;

	dpt_close(&u->t);
	for (i = 0; i < u->n_pol; i++)
		nn_policy_free(u->pol[i]);
	free(u);
	return 0;
}

/* ---- Tests ---- */

/* eng-db loses port 5432, is removed, or becomes a deny: the open
 * alice -> db flow stops on its next packet and on its reply, whichever
 * comes first, each with the reason the new policy gives. */
static void test_change_cuts_flows(void **state)
{
	struct ut *u = *state;
	struct nn_policy *no5432, *gone, *deny, *news[3], *p;
	struct nn_apply_result res;
	size_t i;

	no5432 = variant(u, "\"ports\": [\"5432\", \"8000-8080\"]", "\"ports\": [\"8000-8080\"]");
	gone = policy(u, cut(mf_json, "{ \"rule_id\": \"eng-db\"", "\"8000-8080\"] }"));
	deny = variant(u, "\"rule_id\": \"eng-db\", \"action\": \"allow\"",
		       "\"rule_id\": \"eng-db\", \"action\": \"deny\"");
	assert_int_equal(gone->n_rules, mf_base->n_rules - 1);
	news[0] = no5432;
	news[1] = gone;
	news[2] = deny;
	for (i = 0; i < 3; i++) {
		int acl = news[i] == deny ? NN_R_ACL_DENY : NN_R_ACL_DEFAULT_DENY;
		const char *rule = news[i] == deny ? "eng-db" : NULL;

		p = news[i];
		apply(u, mf_base);
		/* Two open flows, both passing both ways. */
		expect(tcp(u, FROM, ALICE6, DB6, 41000, 5432, SYN), mf_base, NN_PASS, "eng-db");
		expect(tcp(u, INTO, DB6, ALICE6, 5432, 41000, SYNACK), mf_base, NN_PASS, NULL);
		expect(tcp(u, FROM, ALICE6, DB6, 41001, 5432, SYN), mf_base, NN_PASS, "eng-db");
		expect(tcp(u, INTO, DB6, ALICE6, 5432, 41001, SYNACK), mf_base, NN_PASS, NULL);
		assert_true(tcp(u, FROM, ALICE6, DB6, 41000, 5432, ACK).flow_hit);

		res = apply(u, p);
		assert_true(res.flipped);
		/* Flow 1: the opener's next packet first, then the reply. */
		expect(tcp(u, FROM, ALICE6, DB6, 41000, 5432, ACK), p, acl, rule);
		expect(tcp(u, INTO, DB6, ALICE6, 5432, 41000, ACK), p, NN_R_ACL_DEFAULT_DENY, NULL);
		/* Flow 2: the reply first (the opener is judged again, fails). */
		expect(tcp(u, INTO, DB6, ALICE6, 5432, 41001, ACK), p, NN_R_ACL_DEFAULT_DENY, NULL);
		expect(tcp(u, FROM, ALICE6, DB6, 41001, 5432, ACK), p, acl, rule);
		/* And they stay cut. */
		expect(tcp(u, INTO, DB6, ALICE6, 5432, 41000, ACK), p, NN_R_ACL_DEFAULT_DENY, NULL);
		/* Port 8000 is still eng-db's (unless eng-db itself went). */
		if (p == no5432)
			expect(tcp(u, FROM, ALICE6, DB6, 41002, 8000, SYN), p, NN_PASS, "eng-db");
		assert_int_equal(dpt_flush_state(&u->t), 0);
	}
}

/* A change that does not touch a flow's rule keeps it: it is judged again
 * under the new generation, passes, and replies keep passing. */
static void test_unrelated_change_keeps_flows(void **state)
{
	struct ut *u = *state;
	struct nn_policy *p;
	struct nn_apply_result res;
	uint32_t e0 = live_epoch(u);

	/* ping-peers loses bob-phone as a destination. */
	p = variant(u, "\"dst\": { \"devices\": [\"alice-laptop\", \"bob-phone\"] }",
		    "\"dst\": { \"devices\": [\"alice-laptop\"] }");
	expect(tcp(u, FROM, ALICE6, DB6, 42000, 5432, SYN), mf_base, NN_PASS, "eng-db");
	expect(tcp(u, FROM, BOB6, WEB6, 42001, 443, SYN), mf_base, NN_PASS, "all-web");
	expect(tcp(u, INTO, WEB6, BOB6, 443, 42001, SYNACK), mf_base, NN_PASS, NULL);

	res = apply(u, p);
	assert_true(res.flipped);
	assert_int_equal(live_epoch(u), e0 + 1);
	/* Reply first for alice's flow, opener first for bob's. */
	expect(tcp(u, INTO, DB6, ALICE6, 5432, 42000, SYNACK), p, NN_PASS, NULL);
	expect(tcp(u, FROM, ALICE6, DB6, 42000, 5432, ACK), p, NN_PASS, NULL);
	expect(tcp(u, FROM, BOB6, WEB6, 42001, 443, ACK), p, NN_PASS, NULL);
	expect(tcp(u, INTO, WEB6, BOB6, 443, 42001, ACK), p, NN_PASS, NULL);
	/* Re-judged once, then tracked under the new epoch. */
	assert_true(tcp(u, FROM, ALICE6, DB6, 42000, 5432, ACK).flow_hit);
	assert_true(tcp(u, INTO, WEB6, BOB6, 443, 42001, ACK).flow_hit);
}

/* A disabled device's flows stop at once, both ways, as revoked. */
static void test_revoked_device(void **state)
{
	struct ut *u = *state;
	struct nn_policy *p;
	uint8_t req[PB_BUF_LEN], rep[PB_BUF_LEN];
	size_t lreq, lrep;
	struct pb b;

	p = variant(u, "\"state\": \"active\", \"key_generation\": 3",
		    "\"state\": \"disabled\", \"key_generation\": 3");
	lreq = pb_build(mf_echo(&b, BOB6, ALICE6, true, 7), req, sizeof(req));
	lrep = pb_build(mf_echo(&b, ALICE6, BOB6, false, 7), rep, sizeof(rep));
	assert_true(lreq && lrep);

	expect(tcp(u, FROM, ALICE6, DB6, 43000, 5432, SYN), mf_base, NN_PASS, "eng-db");
	expect(tcp(u, INTO, DB6, ALICE6, 5432, 43000, SYNACK), mf_base, NN_PASS, NULL);
	expect(run_pkt(u, FROM, req, lreq), mf_base, NN_PASS, "ping-peers");
	expect(run_pkt(u, FROM, rep, lrep), mf_base, NN_PASS, NULL);

	apply(u, p);
	expect(tcp(u, INTO, DB6, ALICE6, 5432, 43000, ACK), p, NN_R_REVOKED, NULL);
	expect(tcp(u, FROM, ALICE6, DB6, 43000, 5432, ACK), p, NN_R_REVOKED, NULL);
	/* bob -> alice: alice is a disabled device of bob's own network. */
	expect(run_pkt(u, FROM, req, lreq), p, NN_R_REVOKED, NULL);
	expect(run_pkt(u, FROM, rep, lrep), p, NN_R_REVOKED, NULL);
	/* Re-enabled: a new flow passes again. */
	apply(u, mf_base);
	expect(tcp(u, FROM, ALICE6, DB6, 43001, 5432, SYN), mf_base, NN_PASS, "eng-db");
}

/* The same snapshot again: nothing written, no flip, same epoch; also when
 * parsed anew from the same text. */
static void test_same_snapshot_twice(void **state)
{
	struct ut *u = *state;
	struct nn_apply_result res;
	uint32_t e0 = live_epoch(u);
	struct nn_policy *again = policy(u, strdup(mf_json));

	assert_true(e0 > 0);
	res = apply(u, mf_base);
	assert_int_equal(res.writes, 0);
	assert_false(res.flipped);
	assert_int_equal(res.epoch, e0);
	res = apply(u, again);
	assert_int_equal(res.writes, 0);
	assert_false(res.flipped);
	assert_int_equal(live_epoch(u), e0);
}

/*
 * The fast path (docs/datapath.md "Flow lookup first") holds, per flow end,
 * what the end's address check found, tagged with its epoch. Here alice and
 * bob swap IPv6 addresses: bob's echo flow to alice is judged again and
 * kept (ping-peers allows both ways), by a packet from the flow's other
 * end; the next packet from the first end comes from another device now
 * and must count on that device, not on the one the older tag names.
 */
static void test_fast_path_after_swap(void **state)
{
	struct ut *u = *state;
	uint32_t alice = dev_slot(u, "alice-laptop"), bob = dev_slot(u, "bob-phone");
	struct nn_dev_stats a0, b0, a, b;
	uint8_t req[PB_BUF_LEN], rep[PB_BUF_LEN];
	size_t lreq, lrep;
	struct nn_policy *p;
	struct pb pb;
	char *j, *k;

	j = mf_edit(mf_json, "\"overlay_ipv6\": \"" ALICE6 "\"",
		    "\"overlay_ipv6\": \"fd7a:6e61:6e61:10::99\"");
	k = mf_edit(j, "\"overlay_ipv6\": \"" BOB6 "\"", "\"overlay_ipv6\": \"" ALICE6 "\"");
	free(j);
	p = policy(u, mf_edit(k, "\"overlay_ipv6\": \"fd7a:6e61:6e61:10::99\"",
			      "\"overlay_ipv6\": \"" BOB6 "\""));
	free(k);
	lreq = pb_build(mf_echo(&pb, BOB6, ALICE6, true, 9), req, sizeof(req));
	lrep = pb_build(mf_echo(&pb, ALICE6, BOB6, false, 9), rep, sizeof(rep));
	assert_true(lreq && lrep);

	/* bob pings alice; alice's replies: the second one takes the fast
	 * path with the tag the first one wrote. */
	expect(run_pkt(u, FROM, req, lreq), mf_base, NN_PASS, "ping-peers");
	expect(run_pkt(u, FROM, rep, lrep), mf_base, NN_PASS, NULL);
	a0 = dev_stats(u, alice);
	expect(run_pkt(u, FROM, rep, lrep), mf_base, NN_PASS, NULL);
	a = dev_stats(u, alice);
	assert_int_equal(a.packets[FROM] - a0.packets[FROM], 1);

	apply(u, p);
	/* From BOB6, alice's now: the flow is judged again and kept. */
	expect(run_pkt(u, FROM, req, lreq), p, NN_PASS, NULL);
	/* From ALICE6, bob's now: the tag of the older epoch must not count
	 * it on alice. */
	a0 = dev_stats(u, alice);
	b0 = dev_stats(u, bob);
	expect(run_pkt(u, FROM, rep, lrep), p, NN_PASS, NULL);
	expect(run_pkt(u, FROM, rep, lrep), p, NN_PASS, NULL);
	a = dev_stats(u, alice);
	b = dev_stats(u, bob);
	assert_int_equal(b.packets[FROM] - b0.packets[FROM], 2);
	assert_int_equal(a.packets[FROM] - a0.packets[FROM], 0);
}

/* Changing one device writes a handful of entries, not the generation. */
static void test_one_device_small_writes(void **state)
{
	struct ut *u = *state;
	struct nn_apply_result res, full;
	struct nn_policy *bob_off, *both_off;
	char *j;

	j = mf_edit(mf_json,
		    "\"overlay_ipv4\": null,\n              \"endpoint\": null, "
		    "\"persistent_keepalive\": 25,\n              \"state\": \"active\"",
		    "\"overlay_ipv4\": null,\n              \"endpoint\": null, "
		    "\"persistent_keepalive\": 25,\n              \"state\": \"disabled\"");
	bob_off = policy(u, strdup(j));
	both_off = policy(u, mf_edit(j,
				     "\"overlay_ipv4\": \"100.96.32.2\",\n              "
				     "\"endpoint\": null, \"persistent_keepalive\": 25,\n"
				     "              \"state\": \"active\"",
				     "\"overlay_ipv4\": \"100.96.32.2\",\n              "
				     "\"endpoint\": null, \"persistent_keepalive\": 25,\n"
				     "              \"state\": \"disabled\""));
	free(j);

	/* The standby slot is empty at first: a full write. */
	full = apply(u, bob_off);
	assert_true(full.flipped);
	/* Now both slots hold a generation; the next differs from what the
	 * standby slot holds (mf_base) in bob and carol-desktop only: bob's
	 * address, carol's two, the flip, nn_meta, and the source filter's
	 * stamp for the new epoch (no address is new: no filter line). */
	res = apply(u, both_off);
	assert_true(res.flipped);
	fprintf(stderr, "# writes: full %zu, two devices %zu (addrs %zu prefixes %zu cells %zu)\n",
		full.writes, res.writes, res.addrs, res.prefixes, res.cells);
	assert_true(res.writes > 0);
	assert_true(res.writes <= 6);
	assert_true(full.writes >= 4 * res.writes);
	expect(tcp(u, FROM, BOB6, WEB6, 44000, 443, SYN), both_off, NN_R_REVOKED, NULL);
	expect(tcp(u, FROM, CAROL6, FILES6, 44001, 80, SYN), both_off, NN_R_REVOKED, NULL);
	expect(tcp(u, FROM, ALICE6, DB6, 44002, 5432, SYN), both_off, NN_PASS, "eng-db");
	/* carol-desktop back on: the standby slot already holds exactly that
	 * generation, so only the flip, nn_meta and the filter's stamp are
	 * written. */
	res = apply(u, bob_off);
	assert_true(res.flipped);
	assert_true(res.writes <= 4);
	expect(tcp(u, FROM, CAROL6, FILES6, 44003, 80, SYN), bob_off, NN_PASS, "ops-files");
}

/* The applier's record of the maps (dp/cache.h) equals what they hold. */
static void record_matches(struct ut *u)
{
	size_t differ = 99;

	assert_int_equal(nn_apply_check(u->t.dp, &differ), 0);
	assert_int_equal(differ, 0);
}

/* The standby half's record is kept as its difference from the live one
 * (dp/cache.h) of at most @n keys per map: not a second whole record. */
static void standby_as_diff(struct ut *u, size_t n)
{
	const struct nn_apply_cache *c = u->t.dp->apply_cache;
	int set;

	assert_non_null(c);
	assert_true(c->sb.held);
	for (set = 0; set < SET_COUNT; set++) {
		assert_int_equal(c->have[set][NN_SLOT(c->epoch) ^ 1].n, 0);
		assert_true(c->sb.keys[set].n <= n);
	}
}

/* After the idle sync of the standby half, a one-device change writes only
 * that device's address, the flip, nn_meta and the source filter's stamp;
 * the record stays exact. */
static void test_standby_sync_then_one_device(void **state)
{
	struct ut *u = *state;
	struct nn_apply_result res;
	struct nn_policy *bob_off;
	size_t w = 0;

	bob_off = variant(u,
			  "\"overlay_ipv4\": null,\n              \"endpoint\": null, "
			  "\"persistent_keepalive\": 25,\n              \"state\": \"active\"",
			  "\"overlay_ipv4\": null,\n              \"endpoint\": null, "
			  "\"persistent_keepalive\": 25,\n              \"state\": \"disabled\"");
	record_matches(u);
	/* The standby half is empty after the first apply: filled now. */
	assert_int_equal(nn_apply_sync_standby(u->t.dp, &w), 0);
	assert_true(w > 10);
	record_matches(u);
	standby_as_diff(u, 0);
	assert_int_equal(nn_apply_sync_standby(u->t.dp, &w), 0);
	assert_int_equal(w, 0);
	res = apply(u, bob_off);
	fprintf(stderr, "# writes after the sync: %zu\n", res.writes);
	assert_true(res.flipped);
	assert_true(res.writes >= 2 && res.writes <= 4); /* + the filter's stamp */
	record_matches(u);
	expect(tcp(u, FROM, BOB6, WEB6, 44000, 443, SYN), bob_off, NN_R_REVOKED, NULL);
	expect(tcp(u, FROM, ALICE6, DB6, 44002, 5432, SYN), bob_off, NN_PASS, "eng-db");
	/* Back: the standby half holds mf_base already (the flip, nn_meta,
	 * the filter's stamp). */
	res = apply(u, mf_base);
	assert_true(res.flipped);
	assert_true(res.writes <= 3);
	record_matches(u);
	expect(tcp(u, FROM, BOB6, WEB6, 44003, 443, SYN), mf_base, NN_PASS, "all-web");
}

/* An entry deleted behind the controller's back: the drift check sees it,
 * and re-applying the same policy repairs it. */
static void test_record_repairs_tampering(void **state)
{
	struct ut *u = *state;
	struct nn_addr_key k = { .slot = NN_SLOT(live_epoch(u)) };
	struct nn_apply_result res;
	size_t differ = 0;

	assert_int_equal(nn_addr_parse(ALICE6, k.addr, NULL), 0);
	assert_int_equal(bpf_map_delete_elem(u->t.dp->map_fd[NN_M_ADDRS], &k), 0);
	assert_int_equal(nn_apply_check(u->t.dp, &differ), 0);
	assert_int_equal(differ, 1);
	res = apply(u, mf_base);
	assert_true(res.writes > 0);
	record_matches(u);
	expect(tcp(u, FROM, ALICE6, DB6, 44010, 5432, SYN), mf_base, NN_PASS, "eng-db");
}

/* Verdict of every worked example, state flushed first. */
struct ex_verdict {
	bool passed;
	uint32_t reason;
	int32_t rule;
};

static void run_examples(struct ut *u, struct ex_verdict *out)
{
	size_t i;

	assert_int_equal(dpt_flush_state(&u->t), 0);
	for (i = 0; i < nn_n_examples; i++) {
		uint8_t pkt[PB_BUF_LEN];
		size_t len = nn_example_build(&nn_examples[i], NN_FRAMING_L3, pkt, sizeof(pkt));
		struct dpt_result r = run_pkt(u, nn_examples[i].dir, pkt, len);

		out[i].passed = r.passed;
		out[i].reason = r.reason;
		out[i].rule = r.rule;
	}
}

static int parse_fails(const char *json, const char *what)
{
	struct nn_errlist errs = { 0 };
	struct nn_policy *p = NULL;
	int err = nn_policy_parse(json, strlen(json), "gw-fra-1", NULL, &p, &errs);
	bool named = false;
	size_t i;

	for (i = 0; i < errs.n; i++)
		named |= strstr(errs.msgs[i], what) != NULL;
	if (!err || p || !errs.n || !named)
		fail_msg("snapshot with bad %s: err %d, %zu messages, none naming it", what, err,
			 errs.n);
	nn_errlist_free(&errs);
	return err;
}

/* A snapshot rejected whole leaves the previous generation enforcing. */
static void test_rejected_keeps_previous(void **state)
{
	struct ut *u = *state;
	struct ex_verdict before[64], after[64];
	struct nn_meta m0, m1;
	uint32_t zero = 0, e0 = live_epoch(u);
	char *bad;

	assert_true(nn_n_examples <= 64);
	memset(before, 0, sizeof(before));
	memset(after, 0, sizeof(after));
	run_examples(u, before);
	assert_int_equal(bpf_map_lookup_elem(u->t.dp->map_fd[NN_M_META], &zero, &m0), 0);

	bad = strdup(mf_json);
	bad[strlen(bad) / 2] = 0; /* truncated JSON */
	parse_fails(bad, "JSON");
	free(bad);
	bad = mf_edit(mf_json, "\"api_version\": \"v1\"", "\"api_version\": \"v2\"");
	parse_fails(bad, "api_version");
	free(bad);

	assert_int_equal(live_epoch(u), e0);
	assert_int_equal(bpf_map_lookup_elem(u->t.dp->map_fd[NN_M_META], &zero, &m1), 0);
	assert_memory_equal(&m0, &m1, sizeof(m0));
	run_examples(u, after);
	assert_memory_equal(before, after, nn_n_examples * sizeof(before[0]));
}

/* Per-device packets/bytes/drops in each direction and per-rule hits. */
static void test_counters_exact(void **state)
{
	struct ut *u = *state;
	uint32_t alice = dev_slot(u, "alice-laptop"), bob = dev_slot(u, "bob-phone");
	struct nn_dev_stats a0 = dev_stats(u, alice), b0 = dev_stats(u, bob), a, b;
	uint64_t h_db = rule_hits(u, "eng-db"), h_smtp = rule_hits(u, "no-smtp");
	uint64_t h_web = rule_hits(u, "all-web");
	uint8_t pkt[PB_BUF_LEN];
	size_t l_syn, l_synack;

	assert_true(alice != bob);
	/* Pass from alice by eng-db; the reply by the flow (no rule hit). */
	l_syn = tcp_pkt(pkt, ALICE6, DB6, 45000, 5432, SYN);
	expect(run_pkt(u, FROM, pkt, l_syn), mf_base, NN_PASS, "eng-db");
	l_synack = tcp_pkt(pkt, DB6, ALICE6, 5432, 45000, SYNACK);
	expect(run_pkt(u, INTO, pkt, l_synack), mf_base, NN_PASS, NULL);
	expect(tcp(u, FROM, ALICE6, DB6, 45000, 5432, ACK), mf_base, NN_PASS, NULL);
	/* Drops: default deny from alice, acl_deny (no-smtp) from alice,
	 * unsolicited from the internet into alice. */
	expect(tcp(u, FROM, ALICE6, DB6, 45001, 22, SYN), mf_base, NN_R_ACL_DEFAULT_DENY, NULL);
	expect(tcp(u, FROM, ALICE6, NET6, 45002, 25, SYN), mf_base, NN_R_ACL_DENY, "no-smtp");
	expect(tcp(u, INTO, NET6, ALICE6, 443, 45003, SYN), mf_base, NN_R_ACL_DEFAULT_DENY, NULL);

	a = dev_stats(u, alice);
	b = dev_stats(u, bob);
	assert_int_equal(a.packets[FROM] - a0.packets[FROM], 2);
	assert_int_equal(a.bytes[FROM] - a0.bytes[FROM], 2 * l_syn); /* SYN, ACK: same size */
	assert_int_equal(a.packets[INTO] - a0.packets[INTO], 1);
	assert_int_equal(a.bytes[INTO] - a0.bytes[INTO], l_synack);
	assert_int_equal(a.drops[FROM] - a0.drops[FROM], 2);
	assert_int_equal(a.drops[INTO] - a0.drops[INTO], 1);
	assert_memory_equal(&b, &b0, sizeof(b));
	assert_int_equal(rule_hits(u, "eng-db") - h_db, 1);
	assert_int_equal(rule_hits(u, "no-smtp") - h_smtp, 1);
	assert_int_equal(rule_hits(u, "all-web"), h_web);

	/* bob: a pass by all-web and a default deny. */
	expect(tcp(u, FROM, BOB6, WEB6, 45004, 443, SYN), mf_base, NN_PASS, "all-web");
	expect(tcp(u, FROM, BOB6, DB6, 45005, 5432, SYN), mf_base, NN_R_ACL_DEFAULT_DENY, NULL);
	b = dev_stats(u, bob);
	assert_int_equal(b.packets[FROM] - b0.packets[FROM], 1);
	assert_int_equal(b.bytes[FROM] - b0.bytes[FROM], l_syn);
	assert_int_equal(b.drops[FROM] - b0.drops[FROM], 1);
	assert_int_equal(b.packets[INTO] + b.drops[INTO], b0.packets[INTO] + b0.drops[INTO]);
	assert_int_equal(rule_hits(u, "all-web") - h_web, 1);
}

/* Entry @idx of the plain counter array @fd, its first @n u64 into @out. */
static void raw_entry(int fd, uint32_t idx, size_t n, uint64_t *out)
{
	uint64_t v[8] = { 0 };

	assert_true(n <= 8);
	assert_int_equal(bpf_map_lookup_elem(fd, &idx, v), 0);
	memcpy(out, v, n * sizeof(*out));
}

/*
 * The counter arrays' layout (nanami_abi.h "Counter layout"): a packet
 * judged on CPU c lands in entry c * stride + slot and nowhere else, and
 * the readers' sum over CPUs is exact. The stride here comes from the
 * capacity the test loaded with, not from the reader's own arithmetic.
 */
static void test_counters_every_cpu(void **state)
{
	struct ut *u = *state;
	int dev_fd = u->t.dp->map_fd[NN_M_DEV_STATS], rule_fd = u->t.dp->map_fd[NN_M_RULE_HITS];
	uint32_t alice = dev_slot(u, "alice-laptop"), rslot = rule_slot(u, "eng-db");
	uint32_t stride = u->t.dp->opts.cap.max_devices + u->t.dp->opts.cap.max_nodes + 1;
	uint32_t rstride = u->t.dp->opts.cap.max_rules;
	struct nn_dev_stats t0 = dev_stats(u, alice), t;
	uint64_t h0 = rule_hits(u, "eng-db"), before[6], after[6], hb, ha;
	/* Per CPU: passed, dropped, then the deltas of its own entries. */
	int ran[CPU_SETSIZE] = { 0 }, pass_ok[CPU_SETSIZE], drop_ok[CPU_SETSIZE];
	uint64_t d_pkt[CPU_SETSIZE], d_drop[CPU_SETSIZE], d_into[CPU_SETSIZE], d_hit[CPU_SETSIZE];
	uint8_t pkt[PB_BUF_LEN];
	struct dpt_result r;
	cpu_set_t old, one;
	size_t len;
	int c, runs = 0, ncpu = u->t.ncpu < CPU_SETSIZE ? u->t.ncpu : CPU_SETSIZE;

	/* dpt pins the test to CPU 0 (its verdict readback is CPU 0's
	 * nn_last): every CPU by hand, the fast run (no readback), and no
	 * assertion until the pinning is back. */
	assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
	for (c = 0; c < ncpu; c++) {
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue; /* offline: nothing runs there */
		raw_entry(dev_fd, (uint32_t)c * stride + alice, 6, before);
		raw_entry(rule_fd, (uint32_t)c * rstride + rslot, 1, &hb);
		len = tcp_pkt(pkt, ALICE6, DB6, (uint16_t)(46000 + c), 5432, SYN);
		pass_ok[c] = !dpt_run_fast(&u->t, FROM, H, pkt, len, &r) && r.passed;
		len = tcp_pkt(pkt, ALICE6, DB6, (uint16_t)(47000 + c), 22, SYN);
		drop_ok[c] = !dpt_run_fast(&u->t, FROM, H, pkt, len, &r) && !r.passed;
		raw_entry(dev_fd, (uint32_t)c * stride + alice, 6, after);
		raw_entry(rule_fd, (uint32_t)c * rstride + rslot, 1, &ha);
		/* struct nn_dev_stats: packets[2], bytes[2], drops[2] */
		d_pkt[c] = after[FROM] - before[FROM];
		d_drop[c] = after[4 + FROM] - before[4 + FROM];
		d_into[c] = after[INTO] - before[INTO];
		d_hit[c] = ha - hb;
		ran[c] = 1;
		runs++;
	}
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
	for (c = 0; c < ncpu; c++) {
		if (!ran[c])
			continue;
		if (!pass_ok[c] || !drop_ok[c] || d_pkt[c] != 1 || d_drop[c] != 1 || d_into[c] ||
		    d_hit[c] != 1)
			fail_msg("CPU %d: pass %d drop %d; its entries moved by packets %llu drops "
				 "%llu into %llu hits %llu, want 1 1 0 1",
				 c, pass_ok[c], drop_ok[c], (unsigned long long)d_pkt[c],
				 (unsigned long long)d_drop[c], (unsigned long long)d_into[c],
				 (unsigned long long)d_hit[c]);
	}
	/* Every online CPU ran once: more than one where there are. */
	assert_int_equal(runs, (int)sysconf(_SC_NPROCESSORS_ONLN));
	t = dev_stats(u, alice);
	assert_int_equal(t.packets[FROM] - t0.packets[FROM], runs);
	assert_int_equal(t.drops[FROM] - t0.drops[FROM], runs);
	assert_int_equal(t.packets[INTO], t0.packets[INTO]);
	assert_int_equal(rule_hits(u, "eng-db") - h0, runs);
}

#define DAVE                                                                                  \
	"{ \"device_id\": \"dave-tablet\", \"user_id\": \"bob\",\n"                           \
	"              \"public_key\": \"SX+4+Nx7TkWYOhExHpxis6jxFTV8kDabaUqtMMlTQuc=\",\n"   \
	"              \"overlay_ipv6\": \"fd7a:6e61:6e61:10::4\", \"overlay_ipv4\": null,\n" \
	"              \"endpoint\": null, \"persistent_keepalive\": 25,\n"                   \
	"              \"state\": \"active\", \"key_generation\": 1,\n"                       \
	"              \"routing_preference\": null },\n            "
#define DAN                                                                                   \
	"{ \"device_id\": \"dan-desktop\", \"user_id\": \"carol\",\n"                         \
	"              \"public_key\": \"xE7knc+4MTEOBhMySn9d7AVQcWPBuu5nnOvoLJLTY+w=\",\n"   \
	"              \"overlay_ipv6\": \"fd7a:6e61:6e61:20::9\", \"overlay_ipv4\": null,\n" \
	"              \"endpoint\": null, \"persistent_keepalive\": 25,\n"                   \
	"              \"state\": \"active\", \"key_generation\": 1,\n"                       \
	"              \"routing_preference\": null },\n            "
#define CAROL_START "{ \"device_id\": \"carol-desktop\""
#define DEV_END "\"routing_preference\": null }"

/* A device keeps its slot and counters when others come; a new device
 * never inherits a removed one's counters, even in its old slot. */
static void test_stable_slots(void **state)
{
	struct ut *u = *state;
	struct nn_policy *plus_dave, *no_carol, *dan;
	uint32_t alice = dev_slot(u, "alice-laptop"), carol = dev_slot(u, "carol-desktop");
	struct nn_dev_stats a0, s;
	uint64_t h_db;
	char *j;
	uint8_t pkt[PB_BUF_LEN];
	struct pb b;
	size_t len;

	/* dave-tablet comes first in acme-prod's list: indices shift. */
	plus_dave = variant(u, "{ \"device_id\": \"alice-laptop\"",
			    DAVE "{ \"device_id\": \"alice-laptop\"");
	no_carol = policy(u, cut(mf_json, CAROL_START, DEV_END));
	j = cut(mf_json, CAROL_START, DEV_END);
	dan = policy(u, mf_edit(j, "{ \"device_id\": \"carol-old-laptop\"",
				DAN "{ \"device_id\": \"carol-old-laptop\""));
	free(j);
	assert_int_equal(plus_dave->n_devices, mf_base->n_devices + 1);
	assert_int_equal(no_carol->n_devices, mf_base->n_devices - 1);

	expect(tcp(u, FROM, ALICE6, DB6, 46000, 5432, SYN), mf_base, NN_PASS, "eng-db");
	len = pb_build(mf_udp(&b, CAROL4, DNS4, 46001, 53), pkt, sizeof(pkt));
	expect(run_pkt(u, FROM, pkt, len), mf_base, NN_PASS, NULL);
	a0 = dev_stats(u, alice);
	h_db = rule_hits(u, "eng-db");
	assert_int_equal(a0.packets[FROM], 1);
	assert_int_equal(dev_stats(u, carol).packets[FROM], 1);

	apply(u, plus_dave);
	assert_int_equal(dev_slot(u, "alice-laptop"), alice);
	assert_int_equal(dev_slot(u, "carol-desktop"), carol);
	s = dev_stats(u, alice);
	assert_memory_equal(&s, &a0, sizeof(s));
	assert_int_equal(rule_hits(u, "eng-db"), h_db);
	assert_true(dev_slot(u, "dave-tablet") != alice);
	s = dev_stats(u, dev_slot(u, "dave-tablet"));
	assert_true(stats_zero(&s));
	/* Counting goes on in the same slot. */
	expect(tcp(u, FROM, ALICE6, DB6, 46002, 5432, SYN), plus_dave, NN_PASS, "eng-db");
	assert_int_equal(dev_stats(u, alice).packets[FROM], 2);
	assert_int_equal(rule_hits(u, "eng-db"), h_db + 1);

	/* carol-desktop goes; dan-desktop comes and takes the lowest free
	 * slot, which is carol's: with zeroed counters. */
	apply(u, no_carol);
	assert_int_equal(slot_of(u->t.dp->map_fd[NN_M_DEV_NAMES], "carol-desktop"), NN_NONE32);
	apply(u, dan);
	assert_int_equal(dev_slot(u, "dan-desktop"), carol);
	s = dev_stats(u, carol);
	assert_true(stats_zero(&s));
	/* carol-desktop back: a fresh slot, fresh counters. */
	apply(u, mf_base);
	s = dev_stats(u, dev_slot(u, "carol-desktop"));
	assert_true(stats_zero(&s));
	assert_int_equal(dev_slot(u, "alice-laptop"), alice);
}

struct ev_buf {
	struct nn_event ev[8];
	int n;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct ev_buf *b = ctx;

	if (size >= sizeof(struct nn_event) && b->n < 8)
		memcpy(&b->ev[b->n], data, sizeof(struct nn_event));
	b->n++;
	return 0;
}

static void addr16(const char *s, uint8_t out[16])
{
	struct pb b;

	pb_ip(pb_init(&b), s, s);
	assert_false(b.bad);
	if (b.family == 4) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, b.src, 4);
	} else {
		memcpy(out, b.src, 16);
	}
}

static void expect_event(const struct nn_event *e, const char *s, const char *d, uint16_t sp,
			 uint16_t dp, int reason, uint32_t dev, uint32_t rule, uint32_t tenant,
			 uint32_t network, size_t len)
{
	uint8_t a[16];

	addr16(s, a);
	assert_memory_equal(e->src, a, 16);
	addr16(d, a);
	assert_memory_equal(e->dst, a, 16);
	assert_int_equal(e->sport, sp);
	assert_int_equal(e->dport, dp);
	assert_int_equal(e->proto, 6);
	assert_int_equal(e->reason, reason);
	assert_int_equal(e->dir, FROM);
	assert_int_equal(e->dev_slot, dev);
	assert_int_equal(e->rule_slot, rule);
	assert_int_equal(e->tenant, tenant);
	assert_int_equal(e->network, network);
	assert_int_equal(e->pkt_len, len);
	assert_true(e->ts_ns > 0);
}

/* event_sample 1: every drop is one ring-buffer record; passes none. */
static void test_drop_events(void **state)
{
	struct ut *u = *state;
	struct nn_config cfg;
	struct ev_buf eb = { 0 };
	struct ring_buffer *rb;
	uint8_t pkt[PB_BUF_LEN];
	uint32_t zero = 0, alice = dev_slot(u, "alice-laptop");
	size_t len;

	assert_int_equal(bpf_map_lookup_elem(u->t.dp->map_fd[NN_M_CONFIG], &zero, &cfg), 0);
	cfg.event_sample = 1;
	cfg.event_rate = 1000;
	assert_int_equal(bpf_map_update_elem(u->t.dp->map_fd[NN_M_CONFIG], &zero, &cfg, 0), 0);
	rb = ring_buffer__new(u->t.dp->map_fd[NN_M_EVENTS], on_event, &eb, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	eb.n = 0;

	len = tcp_pkt(pkt, NOBODY6, DB6, 47000, 5432, SYN);
	expect(run_pkt(u, FROM, pkt, len), mf_base, NN_R_SPOOF, NULL);
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(eb.n, 1);
	expect_event(&eb.ev[0], NOBODY6, DB6, 47000, 5432, NN_R_SPOOF, NN_NONE32, NN_NONE32, 0, 0,
		     len);

	len = tcp_pkt(pkt, ALICE6, DB6, 47001, 22, SYN);
	expect(run_pkt(u, FROM, pkt, len), mf_base, NN_R_ACL_DEFAULT_DENY, NULL);
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(eb.n, 2);
	expect_event(&eb.ev[1], ALICE6, DB6, 47001, 22, NN_R_ACL_DEFAULT_DENY, alice, NN_NONE32, 1,
		     1, len);

	len = tcp_pkt(pkt, ALICE6, NET6, 47002, 25, SYN);
	expect(run_pkt(u, FROM, pkt, len), mf_base, NN_R_ACL_DENY, "no-smtp");
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(eb.n, 3);
	expect_event(&eb.ev[2], ALICE6, NET6, 47002, 25, NN_R_ACL_DENY, alice,
		     rule_slot(u, "no-smtp"), 1, 1, len);

	/* A pass is no event; event_sample 0 silences drops. */
	expect(tcp(u, FROM, ALICE6, DB6, 47003, 5432, SYN), mf_base, NN_PASS, "eng-db");
	assert_int_equal(ring_buffer__consume(rb), 0);
	cfg.event_sample = 0;
	assert_int_equal(bpf_map_update_elem(u->t.dp->map_fd[NN_M_CONFIG], &zero, &cfg, 0), 0);
	expect(tcp(u, FROM, NOBODY6, DB6, 47004, 5432, SYN), mf_base, NN_R_SPOOF, NULL);
	assert_int_equal(ring_buffer__consume(rb), 0);
	assert_int_equal(eb.n, 3);
	ring_buffer__free(rb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_change_cuts_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unrelated_change_keeps_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_snapshot_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fast_path_after_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_device_small_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_standby_sync_then_one_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_repairs_tampering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejected_keeps_previous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_every_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stable_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_events, setup, teardown),
	};

	return cmocka_run_group_tests_name("policy updates (BPF)", tests, mf_group_setup,
					   mf_group_teardown);
}
