#!/bin/bash
# bench_retrain.sh: the time of one `pronto retrain` cycle (not run by
# ctest), split into build (the one replay of the log that builds the
# train and holdout windows), train, evaluate (candidate and production
# on the holdout, finiteness) and register (register + promote).
#
#   bench/bench_retrain.sh [PRONTO_BIN] [WORK_DIR] [RUNS]
#
# Simulates DAYS (default 1) of default traffic (pronto simulate: 20
# impressions a second, 100k users, 10k ads), appends it to a log:DIR,
# and runs, RUNS times (default 3) each, a scratch cycle and a warm
# cycle at the end of the simulated span with --train-window DAYS,
# --holdout 1h and the default 2h label lag (--threads 1, the default).
# Prints each run's JSON "seconds" and examples, then the medians.
set -eu
P=${1:-${PRONTO_BIN:-build/pronto}}
W=${2:-/tmp/pronto-bench-retrain}
RUNS=${3:-3}
DAYS=${DAYS:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
SPEC=$HERE/../specs/sim-store.yaml
rm -rf "$W" && mkdir -p "$W"
"$P" simulate --duration "${DAYS}d" --seed 7 -o "$W/sim" --quiet
"$P" log append "log:$W/log?fsync=off" "$W"/sim/events-*.jsonl > /dev/null
"$P" registry init "$W/reg" > /dev/null
END=$((1704067200 + DAYS * 86400))
echo "$("$P" log stat "log:$W/log" | grep '"records"' | tr -d ' ,') in the log"
for pol in scratch warm; do
    for i in $(seq 1 "$RUNS"); do
        "$P" retrain --registry "$W/reg" --events "log:$W/log" --spec "$SPEC" --data "$W/sim" \
            --at "$END" --train-window "${DAYS}d" --policy "$pol" --min-gain -1 > "$W/out"
        python3 -c "import json; j=json.load(open('$W/out')); print('$pol', j['decision'], 'train', j['examples']['train'], 'holdout', j['examples']['holdout'], ' '.join('%s %.2f' % kv for kv in j['seconds'].items()))"
    done
done | tee "$W/runs"
python3 - "$W/runs" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for pol in ("scratch", "warm"):
    rs = [r for r in rows if r[0] == pol]
    if not rs: continue
    keys = rs[0][6::2]
    med = {k: statistics.median(float(r[6 + 2 * i + 1]) for r in rs) for i, k in enumerate(keys)}
    print(pol, "median:", " ".join("%s %.2f s" % (k, v) for k, v in med.items()))
PY
