#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# selftests/vm/vmrun.sh - run a command as root inside a throw-away VM that
# boots one of Debian's kernel packages, and return the command's exit status.
#
#   vmrun.sh [OPTIONS] KERNEL -- COMMAND [ARGS...]
#
# KERNEL is a name from selftests/vm/kernels.txt (6.1, 6.12) or a directory
# prepared by kernels.sh. The guest's / is the host's / shared read-only over
# virtio-9p under a tmpfs overlay (everything writable, nothing reaches the
# host), /lib/modules/KVER is the package's module tree (modprobe and module
# autoloading work), /proc /sys /dev /run /tmp are fresh, bpffs is mounted.
# COMMAND runs in the current directory with stdin from /dev/null, the
# environment variables given with --env, NN_VM=1 and NN_TIME_SCALE; its
# output comes back on stdout.
#
# Options:
#   --timeout SECS  kill the VM after SECS (default 600); exit status 124
#   --mem SIZE      guest memory (default 2G)
#   --smp N         guest CPUs (default: the host's, at most 4)
#   --rwdir DIR     share DIR read-write at the same path (repeatable)
#   --env NAME=VAL  export NAME=VAL to COMMAND (repeatable)
#   --console FILE  keep the guest kernel's console log in FILE
#   --tcg           use TCG even where KVM would do
#   -v              print the console log and the timings
#
# Acceleration: KVM when /dev/kvm is writable and the CPU shows VT-x/AMD-V
# (vmx/svm in /proc/cpuinfo); otherwise TCG, -accel tcg,thread=multi -cpu
# max. (A /dev/kvm without vmx/svm, a nested software hypervisor, does not
# boot stock Debian kernels.)
#
# NN_TIME_SCALE: how much slower than the host the guest runs, exported to
# COMMAND for latency bounds that emulation stretches: 1 under KVM,
# $NN_VM_TCG_SCALE (default 4) under TCG. A test multiplies its time bounds
# by it; bounds are never loosened for the host.
#
# Exit status: COMMAND's; 124 on timeout; 125 when the VM could not be set up
# or the guest died before reporting a status (the reason on stderr, with the
# tail of the kernel's console). Every path stops qemu and removes the run
# directory.
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=vmrun.sh
TIMEOUT=600 MEM=2G VERBOSE=0 CONSOLE="" ACCEL=auto
SMP=$(nproc)
[ "$SMP" -gt 4 ] && SMP=4
RWDIRS=() ENVS=()

die() { echo "$PROG: $*" >&2; exit 125; }

while [ $# -gt 0 ]; do
	case $1 in
	--timeout) TIMEOUT=$2; shift ;;
	--mem) MEM=$2; shift ;;
	--smp) SMP=$2; shift ;;
	--rwdir) RWDIRS+=("$(realpath -e "$2")") || die "no such directory: $2"; shift ;;
	--env) [[ $2 == [A-Za-z_]*=* ]] || die "--env wants NAME=VALUE: $2"; ENVS+=("$2"); shift ;;
	--console) CONSOLE=$2; shift ;;
	--tcg) ACCEL=tcg ;;
	-v) VERBOSE=1 ;;
	--) die "KERNEL missing before --" ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
[ $# -ge 3 ] && [ "$2" = -- ] || die "usage: vmrun.sh [OPTIONS] KERNEL -- COMMAND [ARGS...]"
KARG=$1
shift 2

command -v qemu-system-x86_64 >/dev/null ||
	die "no qemu-system-x86_64: tools/install-deps.sh installs qemu-system-x86"
if [ -d "$KARG" ]; then
	KDIR=$(realpath "$KARG")
else
	KDIR=$("$VM_DIR/kernels.sh" prepare "$KARG") || die "kernel $KARG: cannot be prepared (above)"
fi
KVER=$(cat "$KDIR/kver") || die "$KDIR is not a prepared kernel"
BOOT=$KDIR/vmlinux
[ -e "$BOOT" ] || BOOT=$KDIR/boot/vmlinuz-$KVER

if [ "$ACCEL" = auto ]; then
	if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
if [ "$ACCEL" = kvm ]; then
	accel=(-accel kvm -cpu host)
	scale=1
else
	accel=(-accel tcg,thread=multi -cpu "${NN_VM_CPU:-max}")
	scale=${NN_VM_TCG_SCALE:-8}
fi

RUNDIR=$(mktemp -d /tmp/nn-vmrun.XXXXXX)
QPID=""
cleanup() {
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null || true
		wait "$QPID" 2>/dev/null || true
	fi
	rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

printf 'KVER=%q\nMODDIR=%q\nRUNDIR=%q\n' "$KVER" "$KDIR/lib/modules/$KVER" "$RUNDIR" \
	>"$RUNDIR/config"
printf '%s\n' "${RWDIRS[@]}" | sed '/^$/d' >"$RUNDIR/rwdirs"
{
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	echo 'export HOME=/root LANG=C.UTF-8 TERM=dumb NN_VM=1'
	printf 'export NN_TIME_SCALE=%q NN_VM_ACCEL=%q\n' "$scale" "$ACCEL"
	for e in "${ENVS[@]}"; do printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"; done
	printf 'cd %q || exit 125\n' "$PWD"
	printf 'exec'
	printf ' %q' "$@"
	echo
} >"$RUNDIR/cmd.sh"

# quiet: printing every boot message to the emulated UART costs ~0.3 s under
# TCG; warnings, oopses and panics still reach the console log.
# no_timer_check: on a loaded host the emulated timer's first ticks come
# late, and the kernel's IO-APIC timer check panics the guest at boot
# ("IO-APIC + timer doesn't work"): seen at load 12-16 in session 16.
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot
	-machine pc "${accel[@]}" -smp "$SMP" -m "$MEM"
	-kernel "$BOOT" -initrd "$KDIR/initramfs.cpio.gz"
	-append "console=ttyS0 quiet panic=-1 no_timer_check rdinit=/init ${NN_VM_APPEND:-}"
	-chardev "file,id=klog,path=$RUNDIR/console.log" -serial chardev:klog
	-chardev stdio,id=io,signal=off -serial chardev:io)
fs9p() { # ID PATH TAG [readonly=on]; qemu wants a ',' in PATH doubled
	qemu+=(-fsdev "local,id=$1,path=${2//,/,,},security_model=none,multidevs=remap${4:+,$4}"
		-device "virtio-9p-pci,fsdev=$1,mount_tag=$3")
}
fs9p hostroot / hostroot readonly=on
fs9p nnrun "$RUNDIR" nnrun
i=0
for d in "${RWDIRS[@]}"; do
	i=$((i + 1))
	fs9p "rw$i" "$d" "rw$i"
done

start=$EPOCHREALTIME
# timeout(1) ends qemu when the guest overstays; stdin is not the guest's
timeout -k 5 "$TIMEOUT" "${qemu[@]}" </dev/null &
QPID=$!
qrc=0
wait "$QPID" || qrc=$?
QPID=""
wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

[ -n "$CONSOLE" ] && cp "$RUNDIR/console.log" "$CONSOLE"
console_tail() { tail -n "${1:-30}" "$RUNDIR/console.log" | sed 's/^/[console] /' >&2; }
if [ "$VERBOSE" = 1 ]; then
	console_tail 100000
elif grep -qE 'BUG:|WARNING:|Oops|Kernel panic|Call Trace' "$RUNDIR/console.log"; then
	echo "$PROG: the guest kernel $KVER complained; its console log:" >&2
	console_tail 200
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "$PROG: $KVER ($ACCEL): timeout after ${TIMEOUT}s" >&2
	exit 124
fi
if [ ! -e "$RUNDIR/exit-code" ]; then
	echo "$PROG: $KVER ($ACCEL): the guest stopped without reporting an exit status" \
		"(qemu exit $qrc); the kernel's console:" >&2
	console_tail 30
	exit 125
fi
rc=$(cat "$RUNDIR/exit-code")
# boot-to-command: guest uptime when the command started (the guest's clock
# runs at host speed under TCG too)
echo "$PROG: $KVER ($ACCEL): command started at uptime" \
	"$(cat "$RUNDIR/uptime-start")s, ended at $(cat "$RUNDIR/uptime-end")s, exit $rc;" \
	"wall ${wall}s" >&2
exit "$rc"
