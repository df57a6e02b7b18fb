// SPDX-License-Identifier: GPL-2.0
/*
 * report.c - the table (and its JSON twin) of nn-microbench: ns/packet per
 * case and scale, the marginal cost over the hook's empty program, and the
 * ratio of the largest scale to the smallest (the target: <= 1.25
 * from 10 to 100,000 devices and rules).
 */
#include <string.h>

#include "bench_main.h"

#define TARGET_RATIO 1.25

static const char *const fam_name[2] = { "v6", "v4" };

/* The empty program of the same hook: what every test run costs anyway
 * (for the random-pair cases: the same random rewrite, then pass). */
static size_t floor_of(const struct bench_results *res, const struct bench_case *c)
{
	enum bench_hook h =
		c->hook == HK_XDP_FROM || c->hook == HK_XDP_PARSE    ? HK_XDP_EMPTY :
		c->hook == HK_XDP_CACHE || c->hook >= HK_LINES_CHASE ? HK_XDP_CACHE_FLOOR :
		c->hook == HK_XDP_CACHE_FLOOR			     ? HK_XDP_EMPTY :
		c->hook == HK_XDP_CACHE_P			     ? HK_XDP_CACHE_P_FLOOR :
		c->hook == HK_XDP_ONE_P				     ? HK_XDP_ONE_P_FLOOR :
		c->hook == HK_XDP_CACHE_P_FLOOR || c->hook == HK_XDP_ONE_P_FLOOR ? HK_XDP_EMPTY :
										   HK_TC_EMPTY;
	size_t i;

	for (i = 0; i < res->n_cases; i++)
		if (res->cases[i].hook == h)
			return i;
	return 0;
}

static double marginal(const struct bench_results *res, size_t si, size_t ci, int fam)
{
	const struct bench_case *c = &res->cases[ci];

	size_t fl = floor_of(res, c);

	if (c->pk == PK_NONE)
		return res->fig[si][ci].med[fam];
	/* A floor measured per family (the random rewrite) is subtracted per
	 * family; the empty programs read no packet. */
	return res->fig[si][ci].med[fam] -
	       res->fig[si][fl].med[res->cases[fl].pk == PK_NONE ? 0 : fam];
}

/* The largest plain (not adversarial) scale: flatness is last / first. */
static size_t last_plain(const struct bench_results *res)
{
	size_t si, last = 0;

	for (si = 0; si < res->n_scales; si++)
		if (!res->nested[si])
			last = si;
	return last;
}

static double ratio(double hi, double lo)
{
	return lo > 0 ? hi / lo : 0;
}

static const char *run_note(const struct bench_case *c)
{
	switch (c->run) {
	case RUN_JUDGE:
		return "judge-only copy (dry_run): excludes the flow-table insert and counters";
	case RUN_ESTABLISHED:
		return "flow recorded first, normal program";
	default:
		return c->pk == PK_NONE ? "empty program (floor)" : "normal program";
	}
}

void bench_report(const struct bench_results *res, FILE *f)
{
	size_t si, ci, last = last_plain(res);
	int fam;

	fprintf(f,
		"nn-microbench: BPF_PROG_TEST_RUN, %lu repetitions per run, median of %lu "
		"runs, CPU %d, %s framing\n\n",
		bopts.repeat, bopts.rounds, bopts.cpu,
		bopts.framing == NN_FRAMING_ETH ? "Ethernet (veth)" : "L3 (wg0)");
	fprintf(f, "%-8s %8s %8s %8s %7s %9s %8s %9s %8s %9s %9s\n", "scale", "devices", "rules",
		"networks", "tenants", "resources", "addrs", "prefixes", "cells", "json_MB",
		"apply_ms");
	for (si = 0; si < res->n_scales; si++) {
		const struct bench_scale_info *in = &res->info[si];

		fprintf(f, "N=%-6zu%s %8zu %8zu %8zu %7zu %9zu %8zu %9zu %8zu %9.1f %9.0f\n",
			res->scale[si], res->nested[si] ? "n" : "", in->devices, in->rules,
			in->networks, in->tenants, in->resources, in->addrs, in->prefixes,
			in->cells, in->json_bytes / 1e6, in->apply_ms);
	}
	fprintf(f, "\n%-27s %-*s | %-*s | %6s %6s\n", "ns/packet", (int)(10 * res->n_scales - 1),
		"at N=", (int)(9 * res->n_scales - 1), "marginal at N=", "ratio", "ratio");
	fprintf(f, "%-27s", "case");
	for (si = 0; si < res->n_scales; si++)
		fprintf(f, " %8zu%s", res->scale[si], res->nested[si] ? "n" : " ");
	fprintf(f, " |");
	for (si = 0; si < res->n_scales; si++)
		fprintf(f, " %7zu%s", res->scale[si], res->nested[si] ? "n" : " ");
	fprintf(f, " | %6s %6s\n", "total", "marg.");
	for (ci = 0; ci < res->n_cases; ci++) {
		const struct bench_case *c = &res->cases[ci];

		if (!res->fig[0][ci].done)
			continue;
		for (fam = 0; fam < (c->pk == PK_NONE ? 1 : 2); fam++) {
			double rm = ratio(marginal(res, last, ci, fam), marginal(res, 0, ci, fam));

			fprintf(f, "%-24s %-2s", c->name, c->pk == PK_NONE ? "" : fam_name[fam]);
			for (si = 0; si < res->n_scales; si++)
				fprintf(f, " %9.1f", res->fig[si][ci].med[fam]);
			fprintf(f, " |");
			for (si = 0; si < res->n_scales; si++)
				fprintf(f, " %8.1f", marginal(res, si, ci, fam));
			fprintf(f, " | %6.2f %6.2f%s\n",
				ratio(res->fig[last][ci].med[fam], res->fig[0][ci].med[fam]), rm,
				c->pk != PK_NONE && rm > TARGET_RATIO ? "  over 1.25" : "");
		}
	}
	fprintf(f,
		"\nratio = N=%zu / N=%zu (target <= %.2f); marginal = case - empty program "
		"of the same hook (xdp_rand: - xdp_rand/floor, the same random rewrite).\n"
		"A scale marked n is adversarial: %u rules to deeply nested prefixes.\n",
		res->scale[last], res->scale[0], TARGET_RATIO, bopts.nested);
	if (res->lookup.done)
		fprintf(f,
			"\nbare lookups, %zu entries, ns/packet: xdp floor %.1f, random-key floor "
			"%.1f;\n  hash hot %.1f (+%.1f), random %.1f (+%.1f); LPM hot %.1f (+%.1f), "
			"random %.1f (+%.1f)\n",
			res->lookup.entries, res->lookup.xdp_floor, res->lookup.rand_floor,
			res->lookup.hash_hot, res->lookup.hash_hot - res->lookup.xdp_floor,
			res->lookup.hash_rand, res->lookup.hash_rand - res->lookup.rand_floor,
			res->lookup.lpm_hot, res->lookup.lpm_hot - res->lookup.xdp_floor,
			res->lookup.lpm_rand, res->lookup.lpm_rand - res->lookup.rand_floor);
	if (res->lookup.done)
		fprintf(f,
			"  device counter at a random slot, counted: per-CPU array %.1f (+%.1f), "
			"one line of this CPU's region %.1f (+%.1f)\n",
			res->lookup.ctr_percpu_rand,
			res->lookup.ctr_percpu_rand - res->lookup.rand_floor,
			res->lookup.ctr_line_rand,
			res->lookup.ctr_line_rand - res->lookup.rand_floor);
	if (res->lookup.done)
		fprintf(f,
			"  admission word (nn_denied_seen) at a random slot, read and stored: "
			"per-CPU array %.1f, one plain array's region %.1f\n",
			res->lookup.seen_percpu_rand, res->lookup.seen_line_rand);
	fprintf(f, "new_flow and egress_pass run on a judge-only (dry_run) copy of the program: "
		   "\"new flow\" EXCLUDES the flow-table insert\n(and the counter updates); "
		   "established: the flow was recorded first, normal program; drops: normal "
		   "program\n(counters and the rate-limited drop event included).\n");
	for (si = 0; si < res->n_scales; si++) {
		const struct bench_insert *in = &res->ins[si];

		if (!in->done)
			continue;
		if (si == 0 || !res->ins[0].done)
			fprintf(f,
				"\nflow-table insert (the kernel's LRU hash, nn_flows' types, 65536 entries), "
				"ns/packet:\n%-8s %10s %10s %10s %12s %12s %12s %12s\n",
				"scale", "xdp_floor", "overwrite", "new_key", "insert_only",
				"real_new_r1", "judge_new_r1", "real-judge");
		fprintf(f, "N=%-6zu %10.1f %10.1f %10.1f %12.1f %12.0f %12.0f %12.0f\n",
			res->scale[si], in->xdp_floor, in->lru_overwrite, in->lru_fresh,
			in->lru_fresh - in->xdp_floor, in->real_new, in->judge_new,
			in->real_new - in->judge_new);
	}
	fprintf(f,
		"insert_only = new_key - xdp_floor (a new key each repetition into a full "
		"table: evicts).\nreal_new_r1/judge_new_r1: tc_from v6 new flows, one repetition "
		"per run (median of %lu runs,\neach a distinct flow), normal program vs "
		"judge-only copy; real-judge = insert + counters.\n",
		bopts.insert_samples);
}

void bench_report_json(const struct bench_results *res, FILE *f)
{
	size_t si, ci, last = last_plain(res);
	int fam;

	fprintf(f,
		"{\"tool\": \"nn-microbench\", \"repeat\": %lu, \"rounds\": %lu, \"cpu\": %d, "
		"\"framing\": \"%s\", \"target_ratio\": %.2f,\n \"scales\": [",
		bopts.repeat, bopts.rounds, bopts.cpu,
		bopts.framing == NN_FRAMING_ETH ? "eth" : "l3", TARGET_RATIO);
	for (si = 0; si < res->n_scales; si++) {
		const struct bench_scale_info *in = &res->info[si];

		fprintf(f,
			"%s\n  {\"n\": %zu, \"nested\": %u, \"pairs_v6\": %zu, \"pairs_v4\": %zu, \"devices\": %zu, \"rules\": %zu, \"networks\": %zu, "
			"\"tenants\": %zu, \"resources\": %zu, \"addrs\": %zu, \"prefixes\": %zu, "
			"\"cells\": %zu, \"json_bytes\": %zu, \"parse_ms\": %.1f, \"load_ms\": %.1f, "
			"\"apply_ms\": %.1f, \"line_flow_bytes\": %zu, \"line_ctr_bytes\": %zu}",
			si ? "," : "", res->scale[si], res->nested[si], res->pairs[si][0],
			res->pairs[si][1], in->devices, in->rules, in->networks, in->tenants,
			in->resources, in->addrs, in->prefixes, in->cells, in->json_bytes,
			in->parse_ms, in->load_ms, in->apply_ms, in->line_flow_bytes,
			in->line_ctr_bytes);
	}
	fprintf(f, "],\n \"lines_seed\": %llu,\n \"cases\": [",
		(unsigned long long)res->lines_seed);
	for (ci = 0; ci < res->n_cases; ci++) {
		const struct bench_case *c = &res->cases[ci];
		bool first = true;

		if (!res->fig[0][ci].done)
			continue;
		for (fam = 0; fam < (c->pk == PK_NONE ? 1 : 2); fam++) {
			fprintf(f,
				"%s\n  {\"case\": \"%s\", \"family\": \"%s\", \"note\": \"%s\", "
				"\"ns\": [",
				ci || !first ? "," : "", c->name,
				c->pk == PK_NONE ? "any" : fam_name[fam], run_note(c));
			first = false;
			for (si = 0; si < res->n_scales; si++)
				fprintf(f, "%s%.1f", si ? ", " : "", res->fig[si][ci].med[fam]);
			fprintf(f, "], \"min\": [");
			for (si = 0; si < res->n_scales; si++)
				fprintf(f, "%s%.1f", si ? ", " : "", res->fig[si][ci].min[fam]);
			fprintf(f, "], \"max\": [");
			for (si = 0; si < res->n_scales; si++)
				fprintf(f, "%s%.1f", si ? ", " : "", res->fig[si][ci].max[fam]);
			fprintf(f, "], \"marginal\": [");
			for (si = 0; si < res->n_scales; si++)
				fprintf(f, "%s%.1f", si ? ", " : "", marginal(res, si, ci, fam));
			fprintf(f, "], \"ratio\": %.3f, \"marginal_ratio\": %.3f}",
				ratio(res->fig[last][ci].med[fam], res->fig[0][ci].med[fam]),
				ratio(marginal(res, last, ci, fam), marginal(res, 0, ci, fam)));
		}
	}
	fprintf(f, "],\n \"insert\": [");
	for (si = 0; si < res->n_scales; si++) {
		const struct bench_insert *in = &res->ins[si];

		if (!in->done)
			continue;
		fprintf(f,
			"%s\n  {\"n\": %zu, \"xdp_floor\": %.1f, \"lru_overwrite\": %.1f, "
			"\"lru_new_key\": %.1f, \"insert_only\": %.1f, \"real_new_repeat1\": %.1f, "
			"\"judge_new_repeat1\": %.1f, \"insert_and_counters\": %.1f}",
			si ? "," : "", res->scale[si], in->xdp_floor, in->lru_overwrite,
			in->lru_fresh, in->lru_fresh - in->xdp_floor, in->real_new, in->judge_new,
			in->real_new - in->judge_new);
	}
	fprintf(f, "],\n \"lookup\": ");
	if (res->lookup.done)
		fprintf(f,
			"{\"entries\": %zu, \"xdp_floor\": %.1f, \"rand_floor\": %.1f, "
			"\"hash_hot\": %.1f, \"lpm_hot\": %.1f, \"hash_rand\": %.1f, \"lpm_rand\": %.1f, "
			"\"ctr_percpu_rand\": %.1f, \"ctr_line_rand\": %.1f, "
			"\"seen_percpu_rand\": %.1f, \"seen_line_rand\": %.1f}",
			res->lookup.entries, res->lookup.xdp_floor, res->lookup.rand_floor,
			res->lookup.hash_hot, res->lookup.lpm_hot, res->lookup.hash_rand,
			res->lookup.lpm_rand, res->lookup.ctr_percpu_rand,
			res->lookup.ctr_line_rand, res->lookup.seen_percpu_rand,
			res->lookup.seen_line_rand);
	else
		fprintf(f, "null");
	fprintf(f, "}\n");
}
