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
			s = ((struct nn_cell_key *)key)->slot;
			break;
		default:
			s = slot;
		}
		n += s == slot;
	}
	return n;
}

static const struct {
	int id;
	size_t ksz;
	bool slotted;
} usage_maps[] = {
	{ NN_M_ADDRS, sizeof(struct nn_addr_key), true },
	{ NN_M_PREFIXES, sizeof(struct nn_prefix_key), true },
	{ NN_M_POLICY, sizeof(struct nn_cell_key), true },
	{ NN_M_FLOWS, sizeof(struct nn_flow_key), false },
	{ NN_M_FRAGS, sizeof(struct nn_frag_key), false },
	{ NN_M_DEV_NAMES, sizeof(uint32_t), false },
	{ NN_M_RULE_NAMES, sizeof(uint32_t), false },
};

#define N_USAGE (sizeof(usage_maps) / sizeof(usage_maps[0]))

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
	json_t *root, *progs, *maps;

	(void)state;
	(void)argv;
	if (argc)
		return gw_err(g, GW_USAGE, "status takes no arguments");
	err = gw_pins_open(g);
	if (err)
		return err;
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
		root = json_pack("{s:s,s:s,s:I,s:o,s:I,s:i,s:i,s:{s:i,s:i,s:i,s:i},s:o,s:o,s:b,"
				 "s:n,s:n}",
				 "iface", g->iface, "pin_dir", g->pin_dir, "generation",
				 (json_int_t)meta.generation, "applied_at",
				 meta.applied_unix_ns ? json_string(when) : json_null(),
				 "applied_unix_ns", (json_int_t)meta.applied_unix_ns, "epoch",
				 (int)epoch, "live_slot", (int)NN_SLOT(epoch), "applied", "devices",
				 (int)meta.devices, "rules", (int)meta.rules, "cells",
				 (int)meta.cells, "prefixes", (int)meta.prefixes, "programs", progs,
				 "maps", maps, "interface_present", ifindex != 0,
				 /* Neither is in the pinned maps yet (no last-error or
				  * source map): null, so scripts can rely on the keys. */
				 "source", "last_error");
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
	printf("last error    unknown (not recorded in the pinned maps)\n\n");
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
