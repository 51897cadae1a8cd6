#!/bin/bash
# cli_dashboard.sh: GET /dashboard of a real `pronto serve` on loopback,
# loaded in Debian's headless Chromium.
#   - HTTP: 200 text/html with a Content-Security-Policy whose nonce is the
#     page's own (fresh per answer), HEAD, 405 for POST, a page that
#     fetches nothing from elsewhere, counted in /metrics;
#   - a server of two A/B arms (registry: `production` a model with its
#     profile, `b` the same model without it) driven in event time, minute
#     by minute: predicts carrying ts (field `position` missing from minute
#     8: the `missing_position` rule goes firing), then the minute's
#     impressions and clicks (production's only) so live-quality windows
#     close. In Chromium the page draws every chart with the server's
#     points (as many as /v1/monitor's history and quality_history hold),
#     shows the registry version, the firing alert, arm b's "drift off"
#     and "no labeled outcomes yet", a 1m requests figure equal to
#     /v1/monitor's, logs nothing to the console and reports no script
#     error; its screenshot is not blank;
#   - a single model without a profile and no traffic: the page renders
#     its empty states (drift off and why, no labeled outcomes yet).
# One Chromium loads the three pages over the DevTools protocol
# (tests/lib_chromium.py: 8 s of virtual time per page, two polls; its
# console messages, exceptions and log entries such as CSP refusals
# collected); a probe page that logs an error and throws, loaded first,
# shows the capture works.
. "$(dirname "$0")/lib_cli.sh"
SRC=${PRONTO_SRC:?}
STRIP=$(dirname "$P")/tool_model_strip_profile
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    fail "chromium is not installed (scripts/bootstrap installs it)"
    finish
fi

"$P" simulate -o "$T/d" --duration 20m --users 200 --ads 40 --advertisers 10 --sites 30 \
    --imp-rate 1 --quiet
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
EOF
n=$(( $(wc -l < "$T/rows.csv") - 1 ))
head -n $(( n * 4 / 5 + 1 )) "$T/rows.csv" > "$T/train.csv"
{ head -n 1 "$T/rows.csv"; tail -n +$(( n * 4 / 5 + 2 )) "$T/rows.csv"; } > "$T/valid.csv"
"$P" train --format csv --spec "$T/req.yaml" --valid "$T/valid.csv" -o "$T/req.pm" "$T/train.csv" > /dev/null 2>&1
"$STRIP" "$T/req.pm" "$T/old.pm"
R="$T/reg"
"$P" registry init "$R" > /dev/null
"$P" registry register "$R" "$T/req.pm" --alias production > /dev/null
"$P" registry register "$R" "$T/old.pm" --alias b > /dev/null
check "models trained and registered" "[ -s $T/req.pm ] && [ -s $T/old.pm ] && [ -d $R ]"
cat > "$T/mon.yaml" <<'EOF'
rules:
  - name: missing_position
    metric: missing_delta
    field: position
    window: 1m
    op: ">="
    threshold: 5
    for: 2m
    min_n: 20
    severity: critical
  - name: calibration_band
    metric: calibration
    window: 5m
    op: outside
    threshold: [0.2, 5]
    min_n: 100
EOF

SPIDS=""
trap 'for p in $SPIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
start() { # start NAME FLAGS...: sets PORT (the server's pid joins SPIDS)
    local name=$1 pid; shift
    "$P" serve --listen 127.0.0.1:0 --store mem: "$@" > "$T/$name.out" 2> "$T/$name.err" &
    pid=$!
    SPIDS="$SPIDS $pid"
    PORT=$(serve_port "$T/$name.out" "$pid")
}
# --- a model without a profile, no traffic: the empty states
start off --model "$T/old.pm"
OPORT=$PORT
check "serve starts (model without a profile)" "[ -n '$OPORT' ]"
curl -s -D "$T/h1" -o "$T/page1.html" "localhost:$OPORT/dashboard"
curl -s -D "$T/h2" -o "$T/page2.html" "localhost:$OPORT/dashboard"
hdr() { tr -d '\r' < "$1" | sed -n "s/^$2: //Ip"; }
CSP=$(hdr "$T/h1" Content-Security-Policy)
NONCE=$(printf '%s' "$CSP" | sed -n "s/.*script-src 'nonce-\([A-Za-z0-9+/=]*\)'.*/\1/p")
check "GET /dashboard: 200 text/html" \
    "head -1 $T/h1 | grep -q ' 200' && [ \"\$(hdr $T/h1 Content-Type)\" = 'text/html; charset=utf-8' ]"
check "the CSP allows nothing but the page's nonce and its own origin" \
    "[[ \"\$CSP\" == \"default-src 'none'; script-src 'nonce-\$NONCE'; style-src 'nonce-\$NONCE'; connect-src 'self';\"* ]] && [ \${#NONCE} -eq 24 ]"
check "the page's script and style carry the header's nonce" \
    "[ \$(grep -c \"<script nonce=\\\"\$NONCE\\\">\\|<style nonce=\\\"\$NONCE\\\">\" $T/page1.html) -eq 2 ] && [ \$(grep -c '<script' $T/page1.html) -eq 1 ]"
check "a fresh nonce per answer" \
    "[ -n \"\$NONCE\" ] && ! grep -q \"\$NONCE\" $T/page2.html && ! grep -q \"\$NONCE\" $T/h2"
check "nosniff, no-store" \
    "[ \"\$(hdr $T/h1 X-Content-Type-Options)\" = nosniff ] && [ \"\$(hdr $T/h1 Cache-Control)\" = no-store ]"
check "self-contained: no URL but the SVG namespace, no src or external href" \
    "[ \"\$(grep -o 'https\\?://[^\"]*' $T/page1.html | sort -u)\" = 'http://www.w3.org/2000/svg' ] && ! grep -q ' src=' $T/page1.html && [ \"\$(grep -o 'href=\"[^\"]*\"' $T/page1.html)\" = 'href=\"data:,\"' ]"
curl -s -I "localhost:$OPORT/dashboard" > "$T/head"
check "HEAD /dashboard: 200, the headers, no body" \
    "head -1 $T/head | grep -q ' 200' && grep -qi '^content-security-policy: default-src' $T/head && [ \"\$(hdr $T/head Content-Length)\" = \"\$(hdr $T/h1 Content-Length)\" ]"
check "POST /dashboard: 405, Allow: GET, HEAD" \
    "curl -s -D - -o /dev/null -X POST localhost:$OPORT/dashboard -d x | tr -d '\\r' | grep -q '^Allow: GET, HEAD$'"
check "/metrics counts the route" \
    "curl -s localhost:$OPORT/metrics | grep -q '^pronto_http_requests_total{route=\"dashboard\",code=\"200\"} 3$'"

# --- two arms in event time
start ab --model "registry:$R" --split production:60,b:40 --monitors "$T/mon.yaml" \
    --quality-window 60s --quality-lateness 10s
check "serve starts (two arms)" "[ -n '$PORT' ]"
NOW=$(date +%s%3N)
B=$(( (NOW / 60000 - 20) * 60000 ))
MIN=60000
# replays the first 16 minutes of rows at ts shifted to start at B, one
# minute at a time: its predicts (no `position` from minute 8), then its
# impressions (production's answers only) and clicks 2 s later
python3 - "$PORT" "$T/rows.csv" "$B" <<'EOF'
import csv, http.client, json, sys
port, path, b = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rows = list(csv.DictReader(open(path)))
t0 = int(rows[0]["ts_ms"]) // 60000 * 60000
c = http.client.HTTPConnection("127.0.0.1", port)
def post(url, body):
    c.request("POST", url, body)
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit("%s: %d %s" % (url, r.status, data[:300]))
    return data
i = 0
for minute in range(16):
    events = []
    while i < len(rows) and int(rows[i]["ts_ms"]) - t0 < (minute + 1) * 60000:
        row, t = rows[i], int(rows[i]["ts_ms"]) - t0 + b
        req = {"request_id": "r%d" % i, "ts": t, "candidates": [{"ad_id": row["ad_id"]}]}
        for k in ("user_id", "site_id", "device", "position"):
            req[k] = row[k]
        if minute >= 8:
            del req["position"]
        if json.loads(post("/v1/predict", json.dumps(req)))["arm"] == "production":
            events.append({"type": "impression", "event_id": 2 * i, "impression_id": i, "ts": t,
                           "request_id": "r%d" % i, "ad_id": row["ad_id"], "user_id": row["user_id"]})
            if row["label"] == "1":
                events.append({"type": "click", "event_id": 2 * i + 1, "impression_id": i,
                               "ts": t + 2000, "ad_id": row["ad_id"], "user_id": row["user_id"]})
        i += 1
    events.sort(key=lambda e: e["ts"])
    if events:
        post("/v1/events", "".join(json.dumps(e) + "\n" for e in events))
EOF
check "16 minutes of predicts and events answered" "[ $? -eq 0 ]"
mon() { curl -s "localhost:$PORT/v1/monitor"; }
# until minute 14 is closed and production has closed quality windows
for _ in $(seq 1 300); do
    mon > "$T/m.json"
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
a = d["arms"][0]
sys.exit(not ((d["clock"]["closed_until_ms"] or 0) >= int(sys.argv[2]) and a["quality_history"]))' \
        "$T/m.json" $((B + 15 * MIN)) && break
    sleep 0.1
done
check "/v1/monitor: history, quality history, rules and transitions" "python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
p, b = d[\"arms\"]
h = p[\"history\"]
sys.exit(not (p[\"arm\"] == \"production\" and b[\"arm\"] == \"b\" and not b[\"drift\"] and
              len(h) == 15 and h[0][\"start_ms\"] == $B and h[-1][\"version\"] == p[\"version\"] and
              h[-1][\"drift_top_field\"] is not None and h[-1][\"rows_profiled\"] > 0 and
              p[\"quality_history\"][0][\"version\"] == p[\"version\"] and
              p[\"quality_history\"][0][\"points\"][0][\"n_labeled\"] > 0 and b[\"quality_history\"] == [] and
              [r[\"name\"] for r in d[\"rules\"][\"list\"]] == [\"missing_position\", \"calibration_band\"] and
              d[\"rules\"][\"list\"][1][\"threshold_hi\"] == 5 and
              [(t[\"name\"], t[\"to\"], t[\"at_ms\"]) for t in d[\"transitions\"] if t[\"arm\"] == \"production\"]
                == [(\"missing_position\", \"pending\", $B + 9 * $MIN), (\"missing_position\", \"firing\", $B + 11 * $MIN)]))
' $T/m.json"

printf '<!DOCTYPE html><title>x</title><script>console.error("probe-error"); nosuch();</script>\n' \
    > "$T/probe.html"
timeout 150 python3 "$SRC/tests/lib_chromium.py" "$CHROMIUM" "$T" "probe=file://$T/probe.html" \
    "off=http://127.0.0.1:$OPORT/dashboard" "ab=http://127.0.0.1:$PORT/dashboard@shot"
check "chromium: the pages loaded" \
    "[ -s $T/probe.dom ] && [ -s $T/off.dom ] && [ -s $T/ab.dom ] && [ -s $T/ab.png ]"
mon > "$T/m2.json"
# the figures the page shows, from the dumped DOM
python3 - "$T/ab.dom" "$T/m2.json" > "$T/ab.facts" <<'EOF'
import html, json, re, sys
dom, m = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
def attr(id_, name):
    x = re.search(r'<[^>]*\bid="%s"[^>]*>' % re.escape(id_), dom)
    y = x and re.search(r'\b%s="([^"]*)"' % name, x.group(0))
    return y.group(1) if y else None
def text(id_):
    x = re.search(r'id="%s"[^>]*>([^<]*)<' % re.escape(id_), dom)
    return html.unescape(x.group(1)) if x else None
body = re.search(r"<body([^>]*)>", dom).group(1)
print("errors", re.search(r'data-errors="(\d+)"', body).group(1))
print("rendered", re.search(r'data-rendered="(\d+)"', body).group(1))
for c in ("c-rps", "c-lat", "c-pred", "c-cal", "c-ne", "c-drift-t"):
    print(c, attr(c, "data-state"), attr(c, "data-points"), attr(c, "data-lines"))
print("c-drift-0", attr("c-drift-0", "data-state"), attr("c-drift-0", "data-bars"))
arms = m["arms"]
# the points the server holds: history per arm, quality per version
hist = lambda k: sum(1 for a in arms for p in a["history"] if p[k] is not None)
qual = lambda k: sum(1 for a in arms for s in a["quality_history"] for p in s["points"] if p[k] is not None)
print("want-rps", hist("requests_per_s"))
print("want-lat", hist("latency_p50_us") + hist("latency_p99_us"))
print("want-pred", hist("prediction_mean") + qual("mean_p") + qual("ctr"))
print("want-cal", qual("calibration"))
print("want-ne", qual("ne"))
print("want-drift", sum(1 for a in arms if a["drift"] for p in a["history"] if p["drift_top_score"] is not None))
print("want-bars", min(12, len(arms[0]["windows"]["1m"]["drift"])))
print("requests", text("a0-requests"), arms[0]["windows"]["1m"]["requests"])
print("requests-b", text("a1-requests"), arms[1]["windows"]["1m"]["requests"])
print("version", arms[0]["version"] in text("h-model"), arms[0]["version"])
firing = [a["name"] for a in m["alerts"] if a["state"] == "firing"]
row = re.search(r'<tr><td><span class="state firing">firing</span></td><td>([^<]*)</td>', dom)
print("firing", firing == ["missing_position"], row.group(1) if row else None)
print("drift-off-b", text("drift-off-1"))
notes = " ".join(html.unescape(n) for n in re.findall(r'<div class="notice">([^<]*)</div>', dom))
print("notices", json.dumps(notes))
EOF
cat "$T/ab.facts"
fact() { sed -n "s/^$1 //p" "$T/ab.facts"; }
check "chromium: the page rendered twice (two polls), no script error" \
    "[ \"\$(fact errors)\" = 0 ] && [ \"\$(fact rendered)\" -ge 2 ]"
check "chromium: nothing logged to the console" "[ -f $T/ab.console ] && [ ! -s $T/ab.console ]"
for c in rps lat pred cal ne; do
    check "chromium: chart $c drawn with the server's $(fact want-$c) points" \
        "[[ \"\$(fact c-$c)\" == \"drawn \$(fact want-$c) \"* ]] && [ \$(fact want-$c) -ge 5 ]"
done
check "chromium: the worst-drift chart drawn with production's points" \
    "[ \"\$(fact c-drift-t)\" = \"drawn \$(fact want-drift) 1\" ] && [ \$(fact want-drift) -ge 10 ]"
check "chromium: lines drawn (2 arms x p50, p99 and served mean p; quality)" \
    "[ \"\$(fact c-lat | cut -d' ' -f3)\" = 4 ] && [ \"\$(fact c-cal | cut -d' ' -f3)\" = 1 ]"
check "chromium: drift bars for production's fields, worst first" \
    "[ \"\$(fact c-drift-0)\" = \"drawn \$(fact want-bars)\" ] && [ \$(fact want-bars) -eq 6 ]"
check "chromium: the 1m requests figures are /v1/monitor's" \
    "r=(\$(fact requests)); b=(\$(fact requests-b)); [ \"\${r[0]}\" = \"\${r[1]}\" ] && [ \"\${b[0]}\" = \"\${b[1]}\" ] && [ \"\${r[0]}\" -gt 0 ]"
check "chromium: the registry version in the header" "[ \"\$(fact version)\" = 'True v000001' ]"
check "chromium: the firing alert by name" "[ \"\$(fact firing)\" = 'True missing_position' ]"
check "chromium: arm b says drift off and why" \
    "[[ \"\$(fact drift-off-b)\" == 'drift off: the model file has no reference profile'* ]]"
check "chromium: arm b has no labeled outcomes yet" \
    "[[ \"\$(fact notices)\" == *'no labeled outcomes yet (arm b)'* ]]"
python3 - "$T/ab.png" > "$T/shot.txt" <<'EOF'
# decodes the PNG (8-bit, non-interlaced) with zlib and struct only:
# distinct colours and the share of pixels unlike the most common one
import struct, sys, zlib
from collections import Counter
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("not a PNG")
pos, idat = 8, []
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    pos += 12 + n
    if typ == b"IHDR":
        w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
    elif typ == b"IDAT":
        idat.append(body)
if depth != 8 or interlace or ctype not in (0, 2, 4, 6):
    sys.exit("unsupported PNG: depth %d colour type %d interlace %d" % (depth, ctype, interlace))
bpp = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
raw = zlib.decompress(b"".join(idat))
stride = w * bpp
prev = bytearray(stride)
colors = Counter()
i = 0
for y in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    if f == 1:
        for x in range(bpp, stride):
            line[x] = (line[x] + line[x - bpp]) & 255
    elif f == 2:
        line = bytearray((a + b) & 255 for a, b in zip(line, prev))
    elif f == 3:
        for x in range(stride):
            line[x] = (line[x] + ((line[x - bpp] if x >= bpp else 0) + prev[x]) // 2) & 255
    elif f == 4:
        for x in range(stride):
            a, b = (line[x - bpp] if x >= bpp else 0), prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 2 == 0: # every other pixel of every other row
        px = bytes(line)
        colors.update(px[k:k + min(bpp, 3)] for k in range(0, stride, 2 * bpp))
top = colors.most_common(1)[0][1]
print("%dx%d colors=%d share=%.3f" % (w, h, len(colors), 1 - top / sum(colors.values())))
EOF
echo "screenshot: $(cat "$T/shot.txt")"
check "screenshot: not blank (many colours, a fifth of the pixels off the background)" \
    "s=\$(cat $T/shot.txt); c=\${s#*colors=}; c=\${c%% *}; f=\${s#*share=}; [ \"\${c:-0}\" -ge 100 ] && python3 -c 'import sys; sys.exit(not float(sys.argv[1]) >= 0.2)' \"\${f:-0}\""

# --- the empty states
check "chromium (no profile): no console message, no script error, rendered" \
    "[ -f $T/off.console ] && [ ! -s $T/off.console ] && grep -q 'data-errors=\"0\"' $T/off.dom && grep -q 'data-rendered=\"[1-9]' $T/off.dom"
check "chromium (no profile): drift off and why, no labeled outcomes yet, empty charts" \
    "grep -q 'id=\"drift-off-0\">drift off: the model file has no reference profile' $T/off.dom && grep -q '<div class=\"notice\">no labeled outcomes yet: ' $T/off.dom && [ \$(grep -o 'data-state=\"empty\"' $T/off.dom | wc -l) -eq 6 ]"
check "the console capture works (a page that logs and throws is caught)" \
    "grep -q '^console.error: probe-error$' $T/probe.console && grep -q '^exception: ReferenceError: nosuch' $T/probe.console"
for p in $SPIDS; do kill -TERM "$p"; wait "$p"; done
SPIDS=""
check "servers stop cleanly" "grep -q 'stopped (0 requests cut short)' $T/ab.err && grep -q 'stopped' $T/off.err"
finish
