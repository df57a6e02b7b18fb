// SPDX-License-Identifier: GPL-2.0
/*
 * No internal limit of the compiled form refuses a valid snapshot (issue 10
 * class 7, assignments-v1.md "Validation"): rules with hundreds to
 * thousands of ports and ranges, and hundreds of single-port rules toward
 * one destination, compile into cells of many port ranges (a tree of map
 * entries) and every destination port gets the model's verdict through the
 * real programs. A snapshot over a configured capacity is rejected whole,
 * naming the capacity and its flag.
 *
 *   NN_SEED=N  replay (the seed is printed first)
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

#include "dptest.h"
#include "lib/names.h"
#include "lib/strbuf.h"
#include "model/model.h"
#include "pktbuild.h"
#include "randpolicy.h"

static uint64_t seed;

/* Two devices of one network; the ACL is @acl (a JSON array's body). */
static char *snapshot(const char *acl)
{
	struct nn_strbuf b = { 0 };

	nn_sbprintf(
		&b,
		"{\"api_version\": \"v1\", \"node_id\": \"gw-1\", \"generation\": 1,"
		"\"gateway\": {\"roles\": [\"ingress_gateway\", \"exit_gateway\"],"
		"\"overlay_ipv6\": \"fd7a:6e61:6e61::1\", \"overlay_prefixes\": "
		"[\"fd7a:6e61:6e61::/48\"], \"listen_port\": 51820, \"mtu\": 1420},"
		"\"system_defaults\": {\"traffic_mode\": \"vpn_only\", \"routing_mode\": \"auto\"},"
		"\"nodes\": [], \"tenants\": [{\"tenant_id\": \"t\", \"networks\": [{"
		"\"network_id\": \"n\", \"gateways\": [\"gw-1\"], \"routing_policy\": null,"
		"\"resources\": [], \"users\": [{\"user_id\": \"u\", \"groups\": []}],"
		"\"devices\": ["
		"{\"device_id\": \"a\", \"user_id\": \"u\", \"public_key\": "
		"\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\", \"overlay_ipv6\": "
		"\"fd7a:6e61:6e61:10::2\", \"state\": \"active\"},"
		"{\"device_id\": \"b\", \"user_id\": \"u\", \"public_key\": "
		"\"AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\", \"overlay_ipv6\": "
		"\"fd7a:6e61:6e61:10::3\", \"state\": \"active\"}],"
		"\"acl\": [%s]}]}]}",
		acl);
	return nn_sbtake(&b);
}

static struct nn_policy *parse(const char *json)
{
	struct nn_errlist errs = { 0 };
	struct nn_policy *p = NULL;
	size_t i;

	if (nn_policy_parse(json, strlen(json), "gw-1", NULL, &p, &errs))
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "# %s\n", errs.msgs[i]);
	nn_errlist_free(&errs);
	assert_non_null(p);
	return p;
}

/* Every TCP and UDP destination port from a to b, programs vs model; each
 * port is a flow of its own, so none is decided by an earlier one. */
static void all_ports(struct dpt *t, const struct nn_policy *p, size_t *passes)
{
	struct nn_model *m = nn_model_new(p);
	uint8_t buf[PB_BUF_LEN];
	uint32_t port;
	int udp;

	assert_non_null(m);
	for (udp = 0; udp < 2; udp++) {
		for (port = 0; port < 65536; port++) {
			struct nn_model_verdict mv;
			struct dpt_result r;
			struct pb b;
			size_t len;

			pb_init(&b);
			pb_ip(&b, "fd7a:6e61:6e61:10::2", "fd7a:6e61:6e61:10::3");
			if (udp)
				pb_udp(&b, 40000, (uint16_t)port);
			else
				pb_tcp(&b, 40000, (uint16_t)port, PB_TCP_SYN);
			len = pb_build(&b, buf, sizeof(buf));
			/* no flow state: each port is a new flow */
			nn_model_flush_flows(m);
			assert_int_equal(
				dpt_run_fast(t, NN_DIR_FROM_OVERLAY, NN_HOOK_TC, buf, len, &r), 0);
			nn_model_judge(m, NN_DIR_FROM_OVERLAY, NN_FRAMING_L3, buf, len, 0, &mv);
			if (r.reason != (uint32_t)mv.reason || r.rule != mv.rule)
				fail_msg(
					"seed=%llu %s port %u: programs %s rule %d, model %s rule %d",
					(unsigned long long)seed, udp ? "udp" : "tcp", port,
					nn_reason_name(r.reason) ?: "pass", r.rule,
					nn_reason_name((unsigned int)mv.reason) ?: "pass", mv.rule);
			*passes += mv.reason == NN_PASS;
		}
	}
	/* the next ACL's sweep starts without flows (a flow left over would be
	 * re-judged, which counts no rule: the model's flows are flushed) */
	assert_int_equal(dpt_flush_state(t), 0);
	nn_model_free(m);
}

static void port_list(struct nn_strbuf *b, struct nn_rng *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t lo = rng_below(r, 65536), len = rng_pct(r, 30) ? rng_below(r, 200) : 0;

		if (lo + len > 65535)
			len = 65535 - lo;
		if (len)
			nn_sbprintf(b, "%s\"%u-%u\"", i ? ", " : "", lo, lo + len);
		else
			nn_sbprintf(b, "%s\"%u\"", i ? ", " : "", lo);
	}
}

static void check_acl(struct dpt *t, const char *acl)
{
	char *json = snapshot(acl);
	struct nn_apply_result res = { 0 };
	struct nn_policy *p = parse(json);
	size_t passes = 0;

	assert_int_equal(dpt_apply(t, p, &res), 0);
	all_ports(t, p, &passes);
	fprintf(stderr, "#   %zu rules, %zu policy entries, %zu of 131072 ports pass\n", p->n_rules,
		res.cells, passes);
	nn_policy_free(p);
	free(json);
}

static void test_many_ports(void **state)
{
	struct nn_rng r = { .s = seed };
	struct nn_strbuf b = { 0 };
	struct dpt t;
	char *acl;
	int i, n;

	(void)state;
	assert_int_equal(dpt_open(&t, NN_FRAMING_L3), 0);

	/* one allow rule with many ports and ranges, and a deny over some */
	for (n = 40; n <= 4000; n *= 9) {
		nn_sbprintf(&b, "{\"rule_id\": \"deny\", \"action\": \"deny\", \"src\": \"*\", "
				"\"dst\": \"*\", \"proto\": \"tcp\", \"ports\": [");
		port_list(&b, &r, (size_t)n / 4);
		nn_sbprintf(&b, "]}, {\"rule_id\": \"allow\", \"action\": \"allow\", \"src\": "
				"\"*\", \"dst\": \"*\", \"proto\": \"any\", \"ports\": [");
		port_list(&b, &r, (size_t)n);
		nn_sbprintf(&b, "]}");
		/* "any" with ports is refused: use tcp and udp */
		acl = nn_sbtake(&b);
		memcpy(strstr(acl, "\"any\""), "\"udp\"", 5);
		check_acl(&t, acl);
		free(acl);
	}

	/* hundreds of single-port rules toward one destination */
	for (i = 0; i < 400; i++)
		nn_sbprintf(&b,
			    "%s{\"rule_id\": \"r%d\", \"action\": \"%s\", \"src\": \"*\", "
			    "\"dst\": {\"devices\": [\"b\"]}, \"proto\": \"%s\", \"ports\": "
			    "[\"%u\"]}",
			    i ? ", " : "", i, rng_pct(&r, 30) ? "deny" : "allow",
			    rng_pct(&r, 50) ? "tcp" : "udp", rng_below(&r, 65536));
	acl = nn_sbtake(&b);
	check_acl(&t, acl);
	free(acl);
	dpt_close(&t);
}

/* Over a capacity: rejected whole, the message names it and its flag. */
static void test_capacity_named(void **state)
{
	struct nn_strbuf b = { 0 };
	struct nn_apply_result res = { 0 };
	struct nn_errlist errs = { 0 };
	struct nn_rng r = { .s = seed ^ 1 };
	struct nn_policy *p;
	struct dpt t;
	char *acl, *json;
	size_t i;
	bool named = false;

	(void)state;
	assert_int_equal(dpt_open(&t, NN_FRAMING_L3), 0);
	nn_sbprintf(&b, "{\"rule_id\": \"allow\", \"action\": \"allow\", \"src\": \"*\", "
			"\"dst\": \"*\", \"proto\": \"tcp\", \"ports\": [");
	port_list(&b, &r, 500);
	nn_sbprintf(&b, "]}, {\"rule_id\": \"no-doc\", \"action\": \"deny\", \"src\": \"*\", "
			"\"dst\": {\"prefixes\": [\"2001:db8::/32\", \"192.0.2.0/24\"]}, "
			"\"proto\": \"any\"}");
	acl = nn_sbtake(&b);
	json = snapshot(acl);
	p = parse(json);
	t.dp->opts.cap.max_cells = 8;
	assert_int_equal(nn_apply(t.dp, p, &res, &errs), NN_APPLY_REJECTED);
	for (i = 0; i < errs.n; i++) {
		fprintf(stderr, "# %s\n", errs.msgs[i]);
		named |= strstr(errs.msgs[i], "--max-cells") != NULL;
	}
	assert_true(named);
	nn_errlist_free(&errs);
	t.dp->opts.cap.max_cells = 65536;
	t.dp->opts.cap.max_prefixes = 1;
	named = false;
	assert_int_equal(nn_apply(t.dp, p, &res, &errs), NN_APPLY_REJECTED);
	for (i = 0; i < errs.n; i++) {
		fprintf(stderr, "# %s\n", errs.msgs[i]);
		named |= strstr(errs.msgs[i], "--max-prefixes") != NULL;
	}
	assert_true(named);
	nn_errlist_free(&errs);
	nn_policy_free(p);
	free(json);
	free(acl);
	dpt_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_ports),
		cmocka_unit_test(test_capacity_named),
	};
	const char *s = getenv("NN_SEED");

	seed = s ? strtoull(s, NULL, 0) : ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
	printf("# seed=%llu\n", (unsigned long long)seed);
	fflush(stdout);
	return cmocka_run_group_tests_name("ports: any number compiles", tests, NULL, NULL);
}
