#!/bin/bash
# cli_demo.sh: `pronto demo` (the README's main job) end to end on a small
# world: every step runs, the models beat the base rate, the Bayes-optimal
# row is there, the HTTP server answers a predict request and stops
# cleanly, bad flags exit 2.
. "$(dirname "$0")/lib_cli.sh"

"$P" demo --dir "$T/d" --days 3 --rate 0.5 --threads 1 > "$T/out" 2> "$T/err"
check "demo exits 0" "[ $? -eq 0 ]"
for step in "1. simulate" "2. feature store" "3. train FTRL" "4. train a field-aware" \
            "5. evaluate" "6. serve" "7. the detailed report"; do
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
"$P" demo --days 2 > /dev/null 2>&1
check "--days 2 refused with exit 2" "[ $? -eq 2 ]"
finish
