#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
#
# Every kind of device change, made on the reference control plane, reaches
# the dataplane through the event stream and the real controller: the
# event-to-enforcement harness (tools/bench/e2e.sh, nn-microbench e2e) at
# 1,000 devices and rules, 3 changes of each kind (revoke, restore, routing
# preference set and cleared, key rotation, device added and deleted), each
# waited for until the pinned nn_meta names its generation. Checks that each
# was enforced and that the harness measured them; the figures themselves are
# printed, never judged (a timing bound would fail on a loaded machine).
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

OUT=$NN_TMP/e2e
E2E_N=1000 E2E_CHANGES=3 E2E_OUT=$OUT "$NN_ROOT/tools/bench/e2e.sh" >"$NN_TMP/run.log" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
	nn_ok "the harness ran to the end"
else
	nn_not_ok "the harness ran to the end (exit $rc)" "$(tail -8 "$NN_TMP/run.log")"
fi
J=$OUT/1000.json
for k in revoke restore pref_set pref_clear key_rotation add delete; do
	nn_check "$k: 3 changes enforced, none lost" \
		jq -e --arg k "$k" '.serial[$k].n == 3 and .serial[$k].failed == 0' "$J"
done
nn_check "the controller's CPU per change measured" \
	jq -e '.controller_cpu_ms_per_change > 0' "$J"
log_has() { grep -q -- "$1" "$OUT/1000-gatewayd.log"; }
nn_check "the changes came as deltas over the stream (trigger=event)" \
	log_has 'event=applied .*trigger=event'
# Which path each change took (docs/controller.md "The incremental path in
# the daemon"): every one of these device changes takes the fast path, a
# device a rule names too (docs/controller.md, "Rule-named devices").
GL=$OUT/1000-gatewayd.log
grep -E 'event=applied .*trigger=event' "$GL" | grep -oE 'generation=[0-9]+|path=[a-z]+' |
	paste -d' ' - - | sed 's/^/# /'
echo "# paths: fast=$(grep -cE 'event=applied .*trigger=event.*path=fast' "$GL")" \
	"full=$(grep -cE 'event=applied .*trigger=event.*path=full' "$GL")"
nn_check "device changes took the fast path (path=fast)" \
	log_has 'event=applied .*trigger=event.*path=fast'
nn_check "no device change took the full path (path=full)" \
	test "$(grep -cE 'event=applied .*trigger=event.*path=full' "$GL")" -eq 0
echo "# request to enforcement at 1k: $(jq -c '.serial_all | {p50_ms, max_ms}' "$J" 2>/dev/null)"
nn_finish
