// SPDX-License-Identifier: GPL-2.0
/*
 * test_wg_select.c - interface facts over rtnetlink (lib/iface.h) and what
 * "--wg auto" makes of them (nn_wg_mode_resolve, wg/backend.h), in a
 * network namespace of the test's own with a TUN device in it (root).
 *
 * Expected values come from what the kernel documents for these devices
 * (lo: ARPHRD_LOOPBACK, index 1, MTU 65536, no link kind; a TUN:
 * ARPHRD_NONE, kind "tun", MTU 1500) and from the selection rule in
 * issue 11: kind wireguard -> genl, a control socket -> uapi, any other L3
 * interface refused, anything else none. The kernel-WireGuard branch needs
 * the wireguard module and is tested in the VM guests
 * (selftests/vm/guest/test_kwg_*.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if_arp.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include <cmocka.h>

#include "lib/iface.h"
#include "nanami_abi.h"
#include "wg/backend.h"

#define TUN "nntun0"

static int tun_fd = -1;
static char sockdir[64];

static int setup(void **state)
{
	struct ifreq ifr = {};

	(void)state;
	/* A fresh namespace: only lo, and the TUN made here. */
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "# unshare(CLONE_NEWNET): %s (needs root)\n", strerror(errno));
		return -1;
	}
	tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tun_fd < 0) {
		fprintf(stderr, "# /dev/net/tun: %s\n", strerror(errno));
		return -1;
	}
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strcpy(ifr.ifr_name, TUN);
	if (ioctl(tun_fd, TUNSETIFF, &ifr)) {
		fprintf(stderr, "# TUNSETIFF: %s\n", strerror(errno));
		return -1;
	}
	snprintf(sockdir, sizeof(sockdir), "/tmp/nn-wgsel.XXXXXX");
	if (!mkdtemp(sockdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char p[128];

	(void)state;
	if (tun_fd >= 0)
		close(tun_fd);
	snprintf(p, sizeof(p), "%s/%s.sock", sockdir, TUN);
	unlink(p);
	rmdir(sockdir);
	return 0;
}

static void test_iface_lo(void **state)
{
	struct nn_iface_info i;

	(void)state;
	assert_int_equal(nn_iface_get("lo", &i), 0);
	assert_int_equal(i.ifindex, 1);
	assert_int_equal(i.type, ARPHRD_LOOPBACK);
	assert_int_equal(i.mtu, 65536);
	assert_string_equal(i.kind, "");
	assert_int_equal(nn_iface_type("lo"), ARPHRD_LOOPBACK);
	assert_int_equal(nn_iface_framing("lo"), NN_FRAMING_ETH);
}

static void test_iface_tun(void **state)
{
	struct nn_iface_info i;

	(void)state;
	assert_int_equal(nn_iface_get(TUN, &i), 0);
	assert_true(i.ifindex > 1);
	assert_int_equal(i.type, ARPHRD_NONE);
	assert_int_equal(i.mtu, 1500);
	assert_string_equal(i.kind, "tun");
	assert_int_equal(nn_iface_framing(TUN), NN_FRAMING_L3);
}

static void test_iface_mtu(void **state)
{
	struct nn_iface_info i;

	(void)state;
	assert_int_equal(nn_iface_set_mtu(TUN, 1380), 0);
	assert_int_equal(nn_iface_get(TUN, &i), 0);
	assert_int_equal(i.mtu, 1380);
	/* Below IPv4's minimum of 68: the kernel refuses, we say so. */
	assert_int_equal(nn_iface_set_mtu(TUN, 10), -EINVAL);
	assert_int_equal(nn_iface_get(TUN, &i), 0);
	assert_int_equal(i.mtu, 1380);
	assert_int_equal(nn_iface_set_mtu("nosuch0", 1400), -ENODEV);
}

static void test_iface_errors(void **state)
{
	struct nn_iface_info i;

	(void)state;
	assert_int_equal(nn_iface_get("nosuch0", &i), -ENODEV);
	assert_int_equal(i.ifindex, 0);
	assert_int_equal(nn_iface_get("0123456789abcdef", &i), -ENAMETOOLONG);
	assert_int_equal(nn_iface_get("", &i), -EINVAL);
	assert_int_equal(nn_iface_type("nosuch0"), -ENODEV);
	assert_int_equal(nn_iface_framing("nosuch0"), -ENODEV);
}

static void test_mode_parse(void **state)
{
	static const struct {
		const char *s;
		int err;
		enum nn_wg_mode m;
	} cases[] = {
		{ "none", 0, NN_WG_MODE_NONE },
		{ "uapi", 0, NN_WG_MODE_UAPI },
		{ "userspace", 0, NN_WG_MODE_UAPI },
		{ "genl", 0, NN_WG_MODE_GENL },
		{ "kernel", 0, NN_WG_MODE_GENL },
		{ "auto", 0, NN_WG_MODE_AUTO },
		{ "", -EINVAL, 0 },
		{ "GENL", -EINVAL, 0 },
		{ "wireguard", -EINVAL, 0 },
	};
	enum nn_wg_mode m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		m = (enum nn_wg_mode)99;
		assert_int_equal(nn_wg_mode_parse(cases[i].s, &m), cases[i].err);
		if (!cases[i].err) {
			assert_int_equal(m, cases[i].m);
			assert_string_equal(nn_wg_mode_name(m), cases[i].s[0] == 'u' ? "uapi" :
								cases[i].s[0] == 'k' ? "genl" :
										       cases[i].s);
		}
	}
}

static void test_resolve(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	enum nn_wg_mode m;
	char why[512];
	int fd;

	(void)state;
	/* Not L3, not WireGuard: left alone. */
	assert_int_equal(nn_wg_mode_resolve("lo", sockdir, &m, why, sizeof(why)), 0);
	assert_int_equal(m, NN_WG_MODE_NONE);
	/* L3 with no socket: refused, and the reason names the socket. */
	assert_int_equal(nn_wg_mode_resolve(TUN, sockdir, &m, why, sizeof(why)), -EOPNOTSUPP);
	assert_int_equal(m, NN_WG_MODE_NONE);
	assert_non_null(strstr(why, "L3"));
	assert_non_null(strstr(why, sockdir));
	/* A plain file where the socket would be is no daemon. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", sockdir, TUN);
	fd = open(sun.sun_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(nn_wg_mode_resolve(TUN, sockdir, &m, why, sizeof(why)), -EOPNOTSUPP);
	unlink(sun.sun_path);
	/* wireguard-go's socket: uapi. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(nn_wg_mode_resolve(TUN, sockdir, &m, why, sizeof(why)), 0);
	assert_int_equal(m, NN_WG_MODE_UAPI);
	close(fd);
	unlink(sun.sun_path);
	/* No such interface in this namespace. */
	assert_int_equal(nn_wg_mode_resolve("nosuch0", sockdir, &m, why, sizeof(why)), -ENODEV);
}

/* A kernel get against something that is not a WireGuard interface: the
 * wireguard family is absent on this host (-ENOENT), or, where the module
 * is loaded, the kernel refuses the TUN (-EOPNOTSUPP). Never a success. */
static void test_genl_not_wireguard(void **state)
{
	struct nn_wg_device d;
	struct nn_wg_genl g;
	int err;

	(void)state;
	assert_int_equal(nn_wg_genl_init(&g, TUN), 0);
	err = nn_wg_genl_get(&g, &d);
	assert_true(err == -ENOENT || err == -EOPNOTSUPP);
	assert_int_equal(d.n_peers, 0);
	assert_int_equal(nn_wg_genl_init(&g, "a/b"), -EINVAL);
	assert_int_equal(nn_wg_genl_init(&g, "0123456789abcdef"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iface_lo),	   cmocka_unit_test(test_iface_tun),
		cmocka_unit_test(test_iface_mtu),	   cmocka_unit_test(test_iface_errors),
		cmocka_unit_test(test_mode_parse),	   cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_genl_not_wireguard),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
