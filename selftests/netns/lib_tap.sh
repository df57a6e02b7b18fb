# SPDX-License-Identifier: GPL-2.0
# lib_tap.sh - the TAP lines of the wg0 tests that run without lib.sh's
# topology (test_wg_*.sh: wireguard-go namespaces of their own, or none).
# Source it; bash only. $fails counts the "not ok" lines; the caller exits
# non-zero when it is not 0.
#
#   ok NAME / nok NAME        one TAP line
#   check NAME CMD...         ok when CMD succeeds, else not ok

fails=${fails:-0}

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; fails=$((fails + 1)); }
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}
