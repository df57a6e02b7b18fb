// SPDX-License-Identifier: GPL-2.0
/*
 * uapi.c - the WireGuard cross-platform userspace API over its unix
 * socket: "get=1\n\n" answers the device as key=value lines ending with
 * "errno=0" and a blank line; "set=1\n...\n\n" applies lines in order and
 * answers "errno=N" and a blank line. "public_key=" starts a peer section.
 *
 * The daemon is trusted no more than it must be: every line and the whole
 * reply are capped, every number is range-checked, and the exchange has one
 * deadline, so a stuck or babbling daemon costs a bounded time and memory.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "wg/uapi.h"

/* ---- keys as the socket writes them (hex) ---- */

static void key_to_hex(const uint8_t key[NN_KEY_LEN], char out[2 * NN_KEY_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	int i;

	for (i = 0; i < NN_KEY_LEN; i++) {
		out[2 * i] = hx[key[i] >> 4];
		out[2 * i + 1] = hx[key[i] & 15];
	}
	out[2 * NN_KEY_LEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int key_from_hex(const char *s, uint8_t key[NN_KEY_LEN])
{
	int i, hi, lo;

	if (strlen(s) != 2 * NN_KEY_LEN)
		return -EPROTO;
	for (i = 0; i < NN_KEY_LEN; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EPROTO;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* ---- the socket: one deadline for the whole exchange ---- */

struct conn {
	int fd;
	int64_t deadline_ms; /* CLOCK_MONOTONIC, whole exchange */
	int64_t idle_ms;     /* longest wait for any progress */
	size_t total, max_bytes;
	char buf[4096];
	size_t start, end;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(struct conn *c, short events)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = c->deadline_ms - now_ms();
		if (left > c->idle_ms)
			left = c->idle_ms;
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int conn_open(struct conn *c, const struct nn_wg_uapi *u, int64_t extra_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int64_t give_up;
	int err;

	memset(c, 0, sizeof(*c));
	c->idle_ms = u->timeout_ms > 0 ? u->timeout_ms : NN_WG_TIMEOUT_MS_DEFAULT;
	c->deadline_ms =
		now_ms() + extra_ms +
		(u->total_timeout_ms > 0 ? u->total_timeout_ms : NN_WG_TOTAL_TIMEOUT_MS_DEFAULT);
	c->max_bytes = u->max_bytes ? u->max_bytes : NN_WG_MAX_BYTES_DEFAULT;
	memcpy(sun.sun_path, u->path, sizeof(sun.sun_path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -errno;
	/* A non-blocking AF_UNIX connect either completes or fails with
	 * EAGAIN when the listen backlog is full: retry, for one idle period
	 * at most (a daemon that accepts nothing is making no progress). */
	give_up = now_ms() + c->idle_ms;
	while (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = -errno;
		if (err != -EAGAIN && err != -EINTR)
			goto fail;
		if (now_ms() >= give_up || now_ms() >= c->deadline_ms) {
			err = -ETIMEDOUT;
			goto fail;
		}
		usleep(10000);
	}
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return err;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	explicit_bzero(c->buf, sizeof(c->buf));
	c->fd = -1;
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
	ssize_t w;
	int err;

	while (n) {
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			err = wait_fd(c, POLLOUT);
			if (err)
				return err;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One line without its '\n' into @line (NUL-terminated). */
static int conn_line(struct conn *c, char *line, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	int err;

	for (;;) {
		/* A 100k-peer get is ~1M lines: find each end with memchr and
		 * copy the piece, not a byte at a time (the drift check's
		 * largest cost on our side, docs/controller.md). */
		if (c->start < c->end) {
			const char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
			size_t len = (nl ? (size_t)(nl - c->buf) : c->end) - c->start;

			if (n + len + 1 > cap)
				return -EMSGSIZE;
			memcpy(line + n, c->buf + c->start, len);
			n += len;
			c->start += len;
			if (nl) {
				c->start++;
				line[n] = '\0';
				return 0;
			}
		}
		r = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			err = wait_fd(c, POLLIN);
			if (err)
				return err;
			continue;
		}
		if (r == 0)
			return -EPROTO; /* closed before the blank line */
		c->total += (size_t)r;
		if (c->total > c->max_bytes)
			return -EMSGSIZE;
		c->start = 0;
		c->end = (size_t)r;
	}
}

/* "errno=N": 0, or -|N| (wireguard-go sends -22, the spec's examples 22). */
static int parse_errno(const char *v)
{
	long long n;
	char *end;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < -4095 || n > 4095)
		return -EPROTO;
	return n < 0 ? (int)n : -(int)n;
}

/* Read lines up to the blank one; the reply must carry "errno=". */
static int read_reply_tail(struct conn *c, int *reply_errno)
{
	char line[NN_WG_LINE_MAX + 1];
	bool seen = false;
	int err;

	for (;;) {
		err = conn_line(c, line, sizeof(line));
		if (err)
			return err;
		if (!line[0])
			break;
		if (!strncmp(line, "errno=", 6)) {
			*reply_errno = parse_errno(line + 6);
			seen = true;
		}
	}
	return seen ? 0 : -EPROTO;
}

int nn_wg_uapi_init(struct nn_wg_uapi *u, const char *iface, const char *sockdir)
{
	size_t n = iface ? strlen(iface) : 0;
	int r;

	memset(u, 0, sizeof(*u));
	if (!n || n >= IFNAMSIZ || strchr(iface, '/') || !strcmp(iface, ".") ||
	    !strcmp(iface, ".."))
		return -EINVAL;
	r = snprintf(u->path, sizeof(u->path), "%s/%s.sock", sockdir ? sockdir : NN_WG_SOCK_DIR,
		     iface);
	if (r < 0 || (size_t)r >= sizeof(u->path))
		return -ENAMETOOLONG;
	u->timeout_ms = NN_WG_TIMEOUT_MS_DEFAULT;
	u->total_timeout_ms = NN_WG_TOTAL_TIMEOUT_MS_DEFAULT;
	u->set_ms_per_peer = NN_WG_SET_MS_PER_PEER_DEFAULT;
	u->max_bytes = NN_WG_MAX_BYTES_DEFAULT;
	u->max_peers = NN_WG_MAX_PEERS_DEFAULT;
	return 0;
}

/* ---- get ---- */

static int get_line(const struct nn_wg_uapi *u, struct nn_wg_device *dev, struct nn_wg_peer **peer,
		    const char *k, const char *v)
{
	struct nn_wg_allowedip a;
	uint8_t key[NN_KEY_LEN];
	unsigned long long x;
	struct nn_wg_peer *p = *peer;
	int err;

	if (!strcmp(k, "public_key")) {
		if (key_from_hex(v, key))
			return -EPROTO;
		if (dev->n_peers >= (u->max_peers ? u->max_peers : NN_WG_MAX_PEERS_DEFAULT))
			return -EMSGSIZE;
		*peer = nn_wg_device_add_peer(dev, key);
		return *peer ? 0 : -ENOMEM;
	}
	if (!strcmp(k, "private_key")) {
		if (key_from_hex(v, dev->private_key))
			return -EPROTO;
		if (!nn_wg_key_is_zero(dev->private_key)) {
			dev->flags |= NN_WG_DEV_HAS_PRIVATE_KEY;
			return nn_wg_public_key(dev->private_key, dev->public_key) ? -EPROTO : 0;
		}
		return 0;
	}
	if (!strcmp(k, "listen_port")) {
		if (nn_wg_parse_uint(v, 65535, &x))
			return -EPROTO;
		dev->listen_port = (uint16_t)x;
		return 0;
	}
	if (!strcmp(k, "fwmark")) {
		if (nn_wg_parse_uint(v, UINT32_MAX, &x))
			return -EPROTO;
		dev->fwmark = (uint32_t)x;
		return 0;
	}
	if (!p)
		return 0; /* unknown device key: newer daemon, skip */
	if (!strcmp(k, "endpoint")) {
		if (nn_wg_endpoint_parse(v, &p->endpoint))
			return -EPROTO;
		p->flags |= NN_WG_PEER_HAS_ENDPOINT;
	} else if (!strcmp(k, "persistent_keepalive_interval")) {
		if (nn_wg_parse_uint(v, 65535, &x))
			return -EPROTO;
		p->keepalive = (uint16_t)x;
	} else if (!strcmp(k, "allowed_ip")) {
		if (nn_wg_allowedip_parse(v, &a))
			return -EPROTO;
		err = nn_wg_peer_add_allowedip(p, &a);
		if (err)
			return err;
	} else if (!strcmp(k, "last_handshake_time_sec")) {
		if (nn_wg_parse_uint(v, INT64_MAX, &x))
			return -EPROTO;
		p->last_handshake_sec = (int64_t)x;
	} else if (!strcmp(k, "last_handshake_time_nsec")) {
		if (nn_wg_parse_uint(v, INT64_MAX, &x))
			return -EPROTO;
		p->last_handshake_nsec = (int64_t)x;
	} else if (!strcmp(k, "rx_bytes")) {
		if (nn_wg_parse_uint(v, UINT64_MAX, &x))
			return -EPROTO;
		p->rx_bytes = x;
	} else if (!strcmp(k, "tx_bytes")) {
		if (nn_wg_parse_uint(v, UINT64_MAX, &x))
			return -EPROTO;
		p->tx_bytes = x;
	}
	/* preshared_key, protocol_version and anything newer: not ours. */
	return 0;
}

int nn_wg_get(const struct nn_wg_uapi *u, struct nn_wg_device *dev)
{
	static const char req[] = "get=1\n\n";
	char line[NN_WG_LINE_MAX + 1];
	struct nn_wg_peer *peer = NULL;
	int err, reply_errno = 0;
	bool seen_errno = false;
	struct conn c;
	char *eq;

	memset(dev, 0, sizeof(*dev));
	err = conn_open(&c, u, 0);
	if (err)
		return err;
	err = conn_write(&c, req, sizeof(req) - 1);
	while (!err) {
		err = conn_line(&c, line, sizeof(line));
		if (err || !line[0])
			break;
		eq = strchr(line, '=');
		if (!eq) {
			err = -EPROTO;
			break;
		}
		*eq = '\0';
		if (!strcmp(line, "errno")) {
			reply_errno = parse_errno(eq + 1);
			seen_errno = true;
			continue;
		}
		err = get_line(u, dev, &peer, line, eq + 1);
	}
	explicit_bzero(line, sizeof(line));
	conn_close(&c);
	if (!err && !seen_errno)
		err = -EPROTO;
	if (!err)
		err = reply_errno;
	if (err)
		nn_wg_device_free(dev);
	return err;
}

/* ---- set ---- */

struct sbuf {
	char *p;
	size_t n, cap;
	int err;
};

static void __attribute__((format(printf, 2, 3))) sb_printf(struct sbuf *b, const char *fmt, ...)
{
	size_t cap;
	va_list ap;
	char *np;
	int r;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		r = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (r < 0) {
			b->err = -EINVAL;
			return;
		}
		if (b->p && b->n + (size_t)r < b->cap) {
			b->n += (size_t)r;
			return;
		}
		/* Grow by hand so a key in the old buffer is wiped, not leaked
		 * to the heap by realloc(). */
		cap = b->cap ? b->cap : 4096;
		while (cap <= b->n + (size_t)r)
			cap *= 2;
		np = malloc(cap);
		if (!np) {
			b->err = -ENOMEM;
			return;
		}
		if (b->p) {
			memcpy(np, b->p, b->n);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
}

static void build_set(struct sbuf *b, const struct nn_wg_device *dev)
{
	char hex[2 * NN_KEY_LEN + 1], txt[INET6_ADDRSTRLEN + 32];
	size_t i, j;

	sb_printf(b, "set=1\n");
	if (dev->flags & NN_WG_DEV_HAS_PRIVATE_KEY) {
		key_to_hex(dev->private_key, hex);
		sb_printf(b, "private_key=%s\n", hex);
		explicit_bzero(hex, sizeof(hex));
	}
	if (dev->flags & NN_WG_DEV_HAS_LISTEN_PORT)
		sb_printf(b, "listen_port=%u\n", dev->listen_port);
	if (dev->flags & NN_WG_DEV_REPLACE_PEERS)
		sb_printf(b, "replace_peers=true\n");
	for (i = 0; i < dev->n_peers; i++) {
		const struct nn_wg_peer *p = &dev->peers[i];

		key_to_hex(p->public_key, hex);
		sb_printf(b, "public_key=%s\n", hex);
		if (p->flags & NN_WG_PEER_REMOVE) {
			sb_printf(b, "remove=true\n");
			continue;
		}
		if (p->flags & NN_WG_PEER_UPDATE_ONLY)
			sb_printf(b, "update_only=true\n");
		if (p->flags & NN_WG_PEER_HAS_ENDPOINT)
			sb_printf(b, "endpoint=%s\n",
				  nn_wg_endpoint_format(&p->endpoint, txt, sizeof(txt)));
		if (p->flags & NN_WG_PEER_HAS_KEEPALIVE)
			sb_printf(b, "persistent_keepalive_interval=%u\n", p->keepalive);
		if (p->flags & NN_WG_PEER_REPLACE_ALLOWEDIPS)
			sb_printf(b, "replace_allowed_ips=true\n");
		for (j = 0; j < p->n_allowed_ips; j++)
			sb_printf(b, "allowed_ip=%s\n",
				  nn_wg_allowedip_format(&p->allowed_ips[j], txt, sizeof(txt)));
	}
	sb_printf(b, "\n");
}

int nn_wg_set(const struct nn_wg_uapi *u, const struct nn_wg_device *dev)
{
	struct sbuf b = {};
	int err, reply_errno = 0;
	struct conn c;

	build_set(&b, dev);
	if (b.err) {
		err = b.err;
		goto out;
	}
	/* wireguard-go applies a set before it answers, and adding peers is
	 * slow and superlinear there (5000 new peers: ~3 s, 20000: ~40 s), so
	 * the deadline grows with the peer sections sent. */
	err = conn_open(&c, u,
			(int64_t)dev->n_peers * (u->set_ms_per_peer >= 0 ?
							 u->set_ms_per_peer :
							 NN_WG_SET_MS_PER_PEER_DEFAULT));
	if (err)
		goto out;
	err = conn_write(&c, b.p, b.n);
	if (!err)
		err = read_reply_tail(&c, &reply_errno);
	conn_close(&c);
	if (!err)
		err = reply_errno;
out:
	if (b.p) {
		explicit_bzero(b.p, b.cap);
		free(b.p);
	}
	return err;
}
