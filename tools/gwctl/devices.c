// SPDX-License-Identifier: GPL-2.0
/*
 * devices.c - "who is talking through this gateway?": one row per device
 * and node of the live generation (nn_dev_names), with its addresses and
 * state (nn_addrs, live slot), its counters (nn_dev_ctr, summed over CPUs)
 * and, when the interface is a WireGuard device (kernel or wireguard-go,
 * read through the controller's own backend code, wg/backend.h), the peer
 * holding its address: endpoint, handshake age and bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gwctl.h"
#include "lib/addr.h"
#include "wg/backend.h"

/*
 * wg0 as the kernel or wireguard-go reports it, chosen as --wg auto
 * chooses. An interface that is not WireGuard yields no WireGuard columns;
 * one that is but cannot be read (no privilege, a daemon that does not
 * answer) says so on stderr and yields none either.
 */
static void wg_load(struct gw *g, struct nn_wg_device *dev, const char **backend)
{
	struct nn_wg_backend b;
	enum nn_wg_mode mode;
	char why[512];
	int err;

	memset(dev, 0, sizeof(*dev));
	*backend = NULL;
	if (nn_wg_mode_resolve(g->iface, NULL, &mode, why, sizeof(why)) || mode == NN_WG_MODE_NONE)
		return;
	err = nn_wg_backend_init(&b, mode, g->iface, NULL);
	if (!err)
		err = nn_wg_backend_get(&b, dev);
	if (err) {
		fprintf(stderr, "nanami-gwctl: couldn't read WireGuard peers of %s (%s): %s\n",
			g->iface, nn_wg_mode_name(mode), strerror(-err));
		return;
	}
	*backend = b.ops->name;
}

/* The AllowedIP as a prefix of 16-byte addresses (IPv4 mapped). */
static void aip_prefix(const struct nn_wg_allowedip *a, struct nn_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (a->family == AF_INET) {
		p->addr[10] = p->addr[11] = 0xff;
		memcpy(p->addr + 12, a->addr, 4);
		p->len = (uint8_t)(96 + a->cidr);
	} else {
		memcpy(p->addr, a->addr, 16);
		p->len = a->cidr;
	}
}

static const struct nn_wg_peer *wg_find(const struct nn_wg_device *d, const uint8_t a[NN_ADDR_LEN])
{
	struct nn_prefix p;
	size_t i, k;

	for (i = 0; i < d->n_peers; i++)
		for (k = 0; k < d->peers[i].n_allowed_ips; k++) {
			aip_prefix(&d->peers[i].allowed_ips[k], &p);
			if (nn_prefix_contains(&p, a))
				return &d->peers[i];
		}
	return NULL;
}

static json_t *wg_json(const struct nn_wg_peer *peer, const char *backend, time_t now)
{
	char ep[INET6_ADDRSTRLEN + 16], key[NN_KEY_B64_SIZE];

	nn_key_to_base64(peer->public_key, key);
	return json_pack(
		"{s:s,s:s,s:o,s:o,s:I,s:I}", "backend", backend, "public_key", key, "endpoint",
		peer->flags & NN_WG_PEER_HAS_ENDPOINT ?
			json_string(nn_wg_endpoint_format(&peer->endpoint, ep, sizeof(ep))) :
			json_null(),
		"latest_handshake_age_s",
		peer->last_handshake_sec ?
			json_integer((json_int_t)(now - (time_t)peer->last_handshake_sec)) :
			json_null(),
		"rx_bytes", (json_int_t)peer->rx_bytes, "tx_bytes", (json_int_t)peer->tx_bytes);
}

static int devices_run(struct gw *g, void *state, int argc, char **argv)
{
	static const char *const head[] = { "DEVICE",	       "KIND",		 "TENANT",
					    "NETWORK",	       "STATE",		 "EGRESS",
					    "ADDRESSES",       "PKTS FROM/INTO", "BYTES FROM/INTO",
					    "DROPS FROM/INTO", "HANDSHAKE",	 "WG RX/TX" };
	const char *backend;
	struct nn_wg_device wg;
	time_t now = time(NULL);
	struct nn_catalog c;
	struct gw_table t;
	json_t *arr = NULL;
	size_t i, k;
	int err;

	(void)state;
	(void)argv;
	if (argc)
		return gw_err(g, GW_USAGE, "devices takes no arguments");
	err = gw_pins_open(g) ?: gw_catalog_load(g, &c);
	if (err)
		return err;
	wg_load(g, &wg, &backend);
	if (g->json)
		arr = json_array();
	else
		gw_table_init(&t, head, backend ? 12 : 10);
	for (i = 0; i < c.n_devs; i++) {
		const struct nn_name *nm = &c.devs[i].name;
		const struct nn_addr_info *info = NULL;
		const struct nn_wg_peer *peer = NULL;
		struct gw_dev_counters d = {};
		char addrs[512] = "", a[NN_ADDR_STRLEN], pk[48], by[48], dr[48], hs[48] = "-";
		char n1[24], n2[24], wb[48] = "-";
		json_t *ja = json_array();

		gw_dev_counters(g, c.devs[i].slot, &d);
		for (k = 0; k < c.n_addrs; k++) {
			if (c.addrs[k].info.stat_slot != c.devs[i].slot)
				continue;
			info = &c.addrs[k].info;
			gw_fmt_addr(c.addrs[k].addr, a, sizeof(a));
			json_array_append_new(ja, json_string(a));
			snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs), "%s%s",
				 addrs[0] ? "," : "", a);
			if (!peer)
				peer = wg_find(&wg, c.addrs[k].addr);
		}
		if (peer && peer->last_handshake_sec)
			snprintf(hs, sizeof(hs), "%llds ago",
				 (long long)(now - (time_t)peer->last_handshake_sec));
		if (peer) {
			gw_fmt_count(peer->rx_bytes, n1, sizeof(n1));
			gw_fmt_count(peer->tx_bytes, n2, sizeof(n2));
			snprintf(wb, sizeof(wb), "%s/%s", n1, n2);
		}
		if (g->json) {
			json_t *o = json_pack(
				"{s:i,s:s,s:s?,s:s?,s:s?,s:o,s:o,s:o,s:o}", "slot",
				(int)c.devs[i].slot, "id", nm->id, "kind",
				nn_addr_kind_name(nm->kind), "tenant",
				nm->tenant[0] ? nm->tenant : NULL, "network",
				nm->network[0] ? nm->network : NULL, "addresses", ja, "state",
				gw_json_str_or_null(info ? nn_state_name(info->state) : NULL),
				"egress",
				info ? json_boolean(info->flags & NN_AF_EGRESS) : json_null(),
				"counters", gw_json_dev_counters(&d));

			/* Only when wg0's backend answered: absent, not null,
			 * otherwise. */
			if (peer)
				json_object_set_new(o, "wireguard", wg_json(peer, backend, now));
			json_array_append_new(arr, o);
			continue;
		}
		json_decref(ja);
		gw_fmt_count(d.packets[0], n1, sizeof(n1));
		gw_fmt_count(d.packets[1], n2, sizeof(n2));
		snprintf(pk, sizeof(pk), "%s/%s", n1, n2);
		gw_fmt_count(d.bytes[0], n1, sizeof(n1));
		gw_fmt_count(d.bytes[1], n2, sizeof(n2));
		snprintf(by, sizeof(by), "%s/%s", n1, n2);
		gw_fmt_count(d.drops[0], n1, sizeof(n1));
		gw_fmt_count(d.drops[1], n2, sizeof(n2));
		snprintf(dr, sizeof(dr), "%s/%s", n1, n2);
		gw_table_row(&t, (const char *[]){
					 nm->id, nn_addr_kind_name(nm->kind),
					 nm->tenant[0] ? nm->tenant : NULL,
					 nm->network[0] ? nm->network : NULL,
					 info ? nn_state_name(info->state) : "gone",
					 info ? (info->flags & NN_AF_EGRESS ? "yes" : "no") : NULL,
					 addrs[0] ? addrs : NULL, pk, by, dr, hs, wb });
	}
	if (g->json) {
		gw_json_print(json_pack("{s:I,s:o}", "epoch", (json_int_t)c.epoch, "devices", arr));
	} else {
		gw_table_print(&t);
		gw_table_free(&t);
	}
	nn_wg_device_free(&wg);
	nn_catalog_free(&c);
	return GW_OK;
}

const struct gw_cmd gw_cmd_devices = {
	.name = "devices",
	.summary = "devices and nodes: tenant, network, addresses, state, egress, counters",
	.run = devices_run,
};
