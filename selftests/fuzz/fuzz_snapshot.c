// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: untrusted snapshot bytes through the parser, the
 * validator, the routing resolution and the compiler. Built with ASan and
 * UBSan; any crash, leak or undefined behaviour is a finding.
 *
 *	make fuzz FUZZ_SECONDS=600      # as long as asked
 *	make test                       # a bounded run (FUZZ_SECONDS, default 20)
 */
#include <stdint.h>
#include <stdlib.h>

#include "compile/compile.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nn_errlist errs = {};
	struct nn_compiled c = {};
	struct nn_policy *p = NULL;
	struct nn_limits lim;
	struct nn_slots slots = {};
	size_t i;

	nn_limits_default(&lim);
	/* Small maxima keep each input fast; the bounds themselves are part
	 * of what is being tested. */
	lim.max_body = 1 << 20;
	lim.max_devices = 4096;
	lim.max_rules = 4096;
	lim.max_prefixes = 8192;
	if (nn_policy_parse((const char *)data, size, NULL, &lim, &p, &errs) == 0) {
		slots.dev = calloc(p->n_devices + 1, sizeof(uint32_t));
		slots.node = calloc(p->n_nodes + 1, sizeof(uint32_t));
		slots.rule = calloc(p->n_rules + 1, sizeof(uint32_t));
		if (slots.dev && slots.node && slots.rule) {
			for (i = 0; i < p->n_devices; i++)
				slots.dev[i] = i;
			for (i = 0; i < p->n_nodes; i++)
				slots.node[i] = p->n_devices + i;
			for (i = 0; i < p->n_rules; i++)
				slots.rule[i] = i;
			if (!nn_compile(p, &slots, &(struct nn_compile_caps){ .max_cells = 65536 },
					&c, &errs))
				nn_compiled_free(&c);
		}
		free(slots.dev);
		free(slots.node);
		free(slots.rule);
		nn_policy_free(p);
	}
	nn_errlist_free(&errs);
	return 0;
}
