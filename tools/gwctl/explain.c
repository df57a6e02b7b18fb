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

enum { E_SPORT, E_BATCH };

static const struct gw_opt explain_opts[] = {
	[E_SPORT] = { "sport", 's', required_argument, "N",
		      "source port, or the echo id for icmp/icmpv6 (default 40000)" },
	[E_BATCH] = { "batch", 'b', required_argument, "FILE",
		      "judge every packet FILE lists ('-': standard input), one a line: "
		      "DIRECTION SRC DST PROTO [DPORT [SPORT]] ('#' starts a comment); "
		      "every line is checked before any is judged; with -j one JSON "
		      "object a line" },
	{ NULL },
};

struct explain_state {
	uint32_t sport;
	bool has_sport;
	const char *batch;
};

static int explain_opt(struct gw *g, void *state, int idx, const char *arg)
{
	struct explain_state *s = state;

	if (idx == E_SPORT) {
		if (gw_parse_u32(arg, 65535, &s->sport))
			return gw_err(g, GW_USAGE, "--sport: '%s' is not a port number", arg);
		s->has_sport = true;
	}
	if (idx == E_BATCH)
		s->batch = arg;
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

/* Without a controller: a dry-run instance loaded here, once for every
 * packet of the call (@x: NULL until the first needs it; the caller frees
 * it). @load_xdp: load the XDP program too (a from-overlay packet of the
 * call meets it); @xdp: this packet does. */
static int via_maps(struct gw *g, struct nn_explainer **x, bool load_xdp, bool xdp,
		    const struct nn_explain_req *r, json_t **out)
{
	char msg[512];
	int err = 0;

	if (!*x) {
		err = gw_pins_open(g);
		if (err)
			return err;
		err = nn_explainer_open(g->pin_dir, g->iface, load_xdp, x, msg, sizeof(msg));
	}
	if (!err)
		err = nn_explain(*x, r, xdp, out, msg, sizeof(msg));
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

static void print_answer(struct gw *g, json_t *root, const struct nn_explain_req *r,
			 const char *why)
{
	json_t *pkt = json_object_get(root, "packet");
	bool ports = r->pkt.proto == 6 || r->pkt.proto == 17;

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
}

/* One packet of the call: its words (they outlive the parse) and the
 * request they make. */
struct packet {
	char *line; /* a batch line's copy, which words[] point into */
	char *words[6];
	struct nn_explain_args a;
	struct nn_explain_req r;
};

static void packets_free(struct packet *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(p[i].line);
	free(p);
}

/* @argv: DIRECTION SRC DST PROTO [DPORT [SPORT]] (SPORT only in a batch
 * line; on the command line it is --sport). 0, or -EINVAL with @msg. */
static int packet_from(struct packet *p, int argc, char **argv, int max, char *msg, size_t msglen)
{
	if (argc < 4 || argc > max) { /* (a batch line's words past 6 were not kept) */
		snprintf(msg, msglen,
			 "needs from-overlay|into-overlay SRC DST PROTO [DPORT%s], "
			 "got %d word(s)",
			 max == 6 ? " [SPORT]" : "", argc);
		return -EINVAL;
	}
	p->a.dir = argv[0];
	p->a.src = argv[1];
	p->a.dst = argv[2];
	p->a.proto = argv[3];
	p->a.dport = argc >= 5 ? argv[4] : NULL;
	if (argc == 6) {
		if (gw_parse_u32(argv[5], 65535, &p->a.sport)) {
			snprintf(msg, msglen, "SPORT '%s' is not a port number", argv[5]);
			return -EINVAL;
		}
		p->a.has_sport = true;
	}
	return nn_explain_parse(&p->a, &p->r, msg, msglen) ? -EINVAL : 0;
}

/* Every line of @path checked before any packet is judged: a list with a
 * bad line judges nothing, and the error names the line. */
static int batch_read(struct gw *g, const char *path, const struct explain_state *st,
		      struct packet **out, size_t *n_out)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	struct packet *p = NULL;
	size_t n = 0, cap = 0, lineno = 0, len = 0;
	char *line = NULL, msg[512];
	int err = 0;

	if (!f)
		return gw_err(g, GW_USAGE, "--batch %s: %s", path, strerror(errno));
	while (getline(&line, &len, f) >= 0) {
		char *save = NULL, *w, *hash = strchr(line, '#');
		int argc = 0;

		lineno++;
		if (hash)
			*hash = '\0';
		if (!line[strspn(line, " \t\r\n")])
			continue; /* blank or a comment */
		if (n == cap) {
			struct packet *np = realloc(p, (cap = cap ? 2 * cap : 16) * sizeof(*p));

			if (!np) {
				err = gw_err(g, GW_ERR, "out of memory");
				break;
			}
			p = np;
		}
		memset(&p[n], 0, sizeof(p[n]));
		p[n].a.sport = st->sport;
		p[n].a.has_sport = st->has_sport;
		p[n].line = strdup(line);
		if (!p[n].line) {
			err = gw_err(g, GW_ERR, "out of memory");
			break;
		}
		for (w = strtok_r(p[n].line, " \t\r\n", &save); w;
		     w = strtok_r(NULL, " \t\r\n", &save)) {
			if (argc < 6)
				p[n].words[argc] = w;
			argc++; /* counted on, for the message */
		}
		n++; /* its line is freed with the list, whatever follows */
		if (packet_from(&p[n - 1], argc, p[n - 1].words, 6, msg, sizeof(msg))) {
			err = gw_err(g, GW_USAGE, "--batch %s: line %zu: %s", path, lineno, msg);
			break;
		}
	}
	if (!err && ferror(f))
		err = gw_err(g, GW_ERR, "--batch %s: %s", path, strerror(errno));
	free(line);
	if (f != stdin)
		fclose(f);
	if (err) {
		packets_free(p, n);
		return err;
	}
	*out = p;
	*n_out = n;
	return 0;
}

static int explain_run(struct gw *g, void *state, int argc, char **argv)
{
	struct explain_state *st = state;
	struct nn_explainer *x = NULL;
	struct packet *p = NULL;
	bool socket = true, from = false, attached = false;
	char msg[512], why[512] = "";
	size_t n = 0, i;
	int err;

	if (st->batch) {
		if (argc)
			return gw_err(g, GW_USAGE,
				      "explain --batch takes its packets from the "
				      "file, not the command line");
		err = batch_read(g, st->batch, st, &p, &n);
		if (err)
			return err;
	} else {
		p = calloc(1, sizeof(*p));
		if (!p)
			return gw_err(g, GW_ERR, "out of memory");
		n = 1;
		p->a.sport = st->sport;
		p->a.has_sport = st->has_sport;
		if (packet_from(p, argc, argv, 5, msg, sizeof(msg))) {
			packets_free(p, n);
			return gw_err(g, GW_USAGE, "explain %s (see 'nanami-gwctl explain --help')",
				      msg);
		}
	}
	for (i = 0; i < n; i++)
		from |= p[i].r.dir == NN_DIR_FROM_OVERLAY;
	for (i = 0, err = 0; i < n && !err; i++) {
		json_t *root = NULL;

		if (socket) {
			err = via_socket(g, &p[i].a, &root, why, sizeof(why));
			socket = err != -ENOTCONN;
			/* asked once: the maps answer every packet from here on */
			attached = !socket && from && gw_xdp_attached(g->iface);
		}
		if (!socket)
			err = via_maps(g, &x, attached,
				       attached && p[i].r.dir == NN_DIR_FROM_OVERLAY, &p[i].r,
				       &root);
		if (err)
			break;
		/* Who answered: scripts compare the two (the answer is the same). */
		json_object_set_new(root, "via",
				    json_string(socket ? "control_socket" : "pinned_maps"));
		if (!socket)
			json_object_set_new(root, "fallback_reason", json_string(why));
		if (g->json) {
			gw_json_print(root);
		} else {
			if (i)
				putchar('\n');
			print_answer(g, root, &p[i].r, socket ? "" : why);
			json_decref(root);
		}
	}
	nn_explainer_free(x);
	packets_free(p, n);
	return err ? err : GW_OK;
}

const struct gw_cmd gw_cmd_explain = {
	.name = "explain",
	.args = "from-overlay|into-overlay SRC DST PROTO [DPORT] [--sport N] | --batch FILE",
	.summary = "judge one packet against the live state with the real programs "
		   "(dry run: changes nothing)",
	.opts = explain_opts,
	.on_opt = explain_opt,
	.run = explain_run,
	.state_size = sizeof(struct explain_state),
};
