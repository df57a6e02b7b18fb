// SPDX-License-Identifier: GPL-2.0
/*
 * policy.c - owning and looking into a struct nn_policy: what everyone who
 * holds a policy needs (freeing, the linear lookups), apart from the parser
 * that builds one, so that holding a policy never depends on parsing one.
 */
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "policy/policy.h"

void nn_rule_release(struct nn_rule *r)
{
	if (r->src_grp_devices != r->src_devices)
		free(r->src_grp_devices);
	free(r->src_devices);
	free(r->dst_devices);
	free(r->dst_resources);
	free(r->dst_prefixes);
	free(r->ports);
	r->src_devices = NULL;
	r->src_grp_devices = NULL;
	r->dst_devices = NULL;
	r->dst_resources = NULL;
	r->dst_prefixes = NULL;
	r->ports = NULL;
}

void nn_policy_free(struct nn_policy *p)
{
	size_t i;

	if (!p)
		return;
	free(p->gw.overlay_prefixes);
	for (i = 0; p->networks && i < p->n_networks; i++)
		free(p->networks[i].gateways);
	for (i = 0; p->users && i < p->n_users; i++)
		free(p->users[i].groups);
	for (i = 0; p->devices && i < p->n_devices; i++)
		free(p->devices[i].pref);
	for (i = 0; p->resources && i < p->n_resources; i++)
		free(p->resources[i].prefixes);
	for (i = 0; p->rules && i < p->n_rules; i++)
		nn_rule_release(&p->rules[i]);
	free(p->tenants);
	free(p->networks);
	free(p->users);
	free(p->devices);
	free(p->nodes);
	free(p->resources);
	free(p->rules);
	free(p->closed);
	free(p);
}

int nn_policy_find_network(const struct nn_policy *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->n_networks; i++)
		if (!strcmp(p->networks[i].id, id))
			return (int)i;
	return -ENOENT;
}
