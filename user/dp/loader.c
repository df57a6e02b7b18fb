// SPDX-License-Identifier: GPL-2.0
/*
 * loader.c - load the three policy programs with one shared set of maps,
 * pin/adopt the maps, attach and detach.
 *
 * Adoption: maps are pinned by name under the pin directory. A new load
 * finds them there and reuses them (libbpf's pin reuse), so a restarted
 * controller never empties the dataplane. Attachment keeps a program that
 * is already attached when it is equivalent to the freshly loaded one (same
 * instruction tag, same maps, same load-time knobs): program ids stay the
 * same across re-applies and restarts.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "dp/cache.h"
#include "dp/counters.h"
#include "dp/flowtab.h"
#include "dp/loader.h"
#include "dp/realtime.h"
#include "from_overlay_tc.skel.h"
#include "from_overlay_xdp.skel.h"
#include "into_overlay_tc.skel.h"
#include "lib/fsutil.h"
#include "lib/log.h"

const char *const nn_map_names[NN_M_COUNT] = {
	[NN_M_ACTIVE] = "nn_active",
	[NN_M_ADDRS] = "nn_addrs",
	[NN_M_PREFIXES] = "nn_prefixes",
	[NN_M_PFX_HASH] = "nn_pfx_hash",
	[NN_M_PFX_LENS] = "nn_pfx_lens",
	[NN_M_POLICY] = "nn_policy",
	[NN_M_RULES] = "nn_rules",
	[NN_M_FLOWS] = "nn_flows",
	[NN_M_FRAGS] = "nn_frags",
	[NN_M_CONFIG] = "nn_config",
	[NN_M_META] = "nn_meta",
	[NN_M_DROPS] = "nn_drops",
	[NN_M_DEV_STATS] = "nn_dev_ctr",
	[NN_M_RULE_HITS] = "nn_rule_ctr",
	[NN_M_DEV_NAMES] = "nn_dev_names",
	[NN_M_RULE_NAMES] = "nn_rule_names",
	[NN_M_EVENTS] = "nn_events",
	[NN_M_EVRL] = "nn_evrl",
	[NN_M_LAST] = "nn_last",
	[NN_M_SCRATCH] = "nn_scratch",
	[NN_M_LOCAL] = "nn_local",
	[NN_M_FLOWLIM] = "nn_flowlim",
	[NN_M_FLOWRL] = "nn_flowrl",
	[NN_M_CELLS4] = "nn_cells4",
	[NN_M_SRCF] = "nn_srcf",
	[NN_M_DENIED] = "nn_denied",	       /* a cache per CPU: pinned, sized by the loader */
	[NN_M_DENIED_TAGS] = "nn_denied_tags", /* its tags: pinned and sized with it */
};

bool nn_map_is_pinned(enum nn_map_id id)
{
	/* Per-CPU working state: a new load starts it empty. */
	return id != NN_M_LAST && id != NN_M_SCRATCH;
}

void nn_capacity_default(struct nn_capacity *cap)
{
	cap->max_devices = NN_DEF_MAX_DEVICES;
	cap->max_nodes = 1024;
	cap->max_rules = NN_DEF_MAX_RULES;
	cap->max_prefixes = NN_DEF_MAX_PREFIXES;
	cap->max_cells = NN_DEF_MAX_CELLS;
	cap->max_flows = NN_DEF_MAX_FLOWS;
	cap->max_frags = NN_DEF_MAX_FRAGS;
	cap->max_denied = NN_DEF_MAX_DENIED;
}

void nn_default_pin_dir(const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", NN_PIN_ROOT, ifname);
}

/* The pin directory must be on a bpffs; mount one at /sys/fs/bpf if the
 * system has none there yet (fresh namespaces, minimal hosts). */
static int ensure_bpffs(const char *pin_dir)
{
	struct statfs st;

	if (!statfs("/sys/fs/bpf", &st) && st.f_type != BPF_FS_MAGIC &&
	    !strncmp(pin_dir, "/sys/fs/bpf/", 12)) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			int err = -errno; /* before logging can change it */

			nn_log_err("event=bpffs_mount path=/sys/fs/bpf error=\"%s\"",
				   strerror(-err));
			return err;
		}
	}
	return nn_mkdir_p(pin_dir);
}

/* Sizes every map for @c; the counter arrays hold one region per possible
 * CPU (nanami_abi.h "Counter layout"). -E2BIG when they would not fit. */
static int set_sizes(struct bpf_object *obj, const struct nn_capacity *c)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t dev_ctr, rule_ctr, denied;
	size_t i;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	dev_ctr = (uint64_t)ncpu * nn_dev_slots(c);
	rule_ctr = (uint64_t)ncpu * c->max_rules;
	/* A region per possible CPU (nanami_abi.h "Denied flows"); an array
	 * needs one element even when nothing is remembered. */
	denied = (uint64_t)ncpu * nn_denied_sets_for(c, ncpu);
	if (dev_ctr > UINT32_MAX || rule_ctr > UINT32_MAX || denied > UINT32_MAX)
		return -E2BIG;

	struct {
		const char *name;
		uint32_t n;
	} sz[] = {
		{ "nn_addrs", 2 * (2 * c->max_devices + c->max_nodes + 2) },
		{ "nn_prefixes", 2 * c->max_prefixes },
		{ "nn_pfx_hash", 2 * c->max_prefixes },
		{ "nn_pfx_lens", 2 * c->max_prefixes },
		{ "nn_cells4", 2 * c->max_cells },
		{ "nn_policy", 2 * c->max_cells },
		{ "nn_rules", 2 * c->max_rules },
		{ "nn_flows", nn_flow_buckets_for(c) + 1 },
		{ "nn_frags", c->max_frags },
		{ "nn_denied", denied ? (uint32_t)denied : 1 },
		{ "nn_denied_tags", denied ? (uint32_t)nn_denied_lines(denied, ncpu) : 1 },
		{ "nn_dev_ctr", (uint32_t)dev_ctr },
		{ "nn_flowrl", nn_dev_slots(c) },
		{ "nn_rule_ctr", (uint32_t)rule_ctr },
		{ "nn_dev_names", nn_dev_slots(c) },
		{ "nn_rule_names", c->max_rules },
		{ "nn_srcf", 2 * (nn_srcf_lines_for(c) + 1) },
	};

	for (i = 0; i < sizeof(sz) / sizeof(sz[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, sz[i].name);

		if (m)
			bpf_map__set_max_entries(m, sz[i].n);
	}
	return 0;
}

static int max_entries(int fd, uint32_t *n)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*n = info.max_entries;
	return 0;
}

/* The inverse of set_sizes(): nn_addrs = 2 * (2 * devices + nodes + 2) and
 * nn_dev_ctr's stride = devices + nodes + 1, so devices = nn_addrs / 2 -
 * stride - 1; the two-slot maps hold twice their capacity. */
int nn_capacity_from_maps(const int *map_fd, struct nn_capacity *c)
{
	uint32_t addrs = 0, dev_stats = 0, rules = 0, rule_hits = 0, prefixes = 0, cells = 0;
	int err;

	err = max_entries(map_fd[NN_M_ADDRS], &addrs)		       ?:
		      nn_ctr_slots(map_fd[NN_M_DEV_STATS], &dev_stats) ?:
		      max_entries(map_fd[NN_M_RULES], &rules)	       ?:
		      nn_ctr_slots(map_fd[NN_M_RULE_HITS], &rule_hits) ?:
		      max_entries(map_fd[NN_M_PREFIXES], &prefixes)    ?:
		      max_entries(map_fd[NN_M_POLICY], &cells)	       ?:
		      max_entries(map_fd[NN_M_FLOWS], &c->max_flows)   ?:
		      max_entries(map_fd[NN_M_FRAGS], &c->max_frags);
	if (err)
		return err;
	if (!nn_flow_capacity(c->max_flows))
		return -EINVAL;
	c->max_flows = (uint32_t)nn_flow_capacity(c->max_flows);
	/* Pinned by a controller before nn_denied: the load creates it. */
	c->max_denied = NN_DEF_MAX_DENIED;
	if (map_fd[NN_M_DENIED] >= 0) {
		err = max_entries(map_fd[NN_M_DENIED], &c->max_denied);
		if (err)
			return err;
		/* Sets of NN_DENIED_WAYS entries (an older pin, an LRU of
		 * entries, is refused by the load that reuses it). */
		c->max_denied *= NN_DENIED_WAYS;
	}
	if (addrs % 2 || addrs / 2 < dev_stats + 2 || rules != 2 * rule_hits)
		return -EINVAL;
	c->max_devices = addrs / 2 - dev_stats - 1;
	if (c->max_devices + 1 > dev_stats)
		return -EINVAL;
	c->max_nodes = dev_stats - c->max_devices - 1;
	c->max_rules = rule_hits;
	c->max_prefixes = prefixes / 2;
	c->max_cells = cells / 2;
	return 0;
}

static int set_pins(struct bpf_object *obj, const char *pin_dir)
{
	struct bpf_map *m;
	char path[512];
	int err;

	bpf_object__for_each_map(m, obj)
	{
		size_t i;

		if (bpf_map__is_internal(m))
			continue;
		for (i = 0; i < NN_M_COUNT; i++)
			if (!strcmp(bpf_map__name(m), nn_map_names[i]))
				break;
		if (i < NN_M_COUNT && !nn_map_is_pinned(i))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(m));
		err = bpf_map__set_pin_path(m, path);
		if (err)
			return err;
	}
	return 0;
}

int nn_dp_share_maps(struct bpf_object *obj, const struct nn_dp *dp)
{
	struct bpf_map *m;
	size_t i;
	int err;

	bpf_object__for_each_map(m, obj)
	{
		if (bpf_map__is_internal(m))
			continue;
		for (i = 0; i < NN_M_COUNT; i++)
			if (!strcmp(bpf_map__name(m), nn_map_names[i]))
				break;
		/* Not one of ours (a benchmark's own map): the object keeps it. */
		if (i == NN_M_COUNT)
			continue;
		err = bpf_map__reuse_fd(m, dp->map_fd[i]);
		if (err)
			return err;
	}
	return 0;
}

/*
 * What libbpf said while one object loaded. When the kernel refuses a
 * program, libbpf loads it again with a verifier log it grows until the
 * whole log fits, and prints that log as one warning: we keep it (the last
 * one, from the program that failed) and note a pinned map that did not fit.
 */
struct load_capture {
	char prog[64];
	char *vlog; /* the refused program's verifier log */
	char pin[256];
};

static struct load_capture *capture;
static libbpf_print_fn_t capture_prev;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (capture && level == LIBBPF_WARN && strstr(fmt, "BEGIN PROG LOAD LOG")) {
		va_list aq;
		const char *prog, *log;

		va_copy(aq, ap);
		prog = va_arg(aq, const char *);
		log = va_arg(aq, const char *);
		va_end(aq);
		snprintf(capture->prog, sizeof(capture->prog), "%s", prog ? prog : "?");
		free(capture->vlog);
		capture->vlog = log ? strdup(log) : NULL;
		/* The whole log only with --verbose: the error names its end. */
		level = LIBBPF_DEBUG;
	} else if (capture && level == LIBBPF_WARN && strstr(fmt, "couldn't reuse pinned map")) {
		va_list aq;
		const char *path;

		va_copy(aq, ap);
		path = va_arg(aq, const char *);
		va_end(aq);
		snprintf(capture->pin, sizeof(capture->pin), "%s", path ? path : "?");
	}
	return capture_prev ? capture_prev(level, fmt, ap) : 0;
}

/* The last @nlines non-empty lines of @log on one line, " | " between them,
 * runs of spaces squeezed, double quotes turned into single ones (the log
 * line quotes the error). What does not fit in @len goes from the front:
 * the verdict is at the end. */
static void log_tail(const char *log, int nlines, char *out, size_t len)
{
	const char *end = log + strlen(log), *p = end;
	size_t n = 0, cap;
	int seen = 0;
	char *t;

	while (p > log && seen < nlines) {
		const char *e = p;

		while (e > log && e[-1] == '\n')
			e--;
		if (e == log)
			break;
		p = e;
		while (p > log && p[-1] != '\n')
			p--;
		seen++;
	}
	cap = 3 * (size_t)(end - p) + 1;
	t = malloc(cap);
	if (!t) {
		snprintf(out, len, "%s", p);
		return;
	}
	for (; p < end; p++) {
		if (*p == '\n') {
			while (p + 1 < end && p[1] == '\n')
				p++;
			if (p + 1 < end) {
				memcpy(t + n, " | ", 3);
				n += 3;
			}
		} else if (*p == ' ' && n && t[n - 1] == ' ') {
			continue; /* the log aligns its columns with spaces */
		} else {
			t[n++] = *p == '"' ? '\'' : *p;
		}
	}
	t[n] = 0;
	if (n < len)
		snprintf(out, len, "%s", t);
	else if (len > 4)
		snprintf(out, len, "...%s", t + n - (len - 4));
	else if (len)
		out[0] = 0;
	free(t);
}

/* Run @load(@arg) with libbpf's messages going through capture_print too. */
static int load_captured(int (*load)(void *), void *arg, struct load_capture *cap)
{
	int err;

	capture = cap;
	capture_prev = libbpf_set_print(capture_print);
	err = load(arg);
	libbpf_set_print(capture_prev);
	capture = NULL;
	return err;
}

static void report_load_error(const struct load_capture *cap, const char *what, const char *pin_dir,
			      int err, char *msg, size_t msglen)
{
	struct utsname u = {};
	char tail[1024], buf[1400];

	uname(&u);
	if (cap->vlog && cap->vlog[0]) {
		/* The verifier's verdict is at the end of its log, before
		 * the statistics ("processed N insns ..."). */
		log_tail(cap->vlog, 6, tail, sizeof(tail));
		snprintf(
			buf, sizeof(buf),
			"event=load prog=%s kernel=%s error=\"the kernel's verifier refused the %s "
			"program (%s); the end of its log: %s\"",
			cap->prog, u.release, what, strerror(-err), tail);
	} else if (cap->pin[0]) {
		snprintf(buf, sizeof(buf),
			 "event=load pin_dir=%s map=%s error=\"couldn't load the %s program: the "
			 "pinned map does not fit (another size or version of the maps: run "
			 "--detach first)\"",
			 pin_dir ? pin_dir : "-", cap->pin, what);
	} else {
		snprintf(buf, sizeof(buf),
			 "event=load pin_dir=%s kernel=%s error=\"couldn't load the %s program: %s "
			 "(libbpf's warnings above say more)\"",
			 pin_dir ? pin_dir : "-", u.release, what, strerror(-err));
	}
	nn_log_err("%s", buf);
	if (msg && msglen)
		snprintf(msg, msglen, "%s", buf);
}

int nn_bpf_load_reported(const char *what, const char *pin_dir, int (*load)(void *), void *arg,
			 char *msg, size_t msglen)
{
	struct load_capture cap = {};
	int err = load_captured(load, arg, &cap);

	if (err)
		report_load_error(&cap, what, pin_dir, err, msg, msglen);
	free(cap.vlog);
	return err;
}

static int load_from_tc(void *skel)
{
	return from_overlay_tc__load(skel);
}

static int load_into_tc(void *skel)
{
	return into_overlay_tc__load(skel);
}

static int load_from_xdp(void *skel)
{
	return from_overlay_xdp__load(skel);
}

static int make_barrier(struct nn_dp *dp)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);

	dp->barrier_inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nn_barrier_in", 4, 4, 1, NULL);
	if (dp->barrier_inner < 0)
		return -errno;
	o.inner_map_fd = dp->barrier_inner;
	dp->barrier_outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "nn_barrier", 4, 4, 1, &o);
	if (dp->barrier_outer < 0)
		return -errno;
	return 0;
}

int nn_dp_barrier(struct nn_dp *dp)
{
	uint32_t zero = 0;

	/* The kernel runs synchronize_rcu() after any update of a map-in-map
	 * (maybe_wait_bpf_programs): when this returns, every program that
	 * started before it has finished. */
	if (bpf_map_update_elem(dp->barrier_outer, &zero, &dp->barrier_inner, BPF_ANY))
		return -errno;
	return 0;
}

void nn_dp_write_defaults(struct nn_dp *dp)
{
	struct nn_config cfg = {}, zero_cfg = {};
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(dp->map_fd[NN_M_CONFIG], &zero, &cfg) ||
	    memcmp(&cfg, &zero_cfg, sizeof(cfg)))
		return;
	cfg.event_sample = NN_DEF_EVENT_SAMPLE;
	cfg.event_rate = NN_DEF_EVENT_RATE;
	cfg.tcp_syn_timeout_s = NN_DEF_TCP_SYN_TIMEOUT;
	cfg.tcp_est_timeout_s = NN_DEF_TCP_EST_TIMEOUT;
	cfg.tcp_close_timeout_s = NN_DEF_TCP_CLOSE_TIMEOUT;
	cfg.udp_timeout_s = NN_DEF_UDP_TIMEOUT;
	cfg.icmp_timeout_s = NN_DEF_ICMP_TIMEOUT;
	cfg.other_timeout_s = NN_DEF_OTHER_TIMEOUT;
	cfg.frag_timeout_s = NN_DEF_FRAG_TIMEOUT;
	bpf_map_update_elem(dp->map_fd[NN_M_CONFIG], &zero, &cfg, BPF_ANY);
	nn_dp_set_flow_limit(dp, NN_DEF_NEW_FLOW_RATE, NN_DEF_NEW_FLOW_BURST);
}

static int open_xdp(struct nn_dp *dp, struct from_overlay_xdp **out)
{
	struct from_overlay_xdp *x = from_overlay_xdp__open();
	int err;

	if (!x)
		return -errno;
	x->rodata->nn_framing = dp->opts.framing;
	x->rodata->nn_max_rules = dp->opts.cap.max_rules;
	x->rodata->nn_dev_stride = nn_dev_slots(&dp->opts.cap);
	x->rodata->nn_srcf_lines = nn_srcf_lines_for(&dp->opts.cap);
	x->rodata->nn_flow_mask = nn_flow_buckets_for(&dp->opts.cap) - 1;
	x->rodata->nn_flow_seed = dp->flow_seed;
	x->rodata->nn_denied_sets = nn_denied_sets_for(&dp->opts.cap, libbpf_num_possible_cpus());
	x->rodata->nn_record_last = dp->opts.record_last;
	x->rodata->nn_dry_run = dp->opts.dry_run;
	err = nn_dp_share_maps(x->obj, dp);
	if (err) {
		from_overlay_xdp__destroy(x);
		return err;
	}
	*out = x;
	return 0;
}

/* Adopted maps whose generation was written by a build before nn_cells4:
 * one applied (epoch > 0) and not a cell in nn_cells4. Not the pin's
 * absence: a newer nanami-gwctl explain may have pinned an empty one. A
 * policy without cells looks the same, and costs nothing in compat. */
static bool cells_predate(const struct nn_dp *dp)
{
	struct nn_cell_key k;
	struct nn_active a = {};
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(dp->map_fd[NN_M_ACTIVE], &zero, &a) || !a.epoch)
		return false;
	return bpf_map_get_next_key(dp->map_fd[NN_M_CELLS4], NULL, &k) != 0;
}

int nn_dp_load(const struct nn_load_opts *opts, struct nn_dp **out)
{
	struct nn_dp *dp = calloc(1, sizeof(*dp));
	char path[512];
	size_t i;
	int err;

	if (!dp)
		return -ENOMEM;
	dp->opts = *opts;
	dp->barrier_outer = dp->barrier_inner = -1;

	err = nn_flow_seed_for_load(opts->pin_dir, &dp->flow_seed);
	if (err == -EPROTO) {
		nn_log_err("event=load pin_dir=%s error=\"the pinned nn_flows has an older "
			   "layout (last_seen inside the slot): run --detach first\"",
			   opts->pin_dir);
		goto out;
	}
	if (err) {
		nn_log_err("event=load error=\"couldn't choose the flow table's seed: %s\"",
			   strerror(-err));
		goto out;
	}
	dp->tc_from = from_overlay_tc__open();
	if (!dp->tc_from) {
		err = -errno;
		nn_log_err("event=load error=\"couldn't open the BPF object: %s\"", strerror(-err));
		goto out;
	}
	dp->tc_from->rodata->nn_framing = opts->framing;
	dp->tc_from->rodata->nn_max_rules = opts->cap.max_rules;
	dp->tc_from->rodata->nn_dev_stride = nn_dev_slots(&opts->cap);
	dp->tc_from->rodata->nn_srcf_lines = nn_srcf_lines_for(&opts->cap);
	dp->tc_from->rodata->nn_flow_mask = nn_flow_buckets_for(&opts->cap) - 1;
	dp->tc_from->rodata->nn_flow_seed = dp->flow_seed;
	dp->tc_from->rodata->nn_denied_sets =
		nn_denied_sets_for(&opts->cap, libbpf_num_possible_cpus());
	dp->tc_from->rodata->nn_record_last = opts->record_last;
	dp->tc_from->rodata->nn_dry_run = opts->dry_run;
	err = set_sizes(dp->tc_from->obj, &opts->cap);
	if (err) {
		nn_log_err("event=load error=\"the counter arrays of %u device and %u rule slots "
			   "times the possible CPUs pass 2^32 entries\"",
			   nn_dev_slots(&opts->cap), opts->cap.max_rules);
		goto out;
	}
	if (opts->pin_dir) {
		err = ensure_bpffs(opts->pin_dir);
		if (err) {
			nn_log_err("event=load pin_dir=%s error=\"couldn't create: %s\"",
				   opts->pin_dir, strerror(-err));
			goto out;
		}
		snprintf(path, sizeof(path), "%s/nn_active", opts->pin_dir);
		dp->adopted = access(path, F_OK) == 0;
		err = set_pins(dp->tc_from->obj, opts->pin_dir);
		if (err)
			goto out;
	}
	err = nn_bpf_load_reported("from-overlay", opts->pin_dir, load_from_tc, dp->tc_from, NULL,
				   0);
	if (err)
		goto out;
	for (i = 0; i < NN_M_COUNT; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(dp->tc_from->obj, nn_map_names[i]);

		dp->map_fd[i] = m ? bpf_map__fd(m) : -1;
	}
	err = nn_flow_seed_store(dp->map_fd[NN_M_FLOWS], nn_flow_buckets_for(&opts->cap),
				 dp->flow_seed);
	if (err) {
		nn_log_err("event=load error=\"couldn't keep the flow table's seed: %s\"",
			   strerror(-err));
		goto out;
	}
	dp->cells_compat = dp->adopted && cells_predate(dp);
	dp->maps_unwritten = !dp->adopted;
	dp->names_unwritten = !dp->adopted;

	dp->tc_into = into_overlay_tc__open();
	if (!dp->tc_into) {
		err = -errno;
		goto out;
	}
	dp->tc_into->rodata->nn_framing = opts->framing;
	dp->tc_into->rodata->nn_max_rules = opts->cap.max_rules;
	dp->tc_into->rodata->nn_dev_stride = nn_dev_slots(&opts->cap);
	dp->tc_into->rodata->nn_srcf_lines = nn_srcf_lines_for(&opts->cap);
	dp->tc_into->rodata->nn_flow_mask = nn_flow_buckets_for(&opts->cap) - 1;
	dp->tc_into->rodata->nn_flow_seed = dp->flow_seed;
	dp->tc_into->rodata->nn_denied_sets =
		nn_denied_sets_for(&opts->cap, libbpf_num_possible_cpus());
	dp->tc_into->rodata->nn_record_last = opts->record_last;
	dp->tc_into->rodata->nn_dry_run = opts->dry_run;
	err = nn_dp_share_maps(dp->tc_into->obj, dp);
	if (err) {
		nn_log_err("event=load error=\"couldn't share the maps with the into-overlay "
			   "program: %s\"",
			   strerror(-err));
		goto out;
	}
	err = nn_bpf_load_reported("into-overlay", opts->pin_dir, load_into_tc, dp->tc_into, NULL,
				   0);
	if (err)
		goto out;

	/* The XDP program is loaded here for tests and as the reference for
	 * "is the attached one equivalent"; libxdp loads its own copy to
	 * attach it (as an extension of its dispatcher). */
	if (opts->load_xdp_direct || opts->hook == NN_HOOK_XDP) {
		err = open_xdp(dp, &dp->xdp_from);
		if (err) {
			nn_log_err("event=load error=\"couldn't open the XDP program: %s\"",
				   strerror(-err));
			goto out;
		}
		err = nn_bpf_load_reported("from-overlay XDP", opts->pin_dir, load_from_xdp,
					   dp->xdp_from, NULL, 0);
		if (err)
			goto out;
	}
	err = make_barrier(dp);
	if (err)
		goto out;
	nn_dp_write_defaults(dp);
	*out = dp;
	return 0;
out:
	nn_dp_close(dp);
	return err;
}

void nn_dp_close(struct nn_dp *dp)
{
	if (!dp)
		return;
	if (dp->xdp_prog)
		xdp_program__close(dp->xdp_prog);
	from_overlay_xdp__destroy(dp->xdp_from);
	into_overlay_tc__destroy(dp->tc_into);
	from_overlay_tc__destroy(dp->tc_from);
	if (dp->barrier_outer >= 0)
		close(dp->barrier_outer);
	if (dp->barrier_inner >= 0)
		close(dp->barrier_inner);
	nn_apply_cache_free(dp->apply_cache);
	free(dp);
}

int nn_dp_prog_fd(const struct nn_dp *dp, enum nn_dir dir, enum nn_hook hook)
{
	if (dir == NN_DIR_INTO_OVERLAY)
		return bpf_program__fd(dp->tc_into->progs.nn_tc_into_overlay);
	if (hook == NN_HOOK_XDP)
		return dp->xdp_from ? bpf_program__fd(dp->xdp_from->progs.nn_xdp_from_overlay) : -1;
	return bpf_program__fd(dp->tc_from->progs.nn_tc_from_overlay);
}

/* The .rodata value and the nn_active map id a program uses. */
static int prog_identity(int prog_fd, uint8_t tag[8], uint32_t *active_id, void *rodata,
			 size_t rolen)
{
	struct bpf_prog_info info = {};
	uint32_t ilen = sizeof(info), ids[32], i, zero = 0;
	int err = 0;

	info.nr_map_ids = 32;
	info.map_ids = (uint64_t)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &ilen))
		return -errno;
	memcpy(tag, info.tag, 8);
	*active_id = 0;
	memset(rodata, 0, rolen);
	for (i = 0; i < info.nr_map_ids && i < 32; i++) {
		struct bpf_map_info mi = {};
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen)) {
			if (!strcmp(mi.name, "nn_active"))
				*active_id = mi.id;
			else if (strstr(mi.name, ".rodata") && mi.value_size <= rolen)
				err = bpf_map_lookup_elem(fd, &zero, rodata) ? -errno : 0;
		}
		close(fd);
	}
	return err;
}

/* Is the attached program @id the same as our freshly loaded @fd? */
static bool prog_equivalent(uint32_t id, int fd)
{
	uint8_t t1[8], t2[8], r1[64], r2[64];
	uint32_t a1, a2;
	int efd = bpf_prog_get_fd_by_id(id);
	bool same;

	if (efd < 0)
		return false;
	same = !prog_identity(efd, t1, &a1, r1, sizeof(r1)) &&
	       !prog_identity(fd, t2, &a2, r2, sizeof(r2)) && !memcmp(t1, t2, 8) && a1 == a2 &&
	       !memcmp(r1, r2, sizeof(r1));
	close(efd);
	return same;
}

static int tc_ensure(int ifindex, enum bpf_tc_attach_point pt, int prog_fd, bool *kept)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = pt);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = NN_TC_HANDLE, .priority = NN_TC_PRIO);
	LIBBPF_OPTS(bpf_tc_opts, a, .handle = NN_TC_HANDLE, .priority = NN_TC_PRIO,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	*kept = false;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	if (!bpf_tc_query(&hook, &q) && prog_equivalent(q.prog_id, prog_fd)) {
		*kept = true;
		return 0;
	}
	return bpf_tc_attach(&hook, &a);
}

static int tc_remove(int ifindex, enum bpf_tc_attach_point pt)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = pt);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = NN_TC_HANDLE, .priority = NN_TC_PRIO);
	int err = bpf_tc_detach(&hook, &o);

	return err == -ENOENT || err == -EINVAL ? 0 : err;
}

/* Our program in the libxdp chain of @ifindex, or NULL. */
static struct xdp_program *xdp_find_ours(struct xdp_multiprog *mp)
{
	struct xdp_program *p = NULL;

	if (!mp || libxdp_get_error(mp))
		return NULL;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		return p && !strcmp(xdp_program__name(p), "nn_xdp_from_overlay") ? p : NULL;
	}
	while ((p = xdp_multiprog__next_prog(p, mp)))
		if (!strcmp(xdp_program__name(p), "nn_xdp_from_overlay"))
			return p;
	return NULL;
}

struct xdp_attach_args {
	struct xdp_program *prog;
	int ifindex;
	enum xdp_attach_mode mode;
};

static int xdp_attach_one(void *arg)
{
	struct xdp_attach_args *a = arg;

	return xdp_program__attach(a->prog, a->ifindex, a->mode, 0);
}

static int xdp_ensure(struct nn_dp *dp, int ifindex, bool *kept)
{
	enum xdp_attach_mode mode = dp->opts.framing == NN_FRAMING_L3 ? XDP_MODE_SKB :
									XDP_MODE_NATIVE;
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *old = xdp_find_ours(mp);
	struct from_overlay_xdp *x = NULL;
	struct xdp_attach_args a = { .ifindex = ifindex, .mode = mode };
	struct load_capture cap = {};
	int err;

	*kept = false;
	if (old && prog_equivalent(xdp_program__id(old),
				   bpf_program__fd(dp->xdp_from->progs.nn_xdp_from_overlay))) {
		*kept = true;
		err = 0;
		goto out;
	}
	err = open_xdp(dp, &x);
	if (err)
		goto out;
	dp->xdp_prog = xdp_program__from_bpf_obj(x->obj, "xdp");
	err = libxdp_get_error(dp->xdp_prog);
	if (err) {
		dp->xdp_prog = NULL;
		goto out;
	}
	/* libxdp loads the program again (as an extension of its
	 * dispatcher): a verifier refusal there is named as one too. */
	a.prog = dp->xdp_prog;
	err = load_captured(xdp_attach_one, &a, &cap);
	if (err && cap.vlog && cap.vlog[0])
		report_load_error(&cap, "from-overlay XDP", dp->opts.pin_dir, err, NULL, 0);
	free(cap.vlog);
	if (!err && old)
		err = xdp_program__detach(old, ifindex, xdp_multiprog__attach_mode(mp), 0);
out:
	/* The attached program holds its own references; our handles go. */
	if (x) {
		if (dp->xdp_prog) {
			xdp_program__close(dp->xdp_prog);
			dp->xdp_prog = NULL;
		}
		from_overlay_xdp__destroy(x);
	}
	if (mp && !libxdp_get_error(mp))
		xdp_multiprog__close(mp);
	return err;
}

static int xdp_remove(int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *ours = xdp_find_ours(mp);
	int err = 0;

	if (ours)
		err = xdp_program__detach(ours, ifindex, xdp_multiprog__attach_mode(mp), 0);
	if (mp && !libxdp_get_error(mp))
		xdp_multiprog__close(mp);
	return err;
}

int nn_dp_attach(struct nn_dp *dp, const char *ifname)
{
	int ifindex = if_nametoindex(ifname), err;
	bool kept_into, kept_from;

	if (!ifindex) {
		nn_log_err("event=attach iface=%s error=\"no such interface\"", ifname);
		return -ENODEV;
	}
	/* Before anything is attached: a refused kernel runs no packet. */
	err = nn_dp_realtime_check(NN_REALTIME_PATH);
	if (err)
		return err;
	err = tc_ensure(ifindex, BPF_TC_EGRESS, nn_dp_prog_fd(dp, NN_DIR_INTO_OVERLAY, 0),
			&kept_into);
	if (err) {
		nn_log_err("event=attach iface=%s hook=tc-egress error=\"couldn't attach: %s\"",
			   ifname, strerror(-err));
		return err;
	}
	if (dp->opts.hook == NN_HOOK_XDP) {
		err = xdp_ensure(dp, ifindex, &kept_from);
		if (!err)
			err = tc_remove(ifindex, BPF_TC_INGRESS);
	} else {
		err = tc_ensure(ifindex, BPF_TC_INGRESS,
				nn_dp_prog_fd(dp, NN_DIR_FROM_OVERLAY, NN_HOOK_TC), &kept_from);
		if (!err)
			err = xdp_remove(ifindex);
	}
	if (err) {
		nn_log_err("event=attach iface=%s hook=%s error=\"couldn't attach: %s\"", ifname,
			   dp->opts.hook == NN_HOOK_XDP ? "xdp" : "tc-ingress", strerror(-err));
		return err;
	}
	/* Our programs are the ones attached now: the next apply may leave
	 * small cells out of nn_policy. */
	dp->cells_compat = false;
	nn_log_info("event=attached iface=%s from_overlay=%s into_overlay=tc-egress "
		    "kept_from=%d kept_into=%d",
		    ifname, dp->opts.hook == NN_HOOK_XDP ? "xdp" : "tc-ingress", kept_from,
		    kept_into);
	return 0;
}

int nn_dp_detach(const char *ifname, const char *pin_dir)
{
	/* The per-CPU counter arrays before nanami_abi.h "Counter layout". */
	static const char *const retired[] = { "nn_dev_stats", "nn_rule_hits" };
	int ifindex = ifname ? (int)if_nametoindex(ifname) : 0, err = 0, e;
	char path[512];
	size_t i;

	if (ifindex) {
		e = tc_remove(ifindex, BPF_TC_INGRESS);
		err = err ?: e;
		e = tc_remove(ifindex, BPF_TC_EGRESS);
		err = err ?: e;
		e = xdp_remove(ifindex);
		err = err ?: e;
	}
	for (i = 0; pin_dir && i < NN_M_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, nn_map_names[i]);
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	/* Pins of maps an older release used and this one does not. */
	for (i = 0; pin_dir && i < sizeof(retired) / sizeof(retired[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, retired[i]);
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	if (pin_dir && rmdir(pin_dir) && errno != ENOENT && errno != ENOTEMPTY && !err)
		err = -errno;
	return err;
}
