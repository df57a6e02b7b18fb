// SPDX-License-Identifier: GPL-2.0
/*
 * device.c - what both WireGuard backends (uapi.c, genl.c) exchange: keys,
 * AllowedIPs and endpoints in and out of text, and the device/peer
 * containers (see device.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/addr.h"
#include "wg/device.h"

/* ---- keys ---- */

bool nn_wg_key_is_zero(const uint8_t key[NN_KEY_LEN])
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

int nn_wg_parse_uint(const char *s, unsigned long long max, unsigned long long *out)
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
		if (inet_pton(AF_INET6, host, out->addr) != 1 ||
		    nn_wg_parse_uint(slash + 1, 128, &cidr))
			return -EINVAL;
	} else {
		out->family = AF_INET;
		if (inet_pton(AF_INET, host, out->addr) != 1 ||
		    nn_wg_parse_uint(slash + 1, 32, &cidr))
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
	if (!colon || colon == s || nn_wg_parse_uint(colon + 1, 65535, &port) || port == 0)
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

				if (nn_wg_parse_uint(pct, UINT32_MAX, &v))
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
