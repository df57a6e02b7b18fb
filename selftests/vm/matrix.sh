#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# selftests/vm/matrix.sh - the kernel matrix's host side, for selftests/run.sh:
# one VM boot per kernel runs every test of the matrix, then each test's
# result is reported under its own name (vm6.1:test_examples, ...).
#
#   matrix.sh tests [KERNEL]             the tests KERNEL's guest runs, one a
#                                        line (without KERNEL: every test)
#   matrix.sh boot KERNEL OUTDIR NAME... boot KERNEL, run NAME... in it
#                                        (guest/run.sh); a TAP line for the
#                                        boot itself, with the reason when the
#                                        kernel cannot be fetched or booted
#   matrix.sh result OUTDIR NAME         NAME's output from the guest, and
#                                        its exit status (a failure when the
#                                        guest left no result)
#
# The tests (README.md says why each runs where): on every kernel, the
# BPF_PROG_TEST_RUN selftests that exercise the verifier and the datapath on
# the guest's kernel (worked examples, the differential test at a reduced
# packet count, updates, how a refused load is reported, the new-state
# bound); on one kernel each, the crafted bad packets, the kernel WireGuard
# backend against the kernel's genetlink family (guest/test_kwg_backend.sh),
# and the long end-to-end tests on kernel WireGuard: the overlay spec's
# compliance tests and the live enforcement tests
# (selftests/netns/test_e2e_*.sh with TOPO_WG=kernel), and nanami-gatewayd's
# own key rotation, restart and --detach (guest/test_kwg_gatewayd.sh).
# NN_VM_TIMEOUT bounds one boot (default 900 s).
set -u
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EVERY_KERNEL=(test_examples test_differential test_updates test_load_errors test_flow_limit)
# On one kernel each, to keep the two TCG guests inside the suite's budget
# (they used half of make test's CPU, two thirds of it while they ran):
# - test_bad_packets on 6.12: what it adds to test_differential's attack
#   generator (which runs on every kernel) is the table of crafted packets,
#   the same code on each kernel; on 6.12 its loads cost half of 6.1's.
# - test_kwg_backend on 6.1: the genl backend in detail (drift repairs, many
#   peers over several messages); on 6.12 the same family and attributes are
#   driven by test_kwg_gatewayd and test_e2e_compliance (--wg auto: peers
#   added, removed and rotated, the gateway's own key rotated, adoption after
#   kill -9), and the wireguard genl ABI is the same in both kernels.
# - test_flowtab_race on 6.12: the flow table's claims and sequence words
#   under another CPU's write at each point (a test-only hook); the atomics
#   it relies on (cmpxchg, xchg, locked add) are the same instructions in
#   both kernels' JITs, and 6.1's guest is the suite's critical path.
declare -A ONE_KERNEL=([6.1]="test_kwg_backend test_e2e_enforce"
		       [6.12]="test_bad_packets test_e2e_compliance test_kwg_gatewayd test_flowtab_race")
# Per-kernel settings (guest environment): the many-peer part of
# test_kwg_backend at 300 peers on 6.1 (1000 by default): still more than one
# SET message and a dump of several parts, at a third of the emulated cost.
declare -A KERNEL_ENV=([6.1]="NN_KWG_PEERS=300")

tests() {
	local t k s
	for t in "${EVERY_KERNEL[@]}"; do echo "$t"; done
	# a guest script named in neither list runs on every kernel
	for s in "$VM_DIR"/guest/test_*.sh; do
		t=$(basename "$s" .sh)
		[[ " ${EVERY_KERNEL[*]} ${ONE_KERNEL[*]} " == *" $t "* ]] || echo "$t"
	done
	if [ -n "${1:-}" ]; then
		for t in ${ONE_KERNEL[$1]:-}; do echo "$t"; done
	else
		for k in "${!ONE_KERNEL[@]}"; do
			for t in ${ONE_KERNEL[$k]}; do echo "$t"; done
		done | sort -u
	fi
	return 0
}

boot() {
	local kernel=$1 outdir=$2 log rc
	shift 2
	rm -rf "$outdir" && mkdir -p "$outdir" || return 1
	log=$outdir/vmrun.log
	local envs=() e
	for e in ${KERNEL_ENV[$kernel]:-}; do envs+=(--env "$e"); done
	# A seed given to run.sh reaches the guest's tests: a guest failure
	# prints its seed, and NN_SEED=S selftests/run.sh vmK:NAME replays it.
	[ -n "${NN_SEED:-}" ] && envs+=(--env "NN_SEED=$NN_SEED")
	"$VM_DIR/vmrun.sh" --timeout "${NN_VM_TIMEOUT:-900}" --rwdir "$outdir" "${envs[@]}" \
		--console "$outdir/console.log" "$kernel" -- \
		"$VM_DIR/guest/run.sh" "$outdir" "$@" >"$log" 2>&1
	rc=$?
	sed 's/^/# /' "$log"
	if [ $rc = 0 ]; then
		echo "ok - boot $kernel: $(grep -o 'command started at uptime [0-9.]*s' "$log" |
			sed 's/command started at uptime/tests started/') after boot"
	else
		# the reason: the kernel cache's own words first, else the runner's
		reason=$(grep -E '^kernels\.sh: [^ ]' "$log" | tail -n 1)
		[ -n "$reason" ] || reason=$(grep -E '^vmrun\.sh:' "$log" | tail -n 1)
		echo "not ok - boot $kernel: ${reason:-vmrun.sh exit $rc}"
	fi
	return $rc
}

result() {
	local outdir=$1 name=$2 rc
	if [ ! -e "$outdir/$name.rc" ]; then
		echo "not ok - $name: no result from the guest (it did not boot or ran out of" \
			"time: see the boot line above)"
		return 1
	fi
	cat "$outdir/$name.log"
	rc=$(cat "$outdir/$name.rc")
	return "$rc"
}

case ${1:-} in
tests) tests "${2:-}" ;;
boot) [ $# -ge 3 ] && shift && boot "$@" ;;
result) [ $# = 3 ] && result "$2" "$3" ;;
*)
	echo "usage: matrix.sh tests [KERNEL] | boot KERNEL OUTDIR NAME... | result OUTDIR NAME" >&2
	exit 2
	;;
esac
