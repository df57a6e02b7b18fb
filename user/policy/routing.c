// SPDX-License-Identifier: GPL-2.0
/*
 * routing.c - effective routing of every device (verdicts.md, "Effective
 * routing of a device"): each field from the highest layer that sets it,
 * device preference, user preference, network policy, system defaults.
 *
 * A manual ingress/egress selection must be one of the gateways of the
 * device's own network and hold the matching role. A selection that fails
 * gives the device no egress at all (fail closed) and a message naming it;
 * the device itself stays, since its VPN traffic is not at fault.
 */
#include <stdio.h>
#include <string.h>

#include "policy/json_int.h"

static bool in_gateways(const struct nn_network *n, const char *id)
{
	size_t i;

	for (i = 0; i < n->n_gateways; i++)
		if (!strcmp(n->gateways[i], id))
			return true;
	return false;
}

/* NULL when @id may serve @n in @role, else why not. */
static const char *check_gateway(const struct nn_policy *p, const struct nn_network *n,
				 const char *id, uint32_t role)
{
	size_t i;

	if (!in_gateways(n, id))
		return "is not one of the network's gateways";
	if (!strcmp(id, p->node_id))
		return (p->gw.roles & role) ? NULL : "lacks the role";
	for (i = 0; i < p->n_nodes; i++) {
		if (strcmp(p->nodes[i].id, id))
			continue;
		/* A revoked node carries no traffic; choosing it is no
		 * choice. */
		if (p->nodes[i].state != NN_ST_ACTIVE)
			return "is a disabled node";
		return (p->nodes[i].roles & role) ? NULL : "lacks the role";
	}
	return "is not a known node";
}

static void resolve_device(struct nn_policy *p, struct nn_device *d, struct nn_errlist *errs)
{
	const struct nn_network *n = &p->networks[d->network];
	static const struct nn_routing_layer none;
	const struct nn_routing_layer *l[4] = {
		d->pref ? d->pref : &none,
		&p->users[d->user].pref,
		&n->policy,
		&p->defaults,
	};
	const char *ingress = "", *egress = "", *why;
	bool exit_here = p->gw.roles & NN_ROLE_EXIT;
	int i, egress_layer = 0;

	d->traffic_mode = NN_TM_UNSET;
	d->routing_mode = NN_RM_UNSET;
	for (i = 3; i >= 0; i--) {
		if (l[i]->traffic_mode)
			d->traffic_mode = l[i]->traffic_mode;
		if (l[i]->routing_mode)
			d->routing_mode = l[i]->routing_mode;
		if (l[i]->ingress[0])
			ingress = l[i]->ingress;
		if (l[i]->egress[0]) {
			egress = l[i]->egress;
			egress_layer = i;
		}
	}
	/* Nothing set anywhere: the narrowest behaviour. */
	if (!d->traffic_mode)
		d->traffic_mode = NN_TM_VPN_ONLY;
	if (!d->routing_mode)
		d->routing_mode = NN_RM_AUTO;

	d->egress_from = NN_EGRESS_NONE;
	if (d->routing_mode == NN_RM_AUTO) {
		if (n->served_here && exit_here)
			d->egress_from = NN_EGRESS_HERE;
	} else {
		if (!egress[0] && d->traffic_mode == NN_TM_FULL_TUNNEL)
			nn_errlist_add(
				errs,
				"tenant=%s network=%s device=%s: routing_mode manual but no egress_device is set at any layer; no internet egress",
				p->tenants[n->tenant].id, n->id, d->id);
		why = egress[0] ? check_gateway(p, n, egress, NN_ROLE_EXIT) : NULL;
		if (why)
			nn_errlist_add(
				errs,
				"tenant=%s network=%s device=%s: egress_device %s %s%s; no internet egress (fail closed)",
				p->tenants[n->tenant].id, n->id, d->id, egress, why,
				strcmp(why, "lacks the role") ? "" : " exit_gateway");
		else if (egress[0]) /* l[] is in enum nn_egress_from's order */
			d->egress_from = (uint8_t)(NN_EGRESS_DEVICE + egress_layer);
		/* Ingress has no dataplane effect yet; report only. */
		why = ingress[0] ? check_gateway(p, n, ingress, NN_ROLE_INGRESS) : NULL;
		if (why)
			nn_errlist_add(errs,
				       "tenant=%s network=%s device=%s: ingress_device %s %s%s",
				       p->tenants[n->tenant].id, n->id, d->id, ingress, why,
				       strcmp(why, "lacks the role") ? "" : " ingress_gateway");
	}
	d->egress_here = d->traffic_mode == NN_TM_FULL_TUNNEL && exit_here &&
			 !strcmp(nn_device_egress(p, d), p->node_id);
}

const char *nn_device_egress(const struct nn_policy *p, const struct nn_device *d)
{
	switch (d->egress_from) {
	case NN_EGRESS_HERE:
		return p->node_id;
	case NN_EGRESS_DEVICE: /* set only from a layer naming one */
		return d->pref ? d->pref->egress : "";
	case NN_EGRESS_USER:
		return p->users[d->user].pref.egress;
	case NN_EGRESS_NETWORK:
		return p->networks[d->network].policy.egress;
	case NN_EGRESS_DEFAULTS:
		return p->defaults.egress;
	default:
		return "";
	}
}

void nn_resolve_routing(struct nn_policy *p, struct nn_errlist *errs)
{
	size_t i;

	for (i = 0; i < p->n_networks; i++)
		p->networks[i].served_here = in_gateways(&p->networks[i], p->node_id);
	for (i = 0; i < p->n_devices; i++)
		resolve_device(p, &p->devices[i], errs);
}

void nn_resolve_device_routing(struct nn_policy *p, struct nn_device *d, struct nn_errlist *errs)
{
	resolve_device(p, d, errs);
}
