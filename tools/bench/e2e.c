// SPDX-License-Identifier: GPL-2.0
/*
 * e2e.c - event to enforcement through the real controller and the real
 * event stream (issue 13's targets), driven by tools/bench/e2e.sh:
 *
 *   nn-microbench e2e --cp URL --pins DIR --snapshot FILE [--changes K]
 *                     [--churn RATE --seconds S] [--pid PID] [--seed N]
 *                     [--unnamed | --named]
 *
 * A change is one request to the reference control plane's admin or
 * operator API (which answers with the generation it committed); it is
 * enforced when the pinned nn_meta (written by the controller after the
 * flip, docs/controller.md) names that generation or a newer one. The time
 * between is measured here, from just before the request is sent: it
 * includes the control plane's commit, the event, the controller's fetch
 * of the delta, its validation, compile and generation switch.
 *
 * Serial mode (default): K changes of each kind one after another, each
 * waited for: revoke, restore, routing preference set and cleared, key
 * rotation (the device object again with a new key), device added and
 * deleted. Churn mode (--churn RATE --seconds S): RATE changes a second of
 * those kinds on random devices, not waited for; a poller resolves each
 * when its generation is enforced; the controller's RSS (--pid) sampled
 * each second. JSON on stdout; p50/p99/max per kind and overall.
 * --unnamed: changes only to devices no rule names by id; --named: only to
 * devices a rule of their network names by id (src or dst devices), for
 * revoke, restore, preference and key rotation (add and delete make and
 * remove devices of their own, which no rule names). "devices" in the
 * output counts the candidates.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <curl/curl.h>

#include "bench_main.h"
#include "nanami_abi.h"

enum kind { K_REVOKE, K_RESTORE, K_PREF, K_UNPREF, K_KEY, K_ADD, K_DEL, K_N };
static const char *const kind_name[K_N] = { "revoke",	    "restore", "pref_set", "pref_clear",
					    "key_rotation", "add",     "delete" };

struct dev {
	char *id;
	char *net;
	json_t *obj; /* the device object as the snapshot has it */
};

struct e2e {
	const char *cp;
	int meta_fd;
	CURL *curl;
	struct dev *devs;
	size_t n_devs;
	uint64_t rng;
	unsigned int added;   /* devices made by "add": e2e-add-1 .. -added */
	unsigned int deleted; /* of those, deleted by "delete" (from the first) */
	struct dev *revoked;  /* what "restore" and "pref_clear" undo */
	struct dev *preferred;
};

static uint64_t rnd(struct e2e *e)
{
	e->rng ^= e->rng << 13;
	e->rng ^= e->rng >> 7;
	e->rng ^= e->rng << 17;
	return e->rng;
}

static int enforced_gen(const struct e2e *e, uint64_t *gen)
{
	struct nn_meta m;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(e->meta_fd, &zero, &m))
		return -errno;
	*gen = m.generation;
	return 0;
}

struct body {
	char buf[4096];
	size_t n;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
	struct body *b = ud;
	size_t n = sz * nm, room = sizeof(b->buf) - 1 - b->n;

	memcpy(b->buf + b->n, p, n < room ? n : room);
	b->n += n < room ? n : room;
	b->buf[b->n] = 0;
	return n;
}

/* One request; the generation the control plane committed, or -1. */
static long long request(struct e2e *e, const char *method, const char *path, json_t *jbody)
{
	char url[1024], *data = jbody ? json_dumps(jbody, JSON_COMPACT) : NULL;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct body b = { .n = 0 };
	long status = 0;
	long long gen = -1;
	json_t *j;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", e->cp, path);
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, data ? data : "");
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, 30000L);
	rc = curl_easy_perform(e->curl);
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	free(data);
	if (rc != CURLE_OK || status != 200) {
		fprintf(stderr, "e2e: %s %s: %s, HTTP %ld: %s\n", method, path,
			curl_easy_strerror(rc), status, b.buf);
		return -1;
	}
	j = json_loads(b.buf, 0, NULL);
	if (json_is_integer(json_object_get(j, "generation")))
		gen = json_integer_value(json_object_get(j, "generation"));
	json_decref(j);
	if (gen < 0)
		fprintf(stderr, "e2e: %s %s: no generation in the answer: %s\n", method, path,
			b.buf);
	return gen;
}

static void random_key(struct e2e *e, char out[45])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int i;

	/* 32 bytes: 42 free characters, a 43rd with its low 2 bits zero, '='. */
	for (i = 0; i < 42; i++)
		out[i] = b64[rnd(e) % 64];
	out[42] = b64[(rnd(e) % 16) * 4];
	out[43] = '=';
	out[44] = 0;
}

/* Make one change of @k on a random device; its generation or -1. */
static long long change(struct e2e *e, enum kind k)
{
	struct dev *d = &e->devs[rnd(e) % e->n_devs];
	char path[512], key[45];

	/* Undo on the device of the change undone (a restore of an active
	 * device would change nothing). */
	if (k == K_RESTORE && e->revoked)
		d = e->revoked;
	if (k == K_UNPREF && e->preferred)
		d = e->preferred;
	if (k == K_REVOKE)
		e->revoked = d;
	if (k == K_PREF)
		e->preferred = d;
	long long g;
	json_t *o;

	switch (k) {
	case K_REVOKE:
	case K_RESTORE:
		snprintf(path, sizeof(path), "/admin/v1/devices/%s/state", d->id);
		o = json_pack("{s:s}", "state", k == K_REVOKE ? "disabled" : "active");
		g = request(e, "PUT", path, o);
		json_decref(o);
		return g;
	case K_PREF:
	case K_UNPREF:
		snprintf(path, sizeof(path), "/api/v1/devices/%s/routing-preference", d->id);
		o = k == K_PREF ? json_pack("{s:s}", "traffic_mode", "full_tunnel") :
				  json_pack("{s:n}", "traffic_mode");
		g = request(e, "PUT", path, o);
		json_decref(o);
		return g;
	case K_KEY:
		o = json_deep_copy(d->obj);
		random_key(e, key);
		json_object_set_new(o, "public_key", json_string(key));
		snprintf(path, sizeof(path), "/admin/v1/networks/%s/devices/%s", d->net, d->id);
		g = request(e, "PUT", path, o);
		if (g >= 0) {
			json_decref(d->obj);
			d->obj = o;
		} else {
			json_decref(o);
		}
		return g;
	case K_ADD: {
		/* A copy of a device with a fresh id, key and addresses (the
		 * top of the overlay /48 and of 100.127/16: genpolicy never
		 * allocates there). */
		unsigned int n = e->added + 1;
		char id[64], a6[64], a4[32];

		o = json_deep_copy(d->obj);
		random_key(e, key);
		snprintf(id, sizeof(id), "e2e-add-%u", n);
		snprintf(a6, sizeof(a6), "fd7a:6e61:6e61:ffff::%x", n);
		snprintf(a4, sizeof(a4), "100.127.%u.%u", (n >> 8) & 255, n & 255);
		json_object_set_new(o, "device_id", json_string(id));
		json_object_set_new(o, "public_key", json_string(key));
		json_object_set_new(o, "overlay_ipv6", json_string(a6));
		json_object_set_new(o, "overlay_ipv4", json_string(a4));
		json_object_set_new(o, "state", json_string("active"));
		snprintf(path, sizeof(path), "/admin/v1/networks/%s/devices/%s", d->net, id);
		g = request(e, "PUT", path, o);
		json_decref(o);
		if (g >= 0)
			e->added = n;
		return g;
	}
	case K_DEL: {
		char id[64];

		if (e->deleted == e->added)
			return -1;
		snprintf(id, sizeof(id), "e2e-add-%u", e->deleted + 1);
		snprintf(path, sizeof(path), "/admin/v1/devices/%s", id);
		g = request(e, "DELETE", path, NULL);
		if (g >= 0)
			e->deleted++;
		return g;
	}
	default:
		return -1;
	}
}

/* Poll nn_meta until it names @gen (or newer); ms waited, -1 on timeout. */
static double wait_enforced(const struct e2e *e, uint64_t gen, double t0, double timeout_ms)
{
	uint64_t g = 0;

	for (;;) {
		double t = bench_wall_ms();

		if (!enforced_gen(e, &g) && g >= gen)
			return t - t0;
		if (t - t0 > timeout_ms)
			return -1;
		usleep(100);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static json_t *summary(double *v, size_t n, size_t failed)
{
	json_t *o;

	qsort(v, n, sizeof(*v), cmp_double);
	o = json_pack("{s:I,s:I}", "n", (json_int_t)n, "failed", (json_int_t)failed);
	if (n) {
		json_object_set_new(o, "p50_ms", json_real(v[n / 2]));
		json_object_set_new(o, "p99_ms",
				    json_real(v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]));
		json_object_set_new(o, "max_ms", json_real(v[n - 1]));
		json_object_set_new(o, "min_ms", json_real(v[0]));
	}
	return o;
}

static int serial(struct e2e *e, unsigned int per_kind, int pid, json_t *out)
{
	double cpu0 = pid > 0 ? bench_pid_cpu_ms(pid) : -1;
	double *v[K_N], *all = calloc((size_t)per_kind * K_N + 1, sizeof(double));
	size_t n[K_N] = {}, failed[K_N] = {}, n_all = 0, failed_all = 0;
	json_t *kinds = json_object();
	unsigned int i;
	int k, err = 0;

	for (k = 0; k < K_N; k++)
		if (!(v[k] = calloc(per_kind + 1, sizeof(double))))
			err = -ENOMEM;
	/* Each round makes one change of every kind, each undone by the
	 * next (revoke, restore; set, clear; add, delete), so the world ends
	 * where it began. */
	for (i = 0; !err && all && i < per_kind; i++) {
		for (k = 0; k < K_N; k++) {
			double t0 = bench_wall_ms(), ms;
			long long g = change(e, (enum kind)k);

			ms = g < 0 ? -1 : wait_enforced(e, (uint64_t)g, t0, 30000);
			if (ms < 0) {
				failed[k]++;
				failed_all++;
				continue;
			}
			v[k][n[k]++] = ms;
			all[n_all++] = ms;
			/* a pause: the controller's idle work (standby sync)
			 * is not what this measures */
			usleep(50000);
		}
	}
	for (k = 0; k < K_N; k++) {
		if (v[k])
			json_object_set_new(kinds, kind_name[k], summary(v[k], n[k], failed[k]));
		free(v[k]);
	}
	json_object_set_new(out, "serial", kinds);
	if (all)
		json_object_set_new(out, "serial_all", summary(all, n_all, failed_all));
	/* the controller's CPU per change, its idle work between changes
	 * (standby sync, the pauses) included */
	if (cpu0 >= 0 && n_all && bench_pid_cpu_ms(pid) >= 0)
		json_object_set_new(out, "controller_cpu_ms_per_change",
				    json_real((bench_pid_cpu_ms(pid) - cpu0) / (double)n_all));
	free(all);
	return err ? err : all ? 0 : -ENOMEM;
}

struct pending {
	uint64_t gen;
	double t0;
};

static int churn(struct e2e *e, double rate, double seconds, int pid, json_t *out)
{
	size_t cap = (size_t)(rate * seconds) + 16, n = 0, done = 0, failed = 0, i;
	struct pending *p = calloc(cap, sizeof(*p));
	double *lat = calloc(cap, sizeof(double)), t_start = bench_wall_ms(), next = t_start,
	       next_rss = t_start;
	json_t *rss = json_array();
	static const enum kind cycle[] = { K_REVOKE, K_RESTORE, K_PREF, K_UNPREF, K_KEY };
	unsigned int c = 0;

	if (!p || !lat) {
		free(p);
		free(lat);
		return -ENOMEM;
	}
	while (bench_wall_ms() - t_start < seconds * 1e3 || done < n) {
		double t = bench_wall_ms();
		uint64_t g = 0;

		if (t - t_start < seconds * 1e3 && t >= next && n < cap) {
			long long gen = change(e, cycle[c++ % 5]);

			if (gen >= 0)
				p[n++] = (struct pending){ (uint64_t)gen, t };
			else
				failed++;
			next += 1e3 / rate;
		}
		if (!enforced_gen(e, &g))
			for (i = done; i < n && p[i].gen <= g; i++)
				lat[done++] = bench_wall_ms() - p[i].t0;
		if (done < n && bench_wall_ms() - p[done].t0 > 30000) {
			failed += n - done; /* never enforced within 30 s */
			n = done;
		}
		if (pid > 0 && t >= next_rss) {
			json_array_append_new(rss, json_integer(bench_status_kb(pid, "VmRSS")));
			next_rss += 1000;
		}
		usleep(100);
	}
	json_object_set_new(out, "churn", summary(lat, done, failed));
	json_object_set_new(json_object_get(out, "churn"), "rate_per_s", json_real(rate));
	json_object_set_new(json_object_get(out, "churn"), "seconds", json_real(seconds));
	json_object_set_new(out, "churn_rss_kb", rss);
	free(p);
	free(lat);
	return 0;
}

/* @only: 0 every device; 'u' only devices no rule of their network names
 * by id; 'n' only devices one does. */
static int load_devices(struct e2e *e, const char *file, int only)
{
	json_error_t jerr;
	json_t *s = json_load_file(file, 0, &jerr), *t, *nw, *d;
	size_t i, j, k;

	if (!s) {
		fprintf(stderr, "e2e: %s:%d: %s\n", file, jerr.line, jerr.text);
		return -EINVAL;
	}
	json_array_foreach(json_object_get(s, "tenants"), i, t)
	{
		json_array_foreach(json_object_get(t, "networks"), j, nw)
		{
			const char *nid = json_string_value(json_object_get(nw, "network_id"));
			char *acl = only ? json_dumps(json_object_get(nw, "acl"), JSON_COMPACT) :
					   NULL;

			json_array_foreach(json_object_get(nw, "devices"), k, d)
			{
				const char *id = json_string_value(json_object_get(d, "device_id"));
				char q[160];
				struct dev *nd;

				snprintf(q, sizeof(q), "\"%s\"", id ? id : "");
				if (!id || (acl && !strstr(acl, q) != (only == 'u')))
					continue;
				nd = realloc(e->devs, (e->n_devs + 1) * sizeof(*nd));

				if (!nd) {
					free(acl);
					json_decref(s);
					return -ENOMEM;
				}
				e->devs = nd;
				nd = &e->devs[e->n_devs++];
				nd->id = strdup(json_string_value(json_object_get(d, "device_id")));
				nd->net = strdup(nid);
				nd->obj = json_incref(d);
			}
			free(acl);
		}
	}
	json_decref(s);
	if (!e->n_devs) {
		fprintf(stderr, "e2e: %s: no devices\n", file);
		return -EINVAL;
	}
	return 0;
}

int e2e_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cp", required_argument, NULL, 'u' },
		{ "pins", required_argument, NULL, 'P' },
		{ "snapshot", required_argument, NULL, 's' },
		{ "changes", required_argument, NULL, 'k' },
		{ "churn", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "pid", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'x' },
		{ "unnamed", no_argument, NULL, 'n' },
		{ "named", no_argument, NULL, 'N' },
		{},
	};
	struct e2e e = { .rng = 0x9e3779b97f4a7c15ULL };
	const char *pins = NULL, *snap = NULL;
	double rate = 0, seconds = 0;
	unsigned int per_kind = 20;
	char path[512];
	int opt, pid = 0, err;
	int only = 0;
	size_t i;
	json_t *out;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'u':
			e.cp = optarg;
			break;
		case 'P':
			pins = optarg;
			break;
		case 's':
			snap = optarg;
			break;
		case 'k':
			per_kind = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtod(optarg, NULL);
			break;
		case 'S':
			seconds = strtod(optarg, NULL);
			break;
		case 'p':
			pid = atoi(optarg);
			break;
		case 'x':
			e.rng = strtoull(optarg, NULL, 0) | 1;
			break;
		case 'n':
			only = 'u';
			break;
		case 'N':
			only = 'n';
			break;
		default:
			goto usage;
		}
	}
	if (!e.cp || !pins || !snap || (rate > 0) != (seconds > 0))
		goto usage;
	snprintf(path, sizeof(path), "%s/nn_meta", pins);
	e.meta_fd = bpf_obj_get(path);
	if (e.meta_fd < 0) {
		fprintf(stderr, "e2e: %s: %s\n", path, strerror(errno));
		return 1;
	}
	err = load_devices(&e, snap, only);
	if (err)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	e.curl = curl_easy_init();
	out = json_pack("{s:I, s:b, s:b}", "devices", (json_int_t)e.n_devs, "unnamed_only",
			only == 'u', "named_only", only == 'n');
	err = rate > 0 ? churn(&e, rate, seconds, pid, out) : serial(&e, per_kind, pid, out);
	if (!err) {
		char *s = json_dumps(out, JSON_INDENT(1));

		puts(s);
		free(s);
	}
	json_decref(out);
	curl_easy_cleanup(e.curl);
	for (i = 0; i < e.n_devs; i++) {
		free(e.devs[i].id);
		free(e.devs[i].net);
		json_decref(e.devs[i].obj);
	}
	free(e.devs);
	return err ? 1 : 0;
usage:
	fprintf(stderr, "usage: nn-microbench e2e --cp URL --pins DIR --snapshot FILE "
			"[--changes K] [--churn RATE --seconds S] [--pid PID] [--seed N] "
			"[--unnamed | --named]\n");
	return 2;
}
