#!/bin/bash
# cli_skew_serve.sh: the loop end to end with a real server. A small
# simulated stream is sent, in file order, to `pronto serve --log
# --log-features 1` on loopback: each impression first as a /v1/predict
# request (its ts, request_id = its impression_id, its user, context and
# ad as the one candidate), then every event to /v1/events as sent. Then
# `pronto skew` on the server's log finds 0 differences, every logged row
# matched to its impression, and `build-dataset --logged-features` from
# the log gives the CSV build-dataset builds from the files.
. "$(dirname "$0")/lib_cli.sh"
SPEC=${PRONTO_SRC:?}/specs/sim-store.yaml
command -v curl > /dev/null || { fail "curl missing (scripts/bootstrap)"; finish; }
"$P" simulate --users 300 --ads 60 --advertisers 10 --sites 20 --events 1500 --imp-rate 2 \
    --seed 12 -o "$T/sim" --quiet
"$P" build-dataset --spec "$SPEC" --data "$T/sim" -o "$T/train.pcache" > /dev/null 2>&1
"$P" build-dataset --spec "$SPEC" --data "$T/sim" -o "$T/ref.csv" > /dev/null 2>&1
"$P" train --dataset --spec "$SPEC" -q -o "$T/lr.pm" "$T/train.pcache" > /dev/null
check "model trained" "[ -s $T/lr.pm ]"

SPID=""
trap 'chmod -R u+w "$T" 2>/dev/null; [ -n "$SPID" ] && kill -9 $SPID 2>/dev/null; rm -rf "$T"' EXIT
# The store holds the entity tables only: the events come through the API.
"$P" materialize --spec "$SPEC" --data "$T/sim" --tables-only --store "lmdb:$T/store?sync=0" > /dev/null
"$P" serve --listen 127.0.0.1:0 --model "$T/lr.pm" --store "lmdb:$T/store?sync=0" \
    --log "log:$T/log?fsync=off" --log-features 1 --max-event-age 100000d \
    > "$T/serve.out" 2> "$T/serve.err" &
SPID=$!
PORT=$(serve_port "$T/serve.out" "$SPID")
check "server up" "[ -n '$PORT' ]"

# One curl config, requests in stream order over one connection.
awk -v base="http://127.0.0.1:$PORT" '
function field(k,   m) {
    if (match($0, "\"" k "\":(\"[^\"]*\"|[-0-9.]+)")) {
        m = substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3); return m }
    return "null"
}
function block(path, body) {
    gsub(/\\/, "\\\\", body); gsub(/"/, "\\\"", body)
    printf "url = \"%s%s\"\ndata-binary = \"%s\"\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\nnext\n", base, path, body
}
{
    if ($0 ~ /"type":"impression"/)
        block("/v1/predict", "{\"ts\":" field("ts") ",\"request_id\":" field("impression_id") \
              ",\"user_id\":" field("user_id") ",\"context\":{\"site_id\":" field("site_id") \
              ",\"device\":" field("device") ",\"position\":" field("position") \
              "},\"candidates\":[{\"ad_id\":" field("ad_id") "}]}")
    block("/v1/events", $0)
}' "$T"/sim/events-*.jsonl > "$T/curl.cfg"
curl -s -H 'Content-Type: application/json' -K "$T/curl.cfg" > "$T/codes" 2> "$T/curl.err"
check "every request answered 200" "[ -s $T/codes ] && ! grep -v '^200$' $T/codes"
kill -TERM "$SPID"; wait "$SPID"; SPID=""

"$P" skew --spec "$SPEC" --data "$T/sim" --events "log:$T/log" > "$T/skew.out" 2> "$T/skew.err"
check "skew on the server's log: exit 0" "[ $? -eq 0 ]"
imps=$(grep -c '"type":"impression"' "$T"/sim/events-*.jsonl)
check "skew: 0 rows differ, every impression compared" "grep -q '^rows with a difference: 0 of $imps ' $T/skew.out"
check "skew: no logged row without its impression" "grep -q ', 0 without an impression; 0 impressions without' $T/skew.out"
"$P" build-dataset --spec "$SPEC" --data "$T/sim" --events "log:$T/log" --logged-features \
    -o "$T/lf.csv" > /dev/null 2>&1
check "build-dataset --logged-features = build-dataset from the files" "cmp -s $T/ref.csv $T/lf.csv"
finish
