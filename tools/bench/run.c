// SPDX-License-Identifier: GPL-2.0
/*
 * run.c - one scale of nn-microbench: generate, parse, load, apply, check
 * every case's verdict once, then time it.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_cache.skel.h"
#include "bench_empty.skel.h"
#include "bench_lookup.skel.h"
#include "bench_main.h"
#include "bench_parse.skel.h"
#include "dp/apply.h"
#include "dp/flowtab.h"
#include "lib/addr.h"
#include "from_overlay_tc.skel.h"
#include "from_overlay_xdp.skel.h"
#include "into_overlay_tc.skel.h"
#include "policy/policy.h"

/* The policy programs' flow table: room for every random pair's flow on
 * one CPU (the LRU lists are per CPU). bench_flows (the insert
 * measurement) keeps 65536. */
#define BENCH_MAX_FLOWS 262144
#define BENCH_INSERT_FLOWS 65536
#define XDP_PASS_RET 2
#define TC_OK_RET 0

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void progress(const char *fmt, ...)
{
	va_list ap;

	if (!bopts.verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* ---- the L3 device ----
 * A TC test run pushes the device's link-layer header in front of the data:
 * naming a TUN device (no link layer, like wg0) in ctx->ifindex makes the
 * program see the packet start at the IP header, as on wg0 (the selftests'
 * dptest.c does the same). */
static int tun_set(struct bench_env *env, int persist)
{
	struct ifreq ifr = {};
	int fd = open("/dev/net/tun", O_RDWR), err = 0;

	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", env->tun_name);
	if (ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETPERSIST, persist))
		err = -errno;
	close(fd);
	return err;
}

int bench_env_open(struct bench_env *env)
{
	int err;

	memset(env, 0, sizeof(*env));
	if (bopts.framing == NN_FRAMING_L3) {
		snprintf(env->tun_name, sizeof(env->tun_name), "nnb%d", getpid() % 100000);
		err = tun_set(env, 1);
		if (err)
			return err;
		env->tun_ifindex = if_nametoindex(env->tun_name);
		if (!env->tun_ifindex)
			return -ENODEV;
	}
	env->empty = bench_empty__open();
	if (!env->empty)
		return -errno;
	bpf_map__set_max_entries(env->empty->maps.bench_flows, BENCH_INSERT_FLOWS);
	err = bench_empty__load(env->empty);
	if (err)
		return err;
	/* The parser alone needs only its scratch map: create no other. */
	env->parse = bench_parse__open();
	if (!env->parse)
		return -errno;
	env->parse->rodata->nn_framing = bopts.framing;
	{
		struct bpf_map *m;

		bpf_object__for_each_map(m, env->parse->obj) if (!bpf_map__is_internal(m) &&
								 strcmp(bpf_map__name(m),
									"nn_scratch"))
			bpf_map__set_autocreate(m, false);
	}
	return bench_parse__load(env->parse);
}

void bench_env_close(struct bench_env *env)
{
	bench_empty__destroy(env->empty);
	bench_parse__destroy(env->parse);
	if (env->tun_ifindex)
		tun_set(env, 0);
	memset(env, 0, sizeof(*env));
}

/* ---- judge-only copies ----
 * The same programs loaded with dry_run set, on the maps of @dp: they see
 * the policy just applied but never write a flow, so a new flow stays new on
 * every repetition. */
struct judge {
	struct from_overlay_tc *tc_from;
	struct into_overlay_tc *tc_into;
	struct from_overlay_xdp *xdp_from;
};

#define JUDGE_SETUP(skel, dp)                                                            \
	do {                                                                             \
		(skel)->rodata->nn_framing = (dp)->opts.framing;                         \
		(skel)->rodata->nn_max_rules = (dp)->opts.cap.max_rules;                 \
		(skel)->rodata->nn_dev_stride = nn_dev_slots(&(dp)->opts.cap);           \
		(skel)->rodata->nn_srcf_lines = nn_srcf_lines_for(&(dp)->opts.cap);      \
		(skel)->rodata->nn_flow_mask = nn_flow_buckets_for(&(dp)->opts.cap) - 1; \
		(skel)->rodata->nn_flow_seed = (dp)->flow_seed;                          \
		(skel)->rodata->nn_record_last = 0;                                      \
		(skel)->rodata->nn_dry_run = 1;                                          \
	} while (0)

static void judge_close(struct judge *j)
{
	from_overlay_tc__destroy(j->tc_from);
	into_overlay_tc__destroy(j->tc_into);
	from_overlay_xdp__destroy(j->xdp_from);
	memset(j, 0, sizeof(*j));
}

static int judge_load(struct judge *j, const struct nn_dp *dp)
{
	int err;

	j->tc_from = from_overlay_tc__open();
	j->tc_into = into_overlay_tc__open();
	j->xdp_from = from_overlay_xdp__open();
	if (!j->tc_from || !j->tc_into || !j->xdp_from)
		return -ENOMEM;
	JUDGE_SETUP(j->tc_from, dp);
	JUDGE_SETUP(j->tc_into, dp);
	JUDGE_SETUP(j->xdp_from, dp);
	err = nn_dp_share_maps(j->tc_from->obj, dp);
	if (!err)
		err = nn_dp_share_maps(j->tc_into->obj, dp);
	if (!err)
		err = nn_dp_share_maps(j->xdp_from->obj, dp);
	if (!err)
		err = from_overlay_tc__load(j->tc_from);
	if (!err)
		err = into_overlay_tc__load(j->tc_into);
	if (!err)
		err = from_overlay_xdp__load(j->xdp_from);
	return err;
}

/* ---- one test run ---- */
struct target {
	int fd;
	bool tc;
	int ifindex; /* TC with L3 framing: the TUN device */
};

static int test_run(const struct target *t, const void *pkt, size_t len, unsigned long repeat,
		    uint32_t *duration, uint32_t *retval)
{
	struct __sk_buff skb = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = repeat);

	if (t->tc && t->ifindex) {
		skb.ifindex = t->ifindex;
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	if (bpf_prog_test_run_opts(t->fd, &o))
		return -errno;
	if (duration)
		*duration = o.duration;
	if (retval)
		*retval = o.retval;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void stats(uint32_t *d, double *med, double *min, double *max);

/* Median, min and max of @rounds runs of @repeat repetitions. */
static int time_it(const struct target *t, const void *pkt, size_t len, double *med, double *min,
		   double *max)
{
	uint32_t d[MAX_ROUNDS];
	unsigned long r;
	int err;

	for (r = 0; r < bopts.rounds; r++) {
		err = test_run(t, pkt, len, bopts.repeat, &d[r], NULL);
		if (err)
			return err;
	}
	stats(d, med, min, max);
	return 0;
}

static uint64_t drops(const struct nn_dp *dp, uint32_t reason)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct nn_reason_stats *v = calloc(ncpu, sizeof(*v));
	uint64_t sum = 0;

	if (v && !bpf_map_lookup_elem(dp->map_fd[NN_M_DROPS], &reason, v))
		for (i = 0; i < ncpu; i++)
			sum += v[i].packets;
	free(v);
	return sum;
}

/* ---- packets ---- */
/* The TCP flags case @pk sends: an ACK on a recorded flow (what an
 * established flow carries; the SYN that opened it went through
 * open_flow / cache_prepare), the opening SYN everywhere else (new flows,
 * drops: what a sender repeats while it gets no answer). */
static uint8_t pk_tcp_flags(enum bench_pk pk)
{
	return pk == PK_EST || pk == PK_INTO_EST || pk == PK_RAND_EST ? BENCH_TCP_EST :
									BENCH_TCP_OPEN;
}

/* Case @pk's packet with TCP flags @fl (UDP: ignored). */
static size_t make_pkt_as(enum bench_pk pk, const struct bench_pick *p, uint8_t *buf, uint8_t fl)
{
	bool eth = bopts.framing == NN_FRAMING_ETH;

	switch (pk) {
	case PK_SPOOF:
		return bench_pkt(buf, eth, p->spoof, p->res, BENCH_TCP, fl, 40000, 5432, 0);
	case PK_ACL:
		return bench_pkt(buf, eth, p->a, p->c, BENCH_TCP, fl, 40000, 22, 0);
	case PK_NEW:
		return bench_pkt(buf, eth, p->a, p->res, BENCH_TCP, fl, 40001, 5432, 0);
	case PK_EST:
		return bench_pkt(buf, eth, p->a, p->res, BENCH_TCP, fl, 40002, 5432, 0);
	case PK_EGRESS:
		return bench_pkt(buf, eth, p->a, p->net, BENCH_TCP, fl, 40003, 443, 0);
	case PK_INTO_UNKNOWN:
		return bench_pkt(buf, eth, p->net, p->spoof, BENCH_TCP, fl, 443, 40000, 0);
	case PK_INTO_ACL:
		return bench_pkt(buf, eth, p->net, p->a, BENCH_TCP, fl, 443, 22, 0);
	case PK_INTO_NEW:
		return bench_pkt(buf, eth, p->a, p->b, BENCH_UDP, 0, 40001, 5000, 0);
	case PK_INTO_EST:
		return bench_pkt(buf, eth, p->res, p->a, BENCH_TCP, fl, 5432, 40002, 0);
	case PK_RAND_FLOOR:
	case PK_RAND_NEW:
	case PK_RAND_EST:
	case PK_RAND_SPOOF:
	case PK_RAND_INS:
		/* The template: addresses are rewritten per packet. */
		return bench_pkt(buf, eth, p->a, p->res, BENCH_TCP, fl, 40004, 443, 0);
	case PK_RAND_ACL:
		return bench_pkt(buf, eth, p->a, p->c, BENCH_TCP, fl, 40005, 22, 0);
	default:
		return 0;
	}
}

static size_t make_pkt(enum bench_pk pk, const struct bench_pick *p, uint8_t *buf)
{
	return make_pkt_as(pk, p, buf, pk_tcp_flags(pk));
}

struct scale_ctx {
	struct bench_env *env;
	struct nn_dp *dp;
	struct judge judge;
	struct bench_gen gen;
	struct bench_cache *cache_judge; /* dry_run: new flows stay new */
	struct bench_cache *cache_real;
	struct bench_line_floors lines;
};

/* The random-pair copies of the XDP pipeline, on the scale's maps. */
static int cache_load(struct scale_ctx *s)
{
	struct bench_cache *c[2];
	int i, err = 0;

	for (i = 0; i < 2 && !err; i++) {
		c[i] = bench_cache__open();
		if (!c[i])
			return -ENOMEM;
		c[i]->rodata->nn_framing = s->dp->opts.framing;
		c[i]->rodata->nn_max_rules = s->dp->opts.cap.max_rules;
		c[i]->rodata->nn_dev_stride = nn_dev_slots(&s->dp->opts.cap);
		c[i]->rodata->nn_srcf_lines = nn_srcf_lines_for(&s->dp->opts.cap);
		c[i]->rodata->nn_flow_mask = nn_flow_buckets_for(&s->dp->opts.cap) - 1;
		c[i]->rodata->nn_flow_seed = s->dp->flow_seed;
		c[i]->rodata->nn_denied_sets =
			nn_denied_sets_for(&s->dp->opts.cap, libbpf_num_possible_cpus());
		c[i]->rodata->nn_dry_run = i == 0;
		bpf_map__set_max_entries(c[i]->maps.bench_pairs, BENCH_MAX_PAIRS);
		err = nn_dp_share_maps(c[i]->obj, s->dp);
		if (!err)
			err = bench_cache__load(c[i]);
	}
	s->cache_judge = c[0];
	s->cache_real = c[1];
	return err;
}

static void cache_close(struct scale_ctx *s)
{
	bench_cache__destroy(s->cache_judge);
	bench_cache__destroy(s->cache_real);
	s->cache_judge = s->cache_real = NULL;
}

static struct target target_of(struct scale_ctx *s, enum bench_hook h, bool judge)
{
	struct target t = { .fd = -1, .tc = h != HK_XDP_EMPTY && h != HK_XDP_FROM };

	if (h == HK_XDP_PARSE || h >= HK_XDP_CACHE)
		t.tc = false;
	struct judge *j = &s->judge;

	if (t.tc && bopts.framing == NN_FRAMING_L3)
		t.ifindex = s->env->tun_ifindex;
	switch (h) {
	case HK_XDP_EMPTY:
		t.fd = bpf_program__fd(s->env->empty->progs.bench_xdp_empty);
		break;
	case HK_TC_EMPTY:
		t.fd = bpf_program__fd(s->env->empty->progs.bench_tc_empty);
		break;
	case HK_TC_FROM:
		t.fd = judge ? bpf_program__fd(j->tc_from->progs.nn_tc_from_overlay) :
			       nn_dp_prog_fd(s->dp, NN_DIR_FROM_OVERLAY, NN_HOOK_TC);
		break;
	case HK_XDP_FROM:
		t.fd = judge ? bpf_program__fd(j->xdp_from->progs.nn_xdp_from_overlay) :
			       nn_dp_prog_fd(s->dp, NN_DIR_FROM_OVERLAY, NN_HOOK_XDP);
		break;
	case HK_TC_INTO:
		t.fd = judge ? bpf_program__fd(j->tc_into->progs.nn_tc_into_overlay) :
			       nn_dp_prog_fd(s->dp, NN_DIR_INTO_OVERLAY, NN_HOOK_TC);
		break;
	case HK_XDP_PARSE:
		t.fd = bpf_program__fd(s->env->parse->progs.bench_xdp_parse);
		t.tc = false;
		break;
	case HK_TC_PARSE:
		t.fd = bpf_program__fd(s->env->parse->progs.bench_tc_parse);
		break;
	case HK_XDP_CACHE:
	case HK_XDP_CACHE_P:
	case HK_XDP_ONE_P:
		t.fd = bpf_program__fd(judge ? s->cache_judge->progs.bench_cache :
					       s->cache_real->progs.bench_cache);
		t.tc = false;
		break;
	case HK_XDP_CACHE_FLOOR:
	case HK_XDP_CACHE_P_FLOOR:
	case HK_XDP_ONE_P_FLOOR:
		t.fd = bpf_program__fd(s->cache_judge->progs.bench_cache_floor);
		t.tc = false;
		break;
	case HK_LINES_CHASE:
	case HK_LINES_HIT:
	case HK_LINES_CTR:
	case HK_LINES_PUT:
		t.fd = bench_lines_prog_fd(&s->lines, h);
		t.tc = false;
		break;
	}
	if (!t.tc)
		t.ifindex = 0;
	return t;
}

/* Run the case's packet once and check the verdict (and, on the normal
 * program, that the expected drop counter moved): a benchmark of the wrong
 * path is worse than none. */
static int check_case(struct scale_ctx *s, const struct bench_case *c, const struct target *t,
		      const uint8_t *pkt, size_t len)
{
	bool xdp = !t->tc, pass_expected = c->expect == NN_PASS, passed;
	uint64_t before = pass_expected ? 0 : drops(s->dp, c->expect);
	uint32_t ret;
	int err;

	err = test_run(t, pkt, len, 1, NULL, &ret);
	if (err)
		return err;
	passed = xdp ? ret == XDP_PASS_RET : ret == TC_OK_RET;
	if (passed != pass_expected ||
	    (!pass_expected && c->run == RUN_NORMAL && drops(s->dp, c->expect) != before + 1)) {
		fprintf(stderr, "case %s: expected %s (reason %u), got retval %u\n", c->name,
			pass_expected ? "pass" : "drop", c->expect, ret);
		return -EPROTO;
	}
	return 0;
}

/* -C: one substring, or several separated by commas (any of them). */
static bool wanted(const char *name)
{
	const char *o = bopts.only, *comma;
	char part[64];
	size_t n;

	if (!o)
		return true;
	for (;; o = comma + 1) {
		comma = strchr(o, ',');
		n = comma ? (size_t)(comma - o) : strlen(o);
		if (n < sizeof(part)) {
			memcpy(part, o, n);
			part[n] = 0;
			if (strstr(name, part))
				return true;
		}
		if (!comma)
			return false;
	}
}

/* Record the flow of PK_EST (and so of its reply PK_INTO_EST) through the
 * normal programs as a handshake opens it: the SYN from the overlay, the
 * SYN|ACK back into it, so that the flow is established (NN_FS_EST) as the
 * flow of any established packet is. */
static int open_flow(struct scale_ctx *s, const struct bench_pick *p)
{
	struct target from = target_of(s, HK_TC_FROM, false),
		      into = target_of(s, HK_TC_INTO, false);
	uint8_t pkt[BENCH_PKT_MAX];
	size_t len = make_pkt_as(PK_EST, p, pkt, BENCH_TCP_OPEN);
	uint32_t ret;
	int err;

	if (!len)
		return -EINVAL;
	err = test_run(&from, pkt, len, 1, NULL, &ret);
	if (!err && ret != TC_OK_RET)
		err = -EPROTO;
	len = make_pkt_as(PK_INTO_EST, p, pkt, BENCH_TCP_REPLY);
	if (!err)
		err = len ? test_run(&into, pkt, len, 1, NULL, &ret) : -EINVAL;
	if (!err && ret != TC_OK_RET)
		err = -EPROTO;
	return err;
}

/* The state of PK_EST's flow (open_flow's) in the table of @s into *@state:
 * its key as the programs make it (nn_flow_key_make: the lower address is
 * end a). */
static int est_flow_state(struct scale_ctx *s, const struct bench_pick *p, uint8_t *state)
{
	struct nn_flow_key k = {};
	struct nn_flow f;
	uint8_t src[NN_ADDR_LEN], dst[NN_ADDR_LEN];
	int fam, a_is_src, err;

	if (nn_addr_parse(p->a, src, &fam) || nn_addr_parse(p->res, dst, &fam))
		return -EINVAL;
	a_is_src = memcmp(src, dst, NN_ADDR_LEN) < 0;
	memcpy(k.a, a_is_src ? src : dst, NN_ADDR_LEN);
	memcpy(k.b, a_is_src ? dst : src, NN_ADDR_LEN);
	k.aport = a_is_src ? 40002 : 5432;
	k.bport = a_is_src ? 5432 : 40002;
	k.proto = BENCH_TCP;
	err = nn_flow_find(s->dp->map_fd[NN_M_FLOWS], &k, &f);
	if (!err)
		*state = f.state;
	return err;
}

/*
 * An established case must measure a flow-table hit: its timed packets
 * must have recorded no flow (@before: the table's count before them), and
 * on RUN_ESTABLISHED its flow must be established (open_flow's handshake
 * went through). A figure of the insert path under an established name is
 * worse than none.
 */
static int check_established(struct scale_ctx *s, const struct bench_case *c,
			     const struct bench_pick *p, uint64_t before)
{
	uint64_t after = 0;
	uint8_t state = 0;
	int err = nn_flow_count(s->dp->map_fd[NN_M_FLOWS], &after);

	if (!err && c->run == RUN_ESTABLISHED)
		err = est_flow_state(s, p, &state);
	if (err) {
		fprintf(stderr, "case %s: reading the flow table: %s\n", c->name, strerror(-err));
		return err;
	}
	if (after != before) {
		fprintf(stderr,
			"case %s: its timed packets recorded flows: %llu flows before them, "
			"%llu after\n",
			c->name, (unsigned long long)before, (unsigned long long)after);
		return -EPROTO;
	}
	if (c->run == RUN_ESTABLISHED && state != NN_FS_EST) {
		fprintf(stderr, "case %s: its flow is in state %u, not established (%u)\n", c->name,
			state, NN_FS_EST);
		return -EPROTO;
	}
	return 0;
}

static void stats(uint32_t *d, double *med, double *min, double *max)
{
	qsort(d, bopts.rounds, sizeof(d[0]), cmp_u32);
	*med = bopts.rounds % 2 ? d[bopts.rounds / 2] :
				  (d[bopts.rounds / 2 - 1] + d[bopts.rounds / 2]) / 2.0;
	*min = d[0];
	*max = d[bopts.rounds - 1];
}

static bool is_rand(enum bench_pk pk)
{
	return pk >= PK_RAND_FLOOR;
}

static bool is_lines(enum bench_hook h)
{
	return h >= HK_LINES_CHASE;
}

/*
 * Random pairs for a PK_RAND_* case (family @fam) in both copies; for
 * PK_RAND_EST every pair's flow is recorded first, in order, through the
 * normal copy.
 */
static int cache_prepare(struct scale_ctx *s, const struct bench_case *c, int fam, size_t *npairs)
{
	static struct bench_pair pairs[BENCH_MAX_PAIRS];
	struct bench_cache *cc[2] = { s->cache_judge, s->cache_real };
	enum bench_pair_kind kind = c->pk == PK_RAND_SPOOF ? BP_SPOOF :
				    c->pk == PK_RAND_ACL   ? BP_DENY :
							     BP_ALLOW;
	bool one = c->hook == HK_XDP_ONE_P || c->hook == HK_XDP_ONE_P_FLOOR;
	size_t n = bench_pairs(&s->gen, kind, fam == 1, pairs, one ? 1 : BENCH_MAX_PAIRS), i;
	uint8_t pkt[BENCH_PKT_MAX];
	size_t len;
	int k, err = 0;

	if (!n)
		return -EINVAL;
	*npairs = n;
	for (k = 0; k < 2; k++) {
		for (i = 0; i < n && !err; i++) {
			uint32_t key = i;

			err = bpf_map_update_elem(bpf_map__fd(cc[k]->maps.bench_pairs), &key,
						  &pairs[i], 0);
		}
		cc[k]->data->bench_n = n;
		cc[k]->bss->bench_v4 = fam == 1;
		cc[k]->bss->bench_seq_mode = 0;
		/* One pair: the destination host varies too, or its 2^16
		 * ports' flows would all be in the table (bench_cache.bpf.c). */
		cc[k]->bss->bench_port_mode = c->hook < HK_XDP_CACHE_P ? 0 : one ? 2 : 1;
	}
	/* The line floors: xdp_rand/floor's prologue on the same pairs. */
	if (!err && is_lines(c->hook))
		bench_lines_set(&s->lines, n, fam == 1, c->k);
	if (err || c->pk != PK_RAND_EST)
		return err;
	/* Each flow opened by its SYN; the case then times ACKs on it. */
	len = make_pkt_as(PK_RAND_EST, fam ? &s->gen.v4 : &s->gen.v6, pkt, BENCH_TCP_OPEN);
	s->cache_real->bss->bench_seq_mode = 1;
	s->cache_real->bss->bench_seq = 0;
	{
		struct target t = { .fd = bpf_program__fd(s->cache_real->progs.bench_cache) };

		err = test_run(&t, pkt, len, n, NULL, NULL);
	}
	s->cache_real->bss->bench_seq_mode = 0;
	return err;
}

/* The cases timed on recorded flows. */
static bool established(const struct bench_case *c)
{
	return c->run == RUN_ESTABLISHED || c->pk == PK_RAND_EST;
}

/*
 * One case at every scale. The rounds are interleaved across scales (round
 * r runs N=10, then N=1000, ...): on a shared VM the cost of the same code
 * drifts by tens of percent over minutes, and the ratio between scales is
 * what matters, so every scale must see the same drift.
 */
/* The kernel's own accounting of program @fd (kernel.bpf_stats_enabled):
 * time inside it and runs since load; zeros while the statistics are off. */
static void prog_stats(int fd, uint64_t *ns, uint64_t *cnt)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	*ns = *cnt = 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		*ns = info.run_time_ns;
		*cnt = info.run_cnt;
	}
}

static int run_case(struct scale_ctx *sc, size_t n_scales, size_t ci, struct bench_results *res)
{
	uint64_t st_ns[MAX_SCALES], st_cnt[MAX_SCALES], flows[MAX_SCALES], ns, cnt;
	static uint32_t d[MAX_SCALES][MAX_ROUNDS];
	const struct bench_case *c = &res->cases[ci];
	uint8_t pkt[MAX_SCALES][BENCH_PKT_MAX];
	struct target t[MAX_SCALES];
	size_t len[MAX_SCALES], si;
	unsigned long r;
	int fam, err;

	for (fam = 0; fam < (c->pk == PK_NONE ? 1 : 2); fam++) {
		for (si = 0; si < n_scales; si++) {
			const struct bench_gen *g = &sc[si].gen;
			const struct bench_pick *p = fam ? &g->v4 : &g->v6;

			t[si] = target_of(&sc[si], c->hook, c->run == RUN_JUDGE);
			if (is_rand(c->pk)) {
				err = cache_prepare(&sc[si], c, fam, &res->pairs[si][fam]);
				if (err)
					return err;
			}
			/* Floors read no packet: any will do. */
			len[si] = make_pkt(c->pk == PK_NONE ? PK_NEW : c->pk, p, pkt[si]);
			if (!len[si])
				return -EINVAL;
			/* (Re)open the flow now: a SYN-only flow expires after
			 * tcp_syn_timeout (60 s), and the scales were set up
			 * minutes ago. */
			if (c->run == RUN_ESTABLISHED) {
				err = open_flow(&sc[si], p);
				if (err)
					return err;
			}
			/* A line floor must read the lines it is named for. */
			if (is_lines(c->hook))
				err = bench_lines_check(&sc[si].lines, c, pkt[si], len[si]);
			else if (c->pk != PK_NONE)
				err = check_case(&sc[si], c, &t[si], pkt[si], len[si]);
			if (err)
				return err;
		}
		for (si = 0; si < n_scales; si++) {
			prog_stats(t[si].fd, &st_ns[si], &st_cnt[si]);
			if (established(c)) {
				err = nn_flow_count(sc[si].dp->map_fd[NN_M_FLOWS], &flows[si]);
				if (err)
					return err;
			}
		}
		for (r = 0; r < bopts.rounds; r++) {
			for (si = 0; si < n_scales; si++) {
				err = test_run(&t[si], pkt[si], len[si], bopts.repeat, &d[si][r],
					       NULL);
				if (err)
					return err;
			}
		}
		for (si = 0; si < n_scales && established(c); si++) {
			err = check_established(&sc[si], c, fam ? &sc[si].gen.v4 : &sc[si].gen.v6,
						flows[si]);
			if (err)
				return err;
		}
		/* With kernel.bpf_stats_enabled (run.sh's profiles): the
		 * kernel's ns per run beside the test-run timer's, for
		 * summary.md. Nothing while the statistics are off. */
		for (si = 0; si < n_scales; si++) {
			prog_stats(t[si].fd, &ns, &cnt);
			if (cnt > st_cnt[si])
				fprintf(stderr, "# bpf_stats %s %s N=%zu %.1f ns/run %llu runs\n",
					c->name, fam ? "v4" : "v6", sc[si].gen.n_devices,
					(double)(ns - st_ns[si]) / (double)(cnt - st_cnt[si]),
					(unsigned long long)(cnt - st_cnt[si]));
		}
		for (si = 0; si < n_scales; si++) {
			struct bench_fig *f = &res->fig[si][ci];

			stats(d[si], &f->med[fam], &f->min[fam], &f->max[fam]);
			if (c->pk == PK_NONE) {
				f->med[1] = f->med[0];
				f->min[1] = f->min[0];
				f->max[1] = f->max[0];
			}
			f->done = true;
		}
	}
	progress("#   %-24s", c->name);
	for (si = 0; si < n_scales; si++)
		progress(" %7.1f/%-7.1f", res->fig[si][ci].med[0], res->fig[si][ci].med[1]);
	progress(" ns/pkt v6/v4\n");
	return 0;
}

/*
 * The flow-table insert, two ways:
 *  - alone: bench_flow_insert on the kernel's LRU hash (nn_flows' types), overwriting one
 *    key, then a new key each repetition with the table full (eviction);
 *  - in place: the normal program on distinct new flows, one repetition per
 *    run (so every run inserts), against the judge-only copy on the same
 *    packets; the difference is the insert plus the counters dry_run skips.
 */
static int median_single(struct target *t, const struct bench_pick *p, uint16_t base, double *med)
{
	uint32_t *d = calloc(bopts.insert_samples, sizeof(*d));
	uint8_t pkt[BENCH_PKT_MAX];
	unsigned long k;
	size_t len;
	int err = 0;

	if (!d)
		return -ENOMEM;
	for (k = 0; k < bopts.insert_samples && !err; k++) {
		len = bench_pkt(pkt, bopts.framing == NN_FRAMING_ETH, p->a, p->res, BENCH_TCP,
				BENCH_TCP_OPEN, base + k % 20000, 5432, 0);
		err = len ? test_run(t, pkt, len, 1, &d[k], NULL) : -EINVAL;
	}
	if (!err) {
		qsort(d, bopts.insert_samples, sizeof(*d), cmp_u32);
		*med = d[bopts.insert_samples / 2];
	}
	free(d);
	return err;
}

static int run_insert(struct scale_ctx *s, const struct bench_gen *g, struct bench_insert *in)
{
	struct bench_empty *e = s->env->empty;
	struct target ins = { .fd = bpf_program__fd(e->progs.bench_flow_insert) };
	struct target floor = { .fd = bpf_program__fd(e->progs.bench_xdp_empty) };
	struct target real = target_of(s, HK_TC_FROM, false);
	struct target judge = target_of(s, HK_TC_FROM, true);
	struct nn_flow_key key = {};
	double lo, hi;
	int err;

	memset(key.a, 0xfd, sizeof(key.a));
	memset(key.b, 0xfe, sizeof(key.b));
	key.proto = 6;
	e->bss->bench_fresh_keys = 0;
	err = time_it(&floor, &key, sizeof(key), &in->xdp_floor, &lo, &hi);
	if (!err)
		err = time_it(&ins, &key, sizeof(key), &in->lru_overwrite, &lo, &hi);
	e->bss->bench_fresh_keys = 1;
	if (!err)
		err = time_it(&ins, &key, sizeof(key), &in->lru_fresh, &lo, &hi);
	/* Each sample a new flow for the real program: the judge runs first,
	 * on ports no earlier run has used. */
	if (!err)
		err = median_single(&judge, &g->v6, 20000, &in->judge_new);
	if (!err)
		err = median_single(&real, &g->v6, 20000, &in->real_new);
	if (err)
		return err;
	in->done = true;
	progress("#   insert: lru overwrite %.1f fresh %.1f floor %.1f; new flow real %.0f "
		 "judge-only %.0f (repeat 1)\n",
		 in->lru_overwrite, in->lru_fresh, in->xdp_floor, in->real_new, in->judge_new);
	return 0;
}

static int load_scale(struct scale_ctx *s, const struct bench_gen *g, size_t n,
		      struct bench_scale_info *info)
{
	struct nn_load_opts o = {
		.framing = bopts.framing,
		.load_xdp_direct = true,
	};
	struct nn_limits lim;
	struct nn_policy *p = NULL;
	struct nn_errlist errs = {};
	struct nn_apply_result ar = {};
	double t0 = bench_wall_ms();
	size_t i;
	int err;

	/* Sized for N: the defaults (128k devices, 1M flows) would measure
	 * the same tables at every scale. */
	o.cap.max_devices = n + 1024;
	o.cap.max_nodes = 64;
	o.cap.max_rules = n + 1024;
	o.cap.max_prefixes = 2 * n + 4096;
	o.cap.max_cells = 16 * n + 4096;
	o.cap.max_flows = BENCH_MAX_FLOWS;
	/* NN_BENCH_MAX_FLOWS: another flow table, e.g. the daemon's default
	 * (1M) for the insert cases (docs/datapath.md "Session 12"). */
	{
		const char *mf = getenv("NN_BENCH_MAX_FLOWS");
		char *end = NULL;
		unsigned long v = mf ? strtoul(mf, &end, 0) : 0;

		if (mf && (!*mf || *end || !v || v > UINT32_MAX)) {
			fprintf(stderr, "# NN_BENCH_MAX_FLOWS=%s: not a flow count (1..2^32-1)\n",
				mf);
			return -EINVAL;
		}
		if (v)
			o.cap.max_flows = (uint32_t)v;
	}
	o.cap.max_frags = 4096;
	o.cap.max_denied = NN_DEF_MAX_DENIED;
	nn_limits_default(&lim);
	lim.max_devices = o.cap.max_devices;
	lim.max_rules = o.cap.max_rules;
	lim.max_prefixes = o.cap.max_prefixes;
	lim.max_nodes = o.cap.max_nodes;
	lim.max_body = g->len; /* our own synthetic snapshot: 485 MB at 1M */
	err = nn_policy_parse(g->json, g->len, "gw-bench", &lim, &p, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "# policy: %s\n", errs.msgs[i]);
	nn_errlist_free(&errs);
	if (err)
		return err;
	info->parse_ms = bench_wall_ms() - t0;
	info->devices = p->n_devices;
	info->rules = p->n_rules;
	t0 = bench_wall_ms();
	err = nn_dp_load(&o, &s->dp);
	/* The per-device new-flow bound (docs/datapath.md "New-state
	 * bound") would refuse all but the first burst of the millions of
	 * inserts a case repeats: admit every one, so that the bucket's cost
	 * is measured and not the refusal. NN_BENCH_FLOW_LIMIT=off runs
	 * without the bound (rate 0), for the before/after ratio. */
	if (!err) {
		const char *fl = getenv("NN_BENCH_FLOW_LIMIT");
		bool off = fl && !strcmp(fl, "off");

		err = nn_dp_set_flow_limit(s->dp, off ? 0 : NN_MAX_NEW_FLOW_RATE,
					   off ? 0 : 0x7fffffffu);
	}
	if (!err)
		err = judge_load(&s->judge, s->dp);
	if (!err)
		err = cache_load(s);
	info->load_ms = bench_wall_ms() - t0;
	t0 = bench_wall_ms();
	if (!err && nn_apply(s->dp, p, &ar, &errs) != NN_APPLY_APPLIED)
		err = ar.error;
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "# apply: %s\n", errs.msgs[i]);
	nn_errlist_free(&errs);
	info->apply_ms = bench_wall_ms() - t0;
	info->addrs = ar.addrs;
	info->prefixes = ar.prefixes;
	info->cells = ar.cells;
	nn_policy_free(p);
	return err;
}

static int setup_scale(struct scale_ctx *s, struct bench_results *res, size_t si)
{
	struct bench_scale_info *info = &res->info[si];
	size_t n = res->scale[si];
	int err;

	progress("# N=%zu: generating\n", n);
	{
		struct bench_gen_opts go = { .nested = res->nested[si] };

		err = bench_genpolicy_opts(n, &go, &s->gen);
	}
	if (err)
		return err;
	info->json_bytes = s->gen.len;
	info->networks = s->gen.n_networks;
	info->tenants = s->gen.n_tenants;
	info->resources = s->gen.n_resources;
	err = load_scale(s, &s->gen, n, info);
	if (!err)
		err = bench_lines_open(&s->lines, bpf_map__fd(s->cache_judge->maps.bench_pairs),
				       nn_flow_buckets_for(&s->dp->opts.cap),
				       nn_dev_slots(&s->dp->opts.cap), bopts.framing,
				       res->lines_seed ^ n);
	info->line_flow_bytes = s->lines.flow_bytes;
	info->line_ctr_bytes = s->lines.ctr_bytes;
	progress("# N=%zu: %zu devices, %zu rules, %zu networks, %zu cells; parse %.0f ms, "
		 "load %.0f ms, apply %.0f ms\n",
		 n, info->devices, info->rules, info->networks, info->cells, info->parse_ms,
		 info->load_ms, info->apply_ms);
	return err;
}

/* Every scale stays loaded at once (about 1 GB at 100k) so that the cases
 * can interleave their rounds across scales. */
int bench_run(struct bench_env *env, struct bench_results *res)
{
	static struct scale_ctx sc[MAX_SCALES];
	size_t si, ci;
	int err = bench_lines_seed(&res->lines_seed);

	if (!err)
		progress("# line floors: tables of seed %llu (NN_BENCH_SEED replays them)\n",
			 (unsigned long long)res->lines_seed);
	for (si = 0; si < res->n_scales && !err; si++) {
		sc[si].env = env;
		err = setup_scale(&sc[si], res, si);
	}
	for (ci = 0; ci < res->n_cases && !err; ci++)
		if (res->cases[ci].pk == PK_NONE || wanted(res->cases[ci].name))
			err = run_case(sc, res->n_scales, ci, res);
	if (!err && bopts.lookup_entries && wanted("lookup")) {
		res->lookup.entries = bopts.lookup_entries;
		err = bench_run_lookup(env, &res->lookup);
	}
	for (si = 0; si < res->n_scales && !err; si++)
		if (!bopts.no_insert && wanted("insert"))
			err = run_insert(&sc[si], &sc[si].gen, &res->ins[si]);
	for (si = 0; si < res->n_scales; si++) {
		bench_lines_close(&sc[si].lines);
		judge_close(&sc[si].judge);
		cache_close(&sc[si]);
		nn_dp_close(sc[si].dp);
		bench_gen_free(&sc[si].gen);
	}
	return err;
}

/* ---- bare lookups (bench_lookup.bpf.c) ---- */
static void lookup_key(uint8_t *a, uint32_t i)
{
	memset(a, 0, 16);
	a[0] = 0xfd;
	a[2] = i >> 24;
	a[3] = i >> 16;
	a[4] = i >> 8;
	a[5] = i;
	a[15] = 5;
}

/* Interleaved rounds, like run_case: every program sees the same drift. */
int bench_run_lookup(struct bench_env *env, struct bench_lk *lk)
{
	static uint32_t d[10][MAX_ROUNDS];
	struct bench_lookup *skel = bench_lookup__open();
	struct nn_addr_key hk = {};
	struct nn_addr_info hv = { .kind = NN_AK_DEVICE, .state = NN_ST_ACTIVE };
	struct nn_prefix_key pk = { .prefixlen = NN_SCOPE_BITS + 64 };
	struct nn_prefix_info pv = { .kind = NN_PK_RESOURCE };
	struct target t[10] = {};
	double *out[10] = { &lk->xdp_floor,	  &lk->rand_floor,    &lk->hash_hot,
			    &lk->lpm_hot,	  &lk->hash_rand,     &lk->lpm_rand,
			    &lk->ctr_percpu_rand, &lk->ctr_line_rand, &lk->seen_percpu_rand,
			    &lk->seen_line_rand };
	int ncpu = libbpf_num_possible_cpus();
	uint8_t hot[16];
	double lo, hi;
	uint32_t i, n = lk->entries;
	unsigned long r;
	int err, k;

	if (!skel)
		return -ENOMEM;
	bpf_map__set_max_entries(skel->maps.bench_hash, n);
	bpf_map__set_max_entries(skel->maps.bench_lpm, n);
	bpf_map__set_max_entries(skel->maps.bench_ctr_percpu, n);
	bpf_map__set_max_entries(skel->maps.bench_ctr_line, n * (uint32_t)(ncpu > 0 ? ncpu : 1));
	bpf_map__set_max_entries(skel->maps.bench_seen_line,
				 bpf_map__max_entries(skel->maps.bench_seen_percpu) *
					 (uint32_t)(ncpu > 0 ? ncpu : 1));
	skel->data->bench_n = n;
	err = bench_lookup__load(skel);
	for (i = 0; i < n && !err; i++) {
		lookup_key(hk.addr, i);
		lookup_key(pk.addr, i);
		memset(pk.addr + 8, 0, 8); /* fd00:<i>::/64 */
		err = bpf_map_update_elem(bpf_map__fd(skel->maps.bench_hash), &hk, &hv, 0);
		if (!err)
			err = bpf_map_update_elem(bpf_map__fd(skel->maps.bench_lpm), &pk, &pv, 0);
		if (err)
			err = -errno;
	}
	lookup_key(hot, n / 2);
	t[0].fd = bpf_program__fd(env->empty->progs.bench_xdp_empty);
	t[1].fd = bpf_program__fd(skel->progs.bench_rand_floor);
	t[2].fd = bpf_program__fd(skel->progs.bench_hash_hot);
	t[3].fd = bpf_program__fd(skel->progs.bench_lpm_hot);
	t[4].fd = bpf_program__fd(skel->progs.bench_hash_rand);
	t[5].fd = bpf_program__fd(skel->progs.bench_lpm_rand);
	t[6].fd = bpf_program__fd(skel->progs.bench_ctr_percpu_rand);
	t[7].fd = bpf_program__fd(skel->progs.bench_ctr_line_rand);
	t[8].fd = bpf_program__fd(skel->progs.bench_seen_percpu_rand);
	t[9].fd = bpf_program__fd(skel->progs.bench_seen_line_rand);
	for (r = 0; r < bopts.rounds && !err; r++)
		for (k = 0; k < 10 && !err; k++)
			err = test_run(&t[k], hot, sizeof(hot), bopts.repeat, &d[k][r], NULL);
	for (k = 0; k < 10 && !err; k++)
		stats(d[k], out[k], &lo, &hi);
	lk->done = !err;
	progress("#   lookups (%u entries): floor %.1f rand_floor %.1f hash hot %.1f rand %.1f; "
		 "lpm hot %.1f rand %.1f\n",
		 n, lk->xdp_floor, lk->rand_floor, lk->hash_hot, lk->hash_rand, lk->lpm_hot,
		 lk->lpm_rand);
	progress("#   device counter at a random slot: per-CPU array %.1f, one line %.1f\n",
		 lk->ctr_percpu_rand, lk->ctr_line_rand);
	progress("#   admission word at a random slot: per-CPU array %.1f, one region %.1f\n",
		 lk->seen_percpu_rand, lk->seen_line_rand);
	bench_lookup__destroy(skel);
	return err;
}
