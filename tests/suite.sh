# Shared by tests/run.sh and tests/run-long.sh (sourced from the repository root): the suite
# runner, the counters of each kind of log, the sanitizer settings and the open-files limit.
# Each script then calls `suite NAME KIND COMMAND...` and ends with `suite_total`.
mkdir -p build/test-logs
total_pass=0
total_fail=0

count_c() {   # "N passed, N failed" from our C harness
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
	if [ -z "$line" ]; then echo "0 1"; return; fi
	echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/'
}
count_fuzz() {  # "regress T: ok, ..." / "fuzz T: ok, ..." lines of tests/fuzz/run.sh
	local p f
	p=$(grep -cE '^(regress|fuzz) [a-z]+: ok' "$1")
	f=$(grep -cE '^(regress|fuzz) [a-z]+: FAILED' "$1")
	echo "$p $f"
}
count_node() {  # TAP summary of node --test
	local p f
	p=$(grep -E '^# pass [0-9]+' "$1" | tail -n 1 | awk '{print $3}')
	f=$(grep -E '^# fail [0-9]+' "$1" | tail -n 1 | awk '{print $3}')
	[ -z "$p" ] && { echo "0 1"; return; }
	echo "$p ${f:-0}"
}

suite() {  # name, kind (c|node), command...
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
	# a crash or a non-zero exit with nothing failed still counts as a failure
	if [ "$rc" -ne 0 ] && [ "$2" -eq 0 ]; then set -- "$1" 1; fi
	total_pass=$((total_pass + $1))
	total_fail=$((total_fail + $2))
	echo "   $1 passed, $2 failed (log: $log)"
	if [ "$2" -ne 0 ]; then
		grep -E '^not ok|CHECK|failed|Error|error:' "$log" | head -n 40 | sed 's/^/   | /'
	fi
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# connections.test.mjs opens 5,000 sockets and the server as many: raise the soft limit on
# open files (never above the hard limit); below 5,500 that test is skipped with the reason.
fds=$(ulimit -Sn)
if [ "$fds" != unlimited ] && [ "$fds" -lt 12288 ]; then
	ulimit -Sn 12288 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
fi

suite_total() {
	echo "$total_pass passed, $total_fail failed"
	[ "$total_fail" -eq 0 ]
}
