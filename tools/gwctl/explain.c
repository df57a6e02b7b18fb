// SPDX-License-Identifier: GPL-2.0
/*
 * explain.c - "why was this packet dropped?", answered by the dataplane
 * itself: a private copy of the real programs is loaded over the PINNED
 * maps (so it sees the live generation, flows included) with dry_run (no
 * flow, fragment, counter or event writes) and record_last (the verdict,
 * the deciding rule and the classification land in nn_last), and the packet
 * is run once through BPF_PROG_TEST_RUN. It agrees with the attached
 * programs by construction: same code, same maps, same framing.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gwctl.h"
#include "lib/addr.h"

enum { E_SPORT };

static const struct gw_opt explain_opts[] = {
	[E_SPORT] = { "sport", 's', required_argument, "N",
		      "source port, or the echo id for icmp/icmpv6 (default 40000)" },
	{ NULL },
};

struct explain_state {
	uint32_t sport;
	bool has_sport;
};

#define GW_DEF_SPORT 40000

struct judge_info {
	const char *hook;    /* "tc" or "xdp" */
	const char *framing; /* "l3" or "ethernet" */
};

static int explain_opt(struct gw *g, void *state, int idx, const char *arg)
{
	struct explain_state *s = state;

	if (idx == E_SPORT) {
		if (gw_parse_u32(arg, 65535, &s->sport))
			return gw_err(g, GW_USAGE, "--sport: '%s' is not a port number", arg);
		s->has_sport = true;
	}
	return 0;
}

static int parse_args(struct gw *g, struct explain_state *st, int argc, char **argv, uint8_t *dir,
		      struct gw_pkt_spec *s)
{
	int fs, fd, proto;
	uint32_t v;

	if (argc < 4 || argc > 5)
		return gw_err(g, GW_USAGE,
			      "explain needs from-overlay|into-overlay SRC DST PROTO "
			      "[DPORT] (see 'nanami-gwctl explain --help')");
	if (!strcmp(argv[0], "from-overlay"))
		*dir = NN_DIR_FROM_OVERLAY;
	else if (!strcmp(argv[0], "into-overlay"))
		*dir = NN_DIR_INTO_OVERLAY;
	else
		return gw_err(g, GW_USAGE,
			      "direction must be from-overlay or into-overlay, not '%s'", argv[0]);
	memset(s, 0, sizeof(*s));
	if (nn_addr_parse(argv[1], s->src, &fs))
		return gw_err(g, GW_USAGE, "SRC '%s' is not an IPv4 or IPv6 address", argv[1]);
	if (nn_addr_parse(argv[2], s->dst, &fd))
		return gw_err(g, GW_USAGE, "DST '%s' is not an IPv4 or IPv6 address", argv[2]);
	if (fs != fd)
		return gw_err(g, GW_USAGE, "SRC and DST must be of one family (%s, %s)", argv[1],
			      argv[2]);
	s->family = fs;
	proto = gw_proto_parse(argv[3]);
	if (proto < 0)
		return gw_err(g, GW_USAGE,
			      "unknown protocol '%s' (tcp, udp, icmp, icmpv6 or a "
			      "number)",
			      argv[3]);
	if ((proto == 1 && fs == NN_FAM_V6) || (proto == 58 && fs == NN_FAM_V4))
		return gw_err(g, GW_USAGE,
			      "%s does not go with %s addresses (icmp is IPv4's, "
			      "icmpv6 is IPv6's)",
			      argv[3], fs == NN_FAM_V6 ? "IPv6" : "IPv4");
	s->proto = (uint8_t)proto;
	if (proto == 6 || proto == 17) {
		if (argc < 5)
			return gw_err(g, GW_USAGE, "%s needs a destination port", argv[3]);
		if (gw_parse_u32(argv[4], 65535, &v))
			return gw_err(g, GW_USAGE, "DPORT '%s' is not a port number", argv[4]);
		s->dport = (uint16_t)v;
	} else if (argc == 5) {
		return gw_err(g, GW_USAGE, "%s has no ports: drop DPORT '%s'", argv[3], argv[4]);
	}
	s->sport = st->has_sport ? (uint16_t)st->sport : GW_DEF_SPORT;
	if (proto == 1 || proto == 58)
		s->dport = s->sport; /* the dataplane reads the echo id as both ports */
	return 0;
}

/* Who @a is in the live generation: exact address, then the global prefix
 * scope, else internet. */
static json_t *describe(struct gw *g, const struct gw_catalog *c, const uint8_t *a, bool martian)
{
	const struct gw_addr *e = gw_addr_find(c, a);
	struct nn_local_key lk;
	struct nn_local_info li;
	struct nn_prefix_key k = { .prefixlen = NN_SCOPE_BITS + 128,
				   .scope = NN_SCOPE(c->slot, 0) };
	struct nn_prefix_info pi;
	json_t *o = json_pack("{s:o}", "addr", gw_json_addr(a));

	if (e) {
		const struct nn_name *n = gw_dev_name(c, e->info.stat_slot);

		json_object_set_new(o, "kind", json_string(nn_addr_kind_name(e->info.kind)));
		json_object_set_new(o, "id", gw_json_str_or_null(n ? n->id : NULL));
		json_object_set_new(o, "tenant",
				    gw_json_str_or_null(n && n->tenant[0] ? n->tenant : NULL));
		json_object_set_new(o, "network",
				    gw_json_str_or_null(n && n->network[0] ? n->network : NULL));
		json_object_set_new(o, "state", json_string(nn_state_name(e->info.state) ?: "?"));
		if (e->info.kind == NN_AK_DEVICE)
			json_object_set_new(o, "egress_here",
					    json_boolean(e->info.flags & NN_AF_EGRESS));
		return o;
	}
	memcpy(k.addr, a, NN_ADDR_LEN);
	if (!bpf_map_lookup_elem(g->fd[NN_M_PREFIXES], &k, &pi) && pi.kind != NN_PK_HOLE) {
		json_object_set_new(o, "kind",
				    json_string(pi.kind == NN_PK_OVERLAY ? "unassigned_overlay" :
									   "resource"));
		json_object_set_new(o, "tenant", gw_json_str_or_null(gw_tenant_name(c, pi.tenant)));
		json_object_set_new(o, "network",
				    gw_json_str_or_null(gw_network_name(c, pi.network)));
		return o;
	}
	/* The verdict names the same kinds (nn_verdict.dst_kind): the host's
	 * own addresses are in nn_local; martians need no map. */
	memcpy(lk.addr, a, NN_ADDR_LEN);
	if (!bpf_map_lookup_elem(g->fd[NN_M_LOCAL], &lk, &li)) {
		json_object_set_new(o, "kind", json_string(nn_dst_kind_name(NN_DK_HOST)));
		json_object_set_new(o, "ifindex", json_integer(li.ifindex));
		return o;
	}
	json_object_set_new(o, "kind",
			    json_string(martian ? nn_dst_kind_name(NN_DK_MARTIAN) : "internet"));
	return o;
}

/*
 * Run @pkt (L3) once through a dry-run copy of the programs on the pinned
 * maps and read nn_last. The copy mirrors what is attached: the XDP program
 * when the controller attached from-overlay with --hook xdp, else TC, and
 * the interface's framing. An XDP test run sees the bytes as given. A TC
 * test run pushes the device's link-layer header back in front of the data:
 * with an L3 device's ifindex (wg0) the program sees the IP header first, as
 * on wg0; without one (Ethernet framing, as on veth) it gets a header.
 */
static int judge(struct gw *g, uint8_t dir, const uint8_t *l3, size_t l3len, struct nn_verdict *out,
		 struct judge_info *ji)
{
	struct nn_load_opts o = {
		.pin_dir = g->pin_dir, .hook = NN_HOOK_TC, .record_last = true, .dry_run = true
	};
	uint8_t pkt[256], outbuf[512];
	struct __sk_buff skb = {};
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_out = outbuf, .data_size_out = sizeof(outbuf),
		    .repeat = 1);
	struct nn_verdict *last = NULL;
	struct nn_dp *dp = NULL;
	int ncpu = gw_ncpus(), cpu, ifindex = 0, err, i;
	bool l3_dev = nn_iface_framing(g->iface) == NN_FRAMING_L3;
	size_t len = 0;
	cpu_set_t set;

	err = gw_capacity_from_pins(g, &o.cap);
	if (err)
		return gw_err(g, GW_ERR,
			      "the pinned maps under %s do not have the sizes this "
			      "loader makes (another version?): %s",
			      g->pin_dir, strerror(-err));
	if (dir == NN_DIR_FROM_OVERLAY && gw_xdp_attached(g->iface)) {
		o.hook = NN_HOOK_XDP;
		o.load_xdp_direct = true;
	} else if (l3_dev) {
		ifindex = (int)if_nametoindex(g->iface);
		l3_dev = ifindex != 0;
	}
	ji->hook = o.hook == NN_HOOK_XDP ? "xdp" : "tc";
	if (l3_dev) {
		o.framing = NN_FRAMING_L3;
		ji->framing = "l3";
	} else {
		static const uint8_t eth[12] = { 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2 };

		o.framing = NN_FRAMING_ETH;
		ji->framing = "ethernet";
		memcpy(pkt, eth, 12);
		pkt[12] = (l3[0] >> 4) == 4 ? 0x08 : 0x86;
		pkt[13] = (l3[0] >> 4) == 4 ? 0x00 : 0xdd;
		len = 14;
	}
	if (len + l3len > sizeof(pkt))
		return gw_err(g, GW_ERR, "packet too long");
	memcpy(pkt + len, l3, l3len);
	len += l3len;

	err = nn_dp_load(&o, &dp);
	if (err)
		return gw_err(g, GW_ERR,
			      "couldn't load a dry-run copy of the programs over the "
			      "pinned maps in %s: %s (run with -v for libbpf's reason)",
			      g->pin_dir, strerror(-err));
	/* nn_last is per CPU: stay on one CPU so the value read is ours. */
	cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	if (cpu < 0 || sched_setaffinity(0, sizeof(set), &set)) {
		err = gw_err(g, GW_ERR, "couldn't pin to one CPU: %s", strerror(errno));
		goto out;
	}
	last = calloc((size_t)ncpu, sizeof(*last));
	if (!last) {
		err = gw_err(g, GW_ERR, "out of memory");
		goto out;
	}
	for (i = 0; i < ncpu; i++)
		last[i].reason = 0xdead; /* a program that did not record leaves this */
	bpf_map_update_elem(dp->map_fd[NN_M_LAST], &(uint32_t){ 0 }, last, BPF_ANY);
	run.data_in = pkt;
	run.data_size_in = (uint32_t)len;
	if (ifindex) {
		skb.ifindex = (uint32_t)ifindex;
		run.ctx_in = &skb;
		run.ctx_size_in = sizeof(skb);
	}
	if (bpf_prog_test_run_opts(nn_dp_prog_fd(dp, dir, o.hook), &run)) {
		err = gw_err(g, GW_ERR, "BPF_PROG_TEST_RUN failed: %s", strerror(errno));
		goto out;
	}
	if (bpf_map_lookup_elem(dp->map_fd[NN_M_LAST], &(uint32_t){ 0 }, last)) {
		err = gw_err(g, GW_ERR, "couldn't read nn_last: %s", strerror(errno));
		goto out;
	}
	*out = last[cpu];
	if (out->reason == 0xdead)
		err = gw_err(g, GW_ERR, "the program recorded no verdict (ran on another CPU?)");
	else if ((out->reason == NN_PASS) !=
		 (run.retval == (o.hook == NN_HOOK_XDP ? 2 /* XDP_PASS */ : 0 /* TC_ACT_OK */)))
		err = gw_err(g, GW_ERR, "verdict %u disagrees with the return code %u", out->reason,
			     run.retval);
out:
	free(last);
	nn_dp_close(dp);
	return err;
}

static void print_side(const char *label, json_t *o)
{
	const char *keys[] = { "kind", "id", "tenant", "network", "state" };
	json_t *eg = json_object_get(o, "egress_here");
	size_t i;

	printf("%-10s %s", label, json_string_value(json_object_get(o, "addr")));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = json_string_value(json_object_get(o, keys[i]));

		if (v)
			printf(" %s=%s", keys[i], v);
	}
	if (eg)
		printf(" egress_here=%s", json_is_true(eg) ? "yes" : "no");
	putchar('\n');
}

static int explain_run(struct gw *g, void *state, int argc, char **argv)
{
	struct explain_state *st = state;
	struct gw_pkt_spec spec;
	struct nn_verdict v = {};
	struct gw_catalog c;
	const struct nn_name *rn = NULL;
	struct judge_info ji = {};
	const char *reason;
	uint8_t l3[128], dir = 0;
	size_t l3len;
	char proto[16];
	json_t *root;
	uint32_t epoch;
	int lock = -1, err;

	err = parse_args(g, st, argc, argv, &dir, &spec);
	if (err)
		return err;
	l3len = gw_pkt_build(&spec, l3, sizeof(l3));
	err = gw_pins_open(g);
	if (err)
		return err;
	/* One explain at a time per pin dir keeps CPU pinning and output sane. */
	lock = open(g->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock >= 0)
		flock(lock, LOCK_EX);
	err = judge(g, dir, l3, l3len, &v, &ji);
	if (lock >= 0)
		close(lock);
	if (err)
		return err;
	err = gw_catalog_load(g, &c);
	if (err)
		return err;
	if (v.rule != NN_NONE32)
		rn = gw_rule_name(&c, gw_rule_index_slot(g, &c, v.rule));
	reason = v.reason == NN_PASS ? NULL : nn_reason_name(v.reason);
	gw_proto_name(spec.proto, proto, sizeof(proto));
	root = json_pack("{s:s,s:o,s:o,s:s,s:b,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:s,s:s,"
			 "s:{s:o,s:o,s:s,s:i,s:i,s:i}}",
			 "verdict", v.reason == NN_PASS ? "pass" : "drop", "reason",
			 gw_json_str_or_null(reason), "rule",
			 gw_json_str_or_null(rn ? rn->id : NULL), "direction", nn_dir_name(dir),
			 "flow_hit", v.flow_hit != 0, "untouched", v.passed_untouched != 0,
			 "src_kind", gw_json_str_or_null(nn_addr_kind_name(v.src_kind)), "dst_kind",
			 gw_json_str_or_null(nn_dst_kind_name(v.dst_kind)), "tenant",
			 gw_json_str_or_null(gw_tenant_name(&c, v.tenant)), "network",
			 gw_json_str_or_null(gw_network_name(&c, v.network)), "src",
			 describe(g, &c, spec.src, false), "dst",
			 describe(g, &c, spec.dst, v.dst_kind == NN_DK_MARTIAN), "epoch",
			 (json_int_t)c.epoch, "framing", ji.framing, "hook", ji.hook, "packet",
			 "src", gw_json_addr(spec.src), "dst", gw_json_addr(spec.dst), "proto",
			 proto, "sport", spec.sport, "dport", spec.dport, "len", (int)l3len);
	if (v.rule != NN_NONE32 && !rn)
		json_object_set_new(root, "rule_index", json_integer(v.rule));
	epoch = c.epoch;
	gw_catalog_free(&c);
	if (g->json) {
		gw_json_print(root);
		return GW_OK;
	}
	printf("verdict    %s%s\n", v.reason == NN_PASS ? "pass" : "drop",
	       v.flow_hit ? " (a tracked flow decided)" : "");
	printf("reason     %s\n", reason ? reason : "-");
	printf("rule       %s\n", json_string_value(json_object_get(root, "rule")) ?: "-");
	printf("classified src=%s dst=%s tenant=%s network=%s\n",
	       nn_addr_kind_name(v.src_kind) ?: "-", nn_dst_kind_name(v.dst_kind) ?: "-",
	       json_string_value(json_object_get(root, "tenant")) ?: "-",
	       json_string_value(json_object_get(root, "network")) ?: "-");
	print_side("source", json_object_get(root, "src"));
	print_side("dest", json_object_get(root, "dst"));
	printf("packet     %s %s %s", nn_dir_name(dir), proto,
	       json_string_value(json_object_get(json_object_get(root, "packet"), "src")));
	if (spec.proto == 6 || spec.proto == 17)
		printf(" port %u", spec.sport);
	printf(" -> %s",
	       json_string_value(json_object_get(json_object_get(root, "packet"), "dst")));
	if (spec.proto == 6 || spec.proto == 17)
		printf(" port %u", spec.dport);
	printf(" (epoch %u, %s %s, dry run: no state changed)\n", epoch, ji.hook, ji.framing);
	json_decref(root);
	return GW_OK;
}

const struct gw_cmd gw_cmd_explain = {
	.name = "explain",
	.args = "from-overlay|into-overlay SRC DST PROTO [DPORT] [--sport N]",
	.summary = "judge one packet against the live state with the real programs "
		   "(dry run: changes nothing)",
	.opts = explain_opts,
	.on_opt = explain_opt,
	.run = explain_run,
	.state_size = sizeof(struct explain_state),
};
