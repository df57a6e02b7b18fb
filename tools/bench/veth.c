// SPDX-License-Identifier: GPL-2.0
/*
 * veth.c - the packet-rate half of nn-microbench (tools/bench/run.sh builds
 * the namespaces and calls these):
 *
 *   nn-microbench attach PROG IFACE PINDIR
 *       attach a bench_veth.bpf.c receiver (count_drop, count_pass: native
 *       XDP; tc_drop: TC ingress) and pin its counter as PINDIR/cnt
 *   nn-microbench gen -i IFACE -d DSTMAC [-n N -k allow|deny|spoof -S SOURCES]
 *                     [-T THREADS] [-c CPU] [-t SECONDS] [-w WARMUP] [-R REPEAT]
 *                     [-p PIN]... [-x CMD]...
 *       the traffic generator: BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES
 *       on bench_gen (XDP_TX out of IFACE), IPv4 TCP SYN, 64-byte frames,
 *       one source or SOURCES sprayed pairs drawn from the policy of N
 *       devices and rules. It counts at the receivers only: after WARMUP it
 *       samples every PIN (pinned per-CPU counters: the sum of the first u64
 *       of every value) and every CMD (prints a number, e.g. an nft counter)
 *       twice, SECONDS apart, and prints the rate as JSON. Transmit counts
 *       are never used.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "bench_veth.skel.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sum of the u64 at byte @off of every (per-CPU) value of a pinned map. */
static int pin_sum_at(const char *path, size_t off, uint64_t *out);

static int pin_sum(const char *path, uint64_t *out)
{
	return pin_sum_at(path, 0, out);
}

static int pin_sum_at(const char *path, size_t off, uint64_t *out)
{
	struct bpf_map_info info = {};
	uint32_t ilen = sizeof(info), k;
	int fd = bpf_obj_get(path), ncpu = libbpf_num_possible_cpus(), c;
	size_t stride;
	char *v;

	*out = 0;
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen)) {
		close(fd);
		return -errno;
	}
	stride = (info.value_size + 7) / 8 * 8;
	v = calloc(ncpu, stride);
	for (k = 0; v && k < info.max_entries; k++) {
		bool percpu = info.type == BPF_MAP_TYPE_PERCPU_ARRAY;

		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (c = 0; c < (percpu ? ncpu : 1); c++)
			if (off + 8 <= info.value_size)
				*out += *(uint64_t *)(v + c * stride + off);
	}
	free(v);
	close(fd);
	return 0;
}

static int cmd_value(const char *cmd, uint64_t *out)
{
	FILE *p = popen(cmd, "r");
	unsigned long long v = 0;
	int ok;

	*out = 0;
	if (!p)
		return -errno;
	ok = fscanf(p, "%llu", &v) == 1;
	pclose(p);
	*out = v;
	return ok ? 0 : -EINVAL;
}

#define MAX_SRC 8

struct sampler {
	const char *pin[MAX_SRC];
	int n_pin;
	const char *cmd[MAX_SRC];
	int n_cmd;
};

static uint64_t sample(const struct sampler *s)
{
	uint64_t sum = 0, v;
	int i;

	for (i = 0; i < s->n_pin; i++)
		if (!pin_sum(s->pin[i], &v))
			sum += v;
	for (i = 0; i < s->n_cmd; i++)
		if (!cmd_value(s->cmd[i], &v))
			sum += v;
	return sum;
}

int attach_main(int argc, char **argv)
{
	struct bench_veth *skel;
	struct bpf_program *prog;
	char path[512];
	int ifindex, err;

	if (argc != 4) {
		fprintf(stderr,
			"usage: nn-microbench attach count_drop|count_pass|tc_drop IFACE PINDIR\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[2]);
	if (!ifindex)
		return 1;
	skel = bench_veth__open_and_load();
	if (!skel)
		return 1;
	if (!strcmp(argv[1], "tc_drop")) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = 0x4242, .priority = 0x42,
			    .prog_fd = bpf_program__fd(skel->progs.bench_tc_drop));

		bpf_tc_hook_create(&hook);
		err = bpf_tc_attach(&hook, &o);
	} else {
		prog = !strcmp(argv[1], "count_drop") ? skel->progs.bench_count_drop :
							skel->progs.bench_count_pass;
		err = bpf_xdp_attach(ifindex, bpf_program__fd(prog), XDP_FLAGS_DRV_MODE, NULL);
	}
	if (err) {
		fprintf(stderr, "attach %s to %s: %s\n", argv[1], argv[2], strerror(-err));
		return 1;
	}
	mkdir(argv[3], 0700);
	snprintf(path, sizeof(path), "%s/cnt", argv[3]);
	unlink(path);
	err = bpf_map__pin(skel->maps.bench_cnt, path);
	bench_veth__destroy(skel); /* the attachment and the pin stay */
	return err ? 1 : 0;
}

/* ---- generator ---- */
struct gen_thread {
	pthread_t th;
	int cpu, prog_fd, ifindex;
	const uint8_t *frame;
	size_t len;
	unsigned long repeat;
	int err;
	unsigned long calls;
};

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

static void *gen_thread(void *arg)
{
	struct gen_thread *t = arg;
	struct xdp_md ctx = { .data_end = t->len, .ingress_ifindex = t->ifindex };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!stop) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = t->frame, .data_size_in = t->len,
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = t->repeat,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);

		if (bpf_prog_test_run_opts(t->prog_fd, &o) && errno != EINTR) {
			t->err = -errno;
			break;
		}
		t->calls++;
	}
	return NULL;
}

static int parse_mac(const char *s, uint8_t *m)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
		      &m[5]) == 6 ?
		       0 :
		       -EINVAL;
}

int gen_main(int argc, char **argv)
{
	struct sampler smp = {};
	struct gen_thread th[16] = {};
	struct bench_veth *skel;
	struct bench_gen g = {};
	struct bench_pair *pairs = NULL;
	enum bench_pair_kind kind = BP_ALLOW;
	const char *iface = NULL, *dmac = NULL, *kname = "allow";
	unsigned long repeat = 1ul << 24;
	size_t n = 10, sources = 1, np = 0, i;
	double secs = 3, warm = 1, t0, t1;
	int threads = 1, cpu = 0, opt, err = 0, ifindex;
	uint8_t frame[64] = {}, mac[6], smac[6] = { 2, 0, 0, 0, 0xbe, 0x01 };
	uint64_t c0, c1;
	struct sigaction sa = { .sa_handler = on_sig };

	while ((opt = getopt(argc, argv, "i:d:n:k:S:T:c:t:w:R:p:x:")) != -1) {
		switch (opt) {
		case 'i':
			iface = optarg;
			break;
		case 'd':
			dmac = optarg;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'k':
			kname = optarg;
			break;
		case 'S':
			sources = strtoul(optarg, NULL, 0);
			break;
		case 'T':
			threads = atoi(optarg);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'w':
			warm = atof(optarg);
			break;
		case 'R':
			repeat = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			if (smp.n_pin < MAX_SRC)
				smp.pin[smp.n_pin++] = optarg;
			break;
		case 'x':
			if (smp.n_cmd < MAX_SRC)
				smp.cmd[smp.n_cmd++] = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!iface || !dmac || parse_mac(dmac, mac) || threads < 1 || threads > 16) {
		fprintf(stderr, "usage: nn-microbench gen -i IFACE -d DSTMAC ... (see veth.c)\n");
		return 2;
	}
	kind = !strcmp(kname, "deny") ? BP_DENY : !strcmp(kname, "spoof") ? BP_SPOOF : BP_ALLOW;
	ifindex = if_nametoindex(iface);
	if (!ifindex)
		return 1;
	if (bench_genpolicy(n, &g))
		return 1;
	pairs = calloc(131072, sizeof(*pairs));
	np = pairs ? bench_pairs(&g, kind, true, pairs, sources > 131072 ? 131072 : sources) : 0;
	if (!np) {
		fprintf(stderr, "gen: no pairs\n");
		return 1;
	}
	while (np & (np - 1)) /* a power of two: the program masks */
		np &= np - 1;
	/* Ethernet + IPv4 + TCP SYN to port 443 (22 for deny), padded to 64. */
	memcpy(frame, mac, 6);
	memcpy(frame + 6, smac, 6);
	frame[12] = 0x08;
	frame[14] = 0x45;
	frame[17] = 40;
	frame[22] = 64;
	frame[23] = 6;
	memcpy(frame + 26, pairs[0].src, 4);
	memcpy(frame + 30, pairs[0].dst, 4);
	frame[34] = 40000 >> 8;
	frame[35] = 40000 & 255;
	frame[37] = kind == BP_DENY ? 22 : 443;
	frame[36] = (kind == BP_DENY ? 22 : 443) >> 8;
	frame[46] = 0x50;
	frame[47] = 0x02;
	frame[48] = 0xfa;
	skel = bench_veth__open();
	if (!skel)
		return 1;
	skel->data->gen_n = np;
	/* TCP header words (checksum 0) + protocol + TCP length, in the
	 * same (network) byte order the program adds the addresses in. */
	{
		uint32_t sum = 0;
		uint16_t w;

		for (i = 34; i < 54; i += 2) {
			memcpy(&w, frame + i, 2);
			sum += w;
		}
		sum += htons(6) + htons(20);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		skel->bss->gen_tcp_base = sum ? sum : 0xffff;
	}
	memcpy(skel->bss->gen_eth, mac, 6);
	memcpy(skel->bss->gen_eth + 6, smac, 6);
	err = bench_veth__load(skel);
	for (i = 0; !err && i < np; i++) {
		uint32_t k = i;

		err = bpf_map_update_elem(bpf_map__fd(skel->maps.gen_pairs), &k, &pairs[i], 0);
	}
	if (err) {
		fprintf(stderr, "gen: load: %s\n", strerror(errno));
		return 1;
	}
	sigaction(SIGUSR1, &sa, NULL);
	for (i = 0; i < (size_t)threads; i++) {
		th[i].cpu = cpu + i;
		th[i].prog_fd = bpf_program__fd(skel->progs.bench_gen);
		th[i].ifindex = ifindex;
		th[i].frame = frame;
		th[i].len = sizeof(frame);
		th[i].repeat = repeat;
		pthread_create(&th[i].th, NULL, gen_thread, &th[i]);
	}
	usleep(warm * 1e6);
	c0 = sample(&smp);
	t0 = now_s();
	usleep(secs * 1e6);
	c1 = sample(&smp);
	t1 = now_s();
	stop = 1;
	for (i = 0; i < (size_t)threads; i++)
		pthread_kill(th[i].th, SIGUSR1);
	for (i = 0; i < (size_t)threads; i++) {
		pthread_join(th[i].th, NULL);
		if (th[i].err)
			err = th[i].err;
	}
	printf("{\"kind\": \"%s\", \"n\": %zu, \"sources\": %zu, \"threads\": %d, \"cpu\": %d, "
	       "\"repeat\": %lu, \"seconds\": %.3f, \"received\": %llu, \"pps\": %.0f, "
	       "\"error\": %d}\n",
	       kname, n, np, threads, cpu, repeat, t1 - t0, (unsigned long long)(c1 - c0),
	       (c1 - c0) / (t1 - t0), err);
	bench_veth__destroy(skel);
	bench_gen_free(&g);
	free(pairs);
	return err ? 1 : 0;
}

/* nn-microbench sum PIN [OFFSET]: the sum of the u64 at OFFSET (default 0)
 * of every value (every CPU), for scripts. */
int sum_main(int argc, char **argv)
{
	uint64_t v;

	if (argc < 2 || argc > 3 ||
	    pin_sum_at(argv[1], argc == 3 ? strtoul(argv[2], NULL, 0) : 0, &v))
		return 1;
	printf("%llu\n", (unsigned long long)v);
	return 0;
}
