// SPDX-License-Identifier: GPL-2.0
/*
 * Differential test of PARSE results against a third-party dissector.
 *
 * The random-packet generator (randpkt) makes a few thousand packets per
 * framing over a random policy's addresses. Each packet is parsed by
 *   - the real BPF parser (bpf/parse.bpf.h, through the test-only program
 *     selftests/bpf/parse_probe.bpf.c and BPF_PROG_TEST_RUN),
 *   - the reference model's parser (selftests/model/parse.c),
 * and written to a pcap file that Scapy (Debian's python3-scapy) dissects
 * (selftests/dissect/dissect.py, one JSON line per packet). Scapy's reading
 * was written by other hands than both parsers, so a mistake the two share
 * (the reason for this test: issue 10) shows up here.
 *
 * Compared: malformed or not, untouched (ARP/ND), family, addresses,
 * protocol after the extension-header walk, fragment kind and id, ports
 * (echo id), ICMP kind (and type/code for the model), and an error's quoted
 * flow. A disagreement is a bug, unless it is one of the documented choices
 * of docs/datapath.md "Parser vs dissector" (the exceptions table below).
 *
 *   NN_SEED=N              replay (the seed is printed first, "# seed=N")
 *   NN_DISSECT_PACKETS=N   packets per framing (default 3000)
 *   NN_DISSECT_KEEP=1      keep the pcap files (their paths are printed)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "bpf/parse_probe.h"
#include "model/model.h"
#include "parse_probe.skel.h"
#include "randpkt.h"
#include "randpolicy.h"

#define DEF_PACKETS 3000
#define MAX_REPORTS 12
#define PYTHON "/usr/bin/python3" /* Debian's, where python3-scapy lives */

enum icmp_kind { IK_NONE = 0, IK_ECHO_REQ, IK_ECHO_REP, IK_ERROR, IK_PTB };

/* One parser's reading, in one shape for all three. */
struct view {
	bool ok, untouched, v6;
	uint8_t src[16], dst[16];
	int proto, frag; /* frag: 0 none, 1 first, 2 later */
	uint32_t frag_id;
	int sport, dport;
	int icmp;		  /* enum icmp_kind */
	int icmp_type, icmp_code; /* -1: this parser does not say */
	bool quote;		  /* an ICMP error with a parsed quote */
	uint8_t q_src[16], q_dst[16];
	int q_proto, q_sport, q_dport;
	bool q_flowable;
	char why[96]; /* the dissector's reason for "malformed" */
};

struct sample {
	struct rk_pkt pk;
	struct view bpf, model, dis;
};

struct framing_run {
	uint8_t framing;
	const char *name;
	size_t n;
	struct sample *s;
};

static uint64_t seed;
static size_t n_packets = DEF_PACKETS;
static struct framing_run runs[2] = {
	{ .framing = NN_FRAMING_L3, .name = "l3" },
	{ .framing = NN_FRAMING_ETH, .name = "eth" },
};

static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	return lvl == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int kind_of(bool v6, int type, int code)
{
	if (type == (v6 ? 128 : 8))
		return IK_ECHO_REQ;
	if (type == (v6 ? 129 : 0))
		return IK_ECHO_REP;
	if ((v6 && type == 2) || (!v6 && type == 3 && code == 4))
		return IK_PTB;
	if ((v6 && type >= 1 && type <= 4) || (!v6 && (type == 3 || type == 11 || type == 12)))
		return IK_ERROR;
	return IK_NONE;
}

/* ---- the BPF parser, through the probe ---- */

static struct parse_probe *probe_open(uint8_t framing)
{
	struct parse_probe *sk = parse_probe__open();
	struct bpf_map *m;

	assert_non_null(sk);
	sk->rodata->nn_framing = framing;
	/* The probe only needs the scratch buffer; parse.bpf.h brings every
	 * map of the product along, so shrink them. */
	bpf_object__for_each_map(m, sk->obj)
	{
		if (!strchr(bpf_map__name(m), '.'))
			bpf_map__set_max_entries(m, 1);
	}
	assert_int_equal(parse_probe__load(sk), 0);
	return sk;
}

static void bpf_view(struct parse_probe *sk, const struct rk_pkt *pk, struct view *v)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pk->buf, .data_size_in = (uint32_t)pk->len);
	struct parse_probe_out r;
	uint32_t zero = 0;

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(sk->progs.parse_probe), &o), 0);
	assert_int_equal(o.retval, 2 /* XDP_PASS */);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(sk->maps.probe_out), &zero, &r), 0);
	memset(v, 0, sizeof(*v));
	v->ok = r.rc == 0;
	v->untouched = r.untouched;
	v->v6 = r.v6;
	memcpy(v->src, r.src, 16);
	memcpy(v->dst, r.dst, 16);
	v->proto = r.proto;
	v->frag = r.frag;
	v->frag_id = r.frag_id;
	v->sport = r.sport;
	v->dport = r.dport;
	v->icmp = r.icmp;
	v->icmp_type = v->icmp_code = -1;
	v->quote = r.icmp == IK_ERROR || r.icmp == IK_PTB;
	memcpy(v->q_src, r.q_src, 16);
	memcpy(v->q_dst, r.q_dst, 16);
	v->q_proto = r.q_proto;
	v->q_sport = r.q_sport;
	v->q_dport = r.q_dport;
	v->q_flowable = r.q_flowable;
}

/* ---- the model's parser ---- */

static void model_view(uint8_t framing, const struct rk_pkt *pk, struct view *v)
{
	struct nn_mpkt m;
	int rc = nn_model_parse(framing, pk->buf, pk->len, &m);

	memset(v, 0, sizeof(*v));
	v->ok = rc == NN_PASS;
	v->untouched = m.untouched;
	v->v6 = m.t.v6;
	memcpy(v->src, m.t.src, 16);
	memcpy(v->dst, m.t.dst, 16);
	v->proto = m.t.proto;
	v->frag = m.frag_later ? 2 : m.frag_first ? 1 : 0;
	v->frag_id = m.frag_id;
	v->sport = m.t.sport;
	v->dport = m.t.dport;
	v->icmp_type = m.icmp ? m.icmp_type : -1;
	v->icmp_code = m.icmp ? m.icmp_code : -1;
	v->icmp = m.icmp ? kind_of(m.t.v6, m.icmp_type, m.icmp_code) : IK_NONE;
	v->quote = m.icmp_err;
	memcpy(v->q_src, m.quote.src, 16);
	memcpy(v->q_dst, m.quote.dst, 16);
	v->q_proto = m.quote.proto;
	v->q_sport = m.quote.sport;
	v->q_dport = m.quote.dport;
	v->q_flowable = m.quote_flowable;
}

/* ---- the dissector: pcap out, JSON lines back ---- */

static void put32(FILE *f, uint32_t x)
{
	assert_int_equal(fwrite(&x, 4, 1, f), 1);
}

/* Classic pcap (host byte order, which the magic announces). */
static void write_pcap(const char *path, const struct framing_run *fr)
{
	FILE *f = fopen(path, "w");
	uint16_t ver[2] = { 2, 4 };
	size_t i;

	assert_non_null(f);
	put32(f, 0xa1b2c3d4);
	assert_int_equal(fwrite(ver, 2, 2, f), 2);
	put32(f, 0); /* thiszone */
	put32(f, 0); /* sigfigs */
	put32(f, 65535);
	put32(f, fr->framing == NN_FRAMING_ETH ? 1 /* EN10MB */ : 101 /* RAW */);
	for (i = 0; i < fr->n; i++) {
		put32(f, (uint32_t)i);
		put32(f, 0);
		put32(f, (uint32_t)fr->s[i].pk.len);
		put32(f, (uint32_t)fr->s[i].pk.len);
		assert_int_equal(fwrite(fr->s[i].pk.buf, 1, fr->s[i].pk.len, f), fr->s[i].pk.len);
	}
	assert_int_equal(fclose(f), 0);
}

static void hex16(const char *s, uint8_t *out)
{
	size_t i;

	assert_non_null(s);
	assert_int_equal(strlen(s), 32);
	for (i = 0; i < 16; i++) {
		unsigned int b;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
}

static int jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return v ? (int)json_integer_value(v) : 0;
}

static void dis_view(json_t *o, struct view *v)
{
	json_t *icmp = json_object_get(o, "icmp"), *q = json_object_get(o, "quote");

	memset(v, 0, sizeof(*v));
	v->ok = json_is_true(json_object_get(o, "ok"));
	if (!v->ok) {
		snprintf(v->why, sizeof(v->why), "%s",
			 json_string_value(json_object_get(o, "why")) ?: "?");
		return;
	}
	v->untouched = json_is_true(json_object_get(o, "untouched"));
	if (!json_object_get(o, "src"))
		return; /* ARP */
	v->v6 = json_is_true(json_object_get(o, "v6"));
	hex16(json_string_value(json_object_get(o, "src")), v->src);
	hex16(json_string_value(json_object_get(o, "dst")), v->dst);
	v->proto = jint(o, "proto");
	v->frag = jint(o, "frag");
	v->frag_id = (uint32_t)json_integer_value(json_object_get(o, "frag_id"));
	v->sport = jint(o, "sport");
	v->dport = jint(o, "dport");
	v->icmp_type = v->icmp_code = -1;
	if (icmp) {
		v->icmp_type = (int)json_integer_value(json_array_get(icmp, 0));
		v->icmp_code = (int)json_integer_value(json_array_get(icmp, 1));
		v->icmp = kind_of(v->v6, v->icmp_type, v->icmp_code);
	}
	if (q) {
		v->quote = true;
		hex16(json_string_value(json_object_get(q, "src")), v->q_src);
		hex16(json_string_value(json_object_get(q, "dst")), v->q_dst);
		v->q_proto = jint(q, "proto");
		v->q_sport = jint(q, "sport");
		v->q_dport = jint(q, "dport");
		v->q_flowable = json_is_true(json_object_get(q, "flowable"));
	}
}

static void dissect(struct framing_run *fr)
{
	const char *src = getenv("NN_SRCDIR");
	char pcap[64], cmd[512], *line = NULL;
	size_t cap = 0, got = 0;
	FILE *p;

	snprintf(pcap, sizeof(pcap), "/tmp/nn-dissect-%llu-%s.pcap", (unsigned long long)seed,
		 fr->name);
	write_pcap(pcap, fr);
	snprintf(cmd, sizeof(cmd), "%s %s/selftests/dissect/dissect.py %s %s", PYTHON,
		 src ? src : ".", fr->name, pcap);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (getline(&line, &cap, p) > 0) {
		json_error_t err;
		json_t *o = json_loads(line, 0, &err);
		size_t i;

		if (!o)
			fail_msg("dissector output line %zu is no JSON: %s", got, err.text);
		i = (size_t)json_integer_value(json_object_get(o, "i"));
		assert_true(i < fr->n);
		dis_view(o, &fr->s[i].dis);
		json_decref(o);
		got++;
	}
	free(line);
	/* A dissector that is missing or broken fails the test, never skips
	 * it (tools/install-deps.sh installs python3-scapy). */
	if (pclose(p) != 0 || got != fr->n)
		fail_msg("'%s' failed or answered %zu of %zu packets", cmd, got, fr->n);
	if (getenv("NN_DISSECT_KEEP"))
		fprintf(stderr, "# pcap kept: %s\n", pcap);
	else
		unlink(pcap);
}

/* ---- making the samples ---- */

static struct nn_policy *random_policy(struct nn_rng *r)
{
	int tries;

	for (tries = 0; tries < 20; tries++) {
		struct nn_errlist errs = { 0 };
		struct nn_policy *p = NULL;
		char *json = rp_generate(r, 1);

		assert_non_null(json);
		if (!nn_policy_parse(json, strlen(json), RP_NODE_ID, NULL, &p, &errs)) {
			free(json);
			return p;
		}
		nn_errlist_free(&errs);
		free(json);
	}
	fail_msg("no valid random snapshot in 20 tries");
	return NULL;
}

static void make_samples(struct framing_run *fr)
{
	struct nn_rng r = { seed ^ (fr->framing == NN_FRAMING_ETH ? 0x5eed5eed5eedull : 0) };
	struct parse_probe *sk = probe_open(fr->framing);
	struct nn_policy *p = random_policy(&r);
	struct rk_gen *g = rk_new(rng_next(&r), fr->framing);
	size_t i;

	assert_non_null(g);
	assert_int_equal(rk_set_policy(g, p), 0);
	fr->n = n_packets;
	fr->s = calloc(fr->n, sizeof(*fr->s));
	assert_non_null(fr->s);
	for (i = 0; i < fr->n; i++) {
		struct sample *s = &fr->s[i];

		rk_next(g, &s->pk);
		bpf_view(sk, &s->pk, &s->bpf);
		model_view(fr->framing, &s->pk, &s->model);
		/* Verdicts do not matter here; "passed" only feeds the
		 * generator's memory of flows to reply to and quote. */
		if (s->model.ok && rng_pct(&r, 60))
			rk_passed(g);
	}
	rk_free(g);
	nn_policy_free(p);
	parse_probe__destroy(sk);
	dissect(fr);
}

/* ---- comparing ---- */

/* Format a difference into @buf; returns @buf. */
static const char *say(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static const char *say(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return buf;
}

/* The first difference between @p (a parser) and @d (the dissector), or
 * NULL when they agree. */
static const char *differ(const struct view *p, const struct view *d, char *buf, size_t cap)
{
	if (p->ok != d->ok)
		return say(buf, cap, "malformed: parser %s, dissector %s%s%s",
			   p->ok ? "parses" : "drops", d->ok ? "parses" : "drops",
			   d->ok ? "" : ": ", d->why);
	if (!p->ok)
		return NULL;
	if (p->untouched != d->untouched)
		return say(buf, cap, "untouched: parser %d, dissector %d", p->untouched,
			   d->untouched);
	if (p->untouched)
		return NULL;
	if (p->v6 != d->v6)
		return say(buf, cap, "family");
	if (memcmp(p->src, d->src, 16) || memcmp(p->dst, d->dst, 16))
		return say(buf, cap, "addresses");
	if (p->proto != d->proto)
		return say(buf, cap, "protocol: parser %d, dissector %d", p->proto, d->proto);
	if (p->frag != d->frag)
		return say(buf, cap, "fragment kind: parser %d, dissector %d", p->frag, d->frag);
	if (p->frag && p->frag_id != d->frag_id)
		return say(buf, cap, "fragment id: parser %u, dissector %u", p->frag_id,
			   d->frag_id);
	if (p->sport != d->sport || p->dport != d->dport)
		return say(buf, cap, "ports: parser %d>%d, dissector %d>%d", p->sport, p->dport,
			   d->sport, d->dport);
	if (p->icmp != d->icmp)
		return say(buf, cap, "ICMP kind: parser %d, dissector %d", p->icmp, d->icmp);
	if (p->icmp_type >= 0 && (p->icmp_type != d->icmp_type || p->icmp_code != d->icmp_code))
		return say(buf, cap, "ICMP type/code: parser %d/%d, dissector %d/%d", p->icmp_type,
			   p->icmp_code, d->icmp_type, d->icmp_code);
	if (p->quote != d->quote)
		return say(buf, cap, "quote parsed: parser %d, dissector %d", p->quote, d->quote);
	if (!p->quote)
		return NULL;
	if (memcmp(p->q_src, d->q_src, 16) || memcmp(p->q_dst, d->q_dst, 16))
		return say(buf, cap, "quoted addresses");
	if (p->q_proto != d->q_proto)
		return say(buf, cap, "quoted protocol: parser %d, dissector %d", p->q_proto,
			   d->q_proto);
	if (p->q_flowable != d->q_flowable)
		return say(buf, cap, "quote names a flow: parser %d, dissector %d", p->q_flowable,
			   d->q_flowable);
	if (p->q_flowable && (p->q_sport != d->q_sport || p->q_dport != d->q_dport))
		return say(buf, cap, "quoted ports: parser %d>%d, dissector %d>%d", p->q_sport,
			   p->q_dport, d->q_sport, d->q_dport);
	return NULL;
}

/*
 * Documented choices (docs/datapath.md "Parser vs dissector"): each is a
 * narrow predicate over the packet and the two readings; a disagreement
 * that none of them covers is a bug.
 */
struct exception {
	const char *name;
	bool (*covers)(const struct sample *s, const struct view *parser);
};

/* An IPv6 later fragment claims no protocol (0): its Fragment header's
 * next header names the first header of the fragmentable part, which may be
 * another extension header (datapath.md "IPv6"). The dissector reports that
 * next header; everything else about the packet must still agree. */
static bool v6_later_no_proto(const struct sample *s, const struct view *p)
{
	const struct view *d = &s->dis;
	struct view q;
	char buf[160];

	if (!p->ok || !d->ok || !p->v6 || p->frag != 2 || p->proto != 0)
		return false;
	q = *p;
	q.proto = d->proto;
	return differ(&q, d, buf, sizeof(buf)) == NULL;
}

static const struct exception exceptions[] = {
	{ "IPv6 later fragment: protocol unknown", v6_later_no_proto },
	{ NULL, NULL },
};

static void hexdump(const uint8_t *p, size_t len)
{
	size_t i;

	fprintf(stderr, "#   ");
	for (i = 0; i < len; i++)
		fprintf(stderr, "%02x", p[i]);
	fprintf(stderr, "\n");
}

/* Distinct disagreement classes, with a count and the first example. */
struct klass {
	char what[160];
	size_t count, first;
};

static void compare(struct framing_run *fr, bool bpf)
{
	const char *who = bpf ? "bpf" : "model";
	struct klass k[32];
	size_t nk = 0, bad = 0, excused = 0, i, j;

	if (!fr->s)
		make_samples(fr);
	for (i = 0; i < fr->n; i++) {
		const struct sample *s = &fr->s[i];
		const struct view *p = bpf ? &s->bpf : &s->model;
		char buf[160];
		const char *d = differ(p, &s->dis, buf, sizeof(buf));
		const struct exception *e;

		if (!d)
			continue;
		for (e = exceptions; e->name && !e->covers(s, p); e++)
			;
		if (e->name) {
			excused++;
			continue;
		}
		if (bad++ < MAX_REPORTS) {
			fprintf(stderr, "# %s/%s packet %zu (%s, seed=%llu): %s\n", who, fr->name,
				i, s->pk.kind, (unsigned long long)seed, d);
			hexdump(s->pk.buf, s->pk.len);
		}
		/* Classes by their text: "malformed: ...: why" groups by
		 * the dissector's reason. */
		for (j = 0; j < nk && strcmp(k[j].what, d); j++)
			;
		if (j == nk && nk < sizeof(k) / sizeof(k[0])) {
			snprintf(k[nk].what, sizeof(k[nk].what), "%s", d);
			k[nk].count = 0;
			k[nk++].first = i;
		}
		if (j < nk)
			k[j].count++;
	}
	fprintf(stderr, "# %s/%s: %zu packets, %zu disagreements, %zu documented choices\n", who,
		fr->name, fr->n, bad, excused);
	for (j = 0; j < nk; j++)
		fprintf(stderr, "#   %5zu x %s (first: packet %zu)\n", k[j].count, k[j].what,
			k[j].first);
	if (bad)
		fail_msg(
			"%s parser and the dissector disagree on %zu of %zu %s packets (seed=%llu)",
			who, bad, fr->n, fr->name, (unsigned long long)seed);
}

static void test_bpf_l3(void **state)
{
	(void)state;
	compare(&runs[0], true);
}

static void test_model_l3(void **state)
{
	(void)state;
	compare(&runs[0], false);
}

static void test_bpf_eth(void **state)
{
	(void)state;
	compare(&runs[1], true);
}

static void test_model_eth(void **state)
{
	(void)state;
	compare(&runs[1], false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bpf_l3),
		cmocka_unit_test(test_model_l3),
		cmocka_unit_test(test_bpf_eth),
		cmocka_unit_test(test_model_eth),
	};
	const char *s = getenv("NN_SEED"), *n = getenv("NN_DISSECT_PACKETS");
	int rc;

	seed = s ? strtoull(s, NULL, 0) : ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
	if (n)
		n_packets = strtoul(n, NULL, 0);
	if (!n_packets)
		n_packets = 1;
	libbpf_set_print(libbpf_quiet);
	printf("# seed=%llu\n", (unsigned long long)seed);
	fflush(stdout);
	rc = cmocka_run_group_tests_name("parse: BPF and model vs a third-party dissector", tests,
					 NULL, NULL);
	free(runs[0].s);
	free(runs[1].s);
	return rc;
}
