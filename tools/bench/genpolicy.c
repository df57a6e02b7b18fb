// SPDX-License-Identifier: GPL-2.0
/*
 * genpolicy.c - a synthetic assignments snapshot (assignments-v1.md) with N
 * devices and N rules, in the shape real deployments have, as JSON text: the
 * benchmark parses it with nn_policy_parse() so the real validator, router
 * and compiler see it exactly as they would see the control plane's.
 *
 * Shape (deterministic: one xorshift stream seeded by N):
 *  - networks of 100..1000 devices (one network when N <= 100), 1-4 per
 *    tenant;
 *  - two devices per user, 4 + D/100 groups per network, every fifth user in
 *    a second group; 70% of devices have an IPv4 overlay address, ~1% are
 *    disabled;
 *  - D/20 resources per network, each a /64 and (two in three) a /24;
 *  - D rules per network: group -> resource tcp (single ports, ranges),
 *    device -> device udp (admins to servers, so per-device rules do not
 *    split every group into its own classes), user -> resource any,
 *    group -> prefix (inside a resource, or a partner network outside the
 *    overlay), device -> resource icmpv6, "*" -> resource, and ~2% deny
 *    rules to ::/0 + 0.0.0.0/0;
 *  - the first five rules of every network are fixed so the benchmark has
 *    packets with known verdicts (struct bench_pick).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "lib/addr.h"
#include "lib/base64.h"
#include "lib/strbuf.h"

static uint64_t rng_state;

static uint32_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (uint32_t)(x >> 16);
}

/* A unique, valid 32-byte key per (kind, index): the validator only checks
 * that it decodes to 32 bytes and is unique. */
static void pubkey(char out[NN_KEY_B64_SIZE], uint8_t kind, uint32_t idx)
{
	uint8_t k[NN_KEY_LEN] = { 0x4e, kind, idx >> 24, idx >> 16, idx >> 8, idx };

	nn_key_to_base64(k, out);
}

/* Overlay addresses: v6 fd7a:6e61:6e61:<net+1>::<dev+2>, v4 100.64.0.0/10
 * from 100.64.4.0 on by global device index. */
static void dev_v6(char *out, size_t net, size_t j)
{
	snprintf(out, BENCH_ADDR_STR, "fd7a:6e61:6e61:%zx::%zx", net + 1, j + 2);
}

static void dev_v4(char *out, size_t gidx)
{
	uint32_t a = (100u << 24) | (64u << 16) | (uint32_t)(1024 + gidx);

	snprintf(out, BENCH_ADDR_STR, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
		 a & 255);
}

static bool dev_has_v4(size_t j)
{
	return j % 10 < 7;
}

/* Resource q (global index): fd00:<q>::/64, and 10.<q/256>.<q%256>.0/24 for
 * two in three (always for a network's first two resources, r0 and r1: the
 * benchmark's IPv4 traffic goes to them). */
static bool res_has_v4(size_t q, size_t k)
{
	return k <= 1 || q % 3 != 2;
}

static const char *const tcp_ports[] = {
	"\"22\"",	 "\"80\"",    "\"443\"",	 "\"3306\"",
	"\"5432\"",	 "\"6379\"",  "\"8080\"",	 "\"9000-9100\"",
	"\"3000-3999\"", "\"27017\"", "\"80\", \"443\"", "\"8443\", \"9443\"",
};

struct netgen {
	size_t idx;	/* global network index */
	size_t dev0;	/* global index of its first device */
	size_t res0;	/* global index of its first resource */
	size_t d, g, r; /* devices, groups, resources */
	bool full_tunnel;
};

static void gen_resources(struct nn_strbuf *b, const struct netgen *n)
{
	size_t k;

	nn_sbprintf(b, "\"resources\": [");
	for (k = 0; k < n->r; k++) {
		size_t q = n->res0 + k;

		nn_sbprintf(b,
			    "%s{\"resource_id\": \"res%zu-%zu\", \"prefixes\": [\"fd00:%zx::/64\"",
			    k ? ", " : "", n->idx, k, q);
		if (res_has_v4(q, k))
			nn_sbprintf(b, ", \"10.%zu.%zu.0/24\"", q >> 8, q & 255);
		nn_sbprintf(b, "]}");
	}
	nn_sbprintf(b, "],\n");
}

static void gen_users(struct nn_strbuf *b, const struct netgen *n)
{
	size_t u, nu = (n->d + 1) / 2;

	nn_sbprintf(b, "\"users\": [");
	for (u = 0; u < nu; u++) {
		nn_sbprintf(b, "%s{\"user_id\": \"u%zu-%zu\", \"groups\": [\"g%zu\"",
			    u ? ",\n" : "", n->idx, u, u % n->g);
		if (u % 5 == 4)
			nn_sbprintf(b, ", \"g%zu\"", (u / 5) % n->g);
		nn_sbprintf(b, "], \"routing_preference\": %s}",
			    u % 4 == 3 ? "{\"traffic_mode\": \"full_tunnel\"}" : "null");
	}
	nn_sbprintf(b, "],\n");
}

static void gen_devices(struct nn_strbuf *b, const struct netgen *n)
{
	char v6[BENCH_ADDR_STR], v4[BENCH_ADDR_STR], key[48];
	size_t j;

	nn_sbprintf(b, "\"devices\": [");
	for (j = 0; j < n->d; j++) {
		dev_v6(v6, n->idx, j);
		dev_v4(v4, n->dev0 + j);
		pubkey(key, 1, n->dev0 + j);
		nn_sbprintf(b,
			    "%s{\"device_id\": \"d%zu\", \"user_id\": \"u%zu-%zu\", "
			    "\"public_key\": \"%s\", \"overlay_ipv6\": \"%s\", ",
			    j ? ",\n" : "", n->dev0 + j, n->idx, j / 2, key, v6);
		if (dev_has_v4(j))
			nn_sbprintf(b, "\"overlay_ipv4\": \"%s\", ", v4);
		else
			nn_sbprintf(b, "\"overlay_ipv4\": null, ");
		nn_sbprintf(
			b,
			"\"endpoint\": null, \"persistent_keepalive\": 25, "
			"\"state\": \"%s\", \"key_generation\": 1, \"routing_preference\": null}",
			j % 97 == 96 ? "disabled" : "active");
	}
	nn_sbprintf(b, "],\n");
}

/* Admins (j % 20 == 5) reach servers (j % 10 == 9) by device rules. */
static size_t pick_admin(const struct netgen *n)
{
	size_t k = n->d / 20;

	return k ? (rnd() % k) * 20 + 5 : 1;
}

static size_t pick_server(const struct netgen *n)
{
	size_t k = n->d / 10;

	return k ? (rnd() % k) * 10 + 9 : n->d - 1;
}

static unsigned int gen_nested;
static bool gen_pick_net;

/* The adversarial rules: allow g0 -> a prefix around the pick's internet
 * hosts, one bit longer each time (IPv6 /24.., IPv4 /9..). */
static void masked(char *out, bool v4, const char *host, unsigned int len)
{
	uint8_t a[16] = {};

	inet_pton(v4 ? AF_INET : AF_INET6, host, a);
	nn_addr_mask(a, a, v4 ? 4 : 16, len);
	inet_ntop(v4 ? AF_INET : AF_INET6, a, out, BENCH_ADDR_STR);
}

/* Nested rule k of the pick network (res0 = its first resource): prefixes
 * one bit longer each time inside res0 around its host ::5 / .5 (the global
 * scope) and around the internet host (the network's ACL scope). */
static size_t gen_res0;

static void gen_nested_rule(struct nn_strbuf *b, size_t k)
{
	unsigned int l6 = 65 + k % 63, l4 = 25 + k % 8, li = 24 + k % 104;
	char r6[BENCH_ADDR_STR], r4[BENCH_ADDR_STR], h6[BENCH_ADDR_STR], h4[BENCH_ADDR_STR];
	char i6[BENCH_ADDR_STR];

	snprintf(h6, sizeof(h6), "fd00:%zx::5", gen_res0);
	snprintf(h4, sizeof(h4), "10.%zu.%zu.5", gen_res0 >> 8, gen_res0 & 255);
	masked(r6, false, h6, l6);
	masked(r4, true, h4, l4);
	masked(i6, false, "2a00:1450:4001:80e::200e", li);
	nn_sbprintf(b,
		    "\"action\": \"allow\", \"src\": {\"groups\": [\"g0\"]}, "
		    "\"dst\": {\"prefixes\": [\"%s/%u\", \"%s/%u\", \"%s/%u\"]}, "
		    "\"proto\": \"tcp\", \"ports\": [\"8000-8999\"]}",
		    r6, l6, r4, l4, i6, li);
}

static void gen_rule(struct nn_strbuf *b, const struct netgen *n, size_t i)
{
	size_t q, x = rnd() % 100;

	nn_sbprintf(b, "%s{\"rule_id\": \"r%zu-%zu\", ", i ? ",\n" : "", n->idx, i);
	if (gen_pick_net && i >= 5 && i < 5 + gen_nested) {
		gen_nested_rule(b, i - 5);
		return;
	}
	switch (i) {
	case 0: /* the benchmark's allowed flow: A (g0) -> r0 */
		nn_sbprintf(b,
			    "\"action\": \"allow\", \"src\": {\"groups\": [\"g0\"]}, "
			    "\"dst\": {\"resources\": [\"res%zu-0\"]}, \"proto\": \"tcp\", "
			    "\"ports\": [\"5432\", \"8000-8080\"]}",
			    n->idx);
		return;
	case 1:
		nn_sbprintf(
			b,
			"\"action\": \"deny\", \"src\": \"*\", "
			"\"dst\": {\"prefixes\": [\"::/0\", \"0.0.0.0/0\"]}, \"proto\": \"tcp\", "
			"\"ports\": [\"25\"]}");
		return;
	case 2:
		nn_sbprintf(b,
			    "\"action\": \"allow\", \"src\": \"*\", "
			    "\"dst\": {\"resources\": [\"res%zu-1\"]}, \"proto\": \"tcp\", "
			    "\"ports\": [\"443\"]}",
			    n->idx);
		return;
	case 3: /* A -> B, the into-overlay allowed flow */
		nn_sbprintf(b,
			    "\"action\": \"allow\", \"src\": {\"devices\": [\"d%zu\"]}, "
			    "\"dst\": {\"devices\": [\"d%zu\"]}, \"proto\": \"udp\", "
			    "\"ports\": [\"5000-5100\"]}",
			    n->dev0, n->dev0 + 2);
		return;
	case 4:
		nn_sbprintf(b,
			    "\"action\": \"deny\", \"src\": {\"groups\": [\"g1\"]}, "
			    "\"dst\": {\"prefixes\": [\"2001:db8:bad::/48\", \"203.0.113.0/24\"]}, "
			    "\"proto\": \"any\"}");
		return;
	}
	q = n->res0 + rnd() % n->r;
	if (x < 45) {
		nn_sbprintf(b,
			    "\"action\": \"allow\", \"src\": {\"groups\": [\"g%u\"]}, "
			    "\"dst\": {\"resources\": [\"res%zu-%zu\"]}, \"proto\": \"tcp\", "
			    "\"ports\": [%s]}",
			    (unsigned int)(rnd() % n->g), n->idx, q - n->res0,
			    tcp_ports[rnd() % (sizeof(tcp_ports) / sizeof(tcp_ports[0]))]);
	} else if (x < 65) {
		unsigned int p = 5000 + rnd() % 900;

		nn_sbprintf(b,
			    "\"action\": \"allow\", \"src\": {\"devices\": [\"d%zu\"]}, "
			    "\"dst\": {\"devices\": [\"d%zu\"]}, \"proto\": \"udp\", ",
			    n->dev0 + pick_admin(n), n->dev0 + pick_server(n));
		if (rnd() & 1)
			nn_sbprintf(b, "\"ports\": [\"%u\"]}", p);
		else
			nn_sbprintf(b, "\"ports\": [\"%u-%u\"]}", p, p + 50);
	} else if (x < 75) {
		nn_sbprintf(b,
			    "\"action\": \"allow\", \"src\": {\"users\": [\"u%zu-%u\"]}, "
			    "\"dst\": {\"resources\": [\"res%zu-%zu\"]}, \"proto\": \"any\"}",
			    n->idx, (unsigned int)(rnd() % ((n->d + 1) / 2)), n->idx, q - n->res0);
	} else if (x < 85) {
		/* A slice of a resource, or a partner network outside the
		 * overlay (an ACL-scope prefix). */
		nn_sbprintf(b, "\"action\": \"allow\", \"src\": {\"groups\": [\"g%u\"]}, ",
			    (unsigned int)(rnd() % n->g));
		if (rnd() & 1)
			nn_sbprintf(b, "\"dst\": {\"prefixes\": [\"fd00:%zx:0:0:%x::/80\"]}, ", q,
				    rnd() & 0xffff);
		else
			nn_sbprintf(b,
				    "\"dst\": {\"prefixes\": [\"2001:db8:%x::/48\", "
				    "\"198.18.%u.0/24\"]}, ",
				    rnd() & 0xffff, rnd() & 255);
		nn_sbprintf(b, "\"proto\": \"tcp\", \"ports\": [\"8000-8999\"]}");
	} else if (x < 93) {
		nn_sbprintf(b,
			    "\"action\": \"allow\", \"src\": {\"devices\": [\"d%zu\"]}, "
			    "\"dst\": {\"resources\": [\"res%zu-%zu\"]}, \"proto\": \"icmpv6\"}",
			    n->dev0 + rnd() % n->d, n->idx, q - n->res0);
	} else if (x < 98) {
		nn_sbprintf(b,
			    "\"action\": \"allow\", \"src\": \"*\", "
			    "\"dst\": {\"resources\": [\"res%zu-%zu\"]}, \"proto\": \"tcp\", "
			    "\"ports\": [\"443\"]}",
			    n->idx, q - n->res0);
	} else {
		nn_sbprintf(
			b,
			"\"action\": \"deny\", \"src\": \"*\", "
			"\"dst\": {\"prefixes\": [\"::/0\", \"0.0.0.0/0\"]}, \"proto\": \"udp\", "
			"\"ports\": [\"%u\"]}",
			1900 + rnd() % 100);
	}
}

static void gen_network(struct nn_strbuf *b, const struct netgen *n)
{
	size_t i;

	nn_sbprintf(b,
		    "{\"network_id\": \"net%zu\", \"gateways\": [\"gw-bench\"],\n"
		    "\"routing_policy\": {\"traffic_mode\": \"%s\", \"routing_mode\": \"auto\", "
		    "\"ingress_device\": null, \"egress_device\": null},\n",
		    n->idx, n->full_tunnel ? "full_tunnel" : "vpn_only");
	gen_resources(b, n);
	gen_users(b, n);
	gen_devices(b, n);
	nn_sbprintf(b, "\"acl\": [");
	for (i = 0; i < n->d; i++)
		gen_rule(b, n, i);
	nn_sbprintf(b, "]}");
}

static void fill_pick(struct bench_gen *g, const struct netgen *n)
{
	size_t q = n->res0;

	dev_v6(g->v6.a, n->idx, 0);
	dev_v6(g->v6.b, n->idx, 2);
	dev_v6(g->v6.c, n->idx, 4);
	snprintf(g->v6.res, BENCH_ADDR_STR, "fd00:%zx::5", q);
	snprintf(g->v6.net, BENCH_ADDR_STR, "2a00:1450:4001:80e::200e");
	snprintf(g->v6.spoof, BENCH_ADDR_STR, "fd7a:6e61:6e61:ffff::99");
	dev_v4(g->v4.a, n->dev0);
	dev_v4(g->v4.b, n->dev0 + 2);
	dev_v4(g->v4.c, n->dev0 + 4);
	snprintf(g->v4.res, BENCH_ADDR_STR, "10.%zu.%zu.5", q >> 8, q & 255);
	snprintf(g->v4.net, BENCH_ADDR_STR, "142.250.185.78");
	snprintf(g->v4.spoof, BENCH_ADDR_STR, "100.127.255.250");
}

static const size_t net_sizes[] = { 100, 150, 250, 400, 600, 1000 };

int bench_genpolicy(size_t n, struct bench_gen *g)
{
	struct bench_gen_opts o = {};

	return bench_genpolicy_opts(n, &o, g);
}

int bench_genpolicy_opts(size_t n, const struct bench_gen_opts *o, struct bench_gen *g)
{
	struct nn_strbuf b = {};
	struct netgen ng = {};
	size_t left = n, tenant_left = 0, in_tenant = 0;
	bool pick;
	char key[48];

	memset(g, 0, sizeof(*g));
	if (n < 6)
		return -EINVAL;
	gen_nested = o ? o->nested : 0;
	g->nets = calloc(n / 50 + 2, sizeof(*g->nets));
	if (!g->nets)
		return -ENOMEM;
	rng_state = 0x9e3779b97f4a7c15ull ^ n;

	pubkey(key, 2, 0);
	nn_sbprintf(
		&b,
		"{\"api_version\": \"v1\", \"node_id\": \"gw-bench\", \"generation\": 1,\n"
		"\"gateway\": {\"roles\": [\"ingress_gateway\", \"exit_gateway\"], "
		"\"overlay_ipv6\": \"fd7a:6e61:6e61::1\", \"overlay_ipv4\": \"100.64.0.1\", "
		"\"overlay_prefixes\": [\"fd7a:6e61:6e61::/48\", \"100.64.0.0/10\"], "
		"\"listen_port\": 51820, \"mtu\": 1420},\n"
		"\"system_defaults\": {\"traffic_mode\": \"vpn_only\", \"routing_mode\": \"auto\"},\n"
		"\"nodes\": [{\"node_id\": \"gw-peer\", \"public_key\": \"%s\", "
		"\"overlay_ipv6\": \"fd7a:6e61:6e61::2\", \"endpoint\": \"[2001:db8:2::1]:51820\", "
		"\"roles\": [\"exit_gateway\"], \"state\": \"active\", \"key_generation\": 1}],\n"
		"\"tenants\": [",
		key);
	while (left) {
		ng.d = n <= 100 ? n : net_sizes[rnd() % 6];
		if (ng.d > left || left - ng.d < 50)
			ng.d = left;
		ng.g = 4 + ng.d / 100;
		ng.r = ng.d / 20 < 2 ? 2 : ng.d / 20;
		/* The pick network holds the middle device of the policy. */
		pick = ng.dev0 <= n / 2 && n / 2 < ng.dev0 + ng.d;
		ng.full_tunnel = pick || ng.idx % 3 == 0;
		if (!tenant_left) {
			if (g->n_tenants)
				nn_sbprintf(&b, "]},\n");
			tenant_left = 1 + rnd() % 4;
			in_tenant = 0;
			nn_sbprintf(&b, "{\"tenant_id\": \"t%zu\", \"networks\": [\n",
				    g->n_tenants++);
		}
		if (in_tenant++)
			nn_sbprintf(&b, ",\n");
		gen_pick_net = pick;
		gen_res0 = ng.res0;
		gen_network(&b, &ng);
		g->nets[ng.idx] = (struct bench_net){ ng.idx, ng.dev0, ng.d, ng.res0, ng.r };
		if (pick)
			fill_pick(g, &ng);
		tenant_left--;
		left -= ng.d;
		g->n_devices += ng.d;
		g->n_rules += ng.d;
		g->n_resources += ng.r;
		ng.dev0 += ng.d;
		ng.res0 += ng.r;
		ng.idx++;
	}
	nn_sbprintf(&b, "]}\n]}\n");
	g->n_networks = ng.idx;
	if (b.err) {
		free(b.s);
		free(g->nets);
		g->nets = NULL;
		return b.err;
	}
	g->json = b.s;
	g->len = b.n;
	return 0;
}

static void addr_of(uint8_t *out, bool v4, const char *txt)
{
	memset(out, 0, 16);
	inet_pton(v4 ? AF_INET : AF_INET6, txt, out);
}

size_t bench_pairs(const struct bench_gen *g, enum bench_pair_kind kind, bool v4,
		   struct bench_pair *out, size_t max)
{
	char s[BENCH_ADDR_STR], d[BENCH_ADDR_STR];
	size_t k, cnt = 0, ni = 0, total = g->n_devices;

	/* Walk devices with a stride so the picks spread over every network. */
	for (k = 0; k < total && cnt < max; k++) {
		size_t gidx = (k * 7919) % total, j, q, peer;
		const struct bench_net *n;

		for (ni = 0; ni + 1 < g->n_networks && g->nets[ni + 1].dev0 <= gidx; ni++)
			;
		n = &g->nets[ni];
		j = gidx - n->dev0;
		if (j % 97 == 96 || (v4 && !dev_has_v4(j)))
			continue;
		q = n->res0 + 1;
		if (v4) {
			dev_v4(s, gidx);
			snprintf(d, sizeof(d), "10.%zu.%zu.5", q >> 8, q & 255);
		} else {
			dev_v6(s, n->idx, j);
			snprintf(d, sizeof(d), "fd00:%zx::5", q);
		}
		if (kind == BP_DENY) {
			/* Another active device of the network with the family. */
			size_t step;

			for (step = 1, peer = j; step < n->d; step++) {
				peer = (j + (n->d >= 20 ? 10 * step : step)) % n->d;
				if (peer != j && peer % 97 != 96 && (!v4 || dev_has_v4(peer)))
					break;
			}
			if (peer == j)
				continue;
			if (v4)
				dev_v4(d, n->dev0 + peer);
			else
				dev_v6(d, n->idx, peer);
		} else if (kind == BP_SPOOF) {
			if (v4)
				snprintf(s, sizeof(s), "100.127.%zu.%zu", (cnt >> 8) & 255,
					 cnt & 255);
			else
				snprintf(s, sizeof(s), "fd7a:6e61:6e61:ffff::%zx", cnt + 1);
		}
		addr_of(out[cnt].src, v4, s);
		addr_of(out[cnt].dst, v4, d);
		cnt++;
	}
	return cnt;
}

void bench_gen_free(struct bench_gen *g)
{
	free(g->nets);
	free(g->json);
	memset(g, 0, sizeof(*g));
}
