#!/bin/bash
# cli_log.sh: `pronto log` end to end on a log:DIR fed the simulator's
# events: `cat --type event` reproduces the event files byte for byte
# (plain and after `compact` compressed the closed segments), stat counts,
# --from/--to against the files' own ts, tail and tail -f, verify (exit 0,
# then exit 1 naming the file and offset of a flipped byte), --skip-corrupt,
# consumers in stat, retention by compact, and usage errors (exit 2).
. "$(dirname "$0")/lib_cli.sh"

"$P" simulate --users 2000 --ads 200 --advertisers 20 --sites 50 --events 20000 --seed 5 \
    --rotate 7000 -o "$T/sim" --quiet 2>/dev/null
check "simulate wrote 3 event files" "[ \$(ls $T/sim/events-*.jsonl | wc -l) -eq 3 ]"
cat "$T"/sim/events-*.jsonl > "$T/all.jsonl"
L="log:$T/log?fsync=off&segment_bytes=65536"

"$P" log append "$L" "$T"/sim/events-*.jsonl 2> "$T/append.err"
check "append exits 0" "[ $? -eq 0 ]"
check "append says how many" "grep -q '20000 records appended' $T/append.err"
"$P" log cat "log:$T/log" --type event > "$T/cat.jsonl"
check "cat --type event: the event files, byte for byte" "cmp -s $T/all.jsonl $T/cat.jsonl"
"$P" log cat "log:$T/log" --type prediction > "$T/pred.jsonl"
check "no prediction records" "[ ! -s $T/pred.jsonl ]"

"$P" log stat "log:$T/log" > "$T/stat.json"
check "stat exits 0" "[ $? -eq 0 ]"
check "stat: 20000 records" "grep -q '\"records\": 20000' $T/stat.json"
check "stat: all events" "grep -q '\"event\": 20000' $T/stat.json"
check "stat: several segments" "[ \$(json_get $T/stat.json segments) -gt 10 ]"
first=$(head -1 "$T/all.jsonl" | sed 's/.*"ts":\([0-9]*\).*/\1/')
check "stat: first time as ISO" "grep -q '\"first_ts\": \"20[0-9-]*T[0-9:.]*Z\"' $T/stat.json && [ \$(json_get $T/stat.json first_ts_ms) -eq $first ]"

"$P" log verify "log:$T/log" > "$T/verify.out"
check "verify: exit 0 and a summary" "[ $? -eq 0 ] && grep -q '^ok: .* 20000 records' $T/verify.out"

# --from/--to against the files' own ts (ms)
from=$((first + 60000)); to=$((first + 180000))
awk -v a=$from -v b=$to 'match($0, /"ts":[0-9]+/) { t = substr($0, RSTART + 5, RLENGTH - 5) + 0; if (t >= a && t < b) print }' \
    "$T/all.jsonl" > "$T/range.want"
"$P" log cat "log:$T/log" --from ${from}ms --to ${to}ms > "$T/range.got"
check "--from/--to: the same lines as the files" "[ -s $T/range.want ] && cmp -s $T/range.want $T/range.got"

"$P" log tail "log:$T/log" -n 3 > "$T/tail.got"
tail -n 3 "$T/all.jsonl" > "$T/tail.want"
check "tail -n 3" "cmp -s $T/tail.want $T/tail.got"
"$P" log tail "log:$T/log" -n 1 --meta > "$T/meta.got"
check "--meta wraps position, type and time" "grep -q '^{\"pos\":\"[0-9]*\",\"type\":\"event\",\"ts_ms\":[0-9]*,\"payload\":{' $T/meta.got"

# tail -f sees what is appended later
# (-n 2 first: once those two are printed the follower is past the end, so
# the append below comes after it whatever the machine's load)
"$P" log tail "log:$T/log" -n 2 -f > "$T/follow.got" &
fpid=$!
for _ in $(seq 300); do [ "$(wc -l < "$T/follow.got")" -ge 2 ] && break; sleep 0.1; done
head -5 "$T/all.jsonl" > "$T/more.jsonl"
"$P" log append "$L" "$T/more.jsonl" 2>/dev/null
for _ in $(seq 300); do [ "$(wc -l < "$T/follow.got")" -ge 7 ] && break; sleep 0.1; done
kill $fpid; wait $fpid 2>/dev/null
{ tail -n 2 "$T/all.jsonl"; cat "$T/more.jsonl"; } > "$T/follow.want"
check "tail -f prints records appended later" "cmp -s $T/follow.want $T/follow.got"

# a consumer's commit shows in stat
mkdir -p "$T/log/consumers" && printf '4242\ncut=17' > "$T/log/consumers/joiner"
"$P" log stat "log:$T/log" > "$T/stat2.json"
check "stat lists consumers and positions" "grep -q '\"name\": \"joiner\"' $T/stat2.json && grep -q '\"position\": \"4242\"' $T/stat2.json && grep -q '\"meta\": \"cut=17\"' $T/stat2.json"

# compaction: closed segments compressed, the same bytes out
"$P" log compact "log:$T/log" > "$T/compact.out"
check "compact exits 0" "[ $? -eq 0 ] && grep -q 'compressed [1-9]' $T/compact.out"
check "compressed segments on disk" "ls $T/log | grep -q '\.zseg$'"
"$P" log cat "log:$T/log" --type event > "$T/cat2.jsonl"
cat "$T/all.jsonl" "$T/more.jsonl" > "$T/all2.jsonl"
check "cat after compaction: byte for byte" "cmp -s $T/all2.jsonl $T/cat2.jsonl"
"$P" log cat "log:$T/log" --from ${from}ms --to ${to}ms > "$T/range2.got"
check "--from/--to over compressed segments" "cmp -s $T/range.want $T/range2.got"
"$P" log verify "log:$T/log" > "$T/verify2.out"
check "verify after compaction" "[ $? -eq 0 ] && grep -q 'compressed), 20005 records' $T/verify2.out"

# corruption in the middle of a closed segment
cp -r "$T/log" "$T/bad"
seg=$(ls "$T"/bad/*.zseg | sed -n 3p)
size=$(stat -c %s "$seg")
printf '\xff\xff\xff\xff' | dd of="$seg" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
"$P" log verify "log:$T/bad" > /dev/null 2> "$T/verify.err"
rc=$?
check "verify: exit 1 on corruption" "[ $rc -eq 1 ]"
check "verify names the segment and offset" "grep -q \"$(basename "$seg").*offset [0-9]\" $T/verify.err"
"$P" log cat "log:$T/bad" > /dev/null 2> "$T/cat.err"
check "cat stops with the error" "[ $? -eq 1 ] && grep -q $(basename "$seg") $T/cat.err"
"$P" log cat "log:$T/bad" --skip-corrupt > "$T/skip.got" 2> "$T/skip.err"
rc=$?
n=$(wc -l < "$T/skip.got")
check "--skip-corrupt: exit 0, the rest read, counted" "[ $rc -eq 0 ] && [ $n -gt 15000 ] && [ $n -lt 20005 ] && grep -q 'skipped 1 corrupt' $T/skip.err"
cp -r "$T/log" "$T/plainbad" && rm -rf "$T/plainbad"
"$P" log append "log:$T/p?fsync=off&segment_bytes=8192" "$T/sim/events-000000.jsonl" 2>/dev/null
pseg=$(ls "$T"/p/*.seg | sed -n 2p)
printf 'XXXX' | dd of="$pseg" bs=1 seek=3000 conv=notrunc 2>/dev/null
"$P" log verify "log:$T/p" 2> "$T/pverify.err"
check "verify: a flipped plain segment named with its offset" "[ $? -eq 1 ] && grep -q \"$(basename "$pseg"): corrupt record at offset [0-9]\" $T/pverify.err"
"$P" log cat "log:$T/p" --skip-corrupt > "$T/pskip.got" 2> /dev/null
check "--skip-corrupt on a plain segment loses one or two records" "[ \$(wc -l < $T/pskip.got) -ge 6998 ] && [ \$(wc -l < $T/pskip.got) -lt 7000 ]"

# retention by compact
before=$(json_get "$T/stat.json" segments)
"$P" log compact "log:$T/log" --retain-bytes 100000 > /dev/null
"$P" log stat "log:$T/log" > "$T/stat3.json"
check "compact --retain-bytes drops old segments" "[ \$(json_get $T/stat3.json segments) -lt $before ] && [ \$(json_get $T/stat3.json bytes) -le 200000 ]"

# usage errors
"$P" log 2>/dev/null; check "no subcommand: exit 2" "[ $? -eq 2 ]"
"$P" log frob "log:$T/log" 2> "$T/e1"; check "unknown subcommand: exit 2, named" "[ $? -eq 2 ] && grep -q \"unknown subcommand 'frob'\" $T/e1"
"$P" log cat 2> "$T/e2"; check "missing URI: exit 2" "[ $? -eq 2 ] && grep -q 'expected a log URI' $T/e2"
"$P" log cat "log:$T/log" --type bogus 2> "$T/e3"; check "bad --type: exit 2" "[ $? -eq 2 ] && grep -q -- '--type' $T/e3"
"$P" log cat "log:$T/log" --from yesterday 2> "$T/e4"; check "bad --from: exit 2" "[ $? -eq 2 ] && grep -q -- '--from' $T/e4"
"$P" log cat "log:$T/log" --from 2024-01-02 --to 2024-01-01 2> "$T/e5"; check "--to before --from: exit 2" "[ $? -eq 2 ]"
"$P" log stat "$T/log" 2> "$T/e6"; check "URI without scheme: exit 2" "[ $? -eq 2 ] && grep -q 'scheme' $T/e6"
"$P" log stat "nope:$T/log" 2> "$T/e7"; check "unknown scheme: exit 1, named" "[ $? -eq 1 ] && grep -q \"unknown scheme 'nope'\" $T/e7"
"$P" log compact "log:$T/missing" 2> "$T/e8"; check "compact of a missing log: exit 1, nothing created" "[ $? -eq 1 ] && [ ! -e $T/missing ]"
"$P" log compact "log:$T/log" --retain-ms soon 2> "$T/e9"; check "bad --retain-ms: exit 2" "[ $? -eq 2 ]"
printf '{"ts":1}\nnot json\n' > "$T/badlines.jsonl"
"$P" log append "log:$T/b?fsync=off" "$T/badlines.jsonl" 2> "$T/e10"
check "append: a bad line named by file:line" "[ $? -eq 1 ] && grep -q 'badlines.jsonl:2:' $T/e10"
check "append: the lines before it kept" "[ \$(\"$P\" log cat log:$T/b | wc -l) -eq 1 ]"
printf '{"ts":"x"}\n' > "$T/badts.jsonl"
"$P" log append "log:$T/b?fsync=off" "$T/badts.jsonl" 2> "$T/e11"
check "append: a non-integer ts named" "[ $? -eq 1 ] && grep -q 'badts.jsonl:1: field \"ts\"' $T/e11"
"$P" log tail "log:$T/log" -n x 2>/dev/null; check "bad -n: exit 2" "[ $? -eq 2 ]"
finish
