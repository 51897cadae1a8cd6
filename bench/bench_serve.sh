#!/bin/bash
# bench_serve.sh: latency and throughput of `pronto serve` (not run by ctest).
#
#   bench/bench_serve.sh [PRONTO_BIN] [WORK_DIR]
#
# Builds a small demo world (pronto demo --days 3 --rate 0.5: models and
# data), then for each model (FTRL-LR, FFM) and store (mem: materialized at
# start, lmdb: filled by pronto materialize) starts the server and runs wrk
# with bench/serve_predict.lua (POST /v1/predict, 100 candidates):
#   - latency: wrk -t1 at 2 and 4 connections (wrk shares the 2 cores with
#     the server, so few connections keep the machine from queueing);
#   - throughput: wrk -t1 -c16;
#   - baseline: GET /healthz, a fixed body through the same HTTP library and
#     router, so the cost of the ML work over the transport shows;
#   - where the time goes: the server's own per-stage timers from /metrics
#     (parse, lookup, featurize, score, serialize), per request.
#   - prediction logging: FTRL-LR on mem:, predict at c2 with the event log
#     off, then on (--log log:DIR?fsync=LOG_FSYNC, default always: the
#     slowest policy; the logger thread appends, the predict never waits),
#     then on with --log-features 0.01 and 1 (every candidate's row of
#     every request: 100 feature records per request), each on a server of
#     its own, in this order and off again last: p50, p99 and the records
#     appended and dropped, against the goal that p99 does not move beyond
#     the noise between the two off runs.
#   - shadow scoring (--shadow ALIAS): FTRL-LR served from a registry
#     (production) on mem:, predict at c2 without a shadow, with an LR
#     shadow, with an FFM shadow, and without again, each on a server of
#     its own: p50, p99, the requests the shadow scored and dropped
#     (against the goal that the shadow adds nothing to the answer beyond
#     the copy of the rows, i.e. p99 within the noise between the two off
#     runs), and the shadow's own time per request (its histogram's mean).
#   - live quality (--quality on|off): FTRL-LR on mem:, off and on in turn
#     (QUALITY_RUNS, default "off on off on off on"), each on a server of
#     its own, predict at c2 (latency) and c16 (throughput): req/s, p50,
#     p99, the server's own mean time per predict, and with quality on the
#     answers the quality thread took and dropped, against the goal of
#     throughput >= 90% of off and p99 within +50 us.
#   - drift monitoring (--monitor on|off): FTRL-LR (trained from the demo's
#     rows as CSV, so its profile has every column) on mem:, off and on in
#     turn, and both with live quality ("all": the whole monitoring cost)
#     (MONITOR_RUNS, default "off on all off on all"), each on a server of
#     its own (live quality off in off and on, so only the monitor differs),
#     predict at c2 and c16: req/s, p50, p99, the server's own mean time per
#     predict, and with the monitor on the rows profiled and the requests
#     it dropped, against the same goal.
# Environment: DURATION (wrk seconds, default 5), THREADS (server threads,
# default 2), CANDIDATES (default 100), RUNS ("stores log shadow quality
# monitor", default all),
# LOG_FSYNC, RT=1: the server and wrk under SCHED_RR (chrt -r 10; root) so
# other jobs on a shared machine do not set the tail (the logger thread
# stays time-sharing at nice +10, as the server's job threads do).
set -eu
P=${1:-${PRONTO_BIN:-build/pronto}}
W=${2:-/tmp/pronto-bench-serve}
D=${DURATION:-5}
THREADS=${THREADS:-2}
export CANDIDATES=${CANDIDATES:-100}
RTP=""
if [ "${RT:-0}" = 1 ]; then RTP="chrt -r 10"; fi
HERE=$(cd "$(dirname "$0")" && pwd)
command -v wrk > /dev/null || { echo "bench_serve: needs wrk (apt-get install wrk)" >&2; exit 1; }

if [ ! -s "$W/ffm.pm" ]; then
    "$P" demo --dir "$W" --days 3 --rate 0.5 > "$W.demo.log"
fi
# the simulator's default world (docs/simulator.md)
export USERS=100000 ADS=10000 SITES=2000

SPID=""
stop() { [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=""; }
trap stop EXIT
start() {
    $RTP "$P" serve --listen 127.0.0.1:0 --threads "$THREADS" --quiet "$@" > "$W/serve.out" &
    SPID=$!
    PORT=""
    for _ in $(seq 1 600); do
        PORT=$(sed -n 's/^pronto serve: listening on port \([0-9]*\)$/\1/p' "$W/serve.out")
        [ -n "$PORT" ] && return 0
        sleep 0.1
    done
    echo "bench_serve: the server did not start" >&2
    exit 1
}
stage_sums() {
    curl -s "localhost:$PORT/metrics" | awk '
        /^pronto_predict_stage_seconds_total/ { split($1, a, "\""); s[a[2]] = $2 }
        /^pronto_predictions_total / { n = $2 }
        END { printf "%s %s %s %s %s %s\n", n, s["parse"], s["lookup"], s["featurize"], s["score"], s["serialize"] }'
}
# wrk [ARGS...] -> "req/s p50 p99" (latencies in microseconds)
run_wrk() {
    $RTP wrk "$@" --latency -d "${D}s" 2>/dev/null | awk '
        function us(x) { if (x ~ /us$/) return x + 0; if (x ~ /ms$/) return x * 1000; return x * 1e6 }
        $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) }
        /^Requests\/sec/ { rps = $2 }
        END { printf "%.0f %.0f %.0f\n", rps, p50, p99 }'
}

RUNS=" ${RUNS:-stores log shadow quality monitor} "
LOG_FSYNC=${LOG_FSYNC:-always}
if [[ $RUNS == *" stores "* ]]; then
printf "%-5s %-5s %-12s %10s %9s %9s %14s\n" model store load "req/s" "p50 us" "p99 us" "candidates/s"
for model in lr ffm; do
    for store in mem lmdb; do
        if [ $store = mem ]; then
            start --model "$W/$model.pm" --store mem: --data "$W/data"
        else
            rm -rf "$W/lmdb"
            "$P" materialize --spec "$W/sim-store.yaml" --data "$W/data" \
                --store "lmdb:$W/lmdb?sync=0" > /dev/null
            start --model "$W/$model.pm" --store "lmdb:$W/lmdb"
        fi
        if [ $model = lr ] && [ $store = mem ]; then
            read -r rps p50 p99 < <(run_wrk -t1 -c2 "http://127.0.0.1:$PORT/healthz")
            printf "%-5s %-5s %-12s %10s %9s %9s %14s\n" - - "healthz c2" "$rps" "$p50" "$p99" -
        fi
        run_wrk -t1 -c2 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT" > /dev/null # warm up
        read -r n0 a0 b0 c0 d0 e0 < <(stage_sums)
        for c in 2 4 16; do
            label="predict c$c"
            read -r rps p50 p99 < <(run_wrk -t1 -c$c -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT")
            printf "%-5s %-5s %-12s %10s %9s %9s %14s\n" $model $store "$label" "$rps" "$p50" "$p99" \
                $((rps * CANDIDATES))
        done
        read -r n1 a1 b1 c1 d1 e1 < <(stage_sums)
        awk -v n=$((n1 - n0)) -v a="$a0 $a1" -v b="$b0 $b1" -v c="$c0 $c1" -v d="$d0 $d1" -v e="$e0 $e1" '
            function per(x,  t) { split(x, t, " "); return (t[2] - t[1]) / n * 1e6 }
            BEGIN { printf "      server stages, us per request: parse %.1f  lookup %.1f  featurize %.1f  score %.1f  serialize %.1f\n",
                    per(a), per(b), per(c), per(d), per(e) }'
        stop
    done
done
fi

if [[ $RUNS == *" log "* ]]; then
    echo
    printf "%-26s %10s %9s %9s %12s %12s\n" "lr mem: predict c2" "req/s" "p50 us" "p99 us" "appended" "dropped"
    metric() { curl -s "localhost:$PORT/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { v = $2 } END { print v + 0 }'; }
    for run in off log features-0.01 features-1 off; do
        rm -rf "$W/plog"
        case $run in
        off) flags=() ;;
        log) flags=(--log "log:$W/plog?fsync=$LOG_FSYNC") ;;
        features-*) flags=(--log "log:$W/plog?fsync=$LOG_FSYNC" --log-features "${run#features-}") ;;
        esac
        start --model "$W/lr.pm" --store mem: --data "$W/data" "${flags[@]}"
        run_wrk -t1 -c2 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT" > /dev/null # warm up
        read -r rps p50 p99 < <(run_wrk -t1 -c2 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT")
        sleep 0.5 # the logger drains
        app=$(( $(metric 'pronto_log_appended_total{type="prediction"}') + $(metric 'pronto_log_appended_total{type="features"}') ))
        drop=$(( $(metric 'pronto_log_dropped_total{type="prediction"}') + $(metric 'pronto_log_dropped_total{type="features"}') ))
        printf "%-26s %10s %9s %9s %12s %12s\n" "$run" "$rps" "$p50" "$p99" "$app" "$drop"
        stop
    done
fi

if [[ $RUNS == *" shadow "* ]]; then
    echo
    R=$W/registry-shadow
    rm -rf "$R"
    "$P" registry init "$R" > /dev/null
    "$P" registry register "$R" "$W/lr.pm" --alias production > /dev/null
    "$P" registry register "$R" "$W/lr.pm" --alias lr-shadow > /dev/null
    "$P" registry register "$R" "$W/ffm.pm" --alias ffm-shadow > /dev/null
    metric() { curl -s "localhost:$PORT/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { v = $2 } END { print v + 0 }'; }
    # means from the server's own timers: "answer" the arm's handler (parse to
    # reply written), "http" the route (headers to reply queued: the answer
    # plus, with a shadow, the copy of the rows and the queueing)
    mean_us() { curl -s "localhost:$PORT/metrics" | awk -v s="$1_sum$2" -v c="$1_count$2" '
        index($0, s " ") == 1 { t = $2 } index($0, c " ") == 1 { n = $2 }
        END { printf "%.1f", n ? t / n * 1e6 : 0 }'; }
    printf "%-26s %10s %9s %9s %10s %9s %14s %10s %9s %8s\n" "lr mem: predict c2" "req/s" "p50 us" "p99 us" "shadowed" "dropped" "shadow us/req" "answer us" "http us" "handoff us"
    for run in off lr-shadow ffm-shadow off; do
        case $run in
        off) flags=() ;;
        *) flags=(--shadow "$run") ;;
        esac
        start --model "registry:$R" --store mem: --data "$W/data" "${flags[@]}"
        run_wrk -t1 -c2 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT" > /dev/null # warm up
        read -r rps p50 p99 < <(run_wrk -t1 -c2 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT")
        sleep 0.5 # the shadow drains
        ans=$(mean_us pronto_predict_duration_seconds '{arm="production"}')
        http=$(mean_us pronto_http_request_duration_seconds '{route="predict"}')
        if [ $run = off ]; then
            printf "%-26s %10s %9s %9s %10s %9s %14s %10s %9s %8s\n" "$run" "$rps" "$p50" "$p99" - - - "$ans" "$http" -
        else
            n=$(metric "pronto_shadow_requests_total{arm=\"$run\"}")
            d=$(metric "pronto_shadow_dropped_total{arm=\"$run\"}")
            us=$(mean_us pronto_shadow_duration_seconds "{arm=\"$run\"}")
            c=$(metric "pronto_shadow_handoff_seconds_total{arm=\"$run\"}")
            cu=$(awk -v c="$c" -v n="$n" -v d="$d" 'BEGIN { printf "%.1f", n + d ? c / (n + d) * 1e6 : 0 }')
            printf "%-26s %10s %9s %9s %10s %9s %14s %10s %9s %8s\n" "$run" "$rps" "$p50" "$p99" "$n" "$d" "$us" "$ans" "$http" "$cu"
        fi
        stop
    done
fi

if [[ $RUNS == *" quality "* ]]; then
    echo
    metric() { curl -s "localhost:$PORT/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { v = $2 } END { print v + 0 }'; }
    # "http us": the server's own mean time per predict (headers to reply
    # queued: with quality on, the hashing and the queue push included)
    mean_us() { curl -s "localhost:$PORT/metrics" | awk -v s="$1_sum$2" -v c="$1_count$2" '
        index($0, s " ") == 1 { t = $2 } index($0, c " ") == 1 { n = $2 }
        END { printf "%.1f", n ? t / n * 1e6 : 0 }'; }
    printf "%-22s %10s %9s %9s %10s %9s %9s %9s %10s %9s\n" "lr mem: quality" "c2 req/s" "p50 us" "p99 us" \
        "c16 req/s" "p50 us" "p99 us" "http us" "taken" "dropped"
    for run in ${QUALITY_RUNS:-off on off on off on}; do
        start --model "$W/lr.pm" --store mem: --data "$W/data" --quality "$run"
        run_wrk -t1 -c2 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT" > /dev/null # warm up
        read -r rps p50 p99 < <(run_wrk -t1 -c2 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT")
        read -r rps16 p50_16 p99_16 < <(run_wrk -t1 -c16 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT")
        http=$(mean_us pronto_http_request_duration_seconds '{route="predict"}')
        sleep 0.5 # the quality thread drains
        if [ "$run" = on ]; then
            n=$(metric pronto_quality_predictions_total)
            d=$(metric 'pronto_quality_dropped_total{kind="prediction"}')
        else
            n=-; d=-
        fi
        printf "%-22s %10s %9s %9s %10s %9s %9s %9s %10s %9s\n" "$run" "$rps" "$p50" "$p99" "$rps16" "$p50_16" "$p99_16" "$http" "$n" "$d"
        stop
    done
fi

if [[ $RUNS == *" monitor "* ]]; then
    echo
    metric() { curl -s "localhost:$PORT/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { v = $2 } END { print v + 0 }'; }
    mean_us() { curl -s "localhost:$PORT/metrics" | awk -v s="$1_sum$2" -v c="$1_count$2" '
        index($0, s " ") == 1 { t = $2 } index($0, c " ") == 1 { n = $2 }
        END { printf "%.1f", n ? t / n * 1e6 : 0 }'; }
    printf "%-22s %10s %9s %9s %10s %9s %9s %9s %10s %9s\n" "lr mem: monitor" "c2 req/s" "p50 us" "p99 us" \
        "c16 req/s" "p50 us" "p99 us" "http us" "drift" "dropped"
    # the demo trains from example caches, whose profile has no column
    # values: an LR trained on the same rows as CSV profiles every column
    if [ ! -s "$W/lr_profiled.pm" ]; then
        "$P" build-dataset --spec "$W/sim-store.yaml" --data "$W/data" -o "$W/rows.csv" > /dev/null 2>&1
        "$P" train --format csv --spec "$W/sim-store.yaml" -o "$W/lr_profiled.pm" "$W/rows.csv" > /dev/null
    fi
    for run in ${MONITOR_RUNS:-off on all off on all}; do
        # "all": drift monitoring and live quality together (the whole
        # monitoring cost); "on": the drift monitor alone
        case $run in
        all) start --model "$W/lr_profiled.pm" --store mem: --data "$W/data" --quality on --monitor on ;;
        *) start --model "$W/lr_profiled.pm" --store mem: --data "$W/data" --quality off --monitor "$run" ;;
        esac
        run_wrk -t1 -c2 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT" > /dev/null # warm up
        read -r rps p50 p99 < <(run_wrk -t1 -c2 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT")
        read -r rps16 p50_16 p99_16 < <(run_wrk -t1 -c16 -s "$HERE/serve_predict.lua" "http://127.0.0.1:$PORT")
        http=$(mean_us pronto_http_request_duration_seconds '{route="predict"}')
        if [ "$run" != off ]; then
            dr=$(curl -s "localhost:$PORT/metrics" | sed -n 's/^pronto_monitor_info{.*drift="\([a-z]*\)"} 1$/\1/p' | head -1)
            d=$(curl -s "localhost:$PORT/metrics" | awk '/^pronto_monitor_dropped_requests_total/ { n += $2 } END { print n + 0 }')
        else
            dr=-; d=-
        fi
        printf "%-22s %10s %9s %9s %10s %9s %9s %9s %10s %9s\n" "$run" "$rps" "$p50" "$p99" "$rps16" "$p50_16" "$p99_16" "$http" "$dr" "$d"
        stop
    done
fi
