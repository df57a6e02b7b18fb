#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# selftests/vm/guest/run.sh - the guest side of the kernel matrix: run inside
# a vmrun.sh guest (as root, in the repository), once per boot.
#
#   run.sh OUTDIR NAME...
#
# NAME is a BPF_PROG_TEST_RUN binary ($O/selftests/prog_tests/NAME), a
# guest script (selftests/vm/guest/NAME.sh, which may use kernel WireGuard and
# selftests/netns/lib.sh), or a host end-to-end test on the demo topology
# (selftests/netns/NAME.sh), run unchanged with TOPO_WG=kernel: every node's
# wg0 is a kernel WireGuard link and the controller drives it over generic
# netlink (selftests/netns/topo_gateway.sh). Each one's output goes to OUTDIR/NAME.log and its
# exit status to OUTDIR/NAME.rc (OUTDIR is shared read-write with the host,
# which reads them: selftests/vm/matrix.sh). OUTDIR/kernel.log holds what the
# kernel offers (BTF, bpffs, the wireguard module). One line per test on
# stdout as it finishes.
#
# The differential test runs NN_DIFF_PACKETS packets per framing (default
# here 20000, a tenth of the host's: the BPF side runs 3-8x slower under
# TCG). Each test is ended after NN_VM_TEST_TIMEOUT seconds (default 420).
set -u
OUTDIR=$1
shift
cd "$(dirname "$0")/../../.." || exit 125
O=${O:-build}
export O NN_SRCDIR=$PWD CMOCKA_MESSAGE_OUTPUT=TAP
export NN_DIFF_PACKETS=${NN_DIFF_PACKETS:-20000}
TEST_TIMEOUT=${NN_VM_TEST_TIMEOUT:-420}
umask 022

{
	echo "kernel $(uname -r), $(nproc) cpu(s), NN_TIME_SCALE=${NN_TIME_SCALE:-unset}," \
		"accel ${NN_VM_ACCEL:-?}"
	echo "bpffs: $(stat -f -c %T /sys/fs/bpf)"
	echo "btf: $(stat -c %s /sys/kernel/btf/vmlinux 2>&1) bytes"
	modinfo -F version wireguard 2>&1 | sed 's/^/wireguard module: /'
} >"$OUTDIR/kernel.log" 2>&1

for name in "$@"; do
	if [ -e "selftests/vm/guest/$name.sh" ]; then
		cmd=(bash "selftests/vm/guest/$name.sh")
	elif [ -e "selftests/netns/$name.sh" ]; then
		cmd=(env TOPO_WG=kernel NN_LOGDIR="$OUTDIR/$name.logs" bash "selftests/netns/$name.sh")
	else
		cmd=("$O/selftests/prog_tests/$name")
	fi
	start=$EPOCHREALTIME
	# NAME.times: each output line with the seconds since the test started,
	# to see what costs what under emulation
	timeout -k 5 "$TEST_TIMEOUT" "${cmd[@]}" 2>&1 </dev/null |
		tee "$OUTDIR/$name.log" |
		while IFS= read -r line; do
			printf '%6.1f %s\n' "$(awk -v a="$start" -v b="$EPOCHREALTIME" \
				'BEGIN { print b - a }')" "$line"
		done >"$OUTDIR/$name.times"
	rc=${PIPESTATUS[0]}
	[ $rc = 124 ] && echo "not ok - $name: ended after ${TEST_TIMEOUT}s in the guest" \
		>>"$OUTDIR/$name.log"
	secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	echo "# $name: ${secs}s in the guest ($(uname -r))" >>"$OUTDIR/$name.log"
	echo "$rc" >"$OUTDIR/$name.rc"
	printf '%s: exit %d, %d ok, %d not ok, %ss\n' "$name" "$rc" \
		"$(grep -c '^ok ' "$OUTDIR/$name.log")" "$(grep -c '^not ok ' "$OUTDIR/$name.log")" \
		"$secs"
done
exit 0
