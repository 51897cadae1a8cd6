#!/bin/bash
# cli_learn.sh: `pronto learn` (online learning) end to end on a simulated
# stream put into a log:DIR. --until-end registers versions at the publish
# times of event time with their metadata; progressive validation beats the
# constant-CTR baseline; --scores has one line per labeled impression, the
# same impressions and labels as build-dataset --events; kill -9 at random
# points and restarts give the byte-identical final model and --scores file
# of an uninterrupted run (no example learned twice or skipped), the
# registry verifying after every kill; --learn-from (events before it only
# warm the feature store: counts, --scores, the model is the init until
# then; a kill trial with it); following
# a log that grows; malformed events counted and skipped; a log renamed
# away and back; SIGTERM; a finished learner; /metrics; bad flags.
. "$(dirname "$0")/lib_cli.sh"
TOOL=$(dirname "$P")/tool_log_append
SPEC=${PRONTO_SRC:?}/specs/sim-store.yaml
TRIALS=${LEARN_TRIALS:-10}

"$P" simulate --users 400 --ads 80 --advertisers 10 --sites 30 --duration 3h --imp-rate 2 \
    --seed 11 --rotate 0 -o "$T/sim" --quiet
"$P" log append "log:$T/log" "$T"/sim/events-*.jsonl > /dev/null
L="log:$T/log"
check "log written" "[ -d $T/log ]"
learn() { "$P" learn --spec "$SPEC" --data "$T/sim" --publish-every 10m -q "$@"; }

# --until-end: versions at publish times, metadata, progressive validation
learn --follow "$L" --registry "$T/r" --until-end --scores "$T/s.csv" --pv > "$T/o.jsonl" 2> "$T/o.err"
check "learn --until-end: exit 0" "[ $? -eq 0 ] && grep -q '\"event\":\"end\"' $T/o.jsonl"
npub=$(grep -c '"event":"publish"' "$T/o.jsonl")
check "publishes every 10m of event time (>= 8 in 3h)" "[ $npub -ge 8 ]"
check "publish times are multiples of 10m but the last" \
    "[ \$(grep '\"trigger\":\"time\"' $T/o.jsonl | grep -o '\"publish_ts_ms\":[0-9]*' | cut -d: -f2 | awk '\$1 % 600000' | wc -l) -eq 0 ]"
check "a version registered per publish" "[ \$(ls -d $T/r/versions/v* | wc -l) -eq $npub ]"
"$P" registry show --json "$T/r" v000002 > "$T/v2.json"
check "version metadata: parent, log position, examples, interval metrics" \
    "grep -q '\"parent\": *\"v000001\"' $T/v2.json && grep -q '\"position\"' $T/v2.json && grep -q '\"examples\"' $T/v2.json && grep -q '\"pv_logloss\"' $T/v2.json"
check "production promoted by the gate" "[ \$(grep -c '\"decision\":\"promoted\"' $T/o.jsonl) -ge 1 ] && [ -f $T/r/aliases/production ]"
"$P" registry history "$T/r" > "$T/hist"
check "every decision in the registry history" "[ \$(grep -c ' gate ' $T/hist) -eq $npub ]"
ne=$(grep '"event":"end"' "$T/o.jsonl" | grep -o '"pv_ne":[0-9.]*' | cut -d: -f2)
check "progressive NE finite and < 1 (better than the constant CTR): $ne" \
    "awk -v n=\"$ne\" 'BEGIN{exit !(n > 0 && n < 1)}'"
"$P" build-dataset --spec "$SPEC" --data "$T/sim" --events "$L" -o "$T/ds.csv" > /dev/null 2>&1
tail -n +2 "$T/ds.csv" | cut -d, -f1-3 > "$T/ds.ids"
cut -d, -f1-3 "$T/s.csv" > "$T/s.ids"
check "--scores: one line per labeled impression, the ids and labels of build-dataset" \
    "[ -s $T/s.ids ] && cmp -s $T/ds.ids $T/s.ids"
check "--scores: p and --pv columns are probabilities" \
    "awk -F, '\$4 <= 0 || \$4 >= 1 || \$5 <= 0 || \$5 >= 1 {bad=1} END{exit bad}' $T/s.csv"
"$P" learn --spec "$SPEC" --data "$T/sim" -q --follow "$L" --registry "$T/r" --until-end \
    --scores "$T/s.csv" --pv > "$T/again.jsonl" 2>&1
check "a finished learner started again: nothing to do (exit 0)" \
    "[ $? -eq 0 ] && grep -q '\"event\":\"finished\"' $T/again.jsonl && cmp -s $T/s.ids <(cut -d, -f1-3 $T/s.csv)"

# the same without --scores/--pv, --keep 3: the learner's old versions go
learn --follow "$L" --registry "$T/k" --until-end --keep 3 --no-promote > "$T/k.jsonl" 2>&1
check "--keep 3: 3 versions left" "[ \$(ls -d $T/k/versions/v* | wc -l) -eq 3 ]"
check "--no-promote: no alias" "[ ! -e $T/k/aliases/production ] && grep -q '\"decision\":\"registered\"' $T/k.jsonl"
check "the same model with or without --scores" \
    "cmp -s $T/k/versions/\$(ls $T/k/versions | tail -1)/model.pm $T/r/versions/\$(ls $T/r/versions | tail -1)/model.pm"

# FFM, warm start from the last LR version refused (another kind needs no flags)
learn --follow "$L" --registry "$T/f" --until-end --kind ffm --k 2 > "$T/f.jsonl" 2>&1
check "--kind ffm learns and publishes" "grep -q '\"event\":\"end\"' $T/f.jsonl && [ -d $T/f/versions/v000001 ]"
cp -r "$T/r" "$T/w"
prod=$(grep -o '"version":"v[0-9]*"' "$T/w/aliases/production" | cut -d'"' -f4)
learn --follow "$L" --registry "$T/w" --until-end --name warm --init "registry:$T/w@production" \
    > "$T/w.jsonl" 2>&1
check "--init registry:DIR@production: warm start, production ($prod) the first parent" \
    "grep -q '\"event\":\"end\"' $T/w.jsonl && grep -m1 '\"event\":\"publish\"' $T/w.jsonl | grep -q \"\\\"parent\\\":\\\"$prod\\\"\""

# --learn-from T with --init: impressions before T only warm the feature
# store and the joiner (not scored, not learned); the model is the init
# until T
TF=$((1704067200000 + 90 * 60 * 1000)) # 01:30 of the simulated 3 h
INIT=$T/r/versions/v000001/model.pm
learn --follow "$L" --registry "$T/lf" --until-end --init "$INIT" --learn-from 2024-01-01T01:30:00Z \
    --scores "$T/lf.csv" --pv > "$T/lf.jsonl" 2> "$T/lf.err"
check "--learn-from: exit 0" "[ $? -eq 0 ] && grep -q '\"event\":\"end\"' $T/lf.jsonl"
n_before=$(awk -F, -v t=$TF '$2 < t' "$T/ds.ids" | wc -l)
n_after=$(awk -F, -v t=$TF '$2 >= t' "$T/ds.ids" | wc -l)
check "--learn-from: $n_before examples before T not learned, $n_after learned" \
    "[ $n_before -gt 0 ] && [ $n_after -gt 0 ] && grep -q '\"learned\":$n_after,\"skipped\":0,\"before\":$n_before,' $T/lf.jsonl"
check "--learn-from: --scores holds the impressions from T on, those of build-dataset" \
    "cmp -s <(awk -F, -v t=$TF '\$2 >= t' $T/ds.ids) <(cut -d, -f1-3 $T/lf.csv)"
check "--learn-from: nothing published before T" \
    "[ \$(grep '\"event\":\"publish\"' $T/lf.jsonl | grep -o '\"publish_ts_ms\":[0-9]*' | cut -d: -f2 | awk -v t=$TF '\$1 < t' | wc -l) -eq 0 ] && grep -q '\"event\":\"publish\"' $T/lf.jsonl"
check "--learn-from: the model at T is the init (first example: learner's p = the init's p)" \
    "head -1 $T/lf.csv | awk -F, '{exit !(\$4 == \$5)}'"
learn --follow "$L" --registry "$T/nolf" --until-end --init "$INIT" --scores "$T/nolf.csv" --pv \
    > /dev/null 2>&1
first=$(head -1 "$T/lf.csv" | cut -d, -f1)
check "without --learn-from the same impression is scored by a model that has learned" \
    "grep \"^$first,\" $T/nolf.csv | awk -F, '{exit !(\$4 != \$5)}'"
learn --follow "$L" --registry "$T/lf" --until-end --init "$INIT" --learn-from 2024-01-01T02:00:00Z \
    > /dev/null 2> "$T/lf2.err"
check "a checkpoint of another --learn-from: refused (exit 1)" \
    "[ $? -eq 1 ] && grep -q 'learn-from' $T/lf2.err"
"$P" learn --follow "$L" --registry "$T/x" --spec "$SPEC" --learn-from yesterday > /dev/null 2>&1
check "--learn-from yesterday: exit 2" "[ $? -eq 2 ]"

# kill -9 at random points, restarted until done: byte-identical results
# (on the first 6000 events, a 10m window: more publishes, shorter runs).
# After every kill the registry verifies: every version's model file, the
# aliases (a publish links the learner's own file into the version).
head -n 6000 "$T/sim/events-000000.jsonl" > "$T/k1.jsonl"
"$P" log append "log:$T/klog" "$T/k1.jsonl" > /dev/null
KL="--spec $SPEC --data $T/sim --window 10m --lateness 1m --publish-every 5m -q --follow log:$T/klog"
# kill_trials NAME N MIN [learn flags...]: N trials against a reference run
# that publishes at least MIN versions
kill_trials() {
    local name=$1 n=$2 min=$3
    shift 3
    local t0 dur
    t0=$(date +%s%N)
    # shellcheck disable=SC2086
    "$P" learn $KL "$@" --registry "$T/${name}ref" --until-end --scores "$T/${name}ref.csv" --pv \
        > "$T/${name}ref.out" 2>&1
    dur=$(( ($(date +%s%N) - t0) / 1000000 ))
    check "kill trials $name: reference run publishes (>= $min), ${dur} ms" \
        "[ \$(grep -c '\"event\":\"publish\"' $T/${name}ref.out) -ge $min ]"
    local ref_model=$T/${name}ref/versions/$(ls "$T/${name}ref/versions" | tail -1)/model.pm
    for t in $(seq 1 "$n"); do
        local R=$T/$name$t a=0 bad=0
        while :; do
            a=$((a + 1))
            # shellcheck disable=SC2086
            "$P" learn $KL "$@" --registry "$R" --until-end --scores "$R.csv" --pv > "$R.out" 2>> "$R.err" &
            local pid=$!
            if [ $a -le 3 ]; then # then it runs to its end
                # a random instant within 1.2 x the reference's duration
                sleep "$(awk -v d=$dur -v r=$RANDOM 'BEGIN{printf "%.3f", d * 1.2 * r / 32768 / 1000}')"
                kill -9 $pid 2> /dev/null
            fi
            wait $pid 2> /dev/null
            if [ -f "$R/FORMAT" ] && ! "$P" registry verify "$R" --all > /dev/null 2>> "$R.err"; then
                bad=1
            fi
            grep -q '"event":"\(end\|finished\)"' "$R.out" && break
            [ $a -gt 20 ] && break
        done
        local v
        v=$(grep -o '"version":"v[0-9]*"' "$R/learners/learn/checkpoint.json" | cut -d'"' -f4)
        if [ $bad -eq 0 ] && cmp -s "$R/versions/$v/model.pm" "$ref_model" && cmp -s "$R.csv" "$T/${name}ref.csv"; then
            ok "kill -9 trial $name $t ($a starts): the registry verified after every kill, the same final model and --scores"
        else
            fail "kill -9 trial $name $t ($a starts): a version did not verify ($bad) or the final model or --scores differ"
            cp -r "$R"* /tmp/ 2> /dev/null
        fi
    done
}
kill_trials kr "$TRIALS" 6
kill_trials kf 3 4 --init "$INIT" --learn-from 2024-01-01T00:10:00Z

# malformed events: counted, skipped, never fatal
head -n 3000 "$T/sim/events-000000.jsonl" > "$T/p1.jsonl"
tail -n +3001 "$T/sim/events-000000.jsonl" > "$T/p2.jsonl"
"$TOOL" "log:$T/bad" "$T/p1.jsonl"
printf '{"type":"impression","ts":oops}\nnot json at all\n{"type":"click","ts":"x"}\n' > "$T/garbage.jsonl"
"$TOOL" "log:$T/bad" "$T/garbage.jsonl"
"$TOOL" "log:$T/bad" "$T/p2.jsonl"
learn --follow "log:$T/bad" --registry "$T/b" --until-end --scores "$T/b.csv" > "$T/b.jsonl" 2> "$T/b.err"
check "malformed events: exit 0, 3 counted" \
    "[ $? -eq 0 ] && grep -q '\"bad_events\":3' $T/b.jsonl"
check "malformed events: named by log position" "grep -q \"log:$T/bad@[0-9]*\" $T/b.err"
check "malformed events: the other examples all learned" "cmp -s $T/s.ids <(cut -d, -f1-3 $T/b.csv)"
learn --follow "log:$T/bad" --registry "$T/b2" --until-end --max-bad 1 > /dev/null 2> "$T/b2.err"
check "--max-bad 1: the second malformed event stops it (exit 1)" \
    "[ $? -eq 1 ] && grep -q 'more than 1 malformed' $T/b2.err"

# following: a log that grows while the learner runs; then SIGTERM
"$TOOL" "log:$T/g" "$T/p1.jsonl"
port=$(( 20000 + RANDOM % 30000 ))
FOLLOW="--spec $SPEC --data $T/sim --window 10m --lateness 1m -q"
# shellcheck disable=SC2086
"$P" learn $FOLLOW --follow "log:$T/g" --registry "$T/gr" --scores "$T/g.csv" --metrics-port $port \
    > "$T/g.jsonl" 2> "$T/g.err" &
gpid=$!
for i in $(seq 1 100); do grep -q '"event":"publish"' "$T/g.jsonl" 2> /dev/null && break; sleep 0.1; done
check "following: publishes what the log holds" "grep -q '\"event\":\"publish\"' $T/g.jsonl"
curl -s "http://127.0.0.1:$port/metrics" > "$T/metrics" 2> /dev/null
check "--metrics-port: Prometheus text" \
    "grep -q '^pronto_learn_examples_total [1-9]' $T/metrics && grep -q '^pronto_learn_pv_logloss 0\\.' $T/metrics && grep -q '^pronto_learn_published_total [1-9]' $T/metrics"
"$P" learn $FOLLOW --follow "log:$T/g" --registry "$T/gr" > /dev/null 2> "$T/g2.err"
check "a second learner of the same name: refused while the first runs (exit 1)" \
    "[ $? -eq 1 ] && grep -q 'already running' $T/g2.err"
n1=$(grep -c '"event":"publish"' "$T/g.jsonl")
"$P" log append "log:$T/g" "$T/p2.jsonl" > /dev/null
for i in $(seq 1 200); do
    [ "$(grep -c '"event":"publish"' "$T/g.jsonl")" -ge $((n1 + 5)) ] && break; sleep 0.1
done
check "following: the appended events are learned and published" \
    "[ \$(grep -c '\"event\":\"publish\"' $T/g.jsonl) -ge $((n1 + 5)) ]"
kill -TERM $gpid
wait $gpid
check "SIGTERM: clean exit 0" "[ $? -eq 0 ] && grep -q '\"event\":\"stopped\"' $T/g.jsonl"

# a vanishing log: renamed away, back, then grows
"$TOOL" "log:$T/v" "$T/p1.jsonl"
# shellcheck disable=SC2086
"$P" learn $FOLLOW --follow "log:$T/v" --registry "$T/vr" > "$T/v.jsonl" 2> "$T/v.err" &
vpid=$!
for i in $(seq 1 100); do grep -q '"event":"publish"' "$T/v.jsonl" 2> /dev/null && break; sleep 0.1; done
mv "$T/v" "$T/v.away"
for i in $(seq 1 100); do grep -q 'retrying' "$T/v.err" 2> /dev/null && break; sleep 0.1; done
check "vanished log: reported, retrying" "grep -q 'retrying' $T/v.err"
check "vanished log: the learner waits (alive)" "kill -0 $vpid"
mv "$T/v.away" "$T/v"
n1=$(grep -c '"event":"publish"' "$T/v.jsonl")
"$P" log append "log:$T/v" "$T/p2.jsonl" > /dev/null
for i in $(seq 1 300); do
    [ "$(grep -c '"event":"publish"' "$T/v.jsonl")" -ge $((n1 + 5)) ] && break; sleep 0.1
done
check "vanished log back: learning goes on" \
    "[ \$(grep -c '\"event\":\"publish\"' $T/v.jsonl) -ge $((n1 + 5)) ]"
kill -TERM $vpid
wait $vpid
check "vanished log: SIGTERM exit 0" "[ $? -eq 0 ]"

# bad flags and inputs
"$P" learn --registry "$T/x" --spec "$SPEC" > /dev/null 2>&1
check "no --follow: exit 2" "[ $? -eq 2 ]"
"$P" learn --follow "$L" --spec "$SPEC" > /dev/null 2>&1
check "no --registry: exit 2" "[ $? -eq 2 ]"
"$P" learn --follow "$L" --registry "$T/x" > /dev/null 2>&1
check "no --spec: exit 2" "[ $? -eq 2 ]"
for bad in "--keep 0" "--kind fm" "--publish-every xx" "--pv" "--tolerance -1" \
           "--metrics-port 70000" "--alpha -1" "--init m.pm --alpha 0.2"; do
    # shellcheck disable=SC2086
    "$P" learn --follow "$L" --registry "$T/x" --spec "$SPEC" $bad > /dev/null 2>&1
    check "learn $bad: exit 2" "[ $? -eq 2 ]"
done
"$P" learn --follow "log:$T/nope" --registry "$T/x" --spec "$SPEC" --data "$T/sim" --until-end > /dev/null 2> "$T/nope.err"
check "a missing log with --until-end: exit 1, named" "[ $? -eq 1 ] && grep -q nope $T/nope.err"
learn --follow "$L" --registry "$T/r" --until-end --bits 18 > /dev/null 2> "$T/fp.err"
check "a checkpoint of another featurization: refused (exit 1)" "[ $? -eq 1 ] && grep -q 'another feature spec' $T/fp.err"
finish
