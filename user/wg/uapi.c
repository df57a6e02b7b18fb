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
#include <arpa/inet.h>
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

#include <openssl/evp.h>

#include "lib/addr.h"
#include "wg/uapi.h"

/* ---- keys ---- */

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

static bool key_is_zero(const uint8_t key[NN_KEY_LEN])
{
	uint8_t any = 0;
	int i;

	for (i = 0; i < NN_KEY_LEN; i++)
		any |= key[i];
	return !any;
}

int nn_wg_public_key(const uint8_t priv[NN_KEY_LEN], uint8_t pub[NN_KEY_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, NN_KEY_LEN);
	size_t len = NN_KEY_LEN;
	int ok;

	if (!k)
		return -EINVAL;
	ok = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == NN_KEY_LEN;
	EVP_PKEY_free(k);
	return ok ? 0 : -EINVAL;
}

int nn_wg_generate_private_key(uint8_t priv[NN_KEY_LEN])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	size_t len = NN_KEY_LEN;
	EVP_PKEY *k = NULL;
	int ok;

	ok = c && EVP_PKEY_keygen_init(c) == 1 && EVP_PKEY_keygen(c, &k) == 1 &&
	     EVP_PKEY_get_raw_private_key(k, priv, &len) == 1 && len == NN_KEY_LEN;
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(c);
	if (!ok) {
		explicit_bzero(priv, NN_KEY_LEN);
		return -EIO;
	}
	/* Clamp as wg genkey does, so the file holds the canonical form
	 * (X25519 clamps on use anyway; this keeps get == file). */
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	return 0;
}

/* ---- addresses ---- */

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!*s || strlen(s) > 20)
		return -EINVAL;
	for (; *s; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (*s < '0' || *s > '9' || v > (ULLONG_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int nn_wg_allowedip_parse(const char *s, struct nn_wg_allowedip *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	unsigned long long cidr;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (!slash || slash == s || (size_t)(slash - s) >= sizeof(host))
		return -EINVAL;
	hl = (size_t)(slash - s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (strchr(host, ':')) {
		out->family = AF_INET6;
		if (inet_pton(AF_INET6, host, out->addr) != 1 || parse_uint(slash + 1, 128, &cidr))
			return -EINVAL;
	} else {
		out->family = AF_INET;
		if (inet_pton(AF_INET, host, out->addr) != 1 || parse_uint(slash + 1, 32, &cidr))
			return -EINVAL;
	}
	out->cidr = (uint8_t)cidr;
	nn_addr_mask(out->addr, out->addr, out->family == AF_INET ? 4 : 16, out->cidr);
	return 0;
}

const char *nn_wg_allowedip_format(const struct nn_wg_allowedip *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (!inet_ntop(a->family, a->addr, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	snprintf(buf, len, "%s/%u", host, a->cidr);
	return buf;
}

bool nn_wg_allowedip_equal(const struct nn_wg_allowedip *a, const struct nn_wg_allowedip *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

int nn_wg_endpoint_parse(const char *s, union nn_wg_endpoint *out)
{
	char host[INET6_ADDRSTRLEN + IFNAMSIZ + 2];
	const char *colon = strrchr(s, ':');
	unsigned long long port;
	size_t hl;
	char *pct;

	memset(out, 0, sizeof(*out));
	if (!colon || colon == s || parse_uint(colon + 1, 65535, &port) || port == 0)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']' || hl - 2 >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		/* A link-local endpoint may carry "%scope"; keep it. */
		pct = strchr(host, '%');
		if (pct) {
			*pct++ = '\0';
			out->in6.sin6_scope_id = if_nametoindex(pct);
			if (!out->in6.sin6_scope_id) {
				unsigned long long v;

				if (parse_uint(pct, UINT32_MAX, &v))
					return -EINVAL;
				out->in6.sin6_scope_id = (uint32_t)v;
			}
		}
		if (inet_pton(AF_INET6, host, &out->in6.sin6_addr) != 1)
			return -EINVAL;
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons((uint16_t)port);
		return 0;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &out->in.sin_addr) != 1)
		return -EINVAL;
	out->in.sin_family = AF_INET;
	out->in.sin_port = htons((uint16_t)port);
	return 0;
}

const char *nn_wg_endpoint_format(const union nn_wg_endpoint *e, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (e->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &e->in6.sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(e->in6.sin6_port));
	} else if (e->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &e->in.sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(e->in.sin_port));
	} else {
		snprintf(buf, len, "(none)");
	}
	return buf;
}

bool nn_wg_endpoint_equal(const union nn_wg_endpoint *a, const union nn_wg_endpoint *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr));
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return true;
}

/* ---- device containers ---- */

void nn_wg_device_free(struct nn_wg_device *dev)
{
	size_t i;

	for (i = 0; i < dev->n_peers; i++)
		free(dev->peers[i].allowed_ips);
	free(dev->peers);
	explicit_bzero(dev, sizeof(*dev));
}

struct nn_wg_peer *nn_wg_device_add_peer(struct nn_wg_device *dev, const uint8_t key[NN_KEY_LEN])
{
	struct nn_wg_peer *p;

	if (dev->n_peers == dev->cap_peers) {
		size_t cap = dev->cap_peers ? dev->cap_peers * 2 : 16;

		p = reallocarray(dev->peers, cap, sizeof(*p));
		if (!p)
			return NULL;
		dev->peers = p;
		dev->cap_peers = cap;
	}
	p = &dev->peers[dev->n_peers++];
	memset(p, 0, sizeof(*p));
	memcpy(p->public_key, key, NN_KEY_LEN);
	return p;
}

int nn_wg_peer_add_allowedip(struct nn_wg_peer *p, const struct nn_wg_allowedip *a)
{
	if (p->n_allowed_ips == p->cap_allowed_ips) {
		size_t cap = p->cap_allowed_ips ? p->cap_allowed_ips * 2 : 4;
		struct nn_wg_allowedip *n = reallocarray(p->allowed_ips, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->allowed_ips = n;
		p->cap_allowed_ips = cap;
	}
	p->allowed_ips[p->n_allowed_ips++] = *a;
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
		while (c->start < c->end) {
			char ch = c->buf[c->start++];

			if (ch == '\n') {
				line[n] = '\0';
				return 0;
			}
			if (n + 1 >= cap)
				return -EMSGSIZE;
			line[n++] = ch;
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
		if (!key_is_zero(dev->private_key)) {
			dev->flags |= NN_WG_DEV_HAS_PRIVATE_KEY;
			return nn_wg_public_key(dev->private_key, dev->public_key) ? -EPROTO : 0;
		}
		return 0;
	}
	if (!strcmp(k, "listen_port")) {
		if (parse_uint(v, 65535, &x))
			return -EPROTO;
		dev->listen_port = (uint16_t)x;
		return 0;
	}
	if (!strcmp(k, "fwmark")) {
		if (parse_uint(v, UINT32_MAX, &x))
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
		if (parse_uint(v, 65535, &x))
			return -EPROTO;
		p->keepalive = (uint16_t)x;
	} else if (!strcmp(k, "allowed_ip")) {
		if (nn_wg_allowedip_parse(v, &a))
			return -EPROTO;
		err = nn_wg_peer_add_allowedip(p, &a);
		if (err)
			return err;
	} else if (!strcmp(k, "last_handshake_time_sec")) {
		if (parse_uint(v, INT64_MAX, &x))
			return -EPROTO;
		p->last_handshake_sec = (int64_t)x;
	} else if (!strcmp(k, "last_handshake_time_nsec")) {
		if (parse_uint(v, INT64_MAX, &x))
			return -EPROTO;
		p->last_handshake_nsec = (int64_t)x;
	} else if (!strcmp(k, "rx_bytes")) {
		if (parse_uint(v, UINT64_MAX, &x))
			return -EPROTO;
		p->rx_bytes = x;
	} else if (!strcmp(k, "tx_bytes")) {
		if (parse_uint(v, UINT64_MAX, &x))
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
