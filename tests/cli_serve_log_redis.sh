#!/bin/bash
# cli_serve_log_redis.sh: `pronto serve --log redis-stream:...` against a
# real redis-server (AOF with appendfsync always, on a unix socket) that is
# killed with -9 in the middle of an event load and started again on the
# same files:
#   - while Redis is down, every POST /v1/events is a 503 with a JSON error
#     (never a 200 for an event that is not stored), predictions are still
#     answered;
#   - the server recovers by itself once Redis is back (no restart);
#   - every event that got a 200 is in the stream exactly once (read back
#     with `pronto log cat`), and nothing acknowledged was lost.
. "$(dirname "$0")/lib_cli.sh"
SRC=${PRONTO_SRC:?}
if ! command -v redis-server > /dev/null || ! command -v redis-cli > /dev/null; then
    fail "redis-server missing (scripts/bootstrap installs it)"
    finish
fi

"$P" simulate -o "$T/d" --duration 30m --users 300 --ads 60 --advertisers 20 --sites 40 \
    --imp-rate 3 --quiet
sed 's/^hash_bits: 20/hash_bits: 14/' "$SRC/specs/sim-store.yaml" > "$T/spec.yaml"
"$P" build-dataset --spec "$T/spec.yaml" --data "$T/d" -o "$T/train.pcache" > /dev/null 2>&1
"$P" train --dataset --spec "$T/spec.yaml" -o "$T/lr.pm" "$T/train.pcache" > /dev/null
check "model trained" "[ -s $T/lr.pm ]"

SOCK="$T/redis.sock"
RPID=""
SPID=""
trap '[ -n "$SPID" ] && kill -9 $SPID 2>/dev/null; [ -n "$RPID" ] && kill -9 $RPID 2>/dev/null; rm -rf "$T"' EXIT
start_redis() {
    redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --dir "$T" --save '' \
        --appendonly yes --appendfsync always --loglevel warning > "$T/redis.log" 2>&1 &
    RPID=$!
    for _ in $(seq 100); do redis-cli -s "$SOCK" ping > /dev/null 2>&1 && return; sleep 0.05; done
}
start_redis
check "redis-server started (AOF, appendfsync always)" "redis-cli -s $SOCK ping | grep -q PONG"

URI="redis-stream:unix:$SOCK/events"
"$P" serve --listen 127.0.0.1:0 --model "$T/lr.pm" --store mem: --data "$T/d" --log "$URI" \
    > "$T/serve.out" 2> "$T/serve.err" &
SPID=$!
PORT=$(serve_port "$T/serve.out" "$SPID")
check "serve --log redis-stream: starts" "[ -n '$PORT' ]"

NOW=$(date +%s%3N)
# post ID: one batch of 5 impressions with ids ID*10+1..+5; prints the status
post() {
    local f="$T/b.$1"
    : > "$f"
    for k in 1 2 3 4 5; do
        local id=$(($1 * 10 + k))
        printf '{"type":"impression","event_id":%d,"impression_id":%d,"ts":%d,"user_id":%d,"ad_id":%d,"site_id":3,"device":"mobile","position":1}\n' \
            "$id" "$id" "$NOW" $((id % 300)) $((id % 60)) >> "$f"
    done
    curl -s -o "$T/ans.$1" -w '%{http_code}' --max-time 5 "localhost:$PORT/v1/events" \
        --data-binary @"$f"
}
acked="$T/acked"
: > "$acked"
n_503=0
bad_503=0
batch=0
# phase 1: Redis up; phase 2: killed -9 (and its AOF kept); phase 3: back
for phase in up down back; do
    case $phase in
        down) kill -9 "$RPID"; wait "$RPID" 2>/dev/null; RPID="" ;;
        back) start_redis ;;
    esac
    for _ in $(seq 20); do
        batch=$((batch + 1))
        code=$(post $batch)
        if [ "$code" = 200 ]; then
            for k in 1 2 3 4 5; do echo $((batch * 10 + k)) >> "$acked"; done
        elif [ "$code" = 503 ]; then
            n_503=$((n_503 + 1))
            grep -q '"error"' "$T/ans.$batch" || bad_503=$((bad_503 + 1))
        fi
        [ $phase = down ] && [ $batch -eq 25 ] &&
            pcode=$(curl -s -o /dev/null -w '%{http_code}' "localhost:$PORT/v1/predict" \
                -d '{"user_id":1,"candidates":[{"ad_id":2}]}')
        sleep 0.02
    done
done
check "batches while Redis was down got 503 with a JSON error ($n_503, $bad_503 without)" \
    "[ $n_503 -ge 15 ] && [ $bad_503 -eq 0 ]"
check "predictions answered while the log was down" "[ '${pcode:-}' = 200 ]"
# recovery by itself: the last batches (Redis back) are 200 again
recovered=0
for _ in $(seq 100); do
    batch=$((batch + 1))
    [ "$(post $batch)" = 200 ] && {
        for k in 1 2 3 4 5; do echo $((batch * 10 + k)) >> "$acked"; done
        recovered=1
        break
    }
    sleep 0.1
done
check "the server recovered by itself once Redis was back" "[ $recovered -eq 1 ]"
# every acknowledged event is in the stream exactly once
"$P" log cat --type event "$URI" > "$T/cat.jsonl" 2> "$T/cat.err"
sed -n 's/.*"event_id":\([0-9]*\),.*/\1/p' "$T/cat.jsonl" | sort -n > "$T/logged"
sort -n "$acked" > "$T/acked.sorted"
check "$(wc -l < "$acked") acknowledged events, each in the stream" \
    "[ -s $T/acked.sorted ] && [ -z \"\$(comm -23 $T/acked.sorted $T/logged)\" ]"
check "no event twice in the stream" "[ -z \"\$(uniq -d $T/logged)\" ]"
kill -TERM "$SPID"; wait "$SPID"; SPID=""
finish
