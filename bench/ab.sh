#!/usr/bin/env bash
# A/B of the tails: scenarios 2 (1,000 patients at 1 message/s), 3 (saturation, 200
# connections) and 3b (200 connections at RATE messages/s each) of bench/run.sh, run in turn
# on ONE server and one database, as `make bench` does, for each binary given; one line per
# run: answers/s, p50, p99, p99.9 ms and the server's CPU. Run binaries in turn, twice each:
# one run on this 2-core machine is not enough to tell two builds apart.
#   bench/ab.sh [--rate R] BINARY...      (after `make bench-tools`; about 70 s per binary)
set -u
cd "$(dirname "$0")/.."
RATE=19.7
if [ "${1:-}" = --rate ]; then RATE=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: bench/ab.sh [--rate R] BINARY..." >&2; exit 2; }
LOADGEN=build/bench/loadgen
[ -x "$LOADGEN" ] || { echo "bench/ab.sh: run make bench-tools first" >&2; exit 1; }
for bin in "$@"; do
	tmp=$(mktemp -d)
	timeout 300 "$bin" serve --listen 127.0.0.1:0 --db "$tmp/fd.db" --max-conn-per-ip 0 \
		--rate-burst 1000000 --rate-per-sec 1000000 --rate-per-ip-per-sec 0 \
		> "$tmp/out" 2> "$tmp/err" &
	pid=$!
	for _ in $(seq 100); do grep -q 'listening on' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
	port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/out" | head -1)
	srv=$(pgrep -P "$pid" | head -1)
	lg() {
		"$LOADGEN" --questions tests/data/answers.tsv --url "ws://127.0.0.1:$port/ws" \
			--origin "http://127.0.0.1:$port" --server-pid "${srv:-$pid}" "$@" 2>/dev/null |
			tail -1 | python3 -c 'import json, sys
d = json.load(sys.stdin)
print("%5d conns %6.1f/s each: %7.0f answers/s  p50 %6.2f  p99 %7.2f  p99.9 %7.2f ms  server CPU %s%%" % (
    d["conns"], d["rate"], d["answers_per_s"], d["p50_us"] / 1e3, d["p99_us"] / 1e3,
    d["p999_us"] / 1e3, d.get("server_cpu_pct")))'
	}
	echo "== $bin"
	lg --conns 1000 --rate 1 --warmup 5 --duration 20
	sleep 2
	lg --conns 200 --rate 0 --warmup 3 --duration 15
	sleep 2
	lg --conns 200 --rate "$RATE" --warmup 3 --duration 15
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -rf "$tmp"
done
