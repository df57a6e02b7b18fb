// SPDX-License-Identifier: GPL-2.0
/*
 * explain.c - "why was this packet dropped?", answered by the dataplane
 * itself (dp/explain.h: a dry-run copy of the real programs over the pinned
 * maps judges the packet once). Asked of the running controller through its
 * control socket, which keeps such a copy loaded; without a controller,
 * gwctl loads one for this call (slower) and says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "dp/explain.h"
#include "gwctl.h"

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

/* The same question as the socket's request body (docs/interfaces.md). */
static json_t *request_json(const struct nn_explain_args *a)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "direction", a->dir, "src", a->src, "dst",
			      a->dst, "proto", a->proto);

	if (o && a->dport)
		json_object_set_new(o, "dport", json_integer(strtol(a->dport, NULL, 10)));
	if (o && a->has_sport)
		json_object_set_new(o, "sport", json_integer(a->sport));
	return o;
}

/* Through the controller: 0 with @out, -ENOTCONN when none runs (@why),
 * or an exit code already reported. */
static int via_socket(struct gw *g, const struct nn_explain_args *a, json_t **out, char *why,
		      size_t whylen)
{
	json_t *req = request_json(a), *resp = NULL;
	long status = 0;
	int err;

	if (!req)
		return gw_err(g, GW_ERR, "out of memory");
	err = gw_ctl_call(g, "POST", "/v1/explain", req, &status, &resp, why, whylen);
	json_decref(req);
	if (err == -ENOTCONN)
		return err;
	if (err)
		return gw_err(g, GW_ERR, "%s", why);
	if (status != 200) {
		err = gw_err(g, status == 400 ? GW_USAGE : GW_ERR, "controller (%s): %s",
			     g->ctl_sock,
			     json_string_value(json_object_get(resp, "error")) ?:
				     "error without a message");
		json_decref(resp);
		return err;
	}
	*out = resp;
	return 0;
}

/* Without a controller: load a dry-run instance for this one call. */
static int via_maps(struct gw *g, const struct nn_explain_req *r, json_t **out)
{
	struct nn_explainer *x = NULL;
	bool xdp = r->dir == NN_DIR_FROM_OVERLAY && gw_xdp_attached(g->iface);
	char msg[512];
	int lock, err;

	err = gw_pins_open(g);
	if (err)
		return err;
	/* One explain at a time per pin dir keeps CPU pinning and output sane. */
	lock = open(g->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock >= 0)
		flock(lock, LOCK_EX);
	err = nn_explainer_open(g->pin_dir, g->iface, xdp, &x, msg, sizeof(msg));
	if (!err)
		err = nn_explain(x, r, xdp, out, msg, sizeof(msg));
	nn_explainer_free(x);
	if (lock >= 0)
		close(lock);
	return err ? gw_err(g, GW_ERR, "%s", msg) : 0;
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

#define JS(o, k) json_string_value(json_object_get((o), (k)))

static int explain_run(struct gw *g, void *state, int argc, char **argv)
{
	struct explain_state *st = state;
	struct nn_explain_args a = { .sport = st->sport, .has_sport = st->has_sport };
	struct nn_explain_req r;
	char msg[512], why[512] = "";
	json_t *root = NULL, *pkt;
	bool ports;
	int err;

	if (argc < 4 || argc > 5)
		return gw_err(g, GW_USAGE,
			      "explain needs from-overlay|into-overlay SRC DST PROTO "
			      "[DPORT] (see 'nanami-gwctl explain --help')");
	a.dir = argv[0];
	a.src = argv[1];
	a.dst = argv[2];
	a.proto = argv[3];
	a.dport = argc == 5 ? argv[4] : NULL;
	if (nn_explain_parse(&a, &r, msg, sizeof(msg)))
		return gw_err(g, GW_USAGE, "%s", msg);
	err = via_socket(g, &a, &root, why, sizeof(why));
	if (err == -ENOTCONN)
		err = via_maps(g, &r, &root);
	if (err)
		return err;
	/* Who answered: scripts compare the two (the answer is the same). */
	json_object_set_new(root, "via", json_string(why[0] ? "pinned_maps" : "control_socket"));
	if (why[0])
		json_object_set_new(root, "fallback_reason", json_string(why));
	if (g->json) {
		gw_json_print(root);
		return GW_OK;
	}
	pkt = json_object_get(root, "packet");
	ports = r.pkt.proto == 6 || r.pkt.proto == 17;
	printf("verdict    %s%s\n", JS(root, "verdict") ?: "?",
	       json_is_true(json_object_get(root, "flow_hit")) ? " (a tracked flow decided)" : "");
	printf("reason     %s\n", JS(root, "reason") ?: "-");
	printf("rule       %s\n", JS(root, "rule") ?: "-");
	printf("classified src=%s dst=%s tenant=%s network=%s\n", JS(root, "src_kind") ?: "-",
	       JS(root, "dst_kind") ?: "-", JS(root, "tenant") ?: "-", JS(root, "network") ?: "-");
	print_side("source", json_object_get(root, "src"));
	print_side("dest", json_object_get(root, "dst"));
	printf("packet     %s %s %s", JS(root, "direction") ?: "?", JS(pkt, "proto") ?: "?",
	       JS(pkt, "src") ?: "?");
	if (ports)
		printf(" port %lld", (long long)json_integer_value(json_object_get(pkt, "sport")));
	printf(" -> %s", JS(pkt, "dst") ?: "?");
	if (ports)
		printf(" port %lld", (long long)json_integer_value(json_object_get(pkt, "dport")));
	printf(" (epoch %lld, %s %s, dry run: no state changed)\n",
	       (long long)json_integer_value(json_object_get(root, "epoch")),
	       JS(root, "hook") ?: "?", JS(root, "framing") ?: "?");
	if (why[0])
		printf("answered   here, from the pinned maps (no controller: %s)\n", why);
	else
		printf("answered   by the controller (%s)\n", g->ctl_sock);
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
