#!/bin/bash
# cli_join.sh: `pronto join` end to end on the simulator's events: labels
# equal the simulator's own (joined CSV, row by row), a replayed or locally
# shuffled stream gives byte-identical output, stdin works, malformed lines
# are reported as file:line (and fail the run with --strict), late events
# are counted, bad flags exit 2, a failed run leaves no half output.
. "$(dirname "$0")/lib_cli.sh"

"$P" simulate --users 5000 --ads 500 --advertisers 50 --sites 100 --imp-rate 5 \
    --duration 3h --attribution-window 15m --seed 3 -o "$T/sim" --joined "$T/joined.csv" 2>/dev/null
E=$T/sim/events-000000.jsonl
check "simulate ran" "[ -s $E ]"

"$P" join --window 15m "$E" -o "$T/out.jsonl" 2> "$T/err"
check "join exits 0" "[ $? -eq 0 ]"
check "summary line" "grep -q 'pronto join: .*labeled=.*events_per_s=' $T/err"
imps=$(grep -c '"type":"impression"' "$E")
check "one line per impression" "[ \$(wc -l < $T/out.jsonl) -eq $imps ]"
# labels in impression order vs the simulator's label column
sed -n 's/.*"impression_id":\([0-9]*\),.*"label":\([01]\),"converted":[01]}$/\1 \2/p' "$T/out.jsonl" > "$T/ours"
tail -n +2 "$T/sim/truth.tsv" | cut -f1 > "$T/ids"
tail -n +2 "$T/joined.csv" | cut -d, -f1 | paste -d' ' "$T/ids" - > "$T/theirs"
check "labels equal the simulator's, row by row" "cmp -s $T/ours $T/theirs"
check "some positives" "[ \$(grep -c '\"label\":1' $T/out.jsonl) -gt 20 ]"
check "output keeps the impression's fields" "head -1 $T/out.jsonl | grep -q '^{\"type\":\"impression\",\"event_id\":[0-9]*,\"impression_id\":[0-9]*,\"ts\":[0-9]*,\"user_id\".*,\"day_of_week\":[0-6],\"label\":[01],\"converted\":[01]}$'"

# replay: the stream twice, and through stdin
cat "$E" "$E" | "$P" join --window 15m - > "$T/twice.jsonl" 2> "$T/twice.err"
check "replayed twice: same bytes" "cmp -s $T/out.jsonl $T/twice.jsonl"
check "replay counted as duplicates/late" "grep -q 'duplicates=[1-9]' $T/twice.err && grep -q 'too_late=[1-9]' $T/twice.err"

# local shuffle: swap neighbour pairs (within a second at 5 impressions/s;
# the last 300 lines stay: after the span only sparse late clicks remain)
n=$(( $(wc -l < "$E") - 300 ))
awk -v n=$n 'NR==n+1 && n%2==1{print held} NR>n{print; next} NR%2==1{held=$0; next} {print; print held}' "$E" > "$T/swapped.jsonl"
check "shuffle changed the file" "! cmp -s $E $T/swapped.jsonl"
"$P" join --window 15m "$T/swapped.jsonl" > "$T/sw.jsonl" 2> "$T/sw.err"
check "swapped neighbours: same bytes" "cmp -s $T/out.jsonl $T/sw.jsonl"
check "swapped: nothing late" "grep -q 'too_late=0' $T/sw.err"
"$P" join --window 15m --lateness 0s "$T/swapped.jsonl" > /dev/null 2> "$T/sw0.err"
check "no lateness: swapped events counted late" "grep -q 'too_late=[1-9]' $T/sw0.err"

# malformed and odd lines: counted, reported with file:line, no crash
{ head -3 "$E"; echo '{"type":"impression","event_id":'; echo 'not json'
  echo '{"type":"bounce","event_id":999999,"impression_id":1,"ts":1}'
  echo '{"type":"click","ts":1704067300000}'; tail -n +4 "$E"; } > "$T/bad.jsonl"
"$P" join --window 15m "$T/bad.jsonl" > "$T/bad.out" 2> "$T/bad.err"
check "malformed lines: exit 0" "[ $? -eq 0 ]"
check "malformed reported as file:line" "grep -q 'bad.jsonl:4:column' $T/bad.err && grep -q 'bad.jsonl:5:' $T/bad.err"
check "malformed counted" "grep -q 'malformed=2 ' $T/bad.err"
check "unknown type and missing ids counted" "grep -q 'unknown_type=1 missing_ids=1 ' $T/bad.err"
check "same labels despite bad lines" "cmp -s $T/out.jsonl $T/bad.out"
"$P" join --strict "$T/bad.jsonl" -o "$T/strict.jsonl" 2> "$T/strict.err"
check "--strict: exit 1" "[ $? -eq 1 ]"
check "--strict names file:line" "grep -q 'bad.jsonl:4:column' $T/strict.err"
check "--strict: no half output" "[ ! -e $T/strict.jsonl ] && [ -z \"\$(ls $T | grep strict.jsonl.tmp)\" ]"

# usage errors
"$P" join --window 2x "$E" > /dev/null 2> "$T/u.err"
check "bad duration: exit 2, flag named" "[ $? -eq 2 ] && grep -q -- '--window' $T/u.err"
"$P" join > /dev/null 2>&1
check "no input: exit 2" "[ $? -eq 2 ]"
"$P" join "$T/missing.jsonl" > /dev/null 2> "$T/m.err"
check "missing file: exit 1, named" "[ $? -eq 1 ] && grep -q 'missing.jsonl' $T/m.err"
"$P" join --help > /dev/null
check "--help exits 0" "[ $? -eq 0 ]"

finish
