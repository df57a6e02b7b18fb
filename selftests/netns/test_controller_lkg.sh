#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nn-test: no time bounds (selftests/run.sh runs it beside the VM guests)
#
# Faults of the state directory (issue 15 part 6): the last-known-good
# write fails because the directory is full (a 256 KiB tmpfs filled by
# hand) or read-only (the tmpfs remounted ro): the new generation is
# enforced all the same, the failure is visible (log, the metrics
# nanami_lkg_write_errors_total and nanami_lkg_generation, the status's
# last_known_good), the previous file stays intact, and the write is retried
# on the drift timer until there is room again. Then a last-known-good that
# cannot be used at start with fresh pins and the control plane down (torn,
# corrupt, over the size cap): refused with a message naming the file and
# what is wrong, the daemon starts and denies everything (epoch 0) until
# the first snapshot, which replaces the bad file.
#
#   +-----------------------------------------------------------+
#   | node gw (own netns + mount ns, private bpffs)             |
#   |  nanami-cp http://127.0.0.1:8443 (--admin)                |
#   |  nanami-gatewayd --state-dir $SD (tmpfs, 256 KiB)         |
#   |       TC on eth0, pins /sys/fs/bpf/nanami-test/{a,b,...}  |
#   |  eth0 (veth) ------------------------------------------------ eth0  node c
#   +-----------------------------------------------------------+
#
# TAP: "ok - name" / "not ok - name"; exits non-zero when a check failed.

# shellcheck source=selftests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=selftests/netns/lib_cp.sh
source "$(dirname "$0")/lib_cp.sh"
lib_cp_need

GW_IFACE=eth0
PINS=/sys/fs/bpf/nanami-test/a
BOB=fd7a:6e61:6e61:10::3
SD=$NN_TMP/state
LKG=$SD/last-good.snapshot

{ nn_node gw && nn_node c && nn_link gw eth0 c eth0 1; } || { nn_not_ok "topology"; exit 1; }
mkdir -p "$SD"
nn_in gw mount -t tmpfs -o size=256k,mode=0700 tmpfs "$SD" || { nn_not_ok "tmpfs state dir"; exit 1; }
base_args() {	# PIN_DIR
	GWD_ARGS=(--iface eth0 --control-plane "$CP_URL" --node-id gw-fra-1 --bpffs "$1"
		  --state-dir "$SD" --wg none --nat off --metrics-listen "$METRICS" "${CAPS[@]}")
}
gen() { gwctl status | jq -r .generation; }
gen_is() { [ "$(gen)" = "$1" ]; }
log_has() { grep -q -- "$2" "$NN_TMP/$1.log"; }
st() { gwctl status | jq -r ".controller.last_known_good.$1"; }
# The generation in the file's header, read inside the node's mounts.
disk_gen() { nn_in gw head -c 64 "$LKG" | sed -n 's/^NANAMI-LKG v1 generation=\([0-9]*\) .*/\1/p'; }
st_error_has() { st error | grep -q -- "$1"; }
attached() { [[ $(prog_ids eth0) == tc-ingress=[0-9]*" tc-egress="[0-9]* ]]; }
werr() { metric nanami_lkg_write_errors_total; }
werr_above() { [ "$(werr)" -gt "$1" ]; }
lkg_gen_is() { [ "$(metric nanami_lkg_generation)" = "$1" ] && [ "$(disk_gen)" = "$1" ]; }
state() {	# device state on the control plane: disabled / active
	cp_req PUT /admin/v1/devices/bob-phone/state "{\"state\":\"$1\"}" >/dev/null
}

cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" --seed-from "$EX" ||
	{ nn_not_ok "control plane started"; exit 1; }
base_args "$PINS"
gwd_start g1 --resync 2 --poll 1
nn_check "generation 7 applied" nn_wait_for 5 gen_is 7
nn_check "last-known-good written: generation 7 on disk and in nanami_lkg_generation" \
	nn_wait_for 3 lkg_gen_is 7
nn_check "no write error yet (metric 0, status error null)" \
	test "$(werr) $(st error)" = "0 null"

# ---- state directory full ----
nn_in gw dd if=/dev/zero of="$SD/filler" bs=4k 2>/dev/null	# until ENOSPC
nn_check "state directory full (df: $(nn_in gw df --output=avail -k "$SD" | tail -1 | tr -d ' ') KiB left)" \
	test "$(nn_in gw df --output=avail -k "$SD" | tail -1 | tr -d ' ')" -lt 4
w0=$(werr)
state disabled
G=$(cp_gen)
nn_check "full: generation $G (bob-phone revoked) enforced anyway" nn_wait_for 5 gen_is "$G"
nn_check "full: bob-phone dropped as revoked" \
	test "$(reason $BOB fd00:acc:1::1 tcp 443)" = revoked
nn_check "full: nanami_lkg_write_errors_total moves" nn_wait_for 3 werr_above "$w0"
nn_check "full: the log names the file and ENOSPC" \
	log_has g1 "event=lkg_save_failed generation=$G error=\"$LKG: .*No space left on device"
nn_check "full: status last_known_good.error says so ($(st error))" st_error_has 'No space left'
nn_check "full: status last_known_good.generation still 7" test "$(st generation)" = 7
nn_check "full: the previous file is intact (generation 7 on disk, metric 7)" lkg_gen_is 7
nn_check "full: no temporary file left behind" \
	test -z "$(nn_in gw find "$SD" -name '.last-good*')"
nn_in gw rm -f "$SD/filler"
nn_check "room again: the drift timer writes generation $G" nn_wait_for 5 lkg_gen_is "$G"
nn_check "room again: status error cleared" test "$(st error)" = null
nn_check "room again: the log says it was saved" log_has g1 "event=lkg_saved generation=$G"

# ---- state directory read-only ----
nn_in gw mount -o remount,ro "$SD"
w0=$(werr)
state active
G2=$(cp_gen)
nn_check "read-only: generation $G2 (bob-phone back) enforced anyway" nn_wait_for 5 gen_is "$G2"
nn_check "read-only: bob-phone passes" test "$(verdict $BOB fd00:acc:1::1 tcp 443)" = pass
nn_check "read-only: nanami_lkg_write_errors_total moves" nn_wait_for 3 werr_above "$w0"
nn_check "read-only: the log names the file and EROFS" \
	log_has g1 "event=lkg_save_failed generation=$G2 error=\"$LKG: .*Read-only file system"
nn_check "read-only: the previous file is intact (generation $G)" lkg_gen_is "$G"
nn_check "read-only: retried on the drift timer (errors keep counting)" \
	nn_wait_for 7 werr_above "$(werr)"
nn_in gw mount -o remount,rw "$SD"
nn_check "writable again: generation $G2 written" nn_wait_for 5 lkg_gen_is "$G2"
gwd_kill g1 TERM

# ---- a last-known-good that cannot be used, at start, fresh pins, no
# control plane: refused by name, everything denied until a snapshot ----
cp_stop cp
nn_in gw cp "$LKG" "$NN_TMP/lkg.good"
i=0
for bad in torn corrupt huge; do
	i=$((i + 1))
	case $bad in
	torn) nn_in gw sh -c "head -c 300 '$NN_TMP/lkg.good' >'$LKG'"; want="torn" ;;
	corrupt) nn_in gw sh -c "sed 's/\"acme-prod\"/\"acme-prox\"/' '$NN_TMP/lkg.good' >'$LKG'"
		 want="checksum mismatch" ;;
	huge) nn_in gw sh -c "rm -f '$LKG' && truncate -s 200M '$LKG'"; want="larger than" ;;
	esac
	PINS=/sys/fs/bpf/nanami-test/fresh$i
	base_args "$PINS"
	gwd_start b$i --resync 2 --poll 1
	nn_check "$bad LKG: refused at start, the log names $LKG ($want)" nn_wait_for 10 \
		log_has b$i "event=lkg_ignored .*reason=\"$LKG: .*$want"
	nn_check "$bad LKG: the log says everything is denied" \
		log_has b$i "event=no_snapshot .*last-known-good refused: everything from the overlay is denied"
	nn_check "$bad LKG: status last_known_good.error names the file" st_error_has "^$LKG: "
	nn_check "$bad LKG: programs attached ($(prog_ids eth0))" attached
	nn_check "$bad LKG: nn_active epoch 0, bob-phone dropped as spoof" \
		test "$(active_epoch) $(reason $BOB fd00:acc:1::1 tcp 443)" = "0 spoof"
	gwd_kill b$i TERM
done
# The control plane comes back: its snapshot applies and replaces the file.
cp_start cp --listen 127.0.0.1:$CP_PORT --state "$NN_TMP/cp.json" ||
	{ nn_not_ok "control plane restarted"; exit 1; }
PINS=/sys/fs/bpf/nanami-test/fresh9
base_args "$PINS"
gwd_start b9 --resync 2 --poll 1
G3=$(cp_gen)
nn_check "control plane back: generation $G3 applied" nn_wait_for 8 gen_is "$G3"
nn_check "control plane back: the bad file replaced (generation $G3 on disk)" \
	nn_wait_for 3 lkg_gen_is "$G3"
nn_check "control plane back: status error cleared" test "$(st error)" = null
gwd_kill b9 TERM
cp_stop cp
nn_in gw umount "$SD"

nn_finish
