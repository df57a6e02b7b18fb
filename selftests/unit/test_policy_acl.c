// SPDX-License-Identifier: GPL-2.0
/*
 * test_policy_acl.c - nn_policy_parse(): tenants, networks, users and
 * resources (drops and their cascades, prefix overlaps), the ACL (references,
 * ports, protocols, allow dropped alone, deny rejects the snapshot) and the
 * effective routing of devices.
 */
#include "policy_test_util.h"

/* ---- tenants, networks, users, resources ---- */

static void test_tenant_rules(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	jset(d, "tenants.1.tenant_id", json_string("acme"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_tenants, 0);
	assert_int_equal(r.p->n_networks, 0);
	assert_int_equal(r.p->n_devices, 0);
	assert_int_equal(r.p->n_rules, 0);
	assert_true(has_msg(
		&r,
		"tenant=acme: tenant_id appears 2 times; every copy dropped with everything in it",
		NULL));
	done(&r);

	d = doc();
	jset(d, "tenants.1.tenant_id", json_string("glo bex"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_tenants, 1);
	assert_int_equal(r.p->n_networks, 1);
	assert_int_equal(r.p->n_devices, 2);
	assert_int_equal(r.p->n_resources, 2);
	assert_int_equal(r.p->n_rules, 4);
	assert_true(has_msg(&r, "tenants[1].tenant_id: \"glo bex\" is not a valid id",
			    "tenant with everything in it dropped", NULL));
	done(&r);
}

static void test_network_rules(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	/* network ids are global: the same id in another tenant */
	jset(d, GLOBEX ".network_id", json_string("acme-prod"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_networks, 0);
	assert_int_equal(r.p->n_tenants, 2);
	assert_int_equal(r.p->n_devices, 0);
	assert_true(
		has_msg(&r, "tenant=globex network=acme-prod: network_id appears 2 times", NULL));
	done(&r);

	/* a missing acl could hide a deny rule: the network goes */
	d = doc();
	jset(d, NET0 ".acl", NULL);
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_networks, 1);
	assert_string_equal(r.p->networks[0].id, "globex-main");
	assert_int_equal(r.p->n_devices, 2);
	assert_int_equal(r.p->devices[0].network, 0);
	assert_int_equal(r.p->n_rules, 1);
	assert_int_equal(r.p->networks[0].first_rule, 0);
	assert_int_equal(r.p->rules[0].network, 0);
	assert_true(has_msg(
		&r,
		"tenant=acme network=acme-prod: tenants[0].networks[0].acl: missing; network with everything in it dropped",
		NULL));
	done(&r);

	d = doc();
	jset(d, NET0 ".gateways", jparse("[\"gw-fra-1\", 7]"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_networks, 1);
	assert_true(has_msg(
		&r, "network=acme-prod: tenants[0].networks[0].gateways[1]: expected a string",
		NULL));
	done(&r);
}

static void test_user_rules(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	jset(d, NET0 ".users.1.user_id", json_string("alice"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	/* both alices and every device of theirs */
	assert_int_equal(r.p->n_users, 1);
	assert_int_equal(dev(r.p, "alice-laptop"), -1);
	assert_int_equal(dev(r.p, "bob-phone"), -1);
	assert_true(has_msg(
		&r,
		"tenant=acme network=acme-prod user=alice: user_id appears 2 times in the network",
		NULL));
	assert_true(has_msg(&r, "device=alice-laptop: its user alice was dropped", NULL));
	/* eng-db's group now has no live member: the allow rule stays, empty */
	assert_int_equal(r.p->rules[rule(r.p, "eng-db")].n_src_devices, 0);
	done(&r);

	d = doc();
	jset(d, NET0 ".users.0.groups", jparse("[\"eng\", \"\"]"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(dev(r.p, "alice-laptop"), -1);
	assert_true(has_msg(
		&r, "user=alice: tenants[0].networks[0].users[0].groups[1]: \"\" is not a valid id",
		"user and its devices dropped", NULL));
	/* the group is gone with its only member: eng-db names an unknown group */
	assert_int_equal(rule(r.p, "eng-db"), -1);
	done(&r);

	/* the same user id in two networks is fine */
	d = doc();
	jset(d, GLOBEX ".users.0.user_id", json_string("alice"));
	jset(d, GLOBEX ".devices.0.user_id", json_string("alice"));
	jset(d, GLOBEX ".devices.1.user_id", json_string("alice"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.e.n, 0);
	assert_int_equal(r.p->n_devices, 4);
	done(&r);
}

static void test_resource_rules(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	jset(d, NET0 ".resources.0.prefixes.1", json_string("10.20.0.1/16"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_resources, 2);
	assert_true(has_msg(
		&r,
		"tenant=acme network=acme-prod resource=acme-db: prefix 10.20.0.1/16 has host bits set",
		"resource dropped", NULL));
	/* eng-db allowed into acme-db: an allow naming a dropped resource goes */
	assert_int_equal(rule(r.p, "eng-db"), -1);
	assert_true(has_msg(&r, "rule=eng-db: dst.resources names acme-db, which was dropped",
			    "allow rule dropped", NULL));
	done(&r);

	d = doc();
	jset(d, NET0 ".resources.1.prefixes.0", json_string("::/0"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_resources, 2);
	assert_true(has_msg(&r, "resource=acme-web: prefix ::/0 would cover every address", NULL));
	done(&r);

	d = doc();
	jset(d, NET0 ".resources.1.prefixes.0", json_string("0.0.0.0/0"));
	run(d, &r);
	assert_int_equal(r.p->n_resources, 2);
	assert_true(
		has_msg(&r, "resource=acme-web: prefix 0.0.0.0/0 would cover every address", NULL));
	done(&r);

	/* overlapping the overlay: that one prefix goes, the resource stays */
	d = doc();
	jappend(d, NET0 ".resources.0.prefixes", json_string("100.96.16.0/24"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_resources, 3);
	assert_int_equal(r.p->resources[0].n_prefixes, 2);
	assert_true(has_msg(
		&r,
		"resource=acme-db: prefix 100.96.16.0/24 overlaps gateway.overlay_prefixes; prefix dropped",
		NULL));
	done(&r);

	d = doc();
	jset(d, NET0 ".resources.1.resource_id", json_string("acme-db"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_resources, 1);
	assert_true(has_msg(&r, "resource=acme-db: resource_id appears 2 times", NULL));
	done(&r);

	/* overlapping prefixes within one network are fine */
	d = doc();
	jappend(d, NET0 ".resources.1.prefixes", json_string("10.20.5.0/24"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.e.n, 0);
	done(&r);
}

static void test_resource_overlap_rejects(void **state)
{
	json_t *d = doc(), *net;
	struct res r;

	(void)state;
	/* another tenant */
	jappend(d, GLOBEX ".resources.0.prefixes", json_string("10.20.5.0/24"));
	run(d, &r);
	expect_reject(
		&r,
		"resource=globex-files: prefix 10.20.5.0/24 overlaps prefix 10.20.0.0/16 of tenant=acme network=acme-prod resource=acme-db");

	/* another tenant, with an IPv4 prefix (acme-db's 10.20.0.0/16, kept
	 * as ::ffff:10.20.0.0/112) sorting between ::/8 and a prefix inside
	 * it: families are compared apart (issue 10, class 5) */
	d = doc();
	jappend(d, NET0 ".resources.1.prefixes", json_string("::/8"));
	jappend(d, GLOBEX ".resources.0.prefixes", json_string("ff::/16"));
	run(d, &r);
	expect_reject(&r, "prefix ff::/16 overlaps prefix ::/8 of tenant=acme network=acme-prod");

	/* another network of the same tenant */
	d = doc();
	net = json_deep_copy(jat(example, GLOBEX));
	json_object_set_new(net, "network_id", json_string("acme-dev"));
	json_object_set_new(net, "devices", json_array());
	json_object_set_new(net, "acl", json_array());
	json_object_set_new(
		net, "resources",
		jparse("[{\"resource_id\": \"dev-db\", \"prefixes\": [\"fd00:acc::/48\"]}]"));
	jappend(d, "tenants.0.networks", net);
	run(d, &r);
	expect_reject(
		&r,
		"overlaps prefix fd00:acc::/48 of tenant=acme network=acme-dev resource=dev-db");
}

/* ---- ACL ---- */

static void expect_rule_drop(const char *path, const char *val, const char *gone, const char *m1)
{
	json_t *d = doc();
	struct res r;

	jset(d, path, val ? jparse(val) : NULL);
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(rule(r.p, gone), -1);
	assert_int_equal(r.p->n_rules, 4);
	assert_int_equal(r.p->n_devices, 4);
	if (!has_msg(&r, m1, "allow rule dropped", NULL))
		fail_msg("no message \"%s\"", m1);
	done(&r);
}

static void expect_deny_reject(const char *path, const char *val, const char *m1)
{
	json_t *d = doc();
	struct res r;

	jset(d, path, val ? jparse(val) : NULL);
	run(d, &r);
	expect_reject(&r, m1);
}

static void test_acl_references(void **state)
{
	(void)state;
	expect_rule_drop(
		ACL(2) ".dst.devices.1", "\"carol-desktop\"", "ping-peers",
		"tenant=acme network=acme-prod rule=ping-peers: dst.devices names carol-desktop, which is not in this network");
	expect_rule_drop(ACL(0) ".src.groups.0", "\"ops\"", "eng-db",
			 "rule=eng-db: src.groups names ops, which is not in this network");
	expect_rule_drop(ACL(0) ".src.users", "[\"carol\"]", "eng-db",
			 "rule=eng-db: src.users names carol");
	expect_rule_drop(
		ACL(0) ".dst.resources.0", "\"globex-files\"", "eng-db",
		"rule=eng-db: dst.resources names globex-files, which is not in this network");
	expect_rule_drop(ACL(0) ".src.device", "[\"alice-laptop\"]", "eng-db",
			 "rule=eng-db: tenants[0].networks[0].acl[0].src: unknown key \"device\"");
	expect_rule_drop(ACL(1) ".src", "\"all\"", "all-web",
			 "acl[1].src: expected \"*\" or an object");
	expect_deny_reject(
		ACL(3) ".src", "{\"devices\": [\"carol-desktop\"]}",
		"rule=no-smtp: src.devices names carol-desktop, which is not in this network; a deny rule cannot be dropped without widening access");
	expect_deny_reject(
		ACL(3) ".dst", "{\"prefixes\": [\"::/0\"], \"resource\": []}",
		"rule=no-smtp: tenants[0].networks[0].acl[3].dst: unknown key \"resource\"");
}

static void test_acl_ports_proto(void **state)
{
	json_t *d;
	struct res r;

	(void)state;
	expect_rule_drop(ACL(2) ".ports", "[\"1\"]", "ping-peers",
			 "rule=ping-peers: ports are only meaningful with proto tcp or udp");
	expect_rule_drop(ACL(0) ".ports.0", "\"70000\"", "eng-db",
			 "rule=eng-db: ports[0] \"70000\" is not \"N\" or \"N-M\"");
	expect_rule_drop(ACL(0) ".ports.1", "\"8080-8000\"", "eng-db", "ports[1] \"8080-8000\"");
	expect_rule_drop(ACL(0) ".ports.1", "\"-80\"", "eng-db", "ports[1] \"-80\"");
	expect_rule_drop(ACL(0) ".ports.1", "\"80-\"", "eng-db", "ports[1] \"80-\"");
	expect_rule_drop(ACL(0) ".ports.1", "\" 80\"", "eng-db", "ports[1] \" 80\"");
	expect_rule_drop(ACL(0) ".ports.1", "443", "eng-db", "ports[1] \"integer\"");
	expect_rule_drop(
		ACL(0) ".proto", "\"sctp\"", "eng-db",
		"rule=eng-db: tenants[0].networks[0].acl[0].proto: expected tcp, udp, icmp, icmpv6, any or a number 0-255");
	expect_rule_drop(ACL(0) ".proto", "256", "eng-db", "acl[0].proto");
	expect_rule_drop(ACL(0) ".proto", NULL, "eng-db", "acl[0].proto");
	expect_deny_reject(
		ACL(3) ".ports.0", "\"99999\"",
		"rule=no-smtp: ports[0] \"99999\" is not \"N\" or \"N-M\" with 0 <= N <= M <= 65535; a deny rule cannot be dropped");
	expect_deny_reject(ACL(3) ".proto", "\"smtp\"", "rule=no-smtp");
	expect_deny_reject(ACL(3) ".dst.prefixes.0", "\"10.0.0.1/8\"",
			   "rule=no-smtp: dst.prefixes[0] \"10.0.0.1/8\" has host bits set");

	/* numbers, "any", 0-65535, and an empty list matches nothing */
	d = doc();
	jset(d, ACL(0) ".proto", json_integer(17));
	jset(d, ACL(0) ".ports", jparse("[\"0-65535\", \"0\"]"));
	jset(d, ACL(1) ".ports", json_array());
	jset(d, ACL(2) ".proto", json_integer(132));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.e.n, 0);
	assert_int_equal(r.p->rules[0].proto, 17);
	assert_int_equal(r.p->rules[0].ports[0].lo, 0);
	assert_int_equal(r.p->rules[0].ports[0].hi, 65535);
	assert_false(r.p->rules[1].all_ports);
	assert_int_equal(r.p->rules[1].n_ports, 0);
	assert_int_equal(r.p->rules[2].proto, 132);
	assert_true(r.p->rules[2].all_ports);
	done(&r);
}

static void test_acl_action_and_ids(void **state)
{
	json_t *d;
	struct res r;

	(void)state;
	expect_deny_reject(
		ACL(1) ".action", "\"permit\"",
		"rule=?: tenants[0].networks[0].acl[1].action \"permit\" is neither allow nor deny");
	expect_deny_reject(ACL(1), "[]", "acl[1] is not an object");
	expect_rule_drop(ACL(1) ".rule_id", "\"all web\"", "all-web",
			 "acl[1].rule_id: \"all web\" is not a valid id");
	expect_deny_reject(ACL(3) ".rule_id", "\"\"", "acl[3].rule_id");

	/* duplicate allow ids: both go */
	d = doc();
	jset(d, ACL(1) ".rule_id", json_string("eng-db"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_rules, 3);
	assert_int_equal(r.p->networks[0].n_rules, 2);
	assert_int_equal(r.p->networks[1].first_rule, 2);
	assert_true(has_msg(
		&r, "rule=eng-db: rule_id appears 2 times in the ACL; allow rule dropped", NULL));
	done(&r);
	/* a deny among them: reject */
	expect_deny_reject(ACL(1) ".rule_id", "\"no-smtp\"",
			   "rule=no-smtp: deny rule's rule_id is not unique");
	/* the same rule id in another network is fine */
	d = doc();
	jset(d, GLOBEX ".acl.0.rule_id", json_string("no-smtp"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_rules, 5);
	done(&r);
}

static void test_acl_src_resolution(void **state)
{
	json_t *d = doc(), *u = jparse("{\"user_id\": \"dave\", \"groups\": [\"eng\", \"ops\"]}");
	json_t *dv = json_deep_copy(jat(example, DEV(1)));
	const struct nn_rule *r0;
	struct res r;

	(void)state;
	jappend(d, NET0 ".users", u);
	json_object_set_new(dv, "device_id", json_string("dave-pc"));
	json_object_set_new(dv, "user_id", json_string("dave"));
	json_object_set_new(dv, "public_key", json_string(KEY_A));
	json_object_set_new(dv, "overlay_ipv6", json_string("fd7a:6e61:6e61:10::4"));
	jappend(d, NET0 ".devices", dv);
	/* devices, users and groups overlap: one sorted set */
	jset(d, ACL(0) ".src",
	     jparse("{\"devices\": [\"dave-pc\", \"bob-phone\"], \"users\": [\"alice\", \"dave\"], \"groups\": [\"eng\", \"sales\"]}"));
	jset(d, ACL(1) ".src", jparse("{\"devices\": []}"));
	jset(d, ACL(2) ".dst",
	     jparse("{\"devices\": [\"bob-phone\", \"alice-laptop\", \"bob-phone\"]}"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.e.n, 0);
	r0 = &r.p->rules[0];
	assert_int_equal(r0->n_src_devices, 3);
	assert_int_equal(r0->src_devices[0], dev(r.p, "alice-laptop"));
	assert_int_equal(r0->src_devices[1], dev(r.p, "bob-phone"));
	assert_int_equal(r0->src_devices[2], dev(r.p, "dave-pc"));
	/* an empty list matches nothing, never everything */
	assert_false(r.p->rules[1].src_star);
	assert_int_equal(r.p->rules[1].n_src_devices, 0);
	assert_int_equal(r.p->rules[2].n_dst_devices, 2);
	assert_true(r.p->rules[2].dst_devices[0] < r.p->rules[2].dst_devices[1]);
	done(&r);
}

static void test_deny_with_dropped_entries(void **state)
{
	json_t *d = doc();
	struct res r;
	int i;

	(void)state;
	/* a dropped device in a deny rule: it has no address, so the rule
	 * holds without it */
	jset(d, ACL(3) ".src", jparse("{\"devices\": [\"alice-laptop\", \"bob-phone\"]}"));
	jset(d, DEV(0) ".state", json_string("bogus"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	i = rule(r.p, "no-smtp");
	assert_true(i >= 0);
	assert_int_equal(r.p->rules[i].n_src_devices, 1);
	assert_int_equal(r.p->rules[i].src_devices[0], dev(r.p, "bob-phone"));
	assert_true(has_msg(
		&r,
		"rule=no-smtp: src.devices names alice-laptop, which was dropped; reference ignored",
		NULL));
	done(&r);

	/* a dropped resource in a deny rule: its prefixes are closed space,
	 * and the rule keeps denying them (masked) as dst prefixes: a standing
	 * resource with a longer prefix inside keeps its part of closed
	 * space, and the rule must still cover it */
	d = doc();
	jset(d, ACL(3) ".dst", jparse("{\"resources\": [\"acme-web\"]}"));
	jset(d, NET0 ".resources.1.prefixes.0", json_string("fd00:acc:1::1/64"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	i = rule(r.p, "no-smtp");
	assert_true(i >= 0);
	assert_int_equal(r.p->n_closed, 1);
	assert_int_equal(r.p->rules[i].n_dst_resources, 0);
	assert_int_equal(r.p->rules[i].n_dst_prefixes, 1);
	{
		struct nn_prefix want;

		assert_int_equal(nn_prefix_parse("fd00:acc:1::/64", &want, NULL), 0);
		assert_int_equal(r.p->rules[i].dst_prefixes[0].len, want.len);
		assert_memory_equal(r.p->rules[i].dst_prefixes[0].addr, want.addr, NN_ADDR_LEN);
	}
	assert_true(has_msg(&r, "rule=no-smtp: dst.resources names acme-web, which was dropped",
			    "the rule keeps denying its prefixes", NULL));
	done(&r);
}

/* ---- effective routing ---- */

static const struct nn_device *route(json_t *d, struct res *r, const char *id)
{
	int i;

	run(d, r);
	assert_int_equal(r->err, 0);
	i = dev(r->p, id);
	assert_true(i >= 0);
	return &r->p->devices[i];
}

static void test_routing(void **state)
{
	const struct nn_device *dv;
	json_t *d;
	struct res r;

	(void)state;
	/* manual egress on another exit node: no egress here */
	d = doc();
	jset(d, DEV(0) ".routing_preference.egress_device", json_string("gw-ams-1"));
	dv = route(d, &r, "alice-laptop");
	assert_string_equal(nn_device_egress(r.p, dv), "gw-ams-1");
	assert_false(dv->egress_here);
	assert_int_equal(r.e.n, 0);
	done(&r);

	/* ... that lacks the exit role: fail closed */
	d = doc();
	jset(d, DEV(0) ".routing_preference.egress_device", json_string("gw-ams-1"));
	jset(d, "nodes.0.roles", jparse("[\"ingress_gateway\"]"));
	dv = route(d, &r, "alice-laptop");
	assert_string_equal(nn_device_egress(r.p, dv), "");
	assert_false(dv->egress_here);
	assert_true(has_msg(
		&r,
		"tenant=acme network=acme-prod device=alice-laptop: egress_device gw-ams-1 lacks the role exit_gateway; no internet egress (fail closed)",
		NULL));
	done(&r);

	/* ... not among the network's gateways */
	d = doc();
	jset(d, NET0 ".gateways", jparse("[\"gw-fra-1\"]"));
	jset(d, DEV(0) ".routing_preference.egress_device", json_string("gw-ams-1"));
	dv = route(d, &r, "alice-laptop");
	assert_string_equal(nn_device_egress(r.p, dv), "");
	assert_true(has_msg(
		&r,
		"device=alice-laptop: egress_device gw-ams-1 is not one of the network's gateways",
		NULL));
	done(&r);

	/* this gateway without the exit role: manual egress here fails,
	 * auto gives none */
	d = doc();
	jset(d, "gateway.roles", jparse("[\"ingress_gateway\"]"));
	dv = route(d, &r, "alice-laptop");
	assert_string_equal(nn_device_egress(r.p, dv), "");
	assert_false(dv->egress_here);
	assert_true(has_msg(
		&r, "device=alice-laptop: egress_device gw-fra-1 lacks the role exit_gateway",
		NULL));
	dv = &r.p->devices[dev(r.p, "carol-desktop")];
	assert_string_equal(nn_device_egress(r.p, dv), "");
	assert_false(dv->egress_here);
	done(&r);

	/* a network not served here: auto gives no egress */
	d = doc();
	jset(d, GLOBEX ".gateways", jparse("[\"gw-ams-1\"]"));
	dv = route(d, &r, "carol-desktop");
	assert_false(r.p->networks[1].served_here);
	assert_string_equal(nn_device_egress(r.p, dv), "");
	assert_false(dv->egress_here);
	done(&r);

	/* layers: device beats user beats network beats defaults */
	d = doc();
	jset(d, DEV(0) ".routing_preference", jparse("{\"traffic_mode\": \"vpn_only\"}"));
	jset(d, NET0 ".routing_policy",
	     jparse("{\"routing_mode\": \"manual\", \"egress_device\": \"gw-ams-1\"}"));
	dv = route(d, &r, "alice-laptop");
	assert_int_equal(dv->traffic_mode, NN_TM_VPN_ONLY);
	assert_int_equal(dv->routing_mode, NN_RM_MANUAL);
	assert_string_equal(nn_device_egress(r.p, dv), "gw-ams-1");
	dv = &r.p->devices[dev(r.p, "bob-phone")];
	assert_int_equal(dv->traffic_mode, NN_TM_VPN_ONLY);
	assert_string_equal(nn_device_egress(r.p, dv), "gw-ams-1");
	done(&r);

	/* the user's egress beats the network's and the defaults' (the
	 * device names the layer, nn_device_egress() reads its name) */
	d = doc();
	jset(d, DEV(0) ".routing_preference", jparse("{\"routing_mode\": \"manual\"}"));
	jset(d, NET0 ".users.0.routing_preference",
	     jparse("{\"traffic_mode\": \"full_tunnel\", \"egress_device\": \"gw-ams-1\"}"));
	jset(d, NET0 ".routing_policy", jparse("{\"egress_device\": \"gw-fra-1\"}"));
	jset(d, "system_defaults.egress_device", json_string("gw-fra-1"));
	dv = route(d, &r, "alice-laptop");
	assert_int_equal(dv->routing_mode, NN_RM_MANUAL);
	assert_string_equal(nn_device_egress(r.p, dv), "gw-ams-1");
	assert_false(dv->egress_here);
	assert_int_equal(r.e.n, 0);
	done(&r);

	/* a manual full_tunnel device with no egress named anywhere */
	d = doc();
	jset(d, DEV(0) ".routing_preference", jparse("{\"routing_mode\": \"manual\"}"));
	dv = route(d, &r, "alice-laptop");
	assert_string_equal(nn_device_egress(r.p, dv), "");
	assert_false(dv->egress_here);
	assert_true(
		has_msg(&r, "device=alice-laptop: routing_mode manual but no egress_device", NULL));
	done(&r);

	/* an ingress selection without the role: a message, no effect */
	d = doc();
	jset(d, DEV(0) ".routing_preference.ingress_device", json_string("gw-ams-1"));
	dv = route(d, &r, "alice-laptop");
	assert_true(dv->egress_here);
	assert_true(has_msg(
		&r, "device=alice-laptop: ingress_device gw-ams-1 lacks the role ingress_gateway",
		NULL));
	done(&r);

	/* a disabled or unknown node is no choice */
	d = doc();
	jset(d, DEV(0) ".routing_preference.egress_device", json_string("gw-ams-1"));
	jset(d, "nodes.0.state", json_string("disabled"));
	dv = route(d, &r, "alice-laptop");
	assert_string_equal(nn_device_egress(r.p, dv), "");
	assert_true(has_msg(&r, "egress_device gw-ams-1 is a disabled node", NULL));
	done(&r);
	d = doc();
	jset(d, NET0 ".gateways", jparse("[\"gw-fra-1\", \"gw-xyz\"]"));
	jset(d, DEV(0) ".routing_preference.egress_device", json_string("gw-xyz"));
	dv = route(d, &r, "alice-laptop");
	assert_string_equal(nn_device_egress(r.p, dv), "");
	assert_true(has_msg(&r, "egress_device gw-xyz is not a known node", NULL));
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tenant_rules),
		cmocka_unit_test(test_network_rules),
		cmocka_unit_test(test_user_rules),
		cmocka_unit_test(test_resource_rules),
		cmocka_unit_test(test_resource_overlap_rejects),
		cmocka_unit_test(test_acl_references),
		cmocka_unit_test(test_acl_ports_proto),
		cmocka_unit_test(test_acl_action_and_ids),
		cmocka_unit_test(test_acl_src_resolution),
		cmocka_unit_test(test_deny_with_dropped_entries),
		cmocka_unit_test(test_routing),
	};

	return cmocka_run_group_tests_name("policy_acl", tests, setup, teardown);
}
