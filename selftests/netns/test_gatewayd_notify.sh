#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# systemd readiness (Type=notify), with the real controller in a namespace
# and a recorder standing in for systemd's notification socket
# (notify_recorder.py: $NOTIFY_SOCKET, one line per datagram, timestamped):
#
# - control plane down and no last-known-good: STATUS= says so, and no
#   READY=1 however long it runs (the dataplane denies everything: units
#   ordered after ours must not start);
# - the control plane comes up: READY=1 once, with a STATUS= naming the
#   generation, and at that instant the pinned maps enforce that generation
#   (the recorder reads nn_meta/nn_active the moment READY=1 arrives);
# - WATCHDOG=1 at half WATCHDOG_USEC all along (before and after READY),
#   none without WATCHDOG_USEC; STOPPING=1 on SIGTERM;
# - a restart with the control plane away: READY=1 from the last-known-good,
#   its STATUS= saying so; file mode: no READY while the file is rejected,
#   READY once a valid one lands.
#
#   node gw: eth0 (veth to node peer), nanami-cp on lo, nanami-gatewayd --wg none
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need

PINS=/sys/fs/bpf/nanami-test/eth0
GW_IFACE=eth0
REC=$NN_ROOT/selftests/netns/notify_recorder.py
WD_USEC=1000000	# WatchdogSec=1s: a ping every 500 ms

{ nn_node gw && nn_node peer && nn_link gw eth0 peer eth0 1; } || { nn_not_ok "topology"; exit 1; }

# rec_start TAG: a recorder in node gw at $NN_TMP/TAG.sock, lines in TAG.rec;
# at READY=1 it appends the enforced generation and epoch.
rec_start() {
	nn_bg gw "rec-$1" /usr/bin/python3 "$REC" "$NN_TMP/$1.sock" "$NN_TMP/$1.rec" \
		--on-ready "bpftool -j map dump pinned $PINS/nn_meta | jq -r '\"gen=\" + (.[0].formatted.value.generation|tostring)'; bpftool -j map dump pinned $PINS/nn_active | jq -r '\"epoch=\" + (.[0].formatted.value.epoch|tostring)'"
	nn_wait_for 5 test -S "$NN_TMP/$1.sock"
}
rec_stop() { kill "$(cat "$NN_TMP/rec-$1.pid")" 2>/dev/null; }
# gwd TAG SOCK-TAG [ENV...] -- ARGS: the controller, notifying SOCK-TAG's recorder.
gwd() {
	local tag=$1 sock=$2
	shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	nn_bg gw "$tag" env NOTIFY_SOCKET="$NN_TMP/$sock.sock" "${envs[@]}" "$GWD" \
		--iface eth0 --bpffs "$PINS" --wg none --nat off "${CAPS[@]}" "$@"
}
readies() { grep -c '[ |]READY=1\(|\|$\)' "$NN_TMP/$1.rec"; }
statuses() { grep -o 'STATUS=[^|]*' "$NN_TMP/$1.rec" | sed 's/^STATUS=//'; }
last_status() { statuses "$1" | tail -1; }
# Gaps between WATCHDOG=1 datagrams in ms: "count min median max".
wd_gaps() {
	awk '$2 == "WATCHDOG=1" { if (p) print $1 - p; p = $1 }' "$NN_TMP/$1.rec" | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) { print "0 0 0 0"; exit }
			print NR + 1, v[1], v[int((NR + 1) / 2)], v[NR] }'
}

# ---- control plane down, no last-known-good ----
rec_start a
T0=$(nn_now_ms)
gwd g1 a WATCHDOG_USEC=$WD_USEC -- --control-plane "$CP_URL" --node-id gw-fra-1 \
	--state-dir "$NN_TMP/state" --poll 1 --resync 30
nn_check "CP down: STATUS says no snapshot and the control plane is unreachable" \
	nn_wait_for 5 sh -c "grep -q 'STATUS=no snapshot enforced yet, overlay traffic denied; control plane: unreachable' '$NN_TMP/a.rec'"
nn_check "CP down: STATUS told the start-up steps first" sh -c \
	"grep -q 'STATUS=loading the dataplane' '$NN_TMP/a.rec' &&
	 grep -q 'STATUS=fetching the first snapshot from the control plane' '$NN_TMP/a.rec'"
sleep 3
nn_check "CP down: programs attached, nn_active epoch 0 (everything denied)" \
	test "$(active_epoch)" = 0
nn_check "CP down, no last-known-good: no READY=1 after $(( ($(nn_now_ms) - T0) / 1000 )) s" \
	test "$(readies a)" = 0

# ---- the control plane comes up: READY=1 once, after enforcement ----
cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$EX" ||
	nn_not_ok "reference control plane started"
GEN=$(cp_gen)
nn_check "CP up: READY=1 arrives" nn_wait_for 10 sh -c "grep -q 'READY=1' '$NN_TMP/a.rec'"
nn_wait_for 5 grep -q '^ready-check-rc:' "$NN_TMP/a.rec"
rline=$(grep -m1 'READY=1' "$NN_TMP/a.rec")
nn_check "READY=1 comes with STATUS enforcing generation $GEN" \
	sh -c "echo '$rline' | grep -q 'STATUS=enforcing generation $GEN ('"
nn_check "at READY=1 the pinned maps enforce generation $GEN (nn_meta)" \
	grep -qx "ready-check: gen=$GEN" "$NN_TMP/a.rec"
nn_check "at READY=1 nn_active's epoch is live (not 0)" \
	sh -c "grep -x 'ready-check: epoch=[0-9]*' '$NN_TMP/a.rec' | grep -vqx 'ready-check: epoch=0'"
nn_check "CP up: STATUS names the control plane's state" nn_wait_for 5 sh -c \
	"last_status() { grep -o 'STATUS=[^|]*' '$NN_TMP/a.rec' | tail -1; }
	 last_status | grep -q 'enforcing generation $GEN .*; control plane: \(event stream up\|reachable\)'"

# ---- the control plane goes away: status follows, READY stays single ----
cp_kill cp
nn_check "CP gone: STATUS says unreachable while enforcing" nn_wait_for 10 sh -c \
	"grep -o 'STATUS=[^|]*' '$NN_TMP/a.rec' | tail -1 |
	 grep -q 'enforcing generation $GEN .*control plane: unreachable'"
gwd_kill g1 TERM
nn_check "SIGTERM: STOPPING=1 sent" nn_wait_for 3 grep -q 'STOPPING=1' "$NN_TMP/a.rec"
nn_check "READY=1 sent exactly once over the run" test "$(readies a)" = 1
T1=$(nn_now_ms)
read -r n min med max <<<"$(wd_gaps a)"
echo "# watchdog: $n pings over $(( (T1 - T0) / 1000 )) s, gaps min ${min} median ${med} max ${max} ms (interval 500)"
nn_check "WATCHDOG=1 pinged throughout (>= 1 per second over the run)" \
	test "$n" -ge $(( (T1 - T0) / 1000 - 2 ))
nn_check "WATCHDOG=1 median gap near half WatchdogSec (400-650 ms)" \
	test "$med" -ge 400 -a "$med" -le $((650 * NN_TIME_SCALE))
nn_check "WATCHDOG=1 never late: max gap below WatchdogSec (1000 ms)" \
	test "$max" -lt $((1000 * NN_TIME_SCALE))
nn_check "WATCHDOG=1 also before READY=1 (the loop pings while it waits)" sh -c \
	"awk '\$2 == \"WATCHDOG=1\" { w = 1 } /READY=1/ { exit !w } END { }' '$NN_TMP/a.rec'"
rec_stop a

# ---- restart, control plane away: READY=1 from the last-known-good ----
rec_start b
gwd g2 b -- --control-plane "$CP_URL" --node-id gw-fra-1 --state-dir "$NN_TMP/state" --poll 1
nn_check "restart, CP away: READY=1 from the last-known-good" \
	nn_wait_for 10 grep -q 'READY=1' "$NN_TMP/b.rec"
nn_check "its STATUS says last-known-good and control plane unreachable" sh -c \
	"grep -m1 'READY=1' '$NN_TMP/b.rec' | grep -q 'STATUS=enforcing generation $GEN ([0-9]* devices, last-known-good); control plane: unreachable'"
sleep 1.5
nn_check "no WATCHDOG_USEC: no WATCHDOG=1" sh -c "! grep -q WATCHDOG=1 '$NN_TMP/b.rec'"
gwd_kill g2 TERM
rec_stop b
"$GWD" --iface eth0 --bpffs "$PINS" --detach >/dev/null 2>&1 ||
	nn_in gw "$GWD" --iface eth0 --bpffs "$PINS" --detach >/dev/null 2>&1

# ---- file mode: a rejected file is not ready; a valid one is ----
rec_start c
jq '.api_version = "nope"' "$EX" >"$NN_TMP/snap.json"
gwd g3 c -- --assignments "$NN_TMP/snap.json" --state-dir "$NN_TMP/state-f"
nn_check "file rejected: STATUS says so and names the file" nn_wait_for 5 sh -c \
	"grep -q 'STATUS=no snapshot enforced yet, overlay traffic denied: $NN_TMP/snap.json unreadable or rejected' '$NN_TMP/c.rec'"
sleep 1
nn_check "file rejected: no READY=1" test "$(readies c)" = 0
jq '.generation = 9' "$EX" >"$NN_TMP/snap.tmp" && mv "$NN_TMP/snap.tmp" "$NN_TMP/snap.json"
nn_check "valid file: READY=1" nn_wait_for 5 grep -q 'READY=1' "$NN_TMP/c.rec"
nn_wait_for 5 grep -q '^ready-check-rc:' "$NN_TMP/c.rec"
nn_check "valid file: STATUS enforcing generation 9 from the file" sh -c \
	"grep -m1 'READY=1' '$NN_TMP/c.rec' | grep -q 'STATUS=enforcing generation 9 ([0-9]* devices) from $NN_TMP/snap.json'"
nn_check "valid file: the maps enforce generation 9 at READY=1" \
	grep -qx "ready-check: gen=9" "$NN_TMP/c.rec"
gwd_kill g3 TERM
rec_stop c
nn_in gw "$GWD" --iface eth0 --bpffs "$PINS" --detach >/dev/null 2>&1
nn_finish
