// SPDX-License-Identifier: GPL-2.0
/* gatewayd.c - file-driven controller loop: read, validate, apply, attach. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "apply.h"
#include "gatewayd.h"
#include "log.h"
#include "policy.h"
#include "underlay.h"

/* A snapshot file larger than this is not read (nn_limits.max_body checks
 * the same bound again inside the parser). */
#define NN_FILE_MAX (64u << 20)

int nn_iface_framing(const char *ifname)
{
	char path[256];
	FILE *f;
	int type = -1;

	snprintf(path, sizeof(path), "/sys/class/net/%s/type", ifname);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fscanf(f, "%d", &type) != 1)
		type = -1;
	fclose(f);
	/* 65534 = ARPHRD_NONE: TUN in L3 mode, which is how wireguard-go and
	 * the kernel's wireguard present wg0. */
	return type == 65534 ? NN_FRAMING_L3 : NN_FRAMING_ETH;
}

static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *b;

	if (!f)
		return -errno;
	b = malloc(cap);
	while (b) {
		size_t r = fread(b + n, 1, cap - n, f);

		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			char *nb = cap >= NN_FILE_MAX ? NULL : realloc(b, cap * 2);

			if (!nb) {
				free(b);
				fclose(f);
				return cap >= NN_FILE_MAX ? -EFBIG : -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (!b)
		return -ENOMEM;
	*buf = b;
	*len = n;
	return 0;
}

static void log_errlist(const struct nn_errlist *e, const char *src)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		nn_log_warn("event=rejected source=%s reason=\"%s\"", src, e->msgs[i]);
}

static uint64_t applied_generation(struct nn_dp *dp, uint32_t *epoch)
{
	struct nn_meta m = {};
	uint32_t zero = 0;

	bpf_map_lookup_elem(dp->map_fd[NN_M_META], &zero, &m);
	nn_live_epoch(dp, epoch);
	return m.generation;
}

/* The guard follows the applied snapshot's listen port. */
static int apply_underlay(struct nn_underlay *u, const struct nn_policy *p)
{
	bool changed;
	int err;

	if (!u)
		return 0;
	err = nn_underlay_set_port(u, p->gw.listen_port, &changed);
	if (err)
		return err;
	nn_log_info("event=underlay_config listen_port=%u hs_rate=%u hs_burst=%u changed=%d",
		    p->gw.listen_port, NN_DEF_WG_HS_RATE, NN_DEF_WG_HS_BURST, changed);
	return 0;
}

/* One read-validate-apply round. 0 on success, -EINVAL when the snapshot is
 * rejected as a whole, other -errno for apply failures. */
static int apply_file(struct nn_dp *dp, struct nn_underlay *u, const struct nn_gw_opts *o)
{
	struct nn_errlist errs = {};
	struct nn_apply_result res;
	struct nn_policy *p = NULL;
	struct nn_limits lim;
	uint64_t gen;
	uint32_t epoch;
	size_t len = 0;
	char *buf = NULL;
	int err;

	err = read_file(o->assignments, &buf, &len);
	if (err) {
		nn_log_err("event=read source=%s error=\"%s\"", o->assignments, strerror(-err));
		return err;
	}
	nn_limits_default(&lim);
	lim.max_devices = o->cap.max_devices;
	lim.max_rules = o->cap.max_rules;
	lim.max_prefixes = o->cap.max_prefixes;
	lim.max_nodes = o->cap.max_nodes;
	err = nn_policy_parse(buf, len, o->node_id, &lim, &p, &errs);
	free(buf);
	log_errlist(&errs, o->assignments);
	if (err) {
		nn_log_err("event=snapshot_rejected source=%s reason=\"%s\"", o->assignments,
			   errs.n ? errs.msgs[errs.n - 1] : strerror(-err));
		nn_errlist_free(&errs);
		return -EINVAL;
	}
	gen = applied_generation(dp, &epoch);
	if (epoch && p->generation < gen) {
		nn_log_err("event=snapshot_rejected source=%s reason=\"generation %llu is older "
			   "than the applied generation %llu\"", o->assignments,
			   (unsigned long long)p->generation, (unsigned long long)gen);
		nn_policy_free(p);
		nn_errlist_free(&errs);
		return -EINVAL;
	}
	nn_errlist_free(&errs);
	err = nn_apply(dp, p, &res, &errs);
	log_errlist(&errs, o->assignments);
	if (err) {
		nn_log_err("event=apply_failed source=%s generation=%llu error=\"%s\"",
			   o->assignments, (unsigned long long)p->generation, strerror(-err));
	} else {
		nn_log_info("event=applied source=%s generation=%llu epoch=%u flipped=%d "
			    "writes=%zu devices=%zu rules=%zu addrs=%zu prefixes=%zu cells=%zu",
			    o->assignments, (unsigned long long)p->generation, res.epoch,
			    res.flipped, res.writes, p->n_devices, p->n_rules, res.addrs,
			    res.prefixes, res.cells);
		err = apply_underlay(u, p);
	}
	nn_errlist_free(&errs);
	nn_policy_free(p);
	return err;
}

static int file_changed(const char *path, struct stat *last)
{
	struct stat st;

	if (stat(path, &st))
		return 0;
	if (st.st_mtim.tv_sec == last->st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == last->st_mtim.tv_nsec && st.st_size == last->st_size &&
	    st.st_ino == last->st_ino)
		return 0;
	*last = st;
	return 1;
}

int nn_gw_run(struct nn_gw_opts *o, volatile sig_atomic_t *stop)
{
	struct nn_load_opts lo = {
		.pin_dir = o->pin_dir,
		.hook = o->hook,
		.cap = o->cap,
	};
	struct timespec tick = { 0, 200 * 1000 * 1000 };
	struct nn_underlay *u = NULL;
	struct nn_dp *dp = NULL;
	struct stat last = {};
	bool attached = false;
	int err;

	if (o->framing < 0) {
		err = nn_iface_framing(o->iface);
		if (err < 0) {
			nn_log_err("event=start iface=%s error=\"no such interface\"", o->iface);
			return err;
		}
		o->framing = err;
	}
	lo.framing = o->framing;
	err = nn_dp_load(&lo, &dp);
	if (err)
		return err;
	nn_log_info("event=loaded iface=%s pin_dir=%s framing=%s hook=%s adopted=%d", o->iface,
		    o->pin_dir, o->framing == NN_FRAMING_L3 ? "l3" : "eth",
		    o->hook == NN_HOOK_XDP ? "xdp" : "tc", dp->adopted);
	if (o->underlay) {
		err = nn_underlay_load(o->pin_dir, &u);
		if (err) {
			nn_dp_close(dp);
			return err;
		}
	}
	file_changed(o->assignments, &last);
	err = apply_file(dp, u, o);
	/* --once attaches only what applied; the daemon attaches regardless,
	 * so that with nothing applied yet everything is denied (epoch 0). */
	if (!err || !o->once) {
		int aerr = nn_dp_attach(dp, o->iface);

		if (!aerr && u)
			aerr = nn_underlay_attach(u, o->underlay);

		attached = !aerr;
		err = err ?: aerr;
	}
	while (!o->once && attached && !*stop) {
		nanosleep(&tick, NULL);
		if (file_changed(o->assignments, &last))
			apply_file(dp, u, o);
		err = 0;
	}
	if (!o->once)
		nn_log_info("event=stopping iface=%s note=\"dataplane stays attached and "
			    "enforcing\"", o->iface);
	nn_underlay_close(u);
	nn_dp_close(dp);
	return err;
}

int nn_gw_detach(const struct nn_gw_opts *o)
{
	int err = 0;

	/* The underlay pins live inside the pin directory: they go first so
	 * that the directory itself can go too. */
	if (o->underlay) {
		err = nn_underlay_detach(o->underlay, o->pin_dir);
		if (err)
			nn_log_err("event=underlay_detach iface=%s pin_dir=%s error=\"%s\"",
				   o->underlay, o->pin_dir, strerror(-err));
	}
	if (!err) {
		err = nn_dp_detach(o->iface, o->pin_dir);
		if (err)
			nn_log_err("event=detach iface=%s pin_dir=%s error=\"%s\"", o->iface,
				   o->pin_dir, strerror(-err));
	}
	if (!err)
		nn_log_info("event=detached iface=%s underlay=%s pin_dir=%s", o->iface,
			    o->underlay ? o->underlay : "-", o->pin_dir);
	return err;
}
