#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
# make install DESTDIR=... lays out the expected tree, and the systemd unit's
# capability set is exactly what the controller needs: it runs (--once, on a
# veth in a private namespace) under that bounding set, and fails without
# any one of its capabilities.
#
#   gw (eth0) ──veth── peer (eth0)
set -u
. "$(dirname "$0")/lib.sh"

DEST=$NN_TMP/destdir
if make -C "$NN_ROOT" --no-print-directory install O="$O" DESTDIR="$DEST" PREFIX=/usr \
	>"$NN_TMP/install.log" 2>&1; then
	nn_ok "make install DESTDIR=... PREFIX=/usr"
else
	nn_not_ok "make install" "$(tail -3 "$NN_TMP/install.log")"
fi
for f in usr/sbin/nanami-gatewayd usr/bin/nanami-gwctl usr/share/man/man8/nanami-gatewayd.8 \
	 usr/share/man/man8/nanami-gwctl.8 usr/lib/systemd/system/nanami-gatewayd@.service \
	 etc/nanami/gatewayd.conf.example; do
	nn_check "installed $f" test -s "$DEST/$f"
done
nn_check "binaries executable" test -x "$DEST/usr/sbin/nanami-gatewayd" -a -x "$DEST/usr/bin/nanami-gwctl"
UNIT=$DEST/usr/lib/systemd/system/nanami-gatewayd@.service
nn_check "unit runs the installed binary" grep -qx \
	'ExecStart=/usr/sbin/nanami-gatewayd --iface %i $NANAMI_GATEWAYD_ARGS' "$UNIT"
nn_check "unit reads /etc/nanami/gatewayd-%i.conf" grep -qx \
	'EnvironmentFile=/etc/nanami/gatewayd-%i.conf' "$UNIT"
nn_check "unit restarts on failure" grep -qx 'Restart=on-failure' "$UNIT"
nn_check "unit is Type=notify with a watchdog (sd_notify from the main loop)" sh -c \
	"grep -qx 'Type=notify' '$UNIT' && grep -q '^WatchdogSec=[1-9]' '$UNIT'"
nn_check "no @PLACEHOLDER@ left" sh -c "! grep -q '@[A-Z]*@' '$UNIT'"
nn_check "man pages are roff" sh -c "head -3 '$DEST/usr/share/man/man8/nanami-gwctl.8' | grep -q '^.TH nanami-gwctl 8'"
nn_check "the installed binary answers --help" "$DEST/usr/sbin/nanami-gatewayd" --help

# The capability set, as the unit states it: "CAP_BPF CAP_PERFMON ...".
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
setpriv_caps() { local c out=""; for c in "$@"; do out+=",+$(echo "${c#CAP_}" | tr A-Z a-z)"; done; echo "-all$out"; }

nn_node gw && nn_node peer && nn_link gw eth0 peer eth0 1 || { nn_not_ok topology; nn_finish; exit 1; }
run_with() {
	nn_in gw setpriv --bounding-set "$(setpriv_caps "$@")" --inh-caps -all -- \
		"$NN_BUILD/nanami-gatewayd" --iface eth0 --assignments "$NN_ROOT/examples/assignments.json" \
		--once --state-dir "$NN_TMP/state" --bpffs /sys/fs/bpf/nanami-inst/eth0 --nat off \
		--max-devices 1024 --max-rules 1024 --max-prefixes 2048 --max-cells 4096 \
		--max-flows 65536 --max-nodes 64 >"$NN_TMP/caps.log" 2>&1
}
detach() { nn_in gw "$NN_BUILD/nanami-gatewayd" --iface eth0 --bpffs /sys/fs/bpf/nanami-inst/eth0 --detach >/dev/null 2>&1; }

# shellcheck disable=SC2086
if run_with $caps; then
	nn_ok "runs with exactly the unit's capabilities ($caps)"
else
	nn_not_ok "runs with exactly the unit's capabilities ($caps)" "$(grep -m2 error "$NN_TMP/caps.log")"
fi
detach
for drop in $caps; do
	rest=$(echo " $caps " | sed "s/ $drop / /")
	# shellcheck disable=SC2086
	if run_with $rest; then
		nn_not_ok "$drop is needed" "it ran without it: the unit grants more than needed"
	else
		nn_ok "$drop is needed (fails without it)"
	fi
	detach
done
nn_finish
