#!/bin/bash
# cli_serve.sh: `pronto serve` as a process, driven with curl: it answers on
# a free port, SIGHUP and --poll-model swap the model (a truncated file is
# refused and the old model keeps serving; so are a FIFO and a symlink to
# /dev/zero, without blocking SIGTERM), the admin token comes from
# --admin-token-file or PRONTO_ADMIN_TOKEN (--admin-token is refused), an
# lmdb: store filled by `pronto materialize`
# serves the same answers as mem: --data, SIGTERM exits 0, and bad flags or
# files fail with a message. Endpoint and error-path details are in
# tests/test_serve.c.
. "$(dirname "$0")/lib_cli.sh"
SRC=${PRONTO_SRC:?}

"$P" simulate -o "$T/d" --duration 30m --users 300 --ads 60 --advertisers 20 --sites 40 \
    --imp-rate 3 --quiet
sed 's/^hash_bits: 20/hash_bits: 14/' "$SRC/specs/sim-store.yaml" > "$T/spec.yaml"
"$P" build-dataset --spec "$T/spec.yaml" --data "$T/d" -o "$T/train.pcache" > /dev/null
"$P" train --dataset --spec "$T/spec.yaml" -o "$T/lr.pm" "$T/train.pcache" > /dev/null
"$P" train --dataset --kind ffm --passes 2 --spec "$T/spec.yaml" -o "$T/ffm.pm" \
    "$T/train.pcache" > /dev/null
check "models trained" "[ -s $T/lr.pm ] && [ -s $T/ffm.pm ]"
deploy() { cp "$1" "$T/serving.tmp" && mv "$T/serving.tmp" "$T/serving.pm"; }
deploy "$T/lr.pm"

# Starts a server in the background: sets SPID and PORT (from its first
# stdout line). Arguments: the log name, then flags.
start() {
    local name=$1; shift
    "$P" serve --listen 127.0.0.1:0 "$@" > "$T/$name.out" 2> "$T/$name.err" &
    SPID=$!
    PORT=$(serve_port "$T/$name.out" "$SPID")
}
# Waits (up to 5 s) until GET /v1/model reports the kind $1.
wait_kind() {
    for _ in $(seq 1 50); do
        curl -s "localhost:$PORT/v1/model" | grep -q "\"kind\":\"$1\"" && return 0
        sleep 0.1
    done
    return 1
}
REQ='{"request_id":"cmp-1","user_id":17,"context":{"site_id":3,"device":"mobile","position":1},"ts":1704069060000,
      "candidates":[{"ad_id":1},{"ad_id":2},{"ad_id":3},{"ad_id":999999}],"top_k":3}'

printf 'tok\n' > "$T/token"
start mem --model "$T/serving.pm" --store mem: --data "$T/d" --admin-token-file "$T/token" --poll-model 0.2
check "server listening on a free port" "[ -n '$PORT' ]"
check "healthz" "curl -sf localhost:$PORT/healthz | grep -q ok"
curl -s -XPOST "localhost:$PORT/v1/predict" -d "$REQ" > "$T/p_mem.json"
check "predict answers three ranked ads" "[ \$(grep -o '\"ad_id\"' $T/p_mem.json | wc -l) -eq 3 ]"
check "model is lr" "wait_kind lr"

deploy "$T/ffm.pm"
kill -HUP "$SPID"
check "the new file is loaded: ffm" "wait_kind ffm"
deploy "$T/lr.pm"
check "--poll-model picks up a changed file: lr" "wait_kind lr"
head -c 5000 "$T/lr.pm" > "$T/serving.tmp" && mv "$T/serving.tmp" "$T/serving.pm"
kill -HUP "$SPID"
sleep 0.5
check "a truncated model is refused" "grep -q 'refused' $T/mem.err"
check "and the old one keeps serving" \
    "curl -s -XPOST localhost:$PORT/v1/predict -d '$REQ' | grep -q predictions && wait_kind lr"
check "admin reload with the file's token: 422 for the bad file" \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'Authorization: Bearer tok' localhost:$PORT/admin/reload) = 422 ]"
check "metrics count the refusals" \
    "curl -s localhost:$PORT/metrics | grep -q 'pronto_model_reloads_total{result=\"refused\"} [2-9]'"
"$P" serve --model "$T/lr.pm" --store mem: --listen "127.0.0.1:$PORT" > /dev/null 2> "$T/inuse.err"
check "a port in use fails with exit 1" "[ $? -eq 1 ] && grep -q 'cannot listen' $T/inuse.err"
kill -TERM "$SPID"
wait "$SPID"
check "SIGTERM drains and exits 0" "[ $? -eq 0 ] && grep -q 'stopped (0 requests cut short)' $T/mem.err"

# A model path that is a FIFO (or a symlink to /dev/zero): refused at once
# (no reader blocks on it, nothing is read without limit), and SIGTERM
# still exits promptly.
deploy "$T/lr.pm"
start special --model "$T/serving.pm" --store mem: --data "$T/d" --admin-token-file "$T/token"
rm -f "$T/serving.pm" && mkfifo "$T/serving.pm"
kill -HUP "$SPID"
waitlog() { for _ in $(seq 1 50); do grep -q "$1" "$T/special.err" && return 0; sleep 0.1; done; return 1; }
check "SIGHUP with a FIFO: refused at once" "waitlog 'a FIFO, not a regular file'"
rm -f "$T/serving.pm" && ln -s /dev/zero "$T/serving.pm"
check "admin reload of a symlink to /dev/zero: 422 naming it" \
    "curl -s -m 10 -XPOST -H 'Authorization: Bearer tok' localhost:$PORT/admin/reload | grep -q 'a character device'"
rm -f "$T/serving.pm" && mkfifo "$T/serving.pm"
kill -HUP "$SPID"
kill -TERM "$SPID"
for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM right after a reload of a FIFO: exits within 10 s" "! kill -0 $SPID 2>/dev/null"
kill -KILL "$SPID" 2>/dev/null
wait "$SPID"
check "and exits 0" "[ $? -eq 0 ]"
timeout 10 "$P" inspect "$T/serving.pm" > /dev/null 2> "$T/inspect.err"
check "the CLI's model loader refuses a FIFO at once too" \
    "[ $? -eq 1 ] && grep -q 'not a regular file' $T/inspect.err"
timeout 10 "$P" serve --model "$T/serving.pm" --store mem: --listen 127.0.0.1:0 > /dev/null 2> "$T/e5"
check "serve --model FIFO: exit 1 at once, naming it" "[ $? -eq 1 ] && grep -q 'a FIFO' $T/e5"
rm -f "$T/serving.pm"

# lmdb filled by `pronto materialize`, admin token from the environment
deploy "$T/lr.pm"
"$P" materialize --spec "$T/spec.yaml" --data "$T/d" --store "lmdb:$T/lmdb?sync=0" > /dev/null
PRONTO_ADMIN_TOKEN=envtok start lmdb --model "$T/serving.pm" --store "lmdb:$T/lmdb" --threads 1
curl -s -XPOST "localhost:$PORT/v1/predict" -d "$REQ" > "$T/p_lmdb.json"
check "lmdb: answers equal mem:'s" \
    "diff <(sed 's/\"took_us\":[0-9]*//' $T/p_mem.json) <(sed 's/\"took_us\":[0-9]*//' $T/p_lmdb.json)"
check "token from PRONTO_ADMIN_TOKEN" \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'Authorization: Bearer envtok' localhost:$PORT/admin/reload) = 200 ]"
deploy "$T/ffm.pm"
kill -HUP "$SPID"
check "SIGHUP reloads (no polling here)" "wait_kind ffm"
kill -INT "$SPID"
wait "$SPID"
check "SIGINT exits 0 too" "[ $? -eq 0 ]"

"$P" serve --store mem: > /dev/null 2> "$T/e1"
check "no --model: exit 2" "[ $? -eq 2 ] && grep -q -- '--model is required' $T/e1"
"$P" serve --model "$T/nope.pm" --store mem: --listen 127.0.0.1:0 > /dev/null 2> "$T/e2"
check "missing model file: exit 1 naming it" "[ $? -eq 1 ] && grep -q 'nope.pm' $T/e2"
"$P" serve --model "$T/lr.pm" --store mem: --listen nohost > /dev/null 2> "$T/e3"
check "bad --listen: exit 1" "[ $? -eq 1 ] && grep -q 'HOST:PORT' $T/e3"
"$P" serve --model "$T/lr.pm" --store mem: --threads 0 > /dev/null 2> "$T/e4"
check "--threads 0: exit 2" "[ $? -eq 2 ]"
"$P" serve --model "$T/lr.pm" --store mem: --admin-token tok > /dev/null 2> "$T/e5"
check "--admin-token on the command line: exit 2 naming the file flag" \
    "[ $? -eq 2 ] && grep -q -- '--admin-token-file' $T/e5"
: > "$T/empty"
"$P" serve --model "$T/lr.pm" --store mem: --admin-token-file "$T/empty" > /dev/null 2> "$T/e6"
check "an empty token file: exit 1" "[ $? -eq 1 ] && grep -q 'no token' $T/e6"
"$P" serve --model "$T/lr.pm" --store mem: --max-event-skew soon > /dev/null 2> "$T/e7"
check "--max-event-skew soon: exit 2 naming it" "[ $? -eq 2 ] && grep -q -- '--max-event-skew: expected a duration' $T/e7"
"$P" serve --model "$T/lr.pm" --store mem: --max-event-age 0 > /dev/null 2> "$T/e8"
check "--max-event-age 0: exit 2" "[ $? -eq 2 ] && grep -q -- '--max-event-age must be > 0' $T/e8"
finish
