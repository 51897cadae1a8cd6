#!/bin/bash
# ct_experiment.sh: issue 11's experiment. Daily retraining or online
# learning, on simulated days with drift, against the Bayes predictor.
#
#   bash bench/ct_experiment.sh [BUILD_DIR] [WORK_DIR] [DAYS] [IMP_RATE]
#   (defaults: build, /tmp/pronto-ct, 14, 2)
#
# 1. `pronto simulate` DAYS days (default world scaled down: 20k users, 2k
#    ads, 100 advertisers, 500 sites; IMP_RATE impressions per simulated
#    second, about 170k a day at 2) with ctr-shift@5d:2.0 (base CTR
#    doubled), interest-shift@8d and cold-start@11d (200 new ads from 20 new
#    advertisers take 20% of fresh ad picks); drifts at or after DAYS are
#    left out. Events replayed into an event log (log:WORK/log).
# 2. The policies, all FTRL-LR on specs/sim-store.yaml, all fed from the log:
#    (a) frozen  the model of one `pronto retrain` cycle at the end of day 3
#                (trained on days 1-3 up to the label lag and holdout),
#                serving to the end;
#    (b) daily   that model, then a `pronto retrain --policy scratch` cycle
#                at every midnight (3-day window); the production model after
#                the cycle at midnight serves that day;
#    (c) hourly  from (a)'s model, a `pronto retrain --policy warm` cycle
#                every hour (the newest matured hour), each promoted model
#                serving the next hour;
#    (d) online  online learning over the whole log from scratch, publishing a
#                snapshot every 5 simulated minutes; each labeled impression
#                scored by the snapshot live at its time (`pronto learn
#                --scores`, or the stand-in below);
#    (e) online_init  the same, warm-started from (a)'s model and learning
#                only the impressions from the hour before day WARM_DAYS+1 on
#                (`pronto learn --init --learn-from`: the earlier events only
#                warm the feature store);
#    (e') online_daily  (e), and at every midnight the learner's model is
#                replaced by that night's daily production model (always the
#                stand-in: pronto learn's --init applies at a first start).
#    Stand-ins: without `pronto retrain` (or with CT_STANDIN=1), `pronto
#    train --events` for (a)/(b) and `pronto train --init` on hourly slices
#    for (c); without `pronto learn` (or with CT_STANDIN=1 or learn), `bench_ct_eval
#    learn` (the same FTRL-LR, featurizer and min_count admission, each
#    example learned 11 minutes after its impression, when the joiner emits
#    it), for comparison. CT_REUSE=1 [CT_KEEP_ONLINE=1]: redo only (d), (e),
#    (e') and the report in an earlier run's WORK. CT_LEARN_REGISTRY=DIR:
#    the learners' registries under DIR (default WORK; /dev/shm keeps the
#    4032 publishes of each off the disk).
# 3. Every impression from day 4 on is scored by the model live at its time:
#    the batch policies' examples built once (`pronto build-dataset --events
#    --csv`) and scored by bench_ct_eval with the schedule of promoted
#    models; the learners' own --scores. Then per simulated hour the log loss
#    of each policy minus the Bayes log loss (truth.tsv's true p of each label)
#    on the same impressions: WORK/hourly.csv, WORK/report.md (per day, overall,
#    recovery after each drift, CPU seconds of each policy's training runs),
#    WORK/ct-experiment.svg (`pronto plot`).
#
# CPU seconds: user + system of every training/learning process of a policy
# (/usr/bin/time), the log replay inside each retrain cycle included (a cycle
# rebuilds its window point in time from the log's start). Scoring for the
# evaluation is not counted. Wall time on the 2-core VM: see
# docs/continuous-training.md.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
W=${2:-/tmp/pronto-ct}
DAYS=${3:-14}
RATE=${4:-2}
P=$B/pronto
E=$B/bench_ct_eval
SPEC=specs/sim-store.yaml
START=1704067200          # the simulator's default start (Monday 2024-01-01)
WARM_DAYS=3               # (a) trains on days 1..3; evaluation from day 4
DRIFTS="ctr-shift@5d:2.0 interest-shift@8d cold-start@11d"
# Clicks come within 10 minutes (97.7% of the default world's do; the
# default 2 h cap would hold every label, and so every learner, 2 h back),
# and the log is in time order, so a minute of lateness is plenty: a label
# is final 11 minutes after its impression.
WINDOW=10m
LATENESS=1m
DELAY_MS=660000
# the gate: candidate's NE no worse than production's, calibration (predicted
# / clicks on the holdout) within 0.5..2 (the default 0.8..1.25 rejects every
# candidate right after a CTR shift, when the holdout and the window differ)
GATE=(--min-gain 0 --calibration 0.5,2)
[ -x "$P" ] && [ -x "$E" ] || { echo "build first: scripts/build $B" >&2; exit 2; }
# CT_REUSE=1 keeps WORK's world, log, examples and batch policies from an
# earlier run of the same DAYS and IMP_RATE and redoes online learning and
# the report (the learners are single passes; hourly retraining is not)
REUSE=${CT_REUSE:-0}
[ "$REUSE" = 1 ] && [ -f "$W/batch.done" ] || { REUSE=0; rm -rf "$W"; }
mkdir -p "$W"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
ms() { echo $(( ($1) * 1000 )); }
# timed POLICY CMD...: runs CMD, adding its user+sys CPU seconds to WORK/cpu_POLICY
timed() {
    local pol=$1; shift
    /usr/bin/time -f "%U %S" -a -o "$W/cpu_$pol" "$@"
}
# (time adds a "Command exited with non-zero status" line for a rejected cycle)
cpu_sum() { awk '/^[0-9]/ {s += $1 + $2} END {printf "%.1f", s}' "$W/cpu_$1"; }
cpu_runs() { grep -c '^[0-9]' "$W/cpu_$1"; }
T0=$(date +%s)

# ---- 1. the world and the log
scen=()
marks=()
drift_args=()
for d in $DRIFTS; do
    day=${d#*@}; day=${day%%d*}
    [ "$day" -lt "$DAYS" ] || continue
    scen+=(--scenario "$d")
    name=${d%%@*}
    t=$((START + day * 86400))
    marks+=(--mark "$t:$name")
    drift_args+=(--drift "$(ms $t):$name")
done
LOG="log:$W/log"
EVAL_FROM=$((START + WARM_DAYS * 86400))
END=$((START + DAYS * 86400))
if [ "$REUSE" = 0 ]; then
log "simulate ${DAYS}d at ${RATE} impressions/s: ${scen[*]}"
$P simulate -o "$W/sim" --duration "${DAYS}d" --imp-rate "$RATE" --seed 1 \
    --users 20k --ads 2k --advertisers 100 --sites 500 --max-click-delay "$WINDOW" \
    --attribution-window "$WINDOW" "${scen[@]}" 2> "$W/simulate.txt"
cat "$W/simulate.txt" >&2
$P log append "log:$W/log?fsync=off" "$W"/sim/events-*.jsonl >&2
fi

# ---- 2. the batch policies: (a) and (b) share the registry of the daily cycles
retrain() { # POLICY REGISTRY AT [flags...] -> one JSON line appended to WORK/decisions_POLICY
    local pol=$1 reg=$2 at=$3; shift 3
    local rc=0
    timed "$pol" $P retrain --registry "$reg" --events "$LOG" --spec "$SPEC" --data "$W/sim" \
        --at "$at" --window "$WINDOW" --lateness "$LATENESS" --threads 1 "${GATE[@]}" "$@" \
        >> "$W/decisions_$pol.jsonl" 2>> "$W/retrain_$pol.err" || rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 3 ] || { echo "retrain failed ($rc), see $W/retrain_$pol.err" >&2; exit 1; }
}
production() { # REGISTRY -> path of the production model
    local v
    v=$(sed 's/.*"version": *"\(v[0-9]*\)".*/\1/' "$1/aliases/production")
    echo "$1/versions/$v/model.pm"
}
have_retrain=1
[ "${CT_STANDIN:-0}" = 1 ] && have_retrain=0
$P retrain --help > /dev/null 2>&1 || have_retrain=0
have_learn=1
[ "${CT_STANDIN:-0}" = 1 ] || [ "${CT_STANDIN:-0}" = learn ] && have_learn=0
$P learn --help > /dev/null 2>&1 || have_learn=0

if [ "$REUSE" = 1 ]; then
    log "reusing the world, the log, the examples and (a), (b), (c) of $W"
    have_retrain=$(cat "$W/batch.done")
else
log "(a)+(b) daily retraining, day $WARM_DAYS to $((DAYS - 1))"
if [ $have_retrain -eq 1 ]; then
    $P registry init "$W/reg_daily" > /dev/null
    for ((d = WARM_DAYS; d < DAYS; d++)); do
        t=$((START + d * 86400))
        retrain daily "$W/reg_daily" "$t" --policy scratch --train-window 3d --holdout 1h
        m=$(production "$W/reg_daily")
        echo "$(ms $t) $m" >> "$W/sched_daily"
        [ $d -eq $WARM_DAYS ] && { cp "$m" "$W/model_a.pm"; echo "$(ms $t) $W/model_a.pm" > "$W/sched_frozen"; }
    done
else
    # stand-in for `pronto retrain`: `pronto train --events` on the 3 days
    # before the hour before each midnight (matured labels; no gate)
    for ((d = WARM_DAYS; d < DAYS; d++)); do
        t=$((START + d * 86400))
        timed daily $P train --events "$LOG" --spec "$SPEC" --data "$W/sim" --window "$WINDOW" \
            --lateness "$LATENESS" --from $((t - 3 * 86400 - 3600)) --to $((t - 3600)) --threads 1 \
            -q -o "$W/daily_$d.pm"
        echo "$(ms $t) $W/daily_$d.pm" >> "$W/sched_daily"
    done
    cp "$W/daily_$WARM_DAYS.pm" "$W/model_a.pm"
    echo "$(ms $EVAL_FROM) $W/model_a.pm" > "$W/sched_frozen"
fi
# (a)'s training is the first daily cycle
grep -m1 '^[0-9]' "$W/cpu_daily" > "$W/cpu_frozen"

hourly() {
    grep -m1 '^[0-9]' "$W/cpu_daily" > "$W/cpu_hourly"
    echo "$(ms $EVAL_FROM) $W/model_a.pm" > "$W/sched_hourly"
    if [ $have_retrain -eq 1 ]; then
        $P registry init "$W/reg_hourly" > /dev/null
        $P registry register "$W/reg_hourly" "$W/model_a.pm" --alias production > /dev/null
        for ((t = EVAL_FROM + 3600; t < END; t += 3600)); do
            retrain hourly "$W/reg_hourly" "$t" --policy warm --train-window 1h --holdout 1h
            echo "$(ms $t) $(production "$W/reg_hourly")" >> "$W/sched_hourly"
        done
    else
        # stand-in: `pronto train --init` the previous model on the newest
        # matured hour (the one before the last), cut from the examples
        mkdir -p "$W/hours"
        awk -F, -v dir="$W/hours" -v from="$(ms $((EVAL_FROM - 3600)))" '
            NR == 1 { header = $0; next }
            $2 >= from { h = from + int(($2 - from) / 3600000) * 3600000; f = dir "/" sprintf("%.0f", h) ".csv"
                         if (!(f in seen)) { seen[f] = 1; print header > f }
                         print > f }' "$W/examples.csv"
        local prev="$W/model_a.pm"
        for ((t = EVAL_FROM + 3600; t < END; t += 3600)); do
            timed hourly $P train --format csv --init "$prev" --threads 1 -q \
                -o "$W/hours/model_$t.pm" "$W/hours/$(ms $((t - 7200))).csv"
            prev="$W/hours/model_$t.pm"
            echo "$(ms $t) $prev" >> "$W/sched_hourly"
        done
    fi
}
log "examples of every impression (build-dataset --events --csv)"
$P build-dataset --spec "$SPEC" --data "$W/sim" --events "$LOG" --window "$WINDOW" \
    --lateness "$LATENESS" -o "$W/examples.csv" 2> "$W/build.txt"
log "(c) hourly warm retraining (in the background)"
hourly > "$W/hourly.out" 2>&1 &
hourly_pid=$!
fi
# ---- 3. online learning
# CT_KEEP_ONLINE=1 (with CT_REUSE=1): keep (d) and (e) as an earlier run (or
# the same commands run by hand) left them: scores_online*.csv, cpu_online*
if [ "${CT_KEEP_ONLINE:-0}" = 1 ] && [ -f "$W/scores_online.csv" ] && [ -f "$W/scores_online_init.csv" ]; then
    log "(d), (e): kept from $W"
    have_learn=$(cat "$W/learn.kind" 2>/dev/null || echo "$have_learn")
elif [ $have_learn -eq 1 ]; then
    rm -f "$W/cpu_online" "$W/cpu_online_init"
    LR=${CT_LEARN_REGISTRY:-$W}
    rm -rf "$LR/reg_online" "$LR/reg_online_init"
    log "(d) pronto learn, a snapshot every 5 minutes"
    timed online $P learn --follow "$LOG" --registry "$LR/reg_online" --spec "$SPEC" --data "$W/sim" \
        --window "$WINDOW" --lateness "$LATENESS" --until-end --publish-every 5m \
        --scores "$W/scores_online.csv" > "$W/learn_online.out" 2>&1
    log "(e) pronto learn warm-started from (a)'s model, learning from the hour before day $((WARM_DAYS + 1))"
    grep -m1 '^[0-9]' "$W/cpu_daily" > "$W/cpu_online_init"
    timed online_init $P learn --follow "$LOG" --registry "$LR/reg_online_init" --spec "$SPEC" \
        --data "$W/sim" --window "$WINDOW" --lateness "$LATENESS" --until-end --publish-every 5m \
        --init "$W/model_a.pm" --learn-from $((EVAL_FROM - 3600)) \
        --scores "$W/scores_online_init.csv" > "$W/learn_online_init.out" 2>&1
    echo 1 > "$W/learn.kind"
else
    rm -f "$W/cpu_online" "$W/cpu_online_init"
    echo 0 > "$W/learn.kind"
    # stand-in for `pronto learn`: bench_ct_eval learn on the same examples,
    # each learned when the joiner would emit it (window + lateness after
    # the impression), a snapshot published every 5 simulated minutes
    log "(d) online learning (stand-in: bench_ct_eval learn), a snapshot every 5 minutes"
    timed online $E learn --spec "$SPEC" --delay-ms "$DELAY_MS" --publish-ms 300000 \
        --score-from "$(ms $EVAL_FROM)" -o "$W/scores_online.csv" "$W/examples.csv"
    log "(e) online learning warm-started from (a)'s model (stand-in)"
    grep -m1 '^[0-9]' "$W/cpu_daily" > "$W/cpu_online_init"
    timed online_init $E learn --init "$W/model_a.pm" --delay-ms "$DELAY_MS" --publish-ms 300000 \
        --learn-from "$(ms $((EVAL_FROM - 3600)))" --score-from "$(ms $EVAL_FROM)" \
        -o "$W/scores_online_init.csv" "$W/examples.csv"
fi
# (e') pronto learn warm-starts only at its first start; restarting the
# learner from each new daily model is done by the stand-in
log "(e') online learning from (a)'s model, restarted from each daily model (bench_ct_eval learn)"
grep '^[0-9]' "$W/cpu_daily" > "$W/cpu_online_daily"
timed online_daily $E learn --init "$W/model_a.pm" --delay-ms "$DELAY_MS" --publish-ms 300000 \
    --learn-from "$(ms $((EVAL_FROM - 3600)))" --score-from "$(ms $EVAL_FROM)" \
    --restart <(tail -n +2 "$W/sched_daily") -o "$W/scores_online_daily.csv" "$W/examples.csv"
if [ "$REUSE" = 0 ]; then
    log "waiting for (c)"
    wait $hourly_pid || { echo "hourly retraining failed: $W/hourly.out" >&2; exit 1; }
    echo $have_retrain > "$W/batch.done"
fi

# ---- 4. scores of the batch policies, the report, the chart
policies=()
for pol in frozen daily hourly; do
    [ -f "$W/sched_$pol" ] || continue
    $E score --schedule "$W/sched_$pol" -o "$W/scores_$pol.csv" "$W/examples.csv" 2>> "$W/score.txt"
    policies+=(--policy "$pol=$W/scores_$pol.csv")
done
for pol in online online_init online_daily; do
    [ -f "$W/scores_$pol.csv" ] && policies+=(--policy "$pol=$W/scores_$pol.csv")
done
$E report --truth "$W/sim/truth.tsv" --from "$(ms $EVAL_FROM)" --to "$(ms $END)" --day0 "$(ms $START)" \
    "${drift_args[@]}" "${policies[@]}" --hourly "$W/hourly.csv" --table "$W/table.md"
ys=$(head -1 "$W/hourly.csv" | tr ',' '\n' | grep '^excess_' | paste -sd, -)
$P plot --x hour_ms --y "$ys" "${marks[@]}" --y-label "log loss - Bayes (nats)" \
    --title "Hourly test log loss above Bayes, ${DAYS} simulated days" \
    -o "$W/ct-experiment.svg" "$W/hourly.csv"
{
    echo "## Run"
    echo
    echo "\`bash bench/ct_experiment.sh $B $W $DAYS $RATE\`, $(date -u +%Y-%m-%d), wall $(( $(date +%s) - T0 )) s;"
    echo "retrain: $([ $have_retrain -eq 1 ] && echo 'pronto retrain' || echo 'stand-ins (pronto train --events; train --dataset --init)');"
    echo "learn: $([ $have_learn -eq 1 ] && echo 'pronto learn' || echo 'stand-in (bench_ct_eval learn)')."
    grep -o 'impressions=[0-9]* clicks=[0-9]*' "$W/simulate.txt" | head -1
    echo
    cat "$W/table.md"
    echo
    echo "CPU seconds (user + system) of each policy's training or learning runs:"
    echo
    echo "| policy | runs | CPU s |"
    echo "|---|---|---|"
    for pol in frozen daily hourly online online_init online_daily; do
        [ -f "$W/cpu_$pol" ] && echo "| $pol | $(cpu_runs $pol) | $(cpu_sum $pol) |"
    done
    for pol in daily hourly; do
        [ -f "$W/decisions_$pol.jsonl" ] || continue
        echo
        echo "$pol cycles: $(grep -o '"decision":"[a-z]*"' "$W/decisions_$pol.jsonl" | cut -d'"' -f4 | sort | uniq -c | tr '\n' ' ')"
    done
} > "$W/report.md"
cat "$W/report.md"
log "done: $W/report.md, $W/hourly.csv, $W/ct-experiment.svg"
