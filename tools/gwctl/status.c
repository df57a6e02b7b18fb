// SPDX-License-Identifier: GPL-2.0
/*
 * status.c - "is the dataplane what the control plane wants?": the applied
 * generation, the live epoch, which programs are attached where (and whether
 * they use the pinned maps), and map usage against capacity.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "dp/denied.h"
#include "dp/flowtab.h"
#include "dp/slot_names.h"
#include "gwctl.h"

static const char *const full_names[] = {
	"nn_tc_from_overlay",
	"nn_tc_into_overlay",
	"nn_xdp_from_overlay",
};

struct prog_row {
	const char *hook;
	const char *dir;
	const char *mode;
	uint32_t id;
	char name[32];
	bool pinned_maps; /* the program uses our pinned nn_active */
};

/* Does program @id use the map behind @map_fd? */
static int prog_info(uint32_t id, int map_fd, struct prog_row *r)
{
	struct bpf_prog_info info = {};
	struct bpf_map_info mi = {};
	uint32_t len = sizeof(info), mlen = sizeof(mi), ids[64], i;
	int fd = bpf_prog_get_fd_by_id(id);

	r->id = id;
	if (fd < 0)
		return -errno;
	info.nr_map_ids = 64;
	info.map_ids = (uint64_t)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return -errno;
	}
	close(fd);
	/* The kernel keeps 15 characters of a name: give the known ones back
	 * in full (the XDP one comes from libxdp's BTF lookup already). */
	snprintf(r->name, sizeof(r->name), "%s", info.name);
	for (i = 0; i < sizeof(full_names) / sizeof(full_names[0]); i++)
		if (!strncmp(full_names[i], info.name, BPF_OBJ_NAME_LEN - 1))
			snprintf(r->name, sizeof(r->name), "%s", full_names[i]);
	if (map_fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(map_fd, &mi, &mlen))
		return -errno;
	for (i = 0; i < info.nr_map_ids && i < 64; i++)
		if (ids[i] == mi.id)
			r->pinned_maps = true;
	return 0;
}

static int query_tc(int ifindex, enum bpf_tc_attach_point pt, int map_fd, struct prog_row *r)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = pt);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = NN_TC_HANDLE, .priority = NN_TC_PRIO);

	if (bpf_tc_query(&hook, &q))
		return -ENOENT;
	return prog_info(q.prog_id, map_fd, r);
}

static int query_xdp(int ifindex, int map_fd, struct prog_row *r)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p = NULL;
	int err = -ENOENT;

	if (!mp || libxdp_get_error(mp))
		return -ENOENT;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && strcmp(xdp_program__name(p), "nn_xdp_from_overlay"))
			p = NULL;
	} else {
		while ((p = xdp_multiprog__next_prog(p, mp)))
			if (!strcmp(xdp_program__name(p), "nn_xdp_from_overlay"))
				break;
	}
	if (p) {
		switch (xdp_multiprog__attach_mode(mp)) {
		case XDP_MODE_NATIVE:
			r->mode = "xdp-native";
			break;
		case XDP_MODE_SKB:
			r->mode = "xdp-generic";
			break;
		case XDP_MODE_HW:
			r->mode = "xdp-offload";
			break;
		default:
			r->mode = "xdp";
		}
		err = prog_info(xdp_program__id(p), map_fd, r);
	}
	xdp_multiprog__close(mp);
	return err;
}

bool gw_xdp_attached(const char *iface)
{
	struct prog_row r = {};
	int ifindex = (int)if_nametoindex(iface);

	return ifindex && !query_xdp(ifindex, -1, &r);
}

/* Entries of the live slot (slotted maps) or all entries. */
static long count_entries(int fd, size_t ksz, int slot_kind, uint32_t slot)
{
	uint8_t key[64], next[64];
	void *prev = NULL;
	long n = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		uint32_t s = 0;

		memcpy(key, next, ksz);
		prev = key;
		switch (slot_kind) {
		case NN_M_ADDRS:
			s = ((struct nn_addr_key *)key)->slot;
			break;
		case NN_M_PREFIXES:
			s = ((struct nn_prefix_key *)key)->scope >> 31;
			break;
		case NN_M_POLICY:
		case NN_M_CELLS4:
			s = ((struct nn_cell_key *)key)->slot;
			break;
		default:
			s = slot;
		}
		n += s == slot;
	}
	return n;
}

static int count_name(uint32_t slot, const struct nn_name *n, void *arg)
{
	(void)slot;
	(void)n;
	(*(long *)arg)++;
	return 0;
}

/* Slots in use of a counter names map (dp/slot_names.h) in *@n. */
static int names_in_use(int fd, long *n)
{
	*n = 0;
	return nn_slot_names_each(fd, count_name, n);
}

static const struct {
	int id;
	size_t ksz;
	bool slotted;
} usage_maps[] = {
	{ NN_M_ADDRS, sizeof(struct nn_addr_key), true },
	{ NN_M_PREFIXES, sizeof(struct nn_prefix_key), true },
	{ NN_M_POLICY, sizeof(struct nn_cell_key), true },
	{ NN_M_CELLS4, sizeof(struct nn_cell_key), true },
	{ NN_M_FLOWS, sizeof(struct nn_flow_key), false },
	{ NN_M_DENIED, sizeof(struct nn_flow_key), false },
	{ NN_M_FRAGS, sizeof(struct nn_frag_key), false },
	{ NN_M_DEV_NAMES, sizeof(uint32_t), false },
	{ NN_M_RULE_NAMES, sizeof(uint32_t), false },
};

#define N_USAGE (sizeof(usage_maps) / sizeof(usage_maps[0]))

#define JS(o, k) json_string_value(json_object_get((o), (k)))
#define JI(o, k) ((long long)json_integer_value(json_object_get((o), (k))))

/* The controller's last error: the newer of its last rejection and its
 * last failed apply, as the first reason given; NULL when none. */
static const char *last_error(json_t *ctl)
{
	json_t *r = json_object_get(ctl, "last_rejection"),
	       *a = json_object_get(ctl, "last_apply_error"), *e;

	if (!json_is_object(a))
		e = r;
	else if (!json_is_object(r))
		e = a;
	else
		e = JI(a, "at_unix") >= JI(r, "at_unix") ? a : r;
	return json_string_value(json_array_get(json_object_get(e, "reasons"), 0));
}

static void print_event(const char *label, json_t *e)
{
	json_t *rs = json_object_get(e, "reasons");
	long long n = (long long)json_array_size(rs) + JI(e, "reasons_not_kept");

	if (!json_is_object(e)) {
		printf("%-13s none\n", label);
		return;
	}
	printf("%-13s ", label);
	if (json_is_integer(json_object_get(e, "generation")))
		printf("generation %lld ", JI(e, "generation"));
	printf("at %s (%s, %s): %s", JS(e, "at") ?: "?", JS(e, "trigger") ?: "?",
	       json_is_true(json_object_get(e, "current")) ? "nothing applied since" :
							     "applied since",
	       json_string_value(json_array_get(rs, 0)) ?: "-");
	if (n > 1)
		printf(" (and %lld more)", n - 1);
	putchar('\n');
}

static void print_wg(json_t *wg)
{
	json_t *lr = json_object_get(wg, "last_reconcile");
	const char *b = JS(wg, "backend") ?: "none", *i = JS(wg, "iface") ?: "?";

	if (!strcmp(b, "none"))
		printf("wireguard     not managed (--wg none)\n");
	else if (json_is_true(json_object_get(wg, "in_sync")))
		printf("wireguard     %s on %s: in sync at the last reconcile (%s), %lld peers\n",
		       b, i, JS(wg, "checked_at"), JI(wg, "peers"));
	else if (json_is_object(lr))
		printf("wireguard     %s on %s: the last reconcile (%s) %s: peers +%lld -%lld ~%lld, "
		       "allowed_ips repaired %lld, keys rotated %lld\n",
		       b, i, JS(wg, "checked_at"),
		       JS(wg, "error") ? "failed" : "found differences and repaired them",
		       JI(lr, "peers_added"), JI(lr, "peers_removed"), JI(lr, "peers_updated"),
		       JI(lr, "allowed_ips_repaired"), JI(lr, "keys_rotated"));
	else
		printf("wireguard     %s on %s: not reconciled yet%s%s\n", b, i,
		       JS(wg, "error") ? ": " : "", JS(wg, "error") ?: "");
}

/* The gateway's own identity (identity-v1.md), from the status. */
static void print_identity(json_t *id)
{
	json_t *lr = json_object_get(id, "last_rotation"), *le = json_object_get(id, "last_error");

	printf("identity      node %s, %s, wg public key %s", JS(id, "node_id") ?: "-",
	       json_is_true(json_object_get(id, "enrolled")) ? "enrolled" : "not enrolled",
	       JS(id, "wg_public_key") ?: "-");
	if (json_is_integer(json_object_get(id, "key_generation")))
		printf(" (generation %lld)", JI(id, "key_generation"));
	printf("\n");
	if (JS(id, "certificate_expires_at"))
		printf("certificate   expires %s\n", JS(id, "certificate_expires_at"));
	if (json_is_true(json_object_get(id, "pending_rotation")))
		printf("key rotation  pending (wg.key.next on disk)\n");
	if (json_is_object(lr))
		printf("key rotation  last %s (%s, %s): %s\n", JS(lr, "result") ?: "?",
		       JS(lr, "trigger") ?: "?", JS(lr, "at") ?: "?", JS(lr, "message") ?: "");
	if (JI(id, "rotation_failures"))
		printf("key rotation  %lld failed\n", JI(id, "rotation_failures"));
	if (json_is_object(le))
		printf("identity err  %s at %s: %s\n", JS(le, "kind") ?: "?", JS(le, "at") ?: "?",
		       JS(le, "message") ?: "");
}

/* What only the controller knows, from GET /v1/status. */
static void print_controller(struct gw *g, json_t *ctl, const char *why)
{
	json_t *cp = json_object_get(ctl, "control_plane"), *sync = json_object_get(ctl, "sync"),
	       *id = json_object_get(ctl, "identity"), *errs = json_object_get(cp, "errors_total"),
	       *le = json_object_get(cp, "last_error"), *v;
	const char *k;
	bool any = false;

	if (!ctl) {
		printf("controller    not reachable (%s): showing the pinned maps alone\n", why);
		printf("last error    unknown (not recorded in the pinned maps)\n\n");
		return;
	}
	printf("controller    running (pid %lld, control socket %s)\n", JI(ctl, "pid"),
	       g->ctl_sock);
	if (JS(cp, "url"))
		printf("control plane %s %s\n", JS(cp, "state") ?: "?", JS(cp, "url"));
	else
		printf("source        file %s\n", JS(cp, "file") ?: "?");
	if (json_is_integer(json_object_get(sync, "seconds_since_last_sync")))
		printf("last sync     %s (%llds ago), generation %lld\n", JS(sync, "last_sync_at"),
		       JI(sync, "seconds_since_last_sync"), JI(sync, "applied_generation"));
	else
		printf("last sync     never, generation %lld\n", JI(sync, "applied_generation"));
	print_event("last rejected", json_object_get(ctl, "last_rejection"));
	print_event("apply error", json_object_get(ctl, "last_apply_error"));
	print_wg(json_object_get(ctl, "wg"));
	print_identity(id);
	printf("cp errors    ");
	json_object_foreach(errs, k, v)
	{
		if (!json_integer_value(v))
			continue;
		printf(" %s=%lld", k, (long long)json_integer_value(v));
		any = true;
	}
	if (json_is_object(le))
		printf(" (last: %s at %s)", JS(le, "message") ?: "?", JS(le, "at") ?: "?");
	if (!any)
		printf(" none");
	printf("\n\n");
}

static int status_run(struct gw *g, void *state, int argc, char **argv)
{
	static const char *const map_head[] = { "MAP", "ENTRIES", "CAPACITY", "USE" };
	static const char *const prog_head[] = { "IFACE",   "HOOK", "DIRECTION",
						 "PROGRAM", "ID",   "MAPS" };
	struct prog_row rows[3] = {
		{ .hook = "tc-ingress", .dir = "from-overlay", .mode = "tc" },
		{ .hook = "xdp", .dir = "from-overlay", .mode = "xdp" },
		{ .hook = "tc-egress", .dir = "into-overlay", .mode = "tc" },
	};
	bool found[3] = { false };
	long used[N_USAGE];
	uint32_t cap[N_USAGE], epoch, zero = 0;
	struct nn_meta meta = {};
	int ifindex, i, err;
	char when[48];
	json_t *root, *progs, *maps, *ctl = NULL, *cp;
	char why[1024] = "";
	long status = 0;

	(void)state;
	(void)argv;
	if (argc)
		return gw_err(g, GW_USAGE, "status takes no arguments");
	/* The controller first: what it knows is not in the maps. Any failure
	 * to ask it leaves the maps, which are enough to answer the rest. */
	err = gw_ctl_call(g, "GET", "/v1/status", NULL, &status, &ctl, why, sizeof(why));
	if (!err && status != 200) {
		snprintf(why, sizeof(why), "control socket %.500s: HTTP %ld: %.300s", g->ctl_sock,
			 status, JS(ctl, "error") ?: "?");
		err = -EPROTO;
	}
	if (err) {
		json_decref(ctl);
		ctl = NULL;
	}
	err = gw_pins_open(g);
	if (err) {
		json_decref(ctl);
		return err;
	}
	if (gw_live_epoch(g, &epoch) || bpf_map_lookup_elem(g->fd[NN_M_META], &zero, &meta))
		return gw_err(g, GW_ERR, "couldn't read %s/nn_active or nn_meta: %s", g->pin_dir,
			      strerror(errno));
	ifindex = (int)if_nametoindex(g->iface);
	if (ifindex) {
		found[0] = !query_tc(ifindex, BPF_TC_INGRESS, g->fd[NN_M_ACTIVE], &rows[0]);
		found[1] = !query_xdp(ifindex, g->fd[NN_M_ACTIVE], &rows[1]);
		found[2] = !query_tc(ifindex, BPF_TC_EGRESS, g->fd[NN_M_ACTIVE], &rows[2]);
	}
	for (i = 0; i < (int)N_USAGE; i++) {
		uint32_t max = 0;

		gw_map_max_entries(g->fd[usage_maps[i].id], &max);
		cap[i] = usage_maps[i].slotted ? max / 2 : max;
		if (usage_maps[i].id == NN_M_FLOWS) {
			uint64_t n = 0;

			cap[i] = (uint32_t)nn_flow_capacity(max);
			nn_flow_count(g->fd[NN_M_FLOWS], &n);
			used[i] = (long)n;
			continue;
		}
		if (usage_maps[i].id == NN_M_DENIED) {
			uint64_t n = 0;

			cap[i] = (uint32_t)nn_denied_capacity(max, libbpf_num_possible_cpus());
			nn_denied_count(g->fd[NN_M_DENIED], g->fd[NN_M_DENIED_TAGS], epoch, &n);
			used[i] = (long)n;
			continue;
		}
		if (usage_maps[i].id == NN_M_DEV_NAMES || usage_maps[i].id == NN_M_RULE_NAMES) {
			/* Arrays by slot: the slots in use, not every entry. */
			int err = names_in_use(g->fd[usage_maps[i].id], &used[i]);

			if (err)
				return gw_err(g, GW_ERR, "couldn't read %s/%s: %s%s", g->pin_dir,
					      nn_map_names[usage_maps[i].id], strerror(-err),
					      err == -EPROTO ?
						      " (an older version's names map: run "
						      "nanami-gatewayd --detach once, then start "
						      "this version)" :
						      "");
			continue;
		}
		used[i] = count_entries(g->fd[usage_maps[i].id], usage_maps[i].ksz,
					usage_maps[i].slotted ? usage_maps[i].id : -1,
					NN_SLOT(epoch));
	}
	if (meta.applied_unix_ns)
		gw_fmt_time(meta.applied_unix_ns, when, sizeof(when));
	else
		snprintf(when, sizeof(when), "never");

	if (g->json) {
		progs = json_array();
		for (i = 0; i < 3; i++)
			if (found[i])
				json_array_append_new(
					progs,
					json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:b}", "iface",
						  g->iface, "hook", rows[i].hook, "mode",
						  rows[i].mode, "direction", rows[i].dir, "name",
						  rows[i].name, "id", (int)rows[i].id,
						  "pinned_maps", rows[i].pinned_maps));
		maps = json_object();
		for (i = 0; i < (int)N_USAGE; i++)
			json_object_set_new(maps, nn_map_names[usage_maps[i].id],
					    json_pack("{s:I,s:I}", "entries", (json_int_t)used[i],
						      "capacity", (json_int_t)cap[i]));
		cp = json_object_get(ctl, "control_plane");
		root = json_pack("{s:s,s:s,s:I,s:o,s:I,s:i,s:i,s:{s:i,s:i,s:i,s:i},s:o,s:o,s:b,"
				 "s:o,s:o,s:s,s:s,s:o}",
				 "iface", g->iface, "pin_dir", g->pin_dir, "generation",
				 (json_int_t)meta.generation, "applied_at",
				 meta.applied_unix_ns ? json_string(when) : json_null(),
				 "applied_unix_ns", (json_int_t)meta.applied_unix_ns, "epoch",
				 (int)epoch, "live_slot", (int)NN_SLOT(epoch), "applied", "devices",
				 (int)meta.devices, "rules", (int)meta.rules, "cells",
				 (int)meta.cells, "prefixes", (int)meta.prefixes, "programs", progs,
				 "maps", maps, "interface_present", ifindex != 0,
				 /* Only the controller knows these: null without it,
				  * so that scripts can rely on the keys. */
				 "source", gw_json_str_or_null(JS(cp, "url") ?: JS(cp, "file")),
				 "last_error", gw_json_str_or_null(ctl ? last_error(ctl) : NULL),
				 "via", ctl ? "control_socket" : "pinned_maps", "control_socket",
				 g->ctl_sock, "controller", ctl ? json_incref(ctl) : json_null());
		if (root && !ctl)
			json_object_set_new(root, "fallback_reason", json_string(why));
		json_decref(ctl);
		gw_json_print(root);
		return GW_OK;
	}

	printf("interface     %s%s\n", g->iface, ifindex ? "" : " (not present)");
	printf("pin dir       %s\n", g->pin_dir);
	printf("generation    %llu (applied %s)\n", (unsigned long long)meta.generation, when);
	printf("epoch         %u (live slot %u)%s\n", epoch, NN_SLOT(epoch),
	       epoch ? "" : ": nothing applied, everything from the overlay drops as spoof");
	printf("applied       %u devices/nodes, %u rules, %u cells, %u prefixes\n", meta.devices,
	       meta.rules, meta.cells, meta.prefixes);
	print_controller(g, ctl, why);
	json_decref(ctl);
	{
		struct gw_table t;

		gw_table_init(&t, prog_head, 6);
		for (i = 0; i < 3; i++) {
			char id[16];

			if (!found[i])
				continue;
			snprintf(id, sizeof(id), "%u", rows[i].id);
			gw_table_row(&t, (const char *[]){
						 g->iface, i == 1 ? rows[i].mode : rows[i].hook,
						 rows[i].dir, rows[i].name, id,
						 rows[i].pinned_maps ? "pinned" : "OTHER" });
		}
		if (t.rows)
			gw_table_print(&t);
		else
			printf("no nanami programs attached to %s\n", g->iface);
		gw_table_free(&t);
		putchar('\n');
		gw_table_init(&t, map_head, 4);
		for (i = 0; i < (int)N_USAGE; i++) {
			char e[24], c[24], u[16];

			snprintf(e, sizeof(e), "%ld", used[i]);
			snprintf(c, sizeof(c), "%u%s", cap[i],
				 usage_maps[i].slotted ? "/slot" : "");
			snprintf(u, sizeof(u), "%.1f%%", cap[i] ? 100.0 * used[i] / cap[i] : 0.0);
			gw_table_row(&t,
				     (const char *[]){ nn_map_names[usage_maps[i].id], e, c, u });
		}
		gw_table_print(&t);
		gw_table_free(&t);
	}
	return GW_OK;
}

const struct gw_cmd gw_cmd_status = {
	.name = "status",
	.summary = "applied generation, attached programs, map usage against capacity",
	.run = status_run,
};
