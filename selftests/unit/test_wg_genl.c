// SPDX-License-Identifier: GPL-2.0
/*
 * test_wg_genl.c - the kernel WireGuard backend's pure parts (wg/genl.h):
 * WG_CMD_SET_DEVICE messages as built and split, and WG_CMD_GET_DEVICE
 * replies as parsed and joined.
 *
 * The built messages are read back by a walker written here from
 * <linux/wireguard.h> and <linux/netlink.h> alone (plain struct nlattr
 * arithmetic, no libmnl), so the check does not share the builder's reading
 * of the format. What it holds the builder to is what the kernel needs
 * (drivers/net/wireguard/netlink.c): every message names the interface and
 * fits the size; device attributes only once; the parts of one peer,
 * concatenated in order, are exactly its AllowedIPs; REPLACE_ALLOWEDIPS,
 * endpoint and keepalive only on a peer's first part, REMOVE_ME on all.
 * Replies are built here with libmnl the way the kernel lays them out,
 * including a peer continued in the next message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>

#include "wg/genl.h"

#define FAMILY 0x1d

/* ---- an independent reader of the built messages ---- */

#define ALIGN4(x) (((x) + 3u) & ~3u)

/* Calls @fn for every attribute in [p, p+len); fails on any overrun. */
static void walk(const uint8_t *p, size_t len, void (*fn)(const struct nlattr *, void *), void *ctx)
{
	size_t off = 0;

	while (off < len) {
		const struct nlattr *a = (const void *)(p + off);

		assert_true(len - off >= sizeof(*a));
		assert_true(a->nla_len >= sizeof(*a));
		assert_true(a->nla_len <= len - off);
		fn(a, ctx);
		off += ALIGN4(a->nla_len);
	}
}

static const uint8_t *pl(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

static size_t pl_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

/* Everything the messages said, in order. */
struct seen_aip {
	uint16_t family;
	uint8_t addr[16];
	uint8_t cidr;
};

struct seen_part {
	uint8_t key[32];
	uint32_t flags;
	bool has_flags, has_endpoint, has_keepalive;
	uint16_t keepalive;
	size_t endpoint_len;
	struct seen_aip aips[512];
	size_t n_aips;
};

struct seen {
	size_t max;
	unsigned int msgs;
	unsigned int dev_attr_msgs; /* messages with a device attribute */
	bool has_private_key, has_port, has_dev_flags;
	uint8_t private_key[32];
	uint16_t port;
	uint32_t dev_flags;
	struct seen_part *parts;
	size_t n_parts, cap_parts;
	bool msg_has_ifname;
	bool msg_has_dev_attr;
	int fail_at;		   /* emit returns -EIO at this message (1-based), 0 never */
	size_t last_len, min_full; /* shortest message that had a successor */
	size_t total;
};

static void aip_attr(const struct nlattr *a, void *ctx)
{
	struct seen_aip *s = ctx;

	switch (a->nla_type & NLA_TYPE_MASK) {
	case WGALLOWEDIP_A_FAMILY:
		assert_int_equal(pl_len(a), 2);
		memcpy(&s->family, pl(a), 2);
		break;
	case WGALLOWEDIP_A_IPADDR:
		assert_true(pl_len(a) == 4 || pl_len(a) == 16);
		memcpy(s->addr, pl(a), pl_len(a));
		break;
	case WGALLOWEDIP_A_CIDR_MASK:
		assert_int_equal(pl_len(a), 1);
		s->cidr = pl(a)[0];
		break;
	default:
		fail_msg("unexpected AllowedIP attribute %u", a->nla_type);
	}
}

static void aips_attr(const struct nlattr *a, void *ctx)
{
	struct seen_part *p = ctx;

	assert_true(p->n_aips < 512);
	memset(&p->aips[p->n_aips], 0, sizeof(p->aips[0]));
	walk(pl(a), pl_len(a), aip_attr, &p->aips[p->n_aips]);
	p->n_aips++;
}

static void peer_attr(const struct nlattr *a, void *ctx)
{
	struct seen_part *p = ctx;

	switch (a->nla_type & NLA_TYPE_MASK) {
	case WGPEER_A_PUBLIC_KEY:
		assert_int_equal(pl_len(a), 32);
		memcpy(p->key, pl(a), 32);
		break;
	case WGPEER_A_FLAGS:
		assert_int_equal(pl_len(a), 4);
		memcpy(&p->flags, pl(a), 4);
		p->has_flags = true;
		break;
	case WGPEER_A_ENDPOINT:
		p->has_endpoint = true;
		p->endpoint_len = pl_len(a);
		break;
	case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
		assert_int_equal(pl_len(a), 2);
		memcpy(&p->keepalive, pl(a), 2);
		p->has_keepalive = true;
		break;
	case WGPEER_A_ALLOWEDIPS:
		walk(pl(a), pl_len(a), aips_attr, p);
		break;
	default:
		fail_msg("unexpected peer attribute %u", a->nla_type);
	}
}

static void peers_attr(const struct nlattr *a, void *ctx)
{
	struct seen *s = ctx;
	struct seen_part *p;

	if (s->n_parts == s->cap_parts) {
		s->cap_parts = s->cap_parts ? 2 * s->cap_parts : 64;
		s->parts = realloc(s->parts, s->cap_parts * sizeof(*s->parts));
		assert_non_null(s->parts);
	}
	p = &s->parts[s->n_parts++];
	memset(p, 0, sizeof(*p));
	walk(pl(a), pl_len(a), peer_attr, p);
}

static void dev_attr(const struct nlattr *a, void *ctx)
{
	struct seen *s = ctx;

	switch (a->nla_type & NLA_TYPE_MASK) {
	case WGDEVICE_A_IFNAME:
		assert_string_equal((const char *)pl(a), "wg0");
		s->msg_has_ifname = true;
		break;
	case WGDEVICE_A_PRIVATE_KEY:
		assert_int_equal(pl_len(a), 32);
		memcpy(s->private_key, pl(a), 32);
		s->has_private_key = s->msg_has_dev_attr = true;
		break;
	case WGDEVICE_A_LISTEN_PORT:
		assert_int_equal(pl_len(a), 2);
		memcpy(&s->port, pl(a), 2);
		s->has_port = s->msg_has_dev_attr = true;
		break;
	case WGDEVICE_A_FLAGS:
		assert_int_equal(pl_len(a), 4);
		memcpy(&s->dev_flags, pl(a), 4);
		s->has_dev_flags = s->msg_has_dev_attr = true;
		break;
	case WGDEVICE_A_PEERS:
		walk(pl(a), pl_len(a), peers_attr, s);
		break;
	default:
		fail_msg("unexpected device attribute %u", a->nla_type);
	}
}

static int record(struct nlmsghdr *nlh, void *ctx)
{
	struct seen *s = ctx;
	const struct genlmsghdr *gh = (const void *)((const uint8_t *)nlh + NLMSG_HDRLEN);

	s->msgs++;
	if (s->fail_at && (int)s->msgs == s->fail_at)
		return -EIO;
	assert_true(nlh->nlmsg_len <= s->max);
	if (s->msgs > 1 && (!s->min_full || s->last_len < s->min_full))
		s->min_full = s->last_len;
	s->last_len = nlh->nlmsg_len;
	s->total += nlh->nlmsg_len;
	assert_int_equal(nlh->nlmsg_type, FAMILY);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	assert_int_equal(gh->cmd, WG_CMD_SET_DEVICE);
	assert_int_equal(gh->version, WG_GENL_VERSION);
	s->msg_has_ifname = s->msg_has_dev_attr = false;
	walk((const uint8_t *)gh + GENL_HDRLEN, nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN,
	     dev_attr, s);
	assert_true(s->msg_has_ifname);
	if (s->msg_has_dev_attr)
		s->dev_attr_msgs++;
	return 0;
}

static int build(const struct nn_wg_device *dev, size_t max, struct seen *s)
{
	void *buf = calloc(1, max);
	int err;

	assert_non_null(buf);
	s->max = max;
	err = nn_wg_genl_build_set("wg0", FAMILY, dev, max, buf, record, s);
	free(buf);
	return err;
}

/* ---- devices to build ---- */

static void key_of(uint8_t k[32], unsigned int i, uint8_t tag)
{
	memset(k, tag, 32);
	memcpy(k, &i, sizeof(i));
}

static struct nn_wg_peer *add_peer(struct nn_wg_device *d, unsigned int i, uint32_t flags,
				   size_t n_aips)
{
	struct nn_wg_allowedip a;
	struct nn_wg_peer *p;
	uint8_t k[32];
	size_t j;

	key_of(k, i, 0x5a);
	p = nn_wg_device_add_peer(d, k);
	assert_non_null(p);
	p->flags = flags;
	for (j = 0; j < n_aips; j++) {
		memset(&a, 0, sizeof(a));
		if (j % 2) {
			a.family = AF_INET;
			a.cidr = 32;
			a.addr[0] = 10;
			a.addr[1] = (uint8_t)(i >> 8);
			a.addr[2] = (uint8_t)i;
			a.addr[3] = (uint8_t)j;
		} else {
			a.family = AF_INET6;
			a.cidr = 128;
			a.addr[0] = 0xfd;
			memcpy(a.addr + 8, &i, sizeof(i));
			a.addr[15] = (uint8_t)j;
			a.addr[14] = (uint8_t)(j >> 8);
		}
		assert_int_equal(nn_wg_peer_add_allowedip(p, &a), 0);
	}
	return p;
}

/* The parts, in order, against the peers of @d: same keys in the same
 * order, each peer's AllowedIPs exactly, the first-part-only rules. */
static void check_parts(const struct nn_wg_device *d, const struct seen *s)
{
	size_t i, k = 0, m;

	for (i = 0; i < d->n_peers; i++) {
		const struct nn_wg_peer *p = &d->peers[i];
		size_t got = 0;
		bool first = true;

		do {
			const struct seen_part *sp;
			uint32_t want = 0;

			assert_true(k < s->n_parts);
			sp = &s->parts[k++];
			assert_memory_equal(sp->key, p->public_key, 32);
			if (p->flags & NN_WG_PEER_REMOVE)
				want |= WGPEER_F_REMOVE_ME;
			if (p->flags & NN_WG_PEER_UPDATE_ONLY)
				want |= WGPEER_F_UPDATE_ONLY;
			if (first && (p->flags & NN_WG_PEER_REPLACE_ALLOWEDIPS))
				want |= WGPEER_F_REPLACE_ALLOWEDIPS;
			assert_int_equal(sp->has_flags ? sp->flags : 0, want);
			assert_int_equal(sp->has_endpoint,
					 first && (p->flags & NN_WG_PEER_HAS_ENDPOINT) &&
						 !(p->flags & NN_WG_PEER_REMOVE));
			assert_int_equal(sp->has_keepalive,
					 first && (p->flags & NN_WG_PEER_HAS_KEEPALIVE) &&
						 !(p->flags & NN_WG_PEER_REMOVE));
			if (sp->has_keepalive)
				assert_int_equal(sp->keepalive, p->keepalive);
			if (sp->has_endpoint)
				assert_int_equal(sp->endpoint_len,
						 p->endpoint.sa.sa_family == AF_INET6 ? 28 : 16);
			/* A part carries AllowedIPs unless none are left. */
			if (!(p->flags & NN_WG_PEER_REMOVE) && p->n_allowed_ips)
				assert_true(sp->n_aips > 0);
			for (m = 0; m < sp->n_aips; m++) {
				const struct nn_wg_allowedip *a = &p->allowed_ips[got + m];

				assert_true(got + m < p->n_allowed_ips);
				assert_int_equal(sp->aips[m].family, a->family);
				assert_int_equal(sp->aips[m].cidr, a->cidr);
				assert_memory_equal(sp->aips[m].addr, a->addr,
						    a->family == AF_INET ? 4 : 16);
			}
			got += sp->n_aips;
			first = false;
		} while (got < p->n_allowed_ips && !(p->flags & NN_WG_PEER_REMOVE));
		assert_int_equal(got, (p->flags & NN_WG_PEER_REMOVE) ? 0 : p->n_allowed_ips);
	}
	assert_int_equal(k, s->n_parts);
}

static void test_device_only(void **state)
{
	struct nn_wg_device d = {};
	struct seen s = {};

	(void)state;
	d.flags = NN_WG_DEV_HAS_PRIVATE_KEY | NN_WG_DEV_HAS_LISTEN_PORT | NN_WG_DEV_REPLACE_PEERS;
	memset(d.private_key, 0x42, 32);
	d.listen_port = 51820;
	assert_int_equal(build(&d, NN_WG_GENL_MSG_MAX_DEFAULT, &s), 0);
	assert_int_equal(s.msgs, 1);
	assert_true(s.has_private_key && s.has_port && s.has_dev_flags);
	assert_memory_equal(s.private_key, d.private_key, 32);
	assert_int_equal(s.port, 51820);
	assert_int_equal(s.dev_flags, WGDEVICE_F_REPLACE_PEERS);
	assert_int_equal(s.n_parts, 0);
	free(s.parts);
	nn_wg_device_free(&d);
}

/* A key rotation's set (nn_wg_set_private_key): the private key alone. No
 * REPLACE_PEERS (it would remove every peer), no port, no peer. */
static void test_private_key_only(void **state)
{
	struct nn_wg_device d = { .flags = NN_WG_DEV_HAS_PRIVATE_KEY };
	struct seen s = {};

	(void)state;
	memset(d.private_key, 0x17, 32);
	assert_int_equal(build(&d, NN_WG_GENL_MSG_MAX_DEFAULT, &s), 0);
	assert_int_equal(s.msgs, 1);
	assert_true(s.has_private_key);
	assert_memory_equal(s.private_key, d.private_key, 32);
	assert_false(s.has_port || s.has_dev_flags);
	assert_int_equal(s.n_parts, 0);
	free(s.parts);
	nn_wg_device_free(&d);
}

/* Without flags: no device attribute at all (a listen port of 0 would
 * otherwise be written and pick a random port). */
static void test_no_device_attrs(void **state)
{
	struct nn_wg_device d = {};
	struct seen s = {};

	(void)state;
	add_peer(&d, 1, NN_WG_PEER_REPLACE_ALLOWEDIPS, 2);
	assert_int_equal(build(&d, NN_WG_GENL_MSG_MAX_DEFAULT, &s), 0);
	assert_int_equal(s.msgs, 1);
	assert_int_equal(s.dev_attr_msgs, 0);
	check_parts(&d, &s);
	free(s.parts);
	nn_wg_device_free(&d);
}

/* 2000 peers as reconcile adds them: several messages, all under the cap,
 * nothing lost or reordered, the device attributes once. */
static void test_large_peer_set(void **state)
{
	struct nn_wg_device d = {};
	struct seen s = {};
	unsigned int i;

	(void)state;
	d.flags = NN_WG_DEV_HAS_PRIVATE_KEY | NN_WG_DEV_HAS_LISTEN_PORT;
	memset(d.private_key, 0x11, 32);
	d.listen_port = 51820;
	for (i = 0; i < 100; i++)
		add_peer(&d, 100000 + i, NN_WG_PEER_REMOVE, 0);
	for (i = 0; i < 2000; i++) {
		struct nn_wg_peer *p = add_peer(
			&d, i, NN_WG_PEER_REPLACE_ALLOWEDIPS | NN_WG_PEER_HAS_KEEPALIVE, 2);

		p->keepalive = (uint16_t)(i % 3 ? 0 : 25);
		if (i % 2) {
			p->flags |= NN_WG_PEER_HAS_ENDPOINT;
			p->endpoint.in.sin_family = AF_INET;
			p->endpoint.in.sin_port = htons(51820);
		} else if (i % 4 == 0) {
			p->flags |= NN_WG_PEER_HAS_ENDPOINT;
			p->endpoint.in6.sin6_family = AF_INET6;
			p->endpoint.in6.sin6_port = htons(51821);
		}
	}
	assert_int_equal(build(&d, NN_WG_GENL_MSG_MAX_DEFAULT, &s), 0);
	/* Split, and every message but the last filled to within one peer
	 * (a peer here takes under 160 bytes). */
	assert_true(s.msgs > 1);
	assert_true(s.min_full > NN_WG_GENL_MSG_MAX_DEFAULT - 160);
	assert_int_equal(s.dev_attr_msgs, 1);
	assert_int_equal(s.n_parts, 2100); /* no peer split at two AllowedIPs */
	check_parts(&d, &s);
	free(s.parts);
	/* wireguard-tools' size: more messages, same content. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(build(&d, 8192, &s), 0);
	assert_true(s.min_full > 8192 - 160);
	check_parts(&d, &s);
	free(s.parts);
	nn_wg_device_free(&d);
}

/* One peer with more AllowedIPs than a message holds, between two small
 * ones: continued over several messages, replace only on the first part. */
static void test_split_allowedips(void **state)
{
	size_t sizes[] = { NN_WG_GENL_MSG_MIN, 700, 1000, 4096 };
	struct nn_wg_device d = {};
	struct nn_wg_peer *p;
	struct seen s;
	size_t i;

	(void)state;
	d.flags = NN_WG_DEV_HAS_LISTEN_PORT;
	d.listen_port = 1;
	add_peer(&d, 1, NN_WG_PEER_REPLACE_ALLOWEDIPS, 2);
	p = add_peer(&d, 2,
		     NN_WG_PEER_REPLACE_ALLOWEDIPS | NN_WG_PEER_UPDATE_ONLY |
			     NN_WG_PEER_HAS_ENDPOINT | NN_WG_PEER_HAS_KEEPALIVE,
		     300);
	p->keepalive = 25;
	p->endpoint.in6.sin6_family = AF_INET6;
	add_peer(&d, 3, NN_WG_PEER_REPLACE_ALLOWEDIPS, 1);
	add_peer(&d, 4, 0, 0);
	for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(build(&d, sizes[i], &s), 0);
		/* One AllowedIP takes 40 bytes: messages are full to within
		 * one of them, or one small peer. */
		assert_true(s.msgs >= 300 * 40 / sizes[i]);
		assert_true(s.min_full > sizes[i] - 160);
		assert_int_equal(s.dev_attr_msgs, 1);
		assert_true(s.n_parts > 4);
		check_parts(&d, &s);
		free(s.parts);
	}
	nn_wg_device_free(&d);
}

static void test_build_errors(void **state)
{
	struct nn_wg_device d = {};
	struct nn_wg_peer *p;
	struct seen s = {};

	(void)state;
	for (unsigned int i = 0; i < 50; i++)
		add_peer(&d, i, NN_WG_PEER_REPLACE_ALLOWEDIPS, 4);
	/* The first failing send stops the build and is returned. */
	s.fail_at = 2;
	assert_int_equal(build(&d, 1024, &s), -EIO);
	assert_int_equal(s.msgs, 2);
	free(s.parts);
	memset(&s, 0, sizeof(s));
	assert_int_equal(build(&d, NN_WG_GENL_MSG_MIN - 1, &s), -EINVAL);
	assert_int_equal(s.msgs, 0);
	p = &d.peers[7];
	p->allowed_ips[1].family = AF_UNIX;
	assert_int_equal(build(&d, NN_WG_GENL_MSG_MAX_DEFAULT, &s), -EINVAL);
	p->allowed_ips[1].family = AF_INET;
	p->allowed_ips[1].cidr = 33;
	assert_int_equal(build(&d, NN_WG_GENL_MSG_MAX_DEFAULT, &s), -EINVAL);
	assert_int_equal(s.msgs, 0);
	nn_wg_device_free(&d);
}

/* ---- replies, laid out as the kernel's wg_get_device_dump() does ---- */

struct reply {
	char buf[8192];
	struct nlmsghdr *nlh;
	struct nlattr *peers;
};

static void reply_start(struct reply *r, uint8_t cmd)
{
	struct genlmsghdr *gh;

	r->nlh = mnl_nlmsg_put_header(r->buf);
	r->nlh->nlmsg_type = FAMILY;
	r->nlh->nlmsg_flags = NLM_F_MULTI;
	gh = mnl_nlmsg_put_extra_header(r->nlh, sizeof(*gh));
	gh->cmd = cmd;
	gh->version = WG_GENL_VERSION;
}

static void put_aip(struct nlmsghdr *nlh, uint16_t fam, const void *addr, size_t len, uint8_t cidr)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, 0);

	mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, fam);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, len, addr);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, cidr);
	mnl_attr_nest_end(nlh, n);
}

static const uint8_t v6a[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t v6b[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
static const uint8_t v4a[4] = { 10, 0, 0, 1 };
static const uint8_t v4host[4] = { 10, 9, 8, 7 };

static void put_full_peer(struct nlmsghdr *nlh, uint8_t tag, bool with_aips)
{
	struct __kernel_timespec ts = { .tv_sec = 1700000000, .tv_nsec = 5 };
	struct sockaddr_in6 ep = { .sin6_family = AF_INET6, .sin6_port = htons(51820) };
	uint8_t k[32], psk[32] = {};
	struct nlattr *pn = mnl_attr_nest_start(nlh, 0), *an;

	memset(k, tag, 32);
	ep.sin6_addr.s6_addr[0] = 0xfe;
	ep.sin6_addr.s6_addr[1] = 0x80;
	ep.sin6_addr.s6_addr[15] = tag;
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, k);
	mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, 32, psk);
	mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), &ts);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
	mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, UINT64_MAX);
	mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 7);
	mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, 1);
	mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(ep), &ep);
	if (with_aips) {
		an = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
		put_aip(nlh, AF_INET6, v6a, 16, 128);
		put_aip(nlh, AF_INET, v4a, 4, 32);
		mnl_attr_nest_end(nlh, an);
	}
	mnl_attr_nest_end(nlh, pn);
}

static void test_parse_joined(void **state)
{
	struct nn_wg_device d = {};
	struct reply r;
	struct nlattr *pn, *an;
	uint8_t k[32], priv[32], pub[32];

	(void)state;
	/* Message 1: the device, peer 0x01 whole, peer 0x02 with one IP. */
	reply_start(&r, WG_CMD_GET_DEVICE);
	memset(priv, 0x33, 32);
	memset(pub, 0x44, 32);
	mnl_attr_put_u32(r.nlh, WGDEVICE_A_IFINDEX, 5);
	mnl_attr_put_strz(r.nlh, WGDEVICE_A_IFNAME, "wg0");
	mnl_attr_put(r.nlh, WGDEVICE_A_PRIVATE_KEY, 32, priv);
	mnl_attr_put(r.nlh, WGDEVICE_A_PUBLIC_KEY, 32, pub);
	mnl_attr_put_u16(r.nlh, WGDEVICE_A_LISTEN_PORT, 51820);
	mnl_attr_put_u32(r.nlh, WGDEVICE_A_FWMARK, 0x77);
	r.peers = mnl_attr_nest_start(r.nlh, WGDEVICE_A_PEERS);
	put_full_peer(r.nlh, 1, true);
	pn = mnl_attr_nest_start(r.nlh, 0);
	memset(k, 2, 32);
	mnl_attr_put(r.nlh, WGPEER_A_PUBLIC_KEY, 32, k);
	mnl_attr_put_u64(r.nlh, WGPEER_A_RX_BYTES, 99);
	an = mnl_attr_nest_start(r.nlh, WGPEER_A_ALLOWEDIPS);
	put_aip(r.nlh, AF_INET6, v6b, 16, 128);
	mnl_attr_nest_end(r.nlh, an);
	mnl_attr_nest_end(r.nlh, pn);
	mnl_attr_nest_end(r.nlh, r.peers);
	assert_int_equal(nn_wg_genl_parse_msg(r.nlh, &d, 0), 0);

	/* Message 2: peer 0x02 continued (key and IPs only), then 0x03 with
	 * none, and an IPv4 AllowedIP reported with host bits set. */
	reply_start(&r, WG_CMD_GET_DEVICE);
	mnl_attr_put_strz(r.nlh, WGDEVICE_A_IFNAME, "wg0");
	r.peers = mnl_attr_nest_start(r.nlh, WGDEVICE_A_PEERS);
	pn = mnl_attr_nest_start(r.nlh, 0);
	mnl_attr_put(r.nlh, WGPEER_A_PUBLIC_KEY, 32, k);
	an = mnl_attr_nest_start(r.nlh, WGPEER_A_ALLOWEDIPS);
	put_aip(r.nlh, AF_INET, v4host, 4, 8);
	mnl_attr_nest_end(r.nlh, an);
	mnl_attr_nest_end(r.nlh, pn);
	put_full_peer(r.nlh, 3, false);
	mnl_attr_nest_end(r.nlh, r.peers);
	assert_int_equal(nn_wg_genl_parse_msg(r.nlh, &d, 0), 0);

	assert_true(d.flags & NN_WG_DEV_HAS_PRIVATE_KEY);
	assert_memory_equal(d.private_key, priv, 32);
	assert_memory_equal(d.public_key, pub, 32);
	assert_int_equal(d.listen_port, 51820);
	assert_int_equal(d.fwmark, 0x77);
	assert_int_equal(d.n_peers, 3);

	assert_int_equal(d.peers[0].public_key[0], 1);
	assert_int_equal(d.peers[0].keepalive, 25);
	assert_int_equal(d.peers[0].last_handshake_sec, 1700000000);
	assert_int_equal(d.peers[0].last_handshake_nsec, 5);
	assert_int_equal(d.peers[0].rx_bytes, 7);
	assert_true(d.peers[0].tx_bytes == UINT64_MAX);
	assert_true(d.peers[0].flags & NN_WG_PEER_HAS_ENDPOINT);
	assert_int_equal(d.peers[0].endpoint.sa.sa_family, AF_INET6);
	assert_int_equal(ntohs(d.peers[0].endpoint.in6.sin6_port), 51820);
	assert_int_equal(d.peers[0].endpoint.in6.sin6_addr.s6_addr[15], 1);
	assert_int_equal(d.peers[0].n_allowed_ips, 2);
	assert_int_equal(d.peers[0].allowed_ips[0].family, AF_INET6);
	assert_int_equal(d.peers[0].allowed_ips[0].cidr, 128);
	assert_memory_equal(d.peers[0].allowed_ips[0].addr, v6a, 16);
	assert_int_equal(d.peers[0].allowed_ips[1].family, AF_INET);
	assert_memory_equal(d.peers[0].allowed_ips[1].addr, v4a, 4);

	/* Joined: one peer, both parts' IPs, the first part's counters. */
	assert_int_equal(d.peers[1].public_key[0], 2);
	assert_int_equal(d.peers[1].rx_bytes, 99);
	assert_false(d.peers[1].flags & NN_WG_PEER_HAS_ENDPOINT);
	assert_int_equal(d.peers[1].n_allowed_ips, 2);
	assert_memory_equal(d.peers[1].allowed_ips[0].addr, v6b, 16);
	assert_int_equal(d.peers[1].allowed_ips[1].family, AF_INET);
	assert_int_equal(d.peers[1].allowed_ips[1].cidr, 8);
	assert_int_equal(d.peers[1].allowed_ips[1].addr[0], 10);
	assert_int_equal(d.peers[1].allowed_ips[1].addr[1], 0); /* masked */

	assert_int_equal(d.peers[2].public_key[0], 3);
	assert_int_equal(d.peers[2].n_allowed_ips, 0);
	nn_wg_device_free(&d);
}

/* No private key on the device: reported as none, not as a zero key. */
static void test_parse_no_key(void **state)
{
	struct nn_wg_device d = {};
	uint8_t zero[32] = {};
	struct reply r;

	(void)state;
	reply_start(&r, WG_CMD_GET_DEVICE);
	mnl_attr_put(r.nlh, WGDEVICE_A_PRIVATE_KEY, 32, zero);
	mnl_attr_put_u16(r.nlh, WGDEVICE_A_LISTEN_PORT, 0);
	assert_int_equal(nn_wg_genl_parse_msg(r.nlh, &d, 0), 0);
	assert_false(d.flags & NN_WG_DEV_HAS_PRIVATE_KEY);
	assert_int_equal(d.n_peers, 0);
	nn_wg_device_free(&d);
}

enum bad {
	BAD_NO_KEY,
	BAD_SHORT_KEY,
	BAD_V4_CIDR,
	BAD_V4_LEN,
	BAD_V6_IN_V4,
	BAD_FAMILY,
	BAD_NO_CIDR,
	BAD_ENDPOINT,
	BAD_HANDSHAKE,
	BAD_PORT,
	BAD_PRIVATE_KEY,
	BAD_CMD,
	BAD_N,
};

static int parse_bad(enum bad b)
{
	struct __kernel_timespec ts = {};
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct nn_wg_device d = {};
	uint8_t k[32] = { 9 };
	struct nlattr *pn, *an;
	struct reply r;
	int err;

	reply_start(&r, b == BAD_CMD ? WG_CMD_SET_DEVICE : WG_CMD_GET_DEVICE);
	if (b == BAD_PORT)
		mnl_attr_put_u32(r.nlh, WGDEVICE_A_LISTEN_PORT, 1);
	if (b == BAD_PRIVATE_KEY)
		mnl_attr_put(r.nlh, WGDEVICE_A_PRIVATE_KEY, 31, k);
	r.peers = mnl_attr_nest_start(r.nlh, WGDEVICE_A_PEERS);
	pn = mnl_attr_nest_start(r.nlh, 0);
	if (b != BAD_NO_KEY)
		mnl_attr_put(r.nlh, WGPEER_A_PUBLIC_KEY, b == BAD_SHORT_KEY ? 16 : 32, k);
	if (b == BAD_ENDPOINT)
		mnl_attr_put(r.nlh, WGPEER_A_ENDPOINT, sizeof(sin) - 2, &sin);
	if (b == BAD_HANDSHAKE)
		mnl_attr_put(r.nlh, WGPEER_A_LAST_HANDSHAKE_TIME, 8, &ts);
	an = mnl_attr_nest_start(r.nlh, WGPEER_A_ALLOWEDIPS);
	switch (b) {
	case BAD_V4_CIDR:
		put_aip(r.nlh, AF_INET, v4a, 4, 33);
		break;
	case BAD_V4_LEN:
		put_aip(r.nlh, AF_INET, v4a, 3, 32);
		break;
	case BAD_V6_IN_V4:
		put_aip(r.nlh, AF_INET, v6a, 16, 32);
		break;
	case BAD_FAMILY:
		put_aip(r.nlh, AF_UNIX, v4a, 4, 32);
		break;
	case BAD_NO_CIDR: {
		struct nlattr *n = mnl_attr_nest_start(r.nlh, 0);

		mnl_attr_put_u16(r.nlh, WGALLOWEDIP_A_FAMILY, AF_INET);
		mnl_attr_put(r.nlh, WGALLOWEDIP_A_IPADDR, 4, v4a);
		mnl_attr_nest_end(r.nlh, n);
		break;
	}
	default:
		put_aip(r.nlh, AF_INET, v4a, 4, 32);
	}
	mnl_attr_nest_end(r.nlh, an);
	mnl_attr_nest_end(r.nlh, pn);
	mnl_attr_nest_end(r.nlh, r.peers);
	err = nn_wg_genl_parse_msg(r.nlh, &d, 0);
	nn_wg_device_free(&d);
	return err;
}

static void test_parse_malformed(void **state)
{
	int b;

	(void)state;
	for (b = 0; b < BAD_N; b++) {
		print_message("# malformed case %d\n", b);
		assert_int_equal(parse_bad((enum bad)b), -EPROTO);
	}
}

static void test_parse_peer_cap(void **state)
{
	struct nn_wg_device d = {};
	struct reply r;

	(void)state;
	reply_start(&r, WG_CMD_GET_DEVICE);
	r.peers = mnl_attr_nest_start(r.nlh, WGDEVICE_A_PEERS);
	put_full_peer(r.nlh, 1, true);
	put_full_peer(r.nlh, 2, true);
	put_full_peer(r.nlh, 3, true);
	mnl_attr_nest_end(r.nlh, r.peers);
	assert_int_equal(nn_wg_genl_parse_msg(r.nlh, &d, 2), -EMSGSIZE);
	nn_wg_device_free(&d);
	assert_int_equal(nn_wg_genl_parse_msg(r.nlh, &d, 3), 0);
	assert_int_equal(d.n_peers, 3);
	nn_wg_device_free(&d);
}

/* The dump request: WG_CMD_GET_DEVICE, a dump, the interface by name. */
static void test_get_request(void **state)
{
	char buf[NN_WG_GENL_MSG_MIN];
	struct nlmsghdr *nlh = nn_wg_genl_build_get("wg0", FAMILY, buf);
	const struct genlmsghdr *gh = (const void *)((const uint8_t *)nlh + NLMSG_HDRLEN);
	const struct nlattr *a = (const void *)((const uint8_t *)gh + GENL_HDRLEN);

	(void)state;
	assert_int_equal(nlh->nlmsg_type, FAMILY);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
	assert_int_equal(gh->cmd, WG_CMD_GET_DEVICE);
	assert_int_equal(a->nla_type, WGDEVICE_A_IFNAME);
	assert_string_equal((const char *)pl(a), "wg0");
	assert_int_equal(nlh->nlmsg_len, NLMSG_HDRLEN + GENL_HDRLEN + ALIGN4(a->nla_len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_only),	 cmocka_unit_test(test_private_key_only),
		cmocka_unit_test(test_no_device_attrs),	 cmocka_unit_test(test_large_peer_set),
		cmocka_unit_test(test_split_allowedips), cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_parse_joined),	 cmocka_unit_test(test_parse_no_key),
		cmocka_unit_test(test_parse_malformed),	 cmocka_unit_test(test_parse_peer_cap),
		cmocka_unit_test(test_get_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
