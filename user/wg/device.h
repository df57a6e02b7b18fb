/* SPDX-License-Identifier: GPL-2.0 */
/*
 * device.h - one WireGuard device as both backends see it: the userspace
 * API (uapi.h, wireguard-go's key=value socket) and the kernel's generic
 * netlink family (genl.h). backend.h picks one of them per interface.
 *
 * One struct describes both what a get returns and what a set applies (like
 * wireguard-tools' containers.h): on a get every field is filled in; on a set
 * only what the flags say is written. Keys are 32 raw bytes here; the UAPI
 * socket carries them as hex, netlink as bytes, snapshots and logs as base64.
 */
#ifndef NANAMI_WG_DEVICE_H
#define NANAMI_WG_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lib/base64.h"

/* A get refuses a device with more peers than this: 2x the default device
 * cap, room for strays. */
#define NN_WG_MAX_PEERS_DEFAULT 262144

struct nn_wg_allowedip {
	uint8_t family;	  /* AF_INET or AF_INET6 */
	uint8_t cidr;	  /* in the family's own bits: /32 is IPv4 */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, rest zero */
};

/* sa.sa_family == AF_UNSPEC: no endpoint. */
union nn_wg_endpoint {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* Peer flags: what a set writes for this peer. */
#define NN_WG_PEER_REMOVE (1u << 0)		/* remove=true, nothing else */
#define NN_WG_PEER_REPLACE_ALLOWEDIPS (1u << 1) /* replace_allowed_ips=true */
#define NN_WG_PEER_UPDATE_ONLY (1u << 2)	/* update_only=true */
#define NN_WG_PEER_HAS_ENDPOINT (1u << 3)	/* endpoint= */
#define NN_WG_PEER_HAS_KEEPALIVE (1u << 4)	/* persistent_keepalive_interval= */

struct nn_wg_peer {
	uint8_t public_key[NN_KEY_LEN];
	uint32_t flags; /* NN_WG_PEER_*; a get sets HAS_ENDPOINT
					 * when the daemon reported one */
	union nn_wg_endpoint endpoint;
	uint16_t keepalive; /* seconds, 0 = off */
	/* get only */
	int64_t last_handshake_sec; /* 0 = never */
	int64_t last_handshake_nsec;
	uint64_t rx_bytes;
	uint64_t tx_bytes;

	struct nn_wg_allowedip *allowed_ips;
	size_t n_allowed_ips;
	size_t cap_allowed_ips;
};

/* Device flags: what a set writes for the device. */
#define NN_WG_DEV_HAS_PRIVATE_KEY (1u << 0)
#define NN_WG_DEV_HAS_LISTEN_PORT (1u << 1)
#define NN_WG_DEV_REPLACE_PEERS (1u << 2)

struct nn_wg_device {
	uint32_t flags; /* a get sets HAS_PRIVATE_KEY when the
					 * device has one, and HAS_LISTEN_PORT */
	uint8_t private_key[NN_KEY_LEN];
	uint8_t public_key[NN_KEY_LEN]; /* get only: derived from the
						 * private key (all zero without) */
	uint16_t listen_port;
	uint32_t fwmark; /* get only */

	struct nn_wg_peer *peers;
	size_t n_peers;
	size_t cap_peers;
};

void nn_wg_device_free(struct nn_wg_device *dev);

/* Append a zeroed peer with @key / an allowed IP; NULL / -ENOMEM. */
struct nn_wg_peer *nn_wg_device_add_peer(struct nn_wg_device *dev, const uint8_t key[NN_KEY_LEN]);
int nn_wg_peer_add_allowedip(struct nn_wg_peer *p, const struct nn_wg_allowedip *a);

/* "fd00::1/128", "10.0.0.1/32"; host bits beyond the length are cleared
 * (the daemon reports prefixes masked). -EINVAL for anything else. */
int nn_wg_allowedip_parse(const char *s, struct nn_wg_allowedip *out);
const char *nn_wg_allowedip_format(const struct nn_wg_allowedip *a, char *buf, size_t len);
bool nn_wg_allowedip_equal(const struct nn_wg_allowedip *a, const struct nn_wg_allowedip *b);

/* "[v6]:port" or "a.b.c.d:port", literal addresses only. */
int nn_wg_endpoint_parse(const char *s, union nn_wg_endpoint *out);
const char *nn_wg_endpoint_format(const union nn_wg_endpoint *e, char *buf, size_t len);
/* Same family, address and port (an IPv6 scope id is ignored). */
bool nn_wg_endpoint_equal(const union nn_wg_endpoint *a, const union nn_wg_endpoint *b);

/* X25519 public key of a private key (OpenSSL). 0 or -EINVAL. */
int nn_wg_public_key(const uint8_t priv[NN_KEY_LEN], uint8_t pub[NN_KEY_LEN]);
/* A fresh clamped private key (OpenSSL EVP X25519 keygen). 0 or -EIO. */
int nn_wg_generate_private_key(uint8_t priv[NN_KEY_LEN]);

/* Decimal digits only, at most @max. 0 or -EINVAL. */
int nn_wg_parse_uint(const char *s, unsigned long long max, unsigned long long *out);
bool nn_wg_key_is_zero(const uint8_t key[NN_KEY_LEN]);

#endif /* NANAMI_WG_DEVICE_H */
