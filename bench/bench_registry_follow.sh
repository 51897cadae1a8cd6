#!/bin/bash
# bench_registry_follow.sh: how fast `pronto serve --model registry:DIR`
# follows an alias move, under predict load (not run by ctest).
# Prerequisites: wrk and curl.
#
#   bench/bench_registry_follow.sh [PRONTO_BIN] [WORK_DIR]
#
# Builds the demo world of bench/bench_serve.sh (pronto demo --days 3
# --rate 0.5: an LR and an FFM model of the same spec), registers both in
# a registry, serves production (mem: store materialized at start, 2
# threads) and, while wrk posts predicts of 100 candidates (-t1 -c2),
# moves production between the two versions MOVES times (default 20,
# every 0.5 s, alternating LR and FFM), timing each move from the end of
# `pronto registry promote` to the first GET /v1/model naming the new
# version (polled every 5 ms). Reports min / median / p90 / max of that
# delay against the goal of issue 11 (within 1 s), the same for the part of
# it the server spent loading and verifying the model (load_seconds of GET
# /v1/model; the rest is the poll period, the queue and the client's
# polling), and wrk's predicts and failures (non-2xx answers and socket
# errors; goal 0). LOAD=none: no predict load (the follow path alone).
# The reload runs at nice +10 (jobs.c: predictions get the cores first),
# so on a saturated machine the load part stretches.
set -eu
P=${1:-${PRONTO_BIN:-build/pronto}}
W=${2:-/tmp/pronto-bench-serve}
MOVES=${MOVES:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
for t in wrk curl; do
    command -v $t > /dev/null || { echo "bench_registry_follow: needs $t" >&2; exit 1; }
done
mkdir -p "$W"
if [ ! -s "$W/ffm.pm" ]; then
    "$P" demo --dir "$W" --days 3 --rate 0.5 > "$W.demo.log"
fi
export USERS=100000 ADS=10000 SITES=2000 CANDIDATES=100
R=$W/registry
rm -rf "$R"
"$P" registry init "$R" > /dev/null
"$P" registry register "$R" "$W/lr.pm" --alias production > /dev/null
"$P" registry register "$R" "$W/ffm.pm" > /dev/null

SPID=""
WPID=""
stop() {
    [ -n "$WPID" ] && kill "$WPID" 2>/dev/null; WPID=""
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=""
}
trap stop EXIT
"$P" serve --listen 127.0.0.1:0 --threads 2 --quiet --model "registry:$R" --store mem: \
    --data "$W/data" > "$W/follow.out" 2> "$W/follow.err" &
SPID=$!
PORT=""
for _ in $(seq 1 600); do
    PORT=$(sed -n 's/^pronto serve: listening on port \([0-9]*\)$/\1/p' "$W/follow.out")
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { echo "bench_registry_follow: the server did not start" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"

D=$(( MOVES * 7 / 10 + 4 ))
if [ "${LOAD:-wrk}" = wrk ]; then
    wrk -t1 -c2 -d "${D}s" --latency -s "$HERE/serve_predict.lua" "$URL" > "$W/follow.wrk" 2>&1 &
    WPID=$!
else
    : > "$W/follow.wrk"
fi
sleep 1
: > "$W/follow.ms"
: > "$W/follow.load"
for i in $(seq 1 "$MOVES"); do
    v=v00000$(( i % 2 + 1 ))
    "$P" registry promote "$R" "$v" --reason "bench move $i" > /dev/null
    t0=$(date +%s%N)
    got=""
    for _ in $(seq 1 2000); do
        if curl -s "$URL/v1/model" > "$W/follow.model" &&
           grep -q "\"registry_version\":\"$v\"" "$W/follow.model"; then
            got=$(( ($(date +%s%N) - t0) / 1000000 ))
            sed -n 's/.*"load_seconds":\([0-9.]*\).*/\1/p' "$W/follow.model" |
                awk '{ printf "%d\n", $1 * 1000 }' >> "$W/follow.load"
            break
        fi
        sleep 0.005
    done
    echo "${got:-99999}" >> "$W/follow.ms"
    sleep 0.5
done
[ -n "$WPID" ] && { wait "$WPID" || true; }
WPID=""
summary() {
    sort -n "$2" | awk -v what="$1" '
        { v[NR] = $1 }
        END { n = NR; printf "%s (ms): min %d  median %d  p90 %d  max %d  over 1000 ms: ", what,
                     v[1], v[int((n + 1) / 2)], v[int(n * 0.9 + 0.999)], v[n];
              o = 0; for (i = 1; i <= n; i++) if (v[i] > 1000) o++; print o " of " n }'
}
summary "alias move -> served" "$W/follow.ms"
summary "  of which load+verify" "$W/follow.load"
awk '/ requests in / { n = $1 } /Non-2xx or 3xx responses:/ { bad += $NF }
     /Socket errors:/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
     $1 == "99%" { p99 = $2 }
     END { printf "predicts during the moves: %d, failed %d, client p99 %s\n", n, bad, p99 }' "$W/follow.wrk"
curl -s "$URL/metrics" | grep 'pronto_model_reloads_total'
