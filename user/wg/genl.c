// SPDX-License-Identifier: GPL-2.0
/*
 * genl.c - the kernel WireGuard backend over generic netlink (see genl.h).
 *
 * Every attribute the kernel sends is checked for its size before it is
 * read, so a reply from a kernel newer or odder than the header we built
 * against is refused (-EPROTO) or its unknown attributes skipped, never
 * misread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>

#include "lib/addr.h"
#include "lib/nl.h"
#include "wg/genl.h"

_Static_assert(WG_KEY_LEN == NN_KEY_LEN, "WireGuard key length");

int nn_wg_genl_init(struct nn_wg_genl *g, const char *iface)
{
	size_t n = iface ? strlen(iface) : 0;

	memset(g, 0, sizeof(*g));
	if (!n || n >= IFNAMSIZ || strchr(iface, '/'))
		return -EINVAL;
	memcpy(g->iface, iface, n + 1);
	g->msg_max = NN_WG_GENL_MSG_MAX_DEFAULT;
	g->max_peers = NN_WG_MAX_PEERS_DEFAULT;
	return 0;
}

static struct nlmsghdr *genl_start(void *buf, uint16_t type, uint16_t flags, uint8_t cmd,
				   uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *gh;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
	gh->cmd = cmd;
	gh->version = version;
	return nlh;
}

/* ---- the family id ---- */

static int family_attr_cb(const struct nlattr *a, void *data)
{
	uint16_t *id = data;

	if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID) {
		if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		*id = mnl_attr_get_u16(a);
	}
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct genlmsghdr) ||
	    mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, data) < 0) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* -ENOENT when no module registered the family. */
static int family_id(struct mnl_socket *nl, uint16_t *id)
{
	char buf[NN_WG_GENL_MSG_MIN];
	struct nlmsghdr *nlh;
	int err;

	*id = 0;
	nlh = genl_start(buf, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	err = nn_nl_talk(nl, nlh, family_cb, id);
	if (!err && !*id)
		err = -EPROTO;
	return err;
}

static int open_family(struct mnl_socket **nl, uint16_t *id)
{
	int err;

	*nl = nn_nl_open(NETLINK_GENERIC);
	if (!*nl)
		return -errno;
	err = family_id(*nl, id);
	if (err) {
		mnl_socket_close(*nl);
		*nl = NULL;
	}
	return err;
}

/* ---- set: building and splitting ---- */

/* Where a build stands: peer @peer, its AllowedIPs from @aip on. */
struct cursor {
	size_t peer, aip;
};

enum part { PART_NONE, PART_SOME, PART_ALL };

static bool put_aip(struct nlmsghdr *nlh, size_t max, const struct nn_wg_allowedip *a)
{
	struct nlattr *n = mnl_attr_nest_start_check(nlh, max, 0);

	if (!n)
		return false;
	if (!mnl_attr_put_u16_check(nlh, max, WGALLOWEDIP_A_FAMILY, a->family) ||
	    !mnl_attr_put_check(nlh, max, WGALLOWEDIP_A_IPADDR, a->family == AF_INET ? 4 : 16,
				a->addr) ||
	    !mnl_attr_put_u8_check(nlh, max, WGALLOWEDIP_A_CIDR_MASK, a->cidr)) {
		mnl_attr_nest_cancel(nlh, n);
		return false;
	}
	mnl_attr_nest_end(nlh, n);
	return true;
}

/*
 * As much of peer @p from AllowedIP @c->aip on as fits. A first part
 * (aip 0) carries the whole peer header; a continuation only the key, the
 * flags that must hold for every part, and more AllowedIPs. A part that
 * would carry no AllowedIP while the peer still has some is not written.
 */
static enum part put_peer(struct nlmsghdr *nlh, size_t max, const struct nn_wg_peer *p,
			  struct cursor *c)
{
	bool first = c->aip == 0;
	struct nlattr *pn, *an;
	uint32_t flags = 0;
	size_t j = c->aip;

	pn = mnl_attr_nest_start_check(nlh, max, 0);
	if (!pn)
		return PART_NONE;
	if (!mnl_attr_put_check(nlh, max, WGPEER_A_PUBLIC_KEY, NN_KEY_LEN, p->public_key))
		goto cancel;
	if (p->flags & NN_WG_PEER_REMOVE)
		flags |= WGPEER_F_REMOVE_ME;
	if (p->flags & NN_WG_PEER_UPDATE_ONLY)
		flags |= WGPEER_F_UPDATE_ONLY;
	if (first && (p->flags & NN_WG_PEER_REPLACE_ALLOWEDIPS))
		flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
	if (flags && !mnl_attr_put_u32_check(nlh, max, WGPEER_A_FLAGS, flags))
		goto cancel;
	if (p->flags & NN_WG_PEER_REMOVE) {
		/* remove=true, nothing else (as the UAPI writer does). */
		mnl_attr_nest_end(nlh, pn);
		return PART_ALL;
	}
	if (first && (p->flags & NN_WG_PEER_HAS_ENDPOINT)) {
		size_t len = p->endpoint.sa.sa_family == AF_INET6 ? sizeof(p->endpoint.in6) :
								    sizeof(p->endpoint.in);

		if (!mnl_attr_put_check(nlh, max, WGPEER_A_ENDPOINT, len, &p->endpoint))
			goto cancel;
	}
	if (first && (p->flags & NN_WG_PEER_HAS_KEEPALIVE) &&
	    !mnl_attr_put_u16_check(nlh, max, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p->keepalive))
		goto cancel;
	if (j < p->n_allowed_ips) {
		an = mnl_attr_nest_start_check(nlh, max, WGPEER_A_ALLOWEDIPS);
		if (!an)
			goto cancel;
		while (j < p->n_allowed_ips && put_aip(nlh, max, &p->allowed_ips[j]))
			j++;
		if (j == c->aip)
			goto cancel;
		mnl_attr_nest_end(nlh, an);
	}
	mnl_attr_nest_end(nlh, pn);
	if (j < p->n_allowed_ips) {
		c->aip = j;
		return PART_SOME;
	}
	return PART_ALL;
cancel:
	mnl_attr_nest_cancel(nlh, pn);
	return PART_NONE;
}

static int check_aips(const struct nn_wg_device *dev)
{
	size_t i, j;

	for (i = 0; i < dev->n_peers; i++)
		for (j = 0; j < dev->peers[i].n_allowed_ips; j++) {
			const struct nn_wg_allowedip *a = &dev->peers[i].allowed_ips[j];

			if ((a->family != AF_INET && a->family != AF_INET6) ||
			    a->cidr > (a->family == AF_INET ? 32 : 128))
				return -EINVAL;
		}
	return 0;
}

int nn_wg_genl_build_set(const char *iface, uint16_t family, const struct nn_wg_device *dev,
			 size_t msg_max, void *buf, nn_wg_genl_emit_fn emit, void *ctx)
{
	struct cursor c = { 0, 0 };
	bool first = true;
	struct nlmsghdr *nlh;
	struct nlattr *peers;
	enum part r;
	size_t before;
	int err;

	if (msg_max < NN_WG_GENL_MSG_MIN || strlen(iface) >= IFNAMSIZ)
		return -EINVAL;
	err = check_aips(dev);
	if (err)
		return err;
	do {
		nlh = genl_start(buf, family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE,
				 WG_GENL_VERSION);
		mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, iface);
		if (first) {
			if (dev->flags & NN_WG_DEV_HAS_PRIVATE_KEY)
				mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, NN_KEY_LEN,
					     dev->private_key);
			if (dev->flags & NN_WG_DEV_HAS_LISTEN_PORT)
				mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, dev->listen_port);
			if (dev->flags & NN_WG_DEV_REPLACE_PEERS)
				mnl_attr_put_u32(nlh, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
		}
		if (c.peer < dev->n_peers) {
			peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
			before = c.peer;
			r = PART_ALL;
			while (c.peer < dev->n_peers && r == PART_ALL) {
				size_t aip0 = c.aip;

				r = put_peer(nlh, msg_max, &dev->peers[c.peer], &c);
				if (r == PART_ALL) {
					c.peer++;
					c.aip = 0;
				} else if (r == PART_SOME) {
					break;
				} else if (c.peer == before && c.aip == aip0 && !first) {
					/* Not even one part fits an empty message:
					 * cannot happen above NN_WG_GENL_MSG_MIN. */
					explicit_bzero(buf, msg_max);
					return -EMSGSIZE;
				}
			}
			mnl_attr_nest_end(nlh, peers);
		}
		err = emit(nlh, ctx);
		/* The first message may hold the private key. */
		explicit_bzero(buf, nlh->nlmsg_len);
		if (err)
			return err;
		first = false;
	} while (c.peer < dev->n_peers);
	return 0;
}

struct send_ctx {
	struct mnl_socket *nl;
	unsigned int n;
};

static int send_one(struct nlmsghdr *nlh, void *ctx)
{
	struct send_ctx *s = ctx;
	int err = nn_nl_talk(s->nl, nlh, NULL, NULL);

	if (!err)
		s->n++;
	return err;
}

int nn_wg_genl_set(const struct nn_wg_genl *g, const struct nn_wg_device *dev, unsigned int *n_msgs)
{
	size_t max = g->msg_max ? g->msg_max : NN_WG_GENL_MSG_MAX_DEFAULT;
	struct send_ctx s = { NULL, 0 };
	uint16_t id;
	void *buf;
	int err;

	if (n_msgs)
		*n_msgs = 0;
	buf = calloc(1, max);
	if (!buf)
		return -ENOMEM;
	err = open_family(&s.nl, &id);
	if (!err) {
		err = nn_wg_genl_build_set(g->iface, id, dev, max, buf, send_one, &s);
		mnl_socket_close(s.nl);
	}
	free(buf);
	if (n_msgs)
		*n_msgs = s.n;
	return err;
}

/* ---- get: parsing ---- */

struct peer_parse {
	struct nn_wg_peer p; /* allowed_ips owned here until moved */
	bool has_key;
	int err;
};

struct aip_parse {
	struct nn_wg_allowedip ip;
	uint16_t alen; /* bytes of WGALLOWEDIP_A_IPADDR, 0 when absent */
	bool has_cidr;
};

static int aip_attr_cb(const struct nlattr *a, void *data)
{
	struct aip_parse *ap = data;
	uint16_t len = mnl_attr_get_payload_len(a);

	switch (mnl_attr_get_type(a)) {
	case WGALLOWEDIP_A_FAMILY:
		if (mnl_attr_validate(a, MNL_TYPE_U16) < 0 ||
		    (mnl_attr_get_u16(a) != AF_INET && mnl_attr_get_u16(a) != AF_INET6))
			return MNL_CB_ERROR;
		ap->ip.family = (uint8_t)mnl_attr_get_u16(a);
		break;
	case WGALLOWEDIP_A_IPADDR:
		if (len != 4 && len != 16)
			return MNL_CB_ERROR;
		memset(ap->ip.addr, 0, sizeof(ap->ip.addr));
		memcpy(ap->ip.addr, mnl_attr_get_payload(a), len);
		ap->alen = len;
		break;
	case WGALLOWEDIP_A_CIDR_MASK:
		if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
			return MNL_CB_ERROR;
		ap->ip.cidr = mnl_attr_get_u8(a);
		ap->has_cidr = true;
		break;
	}
	return MNL_CB_OK;
}

/* One AllowedIP: a family, an address of the family's size, a prefix
 * length within it; host bits cleared as the UAPI reader does. */
static int aips_cb(const struct nlattr *a, void *data)
{
	struct peer_parse *pp = data;
	struct aip_parse ap = {};
	int err;

	if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0 ||
	    mnl_attr_parse_nested(a, aip_attr_cb, &ap) < 0 || !ap.has_cidr)
		return MNL_CB_ERROR;
	if (!((ap.ip.family == AF_INET && ap.alen == 4 && ap.ip.cidr <= 32) ||
	      (ap.ip.family == AF_INET6 && ap.alen == 16 && ap.ip.cidr <= 128)))
		return MNL_CB_ERROR;
	nn_addr_mask(ap.ip.addr, ap.ip.addr, ap.alen, ap.ip.cidr);
	err = nn_wg_peer_add_allowedip(&pp->p, &ap.ip);
	if (err) {
		pp->err = err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int peer_attr_cb(const struct nlattr *a, void *data)
{
	struct peer_parse *pp = data;
	struct nn_wg_peer *p = &pp->p;
	uint16_t len = mnl_attr_get_payload_len(a);
	struct __kernel_timespec ts;

	switch (mnl_attr_get_type(a)) {
	case WGPEER_A_PUBLIC_KEY:
		if (len != NN_KEY_LEN)
			return MNL_CB_ERROR;
		memcpy(p->public_key, mnl_attr_get_payload(a), NN_KEY_LEN);
		pp->has_key = true;
		break;
	case WGPEER_A_ENDPOINT: {
		const struct sockaddr *sa = mnl_attr_get_payload(a);

		if (len < sizeof(sa_family_t))
			return MNL_CB_ERROR;
		if (sa->sa_family == AF_INET && len == sizeof(p->endpoint.in))
			memcpy(&p->endpoint.in, sa, len);
		else if (sa->sa_family == AF_INET6 && len == sizeof(p->endpoint.in6))
			memcpy(&p->endpoint.in6, sa, len);
		else
			return MNL_CB_ERROR;
		p->flags |= NN_WG_PEER_HAS_ENDPOINT;
		break;
	}
	case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
		if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		p->keepalive = mnl_attr_get_u16(a);
		break;
	case WGPEER_A_LAST_HANDSHAKE_TIME:
		if (len != sizeof(ts))
			return MNL_CB_ERROR;
		memcpy(&ts, mnl_attr_get_payload(a), sizeof(ts));
		if (ts.tv_sec < 0 || ts.tv_nsec < 0)
			return MNL_CB_ERROR;
		p->last_handshake_sec = ts.tv_sec;
		p->last_handshake_nsec = ts.tv_nsec;
		break;
	case WGPEER_A_RX_BYTES:
		if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
			return MNL_CB_ERROR;
		p->rx_bytes = mnl_attr_get_u64(a);
		break;
	case WGPEER_A_TX_BYTES:
		if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
			return MNL_CB_ERROR;
		p->tx_bytes = mnl_attr_get_u64(a);
		break;
	case WGPEER_A_ALLOWEDIPS:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			return MNL_CB_ERROR;
		return mnl_attr_parse_nested(a, aips_cb, pp);
	}
	/* The preshared key, protocol version and anything newer: not ours. */
	return MNL_CB_OK;
}

struct dev_parse {
	struct nn_wg_device *dev;
	size_t max_peers;
	unsigned int peers_in_msg; /* peer parts seen in this message */
	int err;
};

/* Move one peer part into the device: a new peer, or more AllowedIPs of
 * the last one when the kernel continued it from the previous message. */
static int peer_take(struct dev_parse *dp, struct peer_parse *pp)
{
	struct nn_wg_device *dev = dp->dev;
	struct nn_wg_peer *last = dev->n_peers ? &dev->peers[dev->n_peers - 1] : NULL;
	struct nn_wg_peer *np;
	size_t j;
	int err;

	if (last && dp->peers_in_msg == 1 &&
	    !memcmp(last->public_key, pp->p.public_key, NN_KEY_LEN)) {
		for (j = 0; j < pp->p.n_allowed_ips; j++) {
			err = nn_wg_peer_add_allowedip(last, &pp->p.allowed_ips[j]);
			if (err)
				return err;
		}
		free(pp->p.allowed_ips);
		return 0;
	}
	if (dev->n_peers >= dp->max_peers)
		return -EMSGSIZE;
	np = nn_wg_device_add_peer(dev, pp->p.public_key);
	if (!np)
		return -ENOMEM;
	*np = pp->p; /* takes allowed_ips */
	return 0;
}

static int peers_cb(const struct nlattr *a, void *data)
{
	struct dev_parse *dp = data;
	struct peer_parse pp = {};
	int err;

	dp->peers_in_msg++;
	if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0 ||
	    mnl_attr_parse_nested(a, peer_attr_cb, &pp) < 0 || !pp.has_key) {
		err = pp.err ? pp.err : -EPROTO;
		goto fail;
	}
	err = peer_take(dp, &pp);
	if (err)
		goto fail;
	return MNL_CB_OK;
fail:
	free(pp.p.allowed_ips);
	dp->err = err;
	return MNL_CB_ERROR;
}

static int dev_attr_cb(const struct nlattr *a, void *data)
{
	struct dev_parse *dp = data;
	struct nn_wg_device *dev = dp->dev;
	uint16_t len = mnl_attr_get_payload_len(a);

	switch (mnl_attr_get_type(a)) {
	case WGDEVICE_A_PRIVATE_KEY:
		if (len != NN_KEY_LEN)
			return MNL_CB_ERROR;
		memcpy(dev->private_key, mnl_attr_get_payload(a), NN_KEY_LEN);
		if (!nn_wg_key_is_zero(dev->private_key))
			dev->flags |= NN_WG_DEV_HAS_PRIVATE_KEY;
		break;
	case WGDEVICE_A_PUBLIC_KEY:
		if (len != NN_KEY_LEN)
			return MNL_CB_ERROR;
		memcpy(dev->public_key, mnl_attr_get_payload(a), NN_KEY_LEN);
		break;
	case WGDEVICE_A_LISTEN_PORT:
		if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		dev->listen_port = mnl_attr_get_u16(a);
		dev->flags |= NN_WG_DEV_HAS_LISTEN_PORT;
		break;
	case WGDEVICE_A_FWMARK:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		dev->fwmark = mnl_attr_get_u32(a);
		break;
	case WGDEVICE_A_PEERS:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			return MNL_CB_ERROR;
		return mnl_attr_parse_nested(a, peers_cb, dp);
	}
	return MNL_CB_OK;
}

int nn_wg_genl_parse_msg(const struct nlmsghdr *nlh, struct nn_wg_device *dev, size_t max_peers)
{
	struct dev_parse dp = { dev, max_peers ? max_peers : NN_WG_MAX_PEERS_DEFAULT, 0, 0 };
	const struct genlmsghdr *gh = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*gh) || gh->cmd != WG_CMD_GET_DEVICE)
		return -EPROTO;
	if (mnl_attr_parse(nlh, sizeof(*gh), dev_attr_cb, &dp) < 0)
		return dp.err ? dp.err : -EPROTO;
	return 0;
}

struct nlmsghdr *nn_wg_genl_build_get(const char *iface, uint16_t family, void *buf)
{
	struct nlmsghdr *nlh = genl_start(buf, family, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
					  WG_CMD_GET_DEVICE, WG_GENL_VERSION);

	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, iface);
	return nlh;
}

struct get_ctx {
	const struct nn_wg_genl *g;
	struct nn_wg_device *dev;
};

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct get_ctx *gc = data;
	int err = nn_wg_genl_parse_msg(nlh, gc->dev, gc->g->max_peers);

	if (err) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int nn_wg_genl_get(const struct nn_wg_genl *g, struct nn_wg_device *dev)
{
	struct get_ctx gc = { g, dev };
	char buf[NN_WG_GENL_MSG_MIN];
	struct mnl_socket *nl;
	int err, tries = 0;
	uint16_t id;

	memset(dev, 0, sizeof(*dev));
	/* An interrupted dump leaves its later parts queued on the socket and
	 * the kernel busy with it: each try gets a fresh socket. */
	do {
		nn_wg_device_free(dev);
		err = open_family(&nl, &id);
		if (err)
			return err;
		err = nn_nl_talk(nl, nn_wg_genl_build_get(g->iface, id, buf), get_cb, &gc);
		mnl_socket_close(nl);
	} while (err == -EINTR && ++tries < NN_WG_GENL_DUMP_RETRIES);
	if (err)
		nn_wg_device_free(dev);
	return err;
}
