#!/bin/bash
# cli_profile.sh: the reference profile end to end. `pronto train` writes it
# into the model file (a CSV with a timestamp column: rows, base rate, time
# span, a categorical, a numeric with an empty and a NaN value, a
# set-valued column; a Criteo file with a cache and two passes; a
# validation file), and `pronto inspect --profile [--json]` reads it back
# from the file. The JSON is checked value by value with python3's json.
. "$(dirname "$0")/lib_cli.sh"

cat > "$T/ts.csv" <<'CSV'
ts,click,site,price,tags
1700000000,0,a.com,1.5,x|y
1700000060,1,b.com,,y
1700000120,0,a.com,nan,
1700000180,0,c.com,3e10,x
CSV
cat > "$T/ts.yaml" <<'YAML'
version: 1
hash_bits: 8
input: {format: csv, label: click, timestamp: ts}
fields:
  - {name: site, type: categorical}
  - {name: price, type: numeric, transform: log_bucket}
  - {name: tags, type: categorical, separator: "|"}
YAML
"$P" train --spec "$T/ts.yaml" -o "$T/ts.pm" "$T/ts.csv" > /dev/null 2>&1
check "train csv exits 0" '[ $? -eq 0 ]'
"$P" inspect --profile "$T/ts.pm" > "$T/prof.txt" 2> "$T/err"
check "inspect --profile exits 0" '[ $? -eq 0 ]'
check "rows and base rate" 'grep -q "reference profile: 4 rows, 4 labeled, base rate 0.25000" "$T/prof.txt"'
check "time span" 'grep -q "time 2023-11-14T22:13:20Z .. 2023-11-14T22:16:20Z" "$T/prof.txt"'
check "prediction source" 'grep -q "^prediction (progressive (pass 1)): n 4," "$T/prof.txt"'
check "categorical line" 'grep -Eq "^  site +cat +4 +0.00% ~3 distinct, \"a.com\" 50.0%" "$T/prof.txt"'
check "numeric line: 1 empty + 1 NaN = 50% missing" \
    'grep -Eq "^  price +num +4 +50.00% mean 1.5e\+10 .* min 1.5 max 3e\+10, .*1 NaN/inf" "$T/prof.txt"'
check "set-valued column profiled as whole values" 'grep -Eq "^  tags +cat +4 +25.00%" "$T/prof.txt"'

"$P" inspect --profile --json "$T/ts.pm" > "$T/prof.json"
check "inspect --profile --json exits 0" '[ $? -eq 0 ]'
python3 - "$T/prof.json" > "$T/json.out" 2>&1 <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["rows"] == 4 and p["labeled"] == 4 and p["clicks"] == 1, p
assert abs(p["base_rate"] - 0.25) < 1e-12
assert p["ts_min"] == 1700000000 and p["ts_max"] == 1700000180
assert p["score_source"] == "progressive (pass 1)"
assert p["prediction"]["n"] == 4 and sum(p["prediction"]["counts"]) == 4
cols = {c["name"]: c for c in p["columns"]}
assert list(cols) == ["site", "price", "tags"], list(cols)
site = cols["site"]
assert site["kind"] == "categorical" and site["top"][0] == {"value": "a.com", "count": 2, "share": 0.5}, site
assert site["rest"] == 0 and site["filter_bits"] > 0
price = cols["price"]
assert price["kind"] == "numeric" and price["missing"] == 1 and price["nonfinite"] == 1
assert price["min"] == 1.5 and price["max"] == 3e10 and sum(price["counts"]) == 2
assert len(price["counts"]) == len(price["edges"]) + 1
print("json ok")
PY
check "the JSON holds every value" 'grep -q "json ok" "$T/json.out"'

# Criteo, cached, two passes: the progressive scores of the last pass
awk -v rows=3000 -v seed=1 -f "$PRONTO_SRC/tests/gen_criteo.awk" > "$T/train.tsv"
awk -v rows=1000 -v seed=2 -f "$PRONTO_SRC/tests/gen_criteo.awk" > "$T/valid.tsv"
"$P" train --kind lr --passes 2 --cache "$T/c.pcache" -o "$T/lr.pm" "$T/train.tsv" > /dev/null 2>&1
"$P" inspect --profile "$T/lr.pm" > "$T/lr.txt"
"$P" inspect --profile --json "$T/lr.pm" > "$T/lr.json"
check "criteo: 3000 rows" 'grep -q "reference profile: 3000 rows" "$T/lr.txt"'
check "criteo: last pass's progressive scores" 'grep -q "^prediction (progressive (pass 2)): n 3000," "$T/lr.txt"'
check "criteo: 39 columns" '[ "$(grep -Ec "^  [IC][0-9]+ " "$T/lr.txt")" -eq 39 ]'
check "criteo: I1 numeric, C1 categorical" 'grep -Eq "^  I1 +num" "$T/lr.txt" && grep -Eq "^  C1 +cat" "$T/lr.txt"'
# the same cache reused: no columns, but rows, labels and scores
"$P" train --kind lr --passes 2 --cache "$T/c.pcache" -o "$T/lr2.pm" "$T/train.tsv" > /dev/null 2>&1
"$P" inspect --profile --json "$T/lr2.pm" > "$T/lr2.json"
check "reused cache: rows and clicks from the cache" \
    '[ "$(json_get "$T/lr2.json" rows)" = 3000 ] && [ "$(json_get "$T/lr.json" clicks)" = "$(json_get "$T/lr2.json" clicks)" ]'
check "reused cache: no column values" 'grep -q "\"n\": 0," "$T/lr2.json"'
"$P" train --kind lr --passes 2 --valid "$T/valid.tsv" -o "$T/lrv.pm" "$T/train.tsv" > /dev/null 2>&1
"$P" inspect --profile "$T/lrv.pm" > "$T/lrv.txt"
check "with --valid: validation scores of the kept pass" \
    'grep -Eq "^prediction \(validation \(pass [12]\)\): n 1000," "$T/lrv.txt"'
# the section (type 7) in the file's directory: present and small
python3 - "$T/lr.pm" > "$T/sec.out" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
n = struct.unpack_from("<I", d, 16)[0]
for i in range(n):
    t, _, off, ln = struct.unpack_from("<IIQQ", d, 32 + 24 * i)
    if t == 7: print("profile", ln)
PY
check "profile section present, under 64 KB" \
    'read -r w len < "$T/sec.out" && [ "$w" = profile ] && [ "$len" -gt 1000 ] && [ "$len" -lt 65536 ]'

# usage
"$P" inspect --json "$T/ts.pm" > /dev/null 2>&1
check "--json without --profile: usage (2)" '[ $? -eq 2 ]'
"$P" inspect --profile --data "$T/ts.csv" "$T/ts.pm" > /dev/null 2>&1
check "--profile with --data: usage (2)" '[ $? -eq 2 ]'
"$P" inspect --profile "$T/nope.pm" > /dev/null 2> "$T/err"
check "missing model: exit 1 naming it" '[ $? -eq 1 ] && grep -q "nope.pm" "$T/err"'
finish
