/* SPDX-License-Identifier: GPL-2.0 */
/*
 * underlay.h - the WireGuard guard on the underlay NIC (bpf/underlay_xdp):
 * load it with its maps pinned under <pin_dir>/underlay/, attach it in
 * native XDP through libxdp (so it shares the NIC with other programs),
 * tell it the listen port, detach and unpin.
 */
#ifndef NANAMI_DP_UNDERLAY_H
#define NANAMI_DP_UNDERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanami_abi.h"

enum nn_ul_map_id {
	NN_UL_CONFIG, /* nn_wg_config */
	NN_UL_HS,     /* nn_wg_hs */
	NN_UL_DROPS,  /* nn_wg_drops */
	NN_UL_COUNT,
};

extern const char *const nn_ul_map_names[NN_UL_COUNT];

/* Largest hs_rate accepted: keeps the program's refill arithmetic exact. */
#define NN_UL_MAX_HS_RATE 1000000u

struct nn_underlay {
	struct underlay_xdp *skel;
	int map_fd[NN_UL_COUNT];
	char pin_dir[512]; /* "" when nothing is pinned */
	bool adopted;	   /* the maps were already pinned */
};

/* Load the guard; @pin_dir is the overlay's pin directory (the maps go in
 * its "underlay" subdirectory), NULL pins nothing (tests). */
int nn_underlay_load(const char *pin_dir, struct nn_underlay **out);
void nn_underlay_close(struct nn_underlay *u);

/* The loaded program, for BPF_PROG_TEST_RUN. */
int nn_underlay_prog_fd(const struct nn_underlay *u);

/* Write nn_wg_config; *@changed (may be NULL) tells whether it differed.
 * Port 0 turns the guard off (everything passes). */
int nn_underlay_configure(struct nn_underlay *u, uint16_t listen_port, uint32_t hs_rate,
			  uint32_t hs_burst, bool *changed);

/* nn_underlay_configure() with NN_DEF_WG_HS_RATE / NN_DEF_WG_HS_BURST. */
int nn_underlay_set_port(struct nn_underlay *u, uint16_t listen_port, bool *changed);

/* Attach to @ifname in native XDP (SKB mode only when the driver has no
 * native XDP). An attached program equivalent to ours (same code, same
 * maps) stays, so its id does not change; another version is replaced. */
int nn_underlay_attach(struct nn_underlay *u, const char *ifname);

/* Open the guard's pinned drop counters (nn_wg_drops, read them with
 * nn_read_drops()) under <@pin_dir>/underlay: an fd, or -ENOENT when no
 * guard was loaded with this pin directory, or another -errno. */
int nn_underlay_open_drops(const char *pin_dir);

/* Remove the guard from @ifname (NULL: none) and its pins under
 * <pin_dir>/underlay (NULL: none). */
int nn_underlay_detach(const char *ifname, const char *pin_dir);

#endif /* NANAMI_DP_UNDERLAY_H */
