#!/usr/bin/env bash
# The performance benchmark of issue 6: starts the servers on free loopback ports, runs
# scenarios 1-5, stops the servers, prints one table row per scenario and the ratios.
# Run it with `make bench` (builds build/frontdesk and build/bench/* first).
#
# Every server and every load run is bounded in time (timeout), every wait loop in count;
# all traffic goes to 127.0.0.1. Raw results (one JSON line per run) are kept in
# build/bench/results.jsonl. Knobs (environment): BENCH_QUICK=1 shortens every run (a smoke
# test of the script, not a measurement); BENCH_FRONTDESK_FLAGS adds options to `frontdesk
# serve`. The echo server runs twice, on lws's poll() loop and on libev (frontdesk's): the
# transport's limit the ratio is taken against is the faster of the two.
set -u
cd "$(dirname "$0")/.."

B=build/bench
FRONTDESK=build/frontdesk
LOADGEN=$B/loadgen
ECHO=$B/echo
GENKB=$B/genkb
QUESTIONS=tests/data/answers.tsv
RESULTS=$B/results.jsonl

IDLE_CONNS=10000
STEADY_CONNS=1000
SAT_CONNS=200
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	D_IDLE=2 D_STEADY=3 W_STEADY=1 D_SAT=3 W_SAT=1 KB_SIZES="1000 10000" NQ=100
else
	D_IDLE=5 D_STEADY=20 W_STEADY=5 D_SAT=15 W_SAT=3 KB_SIZES="1000 10000 100000" NQ=500
fi

for f in $FRONTDESK $LOADGEN $ECHO $GENKB; do
	[ -x "$f" ] || { echo "bench: $f is missing: run make bench" >&2; exit 1; }
done

TMP=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- descriptors: 10,000 connections need as many fds on each side ------------------------
ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((IDLE_CONNS + 200)) ]; then
	IDLE_CONNS=$((NOFILE - 200))
	echo "bench: ulimit -n is $NOFILE: the idle scenario opens $IDLE_CONNS connections, not 10,000" >&2
fi

# --- is the machine quiet? (other work on the 2 cores makes every number low) ---------------
cpu_busy_pct() {
	local a b
	read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ < /proc/stat
	sleep 1
	read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ < /proc/stat
	a=$((a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8)); b=$((b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8))
	echo $(( (b - a - (b4 - a4) - (b5 - a5)) * 100 / (b - a > 0 ? b - a : 1) ))
}
BUSY=$(cpu_busy_pct)
[ "$BUSY" -gt 15 ] && echo "bench: warning: the machine was ${BUSY}% busy before the start; the numbers will be low" >&2

# --- helpers -------------------------------------------------------------------------------
# jget KEY JSON: the value of a top-level key of a flat JSON line ("" if absent).
jget() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<< "$2" | tr -d '"'; }

# wait_line FILE REGEX SECONDS: waits for a line matching REGEX in FILE.
wait_line() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# healthz_conns PORT: the "connections" of frontdesk's /healthz.
healthz_conns() {
	local body
	body=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:$1\r\nConnection: close\r\n\r\n' >&3; cat <&3" 2>/dev/null)
	sed -n 's/.*"connections":\([0-9]*\).*/\1/p' <<< "$body"
}

# wait_drained PORT: until frontdesk has no chat connection left (at most 60 s).
wait_drained() {
	local i n
	for ((i = 0; i < 120; i++)); do
		n=$(healthz_conns "$1")
		[ "$n" = 0 ] && return 0
		sleep 0.5
	done
	echo "bench: warning: frontdesk still has $n connections after 60 s" >&2
}

# busy_jiffies: CPU time used by everything on the machine so far (USER_HZ = 100/s/core).
busy_jiffies() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# run NAME LOADGEN-ARGS...: one load run; its JSON line goes to $RESULTS and to R_NAME, with
# box_cpu_pct: the whole machine's CPU over the run, to tell when something else was running.
run() {
	local name=$1 out b0 t0 box
	shift
	b0=$(busy_jiffies)
	t0=$(date +%s%N)
	out=$(timeout 150 "$LOADGEN" --questions "$QUESTIONS" "$@" 2> "$TMP/loadgen-$name.err")
	box=$(awk -v b="$(( $(busy_jiffies) - b0 ))" -v ns="$(( $(date +%s%N) - t0 ))" \
		'BEGIN { printf "%.1f", (ns > 0 ? b / (ns / 1e9) : 0) }')
	[ -s "$TMP/loadgen-$name.err" ] && sed "s/^/bench: $name: /" "$TMP/loadgen-$name.err" >&2
	if [ -z "$out" ]; then
		echo "bench: $name: the load generator printed nothing" >&2
		out='{}'
	fi
	[ "$out" = '{}' ] || out="${out%\}},\"box_cpu_pct\":$box}"
	echo "{\"scenario\":\"$name\",${out#\{}" >> "$RESULTS"
	printf -v "R_$name" '%s' "$out"
}

: > "$RESULTS"
START=$(date +%s)
echo "bench: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(sed -n 's/^model name.*: //p' /proc/cpuinfo | head -1); raw results in $RESULTS"

# --- frontdesk -----------------------------------------------------------------------------
FD_FLAGS="--max-conn-per-ip 0 ${BENCH_FRONTDESK_FLAGS:-}"
ROTATE=0
if "$FRONTDESK" 2>&1 | grep -q -- --rate-burst; then
	# the per-connection flood limit (10 at once, 1/s) would cap a closed loop at 1 msg/s
	FD_FLAGS="$FD_FLAGS --rate-burst 1000000 --rate-per-sec 1000000"
	# every simulated patient comes from 127.0.0.1: no per-address limit
	"$FRONTDESK" 2>&1 | grep -q -- --rate-per-ip && FD_FLAGS="$FD_FLAGS --rate-per-ip-per-sec 0"
else
	# older server: a connection sends 9 messages (the burst, less the hello), then a new one
	ROTATE=9
	echo "bench: this frontdesk has no --rate-burst: connections are replaced every 9 messages" >&2
fi
# Servers run under timeout(1), so that none outlives a killed script; the pid that the
# load generator reads /proc of is timeout's child.
timeout 900 "$FRONTDESK" serve --listen 127.0.0.1:0 --db "$TMP/frontdesk.db" $FD_FLAGS \
	> "$TMP/frontdesk.out" 2> "$TMP/frontdesk.err" &
FD_PID=$!
PIDS="$PIDS $FD_PID"
if ! wait_line "$TMP/frontdesk.out" 'listening on' 30; then
	echo "bench: frontdesk did not start:" >&2
	tail -5 "$TMP/frontdesk.err" >&2
	exit 1
fi
FD_PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/frontdesk.out" | head -1)
FD_SRV=$(pgrep -P "$FD_PID" | head -1)
FD="--url ws://127.0.0.1:$FD_PORT/ws --origin http://127.0.0.1:$FD_PORT --server-pid ${FD_SRV:-$FD_PID} --rotate $ROTATE"

# --- echo ----------------------------------------------------------------------------------
timeout 900 "$ECHO" --listen 127.0.0.1:0 --loop ev > "$TMP/echo.out" 2> "$TMP/echo.err" &
ECHO_PID=$!
timeout 900 "$ECHO" --listen 127.0.0.1:0 --loop poll > "$TMP/echop.out" 2> "$TMP/echop.err" &
ECHOP_PID=$!
PIDS="$PIDS $ECHO_PID $ECHOP_PID"
wait_line "$TMP/echo.out" 'listening on' 10 || { echo "bench: echo did not start" >&2; exit 1; }
wait_line "$TMP/echop.out" 'listening on' 10 || { echo "bench: echo did not start" >&2; exit 1; }
ECHO_PORT=$(sed -n 's/.*listening on ws:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/echo.out" | head -1)
ECHO_SRV=$(pgrep -P "$ECHO_PID" | head -1)
ECHOP_PORT=$(sed -n 's/.*listening on ws:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/echop.out" | head -1)
ECHOP_SRV=$(pgrep -P "$ECHOP_PID" | head -1)

# --- 1. idle -------------------------------------------------------------------------------
echo "bench: 1. idle: $IDLE_CONNS connections, hello, then nothing for ${D_IDLE}s"
run idle $FD --conns "$IDLE_CONNS" --idle --warmup 1 --duration "$D_IDLE"
wait_drained "$FD_PORT"

# --- 2. steady -----------------------------------------------------------------------------
echo "bench: 2. steady: $STEADY_CONNS patients, 1 message/s each, ${D_STEADY}s"
run steady $FD --conns "$STEADY_CONNS" --rate 1 --warmup "$W_STEADY" --duration "$D_STEADY"
wait_drained "$FD_PORT"

# --- 3. saturation, and 5. the same load on echo and on the Node.js peer ---------------------
echo "bench: 3. saturation: $SAT_CONNS connections, next message when the reply is in, ${D_SAT}s"
run saturation $FD --conns "$SAT_CONNS" --rate 0 --warmup "$W_SAT" --duration "$D_SAT"
wait_drained "$FD_PORT"

SAT=$(jget answers_per_s "$R_saturation")
HALF_RATE=$(awk -v s="${SAT:-0}" -v c="$SAT_CONNS" 'BEGIN { r = s / 2 / c; printf "%.3f", (r > 0 ? r : 0) }')
if awk -v r="$HALF_RATE" 'BEGIN { exit !(r > 0) }'; then
	echo "bench: 3b. half of saturation: $SAT_CONNS connections at $HALF_RATE messages/s each"
	run half $FD --conns "$SAT_CONNS" --rate "$HALF_RATE" --warmup "$W_SAT" --duration "$D_SAT"
	wait_drained "$FD_PORT"
else
	R_half='{}'
fi

# 3c. the same load with one commit per message (group commits off), on a second server with
# a fresh database, to show what grouping the commits of one pass of the event loop buys.
R_nogroup='{}'
if "$FRONTDESK" 2>&1 | grep -q -- --group-commit; then
	echo "bench: 3c. saturation with one commit per message (--group-commit off)"
	timeout 300 "$FRONTDESK" serve --listen 127.0.0.1:0 --db "$TMP/frontdesk-nogroup.db" $FD_FLAGS \
		--group-commit off > "$TMP/frontdesk-ng.out" 2> "$TMP/frontdesk-ng.err" &
	NG_PID=$!
	PIDS="$PIDS $NG_PID"
	if wait_line "$TMP/frontdesk-ng.out" 'listening on' 30; then
		NG_PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/frontdesk-ng.out" | head -1)
		NG_SRV=$(pgrep -P "$NG_PID" | head -1)
		run nogroup --url "ws://127.0.0.1:$NG_PORT/ws" --origin "http://127.0.0.1:$NG_PORT" \
			--server-pid "${NG_SRV:-$NG_PID}" --rotate "$ROTATE" --conns "$SAT_CONNS" --rate 0 \
			--warmup "$W_SAT" --duration "$D_SAT"
	fi
	kill "$NG_PID" 2>/dev/null
	wait "$NG_PID" 2>/dev/null
fi

echo "bench: 5a. echo: the same load on a bare libwebsockets echo server, libev then poll()"
run echo --url "ws://127.0.0.1:$ECHO_PORT/" --protocol echo --server-pid "${ECHO_SRV:-$ECHO_PID}" \
	--conns "$SAT_CONNS" --rate 0 --warmup "$W_SAT" --duration "$D_SAT" --rotate "$ROTATE"
run echopoll --url "ws://127.0.0.1:$ECHOP_PORT/" --protocol echo --server-pid "${ECHOP_SRV:-$ECHOP_PID}" \
	--conns "$SAT_CONNS" --rate 0 --warmup "$W_SAT" --duration "$D_SAT" --rotate "$ROTATE"
# the transport's limit: the faster of the two loops
R_echo_best=$R_echo
if awk -v a="$(jget answers_per_s "$R_echopoll")" -v b="$(jget answers_per_s "$R_echo")" \
	'BEGIN { exit !(a + 0 > b + 0) }'; then
	R_echo_best=$R_echopoll
fi

kill "$FD_PID" "$ECHO_PID" "$ECHOP_PID" 2>/dev/null
wait "$FD_PID" "$ECHO_PID" "$ECHOP_PID" 2>/dev/null
PIDS=""

R_node='{}'
NODE_NOTE=""
if ! command -v node > /dev/null; then
	NODE_NOTE="node is not installed"
elif ! node -e "import('ws').then(()=>import('@nlpjs/nlp')).catch(()=>process.exit(1))" 2> /dev/null; then
	NODE_NOTE="npm packages ws / @nlpjs/* missing (npm ci)"
else
	echo "bench: 5b. Node.js + ws + NLP.js peer: the same load, the same knowledge base"
	cat kb/*.jsonl > "$TMP/kb-all.jsonl"
	timeout 300 node bench/node-peer/server.mjs --listen 127.0.0.1:0 --kb "$TMP/kb-all.jsonl" \
		--log "$TMP/node-peer.log" > "$TMP/node.out" 2> "$TMP/node.err" &
	NODE_PID=$!
	PIDS="$NODE_PID"
	if wait_line "$TMP/node.out" '^listening on' 120; then
		NODE_PORT=$(sed -n 's/^listening on \([0-9]*\).*/\1/p' "$TMP/node.out" | head -1)
		NODE_SRV=$(pgrep -P "$NODE_PID" | head -1)
		run node --url "ws://127.0.0.1:$NODE_PORT/ws" --origin "http://127.0.0.1:$NODE_PORT" \
			--server-pid "${NODE_SRV:-$NODE_PID}" --conns "$SAT_CONNS" --rate 0 \
			--warmup "$W_SAT" --duration "$D_SAT"
	else
		NODE_NOTE="the peer did not start: $(tail -1 "$TMP/node.err")"
	fi
	kill "$NODE_PID" 2>/dev/null
	wait "$NODE_PID" 2>/dev/null
	PIDS=""
fi

# --- 4. knowledge-base size: engine time per question --------------------------------------
echo "bench: 4. knowledge-base size: ${KB_SIZES// /, } generated entries, $NQ questions each"
EVAL_ROWS=""
for n in $KB_SIZES; do
	"$GENKB" --entries "$n" --nqueries "$NQ" --kb "$TMP/kb$n.jsonl" --queries "$TMP/q$n.jsonl"
	t0=$(date +%s.%N)
	line=$(timeout 240 "$FRONTDESK" eval --kb "$TMP/kb$n.jsonl" --queries "$TMP/q$n.jsonl" | tail -1)
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	[ -n "$line" ] || line='{}'
	echo "{\"scenario\":\"kb$n\",\"wall_s\":$secs,${line#\{}" >> "$RESULTS"
	EVAL_ROWS="$EVAL_ROWS$n $(jget p50_us "$line") $(jget p99_us "$line") $(jget p_at_1 "$line") $secs"$'\n'
	rm -f "$TMP/kb$n.jsonl"
done

# --- the table -------------------------------------------------------------------------------
ms() { awk -v u="$1" 'BEGIN { if (u == "") print "-"; else printf "%.2f", u / 1000 }'; }
row() { # name json
	local j=$2
	printf '| %-22s | %6s | %11s | %9s | %7s | %7s | %8s | %6s | %6s | %5s | %5s | %5s | %8s | %8s |\n' "$1" \
		"$(jget conns "$j")" "$(jget opened "$j")/$(jget failed "$j")" "$(jget answers_per_s "$j")" \
		"$(ms "$(jget p50_us "$j")")" "$(ms "$(jget p99_us "$j")")" "$(ms "$(jget p999_us "$j")")" \
		"$(jget errors "$j")" "$(jget unexpected_closes "$j")" "$(jget server_cpu_pct "$j")" \
		"$(jget client_cpu_pct "$j")" "$(jget box_cpu_pct "$j")" \
		"$(jget server_rss_kib "$j")" "$(jget rss_per_conn_kib "$j")"
}
echo
echo "| scenario               |  conns | opened/fail | answers/s | p50 ms  | p99 ms  | p99.9 ms | errors | closes | srv % | lg %  | box % | RSS KiB  | KiB/conn |"
echo "|------------------------|--------|-------------|-----------|---------|---------|----------|--------|--------|-------|-------|-------|----------|----------|"
row "1 idle" "$R_idle"
row "2 steady 1/s" "$R_steady"
row "3 saturation" "$R_saturation"
row "3b half saturation" "$R_half"
row "3c 1 commit/message" "$R_nogroup"
row "5a echo (lws, libev)" "$R_echo"
row "5a echo (lws, poll)" "$R_echopoll"
if [ -n "$NODE_NOTE" ]; then
	echo "| 5b node+ws+nlp.js      | skipped: $NODE_NOTE |"
else
	row "5b node+ws+nlp.js" "$R_node"
fi
echo
echo "| 4 KB entries | engine p50 ms | engine p99 ms | p@1   | eval wall s |"
echo "|--------------|---------------|---------------|-------|-------------|"
while read -r n p50 p99 p1 secs; do
	[ -n "$n" ] || continue
	printf '| %12s | %13s | %13s | %5s | %11s |\n' "$n" "$(ms "$p50")" "$(ms "$p99")" "$p1" "$secs"
done <<< "$EVAL_ROWS"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
echo
echo "frontdesk / echo messages/s:     $(ratio "$SAT" "$(jget answers_per_s "$R_echo_best")")   (target >= 0.40; against the faster echo; echo answers 1 frame per message, frontdesk 2: ack + reply)"
echo "frontdesk / node peer answers/s: $(ratio "$SAT" "$(jget answers_per_s "$R_node")")   (target >= 5)"
echo "half-saturation p99 ms:          $(ms "$(jget p99_us "$R_half")")   (target < 5)"
echo "idle KiB per connection:         $(jget rss_per_conn_kib "$R_idle")   (target <= 16)"
echo "srv % / lg %: CPU of the server / of the load generator over the measuring window (one"
echo "core = 100); box %: the whole machine over the run, all processes (well above srv + lg:"
echo "something else was running, rerun); KiB/conn: the server's RSS growth over the run divided"
echo "by the connections opened (meaningful for 1 idle)"
echo "bench: done in $(( $(date +%s) - START ))s; frontdesk flags: $FD_FLAGS; busy before start: ${BUSY}%"
