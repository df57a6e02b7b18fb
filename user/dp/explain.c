// SPDX-License-Identifier: GPL-2.0
/*
 * explain.c - one packet judged by a dry-run copy of the real programs over
 * the pinned maps, and the answer named from the live generation (see
 * explain.h).
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/catalog.h"
#include "dp/explain.h"
#include "dp/loader.h"
#include "lib/addr.h"
#include "lib/iface.h"
#include "lib/names.h"

/* A program that did not record leaves this in nn_last. */
#define NO_VERDICT 0xdead

struct nn_explainer {
	pthread_mutex_t mu; /* one judgement at a time: nn_last is per CPU */
	char pin_dir[512];
	char iface[64];
	struct nn_dp *dp;   /* the dry-run instance; its map_fd are the pins */
	uint32_t active_id; /* the pinned nn_active it was loaded over */
	int ifindex;	    /* 0: the interface is not there */
	uint8_t framing;
	bool has_xdp;
};

static const struct {
	const char *name;
	uint8_t num;
} protos[] = {
	{ "icmp", 1 }, { "tcp", 6 },	 { "udp", 17 },	  { "gre", 47 },
	{ "esp", 50 }, { "icmpv6", 58 }, { "sctp", 132 },
};

void nn_proto_name(uint32_t proto, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].num == proto) {
			snprintf(buf, len, "%s", protos[i].name);
			return;
		}
	snprintf(buf, len, "%u", proto);
}

int nn_proto_parse(const char *s)
{
	uint32_t v;
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcasecmp(s, protos[i].name))
			return protos[i].num;
	if (!strcasecmp(s, "ipv6-icmp"))
		return 58;
	if (!nn_parse_u32(s, 255, &v))
		return (int)v;
	return -1;
}

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return -EINVAL;                     \
	} while (0)

int nn_explain_parse(const struct nn_explain_args *a, struct nn_explain_req *r, char *err,
		     size_t errlen)
{
	struct nn_pkt_spec *s = &r->pkt;
	int fs, fd, proto;
	uint32_t v;

	memset(r, 0, sizeof(*r));
	if (!a->dir || !a->src || !a->dst || !a->proto)
		FAIL("explain needs from-overlay|into-overlay SRC DST PROTO [DPORT]");
	if (!strcmp(a->dir, "from-overlay"))
		r->dir = NN_DIR_FROM_OVERLAY;
	else if (!strcmp(a->dir, "into-overlay"))
		r->dir = NN_DIR_INTO_OVERLAY;
	else
		FAIL("direction must be from-overlay or into-overlay, not '%s'", a->dir);
	if (nn_addr_parse(a->src, s->src, &fs))
		FAIL("SRC '%s' is not an IPv4 or IPv6 address", a->src);
	if (nn_addr_parse(a->dst, s->dst, &fd))
		FAIL("DST '%s' is not an IPv4 or IPv6 address", a->dst);
	if (fs != fd)
		FAIL("SRC and DST must be of one family (%s, %s)", a->src, a->dst);
	s->family = fs;
	proto = nn_proto_parse(a->proto);
	if (proto < 0)
		FAIL("unknown protocol '%s' (tcp, udp, icmp, icmpv6 or a number)", a->proto);
	if ((proto == 1 && fs == NN_FAM_V6) || (proto == 58 && fs == NN_FAM_V4))
		FAIL("%s does not go with %s addresses (icmp is IPv4's, icmpv6 is IPv6's)",
		     a->proto, fs == NN_FAM_V6 ? "IPv6" : "IPv4");
	s->proto = (uint8_t)proto;
	if (proto == 6 || proto == 17) {
		if (!a->dport)
			FAIL("%s needs a destination port", a->proto);
		if (nn_parse_u32(a->dport, 65535, &v))
			FAIL("DPORT '%s' is not a port number", a->dport);
		s->dport = (uint16_t)v;
	} else if (a->dport) {
		FAIL("%s has no ports: drop DPORT '%s'", a->proto, a->dport);
	}
	if (a->has_sport && a->sport > 65535)
		FAIL("--sport: '%u' is not a port number", a->sport);
	s->sport = a->has_sport ? (uint16_t)a->sport : NN_EXPLAIN_DEF_SPORT;
	if (proto == 1 || proto == 58)
		s->dport = s->sport; /* the dataplane reads the echo id as both ports */
	return 0;
}

#undef FAIL

/* The id of the map pinned at @pin_dir/nn_active, 0 when none. */
static uint32_t pinned_active_id(const char *pin_dir)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, nn_map_names[NN_M_ACTIVE]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

/* How the attached programs see packets on @iface: L3 on a wg/TUN device
 * that is there, else Ethernet (veth in tests). */
static void iface_facts(const char *iface, int *ifindex, uint8_t *framing)
{
	*ifindex = (int)if_nametoindex(iface);
	*framing = *ifindex && nn_iface_framing(iface) == NN_FRAMING_L3 ? NN_FRAMING_L3 :
									  NN_FRAMING_ETH;
}

/* Every pinned map, for the loader's sizes; @fd[i] -1 for the others. */
static int open_pins(const char *pin_dir, int *fd, char *err, size_t errlen)
{
	char path[600];
	size_t i;
	int e;

	for (i = 0; i < NN_M_COUNT; i++)
		fd[i] = -1;
	for (i = 0; i < NN_M_COUNT; i++) {
		if (!nn_map_is_pinned(i))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, nn_map_names[i]);
		fd[i] = bpf_obj_get(path);
		if (fd[i] >= 0)
			continue;
		e = -errno;
		/* Pinned by a controller before the source filter: the load
		 * pins an empty one, which nothing stamps (so unused) until
		 * a newer controller writes it. No size depends on it. The
		 * same for nn_denied (a dry run never reads it). */
		if (e == -ENOENT && (i == NN_M_SRCF || i == NN_M_DENIED))
			continue;
		snprintf(err, errlen, "couldn't open %s: %s%s", path, strerror(-e),
			 e == -EPERM || e == -EACCES ? " (needs root or CAP_BPF)" : "");
		return e;
	}
	return 0;
}

static void close_fds(int *fd)
{
	size_t i;

	for (i = 0; i < NN_M_COUNT; i++)
		if (fd[i] >= 0)
			close(fd[i]);
}

int nn_explainer_open(const char *pin_dir, const char *iface, bool with_xdp,
		      struct nn_explainer **out, char *err, size_t errlen)
{
	struct nn_load_opts o = { .pin_dir = pin_dir, .record_last = true, .dry_run = true };
	struct nn_explainer *x;
	int fd[NN_M_COUNT], e;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	pthread_mutex_init(&x->mu, NULL);
	snprintf(x->pin_dir, sizeof(x->pin_dir), "%s", pin_dir);
	snprintf(x->iface, sizeof(x->iface), "%s", iface);
	e = open_pins(pin_dir, fd, err, errlen);
	if (!e) {
		x->active_id = pinned_active_id(pin_dir);
		e = nn_capacity_from_maps(fd, &o.cap);
		if (e)
			snprintf(err, errlen,
				 "the pinned maps under %s do not have the sizes this loader makes "
				 "(another version?): %s",
				 pin_dir, strerror(-e));
	}
	close_fds(fd);
	if (e)
		goto fail;
	iface_facts(iface, &x->ifindex, &x->framing);
	o.framing = x->framing;
	/* The TC programs always; the XDP one only when it may be asked for
	 * (loading it costs as much again). */
	o.hook = with_xdp ? NN_HOOK_XDP : NN_HOOK_TC;
	o.load_xdp_direct = with_xdp;
	e = nn_dp_load(&o, &x->dp);
	if (e) {
		snprintf(err, errlen,
			 "couldn't load a dry-run copy of the programs over the pinned maps in "
			 "%s: %s (run with -v for libbpf's reason)",
			 pin_dir, strerror(-e));
		goto fail;
	}
	x->has_xdp = with_xdp;
	*out = x;
	return 0;
fail:
	pthread_mutex_destroy(&x->mu);
	free(x);
	return e;
}

void nn_explainer_free(struct nn_explainer *x)
{
	if (!x)
		return;
	nn_dp_close(x->dp);
	pthread_mutex_destroy(&x->mu);
	free(x);
}

bool nn_explainer_current(const struct nn_explainer *x, bool need_xdp)
{
	uint8_t framing;
	int ifindex;

	if (need_xdp && !x->has_xdp)
		return false;
	iface_facts(x->iface, &ifindex, &framing);
	return ifindex == x->ifindex && framing == x->framing &&
	       pinned_active_id(x->pin_dir) == x->active_id && x->active_id;
}

/* Who @a is in the live generation: exact address, then the global prefix
 * scope, then the host's own addresses, else internet (or martian). */
static json_t *describe(const int *map_fd, const struct nn_catalog *c, const uint8_t *a,
			bool martian)
{
	const struct nn_cat_addr *e = nn_cat_addr_find(c, a);
	struct nn_local_key lk;
	struct nn_local_info li;
	struct nn_prefix_key k = { .prefixlen = NN_SCOPE_BITS + 128,
				   .scope = NN_SCOPE(c->slot, 0) };
	struct nn_prefix_info pi;
	char s[NN_ADDR_STRLEN];
	json_t *o = json_pack("{s:s}", "addr", nn_addr_format(a, s, sizeof(s)));

#define STR_OR_NULL(v) ((v) ? json_string(v) : json_null())
	if (e) {
		const struct nn_name *n = nn_cat_dev_name(c, e->info.stat_slot);

		json_object_set_new(o, "kind", json_string(nn_addr_kind_name(e->info.kind)));
		json_object_set_new(o, "id", STR_OR_NULL(n ? n->id : NULL));
		json_object_set_new(o, "tenant", STR_OR_NULL(n && n->tenant[0] ? n->tenant : NULL));
		json_object_set_new(o, "network",
				    STR_OR_NULL(n && n->network[0] ? n->network : NULL));
		json_object_set_new(o, "state", json_string(nn_state_name(e->info.state) ?: "?"));
		if (e->info.kind == NN_AK_DEVICE)
			json_object_set_new(o, "egress_here",
					    json_boolean(e->info.flags & NN_AF_EGRESS));
		return o;
	}
	memcpy(k.addr, a, NN_ADDR_LEN);
	if (!bpf_map_lookup_elem(map_fd[NN_M_PREFIXES], &k, &pi) && pi.kind != NN_PK_HOLE) {
		json_object_set_new(o, "kind",
				    json_string(pi.kind == NN_PK_OVERLAY ? "unassigned_overlay" :
									   "resource"));
		json_object_set_new(o, "tenant", STR_OR_NULL(nn_cat_tenant_name(c, pi.tenant)));
		json_object_set_new(o, "network", STR_OR_NULL(nn_cat_network_name(c, pi.network)));
		return o;
	}
	/* The verdict names the same kinds (nn_verdict.dst_kind): the host's
	 * own addresses are in nn_local; martians need no map. */
	memcpy(lk.addr, a, NN_ADDR_LEN);
	if (!bpf_map_lookup_elem(map_fd[NN_M_LOCAL], &lk, &li)) {
		json_object_set_new(o, "kind", json_string(nn_dst_kind_name(NN_DK_HOST)));
		json_object_set_new(o, "ifindex", json_integer(li.ifindex));
		return o;
	}
	json_object_set_new(o, "kind",
			    json_string(martian ? nn_dst_kind_name(NN_DK_MARTIAN) : "internet"));
	return o;
#undef STR_OR_NULL
}

/*
 * Run @l3 once and read nn_last. The program mirrors what is attached: XDP
 * for from-overlay when @xdp, else TC, with the interface's framing. An XDP
 * test run sees the bytes as given. A TC test run pushes the device's
 * link-layer header back in front of the data: with an L3 device's ifindex
 * (wg0) the program sees the IP header first, as on wg0; without one
 * (Ethernet framing, as on veth) it gets a header.
 */
static int judge(struct nn_explainer *x, uint8_t dir, bool xdp, const uint8_t *l3, size_t l3len,
		 struct nn_verdict *out, char *err, size_t errlen)
{
	static const uint8_t eth[12] = { 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2 };
	enum nn_hook hook = dir == NN_DIR_FROM_OVERLAY && xdp ? NN_HOOK_XDP : NN_HOOK_TC;
	uint8_t pkt[256], outbuf[512];
	struct __sk_buff skb = {};
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_out = outbuf, .data_size_out = sizeof(outbuf),
		    .repeat = 1);
	struct nn_verdict *last = NULL;
	int ncpu = libbpf_num_possible_cpus(), cpu, e = 0, i;
	cpu_set_t set, saved;
	size_t len = 0;

	if (x->framing == NN_FRAMING_ETH) {
		memcpy(pkt, eth, 12);
		pkt[12] = (l3[0] >> 4) == 4 ? 0x08 : 0x86;
		pkt[13] = (l3[0] >> 4) == 4 ? 0x00 : 0xdd;
		len = 14;
	}
	if (ncpu <= 0 || len + l3len > sizeof(pkt)) {
		snprintf(err, errlen, "packet too long");
		return -EINVAL;
	}
	memcpy(pkt + len, l3, l3len);
	len += l3len;
	last = calloc((size_t)ncpu, sizeof(*last));
	if (!last) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* nn_last is per CPU: stay on one CPU so the value read is ours, and
	 * give the caller (the controller's server thread) its CPUs back. */
	if (sched_getaffinity(0, sizeof(saved), &saved)) {
		e = -errno;
		snprintf(err, errlen, "couldn't read the CPU affinity: %s", strerror(-e));
		goto out;
	}
	cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	if (cpu < 0 || sched_setaffinity(0, sizeof(set), &set)) {
		e = -errno;
		snprintf(err, errlen, "couldn't pin to one CPU: %s", strerror(-e));
		goto out;
	}
	for (i = 0; i < ncpu; i++)
		last[i].reason = NO_VERDICT;
	bpf_map_update_elem(x->dp->map_fd[NN_M_LAST], &(uint32_t){ 0 }, last, BPF_ANY);
	run.data_in = pkt;
	run.data_size_in = (uint32_t)len;
	if (hook == NN_HOOK_TC && x->framing == NN_FRAMING_L3) {
		skb.ifindex = (uint32_t)x->ifindex;
		run.ctx_in = &skb;
		run.ctx_size_in = sizeof(skb);
	}
	if (bpf_prog_test_run_opts(nn_dp_prog_fd(x->dp, dir, hook), &run)) {
		e = -errno;
		snprintf(err, errlen, "BPF_PROG_TEST_RUN failed: %s", strerror(-e));
	} else if (bpf_map_lookup_elem(x->dp->map_fd[NN_M_LAST], &(uint32_t){ 0 }, last)) {
		e = -errno;
		snprintf(err, errlen, "couldn't read nn_last: %s", strerror(-e));
	} else {
		*out = last[cpu];
		if (out->reason == NO_VERDICT) {
			e = -EIO;
			snprintf(err, errlen,
				 "the program recorded no verdict (ran on another CPU?)");
		} else if ((out->reason == NN_PASS) !=
			   (run.retval ==
			    (hook == NN_HOOK_XDP ? 2 /* XDP_PASS */ : 0 /* TC_ACT_OK */))) {
			e = -EIO;
			snprintf(err, errlen, "verdict %u disagrees with the return code %u",
				 out->reason, run.retval);
		}
	}
	sched_setaffinity(0, sizeof(saved), &saved);
out:
	free(last);
	return e;
}

int nn_explain(struct nn_explainer *x, const struct nn_explain_req *r, bool xdp, json_t **out,
	       char *err, size_t errlen)
{
	const struct nn_pkt_spec *s = &r->pkt;
	const int *fd = x->dp->map_fd;
	const struct nn_name *rn = NULL;
	struct nn_verdict v = {};
	struct nn_catalog c;
	char proto[16], a1[NN_ADDR_STRLEN], a2[NN_ADDR_STRLEN];
	const char *reason, *tenant, *network;
	uint8_t l3[128];
	size_t l3len;
	json_t *root;
	int e;

	*out = NULL;
	if (xdp && r->dir == NN_DIR_FROM_OVERLAY && !x->has_xdp) {
		snprintf(err, errlen, "this explain instance has no XDP program");
		return -EOPNOTSUPP;
	}
	l3len = nn_pkt_build(s, l3, sizeof(l3));
	pthread_mutex_lock(&x->mu);
	e = judge(x, r->dir, xdp, l3, l3len, &v, err, errlen);
	pthread_mutex_unlock(&x->mu);
	if (e)
		return e;
	e = nn_catalog_load(fd, &c);
	if (e) {
		snprintf(err, errlen, "couldn't read the pinned maps under %s: %s", x->pin_dir,
			 strerror(-e));
		return e;
	}
	if (v.rule != NN_NONE32)
		rn = nn_cat_rule_name(&c, nn_cat_rule_index_slot(fd, &c, v.rule));
	reason = v.reason == NN_PASS ? NULL : nn_reason_name(v.reason);
	tenant = nn_cat_tenant_name(&c, v.tenant);
	network = nn_cat_network_name(&c, v.network);
	nn_proto_name(s->proto, proto, sizeof(proto));
	root = json_pack("{s:s,s:s?,s:s?,s:s,s:b,s:b,s:s?,s:s?,s:s?,s:s?,s:o,s:o,s:I,s:s,s:s,"
			 "s:{s:s,s:s,s:s,s:i,s:i,s:i}}",
			 "verdict", v.reason == NN_PASS ? "pass" : "drop", "reason", reason, "rule",
			 rn ? rn->id : NULL, "direction", nn_dir_name(r->dir), "flow_hit",
			 v.flow_hit != 0, "untouched", v.passed_untouched != 0, "src_kind",
			 nn_addr_kind_name(v.src_kind), "dst_kind", nn_dst_kind_name(v.dst_kind),
			 "tenant", tenant, "network", network, "src",
			 describe(fd, &c, s->src, false), "dst",
			 describe(fd, &c, s->dst, v.dst_kind == NN_DK_MARTIAN), "epoch",
			 (json_int_t)c.epoch, "framing",
			 x->framing == NN_FRAMING_L3 ? "l3" : "ethernet", "hook",
			 r->dir == NN_DIR_FROM_OVERLAY && xdp ? "xdp" : "tc", "packet", "src",
			 nn_addr_format(s->src, a1, sizeof(a1)), "dst",
			 nn_addr_format(s->dst, a2, sizeof(a2)), "proto", proto, "sport", s->sport,
			 "dport", s->dport, "len", (int)l3len);
	if (root && v.rule != NN_NONE32 && !rn)
		json_object_set_new(root, "rule_index", json_integer(v.rule));
	nn_catalog_free(&c);
	if (!root) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = root;
	return 0;
}
