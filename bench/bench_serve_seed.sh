#!/bin/bash
# bench_serve_seed.sh: what `pronto serve --log` costs at start on a big log
# (not run by ctest). At start the server reads the newest event records of
# the log back to seed its duplicate-id set (--event-ids of them, never
# older than --max-event-age; src/serve/evlog.c): this must stay bounded by
# that, not grow with the log.
#
#   bench/bench_serve_seed.sh [PRONTO_BIN] [WORK_DIR]
#
# Writes logs with bench_log_fill (next to PRONTO_BIN): EVENTS events over
# the last day (default 5000000), once alone and once with 4 prediction
# records (~1 KiB) after each event, then starts the server on each with
# the default --event-ids (262144) and with --event-ids 1048576, and prints
# the server's own figures (the start's log line: ids remembered, records
# read, seconds) and the wall time from launch to listening.
# Environment: EVENTS.
set -eu
P=${1:-${PRONTO_BIN:-build/pronto}}
W=${2:-/tmp/pronto-bench-seed}
FILL=$(dirname "$P")/bench_log_fill
EVENTS=${EVENTS:-5000000}
[ -x "$FILL" ] || { echo "bench_serve_seed: needs $FILL (cmake --build build)" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W"
SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$W"' EXIT

"$P" simulate -o "$W/d" --duration 30m --users 300 --ads 60 --advertisers 20 --sites 40 \
    --imp-rate 3 --quiet
SRC=$(cd "$(dirname "$0")/.." && pwd)
"$P" build-dataset --spec "$SRC/specs/sim-store.yaml" --data "$W/d" -o "$W/t.pcache" > /dev/null 2>&1
"$P" train --dataset --spec "$SRC/specs/sim-store.yaml" -o "$W/lr.pm" "$W/t.pcache" > /dev/null

printf "%-34s %10s %9s %12s %10s %9s %10s\n" log "size" "event-ids" "remembered" "read" "seed s" "start s"
for preds in 0 4; do
    L="$W/log$preds"
    "$FILL" "$L" "$EVENTS" 86400 "$preds" > "$W/fill.txt"
    size=$(du -sh "$L" | cut -f1)
    for ids in 262144 1048576; do
        sync
        t0=$(date +%s.%N)
        "$P" serve --listen 127.0.0.1:0 --model "$W/lr.pm" --store mem: --event-ids "$ids" \
            --max-event-age 7d --log "log:$L" > "$W/s.out" 2> "$W/s.err" &
        SPID=$!
        for _ in $(seq 1 1200); do
            grep -q 'listening on port' "$W/s.out" && break
            sleep 0.05
        done
        t1=$(date +%s.%N)
        kill -TERM "$SPID"; wait "$SPID" || true; SPID=""
        line=$(grep 'event ids remembered' "$W/s.err" || echo "?")
        rem=$(echo "$line" | sed -n 's/.*records, \([0-9]*\) event ids remembered.*/\1/p')
        read=$(echo "$line" | sed -n 's/.*(\([0-9]*\) records read in.*/\1/p')
        secs=$(echo "$line" | sed -n 's/.*records read in \([0-9.]*\) s).*/\1/p')
        printf "%-34s %10s %9s %12s %10s %9s %10.2f\n" "$EVENTS events + $preds predictions each" \
            "$size" "$ids" "$rem" "$read" "$secs" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
    done
done
