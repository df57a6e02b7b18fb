// SPDX-License-Identifier: GPL-2.0
/*
 * incpol.c - the policies test_inc_random runs its delta sequences over:
 * the example, a synthetic ~1000-device one whose rules name users,
 * groups, prefixes and devices by id, and the example with a twin rule_id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "incpol.h"
#include "lib/base64.h"
#include "model_fixture.h"

json_t *incpol_example(void)
{
	json_error_t je;
	json_t *d = json_loads(mf_json, 0, &je);

	assert_non_null(d);
	return d;
}

static json_t *dev_ids(size_t t, size_t every, int m)
{
	json_t *a = json_array();
	char id[64];
	size_t k;

	for (k = 0; k < 250; k += every) {
		snprintf(id, sizeof(id), "d%zu-%zu-%d", t, k, m);
		json_array_append_new(a, json_string(id));
	}
	return a;
}

/* Rules of tenant @t's network @n naming devices by id: in src (alone, and
 * with a group that reaches one of them too), in dst, a deny rule in both
 * (deleting one of its devices rejects the snapshot), and one naming a
 * device of the other tenant's network (dropped: "not in this network"). */
static void named_rules(json_t *n, size_t t)
{
	json_t *acl = json_object_get(n, "acl");
	char a[64], b[64], c[64];

	json_array_append_new(acl, json_pack("{s:s, s:s, s:{s:o}, s:s, s:s, s:[s]}", "rule_id",
					     "dev-src", "action", "allow", "src", "devices",
					     dev_ids(t, 11, 0), "dst", "*", "proto", "tcp", "ports",
					     "80"));
	json_array_append_new(acl, json_pack("{s:s, s:s, s:{s:[s]}, s:{s:o}, s:s, s:[s]}",
					     "rule_id", "dev-dst", "action", "allow", "src",
					     "groups", "g-a", "dst", "devices", dev_ids(t, 13, 1),
					     "proto", "udp", "ports", "53"));
	snprintf(a, sizeof(a), "d%zu-3-1", t);
	json_array_append_new(acl,
			      json_pack("{s:s, s:s, s:{s:[s], s:[s]}, s:s, s:s, s:[s]}", "rule_id",
					"dev-grp", "action", "allow", "src", "devices", a, "groups",
					"g-b", "dst", "*", "proto", "tcp", "ports", "8443"));
	snprintf(a, sizeof(a), "d%zu-3-0", t);
	snprintf(b, sizeof(b), "d%zu-4-1", t);
	snprintf(c, sizeof(c), "d%zu-6-0", t);
	json_array_append_new(acl,
			      json_pack("{s:s, s:s, s:{s:[s]}, s:{s:[s,s]}, s:s, s:[s]}", "rule_id",
					"dev-deny", "action", "deny", "src", "devices", a, "dst",
					"devices", b, c, "proto", "tcp", "ports", "23"));
	snprintf(a, sizeof(a), "d%zu-2-0", 1 - t);
	json_array_append_new(acl, json_pack("{s:s, s:s, s:s, s:{s:[s]}, s:s, s:[s]}", "rule_id",
					     "dev-other", "action", "allow", "src", "*", "dst",
					     "devices", a, "proto", "tcp", "ports", "8080"));
}

/* The example with ~1000 more devices: per network, users in its groups
 * and in new ones, two devices each in two /64s, and rules naming users,
 * groups and an overlay prefix, so devices spread over several classes. */
json_t *incpol_synthetic(void)
{
	json_t *d = incpol_example(), *t, *n;
	size_t i, j, k;
	char s[96], a[64];
	uint32_t key = 0;

	json_array_foreach(json_object_get(d, "tenants"), i, t)
	{
		json_array_foreach(json_object_get(t, "networks"), j, n)
		{
			json_t *users = json_object_get(n, "users");
			json_t *devs = json_object_get(n, "devices");
			json_t *g0 = json_array_get(
				json_object_get(json_array_get(users, 0), "groups"), 0);
			json_t *named = json_array();
			uint32_t sub = i ? 0x20 : 0x10;

			for (k = 0; k < 250; k++) {
				uint8_t kb[NN_KEY_LEN] = { 0x5e, (uint8_t)i, (uint8_t)j };
				char b64[NN_KEY_B64_SIZE];

				snprintf(s, sizeof(s), "u%zu-%zu", i, k);
				json_array_append_new(users,
						      json_pack("{s:s, s:[O,s], s:n}", "user_id", s,
								"groups", g0, k % 3 ? "g-a" : "g-b",
								"routing_preference"));
				if (k % 7 == 0)
					json_array_append_new(named, json_string(s));
				for (int m = 0; m < 2; m++) {
					char id[64];

					key++;
					memcpy(kb + 4, &key, sizeof(key));
					nn_key_to_base64(kb, b64);
					snprintf(id, sizeof(id), "d%zu-%zu-%d", i, k, m);
					snprintf(a, sizeof(a), "fd7a:6e61:6e61:%x::%zx:%d",
						 sub + (unsigned int)m, 0x100 + k, m);
					json_array_append_new(
						devs,
						json_pack("{s:s, s:s, s:s, s:s, s:n, s:s, s:i}",
							  "device_id", id, "user_id", s,
							  "public_key", b64, "overlay_ipv6", a,
							  "endpoint", "state",
							  k % 50 ? "active" : "disabled",
							  "key_generation", 1));
				}
			}
			snprintf(s, sizeof(s), "fd7a:6e61:6e61:%x::/64", sub);
			json_array_append_new(
				json_object_get(n, "acl"),
				json_pack("{s:s, s:s, s:{s:o}, s:{s:[s]}, s:s, s:[s]}", "rule_id",
					  "users-ssh", "action", "allow", "src", "users", named,
					  "dst", "prefixes", s, "proto", "tcp", "ports", "22"));
			json_array_append_new(json_object_get(n, "acl"),
					      json_pack("{s:s, s:s, s:{s:[s]}, s:s, s:s}",
							"rule_id", "gb-any", "action", "allow",
							"src", "groups", "g-b", "dst", "*", "proto",
							"udp"));
			named_rules(n, i);
		}
	}
	return d;
}

/* The example with a dropped allow rule (it names a device that is not
 * there) sharing its rule_id with a standing one: the document's rules
 * cannot be told apart by id, so the kept indexes must not attach the
 * dropped one's names (bob-phone in src) to the standing eng-db. */
json_t *incpol_twin_rule(void)
{
	json_t *d = incpol_example();
	json_t *n = json_array_get(
		json_object_get(json_array_get(json_object_get(d, "tenants"), 0), "networks"), 0);

	json_array_append_new(json_object_get(n, "acl"),
			      json_pack("{s:s, s:s, s:{s:[s]}, s:{s:[s]}, s:s, s:[s]}", "rule_id",
					"eng-db", "action", "allow", "src", "devices", "bob-phone",
					"dst", "devices", "ghost", "proto", "tcp", "ports", "1"));
	return d;
}
