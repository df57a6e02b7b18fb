// SPDX-License-Identifier: GPL-2.0
/*
 * flows.c - the flow table (nn_flows). Keys are canonical (endpoint a is
 * the lower address/port), so each entry is shown from its opener's side:
 * src is who sent the first packet. "current" says whether the flow was
 * judged under the live epoch; a stale one is judged again on its next
 * packet. "expired" uses the timeouts of nn_config, as the programs do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "dp/flowtab.h"
#include "gwctl.h"
#include "lib/addr.h"

enum { F_DEVICE, F_ADDR, F_PROTO, F_PORT };

static const struct gw_opt flows_opts[] = {
	[F_DEVICE] = { "device", 'd', required_argument, "ID",
		       "only flows of this device or node (by id)" },
	[F_ADDR] = { "addr", 'a', required_argument, "ADDR", "only flows with this address" },
	[F_PROTO] = { "proto", 'p', required_argument, "PROTO",
		      "only this protocol (tcp, udp, icmp, icmpv6 or a number)" },
	[F_PORT] = { "port", 0, required_argument, "N", "only flows with this port (either end)" },
	{ NULL },
};

struct flows_state {
	const char *device;
	bool has_addr;
	uint8_t addr[NN_ADDR_LEN];
	int proto; /* -1 any */
	int port;  /* -1 any */
};

static int flows_opt(struct gw *g, void *state, int idx, const char *arg)
{
	struct flows_state *s = state;
	uint32_t v;

	switch (idx) {
	case F_DEVICE:
		s->device = arg;
		break;
	case F_ADDR:
		if (nn_addr_parse(arg, s->addr, NULL))
			return gw_err(g, GW_USAGE, "--addr: '%s' is not an IPv4 or IPv6 address",
				      arg);
		s->has_addr = true;
		break;
	case F_PROTO:
		s->proto = gw_proto_parse(arg);
		if (s->proto < 0)
			return gw_err(g, GW_USAGE, "--proto: unknown protocol '%s'", arg);
		s->proto += 1000; /* 0 is "unset" in the zeroed state */
		break;
	case F_PORT:
		if (gw_parse_u32(arg, 65535, &v))
			return gw_err(g, GW_USAGE, "--port: '%s' is not a port number", arg);
		s->port = (int)v + 1000;
		break;
	}
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The programs' idle timeout (bpf/flow.bpf.h nn_flow_timeout_ns). */
static uint64_t timeout_s(const struct nn_config *cfg, const struct nn_flow_key *k, uint8_t st)
{
	if (k->proto == 6)
		return st == NN_FS_EST	   ? cfg->tcp_est_timeout_s :
		       st == NN_FS_CLOSING ? cfg->tcp_close_timeout_s :
					     cfg->tcp_syn_timeout_s;
	if (k->proto == 17)
		return cfg->udp_timeout_s;
	if (k->proto == (nn_addr_is_v4mapped(k->a) ? 1 : 58))
		return cfg->icmp_timeout_s;
	return cfg->other_timeout_s;
}

/* The device or node at either end, opener first. */
static const char *flow_device(const struct nn_catalog *c, const uint8_t *src, const uint8_t *dst)
{
	const struct nn_cat_addr *e = nn_cat_addr_find(c, src);
	const struct nn_name *n = NULL;

	if (e && e->info.kind != NN_AK_SELF)
		n = nn_cat_dev_name(c, e->info.stat_slot);
	if (!n) {
		e = nn_cat_addr_find(c, dst);
		if (e && e->info.kind != NN_AK_SELF)
			n = nn_cat_dev_name(c, e->info.stat_slot);
	}
	return n ? n->id : NULL;
}

static bool dev_has(const struct nn_catalog *c, uint32_t slot, const uint8_t *a)
{
	const struct nn_cat_addr *e = nn_cat_addr_find(c, a);

	return e && e->info.stat_slot == slot;
}

/* What one table entry needs to become a row (flows_row). */
struct flows_walk {
	struct flows_state *fs;
	const struct nn_catalog *c;
	const struct nn_config *cfg;
	uint32_t dev_slot;
	uint64_t now;
	json_t *arr;
};

static int flows_row(const struct nn_flow_key *kp, const struct nn_flow *fp, void *arg)
{
	struct flows_walk *wk = arg;
	const struct flows_state *fs = wk->fs;
	const struct nn_catalog *c = wk->c;
	const struct nn_flow_key key = *kp;
	const struct nn_flow f = *fp;
	const uint8_t *src, *dst;
	uint16_t sport, dport;
	char pname[16];
	uint64_t age;
	json_t *o;

	if ((fs->proto && key.proto != fs->proto - 1000) ||
	    (fs->port && key.aport != fs->port - 1000 && key.bport != fs->port - 1000) ||
	    (fs->has_addr && memcmp(key.a, fs->addr, NN_ADDR_LEN) &&
	     memcmp(key.b, fs->addr, NN_ADDR_LEN)) ||
	    (wk->dev_slot != NN_NONE32 && !dev_has(c, wk->dev_slot, key.a) &&
	     !dev_has(c, wk->dev_slot, key.b)))
		return 0;
	src = f.opener_is_b ? key.b : key.a;
	dst = f.opener_is_b ? key.a : key.b;
	sport = f.opener_is_b ? key.bport : key.aport;
	dport = f.opener_is_b ? key.aport : key.bport;
	age = wk->now > f.last_seen_ns ? wk->now - f.last_seen_ns : 0;
	gw_proto_name(key.proto, pname, sizeof(pname));
	o = json_pack("{s:o,s:i,s:o,s:i,s:s,s:i,s:s,s:s,s:f,s:I,s:i,s:b,s:b,s:o}", "src",
		      gw_json_addr(src), "sport", sport, "dst", gw_json_addr(dst), "dport", dport,
		      "proto", pname, "proto_num", key.proto, "direction",
		      nn_dir_name(f.opener_dir), "state", nn_flow_state_name(f.state), "age_s",
		      (double)(age / 1000000) / 1e3, /* ms resolution */
		      "last_seen_ns", (json_int_t)f.last_seen_ns, "epoch", (int)f.epoch, "current",
		      f.epoch == c->epoch, "expired",
		      age >= timeout_s(wk->cfg, &key, f.state) * 1000000000ull, "device",
		      gw_json_str_or_null(flow_device(c, src, dst)));
	json_array_append_new(wk->arr, o);
	return 0;
}

static int flows_run(struct gw *g, void *state, int argc, char **argv)
{
	static const char *const head[] = { "PROTO", "SRC",   "SPORT", "DST",	"DPORT",
					    "DIR",   "STATE", "AGE",   "EPOCH", "DEVICE" };
	struct flows_state *fs = state;
	struct nn_config cfg = {};
	struct nn_catalog c;
	struct gw_table t;
	uint32_t dev_slot = NN_NONE32, zero = 0;
	uint64_t now;
	json_t *arr = json_array();
	size_t i;
	int err;

	(void)argv;
	if (argc)
		return gw_err(g, GW_USAGE, "flows takes no arguments besides its filters");
	err = gw_pins_open(g) ?: gw_catalog_load(g, &c);
	if (err)
		return err;
	bpf_map_lookup_elem(g->fd[NN_M_CONFIG], &zero, &cfg);
	if (fs->device) {
		for (i = 0; i < c.n_devs && dev_slot == NN_NONE32; i++)
			if (!strcmp(c.devs[i].name.id, fs->device))
				dev_slot = c.devs[i].slot;
		if (dev_slot == NN_NONE32) {
			nn_catalog_free(&c);
			json_decref(arr);
			return gw_err(g, GW_ERR, "no device or node '%s' in the live generation",
				      fs->device);
		}
	}
	now = mono_ns();
	{
		struct flows_walk wk = { fs, &c, &cfg, dev_slot, now, arr };

		err = nn_flow_each(g->fd[NN_M_FLOWS], flows_row, &wk);
		if (err) {
			nn_catalog_free(&c);
			json_decref(arr);
			return gw_err(g, GW_ERR, "couldn't read %s/nn_flows: %s%s", g->pin_dir,
				      strerror(-err),
				      err == -EPROTO ? " (maps of an older version: run "
						       "nanami-gatewayd --detach)" :
						       "");
		}
	}
	if (g->json) {
		gw_json_print(json_pack("{s:I,s:o}", "epoch", (json_int_t)c.epoch, "flows", arr));
		nn_catalog_free(&c);
		return GW_OK;
	}
	gw_table_init(&t, head, 10);
	{
		json_t *o;

		json_array_foreach(arr, i, o)
		{
			const char *proto = json_string_value(json_object_get(o, "proto"));
			char sp[8], dp[8], age[32], ep[32];

			snprintf(sp, sizeof(sp), "%lld",
				 (long long)json_integer_value(json_object_get(o, "sport")));
			snprintf(dp, sizeof(dp), "%lld",
				 (long long)json_integer_value(json_object_get(o, "dport")));
			snprintf(age, sizeof(age), "%.0fs%s",
				 json_real_value(json_object_get(o, "age_s")),
				 json_is_true(json_object_get(o, "expired")) ? " (expired)" : "");
			snprintf(ep, sizeof(ep), "%lld%s",
				 (long long)json_integer_value(json_object_get(o, "epoch")),
				 json_is_true(json_object_get(o, "current")) ? "" : " (stale)");
			gw_table_row(&t,
				     (const char *[]){
					     proto, json_string_value(json_object_get(o, "src")),
					     sp, json_string_value(json_object_get(o, "dst")), dp,
					     json_string_value(json_object_get(o, "direction")),
					     json_string_value(json_object_get(o, "state")), age,
					     ep, json_string_value(json_object_get(o, "device")) });
		}
	}
	gw_table_print(&t);
	printf("%zu flows\n", t.rows);
	gw_table_free(&t);
	json_decref(arr);
	nn_catalog_free(&c);
	return GW_OK;
}

const struct gw_cmd gw_cmd_flows = {
	.name = "flows",
	.args = "[--device ID] [--addr ADDR] [--proto PROTO] [--port N]",
	.summary = "the flow table, seen from each flow's opener",
	.opts = flows_opts,
	.on_opt = flows_opt,
	.run = flows_run,
	.state_size = sizeof(struct flows_state),
};
