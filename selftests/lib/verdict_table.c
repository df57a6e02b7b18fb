// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "model_fixture.h"
#include "verdict_table.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* See verdict_table.h: what BPF_PROG_TEST_RUN refuses to run. */
static bool kernel_refuses(const struct vt_env *e, enum nn_dir dir, const uint8_t *p, size_t len)
{
	uint16_t et;

	if (len < 14)
		return true;
	if (e->framing != NN_FRAMING_ETH || (dir == NN_DIR_FROM_OVERLAY && e->hook == NN_HOOK_XDP))
		return false;
	et = (uint16_t)(p[12] << 8 | p[13]);
	return (et == 0x0800 && len < 34) || (et == 0x86dd && len < 54);
}

void vt_check(struct vt_env *e, enum nn_dir dir, const uint8_t *pkt, size_t len, int reason,
	      const char *rule_id, bool untouched, bool flow_hit, const char *what, size_t n)
{
	int32_t rule = rule_id ? mf_rule(e->p, rule_id) : -1;
	enum nn_hook hook = dir == NN_DIR_FROM_OVERLAY ? e->hook : NN_HOOK_TC;
	const char *where = e->framing == NN_FRAMING_ETH ? "eth" : "l3";
	const char *hname = hook == NN_HOOK_XDP ? "xdp" : "tc";
	struct nn_model_verdict mv;
	struct dpt_result r;
	int err, k;

	err = dpt_run(&e->t, dir, hook, pkt, len, &r);
	nn_model_judge(e->m, dir, e->framing, pkt, len, now_ns(), &mv);
	if (mv.reason != reason || mv.rule != rule || mv.untouched != untouched ||
	    mv.flow_hit != flow_hit)
		fail_msg("%s (#%zu, %zu bytes, %s/%s): model says reason %d rule %d untouched %d "
			 "flow %d; want %d rule %d untouched %d flow %d",
			 what, n, len, where, hname, mv.reason, mv.rule, mv.untouched, mv.flow_hit,
			 reason, rule, untouched, flow_hit);
	if (err == -EINVAL && kernel_refuses(e, dir, pkt, len)) {
		e->model_only++;
		return;
	}
	assert_int_equal(err, 0);
	e->runs++;
	if (r.reason != (uint32_t)reason || r.rule != rule || r.untouched != untouched ||
	    r.flow_hit != flow_hit || r.passed != (reason == NN_PASS))
		fail_msg("%s (#%zu, %zu bytes, %s/%s): BPF says reason %u rule %d untouched %d "
			 "flow %d passed %d; want %d rule %d",
			 what, n, len, where, hname, r.reason, r.rule, r.untouched, r.flow_hit,
			 r.passed, reason, rule);
	for (k = 1; k < NN_R_MAX; k++)
		if (r.drops[k] != (uint64_t)(k == reason && !untouched))
			fail_msg("%s (#%zu, %s/%s): drop counter %d moved by %llu", what, n, where,
				 hname, k, (unsigned long long)r.drops[k]);
}

/* Render a step for the env's framing. */
size_t vt_render(const struct vt_env *e, const struct vt_step *s, uint8_t *buf, size_t cap)
{
	bool eth = e->framing == NN_FRAMING_ETH;
	size_t len = pd_build(&s->pkt, eth, buf, cap);

	assert_true(len > 0);
	/* Rows that patch bytes carry no VLAN tag: VT_L3 starts after 14 bytes. */
	if (s->patch)
		s->patch(buf + (eth ? 14 : 0), len - (eth ? 14 : 0));
	return len;
}

void vt_run_case(struct vt_env *e, const struct vt_case *c)
{
	uint8_t pkt[PB_BUF_LEN];
	size_t i;

	if (!(c->framings & (1u << e->framing)))
		return;
	assert_int_equal(dpt_flush_state(&e->t), 0);
	nn_model_flush_flows(e->m);
	for (i = 0; i < VT_MAX_STEPS && c->s[i].pkt.src; i++) {
		const struct vt_step *s = &c->s[i];
		size_t len = vt_render(e, s, pkt, sizeof(pkt));
		int reason = e->framing == NN_FRAMING_ETH && s->eth_padding ? NN_PASS : s->reason;

		vt_check(e, s->dir, pkt, len, reason, s->rule, s->untouched, s->flow_hit, c->what,
			 i);
	}
}

void vt_for_each_env(const struct nn_policy *p, void (*fn)(struct vt_env *e, const void *arg),
		     const void *arg)
{
	static const uint8_t framings[] = { NN_FRAMING_L3, NN_FRAMING_ETH };
	size_t runs = 0, model_only = 0, i;
	struct vt_env e;
	int h;

	for (i = 0; i < 2; i++) {
		memset(&e, 0, sizeof(e));
		e.framing = framings[i];
		e.p = p;
		assert_int_equal(dpt_open_shared(&e.t, e.framing), 0);
		assert_int_equal(dpt_apply(&e.t, p, NULL), 0);
		for (h = NN_HOOK_TC; h <= NN_HOOK_XDP; h++) {
			e.hook = (enum nn_hook)h;
			e.m = nn_model_new(p);
			assert_non_null(e.m);
			fn(&e, arg);
			nn_model_free(e.m);
		}
		runs += e.runs;
		model_only += e.model_only;
		dpt_close(&e.t);
	}
	printf("# %zu packets through BPF and the model, %zu refused by the kernel (model only)\n",
	       runs, model_only);
}

void vt_run_table(struct vt_env *e, const void *arg)
{
	const struct vt_case *c = arg;
	size_t i;

	for (i = 0; c[i].what; i++)
		vt_run_case(e, &c[i]);
}
