#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
# test_cp_random.sh - the reference control plane (tools/cp/nanami-cp) under
# a seeded random sequence of changes, restarts (SIGTERM, SIGKILL, a torn
# journal line) and journal compactions, judged by a model written from
# docs/assignments-v1.md (selftests/cp/cp_random.py): every full snapshot is
# the model's view, every ?since=M in the history applied to snapshot M gives
# snapshot N exactly, and every restart replays the same world and
# generation. On a private loopback (its own network namespace).
# CP_RANDOM_SEED=S reproduces a run; CP_RANDOM_STEPS (200) sets its length.
. "$(dirname "$0")/lib.sh"

nn_node cp || { nn_not_ok "namespace"; nn_finish; exit 1; }
nn_in cp /usr/bin/python3 "$NN_ROOT/selftests/cp/cp_random.py" \
	--steps "${CP_RANDOM_STEPS:-200}"
