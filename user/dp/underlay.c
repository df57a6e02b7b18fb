// SPDX-License-Identifier: GPL-2.0
/*
 * underlay.c - load, configure, attach and detach the underlay WireGuard
 * guard (see underlay.h).
 *
 * Like the policy programs (loader.c), the guard's maps are pinned and
 * adopted, so a restarted controller keeps the handshake buckets and the
 * drop counters, and an attached program that is equivalent to the one just
 * loaded (same instructions, same maps) is kept: its id stays the same.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "dp/loader.h"
#include "dp/underlay.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "underlay_xdp.skel.h"

#define NN_UL_PROG "nn_xdp_underlay"

const char *const nn_ul_map_names[NN_UL_COUNT] = {
	[NN_UL_CONFIG] = "nn_wg_config",
	[NN_UL_HS] = "nn_wg_hs",
	[NN_UL_DROPS] = "nn_wg_drops",
};

static int load_underlay(void *skel)
{
	return underlay_xdp__load(skel);
}

int nn_underlay_load(const char *pin_dir, struct nn_underlay **out)
{
	struct nn_underlay *u = calloc(1, sizeof(*u));
	char path[600];
	int err, i;

	if (!u)
		return -ENOMEM;
	u->skel = underlay_xdp__open();
	if (!u->skel) {
		err = -errno;
		nn_log_err("event=underlay_load error=\"couldn't open the BPF object: %s\"",
			   strerror(-err));
		goto out;
	}
	if (pin_dir) {
		if (snprintf(u->pin_dir, sizeof(u->pin_dir), "%s/%s", pin_dir,
			     NN_UNDERLAY_SUBDIR) >= (int)sizeof(u->pin_dir)) {
			err = -ENAMETOOLONG;
			goto out;
		}
		err = nn_mkdir_p(u->pin_dir);
		if (err) {
			nn_log_err("event=underlay_load pin_dir=%s error=\"couldn't create: %s\"",
				   u->pin_dir, strerror(-err));
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s", u->pin_dir, nn_ul_map_names[NN_UL_CONFIG]);
		u->adopted = access(path, F_OK) == 0;
		for (i = 0; i < NN_UL_COUNT; i++) {
			struct bpf_map *m =
				bpf_object__find_map_by_name(u->skel->obj, nn_ul_map_names[i]);

			snprintf(path, sizeof(path), "%s/%s", u->pin_dir, nn_ul_map_names[i]);
			err = m ? bpf_map__set_pin_path(m, path) : -ENOENT;
			if (err)
				goto out;
		}
	}
	/* A refusal is reported as what it is (the verifier's, or a pinned
	 * map that does not fit), like the policy programs'. */
	err = nn_bpf_load_reported("underlay", u->pin_dir[0] ? u->pin_dir : NULL, load_underlay,
				   u->skel, NULL, 0);
	if (err)
		goto out;
	u->map_fd[NN_UL_CONFIG] = bpf_map__fd(u->skel->maps.nn_wg_config);
	u->map_fd[NN_UL_HS] = bpf_map__fd(u->skel->maps.nn_wg_hs);
	u->map_fd[NN_UL_DROPS] = bpf_map__fd(u->skel->maps.nn_wg_drops);
	*out = u;
	return 0;
out:
	nn_underlay_close(u);
	return err;
}

void nn_underlay_close(struct nn_underlay *u)
{
	if (!u)
		return;
	underlay_xdp__destroy(u->skel);
	free(u);
}

int nn_underlay_open_drops(const char *pin_dir)
{
	char path[600];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s/%s", pin_dir, NN_UNDERLAY_SUBDIR,
		     nn_ul_map_names[NN_UL_DROPS]) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int nn_underlay_prog_fd(const struct nn_underlay *u)
{
	return bpf_program__fd(u->skel->progs.nn_xdp_underlay);
}

int nn_underlay_configure(struct nn_underlay *u, uint16_t listen_port, uint32_t hs_rate,
			  uint32_t hs_burst, bool *changed)
{
	struct nn_wg_config want = {
		.listen_port = listen_port,
		.hs_rate = hs_rate,
		.hs_burst = hs_burst,
	}, cur = {};
	uint32_t zero = 0;
	int err;

	if (changed)
		*changed = false;
	if (hs_rate > NN_UL_MAX_HS_RATE)
		return -ERANGE;
	if (!bpf_map_lookup_elem(u->map_fd[NN_UL_CONFIG], &zero, &cur) &&
	    !memcmp(&cur, &want, sizeof(want)))
		return 0;
	if (bpf_map_update_elem(u->map_fd[NN_UL_CONFIG], &zero, &want, BPF_ANY)) {
		err = -errno;
		nn_log_err("event=underlay_config error=\"couldn't write nn_wg_config: %s\"",
			   strerror(-err));
		return err;
	}
	if (changed)
		*changed = true;
	return 0;
}

int nn_underlay_set_port(struct nn_underlay *u, uint16_t listen_port, bool *changed)
{
	return nn_underlay_configure(u, listen_port, NN_DEF_WG_HS_RATE, NN_DEF_WG_HS_BURST,
				     changed);
}

/* Instruction tag and the ids of the guard's maps used by @prog_fd. */
static int prog_identity(int prog_fd, uint8_t tag[8], uint32_t map_ids[NN_UL_COUNT])
{
	struct bpf_prog_info info = {};
	uint32_t ilen = sizeof(info), ids[16], i, k;

	info.nr_map_ids = 16;
	info.map_ids = (uint64_t)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &ilen))
		return -errno;
	memcpy(tag, info.tag, 8);
	memset(map_ids, 0, NN_UL_COUNT * sizeof(*map_ids));
	for (i = 0; i < info.nr_map_ids && i < 16; i++) {
		struct bpf_map_info mi = {};
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen))
			for (k = 0; k < NN_UL_COUNT; k++)
				if (!strcmp(mi.name, nn_ul_map_names[k]))
					map_ids[k] = mi.id;
		close(fd);
	}
	return 0;
}

/* Is the attached program @id the same code over the same maps as @fd?
 * (The tag ignores map references, so the map ids are compared too.) */
static bool prog_equivalent(uint32_t id, int fd)
{
	uint32_t m1[NN_UL_COUNT], m2[NN_UL_COUNT];
	uint8_t t1[8], t2[8];
	int efd = bpf_prog_get_fd_by_id(id);
	bool same;

	if (efd < 0)
		return false;
	same = !prog_identity(efd, t1, m1) && !prog_identity(fd, t2, m2) && !memcmp(t1, t2, 8) &&
	       !memcmp(m1, m2, sizeof(m1));
	close(efd);
	return same;
}

static struct xdp_program *find_ours(struct xdp_multiprog *mp)
{
	struct xdp_program *p = NULL;

	if (!mp || libxdp_get_error(mp))
		return NULL;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		return p && !strcmp(xdp_program__name(p), NN_UL_PROG) ? p : NULL;
	}
	while ((p = xdp_multiprog__next_prog(p, mp)))
		if (!strcmp(xdp_program__name(p), NN_UL_PROG))
			return p;
	return NULL;
}

static const char *mode_name(enum xdp_attach_mode m)
{
	switch (m) {
	case XDP_MODE_NATIVE:
		return "native";
	case XDP_MODE_SKB:
		return "skb";
	case XDP_MODE_HW:
		return "hw";
	default:
		return "unspec";
	}
}

/* Load a copy of the program over our maps and attach it through libxdp:
 * native first, SKB mode only when the driver cannot do native. */
static int attach_new(struct nn_underlay *u, int ifindex, const char *ifname,
		      enum xdp_attach_mode *mode)
{
	struct underlay_xdp *x = underlay_xdp__open();
	struct xdp_program *prog = NULL;
	int err, i;

	if (!x)
		return -errno;
	for (i = 0; i < NN_UL_COUNT; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(x->obj, nn_ul_map_names[i]);

		err = m ? bpf_map__reuse_fd(m, u->map_fd[i]) : -ENOENT;
		if (err)
			goto out;
	}
	prog = xdp_program__from_bpf_obj(x->obj, "xdp");
	err = libxdp_get_error(prog);
	if (err) {
		prog = NULL;
		goto out;
	}
	*mode = XDP_MODE_NATIVE;
	err = xdp_program__attach(prog, ifindex, XDP_MODE_NATIVE, 0);
	if (err == -EOPNOTSUPP) {
		nn_log_warn("event=underlay_native_unsupported iface=%s fallback=skb "
			    "note=\"the guard runs after the skb is built\"",
			    ifname);
		*mode = XDP_MODE_SKB;
		err = xdp_program__attach(prog, ifindex, XDP_MODE_SKB, 0);
	}
out:
	/* The attached program holds its own references; our handles go. */
	if (prog)
		xdp_program__close(prog);
	underlay_xdp__destroy(x);
	return err;
}

int nn_underlay_attach(struct nn_underlay *u, const char *ifname)
{
	int ifindex = if_nametoindex(ifname), err = 0;
	struct xdp_multiprog *mp;
	struct xdp_program *old;
	enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
	bool kept = false;

	if (!ifindex) {
		nn_log_err("event=underlay_attach iface=%s error=\"no such interface\"", ifname);
		return -ENODEV;
	}
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	old = find_ours(mp);
	if (old && prog_equivalent(xdp_program__id(old), nn_underlay_prog_fd(u))) {
		kept = true;
		mode = xdp_multiprog__attach_mode(mp);
	} else {
		err = attach_new(u, ifindex, ifname, &mode);
		/* A different version of ours was there: the new one runs now. */
		if (!err && old)
			err = xdp_program__detach(old, ifindex, xdp_multiprog__attach_mode(mp), 0);
	}
	if (mp && !libxdp_get_error(mp))
		xdp_multiprog__close(mp);
	if (err) {
		nn_log_err("event=underlay_attach iface=%s error=\"couldn't attach: %s\"", ifname,
			   strerror(-err));
		return err;
	}
	nn_log_info("event=underlay_attached iface=%s mode=%s kept=%d pin_dir=%s", ifname,
		    mode_name(mode), kept, u->pin_dir[0] ? u->pin_dir : "-");
	return 0;
}

int nn_underlay_detach(const char *ifname, const char *pin_dir)
{
	int ifindex = ifname ? (int)if_nametoindex(ifname) : 0, err = 0, i;
	char dir[512], path[600];

	if (ifindex) {
		struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
		struct xdp_program *ours = find_ours(mp);

		if (ours)
			err = xdp_program__detach(ours, ifindex, xdp_multiprog__attach_mode(mp), 0);
		if (mp && !libxdp_get_error(mp))
			xdp_multiprog__close(mp);
	}
	if (!pin_dir)
		return err;
	snprintf(dir, sizeof(dir), "%s/%s", pin_dir, NN_UNDERLAY_SUBDIR);
	for (i = 0; i < NN_UL_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, nn_ul_map_names[i]);
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	if (rmdir(dir) && errno != ENOENT && !err)
		err = -errno;
	return err;
}
