#!/bin/bash
# cli_quality.sh: live quality end to end. A real `pronto serve --log` on
# loopback answers 20 predict requests of 4 candidates each; their
# impressions (carrying request_id and ad_id) and clicks on a known
# pattern are posted. Checks:
#   - /metrics shows no quality window before event time passes the
#     1-minute window's end plus the attribution window, and then
#     pronto_quality{metric,window="1m",arm="",version} equal to the log
#     loss, NE, calibration, AUC and n computed here from the answers' p
#     and the labels (a click 50 s late, within the 60 s window, counts; one
#     61 s late does not);
#   - `pronto monitor quality` over the server's log gives the same figures;
#   - --quality off: no pronto_quality lines; bad flags exit 2.
. "$(dirname "$0")/lib_cli.sh"
SRC=${PRONTO_SRC:?}

"$P" simulate -o "$T/d" --duration 30m --users 300 --ads 60 --advertisers 20 --sites 40 \
    --imp-rate 3 --quiet
sed 's/^hash_bits: 20/hash_bits: 14/' "$SRC/specs/sim-store.yaml" > "$T/spec.yaml"
"$P" build-dataset --spec "$T/spec.yaml" --data "$T/d" -o "$T/train.pcache" > /dev/null 2>&1
"$P" train --dataset --spec "$T/spec.yaml" -o "$T/lr.pm" "$T/train.pcache" > /dev/null
check "model trained" "[ -s $T/lr.pm ]"

SPID=""
trap '[ -n "$SPID" ] && kill -9 $SPID 2>/dev/null; rm -rf "$T"' EXIT
start() { # start NAME FLAGS...: sets SPID and PORT
    local name=$1; shift
    "$P" serve --listen 127.0.0.1:0 --model "$T/lr.pm" --store mem: --data "$T/d" "$@" \
        > "$T/$name.out" 2> "$T/$name.err" &
    SPID=$!
    PORT=$(serve_port "$T/$name.out" "$SPID")
}
# metrics_until FILE REGEX: /metrics into FILE until a line matches (the
# quality thread polls every 10 ms), at most 5 s
metrics_until() {
    for _ in $(seq 1 100); do
        curl -s "localhost:$PORT/metrics" > "$1"
        grep -q "$2" "$1" && return 0
        sleep 0.05
    done
    return 1
}
stop() { kill -TERM "$SPID"; wait "$SPID"; SPID=""; }
post() { curl -s "localhost:$PORT/v1/events" --data-binary @"$1"; }

NOW=$(date +%s%3N)
B=$(( (NOW / 60000 - 10) * 60000 ))   # a whole minute, 10 min ago
start a --log "log:$T/log?fsync=off" --quality-window 60s --quality-lateness 30s
check "serve starts with quality on" "[ -n '$PORT' ]"

: > "$T/answers"
for i in $(seq 0 19); do
    curl -s "localhost:$PORT/v1/predict" -d "{\"user_id\":$((i * 7)),\"site_id\":3,\"device\":\"mobile\",\"position\":1,\"ts\":$((B + i * 1000)),\"request_id\":\"q$i\",\"candidates\":[{\"ad_id\":$((i % 50 + 1))},{\"ad_id\":$((i % 50 + 2))},{\"ad_id\":\"$((i % 50 + 3))\"},{\"ad_id\":$((i % 50 + 4))}]}" >> "$T/answers"
done
check "20 answers" "[ \$(grep -c '\"request_id\":\"q' $T/answers) -eq 20 ]"

# impressions of every candidate of each request, then clicks: (i + k) % 3 == 0 clicked
# after 5 s; k == 3 of even i clicked 50 s later (in the window), of odd i
# 61 s later (outside it: unattributed)
python3 - "$T" "$B" <<'EOF'
import json, sys
T, B = sys.argv[1], int(sys.argv[2])
imps, clicks = [], []
eid = 1000
for i in range(20):
    for k in range(4):
        ad = i % 50 + 1 + k
        ts = B + i * 1000 + 100
        imp = 5000 + i * 10 + k
        imps.append({"type": "impression", "event_id": eid, "impression_id": imp, "ts": ts,
                     "request_id": "q%d" % i, "user_id": i * 7, "ad_id": ad, "site_id": 3,
                     "device": "mobile", "position": 1})
        eid += 1
        delay = 5000 if (i + k) % 3 == 0 else (50000 if i % 2 == 0 else 61000) if k == 3 else None
        if delay:
            clicks.append({"type": "click", "event_id": 90000 + eid, "impression_id": imp,
                           "ts": ts + delay, "user_id": i * 7, "ad_id": ad})
with open(T + "/imps", "w") as f:
    f.write("\n".join(json.dumps(e) for e in imps) + "\n")
with open(T + "/clicks", "w") as f:
    clicks.sort(key=lambda e: e["ts"])
    f.write("\n".join(json.dumps(e) for e in clicks) + "\n")
EOF
post "$T/imps" > "$T/r1"
post "$T/clicks" > "$T/r2"
check "impressions and clicks applied" "grep -q '\"applied\":80,' $T/r1 && grep -q '\"rejected\":0' $T/r2"
sleep 0.3 # the quality thread polls every 10 ms
curl -s "localhost:$PORT/metrics" > "$T/m1"
check "no quality window before its attribution window closed" \
    "! grep -q '^pronto_quality{' $T/m1 && grep -q '^pronto_quality_predictions_total 20$' $T/m1"
# event time moves to the 1m window's end + 60 s window + 30 s lateness: it closes
printf '{"type":"click","event_id":777777,"impression_id":1,"ts":%d,"user_id":1,"ad_id":1}\n' \
    $((B + 150000)) > "$T/tick"
post "$T/tick" > /dev/null
metrics_until "$T/m2" '^pronto_quality{metric="auc",window="1m"'
check "the closed window is in /metrics" "grep -q '^pronto_quality{metric=\"n_labeled\",window=\"1m\",arm=\"\",version=\"' $T/m2"
check "labeled, matched" "grep -q '^pronto_quality_labeled_total{matched=\"true\"} 80$' $T/m2"

python3 - "$T" > "$T/expected" <<'EOF'
import json, sys
T = sys.argv[1]
print(json.loads(open(T + "/answers").readline())["model_version"])
rows = [[["q%d" % i, str(i % 50 + 1 + k)], 1 if (i + k) % 3 == 0 or (k == 3 and i % 2 == 0) else 0]
        for i in range(20) for k in range(4)]
print(json.dumps(rows))
EOF
VER=$(head -1 "$T/expected")
stop
check "the log has 20 prediction records" \
    "[ \$('$P' log cat 'log:$T/log' --type prediction | grep -c request_id) -eq 20 ]"
"$P" log cat "log:$T/log" --type prediction > "$T/preds.jsonl"
python3 - "$T" "$VER" > "$T/want" <<'EOF'
import json, math, sys
T, ver = sys.argv[1], sys.argv[2]
p = {}
for line in open(T + "/preds.jsonl"):
    r = json.loads(line)
    for c in r["predictions"]:
        p[(r["request_id"], str(c["ad_id"]))] = c["p"]
rows = json.loads(open(T + "/expected").read().split("\n")[1])
ps = [p[tuple(k)] for k, y in rows]
ys = [y for k, y in rows]
n = len(ys); P = sum(ys); N = n - P
ll = -sum(math.log(q) if y else math.log(1 - q) for q, y in zip(ps, ys)) / n
r = P / n
H = -(r * math.log(r) + (1 - r) * math.log(1 - r))
auc = sum((1 if a > b else 0.5 if a == b else 0) for a, ya in zip(ps, ys) if ya
          for b, yb in zip(ps, ys) if not yb) / (P * N)
print("n_labeled %d" % n)
print("logloss %.15g" % ll)
print("ne %.15g" % (ll / H))
print("calibration %.15g" % ((sum(ps) / n) / r))
print("auc %.15g" % auc)
print("ctr %.15g" % r)
EOF
cat "$T/want"
close() { # close FILE_A FILE_B TOL: "name value" lines agree
    python3 - "$1" "$2" "$3" <<'EOF'
import sys
a = dict(l.split() for l in open(sys.argv[1]) if l.strip())
b = dict(l.split() for l in open(sys.argv[2]) if l.strip())
tol = float(sys.argv[3])
bad = [(k, a[k], b.get(k)) for k in a
       if k not in b or abs(float(a[k]) - float(b[k])) > tol * max(1, abs(float(a[k])))]
if bad or not a:
    print("differ:", bad)
    sys.exit(1)
EOF
}
sed -n "s/^pronto_quality{metric=\"\([a-z_]*\)\",window=\"1m\",arm=\"\",version=\"$VER\"} \(.*\)$/\1 \2/p" \
    "$T/m2" > "$T/got_server"
grep -v '^auc ' "$T/want" > "$T/want_noauc"
check "/metrics equals the figures computed by hand (n, log loss, NE, calibration, rate)" \
    "close $T/want_noauc $T/got_server 1e-9"
check "/metrics AUC within its stated bound of the exact AUC" "python3 -c '
import sys
w = dict(l.split() for l in open(\"$T/want\")); g = dict(l.split() for l in open(\"$T/got_server\"))
d = abs(float(w[\"auc\"]) - float(g[\"auc\"]))
print(\"exact\", w[\"auc\"], \"histogram\", g[\"auc\"], \"bound\", g[\"auc_err\"])
sys.exit(d > float(g[\"auc_err\"]) + 1e-12)
'"
# 80 impressions, 33 clicked: 27 after 5 s and 6 after 50 s; the 4 clicks 61 s late not counted
check "the late click within the window counted, the one past it not" \
    "grep -q '^n_labeled 80$' $T/got_server && python3 -c 'import sys; sys.exit(abs(float(sys.argv[1]) - 33 / 80) > 1e-12)' \$(sed -n 's/^ctr //p' $T/got_server)"

"$P" monitor quality --log "log:$T/log" --window 1m --json --attribution 60s --lateness 30s \
    > "$T/off.json" 2> "$T/off.err"
check "monitor quality runs" "[ \$? -eq 0 ] && grep -q 'matched=80 ' $T/off.err"
python3 - "$T" "$B" "$VER" > "$T/got_offline" <<'EOF'
import json, sys
T, B, ver = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = json.load(open(T + "/off.json"))
w = [w for w in d["windows"] if w["start_ms"] == B and w["version"] == ver and w["arm"] == ""][0]
for k in ("logloss", "ne", "calibration", "auc", "ctr", "mean_p", "auc_err"):
    print(k, repr(w[k]))
print("n_labeled", w["n"])
EOF
check "offline over the server's log equals the server's figures" \
    "close $T/got_server $T/got_offline 1e-12"
"$P" monitor quality --log "log:$T/log" --attribution 60s --lateness 30s > "$T/off.txt" 2>/dev/null
check "the table names the version" "grep -q '^$VER ' $T/off.txt"

# --- sampling: --quality-rate 8 candidates a second, 40 requests of 4
# candidates in one second: whole requests are left out by request_id, the
# impressions of left-out requests go on without waiting, the figures count
# the sample only, nothing is unmatched
start c --quality-window 60s --quality-lateness 30s --quality-rate 8
B2=$(( B + 300000 ))
for i in $(seq 0 39); do
    curl -s -o /dev/null "localhost:$PORT/v1/predict" -d "{\"user_id\":$i,\"site_id\":3,\"device\":\"mobile\",\"position\":1,\"ts\":$((B2 + i * 10)),\"request_id\":\"s$i\",\"candidates\":[{\"ad_id\":1},{\"ad_id\":2},{\"ad_id\":3},{\"ad_id\":4}]}"
done
python3 - "$T" "$B2" <<'EOF'
import json, sys
T, B = sys.argv[1], int(sys.argv[2])
ev = []
for i in range(40):
    for k in range(4):
        ev.append({"type": "impression", "event_id": 300000 + i * 4 + k, "impression_id": 400000 + i * 4 + k,
                   "ts": B + 500, "request_id": "s%d" % i, "user_id": i, "ad_id": k + 1,
                   "site_id": 3, "device": "mobile", "position": 1})
ev.append({"type": "click", "event_id": 399999, "impression_id": 1, "ts": B + 150000, "user_id": 1, "ad_id": 1})
open(T + "/simps", "w").write("\n".join(json.dumps(e) for e in ev) + "\n")
EOF
post "$T/simps" > /dev/null
metrics_until "$T/m3" '^pronto_quality{metric="n_labeled",window="1m"'
# the /metrics lines as a dict: name{labels} -> value
cat > "$T/mdict.py" <<'EOF'
import sys
m = dict((l.rsplit(" ", 1)[0], float(l.rsplit(" ", 1)[1])) for l in open(sys.argv[1]) if l[0] != "#")
def g(k): return m[k]
EOF
check "sampling: some requests taken, the rest counted as left out, level raised" "python3 -c '
import sys; sys.path.insert(0, \"$T\"); from mdict import m, g
taken, out = g(\"pronto_quality_predictions_total\"), g(\"pronto_quality_unsampled_total{kind=\\\"prediction\\\"}\")
sys.exit(not (0 < taken < 40 and taken + out == 40 and g(\"pronto_quality_sample_level\") >= 2))' $T/m3"
check "sampling: every impression labeled as matched or left out, none unmatched or waiting" "python3 -c '
import sys; sys.path.insert(0, \"$T\"); from mdict import m, g
matched, un = g(\"pronto_quality_labeled_total{matched=\\\"true\\\"}\"), g(\"pronto_quality_unsampled_total{kind=\\\"impression\\\"}\")
n = sum(v for k, v in m.items() if k.startswith(\"pronto_quality{metric=\\\"n_labeled\\\",window=\\\"1m\\\"\"))
sys.exit(not (matched > 0 and matched % 4 == 0 and matched + un == 160 and n == matched
              and g(\"pronto_quality_labeled_total{matched=\\\"false\\\"}\") == 0))' $T/m3"
stop

start b --quality off
check "--quality off: no quality lines" \
    "[ -n '$PORT' ] && ! curl -s localhost:$PORT/metrics | grep -q '^pronto_quality'"
stop
"$P" serve --model "$T/lr.pm" --store mem: --quality maybe > /dev/null 2>&1
check "--quality maybe: exit 2" "[ \$? -eq 2 ]"
"$P" monitor quality --window 2m --log "log:$T/log" > /dev/null 2>&1
check "monitor quality --window 2m: exit 2" "[ \$? -eq 2 ]"
"$P" monitor nothing > /dev/null 2>&1
check "monitor nothing: exit 2" "[ \$? -eq 2 ]"
"$P" monitor quality --log "log:$T/nope" > /dev/null 2>&1
check "a missing log: exit 1" "[ \$? -eq 1 ]"
finish
