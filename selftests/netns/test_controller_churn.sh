#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: long (about 30 s or more: selftests/run.sh starts it first)
#
# The controller's loop under sustained churn (issue 13; docs/controller.md
# "The loop under churn"), through the real controller, the reference
# control plane and its event stream:
#
#   node gw: veth eth0 (TC), nanami-cp seeded with a 1000-device synthetic
#            snapshot, nanami-gatewayd --wg none --resync 2, every turn of
#            its loop that handled a stream event held 500 ms
#            (NN_TEST_EVENT_HOLD_MS, a test hook: an apply at 100k under
#            load; at 1k an apply is too quick for a test machine's control
#            plane to outpace it)
#
# 1. Churn: `nn-microbench e2e --churn` makes CHURN_RATE device changes a
#    second (revoke, restore, routing preference set and cleared, key
#    rotation; devices no rule names, so every one takes the fast path) for
#    CHURN_S seconds, each a request to the control plane, whose stream wakes
#    the controller for each. With at least 3 a second arriving during each
#    500 ms turn, the eventfd is readable at every poll of the loop. The
#    --resync tick (drift_check: the fetch, the drift check's handoff to its
#    worker) must still come round on its timer: at least half of
#    CHURN_S / RESYNC ticks (event=resync_tick, --verbose) during the churn,
#    and at least two drift checks started and ended. A loop that ends its
#    turn after a stream event, skipping the timers below it, ticks almost
#    never (tried: 0 ticks in 30 s, 0 checks; 13 ticks with the fix).
# 2. Every change enforced: each one's generation named by nn_meta within
#    the driver's 30 s (none failed), nn_meta at the control plane's
#    generation; once the churn stops, a drift check (the maps read back
#    against the record, the persisted snapshot parsed, validated and
#    compiled from scratch and diffed against it) passes, none found a
#    difference, and the last-known-good it compacted is the control
#    plane's snapshot.
# 3. A full apply during the churn (an ACL change: not a device delta)
#    leaves the standby half a whole diff behind; its sync waits for a turn
#    without an event, which the churn never gives. The first fast-path
#    change runs it before its patch: the sync is logged before that change,
#    which writes only its own keys (<= 64), as does the next. (Left to the
#    patch, the first change wrote 689 -- its source filter rebuilt whole --
#    where the sync writes 172 and the patch 4 after it: tried.) After the
#    churn, the same change's sync runs on an idle turn (> 0 writes).
#
# NN_TEST_GWD: another build of the controller (to try the test against).
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need
[ -z "${NN_TEST_GWD:-}" ] || cp "$NN_TEST_GWD" "$GWD" || { nn_not_ok "copy $NN_TEST_GWD"; nn_finish; }

PINS=/sys/fs/bpf/nanami-test/churn
GW_IFACE=eth0
NODE=gw-bench
SNAP=$NN_TMP/seed.json
LOG=$NN_TMP/gwd.log
N=1000
RESYNC=2
CHURN_RATE=${CHURN_RATE:-20}
CHURN_S=${CHURN_S:-30}
HOLD_MS=500
MB=$NN_TMP/nn-microbench
cp "$NN_BUILD/nn-microbench" "$MB" || { nn_not_ok "nn-microbench built"; nn_finish; }

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }
"$MB" policy -n $N -o "$SNAP" >/dev/null || { nn_not_ok "snapshot"; exit 1; }
# --history: ?since= answered across the whole churn (a 410 would send the
# controller down the full path, which is not what this measures)
if ! cp_start cp --listen "127.0.0.1:$CP_PORT" --state "$NN_TMP/cp.json" --seed-from "$SNAP" \
	--history 10000; then
	nn_not_ok "control plane started" "$(tail -3 "$NN_TMP/cp.log")"
	exit 1
fi
GWD_ARGS=(--iface eth0 --control-plane "$CP_URL" --node-id "$NODE" --bpffs "$PINS"
	  --state-dir "$NN_TMP/state" --wg none --nat off --metrics-listen "$METRICS"
	  --max-devices $((N + 256)) --max-rules $((N + 256)) --max-prefixes $((2 * N + 1024))
	  --max-cells $((16 * N + 1024)) --max-flows 4096 --max-nodes 16
	  --resync "$RESYNC" --poll 30 --verbose)

snapshot() { cp_req GET /api/v1/gateways/$NODE/assignments; }
gen_is() { [ "$(meta_gen)" = "$1" ]; }
n_of() { grep -c "$1" "$LOG"; }
checks_total() {
	scrape | awk '$1 ~ /^nanami_drift_checks_total\{/ { s += $2 } END { print s + 0 }'
}

nn_bg "$CP_NODE" gwd env NN_TEST_EVENT_HOLD_MS=$HOLD_MS "$GWD" "${GWD_ARGS[@]}"
nn_check "controller applies generation $(cp_gen)" nn_wait_for 30 gen_is "$(cp_gen)"
nn_check "kept state built" nn_wait_for 15 grep -q 'event=kept_state_built' "$LOG"
nn_check "a drift check ran on the worker and passed" \
	nn_wait_for 15 grep -q 'event=drift_checked result=pass' "$LOG"

# ---- 1. churn: the --resync tick under a stream that never goes quiet ----
k0=$(n_of 'event=resync_tick')
s0=$(n_of 'event=drift_check_started')
c0=$(checks_total)
a0=$(metric 'nanami_applies_total{path="fast"}')
(
	# Half way through, an ACL change: a full apply whose standby sync is
	# due while the churn goes on (3.).
	nn_nap $((CHURN_S / 2))
	nid=$(snapshot | jq -r '.tenants[0].networks[0].network_id')
	acl=$(snapshot | jq -c '.tenants[0].networks[0].acl |
		map(if .rule_id | endswith("-1") then .ports = ["26"] else . end)')
	cp_req PUT "/admin/v1/networks/$nid/acl" "$acl" >"$NN_TMP/acl.out" 2>&1
) &
acl_pid=$!
t0=$(nn_now_ms)
nn_in gw "$MB" e2e --cp "$CP_URL" --pins "$PINS" --snapshot "$SNAP" --unnamed \
	--churn "$CHURN_RATE" --seconds "$CHURN_S" --pid "$(gwd_pid gwd)" >"$NN_TMP/churn.json" \
	2>"$NN_TMP/churn.err"
rc=$?
wall=$(($(nn_now_ms) - t0))
wait $acl_pid
k1=$(n_of 'event=resync_tick')
s1=$(n_of 'event=drift_check_started')
c1=$(checks_total)
a1=$(metric 'nanami_applies_total{path="fast"}')
jq -c '.churn' "$NN_TMP/churn.json" | sed 's/^/# churn: /'
echo "# ${wall} ms of churn: $((k1 - k0)) --resync $RESYNC ticks, $((s1 - s0)) drift checks" \
	"started, $((c1 - c0)) ended; $((a1 - a0)) fast-path applies"
# The driver waits for each request's answer: a loaded machine's control
# plane makes fewer than CHURN_RATE; 3/s still keeps an event pending at
# every poll of a 500 ms turn.
nn_check "the churn driver ran: $(jq '.churn.n' "$NN_TMP/churn.json") changes in $CHURN_S s (>= 3/s)" \
	test $rc = 0 -a "$(jq '.churn.n' "$NN_TMP/churn.json")" -ge $((3 * CHURN_S))
nn_check "the stream kept the loop busy: $((a1 - a0)) fast-path applies (>= 1 per 2 s)" \
	test $((a1 - a0)) -ge $((CHURN_S / 2))
want=$((CHURN_S / RESYNC / 2))
nn_check "the --resync tick came round: $((k1 - k0)) ticks (>= $want)" \
	test $((k1 - k0)) -ge $want
# A check's worker (nice 19) may outlast a tick on a loaded machine: the
# tick then only fetches, and the next one hands the check over.
nn_check "drift checks were handed over and ended: $((s1 - s0)) started, $((c1 - c0)) ended (>= 2)" \
	test $((s1 - s0)) -ge 2 -a $((c1 - c0)) -ge 2

# ---- 2. every change enforced ----
nn_check "no change left unenforced after 30 s (churn.failed = 0)" \
	test "$(jq '.churn.failed' "$NN_TMP/churn.json")" = 0
nn_check "the ACL change was committed" test -s "$NN_TMP/acl.out"
nn_check "nn_meta names the control plane's generation $(cp_gen)" \
	nn_wait_for 10 gen_is "$(cp_gen)"
e=$(n_of 'event=drift_checked')
nn_check "a drift check after the churn passes (maps = record = a from-scratch compile)" \
	nn_wait_for 20 sh -c "grep event=drift_checked '$LOG' | tail -n +$((e + 2)) | grep -q result=pass"
nn_check "no drift check found a difference (event=drift_found)" \
	sh -c "! grep -q event=drift_found '$LOG'"
nn_check "no fast-path change failed after its proof (fast_path_failed)" \
	sh -c "! grep -q event=fast_path_failed '$LOG'"
nn_check "the last-known-good holds the control plane's snapshot" \
	nn_wait_for 20 lkg_is_cp_snapshot "$NN_TMP/state" "$NODE"

# ---- 3. the full apply's standby sync under churn ----
full=$(grep -n 'event=applied .*path=full' "$LOG" | tail -1)
nn_check "the ACL change took the full path and flipped" \
	grep -qE 'event=applied .*flipped=1 .*path=full' <<<"$full"
ln=${full%%:*}
after() { tail -n +"$ln" "$LOG" | grep "$1"; }
w1=$(after path=fast | sed -n 1p | grep -oE ' writes=[0-9]+' | cut -d= -f2)
w2=$(after path=fast | sed -n 2p | grep -oE ' writes=[0-9]+' | cut -d= -f2)
sync_at=$(tail -n +"$ln" "$LOG" | grep -n -m1 'event=standby_sync' | cut -d: -f1)
fast_at=$(tail -n +"$ln" "$LOG" | grep -n -m1 'path=fast' | cut -d: -f1)
sb=no
[ -n "$sync_at" ] && [ -n "$fast_at" ] && [ "$sync_at" -lt "$fast_at" ] && sb=yes
# The same kind of ACL change once the churn is over: its standby sync runs
# on an idle turn.
g=$(cp_gen)
nid=$(snapshot | jq -r '.tenants[0].networks[0].network_id')
acl=$(snapshot | jq -c '.tenants[0].networks[0].acl |
	map(if .rule_id | endswith("-1") then .ports = ["27"] else . end)')
cp_req PUT "/admin/v1/networks/$nid/acl" "$acl" >/dev/null
nn_wait_for 10 gen_is $((g + 1))
ln=$(grep -n 'event=applied .*path=full' "$LOG" | tail -1 | cut -d: -f1)
nn_wait_for 5 sh -c "tail -n +$ln '$LOG' | grep -q event=standby_sync"
w0=$(after event=standby_sync | sed -n 1p | grep -oE ' writes=[0-9]+' | cut -d= -f2)
echo "# under churn, the standby sync ran before the first fast-path change: $sb;" \
	"that change wrote ${w1:-?}, the next ${w2:-?}; an idle sync after the same change" \
	"writes ${w0:-?}"
nn_check "an idle turn ran the standby sync of a full apply after the churn (${w0:-no} writes)" \
	test "${w0:-0}" -gt 0
nn_check "under churn, the full apply's standby sync ran before the first fast-path change" \
	test $sb = yes
nn_check "... which wrote only its own keys (${w1:-?} <= 64), and so did the next (${w2:-?})" \
	test -n "$w1" -a "${w1:-999}" -le 64 -a -n "$w2" -a "${w2:-999}" -le 64
gwd_kill gwd TERM
nn_in gw "$GWD" --iface eth0 --bpffs "$PINS" --detach >/dev/null 2>&1
nn_finish
