// SPDX-License-Identifier: GPL-2.0
/*
 * nanami-gatewayd - the gateway controller: validates assignments, compiles
 * them into the BPF maps, switches generations atomically, keeps enforcing.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "gatewayd.h"
#include "loader.h"
#include "log.h"
#include "policy.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const struct option long_opts[] = {
	{ "iface", required_argument, NULL, 'i' },
	{ "underlay", required_argument, NULL, 'u' },
	{ "assignments", required_argument, NULL, 'a' },
	{ "node-id", required_argument, NULL, 'n' },
	{ "bpffs", required_argument, NULL, 'b' },
	{ "hook", required_argument, NULL, 'H' },
	{ "framing", required_argument, NULL, 'F' },
	{ "once", no_argument, NULL, 'o' },
	{ "detach", no_argument, NULL, 'd' },
	{ "max-devices", required_argument, NULL, 1001 },
	{ "max-rules", required_argument, NULL, 1002 },
	{ "max-prefixes", required_argument, NULL, 1003 },
	{ "max-cells", required_argument, NULL, 1004 },
	{ "max-flows", required_argument, NULL, 1005 },
	{ "max-nodes", required_argument, NULL, 1006 },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{}
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nanami-gatewayd --iface IF --assignments FILE [options]\n"
		"       nanami-gatewayd --iface IF [--underlay NIC] --detach [--bpffs DIR]\n"
		"\n"
		"  --iface IF          overlay interface (wg0; veth in tests)\n"
		"  --underlay NIC      also guard NIC (native XDP): drop malformed and\n"
		"                      flooding WireGuard packets to the listen port\n"
		"  --assignments FILE  v1 assignments snapshot (assignments-v1.md); re-applied\n"
		"                      whenever the file changes\n"
		"  --node-id ID        this gateway's node id (default: the snapshot's)\n"
		"  --bpffs DIR         pin directory (default %s/<iface>)\n"
		"  --hook tc|xdp       from-overlay hook (default tc; into-overlay is TC egress)\n"
		"  --framing l3|eth    packet framing (default: l3 for wg*/tun, else eth)\n"
		"  --once              apply once and exit 0, leaving programs attached\n"
		"  --detach            remove this gateway's programs and pins (the underlay\n"
		"                      guard too when --underlay is given), and exit\n"
		"  --max-devices N     map capacity (default %d); likewise --max-rules (%d),\n"
		"                      --max-prefixes (%d), --max-cells (%d), --max-flows (%d),\n"
		"                      --max-nodes (1024)\n"
		"  -v, --verbose       debug logging (libbpf included)\n",
		NN_PIN_ROOT, NN_DEF_MAX_DEVICES, NN_DEF_MAX_RULES, NN_DEF_MAX_PREFIXES,
		NN_DEF_MAX_CELLS, NN_DEF_MAX_FLOWS);
}

static int parse_u32(const char *s, const char *flag, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v == 0 || v > 0x7fffffffUL) {
		nn_log_err("event=usage flag=%s value=\"%s\" error=\"not a positive integer\"",
			   flag, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct nn_gw_opts *o)
{
	const char *flag = "";
	int c;

	memset(o, 0, sizeof(*o));
	o->framing = -1;
	nn_capacity_default(&o->cap);
	while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->iface = optarg;
			break;
		case 'u':
			o->underlay = optarg;
			break;
		case 'a':
			o->assignments = optarg;
			break;
		case 'n':
			o->node_id = optarg;
			break;
		case 'b':
			o->pin_dir = optarg;
			break;
		case 'H':
			if (!strcmp(optarg, "tc"))
				o->hook = NN_HOOK_TC;
			else if (!strcmp(optarg, "xdp"))
				o->hook = NN_HOOK_XDP;
			else {
				flag = "--hook";
				goto bad;
			}
			break;
		case 'F':
			if (!strcmp(optarg, "l3"))
				o->framing = NN_FRAMING_L3;
			else if (!strcmp(optarg, "eth"))
				o->framing = NN_FRAMING_ETH;
			else {
				flag = "--framing";
				goto bad;
			}
			break;
		case 'o':
			o->once = true;
			break;
		case 'd':
			o->detach = true;
			break;
		case 1001:
			if (parse_u32(optarg, "--max-devices", &o->cap.max_devices))
				return -EINVAL;
			break;
		case 1002:
			if (parse_u32(optarg, "--max-rules", &o->cap.max_rules))
				return -EINVAL;
			break;
		case 1003:
			if (parse_u32(optarg, "--max-prefixes", &o->cap.max_prefixes))
				return -EINVAL;
			break;
		case 1004:
			if (parse_u32(optarg, "--max-cells", &o->cap.max_cells))
				return -EINVAL;
			break;
		case 1005:
			if (parse_u32(optarg, "--max-flows", &o->cap.max_flows))
				return -EINVAL;
			break;
		case 1006:
			if (parse_u32(optarg, "--max-nodes", &o->cap.max_nodes))
				return -EINVAL;
			break;
		case 'v':
			nn_log_set_level(NN_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		nn_log_err("event=usage error=\"unexpected argument '%s'\"", argv[optind]);
		return -EINVAL;
	}
	if (!o->iface) {
		nn_log_err("event=usage error=\"--iface is required\"");
		return -EINVAL;
	}
	if (!o->detach && !o->assignments) {
		nn_log_err("event=usage error=\"--assignments FILE is required\"");
		return -EINVAL;
	}
	return 0;
bad:
	nn_log_err("event=usage flag=%s value=\"%s\" error=\"unknown value\"", flag, optarg);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct nn_gw_opts o;
	char pin_buf[512];
	int err;

	nn_log_libbpf();
	if (parse_args(argc, argv, &o))
		return 2;
	if (!o.pin_dir) {
		nn_default_pin_dir(o.iface, pin_buf, sizeof(pin_buf));
		o.pin_dir = pin_buf;
	}
	if (o.detach)
		return nn_gw_detach(&o) ? 1 : 0;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	err = nn_gw_run(&o, &stop_requested);
	return err ? 1 : 0;
}
