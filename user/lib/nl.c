// SPDX-License-Identifier: GPL-2.0
/*
 * nl.c - the netlink request/answer loop (see nl.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/netlink.h>

#include "lib/nl.h"

struct mnl_socket *nn_nl_open(int bus)
{
	struct timeval tv = { .tv_sec = NN_NL_TIMEOUT_MS / 1000,
			      .tv_usec = (NN_NL_TIMEOUT_MS % 1000) * 1000 };
	struct mnl_socket *nl;
	int err, one = 1;

	nl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	/* The kernel answers inline with the request, so a reply that does
	 * not come is a kernel bug; bound the wait anyway. */
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		goto fail;
	/* Extended acks are optional (4.12+); a kernel without them is fine. */
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	return nl;
fail:
	err = errno;
	mnl_socket_close(nl);
	errno = err;
	return NULL;
}

/* Refuse an interrupted dump here rather than trusting every callback to. */
struct guard {
	mnl_cb_t cb;
	void *data;
};

static int guard_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct guard *g = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
		errno = EINTR;
		return MNL_CB_ERROR;
	}
	return g->cb ? g->cb(nlh, g->data) : MNL_CB_OK;
}

/* NLMSG_DONE carries the dump's own error (an int) when its dumpit failed
 * after the first part; libmnl's default handler would take it for success. */
static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
		int e = *(const int *)mnl_nlmsg_get_payload(nlh);

		if (e < 0) {
			errno = -e;
			return MNL_CB_ERROR;
		}
	}
	return MNL_CB_STOP;
}

/* An ack (error 0) ends the exchange; anything else is the kernel's error. */
static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	if (!e->error)
		return MNL_CB_STOP;
	errno = e->error < 0 ? -e->error : e->error;
	return MNL_CB_ERROR;
}

int nn_nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = error_cb,
		[NLMSG_DONE] = done_cb,
	};
	struct guard g = { cb, data };
	unsigned int portid = mnl_socket_get_portid(nl);
	uint32_t seq = (uint32_t)time(NULL) ^ (uint32_t)random();
	char *buf;
	ssize_t n;
	int r, err = 0;

	nlh->nlmsg_seq = seq;
	buf = malloc(NN_NL_RECV_SIZE);
	if (!buf)
		return -ENOMEM;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, NN_NL_RECV_SIZE);
		if (n < 0) {
			err = errno == EAGAIN ? -ETIMEDOUT : errno == ENOSPC ? -EMSGSIZE : -errno;
			break;
		}
		errno = 0;
		r = mnl_cb_run2(buf, (size_t)n, seq, portid, guard_cb, &g, ctl, NLMSG_MIN_TYPE);
		if (r == MNL_CB_STOP)
			break;
		if (r < 0) {
			err = errno ? -errno : -EPROTO;
			break;
		}
	}
out:
	free(buf);
	return err;
}
