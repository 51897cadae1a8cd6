#!/bin/bash
# bench_serve_ingest.sh: predict latency of `pronto serve` while slow work
# runs beside it (not run by ctest). Prerequisites: wrk and curl
# (apt-get install wrk curl).
#
#   bench/bench_serve_ingest.sh [PRONTO_BIN] [WORK_DIR]
#
# Builds the demo world of bench/bench_serve.sh (pronto demo --days 3
# --rate 0.5), starts the server on it (mem: store materialized at start
# by default, the FFM model, 2 threads), and measures POST /v1/predict (100
# candidates, bench/serve_predict.lua, wrk -t1 -c2) three ways:
#   alone    nothing else runs;
#   events   another wrk posts batches of 4000 events (bench/serve_events.lua,
#            INGEST_CONNS connections, fresh event ids, ts = now) as fast
#            as the server takes them; a 503 (queue full) is honoured with
#            a pause of Retry-After seconds. Reports the events applied per
#            second (from /metrics) and the 503s;
#   reload   POST /admin/reload once a second (the model file reread,
#            verified and swapped each time);
#   log      /v1/events throughput alone (no predict load), with the event
#            log off and on (--log log:DIR?fsync=P for each P of LOG_POLICIES,
#            default "batch:10 always"), each on a server of its own started
#            the same way, in the same run, interleaved for LOG_ROUNDS rounds
#            (default 3: a shared machine drifts): events applied per second,
#            the means against the goal of issue 10, log on >= 80% of off.
# For each: predict p50, p99 (wrk), p99.9 (serve_predict.lua), requests,
# and failures (non-2xx answers and socket errors), against the goal of
# issue 9: p99 < 2 ms and no failed predict; and from the server's own
# histogram (headers received to reply queued: no client or network
# scheduling in it) the bucket bound of its p99 and the share over 2 ms.
# Environment: DURATION (seconds per run, default 10), THREADS (server
# threads, default 2), MODEL (lr or ffm, default ffm), INGEST_CONNS
# (default 2), STORE (mem: materialized at start, or lmdb: filled by
# pronto materialize, sync=0), SERVE_FLAGS (more server flags), RUNS (which of "alone
# events reload" to run, default all three), RT=1: run the server and the
# predict client under SCHED_RR (chrt -r 10; root) so that other jobs on a
# shared machine do not set the tail; the server's job threads drop back
# to time-sharing at nice +10 by themselves, and the event and reload
# clients stay time-sharing, so what is measured is whether the server's
# own slow work holds predictions back.
set -eu
P=${1:-${PRONTO_BIN:-build/pronto}}
W=${2:-/tmp/pronto-bench-serve}
D=${DURATION:-10}
THREADS=${THREADS:-2}
MODEL=${MODEL:-ffm}
INGEST_CONNS=${INGEST_CONNS:-2}
STORE=${STORE:-mem}
RTP=""
if [ "${RT:-0}" = 1 ]; then RTP="chrt -r 10"; fi
RUNS=" ${RUNS:-alone events reload log} "
LOG_POLICIES=${LOG_POLICIES:-batch:10 always}
LOG_ROUNDS=${LOG_ROUNDS:-3}
export CANDIDATES=${CANDIDATES:-100}
HERE=$(cd "$(dirname "$0")" && pwd)
for t in wrk curl; do
    command -v $t > /dev/null || { echo "bench_serve_ingest: needs $t (apt-get install $t)" >&2; exit 1; }
done

mkdir -p "$W"
if [ ! -s "$W/ffm.pm" ]; then
    "$P" demo --dir "$W" --days 3 --rate 0.5 > "$W.demo.log"
fi
export USERS=100000 ADS=10000 SITES=2000 # the simulator's default world

SPID=""
BG=""
stop() {
    [ -n "$BG" ] && kill $BG 2>/dev/null; BG=""
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=""
}
trap stop EXIT
# serve_start [FLAGS...]: a server on the store as configured; sets SPID, PORT, URL
serve_start() {
    if [ "$STORE" = lmdb ]; then
        rm -rf "$W/lmdb"
        "$P" materialize --spec "$W/sim-store.yaml" --data "$W/data" --store "lmdb:$W/lmdb?sync=0" > /dev/null
        STORE_ARGS=(--store "lmdb:$W/lmdb?sync=0")
    else
        STORE_ARGS=(--store mem: --data "$W/data")
    fi
    PRONTO_ADMIN_TOKEN=bench $RTP "$P" serve --listen 127.0.0.1:0 --threads "$THREADS" --quiet \
        --model "$W/$MODEL.pm" "${STORE_ARGS[@]}" ${SERVE_FLAGS:-} "$@" > "$W/serve.out" 2> "$W/serve.err" &
    SPID=$!
    PORT=""
    for _ in $(seq 1 600); do
        PORT=$(sed -n 's/^pronto serve: listening on port \([0-9]*\)$/\1/p' "$W/serve.out")
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    [ -n "$PORT" ] || { echo "bench_serve_ingest: the server did not start" >&2; exit 1; }
    URL="http://127.0.0.1:$PORT"
}
serve_start

metric() { curl -s "$URL/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { v = $2 } END { print v + 0 }'; }
# wrk output -> "requests p50 p99 p99.9 failures" (latencies in microseconds)
wrk_summary() {
    awk 'function us(x) { if (x ~ /us$/) return x + 0; if (x ~ /ms$/) return x * 1000; return x * 1e6 }
        $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) } $1 == "p99.9_us" { p999 = $2 }
        / requests in / { n = $1 }
        /Non-2xx or 3xx responses:/ { bad += $NF }
        /Socket errors:/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
        END { printf "%d %.0f %.0f %.0f %d\n", n, p50, p99, p999, bad }' "$1"
}
# the predict latency histogram of the server's own /metrics ("le count" lines)
hist() {
    curl -s "$URL/metrics" | sed -n 's/^pronto_http_request_duration_seconds_bucket{route="predict",le="\([^"]*\)"} \([0-9]*\)$/\1 \2/p'
}
# two hist snapshots -> "p99 bound (us), share over 2 ms (%)" of the requests between them
hist_p99() {
    awk 'NR == FNR { a[$1] = $2; next } { d[++n] = $2 - a[$1]; le[n] = $1 }
        END { tot = d[n]; for (i = 1; i <= n; i++) if (d[i] >= 0.99 * tot) { p = le[i]; break }
              for (i = 1; i <= n; i++) if (le[i] == "0.002") over = tot - d[i]
              if (p != "+Inf") p = sprintf("%.0f", p * 1e6)
              printf "%s %.3f\n", p, tot ? 100 * over / tot : 0 }' "$1" "$2"
}
# the predict load, D seconds, into $W/predict.txt; the server's histogram
# around it into $W/h0, $W/h1
predict() {
    hist > "$W/h0"
    $RTP wrk -t1 -c2 -d "${D}s" --latency -s "$HERE/serve_predict.lua" "$URL" > "$W/predict.txt" 2>&1 || true
    hist > "$W/h1"
}
report() {
    read -r n p50 p99 p999 bad < <(wrk_summary "$W/predict.txt")
    read -r sp99 sover < <(hist_p99 "$W/h0" "$W/h1")
    local verdict=ok
    if [ "$p99" -ge 2000 ] || [ "$bad" -gt 0 ]; then verdict=MISSED; fi
    printf "%-8s %9s %8s %8s %9s %8s %10s %8s   %-6s  %s\n" "$1" "$n" "$p50" "$p99" "$p999" "$bad" \
        "<= $sp99" "$sover" "$verdict" "$2"
}

wrk -t1 -c2 -d 2s -s "$HERE/serve_predict.lua" "$URL" > /dev/null 2>&1 || true # warm up
printf "%-8s %9s %8s %8s %9s %8s %10s %8s   %s\n" load predicts "p50 us" "p99 us" "p99.9 us" failed \
    "server p99" "% > 2ms" "goal: p99 < 2000 us, 0 failed"

if [[ $RUNS == *" alone "* ]]; then
    predict
    report alone ""
fi

if [[ $RUNS == *" events "* ]]; then
    a0=$(metric 'pronto_events_total{result="applied"}')
    b0=$(metric 'pronto_http_requests_total{route="events",code="503"}')
    ID_BASE=$(( $(date +%s) * 1000 )) BATCH=4000 wrk -t1 -c"$INGEST_CONNS" -d "$((D + 2))s" \
        -s "$HERE/serve_events.lua" "$URL" > "$W/events.txt" 2>&1 &
    BG=$!
    sleep 1
    t0=$(date +%s.%N)
    predict
    t1=$(date +%s.%N)
    a1=$(metric 'pronto_events_total{result="applied"}')
    wait $BG || true
    BG=""
    busy=$(( $(metric 'pronto_http_requests_total{route="events",code="503"}') - b0 ))
    batches=$(awk '/ requests in / { print $1 }' "$W/events.txt")
    report events "$(awk -v a="$((a1 - a0))" -v t0="$t0" -v t1="$t1" -v b="$batches" -v r="${busy:-0}" \
        'BEGIN { printf "events applied: %.0f/s; batches posted %d, answered 503 %d", a / (t1 - t0 + 1), b, r }')"
fi

if [[ $RUNS == *" reload "* ]]; then
    r0=$(metric 'pronto_model_reloads_total{result="ok"}')
    ( end=$((SECONDS + D)); while [ $SECONDS -lt $end ]; do
        curl -s -o /dev/null -XPOST -H 'Authorization: Bearer bench' "$URL/admin/reload"; sleep 1; done ) &
    BG=$!
    predict
    wait $BG || true
    BG=""
    r1=$(metric 'pronto_model_reloads_total{result="ok"}')
    report reload "reloads: $((r1 - r0)) ok ($MODEL.pm, $(du -h "$W/$MODEL.pm" | cut -f1)), last took $(metric pronto_model_load_duration_seconds) s"
fi

if [[ $RUNS == *" log "* ]]; then
    stop
    echo
    printf "%-8s %-16s %12s %9s %8s   %s\n" round log "events/s" batches "503s" "log: appended, size, time"
    declare -A sum
    for round in $(seq 1 "$LOG_ROUNDS"); do
        for pol in off $LOG_POLICIES; do
            flags=()
            if [ "$pol" != off ]; then
                rm -rf "$W/evlog"
                flags=(--log "log:$W/evlog?fsync=$pol")
            fi
            serve_start "${flags[@]}"
            a0=$(metric 'pronto_events_total{result="applied"}')
            b0=$(metric 'pronto_http_requests_total{route="events",code="503"}')
            t0=$(date +%s.%N)
            ID_BASE=$(( $(date +%s) * 1000 )) BATCH=4000 wrk -t1 -c"$INGEST_CONNS" -d "${D}s" \
                -s "$HERE/serve_events.lua" "$URL" > "$W/events.txt" 2>&1 || true
            t1=$(date +%s.%N)
            a1=$(metric 'pronto_events_total{result="applied"}')
            busy=$(( $(metric 'pronto_http_requests_total{route="events",code="503"}') - b0 ))
            batches=$(awk '/ requests in / { print $1 }' "$W/events.txt")
            rate=$(awk -v a="$((a1 - a0))" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", a / (t1 - t0) }')
            note=""
            if [ "$pol" != off ]; then
                # the events thread's time in the log (write + the wait for the fsync
                # not hidden by the store update), as a share of the run
                ls=$(metric 'pronto_log_append_duration_seconds_sum{source="events"}')
                note="$(metric 'pronto_log_appended_total{type="event"}'), $(du -sh "$W/evlog" | cut -f1); events thread in the log $(awk -v l="$ls" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f%%", 100 * l / (t1 - t0) }') of the run"
            fi
            printf "%-8s %-16s %12s %9s %8s   %s\n" "$round" "$pol" "$rate" "${batches:-0}" "$busy" "$note"
            sum[$pol]=$(( ${sum[$pol]:-0} + rate ))
            stop
        done
    done
    off=$(( sum[off] / LOG_ROUNDS ))
    echo "mean of $LOG_ROUNDS rounds (the configurations interleaved: a shared machine drifts):"
    printf "  %-14s %10s\n" off "$off"
    for pol in $LOG_POLICIES; do
        m=$(( sum[$pol] / LOG_ROUNDS ))
        awk -v p="$pol" -v r="$m" -v o="$off" 'BEGIN { printf "  %-14s %10d  %3.0f%% of off  %s\n", p, r, 100 * r / o, (r >= 0.8 * o) ? "ok (goal >= 80%)" : "MISSED (goal >= 80%)" }'
    done
fi
