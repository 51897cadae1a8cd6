#!/bin/bash
# cli_registry.sh: `pronto registry` and `pronto serve --model registry:DIR@alias`
# end to end: usage errors and bad directories fail with a message naming
# what is wrong; init/register/promote/rollback/diff/history/verify/gc with
# human and --json output; the spec-fingerprint guard; and a real server on
# loopback that follows alias moves (promote, rollback) while a client
# keeps predicting over keep-alive connections: every answer a 200, and
# GET /v1/model names the new version within a few seconds (the figure,
# about half a second with an FFM of 8 MiB, is printed; the target is
# measured by bench/bench_registry_follow.sh, not asserted here).
# Library-level checks (kill -9 trials, concurrent writers): test_registry.c.
. "$(dirname "$0")/lib_cli.sh"
SRC=${PRONTO_SRC:?}

"$P" simulate -o "$T/d" --duration 30m --users 300 --ads 60 --advertisers 20 --sites 40 \
    --imp-rate 3 --quiet
sed 's/^hash_bits: 20/hash_bits: 14/' "$SRC/specs/sim-store.yaml" > "$T/spec.yaml"
sed 's/^hash_bits: 20/hash_bits: 13/' "$SRC/specs/sim-store.yaml" > "$T/spec13.yaml"
# user_imps_1d counting 2 days: the same column name meaning something else
sed '0,/window: 1d/s//window: 2d/' "$T/spec.yaml" > "$T/spec2h.yaml"
"$P" build-dataset --spec "$T/spec.yaml" --data "$T/d" -o "$T/train.pcache" > /dev/null
"$P" build-dataset --spec "$T/spec13.yaml" --data "$T/d" -o "$T/train13.pcache" > /dev/null
"$P" build-dataset --spec "$T/spec2h.yaml" --data "$T/d" -o "$T/train2h.pcache" > /dev/null
"$P" train --dataset --spec "$T/spec.yaml" -o "$T/lr.pm" "$T/train.pcache" > /dev/null
"$P" train --dataset --kind ffm --passes 2 --spec "$T/spec.yaml" -o "$T/ffm.pm" \
    "$T/train.pcache" > /dev/null
"$P" train --dataset --spec "$T/spec13.yaml" -o "$T/lr13.pm" "$T/train13.pcache" > /dev/null
"$P" train --dataset --spec "$T/spec2h.yaml" -o "$T/lr2h.pm" "$T/train2h.pcache" > /dev/null
check "models trained" "[ -s $T/lr.pm ] && [ -s $T/ffm.pm ] && [ -s $T/lr13.pm ]"
R=$T/reg

# Usage errors (exit 2) and refused directories (exit 1, named).
"$P" registry > /dev/null 2>&1
check "no subcommand: exit 2" "[ $? -eq 2 ]"
"$P" registry frobnicate "$R" 2> "$T/e"
check "unknown subcommand: exit 2, named" "[ $? -eq 2 ] && grep -q frobnicate $T/e"
"$P" registry list 2> "$T/e"
check "list without DIR: exit 2 with the usage" "[ $? -eq 2 ] && grep -q 'usage' $T/e"
"$P" registry list "$R" 2> "$T/e"
check "a missing registry: exit 1 naming it" "[ $? -eq 1 ] && grep -q '$R' $T/e"
"$P" registry list "$T/d" 2> "$T/e"
check "a folder that is not a registry: refused" "[ $? -eq 1 ] && grep -q 'not a pronto registry' $T/e"
"$P" registry init "$R" > /dev/null
check "init creates it" "[ -f $R/FORMAT ] && grep -q 'pronto-registry 1' $R/FORMAT"
"$P" registry list "$R" > "$T/o"
check "an empty registry lists no versions" "grep -q 'no versions' $T/o"

# Register, promote, guards.
v1=$("$P" registry register "$R" "$T/lr.pm" --metrics '{"ne":0.93,"logloss":0.47}' \
     --data '{"window":["2024-01-01T00:00","2024-01-01T00:30"],"log":{"from":0,"to":6316}}' \
     --alias production)
check "register prints the id" "[ '$v1' = v000001 ]"
"$P" registry register "$R" "$T/ffm.pm" --parent production --metrics '{"ne":0.91,"logloss":0.46}' \
    --alias candidate --json > "$T/o"
check "register --json" "grep -q '\"id\": \"v000002\"' $T/o"
"$P" registry register "$R" "$T/lr13.pm" > /dev/null
"$P" registry register "$R" "$T/lr.pm" --rejected --reason 'NE worse by 0.02' > /dev/null
"$P" registry register "$R" "$T/nope.pm" 2> "$T/e"
check "register of a missing file: exit 1 naming it" "[ $? -eq 1 ] && grep -q nope.pm $T/e"
head -c 3000 "$T/lr.pm" > "$T/torn.pm"
"$P" registry register "$R" "$T/torn.pm" 2> "$T/e"
check "register of a truncated model: refused" "[ $? -eq 1 ] && grep -q torn.pm $T/e"
"$P" registry register "$R" "$T/lr.pm" --metrics '[1]' 2> "$T/e"
check "metrics that are not an object: refused" "[ $? -eq 1 ] && grep -q 'metrics' $T/e"
"$P" registry promote "$R" v000002 2> "$T/e"
check "promote without --reason: exit 2" "[ $? -eq 2 ] && grep -q 'reason' $T/e"
"$P" registry promote "$R" v000003 --reason 'try' 2> "$T/e"
check "another spec is refused without --force" "[ $? -eq 1 ] && grep -q 'fingerprint' $T/e"
"$P" registry promote "$R" v000004 --reason 'try' 2> "$T/e"
check "a rejected version is refused without --force" "[ $? -eq 1 ] && grep -q 'rejected' $T/e"
"$P" registry promote "$R" v000009 --reason 'try' 2> "$T/e"
check "an unknown version: exit 1 naming it" "[ $? -eq 1 ] && grep -q v000009 $T/e"
"$P" registry list "$R" --json > "$T/o"
check "list --json: versions and aliases" \
    "grep -q '\"production\": \"v000001\"' $T/o && [ \$(grep -c '\"id\"' $T/o) -eq 4 ]"
"$P" registry show "$R" candidate --json > "$T/o"
check "show --json: metadata with parent, metrics, creator" \
    "grep -q '\"parent\": \"v000001\"' $T/o && grep -q '\"ne\": 0.91' $T/o && grep -q '\"command\": \"pronto registry register' $T/o"
"$P" registry diff "$R" production candidate > "$T/o"
check "diff: same spec, kind lr -> ffm, the metric's delta" \
    "grep -q 'same spec' $T/o && grep -q 'model.kind *\"lr\" -> \"ffm\"' $T/o && grep -q 'metrics.ne .*(-0.02)' $T/o"
"$P" registry diff "$R" v000001 v000003 --json > "$T/o"
check "diff --json: another spec" "grep -q '\"same_spec\": false' $T/o && grep -q 'model.hash_bits' $T/o"
"$P" registry verify "$R" > "$T/o"
check "verify: every alias's model file" "grep -q 'production -> v000001 ok' $T/o && grep -q 'candidate -> v000002 ok' $T/o"

# The server follows production. A client predicts all along.
REQ='{"user_id":17,"context":{"site_id":3,"device":"mobile","position":1},"ts":1704069060000,
      "candidates":[{"ad_id":1},{"ad_id":2},{"ad_id":3}],"top_k":3}'
"$P" serve --listen 127.0.0.1:0 --model "registry:$R@nosuch" --store mem: --data "$T/d" \
    > /dev/null 2> "$T/e"
check "serve of an alias that does not exist: exit 1 naming it" "[ $? -eq 1 ] && grep -q nosuch $T/e"
"$P" serve --listen 127.0.0.1:0 --model "registry:$T/none" --store mem: > /dev/null 2> "$T/e"
check "serve of a missing registry: exit 1 naming it" "[ $? -eq 1 ] && grep -q '$T/none' $T/e"
"$P" serve --listen 127.0.0.1:0 --model "registry:$R" --store mem: --data "$T/d" \
    > "$T/s.out" 2> "$T/s.err" &
SPID=$!
PORT=$(serve_port "$T/s.out" "$SPID")
check "serve registry:DIR listens (production by default)" "[ -n '$PORT' ]"
curl -s "localhost:$PORT/v1/model" > "$T/o"
check "GET /v1/model names the alias and the version" \
    "grep -q '\"registry_alias\":\"production\"' $T/o && grep -q '\"registry_version\":\"v000001\"' $T/o"

# The client: batches of 100 predicts on one keep-alive connection, until
# told to stop (at most 200 batches).
args=()
for _ in $(seq 1 100); do args+=(-o /dev/null "localhost:$PORT/v1/predict"); done
( for _ in $(seq 1 200); do
      [ -f "$T/stop" ] && break
      curl -s -w '%{http_code}\n' -XPOST -d "$REQ" "${args[@]}" >> "$T/codes"
  done ) &
CPID=$!
# Waits until /v1/model names $1; prints the seconds it took.
follow() {
    local t0 t1
    t0=$(date +%s%N)
    for _ in $(seq 1 500); do
        curl -s "localhost:$PORT/v1/model" | grep -q "\"registry_version\":\"$1\"" && {
            t1=$(date +%s%N); echo "$(( (t1 - t0) / 1000000 ))"; return 0; }
        sleep 0.01
    done
    echo never; return 1
}
sleep 0.5
ms=()
"$P" registry promote "$R" candidate --reason 'gate passed' > /dev/null
ms+=("$(follow v000002)")
"$P" registry rollback "$R" --reason 'live NE worse' > /dev/null
ms+=("$(follow v000001)")
"$P" registry promote "$R" v000002 --reason 'again' > /dev/null
ms+=("$(follow v000002)")
"$P" registry promote "$R" v000003 --force --reason 'forced: spec 13 bits' > /dev/null
ms+=("$(follow v000003)")
"$P" registry rollback "$R" > /dev/null
ms+=("$(follow v000002)")
echo "alias move -> served, ms: ${ms[*]}"
# A version the store cannot satisfy: refused, the old one keeps serving,
# and the next move is followed again; a move back to the version being
# served (the rollback) loads nothing.
v5=$("$P" registry register "$R" "$T/lr2h.pm")
"$P" registry promote "$R" "$v5" --force --reason 'forced: a 2 d window' > /dev/null
sleep 1.5
check "a version the store cannot satisfy is refused; the old one keeps serving" \
    "curl -s localhost:$PORT/v1/model | grep -q '\"registry_version\":\"v000002\"' &&
     curl -s localhost:$PORT/metrics | grep -q 'pronto_model_reloads_total{result=\"refused\"} 1$'"
"$P" registry rollback "$R" --reason 'refused by the server' > /dev/null
"$P" registry promote "$R" v000001 --reason 'back to lr' > /dev/null
ms+=("$(follow v000001)")
ok_follow=1
for m in "${ms[@]}"; do [ "$m" = never ] && ok_follow=0; done
check "the server followed all 6 moves" "[ $ok_follow = 1 ]"
sleep 0.3
touch "$T/stop"
wait "$CPID"
n=$(wc -l < "$T/codes")
bad=$(grep -vc '^200$' "$T/codes")
echo "client: $n predicts, $bad not 200"
check "the client's predicts during the moves: all 200 (at least 100)" "[ $n -ge 100 ] && [ $bad -eq 0 ]"
check "metrics count the 6 reloads" \
    "curl -s localhost:$PORT/metrics | grep -q 'pronto_model_reloads_total{result=\"ok\"} 6$'"
kill -TERM "$SPID"
wait "$SPID"
check "SIGTERM: exit 0" "[ $? -eq 0 ]"

# A/B split and shadow (the long checks, 2000 users and moves under load,
# are test_serve.c's): bad flags are usage errors naming the flag; a split
# answers with the arm and its version and logs both; a shadow's scores
# are in the prediction records (pronto log cat).
bad() { "$P" serve --listen 127.0.0.1:0 --store mem: --data "$T/d" "$@" > /dev/null 2> "$T/e"; echo $?; }
check "--split with a model file: usage error" \
    "[ \$(bad --model $T/lr.pm --split production:1) -eq 2 ] && grep -q -- '--split needs --model registry:DIR' $T/e"
check "--split naming a missing alias: usage error naming it" \
    "[ \$(bad --model registry:$R --split production:90,nosuch:10) -eq 2 ] && grep -q -- \"--split: alias 'nosuch' not found\" $T/e"
check "--split weight 0: usage error" \
    "[ \$(bad --model registry:$R --split production:90,candidate:0) -eq 2 ] && grep -q -- '--split.*weight must be >= 1' $T/e"
check "--split negative weight: usage error" \
    "[ \$(bad --model registry:$R --split production:-1) -eq 2 ] && grep -q -- '--split.*weight must be >= 1' $T/e"
check "--split duplicate arm: usage error" \
    "[ \$(bad --model registry:$R --split production:1,production:2) -eq 2 ] && grep -q -- '--split.*named twice' $T/e"
arms17=$(for i in $(seq 1 17); do printf 'a%d:1,' "$i"; done); arms17=${arms17%,}
check "--split of 17 arms: usage error" \
    "[ \$(bad --model registry:$R --split $arms17) -eq 2 ] && grep -q -- '--split.*more than 16 arms' $T/e"
check "--split beside registry:DIR@ALIAS: usage error" \
    "[ \$(bad --model registry:$R@production --split production:1) -eq 2 ] && grep -q -- '--split names the aliases' $T/e"
check "--shadow naming a missing alias: usage error naming it" \
    "[ \$(bad --model registry:$R --shadow nosuch) -eq 2 ] && grep -q -- \"--shadow: alias 'nosuch' not found\" $T/e"
check "--shadow with a model file: usage error" \
    "[ \$(bad --model $T/lr.pm --shadow candidate) -eq 2 ] && grep -q -- '--shadow needs --model registry:DIR' $T/e"
check "--split-key without --split: usage error" \
    "[ \$(bad --model registry:$R --split-key user_id) -eq 2 ] && grep -q -- '--split-key needs --split' $T/e"
"$P" serve --help > "$T/o" 2>&1
check "serve --help names --split, --split-key and --shadow" \
    "grep -q -- '--split ALIAS:W' $T/o && grep -q -- '--split-key' $T/o && grep -q -- '--shadow ALIAS' $T/o"
# serve one, waiting for its port into PORT
serve_bg() {
    rm -f "$T/s.out"
    "$P" serve --listen 127.0.0.1:0 --store mem: --data "$T/d" "$@" > "$T/s.out" 2> "$T/s.err" &
    SPID=$!
    PORT=$(serve_port "$T/s.out" "$SPID")
}
serve_bg --model "registry:$R" --split production:50,candidate:50 --log "log:$T/ablog?fsync=off"
check "serve --split listens" "[ -n '$PORT' ]"
: > "$T/ab"
for u in $(seq 1 40); do
    curl -s "localhost:$PORT/v1/predict" -d "{\"user_id\":$u,\"request_id\":\"u$u\",\"site_id\":3,\"ts\":1704069060000,\"candidates\":[{\"ad_id\":1},{\"ad_id\":2}]}" >> "$T/ab"
    echo >> "$T/ab"
done
n_p=$(grep -c '"arm":"production","registry_version":"v000001"' "$T/ab")
n_c=$(grep -c '"arm":"candidate","registry_version":"v000002"' "$T/ab")
echo "split 50/50 of 40 users: $n_p production, $n_c candidate"
check "each answer names its arm and version (both arms answered)" \
    "[ $n_p -gt 0 ] && [ $n_c -gt 0 ] && [ $((n_p + n_c)) -eq 40 ]"
curl -s "localhost:$PORT/metrics" > "$T/o"
check "per-arm request counters" \
    "grep -q 'pronto_predict_requests_total{arm=\"production\"} $n_p\$' $T/o && grep -q 'pronto_predict_requests_total{arm=\"candidate\"} $n_c\$' $T/o"
curl -s "localhost:$PORT/v1/model" > "$T/o"
check "GET /v1/model lists the arms with weights" \
    "grep -q '\"arms\":\[{\"arm\":\"production\",\"weight\":50,\"registry_version\":\"v000001\"' $T/o"
kill -TERM "$SPID"; wait "$SPID"
"$P" log cat "log:$T/ablog" --type prediction > "$T/o"
check "pronto log cat: each prediction record names the answer's arm and version" \
    "[ \$(grep -c '\"arm\":\"production\",\"registry_version\":\"v000001\"' $T/o) -eq $n_p ] &&
     [ \$(grep -c '\"arm\":\"candidate\",\"registry_version\":\"v000002\"' $T/o) -eq $n_c ]"
serve_bg --model "registry:$R" --shadow candidate --log "log:$T/shlog?fsync=off"
curl -s "localhost:$PORT/v1/predict" -d '{"user_id":5,"request_id":"sh1","site_id":3,"ts":1704069060000,"candidates":[{"ad_id":1},{"ad_id":2}]}' > "$T/a1"
kill -TERM "$SPID"; wait "$SPID"
serve_bg --model "registry:$R@candidate"
curl -s "localhost:$PORT/v1/predict" -d '{"user_id":5,"request_id":"sh1","site_id":3,"ts":1704069060000,"candidates":[{"ad_id":1},{"ad_id":2}]}' > "$T/a2"
kill -TERM "$SPID"; wait "$SPID"
"$P" log cat "log:$T/shlog" --type prediction > "$T/o"
# the candidate's p as it answered alone, in the order production ranked the ads
want=$(for ad in $(grep -o '"ad_id":[0-9]*' "$T/a1" | cut -d: -f2); do
           grep -o "\"ad_id\":$ad,\"p\":[0-9.e-]*" "$T/a2" | sed 's/.*"p"://'; done | paste -sd,)
check "the shadow's p in the log = the shadow alias answering alone" \
    "grep -q '\"arm\":\"production\".*\"shadow\":{\"arm\":\"candidate\",\"registry_version\":\"v000002\",\"model_version\":\"[0-9a-f]*\",\"p\":\[$want\]}' $T/o"

# History and gc.
"$P" registry history "$R" --json > "$T/h"
check "history: one JSON line per registration, move and rollback" \
    "[ \$(grep -c '\"op\":\"register\"' $T/h) -eq 5 ] && [ \$(grep -c '\"op\":\"rollback\"' $T/h) -eq 3 ] && [ \$(grep -c '\"op\":\"alias\"' $T/h) -eq 7 ]"
"$P" registry history "$R" --alias production > "$T/o"
check "history --alias: the reasons" "grep -q 'live NE worse' $T/o && ! grep -q candidate $T/o"
"$P" registry gc "$R" --keep 0 --dry-run --json > "$T/o"
check "gc --dry-run: the versions no alias or rollback needs" \
    "grep -q '\"removed\": \\[\"v000003\", \"v000004\", \"v000005\"\\]' $T/o && [ -d $R/versions/v000004 ]"
"$P" registry gc "$R" --keep 0 > /dev/null
check "gc removes them, keeps production's rollback target" \
    "[ ! -d $R/versions/v000005 ] && [ ! -d $R/versions/v000003 ] && [ -d $R/versions/v000001 ] && [ -d $R/versions/v000002 ]"
# A pending request (what pronto retrain --every takes).
"$P" registry request "$R" retrain --reason 'NE alert' --detail '{"ne":0.93}' > "$T/o"
check "request: recorded" "[ $? -eq 0 ] && grep -q 'retrain requested' $T/o && grep -q 'NE alert' $R/requests/retrain"
"$P" registry request "$R" retrain > /dev/null
check "request again: merged (count 2, the newest reason)" "grep -q '\"count\":2' $R/requests/retrain && grep -q 'manual request' $R/requests/retrain"
"$P" registry history "$R" --json > "$T/h"
check "request: in the history" "[ \$(grep -c '\"op\":\"request\"' $T/h) -eq 2 ] && grep -q 'NE alert' $T/h"
"$P" registry request "$R" 'Bad Word' 2> "$T/e"
check "request: a bad name is a usage error naming it" "[ $? -eq 2 ] && grep -q 'Bad Word' $T/e"
"$P" registry request "$R" retrain --detail '[1' 2> "$T/e"
check "request: a bad --detail is a usage error" "[ $? -eq 2 ] && grep -q 'detail' $T/e"
"$P" registry request "$R" 2> "$T/e"
check "request: WHAT missing is a usage error" "[ $? -eq 2 ]"
echo 'pronto-registry 2' > "$R/FORMAT"
"$P" registry list "$R" 2> "$T/e"
check "another format version: refused naming it" "[ $? -eq 1 ] && grep -q 'version 2' $T/e && grep -q '$R' $T/e"
finish
