// SPDX-License-Identifier: GPL-2.0
/*
 * nn-microbench - what one packet costs the policy programs, and whether that
 * cost stays flat from 10 to 100,000 devices and rules (issue "Dataplane
 * core", part 7). A benchmark, never a test: it reports, it does not fail.
 *
 * For each scale N a synthetic snapshot (genpolicy.c) goes through the real
 * parser, validator, compiler and generation switch (nn_policy_parse,
 * nn_apply) into maps sized for N; the real programs are loaded without
 * pinning or attaching and timed with BPF_PROG_TEST_RUN: @repeat repetitions
 * per run, the kernel's per-repetition mean (the "duration" field), median
 * of @rounds runs. Empty XDP and TC programs (bpf/bench_empty.bpf.c) give
 * the floor of each hook; "marginal" is a case minus its floor.
 *
 * A new flow cannot be timed in place (the second repetition finds the
 * flow), so "new flow" and "egress" cases run on a judge-only copy of the
 * program (dry_run: same maps, no flow, counter or event writes). The
 * flow-table insert is timed separately (run.c: run_insert).
 *
 * Run as root: make && sudo build/nn-microbench [-j] [-n 10,1000,...]
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_main.h"
#include "lib/log.h"

static const struct bench_case cases[] = {
	{ "xdp/empty", HK_XDP_EMPTY, 0, RUN_NORMAL, 0, 0 },
	{ "tc/empty", HK_TC_EMPTY, 0, RUN_NORMAL, 0, 0 },
	{ "tc_from/spoof_drop", HK_TC_FROM, PK_SPOOF, RUN_NORMAL, NN_R_SPOOF, 0 },
	{ "tc_from/acl_drop", HK_TC_FROM, PK_ACL, RUN_NORMAL, NN_R_ACL_DEFAULT_DENY, 0 },
	{ "tc_from/new_flow", HK_TC_FROM, PK_NEW, RUN_JUDGE, NN_PASS, 0 },
	{ "tc_from/established", HK_TC_FROM, PK_EST, RUN_ESTABLISHED, NN_PASS, 0 },
	{ "tc_from/egress_pass", HK_TC_FROM, PK_EGRESS, RUN_JUDGE, NN_PASS, 0 },
	{ "xdp_from/spoof_drop", HK_XDP_FROM, PK_SPOOF, RUN_NORMAL, NN_R_SPOOF, 0 },
	{ "xdp_from/acl_drop", HK_XDP_FROM, PK_ACL, RUN_NORMAL, NN_R_ACL_DEFAULT_DENY, 0 },
	{ "xdp_from/new_flow", HK_XDP_FROM, PK_NEW, RUN_JUDGE, NN_PASS, 0 },
	{ "xdp_from/established", HK_XDP_FROM, PK_EST, RUN_ESTABLISHED, NN_PASS, 0 },
	{ "xdp_from/egress_pass", HK_XDP_FROM, PK_EGRESS, RUN_JUDGE, NN_PASS, 0 },
	{ "tc_into/unknown_dst", HK_TC_INTO, PK_INTO_UNKNOWN, RUN_NORMAL, NN_R_UNKNOWN_DST, 0 },
	{ "tc_into/acl_drop", HK_TC_INTO, PK_INTO_ACL, RUN_NORMAL, NN_R_ACL_DEFAULT_DENY, 0 },
	{ "tc_into/new_flow", HK_TC_INTO, PK_INTO_NEW, RUN_JUDGE, NN_PASS, 0 },
	{ "tc_into/established", HK_TC_INTO, PK_INTO_EST, RUN_ESTABLISHED, NN_PASS, 0 },
	{ "xdp/parse", HK_XDP_PARSE, PK_NEW, RUN_NORMAL, NN_PASS, 0 },
	{ "tc/parse", HK_TC_PARSE, PK_NEW, RUN_NORMAL, NN_PASS, 0 },
	{ "xdp_rand/floor", HK_XDP_CACHE_FLOOR, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 0 },
	{ "xdp_rand/spoof_drop", HK_XDP_CACHE, PK_RAND_SPOOF, RUN_NORMAL, NN_R_SPOOF, 0 },
	{ "xdp_rand/new_flow", HK_XDP_CACHE, PK_RAND_NEW, RUN_JUDGE, NN_PASS, 0 },
	{ "xdp_rand/established", HK_XDP_CACHE, PK_RAND_EST, RUN_NORMAL, NN_PASS, 0 },
	{ "xdp_rand/acl_drop", HK_XDP_CACHE, PK_RAND_ACL, RUN_NORMAL, NN_R_ACL_DEFAULT_DENY, 0 },
	{ "xdp_rand/floor_port", HK_XDP_CACHE_P_FLOOR, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 0 },
	{ "xdp_rand/new_insert", HK_XDP_CACHE_P, PK_RAND_INS, RUN_NORMAL, NN_PASS, 0 },
	{ "xdp_one/floor_port", HK_XDP_ONE_P_FLOOR, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 0 },
	{ "xdp_one/new_insert", HK_XDP_ONE_P, PK_RAND_INS, RUN_NORMAL, NN_PASS, 0 },
	/* A flood of distinct denied flows (random pair and source port):
	 * every packet judged in full and remembered in nn_denied. */
	{ "xdp_rand/acl_new", HK_XDP_CACHE_P, PK_RAND_ACL, RUN_NORMAL, NN_R_ACL_DEFAULT_DENY, 0 },
	/* What the lines the cold cases must read cost here (lines.c):
	 * xdp_rand/floor's prologue, then k dependent random lines of a
	 * flow-sized table; a flow hit and its counter line; the counter
	 * line alone; an insert's first line and victim store. */
	{ "lines/k1", HK_LINES_CHASE, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 1 },
	{ "lines/k2", HK_LINES_CHASE, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 2 },
	{ "lines/k3", HK_LINES_CHASE, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 3 },
	{ "lines/k4", HK_LINES_CHASE, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 4 },
	{ "lines/k5", HK_LINES_CHASE, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 5 },
	{ "lines/hit", HK_LINES_HIT, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 0 },
	{ "lines/ctr", HK_LINES_CTR, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 0 },
	{ "lines/put", HK_LINES_PUT, PK_RAND_FLOOR, RUN_NORMAL, NN_PASS, 0 },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

struct bench_opts bopts = {
	.repeat = 2000000,
	.rounds = 7,
	.insert_samples = 20000,
	.nested = 64,
	.lookup_entries = 100000,
};

static size_t parse_scales(const char *s, size_t *out)
{
	size_t n = 0;
	char *end;

	while (*s && n < MAX_SCALES) {
		out[n++] = strtoul(s, &end, 10);
		if (end == s)
			return 0;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-j] [-e] [-n N,N,...] [-N N] [-L N] [-R repeat] [-r rounds] [-c cpu] [-C case]\n"
		"       %s gen|attach|sum|nft|policy|apply|swap ... (packet rate, controller: run.sh)\n"
		"       %s wg ... (wg0 at N peers, either backend: tools/bench/README.md)\n"
		"       %s e2e ... (event to enforcement through the controller: e2e.sh)\n"
		"       %s verifier [l3|eth] (instructions the verifier processed per program)\n"
		"  -n  scales: devices = rules = N (default 10,1000,10000,100000)\n"
		"  -N  one more scale N, adversarial: 64 rules to deeply nested prefixes\n"
		"  -L  entries of the bare hash/LPM lookup maps (default 100000, 0: skip)\n"
		"  -R  repetitions per test run (default 2000000)\n"
		"  -r  runs per case, the median is reported (default 7)\n"
		"  -c  CPU to run on (default: the last one)\n"
		"  -C  only cases whose name contains this, or one of a,b,... (e.g. for perf record)\n"
		"  -e  Ethernet framing (veth) instead of L3 (wg0)\n"
		"  -I  skip the flow-insert measurements\n"
		"  -j  JSON on stdout (the table goes to stderr)\n"
		"  -v  progress on stderr\n",
		argv0, argv0, argv0, argv0, argv0);
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

int gen_main(int argc, char **argv);
int attach_main(int argc, char **argv);
int nft_main(int argc, char **argv);
int apply_main(int argc, char **argv);
int swap_main(int argc, char **argv);
int policy_main(int argc, char **argv);
int sum_main(int argc, char **argv);
int e2e_main(int argc, char **argv);
int wg_main(int argc, char **argv);
int verifier_main(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} subcmds[] = {
	{ "gen", gen_main },	       { "attach", attach_main }, { "nft", nft_main },
	{ "apply", apply_main },       { "swap", swap_main },	  { "policy", policy_main },
	{ "sum", sum_main },	       { "e2e", e2e_main },	  { "wg", wg_main },
	{ "verifier", verifier_main },
};

int main(int argc, char **argv)
{
	static struct bench_results res;
	struct bench_env env = {};
	size_t i;
	int opt, err = 0;

	for (i = 0; argc > 1 && i < sizeof(subcmds) / sizeof(subcmds[0]); i++) {
		if (!strcmp(argv[1], subcmds[i].name)) {
			nn_log_set_level(NN_LOG_WARN);
			nn_log_libbpf();
			return subcmds[i].fn(argc - 1, argv + 1);
		}
	}

	res.n_scales = parse_scales("10,1000,10000,100000", res.scale);
	bopts.cpu = libbpf_num_possible_cpus() - 1;
	while ((opt = getopt(argc, argv, "jen:N:L:R:r:c:C:Ivh")) != -1) {
		switch (opt) {
		case 'j':
			bopts.json = true;
			break;
		case 'e':
			bopts.framing = NN_FRAMING_ETH;
			break;
		case 'n':
			res.n_scales = parse_scales(optarg, res.scale);
			break;
		case 'N':
			bopts.nested_scale = strtoul(optarg, NULL, 0);
			break;
		case 'L':
			bopts.lookup_entries = strtoul(optarg, NULL, 0);
			break;
		case 'R':
			bopts.repeat = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			bopts.rounds = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			bopts.cpu = atoi(optarg);
			break;
		case 'C':
			bopts.only = optarg;
			break;
		case 'I':
			bopts.no_insert = true;
			break;
		case 'v':
			bopts.verbose = true;
			break;
		default:
			usage(argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (bopts.nested_scale && res.n_scales < MAX_SCALES) {
		res.scale[res.n_scales] = bopts.nested_scale;
		res.nested[res.n_scales++] = bopts.nested;
	}
	for (i = 0; i < res.n_scales; i++) {
		if (res.scale[i] < 10) {
			fprintf(stderr, "scale %zu: at least 10\n", res.scale[i]);
			return 2;
		}
	}
	if (!res.n_scales || !bopts.repeat || !bopts.rounds || bopts.rounds > MAX_ROUNDS) {
		usage(argv[0]);
		return 2;
	}
	if (bopts.repeat < 2000000 || bopts.rounds < 7)
		fprintf(stderr, "# note: fewer than 2,000,000 repetitions or 7 rounds: "
				"figures are indicative only\n");
	nn_log_set_level(NN_LOG_WARN);
	nn_log_libbpf();
	err = pin_cpu(bopts.cpu);
	if (err) {
		fprintf(stderr, "cannot run on CPU %d: %s\n", bopts.cpu, strerror(-err));
		return 1;
	}
	err = bench_env_open(&env);
	if (err) {
		fprintf(stderr, "setup failed: %s (run as root)\n", strerror(-err));
		return 1;
	}
	res.cases = cases;
	res.n_cases = N_CASES;
	err = bench_run(&env, &res);
	bench_env_close(&env);
	if (err) {
		fprintf(stderr, "benchmark failed: %s\n", strerror(-err));
		return 1;
	}
	bench_report(&res, bopts.json ? stderr : stdout);
	if (bopts.json)
		bench_report_json(&res, stdout);
	return 0;
}
