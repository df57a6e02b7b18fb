#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# selftests/vm/init.sh - PID 1 of a vmrun.sh guest (the initramfs's /init, run
# by its static busybox).
#
# Stage 1 (no argument): load the 9p and overlay modules, mount the host's
# root (9p, read-only) under a tmpfs overlay, bind the kernel package's
# module tree to /lib/modules/KVER and the run share to its host path, give
# the new root fresh /proc /sys /dev /run and bpffs, then switch root for
# real (mount --move + chroot, as switch_root does): a chroot child would
# leave the initramfs as the root that setns(CLONE_NEWNS) (ip netns exec,
# nsenter -m) and the kernel's usermode helpers (modprobe) resolve paths in.
#
# Stage 2 ("stage2 RUNDIR", PID 1 in the new root): run RUNDIR/cmd.sh with
# its output on the second serial port, write its exit status and the uptime
# at its start and end into RUNDIR, power off. PID 1 never exits.
export PATH=/bin
con=/dev/ttyS1

if [ "${1:-}" = stage2 ]; then
	bb=/run/vm-init/busybox
	RUNDIR=$2
	$bb hostname nn-vm
	$bb ip link set lo up
	$bb cut -d' ' -f1 /proc/uptime >"$RUNDIR/uptime-start"
	$bb stty -F $con raw -echo 2>/dev/null
	/bin/bash "$RUNDIR/cmd.sh" </dev/null >$con 2>&1
	echo $? >"$RUNDIR/exit-code"
	$bb cut -d' ' -f1 /proc/uptime >"$RUNDIR/uptime-end"
	$bb sync
	$bb poweroff -f
	$bb sleep 30
fi

bb=/bin/busybox
die() {
	echo "vm-init: $*" | $bb tee /dev/ttyS0 >$con
	$bb poweroff -f
	$bb sleep 30
}
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
for m in /modules/*.ko; do
	$bb insmod "$m" >$con 2>&1 || die "insmod $m failed"
done
o9p=trans=virtio,version=9p2000.L,msize=512000
$bb mkdir -p /run/vm
$bb mount -t 9p -o $o9p,cache=none nnrun /run/vm || die "cannot mount the run share"
. /run/vm/config
$bb mount -t 9p -o $o9p,ro,cache=loose hostroot /lower || die "cannot mount the host root"
$bb mount -t tmpfs -o mode=0755 tmpfs /rw && $bb mkdir /rw/upper /rw/work
$bb mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
	die "cannot mount the overlay"
R=/newroot
# a fresh /run first: the run share and --rwdir paths may lie under it. /tmp
# stays the host's, seen through the overlay (writable, writes stay in the
# guest): the checkout and its build/ may live there (a CI clone in /tmp),
# and the module tree bound below is under build/.
$bb mount -t tmpfs -o mode=0755 tmpfs $R/run
# the package's module tree, before anything hides the host path it lives under
$bb mkdir -p "$R/lib/modules/$KVER" && $bb mount --bind "$R$MODDIR" "$R/lib/modules/$KVER" ||
	die "cannot bind $MODDIR"
$bb mkdir -p "$R$RUNDIR" && $bb mount --bind /run/vm "$R$RUNDIR" || die "cannot bind the run share"
i=0
while IFS= read -r d; do
	[ -n "$d" ] || continue
	i=$((i + 1))
	$bb mkdir -p "$R$d" && $bb mount -t 9p -o $o9p,cache=none "rw$i" "$R$d" ||
		die "cannot mount $d read-write"
done </run/vm/rwdirs
$bb mount -t proc proc $R/proc
$bb mount -t sysfs sysfs $R/sys
$bb mount -t devtmpfs devtmpfs $R/dev
$bb mkdir -p $R/dev/pts $R/dev/shm $R/dev/net
# what udev and kmod static-nodes would add: the nodes whose opening loads
# their module (/dev/net/tun, /dev/fuse, ...); bash's <(...) needs /dev/fd
while read -r _ node dev; do
	case $dev in
	[cb][0-9]*:[0-9]*)
		case $node in */*) $bb mkdir -p "$R/dev/${node%/*}" ;; esac
		[ -e "$R/dev/$node" ] ||
			$bb mknod "$R/dev/$node" "${dev%%[0-9]*}" $(echo "${dev#?}" | $bb tr : ' ')
		;;
	esac
done <"$R/lib/modules/$KVER/modules.devname"
$bb ln -s /proc/self/fd $R/dev/fd
$bb ln -s /proc/self/fd/0 $R/dev/stdin
$bb ln -s /proc/self/fd/1 $R/dev/stdout
$bb ln -s /proc/self/fd/2 $R/dev/stderr
$bb mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
$bb mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
$bb mount -t bpf -o mode=0700 bpf $R/sys/fs/bpf
$bb mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
$bb mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
$bb mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
$bb mkdir -p $R/run/vm-init
$bb cp $bb $R/run/vm-init/busybox
$bb cp /init $R/run/vm-init/init
cd $R && $bb mount --move . / || die "cannot move the new root"
exec $bb chroot . /run/vm-init/busybox sh /run/vm-init/init stage2 "$RUNDIR"
