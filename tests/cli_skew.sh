#!/bin/bash
# cli_skew.sh: `pronto skew` and `build-dataset --logged-features` on a
# log holding what a server run with --log --log-features writes (features
# records before their impression's event record, docs/log.md), made by
# tests/tool_log_serve from a simulated stream: skew finds 0 differences,
# a spec with one window changed shows up in that column alone (exit 3;
# --max-share lets it pass); build-dataset --logged-features gives
# build-dataset's cache and CSV byte for byte when every impression was
# logged, and the logged subset's rows when one in three was; malformed
# features records are named by their log position.
. "$(dirname "$0")/lib_cli.sh"
B=$(dirname "$P")
SPEC=${PRONTO_SRC:?}/specs/sim-store.yaml
"$P" simulate --users 1000 --ads 200 --advertisers 20 --sites 50 --events 12k --imp-rate 5 \
    --seed 9 -o "$T/sim" --quiet
"$B/tool_log_serve" --spec "$SPEC" --data "$T/sim" "log:$T/all?fsync=off"
"$B/tool_log_serve" --spec "$SPEC" --data "$T/sim" --every 3 "log:$T/third?fsync=off"
check "logs written" "[ -d $T/all ] && [ -d $T/third ]"

"$P" skew --spec "$SPEC" --data "$T/sim" --events "log:$T/third" > "$T/s.out" 2> "$T/s.err"
check "skew: exit 0 on a replayed simulation" "[ $? -eq 0 ]"
check "skew: 0 rows differ" "grep -q '^rows with a difference: 0 of [1-9]' $T/s.out"
check "skew: every logged row matched" "grep -q ' 0 without an impression; [1-9][0-9]* impressions without a logged row' $T/s.out"
check "skew: one line per column, all 0" "[ \$(awk '\$2 == 0 && \$3 == \"0.0000\"' $T/s.out | wc -l) -eq 27 ]"

# user_imps_1h's window 1h -> 5m: that column, and only it, differs
awk '/^  - name: user_imps_1h$/ { f = 1 } f && /window: 1h/ { sub("1h", "5m"); f = 0 } 1' "$SPEC" > "$T/changed.yaml"
check "changed spec differs from the original" "! cmp -s $SPEC $T/changed.yaml"
"$P" skew --spec "$T/changed.yaml" --data "$T/sim" --events "log:$T/third" > "$T/c.out" 2> "$T/c.err"
check "skew: a changed window exits 3" "[ $? -eq 3 ]"
check "skew: the changed column differs" "grep -q '^user_imps_1h  *[1-9][0-9]* .*impression [0-9]*: logged \"[0-9]*\", rebuilt \"[0-9]*\"' $T/c.out"
check "skew: no other column differs" "[ \$(awk 'NR > 3 && \$2 != 0' $T/c.out | wc -l) -eq 1 ]"
"$P" skew --spec "$T/changed.yaml" --data "$T/sim" --events "log:$T/third" --max-share 1 > /dev/null 2>&1
check "skew: --max-share 1 lets it pass" "[ $? -eq 0 ]"

# build-dataset --logged-features
"$P" build-dataset --spec "$SPEC" --data "$T/sim" -o "$T/ref.csv" > /dev/null 2>&1
"$P" build-dataset --spec "$SPEC" --data "$T/sim" -o "$T/ref.pcache" > /dev/null 2>&1
"$P" build-dataset --spec "$SPEC" --data "$T/sim" --events "log:$T/all" --logged-features \
    -o "$T/lf.csv" > /dev/null 2> "$T/lf.err"
"$P" build-dataset --spec "$SPEC" --data "$T/sim" --events "log:$T/all" --logged-features \
    -o "$T/lf.pcache" > /dev/null 2>&1
check "logged features: CSV = build-dataset's" "cmp -s $T/ref.csv $T/lf.csv && [ \$(wc -l < $T/lf.csv) -gt 1000 ]"
check "logged features: cache = build-dataset's" "cmp -s $T/ref.pcache $T/lf.pcache"
check "logged features: summary" "grep -q 'logged features: records=[1-9].* unlogged_impressions=0' $T/lf.err"
"$P" build-dataset --spec "$SPEC" --data "$T/sim" --events "log:$T/third" --logged-features \
    -o "$T/lf3.csv" > /dev/null 2>&1
awk -F, 'NR == 1 || $1 % 3 == 0' "$T/ref.csv" > "$T/ref3.csv"
check "logged features, 1 in 3 logged: those rows" "cmp -s $T/ref3.csv $T/lf3.csv && [ \$(wc -l < $T/lf3.csv) -gt 300 ]"
"$P" build-dataset --spec "$SPEC" --data "$T/sim" --logged-features -o "$T/x.csv" > /dev/null 2>&1
check "--logged-features without --events: exit 2" "[ $? -eq 2 ]"

# malformed features records
printf '{"request_id":"1","ad_id":3}\nnot json\n' > "$T/badf.jsonl"
cp -r "$T/third" "$T/bad"
rm -f "$T/bad/LOCK"
"$B/tool_log_append" --type 3 "log:$T/bad" "$T/badf.jsonl"
"$P" skew --spec "$SPEC" --data "$T/sim" --events "log:$T/bad" > /dev/null 2> "$T/b.err"
check "skew: a malformed features record fails (exit 1)" "[ $? -eq 1 ]"
check "skew: named by its log position" "grep -q \"log:$T/bad@[0-9]*: features record: no \\\"row\\\" object\" $T/b.err"
"$P" skew --spec "$SPEC" --data "$T/sim" --events "log:$T/bad" --max-bad 2 > "$T/b2.out" 2> /dev/null
check "skew: --max-bad 2 counts them" "[ $? -eq 0 ] && grep -q '2 malformed' $T/b2.out"
"$P" skew --spec "$SPEC" --data "$T/sim" > /dev/null 2>&1
check "skew without --events: exit 2" "[ $? -eq 2 ]"
finish
