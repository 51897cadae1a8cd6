#!/bin/bash
# bench_memory.sh: measured peak RSS of `pronto train` beside its stated
# estimate (pr_train_memory_estimate, `pronto train --estimate`), and the
# check that peak RSS does not grow with the number of rows; the figures
# behind docs/memory.md and docs/benchmarks.md.
#
#   bash bench/bench_memory.sh [BUILD_DIR] [WORK_DIR] [PARTS]
#
# PARTS (default "estimate rows"): estimate = several configurations on
# 1M gen-criteo rows (seed 2), the table filled (--min-count 1) or not
# (the default spec), measured against the estimate; rows = the same
# configurations on 1M and 4M rows. Peak RSS from /usr/bin/time -v; each
# line also gives user CPU seconds and the load average at its start (the
# machine is shared: wall time says little).
set -eu
B=${1:-build}
W=${2:-/tmp/pronto-bench-memory}
PARTS=${3:-estimate rows}
P=$B/pronto
SHARED=$(cd "$(dirname "$0")/../.." && pwd)/shared
mkdir -p "$W"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
[ -x "$W/gen-criteo" ] || cc -O2 -o "$W/gen-criteo" "$SHARED/tools/gen-criteo.c" -lm
[ -s "$W/c4m.tsv" ] || "$W/gen-criteo" --rows 4000000 --seed 2 > "$W/c4m.tsv"
[ -s "$W/c1m.tsv" ] || head -1000000 "$W/c4m.tsv" > "$W/c1m.tsv"
[ -s "$W/valid.tsv" ] || "$W/gen-criteo" --rows 100000 --seed 3 > "$W/valid.tsv"

mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }

run() {  # label, data file, train flags...
    local label=$1 data=$2; shift 2
    local est load
    est=$("$P" train --estimate "$@" | awk '$1 == "total" {print $2}')
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -v "$P" train -q "$@" -o "$W/m.pm" "$data" > "$W/out.txt" 2> "$W/time.txt" ||
        { cat "$W/out.txt" "$W/time.txt"; exit 1; }
    local rss user
    rss=$(awk '/Maximum resident/ {print $NF * 1024}' "$W/time.txt")
    user=$(awk '/User time/ {print $NF}' "$W/time.txt")
    printf '%-44s | %-8s | %9s MiB | %9s MiB | %5s | %6s s | %s\n' "$label" \
        "$(basename "$data" .tsv)" "$(mib "$est")" "$(mib "$rss")" \
        "$(awk -v a="$rss" -v b="$est" 'BEGIN {printf "%.2f", a / b}')" "$user" "$load"
}

header() {
    printf '%-44s | %-8s | %13s | %13s | %5s | %8s | %s\n' configuration rows estimate \
        "peak RSS" ratio "user CPU" load
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), kernel $(uname -r)"
for part in $PARTS; do
    case $part in
    estimate)
        echo
        echo "== estimate against measurement, 1M rows (min-count 1: every bucket the hash reaches is learned)"
        header
        run "lr b24 mc1, streaming, 1 thread" "$W/c1m.tsv" --kind lr --bits 24 --min-count 1 --threads 1
        run "lr b24 mc1, streaming, 2 threads" "$W/c1m.tsv" --kind lr --bits 24 --min-count 1 --threads 2
        run "lr b24 mc1, cache, 3 passes, 2 threads" "$W/c1m.tsv" --kind lr --bits 24 --min-count 1 --threads 2 --passes 3
        run "ffm k4 b18 mc1, cache, 2 passes, 2 threads" "$W/c1m.tsv" --kind ffm --k 4 --bits 18 --min-count 1 --threads 2 --passes 2
        run "ffm k8 b18 mc1, cache, 1 pass --cache, 1 thr" "$W/c1m.tsv" --kind ffm --k 8 --bits 18 --min-count 1 --threads 1 --passes 1 --cache "$W/c1m-b18.pcache"
        run "ffm k4 b20 mc1, valid, 2 passes, 2 threads" "$W/c1m.tsv" --kind ffm --k 4 --bits 20 --min-count 1 --threads 2 --passes 2 --valid "$W/valid.tsv"
        run "ffm k4 b20 default spec (mc10), valid, 2 p." "$W/c1m.tsv" --kind ffm --k 4 --threads 2 --passes 2 --valid "$W/valid.tsv"
        run "fm k8 b20 mc1, cache, 2 passes, 2 threads" "$W/c1m.tsv" --kind fm --k 8 --bits 20 --min-count 1 --threads 2 --passes 2
        rm -f "$W/c1m-b18.pcache"
        ;;
    rows)
        echo
        echo "== peak RSS against the number of rows (same configuration, 1M then 4M rows)"
        header
        for d in c1m c4m; do
            run "lr default, streaming, 2 threads" "$W/$d.tsv" --kind lr --threads 2
        done
        for d in c1m c4m; do
            run "lr default, cache, 2 passes, 2 threads" "$W/$d.tsv" --kind lr --threads 2 --passes 2
        done
        for d in c1m c4m; do
            run "ffm k4 b18 mc1, cache, 2 passes, 2 threads" "$W/$d.tsv" --kind ffm --bits 18 --min-count 1 --threads 2 --passes 2
        done
        for d in c1m c4m; do
            run "ffm k4 default spec, valid, 2 passes" "$W/$d.tsv" --kind ffm --threads 2 --passes 2 --valid "$W/valid.tsv"
        done
        ;;
    *) echo "unknown part $part" >&2; exit 2 ;;
    esac
done
