#!/usr/bin/env bash
# Instructions per answer, immune to how busy the machine is: `frontdesk serve` under callgrind
# (bench flags, fresh database, default knowledge base), counting switched on once it listens,
# `loadgen --conns 20` for DURATION seconds (default 45) over tests/data/answers.tsv, then the
# total and the engine's share (engine_decide, inclusive) divided by the answers.
#   bench/callgrind.sh [DURATION]      (after `make bench`; a few minutes; FRONTDESK=BINARY
#   to count another build)
set -u
cd "$(dirname "$0")/.."
DURATION=${1:-45}
TMP=$(mktemp -d)
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; rm -rf "$TMP"' EXIT
FD=${FRONTDESK:-build/frontdesk}
for f in "$FD" build/bench/loadgen; do
	[ -x "$f" ] || { echo "callgrind: $f is missing: run make bench" >&2; exit 1; }
done
command -v valgrind >/dev/null || { echo "callgrind: needs valgrind" >&2; exit 1; }

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.out" \
	"$FD" serve --listen 127.0.0.1:0 --db "$TMP/fd.db" --max-conn-per-ip 0 \
	--rate-burst 1000000 --rate-per-sec 1000000 --rate-per-ip-per-sec 0 \
	> "$TMP/out" 2> "$TMP/err" &
SRV=$!
for _ in $(seq 1200); do grep -q 'listening on' "$TMP/out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/out" | head -1)
[ -n "$PORT" ] || { echo "callgrind: the server did not start" >&2; tail -5 "$TMP/err" >&2; exit 1; }
callgrind_control -i on "$SRV" >/dev/null 2>&1
RESULT=$(build/bench/loadgen --url "ws://127.0.0.1:$PORT/ws" --origin "http://127.0.0.1:$PORT" \
	--conns 20 --warmup 0 --duration "$DURATION" --questions tests/data/answers.tsv)
callgrind_control -i off "$SRV" >/dev/null 2>&1
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
ANSWERS=$(sed -n 's/.*"answers":\([0-9]*\).*/\1/p' <<< "$RESULT")
TOTAL=$(callgrind_annotate "$TMP/cg.out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
ENGINE=$(callgrind_annotate --inclusive=yes "$TMP/cg.out" 2>/dev/null |
	sed -n 's/^ *\([0-9,]*\) .*engine\.c:engine_decide .*/\1/p' | head -1 | tr -d ,)
[ -n "$ANSWERS" ] && [ "$ANSWERS" -gt 0 ] && [ -n "$TOTAL" ] ||
	{ echo "callgrind: no answers or no profile: $RESULT" >&2; exit 1; }
awk -v a="$ANSWERS" -v t="$TOTAL" -v e="${ENGINE:-0}" 'BEGIN {
	printf "answers %d\ninstructions per answer %.2f M\n  engine %.2f M (%.0f%%)\n  everything else %.2f M\n",
		a, t / a / 1e6, e / a / 1e6, 100 * e / t, (t - e) / a / 1e6 }'
