// SPDX-License-Identifier: GPL-2.0
/*
 * test_policy.c - nn_policy_parse() and the address helpers: the example
 * snapshot parses into the expected structure; whole-snapshot rejections
 * (bad JSON, duplicate keys, size, nesting, api_version, node_id, gateway,
 * limits); devices and nodes (addresses, keys, ids, types, duplicates).
 * ACL, tenants, networks, users, resources and routing: test_policy_acl.c.
 *
 * Most cases start from examples/assignments.json and change one field with
 * jset(), so each test shows only what it breaks.
 */
#include "lib/base64.h"
#include "policy_test_util.h"

/* ---- the example ---- */

static void test_example_structure(void **state)
{
	uint8_t a[NN_ADDR_LEN];
	const struct nn_policy *p;
	const struct nn_rule *r;
	struct res rs;
	int i;

	(void)state;
	run(doc(), &rs);
	p = rs.p;
	assert_int_equal(rs.err, 0);
	assert_int_equal(rs.e.n, 0);
	assert_int_equal(p->generation, 7);
	assert_string_equal(p->node_id, "gw-fra-1");
	assert_int_equal(p->gw.roles, NN_ROLE_INGRESS | NN_ROLE_EXIT);
	assert_int_equal(p->gw.n_overlay_prefixes, 2);
	assert_int_equal(p->gw.overlay_prefixes[1].len, 96 + 12);
	assert_int_equal(p->gw.listen_port, 51820);
	assert_int_equal(p->gw.mtu, 1420);
	assert_true(p->gw.has_ov4);
	assert_int_equal(p->defaults.traffic_mode, NN_TM_VPN_ONLY);
	assert_int_equal(p->n_tenants, 2);
	assert_int_equal(p->n_networks, 2);
	assert_int_equal(p->n_users, 3);
	assert_int_equal(p->n_devices, 4);
	assert_int_equal(p->n_nodes, 1);
	assert_int_equal(p->n_resources, 3);
	assert_int_equal(p->n_rules, 5);
	assert_int_equal(nn_policy_find_network(p, "acme-prod"), 0);
	assert_int_equal(nn_policy_find_network(p, "globex-main"), 1);
	assert_int_equal(nn_policy_find_network(p, "nope"), -ENOENT);
	assert_int_equal(p->networks[1].tenant, 1);
	assert_int_equal(p->networks[0].n_gateways, 2);
	assert_true(p->networks[0].served_here);
	assert_int_equal(p->networks[0].first_rule, 0);
	assert_int_equal(p->networks[0].n_rules, 4);
	assert_int_equal(p->networks[1].first_rule, 4);
	assert_int_equal(p->networks[1].n_rules, 1);
	assert_string_equal(p->rules[3].id, "no-smtp");
	assert_string_equal(p->nodes[0].id, "gw-ams-1");
	assert_int_equal(p->nodes[0].roles, NN_ROLE_EXIT);

	/* alice: user full_tunnel, device manual egress gw-fra-1 */
	i = dev(p, "alice-laptop");
	assert_true(i >= 0);
	assert_int_equal(p->devices[i].traffic_mode, NN_TM_FULL_TUNNEL);
	assert_int_equal(p->devices[i].routing_mode, NN_RM_MANUAL);
	assert_string_equal(nn_device_egress(p, &p->devices[i]), "gw-fra-1");
	assert_true(p->devices[i].egress_here);
	assert_true(p->devices[i].has_addr4);
	assert_int_equal(nn_addr_parse("100.96.16.2", a, NULL), 0);
	assert_memory_equal(p->devices[i].addr4, a, NN_ADDR_LEN);
	assert_int_equal(p->devices[i].keepalive, 25);
	assert_int_equal(p->devices[i].key_generation, 3);
	assert_string_equal(p->users[p->devices[i].user].id, "alice");
	/* bob: vpn_only from the network */
	i = dev(p, "bob-phone");
	assert_int_equal(p->devices[i].traffic_mode, NN_TM_VPN_ONLY);
	assert_int_equal(p->devices[i].routing_mode, NN_RM_AUTO);
	assert_false(p->devices[i].egress_here);
	assert_false(p->devices[i].has_addr4);
	/* carol: globex-main full_tunnel auto, gw-fra-1 is an exit */
	i = dev(p, "carol-desktop");
	assert_int_equal(p->devices[i].traffic_mode, NN_TM_FULL_TUNNEL);
	assert_int_equal(p->devices[i].routing_mode, NN_RM_AUTO);
	assert_string_equal(nn_device_egress(p, &p->devices[i]), "gw-fra-1");
	assert_true(p->devices[i].egress_here);
	assert_int_equal(p->devices[i].network, 1);
	i = dev(p, "carol-old-laptop");
	assert_int_equal(p->devices[i].state, NN_ST_DISABLED);
	assert_int_equal(p->devices[i].keepalive, -1);

	/* eng-db: group eng = alice's one device; ports 5432, 8000-8080 */
	r = &p->rules[rule(p, "eng-db")];
	assert_int_equal(r->action, NN_ACT_ALLOW);
	assert_false(r->src_star);
	assert_int_equal(r->n_src_devices, 1);
	assert_int_equal(r->src_devices[0], dev(p, "alice-laptop"));
	assert_int_equal(r->n_dst_resources, 1);
	assert_string_equal(p->resources[r->dst_resources[0]].id, "acme-db");
	assert_int_equal(r->proto, 6);
	assert_false(r->all_ports);
	assert_int_equal(r->n_ports, 2);
	assert_int_equal(r->ports[1].lo, 8000);
	assert_int_equal(r->ports[1].hi, 8080);
	r = &p->rules[rule(p, "ping-peers")];
	assert_true(r->src_star);
	assert_int_equal(r->n_dst_devices, 2);
	assert_int_equal(r->proto, 58);
	assert_true(r->all_ports);
	r = &p->rules[rule(p, "no-smtp")];
	assert_int_equal(r->action, NN_ACT_DENY);
	assert_int_equal(r->n_dst_prefixes, 2);
	assert_int_equal(r->dst_prefixes[0].len, 96);
	assert_int_equal(r->dst_prefixes[1].len, 0);
	r = &p->rules[rule(p, "ops-files")];
	assert_int_equal(r->proto, NN_PROTO_ANY);
	assert_int_equal(r->n_src_devices, 2);
	assert_true(r->src_devices[0] < r->src_devices[1]);
	assert_int_equal(r->network, 1);
	assert_int_equal(p->resources[2].n_prefixes, 1);
	done(&rs);
}

static void test_node_id_null_accepted(void **state)
{
	struct res r;

	(void)state;
	run_lim(doc(), NULL, NULL, &r);
	assert_int_equal(r.err, 0);
	done(&r);
}

/* ---- address helpers ---- */

static void test_addr_helpers(void **state)
{
	struct nn_prefix p, q;
	uint8_t a[NN_ADDR_LEN];
	char buf[NN_PREFIX_STRLEN];
	int fam;

	(void)state;
	assert_int_equal(nn_addr_parse("10.1.2.3", a, &fam), 0);
	assert_int_equal(fam, NN_FAM_V4);
	assert_true(nn_addr_is_v4mapped(a));
	assert_string_equal(nn_addr_format(a, buf, sizeof(buf)), "10.1.2.3");
	assert_int_equal(nn_addr_parse("fd00::1", a, &fam), 0);
	assert_int_equal(fam, NN_FAM_V6);
	assert_false(nn_addr_is_v4mapped(a));
	assert_string_equal(nn_addr_format(a, buf, sizeof(buf)), "fd00::1");
	assert_int_equal(nn_addr_parse("fd00::1/128", a, NULL), -EINVAL);
	assert_int_equal(nn_addr_parse(" 10.0.0.1", a, NULL), -EINVAL);
	assert_int_equal(nn_addr_parse("", a, NULL), -EINVAL);

	assert_int_equal(nn_prefix_parse("10.20.0.0/16", &p, &fam), 0);
	assert_int_equal(p.len, 112);
	assert_string_equal(nn_prefix_format(&p, buf, sizeof(buf)), "10.20.0.0/16");
	assert_int_equal(nn_prefix_parse("10.20.0.1/16", &p, NULL), -EDOM);
	assert_int_equal(nn_prefix_parse("fd00::1/64", &p, NULL), -EDOM);
	assert_int_equal(nn_prefix_parse("10.0.0.0/33", &p, NULL), -EINVAL);
	assert_int_equal(nn_prefix_parse("fd00::/129", &p, NULL), -EINVAL);
	assert_int_equal(nn_prefix_parse("fd00::/+8", &p, NULL), -EINVAL);
	assert_int_equal(nn_prefix_parse("fd00::", &p, NULL), -EINVAL);
	assert_int_equal(nn_prefix_parse("fd00::/", &p, NULL), -EINVAL);
	assert_int_equal(nn_prefix_parse("0.0.0.0/0", &p, NULL), 0);
	assert_true(nn_prefix_is_default(&p));
	assert_int_equal(nn_prefix_parse("::/0", &p, NULL), 0);
	assert_true(nn_prefix_is_default(&p));

	assert_int_equal(nn_prefix_parse("fd00:acc::/64", &p, NULL), 0);
	assert_int_equal(nn_addr_parse("fd00:acc::5", a, NULL), 0);
	assert_true(nn_prefix_contains(&p, a));
	assert_int_equal(nn_addr_parse("fd00:acc:1::5", a, NULL), 0);
	assert_false(nn_prefix_contains(&p, a));
	assert_int_equal(nn_prefix_parse("fd00:acc::/60", &q, NULL), 0);
	assert_true(nn_prefix_overlaps(&p, &q));
	assert_true(nn_prefix_overlaps(&q, &p));
	assert_int_equal(nn_prefix_parse("fd00:acc:0:10::/60", &q, NULL), 0);
	assert_false(nn_prefix_overlaps(&p, &q));
	/* an IPv4 prefix is inside the IPv4-mapped space only */
	assert_int_equal(nn_prefix_parse("10.0.0.0/8", &q, NULL), 0);
	assert_false(nn_prefix_overlaps(&p, &q));
}

static void test_limits_default(void **state)
{
	struct nn_limits l;

	(void)state;
	nn_limits_default(&l);
	assert_true(l.max_body >= 1 << 20);
	assert_true(l.max_depth >= 9 && l.max_depth < 1000);
	assert_int_equal(l.max_devices, NN_DEF_MAX_DEVICES);
	assert_int_equal(l.max_rules, NN_DEF_MAX_RULES);
	assert_int_equal(l.max_prefixes, NN_DEF_MAX_PREFIXES);
	assert_true(l.max_nodes > 0);
}

/* ---- whole-snapshot rejections ---- */

static void test_reject_duplicate_keys(void **state)
{
	const char *s =
		"{\"api_version\": \"v1\", \"node_id\": \"gw-fra-1\", \"generation\": 1, \"generation\": 2}";
	struct res r;

	(void)state;
	run_raw(s, strlen(s), NULL, &r);
	assert_null(r.p);
	expect_reject(&r, "duplicate object key");
}

static void test_reject_oversized_body(void **state)
{
	struct nn_limits l;
	char *s = json_dumps(example, 0);
	struct res r;

	(void)state;
	nn_limits_default(&l);
	l.max_body = strlen(s) - 1;
	run_raw(s, strlen(s), &l, &r);
	free(s);
	expect_reject(&r, "exceeds the limit");
}

static void test_reject_deep_nesting(void **state)
{
	size_t n = 100000, i;
	char *s = malloc(2 * n + 1);
	struct res r;

	(void)state;
	for (i = 0; i < n; i++) {
		s[i] = '[';
		s[n + i] = ']';
	}
	s[2 * n] = '\0';
	run_raw(s, 2 * n, NULL, &r);
	free(s);
	expect_reject(&r, "nesting deeper than");

	/* brackets inside strings, even after escaped quotes, do not count */
	s = "{\"a\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[[[[\"}";
	run_raw(s, strlen(s), NULL, &r);
	assert_int_equal(r.err, -EINVAL);
	assert_null(strstr(last_msg(&r), "nesting"));
	done(&r);
}

static void test_reject_truncated(void **state)
{
	char *s = json_dumps(example, 0);
	struct res r;

	(void)state;
	run_raw(s, strlen(s) / 2, NULL, &r);
	free(s);
	expect_reject(&r, "invalid JSON");
	run_raw("", 0, NULL, &r);
	expect_reject(&r, "invalid JSON");
	run_raw("[1]", 3, NULL, &r);
	expect_reject(&r, "not an object");
}

static void test_reject_api_version(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	jset(d, "api_version", json_string("v2"));
	run(d, &r);
	expect_reject(&r, "api_version \"v2\" is not \"v1\"");
	d = doc();
	jset(d, "api_version", NULL);
	run(d, &r);
	expect_reject(&r, "api_version: missing");
}

static void test_reject_node_id(void **state)
{
	struct res r;

	(void)state;
	run_lim(doc(), "gw-ams-1", NULL, &r);
	expect_reject(&r, "node_id \"gw-fra-1\" is not this gateway (gw-ams-1)");
}

static void test_reject_generation(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	jset(d, "generation", json_integer(-1));
	run(d, &r);
	expect_reject(&r, "generation: -1 is out of range");
	d = doc();
	jset(d, "generation", json_string("7"));
	run(d, &r);
	expect_reject(&r, "generation: expected an integer, got string");
}

static void test_reject_gateway(void **state)
{
	static const struct {
		const char *path;
		const char *val;
		const char *msg;
	} c[] = {
		{ "gateway.listen_port", "0", "listen_port: 0 is out of range 1..65535" },
		{ "gateway.listen_port", "65536", "out of range 1..65535" },
		{ "gateway.mtu", "1279", "mtu: 1279 is out of range 1280..9000" },
		{ "gateway.mtu", "9001", "out of range 1280..9000" },
		{ "gateway.mtu", "\"1420\"", "gateway.mtu: expected an integer" },
		{ "gateway.roles", "[\"exit_gateway\", \"router\"]",
		  "\"router\" is not a known role" },
		{ "gateway.overlay_prefixes", "[\"::/0\"]", "would cover everything" },
		{ "gateway.overlay_prefixes", "[\"fd7a:6e61:6e61::1/48\"]", "host bits set" },
		{ "gateway.overlay_prefixes", "[]", "overlay_prefixes is empty" },
		{ "gateway.overlay_ipv6", "\"fd00::1\"",
		  "overlay_ipv6 fd00::1 is outside gateway.overlay_prefixes" },
		{ "system_defaults", "{\"traffic_mode\": \"all\"}",
		  "traffic_mode \"all\" is neither" },
		{ "tenants", "{}", "tenants: expected an array" },
		{ "nodes", "null", "nodes: missing" },
	};
	struct res r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(*c); i++) {
		json_t *d = doc();

		jset(d, c[i].path, jparse(c[i].val));
		run(d, &r);
		expect_reject(&r, c[i].msg);
	}
}

/* gateway.public_key and key_generation: read for the identity check (which
 * judges them), never a reason to reject the policy here. */
static void test_gateway_key(void **state)
{
	static const char key[] = "\"yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\"";
	static const uint8_t key0 = 0xc8; /* first byte of that key */
	static const struct {
		const char *key, *gen;
		bool unreadable, has_key, has_gen;
	} c[] = {
		{ NULL, NULL, false, false, false },
		{ "null", "null", false, false, false },
		{ key, "3", false, true, true },
		{ key, NULL, false, true, false },
		{ "\"not base64\"", "3", true, false, false },
		{ "\"c2hvcnQ=\"", NULL, true, false, false }, /* 5 bytes */
		{ "42", NULL, true, false, false },
		{ key, "-1", true, false, false },
		{ key, "\"3\"", true, false, false },
	};
	struct res r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(*c); i++) {
		json_t *d = doc();

		if (c[i].key)
			jset(d, "gateway.public_key", jparse(c[i].key));
		if (c[i].gen)
			jset(d, "gateway.key_generation", jparse(c[i].gen));
		run(d, &r);
		assert_int_equal(r.err, 0);
		if (r.p->gw.key.unreadable != c[i].unreadable ||
		    r.p->gw.key.has_key != c[i].has_key || r.p->gw.key.has_gen != c[i].has_gen)
			fail_msg("case %zu: unreadable %d has_key %d has_gen %d", i,
				 r.p->gw.key.unreadable, r.p->gw.key.has_key, r.p->gw.key.has_gen);
		if (c[i].has_key)
			assert_int_equal(r.p->gw.key.public_key[0], key0);
		if (c[i].has_gen)
			assert_int_equal(r.p->gw.key.gen, 3);
		done(&r);
	}
}

/* The key index names the device or node holding each key, nothing else. */
static void test_key_index(void **state)
{
	struct nn_key_index *ix;
	struct res r;
	uint8_t k[32];
	size_t i;

	(void)state;
	run(doc(), &r);
	assert_int_equal(r.err, 0);
	assert_true(r.p->n_devices > 1 && r.p->n_nodes > 0);
	ix = nn_key_index_new(r.p);
	assert_non_null(ix);
	for (i = 0; i < r.p->n_devices; i++)
		assert_string_equal(nn_key_index_id(ix, r.p->devices[i].pubkey),
				    r.p->devices[i].id);
	for (i = 0; i < r.p->n_nodes; i++)
		assert_string_equal(nn_key_index_id(ix, r.p->nodes[i].pubkey), r.p->nodes[i].id);
	memcpy(k, r.p->devices[0].pubkey, sizeof(k));
	k[31] ^= 1;
	assert_null(nn_key_index_id(ix, k));
	memset(k, 0, sizeof(k));
	assert_null(nn_key_index_id(ix, k));
	memset(k, 0xff, sizeof(k));
	assert_null(nn_key_index_id(ix, k));
	assert_null(nn_key_index_id(NULL, k));
	nn_key_index_free(ix);
	done(&r);
}

static void test_reject_limits(void **state)
{
	struct nn_limits l;
	struct res r;

	(void)state;
	nn_limits_default(&l);
	l.max_devices = 3;
	run_lim(doc(), "gw-fra-1", &l, &r);
	expect_reject(&r, "4 devices exceed the capacity of 3; raise --max-devices");
	nn_limits_default(&l);
	l.max_rules = 4;
	run_lim(doc(), "gw-fra-1", &l, &r);
	expect_reject(&r, "5 ACL rules exceed the capacity of 4; raise --max-rules");
	nn_limits_default(&l);
	l.max_prefixes = 7; /* 2 overlay + 4 resource + 2 ACL = 8 */
	run_lim(doc(), "gw-fra-1", &l, &r);
	expect_reject(&r, "raise --max-prefixes");
	nn_limits_default(&l);
	l.max_nodes = 0;
	run_lim(doc(), "gw-fra-1", &l, &r);
	expect_reject(&r, "1 nodes exceed the capacity of 0; raise --max-nodes");
	nn_limits_default(&l);
	l.max_devices = 4;
	l.max_rules = 5;
	l.max_prefixes = 8;
	l.max_nodes = 1;
	run_lim(doc(), "gw-fra-1", &l, &r);
	assert_int_equal(r.err, 0);
	done(&r);
}

/* ---- devices, nodes, addresses, keys ---- */

/* Apply one change, expect success with @gone dropped and @n_devices left,
 * and a message containing @m1 and @m2. */
static void expect_dev_drop(const char *path, const char *val, const char *gone, size_t n_devices,
			    const char *m1, const char *m2)
{
	json_t *d = doc();
	struct res r;

	jset(d, path, val ? jparse(val) : NULL);
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(dev(r.p, gone), -1);
	assert_int_equal(r.p->n_devices, n_devices);
	if (!has_msg(&r, m1, m2, NULL))
		fail_msg("no message with \"%s\" and \"%s\"", m1, m2);
	done(&r);
}

static void test_device_address_outside_overlay(void **state)
{
	(void)state;
	expect_dev_drop(
		DEV(0) ".overlay_ipv4", "\"100.200.0.1\"", "alice-laptop", 3,
		"tenant=acme network=acme-prod device=alice-laptop: overlay_ipv4 100.200.0.1 is outside gateway.overlay_prefixes",
		"device dropped");
	expect_dev_drop(DEV(1) ".overlay_ipv6", "\"2001:db8::1\"", "bob-phone", 3,
			"device=bob-phone: overlay_ipv6 2001:db8::1 is outside", "");
}

static void test_device_address_not_single(void **state)
{
	(void)state;
	expect_dev_drop(DEV(0) ".overlay_ipv6", "\"fd7a:6e61:6e61:10::/64\"", "alice-laptop", 3,
			"device=alice-laptop: overlay_ipv6",
			"must be a single address, not a prefix");
	expect_dev_drop(DEV(0) ".overlay_ipv6", "\"100.96.16.9\"", "alice-laptop", 3,
			"device=alice-laptop: overlay_ipv6", "is not an IPv6 address");
	expect_dev_drop(DEV(0) ".overlay_ipv4", "\"fd7a:6e61:6e61:10::9\"", "alice-laptop", 3,
			"device=alice-laptop: overlay_ipv4", "is not an IPv4 address");
	expect_dev_drop(DEV(0) ".overlay_ipv6", "\"::ffff:100.96.16.9\"", "alice-laptop", 3,
			"device=alice-laptop: overlay_ipv6", "is not an IPv6 address");
	expect_dev_drop(
		DEV(0) ".overlay_ipv6", NULL, "alice-laptop", 3,
		"device=alice-laptop: tenants[0].networks[0].devices[0].overlay_ipv6: missing", "");
}

static void test_device_strict_types(void **state)
{
	(void)state;
	expect_dev_drop(
		DEV(1) ".overlay_ipv6", "42", "bob-phone", 3,
		"tenant=acme network=acme-prod device=bob-phone: tenants[0].networks[0].devices[1].overlay_ipv6: expected a string, got integer",
		"");
	expect_dev_drop(DEV(1) ".persistent_keepalive", "\"25\"", "bob-phone", 3,
			"devices[1].persistent_keepalive: expected an integer, got string", "");
	expect_dev_drop(DEV(1) ".persistent_keepalive", "70000", "bob-phone", 3,
			"persistent_keepalive: 70000 is out of range", "");
	expect_dev_drop(DEV(1) ".key_generation", "1.5", "bob-phone", 3,
			"key_generation: expected an integer, got real", "");
	expect_dev_drop(DEV(1) ".endpoint", "\"example.com:51820\"", "bob-phone", 3,
			"device=bob-phone: endpoint", "is not");
	expect_dev_drop(DEV(1) ".endpoint", "\"[2001:db8::1]:0\"", "bob-phone", 3,
			"device=bob-phone: endpoint", "is not");
	expect_dev_drop(DEV(1) ".routing_preference", "{\"routing_mode\": \"fast\"}", "bob-phone",
			3, "routing_preference.routing_mode \"fast\" is neither", "");
	expect_dev_drop(DEV(1) ".user_id", "\"zed\"", "bob-phone", 3,
			"device=bob-phone: user_id zed is not a user of this network", "");
	/* a valid endpoint is kept as given */
	{
		json_t *d = doc();
		struct res r;

		jset(d, DEV(1) ".endpoint", json_string("[2001:db8::7]:51820"));
		run(d, &r);
		assert_int_equal(r.err, 0);
		assert_string_equal(r.p->devices[dev(r.p, "bob-phone")].endpoint,
				    "[2001:db8::7]:51820");
		done(&r);
	}
	/* the longest text a valid endpoint can have fits the device's room
	 * (NN_ENDPOINT_MAX) whole */
	{
		static const char longest[] =
			"[0000:0000:0000:0000:0000:ffff:255.255.255.255]:65535";
		json_t *d = doc();
		struct res r;

		jset(d, DEV(1) ".endpoint", json_string(longest));
		run(d, &r);
		assert_int_equal(r.err, 0);
		assert_string_equal(r.p->devices[dev(r.p, "bob-phone")].endpoint, longest);
		done(&r);
	}
}

static void test_device_state(void **state)
{
	(void)state;
	expect_dev_drop(DEV(0) ".state", "\"paused\"", "alice-laptop", 3,
			"device=alice-laptop: state \"paused\" is neither", "");
	/* a missing state must never mean "active" */
	expect_dev_drop(DEV(0) ".state", NULL, "alice-laptop", 3,
			"device=alice-laptop: tenants[0].networks[0].devices[0].state: missing",
			"");
}

static void test_device_bad_key(void **state)
{
	static const char *bad[] = {
		"\"jwx5oERvgWFmXLoUhBqhOyGp7v4PHr3xrzovm7NhZ0Q\"",    /* no padding */
		"\"jwx5oERvgWFmXLoUhBqhOyGp7v4PHr3xrzovm7NhZ0R=\"",   /* stray bits */
		"\"jwx5oERvgWFmXLoUhBqhOyGp7v4PHr3xrzovm7NhZ0-=\"",   /* alphabet */
		"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"",   /* zero key */
		"\"jwx5oERvgWFmXLoUhBqhOyGp7v4PHr3xrzovm7NhZ0Q=AA\"", /* too long */
		"\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\"",   /* 31 bytes */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		expect_dev_drop(DEV(0) ".public_key", bad[i], "alice-laptop", 3,
				"device=alice-laptop: public_key",
				"is not a valid 32-byte base64 key");
}

static void test_device_bad_id(void **state)
{
	(void)state;
	expect_dev_drop(
		DEV(1) ".device_id", "\"bob phone\"", "bob phone", 3,
		"tenants[0].networks[0].devices[1].device_id: \"bob phone\" is not a valid id",
		"device dropped");
	expect_dev_drop(DEV(1) ".device_id",
			"\"a123456789012345678901234567890123456789012345678901234567890123\"",
			"bob-phone", 3, "device=?", "is not a valid id");
	expect_dev_drop(DEV(1) ".device_id", "\"\"", "bob-phone", 3,
			"devices[1].device_id: \"\" is not a valid id", "");
	expect_dev_drop(DEV(1) ".device_id", "\"bob\\\"x\"", "bob-phone", 3, "is not a valid id",
			"");
}

static void test_device_duplicate_id(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	/* the same id in another tenant: ids are global */
	jset(d, GLOBEX ".devices.0.device_id", json_string("alice-laptop"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(dev(r.p, "alice-laptop"), -1);
	assert_int_equal(r.p->n_devices, 2);
	assert_true(has_msg(
		&r,
		"tenant=globex network=globex-main device=alice-laptop: device_id appears 2 times",
		NULL));
	assert_true(has_msg(
		&r, "tenant=acme network=acme-prod device=alice-laptop: device_id appears 2 times",
		NULL));
	/* the rules naming it... ping-peers is an allow rule: dropped */
	assert_int_equal(rule(r.p, "ping-peers"), -1);
	assert_true(has_msg(
		&r, "rule=ping-peers: dst.devices names alice-laptop, which was dropped", NULL));
	done(&r);
}

/* Copies of one id far apart among many devices: the duplicate search
 * hashes keys ahead of their insert (nn_find_dups), and a key put with
 * another key's hash was missed only where copies were more than a few
 * keys apart, which no small document has. */
/* A copy of the network's second device appended to @devs as @id, its
 * address and key the @a-th and @k-th of a series. */
static void add_device(json_t *devs, const char *id, unsigned int a, unsigned int k)
{
	json_t *v = json_deep_copy(json_array_get(devs, 1));
	char a6[64], key[NN_KEY_B64_SIZE];
	uint8_t kb[NN_KEY_LEN];
	unsigned int j;

	snprintf(a6, sizeof(a6), "fd7a:6e61:6e61:10::1:%x", a);
	for (j = 0; j < NN_KEY_LEN; j++)
		kb[j] = (uint8_t)(k * 7 + j + 1);
	nn_key_to_base64(kb, key);
	json_object_set_new(v, "device_id", json_string(id));
	json_object_set_new(v, "overlay_ipv6", json_string(a6));
	json_object_set_new(v, "public_key", json_string(key));
	json_array_append_new(devs, v);
}

static void test_device_duplicate_id_many(void **state)
{
	static const struct {
		unsigned int at;
		const char *id;
	} twins[] = {
		{ 3, "twin" }, { 37, "twin" }, { 10, "trip" }, { 20, "trip" }, { 30, "trip" }
	};
	json_t *d = doc(), *devs = jat(d, NET0 ".devices");
	unsigned int i, j;
	char id[32];
	struct res r;

	(void)state;
	for (i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "many-%u", i);
		for (j = 0; j < sizeof(twins) / sizeof(*twins); j++)
			if (twins[j].at == i)
				snprintf(id, sizeof(id), "%s", twins[j].id);
		add_device(devs, id, i, i);
	}
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_devices, 4 + 40 - 5); /* the example has 4 */
	assert_int_equal(dev(r.p, "twin"), -1);
	assert_int_equal(dev(r.p, "trip"), -1);
	assert_int_not_equal(dev(r.p, "many-4"), -1);
	assert_true(has_msg(&r, "device=twin: device_id appears 2 times", NULL));
	assert_true(has_msg(&r, "device=trip: device_id appears 3 times", NULL));
	done(&r);
}

/* The index of the first message containing @what; -1: none. */
static int msg_at(const struct res *r, const char *what)
{
	size_t i;

	for (i = 0; i < r->e.n; i++)
		if (strstr(r->e.msgs[i], what))
			return (int)i;
	return -1;
}

/* Shared addresses and keys among many devices (validate_cross.c sorts
 * only the holders of a shared value): pairs, a triple, a key pair, and a
 * holder dropped for its address whose key's other holder then stays;
 * every holder told, groups in address order. */
static void test_duplicate_address_many(void **state)
{
	static const unsigned int addr_of[40] = { [33] = 5, [22] = 12, [32] = 12, [16] = 15 };
	static const unsigned int key_of[40] = { [8] = 7, [17] = 16 };
	static const unsigned int gone[] = { 5, 33, 12, 22, 32, 7, 8, 15, 16 };
	json_t *d = doc(), *devs = jat(d, NET0 ".devices");
	unsigned int i;
	char id[32];
	struct res r;

	(void)state;
	for (i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "many-%u", i);
		add_device(devs, id, addr_of[i] ? addr_of[i] : i, key_of[i] ? key_of[i] : i);
	}
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_devices, 4 + 40 - 9); /* the example has 4 */
	for (i = 0; i < sizeof(gone) / sizeof(*gone); i++) {
		snprintf(id, sizeof(id), "many-%u", gone[i]);
		if (dev(r.p, id) != -1)
			fail_msg("%s kept", id);
		snprintf(id, sizeof(id), "device=many-%u:", gone[i]);
		if (!has_msg(&r, id, NULL))
			fail_msg("%s not told", id);
	}
	assert_int_not_equal(dev(r.p, "many-17"), -1); /* its key's twin went for its address */
	assert_true(has_msg(&r,
			    "device=many-12: overlay_ipv6 fd7a:6e61:6e61:10::1:c is also used by",
			    "many-22", NULL));
	assert_true(has_msg(&r, "device=many-8: public_key is also held by", "many-7", NULL));
	/* groups in address order, every address before any key */
	assert_true(msg_at(&r, "device=many-5:") >= 0);
	assert_true(msg_at(&r, "device=many-5:") < msg_at(&r, "device=many-12:"));
	assert_true(msg_at(&r, "device=many-12:") < msg_at(&r, "device=many-15:"));
	assert_true(msg_at(&r, "device=many-16:") < msg_at(&r, "device=many-7:"));
	done(&r);
}

static void test_duplicate_address(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	/* two devices of different tenants: both go */
	jset(d, GLOBEX ".devices.0.overlay_ipv4", json_string("100.96.16.2"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(dev(r.p, "alice-laptop"), -1);
	assert_int_equal(dev(r.p, "carol-desktop"), -1);
	assert_int_equal(r.p->n_devices, 2);
	assert_true(has_msg(
		&r,
		"device=carol-desktop: overlay_ipv4 100.96.16.2 is also used by tenant=acme network=acme-prod device=alice-laptop",
		NULL));
	assert_true(has_msg(&r, "device=alice-laptop: overlay_ipv4 100.96.16.2 is also used by",
			    "carol-desktop", NULL));
	done(&r);

	/* a device and a node: both go */
	d = doc();
	jset(d, DEV(1) ".overlay_ipv6", json_string("fd7a:6e61:6e61::2"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(dev(r.p, "bob-phone"), -1);
	assert_int_equal(r.p->n_nodes, 0);
	assert_true(has_msg(&r, "node=gw-ams-1: overlay_ipv6 fd7a:6e61:6e61::2 is also used by",
			    "bob-phone", NULL));
	done(&r);

	/* this gateway's own address: the device goes, the gateway stays */
	d = doc();
	jset(d, DEV(1) ".overlay_ipv6", json_string("fd7a:6e61:6e61::1"));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(dev(r.p, "bob-phone"), -1);
	assert_int_equal(r.p->n_devices, 3);
	assert_true(has_msg(
		&r,
		"device=bob-phone: overlay_ipv6 fd7a:6e61:6e61::1 is also used by this gateway (gw-fra-1)",
		NULL));
	done(&r);
}

static void test_duplicate_key(void **state)
{
	json_t *d = doc();
	struct res r;

	(void)state;
	jset(d, DEV(1) ".public_key", json_string("65jPZjmK+lpqIAaX1n0FJEDBvSlkNnO4bsacj1Z50AU="));
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(dev(r.p, "bob-phone"), -1);
	assert_int_equal(r.p->n_nodes, 0);
	assert_true(
		has_msg(&r, "device=bob-phone: public_key is also held by node=gw-ams-1", NULL));
	assert_true(has_msg(&r, "node=gw-ams-1: public_key is also held by", "bob-phone", NULL));
	done(&r);
}

static void test_node_rules(void **state)
{
	static const struct {
		const char *path;
		const char *val;
		const char *msg;
	} c[] = {
		{ "nodes.0.node_id", "\"gw-fra-1\"",
		  "node=gw-fra-1: node_id is this gateway's own node_id; node dropped" },
		{ "nodes.0.roles", "[\"exit\"]",
		  "node=gw-ams-1: roles[0] \"exit\" is not a known role" },
		{ "nodes.0.state", "\"gone\"", "node=gw-ams-1: state \"gone\"" },
		{ "nodes.0.overlay_ipv6", "\"fd7a:6e62::2\"",
		  "node=gw-ams-1: overlay_ipv6 fd7a:6e62::2 is outside" },
		{ "nodes.0.endpoint", "\"2001:db8:2::1:51820\"", "node=gw-ams-1: endpoint" },
		{ "nodes.0.public_key", "\"abc\"",
		  "node=gw-ams-1: public_key \"abc\" is not a valid" },
		{ "nodes.0", "\"gw-ams-1\"", "nodes[0] is not an object" },
	};
	struct res r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(*c); i++) {
		json_t *d = doc();

		jset(d, c[i].path, jparse(c[i].val));
		run(d, &r);
		assert_int_equal(r.err, 0);
		assert_int_equal(r.p->n_nodes, 0);
		assert_int_equal(r.p->n_devices, 4);
		if (!has_msg(&r, c[i].msg, NULL))
			fail_msg("case %zu: no \"%s\"", i, c[i].msg);
		done(&r);
	}
}

static void test_node_duplicate_id(void **state)
{
	json_t *d = doc(), *n = json_deep_copy(jat(example, "nodes.0"));
	struct res r;

	(void)state;
	json_object_set_new(n, "public_key", json_string(KEY_A));
	json_object_set_new(n, "overlay_ipv6", json_string("fd7a:6e61:6e61::3"));
	jappend(d, "nodes", n);
	run(d, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.p->n_nodes, 0);
	assert_true(has_msg(&r, "node=gw-ams-1: node_id appears 2 times", NULL));
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_structure),
		cmocka_unit_test(test_node_id_null_accepted),
		cmocka_unit_test(test_addr_helpers),
		cmocka_unit_test(test_limits_default),
		cmocka_unit_test(test_reject_duplicate_keys),
		cmocka_unit_test(test_reject_oversized_body),
		cmocka_unit_test(test_reject_deep_nesting),
		cmocka_unit_test(test_reject_truncated),
		cmocka_unit_test(test_reject_api_version),
		cmocka_unit_test(test_reject_node_id),
		cmocka_unit_test(test_reject_generation),
		cmocka_unit_test(test_reject_gateway),
		cmocka_unit_test(test_gateway_key),
		cmocka_unit_test(test_key_index),
		cmocka_unit_test(test_reject_limits),
		cmocka_unit_test(test_device_address_outside_overlay),
		cmocka_unit_test(test_device_address_not_single),
		cmocka_unit_test(test_device_strict_types),
		cmocka_unit_test(test_device_state),
		cmocka_unit_test(test_device_bad_key),
		cmocka_unit_test(test_device_bad_id),
		cmocka_unit_test(test_device_duplicate_id),
		cmocka_unit_test(test_device_duplicate_id_many),
		cmocka_unit_test(test_duplicate_address),
		cmocka_unit_test(test_duplicate_address_many),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_node_rules),
		cmocka_unit_test(test_node_duplicate_id),
	};

	return cmocka_run_group_tests_name("policy", tests, setup, teardown);
}
