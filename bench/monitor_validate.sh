#!/bin/bash
# monitor_validate.sh: drift and quality alerts of a real `pronto serve`
# validated on the simulator's drift scenarios (issue 12, "Validation on
# the simulator"; docs/monitoring.md "Validation on the simulator"). Not
# run by ctest.
#
#   bench/monitor_validate.sh [PRONTO_BIN] [WORK_DIR]
#   CASES="broken-field ctr-shift" bench/monitor_validate.sh   # a subset
#
# For each case: `pronto simulate` at the default traffic (--imp-rate 20)
# from a Monday 00:00 UTC some days ago (events must not be older than the
# server's --max-event-age: 30d here), with the scenario at 36h (Tuesday
# 12:00); a model (FTRL-LR on the request's fields: user, ad, site,
# device, position, hour) trained on day 1's joined rows, every fifth row
# as --valid (so the profile's prediction sketch is the kept model's
# scores over a whole day); a real server with the default rules and a webhook
# receiver; and the stream [30h, 42h) replayed through it in event time by
# bench_replay (every impression a POST /v1/predict with its ts and a
# request_id, then a POST /v1/events of the impressions with that
# request_id and the clicks, in ts order; one sync per simulated minute
# so the quality thread's lag never counts as simulated delay). The
# drift-free week: 8 days simulated, day 1 trains, days 2-8 are replayed.
#
# Reported per case (results.tsv, and a table on stdout): every alert that
# went firing, with its delay in simulated minutes from the change in
# scenarios.log (negative: before the change, a false alarm; the week has
# no change: every firing is one), the first pending, the replay's wall
# time, and the server's drop counters (a faithful replay drops nothing).
#
# Environment: CASES (default: all six), SERVE_FLAGS (extra serve flags,
# e.g. a --monitors file), QUALITY_FLAGS (default: none, the server's
# defaults), KEEP=1 keeps the simulated data between runs.
set -eu
P=$(realpath "${1:-${PRONTO_BIN:-build/pronto}}")
W=${2:-/tmp/pronto-monitor-validate}
R=${BENCH_REPLAY:-$(dirname "$P")/bench_replay}
CASES=${CASES:-"broken-field ctr-shift interest-shift cold-start surge week"}
SERVE_FLAGS=${SERVE_FLAGS:-}
QUALITY_FLAGS=${QUALITY_FLAGS:-}
[ -x "$R" ] || { echo "monitor_validate: $R not built (cmake --build build)" >&2; exit 1; }
mkdir -p "$W"
H=3600
# a Monday 00:00 UTC at least 9 days ago: the week (8 days) ends a day ago
now=$(date -u +%s)
d0=$(( (now - 9 * 86400) / 86400 * 86400 ))
dow=$(date -u -d "@$d0" +%u)                  # 1 = Monday
START=$(( d0 - (dow - 1) * 86400 ))

cat > "$W/req.yaml" <<'EOF'
# the model of the validation: the request's own fields (no entity store),
# so a replayed impression is a complete request
version: 1
hash_bits: 18
seed: 0
input: {format: csv, label: label, timestamp: ts}
request:
  timestamp: ts
  columns: [user_id, ad_id, site_id, device, position]
  time: [hour_of_day]
fields:
  - {name: user_id, type: categorical}
  - {name: ad_id, type: categorical}
  - {name: site_id, type: categorical}
  - {name: device, type: categorical}
  - {name: position, type: categorical}
  - {name: hour, column: hour_of_day, type: categorical}
crosses:
  - [position, device]
  - [hour, device]
EOF

SPID=""; WPID=""
cleanup() {
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    [ -n "$WPID" ] && kill "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null
    SPID=""; WPID=""
}
trap cleanup EXIT

# a webhook receiver: every POST body one line in $1/hook.jsonl
receiver() {
    rm -f "$1/hook.jsonl" "$1/hook.port"
    python3 - "$1" <<'EOF' &
import http.server, os, sys
D = sys.argv[1]
out = open(D + "/hook.jsonl", "ab", buffering=0)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        out.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(D + "/hook.port.tmp", "w").write(str(s.server_port))
os.rename(D + "/hook.port.tmp", D + "/hook.port")
s.serve_forever()
EOF
    WPID=$!
    for _ in $(seq 1 100); do [ -s "$1/hook.port" ] && break; sleep 0.05; done
    WPORT=$(cat "$1/hook.port")
}

printf 'case\tchange_ms\talert\tfield\tfirst_pending_min\tfiring_min\tvalue\n' > "$W/results.tsv"
: > "$W/runs.txt"
for c in $CASES; do
    D="$W/$c"
    mkdir -p "$D"
    case $c in
    broken-field) SC="broken-field@36h"; SPAN=44h ;;
    ctr-shift) SC="ctr-shift@36h:1.5"; SPAN=44h ;;
    interest-shift) SC="interest-shift@36h"; SPAN=44h ;;
    cold-start) SC="cold-start@36h"; SPAN=44h ;;
    surge) SC="surge@36h:3:4h"; SPAN=44h ;;
    week) SC=""; SPAN=8d ;;
    *) echo "monitor_validate: unknown case $c" >&2; exit 2 ;;
    esac
    if [ "$c" = week ]; then FROM=$(( START + 24 * H )); TO=$(( START + 8 * 24 * H ))
    else FROM=$(( START + 30 * H )); TO=$(( START + 42 * H )); fi
    t0=$(date +%s.%N)
    if [ "${KEEP:-0}" != 1 ] || [ ! -s "$D/model.pm" ]; then
        rm -rf "$D/sim"
        "$P" simulate -o "$D/sim" --joined "$D/joined.csv" --start "$START" --duration "$SPAN" \
            ${SC:+--scenario "$SC"} --quiet
        # day 1: four rows of five train, the fifth validates (every hour of
        # the day in both: the reference's prediction histogram is the day's)
        # the joined rows' `hour` is the UTC hour: what the server derives
        # from a request's ts as hour_of_day
        sed -i '1s/,hour,/,hour_of_day,/' "$D/joined.csv"
        awk -F, -v b=$(( START + 24 * H )) 'NR == 1 || ($2 < b && NR % 5 != 0)' \
            "$D/joined.csv" > "$D/train.csv"
        awk -F, -v b=$(( START + 24 * H )) 'NR == 1 || ($2 < b && NR % 5 == 0)' \
            "$D/joined.csv" > "$D/valid.csv"
        "$P" train --format csv --spec "$W/req.yaml" --valid "$D/valid.csv" -o "$D/model.pm" \
            "$D/train.csv" > "$D/train.log" 2>&1
        rm -f "$D/joined.csv" "$D/train.csv" "$D/valid.csv"
    fi
    t1=$(date +%s.%N)
    receiver "$D"
    "$P" serve --model "$D/model.pm" --store mem: --listen 127.0.0.1:0 --max-event-age 30d \
        --alert-webhook "http://127.0.0.1:$WPORT/hook" $QUALITY_FLAGS $SERVE_FLAGS \
        > "$D/serve.out" 2> "$D/serve.err" &
    SPID=$!
    PORT=""
    for _ in $(seq 1 300); do
        PORT=$(sed -n 's/^pronto serve: listening on port \([0-9]*\)$/\1/p' "$D/serve.out")
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    [ -n "$PORT" ] || { echo "monitor_validate: $c: the server did not start" >&2; cat "$D/serve.err" >&2; exit 1; }
    LATE=$(python3 -c '
import sys
f = sys.argv[1].split()
v = "10m"
for i, a in enumerate(f):
    if a == "--quality-lateness": v = f[i + 1]
u = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}
n = v.rstrip("mshd") if not v.endswith("ms") else v[:-2]
unit = v[len(n):]
print(int(float(n) * u[unit]))' "$QUALITY_FLAGS $SERVE_FLAGS")
    "$R" --port "$PORT" --from $(( FROM * 1000 )) --to $(( TO * 1000 )) --sync-lateness "$LATE" \
        "$D"/sim/events-*.jsonl > "$D/replay.out"
    t2=$(date +%s.%N)
    curl -s "localhost:$PORT/metrics" > "$D/metrics"
    curl -s "localhost:$PORT/v1/monitor" > "$D/monitor.json"
    kill -TERM "$SPID"; wait "$SPID" || true; SPID=""
    sleep 0.3
    kill "$WPID"; wait "$WPID" 2>/dev/null || true; WPID=""
    change=$(awk -F'\t' 'NR == 2 {print $1}' "$D/sim/scenarios.log")
    python3 - "$c" "${change:-0}" "$D" "$W/results.tsv" <<'EOF'
import json, sys
case, change, D, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ev = [json.loads(l) for l in open(D + "/hook.jsonl")] if __import__("os").path.exists(D + "/hook.jsonl") else []
rows, pend = [], {}
for e in ev:
    k = (e["alert"], e["labels"]["field"])
    if e["state"] == "pending": pend[k] = e["at"]
    if e["state"] == "firing":
        rows.append((e["alert"], e["labels"]["field"], pend.get(k, e["at"]), e["at"], e["value"]))
ref = change if change else 0
with open(out, "a") as f:
    if not rows: f.write("%s\t%d\t-\t-\t-\t-\t-\n" % (case, change))
    for a, fld, p, at, v in rows:
        m = lambda t: "%.0f" % ((t - ref) / 60000.0) if ref else "abs:%d" % t
        f.write("%s\t%d\t%s\t%s\t%s\t%s\t%s\n" % (case, change, a, fld or "-", m(p), m(at), v))
EOF
    m=$(grep -E '^pronto_monitor_dropped_requests_total|^pronto_quality_dropped_total|^pronto_alert_webhook_total' "$D/metrics" | tr '\n' ' ')
    printf '%s: simulate+train %.0f s, replay %.0f s: %s| %s\n' "$c" \
        "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(cat "$D/replay.out")" "$m" | tee -a "$W/runs.txt"
done
echo
column -t -s "$(printf '\t')" "$W/results.tsv"
