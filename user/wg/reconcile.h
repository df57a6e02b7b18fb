/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reconcile.h - keep wg0 exactly at the peer set a validated policy wants
 * (overlay spec "AllowedIPs rules", "Key rotation", "Emergency revocation";
 * assignments-v1.md field notes).
 *
 * Desired state from struct nn_policy:
 *   - every ACTIVE device: its public key, AllowedIPs exactly
 *     overlay_ipv6/128 (+ overlay_ipv4/32), endpoint when given, persistent
 *     keepalive when given and the device has an endpoint (else off: a
 *     roaming device keeps its NAT mapping with its own keepalive, and the
 *     gateway's would make wg0 handshake to every offline device, reconcile.c);
 *   - every ACTIVE node: its public key, overlay_ipv6/128, endpoint when
 *     given, keepalive off;
 *   - listen_port and MTU from the gateway block; the private key from
 *     <state_dir>/<iface>.key.
 * Everything else on the device is removed: peers added by hand, disabled or
 * absent ones, old keys of rotated ones.
 *
 * One reconcile = one get, then at most one set (all peer changes, private
 * key and listen port together, so a rotation removes the old key and adds
 * the new one in the same operation; the kernel backend splits a large set
 * over several messages, removals still first), then the MTU over rtnetlink
 * if it differs. When nothing differs no set is sent at all. The device is
 * reached through a backend (backend.h): wireguard-go's socket or the
 * kernel's generic netlink, with the same desired state and counters.
 *
 * "--wg none": the caller simply never calls nn_wg_open()/nn_wg_reconcile().
 */
#ifndef NANAMI_WG_RECONCILE_H
#define NANAMI_WG_RECONCILE_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>

#include "policy/policy.h"
#include "wg/backend.h"

struct nn_wg_opts {
	const char *iface;     /* "wg0" */
	enum nn_wg_mode mode;  /* UAPI, GENL, or AUTO (resolved here) */
	const char *state_dir; /* holds <iface>.key; created 0700 if missing */
	const char *key_path;  /* the key file instead of <state_dir>/<iface>.key
				* (an enrolled gateway's wg.key); NULL: that */
	const char *sockdir;   /* NULL: NN_WG_SOCK_DIR */
	int timeout_ms;	       /* UAPI: max wait for progress; 0: default */
	int total_timeout_ms;  /* UAPI: whole exchange; 0: default */
};

struct nn_wg {
	struct nn_wg_backend be;
	char iface[IFNAMSIZ];
	char key_path[PATH_MAX];
	uint8_t private_key[NN_KEY_LEN];
	uint8_t public_key[NN_KEY_LEN];
	char public_key_b64[NN_KEY_B64_SIZE]; /* for logs and status */
	bool key_created;		      /* the key file was made by nn_wg_open() */
};

/*
 * What one reconcile changed. A rotation (a peer whose desired key is new
 * while an undesired live peer holds its overlay_ipv6/128) counts only in
 * keys_rotated, not in added/removed. A peer kept but fixed counts in
 * updated (endpoint or keepalive) and/or allowed_ips_repaired.
 */
struct nn_wg_counters {
	unsigned int added;
	unsigned int removed;
	unsigned int updated;
	unsigned int allowed_ips_repaired;
	unsigned int keys_rotated;
	bool private_key_set;
	bool listen_port_set;
	bool mtu_set;
	unsigned int set_ops;	/* set operations sent: UAPI 0 or 1, genl one
				 * per message (0 when nothing differed) */
	unsigned int set_peers; /* peer sections those carried: a removal, an
				 * addition or a fix is one, a rotation two
				 * (old key removed, new one added) */
	unsigned int peers;	/* desired peers = peers on wg0 afterwards */
};

/* Total of the change counters: 0 means wg0 was already exactly right. */
unsigned int nn_wg_counters_changes(const struct nn_wg_counters *c);

/*
 * Prepare to manage @o->iface: the backend (AUTO resolved as
 * nn_wg_mode_resolve() says; NONE, or AUTO that resolves to none or fails,
 * is -EINVAL / its error, logged), and the private key from
 * <state_dir>/<iface>.key (base64, must be a regular file of mode 0600 or
 * stricter: -EPERM otherwise), created with a fresh X25519 key when missing.
 * Does not talk to the device yet. Logs event=wg_key_loaded|wg_key_created
 * with the public key.
 */
int nn_wg_open(struct nn_wg *w, const struct nn_wg_opts *o);
void nn_wg_close(struct nn_wg *w);

/*
 * Load <path> or create it (0600, written to a temporary file, fsynced,
 * linked into place so an existing key is never overwritten). *created says
 * which. Exposed for tests and tools.
 */
int nn_wg_key_file_load(const char *path, uint8_t priv[NN_KEY_LEN], bool *created);

/*
 * Bring wg0 to what @p wants. 0 with @c filled in (logs one line per peer
 * changed: event=wg_peer_added, wg_peer_removed, wg_key_rotated,
 * wg_drift_repaired what=allowed_ips,endpoint,keepalive); -errno on failure
 * with event=wg_apply_failed logged and @c zeroed, except when only the MTU
 * step failed after the set went in (then @c counts the set). After a failed
 * set the device may be partly changed; the next reconcile converges it.
 */
int nn_wg_reconcile(struct nn_wg *w, const struct nn_policy *p, struct nn_wg_counters *c);

/*
 * nn_wg_reconcile(), and on success hands over the device it read, so the
 * caller (the metrics page) needs no second full read: @after is wg0 as read
 * with this reconcile's peer changes applied to it (removed and rotated-away
 * keys gone, added and rotated-in keys present with zero counters and no
 * handshake; fixed peers keep the counters read). Counters and handshakes
 * are those of the read, before the set. Free with nn_wg_device_free();
 * zeroed on error.
 */
int nn_wg_reconcile_dev(struct nn_wg *w, const struct nn_policy *p, struct nn_wg_counters *c,
			struct nn_wg_device *after);

/*
 * A fast-path change's peers, without reading wg0: each @v[i] with a device
 * is set in full (AllowedIPs replaced, keepalive, the snapshot's endpoint),
 * each without one is removed (removing a key wg0 does not hold is a no-op
 * on both backends). One set operation; our own key is skipped. @c counts
 * wanted peers as updated (whether wg0 held them is not read) and removals
 * as removed. The drift timer's full reconcile checks the rest.
 */
struct nn_wg_peer_change {
	const uint8_t *key;
	const struct nn_device *dev; /* active device holding @key; NULL: remove */
};
int nn_wg_set_peers(struct nn_wg *w, const struct nn_wg_peer_change *v, size_t n,
		    struct nn_wg_counters *c);

/*
 * Switch wg0 to the private key @priv now (one set carrying only the key:
 * peers stay; both WireGuard implementations drop the sessions of the old
 * key) and make it the key later reconciles keep. The key file is the
 * caller's business (identity rotation). 0 or -errno; on error w keeps the
 * old key.
 */
int nn_wg_set_private_key(struct nn_wg *w, const uint8_t priv[NN_KEY_LEN]);

/* The device as it is now, through the backend (for metrics and tools);
 * free with nn_wg_device_free(). */
int nn_wg_read(const struct nn_wg *w, struct nn_wg_device *dev);

#endif /* NANAMI_WG_RECONCILE_H */
