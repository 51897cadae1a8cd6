#!/bin/bash
# cli_fstore.sh: the feature store end to end with the real binary, on a
# small simulated stream (specs/sim-store.yaml):
#   - build-dataset with splits: counts add up, plausible CTR, the CSV's
#     header is impression_id,ts_ms,label + one column per assembled column;
#     train --dataset / eval --dataset beat the base-rate entropy; a dataset
#     built under another spec is refused, naming the file;
#   - materialize into LMDB, features get: JSON with attributes and
#     aggregates; unknown entity / wrong key count (exit 2), absent key
#     (exit 1); replays (in one stream, and a second run) give the same row;
#   - Redis: unreachable fails fast naming the address; a real redis-server
#     on a unix socket gives the same rows as LMDB; a server that stalls or
#     dies mid-run gives a bounded, clear failure;
#   - bad input: specs with unknown columns/entities/sources (spec:line:col
#     and the key), malformed event lines (file:line; --max-bad), unknown
#     types and missing ids counted, extreme int64 timestamps (no undefined
#     behaviour), duplicate table keys (latest effective time wins, ties:
#     the later row), non-UTF-8 attributes shown by features get, bad
#     effective times and empty keys (file:line:column).
. "$(dirname "$0")/lib_cli.sh"
SPEC=${PRONTO_SRC:?}/specs/sim-store.yaml
START=1704067200   # pronto simulate's default start, 2024-01-01T00:00:00Z

REDIS_PID=
cleanup() {
    if [ -n "$REDIS_PID" ]; then
        kill -CONT "$REDIS_PID" 2>/dev/null; kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null
    fi
    chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"
}
trap cleanup EXIT

# Field k (1-based) of the CSV whose header names column $2.
col_of() { head -1 "$1" | tr ',' '\n' | grep -nx -- "$2" | cut -d: -f1; }
# Value of key $2 in a flat summary line "a=1 b=2 ..." in file $1.
stat_of() { grep -o " $2=[0-9]*" "$1" | head -1 | cut -d= -f2; }

# ---------------------------------------------------------------- datasets
# Few users and ads, so that 20 minutes of history teach the model something.
"$P" simulate --users 100 --ads 20 --advertisers 10 --sites 20 --imp-rate 10 \
    --duration 30m --seed 3 -o "$T/sim" --quiet
E=$T/sim/events-000000.jsonl
check "simulate ran" "[ -s $E ] && [ -s $T/sim/users.csv ]"
IMPS=$(grep -c '"type":"impression"' "$E")

cd "$T"
"$P" build-dataset --spec "$SPEC" --data sim -o train.pcache \
    --split 2024-01-01T00:20:00Z=valid.pcache,2024-01-01T00:25:00Z=test.csv \
    > build.out 2> build.err
check "build-dataset exits 0" "[ $? -eq 0 ]"
check "one summary line per output" "[ \$(grep -c ' examples  CTR ' build.out) -eq 3 ]"
n_train=$(awk '$1=="train.pcache"{print $2}' build.out)
n_valid=$(awk '$1=="valid.pcache"{print $2}' build.out)
n_test=$(awk '$1=="test.csv"{print $2}' build.out)
check "every output has examples" "[ ${n_train:-0} -gt 0 ] && [ ${n_valid:-0} -gt 0 ] && [ ${n_test:-0} -gt 0 ]"
check "examples add up to the impressions ($IMPS)" \
    "[ \$(( ${n_train:-0} + ${n_valid:-0} + ${n_test:-0} )) -eq $IMPS ]"
check "summary counts the impressions" "[ \"\$(stat_of build.err impressions)\" = $IMPS ]"
check "CTR plausible (0.5%..10%)" \
    "awk '/ CTR /{if (\$5 < 0.005 || \$5 > 0.1) bad=1} END{exit bad}' build.out"
# The split boundaries hold: train < 20 min <= test.csv from 25 min on.
t_col=$(col_of test.csv ts_ms)
check "test.csv holds only its range" \
    "tail -n +2 test.csv | awk -F, -v c=$t_col -v lo=$(( (START + 1500) * 1000 )) '\$c < lo{bad=1} END{exit bad}'"
check "test.csv: one row per example" "[ \$(( \$(wc -l < test.csv) - 1 )) -eq ${n_test:-0} ]"

# The header: id, ts, label, then the assembled columns in order: request
# columns, time columns, entity.attribute (entities in spec order), the
# aggregates. Counted from the spec so an edit of the spec keeps this true.
check "CSV header starts with impression_id,ts_ms,label,<request>,<time>" \
    "head -1 test.csv | grep -q '^impression_id,ts_ms,label,user_id,ad_id,site_id,device,position,hour_of_day,day_of_week,'"
n_attrs=$(grep -o '^    attributes: \[[^]]*\]' "$SPEC" | awk -F, '{n += NF} END{print n}')
n_aggs=$(awk '/^aggregates:/{a=1; next} /^[a-z]/{a=0} a && /^  - name:/{n++} END{print n}' "$SPEC")
n_cols=$(head -1 test.csv | awk -F, '{print NF}')
check "CSV header: one column per assembled column (3+5+2+$n_attrs+$n_aggs)" \
    "[ $n_cols -eq \$(( 3 + 5 + 2 + $n_attrs + $n_aggs )) ]"
missing=""
for a in $(awk '/^aggregates:/{a=1; next} /^[a-z]/{a=0} a && /^  - name:/{print $3}' "$SPEC"); do
    head -1 test.csv | tr ',' '\n' | grep -qx "$a" || missing="$missing $a"
done
check "CSV header names every aggregate" "[ -z '$missing' ]"
check "CSV header names entity.attribute columns" \
    "head -1 test.csv | grep -q ',user.age_bucket,user.gender,user.country,ad.advertiser_id,ad.campaign_id,ad.category,ad.creative_type,site.site_category,'"
check "every CSV row has the header's field count" \
    "awk -F, -v n=$n_cols 'NF != n{bad=1} END{exit bad}' test.csv"
check "labels are 0/1, some positives" \
    "tail -n +2 test.csv | awk -F, '\$3 != 0 && \$3 != 1{bad=1} \$3==1{p++} END{exit bad || p == 0}'"

# one thread: the same model every run
"$P" train --dataset --spec "$SPEC" --threads 1 --valid valid.pcache -o m.model train.pcache > train.out 2>&1
check "train --dataset exits 0" "[ $? -eq 0 ]"
"$P" eval --dataset --json m.model valid.pcache > eval.json 2> eval.err
check "eval --dataset exits 0" "[ $? -eq 0 ]"
ll=$(json_get eval.json log_loss); br=$(json_get eval.json base_rate)
check "eval counts every validation example" "[ \"\$(json_get eval.json rows)\" = ${n_valid:-x} ]"
check "log loss $ll below the base-rate entropy (p=$br)" \
    "awk -v ll=${ll:-9} -v p=${br:-0.5} 'BEGIN{h = -(p*log(p) + (1-p)*log(1-p)); exit !(ll < h)}'"

# A dataset built under another spec (hash_bits changed) is refused.
sed 's/^hash_bits: .*/hash_bits: 18/' "$SPEC" > bits18.yaml
check "copied spec differs in hash_bits" "grep -q '^hash_bits: 18' bits18.yaml && ! cmp -s bits18.yaml $SPEC"
"$P" train --dataset --spec bits18.yaml -o m18.model train.pcache > t18.out 2> t18.err
check "train --dataset with another spec: exit 1" "[ $? -eq 1 ]"
check "... naming the dataset file" "grep -q 'train.pcache' t18.err"
check "... and writing no model" "[ ! -e m18.model ]"
"$P" build-dataset --spec bits18.yaml --data sim -o v18.pcache --from 2024-01-01T00:20:00Z > /dev/null 2>&1
"$P" eval --dataset m.model v18.pcache > e18.out 2> e18.err
check "eval --dataset of another spec's dataset: exit 1, file named" \
    "[ $? -eq 1 ] && grep -q 'v18.pcache' e18.err && [ ! -s e18.out ]"
"$P" build-dataset --spec "$SPEC" --data sim -o u.pcache \
    --split 2024-01-01T00:20:00Z=a.pcache,2024-01-01T00:10:00Z=b.pcache > /dev/null 2> u1.err
check "--split times not increasing: exit 2" "[ $? -eq 2 ] && grep -q -- '--split' u1.err"
"$P" build-dataset --spec "$SPEC" --data sim -o u.pcache --split 2024-13-45=a.pcache > /dev/null 2> u2.err
check "--split with a bad time: exit 2, the time named" "[ $? -eq 2 ] && grep -q '2024-13-45' u2.err"
"$P" build-dataset --data sim -o u.pcache > /dev/null 2> u3.err
check "no --spec: exit 2" "[ $? -eq 2 ] && grep -q -- '--spec' u3.err"
check "usage errors write no output" "[ ! -e u.pcache ] && [ ! -e a.pcache ]"

# ---------------------------------------------------------------- materialize
"$P" simulate --users 200 --ads 40 --advertisers 10 --sites 20 --imp-rate 5 \
    --duration 8m --seed 5 -o small --quiet
SE=small/events-000000.jsonl
# the busiest user, a surely-clicked one, and the end of the stream
U=$(grep -o '"type":"impression".*"user_id":[0-9]*' $SE | sed 's/.*"user_id"://' | sort | uniq -c | sort -rn | head -1 | awk '{print $2}')
AT=$((START + 600))
"$P" materialize --spec "$SPEC" --data small --store "lmdb:$T/lm?sync=0" > mat.out 2> mat.err
check "materialize lmdb exits 0" "[ $? -eq 0 ]"
check "materialize summary" "grep -q 'table rows, [1-9][0-9]* events' mat.out"
"$P" features get user "$U" --spec "$SPEC" --store "lmdb:$T/lm" --at $AT > get1.json 2> get1.err
check "features get user $U exits 0" "[ $? -eq 0 ]"
check "features get prints JSON with attributes and aggregates" "python3 -c '
import json, sys
d = json.load(open(\"get1.json\"))
assert d[\"entity\"] == \"user\" and d[\"key\"] == \"$U\", d
assert d[\"attributes\"][\"country\"] and d[\"attributes\"][\"age_bucket\"], d
a = d[\"aggregates\"]
assert a[\"user_imps_1h\"] > 0 and a[\"user_imps_1d\"] >= a[\"user_imps_1h\"], a
assert 0 < a[\"user_ctr_1d\"] < 1, a
assert set(a) >= {\"user_clicks_decayed\", \"user_last_click_ads\"}, a
'"
# the aggregate equals a count from the events file (the last hour = all)
n_u=$(grep -c "\"type\":\"impression\".*\"user_id\":$U," $SE)
check "user_imps_1d equals the user's impressions in the file ($n_u)" \
    "grep -q '\"user_imps_1d\": $n_u,' get1.json"
# the attributes equal the user table's row
country=$(awk -F, -v u="$U" '$1==u{print $5}' small/users.csv | tail -1)
check "attributes come from users.csv (country $country)" "grep -q '\"country\": \"$country\"' get1.json"
"$P" features get user_ad "$U" 0 --spec "$SPEC" --store "lmdb:$T/lm" --at $AT > getua.json 2>/dev/null
rc=$?
n_ua=$(grep -c "\"type\":\"impression\".*\"user_id\":$U,\"ad_id\":0," $SE)
if [ "$n_ua" -gt 0 ]; then
    check "compound key user_ad ($U, 0)" "[ $rc -eq 0 ] && grep -q '\"user_ad_imps_7d\": $n_ua' getua.json"
else
    check "compound key user_ad ($U, 0): no row" "[ $rc -eq 1 ]"
fi

"$P" features get usr "$U" --spec "$SPEC" --store "lmdb:$T/lm" > /dev/null 2> ue.err
check "unknown entity: exit 2" "[ $? -eq 2 ]"
check "... listing the entities" "grep -q \"unknown entity 'usr'\" ue.err && grep -q 'user, ad, site, advertiser, user_ad' ue.err"
"$P" features get user_ad "$U" --spec "$SPEC" --store "lmdb:$T/lm" > /dev/null 2> wk.err
check "wrong key count: exit 2" "[ $? -eq 2 ]"
check "... saying how many keys" "grep -q '2 key column' wk.err"
"$P" features get user 424242 --spec "$SPEC" --store "lmdb:$T/lm" --at $AT > nr.out 2> nr.err
check "key with no row: exit 1" "[ $? -eq 1 ]"
check "... with a clear message" "grep -q \"'user' has no row\" nr.err && [ ! -s nr.out ]"
"$P" features get user "$U" --spec "$SPEC" --store "lmdb:$T/lm" --at banana > /dev/null 2> at.err
check "bad --at: exit 2" "[ $? -eq 2 ] && grep -q -- '--at' at.err"

# Replays. The stream twice in one file: same row (duplicates dropped).
mkdir dup && cp small/*.csv dup/ && cat $SE $SE > dup/events-000000.jsonl
"$P" materialize --spec "$SPEC" --data dup --store "lmdb:$T/lmdup?sync=0" > dup.out 2>&1
check "materialize of a doubled stream: duplicates dropped" "grep -q '[1-9][0-9]* duplicates: skipped' dup.out"
"$P" features get user "$U" --spec "$SPEC" --store "lmdb:$T/lmdup" --at $AT > getdup.json 2>&1
check "doubled stream: same row as once" "cmp -s get1.json getdup.json"
# A second materialize of the same data into the same store.
"$P" materialize --spec "$SPEC" --data small --store "lmdb:$T/lm?sync=0" > mat2.out 2>&1
check "materialize again exits 0" "[ $? -eq 0 ]"
"$P" features get user "$U" --spec "$SPEC" --store "lmdb:$T/lm" --at $AT > get2.json 2>&1
check "materialize twice: same features get output (idempotent replay)" "cmp -s get1.json get2.json"
[ -f get2.json ] && ! cmp -s get1.json get2.json && diff get1.json get2.json | head -12

# ---------------------------------------------------------------- redis
t0=$(date +%s%N)
"$P" materialize --spec "$SPEC" --data small --store redis:127.0.0.1:1 > r1.out 2> r1.err
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "redis unreachable: exit 1" "[ $rc -eq 1 ]"
check "... in under 2 s ($ms ms)" "[ $ms -lt 2000 ]"
check "... naming the address" "grep -q '127.0.0.1:1' r1.err && grep -qi 'connect' r1.err"

start_redis() { # SOCKET: a fresh redis-server without persistence
    rm -f "$1"
    redis-server --port 0 --unixsocket "$1" --unixsocketperm 700 --save '' \
        --appendonly no --daemonize no --dir "$T" --logfile "$1.log" &
    REDIS_PID=$!
    for _ in $(seq 50); do [ -S "$1" ] && break; sleep 0.1; done
}
stop_redis() { kill -CONT "$REDIS_PID" 2>/dev/null; kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; REDIS_PID=; }

if command -v redis-server > /dev/null; then
    SOCK=$T/redis.sock
    start_redis "$SOCK"
    check "redis-server started on a unix socket" "[ -S $SOCK ]"
    "$P" materialize --spec "$SPEC" --data small --store "redis:unix:$SOCK?timeout_ms=2000" > rm.out 2> rm.err
    check "materialize redis exits 0" "[ $? -eq 0 ]"
    # fresh LMDB of one materialize, to compare with
    "$P" materialize --spec "$SPEC" --data small --store "lmdb:$T/lm1?sync=0" > /dev/null 2>&1
    # The reads compare rows, not latency: a generous timeout_ms (the
    # default 100 ms is a serving budget, which a loaded machine running
    # the suite in parallel can miss once in a while).
    RS="redis:unix:$SOCK?timeout_ms=10000&connect_timeout_ms=10000"
    same=1
    for q in "user $U" "ad 0" "ad 3" "site 1" "advertiser 2" "user_ad $U 0" "user 424242"; do
        "$P" features get $q --spec "$SPEC" --store "$RS" --at $AT > rg.json 2> rg.err; r1=$?
        "$P" features get $q --spec "$SPEC" --store "lmdb:$T/lm1" --at $AT > lg.json 2> lg.err; r2=$?
        if [ $r1 -ne $r2 ] || ! cmp -s rg.json lg.json; then
            same=0; echo "differs: features get $q (redis $r1, lmdb $r2)"; cat rg.err lg.err
        fi
    done
    check "redis rows equal lmdb rows (features get, 7 keys)" "[ $same -eq 1 ]"
    "$P" features get user "$U" --spec "$SPEC" --store "$RS" --at $AT > rg.json 2>&1
    check "redis row has the user's aggregates" "grep -q '\"user_imps_1d\": $n_u,' rg.json || { cat rg.json; false; }"
    stop_redis

    # Redis stalling (SIGSTOP) or dying in the middle of a run: a bounded,
    # clear failure, not a hang. A stream with many distinct keys keeps
    # materialize busy (rows it holds in memory cost no round trip).
    "$P" simulate --users 5000 --ads 1000 --advertisers 50 --sites 200 --events 100k \
        --seed 3 -o "$T/simk" --quiet
    for how in STOP KILL; do
        start_redis "$T/r$how.sock"
        t0=$(date +%s%N)
        "$P" materialize --spec "$SPEC" --data simk --store "redis:unix:$T/r$how.sock" \
            > "r$how.out" 2> "r$how.err" &
        mpid=$!
        sleep 0.3
        kill -$how "$REDIS_PID"
        wait $mpid 2>/dev/null; rc=$?
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        stop_redis 2>/dev/null
        check "redis SIG$how mid-run: exit 1 within 3 s ($ms ms)" "[ $rc -eq 1 ] && [ $ms -lt 3000 ]"
        check "redis SIG$how mid-run: the message names the store" "grep -q 'r$how.sock' r$how.err"
    done
else
    fail "redis-server not installed (scripts/bootstrap installs it)"
fi

# ---------------------------------------------------------------- bad specs
# Each refused at load with spec:line:col, the key's path and the name.
bad_spec() { # NAME SED-SCRIPT EXPECTED-REGEX
    sed "$2" "$SPEC" > "$1.yaml"
    "$P" build-dataset --spec "$1.yaml" --data small -o "$1.pcache" > /dev/null 2> "$1.err"
    local rc=$?
    check "$1: exit 1" "[ $rc -eq 1 ]"
    check "$1: '$3'" "grep -Eq \"$3\" $1.err"
    check "$1: no output" "[ ! -e $1.pcache ]"
}
bad_spec unknown_column 's/column: user.country, type/column: user.countryx, type/' \
    "^pronto build-dataset: unknown_column.yaml:[0-9]+:[0-9]+: fields\[[0-9]+\].column: unknown column 'user.countryx'"
bad_spec unknown_entity 's/^    entity: advertiser$/    entity: advertizer/' \
    "unknown_entity.yaml:[0-9]+:[0-9]+: aggregates\[[0-9]+\].entity: unknown entity 'advertizer' \(entities: user, ad"
bad_spec unknown_table_entity 's/^    entity: site$/    entity: sites/' \
    "unknown_table_entity.yaml:[0-9]+:[0-9]+: sources\[2\].entity: unknown entity 'sites'"
bad_spec unknown_key_entity 's/^    key: ad.advertiser_id .*/    key: campaign.advertiser_id/' \
    "unknown_key_entity.yaml:[0-9]+:[0-9]+: entities\[3\].key: 'campaign' is not an entity"
bad_spec unknown_attribute 's/value: ad.category/value: ad.categoryx/' \
    "unknown_attribute.yaml:[0-9]+:[0-9]+: aggregates\[[0-9]+\].value: unknown column 'ad.categoryx'"
# user_ad has no table source, so no attributes to read
bad_spec no_table_source 's/value: ad.category/value: user_ad.category/' \
    "no_table_source.yaml:[0-9]+:[0-9]+: aggregates\[[0-9]+\].value: .*user_ad"
# aggregates with the events source removed
bad_spec no_events_source '/^  - name: events$/,/^    path: "events/d' \
    "no_events_source.yaml:[0-9]+:[0-9]+: aggregates: aggregates need an events source"
bad_spec unknown_event_type_key 's/^    events: \[impression\]$/    events: [impression, 3vil!]/' \
    "unknown_event_type_key.yaml:[0-9]+:[0-9]+: aggregates\[[0-9]+\].events"

# ---------------------------------------------------------------- bad events
mkdir bad && cp small/*.csv bad/
NE=$(wc -l < $SE)
{ head -100 $SE
  echo '{"type":"impression","event_id":'                                       # 101: cut short
  echo 'not json'                                                               # 102
  echo '{"type":"bounce","event_id":90000001,"impression_id":5,"ts":1704067230000,"user_id":1}'
  echo '{"type":"click","ts":1704067230000,"user_id":1}'                        # no ids
  echo '{"type":"impression","event_id":90000002,"user_id":1,"ad_id":2}'       # no ts
  echo '{"type":"impression","event_id":90000003,"impression_id":90000003,"ts":1704067230000,"ad_id":2,"site_id":1}' # no user_id
  tail -n +101 $SE; } > bad/events-000000.jsonl
"$P" build-dataset --spec "$SPEC" --data bad -o bad.csv > be.out 2> be.err
check "malformed event line: exit 1" "[ $? -eq 1 ]"
check "... naming file:line:column" "grep -q 'bad/events-000000.jsonl:101: column [0-9]*:' be.err"
check "... and the --max-bad limit" "grep -q 'bad/events-000000.jsonl:101: more than 0 malformed' be.err"
check "... leaving no output" "[ ! -e bad.csv ] && [ -z \"\$(ls | grep '^bad.csv')\" ]"
"$P" build-dataset --spec "$SPEC" --data bad -o bad.csv --max-bad 5 > bm.out 2> bm.err
check "--max-bad 5: exit 0" "[ $? -eq 0 ]"
check "... both lines reported" "grep -q 'events-000000.jsonl:101: column' bm.err && grep -q 'events-000000.jsonl:102: column 1:' bm.err"
check "... malformed counted" "[ \"\$(stat_of bm.err malformed)\" = 2 ]"
check "... unknown type counted" "[ \"\$(stat_of bm.err unknown_type)\" = 1 ]"
check "... missing ids counted" "[ \"\$(stat_of bm.err missing_ids)\" = 2 ]"
check "... missing entity key counted" "[ \"\$(stat_of bm.err missing_keys)\" -ge 1 ]"
check "... all events read" "[ \"\$(stat_of bm.err events)\" = $((NE + 4)) ]"
n_bad=$(awk '/ CTR /{print $2}' bm.out)
check "... the impression without user_id is still an example" \
    "[ ${n_bad:-0} -eq \$(( \$(grep -c '\"type\":\"impression\"' $SE) + 1 )) ]"
uid_col=$(col_of bad.csv user_id)
check "... assembled with an empty user and no user attributes" \
    "grep -q '^90000003,1704067230000,0,,2,1,' bad.csv"
"$P" build-dataset --spec "$SPEC" --data bad -o bad2.csv --max-bad 1 > /dev/null 2> b1.err
check "--max-bad 1 with 2 bad lines: exit 1 at the second" "[ $? -eq 1 ] && grep -q 'jsonl:102: more than 1 malformed' b1.err"
# Extreme (valid JSON int64) timestamps and over-long keys: taken or
# refused with file:line, never undefined behaviour (the sanitizer build
# aborts on it) or a store error that does not say which line caused it.
# user_ad has a 7 d TTL, so its expiry is computed.
extreme() { # NAME FIRST-LINE LAST-LINE
    mkdir "$1" && cp small/*.csv "$1/"
    { [ -n "$2" ] && echo "$2"; head -50 $SE; [ -n "$3" ] && echo "$3"; } > "$1/events-000000.jsonl"
    "$P" build-dataset --spec "$SPEC" --data "$1" -o "$1.csv" > /dev/null 2> "$1.err"
    local rc=$?
    check "$1: build-dataset takes it or names file:line" \
        "[ $rc -eq 0 ] || { [ $rc -eq 1 ] && grep -q 'events-000000.jsonl:[0-9]' $1.err; }"
    check "$1: build-dataset: no undefined behaviour" "! grep -q 'runtime error\|Sanitizer' $1.err"
    "$P" materialize --spec "$SPEC" --data "$1" --store "lmdb:$T/$1.lmdb?sync=0" > /dev/null 2> "$1.merr"
    rc=$?
    check "$1: materialize takes it or names file:line" \
        "[ $rc -eq 0 ] || { [ $rc -eq 1 ] && grep -q 'events-000000.jsonl:[0-9]' $1.merr; }"
    check "$1: materialize: no undefined behaviour" "! grep -q 'runtime error\|Sanitizer' $1.merr"
}
IMP='{"type":"impression","user_id":1,"ad_id":2,"site_id":1,"device":"ctv","position":1'
extreme ts_max "" "$IMP,\"event_id\":90000011,\"impression_id\":90000011,\"ts\":9223372036854775807}"
extreme ts_min "$IMP,\"event_id\":90000012,\"impression_id\":90000012,\"ts\":-9223372036854775807}" \
    "$IMP,\"event_id\":90000013,\"impression_id\":90000013,\"ts\":1704067210000}"
# ... and those two are refused (no time of the years 1970..9999): naming the key
check "ts_max: materialize refuses it at file:line naming 'ts'" \
    "grep -q \"events-000000.jsonl:51: key 'ts': 9223372036854775807 is not a time in the years 1970..9999\" ts_max.merr"
check "ts_min: build-dataset refuses it at file:line naming 'ts'" \
    "grep -q \"events-000000.jsonl:1: key 'ts': -9223372036854775807 is not a time\" ts_min.err"
# A key longer than a store key may be (600 bytes; PR_STORE_KEY_MAX 511).
LONG=$(printf 'x%.0s' $(seq 600))
extreme long_key "" "{\"type\":\"impression\",\"event_id\":90000014,\"impression_id\":90000014,\"ts\":1704067210000,\"user_id\":\"$LONG\",\"ad_id\":2}"

mkdir noev && cp small/*.csv noev/
"$P" build-dataset --spec "$SPEC" --data noev -o ne.pcache > /dev/null 2> ne.err
check "no event files: exit 1, pattern named" "[ $? -eq 1 ] && grep -q 'noev/events-\*.jsonl\*: no event files' ne.err"

# ---------------------------------------------------------------- tables
# User 1 (in small/users.csv at the start): ZZ from +3 min, YY from +1 min
# (listed after ZZ: an older change read late), WW from +3 min again (a
# tie: the later row wins). So: original < +1 min <= YY < +3 min <= WW.
mkdir dupk && cp small/* dupk/
c0=$(awk -F, '$1==1{print $5}' small/users.csv)
base=$(awk -F, '$1==1{print $3","$4}' small/users.csv)
rest=$(awk -F, '$1==1{print $6","$7}' small/users.csv)
T1=$(( (START + 60) * 1000 )); T3=$(( (START + 180) * 1000 ))
{ echo "1,$T3,$base,ZZ,$rest"; echo "1,$T1,$base,YY,$rest"; echo "1,$T3,$base,WW,$rest"; } >> dupk/users.csv
"$P" build-dataset --spec "$SPEC" --data dupk -o dupk.csv > dk.out 2> dk.err
check "duplicate table keys: exit 0" "[ $? -eq 0 ]"
uc=$(col_of dupk.csv user_id); cc=$(col_of dupk.csv user.country); tc=$(col_of dupk.csv ts_ms)
awk -F, -v u=$uc -v c=$cc -v t=$tc '$u == "1" {print $t, $c}' dupk.csv > u1.txt
check "user 1 has impressions in every period" \
    "awk -v a=$T1 -v b=$T3 '\$1 < a{x=1} \$1 >= a && \$1 < b{y=1} \$1 >= b{z=1} END{exit !(x && y && z)}' u1.txt"
check "before +1 min: the original row ($c0)" "awk -v a=$T1 -v c=$c0 '\$1 < a && \$2 != c{bad=1} END{exit bad}' u1.txt"
check "from +1 min: the YY row" "awk -v a=$T1 -v b=$T3 '\$1 >= a && \$1 < b && \$2 != \"YY\"{bad=1} END{exit bad}' u1.txt"
check "from +3 min: the latest effective time, the later of a tie (WW)" \
    "awk -v b=$T3 '\$1 >= b && \$2 != \"WW\"{bad=1} END{exit bad}' u1.txt"
"$P" materialize --spec "$SPEC" --data dupk --store "lmdb:$T/lmdk?sync=0" > /dev/null 2>&1
"$P" features get user 1 --spec "$SPEC" --store "lmdb:$T/lmdk" --at $AT > dk.json 2>&1
check "materialize: duplicate keys keep the latest (WW)" "grep -q '\"country\": \"WW\"' dk.json"

# An attribute that is not UTF-8 (a Latin-1 table) is still shown.
mkdir latin1 && cp small/* latin1/
printf '1,%s,25-34,f,Z\351land,desktop,1\n' $(( (START + 60) * 1000 )) >> latin1/users.csv
"$P" materialize --spec "$SPEC" --data latin1 --store "lmdb:$T/lml1?sync=0" > /dev/null 2>&1
"$P" features get user 1 --spec "$SPEC" --store "lmdb:$T/lml1" --at $AT > l1.json 2> l1.err
check "features get: a non-UTF-8 attribute is shown, not dropped" "grep -q '\"country\":' l1.json"
check "features get: non-UTF-8 output is still JSON" "python3 -c 'import json; json.load(open(\"l1.json\"))'"

bad_table() { # NAME LINE-TO-APPEND EXPECTED-REGEX
    mkdir "$1" && cp small/* "$1/"
    echo "$2" >> "$1/users.csv"
    local line=$(wc -l < "$1/users.csv")
    "$P" build-dataset --spec "$SPEC" --data "$1" -o "$1.pcache" > /dev/null 2> "$1.err"
    local rc=$?
    check "$1: exit 1" "[ $rc -eq 1 ]"
    check "$1: users.csv:$line: $3" "grep -Eq \"$1/users.csv:$line: $3\" $1.err"
    check "$1: no output" "[ ! -e $1.pcache ]"
    "$P" materialize --spec "$SPEC" --data "$1" --store "lmdb:$T/$1.lmdb?sync=0" > /dev/null 2> "$1.merr"
    rc=$?
    check "$1: materialize refuses it too" "[ $rc -eq 1 ] && grep -Eq \"users.csv:$line: \" $1.merr"
}
bad_table bad_time "7,yesterday,25-34,f,US,desktop,1" "column 'effective_ts': expected integer Unix milliseconds, got 'yesterday'"
bad_table empty_time "7,,25-34,f,US,desktop,1" "column 'effective_ts'"
bad_table frac_time "7,1704067200000.5,25-34,f,US,desktop,1" "column 'effective_ts'"
bad_table huge_time "7,99999999999999999999,25-34,f,US,desktop,1" "column 'effective_ts'"
# 19 digits, above INT64_MAX: must be refused, not wrapped around
bad_table overflow_time "7,9999999999999999999,25-34,f,US,desktop,1" "column 'effective_ts'"
bad_table far_time "7,9223372036854775807,25-34,f,US,desktop,1" "column 'effective_ts': 9223372036854775807 is not a time in the years 1970..9999"
bad_table neg_time "7,-1,25-34,f,US,desktop,1" "column 'effective_ts': -1 is not a time"
bad_table empty_key ",1704067200000,25-34,f,US,desktop,1" "column 'user_id': empty key"

finish
