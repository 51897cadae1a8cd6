#!/bin/bash
# bench_ffm_variance.sh: where FFM's run-to-run spread comes from (issue 14
# item 3, first step: measure, not tune). The same command (FFM k=4, 3
# passes, from one example cache of 1M gen-criteo rows) RUNS times at 1 and
# 2 threads, interleaved; per run: the learning rate pronto reports, user
# and system CPU, page faults, voluntary and involuntary context switches,
# CPU migrations (perf stat software events: the VM exposes no hardware
# counters), the hypervisor's steal ticks, the load average at the start,
# and the host's mode just before (bench_cpu_probe: probe2_s, its fixed
# integer work on 2 threads, ~0.6 s when the two vCPUs run on separate host
# cores; handoff_ns, one core-to-core cache-line transfer).
#
#   bash bench/bench_ffm_variance.sh [BUILD_DIR] [WORK_DIR] [RUNS]
set -eu
B=${1:-build}
W=${2:-/tmp/pronto-bench-memory}
RUNS=${3:-4}
P=$B/pronto
SHARED=$(cd "$(dirname "$0")/../.." && pwd)/shared
mkdir -p "$W"
[ -x "$W/gen-criteo" ] || cc -O2 -o "$W/gen-criteo" "$SHARED/tools/gen-criteo.c" -lm
[ -s "$W/c1m.tsv" ] || "$W/gen-criteo" --rows 1000000 --seed 2 > "$W/c1m.tsv"
[ -s "$W/c1m-test.tsv" ] ||
    "$W/gen-criteo" --rows 1200000 --seed 2 | tail -n 200000 > "$W/c1m-test.tsv"
[ -s "$W/c1m-ffm.pcache" ] ||
    "$P" train -q --kind ffm --passes 1 --threads 1 --cache "$W/c1m-ffm.pcache" -o "$W/v.pm" "$W/c1m.tsv"
steal() { awk '/^cpu /{print $9}' /proc/stat; }
CONFIGS=${CONFIGS:-1 2:0 2}
for r in $(seq 1 "$RUNS"); do for c in $CONFIGS; do
    t=${c%%:*}; hot=(); [ "$c" != "$t" ] && hot=(--hot-rows "${c#*:}")
    load=$(cut -d' ' -f1 /proc/loadavg); s0=$(steal)
    read -r probe handoff < <("$B/bench_cpu_probe" 2)
    perf stat -x, -e task-clock,page-faults,context-switches,cpu-migrations -o "$W/perf.txt" \
        /usr/bin/time -v "$P" train --kind ffm --k 4 --passes 3 --threads "$t" "${hot[@]}" \
        --cache "$W/c1m-ffm.pcache" -o "$W/v.pm" "$W/c1m.tsv" > "$W/vout.txt" 2> "$W/vtime.txt"
    s1=$(steal)
    read -r _ handoff_after < <("$B/bench_cpu_probe" 2)
    rate=$(grep -o 'learn .*' "$W/vout.txt" | sed 's/.*pass(es), \([0-9]*\) examples.*/\1/')
    hotn=$(grep -o '[0-9]* hot rows' "$W/vout.txt" | cut -d' ' -f1)
    user=$(awk '/User time/ {print $NF}' "$W/vtime.txt"); sys=$(awk '/System time/ {print $NF}' "$W/vtime.txt")
    vol=$(awk '/Voluntary context/ {print $NF}' "$W/vtime.txt"); inv=$(awk '/Involuntary context/ {print $NF}' "$W/vtime.txt")
    pf=$(awk -F, '$3=="page-faults"{print $1}' "$W/perf.txt"); mig=$(awk -F, '$3=="cpu-migrations"{print $1}' "$W/perf.txt")
    ll=$("$P" eval --json "$W/v.pm" "$W/c1m-test.tsv" | grep -o '"log_loss": *[0-9.]*' | sed 's/.*: *//')
    echo "threads=$t hot_rows=${hotn:-none} run=$r rate=$rate user=$user sys=$sys faults=$pf vol_cs=$vol invol_cs=$inv migrations=$mig steal_ticks=$((s1 - s0)) load=$load probe2_s=$probe handoff_ns=$handoff handoff_after_ns=$handoff_after test_logloss=$ll"
done; done
