#!/bin/bash
# make bench-quality: frontdesk and NLP.js side by side on the answer-quality
# benchmark sets (../shared/bench by default, or $BENCH_DIR), same kb.jsonl and
# dev.jsonl for both, default settings for both. Prints one table.
set -e
cd "$(dirname "$0")/.."
bench=${BENCH_DIR:-../shared/bench}
out=build/bench-quality
mkdir -p "$out"
[ -d node_modules/@nlpjs/nlp ] || npm ci --no-audit --no-fund --loglevel=error

printf '%-14s %-10s %7s %7s %9s %9s %9s %9s %9s\n' set engine p@1 mrr@10 in-scope oos-recall handoffs p50_us p99_us
for dir in "$bench"/*/; do
	set_name=$(basename "$dir")
	[ -f "$dir/kb.jsonl" ] && [ -f "$dir/dev.jsonl" ] || continue
	./build/frontdesk eval --kb "$dir/kb.jsonl" --queries "$dir/dev.jsonl" > "$out/$set_name.frontdesk.txt"
	node bench/nlpjs/quality.mjs --kb "$dir/kb.jsonl" --queries "$dir/dev.jsonl" > "$out/$set_name.nlpjs.txt"
	for engine in frontdesk nlpjs; do
		tail -n 1 "$out/$set_name.$engine.txt" | SET="$set_name" ENGINE="$engine" python3 -c '
import json, os, sys
r = json.loads(sys.stdin.read())
print("%-14s %-10s %7.3f %7.3f %9.3f %9.3f %9.3f %9d %9d" % (os.environ["SET"], os.environ["ENGINE"],
      r["p_at_1"], r.get("mrr_at_10", 0), r["in_scope_accuracy"], r["oos_recall"],
      r["handoff_rate"], r["p50_us"], r["p99_us"]))'
	done
done
# The default clinic, on the answers table of the unit tests (triage rows skipped).
./build/frontdesk eval --kb kb/clinic.jsonl --kb kb/clinic-es.jsonl --queries tests/data/answers.tsv \
	> "$out/clinic.frontdesk.txt"
tail -n 1 "$out/clinic.frontdesk.txt" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print("%-14s %-10s %7.3f %7.3f %9.3f %9.3f %9.3f %9d %9d" % ("clinic", "frontdesk",
      r["p_at_1"], r["mrr_at_10"], r["in_scope_accuracy"], r["oos_recall"],
      r["handoff_rate"], r["p50_us"], r["p99_us"]))'
echo "full reports: $out/"
