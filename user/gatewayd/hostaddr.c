// SPDX-License-Identifier: GPL-2.0
/*
 * hostaddr.c - the host's addresses from rtnetlink (libmnl).
 *
 * Why a netlink subscription and not bpf_fib_lookup() from the programs:
 * the FIB helper answers "local" only where forwarding is enabled on the
 * ingress device (else BPF_FIB_LKUP_RET_FWD_DISABLED), answers from the
 * namespace and routing rules of the ifindex it is given, and in
 * BPF_PROG_TEST_RUN or gwctl's dry-run explain that is not the packet's
 * real ingress. A map the controller keeps gives the same answer in all of
 * them, on every kernel we support, at one hash lookup per packet.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>

#include "gatewayd/hostaddr.h"

#define NL_BUF 32768

struct nn_hostaddr {
	struct mnl_socket *sub;
};

int nn_hostaddr_open(struct nn_hostaddr **out)
{
	struct nn_hostaddr *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	h->sub = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!h->sub) {
		err = -errno;
		free(h);
		return err;
	}
	if (mnl_socket_bind(h->sub, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, MNL_SOCKET_AUTOPID)) {
		err = -errno;
		nn_hostaddr_close(h);
		return err;
	}
	*out = h;
	return 0;
}

void nn_hostaddr_close(struct nn_hostaddr *h)
{
	if (!h)
		return;
	if (h->sub)
		mnl_socket_close(h->sub);
	free(h);
}

int nn_hostaddr_fd(const struct nn_hostaddr *h)
{
	return mnl_socket_get_fd(h->sub);
}

int nn_hostaddr_drain(struct nn_hostaddr *h)
{
	char buf[NL_BUF];
	int got = 0;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(h->sub, buf, sizeof(buf));

		if (n > 0) {
			got = 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return got;
		/* Notifications were lost: the caller dumps, which is the truth. */
		if (n < 0 && errno == ENOBUFS)
			return 1;
		return n < 0 ? -errno : got;
	}
}

/* Never valid from the overlay (verdicts.md): such an address of a local
 * interface (127.0.0.1, fe80::...) stays martian, which no rule opens. */
static bool martian(const uint8_t *a)
{
	static const uint8_t v4pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t zero[15];

	if (!memcmp(a, v4pfx, sizeof(v4pfx)))
		return a[12] == 0 || a[12] == 127 || (a[12] == 169 && a[13] == 254) || a[12] >= 224;
	if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return true;
	return !memcmp(a, zero, sizeof(zero)) && a[15] <= 1;
}

struct dump {
	struct nn_host_addr *v;
	size_t n, cap;
	int err;
};

static int on_addr(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *local = NULL, *address = NULL, *attr;
	struct dump *d = data;
	struct nn_host_addr a = { .ifindex = ifa->ifa_index };
	const struct nlattr *use;
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;

	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa))
	{
		if (mnl_attr_get_type(attr) == IFA_LOCAL)
			local = attr;
		else if (mnl_attr_get_type(attr) == IFA_ADDRESS)
			address = attr;
	}
	/* IFA_LOCAL is the interface's own address when both are given (on a
	 * point-to-point link IFA_ADDRESS is the peer's). */
	use = local ?: address;
	if (!use || mnl_attr_get_payload_len(use) != alen)
		return MNL_CB_OK;
	if (alen == 4) {
		a.addr[10] = 0xff;
		a.addr[11] = 0xff;
		memcpy(a.addr + 12, mnl_attr_get_payload(use), 4);
	} else {
		memcpy(a.addr, mnl_attr_get_payload(use), 16);
	}
	if (martian(a.addr))
		return MNL_CB_OK;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 32;
		struct nn_host_addr *nv = realloc(d->v, cap * sizeof(*nv));

		if (!nv) {
			d->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		d->v = nv;
		d->cap = cap;
	}
	d->v[d->n++] = a;
	return MNL_CB_OK;
}

static int dump_once(struct nn_host_addr **out, size_t *n)
{
	char buf[NL_BUF];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	struct dump d = { 0 };
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	unsigned int seq = (unsigned int)time(NULL), portid;
	ssize_t len;
	int ret = MNL_CB_OK, err = 0;

	*out = NULL;
	*n = 0;
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID)) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	while (ret > MNL_CB_STOP) {
		len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)len, seq, portid, on_addr, &d);
	}
	if (ret < 0)
		err = d.err ?: (errno ? -errno : -EIO);
out:
	mnl_socket_close(nl);
	if (err) {
		free(d.v);
		return err;
	}
	*out = d.v;
	*n = d.n;
	return 0;
}

int nn_hostaddr_dump(struct nn_host_addr **out, size_t *n)
{
	int tries = 0, err;

	/* A dump that an address change interrupted (NLM_F_DUMP_INTR, EINTR
	 * from libmnl) is inconsistent: take it again. */
	do
		err = dump_once(out, n);
	while (err == -EINTR && ++tries < 5);
	return err;
}
