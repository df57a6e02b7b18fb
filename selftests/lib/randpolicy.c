// SPDX-License-Identifier: GPL-2.0
/*
 * randpolicy.c - random valid snapshots; the address plan is in
 * randpolicy.h. Everything a snapshot may hold is drawn from small fixed
 * menus so that random choices collide often: the same port in an allow and
 * a deny rule, a dst prefix inside a resource inside another resource, a
 * group named by two rules, an egress at every routing layer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/strbuf.h"
#include "randpolicy.h"

#define MAX_NETS 6
#define MAX_USERS 3
#define MAX_DEVS 5
#define MAX_RES 3
#define MAX_RULES 7
#define N_NODES 3

struct net {
	int k; /* 1-based, global */
	int tenant;
	int n_users;
	unsigned int groups[MAX_USERS]; /* bit 0 eng, 1 ops, 2 sales */
	int n_devs;
	int n_res;
	const char *res_pfx[MAX_RES][3]; /* printf formats, %x/%d = k */
	int n_res_pfx[MAX_RES];
};

struct gen {
	struct nn_rng *r; /* the world's structure */
	struct nn_rng *m; /* this generation's changes to it, or NULL */
	struct nn_strbuf b;
	uint32_t key_ctr;
	struct net nets[MAX_NETS];
	int n_nets;
	/* Address space of network k: its devices' overlay addresses
	 * (dev_k[k]) and its resource prefixes (res_k[k]), permutations of
	 * 1..MAX_NETS so that a later generation can hand a network's
	 * addresses or prefixes to another network (of another tenant). */
	int dev_k[MAX_NETS + 1];
	int res_k[MAX_NETS + 1];
};

/* True with @pct percent when this generation changes the world. */
static bool mut(struct gen *g, uint32_t pct)
{
	return g->m && rng_pct(g->m, pct);
}

static void permute(struct gen *g, int *k)
{
	int i;

	for (i = 1; i <= MAX_NETS; i++)
		k[i] = i;
	if (!mut(g, 40))
		return;
	for (i = MAX_NETS; i > 1; i--) {
		int j = 1 + (int)rng_below(g->m, (uint32_t)i), t = k[i];

		k[i] = k[j];
		k[j] = t;
	}
}

static const char *const group_names[] = { "eng", "ops", "sales" };

/* Resource prefixes of network k; "%x" and "%d" both take k. */
static const char *const res_menu[] = {
	"fd00:%x::/32",	  "fd00:%x:1::/48",	"fd00:%x:1:2::/64",
	"fd00:%x:2::/48", "fd00:%x:1:2:3::/80", "10.%d.0.0/16",
	"10.%d.1.0/24",	  "10.%d.2.0/24",	"10.%d.1.128/25",
};

/* ACL dst prefixes; those with a conversion take the rule's network (or,
 * for the "other" ones, another network: "never reaches into it"). */
static const char *const acl_menu[] = {
	"::/0",
	"0.0.0.0/0",
	"::/0",
	"0.0.0.0/0",
	"fd00:%x::/32",
	"fd00:%x:1::/48",
	"fd00:%x:1:2::/64",
	"fd00:%x:1:2:8000::/65",
	"10.%d.1.0/24",
	"10.%d.1.7/32",
	"10.%d.0.0/16",
	"2001:db8::/32",
	"2001:db8:1::/48",
	"2001:db8:1::/64",
	"192.0.2.0/24",
	"198.51.100.0/24",
	"192.0.2.53/32",
	"fd7a:6e61:6e61::1/128",
	"100.96.0.1/32",
	"fd7a:6e61:6e61::/48",
	"100.96.0.0/12",
	"fd7a:6e61:6e61:%x0::/64",
	"::/1",
	"8.0.0.0/5",
	"2000::/3",
	"100.96.%d.0/24",
};

static const char *const port_menu[] = {
	"22",	  "25",		"53",	 "80", "443",	  "5432",    "8000-8080",
	"0-1023", "1024-65535", "65535", "0",  "443-443", "1-65535", "40000-40999",
};

static uint32_t pick(struct gen *g, uint32_t n)
{
	return rng_below(g->r, n);
}

static void b64key(struct gen *g)
{
	uint8_t k[NN_KEY_LEN];
	char out[NN_KEY_B64_SIZE];
	int i;

	/* Unique by construction: a counter in the first bytes. */
	g->key_ctr++;
	k[0] = (uint8_t)(g->key_ctr >> 8);
	k[1] = (uint8_t)g->key_ctr;
	for (i = 2; i < NN_KEY_LEN; i++)
		k[i] = (uint8_t)rng_next(g->r);
	nn_key_to_base64(k, out);
	nn_sbprintf(&g->b, "\"%s\"", out);
}

static const char *gw_id(int i)
{
	static const char *const ids[] = { RP_NODE_ID, "n1", "n2", "n3" };

	return ids[i];
}

/* One routing layer (network policy, user or device preference), or null. */
static void layer(struct gen *g, bool may_null)
{
	static const char *const tm[] = { NULL, "null", "\"vpn_only\"", "\"full_tunnel\"",
					  "\"full_tunnel\"" };
	static const char *const rm[] = { NULL, "null", "\"auto\"", "\"manual\"" };
	static const char *const gws[] = { "null", "\"gw-1\"", "\"gw-1\"", "\"n1\"", "\"n2\"" };
	const char *sep = "";
	const char *t = tm[pick(g, 5)], *m = rm[pick(g, 4)];

	if (may_null && rng_pct(g->r, 35)) {
		nn_sbprintf(&g->b, "null");
		return;
	}
	nn_sbprintf(&g->b, "{");
	if (t) {
		nn_sbprintf(&g->b, "\"traffic_mode\": %s", t);
		sep = ", ";
	}
	if (m) {
		nn_sbprintf(&g->b, "%s\"routing_mode\": %s", sep, m);
		sep = ", ";
	}
	if (rng_pct(g->r, 50)) {
		nn_sbprintf(&g->b, "%s\"ingress_device\": %s", sep, gws[pick(g, 5)]);
		sep = ", ";
	}
	if (rng_pct(g->r, 60))
		nn_sbprintf(&g->b, "%s\"egress_device\": %s", sep, gws[pick(g, 5)]);
	nn_sbprintf(&g->b, "}");
}

static void gen_nodes(struct gen *g)
{
	static const char *const roles[] = { "[\"exit_gateway\"]", "[\"ingress_gateway\"]",
					     "[\"ingress_gateway\", \"exit_gateway\"]", "[]" };
	int i;

	nn_sbprintf(&g->b, "\"nodes\": [");
	for (i = 0; i < N_NODES; i++) {
		nn_sbprintf(&g->b, "%s{\"node_id\": \"n%d\", \"public_key\": ", i ? ", " : "",
			    i + 1);
		b64key(g);
		nn_sbprintf(&g->b,
			    ", \"overlay_ipv6\": \"fd7a:6e61:6e61::%x\", \"endpoint\": null, "
			    "\"roles\": %s, \"state\": \"%s\", \"key_generation\": 1}",
			    0x11 + i, roles[pick(g, 4)], rng_pct(g->r, 15) ? "disabled" : "active");
	}
	nn_sbprintf(&g->b, "],\n");
}

static void id_list(struct gen *g, const char *key, const char *fmt, int k, int n)
{
	int a = (int)pick(g, (uint32_t)n), c = (int)pick(g, (uint32_t)n);

	nn_sbprintf(&g->b, "\"%s\": [\"", key);
	nn_sbprintf(&g->b, fmt, k, a);
	if (c != a) {
		nn_sbprintf(&g->b, "\", \"");
		nn_sbprintf(&g->b, fmt, k, c);
	}
	nn_sbprintf(&g->b, "\"]");
}

static void gen_src(struct gen *g, const struct net *n)
{
	unsigned int have = 0, gbits = 0;
	const char *sep = "";
	int i;

	if (rng_pct(g->r, 40)) {
		nn_sbprintf(&g->b, "\"src\": \"*\"");
		return;
	}
	for (i = 0; i < n->n_users; i++)
		gbits |= n->groups[i];
	nn_sbprintf(&g->b, "\"src\": {");
	while (!have) {
		if (rng_pct(g->r, 50))
			have |= 1;
		if (rng_pct(g->r, 40))
			have |= 2;
		if (gbits && rng_pct(g->r, 40))
			have |= 4;
	}
	if (have & 1) {
		id_list(g, "devices", "d%d_%d", n->k, n->n_devs);
		sep = ", ";
	}
	if (have & 2) {
		nn_sbprintf(&g->b, "%s", sep);
		id_list(g, "users", "u%d_%d", n->k, n->n_users);
		sep = ", ";
	}
	if (have & 4) {
		int gi;

		do
			gi = (int)pick(g, 3);
		while (!(gbits & (1u << gi)));
		nn_sbprintf(&g->b, "%s\"groups\": [\"%s\"]", sep, group_names[gi]);
	}
	nn_sbprintf(&g->b, "}");
}

static void acl_prefix(struct gen *g, const struct net *n)
{
	const char *f = acl_menu[pick(g, sizeof(acl_menu) / sizeof(acl_menu[0]))];
	int k = n->k;

	/* Sometimes name another network's space: it must not reach it. */
	if (g->n_nets > 1 && rng_pct(g->r, 15))
		k = (int)pick(g, (uint32_t)g->n_nets) + 1;
	/* Overlay formats take the devices' space, the others the
	 * resources'. */
	k = strstr(f, "fd7a") || strstr(f, "100.96") ? g->dev_k[k] : g->res_k[k];
	nn_sbprintf(&g->b, "\"");
	nn_sbprintf(&g->b, f, k);
	nn_sbprintf(&g->b, "\"");
}

static void gen_dst(struct gen *g, const struct net *n)
{
	unsigned int have = 0;
	const char *sep = "";
	int i, np;

	if (rng_pct(g->r, 25)) {
		nn_sbprintf(&g->b, "\"dst\": \"*\"");
		return;
	}
	nn_sbprintf(&g->b, "\"dst\": {");
	while (!have) {
		if (rng_pct(g->r, 35))
			have |= 1;
		if (n->n_res && rng_pct(g->r, 45))
			have |= 2;
		if (rng_pct(g->r, 55))
			have |= 4;
	}
	if (have & 1) {
		id_list(g, "devices", "d%d_%d", n->k, n->n_devs);
		sep = ", ";
	}
	if (have & 2) {
		nn_sbprintf(&g->b, "%s", sep);
		id_list(g, "resources", "res%d_%d", n->k, n->n_res);
		sep = ", ";
	}
	if (have & 4) {
		nn_sbprintf(&g->b, "%s\"prefixes\": [", sep);
		np = 1 + (int)pick(g, 2);
		for (i = 0; i < np; i++) {
			if (i)
				nn_sbprintf(&g->b, ", ");
			acl_prefix(g, n);
		}
		nn_sbprintf(&g->b, "]");
	}
	nn_sbprintf(&g->b, "}");
}

static void gen_rule(struct gen *g, const struct net *n, int i, bool first)
{
	static const char *const protos[] = { "\"tcp\"",  "\"tcp\"",	"\"udp\"", "\"udp\"",
					      "\"icmp\"", "\"icmpv6\"", "\"any\"", "\"any\"",
					      "47",	  "50",		"132",	   "1",
					      "58",	  "6",		"17" };
	const char *proto = protos[pick(g, sizeof(protos) / sizeof(protos[0]))];
	bool ports_ok = !strcmp(proto, "\"tcp\"") || !strcmp(proto, "\"udp\"") ||
			!strcmp(proto, "6") || !strcmp(proto, "17");
	int k, np;

	nn_sbprintf(&g->b, "%s{\"rule_id\": \"r%d_%d\", \"action\": \"%s\", ", first ? "" : ",\n",
		    n->k, i, rng_pct(g->r, 65) ? "allow" : "deny");
	gen_src(g, n);
	nn_sbprintf(&g->b, ", ");
	gen_dst(g, n);
	nn_sbprintf(&g->b, ", \"proto\": %s", proto);
	if (ports_ok && rng_pct(g->r, 65)) {
		np = 1 + (int)pick(g, 2);
		nn_sbprintf(&g->b, ", \"ports\": [");
		for (k = 0; k < np; k++)
			nn_sbprintf(&g->b, "%s\"%s\"", k ? ", " : "",
				    port_menu[pick(g, sizeof(port_menu) / sizeof(port_menu[0]))]);
		nn_sbprintf(&g->b, "]");
	}
	nn_sbprintf(&g->b, "}");
}

static void gen_network(struct gen *g, struct net *n, bool short_res)
{
	int i, j, k;

	n->n_users = 1 + (int)pick(g, MAX_USERS);
	n->n_devs = 1 + (int)pick(g, MAX_DEVS);
	n->n_res = (int)pick(g, MAX_RES + 1);
	nn_sbprintf(&g->b, "{\"network_id\": \"net%d\", \"gateways\": [", n->k);
	for (i = 0, j = 0; i < 1 + N_NODES; i++)
		if (rng_pct(g->r, i ? 40 : 80))
			nn_sbprintf(&g->b, "%s\"%s\"", j++ ? ", " : "", gw_id(i));
	nn_sbprintf(&g->b, "],\n \"routing_policy\": ");
	layer(g, true);

	nn_sbprintf(&g->b, ",\n \"resources\": [");
	for (i = 0; i < n->n_res; i++) {
		int np = 1 + (int)pick(g, 2);

		nn_sbprintf(&g->b, "%s{\"resource_id\": \"res%d_%d\", \"prefixes\": [",
			    i ? ", " : "", n->k, i);
		for (j = 0; j < np; j++) {
			nn_sbprintf(&g->b, "%s\"", j ? ", " : "");
			nn_sbprintf(&g->b,
				    res_menu[pick(g, sizeof(res_menu) / sizeof(res_menu[0]))],
				    g->res_k[n->k]);
			nn_sbprintf(&g->b, "\"");
		}
		if (short_res && i == 0)
			nn_sbprintf(&g->b, ", \"::/2\"");
		nn_sbprintf(&g->b, "]}");
	}

	nn_sbprintf(&g->b, "],\n \"users\": [");
	for (i = 0; i < n->n_users; i++) {
		const char *sep = "";

		n->groups[i] = rng_pct(g->r, 75) ? 1 + pick(g, 7) : 0;
		nn_sbprintf(&g->b, "%s{\"user_id\": \"u%d_%d\", \"groups\": [", i ? ", " : "", n->k,
			    i);
		for (j = 0; j < 3; j++) {
			if (n->groups[i] & (1u << j)) {
				nn_sbprintf(&g->b, "%s\"%s\"", sep, group_names[j]);
				sep = ", ";
			}
		}
		nn_sbprintf(&g->b, "], \"routing_preference\": ");
		layer(g, true);
		nn_sbprintf(&g->b, "}");
	}

	nn_sbprintf(&g->b, "],\n \"devices\": [");
	for (i = 0; i < n->n_devs; i++) {
		nn_sbprintf(
			&g->b,
			"%s{\"device_id\": \"d%d_%d\", \"user_id\": \"u%d_%d\", \"public_key\": ",
			i ? ",\n  " : "", n->k, i, n->k, (int)pick(g, (uint32_t)n->n_users));
		b64key(g);
		nn_sbprintf(&g->b, ", \"overlay_ipv6\": \"fd7a:6e61:6e61:%x0::%x\"", g->dev_k[n->k],
			    i + 2);
		if (rng_pct(g->r, 55))
			nn_sbprintf(&g->b, ", \"overlay_ipv4\": \"100.96.%d.%d\"", g->dev_k[n->k],
				    i + 2);
		else
			nn_sbprintf(&g->b, ", \"overlay_ipv4\": null");
		nn_sbprintf(
			&g->b,
			", \"endpoint\": null, \"persistent_keepalive\": 25, \"state\": \"%s\", "
			"\"key_generation\": 1, \"routing_preference\": ",
			rng_pct(g->r, 15) != mut(g, 8) ? "disabled" : "active");
		layer(g, true);
		nn_sbprintf(&g->b, "}");
	}

	nn_sbprintf(&g->b, "],\n \"acl\": [");
	j = (int)pick(g, MAX_RULES + 1);
	for (i = 0, k = 0; i < j; i++) {
		size_t at = g->b.n;

		/* Drawn in full either way, so that the rest of the world
		 * stays the same; a later generation may then drop it (a
		 * rule removed under the flows it allowed). */
		gen_rule(g, n, i, k == 0);
		if (mut(g, 20) && !g->b.err) {
			g->b.n = at;
			g->b.s[at] = '\0';
		} else {
			k++;
		}
	}
	nn_sbprintf(&g->b, "]}");
}

static char *generate(struct nn_rng *r, struct nn_rng *m, uint64_t generation)
{
	static const char *const roles[] = {
		"[\"ingress_gateway\", \"exit_gateway\"]",
		"[\"ingress_gateway\", \"exit_gateway\"]",
		"[\"ingress_gateway\", \"exit_gateway\"]",
		"[\"ingress_gateway\"]",
		"[\"exit_gateway\"]",
	};
	struct gen g = { .r = r, .m = m };
	int n_tenants = 2 + (int)rng_below(r, 2), t, i, short_net = -1;

	permute(&g, g.dev_k);
	permute(&g, g.res_k);
	if (rng_pct(r, 25))
		short_net = 1 + (int)rng_below(r, 4);
	nn_sbprintf(&g.b, "{\"api_version\": \"v1\", \"node_id\": \"%s\", \"generation\": %llu,\n",
		    RP_NODE_ID, (unsigned long long)generation);
	nn_sbprintf(&g.b, "\"gateway\": {\"roles\": %s, \"overlay_ipv6\": \"fd7a:6e61:6e61::1\", ",
		    roles[rng_below(r, 5)]);
	if (rng_pct(r, 85))
		nn_sbprintf(&g.b, "\"overlay_ipv4\": \"100.96.0.1\", ");
	nn_sbprintf(&g.b, "\"overlay_prefixes\": [\"fd7a:6e61:6e61::/48\", \"100.96.0.0/12\"], "
			  "\"listen_port\": 51820, \"mtu\": 1420},\n");
	nn_sbprintf(&g.b, "\"system_defaults\": ");
	layer(&g, false);
	nn_sbprintf(&g.b, ",\n");
	gen_nodes(&g);
	nn_sbprintf(&g.b, "\"tenants\": [");
	for (t = 0; t < n_tenants; t++) {
		int nn = 1 + (int)rng_below(r, 2);

		nn_sbprintf(&g.b, "%s{\"tenant_id\": \"t%d\", \"networks\": [", t ? ",\n" : "",
			    t + 1);
		for (i = 0; i < nn && g.n_nets < MAX_NETS; i++) {
			struct net *n = &g.nets[g.n_nets++];

			n->k = g.n_nets;
			n->tenant = t;
			if (i)
				nn_sbprintf(&g.b, ",\n");
			gen_network(&g, n, n->k == short_net);
		}
		nn_sbprintf(&g.b, "]}");
	}
	nn_sbprintf(&g.b, "]}\n");
	return nn_sbtake(&g.b);
}

char *rp_generate(struct nn_rng *r, uint64_t generation)
{
	return generate(r, NULL, generation);
}

char *rp_evolve(struct nn_rng *r, struct rp_series *s, uint64_t generation)
{
	struct nn_rng base, m;
	char *json;

	if (!s->have || rng_pct(r, 20)) {
		s->base = rng_next(r);
		s->have = true;
	}
	base.s = s->base;
	m.s = rng_next(r);
	json = generate(&base, &m, generation);
	if (json && s->fault && rng_pct(r, s->fault_pct))
		json = s->fault(r, json);
	return json;
}
