#!/bin/bash
# bench_build.sh: `pronto build-dataset` throughput and peak RSS on one
# seeded simulated stream, for two specs:
#   12 aggregates: specs/sim-store.yaml (5 entities, user_ad ~1M keys)
#   10 aggregates: the same without user_ad_imps_7d, advertiser_ctr_7d and
#                  user_last_click_ads (and their fields and crosses), plus
#                  an ad_clicks_1d count (the issue's target: 500k
#                  impressions per CPU-second on one core)
#
#   bash bench/bench_build.sh [PRONTO_BIN] [WORK_DIR] [REPEAT]
#
# The stream is `pronto simulate --seed 1 --duration 28h` (~1.85M
# impressions, ~340 MB of JSON lines), generated once into WORK_DIR/data
# and reused while its seed file matches. The output cache goes to
# /dev/shm so the disk is left out. Each spec runs REPEAT times (default
# 3); the best user-CPU time is reported, since the machine is shared and
# wall time is noisy. Per run: impressions per user-CPU-second (the
# figure the target is stated in), user and system seconds, wall seconds
# and peak RSS.
set -eu
P=${1:-${PRONTO_BIN:-./build/pronto}}
WORK=${2:-/tmp/pronto-bench-build}
REPEAT=${3:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEED=1
DURATION=28h
OUTC=/dev/shm/pronto-bench-build-$$.pcache
trap 'rm -f "$OUTC" "$WORK/err.txt"' EXIT
mkdir -p "$WORK"

stamp="seed=$SEED duration=$DURATION"
if [ ! -f "$WORK/data/stamp" ] || [ "$(cat "$WORK/data/stamp")" != "$stamp" ]; then
    rm -rf "$WORK/data"
    "$P" simulate -o "$WORK/data" --seed "$SEED" --duration "$DURATION" --quiet
    echo "$stamp" > "$WORK/data/stamp"
fi

# The 10-aggregate variant of specs/sim-store.yaml.
SPEC10=$WORK/sim-store-10.yaml
awk '
    # drop the three aggregates (a block: its "  - name:" line and the
    # lines indented by four spaces after it) and the fields reading them
    /^  - name: (user_ad_imps_7d|advertiser_ctr_7d|user_last_click_ads)$/ {
        getline nxt
        if (nxt ~ /^    entity:/) { skip = 1; next }
        if ($0 ~ /advertiser_ctr_7d/) { skip = 1; next } # the bins field
        print; print nxt; next
    }
    skip && !/^    / { skip = 0 }
    skip { next }
    /name: user_ad_imps_7d, type: numeric/ { next }
    /^  # recency$/ && !added {
        print "  - name: ad_clicks_1d"
        print "    entity: ad"
        print "    function: count"
        print "    events: [click]"
        print "    window: 1d"
        print "    buckets: 24"
        print "    default: \"0\""
        added = 1
    }
    { print }
' "$ROOT/specs/sim-store.yaml" > "$SPEC10"
n_aggs=$(grep -c '^    function:' "$SPEC10")
[ "$n_aggs" = 10 ] || { echo "bench_build: the 10-aggregate spec has $n_aggs" >&2; exit 1; }

run() {  # name, spec
    local name=$1 spec=$2 best="" best_rate=0 line rate
    for _ in $(seq "$REPEAT"); do
        /usr/bin/time -f 'TIME %U %S %e %M' "$P" build-dataset --spec "$spec" \
            --data "$WORK/data" -o "$OUTC" 2> "$WORK/err.txt" > /dev/null
        local imps user sys wall rss
        imps=$(grep -o 'impressions=[0-9]*' "$WORK/err.txt" | head -1 | cut -d= -f2)
        read -r user sys wall rss <<< "$(grep '^TIME' "$WORK/err.txt" | cut -d' ' -f2-)"
        line=$(awk -v n="$imps" -v u="$user" -v s="$sys" -v w="$wall" -v r="$rss" -v name="$name" \
            'BEGIN { printf "%-16s %9.0f imp/user-cpu-s | user %5.2fs sys %4.2fs wall %5.2fs | %5.0f MiB peak RSS | %d impressions\n",
                     name, n / u, u, s, w, r / 1024, n }')
        rate=$(awk -v n="$imps" -v u="$user" 'BEGIN { printf "%.0f", n / u }')
        if [ "$rate" -gt "$best_rate" ]; then
            best=$line
            best_rate=$rate
        fi
    done
    echo "$best"
}
run "12 aggregates" "$ROOT/specs/sim-store.yaml"
run "10 aggregates" "$SPEC10"
