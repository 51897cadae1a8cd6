#!/bin/bash
# bench_mpi.sh: `mpirun -np N pronto train --mpi` on one machine, the
# figures behind docs/benchmarks.md "Data-parallel training over MPI" and
# the estimates in docs/distributed.md.
#
#   bash bench/bench_mpi.sh [BUILD_DIR] [WORK_DIR] [ROWS]
#
# Data: gen-criteo --seed 1, ROWS + ROWS/10 rows (default 10M + 1M): the
# first ROWS train, cut into 4 files (so 1, 2 and 4 ranks all shard by
# whole files), the rest is the test set. For 1, 2 and 4 ranks (one learner
# thread each; 4 ranks oversubscribe a 2-core machine, which the output
# says), LR one pass, merges every 1M examples per rank (--sync-every
# default) and at the pass end: featurize and learn seconds, examples/s,
# test log loss, bytes each rank exchanges per merge, the time in merges
# (waiting for slower ranks vs MPI_Allreduce), wall time and the load
# average (other work on the machine skews wall times). Then the merge
# modes side by side (2 and 4 ranks, 1M rows), and FFM (k=4, 2^20 buckets,
# 1M rows, 2 ranks): the bytes of a merge of its large rows.
set -eu
B=${1:-build}
W=${2:-/tmp/pronto-bench-mpi}
ROWS=${3:-10000000}
P=$B/pronto
SHARED=$(cd "$(dirname "$0")/../.." && pwd)/shared
mkdir -p "$W"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI="mpirun --oversubscribe --bind-to none"
[ -x "$W/gen-criteo" ] || cc -O2 -o "$W/gen-criteo" "$SHARED/tools/gen-criteo.c" -lm
if [ ! -s "$W/test.tsv" ]; then
    "$W/gen-criteo" --rows $((ROWS + ROWS / 10)) --seed 1 > "$W/all.tsv"
    q=$((ROWS / 4))
    for i in 0 1 2 3; do
        sed -n "$((i * q + 1)),$(((i + 1) * q))p" "$W/all.tsv" > "$W/part$i.tsv"
    done
    tail -n $((ROWS / 10)) "$W/all.tsv" > "$W/test.tsv"
    head -n 1000000 "$W/part0.tsv" > "$W/ffm1m.tsv"
    rm "$W/all.tsv"
fi
PARTS="$W/part0.tsv $W/part1.tsv $W/part2.tsv $W/part3.tsv"
ll() { "$P" eval --json "$1" "$W/test.tsv" | grep -o '"log_loss":[0-9.]*' | cut -d: -f2; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); $(mpirun --version | head -1)"
echo "data: $ROWS rows in 4 files, test $((ROWS / 10)) rows"

run() {  # label, np, flags... (the rest of the command line)
    local label=$1 np=$2; shift 2
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f "%e" $MPI -np "$np" "$P" train --mpi "$@" > "$W/out.txt" 2> "$W/time.txt" ||
        { cat "$W/out.txt" "$W/time.txt"; exit 1; }
    local feat learn mpi
    feat=$(grep -o 'featurize *[0-9.]* s' "$W/out.txt" | awk '{print $2}')
    learn=$(grep -o 'learn .*' "$W/out.txt" | sed 's/ *learn *//')
    mpi=$(grep -o 'mpi .*' "$W/out.txt" | sed 's/mpi *//')
    printf '%s | featurize %s s | learn %s | test log loss %s | wall %s s | load %s\n        %s\n' \
        "$label" "$feat" "$learn" "$(ll "$W/m.pm")" "$(tail -1 "$W/time.txt")" "$load" "$mpi"
}

echo
echo "== one process, no MPI (streaming, one pass): the reference log loss"
"$P" train --kind lr --threads 1 -q -o "$W/single.pm" $PARTS
echo "single process | test log loss $(ll "$W/single.pm")"
echo
echo "== LR, one pass, --sync-every 1000000 (default), merge avg (default), 1 thread per rank"
for np in 1 2 4; do
    over=""; [ "$np" -gt "$(nproc)" ] && over=" (oversubscribed: $np ranks on $(nproc) cores)"
    run "$np rank(s)$over" "$np" --kind lr --threads 1 -o "$W/m.pm" $PARTS
done
echo
echo "== merge modes (LR, one pass over the first 1M rows, --sync-every 100000)"
"$P" train --kind lr --threads 1 -q -o "$W/single1m.pm" "$W/ffm1m.tsv"
echo "single process | test log loss $(ll "$W/single1m.pm")"
for np in 2 4; do
    for m in avg weighted sum; do
        run "$np ranks, --merge $m" "$np" --kind lr --threads 1 --merge "$m" --sync-every 100000 \
            -o "$W/m.pm" "$W/ffm1m.tsv"
    done
done
echo
echo "== FFM k=4, 2^20 buckets, 1M rows, one pass, merges every 250k examples per rank"
"$P" train --kind ffm --threads 1 --passes 1 -q -o "$W/ffm1.pm" "$W/ffm1m.tsv"
echo "single process | test log loss $(ll "$W/ffm1.pm")"
run "ffm, 2 ranks" 2 --kind ffm --threads 1 --passes 1 --sync-every 250000 -o "$W/m.pm" "$W/ffm1m.tsv"
