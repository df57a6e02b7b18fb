#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian package, installed as an operator would, checked, removed and
# purged:
#
#   selftests/deb/test_deb_install.sh [--root overlay|debootstrap] [DEB]
#
# --root overlay (default, offline, seconds): a throw-away root that is this
#   host's filesystem under an overlay (lower: /, upper: a tmpfs), entered
#   with chroot in a private mount namespace. dpkg -i installs into it with
#   the host's dpkg database as the starting point, so the runtime libraries
#   are there; whether Depends names each of them is checked separately
#   (every library the binaries need belongs to a package Depends lists).
#   After the purge, the overlay's upper layer holds exactly what the
#   package left behind: only dpkg's own records may remain.
# --root debootstrap (network, minutes the first time): a fresh bookworm
#   minbase root (debootstrap, cached as a tarball in $O/deb/), where apt
#   installs the package and resolves its Depends from the Debian archive.
#
# Checks: files, owners and modes, conffiles, the unit (systemd-analyze
# verify of an instance), the binaries' --help in the root, no library
# missing, remove keeping the conffile, purge removing the state directory
# and the conffile but not the operator's own files.
# TAP: "ok - name" / "not ok - name"; the last line "N passed, N failed".
set -u
ROOT_MODE=overlay
if [ "${1:-}" = --root ]; then ROOT_MODE=$2; shift 2; fi
NN_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O=$NN_ROOT/$O ;; esac
DEB=${1:-$(ls -t "$O"/deb/nanami-gateway_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -1)}
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && echo "#   $2"; return 0; }
check() { local n=$1; shift; if "$@" >"$T/check.out" 2>&1; then ok "$n"; else not_ok "$n" "$*"; sed 's/^/#   /' "$T/check.out" | head -40; fi; }
finish() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" -eq 0 ]; }

if [ "$(id -u)" -ne 0 ]; then
	echo "not ok - root needed (chroot, mounts)"; echo "0 passed, 1 failed"; exit 1
fi
if [ -z "$DEB" ] || [ ! -f "$DEB" ]; then
	echo "not ok - a package to install: run make deb (or name one)"; echo "0 passed, 1 failed"; exit 1
fi
# Everything below mounts: do it in a private mount namespace, so that
# whatever happens, nothing stays mounted on the host.
if [ -z "${NN_DEB_NS:-}" ]; then
	NN_DEB_NS=1 exec unshare --mount --propagation private -- "$0" --root "$ROOT_MODE" "$DEB"
fi
DEB=$(readlink -f "$DEB")
T=$(mktemp -d /tmp/nn-deb.XXXXXX)
R=$T/root
# Unmount everything under $T (deepest first), and remove $T only when no
# mount is left there: rm must never walk into a mounted file system.
cleanup() {
	local m
	for m in $(awk -v t="$T" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	if awk -v t="$T" '$5 == t || index($5, t "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		echo "# $T still has mounts: left in place" >&2
		return
	fi
	rm -rf --one-file-system "$T"
}
trap cleanup EXIT
START=$SECONDS
echo "# package $DEB, root: $ROOT_MODE"

in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

prepare_overlay() {
	mount -t tmpfs -o mode=0755 tmpfs "$T" || return 1
	mkdir -p "$T/upper" "$T/work" "$R" &&
	mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$R"
}

# A cached minbase bookworm (with systemd, for systemd-analyze verify),
# unpacked fresh for each run.
prepare_debootstrap() {
	local cache=$O/deb/bookworm-minbase.tar
	if [ ! -s "$cache" ]; then
		echo "# debootstrap bookworm minbase into $cache (once)"
		mkdir -p "$O/deb" &&
		debootstrap --variant=minbase --include=systemd bookworm "$T/dbs-root" \
			http://deb.debian.org/debian >"$O/deb/debootstrap.log" 2>&1 &&
		tar -C "$T/dbs-root" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache" &&
		rm -rf --one-file-system "$T/dbs-root" || { tail -5 "$O/deb/debootstrap.log"; return 1; }
	fi
	mkdir -p "$R" && tar -C "$R" -xf "$cache" || return 1
	cp /etc/resolv.conf "$R/etc/resolv.conf"
	cp /etc/apt/sources.list.d/* "$R/etc/apt/sources.list.d/" 2>/dev/null
	find "$R" -xdev -path "$R/proc" -prune -o -path "$R/dev" -prune -o -print | sed "s|^$R||" |
		sort >"$T/before.list"
}

if "prepare_$ROOT_MODE"; then ok "fresh root ($ROOT_MODE) ready in $((SECONDS - START)) s"; else
	not_ok "fresh root ($ROOT_MODE)"; finish; exit 1; fi
# A /dev of its own (a tmpfs with the few nodes package scripts use), never
# the host's: nothing done in the root can touch the host's devices.
mkdev() {
	mount -t tmpfs -o mode=0755,nosuid tmpfs "$R/dev" || return 1
	mknod -m 666 "$R/dev/null" c 1 3 && mknod -m 666 "$R/dev/zero" c 1 5 &&
	mknod -m 666 "$R/dev/full" c 1 7 && mknod -m 666 "$R/dev/random" c 1 8 &&
	mknod -m 666 "$R/dev/urandom" c 1 9 && mknod -m 666 "$R/dev/tty" c 5 0 &&
	ln -s /proc/self/fd "$R/dev/fd" && ln -s /proc/self/fd/0 "$R/dev/stdin" &&
	ln -s /proc/self/fd/1 "$R/dev/stdout" && ln -s /proc/self/fd/2 "$R/dev/stderr"
}
mkdir -p "$R/dev" "$R/proc"
mkdev && mount -t proc proc "$R/proc" || { not_ok "mount /dev, /proc in the root"; finish; exit 1; }
mkdir -p "$R/tmp" && cp "$DEB" "$R/tmp/nn.deb"

# ---- install ----
t0=$SECONDS
if [ "$ROOT_MODE" = debootstrap ]; then
	in_root sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/nn.deb' >"$T/install.log" 2>&1
else
	in_root dpkg -i /tmp/nn.deb >"$T/install.log" 2>&1
fi
rc=$?
if [ $rc -eq 0 ]; then ok "installed ($((SECONDS - t0)) s)"; else not_ok "install" "$(tail -5 "$T/install.log")"; fi
check "dpkg: install ok installed" sh -c "[ \"\$(chroot '$R' dpkg-query -W -f='\${Status}' nanami-gateway)\" = 'install ok installed' ]"

# path mode owner: the files an operator relies on, as the package lays them.
while read -r path mode; do
	check "$path: mode $mode, root:root" sh -c "[ \"\$(stat -c '%a %U:%G' '$R$path')\" = '$mode root:root' ]"
done <<-EOF2
	/usr/sbin/nanami-gatewayd 755
	/usr/bin/nanami-gwctl 755
	/lib/systemd/system/nanami-gatewayd@.service 644
	/etc/nanami/gatewayd.conf.example 644
	/usr/share/man/man8/nanami-gatewayd.8.gz 644
	/usr/share/man/man8/nanami-gwctl.8.gz 644
	/usr/share/doc/nanami-gateway/copyright 644
	/usr/share/doc/nanami-gateway/changelog.gz 644
EOF2
check "every file dpkg lists is there, none group/world-writable" sh -c "
	chroot '$R' dpkg -L nanami-gateway | while read -r f; do
		[ -e '$R'\"\$f\" ] || { echo \"missing \$f\"; exit 1; }
		[ -d '$R'\"\$f\" ] || [ -z \"\$(find '$R'\"\$f\" -perm /022)\" ] || { echo \"writable \$f\"; exit 1; }
	done"
check "the sample configuration is a conffile" sh -c \
	"chroot '$R' dpkg-query -W -f='\${Conffiles}' nanami-gateway | grep -q '^ /etc/nanami/gatewayd.conf.example '"
for d in prometheus grafana; do
	for f in "$NN_ROOT"/packaging/$d/*; do
		[ -f "$f" ] || continue
		check "ships $d/${f##*/} in /usr/share/nanami-gateway" \
			cmp "$f" "$R/usr/share/nanami-gateway/$d/${f##*/}"
	done
done
check "man pages: gzip'd roff" sh -c "zcat '$R/usr/share/man/man8/nanami-gatewayd.8.gz' | grep -q '^.TH'"

# ---- the unit ----
UNIT=$R/lib/systemd/system/nanami-gatewayd@.service
check "unit: Type=notify, WatchdogSec, the installed binary" sh -c "
	grep -qx 'Type=notify' '$UNIT' && grep -q '^WatchdogSec=[1-9]' '$UNIT' &&
	grep -qx 'ExecStart=/usr/sbin/nanami-gatewayd --iface %i \$NANAMI_GATEWAYD_ARGS' '$UNIT' &&
	! grep -q '@[A-Z]*@' '$UNIT'"
if [ -x "$R/usr/bin/systemd-analyze" ]; then
	# An instance, as the operator starts it: systemd-analyze checks the
	# directives, the binary and the man page it names.
	check "systemd-analyze verify nanami-gatewayd@wg0.service: no complaint" sh -c "
		chroot '$R' env -i PATH=/usr/sbin:/usr/bin SYSTEMD_LOG_LEVEL=notice \
			systemd-analyze verify --man=no /lib/systemd/system/nanami-gatewayd@wg0.service \
			>'$T/verify.log' 2>&1; rc=\$?; cat '$T/verify.log'; [ \$rc -eq 0 ] && [ ! -s '$T/verify.log' ]"
else
	not_ok "systemd-analyze in the root" "not installed there: the unit is not verified"
fi

# ---- the binaries, inside the root ----
check "nanami-gatewayd --help runs in the root" sh -c "chroot '$R' /usr/sbin/nanami-gatewayd --help | grep -q '^Usage: nanami-gatewayd'"
check "nanami-gwctl --help runs in the root" chroot "$R" /usr/bin/nanami-gwctl --help
check "no library missing (ldd)" sh -c "! chroot '$R' ldd /usr/sbin/nanami-gatewayd /usr/bin/nanami-gwctl | grep 'not found'"
# Depends names the package of every library the binaries load (the
# overlay root has them all anyway: this is what makes a fresh root work).
check "Depends names the package of each needed library" sh -c "
	deps=\$(chroot '$R' dpkg-query -W -f='\${Depends}' nanami-gateway | tr ',' '\n' | sed 's/^ *//; s/[ :].*//')
	for so in \$(objdump -p '$R/usr/sbin/nanami-gatewayd' '$R/usr/bin/nanami-gwctl' | awk '/NEEDED/ { print \$2 }' | sort -u); do
		lib=\$(chroot '$R' ldconfig -p | awk -v s=\"\$so\" '\$1 == s && /x86-64/ { print \$NF; exit }')
		pkg=
		# usrmerge: ldconfig says /lib, dpkg may know /usr/lib (or the reverse).
		for c in \"\$lib\" \"/usr\$lib\" \"\${lib#/usr}\"; do
			[ -n \"\$pkg\" ] || pkg=\$(chroot '$R' dpkg -S \"\$c\" 2>/dev/null | head -1 | sed 's/:.*//')
		done
		[ -n \"\$pkg\" ] || { echo \"\$so: no package owns \$lib\"; exit 1; }
		echo \"\$deps\" | grep -qx \"\$pkg\" || { echo \"\$so (\$pkg) not in Depends: \$deps\"; exit 1; }
	done"

# ---- what the daemon and the operator add at run time ----
mkdir -p "$R/var/lib/nanami/wg0" && echo '{}' >"$R/var/lib/nanami/wg0/lkg.json" &&
	echo 'NANAMI_GATEWAYD_ARGS="--assignments /etc/nanami/snapshot.json"' >"$R/etc/nanami/gatewayd-wg0.conf"

# ---- remove, then purge ----
in_root dpkg -r nanami-gateway >"$T/remove.log" 2>&1
check "remove: binaries gone" sh -c "[ ! -e '$R/usr/sbin/nanami-gatewayd' ] && [ ! -e '$R/usr/bin/nanami-gwctl' ] && [ ! -e '$UNIT' ]"
check "remove: conffile kept (config-files state)" sh -c "
	[ -f '$R/etc/nanami/gatewayd.conf.example' ] &&
	[ \"\$(chroot '$R' dpkg-query -W -f='\${Status}' nanami-gateway)\" = 'deinstall ok config-files' ]"
in_root dpkg --purge nanami-gateway >"$T/purge.log" 2>&1
check "purge: dpkg forgets the package" sh -c "! chroot '$R' dpkg-query -W -f='\${Status}' nanami-gateway 2>/dev/null | grep -q 'ok'"
check "purge: conffile and state directory gone" sh -c "[ ! -e '$R/etc/nanami/gatewayd.conf.example' ] && [ ! -e '$R/var/lib/nanami' ]"
check "purge: the operator's own gatewayd-wg0.conf stays" test -f "$R/etc/nanami/gatewayd-wg0.conf"
rm -f "$R/etc/nanami/gatewayd-wg0.conf" && rmdir "$R/etc/nanami" 2>/dev/null
rm -f "$R/tmp/nn.deb"
# In the overlay, what changed is the upper layer (the host's own tree
# may well hold nanami files: this checkout, for one).
[ "$ROOT_MODE" = overlay ] && CHANGED=$T/upper || CHANGED=$R
check "purge: nothing named nanami left in the root" sh -c "
	! find '$CHANGED' -xdev \( -path '$CHANGED/proc' -o -path '$CHANGED/dev' -o -path '$CHANGED/tmp' -o -path '$CHANGED/var/lib/dpkg' \) -prune -o ! -type c -iname '*nanami*' -print | grep ."
if [ "$ROOT_MODE" = overlay ]; then
	# The upper layer is every change to the root: after the purge only
	# dpkg's own records (database, log), man-db's index (its trigger ran
	# when the man pages came and went) and systemd-analyze's run-time
	# marker may be there (whiteouts, character devices, are deletions of
	# the host's files: the host may have had a /var/lib/nanami of its
	# own, which the purge removed); directories only
	# when the host has them too (copied up when a child changed).
	check "purge: only dpkg's records left in the overlay's upper layer" sh -c "
		cd '$T/upper' && find . -mindepth 1 ! -type d ! -type c | sed 's|^\./||' |
		grep -Ev '^(var/lib/dpkg/|var/log/dpkg\.log$|var/log/apt/|var/cache/debconf/|var/cache/man/|run/systemd/|tmp/)' | grep . && exit 1
		find . -mindepth 1 -type d | sed 's|^\./||' | while read -r d; do
			[ -d \"/\$d\" ] || { echo \"new directory left: /\$d\"; exit 1; }
		done"
else
	# Against the root as debootstrap made it: what is new after the purge
	# is apt's and dpkg's, man-db's index, systemd-analyze's run-time
	# marker, and the Depends apt pulled in (they stay, as after any purge).
	find "$R" -xdev -path "$R/proc" -prune -o -path "$R/dev" -prune -o -print | sed "s|^$R||" |
		sort >"$T/after.list"
	check "purge: what is new in the root belongs to a package still installed, or apt/dpkg" sh -c "
		comm -13 '$T/before.list' '$T/after.list' |
		grep -Ev '^/(var/lib/(dpkg|apt)/|var/log/|var/cache/(apt|debconf|ldconfig|man)/|run/systemd/|tmp(/|\$)|etc/ld\.so\.cache\$)' >'$T/new.list'
		while read -r f; do
			[ -d \"$R\$f\" ] && continue
			# usrmerge: dpkg may know it as /lib/... (or /usr/lib/...)
			chroot '$R' dpkg -S \"\$f\" >/dev/null 2>&1 ||
				chroot '$R' dpkg -S \"\${f#/usr}\" >/dev/null 2>&1 ||
				chroot '$R' dpkg -S \"/usr\$f\" >/dev/null 2>&1 || { echo \"left: \$f\"; exit 1; }
		done <'$T/new.list'"
fi
echo "# test_deb_install ($ROOT_MODE): $((SECONDS - START)) s"
finish
