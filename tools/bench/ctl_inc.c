// SPDX-License-Identifier: GPL-2.0
/*
 * ctl_inc.c - the incremental path's figures for nn-microbench apply
 * (compile/delta.h, nn_apply_patch): once the snapshot is live, the kept
 * state is built (what a full apply leaves for the fast path), then
 * one-device changes go through nn_inc_delta + nn_apply_patch: revoke,
 * restore, key rotation, routing preference, add, delete. Each: CPU ms of
 * the process (user + system), wall ms, map writes. The device is the
 * first from the middle of the snapshot that no rule names by id (a device
 * a rule names goes the same path, with a longer signature:
 * docs/controller.md, "Rule-named devices").
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bench_main.h"
#include "compile/delta.h"
#include "dp/apply.h"
#include "lib/base64.h"

struct inc_run {
	struct nn_dp *dp;
	struct nn_inc *inc;
	uint64_t gen;
	const char *tid, *nid;
};

struct inc_fig {
	double cpu, ms;
	size_t writes;
	bool fast;
	char why[160];
};

/* One change through the fast path; fig->fast false when it fell back. */
static int one(struct inc_run *r, const char *op, const char *id, json_t *value,
	       struct inc_fig *fig)
{
	json_t *ch = json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "op", op, "kind", "device", "id", id,
			       "tenant_id", r->tid, "network_id", r->nid);
	struct nn_errlist errs = {};
	struct nn_apply_result res = {};
	struct nn_dev_patch pt;
	double c0, t0;
	int err;

	if (!ch)
		return -ENOMEM;
	if (value)
		json_object_set_new(json_array_get(ch, 0), "value", value);
	memset(fig, 0, sizeof(*fig));
	c0 = bench_cpu_ms();
	t0 = bench_wall_ms();
	err = nn_inc_delta(r->inc, ch, r->gen + 1, &pt, fig->why, sizeof(fig->why));
	if (!err) {
		if (nn_apply_patch(r->dp, &pt, &res, &errs) != NN_APPLY_APPLIED)
			err = res.error ? res.error : -EIO;
		nn_dev_patch_free(&pt);
		fig->fast = !err;
		r->gen++;
	}
	fig->ms = bench_wall_ms() - t0;
	fig->cpu = bench_cpu_ms() - c0;
	fig->writes = res.writes;
	json_decref(ch);
	nn_errlist_free(&errs);
	return err == -EAGAIN ? 0 : err;
}

static void print_fig(FILE *out, const char *name, const struct inc_fig *f, bool last)
{
	fprintf(out,
		"\"%s\": {\"cpu_ms\": %.2f, \"ms\": %.2f, \"writes\": %zu, \"fast\": %s%s%s%s}%s",
		name, f->cpu, f->ms, f->writes, f->fast ? "true" : "false",
		f->fast ? "" : ", \"why\": \"", f->fast ? "" : f->why, f->fast ? "" : "\"",
		last ? "" : ", ");
}

/* A device entry of the held document as a jansson value (a change's). */
static json_t *to_json(const struct nn_jv *v)
{
	size_t len;
	char *t = nn_held_dump(v, &len);
	json_t *j = t ? json_loadb(t, len, 0, NULL) : NULL;

	free(t);
	return j;
}

/* A device of the middle network on that no rule names: the revocation
 * goes through the fast path. */
static json_t *pick_device(struct inc_run *r, struct nn_held *doc, size_t *tried,
			   struct inc_fig *rev)
{
	const struct nn_jv *ts = nn_jv_get(doc->d.root, "tenants"), *t;
	struct nn_jv *n, *dv;
	size_t i, j, k, nt = nn_jv_size(ts);

	for (i = nt / 2; i < nt + nt / 2; i++) {
		t = nn_jv_at(ts, i % nt);
		nn_jv_foreach(nn_jv_get(t, "networks"), j, n)
		{
			nn_jv_foreach(nn_jv_get(n, "devices"), k, dv)
			{
				json_t *v = to_json(dv), *d;
				const char *id = json_string_value(json_object_get(v, "device_id"));

				if (!v || !id || *tried > 5000) {
					json_decref(v);
					return NULL;
				}
				(*tried)++;
				d = json_deep_copy(v);
				r->tid = nn_jv_str(nn_jv_get(t, "tenant_id"));
				r->nid = nn_jv_str(nn_jv_get(n, "network_id"));
				if (!d) {
					json_decref(v);
					return NULL;
				}
				json_object_set_new(v, "state", json_string("disabled"));
				if (one(r, "upsert", id, v, rev)) {
					json_decref(d);
					return NULL;
				}
				if (rev->fast)
					return d;
				json_decref(d);
			}
		}
	}
	return NULL;
}

/* Where the phase's memory goes, on stderr: RSS and the high-water mark
 * after step @what (the mark rising between two steps says where the
 * peak is). */
static void step(const char *what)
{
	fprintf(stderr, "# incremental: %s: RSS %ld kB, high-water %ld kB\n", what,
		bench_status_kb(0, "VmRSS"), bench_status_kb(0, "VmHWM"));
}

/*
 * A later full apply as the daemon makes one (a full snapshot, a refused
 * delta, a repair): the kept state dropped first (nn_gwd_inc_drop), its
 * policy still held as the enforced one for a rollback (d->good) while the
 * document's policy is validated and compiled beside it. Its peak RSS in
 * *peak_kb (the high-water mark reset before it), the RSS the held policy
 * was worth in *good_kb (freed after). Consumes @inc.
 */
static int full_again(struct nn_dp *dp, struct nn_inc *inc, struct nn_held *doc,
		      const struct nn_limits *lim, long *peak_kb, long *good_kb, double *cpu_ms)
{
	struct nn_policy *good = nn_inc_take_policy(inc), *p = NULL;
	struct nn_apply_kept kept = {};
	struct nn_apply_result ar = {};
	struct nn_errlist errs = {};
	struct nn_slot_plan none = {};
	double c0 = bench_cpu_ms();
	long rss;
	int err;

	malloc_trim(0); /* as the daemon after its last full apply */
	bench_hwm_reset();
	step("full_again: kept state dropped");
	err = nn_held_policy(doc, NULL, 0, "gw-bench", lim, &p, &errs);
	step("full_again: validated");
	if (!err && nn_apply_keep(dp, p, &ar, &errs, &kept) != NN_APPLY_APPLIED)
		err = ar.error ? ar.error : -EIO;
	step("full_again: applied");
	*cpu_ms = bench_cpu_ms() - c0;
	*peak_kb = bench_status_kb(0, "VmHWM");
	nn_compile_state_free(kept.cs);
	nn_slots_free(&kept.slots, &none);
	nn_policy_free(p);
	malloc_trim(0);
	rss = bench_status_kb(0, "VmRSS");
	nn_policy_free(good);
	malloc_trim(0);
	*good_kb = rss - bench_status_kb(0, "VmRSS");
	bench_hwm_reset(); /* its peak is its own figure, not the phase's */
	for (size_t i = 0; i < errs.n && i < 3; i++)
		fprintf(stderr, "# full_again: %s\n", errs.msgs[i]);
	nn_errlist_free(&errs);
	return err;
}

int bench_inc_figures(struct nn_dp *dp, char **json, size_t len, const struct nn_limits *lim,
		      FILE *out, long *inc_peak_kb)
{
	struct nn_errlist errs = {};
	struct nn_apply_kept kept = {};
	struct nn_apply_result ar = {};
	struct nn_slot_plan none = {};
	struct inc_run r = { .dp = dp };
	struct inc_fig rev, res, key, rt, add, del;
	struct nn_policy *p = NULL;
	struct nn_held *doc = NULL;
	json_t *d = NULL, *v;
	double c0, t0, build_ms, build_cpu, held_ms, again_cpu = 0;
	long again_kb = 0, good_kb = 0;
	/* RSS (kB) before the held document, after it, after the policy and
	 * compile state it builds on, after the kept state's indexes. */
	long rss[4];
	size_t tried = 0, w = 0;
	uint8_t kb[32] = { 0xbe, 0x4c };
	char b64[NN_KEY_B64_SIZE], addr[64], *colon, perr[256];
	int err;

	/* The document as the daemon holds it (policy/held.h), so the phase's
	 * memory is the daemon's. */
	rss[0] = bench_status_kb(0, "VmRSS");
	t0 = bench_wall_ms();
	if (nn_held_parse(*json, len, &doc, perr, sizeof(perr))) {
		fprintf(stderr, "incremental: %s\n", perr);
		return -EINVAL;
	}
	held_ms = bench_wall_ms() - t0;
	rss[1] = bench_status_kb(0, "VmRSS");
	step("held document");
	r.gen = (uint64_t)nn_held_generation(doc);
	/* The live generation again (no write): what the full apply keeps,
	 * validated from the document as the daemon does (one parse), the
	 * text then freed as the daemon frees the fetched body. */
	err = nn_held_policy(doc, *json, len, "gw-bench", lim, &p, &errs);
	step("validated");
	free(*json);
	*json = NULL;
	step("text freed");
	if (!err && nn_apply_keep(dp, p, &ar, &errs, &kept) != NN_APPLY_APPLIED)
		err = ar.error ? ar.error : -EIO;
	step("applied");
	if (!err)
		err = nn_apply_sync_standby(dp, &w);
	step("standby synced");
	if (err) {
		nn_policy_free(p);
		goto out;
	}
	rss[2] = bench_status_kb(0, "VmRSS");
	c0 = bench_cpu_ms();
	t0 = bench_wall_ms();
	r.inc = nn_inc_new(p, kept.cs, &kept.slots, kept.slot_cap, kept.seq, doc, lim);
	build_ms = bench_wall_ms() - t0;
	build_cpu = bench_cpu_ms() - c0;
	nn_slots_free(&kept.slots, &none);
	rss[3] = bench_status_kb(0, "VmRSS");
	step("kept state");
	if (!r.inc) {
		err = -ENOMEM;
		goto out;
	}
	d = pick_device(&r, doc, &tried, &rev);
	if (!d) {
		err = -ENOENT;
		goto out;
	}
	step("the first change (revoke)");
	v = json_deep_copy(d);
	err = one(&r, "upsert", json_string_value(json_object_get(d, "device_id")), v, &res);
	nn_key_to_base64(kb, b64);
	step("restore");
	v = json_deep_copy(d);
	json_object_set_new(v, "public_key", json_string(b64));
	if (!err)
		err = one(&r, "upsert", json_string_value(json_object_get(d, "device_id")), v,
			  &key);
	v = json_deep_copy(d);
	json_object_set_new(v, "routing_preference",
			    json_pack("{s:s}", "traffic_mode", "full_tunnel"));
	if (!err)
		err = one(&r, "upsert", json_string_value(json_object_get(d, "device_id")), v, &rt);
	step("key rotation, routing preference");
	/* A new device of the same user, in the same /64, no IPv4. */
	v = json_deep_copy(d);
	snprintf(addr, sizeof(addr), "%s", json_string_value(json_object_get(d, "overlay_ipv6")));
	colon = strrchr(addr, ':');
	if (colon)
		snprintf(colon + 1, sizeof(addr) - (size_t)(colon + 1 - addr), "beef:1");
	kb[2] = 1;
	nn_key_to_base64(kb, b64);
	json_object_set_new(v, "device_id", json_string("bench-new"));
	json_object_set_new(v, "overlay_ipv6", json_string(addr));
	json_object_del(v, "overlay_ipv4");
	json_object_set_new(v, "public_key", json_string(b64));
	if (!err)
		err = one(&r, "upsert", "bench-new", v, &add);
	step("add");
	if (!err)
		err = one(&r, "delete", "bench-new", NULL, &del);
	if (err)
		goto out;
	step("six fast-path changes");
	/* The phase's own peak, before full_again resets the mark. */
	*inc_peak_kb = bench_status_kb(0, "VmHWM");
	err = full_again(dp, r.inc, doc, lim, &again_kb, &good_kb, &again_cpu);
	r.inc = NULL;
	if (err)
		goto out;
	fprintf(out,
		"\"incremental\": {\"state_build_ms\": %.1f, \"state_build_cpu_ms\": %.1f, "
		"\"devices_tried\": %zu, \"held_doc\": {\"parse_ms\": %.1f, \"arena_bytes\": %zu, "
		"\"text_bytes\": %zu, \"rss_kb\": %ld}, \"policy_compile_rss_kb\": %ld, "
		"\"kept_state_rss_kb\": %ld, \"full_again\": {\"peak_rss_kb\": %ld, "
		"\"held_policy_rss_kb\": %ld, \"cpu_ms\": %.1f}, ",
		build_ms, build_cpu, tried, held_ms, nn_held_bytes(doc), len, rss[1] - rss[0],
		rss[2] - rss[1], rss[3] - rss[2], again_kb, good_kb, again_cpu);
	print_fig(out, "revoke", &rev, false);
	print_fig(out, "restore", &res, false);
	print_fig(out, "key_rotation", &key, false);
	print_fig(out, "routing_pref", &rt, false);
	print_fig(out, "add", &add, false);
	print_fig(out, "delete", &del, true);
	fprintf(out, "}");
out:
	for (size_t i = 0; i < errs.n && i < 3; i++)
		fprintf(stderr, "# %s\n", errs.msgs[i]);
	nn_errlist_free(&errs);
	nn_inc_free(r.inc);
	json_decref(d);
	nn_held_put(doc);
	return err;
}
