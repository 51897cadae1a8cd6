#!/bin/bash
# cli_demo.sh: `pronto demo` (the README's main job) end to end on a small
# world: every step runs, the models beat the base rate, the Bayes-optimal
# row is there, the HTTP server takes the live day with its event log on
# and answers a predict request and stops cleanly, the log holds the live
# day with no training/serving skew, the next model is trained from it,
# bad flags exit 2.
. "$(dirname "$0")/lib_cli.sh"

"$P" demo --dir "$T/d" --days 3 --rate 0.5 --threads 1 > "$T/out" 2> "$T/err"
check "demo exits 0" "[ $? -eq 0 ]"
for step in "1. simulate" "2. feature store" "3. train FTRL" "4. train a field-aware" \
            "5. evaluate" "6. serve the live day" "7. close the loop" "8. the detailed report"; do
    check "step '$step' printed" "grep -q '== $step' $T/out"
done
check "datasets built" "[ -s $T/d/train.pcache ] && [ -s $T/d/valid.pcache ] && [ -s $T/d/test.pcache ]"
check "models written" "[ -s $T/d/lr.pm ] && [ -s $T/d/ffm.pm ]"
check "spec written and loadable" "$P build-dataset --help >/dev/null && grep -q '^request:' $T/d/sim-store.yaml"
# NE < 1: both models beat predicting the base rate
for m in FTRL-LR "FFM k=4"; do
    ne=$(grep "^  $m " "$T/out" | awk '{print $(NF-3)}')
    check "$m NE < 1 ($ne)" "awk -v x=$ne 'BEGIN{exit !(x > 0.5 && x < 1)}'"
done
check "Bayes row" "grep -q 'Bayes-optimal (true p)' $T/out"
check "the server ranked candidates" "[ \$(grep -cE '^ +[0-9]+ [0-9]+ +0\.[0-9]+$' $T/out) -ge 5 ]"
check "the server answered 200 and stopped cleanly" "grep -q 'HTTP 200' $T/out && grep -q 'server stopped (0 requests cut short)' $T/out"
check "the live day was sent, nothing refused" "grep -qE '[1-9][0-9]* applied, 0 refused;' $T/out"
check "the log has predictions and feature rows" "grep -qE '[1-9][0-9]* predictions,\$' $T/out && grep -qE '^ +[1-9][0-9]* feature rows' $T/out"
check "no skew between logged and rebuilt rows" "grep -qE '^rows with a difference: 0 of [1-9][0-9]* ' $T/out"
check "production registered, the server followed the registry" \
    "grep -q 'production -> v000001' $T/out && grep -q 'model registry:$T/d/registry' $T/out"
check "a retrain cycle decided, its reasons listed" \
    "grep -qE '^   the gate: (promoted|rejected|skipped)$' $T/out && grep -q '^     - ' $T/out"
if grep -q '^   the gate: promoted$' "$T/out"; then
    check "promoted: the running server answered with v000002, no request failed" \
        "grep -qE 'production -> v000002: the running server answered' $T/out && grep -qE '[0-9]+ requests meanwhile, 0 failed' $T/out"
    check "the registry names v000002 production" \
        "[ \"\$($P registry show $T/d/registry production --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id\"])')\" = v000002 ]"
else
    check "not promoted: production stays v000001" "grep -q 'production stays v000001' $T/out"
fi
check "the gate decision is in the registry history" \
    "$P registry history $T/d/registry | grep -qE '^[^ ]+ +gate '"
check "the log verifies" "$P log verify log:$T/d/log > /dev/null"
"$P" demo --days 2 > /dev/null 2>&1
check "--days 2 refused with exit 2" "[ $? -eq 2 ]"
finish
