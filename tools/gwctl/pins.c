// SPDX-License-Identifier: GPL-2.0
/*
 * pins.c - open the maps the controller pinned, read counters, and collect
 * the live generation's names (counter slot -> device or rule, tenant and
 * network index -> name) so every command prints names, not indices.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gwctl.h"

int gw_pins_open(struct gw *g)
{
	char path[GW_PATH_MAX + 32];
	size_t i;

	for (i = 0; i < NN_M_COUNT; i++) {
		g->fd[i] = -1;
		if (!nn_map_is_pinned(i))
			continue;
		snprintf(path, sizeof(path), "%s/%s", g->pin_dir, nn_map_names[i]);
		g->fd[i] = bpf_obj_get(path);
		if (g->fd[i] >= 0)
			continue;
		if (errno == ENOENT && i == 0)
			return gw_err(g, GW_ERR,
				      "no pinned maps at %s: the dataplane is not attached "
				      "to %s with this pin directory (attach it with: "
				      "nanami-gatewayd --iface %s --assignments FILE --bpffs %s)",
				      path, g->iface, g->iface, g->pin_dir);
		if (errno == ENOENT)
			return gw_err(
				g, GW_ERR,
				"%s is missing (pins of another version? re-attach "
				"with: nanami-gatewayd --iface %s --assignments FILE --bpffs %s)",
				path, g->iface, g->pin_dir);
		return gw_err(g, GW_ERR, "couldn't open %s: %s%s", path, strerror(errno),
			      errno == EPERM || errno == EACCES ? " (needs root or CAP_BPF)" : "");
	}
	return 0;
}

void gw_pins_close(struct gw *g)
{
	size_t i;

	for (i = 0; i < NN_M_COUNT; i++) {
		if (g->fd[i] >= 0)
			close(g->fd[i]);
		g->fd[i] = -1;
	}
}

int gw_map_max_entries(int fd, uint32_t *max)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*max = info.max_entries;
	return 0;
}

int gw_live_epoch(struct gw *g, uint32_t *epoch)
{
	struct nn_active a = {};
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(g->fd[NN_M_ACTIVE], &zero, &a))
		return -errno;
	*epoch = a.epoch;
	return 0;
}

int gw_ncpus(void)
{
	static int n;

	if (!n)
		n = libbpf_num_possible_cpus();
	return n;
}

int gw_dev_counters(struct gw *g, uint32_t slot, struct gw_dev_counters *out)
{
	_Static_assert(sizeof(struct nn_dev_stats) == sizeof(struct gw_dev_counters),
		       "gw_dev_counters mirrors nn_dev_stats (nn_dev_ctr)");
	return nn_percpu_sum(g->fd[NN_M_DEV_STATS], slot, sizeof(*out) / 8, (uint64_t *)out);
}

json_t *gw_json_dev_counters(const struct gw_dev_counters *d)
{
	return json_pack("{s:{s:I,s:I,s:I},s:{s:I,s:I,s:I}}", "from_overlay", "packets",
			 (json_int_t)d->packets[0], "bytes", (json_int_t)d->bytes[0], "drops",
			 (json_int_t)d->drops[0], "into_overlay", "packets",
			 (json_int_t)d->packets[1], "bytes", (json_int_t)d->bytes[1], "drops",
			 (json_int_t)d->drops[1]);
}

int gw_capacity_from_pins(struct gw *g, struct nn_capacity *cap)
{
	return nn_capacity_from_maps(g->fd, cap);
}

int gw_catalog_load(struct gw *g, struct nn_catalog *c)
{
	int err = nn_catalog_load(g->fd, c);

	if (err)
		return gw_err(g, GW_ERR, "couldn't read the pinned maps under %s: %s", g->pin_dir,
			      strerror(-err));
	return 0;
}
