// SPDX-License-Identifier: GPL-2.0
/*
 * nanami-gatewayd - the gateway controller: validates assignments, compiles
 * them into the BPF maps, switches generations atomically, keeps wg0's peers
 * exact, and keeps enforcing when its inputs fail. Flags: docs/interfaces.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatewayd/detach.h"
#include "gatewayd/loop.h"
#include "identity/identity.h"
#include "lib/ctlpath.h"
#include "lib/iface.h"
#include "lib/log.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

enum opt_id {
	O_IFACE = 1000,
	O_UNDERLAY,
	O_ASSIGNMENTS,
	O_CP,
	O_NODE_ID,
	O_CERT,
	O_KEY,
	O_CA,
	O_PIN_PUBKEY,
	O_STATE_DIR,
	O_BPFFS,
	O_HOOK,
	O_FRAMING,
	O_WG,
	O_NAT,
	O_ONCE,
	O_DETACH,
	O_METRICS,
	O_CTL_SOCKET,
	O_RESYNC,
	O_POLL,
	O_STREAM_IDLE,
	O_MAX_DEVICES,
	O_MAX_RULES,
	O_MAX_PREFIXES,
	O_MAX_CELLS,
	O_MAX_FLOWS,
	O_MAX_DENIED,
	O_MAX_NODES,
	O_MAX_NEW_FLOWS,
	O_MAX_SNAPSHOT,
	O_KEY_LIFETIME,
	O_VERBOSE = 'v',
	O_HELP = 'h',
};

/* One table drives getopt and --help. */
static const struct flag {
	const char *name;
	const char *arg; /* NULL: no argument */
	int id;
	const char *help;
} flags[] = {
	{ "iface", "IF", O_IFACE, "overlay interface (wg0; veth in tests)" },
	{ "underlay", "NIC", O_UNDERLAY,
	  "also guard NIC with native XDP: drop malformed and "
	  "flooding WireGuard packets" },
	{ "assignments", "FILE", O_ASSIGNMENTS, "v1 snapshot file, re-applied when it changes" },
	{ "control-plane", "URL", O_CP, "control plane base URL (https://; http:// on loopback)" },
	{ "node-id", "ID", O_NODE_ID, "this gateway's node id (required with --control-plane)" },
	{ "cert", "FILE", O_CERT, "client certificate (PEM) for mTLS" },
	{ "key", "FILE", O_KEY, "its private key (PEM)" },
	{ "ca", "FILE", O_CA, "CA bundle that signs the control plane's certificate" },
	{ "pin-pubkey", "PIN", O_PIN_PUBKEY, "pinned server key: sha256//BASE64 or a key file" },
	{ "state-dir", "DIR", O_STATE_DIR,
	  "last-known-good snapshot and wg key (default " NN_DEF_STATE_ROOT "/<iface>)" },
	{ "bpffs", "DIR", O_BPFFS, "pin directory (default " NN_PIN_ROOT "/<iface>)" },
	{ "hook", "tc|xdp", O_HOOK, "from-overlay hook (default tc; into-overlay is TC egress)" },
	{ "framing", "l3|eth", O_FRAMING, "packet framing (default: from the interface type)" },
	{ "wg", "auto|genl|uapi|none", O_WG,
	  "who manages wg0's peers: genl (kernel WireGuard), uapi "
	  "(wireguard-go's socket), none; auto (default) picks from the "
	  "link kind and the socket, and refuses an L3 interface with neither" },
	{ "nat", "auto|off", O_NAT,
	  "exit NAT table when this gateway has exit_gateway "
	  "(default auto)" },
	{ "once", NULL, O_ONCE, "apply once and exit 0, leaving programs attached" },
	{ "detach", NULL, O_DETACH, "remove our programs, pins and NAT table, and exit" },
	{ "metrics-listen", "ADDR:PORT", O_METRICS, "serve Prometheus metrics at /metrics" },
	{ "control-socket", "PATH", O_CTL_SOCKET,
	  "local API for nanami-gwctl (default " NN_CTL_SOCK_DIR "/<iface>.sock)" },
	{ "resync", "SECONDS", O_RESYNC, "drift timer: re-apply desired state (default 30)" },
	{ "poll", "SECONDS", O_POLL, "poll interval while the event stream is down (default 30)" },
	{ "stream-idle", "SECONDS", O_STREAM_IDLE,
	  "event stream dead (polling resumes) after this long without a byte "
	  "(default 30: twice the contract's 15 s keepalive)" },
	{ "max-devices", "N", O_MAX_DEVICES, "map capacity for devices (default 131072)" },
	{ "max-rules", "N", O_MAX_RULES, "map capacity for ACL rules (default 131072)" },
	{ "max-prefixes", "N", O_MAX_PREFIXES, "map capacity for prefixes (default 262144)" },
	{ "max-cells", "N", O_MAX_CELLS, "map capacity for compiled ACL cells (default 524288)" },
	{ "max-flows", "N", O_MAX_FLOWS, "flow table size (default 1048576)" },
	{ "max-denied", "N", O_MAX_DENIED,
	  "denied flows remembered, dropped without a second judgement (default 262144)" },
	{ "max-nodes", "N", O_MAX_NODES, "map capacity for overlay nodes (default 1024)" },
	{ "max-new-flows-per-device", "RATE[/BURST]", O_MAX_NEW_FLOWS,
	  "new flows and fragment verdicts per second per device (default 1000/4000; 0: off)" },
	{ "max-snapshot-mb", "N", O_MAX_SNAPSHOT,
	  "largest snapshot taken from the control plane, a file or the last-known-good "
	  "(default 128)" },
	{ "key-lifetime", "DAYS", O_KEY_LIFETIME,
	  "rotate wg0's key when it is this old (enrolled gateways; default off)" },
	{ "verbose", NULL, O_VERBOSE, "debug logging (libbpf included)" },
	{ "help", NULL, O_HELP, "this help" },
};

#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: nanami-gatewayd --iface IF (--assignments FILE | --control-plane URL "
		"[--node-id ID]) [options]\n"
		"       nanami-gatewayd --iface IF [--underlay NIC] --detach [--bpffs DIR]\n"
		"       nanami-gatewayd enroll --control-plane URL --token-file FILE --ca FILE\n"
		"                       [--endpoint HOST:PORT ...] [--state-dir DIR | --iface IF] "
		"[--force]\n\n");
	for (i = 0; i < N_FLAGS; i++) {
		char left[48];

		snprintf(left, sizeof(left), "--%s%s%s", flags[i].name, flags[i].arg ? " " : "",
			 flags[i].arg ? flags[i].arg : "");
		fprintf(f, "  %-30s %s\n", left, flags[i].help);
	}
}

static int parse_uint(const char *s, const char *flag, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v == 0 || v > 0x7fffffffUL) {
		nn_log_err("event=usage flag=--%s value=\"%s\" error=\"not a positive integer\"",
			   flag, s);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

struct args {
	struct nn_daemon_opts d;
	bool detach;
	int framing; /* -1: from the interface */
	const char *wg;
	char pin_buf[512];
	char state_buf[512];
	char ctl_buf[108];	/* sun_path */
	char id_paths[4][4096]; /* enrolled: tls.crt, tls.key, ca.crt, wg.key */
};

static int bad_value(const char *flag, const char *v)
{
	nn_log_err("event=usage flag=--%s value=\"%s\" error=\"unknown value\"", flag, v);
	return -EINVAL;
}

/* RATE[/BURST] of --max-new-flows-per-device: RATE 0 turns the bound off;
 * BURST defaults to four seconds of RATE. */
static int parse_rate_burst(const char *s, const char *flag, uint32_t *rate, uint32_t *burst)
{
	unsigned long r, b;
	char *end;

	errno = 0;
	r = strtoul(s, &end, 10);
	if (errno || end == s || (*end && *end != '/') || r > NN_MAX_NEW_FLOW_RATE)
		return bad_value(flag, s);
	b = r * 4;
	if (*end == '/') {
		const char *bs = end + 1;

		b = strtoul(bs, &end, 10);
		if (errno || end == bs || *end || !b || b > 0x7fffffffUL || !r)
			return bad_value(flag, s);
	}
	*rate = (uint32_t)r;
	*burst = (uint32_t)(b > 0x7fffffffUL ? 0x7fffffffUL : b);
	return 0;
}

static int set_flag(struct args *a, int id, const char *name, const char *v)
{
	struct nn_daemon_opts *d = &a->d;

	switch (id) {
	case O_IFACE:
		d->iface = v;
		return 0;
	case O_UNDERLAY:
		d->underlay = v;
		return 0;
	case O_ASSIGNMENTS:
		d->assignments = v;
		return 0;
	case O_CP:
		d->cp.url = v;
		return 0;
	case O_NODE_ID:
		d->node_id = v;
		d->cp.node_id = v;
		return 0;
	case O_CERT:
		d->cp.cert = v;
		return 0;
	case O_KEY:
		d->cp.key = v;
		return 0;
	case O_CA:
		d->cp.ca = v;
		return 0;
	case O_PIN_PUBKEY:
		d->cp.pinned_pubkey = v;
		return 0;
	case O_STATE_DIR:
		d->state_dir = v;
		return 0;
	case O_BPFFS:
		d->pin_dir = v;
		return 0;
	case O_METRICS:
		d->metrics_listen = v;
		return 0;
	case O_CTL_SOCKET:
		d->ctl_socket = v;
		return 0;
	case O_ONCE:
		d->once = true;
		return 0;
	case O_DETACH:
		a->detach = true;
		return 0;
	case O_WG:
		a->wg = v;
		return 0;
	case O_HOOK:
		if (strcmp(v, "tc") && strcmp(v, "xdp"))
			return bad_value(name, v);
		d->hook = strcmp(v, "xdp") ? NN_HOOK_TC : NN_HOOK_XDP;
		return 0;
	case O_FRAMING:
		if (strcmp(v, "l3") && strcmp(v, "eth"))
			return bad_value(name, v);
		a->framing = strcmp(v, "l3") ? NN_FRAMING_ETH : NN_FRAMING_L3;
		return 0;
	case O_NAT:
		if (strcmp(v, "auto") && strcmp(v, "off"))
			return bad_value(name, v);
		d->nat = !strcmp(v, "auto");
		return 0;
	case O_RESYNC:
		return parse_uint(v, name, &d->resync_s);
	case O_POLL:
		return parse_uint(v, name, &d->poll_s);
	case O_STREAM_IDLE: {
		uint32_t sec;
		int err = parse_uint(v, name, &sec);

		d->cp.stream_idle_ms = (long)sec * 1000;
		return err;
	}
	case O_MAX_DEVICES:
		return parse_uint(v, name, &d->cap.max_devices);
	case O_MAX_RULES:
		return parse_uint(v, name, &d->cap.max_rules);
	case O_MAX_PREFIXES:
		return parse_uint(v, name, &d->cap.max_prefixes);
	case O_MAX_CELLS:
		return parse_uint(v, name, &d->cap.max_cells);
	case O_MAX_FLOWS: {
		int err = parse_uint(v, name, &d->cap.max_flows);

		/* One array of buckets: past NN_MAX_FLOWS its size (buckets
		 * times 640 bytes) passes the 4 GiB an array map can hold. */
		if (!err && d->cap.max_flows > NN_MAX_FLOWS) {
			nn_log_err("event=usage flag=--%s value=\"%s\" error=\"above %u: the flow "
				   "table would pass the 4 GiB an array map holds\"",
				   name, v, NN_MAX_FLOWS);
			return -EINVAL;
		}
		return err;
	}
	case O_MAX_DENIED:
		return parse_uint(v, name, &d->cap.max_denied);
	case O_MAX_NODES:
		return parse_uint(v, name, &d->cap.max_nodes);
	case O_MAX_NEW_FLOWS:
		return parse_rate_burst(v, name, &d->new_flow_rate, &d->new_flow_burst);
	case O_MAX_SNAPSHOT: {
		uint32_t mb;

		if (parse_uint(v, name, &mb) || !mb || mb > 4095)
			return bad_value(name, v);
		d->max_snapshot = (size_t)mb << 20;
		d->cp.max_response = d->max_snapshot;
		return 0;
	}
	case O_KEY_LIFETIME:
		if (parse_uint(v, name, &d->key_lifetime_s) || d->key_lifetime_s > 36500)
			return bad_value(name, v);
		d->key_lifetime_s *= 86400;
		return 0;
	case O_VERBOSE:
		nn_log_set_level(NN_LOG_DEBUG);
		return 0;
	}
	return -EINVAL;
}

/*
 * --wg: which backend manages wg0's peers. auto asks the kernel: link kind
 * wireguard is the kernel module (genl), else a control socket is
 * wireguard-go (uapi); an L3 interface with neither is refused rather than
 * run unmanaged (a revoked peer would stay on it), an Ethernet one (veth in
 * tests) is left alone. An explicit genl is checked the same way.
 */
static int resolve_wg(struct args *a)
{
	enum nn_wg_mode want = NN_WG_MODE_AUTO, got;
	char why[512];
	int err;

	if (a->wg && nn_wg_mode_parse(a->wg, &want))
		return bad_value("wg", a->wg);
	if (want == NN_WG_MODE_NONE || want == NN_WG_MODE_UAPI) {
		a->d.wg = want;
		return 0;
	}
	err = nn_wg_mode_resolve(a->d.iface, NULL, &got, why, sizeof(why));
	if (err) {
		nn_log_err("event=wg_mode iface=%s error=\"%s\"", a->d.iface, why);
		return err;
	}
	if (want == NN_WG_MODE_GENL && got != NN_WG_MODE_GENL) {
		nn_log_err("event=wg_mode iface=%s error=\"--wg genl needs a kernel WireGuard "
			   "interface: %s\"",
			   a->d.iface, why);
		return -EOPNOTSUPP;
	}
	a->d.wg = got;
	nn_log_info("event=wg_mode iface=%s mode=%s reason=\"%s\"", a->d.iface,
		    nn_wg_mode_name(got), why);
	return 0;
}

/*
 * An enrolled state directory (node.json) supplies what --node-id, --cert,
 * --key and --ca would, and wg0's key is its wg.key; flags still override.
 */
static int load_identity(struct args *a)
{
	struct nn_daemon_opts *d = &a->d;
	const char *names[4] = { NN_IDENT_TLS_CRT, NN_IDENT_TLS_KEY, NN_IDENT_CA, NN_IDENT_WG_KEY };
	char err[512] = "";
	int e, i;

	e = nn_ident_load(d->state_dir, &d->ident, err, sizeof(err));
	if (e == -ENOENT)
		return 0;
	if (e) {
		nn_log_err("event=identity_error kind=files error=\"%s\"", err);
		return e;
	}
	for (i = 0; i < 4; i++)
		if (nn_ident_path(d->state_dir, names[i], a->id_paths[i], sizeof(a->id_paths[i])))
			return -ENAMETOOLONG;
	d->enrolled = true;
	d->wg_key_path = a->id_paths[3];
	if (!d->node_id)
		d->node_id = d->cp.node_id = d->ident.node_id;
	if (!d->cp.cert && !d->cp.key) {
		d->cp.cert = a->id_paths[0];
		d->cp.key = a->id_paths[1];
	}
	if (!d->cp.ca)
		d->cp.ca = a->id_paths[2];
	nn_log_info("event=identity node_id=%s key_generation=%llu state_dir=%s", d->ident.node_id,
		    (unsigned long long)d->ident.key_generation, d->state_dir);
	return 0;
}

static int check_args(struct args *a)
{
	struct nn_daemon_opts *d = &a->d;
	int fr;

	if (!d->iface) {
		nn_log_err("event=usage error=\"--iface is required\"");
		return -EINVAL;
	}
	if (!d->pin_dir) {
		nn_default_pin_dir(d->iface, a->pin_buf, sizeof(a->pin_buf));
		d->pin_dir = a->pin_buf;
	}
	if (!d->state_dir) {
		snprintf(a->state_buf, sizeof(a->state_buf), "%s/%s", NN_DEF_STATE_ROOT, d->iface);
		d->state_dir = a->state_buf;
	}
	if (!d->ctl_socket) {
		nn_default_ctl_sock(d->iface, a->ctl_buf, sizeof(a->ctl_buf));
		d->ctl_socket = a->ctl_buf;
	}
	if (a->detach)
		return 0;
	if (load_identity(a))
		return -EINVAL;
	if (!d->assignments == !d->cp.url) {
		nn_log_err("event=usage error=\"give exactly one of --assignments FILE and "
			   "--control-plane URL\"");
		return -EINVAL;
	}
	if (d->cp.url && !d->node_id) {
		nn_log_err("event=usage error=\"--control-plane needs --node-id\"");
		return -EINVAL;
	}
	fr = a->framing >= 0 ? a->framing : nn_iface_framing(d->iface);
	if (fr < 0) {
		nn_log_err("event=usage iface=%s error=\"no such interface in this network "
			   "namespace (%s)\"",
			   d->iface, strerror(-fr));
		return -ENODEV;
	}
	d->framing = (uint8_t)fr;
	return resolve_wg(a);
}

static int parse_args(int argc, char **argv, struct args *a)
{
	struct option lo[N_FLAGS + 1];
	size_t i;
	int c, idx;

	memset(a, 0, sizeof(*a));
	memset(lo, 0, sizeof(lo));
	a->framing = -1;
	a->d.nat = true;
	a->d.resync_s = NN_DEF_RESYNC_S;
	a->d.poll_s = NN_DEF_POLL_S;
	nn_capacity_default(&a->d.cap);
	a->d.new_flow_rate = NN_DEF_NEW_FLOW_RATE;
	a->d.new_flow_burst = NN_DEF_NEW_FLOW_BURST;
	for (i = 0; i < N_FLAGS; i++) {
		lo[i].name = flags[i].name;
		lo[i].has_arg = flags[i].arg ? required_argument : no_argument;
		lo[i].val = flags[i].id;
	}
	while ((c = getopt_long(argc, argv, "vh", lo, &idx)) != -1) {
		if (c == O_HELP) {
			usage(stdout);
			exit(0);
		}
		if (c == '?') {
			usage(stderr);
			return -EINVAL;
		}
		for (i = 0; i < N_FLAGS && flags[i].id != c; i++)
			;
		if (i == N_FLAGS || set_flag(a, c, flags[i].name, optarg))
			return -EINVAL;
	}
	if (optind < argc) {
		nn_log_err("event=usage error=\"unexpected argument '%s'\"", argv[optind]);
		return -EINVAL;
	}
	return check_args(a);
}

/* nanami-gatewayd enroll ...: exit 0 enrolled, 1 refused or failed, 2 usage. */
static int enroll_main(int argc, char **argv)
{
	enum { E_CP = 1, E_TOKEN, E_CA, E_ENDPOINT, E_STATE, E_IFACE, E_FORCE };
	static const struct option lo[] = {
		{ "control-plane", required_argument, NULL, E_CP },
		{ "token-file", required_argument, NULL, E_TOKEN },
		{ "ca", required_argument, NULL, E_CA },
		{ "endpoint", required_argument, NULL, E_ENDPOINT },
		{ "state-dir", required_argument, NULL, E_STATE },
		{ "iface", required_argument, NULL, E_IFACE },
		{ "force", no_argument, NULL, E_FORCE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *eps[16], *iface = "wg0";
	struct nn_enroll_opts o = { .endpoints = eps };
	char state[512], err[1024] = "";
	int c;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case E_CP:
			o.cp_url = optarg;
			break;
		case E_TOKEN:
			o.token_file = optarg;
			break;
		case E_CA:
			o.ca = optarg;
			break;
		case E_ENDPOINT:
			if (o.n_endpoints == 16) {
				nn_log_err("event=usage error=\"at most 16 --endpoint\"");
				return 2;
			}
			eps[o.n_endpoints++] = optarg;
			break;
		case E_STATE:
			o.state_dir = optarg;
			break;
		case E_IFACE:
			iface = optarg;
			break;
		case E_FORCE:
			o.force = true;
			break;
		case 'v':
			nn_log_set_level(NN_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !o.cp_url || !o.token_file || !o.ca) {
		nn_log_err(
			"event=usage error=\"enroll needs --control-plane URL, --token-file FILE "
			"and --ca FILE\"");
		return 2;
	}
	if (!o.state_dir) {
		snprintf(state, sizeof(state), "%s/%s", NN_DEF_STATE_ROOT, iface);
		o.state_dir = state;
	}
	if (nn_ident_enroll(&o, NULL, err, sizeof(err))) {
		nn_log_err("event=enroll_failed state_dir=%s error=\"%s\"", o.state_dir, err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	int err;

	nn_log_libbpf();
	if (argc > 1 && !strcmp(argv[1], "enroll"))
		return enroll_main(argc - 1, argv + 1);
	if (parse_args(argc, argv, &a))
		return 2;
	if (a.detach)
		return nn_gw_detach(a.d.iface, a.d.underlay, a.d.pin_dir) ? 1 : 0;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	err = nn_daemon_run(&a.d, &stop_requested);
	return err ? 1 : 0;
}
