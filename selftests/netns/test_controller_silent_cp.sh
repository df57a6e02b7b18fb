#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A control plane that accepts the event stream and then says nothing
# (issue 15 part 6, handoff open item 5). Two shapes:
#
#  1. silent from the start: the events endpoint answers its headers and
#     never a byte (nanami-cp's "hang" fault). The stream is not "up" until
#     bytes arrive, so polling never stops: a change lands within one poll.
#  2. silent after it was live: a test-local proxy in front of nanami-cp
#     forwards everything, and on cue swallows what the events connection
#     sends (keepalives, events) while fetches still pass. The dead stream
#     is detected within --stream-idle (counted from the last byte), the
#     controller falls back to polling, and a change made during the
#     silence lands within idle + one poll. Printed as
#     "# stream_dead_detect_ms=N" and "# change_during_silence_ms=N".
#
#   +-------------------------------------------------------------+
#   | node gw (own netns + mount ns, private bpffs)               |
#   |  nanami-cp 127.0.0.1:8443 (--admin, keepalive 1 s)          |
#   |       ^                                                     |
#   |  proxy 127.0.0.1:8444 (part 2; mutes /events on cue)        |
#   |       ^                                                     |
#   |  nanami-gatewayd --poll 1 --resync 60 [--stream-idle 3]     |
#   |       TC on eth0 (veth to node c)                           |
#   +-------------------------------------------------------------+
#
# The drift timer is 60 s: nothing but the stream or polling can bring a
# change within the bounds checked.
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need

GW_IFACE=eth0
PINS=/sys/fs/bpf/nanami-test/s
BOB=fd7a:6e61:6e61:10::3
IDLE=3

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }
gen() { gwctl status | jq -r .generation; }
gen_is() { [ "$(gen)" = "$1" ]; }
cp_state_is() { [ "$(metric "nanami_control_plane_state{state=\"$1\"}")" = 1 ]; }
log_has() { grep -q -- "$2" "$NN_TMP/$1.log"; }
state() { cp_req PUT /admin/v1/devices/bob-phone/state "{\"state\":\"$1\"}" >/dev/null; }
# ms from T0 until the applied generation is G (20 ms steps, MAX s at most)
ms_until_gen() {
	local t0=$1 g=$2 max=$3 end
	end=$(($(nn_now_ms) + max * 1000 * NN_TIME_SCALE))
	while [ "$(nn_now_ms)" -lt "$end" ]; do
		gen_is "$g" && { echo $(($(nn_now_ms) - t0)); return 0; }
		sleep 0.02
	done
	echo 99999
	return 1
}

cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$EX" ||
	{ nn_not_ok "control plane started"; exit 1; }

# ---- 1. silent from the start: headers, then nothing ----
cp_fault hang events 0
GWD_ARGS=(--iface eth0 --control-plane "$CP_URL" --node-id gw-fra-1 --bpffs "$PINS"
	  --state-dir "$NN_TMP/state" --wg none --nat off --metrics-listen "$METRICS" "${CAPS[@]}")
gwd_start g1 --resync 60 --poll 1
nn_check "silent stream: generation 7 applied" nn_wait_for 5 gen_is 7
sleep 1.5
nn_check "silent stream: state polling, not stream (accepted is not up)" cp_state_is polling
state disabled
G=$(cp_gen)
t0=$(nn_now_ms)
ms=$(ms_until_gen "$t0" "$G" 10)
echo "# change_with_silent_stream_ms=$ms (poll 1 s, jitter 20%)"
nn_check "silent stream: a change lands by polling within poll + 1 s ($ms ms)" \
	test "$ms" -le "$(nn_scale_ms 2200)"
nn_check "silent stream: bob-phone revoked" test "$(reason $BOB fd00:acc:1::1 tcp 443)" = revoked
gwd_kill g1 TERM
cp_fault none all 0

# ---- 2. silent after it was live ----
cat >"$NN_TMP/proxy.py" <<'EOF'
# A TCP proxy that forwards one request per connection to UPSTREAM and
# relays the answer, except that an events connection's answer is dropped
# (not relayed, the connection kept open) while the file MUTE exists.
import os, socket, sys, threading
listen, upstream, mute = sys.argv[1], sys.argv[2], sys.argv[3]
def addr(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)
def pump(src, dst, events):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if events and os.path.exists(mute):
                continue
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def serve(c):
    head = b""
    while b"\r\n\r\n" not in head:
        b = c.recv(4096)
        if not b:
            c.close()
            return
        head += b
    events = b"/events" in head.split(b"\r\n", 1)[0]
    u = socket.create_connection(addr(upstream))
    u.sendall(head)
    threading.Thread(target=pump, args=(c, u, False), daemon=True).start()
    pump(u, c, events)
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(addr(listen))
l.listen(64)
print("listening", flush=True)
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
MUTE=$NN_TMP/mute
nn_bg gw proxy python3 "$NN_TMP/proxy.py" 127.0.0.1:8444 "127.0.0.1:$CP_PORT" "$MUTE"
nn_wait_for 5 grep -q listening "$NN_TMP/proxy.log" || { nn_not_ok "proxy started"; exit 1; }
GWD_ARGS=(--iface eth0 --control-plane http://127.0.0.1:8444 --node-id gw-fra-1 --bpffs "$PINS"
	  --state-dir "$NN_TMP/state" --wg none --nat off --metrics-listen "$METRICS" "${CAPS[@]}")
gwd_start g2 --resync 60 --poll 1 --stream-idle $IDLE
nn_check "through the proxy: stream up" nn_wait_for 5 cp_state_is stream
state active
G=$(cp_gen)
ms=$(ms_until_gen "$(nn_now_ms)" "$G" 5)
nn_check "stream up: a change lands by the stream (${ms} ms)" test "$ms" -le "$(nn_scale_ms 1000)"
# Silence: keepalives (every 1 s) and events stop reaching the controller.
n0=$(grep -c 'event=stream_down' "$NN_TMP/g2.log")
t0=$(nn_now_ms)
touch "$MUTE"
state disabled
G=$(cp_gen)
ms=$(ms_until_gen "$t0" "$G" $((IDLE + 8)))
echo "# change_during_silence_ms=$ms (idle bound ${IDLE} s, poll 1 s)"
down_now() { [ "$(grep -c 'event=stream_down' "$NN_TMP/g2.log")" -gt "$n0" ]; }
nn_wait_for 2 down_now
line=$(grep 'event=stream_down' "$NN_TMP/g2.log" | tail -1)
nn_check "silence: the stream declared dead ($line)" \
	sh -c "echo '$line' | grep -q 'event stream dead: no bytes for ${IDLE}.0s (idle bound)'"
dead_ms=$(($(date -d "$(echo "$line" | sed 's/^ts=\([^ ]*\) .*/\1/')" +%s%3N 2>/dev/null || echo 0) - t0))
echo "# stream_dead_detect_ms=$dead_ms (idle bound ${IDLE} s, from the last keepalive up to 1 s before)"
nn_check "silence: dead within idle + 1.5 s of the last byte ($dead_ms ms after the mute)" \
	test "$dead_ms" -gt 0 -a "$dead_ms" -le "$(nn_scale_ms $((IDLE * 1000 + 1500)))"
nn_check "silence: a change made during it lands within idle + poll + 1.5 s ($ms ms)" \
	test "$ms" -le "$(nn_scale_ms $((IDLE * 1000 + 2500)))"
nn_check "silence: state polling (the reconnected stream is silent too)" \
	nn_wait_for 3 cp_state_is polling
nn_check "silence: bob-phone revoked" test "$(reason $BOB fd00:acc:1::1 tcp 443)" = revoked
# The silence ends: the next stream is live again.
rm -f "$MUTE"
nn_check "silence over: stream up again" nn_wait_for $((IDLE + 5)) cp_state_is stream
state active
G=$(cp_gen)
ms=$(ms_until_gen "$(nn_now_ms)" "$G" 5)
nn_check "silence over: a change lands by the stream again (${ms} ms)" \
	test "$ms" -le "$(nn_scale_ms 1000)"
gwd_kill g2 TERM
cp_stop cp

nn_finish
