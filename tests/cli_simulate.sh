#!/bin/bash
# cli_simulate.sh: `pronto simulate` end to end: the output folder, stdout
# and zstd streams agree, byte-identical reruns, joined CSV / Criteo layouts,
# scenarios in scenarios.log, the summary line, and bad flags (exit 2, flag
# named) or an unwritable folder (exit 1, before any work).
. "$(dirname "$0")/lib_cli.sh"

SMALL="--users 3000 --ads 300 --advertisers 30 --sites 50 --imp-rate 1 --duration 12h --seed 9"

# --- folder output, summary line
"$P" simulate $SMALL -o "$T/a" --rotate 10000 --scenario surge@6h:2:1h \
    --joined "$T/a.csv" 2> "$T/a.err"
check "simulate exits 0" "[ $? -eq 0 ]"
check "folder has the tables" "[ -s $T/a/users.csv -a -s $T/a/ads.csv -a -s $T/a/sites.csv -a -s $T/a/truth.tsv ]"
check "events rotated" "[ -s $T/a/events-000000.jsonl -a -s $T/a/events-000001.jsonl ]"
check "rotation size" "[ \$(wc -l < $T/a/events-000000.jsonl) -eq 10000 ]"
check "summary line" "grep -q 'bayes_logloss=.*auc=' $T/a.err"
check "scenario logged at 6h" "grep -q \$'^1704088800000\t2024-01-01T06:00:00Z\tsurge: traffic rate x2' $T/a/scenarios.log"
check "surge end logged" "grep -q 'surge: ends' $T/a/scenarios.log"
imps=$(cat $T/a/events-*.jsonl | grep -c '"type":"impression"')
check "truth has one row per impression" "[ \$(( \$(wc -l < $T/a/truth.tsv) - 1 )) -eq $imps ]"
check "joined has one row per impression" "[ \$(( \$(wc -l < $T/a.csv) - 1 )) -eq $imps ]"

# --- same seed, same bytes; stdout and zstd carry the same stream
"$P" simulate $SMALL -o "$T/b" --rotate 10000 --scenario surge@6h:2:1h --quiet
same=1
for f in "$T"/a/*; do cmp -s "$f" "$T/b/$(basename "$f")" || same=0; done
check "rerun is byte-identical" "[ $same -eq 1 ]"
"$P" simulate $SMALL --stdout --scenario surge@6h:2:1h --quiet > "$T/stdout.jsonl"
check "stdout equals the files" "cat $T/a/events-*.jsonl | cmp -s - $T/stdout.jsonl"
"$P" simulate $SMALL -o "$T/z" --zstd --rotate 0 --scenario surge@6h:2:1h --quiet
if command -v zstd > /dev/null; then
    check "zstd equals the files" "zstd -q -d -c $T/z/events-000000.jsonl.zst | cmp -s - $T/stdout.jsonl"
fi
"$P" simulate $SMALL --seed 10 --stdout --quiet > "$T/seed10.jsonl"
check "another seed differs" "! cmp -s $T/seed10.jsonl $T/stdout.jsonl"
"$P" simulate $SMALL --events 5000 --stdout --quiet > "$T/n.jsonl"
check "--events N writes N events" "[ \$(wc -l < $T/n.jsonl) -eq 5000 ]"
check "--events prefix of the full stream" "head -5000 $T/stdout.jsonl | cmp -s - $T/n.jsonl"

# --- criteo layout: label + 13 + 26 columns
"$P" simulate $SMALL --joined "$T/c.tsv" --joined-format criteo --quiet
check "criteo has 40 columns" "awk -F'\t' 'NF!=40{bad=1} END{exit bad}' $T/c.tsv"
check "criteo labels are 0/1" "cut -f1 $T/c.tsv | sort -u | tr '\n' ' ' | grep -qx '0 1 '"

# --- real-time pacing: 300 events at 1000/s take about 0.3 s
start=$(date +%s.%N)
"$P" simulate $SMALL --events 300 --rate 1000 --stdout --quiet > /dev/null
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b - a}')
check "--rate paces ($took s)" "awk -v t=$took 'BEGIN{exit !(t>=0.25 && t<3)}'"

# --- bad flags: exit 2, the flag named
bad() {  # name, expected text, flags...
    local name=$1 want=$2; shift 2
    "$P" simulate "$@" > /dev/null 2> "$T/bad.err"
    local rc=$?
    if [ $rc -eq 2 ] && grep -q -- "$want" "$T/bad.err"; then ok "$name"
    else fail "$name (exit $rc: $(cat "$T/bad.err" | head -1))"; fi
}
bad "ctr above 1" "--base-ctr" --stdout --base-ctr 1.5
bad "negative rate" "--imp-rate" --stdout --imp-rate -5
bad "negative events" "--events" --stdout --events -3
bad "bad duration" "--duration" --stdout --duration 3x
bad "scenario outside span" "--scenario surge" --stdout --duration 1d --scenario surge@2d
bad "unknown scenario" "--scenario" --stdout --scenario storm@1h
bad "unknown flag" "--bogus" --stdout --bogus 1
bad "nothing to write" "nothing to write" --duration 1h
bad "bad joined format" "--joined-format" --stdout --joined-format parquet

# --- unwritable folder: exit 1 before any work
mkdir -p "$T/ro" && chmod a-w "$T/ro"
if [ "$(id -u)" != 0 ]; then
    "$P" simulate --users 10000000 -o "$T/ro/out" > /dev/null 2> "$T/ro.err"
    rc=$?
    check "read-only parent fails with exit 1" "[ $rc -eq 1 ] && grep -q 'ro/out' $T/ro.err"
fi
echo x > "$T/file"
start=$(date +%s.%N)
"$P" simulate --users 50000000 --ads 1000000 -o "$T/file" > /dev/null 2> "$T/file.err"
rc=$?
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b - a}')
check "file as folder fails with exit 1" "[ $rc -eq 1 ] && grep -q 'not a folder' $T/file.err"
check "and fails before building 50M users ($took s)" "awk -v t=$took 'BEGIN{exit !(t<1)}'"

finish
