#!/bin/bash
# cli_retrain.sh: pronto retrain (docs/continuous-training.md) on two
# simulated days that end now, appended to a log:DIR. One cycle at a
# given --at: the first model is promoted on calibration and finiteness;
# a warm cycle passes with its parent; a gate that must fail (--min-gain
# 1) registers a rejected version with the reasons, production
# unchanged, exit 3; --no-promote registers only; a spec change is
# refused without --allow-spec-change; too little data is "skipped".
# Automatic rollback: a model trained with an absurd learning rate,
# promoted by force, is rolled back by --check-probation with both NE
# figures in the history. --every: several cycles, a failing one (the log
# moved away for a while) reported and survived, a `registry request`
# starting a cycle early, SIGTERM a clean exit. kill -9 at random points
# of cycles (RETRAIN_KILL_TRIALS, default 10): the registry verifies and
# production always names a version that passed the gate. Bad flags: exit 2 with messages.
. "$(dirname "$0")/lib_cli.sh"
SPEC=${PRONTO_SRC:?}/specs/sim-store.yaml
NOW=$(date +%s)
S=$((NOW - 2 * 86400))
"$P" simulate --users 2000 --ads 300 --advertisers 30 --sites 100 --imp-rate 1 --duration 2d \
    --start "$S" --seed 3 -o "$T/sim" --quiet
"$P" log append "log:$T/log" "$T"/sim/events-*.jsonl > /dev/null
"$P" registry init "$T/reg" > /dev/null
R="--registry $T/reg --events log:$T/log --spec $SPEC --data $T/sim --train-window 1d --holdout 3h --calibration 0.5,2"
# jf FILE EXPR: a field of the (last) JSON line of FILE, by a Python expression on j.
jf() { python3 -c "import json,sys; j=json.loads(open('$1').read().strip().splitlines()[-1]); print($2)"; }
target() { "$P" registry list "$T/reg" --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['aliases'].get('${1:-production}', 'none'))"; }

# Bad usage.
"$P" retrain --events "log:$T/log" --spec "$SPEC" 2> "$T/e"
check "no --registry: exit 2, named" "[ $? -eq 2 ] && grep -q -- '--registry' $T/e"
"$P" retrain $R --policy lukewarm 2> "$T/e"
check "bad --policy: exit 2" "[ $? -eq 2 ] && grep -q -- '--policy' $T/e"
"$P" retrain $R --calibration 2,1 2> "$T/e"
check "--calibration 2,1: exit 2" "[ $? -eq 2 ] && grep -q 'LO <= HI' $T/e"
"$P" retrain $R --calibration abc 2> "$T/e"
check "--calibration abc: exit 2, quoted" "[ $? -eq 2 ] && grep -q \"'abc'\" $T/e"
"$P" retrain $R --every 1h --at 2024-01-01 2> "$T/e"
check "--every with --at: exit 2" "[ $? -eq 2 ] && grep -q -- '--at' $T/e"
"$P" retrain $R --every 0s 2> "$T/e"
check "--every 0s: exit 2" "[ $? -eq 2 ]"
"$P" retrain $R --holdout soon 2> "$T/e"
check "bad duration: exit 2, named" "[ $? -eq 2 ] && grep -q -- '--holdout' $T/e && grep -q soon $T/e"
"$P" retrain $R --check-probation 2> "$T/e"
check "--check-probation without --probation: exit 2" "[ $? -eq 2 ]"
"$P" retrain $R --alpha -1 2> "$T/e"
check "bad --alpha: exit 2, named" "[ $? -eq 2 ] && grep -q alpha $T/e"
"$P" retrain $R --registry "$T/none" 2> "$T/e"
check "missing registry: exit 1, named" "[ $? -eq 1 ] && grep -q '$T/none' $T/e"
check "nothing registered by bad usage" "[ \$(ls $T/reg/versions | wc -l) -eq 0 ]"

# Too little data: skipped.
"$P" retrain $R --at $((S + 3600)) > "$T/o"
check "no data yet: skipped, exit 0" "[ $? -eq 0 ] && [ \$(jf $T/o \"j['decision']\") = skipped ] && grep -q 'not enough data' $T/o"
check "skipped: nothing registered" "[ \$(ls $T/reg/versions | wc -l) -eq 0 ] && [ \$(target) = none ]"

# The first cycle.
"$P" retrain $R --at $((S + 36 * 3600)) > "$T/o1"
check "first cycle: exit 0, promoted" "[ $? -eq 0 ] && [ \$(jf $T/o1 \"j['decision']\") = promoted ] && [ \$(target) = v000001 ]"
check "first cycle: says the first model is gated on calibration and finiteness" "grep -q 'first model' $T/o1"
check "first cycle: windows [now-2h-3h-1d, now-5h) and [now-5h, now-2h)" \
    "[ \$(jf $T/o1 \"j['window']['holdout']['to_ms'] - j['window']['holdout']['from_ms']\") -eq 10800000 ] && [ \$(jf $T/o1 \"(j['at_ms'] - j['window']['holdout']['to_ms'])\") -eq 7200000 ] && [ \$(jf $T/o1 \"j['window']['train']['to_ms'] - j['window']['holdout']['from_ms']\") -eq 0 ]"
# (the holdout's size follows the simulated day: 3 h hold 5k-11k
# impressions depending on the hour the test runs at, which sets the start)
check "first cycle: metrics on every holdout example, and seconds" "[ \$(jf $T/o1 \"j['candidate']['rows'] == j['examples']['holdout'] > 2000 and j['seconds']['build'] > 0\") = True ]"
"$P" registry show "$T/reg" v000001 --json > "$T/m1"
check "metadata: data window, --at, metrics, command" "python3 -c \"import json; m=json.load(open('$T/m1')); assert m['data']['at_ms'] == $((S + 36 * 3600))000 and m['data']['holdout']['from_ms'] and m['metrics']['candidate']['ne'] > 0 and 'retrain' in m['creator']['command']\""
"$P" registry history "$T/reg" --json > "$T/h"
check "history: a gate line" "grep '\"op\":\"gate\"' $T/h | grep -q promoted"

# Warm: continues production, parent recorded.
"$P" retrain $R --at $((S + 42 * 3600)) --policy warm --min-gain -0.05 > "$T/o2"
check "warm cycle: promoted" "[ $? -eq 0 ] && [ \$(jf $T/o2 \"j['decision']\") = promoted ] && [ \$(target) = v000002 ]"
check "warm cycle: parent v000001, production's metrics too" "[ \$(jf $T/o2 \"j['parent']\") = v000001 ] && [ \$(jf $T/o2 \"j['production_metrics']['rows'] == j['candidate']['rows']\") = True ]"
"$P" registry show "$T/reg" v000002 --json > "$T/m2"
check "warm: meta.json parent" "python3 -c \"import json; assert json.load(open('$T/m2'))['parent'] == 'v000001'\""

# A gate that must fail.
"$P" retrain $R --at $((S + 43 * 3600)) --min-gain 1.0 > "$T/o3"
check "--min-gain 1: exit 3, rejected" "[ $? -eq 3 ] && [ \$(jf $T/o3 \"j['decision']\") = rejected ]"
check "rejected: production unchanged" "[ \$(target) = v000002 ]"
"$P" registry show "$T/reg" v000003 --json > "$T/m3"
check "rejected: registered as rejected with the NE reason" "python3 -c \"import json; m=json.load(open('$T/m3')); assert m['status'] == 'rejected' and 'NE' in m['reasons'][0]\""
"$P" registry history "$T/reg" > "$T/h"
check "rejected: the history says why" "grep gate $T/h | tail -1 | grep -q 'rejected: NE'"
"$P" retrain $R --at $((S + 43 * 3600)) --alpha 50 > "$T/o3b"
check "absurd --alpha 50: rejected, exit 3" "[ $? -eq 3 ] && [ \$(target) = v000002 ]"

# --no-promote.
"$P" retrain $R --at $((S + 44 * 3600)) --min-gain -1 --no-promote > "$T/o4"
check "--no-promote: registered, exit 0, production unchanged" "[ $? -eq 0 ] && [ \$(jf $T/o4 \"j['decision']\") = registered ] && [ \$(target) = v000002 ]"

# A spec change.
"$P" retrain $R --at $((S + 44 * 3600)) --bits 16 --min-gain -1 > "$T/o5"
check "another featurization: rejected without --allow-spec-change" "[ $? -eq 3 ] && grep -q 'allow-spec-change' $T/o5 && [ \$(target) = v000002 ]"

# Probation: a bad model promoted by force is rolled back.
"$P" train --events "log:$T/log" --spec "$SPEC" --data "$T/sim" --to $((S + 12 * 3600)) --alpha 50 \
    --threads 1 -q -o "$T/bad.pm"
BAD=$("$P" registry register "$T/reg" "$T/bad.pm" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
"$P" registry promote "$T/reg" "$BAD" --reason "test: a bad model" --force > /dev/null
check "bad model in production" "[ \$(target) = $BAD ]"
"$P" retrain $R --check-probation --probation 1h --at $((S + 46 * 3600)) --moved-at $((S + 40 * 3600)) > "$T/p2"
check "--probation shorter than the time since the move: none" "[ \$(jf $T/p2 \"j['decision']\") = none ] && grep -q 'probation over' $T/p2"
"$P" retrain $R --check-probation --probation 1d --at $((S + 46 * 3600)) --moved-at $((S + 40 * 3600)) > "$T/p0"
check "probation: production's and the predecessor's NE, rolled back" "[ $? -eq 0 ] && [ \$(jf $T/p0 \"j['decision']\") = rollback ] && [ \$(target) = v000002 ]"
"$P" registry history "$T/reg" --json | grep '"op":"rollback"' | tail -1 > "$T/h"
check "rollback: the history says why, with both figures" "grep -q 'live NE' $T/h && grep -q 'predecessor v000002' $T/h"
"$P" retrain $R --check-probation --probation 1d --at $((S + 46 * 3600)) > "$T/p1"
check "after a rollback: nothing on probation" "[ \$(jf $T/p1 \"j['decision']\") = none ]"
# A good promotion on probation stays.
"$P" retrain $R --at $((S + 44 * 3600)) --policy warm --min-gain -1 > "$T/o6"
"$P" retrain $R --check-probation --probation 1d --at $((S + 47 * 3600)) --rollback-margin 0.05 > "$T/p3"
check "probation of a gated model: kept (decision keep)" "[ \$(jf $T/p3 \"j['decision']\") = keep ] && [ \$(target) = \$(jf $T/o6 \"j['version']\") ]"

# --every: several cycles, a failing one, an early request, SIGTERM.
"$P" retrain $R --every 2s --min-gain -1 > "$T/ev" 2> "$T/ev.err" &
EP=$!
wait_lines() { for _ in $(seq 1 300); do [ "$(grep -c "$2" "$T/ev" 2>/dev/null)" -ge "$1" ] && return 0; sleep 0.2; done; return 1; }
wait_lines 2 decision
check "--every 2s: several cycles" "[ \$(grep -c '\"decision\"' $T/ev) -ge 2 ]"
mv "$T/log" "$T/log.away"
wait_lines 1 '"decision":"error"'
check "a failing cycle: an error line naming the log" "grep '\"decision\":\"error\"' $T/ev | grep -q log"
mv "$T/log.away" "$T/log"
n_ok=$(grep -c '"decision":"promoted"' "$T/ev")
wait_lines $((n_ok + 1)) '"decision":"promoted"'
check "the scheduler survived: a later cycle promoted" "[ \$(grep -c '\"decision\":\"promoted\"' $T/ev) -gt $n_ok ] && kill -0 $EP"
kill -TERM $EP
wait $EP
check "SIGTERM: exit 0" "[ $? -eq 0 ]"
"$P" retrain $R --every 1h --min-gain -1 > "$T/ev" 2> "$T/ev.err" &
EP=$!
wait_lines 1 decision
"$P" registry request "$T/reg" retrain --reason 'test: retrain now' > /dev/null
wait_lines 2 decision
check "--every 1h: a request started a second cycle early" "[ \$(grep -c decision $T/ev) -eq 2 ] && tail -1 $T/ev | grep -q 'test: retrain now'"
check "the request was taken" "[ ! -e $T/reg/requests/retrain ]"
kill -INT $EP
wait $EP
check "SIGINT: exit 0" "[ $? -eq 0 ]"

# kill -9 at random points of cycles: each cycle is killed once its work
# folder ($T/reg.retrain-PID, made as its work begins) exists, after a
# random share of the time an uninterrupted cycle takes on this machine
# now (a fixed range of sleeps would miss a cycle shorter than it, as a
# release build's half a second is, or one slower under load).
t0=$(date +%s%N)
"$P" retrain $R --at $((S + 44 * 3600)) --min-gain -1 > /dev/null 2>&1
cycle_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
bad_after_kill=0 mid_run=0 trials=${RETRAIN_KILL_TRIALS:-10} moved=0
for i in $(seq 1 "$trials"); do
    before=$(target)
    "$P" retrain $R --at $((S + 44 * 3600 + (i % 12) * 600)) --min-gain -1 > /dev/null 2>&1 &
    KP=$!
    for _ in $(seq 1 6000); do
        [ -d "$T/reg.retrain-$KP" ] || ! kill -0 $KP 2> /dev/null && break
        sleep 0.01
    done
    ms=$(( RANDOM * cycle_ms / 32768 ))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    kill -9 $KP 2> /dev/null && mid_run=$((mid_run + 1))
    wait $KP 2> /dev/null
    "$P" registry verify "$T/reg" > /dev/null 2>&1 || bad_after_kill=$((bad_after_kill + 1))
    now=$(target)
    st=$("$P" registry show "$T/reg" "$now" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['status'])")
    [ "$st" = registered ] || bad_after_kill=$((bad_after_kill + 1))
    [ "$now" = "$before" ] || moved=$((moved + 1))
done
echo "kill -9: $mid_run of $trials kills landed mid-cycle (a cycle: $cycle_ms ms); production moved in $moved trials"
check "kill -9 trials: the registry verifies, production always a gated version" "[ $bad_after_kill -eq 0 ] && [ $mid_run -ge 1 ]"
"$P" retrain $R --at $((S + 47 * 3600)) --min-gain -1 > "$T/o7"
check "after the kills: a cycle runs, no work folder left" "[ \$(jf $T/o7 \"j['decision']\") = promoted ] && ! ls -d $T/reg.retrain-* 2> /dev/null"

# The spec change, allowed.
"$P" retrain $R --at $((S + 47 * 3600)) --bits 16 --allow-spec-change > "$T/o8"
check "--allow-spec-change: promoted" "[ $? -eq 0 ] && [ \$(jf $T/o8 \"j['decision']\") = promoted ] && [ \$(target) = \$(jf $T/o8 \"j['version']\") ]"
"$P" registry verify "$T/reg" --all > /dev/null
check "registry verify --all" "[ $? -eq 0 ]"
finish
