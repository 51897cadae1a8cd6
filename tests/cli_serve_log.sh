#!/bin/bash
# cli_serve_log.sh: `pronto serve --log` as a process with a real log:DIR,
# read back through pr_log (tests/logdump.c):
#   - accepted events are in the log once each, as sent (raw CR/LF become
#     spaces), rejected and duplicate ones are not; a restarted server
#     answers a retried batch with duplicates (ids seeded from the log);
#   - predictions: request_id given (string, integer) or made (unique) and
#     always answered, a bad one is a 400 naming it; one prediction record
#     per answered request and, with --log-features 1, one features record
#     per candidate with every column of build-dataset's CSV, in its order;
#   - a full file system (ulimit -S -f: the segment cannot grow): 503s
#     naming the log, every 200's events in the log, predictions still
#     answered (their records dropped and counted), /readyz 200 with
#     "log":"down"; the limit raised on the live process (prlimit): the
#     server reopens the log by itself and the retried batches are
#     answered 200 and in the log once;
#   - bad --log URIs and flags; kill -9 under load, 3 trials per fsync
#     policy (scripts/crashtest_serve_log, whose long runs are in
#     docs/benchmarks.md).
. "$(dirname "$0")/lib_cli.sh"
SRC=${PRONTO_SRC:?}
LD=${PRONTO_LOGDUMP:?}

"$P" simulate -o "$T/d" --duration 30m --users 300 --ads 60 --advertisers 20 --sites 40 \
    --imp-rate 3 --quiet
sed 's/^hash_bits: 20/hash_bits: 14/' "$SRC/specs/sim-store.yaml" > "$T/spec.yaml"
"$P" build-dataset --spec "$T/spec.yaml" --data "$T/d" -o "$T/train.pcache" > /dev/null 2>&1
"$P" build-dataset --spec "$T/spec.yaml" --data "$T/d" -o "$T/train.csv" > /dev/null 2>&1
"$P" train --dataset --spec "$T/spec.yaml" -o "$T/lr.pm" "$T/train.pcache" > /dev/null
check "model trained" "[ -s $T/lr.pm ] && [ -s $T/train.csv ]"

SPID=""
trap 'chmod -R u+w "$T" 2>/dev/null; [ -n "$SPID" ] && kill -9 $SPID 2>/dev/null; rm -rf "$T"' EXIT
# start NAME FLAGS...: sets SPID and PORT
start() {
    local name=$1; shift
    "$P" serve --listen 127.0.0.1:0 --model "$T/lr.pm" --store mem: --data "$T/d" "$@" \
        > "$T/$name.out" 2> "$T/$name.err" &
    SPID=$!
    PORT=$(serve_port "$T/$name.out" "$SPID")
}
stop() { kill -TERM "$SPID"; wait "$SPID"; SPID=""; }
NOW=$(date +%s%3N)
ev() { # ev ID [TS]: one impression event
    printf '{"type":"impression","event_id":%d,"impression_id":%d,"ts":%d,"user_id":%d,"ad_id":%d,"site_id":3,"device":"mobile","position":1}' \
        "$1" "$1" "${2:-$NOW}" $(($1 % 300)) $(($1 % 60))
}
post() { curl -s -w '\n%{http_code}' "localhost:$PORT/v1/events" --data-binary @"$1"; }
metric() { curl -s "localhost:$PORT/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { print $2 }'; }
dump() { "$LD" "log:$T/log" > "$T/dump.txt" 2> "$T/dump.err"; }

# ---------------------------------------------------------------- events
start a --log "log:$T/log?fsync=always" --log-features 1
check "serve --log starts" "[ -n '$PORT' ]"
# JSON lines with CRLF endings, a duplicate within the batch, a rejected ts
{ ev 1; printf '\r\n'; ev 2; printf '\r\n'; ev 1; printf '\n'; ev 3 4102444800000; printf '\n'; } > "$T/b1"
post "$T/b1" > "$T/r1"
check "a batch: 2 applied, 1 duplicate, 1 rejected" \
    "grep -q '\"applied\":2,\"duplicates\":1,\"rejected\":1' $T/r1 && tail -1 $T/r1 | grep -q 200"
# an array whose objects span lines (raw LF and CR inside an object)
printf '[{"type":"impression",\r\n "event_id":4,"impression_id":4,"ts":%s,\n"user_id":4,"ad_id":4,"site_id":3,"device":"mobile","position":1},\n %s]' \
    "$NOW" "$(ev 2)" > "$T/b2"
post "$T/b2" > "$T/r2"
check "an array: 1 applied, 1 duplicate" "grep -q '\"applied\":1,\"duplicates\":1,' $T/r2"
dump
check "the log reads back" "[ \$? -eq 0 ] || ! grep -q . $T/dump.err; grep -q 'records 3' $T/dump.err"
check "events in the log as sent, once each, in order, ts_ms = ts" "python3 -c '
import sys
rows = [l.rstrip(\"\\n\").split(\"\\t\", 2) for l in open(\"$T/dump.txt\")]
ev = lambda i: \"{\\\"type\\\":\\\"impression\\\",\\\"event_id\\\":%d,\\\"impression_id\\\":%d,\\\"ts\\\":$NOW,\\\"user_id\\\":%d,\\\"ad_id\\\":%d,\\\"site_id\\\":3,\\\"device\\\":\\\"mobile\\\",\\\"position\\\":1}\" % (i, i, i % 300, i % 60)
b2 = open(\"$T/b2\", newline=\"\").read()
want = [ev(1), ev(2), b2[1:b2.index(\"},\\n\") + 1].replace(\"\\r\", \" \").replace(\"\\n\", \" \")]
got = [r[2] for r in rows if r[0] == \"1\"]
assert got == want, (got, want)
assert all(r[1] == \"$NOW\" for r in rows if r[0] == \"1\")
'"
check "metrics: 3 events appended" "[ \"\$(metric 'pronto_log_appended_total{type=\"event\"}')\" = 3 ]"

# ---------------------------------------------------------------- predictions
REQ='"user_id":17,"context":{"site_id":3,"device":"mobile","position":1},"candidates":[{"ad_id":1},{"ad_id":"x2"},{"ad_id":3}]'
curl -s "localhost:$PORT/v1/predict" -d "{\"request_id\":\"r-\\\"1\\\"\",$REQ}" > "$T/p1"
curl -s "localhost:$PORT/v1/predict" -d "{\"request_id\":42,$REQ,\"top_k\":1}" > "$T/p2"
curl -s "localhost:$PORT/v1/predict" -d "{$REQ}" > "$T/p3"
curl -s "localhost:$PORT/v1/predict" -d "{$REQ}" > "$T/p4"
long=$(head -c 129 /dev/zero | tr '\0' a)
code=$(curl -s -o "$T/p5" -w '%{http_code}' "localhost:$PORT/v1/predict" -d "{\"request_id\":\"$long\",$REQ}")
check "a string request_id is answered back" "python3 -c 'import json; assert json.load(open(\"$T/p1\"))[\"request_id\"] == chr(114) + \"-\" + chr(34) + \"1\" + chr(34)'"
check "an integer request_id is answered as sent" "grep -q '^{\"request_id\":42,' $T/p2"
check "without one the server makes one, unique" "python3 -c '
import json
a = json.load(open(\"$T/p3\"))[\"request_id\"]; b = json.load(open(\"$T/p4\"))[\"request_id\"]
assert isinstance(a, str) and a and a != b, (a, b)
'"
check "a request_id over 128 bytes: 400 naming it" "[ $code = 400 ] && grep -q \"'request_id'\" $T/p5"
code=$(curl -s -o "$T/p6" -w '%{http_code}' "localhost:$PORT/v1/predict" -d "{\"request_id\":1.5,$REQ}")
check "a fractional request_id: 400" "[ $code = 400 ] && grep -q \"'request_id'\" $T/p6"
sleep 0.3 # the logger thread
dump
check "prediction and features records: one per request, one per candidate, as documented" "python3 -c '
import json, csv
rows = [l.rstrip(\"\\n\").split(\"\\t\", 2) for l in open(\"$T/dump.txt\")]
preds = [json.loads(r[2]) for r in rows if r[0] == \"2\"]
feats = [json.loads(r[2]) for r in rows if r[0] == \"3\"]
answers = [json.load(open(\"$T/p%d\" % i)) for i in (1, 2, 3, 4)]
assert [p[\"request_id\"] for p in preds] == [\"r-\\\"1\\\"\", \"42\", answers[2][\"request_id\"], answers[3][\"request_id\"]], preds
for p, a in zip(preds, answers):
    assert set(p) == {\"request_id\", \"ts\", \"model_version\", \"request\", \"predictions\"}, p
    assert p[\"model_version\"] == a[\"model_version\"]
    assert len(p[\"predictions\"]) == 3  # every candidate, also under top_k
    assert p[\"predictions\"][:len(a[\"predictions\"])] == a[\"predictions\"]
    assert p[\"request\"][\"user_id\"] == \"17\" and p[\"request\"][\"device\"] == \"mobile\" and p[\"request\"][\"ad_id\"] is None
ts = [int(r[1]) for r in rows if r[0] == \"2\"]
assert [p[\"ts\"] for p in preds] == ts
header = next(csv.reader(open(\"$T/train.csv\")))[3:]
assert len(feats) == 12, len(feats)
for f in feats:
    assert list(f[\"row\"]) == header, (list(f[\"row\"]), header)
    assert f[\"row\"][\"ad_id\"] == str(f[\"ad_id\"]) and f[\"row\"][\"user_id\"] == \"17\"
assert [f[\"ad_id\"] for f in feats[:3]] == [1, \"x2\", 3]
'"
check "metrics: predictions and features appended, none dropped" \
    "[ \"\$(metric 'pronto_log_appended_total{type=\"prediction\"}')\" = 4 ] && [ \"\$(metric 'pronto_log_appended_total{type=\"features\"}')\" = 12 ] && [ \"\$(metric 'pronto_log_dropped_total{type=\"prediction\"}')\" = 0 ]"
check "readyz: ready, log up" "curl -s localhost:$PORT/readyz | grep -q '\"ready\":true.*\"log\":\"up\"'"
stop

# restart: the ids come back from the log
start b --log "log:$T/log?fsync=batch:10"
post "$T/b1" > "$T/r3"
check "after a restart a retried batch is all duplicates" \
    "grep -q '\"applied\":0,\"duplicates\":3,\"rejected\":1' $T/r3"
check "the start said how many ids it read back" "grep -q '2 event ids remembered\\|3 event ids remembered' $T/b.err"
stop
dump
check "still 3 events in the log" "[ \$(awk -F'\\t' '\$1 == 1' $T/dump.txt | wc -l) -eq 3 ]"

# sampling: --log-features 0 logs no rows; the rate is a hash of request_id
# the logger thread writes behind the answers: wait until it wrote N
# prediction records, then until the feature rows queued right after the
# last of them stop coming
wait_logged() {
    for _ in $(seq 1 100); do
        [ "$(metric 'pronto_log_appended_total{type="prediction"}')" = "$1" ] && break
        sleep 0.1
    done
    local a b
    b=$(metric 'pronto_log_appended_total{type="features"}')
    for _ in $(seq 1 20); do
        sleep 0.2
        a=$b
        b=$(metric 'pronto_log_appended_total{type="features"}')
        [ "$a" = "$b" ] && return 0
    done
}
start c --log "log:$T/log2?fsync=off" --log-features 0.5
for i in $(seq 1 40); do curl -s -o /dev/null "localhost:$PORT/v1/predict" -d "{\"request_id\":\"s$i\",$REQ}"; done
wait_logged 40
nf=$(metric 'pronto_log_appended_total{type="features"}')
check "--log-features 0.5: some requests' rows, not all (3 per sampled request)" \
    "[ $nf -gt 0 ] && [ $nf -lt 120 ] && [ \$((nf % 3)) -eq 0 ]"
stop
start c2 --log "log:$T/log3?fsync=off" --log-features 0.5
for i in $(seq 1 40); do curl -s -o /dev/null "localhost:$PORT/v1/predict" -d "{\"request_id\":\"s$i\",$REQ}"; done
wait_logged 40
check "the same request ids: the same sample" "[ \"\$(metric 'pronto_log_appended_total{type=\"features\"}')\" = $nf ]"
stop

# ---------------------------------------------------------------- a full disk
# The soft file-size limit: the segment cannot grow past 48 KiB (EFBIG; the
# server ignores SIGXFSZ), raised later on the live process with prlimit.
rm -rf "$T/log"
( ulimit -S -f 48; exec "$P" serve --listen 127.0.0.1:0 --model "$T/lr.pm" --store mem: \
    --data "$T/d" --log "log:$T/log?fsync=always" > "$T/full.out" 2> "$T/full.err" ) &
SPID=$!
PORT=$(serve_port "$T/full.out")
ok200=0; n503=0; other=0
: > "$T/acked"; : > "$T/failed"
for b in $(seq 1 40); do
    for i in $(seq 0 9); do ev $((1000 + b * 10 + i)); printf '\n'; done > "$T/fb"
    code=$(curl -s -o "$T/fr" -w '%{http_code}' "localhost:$PORT/v1/events" --data-binary @"$T/fb")
    case $code in
    200) ok200=$((ok200 + 1)); seq $((1000 + b * 10)) $((1009 + b * 10)) >> "$T/acked" ;;
    503) n503=$((n503 + 1)); echo "$b" >> "$T/failed"; cp "$T/fr" "$T/last503" ;;
    *) other=$((other + 1)) ;;
    esac
done
check "full: some batches 200, then 503s, nothing else ($ok200, $n503, $other)" \
    "[ $ok200 -gt 5 ] && [ $n503 -gt 5 ] && [ $other -eq 0 ]"
check "the 503 names the log and what failed" \
    "grep -q 'event log log:$T/log?fsync=always.*File too large' $T/last503 && grep -q 'retry' $T/last503"
code=$(curl -s -o "$T/fp" -w '%{http_code}' "localhost:$PORT/v1/predict" -d "{$REQ}")
check "predictions still answered while the log is down" "[ $code = 200 ]"
check "their records dropped and counted" "[ \"\$(metric 'pronto_log_dropped_total{type=\"prediction\"}')\" -ge 1 ]"
# The server may have reopened the log meanwhile (an open needs no space;
# the next append fails again): a failing batch first, then look at once.
down_ready() {
    local i
    for i in 1 2 3 4 5; do
        curl -s -o /dev/null "localhost:$PORT/v1/events" --data-binary @"$T/fb"
        curl -s "localhost:$PORT/readyz" | grep -q '"ready":true.*"log":"down"' &&
            [ "$(metric pronto_log_up)" = 0 ] && return 0
    done
    return 1
}
check "readyz 200, log down; pronto_log_up 0" down_ready
prlimit --pid "$SPID" --fsize=unlimited:
check "prlimit raised the limit on the live server" "[ $? -eq 0 ]"
up=0
for _ in $(seq 1 50); do
    [ "$(metric pronto_log_up)" = 1 ] && { up=1; break; }
    sleep 0.1
done
check "the server reopened the log by itself" "[ $up = 1 ]"
retry_ok=1
for b in $(cat "$T/failed"); do
    for i in $(seq 0 9); do ev $((1000 + b * 10 + i)); printf '\n'; done > "$T/fb"
    code=$(curl -s -o "$T/fr" -w '%{http_code}' "localhost:$PORT/v1/events" --data-binary @"$T/fb")
    [ "$code" = 200 ] && grep -q '"applied":10' "$T/fr" || retry_ok=0
done
check "every refused batch retried: 200, applied" "[ $retry_ok = 1 ]"
check "metrics counted errors and reopens" \
    "[ \"\$(metric pronto_log_errors_total)\" -ge 1 ] && [ \"\$(metric pronto_log_reopens_total)\" -ge 1 ]"
stop
dump
check "full: the log reads back" "! grep -q logdump: $T/dump.err"
awk -F'\t' '$1 == 1' "$T/dump.txt" | grep -o '"event_id":[0-9]*' | cut -d: -f2 | sort > "$T/ids"
check "full: every event id once, 400 of them (every 200 and every retry)" \
    "[ -z \"\$(uniq -d $T/ids)\" ] && [ \$(wc -l < $T/ids) -eq 400 ] && [ -z \"\$(comm -23 <(sort $T/acked) $T/ids)\" ]"

# ---------------------------------------------------------------- bad flags
"$P" serve --model "$T/lr.pm" --store mem: --log "nope:$T/x" > /dev/null 2> "$T/e1"
check "an unknown log scheme: exit 1 naming it" "[ $? -eq 1 ] && grep -q \"unknown scheme 'nope'\" $T/e1"
"$P" serve --model "$T/lr.pm" --store mem: --log "log:$T/no/such/dir" > /dev/null 2> "$T/e2"
check "an uncreatable log dir: exit 1 naming it" "[ $? -eq 1 ] && grep -q -- '--log log:$T/no/such/dir' $T/e2"
"$P" serve --model "$T/lr.pm" --store mem: --log "log:$T/l?fsync=sometimes" > /dev/null 2> "$T/e3"
check "a bad fsync option: exit 1 naming it" "[ $? -eq 1 ] && grep -q 'fsync' $T/e3"
"$P" serve --model "$T/lr.pm" --store mem: --log-features 0.5 > /dev/null 2> "$T/e4"
check "--log-features without --log: exit 2" "[ $? -eq 2 ]"
"$P" serve --model "$T/lr.pm" --store mem: --log "log:$T/l" --log-features 2 > /dev/null 2> "$T/e5"
check "--log-features 2: exit 2" "[ $? -eq 2 ] && grep -q 'log-features' $T/e5"

# ---------------------------------------------------------------- kill -9
out=$(bash "$SRC/scripts/crashtest_serve_log" --pronto "$P" --logdump "$LD" --trials 3 2>&1)
rc=$?
echo "$out"
check "kill -9 under load, fsync=always: 0 failures" "echo \"\$out\" | grep -q 'fsync=always: 3 trials.* 0 failures'"
check "kill -9 under load, fsync=batch:10: 0 failures" "echo \"\$out\" | grep -q 'fsync=batch:10: 3 trials.* 0 failures'"
check "crashtest_serve_log exits 0" "[ $rc -eq 0 ]"
finish
