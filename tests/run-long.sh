#!/bin/bash
# The long tests (tests/long/, minutes each): the real server, release and ASan+UBSan builds.
# `make check-long` runs this; CI runs it after `make test`. Ends with "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
mkdir -p build/test-logs
total_pass=0
total_fail=0

count_c() {   # "N passed, N failed" from our C harness
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
	if [ -z "$line" ]; then echo "0 1"; return; fi
	echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/'
}
count_fuzz() {
	echo "$(grep -cE '^fuzz [a-z]+: ok' "$1") $(grep -cE '^fuzz [a-z]+: FAILED' "$1")"
}
count_node() {  # TAP summary of node --test
	local p f
	p=$(grep -E '^# pass [0-9]+' "$1" | tail -n 1 | awk '{print $3}')
	f=$(grep -E '^# fail [0-9]+' "$1" | tail -n 1 | awk '{print $3}')
	[ -z "$p" ] && { echo "0 1"; return; }
	echo "$p ${f:-0}"
}

suite() {  # name, kind (c|fuzz|node), command...
	local name=$1 kind=$2 log=build/test-logs/$1.log rc counts
	shift 2
	echo "== $name"
	"$@" >"$log" 2>&1
	rc=$?
	case $kind in
	c) counts=$(count_c "$log") ;;
	fuzz) counts=$(count_fuzz "$log") ;;
	*) counts=$(count_node "$log") ;;
	esac
	set -- $counts
	if [ "$rc" -ne 0 ] && [ "$2" -eq 0 ]; then set -- "$1" 1; fi
	total_pass=$((total_pass + $1))
	total_fail=$((total_fail + $2))
	echo "   $1 passed, $2 failed (log: $log)"
	if [ "$2" -ne 0 ]; then
		grep -E '^not ok|failed|Error|error:' "$log" | head -n 40 | sed 's/^/   | /'
	fi
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# thousands of sockets on both ends (see tests/run.sh)
fds=$(ulimit -Sn)
if [ "$fds" != unlimited ] && [ "$fds" -lt 12288 ]; then
	ulimit -Sn 12288 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
fi

suite long node node --test --test-reporter=tap --test-concurrency=1 tests/long/
suite long-asan node env FRONTDESK_BIN="$PWD/build-asan/frontdesk" \
	node --test --test-reporter=tap --test-concurrency=1 tests/long/
# valgrind: the unit tests, and the server under the main integration tests (slow: the
# server takes ~20x longer to start, so the start timeout is raised). Any memory error or
# leak makes valgrind exit 99: the unit run fails, and the server's clean-stop check fails.
suite valgrind-unit c valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect ./build/unit-tests
suite valgrind-integration node env FRONTDESK_BIN="$PWD/tests/valgrind-frontdesk.sh" \
	FRONTDESK_START_TIMEOUT_MS=180000 node --test --test-reporter=tap --test-concurrency=1 \
	--test-timeout=900000 tests/integration/conversation.test.mjs tests/integration/staff.test.mjs \
	tests/integration/admin-review.test.mjs tests/integration/webhook.test.mjs
# libFuzzer: every target from its committed corpus, a fixed seed and a fixed number of runs,
# so a CI run is reproducible (open-ended fuzzing: make fuzz FUZZ_SECONDS=N).
suite fuzz fuzz make --no-print-directory fuzz FUZZ_SECONDS=300 FUZZ_FLAGS="-seed=1 -runs=${FUZZ_RUNS:-5000}"

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
