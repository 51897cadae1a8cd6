#!/bin/bash
# cli_monitor_serve.sh: drift monitoring and alerts in a real `pronto serve`
# on loopback, driven in event time (every request carries the ts of a
# training row, so windows and alerts follow simulated minutes). The model
# reads request columns only (no entities), so replaying its training rows
# as requests is the reference traffic itself. Checks:
#   - a field made missing from minute 15: its missing_delta is 100 in the
#     1m window and it leads the drift list; the `missing` rule (1m, for 2m)
#     goes pending at 16:00 and firing at 18:00 of event time, shown in
#     /v1/monitor (since / firing_since) and /metrics (pronto_alert,
#     pronto_drift), and a real webhook receiver gets both transitions;
#   - the same traffic unbroken with the default rules: nothing fires;
#   - four concurrent clients: every request counted once in its minute;
#   - a model file without a profile: /v1/monitor says drift off and why,
#     predictions still answered;
#   - NaN, huge, unseen values and absurd ts: answered, nothing breaks
#     (a far-future ts is dropped as `ahead`, the clock stays);
#   - a retrain: true rule over registry:DIR writes a retrain request;
#   - --monitor off, and bad flags (exit 2 naming the flag) and a malformed
#     monitors file (start fails naming file:line:col).
. "$(dirname "$0")/lib_cli.sh"
SRC=${PRONTO_SRC:?}
STRIP=$(dirname "$P")/tool_model_strip_profile

"$P" simulate -o "$T/d" --duration 30m --users 300 --ads 60 --advertisers 20 --sites 40 \
    --imp-rate 3 --quiet
sed 's/^hash_bits: 20/hash_bits: 14/' "$SRC/specs/sim-store.yaml" > "$T/store.yaml"
"$P" build-dataset --spec "$T/store.yaml" --data "$T/d" -o "$T/rows.csv" > /dev/null 2>&1
cat > "$T/req.yaml" <<'EOF'
version: 1
hash_bits: 14
seed: 0
request:
  timestamp: ts
  columns: [user_id, ad_id, site_id, device, position]
fields:
  - {name: user_id, type: categorical}
  - {name: ad_id, type: categorical}
  - {name: site_id, type: categorical}
  - {name: device, type: categorical}
  - {name: position, type: categorical}
  - {name: pos_num, column: position, type: numeric, transform: identity}
EOF
# the last fifth validates: the profile's prediction sketch is then the
# kept model's scores (progressive scores of pass 1 come from a model still
# learning and differ from what the trained model serves)
n=$(( $(wc -l < "$T/rows.csv") - 1 ))
head -n $(( n * 4 / 5 + 1 )) "$T/rows.csv" > "$T/train.csv"
{ head -n 1 "$T/rows.csv"; tail -n +$(( n * 4 / 5 + 2 )) "$T/rows.csv"; } > "$T/valid.csv"
"$P" train --format csv --spec "$T/req.yaml" --valid "$T/valid.csv" -o "$T/req.pm" "$T/train.csv" > /dev/null
check "model trained with a profile" \
    "[ -s $T/req.pm ] && $P inspect --profile $T/req.pm | grep -q '^  position  *num'"
"$STRIP" "$T/req.pm" "$T/old.pm"
check "a copy without its profile" \
    "[ -s $T/old.pm ] && $P inspect --profile $T/old.pm 2>&1 | grep -qiv 'reference profile: [0-9]'"
B=$(( $(sed -n 2p "$T/rows.csv" | cut -d, -f2) / 60000 * 60000 ))   # the first minute

SPID=""; WPID=""; SNAME=""
trap '[ -n "$SPID" ] && kill -9 $SPID 2>/dev/null; [ -n "$WPID" ] && kill $WPID 2>/dev/null; rm -rf "$T"' EXIT
start() { # start NAME FLAGS...: sets SPID and PORT
    local name=$1; shift
    SNAME=$name
    "$P" serve --listen 127.0.0.1:0 --store mem: "$@" > "$T/$name.out" 2> "$T/$name.err" &
    SPID=$!
    PORT=$(serve_port "$T/$name.out" "$SPID")
}
stop() { kill -TERM "$SPID"; wait "$SPID"; SPID=""; }
mon() { curl -s "localhost:$PORT/v1/monitor"; }
# replays the training rows with FROM <= ts - B < TO (ms) as one-candidate
# predicts; BROKEN=COL@MS drops COL from requests at or after B + MS
replay() {
    python3 - "$PORT" "$T/rows.csv" "$B" "$1" "$2" "${BROKEN:--}" <<'EOF'
import csv, http.client, json, sys
port, path, b, lo, hi, broken = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
col, at = (broken.split("@")[0], int(broken.split("@")[1])) if broken != "-" else (None, 0)
c = http.client.HTTPConnection("127.0.0.1", port)
bad = 0
for i, row in enumerate(csv.DictReader(open(path))):
    t = int(row["ts_ms"])
    if not (lo <= t - b < hi):
        continue
    req = {"request_id": "r%d" % i, "ts": t, "candidates": [{"ad_id": row["ad_id"]}]}
    for k in ("user_id", "site_id", "device", "position"):
        req[k] = row[k]
    if col and t - b >= at:
        del req[col]
    c.request("POST", "/v1/predict", json.dumps(req))
    r = c.getresponse()
    r.read()
    bad += r.status != 200
if bad:
    print("replay: %d requests not answered 200" % bad, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}
# waits (up to 120 s of wall time, however slow each look is on a loaded
# machine) until the monitor has closed the minutes before B + $1 ms; if
# it never does, prints what the monitor says (clock, drops) and the
# server's last lines
wait_closed() {
    local until=$(( $(date +%s) + 120 ))
    while [ "$(date +%s)" -lt $until ]; do
        c=$(mon | python3 -c 'import json,sys; print(json.load(sys.stdin)["clock"]["closed_until_ms"] or 0)')
        [ "${c:-0}" -ge $(( B + $1 )) ] && return 0
        sleep 0.1
    done
    echo "wait_closed $(( $1 / MIN )):00: /v1/monitor's clock and drops (B=$B):"
    mon | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("clock"), d.get("dropped"))'
    tail -5 "$T/$SNAME.err"
    return 1
}
# prints field $2 of the alert named $1 on field position, as JSON
alert_of() {
    mon | python3 -c '
import json, sys
for a in json.load(sys.stdin)["alerts"]:
    if a["name"] == sys.argv[1] and a["field"] == "position": print(json.dumps(a[sys.argv[2]]))' "$1" "$2"
}

# a webhook receiver: every POST body one line in $T/hook.jsonl, 200
python3 - "$T" <<'EOF' &
import http.server, sys
T = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(T + "/hook.jsonl", "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(T + "/hook.port.tmp", "w").write(str(s.server_port))
import os; os.rename(T + "/hook.port.tmp", T + "/hook.port")
s.serve_forever()
EOF
WPID=$!
for _ in $(seq 1 100); do [ -s "$T/hook.port" ] && break; sleep 0.05; done
WPORT=$(cat "$T/hook.port")

cat > "$T/mon.yaml" <<'EOF'
rules:
  - name: missing
    metric: missing_delta
    window: 1m
    op: ">="
    threshold: 5
    for: 2m
    min_n: 50
    severity: critical
EOF

# --- a broken field, in event time
start broken --model "$T/req.pm" --monitors "$T/mon.yaml" \
    --alert-webhook "http://127.0.0.1:$WPORT/hook"
check "serve starts with monitoring" "[ -n '$PORT' ]"
MIN=60000
BROKEN=position@$((15 * MIN)) replay 0 $((17 * MIN))
check "replay to 17:00 answered" "[ $? -eq 0 ]"
check "minutes closed through 16:00" "wait_closed $((16 * MIN))"
mon > "$T/m1.json"
check "clock follows the requests' ts" "grep -q '\"source\":\"request_ts\"' $T/m1.json"
check "missing_delta of position is 100 in the 1m window, drift sorted worst first" "python3 -c '
import json, sys
w = json.load(open(sys.argv[1]))[\"arms\"][0][\"windows\"][\"1m\"]
d = [x for x in w[\"drift\"] if x[\"field\"] == \"position\"][0]
sc = [x[\"score\"] for x in w[\"drift\"]]
sys.exit(not (d[\"missing_delta\"] == 100 and d[\"score\"] == 20 and sc == sorted(sc, reverse=True)
              and w[\"end_ms\"] == $B + 16 * $MIN))' $T/m1.json"
check "the alert is pending since 16:00 (event time)" \
    "[ \"\$(alert_of missing state)\" = '\"pending\"' ] && [ \"\$(alert_of missing since_ms)\" = $((B + 16 * MIN)) ]"
curl -s "localhost:$PORT/metrics" > "$T/metrics1"
check "/metrics: pronto_alert pending" \
    "grep -q '^pronto_alert{name=\"missing\",state=\"pending\",severity=\"critical\",field=\"position\",arm=\"\",version=\"[0-9a-f]*\"} 1$' $T/metrics1"
check "/metrics: pronto_drift missing_delta 100" \
    "grep -q '^pronto_drift{field=\"position\",stat=\"missing_delta\",window=\"1m\",arm=\"\"} 100$' $T/metrics1"
BROKEN=position@$((15 * MIN)) replay $((17 * MIN)) $((40 * MIN))
check "replay to 30:00 answered" "[ $? -eq 0 ]"
check "minutes closed through 29:00" "wait_closed $((29 * MIN))"
check "firing since 18:00 (event time)" \
    "[ \"\$(alert_of missing state)\" = '\"firing\"' ] && [ \"\$(alert_of missing firing_since_ms)\" = $((B + 18 * MIN)) ]"
check "/metrics: pronto_alert firing" \
    "curl -s localhost:$PORT/metrics | grep -q '^pronto_alert{name=\"missing\",state=\"firing\",.*field=\"position\"'"
for _ in $(seq 1 100); do grep -q '"firing"' "$T/hook.jsonl" 2>/dev/null && break; sleep 0.1; done
check "the webhook got pending then firing" "python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ev = [(e[\"state\"], e[\"at\"]) for e in ev if e[\"alert\"] == \"missing\" and e[\"labels\"][\"field\"] == \"position\"]
sys.exit(ev[:2] != [(\"pending\", $B + 16 * $MIN), (\"firing\", $B + 18 * $MIN)])' $T/hook.jsonl"
check "/metrics: webhook sent" \
    "curl -s localhost:$PORT/metrics | grep -q '^pronto_alert_webhook_total{outcome=\"sent\"} [1-9]'"

# --- bad input: answered, nothing breaks
for body in '{"position":"NaN"}' '{"position":"1e308"}' '{"position":"-inf"}' \
            '{"user_id":"never-seen","device":""}' "{\"site_id\":\"$(head -c 3000 /dev/zero | tr '\0' x)\"}" \
            '{"ts":4102444800000}' '{"ts":0}'; do
    curl -s -o /dev/null -w '%{http_code}\n' "localhost:$PORT/v1/predict" \
        -d "$(python3 -c 'import json,sys; r = {"ts": 1704068940000, "position": "1", "candidates": [{"ad_id": "1"}]}; r.update(json.loads(sys.argv[1])); print(json.dumps(r))' "$body")"
done > "$T/codes"
check "NaN, huge, unseen values and odd ts answered 200" "[ \$(grep -c '^200$' $T/codes) -eq 7 ]"
sleep 0.5
mon > "$T/m2.json"
check "the clock did not jump to the far-future ts" "python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(not (d[\"clock\"][\"event_time_ms\"] < $B + 60 * $MIN and d[\"dropped\"][\"ahead\"] >= 1))' $T/m2.json"
stop
check "stops cleanly" "grep -q 'stopped (0 requests cut short)' $T/broken.err"

# --- the reference traffic with the default rules: nothing fires
start same --model "$T/req.pm"
replay 0 $((40 * MIN))
check "replay of the reference traffic answered" "[ $? -eq 0 ]"
check "minutes closed through 29:00 (reference traffic)" "wait_closed $((29 * MIN))"
mon > "$T/m3.json"
# At ~1000 requests per 5 minutes (this world's traffic, the default
# rules' min_n) the JS distance of a 300-value field sits near its 0.1
# threshold by sampling noise alone, so a drift rule may go pending for a
# minute; nothing may fire (pending is not paged; `for` is 10m).
check "nothing fires on the reference traffic" "python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(not (all(a[\"state\"] != \"firing\" for a in d[\"alerts\"]) and d[\"rules\"][\"from\"] == \"defaults\"))' $T/m3.json && ! grep -q -- '-> firing' $T/same.err"
check "5m and 1h windows figured" "python3 -c '
import json, sys
w = json.load(open(sys.argv[1]))[\"arms\"][0][\"windows\"]
sys.exit(not (w[\"5m\"][\"requests\"] > w[\"1m\"][\"requests\"] > 0 and len(w[\"1h\"][\"drift\"]) == 6))' $T/m3.json"
# four clients at once, 500 requests each, spread over minute $1 (the
# HTTP threads write their halves while the monitor flips and harvests)
four_clients() {
    local cpids="" c
    for c in 0 1 2 3; do
        python3 - "$PORT" $(( B + $1 * MIN )) $c <<'EOF' &
import http.client, json, sys
port, t0, c = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
h = http.client.HTTPConnection("127.0.0.1", port)
for i in range(500):
    h.request("POST", "/v1/predict", json.dumps({"ts": t0 + (i * 4 + c) * 25, "user_id": str(i % 50),
              "position": "1", "candidates": [{"ad_id": str(i % 7)}]}))
    r = h.getresponse(); r.read()
EOF
        cpids="$cpids $!"
    done
    wait $cpids
}
# minute 31 counts each request exactly once
four_clients 31
curl -s -o /dev/null "localhost:$PORT/v1/predict" -d "{\"ts\":$(( B + 33 * MIN )),\"candidates\":[{\"ad_id\":\"1\"}]}"
check "minute 32 closed" "wait_closed $((32 * MIN))"
check "four concurrent clients: 2000 requests in minute 31, none dropped" "mon | python3 -c '
import json, sys
d = json.load(sys.stdin)
h = [x for x in d[\"arms\"][0][\"history\"] if x[\"start_ms\"] == $B + 31 * $MIN]
sys.exit(not (h and h[0][\"requests\"] == 2000 and sum(d[\"dropped\"].values()) == 0))'"
stop

# --- row sampling: --monitor-rows 200 (100 rows a minute for each of the
# 2 HTTP threads): minute 31 (no previous minute) stops at twice the
# budget, minute 32 samples requests at random near the budget; every
# request is still counted
start sampled --model "$T/req.pm" --threads 2 --monitor-rows 200
four_clients 31
four_clients 32
curl -s -o /dev/null "localhost:$PORT/v1/predict" -d "{\"ts\":$(( B + 34 * MIN )),\"candidates\":[{\"ad_id\":\"1\"}]}"
check "minute 33 closed (sampled)" "wait_closed $((33 * MIN))"
check "--monitor-rows 200: every request counted, rows profiled bounded (<= 400, then near 200)" "mon | python3 -c '
import json, sys
d = json.load(sys.stdin)
h = dict((x[\"start_ms\"], x) for x in d[\"arms\"][0][\"history\"])
a, b = h[$B + 31 * $MIN], h[$B + 32 * $MIN]
print(\"rows profiled:\", a[\"rows_profiled\"], b[\"rows_profiled\"], file=sys.stderr)
sys.exit(not (a[\"requests\"] == 2000 and b[\"requests\"] == 2000 and 100 <= a[\"rows_profiled\"] <= 400
              and 80 <= b[\"rows_profiled\"] <= 400))'"
stop

# --- a model file without a profile: drift off, still serving
start old --model "$T/old.pm"
check "serves the profile-less model" \
    "curl -s localhost:$PORT/v1/predict -d '{\"position\":\"1\",\"candidates\":[{\"ad_id\":\"1\"}]}' | grep -q predictions"
check "/v1/monitor: drift off, and why" \
    "mon | grep -q '\"drift\":false,\"drift_off_reason\":\"the model file has no reference profile'"
check "/metrics: pronto_monitor_info drift off" \
    "curl -s localhost:$PORT/metrics | grep -q '^pronto_monitor_info{arm=\"\",version=\"[0-9a-f]*\",drift=\"off\"} 1$'"
stop

# --- retrain: true over a registry writes a retrain request
R="$T/reg"
"$P" registry init "$R" > /dev/null
"$P" registry register "$R" "$T/req.pm" --alias production > /dev/null
sed 's/severity: critical/severity: critical\n    retrain: true/' "$T/mon.yaml" > "$T/mon_rt.yaml"
start reg --model "registry:$R" --monitors "$T/mon_rt.yaml"
BROKEN=position@$((2 * MIN)) replay 0 $((8 * MIN))
check "replay to 8:00 answered (registry)" "[ $? -eq 0 ]"
check "minutes closed through 6:00 (registry)" "wait_closed $((6 * MIN))"
check "a firing retrain rule wrote a retrain request" \
    "[ -s $R/requests/retrain ] && grep -q missing $R/requests/retrain"
stop

# --- off, bad flags, a malformed monitors file
start off --model "$T/req.pm" --monitor off
check "--monitor off: /v1/monitor says off, no drift lines" \
    "mon | grep -q '\"monitor\":\"off\"' && ! curl -s localhost:$PORT/metrics | grep -q pronto_drift"
stop
"$P" serve --model "$T/req.pm" --store mem: --monitor maybe 2> "$T/e"
check "--monitor maybe: exit 2 naming the flag" "[ $? -eq 2 ] && grep -q -- '--monitor' $T/e"
"$P" serve --model "$T/req.pm" --store mem: --alert-webhook ftp://x 2> "$T/e"
check "--alert-webhook ftp://: exit 2 naming the flag" "[ $? -eq 2 ] && grep -q -- '--alert-webhook' $T/e"
printf 'rules:\n  - name: x\n    metric: psi\n    window: 7m\n' > "$T/bad.yaml"
"$P" serve --model "$T/req.pm" --store mem: --listen 127.0.0.1:0 --monitors "$T/bad.yaml" \
    > /dev/null 2> "$T/e"
check "a malformed monitors file fails start naming file:line:col" \
    "[ $? -eq 1 ] && grep -q 'bad.yaml:[0-9]*:[0-9]*' $T/e"
finish
