#!/bin/bash
# bench_train.sh: training throughput and accuracy of `pronto train` on
# Criteo-layout data from ../shared/tools/gen-criteo, the figures behind
# docs/benchmarks.md.
#
#   bash bench/bench_train.sh [BUILD_DIR] [WORK_DIR] [ROWS]
#
# Throughput (ROWS rows, default 10M, seed 2): for LR and FFM k=4 at 1 and 2
# threads, the featurize phase (TSV -> cache: read + parse + hash + write)
# and the learn phase from the cache, as `pronto train` reports them, the
# whole run's wall time and peak RSS; and the parse-only baseline
# (bench_parse: read + featurize, no learning, no cache).
# Accuracy (gen-criteo --rows 500000 --seed 1: first 400k train, of which
# the last 40k validate for early stopping; last 100k test): test log loss
# and AUC of LR (one pass) and FFM, beside the Bayes-optimal log loss from
# --truth.
set -eu
B=${1:-build}
W=${2:-/tmp/pronto-bench}
ROWS=${3:-10000000}
P=$B/pronto
SHARED=$(cd "$(dirname "$0")/../.." && pwd)/shared
mkdir -p "$W"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
[ -x "$W/gen-criteo" ] || cc -O2 -o "$W/gen-criteo" "$SHARED/tools/gen-criteo.c" -lm
[ -s "$W/big.tsv" ] || "$W/gen-criteo" --rows "$ROWS" --seed 2 > "$W/big.tsv"
if [ ! -s "$W/train400k.tsv" ]; then
    "$W/gen-criteo" --rows 500000 --seed 1 --truth "$W/all.truth" > "$W/all.tsv"
    head -400000 "$W/all.tsv" > "$W/train400k.tsv"
    head -360000 "$W/all.tsv" > "$W/train.tsv"
    sed -n 360001,400000p "$W/all.tsv" > "$W/valid.tsv"
    tail -100000 "$W/all.tsv" > "$W/test.tsv"
    tail -100000 "$W/all.truth" > "$W/test.truth"
fi
mb=$(( $(stat -L -c %s "$W/big.tsv") / 1000000 ))
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "data: $W/big.tsv, $ROWS rows, $mb MB"
echo
echo "== parse-only baseline (read + parse + featurize, no learning, no cache)"
"$B/bench_parse" "$W/big.tsv" | tail -1
"$B/bench_parse" "$W/big.tsv" "$W/big.tsv" | tail -1

train() {  # label, flags...
    local label=$1; shift
    /usr/bin/time -v "$P" train "$@" > "$W/out.txt" 2> "$W/time.txt" || { cat "$W/out.txt" "$W/time.txt"; exit 1; }
    local feat learn rss wall
    feat=$(grep -o 'featurize .*' "$W/out.txt" | head -1)
    learn=$(grep -o 'learn .*' "$W/out.txt" | head -1)
    [ -n "$learn" ] || learn=$(grep -o 'streamed .*' "$W/out.txt" | head -1)
    rss=$(awk '/Maximum resident/ {printf "%.0f", $NF / 1024}' "$W/time.txt")
    wall=$(awk '/Elapsed \(wall/ {print $NF}' "$W/time.txt")
    printf '%-28s | %s | %s | wall %s | peak RSS %s MiB\n' "$label" "$feat" "$learn" "$wall" "$rss"
}
echo
echo "== throughput: featurize phase from TSV, learn phase from the cache"
rm -f "$W/big.pcache"
train "lr, 1 thread (builds cache)" --kind lr --threads 1 --cache "$W/big.pcache" -o "$W/lr.pm" "$W/big.tsv"
train "lr, 1 thread, from cache" --kind lr --threads 1 --cache "$W/big.pcache" -o "$W/lr.pm" "$W/big.tsv"
train "lr, 2 threads, from cache" --kind lr --threads 2 --cache "$W/big.pcache" -o "$W/lr.pm" "$W/big.tsv"
train "lr, 2 threads, no cache kept" --kind lr --threads 2 -o "$W/lr.pm" "$W/big.tsv"
head -2000000 "$W/big.tsv" > "$W/big2m.tsv"
rm -f "$W/big2m.pcache"
train "ffm k=4, 1 thread, 1 pass" --kind ffm --threads 1 --passes 1 --cache "$W/big2m.pcache" -o "$W/ffm.pm" "$W/big2m.tsv"
train "ffm k=4, 2 threads, 1 pass" --kind ffm --threads 2 --passes 1 --cache "$W/big2m.pcache" -o "$W/ffm.pm" "$W/big2m.tsv"
train "ffm k=4, 2 threads, 3 passes" --kind ffm --threads 2 --passes 3 --cache "$W/big2m.pcache" -o "$W/ffm.pm" "$W/big2m.tsv"

echo
echo "== accuracy: gen-criteo --rows 500000 --seed 1 (360k train, 40k valid, 100k test)"
bayes=$(paste <(cut -f1 "$W/test.tsv") "$W/test.truth" | awk '{y=$1; p=$2; s += -(y*log(p) + (1-y)*log(1-p)); n++} END {printf "%.4f", s/n}')
echo "Bayes-optimal test log loss (true p): $bayes"
acc() {  # label, training file, train flags...
    local label=$1 data=$2; shift 2
    local t0 t1
    t0=$(date +%s.%N)
    "$P" train "$@" -o "$W/acc.pm" "$data" > "$W/acc.txt" 2>&1 || { cat "$W/acc.txt"; exit 1; }
    t1=$(date +%s.%N)
    "$P" eval --json "$W/acc.pm" "$W/test.tsv" > "$W/acc.json"
    local ll auc passes
    ll=$(grep -o '"log_loss": *[0-9.]*' "$W/acc.json" | sed 's/.*: *//')
    auc=$(grep -o '"auc": *[0-9.]*' "$W/acc.json" | sed 's/.*: *//')
    passes=$(grep -o '[0-9]* pass(es)' "$W/acc.txt" | awk '{print $1}')
    [ -n "$passes" ] || passes=1
    printf '%-36s test log loss %.4f  AUC %.4f  passes %s  whole run %.1f s (%.0f example-passes/s)\n' \
        "$label" "$ll" "$auc" "$passes" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
        "$(awk -v a="$t0" -v b="$t1" -v p="$passes" -v n="$(wc -l < "$data")" 'BEGIN {print n * p / (b - a)}')"
}
# one pass needs no early stopping: LR learns from all 400k training rows
acc "lr (FTRL), 1 pass, 2 threads" "$W/train400k.tsv" --kind lr --threads 2
acc "lr (FTRL), 1 pass, 1 thread" "$W/train400k.tsv" --kind lr --threads 1
acc "ffm k=4, early stopping, 2 threads" "$W/train.tsv" --kind ffm --threads 2 --valid "$W/valid.tsv"
