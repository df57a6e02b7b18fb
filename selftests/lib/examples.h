/* SPDX-License-Identifier: GPL-2.0 */
/*
 * examples.h - the worked examples of verdicts.md as one fixture table, run
 * in order (15 and 18 rely on 1's flow) against examples/assignments.json by
 * the BPF tests, the model tests and explain. Each row carries its packet
 * as a description (pktdesc.h), at L3.
 */
#ifndef NANAMI_EXAMPLES_H
#define NANAMI_EXAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "nanami_abi.h"
#include "pktdesc.h"

struct nn_example {
	const char *id; /* "1" .. "18", "14a" */
	enum nn_dir dir;
	const char *what;
	int reason;	     /* enum nn_reason */
	const char *rule;    /* deciding rule id, NULL none */
	struct pkt_desc pkt; /* at L3 */
};

extern const struct nn_example nn_examples[];
extern const size_t nn_n_examples;

/* Render example @e for @framing into @buf; returns the length (0: failed). */
size_t nn_example_build(const struct nn_example *e, uint8_t framing, uint8_t *buf, size_t cap);

#endif /* NANAMI_EXAMPLES_H */
