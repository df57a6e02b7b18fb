// SPDX-License-Identifier: GPL-2.0
/*
 * A cell changing form across generation switches (nanami_abi.h "Small
 * cells"): alice -> acme-db over TCP is absent (eng-db on UDP), small (two
 * ranges: whole in nn_cells4), big (seven ranges: a marker in nn_cells4,
 * the leaf in nn_policy) or a tree (42 ranges: root and leaves in
 * nn_policy), in every order. After each apply every probed port gets the
 * model's verdict for the new policy; meanwhile a second thread sends the
 * same packets without pause, and each must get the verdict of the policy
 * before or after the switch in progress: never neither (a half-written
 * cell, a marker without its cell) and never an older one (the standby
 * half's leftovers).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>

#include "dp/batch.h"
#include "dptest.h"
#include "lib/names.h"
#include "lib/strbuf.h"
#include "model_fixture.h"

#define N_FORMS 4
#define N_PORTS 14

static const uint16_t ports[N_PORTS] = { 5432, 8000, 8080, 8081, 1,   2,   3,
					 9,    101,  150,  151,	 179, 443, 25 };
static const char *const form_name[N_FORMS] = { "absent", "small", "big", "tree" };

struct forms {
	struct dpt t;
	struct nn_policy *p[N_FORMS];
	struct nn_model_verdict want[N_FORMS][N_PORTS]; /* the model, per form */
	/* The forms a packet may see now: a bit each (the one before and the
	 * one after a switch while nn_apply runs, then the new one alone). */
	atomic_uint allowed;
	/* The sender runs only while an apply does: dptest reads a verdict
	 * from this CPU's nn_last, and both threads are on CPU 0 (dpt_open
	 * pins the process), so two senders at once would read each other's.
	 * The main thread clears run, then waits for acked to move: the
	 * sender has seen run clear and has no packet in flight. */
	atomic_int run;
	atomic_ulong acked;
	atomic_int stop;
	atomic_ulong sent;
	char err[256]; /* the sender's first failure */
};

static const char *const eng_db = "\"proto\": \"tcp\", \"ports\": [\"5432\", \"8000-8080\"]";

static struct nn_policy *parse(char *json)
{
	struct nn_errlist errs = { 0 };
	struct nn_policy *p = NULL;

	assert_int_equal(nn_policy_parse(json, strlen(json), "gw-fra-1", NULL, &p, &errs), 0);
	nn_errlist_free(&errs);
	free(json);
	return p;
}

/* eng-db with @proto and the ports "5432", "8000-8080" and @extra more. */
static struct nn_policy *form(const char *proto, size_t extra, uint16_t first)
{
	struct nn_strbuf b = { 0 };
	size_t i;
	char *to;

	nn_sbprintf(&b, "\"proto\": \"%s\", \"ports\": [\"5432\", \"8000-8080\"", proto);
	for (i = 0; i < extra; i++)
		nn_sbprintf(&b, ", \"%u\"", (unsigned int)(first + 2 * i));
	nn_sbprintf(&b, "]");
	to = nn_sbtake(&b);
	char *json = mf_edit(mf_json, eng_db, to);

	free(to);
	return parse(json);
}

static size_t syn(uint8_t *buf, uint16_t sport, uint16_t dport)
{
	struct pb b;
	size_t len = pb_build(mf_tcp(&b, ALICE6, DB6, sport, dport, PB_TCP_SYN), buf, PB_BUF_LEN);

	assert_true(len > 0);
	return len;
}

static bool same(const struct dpt_result *r, const struct nn_model_verdict *v)
{
	/* A packet of a flow opened under the same generation passes on the
	 * flow's verdict (no rule recorded): compare the verdict only. */
	if (r->flow_hit)
		return r->passed == (v->reason == NN_PASS);
	return r->reason == (uint32_t)v->reason && r->rule == v->rule;
}

static void *sender(void *arg)
{
	struct forms *f = arg;
	uint8_t buf[PB_BUF_LEN];
	uint16_t sport = 1024; /* below check_now's */
	size_t i = 0;

	while (!atomic_load(&f->stop)) {
		if (!atomic_load(&f->run)) {
			atomic_fetch_add(&f->acked, 1);
			sched_yield();
			continue;
		}
		unsigned int before = atomic_load(&f->allowed), after, ok = 0, k;
		struct dpt_result r;
		size_t len = syn(buf, sport, ports[i]);

		if (dpt_run_fast(&f->t, FROM, NN_HOOK_TC, buf, len, &r)) {
			snprintf(f->err, sizeof(f->err), "sender: test run failed");
			return NULL;
		}
		after = atomic_load(&f->allowed);
		for (k = 0; k < N_FORMS; k++)
			if (((before | after) >> k & 1) && same(&r, &f->want[k][i]))
				ok = 1;
		if (!ok) {
			snprintf(f->err, sizeof(f->err),
				 "port %u: %s rule %d (flow hit %d), allowed forms %#x..%#x",
				 ports[i], nn_reason_name(r.reason) ?: "pass", r.rule, r.flow_hit,
				 before, after);
			return NULL;
		}
		atomic_fetch_add(&f->sent, 1);
		i = (i + 1) % N_PORTS;
		sport = sport == 19999 ? 1024 : sport + 1;
	}
	return NULL;
}

/* Stop the sender and wait until it has no packet in flight. */
static void quiet(struct forms *f)
{
	unsigned long a;

	atomic_store(&f->run, 0);
	a = atomic_load(&f->acked);
	while (atomic_load(&f->acked) == a && !f->err[0])
		sched_yield();
}

static void check_now(struct forms *f, int k)
{
	static uint16_t sport = 20000; /* a new flow each: none is decided earlier */
	uint8_t buf[PB_BUF_LEN];
	size_t i;

	for (i = 0; i < N_PORTS; i++) {
		struct dpt_result r;
		size_t len = syn(buf, sport++, ports[i]);

		assert_int_equal(dpt_run_fast(&f->t, FROM, NN_HOOK_TC, buf, len, &r), 0);
		if (!same(&r, &f->want[k][i]))
			fail_msg("%s: port %u: programs %s rule %d, model %s rule %d", form_name[k],
				 ports[i], nn_reason_name(r.reason) ?: "pass", r.rule,
				 nn_reason_name((unsigned int)f->want[k][i].reason) ?: "pass",
				 f->want[k][i].rule);
	}
}

static void test_form_changes(void **state)
{
	/* Every ordered pair of forms, each at least once, then round again. */
	static const int seq[] = { 1, 2, 3, 1, 3, 2, 1, 0, 2, 0, 3, 0, 1, 2, 1, 3, 3, 2, 0 };
	struct forms *f = calloc(1, sizeof(*f));
	uint8_t buf[PB_BUF_LEN];
	struct nn_apply_result res;
	pthread_t th;
	size_t i, s;
	int k, prev = 1, round;

	(void)state;
	assert_non_null(f);
	f->p[0] = form("udp", 0, 0);
	f->p[1] = parse(mf_edit(mf_json, eng_db, eng_db));
	f->p[2] = form("tcp", 5, 1);	/* 1, 3, 5, 7, 9: seven ranges */
	f->p[3] = form("tcp", 40, 101); /* 101 ... 179: 42 ranges, a tree */
	for (k = 0; k < N_FORMS; k++) {
		struct nn_model *m = nn_model_new(f->p[k]);

		assert_non_null(m);
		for (i = 0; i < N_PORTS; i++) {
			size_t len = syn(buf, 100, ports[i]);

			nn_model_flush_flows(m);
			nn_model_judge(m, FROM, NN_FRAMING_L3, buf, len, T0, &f->want[k][i]);
		}
		nn_model_free(m);
	}
	/* The forms differ where the test needs them to. */
	assert_int_equal(f->want[1][0].reason, NN_PASS);
	assert_int_equal(f->want[0][0].reason, NN_R_ACL_DEFAULT_DENY);
	assert_int_equal(f->want[2][6].reason, NN_PASS); /* port 3 */
	assert_int_equal(f->want[1][6].reason, NN_R_ACL_DEFAULT_DENY);
	assert_int_equal(f->want[3][10].reason, NN_PASS); /* port 151 */
	assert_int_equal(f->want[3][9].reason, NN_R_ACL_DEFAULT_DENY);

	assert_int_equal(dpt_open(&f->t, NN_FRAMING_L3), 0);
	assert_int_equal(dpt_apply(&f->t, f->p[prev], &res), 0);
	check_now(f, prev);
	atomic_store(&f->allowed, 1u << prev);
	assert_int_equal(pthread_create(&th, NULL, sender, f), 0);
	for (round = 0; round < 3; round++) {
		for (s = 0; s < sizeof(seq) / sizeof(seq[0]); s++) {
			k = seq[s];
			atomic_store(&f->allowed, 1u << prev | 1u << k);
			atomic_store(&f->run, 1);
			assert_int_equal(dpt_apply(&f->t, f->p[k], &res), 0);
			atomic_store(&f->allowed, 1u << k);
			quiet(f);
			assert_true(res.flipped || k == prev);
			check_now(f, k);
			prev = k;
		}
	}
	atomic_store(&f->stop, 1);
	pthread_join(th, NULL);
	fprintf(stderr, "# %lu packets during %d switches\n", atomic_load(&f->sent),
		(int)(3 * sizeof(seq) / sizeof(seq[0])));
	if (f->err[0])
		fail_msg("%s", f->err);
	assert_true(atomic_load(&f->sent) > 0);
	dpt_close(&f->t);
	for (k = 0; k < N_FORMS; k++)
		nn_policy_free(f->p[k]);
	free(f);
}

/* Every probed port through the programs of @t against the model of @p. */
static void check_verdicts(struct dpt *t, const struct nn_policy *p)
{
	static uint16_t sport = 30000;
	struct nn_model *m = nn_model_new(p);
	uint8_t buf[PB_BUF_LEN];
	size_t i;

	assert_non_null(m);
	for (i = 0; i < N_PORTS; i++) {
		struct nn_model_verdict v;
		struct dpt_result r;
		size_t len = syn(buf, sport++, ports[i]);

		nn_model_flush_flows(m);
		nn_model_judge(m, FROM, NN_FRAMING_L3, buf, len, T0, &v);
		assert_int_equal(dpt_run_fast(t, FROM, NN_HOOK_TC, buf, len, &r), 0);
		if (!same(&r, &v))
			fail_msg("port %u: programs %s rule %d, model %s rule %d", ports[i],
				 nn_reason_name(r.reason) ?: "pass", r.rule,
				 nn_reason_name((unsigned int)v.reason) ?: "pass", v.rule);
	}
	nn_model_free(m);
}

struct cell_dump {
	uint32_t slot;
	size_t small, big; /* part-0 entries of the slot, by form */
	int fd;		   /* nn_policy, written by widen() */
};

static int count_roots(const void *key, const void *val, void *arg)
{
	const struct nn_cell_key *k = key;
	const struct nn_cell *c = val;
	struct cell_dump *d = arg;

	if (k->slot == d->slot && !k->part) {
		if (!c->index && c->n <= NN_CELL4_RANGES)
			d->small++;
		else
			d->big++;
	}
	return 0;
}

/* What an older build wrote: every small cell of nn_cells4 in nn_policy
 * too, at full size. */
static int widen(const void *key, const void *val, void *arg)
{
	const struct nn_cell4 *c4 = val;
	struct cell_dump *d = arg;
	struct nn_cell c = { 0 };

	if (c4->index == NN_CELL4_BIG)
		return 0;
	c.n = c4->n;
	memcpy(c.r, c4->r, sizeof(c4->r));
	d->small++;
	return bpf_map_update_elem(d->fd, key, &c, BPF_ANY) ? -errno : 0;
}

static struct cell_dump roots(struct dpt *t)
{
	struct cell_dump d = { 0 };
	uint32_t epoch = 0;

	assert_int_equal(nn_live_epoch(t->dp, &epoch), 0);
	d.slot = NN_SLOT(epoch);
	assert_int_equal(nn_map_dump(t->dp->map_fd[NN_M_POLICY], sizeof(struct nn_cell_key),
				     sizeof(struct nn_cell), count_roots, &d),
			 0);
	return d;
}

/*
 * An upgrade from a build before nn_cells4: its pins (nn_policy holding
 * every cell, no nn_cells4) are adopted while its programs, which read only
 * nn_policy, are still attached. Until nn_dp_attach() replaces them the
 * applier keeps every cell in nn_policy; the apply after the attach leaves
 * the small ones out again.
 */
/* Delete every entry of the map pinned at @path. */
static void empty_map(const char *path)
{
	struct nn_cell_key k;
	int fd = bpf_obj_get(path);

	assert_true(fd >= 0);
	while (!bpf_map_get_next_key(fd, NULL, &k))
		assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
	close(fd);
}

static void upgrade(bool empty_pin)
{
	struct nn_policy *p = form("tcp", 5, 1); /* one big cell among small ones */
	struct cell_dump d = { 0 }, now;
	struct nn_apply_result res;
	char dir[128], path[160];
	struct dpt t;

	snprintf(dir, sizeof(dir), "/sys/fs/bpf/nn-cellforms-test-%d", getpid());
	assert_int_equal(dpt_open_pinned(&t, NN_FRAMING_L3, dir, false, NULL), 0);
	assert_false(t.dp->cells_compat);
	assert_int_equal(dpt_apply(&t, mf_base, &res), 0);
	/* Make it the older build's: small cells in nn_policy, in both
	 * halves (the applier's own record is dropped with the instance). */
	d.fd = t.dp->map_fd[NN_M_POLICY];
	assert_int_equal(nn_map_dump(t.dp->map_fd[NN_M_CELLS4], sizeof(struct nn_cell_key),
				     sizeof(struct nn_cell4), widen, &d),
			 0);
	assert_true(d.small > 0);
	dpt_close(&t);
	/* Its pins: no nn_cells4, or an empty one (a newer nanami-gwctl
	 * explain, run first, pins what it misses). */
	snprintf(path, sizeof(path), "%s/nn_cells4", dir);
	if (empty_pin)
		empty_map(path);
	else
		assert_int_equal(unlink(path), 0);

	assert_int_equal(dpt_open_pinned(&t, NN_FRAMING_L3, dir, false, NULL), 0);
	assert_true(t.dp->adopted);
	assert_true(t.dp->cells_compat);
	assert_int_equal(dpt_apply(&t, p, &res), 0);
	assert_true(res.flipped);
	now = roots(&t);
	/* every cell of the new generation is whole in nn_policy */
	assert_int_equal(now.small + now.big, res.cells); /* no trees here */
	assert_int_equal(now.big, 1);
	check_verdicts(&t, p);

	/* The attach clears it (what nn_dp_attach() does once ours run). */
	t.dp->cells_compat = false;
	assert_int_equal(dpt_apply(&t, mf_base, &res), 0);
	assert_int_equal(dpt_apply(&t, p, &res), 0);
	now = roots(&t);
	assert_int_equal(now.small, 0);
	assert_int_equal(now.big, 1);
	check_verdicts(&t, p);
	/* A restart over this build's own pins is no upgrade. */
	dpt_close(&t);
	assert_int_equal(dpt_open_pinned(&t, NN_FRAMING_L3, dir, false, NULL), 0);
	assert_false(t.dp->cells_compat);
	dpt_close(&t);
	nn_dp_detach(NULL, dir);
	nn_policy_free(p);
}

static void test_upgrade_keeps_old_programs_whole(void **state)
{
	(void)state;
	upgrade(false);
	upgrade(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_changes),
		cmocka_unit_test(test_upgrade_keeps_old_programs_whole),
	};

	return cmocka_run_group_tests_name("cell forms across switches (BPF)", tests,
					   mf_group_setup, mf_group_teardown);
}
