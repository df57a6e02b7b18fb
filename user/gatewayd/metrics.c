// SPDX-License-Identifier: GPL-2.0
/* metrics.c - Prometheus text exposition of dataplane and controller state. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/apply.h"
#include "dp/counters.h"
#include "dp/denied.h"
#include "dp/flowtab.h"
#include "dp/slot_names.h"
#include "dp/underlay.h"
#include "gatewayd/http.h"
#include "gatewayd/metrics.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/strbuf.h"

/* Prometheus label values: escape backslash, quote and newline. Our ids are
 * validated printable ASCII, so this is belt and braces. */
static const char *esc(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in && o + 2 < len; in++) {
		if (*in == '\\' || *in == '"') {
			out[o++] = '\\';
			out[o++] = *in;
		} else if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *in;
		}
	}
	out[o] = 0;
	return out;
}

/* Drops by reason: each reason is counted by one map, nn_drops (the policy
 * programs) or nn_wg_drops (the underlay guard, @ul NULL when not loaded):
 * the sum is that map's count. A map that can't be read shows no series. */
static void drops(struct nn_strbuf *b, struct nn_dp *dp, const struct nn_underlay *ul)
{
	struct nn_reason_stats pol[NN_R_MAX], wg[NN_R_MAX] = {};
	uint32_t r;

	if (nn_read_drops(dp->map_fd[NN_M_DROPS], pol) ||
	    (ul && nn_read_drops(ul->map_fd[NN_UL_DROPS], wg)))
		return;
	nn_sbprintf(b, "# HELP nanami_drops_total Packets dropped, by reason (verdicts.md); "
		       "wg_* by the underlay guard.\n"
		       "# TYPE nanami_drops_total counter\n");
	for (r = 1; r < NN_R_MAX; r++)
		nn_sbprintf(b, "nanami_drops_total{reason=\"%s\"} %llu\n", nn_reason_name(r),
			    (unsigned long long)(pol[r].packets + wg[r].packets));
	nn_sbprintf(b,
		    "# HELP nanami_underlay_guard 1 when the underlay WireGuard guard is loaded.\n"
		    "# TYPE nanami_underlay_guard gauge\nnanami_underlay_guard %d\n",
		    ul != NULL);
}

struct names_out {
	struct nn_strbuf *b;
	struct nn_dp *dp;
};

static int device_lines(uint32_t slot, const struct nn_name *n, void *arg)
{
	struct names_out *o = arg;
	struct nn_dev_stats sum;
	char e1[160], e2[160], e3[160];
	int d;

	if (nn_percpu_sum(o->dp->map_fd[NN_M_DEV_STATS], slot, sizeof(sum) / 8, (uint64_t *)&sum))
		return 0;
	esc(n->id, e1, sizeof(e1));
	esc(n->tenant, e2, sizeof(e2));
	esc(n->network, e3, sizeof(e3));
	for (d = 0; d < NN_DIR_MAX; d++) {
		const char *dn = nn_dir_name(d);

		nn_sbprintf(o->b,
			    "nanami_device_packets_total{device=\"%s\",tenant=\"%s\","
			    "network=\"%s\",direction=\"%s\"} %llu\n",
			    e1, e2, e3, dn, (unsigned long long)sum.packets[d]);
		nn_sbprintf(o->b,
			    "nanami_device_bytes_total{device=\"%s\",tenant=\"%s\","
			    "network=\"%s\",direction=\"%s\"} %llu\n",
			    e1, e2, e3, dn, (unsigned long long)sum.bytes[d]);
		nn_sbprintf(o->b,
			    "nanami_device_drops_total{device=\"%s\",tenant=\"%s\","
			    "network=\"%s\",direction=\"%s\"} %llu\n",
			    e1, e2, e3, dn, (unsigned long long)sum.drops[d]);
	}
	return 0;
}

/* The names maps are arrays by slot (dp/slot_names.h): every slot in
 * use, in slot order. One that cannot be read leaves its lines out, as a
 * slot freed meanwhile did. */
static void devices(struct nn_strbuf *b, struct nn_dp *dp)
{
	struct names_out o = { b, dp };
	int err;

	nn_sbprintf(b,
		    "# HELP nanami_device_packets_total Packets passed per device and direction.\n"
		    "# TYPE nanami_device_packets_total counter\n"
		    "# HELP nanami_device_bytes_total Bytes passed per device and direction.\n"
		    "# TYPE nanami_device_bytes_total counter\n"
		    "# HELP nanami_device_drops_total Packets dropped per device and direction.\n"
		    "# TYPE nanami_device_drops_total counter\n");
	err = nn_slot_names_each(dp->map_fd[NN_M_DEV_NAMES], device_lines, &o);
	if (err)
		nn_log_warn("event=metrics map=nn_dev_names error=\"couldn't read: %s\"",
			    strerror(-err));
}

static int rule_lines(uint32_t slot, const struct nn_name *n, void *arg)
{
	struct names_out *o = arg;
	char e1[160], e2[160], e3[160];
	uint64_t hits;

	if (nn_percpu_sum(o->dp->map_fd[NN_M_RULE_HITS], slot, 1, &hits))
		return 0;
	nn_sbprintf(o->b, "nanami_rule_hits_total{rule=\"%s\",tenant=\"%s\",network=\"%s\"} %llu\n",
		    esc(n->id, e1, sizeof(e1)), esc(n->tenant, e2, sizeof(e2)),
		    esc(n->network, e3, sizeof(e3)), (unsigned long long)hits);
	return 0;
}

static void rules(struct nn_strbuf *b, struct nn_dp *dp)
{
	struct names_out o = { b, dp };
	int err;

	nn_sbprintf(b, "# HELP nanami_rule_hits_total ACL decisions made by each rule.\n"
		       "# TYPE nanami_rule_hits_total counter\n");
	err = nn_slot_names_each(dp->map_fd[NN_M_RULE_NAMES], rule_lines, &o);
	if (err)
		nn_log_warn("event=metrics map=nn_rule_names error=\"couldn't read: %s\"",
			    strerror(-err));
}

static uint32_t addr_slot(const void *k)
{
	return ((const struct nn_addr_key *)k)->slot;
}

static uint32_t prefix_slot(const void *k)
{
	return ((const struct nn_prefix_key *)k)->scope >> 31;
}

static uint32_t cell_slot(const void *k)
{
	return ((const struct nn_cell_key *)k)->slot;
}

static void maps(struct nn_strbuf *b, struct nn_dp *dp, uint32_t slot)
{
	struct {
		const char *name;
		int id;
		size_t ksz;
		uint32_t (*slot_of)(const void *);
		int halves; /* double-buffered: capacity per generation is half */
	} m[] = {
		{ "nn_addrs", NN_M_ADDRS, sizeof(struct nn_addr_key), addr_slot, 1 },
		{ "nn_prefixes", NN_M_PREFIXES, sizeof(struct nn_prefix_key), prefix_slot, 1 },
		{ "nn_policy", NN_M_POLICY, sizeof(struct nn_cell_key), cell_slot, 1 },
		{ "nn_cells4", NN_M_CELLS4, sizeof(struct nn_cell_key), cell_slot, 1 },
		{ "nn_flows", NN_M_FLOWS, sizeof(struct nn_flow_key), NULL, 0 },
		{ "nn_frags", NN_M_FRAGS, sizeof(struct nn_frag_key), NULL, 0 },
		/* flows the policy dropped, remembered: a flood fills it */
		{ "nn_denied", NN_M_DENIED, sizeof(struct nn_flow_key), NULL, 0 },
		/* the gateway host's own addresses, protected like its overlay one */
		{ "nn_local", NN_M_LOCAL, sizeof(struct nn_local_key), NULL, 0 },
	};
	size_t i;

	nn_sbprintf(b,
		    "# HELP nanami_map_entries Entries in use (the live generation's, in a "
		    "double-buffered map).\n"
		    "# TYPE nanami_map_entries gauge\n"
		    "# HELP nanami_map_capacity Entries a map (a generation) can hold.\n"
		    "# TYPE nanami_map_capacity gauge\n"
		    "# HELP nanami_map_fill_ratio Entries in use (live generation) over capacity.\n"
		    "# TYPE nanami_map_fill_ratio gauge\n");
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct bpf_map_info info = {};
		uint32_t ilen = sizeof(info);
		uint64_t n, cap;
		uint32_t epoch = 0;

		if (bpf_obj_get_info_by_fd(dp->map_fd[m[i].id], &info, &ilen))
			continue;
		cap = m[i].halves ? info.max_entries / 2 : info.max_entries;
		if (m[i].id == NN_M_FLOWS) {
			cap = nn_flow_capacity(info.max_entries);
			if (nn_flow_count(dp->map_fd[m[i].id], &n))
				n = 0;
		} else if (m[i].id == NN_M_DENIED) {
			/* Sets of entries per CPU; only the live epoch's count. */
			cap = nn_denied_capacity(info.max_entries, libbpf_num_possible_cpus());
			if (nn_live_epoch(dp, &epoch) ||
			    nn_denied_count(dp->map_fd[m[i].id], dp->map_fd[NN_M_DENIED_TAGS],
					    epoch, &n))
				n = 0;
		} else {
			n = nn_map_count(dp->map_fd[m[i].id], m[i].ksz, m[i].slot_of, slot);
		}
		nn_sbprintf(b, "nanami_map_entries{map=\"%s\"} %llu\n", m[i].name,
			    (unsigned long long)n);
		nn_sbprintf(b, "nanami_map_capacity{map=\"%s\"} %llu\n", m[i].name,
			    (unsigned long long)cap);
		nn_sbprintf(b, "nanami_map_fill_ratio{map=\"%s\"} %.6f\n", m[i].name,
			    cap ? (double)n / (double)cap : 0.0);
	}
}

/* What the alert rules (packaging/prometheus/nanami.rules.yml) and the
 * dashboard need beyond the counters above: timestamps rather than ages, so
 * that a rule can compare them with time() and with the resync interval,
 * config errors by kind, and the apply durations as a histogram. Called
 * with st->mu held. */
static void controller_times(struct nn_strbuf *b, struct nn_ctl_state *st)
{
	static const char *const kinds[NN_APPLY_KIND_MAX] = { "change", "drift" };
	int64_t newest = 0;
	char e[160];
	size_t i;
	int k, j;

	nn_sbprintf(b,
		    "# HELP nanami_controller_start_time_seconds When this controller started "
		    "(Unix time).\n# TYPE nanami_controller_start_time_seconds gauge\n"
		    "nanami_controller_start_time_seconds %lld\n",
		    (long long)st->info.started_unix);
	nn_sbprintf(b,
		    "# HELP nanami_resync_interval_seconds The drift timer (--resync): desired "
		    "state is confirmed at least this often.\n"
		    "# TYPE nanami_resync_interval_seconds gauge\n"
		    "nanami_resync_interval_seconds %u\n",
		    st->info.resync_s);
	nn_sbprintf(b,
		    "# HELP nanami_last_sync_timestamp_seconds Last successful sync with the "
		    "desired state's source (Unix time, 0: never).\n"
		    "# TYPE nanami_last_sync_timestamp_seconds gauge\n"
		    "nanami_last_sync_timestamp_seconds %lld\n",
		    (long long)st->last_sync_unix);
	nn_sbprintf(b,
		    "# HELP nanami_last_apply_timestamp_seconds When the applied generation "
		    "was applied (Unix time, 0: never).\n"
		    "# TYPE nanami_last_apply_timestamp_seconds gauge\n"
		    "nanami_last_apply_timestamp_seconds %lld\n",
		    (long long)st->last_applied_unix);
	nn_sbprintf(b,
		    "# HELP nanami_config_errors_total Desired state that did not become "
		    "enforced: a snapshot refused as a whole (snapshot_rejected) or a valid "
		    "one this host failed to apply (apply_failed).\n"
		    "# TYPE nanami_config_errors_total counter\n"
		    "nanami_config_errors_total{kind=\"snapshot_rejected\"} %llu\n"
		    "nanami_config_errors_total{kind=\"apply_failed\"} %llu\n",
		    (unsigned long long)st->snapshots_rejected,
		    (unsigned long long)st->apply_failures);
	nn_sbprintf(b,
		    "# HELP nanami_wg_reconcile_errors_total wg0 reconciles that failed (each "
		    "also an apply_failed).\n# TYPE nanami_wg_reconcile_errors_total counter\n"
		    "nanami_wg_reconcile_errors_total %llu\n",
		    (unsigned long long)st->wg_errors);
	nn_sbprintf(b, "# HELP nanami_peer_last_handshake_timestamp_seconds Last completed "
		       "handshake per wg0 peer (Unix time; absent: never).\n"
		       "# TYPE nanami_peer_last_handshake_timestamp_seconds gauge\n");
	for (i = 0; i < st->n_peers; i++) {
		const struct nn_peer_metrics *p = &st->peers[i];

		if (!p->last_handshake_unix)
			continue;
		if (p->last_handshake_unix > newest)
			newest = p->last_handshake_unix;
		nn_sbprintf(b, "nanami_peer_last_handshake_timestamp_seconds{peer=\"%s\"} %lld\n",
			    esc(p->id, e, sizeof(e)), (long long)p->last_handshake_unix);
	}
	nn_sbprintf(b,
		    "# HELP nanami_last_handshake_timestamp_seconds The newest handshake with "
		    "any wg0 peer (Unix time, 0: none).\n"
		    "# TYPE nanami_last_handshake_timestamp_seconds gauge\n"
		    "nanami_last_handshake_timestamp_seconds %lld\n",
		    (long long)newest);
	nn_sbprintf(b, "# HELP nanami_apply_duration_seconds Snapshot in hand to enforced "
		       "(validate, compile, maps, wg0); kind drift: the resync's re-apply.\n"
		       "# TYPE nanami_apply_duration_seconds histogram\n");
	for (k = 0; k < NN_APPLY_KIND_MAX; k++) {
		const struct nn_apply_hist *h = &st->apply_time[k];

		for (j = 0; j < NN_APPLY_BUCKETS; j++)
			nn_sbprintf(b,
				    "nanami_apply_duration_seconds_bucket{kind=\"%s\",le=\"%g\"} "
				    "%llu\n",
				    kinds[k], nn_apply_bucket_s[j], (unsigned long long)h->le[j]);
		nn_sbprintf(b,
			    "nanami_apply_duration_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %llu\n"
			    "nanami_apply_duration_seconds_sum{kind=\"%s\"} %.6f\n"
			    "nanami_apply_duration_seconds_count{kind=\"%s\"} %llu\n",
			    kinds[k], (unsigned long long)h->count, kinds[k], h->sum_s, kinds[k],
			    (unsigned long long)h->count);
	}
}

static void controller(struct nn_strbuf *b, struct nn_ctl_state *st, int64_t now)
{
	char e[160];
	size_t i;
	int s;

	pthread_mutex_lock(&st->mu);
	nn_sbprintf(b,
		    "# HELP nanami_applied_generation The desired-state generation enforced.\n"
		    "# TYPE nanami_applied_generation gauge\nnanami_applied_generation %llu\n",
		    (unsigned long long)st->applied_generation);
	nn_sbprintf(b,
		    "# HELP nanami_seconds_since_last_sync Seconds since the last successful sync "
		    "(-1: never).\n"
		    "# TYPE nanami_seconds_since_last_sync gauge\n"
		    "nanami_seconds_since_last_sync %lld\n",
		    (long long)nn_ctl_since_sync_s(st));
	nn_sbprintf(b,
		    "# HELP nanami_validation_errors_total Snapshot entries dropped and snapshots "
		    "refused by validation.\n"
		    "# TYPE nanami_validation_errors_total counter\n"
		    "nanami_validation_errors_total %llu\n",
		    (unsigned long long)st->validation_errors);
	nn_sbprintf(b,
		    "# HELP nanami_apply_errors_total Applies that failed (maps, wg0, underlay "
		    "port, NAT).\n"
		    "# TYPE nanami_apply_errors_total counter\nnanami_apply_errors_total %llu\n",
		    (unsigned long long)st->apply_errors);
	nn_sbprintf(b,
		    "# HELP nanami_drift_repairs_total Changes to wg0 made outside the controller, "
		    "undone.\n"
		    "# TYPE nanami_drift_repairs_total counter\nnanami_drift_repairs_total %llu\n",
		    (unsigned long long)st->drift_repairs);
	nn_sbprintf(b,
		    "# HELP nanami_map_writes_total BPF map updates and deletes made by applies.\n"
		    "# TYPE nanami_map_writes_total counter\nnanami_map_writes_total %llu\n",
		    (unsigned long long)st->map_writes);
	nn_sbprintf(b,
		    "# HELP nanami_applies_total Generations enforced, by path: fast (a device "
		    "delta patched in), full (parse, validate, compile; drift re-applies too).\n"
		    "# TYPE nanami_applies_total counter\n"
		    "nanami_applies_total{path=\"fast\"} %llu\n"
		    "nanami_applies_total{path=\"full\"} %llu\n",
		    (unsigned long long)st->applies_fast, (unsigned long long)st->applies_full);
	nn_sbprintf(b,
		    "# HELP nanami_fast_path_fallbacks_total Deltas the fast path handed to the "
		    "full path (refused or failed).\n"
		    "# TYPE nanami_fast_path_fallbacks_total counter\n"
		    "nanami_fast_path_fallbacks_total %llu\n",
		    (unsigned long long)st->fast_fallbacks);
	nn_sbprintf(b,
		    "# HELP nanami_drift_check_cpu_seconds CPU of the last drift check.\n"
		    "# TYPE nanami_drift_check_cpu_seconds gauge\n"
		    "nanami_drift_check_cpu_seconds %.3f\n"
		    "# HELP nanami_drift_interval_seconds Interval to the next drift check: "
		    "--resync, or 50 times the last check's CPU when that is longer.\n"
		    "# TYPE nanami_drift_interval_seconds gauge\n"
		    "nanami_drift_interval_seconds %.3f\n",
		    st->drift_cpu_s, st->drift_interval_s);
	nn_sbprintf(b,
		    "# HELP nanami_drift_checks_total Drift checks made on the worker thread, by "
		    "result: pass (the enforced generation's from-scratch compile equals the "
		    "maps' record), repair (it did not: re-applied), stale (only counter slots "
		    "differed and changes arrived meanwhile: that part discarded), failed.\n"
		    "# TYPE nanami_drift_checks_total counter\n"
		    "nanami_drift_checks_total{result=\"pass\"} %llu\n"
		    "nanami_drift_checks_total{result=\"repair\"} %llu\n"
		    "nanami_drift_checks_total{result=\"stale\"} %llu\n"
		    "nanami_drift_checks_total{result=\"failed\"} %llu\n"
		    "# HELP nanami_drift_check_loop_seconds Time the last drift check held the "
		    "controller loop (its text, the record check and copy, the result).\n"
		    "# TYPE nanami_drift_check_loop_seconds gauge\n"
		    "nanami_drift_check_loop_seconds %.3f\n",
		    (unsigned long long)st->drift_checks[0],
		    (unsigned long long)st->drift_checks[1],
		    (unsigned long long)st->drift_checks[2],
		    (unsigned long long)st->drift_checks[3], st->drift_loop_s);
	nn_sbprintf(b,
		    "# HELP nanami_wg_changes_total Changes made to wg0 by reconciles.\n"
		    "# TYPE nanami_wg_changes_total counter\nnanami_wg_changes_total %llu\n",
		    (unsigned long long)st->wg_changes);
	nn_sbprintf(
		b, "# HELP nanami_control_plane_state 1 for the control-plane connection's state.\n"
		   "# TYPE nanami_control_plane_state gauge\n");
	for (s = 0; s < 4; s++)
		nn_sbprintf(b, "nanami_control_plane_state{state=\"%s\"} %d\n", nn_cp_state_name(s),
			    st->cp_state == s);
	nn_sbprintf(b, "# HELP nanami_control_plane_errors_total Failed requests to the control "
		       "plane, by kind.\n# TYPE nanami_control_plane_errors_total counter\n");
	for (s = 1; s < NN_CP_ERR_MAX; s++)
		nn_sbprintf(b, "nanami_control_plane_errors_total{kind=\"%s\"} %llu\n",
			    nn_cp_err_kind_name(s), (unsigned long long)st->cp_errors[s]);
	nn_sbprintf(b,
		    "# HELP nanami_lkg_write_errors_total Failed writes of the last-known-good "
		    "file (state directory full, read-only, ...).\n"
		    "# TYPE nanami_lkg_write_errors_total counter\n"
		    "nanami_lkg_write_errors_total %llu\n",
		    (unsigned long long)st->lkg.write_errors);
	nn_sbprintf(b,
		    "# HELP nanami_lkg_generation Generation the last-known-good file holds "
		    "(0: none); behind nanami_applied_generation while writes fail.\n"
		    "# TYPE nanami_lkg_generation gauge\nnanami_lkg_generation %llu\n",
		    (unsigned long long)st->lkg.generation);
	nn_sbprintf(b,
		    "# HELP nanami_key_rotation_failures_total WireGuard key rotations that "
		    "failed (refused, error answer, no answer).\n"
		    "# TYPE nanami_key_rotation_failures_total counter\n"
		    "nanami_key_rotation_failures_total %llu\n",
		    (unsigned long long)st->ident.rotation_failures);
	if (st->ident.key_generation >= 0)
		nn_sbprintf(b,
			    "# HELP nanami_key_generation Generation of the WireGuard key in use.\n"
			    "# TYPE nanami_key_generation gauge\nnanami_key_generation %lld\n",
			    (long long)st->ident.key_generation);
	if (st->ident.cert_expires_unix)
		nn_sbprintf(b,
			    "# HELP nanami_certificate_expiry_timestamp_seconds notAfter of the "
			    "mTLS client certificate.\n"
			    "# TYPE nanami_certificate_expiry_timestamp_seconds gauge\n"
			    "nanami_certificate_expiry_timestamp_seconds %lld\n",
			    (long long)st->ident.cert_expires_unix);
	nn_sbprintf(b, "# HELP nanami_identity_errors_total Identity errors by kind.\n"
		       "# TYPE nanami_identity_errors_total counter\n");
	for (s = 0; s < NN_IDERR_MAX; s++)
		nn_sbprintf(b, "nanami_identity_errors_total{kind=\"%s\"} %llu\n",
			    nn_ident_err_name(s), (unsigned long long)st->ident.errors[s]);
	nn_sbprintf(b,
		    "# HELP nanami_peers Peers on wg0 (devices and overlay nodes).\n"
		    "# TYPE nanami_peers gauge\nnanami_peers %zu\n",
		    st->n_peers);
	nn_sbprintf(b, "# HELP nanami_peer_handshake_age_seconds Seconds since each wg0 peer's "
		       "last handshake (absent: never).\n"
		       "# TYPE nanami_peer_handshake_age_seconds gauge\n"
		       "# HELP nanami_peer_rx_bytes_total Bytes received from each wg0 peer.\n"
		       "# TYPE nanami_peer_rx_bytes_total counter\n"
		       "# HELP nanami_peer_tx_bytes_total Bytes sent to each wg0 peer.\n"
		       "# TYPE nanami_peer_tx_bytes_total counter\n");
	for (i = 0; i < st->n_peers; i++) {
		const struct nn_peer_metrics *p = &st->peers[i];

		esc(p->id, e, sizeof(e));
		if (p->last_handshake_unix)
			nn_sbprintf(b, "nanami_peer_handshake_age_seconds{peer=\"%s\"} %lld\n", e,
				    (long long)(now - p->last_handshake_unix));
		nn_sbprintf(b, "nanami_peer_rx_bytes_total{peer=\"%s\"} %llu\n", e,
			    (unsigned long long)p->rx_bytes);
		nn_sbprintf(b, "nanami_peer_tx_bytes_total{peer=\"%s\"} %llu\n", e,
			    (unsigned long long)p->tx_bytes);
	}
	controller_times(b, st);
	pthread_mutex_unlock(&st->mu);
}

char *nn_metrics_render(struct nn_dp *dp, const struct nn_underlay *ul, struct nn_ctl_state *st)
{
	struct nn_active a = {};
	struct nn_strbuf b = {};
	uint32_t zero = 0;

	bpf_map_lookup_elem(dp->map_fd[NN_M_ACTIVE], &zero, &a);
	nn_sbprintf(
		&b,
		"# HELP nanami_policy_epoch The live policy epoch (advances at each generation switch).\n"
		"# TYPE nanami_policy_epoch gauge\nnanami_policy_epoch %u\n",
		a.epoch);
	controller(&b, st, (int64_t)time(NULL));
	drops(&b, dp, ul);
	devices(&b, dp);
	rules(&b, dp);
	maps(&b, dp, NN_SLOT(a.epoch));
	return nn_sbtake(&b);
}

struct nn_metrics {
	struct MHD_Daemon *http;
	struct nn_dp *dp;
	const struct nn_underlay *ul;
	struct nn_ctl_state *st;
};

/* GET /metrics (a query string is ignored); anything else is 404. */
static nn_mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url,
				const char *method, const char *version, const char *upload,
				size_t *upload_size, void **con_cls)
{
	struct nn_metrics *m = cls;
	nn_mhd_result ret;
	char *body;

	(void)version;
	(void)upload;
	(void)con_cls;
	if (*upload_size) {
		*upload_size = 0; /* a body we do not want: consumed, then 404 */
		return MHD_YES;
	}
	if (strcmp(method, "GET") || strcmp(url, "/metrics"))
		return nn_http_reply(c, MHD_HTTP_NOT_FOUND, "text/plain; version=0.0.4", "", 0,
				     true);
	body = nn_metrics_render(m->dp, m->ul, m->st);
	if (!body)
		return nn_http_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; version=0.0.4",
				     "", 0, true);
	ret = nn_http_reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", body, strlen(body), true);
	free(body);
	return ret;
}

static int listen_on(const char *spec)
{
	char host[256], *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST },
			*ai = NULL;
	int fd, one = 1, err;

	if (snprintf(host, sizeof(host), "%s", spec) >= (int)sizeof(host))
		return -EINVAL;
	port = strrchr(host, ':');
	if (!port)
		return -EINVAL;
	*port++ = 0;
	if (host[0] == '[') {
		size_t l = strlen(host);

		if (l < 2 || host[l - 1] != ']')
			return -EINVAL;
		host[l - 1] = 0;
		memmove(host, host + 1, l - 1);
	}
	err = getaddrinfo(host, port, &hints, &ai);
	if (err)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		err = -errno;
		close(fd);
		goto out;
	}
	err = fd;
out:
	freeaddrinfo(ai);
	return err;
}

int nn_metrics_start(const char *listen, struct nn_dp *dp, const struct nn_underlay *ul,
		     struct nn_ctl_state *st, struct nn_metrics **out)
{
	struct nn_metrics *m = calloc(1, sizeof(*m));
	int fd, err;

	if (!m)
		return -ENOMEM;
	m->dp = dp;
	m->ul = ul;
	m->st = st;
	fd = listen_on(listen);
	if (fd < 0) {
		nn_log_err("event=metrics listen=%s error=\"couldn't listen: %s\"", listen,
			   strerror(-fd));
		free(m);
		return fd;
	}
	err = nn_http_start(fd, "metrics", on_request, NULL, m, &m->http);
	if (err) {
		free(m);
		return err;
	}
	nn_log_info("event=metrics listen=%s path=/metrics", listen);
	*out = m;
	return 0;
}

void nn_metrics_stop(struct nn_metrics *m)
{
	if (!m)
		return;
	nn_http_stop(m->http);
	free(m);
}
