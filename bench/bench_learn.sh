#!/bin/bash
# bench_learn.sh: `pronto learn` throughput (not run by ctest).
#
#   bench/bench_learn.sh [PRONTO_BIN] [WORK_DIR]
#
# Simulates HOURS (default 24) of traffic at IMP_RATE impressions per
# simulated second (default 5; users 20k, ads 2k), appends it to a
# log:DIR (fsync=off), then measures labeled examples learned per second:
#   replay      learn --until-end, --publish-every 5m (a version every 5
#               simulated minutes: 288 a day) and --publish-every 0 (one
#               version at the end): the learning path and the cost of
#               publishing;
#   build       build-dataset --events of the same log to a CSV-less cache:
#               the replay without learning (what a restart re-reads);
#   follow      learn --follow on a log of one event while `pronto log append`
#               writes the whole stream into it (--publish-every 0 and 5m):
#               from the start of the append until 85% of the replay's
#               examples are learned (read from /metrics, every 0.1 s).
# Prints one line per measurement.
set -eu
P=${1:-${PRONTO_BIN:-build/pronto}}
W=${2:-/tmp/pronto-bench-learn}
HOURS=${HOURS:-24}
IMP_RATE=${IMP_RATE:-5}
SPEC=$(cd "$(dirname "$0")/.." && pwd)/specs/sim-store.yaml
rm -rf "$W" && mkdir -p "$W"
"$P" simulate --users 20000 --ads 2000 --advertisers 100 --sites 300 --duration "${HOURS}h" \
    --imp-rate "$IMP_RATE" --seed 3 --rotate 0 -o "$W/sim" --quiet
"$P" log append "log:$W/log?fsync=off" "$W"/sim/events-*.jsonl > /dev/null 2>&1
events=$(wc -l < "$W"/sim/events-000000.jsonl)
echo "stream: ${HOURS}h simulated, $events events"
now() { date +%s.%N; }
for every in 5m 0; do
    rm -rf "$W/r"
    t0=$(now)
    "$P" learn --follow "log:$W/log" --registry "$W/r" --spec "$SPEC" --data "$W/sim" \
        --until-end --publish-every $every -q > "$W/out.jsonl"
    t=$(echo "$(now) - $t0" | bc)
    n=$(grep -o '"learned":[0-9]*' "$W/out.jsonl" | tail -1 | cut -d: -f2)
    pubs=$(grep -c '"event":"publish"' "$W/out.jsonl")
    echo "replay --until-end --publish-every $every: $n examples in ${t}s = $(echo "$n / $t" | bc) examples/s, $pubs versions"
done
t0=$(now)
"$P" build-dataset --spec "$SPEC" --data "$W/sim" --events "log:$W/log" -o "$W/d.pcache" > /dev/null 2>&1
t=$(echo "$(now) - $t0" | bc)
echo "build-dataset --events (the replay without learning): ${t}s = $(echo "$n / $t" | bc) examples/s"
head -n 1 "$W"/sim/events-000000.jsonl > "$W/first.jsonl"
tail -n +2 "$W"/sim/events-000000.jsonl > "$W/rest.jsonl"
# every example but those the end-of-log flush labels (the replay's count
# minus the last window) is learned while following
want=$(( n * 85 / 100 ))
for every in 0 5m; do
    rm -rf "$W/r" "$W/flog"
    port=$(( 20000 + RANDOM % 30000 ))
    "$P" log append "log:$W/flog?fsync=off" "$W/first.jsonl" > /dev/null 2>&1
    sync
    "$P" learn --follow "log:$W/flog" --registry "$W/r" --spec "$SPEC" --data "$W/sim" \
        --publish-every $every --metrics-port $port -q > "$W/fout.jsonl" &
    lp=$!
    sleep 1
    t0=$(now)
    "$P" log append "log:$W/flog?fsync=off" "$W/rest.jsonl" > /dev/null 2>&1
    ta=$(echo "$(now) - $t0" | bc)
    got=0
    while [ "$got" -lt "$want" ] && [ "$(echo "$(now) - $t0 < 1200" | bc)" = 1 ]; do
        sleep 0.1
        got=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^pronto_learn_examples_total/{print $2}')
        got=${got:-0}
    done
    t=$(echo "$(now) - $t0" | bc)
    kill -TERM $lp; wait $lp || true
    echo "follow --publish-every $every (append took ${ta}s): $got examples in ${t}s = $(echo "$got / $t" | bc) examples/s"
done
