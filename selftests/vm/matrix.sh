#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# selftests/vm/matrix.sh - the kernel matrix's host side, for selftests/run.sh:
# one VM boot per kernel runs every test of the matrix, then each test's
# result is reported under its own name (vm6.1:test_examples, ...).
#
#   matrix.sh tests                      the tests a guest runs, one a line
#   matrix.sh boot KERNEL OUTDIR NAME... boot KERNEL, run NAME... in it
#                                        (guest/run.sh); a TAP line for the
#                                        boot itself, with the reason when the
#                                        kernel cannot be fetched or booted
#   matrix.sh result OUTDIR NAME         NAME's output from the guest, and
#                                        its exit status (a failure when the
#                                        guest left no result)
#
# The tests: the BPF_PROG_TEST_RUN selftests that exercise the verifier and
# the datapath on the guest's kernel (worked examples, bad packets, the
# differential test at a reduced packet count, updates), how a refused
# load is reported (load errors), and every
# selftests/vm/guest/test_*.sh (end-to-end tests on kernel WireGuard).
# NN_VM_TIMEOUT bounds one boot (default 480 s).
set -u
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG_TESTS=(test_examples test_bad_packets test_differential test_updates test_load_errors)

tests() {
	local t s
	for t in "${PROG_TESTS[@]}"; do echo "$t"; done
	for s in "$VM_DIR"/guest/test_*.sh; do
		[ -e "$s" ] && basename "$s" .sh
	done
	return 0
}

boot() {
	local kernel=$1 outdir=$2 log rc
	shift 2
	rm -rf "$outdir" && mkdir -p "$outdir" || return 1
	log=$outdir/vmrun.log
	"$VM_DIR/vmrun.sh" --timeout "${NN_VM_TIMEOUT:-480}" --rwdir "$outdir" \
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
tests) tests ;;
boot) [ $# -ge 3 ] && shift && boot "$@" ;;
result) [ $# = 3 ] && result "$2" "$3" ;;
*)
	echo "usage: matrix.sh tests | boot KERNEL OUTDIR NAME... | result OUTDIR NAME" >&2
	exit 2
	;;
esac
