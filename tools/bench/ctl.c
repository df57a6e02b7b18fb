// SPDX-License-Identifier: GPL-2.0
/*
 * ctl.c - the controller half of nn-microbench, through the controller's
 * own APIs (nn_policy_parse: parse + validate; nn_apply: routing, compile,
 * diff, write the standby slot, flip, RCU barrier):
 *
 *   nn-microbench apply -n N
 *       cold (fresh maps), warm (the same snapshot again) and a one-device
 *       change (one device disabled: the event-to-enforcement path without
 *       the network), each validate + apply; peak RSS; map memory (memlock
 *       of every map, as bpftool map show reports it). JSON on stdout.
 *       -c: the cold apply only, then exit (for callgrind: the instruction
 *       count of parse + validate + compile + apply, nothing else).
 *       Memory: the peak RSS of each phase (the kernel's high-water mark,
 *       reset between phases through /proc/self/clear_refs) and the memlock
 *       of each map, so that a figure at 1M says where the memory goes.
 *   nn-microbench swap -n N -P PINDIR [-c COUNT] [-e] [-x]
 *       COUNT back-to-back generation swaps on the maps a running
 *       nanami-gatewayd pinned under PINDIR (adopted): two snapshots that
 *       differ in one device that carries no traffic, alternately. The
 *       packet loss is counted by run.sh at the receivers meanwhile.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_main.h"
#include "dp/apply.h"
#include "lib/stamp.h"
#include "policy/policy.h"

#include <bpf/bpf.h>

/* Validate and apply CPU ms of the first three apply_text calls (cold,
 * warm, one device) of apply_main. */
static double cpu_v[3], cpu_a[3];
/* The cold apply's system time (the kernel's map work) of validate and
 * apply, for -c: what user-space changes cannot reduce. */
static double sys_v, sys_a;
/* The same cold apply's CPU time of the calling thread alone: the helper
 * threads (the parse's second half, source classes, name and map writes)
 * run beside it, so on a machine whose other CPU is free this is the
 * wall time; on this shared VM the wall time mostly shows the load. */
static double main_v, main_a;

static double thread_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double sys_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}
static int cpu_n;

/* Peak RSS (kB) of the phases of apply_main, in the order of phase_name. */
enum {
	PH_GEN,
	PH_COLD_V,
	PH_COLD_A,
	PH_WARM,
	PH_SYNC,
	PH_ONE_V,
	PH_ONE_A,
	PH_CHECK,
	PH_INC,
	PH_COUNT
};
static const char *const phase_name[PH_COUNT] = { "generate",	      "cold_validate",
						  "cold_apply",	      "warm_same",
						  "standby_sync",     "one_device_validate",
						  "one_device_apply", "record_check",
						  "incremental" };
static long phase_kb[PH_COUNT];

/* Close phase @ph: its peak RSS, then the high-water mark back to the
 * current RSS for the next one. */
static void phase_end(int ph)
{
	long kb = bench_status_kb(0, "VmHWM");

	if (kb > phase_kb[ph])
		phase_kb[ph] = kb;
	/* Progress on stderr: a long run stopped midway (1M, memory) still
	 * says how far it got. */
	fprintf(stderr, "# %s: peak RSS %ld kB, CPU %.0f ms so far\n", phase_name[ph], kb,
		bench_cpu_ms());
	bench_hwm_reset();
}

/* Capacities as an operator would size them for this policy (the flags
 * --max-cells, --max-prefixes...): its need with headroom, not a flag's
 * maximum. The synthetic policy compiles to ~2.63 cells, ~0.29 prefixes
 * and ~1.7 addresses per device at every scale from 10k to 1M, so 4 cells
 * and 0.5 prefixes per device leave 1.5x. A hash map allocates its
 * elements as they come (BPF_F_NO_PREALLOC) but its buckets at creation,
 * 16 bytes per max entry rounded up to a power of two: 16n cells per slot
 * was 512 MB of empty buckets at 1M. */
static void caps(size_t n, struct nn_capacity *cap, struct nn_limits *lim)
{
	cap->max_devices = n + 1024;
	cap->max_nodes = 64;
	cap->max_rules = n + 1024;
	cap->max_prefixes = n / 2 + 4096;
	cap->max_cells = 4 * n + 4096;
	cap->max_flows = 1 << 20;
	cap->max_frags = 4096;
	cap->max_denied = NN_DEF_MAX_DENIED;
	nn_limits_default(lim);
	lim->max_devices = cap->max_devices;
	lim->max_rules = cap->max_rules;
	lim->max_prefixes = cap->max_prefixes;
	lim->max_nodes = cap->max_nodes;
	lim->max_body = 1ul << 31;
}

/* The snapshot with device d<idx> set to @state and generation @gen. */
static char *variant(const struct bench_gen *g, size_t idx, const char *state, unsigned long gen,
		     size_t *len)
{
	char needle[64], *out, *p, *st, *gp;
	size_t cap = g->len + 64;

	snprintf(needle, sizeof(needle), "\"device_id\": \"d%zu\",", idx);
	p = strstr(g->json, needle);
	st = p ? strstr(p, "\"state\": \"") : NULL;
	gp = strstr(g->json, "\"generation\": 1,");
	if (!st || !gp || gp > st)
		return NULL;
	out = malloc(cap);
	if (!out)
		return NULL;
	st += strlen("\"state\": \"");
	*len = snprintf(out, cap, "%.*s\"generation\": %lu,%.*s%s%s", (int)(gp - g->json), g->json,
			gen, (int)(st - gp - strlen("\"generation\": 1,")),
			gp + strlen("\"generation\": 1,"), state, strchr(st, '"'));
	return out;
}

/* The phases of the validate and the apply of the next apply_text call;
 * -1: none. */
static int ph_v = -1, ph_a = -1;

static int apply_text(struct nn_dp *dp, const char *json, size_t len, const struct nn_limits *lim,
		      double *validate_ms, double *apply_ms, struct nn_apply_result *ar)
{
	struct nn_errlist errs = {};
	struct nn_policy *p = NULL;
	double t0 = bench_wall_ms(), c0 = bench_cpu_ms(), c1, s0 = sys_ms(), s1, m0 = thread_ms(),
	       m1;
	size_t i;
	int err;

	err = nn_policy_parse(json, len, "gw-bench", lim, &p, &errs);
	*validate_ms = bench_wall_ms() - t0;
	c1 = bench_cpu_ms();
	s1 = sys_ms();
	m1 = thread_ms();
	if (!cpu_n)
		main_v = m1 - m0;
	if (cpu_n < 3)
		cpu_v[cpu_n] = c1 - c0;
	if (!cpu_n)
		sys_v = s1 - s0;
	if (ph_v >= 0)
		phase_end(ph_v);
	t0 = bench_wall_ms();
	if (!err && nn_apply(dp, p, ar, &errs) != NN_APPLY_APPLIED)
		err = ar->error;
	*apply_ms = bench_wall_ms() - t0;
	if (!cpu_n) {
		sys_a = sys_ms() - s1;
		main_a = thread_ms() - m1;
	}
	if (cpu_n < 3)
		cpu_a[cpu_n++] = bench_cpu_ms() - c1;
	for (i = 0; i < errs.n && i < 5; i++)
		fprintf(stderr, "# %s\n", errs.msgs[i]);
	nn_errlist_free(&errs);
	nn_policy_free(p);
	if (ph_a >= 0)
		phase_end(ph_a);
	ph_v = ph_a = -1;
	return err;
}

/* The memlock of one map, as bpftool map show reports it (the kernel's
 * map_mem_usage: buckets, and elements as allocated). */
static size_t memlock_of(int fd)
{
	char path[64], line[256];
	unsigned long long v, sum = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			sum += v;
	fclose(f);
	return sum;
}

static size_t map_memlock(const struct nn_dp *dp)
{
	size_t sum = 0;
	int i;

	for (i = 0; i < NN_M_COUNT; i++)
		sum += memlock_of(dp->map_fd[i]);
	return sum;
}

/* Was glibc's malloc told to ask for transparent huge pages (the daemon's
 * unit does)? A 4 kB page fault costs 9-15 us of CPU on a PVM guest with free
 * page reporting (this project's VM): at 1M devices the cold apply's 1.2M
 * faults were a third of its CPU. Say so beside the figures. */
static bool malloc_thp(void)
{
	const char *t = getenv("GLIBC_TUNABLES");

	return t && (strstr(t, "glibc.malloc.hugetlb=1") || strstr(t, "glibc.malloc.hugetlb=2"));
}

/* ", \"malloc_thp\": bool, \"minflt\": faults so far, \"maps_memlock\": {name:
 * bytes, ...}, \"rss_peak_kb\": {phase: kB, ...}" */
static void print_memory(const struct nn_dp *dp)
{
	struct rusage ru = {};
	int i;

	getrusage(RUSAGE_SELF, &ru);
	printf(", \"malloc_thp\": %s, \"minflt\": %ld", malloc_thp() ? "true" : "false",
	       ru.ru_minflt);

	printf(", \"maps_memlock\": {");
	for (i = 0; i < NN_M_COUNT; i++)
		printf("%s\"%s\": %zu", i ? ", " : "", nn_map_names[i], memlock_of(dp->map_fd[i]));
	printf("}, \"rss_peak_kb\": {");
	for (i = 0; i < PH_COUNT; i++)
		printf("%s\"%s\": %ld", i ? ", " : "", phase_name[i], phase_kb[i]);
	printf("}");
}

int apply_main(int argc, char **argv)
{
	struct nn_load_opts o = { .framing = NN_FRAMING_ETH, .load_xdp_direct = true };
	struct nn_apply_result ar = {};
	struct nn_limits lim;
	struct bench_gen g;
	struct nn_dp *dp = NULL;
	double cv, ca, wv, wa, dv, da, t0, e2e, sync_ms, check_ms, check_cpu, c0;
	size_t sync_writes = 0, differ = 0, json_bytes;
	long peak_kb = 0;
	int i;
	size_t n = 1000, len = 0;
	char *chg, *inc_json = NULL;
	long inc_kb = 0;
	size_t inc_len = 0;
	FILE *inc_out;
	bool cold_only = false;
	int opt, err;

	while ((opt = getopt(argc, argv, "n:c")) != -1) {
		if (opt == 'n')
			n = strtoul(optarg, NULL, 0);
		else if (opt == 'c')
			cold_only = true;
	}
	caps(n, &o.cap, &lim);
	if (bench_genpolicy(n, &g))
		return 1;
	err = nn_dp_load(&o, &dp);
	if (err) {
		fprintf(stderr, "load: %s\n", strerror(-err));
		return 1;
	}
	json_bytes = g.len;
	phase_end(PH_GEN);
	ph_v = PH_COLD_V;
	ph_a = PH_COLD_A;
	err = apply_text(dp, g.json, g.len, &lim, &cv, &ca, &ar);
	if (nn_stamp_on)
		nn_stamp_dump(stderr);
	if (cold_only) {
		printf("{\"n\": %zu, \"json_bytes\": %zu, \"cold\": {\"validate_ms\": %.1f, "
		       "\"apply_ms\": %.1f}, \"cpu_ms\": {\"cold\": [%.1f, %.1f]}, "
		       "\"sys_ms\": {\"cold\": [%.1f, %.1f]}, \"main_cpu_ms\": {\"cold\": [%.1f, %.1f]}, "
		       "\"error\": %d",
		       n, g.len, cv, ca, cpu_v[0], cpu_a[0], sys_v, sys_a, main_v, main_a, err);
		print_memory(dp);
		printf("}\n");
		nn_dp_close(dp);
		bench_gen_free(&g);
		return err ? 1 : 0;
	}
	ph_v = ph_a = PH_WARM;
	if (!err)
		err = apply_text(dp, g.json, g.len, &lim, &wv, &wa, &ar);
	/* The daemon's drift timer brings the standby half up to date while
	 * idle; the change below then writes only what it touches. */
	t0 = bench_wall_ms();
	if (!err)
		err = nn_apply_sync_standby(dp, &sync_writes);
	sync_ms = bench_wall_ms() - t0;
	phase_end(PH_SYNC);
	/* The event: device d<n/2> revoked. Its new snapshot text is what
	 * the controller holds once the event arrived, in place of the old
	 * one (one snapshot text held, as in the daemon). */
	chg = variant(&g, n / 2, "disabled", 2, &len);
	if (!chg)
		err = -EINVAL;
	free(g.json);
	g.json = NULL;
	ph_v = PH_ONE_V;
	ph_a = PH_ONE_A;
	t0 = bench_wall_ms();
	if (!err)
		err = apply_text(dp, chg, len, &lim, &dv, &da, &ar);
	e2e = bench_wall_ms() - t0;
	/* The daemon's drift check of the record against the maps. */
	t0 = bench_wall_ms();
	c0 = bench_cpu_ms();
	if (!err)
		err = nn_apply_check(dp, &differ);
	check_cpu = bench_cpu_ms() - c0;
	check_ms = bench_wall_ms() - t0;
	phase_end(PH_CHECK);
	if (err) {
		fprintf(stderr, "apply: %s\n", strerror(-err));
		return 1;
	}
	/* The incremental path from the revoked snapshot on. Its memory
	 * counts: the daemon holds what it holds (the control-plane client's
	 * document, policy/held.h, and the kept state) beside everything
	 * above, and at 1M that is most of the peak. */
	inc_out = open_memstream(&inc_json, &inc_len);
	if (!inc_out)
		return 1;
	err = bench_inc_figures(dp, &chg, len, &lim, inc_out, &inc_kb);
	fclose(inc_out);
	/* Its peak before its full_again figure reset the mark (that figure
	 * is reported beside it, in no phase: docs/controller.md "Memory at
	 * 1M (session 12, mem13h)"). */
	if (inc_kb > phase_kb[PH_INC])
		phase_kb[PH_INC] = inc_kb;
	phase_end(PH_INC);
	for (i = 0; i < PH_COUNT; i++)
		peak_kb = phase_kb[i] > peak_kb ? phase_kb[i] : peak_kb;
	if (err)
		fprintf(stderr, "incremental: %s\n", strerror(-err));
	printf("{\"n\": %zu, \"json_bytes\": %zu, \"cold\": {\"validate_ms\": %.1f, \"apply_ms\": %.1f, "
	       "\"total_ms\": %.1f}, \"warm_same\": {\"validate_ms\": %.1f, \"apply_ms\": %.1f, "
	       "\"total_ms\": %.1f}, \"standby_sync\": {\"ms\": %.1f, \"writes\": %zu}, \"one_device\": {\"validate_ms\": %.1f, \"apply_ms\": %.1f, "
	       "\"total_ms\": %.1f, \"flipped\": %s, \"writes\": %zu}, \"event_to_enforce_ms\": %.1f, "
	       "\"peak_rss_kb\": %ld, \"map_memlock_bytes\": %zu, \"addrs\": %zu, \"prefixes\": %zu, "
	       "\"cells\": %zu, \"cpu_ms\": {\"cold\": [%.1f, %.1f], \"warm_same\": [%.1f, %.1f], "
	       "\"one_device\": [%.1f, %.1f]}, \"record_check\": {\"ms\": %.1f, \"cpu_ms\": %.1f, "
	       "\"differ\": %zu}",
	       n, json_bytes, cv, ca, cv + ca, wv, wa, wv + wa, sync_ms, sync_writes, dv, da,
	       dv + da, ar.flipped ? "true" : "false", ar.writes, e2e, peak_kb, map_memlock(dp),
	       ar.addrs, ar.prefixes, ar.cells, cpu_v[0], cpu_a[0], cpu_v[1], cpu_a[1], cpu_v[2],
	       cpu_a[2], check_ms, check_cpu, differ);
	print_memory(dp);
	printf(", %s}\n", err ? "\"incremental\": null" : inc_json);
	free(inc_json);
	free(chg);
	nn_dp_close(dp);
	bench_gen_free(&g);
	return 0;
}

int swap_main(int argc, char **argv)
{
	struct nn_load_opts o = { .framing = NN_FRAMING_ETH, .hook = NN_HOOK_XDP };
	struct nn_apply_result ar = {};
	struct nn_limits lim;
	struct bench_gen g;
	struct nn_dp *dp = NULL;
	double v, a, t0, worst = 0;
	unsigned long count = 1000, i, flips = 0;
	size_t n = 10, len[2];
	char *txt[2];
	int opt, err = 0;

	while ((opt = getopt(argc, argv, "n:P:c:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'P':
			o.pin_dir = optarg;
			break;
		case 'c':
			count = strtoul(optarg, NULL, 0);
			break;
		default:
			return 2;
		}
	}
	if (!o.pin_dir)
		return 2;
	caps(n, &o.cap, &lim);
	/* The capacities the running controller created the maps with. */
	{
		int fd[NN_M_COUNT], k;
		char path[512];

		for (k = 0; k < NN_M_COUNT; k++) {
			snprintf(path, sizeof(path), "%s/%s", o.pin_dir, nn_map_names[k]);
			fd[k] = bpf_obj_get(path);
		}
		err = nn_capacity_from_maps(fd, &o.cap);
		for (k = 0; k < NN_M_COUNT; k++)
			if (fd[k] >= 0)
				close(fd[k]);
		if (err) {
			fprintf(stderr, "capacities of %s: %s\n", o.pin_dir, strerror(-err));
			return 1;
		}
		lim.max_devices = o.cap.max_devices;
		lim.max_rules = o.cap.max_rules;
		lim.max_prefixes = o.cap.max_prefixes;
		lim.max_nodes = o.cap.max_nodes;
	}
	if (bench_genpolicy(n, &g))
		return 1;
	err = nn_dp_load(&o, &dp);
	if (err) {
		fprintf(stderr, "adopt %s: %s\n", o.pin_dir, strerror(-err));
		return 1;
	}
	t0 = bench_wall_ms();
	for (i = 0; i < count && !err; i++) {
		double s = bench_wall_ms();

		/* d5 carries no benchmark traffic (the single source is d0). */
		txt[i & 1] = variant(&g, 5, i & 1 ? "active" : "disabled", 100 + i, &len[i & 1]);
		if (!txt[i & 1])
			return 1;
		err = apply_text(dp, txt[i & 1], len[i & 1], &lim, &v, &a, &ar);
		flips += ar.flipped;
		free(txt[i & 1]);
		if (bench_wall_ms() - s > worst)
			worst = bench_wall_ms() - s;
	}
	printf("{\"n\": %zu, \"swaps\": %lu, \"flips\": %lu, \"seconds\": %.3f, \"worst_ms\": %.2f, "
	       "\"error\": %d}\n",
	       n, i, flips, (bench_wall_ms() - t0) / 1e3, worst, err);
	nn_dp_close(dp);
	bench_gen_free(&g);
	return err ? 1 : 0;
}

/* nn-microbench policy -n N -o FILE: the synthetic snapshot as a file. */
int policy_main(int argc, char **argv)
{
	struct bench_gen g;
	const char *out = NULL;
	size_t n = 10;
	FILE *f;
	int opt;

	while ((opt = getopt(argc, argv, "n:o:")) != -1) {
		if (opt == 'n')
			n = strtoul(optarg, NULL, 0);
		else if (opt == 'o')
			out = optarg;
	}
	if (!out || bench_genpolicy(n, &g))
		return 2;
	f = fopen(out, "w");
	if (!f || fwrite(g.json, 1, g.len, f) != g.len)
		return 1;
	fclose(f);
	bench_gen_free(&g);
	return 0;
}
