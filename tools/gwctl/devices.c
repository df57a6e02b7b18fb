// SPDX-License-Identifier: GPL-2.0
/*
 * devices.c - "who is talking through this gateway?": one row per device
 * and node of the live generation (nn_dev_names), with its addresses and
 * state (nn_addrs, live slot), its counters (nn_dev_stats, summed over CPUs)
 * and, when the interface is a WireGuard device and `wg` is installed, the
 * peer's endpoint and handshake age.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gwctl.h"
#include "lib/addr.h"

struct wg_peer {
	char endpoint[64];
	uint64_t handshake; /* unix seconds, 0 never */
	struct nn_prefix allowed[16];
	size_t n_allowed;
};

struct wg_dump {
	struct wg_peer *p;
	size_t n;
};

/*
 * `wg show IF dump`: the interface line, then per peer (tab-separated):
 * public-key preshared-key endpoint allowed-ips latest-handshake rx tx
 * keepalive. Anything unexpected simply yields no WireGuard columns.
 */
static void wg_load(const char *iface, struct wg_dump *d)
{
	char cmd[96], line[4096];
	FILE *f;
	bool first = true;

	memset(d, 0, sizeof(*d));
	/* WireGuard devices (kernel or wireguard-go on TUN) are L3. */
	if (nn_iface_framing(iface) != NN_FRAMING_L3)
		return;
	snprintf(cmd, sizeof(cmd), "wg show '%s' dump 2>/dev/null", iface);
	f = popen(cmd, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *fld[8], *save = NULL, *s, *ip;
		struct wg_peer *np, *p;
		int n = 0;

		if (first) {
			first = false;
			continue;
		}
		for (s = strtok_r(line, "\t\n", &save); s && n < 8;
		     s = strtok_r(NULL, "\t\n", &save))
			fld[n++] = s;
		if (n < 5)
			continue;
		np = realloc(d->p, (d->n + 1) * sizeof(*np));
		if (!np)
			break;
		d->p = np;
		p = &d->p[d->n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->endpoint, sizeof(p->endpoint), "%s", fld[2]);
		p->handshake = strtoull(fld[4], NULL, 10);
		for (ip = strtok_r(fld[3], ",", &save); ip && p->n_allowed < 16;
		     ip = strtok_r(NULL, ",", &save))
			if (!nn_prefix_parse(ip, &p->allowed[p->n_allowed], NULL))
				p->n_allowed++;
	}
	pclose(f);
}

static const struct wg_peer *wg_find(const struct wg_dump *d, const uint8_t a[NN_ADDR_LEN])
{
	size_t i, k;

	for (i = 0; i < d->n; i++)
		for (k = 0; k < d->p[i].n_allowed; k++)
			if (nn_prefix_contains(&d->p[i].allowed[k], a))
				return &d->p[i];
	return NULL;
}

static int devices_run(struct gw *g, void *state, int argc, char **argv)
{
	static const char *const head[] = { "DEVICE",	       "KIND",		 "TENANT",
					    "NETWORK",	       "STATE",		 "EGRESS",
					    "ADDRESSES",       "PKTS FROM/INTO", "BYTES FROM/INTO",
					    "DROPS FROM/INTO", "HANDSHAKE" };
	struct gw_catalog c;
	struct wg_dump wg;
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
	wg_load(g->iface, &wg);
	if (g->json)
		arr = json_array();
	else
		gw_table_init(&t, head, wg.n ? 11 : 10);
	for (i = 0; i < c.n_devs; i++) {
		const struct nn_name *nm = &c.devs[i].name;
		const struct nn_addr_info *info = NULL;
		const struct wg_peer *peer = NULL;
		struct gw_dev_counters d = {};
		char addrs[512] = "", a[NN_ADDR_STRLEN], pk[48], by[48], dr[48], hs[48] = "-";
		char n1[24], n2[24];
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
		if (peer && peer->handshake)
			snprintf(hs, sizeof(hs), "%llds ago",
				 (long long)(time(NULL) - (time_t)peer->handshake));
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

			/* Only when `wg` answered: absent, not null, otherwise. */
			if (peer)
				json_object_set_new(
					o, "wireguard",
					json_pack(
						"{s:s,s:o}", "endpoint", peer->endpoint,
						"latest_handshake_age_s",
						peer->handshake ?
							json_integer(
								(json_int_t)(time(NULL) -
									     (time_t)peer
										     ->handshake)) :
							json_null()));
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
					 addrs[0] ? addrs : NULL, pk, by, dr, hs });
	}
	if (g->json) {
		gw_json_print(json_pack("{s:I,s:o}", "epoch", (json_int_t)c.epoch, "devices", arr));
	} else {
		gw_table_print(&t);
		gw_table_free(&t);
	}
	free(wg.p);
	gw_catalog_free(&c);
	return GW_OK;
}

const struct gw_cmd gw_cmd_devices = {
	.name = "devices",
	.summary = "devices and nodes: tenant, network, addresses, state, egress, counters",
	.run = devices_run,
};
