# SPDX-License-Identifier: GPL-2.0
# selftests/netns/lib.sh - network-namespace topologies for end-to-end tests.
#
# Source it from a test script. Every node is a network namespace with its
# own mount namespace (so each wireguard-go finds its own
# /var/run/wireguard, and bpffs is mounted for pins), named uniquely per run
# so two runs never collide. Teardown is registered on EXIT and runs even
# when a test fails.
#
#   nn_node gw                      create node "gw"
#   nn_link gw eth0 c1 eth0 N       veth pair gw:eth0 <-> c1:eth0, underlay
#                                   fd00:99:N::1/64 + 10.99.N.1/24 on the left,
#                                   ::2 / .2 on the right
#   nn_in gw CMD...                 run CMD inside node gw
#   nn_bg gw NAME CMD...            run CMD in the background inside gw (log in
#                                   $NN_TMP/NAME.log, killed at teardown)
#   nn_ok NAME / nn_not_ok NAME WHY TAP lines, counted
#   nn_check NAME CMD...            ok when CMD succeeds
#   nn_wait_for SECONDS CMD...      poll CMD every 100 ms until it succeeds,
#                                   for SECONDS x NN_TIME_SCALE of wall time
#   nn_scale_ms MS                  MS x NN_TIME_SCALE (a latency bound)
#   nn_finish                       exit status from the counts
#
# NN_TIME_SCALE (an integer, default 1) is how much slower than real hardware
# the machine runs: selftests/vm/vmrun.sh exports 4 under TCG emulation. Waits
# and latency bounds that emulation stretches are multiplied by it; on the
# host it is 1, so no bound is loosened there.
#
# NN_LOGDIR=DIR copies the nodes' logs ($NN_TMP/*.log) to DIR at teardown.
# V=1 traces every command; KEEP=1 leaves the topology up after the test
# and prints how to enter each node (tear down with: KEEP=0 nn_teardown, or
# `ip netns del` on the names printed).

set -u
NN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
O=${O:-build}
case "$O" in /*) NN_BUILD=$O ;; *) NN_BUILD=$NN_ROOT/$O ;; esac
NN_RUN=${NN_RUN:-$$}
NN_TMP=$(mktemp -d "/tmp/nn-e2e-$NN_RUN.XXXXXX")
NN_NODES=()
declare -A NN_PID
NN_PASSED=0
NN_FAILED=0
NN_TIME_SCALE=${NN_TIME_SCALE:-1}
if ! [[ $NN_TIME_SCALE =~ ^[1-9][0-9]?$ ]]; then
	echo "not ok - NN_TIME_SCALE=$NN_TIME_SCALE: want an integer from 1 to 99"
	exit 1
fi

[ "${V:-0}" = 1 ] && set -x

nn_ns() { echo "nn$NN_RUN-$1"; }

# A sleep without a process: a read with a timeout on a FIFO nobody writes.
# Every exec costs ~0.3 s in an emulated guest, where a 50 ms poll by
# `sleep` took 250 ms.
mkfifo "$NN_TMP/.nap" && exec {NN_NAP_FD}<>"$NN_TMP/.nap"
nn_nap() { read -r -t "$1" -u "$NN_NAP_FD" _ 2>/dev/null; return 0; }

# nn_node NAME...: start every node's holder first, then wait for them all:
# in a guest a holder takes ~2 s to come up (five execs), and nodes started
# one after another paid that in series.
nn_node() {
	local name
	mkdir -p /run/wireguard /run/nanami
	for name in "$@"; do
		nn_node_start "$name" || return 1
	done
	for name in "$@"; do
		nn_node_wait "$name" || return 1
	done
}

nn_node_start() {
	local name=$1 ns pid
	ns=$(nn_ns "$name")
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	# ip netns exec remounts /sys for the namespace; unshare -m then gives the
	# node private mounts: a tmpfs over /var/run/wireguard (wireguard-go's
	# control sockets), one over /run/nanami (nanami-gatewayd's control
	# socket, so that controllers of parallel runs never meet there) and a
	# bpffs for pinned maps.
	ip netns exec "$ns" unshare --mount --propagation private -- sh -c '
		mount -t tmpfs tmpfs /run/wireguard &&
		mount -t tmpfs -o mode=0700 tmpfs /run/nanami &&
		mount -t bpf bpf /sys/fs/bpf &&
		exec sleep infinity' &
	pid=$!
	NN_PID[$name]=$pid
	NN_NODES+=("$name")
}

# Wait until the mounts are in place: the holder execs sleep only after all
# three succeeded (its mount table alone could still be the host's, which has
# a bpffs too). Shell builtins only. Up to 100 polls of 50 ms, or a 10 s wall
# time scaled as nn_wait_for's.
nn_node_wait() {
	local name=$1 pid=${NN_PID[$1]} end i comm
	end=$(($(nn_now_ms) + 10000 * NN_TIME_SCALE))
	for ((i = 0; ; i++)); do
		comm=$(<"/proc/$pid/comm") 2>/dev/null
		[ "$comm" = sleep ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		[ "$i" -lt 100 ] || [ "$(nn_now_ms)" -lt "$end" ] || break
		nn_nap 0.05
	done
	echo "# node $name: mount namespace not ready" >&2
	return 1
}

nn_in() {
	local name=$1
	shift
	nsenter --target "${NN_PID[$name]}" --mount --net -- "$@"
}

# nn_ip NODE: the `ip` commands on stdin (one a line, without the leading
# "ip"; no -4/-6 flags, name the family by the address) in NODE's network
# namespace, in one process: each exec costs ~0.3 s in an emulated guest,
# where a topology's set-up was mostly process starts. Every line runs
# (-force); the status is non-zero when any failed.
nn_ip() { ip -n "$(nn_ns "$1")" -force -batch -; }

nn_bg() {
	local name=$1 tag=$2
	shift 2
	nsenter --target "${NN_PID[$name]}" --mount --net -- "$@" >"$NN_TMP/$tag.log" 2>&1 &
	echo $! >"$NN_TMP/$tag.pid"
}

nn_link() {
	local a=$1 aif=$2 b=$3 bif=$4 n=$5 tmp_a tmp_b
	tmp_a="nnv$NN_RUN${n}a"
	tmp_b="nnv$NN_RUN${n}b"
	ip link add "${tmp_a:0:15}" type veth peer name "${tmp_b:0:15}" || return 1
	ip link set "${tmp_a:0:15}" netns "$(nn_ns "$a")" name "$aif"
	ip link set "${tmp_b:0:15}" netns "$(nn_ns "$b")" name "$bif"
	nn_ip "$a" <<-EOF
		addr add fd00:99:$n::1/64 dev $aif nodad
		addr add 10.99.$n.1/24 dev $aif
		link set $aif up
	EOF
	nn_ip "$b" <<-EOF
		addr add fd00:99:$n::2/64 dev $bif nodad
		addr add 10.99.$n.2/24 dev $bif
		link set $bif up
	EOF
}

nn_teardown() {
	local name ns pid
	if [ "${KEEP:-0}" = 1 ]; then
		echo "# KEEP=1: topology left up. Enter a node with:"
		for name in "${NN_NODES[@]}"; do
			echo "#   nsenter --target ${NN_PID[$name]} --mount --net   # $name ($(nn_ns "$name"))"
		done
		echo "# logs and state: $NN_TMP"
		return
	fi
	# NN_LOGDIR: keep the daemons' logs (the VM guests' only way out)
	if [ -n "${NN_LOGDIR:-}" ] && mkdir -p "$NN_LOGDIR"; then
		cp "$NN_TMP"/*.log "$NN_LOGDIR/" 2>/dev/null
	fi
	# SIGTERM first to what nn_bg started, but only to a process still in one
	# of our namespaces: a pid file can name a process that died long ago,
	# and pids wrap (pid_max is 32768 here, a suite execs far more): a bare
	# kill hit another test's process when the netns tests ran side by side.
	local ours=" " p
	for name in "${NN_NODES[@]}"; do
		ours+="$(ip netns pids "$(nn_ns "$name")" 2>/dev/null | tr '\n' ' ')"
	done
	for pid in "$NN_TMP"/*.pid; do
		[ -f "$pid" ] || continue
		p=$(<"$pid")
		[[ "$ours" == *" $p "* ]] && kill "$p" 2>/dev/null
	done
	for name in "${NN_NODES[@]}"; do
		ns=$(nn_ns "$name")
		# Everything still running in the namespace (wireguard-go, servers).
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill "$pid" 2>/dev/null
		done
	done
	sleep 0.2
	for name in "${NN_NODES[@]}"; do
		ns=$(nn_ns "$name")
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$NN_TMP"
}
trap nn_teardown EXIT

nn_ok() {
	NN_PASSED=$((NN_PASSED + 1))
	echo "ok - $1"
}

nn_not_ok() {
	NN_FAILED=$((NN_FAILED + 1))
	echo "not ok - $1"
	[ -n "${2:-}" ] && echo "#   $2"
	return 0
}

nn_check() {
	local name=$1
	shift
	if "$@" >"$NN_TMP/check.out" 2>&1; then
		nn_ok "$name"
	else
		nn_not_ok "$name" "command failed: $*"
		sed 's/^/#   /' "$NN_TMP/check.out" | head -20
	fi
}

# Wall time, not a count of polls: under emulation each poll's command takes
# long enough that a count would stretch the wait several times over.
nn_wait_for() {
	local end=$(($(nn_now_ms) + $1 * 1000 * NN_TIME_SCALE))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(nn_now_ms)" -lt "$end" ] || return 1
		nn_nap 0.1
	done
}

nn_scale_ms() { echo $(($1 * NN_TIME_SCALE)); }

# nn_test_pki DIR: throw-away certificates in DIR for TLS tests: CAs ca and ca2;
# srv (CN nanami-cp, 127.0.0.1/localhost) and cli (CN gw-fra-1) signed by ca;
# cli2 (CN gw-fra-1) signed by ca2; cli3 (CN gw-ams-1: another gateway) by ca. Output of openssl in DIR/pki.log.
nn_test_pki() {
	local d=$1
	(
		cd "$d" || exit 1
		for c in ca ca2; do
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
				-keyout $c.key -out $c.crt -subj "/CN=nanami-test-$c" || exit 1
		done
		leaf() {	# NAME CA CN EXT
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout "$1.key" -out "$1.csr" -subj "/CN=$3" &&
			printf '%s\n' "$4" >"$1.ext" &&
			openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial \
				-days 1 -out "$1.crt" -extfile "$1.ext"
		}
		leaf srv ca nanami-cp "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth" &&
		leaf cli ca gw-fra-1 "extendedKeyUsage=clientAuth" &&
		leaf cli2 ca2 gw-fra-1 "extendedKeyUsage=clientAuth" &&
		leaf cli3 ca gw-ams-1 "extendedKeyUsage=clientAuth"
	) >"$d/pki.log" 2>&1
}

# Milliseconds since the epoch, for measured bounds.
nn_now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }

nn_finish() {
	echo "# $NN_PASSED passed, $NN_FAILED failed"
	[ "$NN_FAILED" -eq 0 ]
}
