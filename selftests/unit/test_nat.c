// SPDX-License-Identifier: GPL-2.0
/*
 * Exit NAT: the controller's own nftables table, in a private network
 * namespace so the host's ruleset is never touched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <nftables/libnftables.h>

#include "gatewayd/nat.h"
#include "model_fixture.h"

/* Run @cmd; return its output (malloc'd) or NULL on error. */
static char *nft(const char *cmd)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	char *out = NULL;

	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (!nft_run_cmd_from_buffer(ctx, cmd))
		out = strdup(nft_ctx_get_output_buffer(ctx));
	nft_ctx_free(ctx);
	return out;
}

static char *read_file(const char *path)
{
	static char buf[64];
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	return buf;
}

static void expect_in(const char *out, const char *want)
{
	if (!strstr(out, want))
		fail_msg("nft table lacks \"%s\":\n%s", want, out);
}

static int setup(void **state)
{
	if (unshare(CLONE_NEWNET))
		return -1;
	return mf_group_setup(state);
}

static void test_exit_role_masquerades(void **state)
{
	char *out;

	(void)state;
	/* Someone else's table, which we must never touch. */
	free(nft("add table inet other\nadd chain inet other c\n"));
	assert_int_equal(nn_nat_apply("wg0", mf_base), 0);
	out = nft("list table inet nanami_wg0");
	assert_non_null(out);
	expect_in(out, "ip saddr 100.96.0.0/12 ip daddr != { 10.20.0.0/16, 100.96.0.0/12 } "
		       "masquerade");
	/* nft lists set elements sorted. */
	expect_in(out, "ip6 saddr fd7a:6e61:6e61::/48 ip6 daddr != { fd00:6b0::/64, "
		       "fd00:acc::/64, fd00:acc:1::/64, fd7a:6e61:6e61::/48 } masquerade");
	expect_in(out, "iifname \"wg0\" oifname != \"wg0\"");
	free(out);
	assert_string_equal(read_file("/proc/sys/net/ipv4/ip_forward"), "1\n");
	assert_string_equal(read_file("/proc/sys/net/ipv6/conf/all/forwarding"), "1\n");

	/* Idempotent: the same table, not a second copy of the rules. */
	assert_int_equal(nn_nat_apply("wg0", mf_base), 0);
	out = nft("list table inet nanami_wg0");
	assert_non_null(out);
	assert_null(strstr(strstr(out, "masquerade") + 1, "ip saddr 100.96.0.0/12"));
	free(out);
}

static void test_no_exit_role_removes(void **state)
{
	struct mf_ctx c = {};
	struct nn_policy *p;
	char *out;

	(void)state;
	assert_int_equal(nn_nat_apply("wg0", mf_base), 0);
	p = mf_variant(&c, "\"roles\": [\"ingress_gateway\", \"exit_gateway\"]",
		       "\"roles\": [\"ingress_gateway\"]");
	assert_int_equal(nn_nat_apply("wg0", p), 0);
	assert_null(nft("list table inet nanami_wg0"));
	out = nft("list table inet other");
	assert_non_null(out);
	free(out);
	nn_policy_free(p);
}

static void test_detach_removes_only_ours(void **state)
{
	char *out;

	(void)state;
	assert_int_equal(nn_nat_apply("wg0", mf_base), 0);
	assert_int_equal(nn_nat_remove("wg0"), 0);
	assert_null(nft("list table inet nanami_wg0"));
	/* Removing what is not there is fine. */
	assert_int_equal(nn_nat_remove("wg0"), 0);
	out = nft("list table inet other");
	assert_non_null(out);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_role_masquerades),
		cmocka_unit_test(test_no_exit_role_removes),
		cmocka_unit_test(test_detach_removes_only_ours),
	};

	return cmocka_run_group_tests_name("exit nat", tests, setup, mf_group_teardown);
}
