// SPDX-License-Identifier: GPL-2.0
/*
 * rules.c - every ACL rule of the live generation with its hit count
 * (nn_rule_names joined with nn_rule_ctr, summed over CPUs). A hit is a
 * decision by that rule: a pass by an allow rule or an acl_deny drop.
 *
 * A rule's action and match are not in the pinned maps (the compiler folds
 * them into policy cells), so they are not shown here.
 */
#include <stdio.h>

#include "gwctl.h"

json_t *gw_json_rules(struct gw *g, const struct nn_catalog *c)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < c->n_rules; i++) {
		uint64_t hits = 0;

		nn_percpu_sum(g->fd[NN_M_RULE_HITS], c->rules[i].slot, 1, &hits);
		json_array_append_new(
			arr,
			json_pack("{s:i,s:s,s:s,s:s,s:I}", "slot", (int)c->rules[i].slot, "id",
				  c->rules[i].name.id, "tenant", c->rules[i].name.tenant, "network",
				  c->rules[i].name.network, "hits", (json_int_t)hits));
	}
	return arr;
}

static int rules_run(struct gw *g, void *state, int argc, char **argv)
{
	static const char *const head[] = { "RULE", "TENANT", "NETWORK", "HITS" };
	struct nn_catalog c;
	struct gw_table t;
	json_t *arr, *r;
	size_t i;
	int err;

	(void)state;
	(void)argv;
	if (argc)
		return gw_err(g, GW_USAGE, "rules takes no arguments");
	err = gw_pins_open(g) ?: gw_catalog_load(g, &c);
	if (err)
		return err;
	arr = gw_json_rules(g, &c);
	if (g->json) {
		gw_json_print(json_pack("{s:I,s:o}", "epoch", (json_int_t)c.epoch, "rules", arr));
		nn_catalog_free(&c);
		return GW_OK;
	}
	gw_table_init(&t, head, 4);
	json_array_foreach(arr, i, r)
	{
		char hits[24];

		snprintf(hits, sizeof(hits), "%lld",
			 (long long)json_integer_value(json_object_get(r, "hits")));
		gw_table_row(&t, (const char *[]){ json_string_value(json_object_get(r, "id")),
						   json_string_value(json_object_get(r, "tenant")),
						   json_string_value(json_object_get(r, "network")),
						   hits });
	}
	gw_table_print(&t);
	gw_table_free(&t);
	json_decref(arr);
	nn_catalog_free(&c);
	return GW_OK;
}

const struct gw_cmd gw_cmd_rules = {
	.name = "rules",
	.summary = "ACL rules of the live generation with their hit counts",
	.run = rules_run,
};
