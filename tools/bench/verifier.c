// SPDX-License-Identifier: GPL-2.0
/*
 * verifier.c - `nn-microbench verifier`: load the three policy programs as
 * the controller does (default capacities, nothing pinned or attached) and
 * print the instructions this kernel's verifier processed for each
 * (bpf_prog_info.verified_insns, 5.16+): the complexity figure the
 * datapath's changes are weighed by (docs/datapath.md "Verifier budget"),
 * on the host and in each guest of the kernel matrix. `verifier eth` loads
 * the Ethernet-framed build (veth), whose programs walk one more header and
 * are the larger ones on 6.1.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "dp/loader.h"

int verifier_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		enum nn_dir dir;
		enum nn_hook hook;
	} progs[] = {
		{ "nn_tc_from_overlay", NN_DIR_FROM_OVERLAY, NN_HOOK_TC },
		{ "nn_xdp_from_overlay", NN_DIR_FROM_OVERLAY, NN_HOOK_XDP },
		{ "nn_tc_into_overlay", NN_DIR_INTO_OVERLAY, NN_HOOK_TC },
	};
	struct nn_load_opts o = { .framing = NN_FRAMING_L3, .load_xdp_direct = true };
	struct nn_dp *dp = NULL;
	size_t i;
	int err;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "eth") && strcmp(argv[1], "l3"))) {
		fprintf(stderr, "verifier: expected no argument, `l3` or `eth`, got `%s`\n",
			argv[argc - 1]);
		return 2;
	}
	if (argc == 2 && !strcmp(argv[1], "eth"))
		o.framing = NN_FRAMING_ETH;
	nn_capacity_default(&o.cap);
	err = nn_dp_load(&o, &dp);
	if (err) {
		fprintf(stderr, "couldn't load the programs: %s\n", strerror(-err));
		return 1;
	}
	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);
		int fd = nn_dp_prog_fd(dp, progs[i].dir, progs[i].hook);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
			fprintf(stderr, "couldn't read %s's info: %s\n", progs[i].name,
				strerror(errno));
			err = -1;
			continue;
		}
		printf("%s verified_insns %u xlated %u jited %u\n", progs[i].name,
		       info.verified_insns, info.xlated_prog_len / 8, info.jited_prog_len);
	}
	nn_dp_close(dp);
	return err ? 1 : 0;
}
