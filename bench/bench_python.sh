#!/bin/bash
# bench_python.sh: the Python package's scoring against the command, the
# figures behind docs/benchmarks.md "Python package".
#
#   bash bench/bench_python.sh [BUILD_DIR] [WORK_DIR] [ROWS]
#
# ROWS rows (default 1000000) of tests/gen_criteo.awk data, an LR model
# (default Criteo spec, 2^20 buckets) trained on 100k other rows. Timed,
# best of 3 each:
#  - `pronto predict MODEL rows.tsv > /dev/null` (read + parse + featurize +
#    score + print);
#  - Model.predict on the same rows held in numpy: (a) a structured array
#    of byte-string fields (the file's text: pointed into, no conversion),
#    (b) typed columns: I1..I13 float64 (NaN = missing), C1..C26 S8 (the
#    integers are turned to text on the way); the rows are loaded into
#    numpy before the clock starts;
#  - per-call overhead of Model.predict on one row (a list; a dict),
#    median of 20000 calls.
# Runs Debian's /usr/bin/python3 (python3-numpy) over BUILD/libpronto.so.
set -eu
B=$(cd "${1:-build}" && pwd)
W=${2:-/tmp/pronto-bench-python}
ROWS=${3:-1000000}
S=$(cd "$(dirname "$0")/.." && pwd)
P=$B/pronto
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkdir -p "$W"
[ -s "$W/rows-$ROWS.tsv" ] || awk -v rows="$ROWS" -v seed=2 -f "$S/tests/gen_criteo.awk" > "$W/rows-$ROWS.tsv"
[ -s "$W/train.tsv" ] || awk -v rows=100000 -v seed=1 -f "$S/tests/gen_criteo.awk" > "$W/train.tsv"
[ -s "$W/lr.pm" ] || "$P" train --kind lr --threads 1 -q -o "$W/lr.pm" "$W/train.tsv"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rows: $ROWS ($W/rows-$ROWS.tsv), model: LR, default Criteo spec"

best=""
for _ in 1 2 3; do
    t0=$(date +%s.%N)
    "$P" predict "$W/lr.pm" "$W/rows-$ROWS.tsv" > "$W/cli.txt"
    t=$(echo "$(date +%s.%N) - $t0" | bc -l)
    best=$(echo "$t" | awk -v b="${best:-1e9}" '{print ($1 < b) ? $1 : b}')
done
echo "pronto predict: $best s"

PRONTO_LIBRARY="$B/libpronto.so" PYTHONPATH="$S/python" "$PY" - "$W/lr.pm" "$W/rows-$ROWS.tsv" "$W/cli.txt" "$best" <<'EOF'
import sys, time
import numpy as np
import pronto

model_path, rows_path, cli_path, cli_s = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
m = pronto.Model.load(model_path)
cols = m.columns
raw = np.loadtxt(rows_path, dtype="S8", delimiter="\t", usecols=range(1, 40), ndmin=2)
n = raw.shape[0]
text = np.zeros(n, dtype=[(c, "S8") for c in cols])
for i, c in enumerate(cols):
    text[c] = raw[:, i]
typed = np.zeros(n, dtype=[(c, "f8") for c in cols[:13]] + [(c, "S8") for c in cols[13:]])
for i, c in enumerate(cols):
    if i < 13:
        col = raw[:, i]
        f = np.full(n, np.nan)
        present = col != b""
        f[present] = col[present].astype(np.float64)
        typed[c] = f
    else:
        typed[c] = raw[:, i]
del raw

def best_of(fn, k=3):
    t = []
    for _ in range(k):
        t0 = time.perf_counter()
        out = fn()
        t.append(time.perf_counter() - t0)
    return min(t), out

want = open(cli_path).read()
for name, arr in (("numpy, byte-string fields", text), ("numpy, float64 + S8 fields", typed)):
    s, p = best_of(lambda: m.predict(arr))
    same = "".join("%.6f\n" % x for x in p) == want
    print("Model.predict (%s): %.3f s, %.2fx pronto predict, %.0f rows/s, equal to the CLI: %s"
          % (name, s, s / cli_s, n / s, same))

one_list = [[v.decode() for v in text[0].tolist()]]
one_dict = [dict(zip(cols, one_list[0]))]
for name, row in (("one row as a list", one_list), ("one row as a dict", one_dict)):
    for _ in range(1000):
        m.predict(row)
    ts = []
    for _ in range(20000):
        t0 = time.perf_counter()
        m.predict(row)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    print("Model.predict, %s: median %.1f us, p99 %.1f us per call"
          % (name, ts[len(ts) // 2] * 1e6, ts[int(len(ts) * 0.99)] * 1e6))
EOF
