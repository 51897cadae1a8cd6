#!/bin/bash
# bench_sim.sh: events/s and peak RSS of `pronto simulate` writing to files.
#   bash bench/bench_sim.sh [PRONTO_BIN] [OUT_DIR]
# Runs (1) 10M events on the default world, plain and zstd; (2) 10M events on
# 10M users / 1M ads. Prints one line per run: wall seconds and events/s
# (building the world and writing the entity tables included), CPU seconds
# (user + system: the figure that matters on a shared machine), peak RSS
# and the size written. Use a tmpfs OUT_DIR (/dev/shm/x) to leave the disk
# out of it.
set -eu
P=${1:-${PRONTO_BIN:-./build/pronto}}
OUT=${2:-$(mktemp -d /tmp/pronto-bench-sim-XXXXXX)}
mkdir -p "$OUT"
run() {  # name, flags...
    local name=$1; shift
    rm -rf "$OUT/run"
    /usr/bin/time -v "$P" simulate -o "$OUT/run" "$@" 2> "$OUT/err.txt"
    local eps rss wall cpu n
    eps=$(grep -o 'events_per_s=[0-9]*' "$OUT/err.txt" | cut -d= -f2)
    n=$(grep -o 'events=[0-9]*' "$OUT/err.txt" | head -1 | cut -d= -f2)
    rss=$(grep 'Maximum resident' "$OUT/err.txt" | awk '{print $NF}')
    wall=$(grep -o 'elapsed_s=[0-9.]*' "$OUT/err.txt" | cut -d= -f2)
    cpu=$(awk '/User time|System time/ {s += $NF} END {print s}' "$OUT/err.txt")
    printf '%-34s wall %6ss %9s ev/s | cpu %6ss %9.0f ev/cpu-s | %6.0f MiB peak RSS | %s on disk\n' \
        "$name" "$wall" "$eps" "$cpu" "$(awk -v n="$n" -v c="$cpu" 'BEGIN{print n / c}')" \
        "$(awk -v r="$rss" 'BEGIN{print r / 1024}')" "$(du -sh "$OUT/run" | cut -f1)"
}
run "10M events, default world"      --events 10M
run "10M events, default world, zstd" --events 10M --zstd
run "10M events, 10M users, 1M ads"  --events 10M --users 10M --ads 1M --advertisers 50k --sites 100k
rm -rf "$OUT/run"
