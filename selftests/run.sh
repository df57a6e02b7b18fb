#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run every selftest and print one summary line: "N passed, N failed, N skipped".
#
#   selftests/run.sh                 everything
#   selftests/run.sh test_examples   only tests whose name matches
#   V=1 selftests/run.sh             show every test's full output
#   selftests/run.sh vm6.12          only the kernel matrix's 6.12 guest
#
# The kernel matrix (selftests/vm/README.md) boots each Debian kernel pinned
# in selftests/vm/kernels.txt once in a VM and counts each test run there
# as vmKERNEL:NAME. With a filter it runs only when the filter names it
# ("vm", "vm6.1", "vm6.12:test_updates"), so focused runs stay fast.
#
# C tests are cmocka binaries (TAP output); netns tests are scripts under
# selftests/netns/ that print TAP lines ("ok - name", "not ok - name",
# "ok - name # SKIP reason"). A binary or script that dies without
# reporting counts as one failure. Needs root (CAP_BPF, CAP_NET_ADMIN).
set -u
O=${O:-build}
filter=${1:-}
cd "$(dirname "$0")/.." || exit 2

if [ "$(id -u)" -ne 0 ]; then
	echo "selftests: need root (CAP_BPF, CAP_NET_ADMIN) for BPF_PROG_TEST_RUN and network namespaces" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

passed=0 failed=0 skipped=0
failures=()
export CMOCKA_MESSAGE_OUTPUT=TAP
export NN_SRCDIR=$PWD O

run_one() {
	local name=$1 out
	shift
	out=$(mktemp -d)
	run_capture "$out" "$@"
	report_one "$name" "$out"
}

# run_capture DIR CMD...: run CMD, its output to DIR/log, its status to
# DIR/rc, its wall seconds to DIR/secs and the CPU seconds it and what it
# waited for used to DIR/cpu (report_one prints them: the suite's budget is
# CPU on two cores, so the CPU figure says what a test costs the others).
# CPU used elsewhere (a guest booted in the background) is added from the
# file NN_CPU_EXTRA names.
run_capture() {
	local out=$1 start=$SECONDS
	shift
	(
		export NN_CPU_EXTRA=$out/cpu.extra
		"$@" >"$out/log" 2>&1
		echo $? >"$out/rc"
		cpu_seconds "$out/cpu"
		[ -e "$NN_CPU_EXTRA" ] && echo $(($(cat "$out/cpu") + $(cat "$NN_CPU_EXTRA"))) >"$out/cpu"
	)
	echo $((SECONDS - start)) >"$out/secs"
}
cpu_seconds() { # FILE: the calling shell's children's user + system CPU seconds, from
	# times (into a file: in a pipe or $(...) it would run in a subshell of its own)
	times >"$1.times"
	awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] }
		printf "%.0f\n", s }' "$1.times" >"$1"
	rm -f "$1.times"
}

report_one() {
	local name=$1 out=$2 log=$2/log rc
	rc=$(cat "$out/rc")
	local p f s
	p=$(grep -E '^ok ' "$log" | grep -vc '# SKIP')
	f=$(grep -cE '^not ok ' "$log")
	s=$(grep -E '^ok ' "$log" | grep -c '# SKIP')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc without reporting a failure" >>"$log"
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	printf '%-40s %3d passed %3d failed %3d skipped  (%ds, %ss cpu)\n' "$name" "$p" "$f" "$s" \
		"$(cat "$out/secs")" "$(cat "$out/cpu" 2>/dev/null || echo '?')"
	if [ "$f" -ne 0 ] || [ "${V:-0}" = 1 ]; then
		sed 's/^/    /' "$log"
		[ "$f" -ne 0 ] && failures+=("$name")
	fi
	grep -E '# SKIP' "$log" | sed 's/^/    /'
	rm -rf "$out"
}

# The kernel matrix, started first: one VM boot per pinned kernel runs every selected test
# against that kernel's verifier and datapath (vmK:boot carries the boot, or
# the reason the kernel could not be fetched or booted, as a failure). The
# guests boot side by side, NN_VM_JOBS at once (default 2): the BPF tests in
# a guest run on one CPU (they pin themselves), so one guest leaves the
# other core idle.
vm_boot_result() { # TAPFILE RC: the boot's TAP output and exit status (waited for by the caller)
	cp "${1%.tap}.cpu" "$NN_CPU_EXTRA" 2>/dev/null
	cat "$1"
	return "$2"
}
# The matrix's filter names a kernel exactly ("vm6.1" is not "vm6.12"):
# "vm" every guest, "vmK" kernel K, "vmK:X" K's tests whose name holds X.
vm_match() { # KERNEL TEST
	case $filter in
	"" | vm) return 0 ;;
	vm*:*) [[ "vm$1" == "${filter%%:*}" && "$2" == *"${filter#*:}"* ]] ;;
	*) [[ "vm$1" == "$filter" ]] ;;
	esac
}
declare -A vm_pid=() vm_tests=()
vm_order=()
if [ -z "$filter" ] || [[ "$filter" == vm* ]]; then
	case $O in /*) vm_out=$O/vm ;; *) vm_out=$PWD/$O/vm ;; esac
	mkdir -p "$vm_out"
	vm_kernels=$(selftests/vm/kernels.sh names) || vm_kernels=""
	[ -n "$vm_kernels" ] ||
		run_one vm:kernels sh -c 'echo "not ok - no kernel in selftests/vm/kernels.txt"; exit 1'
	for k in $vm_kernels; do
		want=()
		for t in $(selftests/vm/matrix.sh tests "$k"); do
			vm_match "$k" "$t" || continue
			want+=("$t")
		done
		[ ${#want[@]} -eq 0 ] && continue
		while [ "$(jobs -rp | wc -l)" -ge "${NN_VM_JOBS:-2}" ]; do wait -n; done
		(
			selftests/vm/matrix.sh boot "$k" "$vm_out/run-$k" "${want[@]}" \
				>"$vm_out/boot-$k.tap" 2>&1
			rc=$?
			cpu_seconds "$vm_out/boot-$k.cpu"
			exit $rc
		) &
		vm_pid[$k]=$!
		vm_tests[$k]="${want[*]}"
		vm_order+=("$k")
	done
fi

# netns tests: those marked "# nn-test: no time bounds" run beside the
# guests and the host's unit, BPF and fuzz tests; the others, whose bounds a
# loaded machine would stretch, after them. Each group runs in lanes; a test
# marked "# nn-test: long" starts first, so no lane is left with a long test
# while the other has finished.
netns_tests() { # bounded|unbounded: their names, the long ones first
	local script name long=() rest=()
	for script in selftests/netns/test_*.sh; do
		[ -x "$script" ] || continue
		name=$(basename "$script" .sh)
		[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
		if grep -q '^# nn-test: no time bounds' "$script"; then
			[ "$1" = unbounded ] || continue
		else
			[ "$1" = bounded ] || continue
		fi
		if grep -q '^# nn-test: long' "$script"; then
			long+=("$name")
		else
			rest+=("$name")
		fi
	done
	echo "${long[@]}" "${rest[@]}"
}
# netns tests in lanes, each lane taking the next test when its last one
# ends; their results under DIR until lanes_report reports them, sorted by
# name. A test keeps about one core busy at most (a controller, a control
# plane, wireguard-go, the traffic), and most of its time waits on timers:
# the bounded tests used 0.57 s of CPU per second of their time (283 of
# 493 s), so three lanes of them (NN_LANES) keep two cores about 1.7 busy
# and stretch no bound the way the guests would (all 23 passed in three
# lanes beside two helpers' builds, load ~7, in 198 s; their times summed
# 510 s).
lanes_run() { # DIR LANES NAME...: NAMEs in the order they start
	local q=$1 lanes=$2 lane i
	shift 2
	printf '%s\n' "$@" >"$q/names"
	[ $# -gt 0 ] || return 0
	echo 0 >"$q/next"
	for ((lane = 0; lane < lanes; lane++)); do
		(
			while :; do
				i=$(flock "$q/next" sh -c 'read -r n <"$1"; echo $((n + 1)) >"$1"; echo "$n"' _ "$q/next")
				[ "$i" -lt $# ] || exit 0
				mkdir "$q/$i"
				run_capture "$q/$i" "selftests/netns/${*:i+1:1}.sh"
			done
		) &
	done
	wait
}
lanes_report() { # DIR: what lanes_run left there, reported (in this shell: it counts)
	local q=$1 i names
	mapfile -t names <"$q/names"
	for ((i = 0; i < ${#names[@]}; i++)); do
		[ -n "${names[$i]}" ] && echo "${names[$i]} $i"
	done | sort | while read -r _ i; do
		echo "$i"
	done >"$q/order"
	while read -r i; do
		report_one "${names[$i]}" "$q/$i"
	done <"$q/order"
	rm -rf "$q"
}

# The unbounded netns tests in one lane from now on, beside the guests and
# the unit, BPF and fuzz tests below: with them after those (CI, session 11)
# the host's side ended two minutes after the guests (its BPF tests pin
# themselves to CPU 0, which the guests share); in two lanes (session 10)
# the guests stretched to 13 min.
unbounded=$(mktemp -d)
lanes_run "$unbounded" "${NN_LANES_UNBOUNDED:-1}" $(netns_tests unbounded) &
unbounded_pid=$!

for bin in "$O"/selftests/unit/test_* "$O"/selftests/prog_tests/test_*; do
	[ -x "$bin" ] || continue
	case "$bin" in *.o|*.d) continue ;; esac
	name=$(basename "$bin")
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	run_one "$name" "$bin"
done

# The unit tests, and the BPF tests the Makefile's SAN_PROG_TESTS names,
# again under ASan and UBSan (make san builds them).
for bin in "$O"/san/selftests/unit/test_* "$O"/san/selftests/prog_tests/test_*; do
	[ -x "$bin" ] || continue
	case "$bin" in *.o|*.d) continue ;; esac
	name=san:$(basename "$bin")
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	run_one "$name" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$bin"
done

# A bounded fuzzing pass over the snapshot parser, validator and compiler.
tap_wrap() {
	local name=$1; shift
	if "$@"; then echo "ok - $name"; else echo "not ok - $name"; fi
}
fuzzer="$O/fuzz/fuzz_snapshot"
if [ -x "$fuzzer" ] && { [ -z "$filter" ] || [[ fuzz_snapshot == *"$filter"* ]]; }; then
	mkdir -p "$O/fuzz/corpus"
	run_one fuzz_snapshot tap_wrap "fuzz_snapshot ${FUZZ_SECONDS:-20}s" \
		"$fuzzer" -max_total_time="${FUZZ_SECONDS:-20}" -max_len=65536 \
		"$O/fuzz/corpus" selftests/fuzz/corpus
fi

wait "$unbounded_pid"
lanes_report "$unbounded"

# The matrix's results, once its guests are done (they ran while the host's
# unit, BPF, fuzz and unbounded netns tests did; the netns tests with time
# bounds run after).
if [ ${#vm_order[@]} -gt 0 ]; then
	for k in "${vm_order[@]}"; do
		rc=0
		wait "${vm_pid[$k]}" || rc=$?
		run_one "vm$k:boot" vm_boot_result "$vm_out/boot-$k.tap" "$rc"
		for t in ${vm_tests[$k]}; do
			run_one "vm$k:$t" selftests/vm/matrix.sh result "$vm_out/run-$k" "$t"
		done
	done
fi

bounded=$(mktemp -d)
lanes_run "$bounded" "${NN_LANES:-3}" $(netns_tests bounded)
lanes_report "$bounded"

# In CI everything a test needs is installed by tools/install-deps.sh: a test
# that skips there (missing tool, device or kernel feature) is a failure.
if [ -n "${CI:-}" ] && [ "$skipped" -ne 0 ]; then
	echo "CI: $skipped skipped test(s) count as failures (dependencies must be present in CI)"
	failed=$((failed + skipped))
	failures+=("skipped-in-CI")
fi

if [ ${#failures[@]} -ne 0 ]; then
	echo "failed: ${failures[*]}"
fi
if [ "$skipped" -ne 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
