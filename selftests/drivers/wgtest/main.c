// SPDX-License-Identifier: GPL-2.0
/*
 * nn-wgtest - drive one wg0 reconcile from a snapshot file, for the netns
 * tests (selftests/netns/test_wg_*.sh) and for poking at a live wg0 by hand.
 *
 *   nn-wgtest --iface wg0 --assignments FILE --state-dir DIR [--node-id ID]
 *             [--sockdir DIR] [--timeout-ms N] [--total-timeout-ms N] [-v]
 *       one nn_wg_reconcile_dev(); prints the counters as one JSON object
 *       (--print-after: and the device view it handed over, "after")
 *   nn-wgtest --iface wg0 --state-dir DIR --print-public-key
 *       load or create DIR/wg0.key; print its public key (base64)
 *   nn-wgtest --iface wg0 --show [--sockdir DIR] [--timeout-ms N] [--max-bytes N]
 *       one get; prints the device as JSON (no private key)
 *   --wg uapi|genl|auto with any of the above: the backend (default uapi,
 *       the wireguard-go socket; genl is the kernel's wireguard)
 *   nn-wgtest --fake-daemon MODE --sockdir DIR [--iface wg0]
 *       a misbehaving daemon for one connection (tools/wgtest/fake_uapi.c)
 *   nn-wgtest --ping6 ADDR [--count N] [--wait-ms N] [--interval-ms N] [--stop-after N]
 *       ICMPv6 echo (raw socket), so the tests need no ping binary: up to
 *       N probes, each waiting --wait-ms for its reply, one per --interval-ms,
 *       stopping after --stop-after replies; prints {"sent":N,"received":M};
 *       exit 0 iff at least one reply
 *
 * Exit status: 0 success, 1 failure (the reason is logged on stderr),
 * 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_uapi.h"
#include "lib/log.h"
#include "policy/policy.h"
#include "wg/reconcile.h"

#define SNAPSHOT_MAX (64u << 20)

static int read_all(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, r;
	char *b = NULL, *nb;

	if (!f)
		return -errno;
	for (;;) {
		if (!b || n == cap) {
			if (b)
				cap *= 2;
			nb = cap > SNAPSHOT_MAX ? NULL : realloc(b, cap);
			if (!nb) {
				free(b);
				fclose(f);
				return cap > SNAPSHOT_MAX ? -EFBIG : -ENOMEM;
			}
			b = nb;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ping6(const char *dst, int count, int wait_ms, int interval_ms, int stop_after)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6 }, from;
	struct icmp6_filter filt;
	uint16_t id = (uint16_t)getpid();
	int fd, seq, sent = 0, received = 0;
	socklen_t fl;

	if (inet_pton(AF_INET6, dst, &to.sin6_addr) != 1) {
		nn_log_err("event=ping6 error=\"bad address %s\"", dst);
		return 2;
	}
	fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	if (fd < 0) {
		nn_log_err("event=ping6 error=\"socket: %s\"", strerror(errno));
		return 1;
	}
	ICMP6_FILTER_SETBLOCKALL(&filt);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filt);
	setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filt, sizeof(filt));
	for (seq = 1; seq <= count; seq++) {
		struct icmp6_hdr req = { .icmp6_type = ICMP6_ECHO_REQUEST };
		int64_t start = now_ms(), deadline = start + wait_ms;
		bool got = false;

		/* The kernel fills in the ICMPv6 checksum on raw sockets. */
		req.icmp6_id = htons(id);
		req.icmp6_seq = htons((uint16_t)seq);
		if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to)) ==
		    (ssize_t)sizeof(req))
			sent++;
		else
			nn_log_debug("event=ping6 seq=%d error=\"sendto: %s\"", seq,
				     strerror(errno));
		while (!got) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			int64_t left = deadline - now_ms();
			struct icmp6_hdr rep;
			ssize_t n;

			if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
				break;
			fl = sizeof(from);
			n = recvfrom(fd, &rep, sizeof(rep), 0, (struct sockaddr *)&from, &fl);
			if (n < (ssize_t)sizeof(rep) || rep.icmp6_type != ICMP6_ECHO_REPLY ||
			    rep.icmp6_id != htons(id) || rep.icmp6_seq != htons((uint16_t)seq) ||
			    memcmp(&from.sin6_addr, &to.sin6_addr, sizeof(to.sin6_addr)))
				continue;
			got = true;
			received++;
		}
		if (stop_after > 0 && received >= stop_after)
			break;
		/* Pace like ping: one probe per interval when replies are quick. */
		if (got && seq < count) {
			int64_t left = start + interval_ms - now_ms();

			if (left > 0)
				usleep((useconds_t)left * 1000);
		}
	}
	close(fd);
	printf("{\"sent\":%d,\"received\":%d}\n", sent, received);
	return received > 0 ? 0 : 1;
}

static int show(enum nn_wg_mode mode, const char *iface, const char *sockdir, int timeout_ms,
		int total_ms, size_t max_bytes)
{
	char k[NN_KEY_B64_SIZE], txt[INET6_ADDRSTRLEN + 32], why[512];
	struct nn_wg_backend b;
	struct nn_wg_device dev;
	size_t i, j;
	int err = 0;

	if (mode == NN_WG_MODE_AUTO) {
		err = nn_wg_mode_resolve(iface, sockdir, &mode, why, sizeof(why));
		if (err || mode == NN_WG_MODE_NONE) {
			nn_log_err("event=wg_get_failed iface=%s error=\"%s\"", iface, why);
			return 1;
		}
	}
	err = nn_wg_backend_init(&b, mode, iface, sockdir);
	if (!err && timeout_ms > 0)
		b.uapi.timeout_ms = timeout_ms;
	if (!err && total_ms > 0)
		b.uapi.total_timeout_ms = total_ms;
	if (!err && max_bytes)
		b.uapi.max_bytes = max_bytes;
	if (!err)
		err = nn_wg_backend_get(&b, &dev);
	if (err) {
		nn_log_err("event=wg_get_failed %s=%s error=\"%s\"", b.ops ? b.ops->where : "iface",
			   b.ops ? b.where : iface, strerror(-err));
		return 1;
	}
	nn_key_to_base64(dev.public_key, k);
	printf("{\"public_key\":\"%s\",\"listen_port\":%u,\"fwmark\":%u,\"peers\":[",
	       dev.flags & NN_WG_DEV_HAS_PRIVATE_KEY ? k : "", dev.listen_port, dev.fwmark);
	for (i = 0; i < dev.n_peers; i++) {
		const struct nn_wg_peer *p = &dev.peers[i];

		nn_key_to_base64(p->public_key, k);
		printf("%s{\"public_key\":\"%s\",\"endpoint\":", i ? "," : "", k);
		if (p->flags & NN_WG_PEER_HAS_ENDPOINT)
			printf("\"%s\"", nn_wg_endpoint_format(&p->endpoint, txt, sizeof(txt)));
		else
			printf("null");
		printf(",\"keepalive\":%u,\"last_handshake_sec\":%lld,"
		       "\"last_handshake_nsec\":%lld,\"rx_bytes\":%llu,\"tx_bytes\":%llu,"
		       "\"allowed_ips\":[",
		       p->keepalive, (long long)p->last_handshake_sec,
		       (long long)p->last_handshake_nsec, (unsigned long long)p->rx_bytes,
		       (unsigned long long)p->tx_bytes);
		for (j = 0; j < p->n_allowed_ips; j++)
			printf("%s\"%s\"", j ? "," : "",
			       nn_wg_allowedip_format(&p->allowed_ips[j], txt, sizeof(txt)));
		printf("]}");
	}
	printf("]}\n");
	nn_wg_device_free(&dev);
	return 0;
}

static int view_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* ,"after":[...]: the view nn_wg_reconcile_dev() handed over, one
 * "key allowed_ips,... keepalive" string per peer, sorted, so a test can
 * compare it with `wg show wg0 dump`. */
static void print_view(const struct nn_wg_device *dev)
{
	char(*row)[512] = calloc(dev->n_peers + 1, sizeof(*row));
	char k[NN_KEY_B64_SIZE], txt[8][64];
	size_t i, j, n, off;

	if (!row)
		return;
	for (i = 0; i < dev->n_peers; i++) {
		const struct nn_wg_peer *p = &dev->peers[i];

		nn_key_to_base64(p->public_key, k);
		off = (size_t)snprintf(row[i], sizeof(row[i]), "%s ", k);
		/* Sorted by their text, as the test sorts wg(8)'s. */
		n = p->n_allowed_ips < 8 ? p->n_allowed_ips : 8;
		for (j = 0; j < n; j++)
			nn_wg_allowedip_format(&p->allowed_ips[j], txt[j], sizeof(txt[j]));
		qsort(txt, n, sizeof(txt[0]), view_cmp);
		for (j = 0; j < n && off < sizeof(row[i]); j++)
			off += (size_t)snprintf(row[i] + off, sizeof(row[i]) - off, "%s%s",
						j ? "," : "", txt[j]);
		if (off < sizeof(row[i]))
			snprintf(row[i] + off, sizeof(row[i]) - off, " %u", p->keepalive);
	}
	qsort(row, dev->n_peers, sizeof(*row), view_cmp);
	printf(",\"after\":[");
	for (i = 0; i < dev->n_peers; i++)
		printf("%s\"%s\"", i ? "," : "", row[i]);
	printf("]");
	free(row);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: nn-wgtest --iface IF --assignments FILE --state-dir DIR [--node-id ID]\n"
		"                 [--sockdir DIR] [--timeout-ms N] [--total-timeout-ms N] [-v]\n"
		"                 [--print-after] [--wg uapi|genl|auto] (every form with --iface;\n"
		"                 default uapi)\n"
		"       nn-wgtest --iface IF --state-dir DIR --print-public-key\n"
		"       nn-wgtest --iface IF --show [--sockdir DIR] [--timeout-ms N] [--max-bytes N]\n"
		"       nn-wgtest --fake-daemon MODE --sockdir DIR [--iface IF]\n"
		"       nn-wgtest --ping6 ADDR [--count N] [--wait-ms N] [--interval-ms N]\n"
		"                 [--stop-after N]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "iface", required_argument, NULL, 'i' },
					    { "assignments", required_argument, NULL, 'a' },
					    { "state-dir", required_argument, NULL, 's' },
					    { "node-id", required_argument, NULL, 'n' },
					    { "sockdir", required_argument, NULL, 'S' },
					    { "timeout-ms", required_argument, NULL, 't' },
					    { "total-timeout-ms", required_argument, NULL, 'T' },
					    { "print-public-key", no_argument, NULL, 'k' },
					    { "ping6", required_argument, NULL, 'p' },
					    { "count", required_argument, NULL, 'c' },
					    { "wait-ms", required_argument, NULL, 'w' },
					    { "interval-ms", required_argument, NULL, 'I' },
					    { "stop-after", required_argument, NULL, 'A' },
					    { "show", no_argument, NULL, 'D' },
					    { "wg", required_argument, NULL, 'W' },
					    { "max-bytes", required_argument, NULL, 'M' },
					    { "fake-daemon", required_argument, NULL, 'F' },
					    { "print-after", no_argument, NULL, 'P' },
					    { "verbose", no_argument, NULL, 'v' },
					    { "help", no_argument, NULL, 'h' },
					    {} };
	const char *assignments = NULL, *node_id = NULL, *ping = NULL, *fake = NULL;
	struct nn_wg_opts o = { .iface = "wg0", .mode = NN_WG_MODE_UAPI };
	struct nn_errlist errs = {};
	struct nn_wg_counters c;
	struct nn_wg_device after = {};
	struct nn_policy *p = NULL;
	struct nn_limits lim;
	int opt, err, count = 3, wait_ms = 1000, interval_ms = 200, stop_after = 0;
	bool print_key = false, do_show = false, print_after = false;
	struct nn_wg wg;
	size_t len = 0, i, max_bytes = 0;
	char *buf = NULL;

	while ((opt = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (opt) {
		case 'i':
			o.iface = optarg;
			break;
		case 'a':
			assignments = optarg;
			break;
		case 's':
			o.state_dir = optarg;
			break;
		case 'n':
			node_id = optarg;
			break;
		case 'S':
			o.sockdir = optarg;
			break;
		case 't':
			o.timeout_ms = atoi(optarg);
			break;
		case 'T':
			o.total_timeout_ms = atoi(optarg);
			break;
		case 'k':
			print_key = true;
			break;
		case 'p':
			ping = optarg;
			break;
		case 'c':
			count = atoi(optarg);
			break;
		case 'w':
			wait_ms = atoi(optarg);
			break;
		case 'I':
			interval_ms = atoi(optarg);
			break;
		case 'A':
			stop_after = atoi(optarg);
			break;
		case 'D':
			do_show = true;
			break;
		case 'P':
			print_after = true;
			break;
		case 'M':
			max_bytes = strtoull(optarg, NULL, 0);
			break;
		case 'F':
			fake = optarg;
			break;
		case 'W':
			if (nn_wg_mode_parse(optarg, &o.mode) || o.mode == NN_WG_MODE_NONE) {
				usage();
				return 2;
			}
			break;
		case 'v':
			nn_log_set_level(NN_LOG_DEBUG);
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (ping)
		return ping6(ping, count > 0 ? count : 1, wait_ms > 0 ? wait_ms : 1000,
			     interval_ms >= 0 ? interval_ms : 0, stop_after);
	if (do_show)
		return show(o.mode, o.iface, o.sockdir, o.timeout_ms, o.total_timeout_ms,
			    max_bytes);
	if (fake) {
		if (!o.sockdir) {
			usage();
			return 2;
		}
		err = nn_wgtest_fake_daemon(o.sockdir, o.iface, fake);
		if (err)
			nn_log_err("event=fake_uapi error=\"%s\"", strerror(-err));
		return err ? 1 : 0;
	}
	if (!o.state_dir || (!assignments && !print_key)) {
		usage();
		return 2;
	}
	if (nn_wg_open(&wg, &o))
		return 1;
	if (print_key) {
		printf("%s\n", wg.public_key_b64);
		nn_wg_close(&wg);
		return 0;
	}

	err = read_all(assignments, &buf, &len);
	if (err) {
		nn_log_err("event=read source=%s error=\"%s\"", assignments, strerror(-err));
		return 1;
	}
	nn_limits_default(&lim);
	err = nn_policy_parse(buf, len, node_id, &lim, &p, &errs);
	free(buf);
	for (i = 0; i < errs.n; i++)
		nn_log_warn("event=rejected source=%s reason=\"%s\"", assignments, errs.msgs[i]);
	nn_errlist_free(&errs);
	if (err) {
		nn_log_err("event=snapshot_rejected source=%s", assignments);
		nn_wg_close(&wg);
		return 1;
	}
	err = nn_wg_reconcile_dev(&wg, p, &c, &after);
	if (!err || c.set_ops) {
		printf("{\"added\":%u,\"removed\":%u,\"updated\":%u,\"allowed_ips_repaired\":%u,"
		       "\"keys_rotated\":%u,\"private_key_set\":%u,\"listen_port_set\":%u,"
		       "\"mtu_set\":%u,\"set_ops\":%u,\"set_peers\":%u,\"peers\":%u,"
		       "\"changes\":%u,\"public_key\":\"%s\"",
		       c.added, c.removed, c.updated, c.allowed_ips_repaired, c.keys_rotated,
		       c.private_key_set, c.listen_port_set, c.mtu_set, c.set_ops, c.set_peers,
		       c.peers, nn_wg_counters_changes(&c), wg.public_key_b64);
		if (print_after)
			print_view(&after);
		printf("}\n");
	}
	nn_wg_device_free(&after);
	nn_policy_free(p);
	nn_wg_close(&wg);
	return err ? 1 : 0;
}
