/* SPDX-License-Identifier: GPL-2.0 */
/*
 * model_fixture.h - what tests of verdicts share: examples/assignments.json
 * applied on gw-fra-1 (the setting of verdicts.md's worked examples), the
 * addresses it assigns, variants of it with one string replaced, and cmocka
 * setup/teardown giving each test a fresh reference model.
 *
 * The example file is looked up from the working directory (the repository
 * root, or up to two levels below it).
 */
#ifndef NANAMI_MODEL_FIXTURE_H
#define NANAMI_MODEL_FIXTURE_H

#include <stdint.h>

#include "model/model.h"
#include "pktbuild.h"
#include "policy/policy.h"

/* Who is who in examples/assignments.json. */
#define ALICE6 "fd7a:6e61:6e61:10::2" /* acme-prod, eng, full_tunnel */
#define ALICE4 "100.96.16.2"
#define BOB6 "fd7a:6e61:6e61:10::3"   /* acme-prod, sales, vpn_only */
#define CAROL6 "fd7a:6e61:6e61:20::2" /* globex-main */
#define CAROL4 "100.96.32.2"
#define CAROL_OLD6 "fd7a:6e61:6e61:20::3" /* disabled */
#define NOBODY6 "fd7a:6e61:6e61:10::99"	  /* in overlay_prefixes, unassigned */
#define GW6 "fd7a:6e61:6e61::1"		  /* gw-fra-1, this gateway */
#define GW4 "100.96.0.1"
#define AMS6 "fd7a:6e61:6e61::2" /* gw-ams-1, another node */
#define DB6 "fd00:acc::5"	 /* acme-db */
#define WEB6 "fd00:acc:1::9"	 /* acme-web */
#define FILES6 "fd00:6b0::1"	 /* globex-files */
#define NET6 "2001:db8:ffff::1"	 /* the internet */
#define DNS4 "192.0.2.53"

#define FROM NN_DIR_FROM_OVERLAY
#define INTO NN_DIR_INTO_OVERLAY
#define SEC 1000000000ull
#define T0 (1000 * SEC)

/* The example snapshot and its parsed policy, set by mf_group_setup(). */
extern char *mf_json;
extern struct nn_policy *mf_base;

/* Per test (*state): a model over mf_base and the variants it loaded. */
#define MF_MAX_VARIANTS 4
struct mf_ctx {
	struct nn_model *m;
	struct nn_policy *var[MF_MAX_VARIANTS];
	size_t n_var;
};

int mf_group_setup(void **state);
int mf_group_teardown(void **state);
int mf_setup(void **state);
int mf_teardown(void **state);

/* The example snapshot with @from replaced by @to (which must occur),
 * parsed; freed by mf_teardown(). */
/* @json with the first @from replaced by @to (which must occur), malloc'd. */
char *mf_edit(const char *json, const char *from, const char *to);
struct nn_policy *mf_variant(struct mf_ctx *c, const char *from, const char *to);

/* Index of rule @id in @p (fails the test when absent). */
int32_t mf_rule(const struct nn_policy *p, const char *id);

/* Build @b and judge it with @framing (mf_judge: L3). */
struct nn_model_verdict mf_judge_f(struct nn_model *m, enum nn_dir dir, enum nn_framing framing,
				   const struct pb *b, uint64_t now);
struct nn_model_verdict mf_judge(struct nn_model *m, enum nn_dir dir, const struct pb *b,
				 uint64_t now);

/* Fail unless @v has @reason, deciding rule @rule (NULL: none) of @p and
 * is not "untouched"; @line names the caller in the message. */
void mf_expect_at(int line, const struct nn_model_verdict *v, const struct nn_policy *p, int reason,
		  const char *rule);

#define mf_expect(v, reason, rule) mf_expect_at(__LINE__, v, mf_base, reason, rule)
#define mf_expect_p(v, p, reason, rule) mf_expect_at(__LINE__, v, p, reason, rule)

/* Packets: fresh descriptions in @b. */
struct pb *mf_tcp(struct pb *b, const char *s, const char *d, uint16_t sport, uint16_t dport,
		  uint8_t flags);
struct pb *mf_udp(struct pb *b, const char *s, const char *d, uint16_t sport, uint16_t dport);
struct pb *mf_echo(struct pb *b, const char *s, const char *d, bool request, uint16_t id);
/* Example #1's packet: alice-laptop -> fd00:acc::5 tcp/5432 SYN. */
struct pb *mf_ex1(struct pb *b);

#endif /* NANAMI_MODEL_FIXTURE_H */
