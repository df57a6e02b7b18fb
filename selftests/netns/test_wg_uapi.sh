#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The UAPI client (user/wg/uapi.c) against a misbehaving daemon: every
# exchange is bounded in time and size and fails with a clear error; a reply
# from a newer daemon (unknown keys, scoped endpoint, huge counters) parses.
#
#   +---------------------------------------------------------------+
#   | host namespace, no network: a unix socket in a temp directory |
#   |                                                               |
#   |   nn-wgtest --show  --UAPI get-->  nn-wgtest --fake-daemon MODE
#   |   (--sockdir $TMP)                 ($TMP/wg0.sock, one conn)  |
#   +---------------------------------------------------------------+
set -u
cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
WGTEST=$PWD/$O/nn-wgtest
TMP=$(mktemp -d /tmp/nn-wguapi.XXXXXX)
FAKE_PID=
fails=0

cleanup() {
	if [ -n "$FAKE_PID" ]; then
		kill "$FAKE_PID" 2>/dev/null
		wait "$FAKE_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=selftests/netns/lib_tap.sh
. selftests/netns/lib_tap.sh
[ -x "$WGTEST" ] || { nok "nn-wgtest built ($WGTEST)"; exit 1; }

fake() {	# fake MODE: start the daemon, wait for its socket
	"$WGTEST" --fake-daemon "$1" --sockdir "$TMP" 2>/dev/null &
	FAKE_PID=$!
	for _ in $(seq 1 100); do
		[ -S "$TMP/wg0.sock" ] && return 0
		sleep 0.02
	done
	return 1
}
fake_done() {
	kill "$FAKE_PID" 2>/dev/null
	wait "$FAKE_PID" 2>/dev/null
	FAKE_PID=
	rm -f "$TMP/wg0.sock"
}
# show [args]: one get; JSON in $OUT, stderr in $ERR, status $RC, time $MS.
show() {
	local t0=$(date +%s%N)
	OUT=$("$WGTEST" --iface wg0 --show --sockdir "$TMP" --timeout-ms 500 "$@" 2>"$TMP/err")
	RC=$?
	MS=$((($(date +%s%N) - t0) / 1000000))
	ERR=$(cat "$TMP/err")
	[ "${V:-0}" = 1 ] && echo "# rc=$RC ${MS}ms $OUT $ERR"
}
fails_with() {	# fails_with "ERROR TEXT" MAX_MS
	[ "$RC" = 1 ] && [ -z "$OUT" ] && [ "$MS" -le "$2" ] &&
		grep -q "event=wg_get_failed socket=$TMP/wg0.sock error=\"$1\"" <<<"$ERR" ||
		{ echo "#   rc=$RC ${MS}ms out='$OUT' err='$ERR'"; return 1; }
}
case_mode() {	# case_mode NAME MODE "ERROR TEXT" MAX_MS [show args]
	local name=$1 mode=$2 text=$3 max=$4
	shift 4
	fake "$mode" || { nok "$name (fake daemon did not start)"; return; }
	show "$@"
	check "$name" fails_with "$text" "$max"
	fake_done
}

case_mode "silent daemon: timed out at the deadline" hang "Connection timed out" 1500
case_mode "1 byte per 50 ms: the total deadline covers the whole exchange" trickle \
	"Connection timed out" 1600 --total-timeout-ms 1000
check "1 byte per 50 ms: not cut by the progress timeout" eval '[ "$MS" -ge 900 ]'
case_mode "endless reply: stopped at the size cap" flood "Message too long" 1500 \
	--max-bytes 1048576
case_mode "overlong line refused" longline "Message too long" 1500
case_mode "line without '=' refused" garbage "Protocol error" 1500
case_mode "reply without errno= refused" noerrno "Protocol error" 1500
case_mode "connection closed without a reply" close "Protocol error" 1500
case_mode "errno=5 reply returned as EIO" eio "Input/output error" 1500

show
check "no socket: ENOENT named with its path" fails_with "No such file or directory" 1500

# A stale socket file (daemon killed): connection refused, not a hang.
fake hang
kill -9 "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null
FAKE_PID=
show
check "stale socket: connection refused" fails_with "Connection refused" 1500
rm -f "$TMP/wg0.sock"

fake future
show
fake_done
check "newer daemon: unknown keys ignored, reply parsed" \
	eval '[ "$RC" = 0 ] && [ "$(jq -r ".listen_port, (.peers | length)" <<<"$OUT" | paste -sd,)" = 51820,1 ]'
check "newer daemon: peer fields parsed" \
	eval '[ "$(jq -r ".peers[0] | [.public_key, .endpoint, .keepalive, .last_handshake_sec,
		.last_handshake_nsec, .rx_bytes, (.allowed_ips | join(\" \"))] | join(\",\")" <<<"$OUT")" = \
		"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,[fe80::1]:51820,25,1700000000,5,7,fd00::1/128 10.0.0.1/32" ]'
check "newer daemon: a 64-bit byte counter parsed exactly" \
	grep -q '"tx_bytes":18446744073709551615,' <<<"$OUT"
check "no private key reported as none" eval '[ "$(jq -r .public_key <<<"$OUT")" = "" ]'

[ "$fails" -eq 0 ]
