#!/bin/sh
# Runs the libFuzzer targets that tests/fuzz/fuzz.mk builds into build-fuzz/ (issue 7).
# FUZZ_FLAGS adds libFuzzer flags to every run (e.g. -detect_leaks=0 while a known leak is open).
#
#   tests/fuzz/run.sh fuzz [TARGET...]     fuzzes each target in turn for FUZZ_SECONDS (default
#                                          60) from build-fuzz/corpus-TARGET, a working copy of
#                                          tests/fuzz/corpus/TARGET (the committed seeds stay as
#                                          they are; what the fuzzer finds accumulates there)
#   tests/fuzz/run.sh regress [TARGET...]  runs each target once over every committed corpus file,
#                                          no fuzzing
#
# One line per target. Exits 1 if a target crashed, leaked, ran out of memory or hung (the input
# is kept in build-fuzz/artifacts/TARGET/, the log in build-fuzz/TARGET.log). Reproduce one with
#   build-fuzz/fuzz_TARGET FILE
set -u
cd "$(dirname "$0")/../.."

B=build-fuzz
mode=${1:-}
[ $# -gt 0 ] && shift
targets=${*:-chat query kb api desk}
secs=${FUZZ_SECONDS:-60}
failed=0

case "$mode" in
fuzz | regress) ;;
*)
	echo "usage: tests/fuzz/run.sh fuzz|regress [TARGET...]" >&2
	exit 2
	;;
esac

# The value after "key:" on the last libFuzzer status line of a log ("cov: 1234").
stat() {
	grep -E '^#[0-9]+' "$1" | tail -n 1 | sed -n "s/.* $2: \([0-9]*\).*/\1/p"
}

# A value of -print_final_stats ("stat::average_exec_per_sec: 1234").
final() {
	sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -n 1
}

for t in $targets; do
	bin=$B/fuzz_$t
	seeds=tests/fuzz/corpus/$t
	log=$B/$t.log
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "fuzz $t: FAILED: no $bin or no $seeds (make fuzz-build)"
		failed=1
		continue
	fi
	dict=tests/fuzz/protocol.dict
	[ "$t" = query ] && dict=tests/fuzz/query.dict
	mkdir -p "$B/artifacts/$t"

	if [ "$mode" = regress ]; then
		start=$(date +%s)
		# Files as arguments: each is run once, nothing is mutated or written.
		# shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
		if "$bin" -rss_limit_mb=2048 -timeout=30 ${FUZZ_FLAGS:-} "$seeds"/* >"$log" 2>&1; then
			n=$(ls "$seeds" | wc -l)
			echo "regress $t: ok, $n inputs, $(($(date +%s) - start)) s"
		else
			echo "regress $t: FAILED (see $log):"
			grep -E 'ERROR|SUMMARY|contract broken|Running:' "$log" | tail -n 6 | sed 's/^/    /'
			failed=1
		fi
		continue
	fi

	corpus=$B/corpus-$t
	mkdir -p "$corpus"
	cp "$seeds"/* "$corpus"/
	# -close_fd_mask=2: the code under test logs to stderr (failed logins, bad frames);
	# libFuzzer keeps its own output and the sanitizers' reports on a copy of it.
	if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=16384 -timeout=30 \
		-dict="$dict" -close_fd_mask=2 -print_final_stats=1 ${FUZZ_FLAGS:-} \
		-artifact_prefix="$B/artifacts/$t/" "$corpus" >"$log" 2>&1; then
		echo "fuzz $t: ok, ${secs} s, $(final "$log" number_of_executed_units) runs," \
			"$(final "$log" average_exec_per_sec) exec/s, cov $(stat "$log" cov), ft $(stat "$log" ft)," \
			"corpus $(ls "$corpus" | wc -l) files, peak rss $(final "$log" peak_rss_mb) MB"
	else
		unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		if [ -n "$unit" ]; then
			cov=$(stat "$log" cov)
			echo "fuzz $t: FAILED ${cov:+at cov $cov}${cov:-on the seed corpus}: $unit"
			grep -E 'ERROR|SUMMARY|contract broken' "$log" | head -n 4 | sed 's/^/    /'
		else
			echo "fuzz $t: FAILED (see $log):"
			tail -n 3 "$log" | sed 's/^/    /'
		fi
		failed=1
	fi
done
exit $failed
