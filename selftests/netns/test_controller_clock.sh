#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A wall-clock step forward and back across the resync timer (issue 15
# part 6): what NTP or an operator's `date -s` does to a running gateway.
# The controller runs under libfaketime (Debian's faketime package) with
# only CLOCK_REALTIME faked (FAKETIME_DONT_FAKE_MONOTONIC=1, as a real step
# leaves CLOCK_MONOTONIC alone), re-read on every call from a file the test
# rewrites: +0, then +1 h, then -1 h. A time namespace cannot do this: it
# offsets only the monotonic and boot clocks, and only before the first
# process enters it; and stepping the host's clock would disturb everything
# else on the machine.
#
# Checked across each step: the drift timer (--resync 2) fires neither in a
# storm nor never (its firings counted from the debug log, "trigger=drift"),
# and nanami_seconds_since_last_sync / the status's seconds_since_last_sync
# stay within one resync interval (they once counted wall-clock seconds:
# 3602 after the forward step, a false "snapshot stale" alert, and -7200
# after the step back).
#
#   +-----------------------------------------------------------+
#   | node gw (own netns + mount ns, private bpffs)             |
#   |  nanami-cp 127.0.0.1:8443 (--admin, keepalive 1 s)        |
#   |  LD_PRELOAD=libfaketime nanami-gatewayd --resync 2 -v     |
#   |       TC on eth0 (veth to node c)                         |
#   +-----------------------------------------------------------+
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need

FT=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -1)
if [ -z "$FT" ] || [ ! -e "$FT" ]; then
	nn_not_ok "libfaketime installed (Debian package faketime: tools/install-deps.sh)"
	nn_finish
	exit 1
fi

GW_IFACE=eth0
PINS=/sys/fs/bpf/nanami-test/clk
RESYNC=2
WINDOW=7 # s: 3-4 firings of a 2 s timer (jitter 10%), 2-5 allowed under load
BOB=fd7a:6e61:6e61:10::3
OFF=$NN_TMP/faketime.offset

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }
gen() { gwctl status | jq -r .generation; }
gen_is() { [ "$(gen)" = "$1" ]; }
cp_state_is() { [ "$(metric "nanami_control_plane_state{state=\"$1\"}")" = 1 ]; }
drifts() { grep -cE 'event=applied .*trigger=drift|event=drift_checked' "$NN_TMP/g1.log"; }
since() { metric nanami_seconds_since_last_sync; }
since_status() { gwctl status | jq -r .controller.sync.seconds_since_last_sync; }
wall() {	# the controller's wall clock, as its log stamps it (last line)
	tail -1 "$NN_TMP/g1.log" | sed -n 's/^ts=\([0-9-]*T[0-9:]*\).*/\1/p'
}

cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$EX" ||
	{ nn_not_ok "control plane started"; exit 1; }
echo "+0" >"$OFF"
nn_bg gw g1 env LD_PRELOAD="$FT" FAKETIME_TIMESTAMP_FILE="$OFF" FAKETIME_NO_CACHE=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1 "$GWD" --iface eth0 --control-plane "$CP_URL" \
	--node-id gw-fra-1 --bpffs "$PINS" --state-dir "$NN_TMP/state" --wg none --nat off \
	--metrics-listen "$METRICS" "${CAPS[@]}" --resync $RESYNC --poll 1 -v
nn_check "under libfaketime: generation 7 applied" nn_wait_for 8 gen_is 7
nn_check "stream up" nn_wait_for 5 cp_state_is stream

# One window: firings of the drift timer and the largest "seconds since
# the last sync" seen, sampled every 0.5 s.
window() {	# LABEL
	local d0 min=99999 max=-99999 s t end n
	d0=$(drifts)
	end=$(($(nn_now_ms) + WINDOW * 1000))
	while [ "$(nn_now_ms)" -lt "$end" ]; do
		for s in "$(since)" "$(since_status)"; do
			[[ $s =~ ^-?[0-9]+$ ]] || { min=-99999; continue; }	# null or nothing: fails
			[ "$s" -lt "$min" ] && min=$s
			[ "$s" -gt "$max" ] && max=$s
		done
		sleep 0.5
	done
	n=$(($(drifts) - d0))
	echo "# $1: drift firings in ${WINDOW} s: $n; seconds_since_last_sync (metric and status) seen: $min..$max; controller wall clock $(wall)"
	nn_check "$1: the drift timer fired 2-5 times in ${WINDOW} s (no stall, no storm: $n)" \
		test "$n" -ge 2 -a "$n" -le 5
	nn_check "$1: seconds_since_last_sync (metric, status) within 0..$((RESYNC + 1)) ($min..$max)" \
		test "$min" -ge 0 -a "$max" -le $((RESYNC + 1))
}

window "clock as is"
echo "+3600" >"$OFF"
window "wall clock stepped 1 h forward"
nn_check "the step reached the controller (its log is stamped an hour ahead)" \
	test $(( $(date -u -d "$(wall)Z" +%s) - $(date -u +%s) )) -ge 3500
echo "-3600" >"$OFF"
window "wall clock stepped 2 h back"
# The controller still follows the control plane: a change lands by the stream.
cp_req PUT /admin/v1/devices/bob-phone/state '{"state":"disabled"}' >/dev/null
G=$(cp_gen)
nn_check "after the steps: a change still lands (generation $G)" nn_wait_for 3 gen_is "$G"
nn_check "after the steps: bob-phone revoked" \
	test "$(reason $BOB fd00:acc:1::1 tcp 443)" = revoked
gwd_kill g1 TERM
cp_stop cp

nn_finish
