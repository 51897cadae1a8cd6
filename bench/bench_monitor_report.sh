#!/bin/bash
# bench_monitor_report.sh: `pronto monitor report` on Criteo-layout data
# from ../shared/tools/gen-criteo, the figures behind docs/benchmarks.md.
#
#   bash bench/bench_monitor_report.sh [BUILD_DIR] [WORK_DIR] [ROWS]
#
# One gen-criteo stream of 2 x ROWS rows (default 1M each, seed 1): the
# first half is the reference, the second the current data (the same
# distribution: nothing should drift). Three runs, each with its wall
# time, CPU time and peak RSS (/usr/bin/time -v): two data files (the
# Criteo spec), the model trained on the reference (LR, one pass) as the
# reference, and the reference data with that model scoring both sides.
set -eu
B=${1:-build}
W=${2:-/tmp/pronto-bench-report}
ROWS=${3:-1000000}
P=$B/pronto
SHARED=$(cd "$(dirname "$0")/../.." && pwd)/shared
SPEC=$(cd "$(dirname "$0")/.." && pwd)/specs/criteo.yaml
mkdir -p "$W"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
[ -x "$W/gen-criteo" ] || cc -O2 -o "$W/gen-criteo" "$SHARED/tools/gen-criteo.c" -lm
if [ ! -s "$W/cur.tsv" ]; then
    "$W/gen-criteo" --rows $((2 * ROWS)) --seed 1 > "$W/all.tsv"
    head -n "$ROWS" "$W/all.tsv" > "$W/ref.tsv"
    tail -n +$((ROWS + 1)) "$W/all.tsv" > "$W/cur.tsv"
    rm "$W/all.tsv"
fi
[ -s "$W/lr.pm" ] || "$P" train --kind lr --format criteo -o "$W/lr.pm" "$W/ref.tsv" > /dev/null
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # NAME ARGS...
    local name=$1
    shift
    /usr/bin/time -v "$P" monitor report "$@" -o "$W/$name.html" --json "$W/$name.json" \
        2> "$W/$name.time"
    echo "== $name: $*"
    grep -E "^pronto|Elapsed|User time|System time|Maximum resident" "$W/$name.time"
    echo "   page: $(stat -c %s "$W/$name.html") bytes, $(grep -o '<svg class="chart"' "$W/$name.html" | wc -l) charts"
}
run data --reference "$W/ref.tsv" --current "$W/cur.tsv" --spec "$SPEC"
run model --reference "$W/lr.pm" --current "$W/cur.tsv"
run data-model --reference "$W/ref.tsv" --model "$W/lr.pm" --current "$W/cur.tsv"
