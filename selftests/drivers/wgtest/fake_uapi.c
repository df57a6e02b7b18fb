// SPDX-License-Identifier: GPL-2.0
/*
 * fake_uapi.c - a misbehaving stand-in for wireguard-go's control socket, so
 * the tests can check that the UAPI client (user/wg/uapi.c) stays bounded and
 * says clearly what went wrong. It serves one connection, then exits.
 *
 * Modes (what the "daemon" does after reading the request):
 *   hang      answers nothing (client deadline)
 *   trickle   one byte every 50 ms, forever (the deadline covers the whole
 *             exchange, not each read)
 *   flood     endless valid device lines (reply size cap)
 *   longline  one line longer than NN_WG_LINE_MAX
 *   garbage   a line without '='
 *   noerrno   a complete reply without "errno="
 *   close     closes without a reply
 *   eio       "errno=5" (the spec's positive form)
 *   future    a valid reply with keys this client does not know and a
 *             link-local endpoint with a scope
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_uapi.h"
#include "lib/log.h"
#include "wg/uapi.h"

static int put(int fd, const char *s)
{
	size_t n = strlen(s);

	return send(fd, s, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

static void serve(int fd, const char *mode)
{
	char req[256], big[NN_WG_LINE_MAX + 64];
	ssize_t n;

	/* The request ends with a blank line; a get is short enough to come
	 * in one read on a unix socket. */
	n = recv(fd, req, sizeof(req) - 1, 0);
	if (n <= 0)
		return;
	if (!strcmp(mode, "hang")) {
		while (recv(fd, req, sizeof(req), 0) > 0)
			;
	} else if (!strcmp(mode, "trickle")) {
		while (put(fd, "f") == 0)
			usleep(50000);
	} else if (!strcmp(mode, "flood")) {
		while (put(fd, "fwmark=1\nfwmark=2\nfwmark=3\nfwmark=4\n") == 0)
			;
	} else if (!strcmp(mode, "longline")) {
		memset(big, 'a', sizeof(big));
		memcpy(big, "fwmark=", 7);
		big[sizeof(big) - 2] = '\n';
		big[sizeof(big) - 1] = '\0';
		put(fd, big);
		put(fd, "errno=0\n\n");
	} else if (!strcmp(mode, "garbage")) {
		put(fd, "listen_port=1\nthis is not a uapi line\nerrno=0\n\n");
	} else if (!strcmp(mode, "noerrno")) {
		put(fd, "listen_port=1\n\n");
	} else if (!strcmp(mode, "eio")) {
		put(fd, "errno=5\n\n");
	} else if (!strcmp(mode, "future")) {
		put(fd,
		    "listen_port=51820\nfwmark=0\nshiny_new_device_key=1\n"
		    "public_key=0101010101010101010101010101010101010101010101010101010101010101\n"
		    "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
		    "protocol_version=1\nendpoint=[fe80::1%1]:51820\n"
		    "last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\n"
		    "tx_bytes=18446744073709551615\nrx_bytes=7\n"
		    "persistent_keepalive_interval=25\nshiny_new_peer_key=x\n"
		    "allowed_ip=fd00::1/128\nallowed_ip=10.0.0.1/32\nerrno=0\n\n");
	}
	/* "close" and everything else: just close. */
}

int nn_wgtest_fake_daemon(const char *sockdir, const char *iface, const char *mode)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int lfd, fd;

	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", sockdir, iface) >=
	    (int)sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	unlink(sun.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) || listen(lfd, 1)) {
		int err = -errno;

		close(lfd);
		return err;
	}
	nn_log_info("event=fake_uapi_listening path=%s mode=%s", sun.sun_path, mode);
	fd = accept(lfd, NULL, NULL);
	if (fd >= 0) {
		serve(fd, mode);
		close(fd);
	}
	close(lfd);
	unlink(sun.sun_path);
	return 0;
}
