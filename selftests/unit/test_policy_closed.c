// SPDX-License-Identifier: GPL-2.0
/*
 * test_policy_closed.c - nn_policy_parse(): the address space of dropped
 * entries stays closed (assignments-v1.md "Validation", issue 10 class 6):
 * p->closed lists what every dropped resource, device, node, network and
 * tenant claimed, read leniently from the text, and a deny rule naming a
 * dropped resource keeps the snapshot valid.
 */
#include "lib/addr.h"
#include "policy_test_util.h"

/* p->closed holds exactly the prefixes of the NULL-terminated list. */
static void expect_closed(const struct nn_policy *p, ...)
{
	char buf[NN_PREFIX_STRLEN];
	struct nn_prefix want;
	const char *s;
	size_t n = 0, i;
	va_list ap;

	va_start(ap, p);
	while ((s = va_arg(ap, const char *))) {
		n++;
		if (nn_prefix_parse(s, &want, NULL))
			fail_msg("bad prefix in the test: %s", s);
		for (i = 0; i < p->n_closed; i++)
			if (p->closed[i].len == want.len &&
			    !memcmp(p->closed[i].addr, want.addr, NN_ADDR_LEN))
				break;
		if (i == p->n_closed)
			fail_msg("%s is not closed", s);
	}
	va_end(ap);
	for (i = 0; i < p->n_closed && n != p->n_closed; i++)
		print_message("  closed[%zu]: %s\n", i,
			      nn_prefix_format(&p->closed[i], buf, sizeof(buf)));
	assert_int_equal(p->n_closed, n);
}

static void test_nothing_dropped(void **state)
{
	struct res r;

	(void)state;
	run(doc(), &r);
	assert_int_equal(r.err, 0);
	expect_closed(r.p, NULL);
	done(&r);
}

static void test_resource_dropped(void **state)
{
	json_t *d = doc();
	struct res r;
	int i;

	(void)state;
	/* a duplicate id drops both copies; a deny rule naming them holds */
	jset(d, NET0 ".resources.1.resource_id", json_string("acme-db"));
	jset(d, ACL(3) ".dst", jparse("{\"resources\": [\"acme-db\"]}"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_resources, 1);
	expect_closed(r.p, "fd00:acc::/64", "10.20.0.0/16", "fd00:acc:1::/64", NULL);
	i = rule(r.p, "no-smtp");
	assert_true(i >= 0);
	assert_int_equal(r.p->rules[i].n_dst_resources, 0);
	/* both copies named acme-db: the rule keeps denying what each claimed */
	assert_int_equal(r.p->rules[i].n_dst_prefixes, 3);
	assert_true(has_msg(&r, "rule=no-smtp: dst.resources names acme-db, which was dropped",
			    "the rule keeps denying its prefixes", NULL));
	done(&r);

	/* host bits: the claim counts masked */
	d = doc();
	jset(d, NET0 ".resources.1.prefixes.0", json_string("fd00:acc:1::1/64"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	expect_closed(r.p, "fd00:acc:1::/64", NULL);
	done(&r);

	/* ::/0 claims all of IPv6: closed, never internet-bound */
	d = doc();
	jappend(d, NET0 ".resources.1.prefixes", json_string("::/0"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	expect_closed(r.p, "::/0", "fd00:acc:1::/64", NULL);
	done(&r);

	/* a prefix overlapping the overlay goes alone, and stays closed */
	d = doc();
	jappend(d, NET0 ".resources.1.prefixes", json_string("100.64.0.0/10"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_resources, 3);
	expect_closed(r.p, "100.64.0.0/10", NULL);
	assert_true(has_msg(&r, "prefix 100.64.0.0/10 overlaps gateway.overlay_prefixes",
			    "its space stays closed", NULL));
	done(&r);
}

static void test_device_dropped(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	/* any fault: both addresses stay closed */
	jset(d, DEV(0) ".public_key", json_string("AAAA"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_true(dev(r.p, "alice-laptop") < 0);
	expect_closed(r.p, "fd7a:6e61:6e61:10::2/128", "100.96.16.2/32", NULL);
	done(&r);

	/* an address outside the overlay is closed too: internet-bound is
	 * only what nothing claims; an unreadable one claims nothing */
	d = doc();
	jset(d, DEV(0) ".overlay_ipv4", json_string("198.51.100.7"));
	jset(d, DEV(1) ".overlay_ipv6", json_string("fd7a:6e61:6e61:zz::1"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	expect_closed(r.p, "fd7a:6e61:6e61:10::2/128", "198.51.100.7/32", NULL);
	done(&r);

	/* a prefix where an address belongs claims the prefix */
	d = doc();
	jset(d, DEV(1) ".overlay_ipv6", json_string("fd7a:6e61:6e61:10::3/64"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	expect_closed(r.p, "fd7a:6e61:6e61:10::/64", NULL);
	done(&r);

	/* a dropped user takes its devices, and their addresses close */
	d = doc();
	jset(d, NET0 ".users.0.user_id", json_string("bad id"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_true(dev(r.p, "alice-laptop") < 0);
	expect_closed(r.p, "fd7a:6e61:6e61:10::2/128", "100.96.16.2/32", NULL);
	done(&r);
}

static void test_network_tenant_node_dropped(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	/* a network without acl is never parsed further: read from the text */
	jset(d, NET0 ".acl", NULL);
	run(d, &r);
	assert_int_equal(r.err, 0);
	expect_closed(r.p, "fd00:acc::/64", "10.20.0.0/16", "fd00:acc:1::/64",
		      "fd7a:6e61:6e61:10::2/128", "100.96.16.2/32", "fd7a:6e61:6e61:10::3/128",
		      NULL);
	done(&r);

	/* duplicate tenant ids: every claim of both */
	d = doc();
	jset(d, "tenants.1.tenant_id", json_string("acme"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_tenants, 0);
	expect_closed(r.p, "fd00:acc::/64", "10.20.0.0/16", "fd00:acc:1::/64",
		      "fd7a:6e61:6e61:10::2/128", "100.96.16.2/32", "fd7a:6e61:6e61:10::3/128",
		      "fd00:6b0::/64", "fd7a:6e61:6e61:20::2/128", "100.96.32.2/32",
		      "fd7a:6e61:6e61:20::3/128", NULL);
	done(&r);

	/* a node: its address */
	d = doc();
	jset(d, "nodes.0.public_key", json_string("short"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_nodes, 0);
	expect_closed(r.p, "fd7a:6e61:6e61::2/128", NULL);
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_dropped),
		cmocka_unit_test(test_resource_dropped),
		cmocka_unit_test(test_device_dropped),
		cmocka_unit_test(test_network_tenant_node_dropped),
	};

	return cmocka_run_group_tests_name("policy_closed", tests, setup, teardown);
}
