#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# selftests/seed_sweep.sh - run randomized tests under many seeds, to find
# the seed that fails before CI draws it from the clock.
#
#   selftests/seed_sweep.sh [-n RUNS] [-j JOBS] [-o DIR] TEST...
#
# TEST is a test binary's name ($O/selftests/{unit,prog_tests}/TEST) or a
# netns script's (selftests/netns/TEST.sh). Each run gets a seed of its own
# from /dev/urandom (runs started in the same second must not share one, as
# they would with the clock), passed the way the test replays it: NN_SEED,
# or CP_RANDOM_SEED for test_cp_random. JOBS runs at once (default 1; 2 on
# a 2-CPU machine is the loaded CI case). One line per run, "ok SEED TEST
# SECS" or "FAIL SEED TEST SECS LOG"; a failing run's output is kept in
# DIR (default $O/seed-sweep), of the others only their "#" lines (counts a
# bound can be checked against) in DIR/TEST.passed, each after its seed.
# Exits non-zero when a run failed. Run it at low priority: it is a
# benchmark's worth of load.
#
# Replay a failure: NN_SEED=SEED $O/selftests/prog_tests/TEST (or the
# script), the same command the sweep ran.
set -u
cd "$(dirname "$0")/.." || exit 2
O=${O:-build}
runs=20 jobs=1 dir=
while getopts n:j:o: opt; do
	case $opt in
	n) runs=$OPTARG ;;
	j) jobs=$OPTARG ;;
	o) dir=$OPTARG ;;
	*) echo "usage: $0 [-n RUNS] [-j JOBS] [-o DIR] TEST..." >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "seed_sweep.sh: name at least one test" >&2; exit 2; }
dir=${dir:-$O/seed-sweep}
mkdir -p "$dir" || exit 2
export CMOCKA_MESSAGE_OUTPUT=TAP NN_SRCDIR=$PWD O

command_of() { # TEST: the command that runs it, or nothing
	local t=$1
	if [ -x "$O/selftests/unit/$t" ]; then
		echo "$O/selftests/unit/$t"
	elif [ -x "$O/selftests/prog_tests/$t" ]; then
		echo "$O/selftests/prog_tests/$t"
	elif [ -x "selftests/netns/$t.sh" ]; then
		echo "selftests/netns/$t.sh"
	fi
}
seed_var() { # TEST: the variable its seed is read from
	case $1 in test_cp_random) echo CP_RANDOM_SEED ;; *) echo NN_SEED ;; esac
}

for t in "$@"; do
	[ -n "$(command_of "$t")" ] || { echo "seed_sweep.sh: no test named $t under $O" >&2; exit 2; }
done

one() { # TEST SEED: one run, its line on stdout
	local t=$1 seed=$2 log start rc
	log=$dir/$t-$seed.log
	start=$SECONDS
	# NN_LOGDIR: a netns test's daemon logs, kept with a failure's output
	env "$(seed_var "$t")=$seed" NN_LOGDIR="${log%.log}.logs" "$(command_of "$t")" \
		>"$log" 2>&1 </dev/null
	rc=$?
	# a cmocka binary or a TAP script may report a failure and still exit 0
	if [ $rc -eq 0 ] && ! grep -qE '^not ok ' "$log"; then
		echo "ok $seed $t $((SECONDS - start))"
		# what a passing run said about itself (counts, margins), by seed
		sed -n "s/^#/$seed #/p" "$log" >>"$dir/$t.passed"
		rm -rf "$log" "${log%.log}.logs"
	else
		echo "FAIL $seed $t $((SECONDS - start)) $log"
		echo "$t $seed" >>"$fails"
	fi
}

fails=$(mktemp)
trap 'rm -f "$fails"' EXIT
for ((i = 0; i < runs; i++)); do
	for t in "$@"; do
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
		seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
		[ "$seed" -ne 0 ] || seed=1
		one "$t" "$seed" &
	done
done
wait
if [ -s "$fails" ]; then
	echo "failed: $(sort "$fails" | tr '\n' ' ')"
	exit 1
fi
