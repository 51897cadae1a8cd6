#!/bin/bash
# cli_monitor_report.sh: `pronto monitor report` end to end on generated
# CSV pairs (python3, fixed seeds): a current file whose `price` is
# shifted names price first and drifted, the unshifted fields pass;
# identical distributions drift nowhere (with the same model scoring both
# sides, the prediction neither); a model file as the reference (its
# profile) gives the prediction histogram, the reliability diagram and
# quality over time; --json carries the same figures; a category value
# `<script>...` appears only escaped; bad input (missing files, a model
# without a profile, empty current data, usage errors naming the flag).
# Log windows: a real `pronto serve --log` answers rows of two files as
# predicts in event time, and the log's two windows against each other give
# the figures the same rows give as CSV files; a malformed prediction
# record is named (or skipped with --skip-bad), a missing log fails.
# Then headless Chromium (Debian's `chromium`) loads a copy of each page
# with a measuring script appended: the number of SVG charts, each drawn
# with a nonzero box, no other script element, the verdict naming the
# drifted field, the markup value shown as text.
. "$(dirname "$0")/lib_cli.sh"

python3 - "$T" <<'PY'
import math, random, sys
d = sys.argv[1]
def gen(path, n, seed, shift=0.0, t0=1700000000, evil=False):
    r = random.Random(seed)
    with open(path, "w") as f:
        f.write("ts,click,site,device,price,age\n")
        for i in range(n):
            site = "s%d" % min(int(r.paretovariate(1.2)), 30)
            if evil and i % 7 == 0:
                site = "<script>alert(1)</script>"
            dev = r.choice(["ios", "android", "web"])
            price = math.exp(r.gauss(1.0, 0.5)) * (1 + shift) + shift * 3
            age = "" if r.random() < 0.02 else str(r.randint(18, 80))
            z = -1.5 + 0.3 * (site == "s1") + 0.2 * math.log(price)
            click = 1 if r.random() < 1 / (1 + math.exp(-z)) else 0
            f.write("%d,%d,%s,%s,%.3f,%s\n" % (t0 + i * 172800 // n, click, site, dev, price, age))
gen(d + "/ref.csv", 5000, 1)
gen(d + "/same.csv", 5000, 2)
gen(d + "/shift.csv", 5000, 3, shift=1.0, t0=1700200000)
gen(d + "/evil_ref.csv", 5000, 4, evil=True)
gen(d + "/evil_cur.csv", 5000, 5, evil=True)
PY
# (the request section lets `pronto serve` answer with a model of this
# spec: the log windows below)
cat > "$T/spec.yaml" <<'YAML'
version: 1
hash_bits: 12
input: {format: csv, label: click, timestamp: ts}
request:
  timestamp: ts
  columns: [site, device, price, age]
fields:
  - {name: site, type: categorical}
  - {name: device, type: categorical}
  - {name: price, type: numeric, transform: log_bucket}
  - {name: age, type: numeric, transform: identity}
YAML
head -1 "$T/ref.csv" > "$T/empty.csv"

# a shifted field
$P monitor report --reference "$T/ref.csv" --current "$T/shift.csv" --spec "$T/spec.yaml" \
    -o "$T/shift.html" --json "$T/shift.json" 2> "$T/err"
check "shifted: exits 0" '[ $? -eq 0 ]'
check "shifted: stderr names price" 'grep -q "1 of 4 drifted: price" "$T/err"'
python3 - "$T/shift.json" > "$T/py.out" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = d["fields"]
assert d["drifted"] == ["price"], d["drifted"]
assert f[0]["name"] == "price" and f[0]["drifted"], f[0]
assert f[0]["psi"] >= 0.2 and f[0]["wasserstein"] >= 0.1, f[0]
assert [x["name"] for x in f if not x["drifted"]] and all(x["score"] < 1 for x in f[1:]), f
assert d["current"]["rows"] == 5000 and d["reference"]["rows"] == 5000
assert d["current"]["ts_min"] == 1700200000, d["current"]
p = f[0]
assert len(p["reference"]) == len(p["edges"]) + 1 == len(p["current"])
assert abs(sum(p["reference"]) + p["reference_missing"] - 1) < 1e-9
assert d["quality"] is None and d["reliability"] == []
PY
check "shifted: JSON names price first, the others pass" '[ $? -eq 0 ] || { cat "$T/py.out"; false; }'
check "shifted: HTML verdict names price" \
    'grep -q "id=\"verdict\">Drift in 1 of 4: <b>price</b>" "$T/shift.html"'

# a monitors file judges drift as the server's alerts would: price's PSI
# and Wasserstein above this file's thresholds, nothing drifts
printf 'rules:\n  - {name: p, metric: psi, window: 5m, op: ">=", threshold: 100}\n  - {name: w, metric: wasserstein, window: 5m, op: ">=", threshold: 100}\n' > "$T/mon.yaml"
$P monitor report --reference "$T/ref.csv" --current "$T/shift.csv" --spec "$T/spec.yaml" \
    -o "$T/mon.html" --json "$T/mon.json" --monitors "$T/mon.yaml" 2> "$T/err"
check "--monitors: its thresholds judge (0 drifted, js not judged)" \
    '[ $? -eq 0 ] && grep -q "0 of 4 drifted" "$T/err" && grep -q "\"thresholds\":{\"psi\":100,\"js\":null" "$T/mon.json"'
$P monitor report --reference "$T/ref.csv" --current "$T/shift.csv" --spec "$T/spec.yaml" \
    -o "$T/mon.html" --monitors "$T/nope.yaml" 2> "$T/err"
check "--monitors: a missing file fails naming it" '[ $? -eq 1 ] && grep -q "nope.yaml" "$T/err"'

# identical distributions, no model / the same model on both sides
$P monitor report --reference "$T/ref.csv" --current "$T/same.csv" --spec "$T/spec.yaml" \
    -o "$T/same.html" --json "$T/same.json" 2> "$T/err"
check "same: exits 0, nothing drifted" '[ $? -eq 0 ] && grep -q "0 of 4 drifted" "$T/err"'
check "same: JSON drifted empty" 'grep -q "\"drifted\":\[\]" "$T/same.json"'
check "same: HTML says no drift" 'grep -q "id=\"verdict\">No drift" "$T/same.html"'
$P train --spec "$T/spec.yaml" -o "$T/m.pm" "$T/ref.csv" > /dev/null 2>&1
check "train the model" '[ $? -eq 0 ]'
$P monitor report --reference "$T/ref.csv" --model "$T/m.pm" --current "$T/same.csv" \
    -o "$T/msame.html" --json "$T/msame.json" 2> "$T/err"
check "same with --model: prediction compared, nothing drifted" \
    '[ $? -eq 0 ] && grep -q "0 of 5 drifted" "$T/err"'

# a model file as the reference
$P monitor report --reference "$T/m.pm" --current "$T/shift.csv" -o "$T/model.html" \
    --json "$T/model.json" 2> "$T/err"
check "model reference: exits 0" '[ $? -eq 0 ]'
python3 - "$T/model.json" > "$T/py.out" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
names = [x["name"] for x in d["fields"]]
assert d["fields"][0]["name"] == "price", names
assert "prediction" in names, names
assert d["reference"]["kind"] == "model" and d["model"].endswith("m.pm")
q = d["quality"]
assert q["n"] == 5000 and 0.3 < q["logloss"] < 1.0, q
assert q["bucket_s"] == 3600 and 40 <= len(q["buckets"]) <= 60, (q["bucket_s"], len(q["buckets"]))
assert sum(b["n"] for b in q["buckets"]) == 5000
r = d["reliability"]
assert 5 <= len(r) <= 15 and sum(x["n"] for x in r) == 5000, r
assert all(r[i]["mean_p"] < r[i + 1]["mean_p"] for i in range(len(r) - 1)), r
PY
check "model reference: prediction, reliability, quality over time in JSON" \
    '[ $? -eq 0 ] || { cat "$T/py.out"; false; }'
check "model reference: the three prediction charts" \
    'grep -q ">Prediction histogram<" "$T/model.html" && grep -q ">Reliability (current data)<" "$T/model.html" && grep -q ">Quality over time (1 h buckets)<" "$T/model.html"'

# escaping: a category value that is markup
$P monitor report --reference "$T/evil_ref.csv" --current "$T/evil_cur.csv" \
    --spec "$T/spec.yaml" -o "$T/evil.html" --json "$T/evil.json" --title 'a <b>&"title' 2> "$T/err"
check "escaping: exits 0" '[ $? -eq 0 ]'
check "escaping: no raw <script> in the page" '! grep -qi "<script" "$T/evil.html"'
check "escaping: the value as text" 'grep -q "&lt;script&gt;alert(1)&lt;/script&gt;" "$T/evil.html"'
check "escaping: the title as text" 'grep -q "<h1>a &lt;b&gt;&amp;&quot;title</h1>" "$T/evil.html"'
check "escaping: the value in JSON" 'grep -q "\"<script>alert(1)</script>\"" "$T/evil.json"'

# bad input
$P monitor report --reference "$T/nope.csv" --current "$T/same.csv" --spec "$T/spec.yaml" \
    -o "$T/x.html" 2> "$T/err"
check "missing reference: exit 1 naming it" '[ $? -eq 1 ] && grep -q "nope.csv" "$T/err"'
$P monitor report --reference "$T/ref.csv" --current "$T/gone.csv" --spec "$T/spec.yaml" \
    -o "$T/x.html" 2> "$T/err"
check "missing current: exit 1 naming it" '[ $? -eq 1 ] && grep -q "gone.csv" "$T/err"'
check "no page on failure" '[ ! -e "$T/x.html" ]'
$P monitor report --reference "$T/ref.csv" --current "$T/empty.csv" --spec "$T/spec.yaml" \
    -o "$T/empty.html" --json "$T/empty.json" 2> "$T/err"
check "empty current: exit 0, a page that says so" \
    '[ $? -eq 0 ] && grep -q "The current data has no rows" "$T/empty.html" && grep -q "no rows" "$T/err"'
check "empty current: JSON rows 0" 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"current\"][\"rows\"]==0 and d[\"drifted\"]==[]" "$T/empty.json"'
# a model file without a profile (written before profiles existed)
OLD="${PRONTO_SRC:-$(dirname "$0")/..}/tests/fuzz/corpus/model_file/lr_meta.pm"
$P monitor report --reference "$OLD" --current "$T/same.csv" -o "$T/x.html" 2> "$T/err"
check "model without a profile: exit 1 naming the file" \
    '[ $? -eq 1 ] && grep -q "lr_meta.pm: the model has no reference profile" "$T/err"'
$P monitor report --reference "$T/ref.csv" --current "$T/same.csv" -o "$T/x.html" 2> "$T/err"
check "usage: no --spec for a CSV -> not the Criteo spec silently" '[ $? -ne 0 ]'
$P monitor report --current "$T/same.csv" -o "$T/x.html" 2> "$T/err"
check "usage: --reference missing exits 2 naming it" '[ $? -eq 2 ] && grep -q -- "--reference" "$T/err"'
$P monitor report --reference "$T/ref.csv" --current "$T/same.csv" 2> "$T/err"
check "usage: -o missing exits 2 naming it" '[ $? -eq 2 ] && grep -q -- "-o/--out" "$T/err"'
$P monitor report --reference "$T/m.pm" --current "$T/same.csv" --spec "$T/spec.yaml" \
    -o "$T/x.html" 2> "$T/err"
check "usage: --spec with a model exits 2 naming it" '[ $? -eq 2 ] && grep -q -- "--spec" "$T/err"'
$P monitor report --help > "$T/help" 2>&1
check "--help exits 0 and documents the flags" \
    '[ $? -eq 0 ] && grep -q -- "--reference" "$T/help" && grep -q -- "--json" "$T/help"'

# headless Chromium
# --- log windows: a real `pronto serve --log` answers the first 1500 rows
# of ref.csv, then of shift.csv, as one-candidate predicts in event time;
# the log's two windows against each other give the figures the same rows
# give as CSV files (the rows are the request's fields and the candidate
# key; p as served), and bad input is named
head -n 1501 "$T/ref.csv" > "$T/ref1500.csv"
head -n 1501 "$T/shift.csv" > "$T/shift1500.csv"
# serve_replay DIR FLAGS...: a server logging to log:DIR answers the rows
serve_replay() {
    local dir=$1; shift
    rm -f "$T/srv.out" # the last server's port until the new one's redirection truncates it
    $P serve --listen 127.0.0.1:0 --store mem: --model "$T/m.pm" --candidate-key site \
        --log "log:$dir?fsync=off" --quality off --monitor off "$@" > "$T/srv.out" 2> "$T/srv.err" &
    SPID=$!
    PORT=$(serve_port "$T/srv.out" "$SPID")
    python3 - "$PORT" "$T/ref1500.csv" "$T/shift1500.csv" <<'PY'
import csv, http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
bad = 0
for path in sys.argv[2:]:
    for i, row in enumerate(csv.DictReader(open(path))):
        req = {"request_id": "%s-%d" % (path[-12:], i), "ts": int(row["ts"]) * 1000,
               "device": row["device"], "price": row["price"], "candidates": [{"site": row["site"]}]}
        if row["age"]:
            req["age"] = row["age"]
        c.request("POST", "/v1/predict", json.dumps(req))
        r = c.getresponse(); r.read()
        bad += r.status != 200
sys.exit(1 if bad else 0)
PY
    local rc=$?
    kill -TERM $SPID; wait $SPID
    return $rc
}
serve_replay "$T/log"
check "log: 3000 predicts answered" '[ $? -eq 0 ]'
check "log: 3000 prediction records" \
    '[ "$($P log cat "log:$T/log" --type prediction | wc -l)" -eq 3000 ]'
$P monitor report --reference "log:$T/log" --reference-to 1700190000 --current "log:$T/log" \
    --current-from 1700190000 --model "$T/m.pm" -o "$T/log.html" --json "$T/log.json" 2> "$T/err"
check "log: the two windows, exit 0, price and the prediction drifted" \
    '[ $? -eq 0 ] && grep -q "1500 rows against 1500, 2 of 5 drifted: price, prediction$" "$T/err"'
$P monitor report --reference "$T/ref1500.csv" --current "$T/shift1500.csv" --model "$T/m.pm" \
    -o "$T/csv.html" --json "$T/csv.json" 2> /dev/null
check "log: every field's figures equal the same rows read as CSV (prediction within rounding)" "python3 - '$T/log.json' '$T/csv.json' <<'PY'
import json, math, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
fa = {f['name']: f for f in a['fields']}
fb = {f['name']: f for f in b['fields']}
assert set(fa) == set(fb) == {'site', 'device', 'price', 'age', 'prediction'}, (set(fa), set(fb))
for n in fa:
    for k in ('psi', 'js', 'wasserstein', 'missing_delta'):
        x, y = fa[n].get(k), fb[n].get(k)
        if x is None or y is None:
            assert x is None and y is None, (n, k, x, y)
            continue
        tol = 1e-3 if n == 'prediction' else 1e-12
        assert abs(x - y) <= tol, (n, k, x, y)
assert a['reference']['kind'] == 'log' and a['current']['kind'] == 'log', a['current']
PY"
# with --log-features 1 the rows are the features records (every column
# the model read): the same figures again
serve_replay "$T/flog" --log-features 1
check "log --log-features 1: 3000 predicts answered" '[ $? -eq 0 ]'
$P monitor report --reference "log:$T/flog" --reference-to 1700190000 --current "log:$T/flog" \
    --current-from 1700190000 --model "$T/m.pm" -o "$T/flog.html" --json "$T/flog.json" 2> "$T/err"
check "log --log-features 1: rows from the features records" \
    '[ $? -eq 0 ] && grep -q "log:$T/flog: 1500 rows from its features records" "$T/err"'
check "log --log-features 1: the same figures as the CSV files" "python3 - '$T/flog.json' '$T/csv.json' <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
fa = {f['name']: f for f in a['fields']}
fb = {f['name']: f for f in b['fields']}
assert set(fa) == set(fb), (set(fa), set(fb))
for n in fa:
    for k in ('psi', 'js', 'wasserstein', 'missing_delta'):
        x, y = fa[n].get(k), fb[n].get(k)
        assert (x is None) == (y is None), (n, k, x, y)
        if x is not None:
            assert abs(x - y) <= (1e-3 if n == 'prediction' else 1e-12), (n, k, x, y)
PY"
printf '{"request_id":"x","ts":1700200000000,"model_version":"v","request":{"device":"ios"},"predictions":[{"site":"s1"}]}\n' \
    | $P log append "log:$T/log" --type prediction > /dev/null
$P monitor report --reference "log:$T/log" --reference-to 1700190000 --current "log:$T/log" \
    --current-from 1700190000 -o "$T/bad.html" --model "$T/m.pm" 2> "$T/err"
check "log: a malformed prediction record stops it, naming the log, the record and what" \
    '[ $? -eq 1 ] && grep -q "log:$T/log: record at .* (ts 1700200000000 ms): prediction record: a prediction is not" "$T/err"'
$P monitor report --reference "log:$T/log" --reference-to 1700190000 --current "log:$T/log" \
    --current-from 1700190000 -o "$T/bad.html" --model "$T/m.pm" --skip-bad 1 2> "$T/err"
check "log: --skip-bad 1 passes it over, counted" \
    '[ $? -eq 0 ] && grep -q "1 malformed log records skipped" "$T/err"'
$P monitor report --reference "$T/ref.csv" --reference-from 1700000000 --current "$T/shift.csv" \
    --spec "$T/spec.yaml" -o "$T/x.html" 2> "$T/err"
check "log: --reference-from on a file is a usage error" '[ $? -eq 2 ] && grep -q -- "--reference-from" "$T/err"'
$P monitor report --reference "log:$T/nope" --current "$T/shift.csv" --model "$T/m.pm" \
    -o "$T/x.html" 2> "$T/err"
check "log: a missing log fails naming it" '[ $? -eq 1 ] && grep -q "nope" "$T/err"'

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
render() { # render PAGE.html -> the result line of a measuring script added to a copy
    { sed 's|</body></html>||' "$1"; cat <<'EOF'
<pre id="result">not run</pre>
<script id="measure">
const d = document;
const svgs = d.querySelectorAll("svg.chart");
let drawn = 0;
svgs.forEach(s => { const b = s.getBBox(); if (b.width > 100 && b.height > 50) drawn++; });
const verdict = d.getElementById("verdict");
d.getElementById("result").textContent =
  "title=" + JSON.stringify(d.title) + " svgs=" + svgs.length + " drawn=" + drawn +
  " scripts=" + (d.querySelectorAll("script").length - 1) +
  " bars=" + d.querySelectorAll("rect.bar").length +
  " verdict=" + JSON.stringify(verdict ? verdict.textContent : null) +
  " evil=" + d.body.textContent.includes("\x3cscript>alert(1)\x3c/script>") +
  " fieldtables=" + d.querySelectorAll("table.drift tr").length;
</script></body></html>
EOF
    } > "$T/page.html"
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$T/chromium-profile" --dump-dom "file://$T/page.html" 2>/dev/null |
        grep -o 'id="result">[^<]*' | sed 's/.*>//; s/&quot;/"/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g'
}
if [ -z "$CHROMIUM" ]; then
    fail "chromium is not installed (scripts/bootstrap installs it)"
else
    r=$(render "$T/shift.html")
    echo "chromium (shift): $r"
    check "chromium: the page loads with its title" '[[ "$r" == "title=\"pronto drift report\""* ]]'
    check "chromium: 5 charts (drift + 4 fields), all drawn" '[[ "$r" == *"svgs=5 drawn=5 scripts=0"* ]]'
    check "chromium: bars drawn" 'b=${r##*bars=}; b=${b%% *}; [ "${b:-0}" -ge 40 ]'
    check "chromium: the text names the drifted field" '[[ "$r" == *"verdict=\"Drift in 1 of 4: price.\""* ]]'
    check "chromium: a table row per field" '[[ "$r" == *"fieldtables=5"* ]]'
    r=$(render "$T/model.html")
    echo "chromium (model): $r"
    check "chromium: model reference has 8 charts (+ prediction, reliability, time), all drawn" \
        '[[ "$r" == *"svgs=8 drawn=8 scripts=0"* ]]'
    r=$(render "$T/evil.html")
    echo "chromium (evil): $r"
    check "chromium: the markup value is text, not an element" \
        '[[ "$r" == *"scripts=0"* && "$r" == *"evil=true"* ]]'
    r=$(render "$T/empty.html")
    echo "chromium (empty): $r"
    check "chromium: the empty report loads and says so" \
        '[[ "$r" == *"verdict=\"The current data has no rows: nothing to compare.\""* ]]'
fi
finish
