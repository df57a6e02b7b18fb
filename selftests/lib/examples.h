/* SPDX-License-Identifier: GPL-2.0 */
/*
 * examples.h - the worked examples of verdicts.md as one fixture table, run
 * in order (15 and 18 rely on 1's flow) against examples/assignments.json by
 * the BPF tests, the model tests and explain.
 */
#ifndef NANAMI_EXAMPLES_H
#define NANAMI_EXAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "nanami_abi.h"
#include "pktbuild.h"

struct nn_example {
	const char *id; /* "1" .. "18", "14a" */
	enum nn_dir dir;
	const char *what;
	void (*describe)(struct pb *b); /* the packet at L3 */
	int reason;			/* enum nn_reason */
	const char *rule;		/* deciding rule id, NULL none */
};

extern const struct nn_example nn_examples[];
extern const size_t nn_n_examples;

/* Render example @e for @framing into @buf; returns the length (0: failed). */
size_t nn_example_build(const struct nn_example *e, uint8_t framing, uint8_t *buf, size_t cap);

#endif /* NANAMI_EXAMPLES_H */
