#!/bin/bash
# cli_events_log.sh: the readers of an event log (--events URI) against the
# same events as JSON-lines files. A simulated stream is appended to a
# log:DIR in file order (tests/tool_log_append, with a record of another
# type every 3rd line, which readers skip); then build-dataset's outputs
# (example cache and CSV) and join's are byte-identical from the log and
# from the files; --from/--to pick the same events; a malformed record is
# named by its log position; join --resume continues a log that grew
# between runs exactly as one run over the whole log; materialize
# --events gives the store rows of materialize from the files, and a log
# that grew is applied once. (Kill -9 trials: tests/cli_crash.sh.)
. "$(dirname "$0")/lib_cli.sh"
TOOL=$(dirname "$P")/tool_log_append
SPEC=${PRONTO_SRC:?}/specs/sim-store.yaml
check "tool_log_append built" "[ -x $TOOL ]"

"$P" simulate --users 1000 --ads 200 --advertisers 20 --sites 50 --events 12k --rotate 5000 \
    --seed 5 -o "$T/sim" --quiet
"$TOOL" --other 3 "log:$T/log" "$T"/sim/events-*.jsonl
check "log written" "[ -d $T/log ]"
L="log:$T/log"

# build-dataset: cache and CSV, with a split
"$P" build-dataset --spec "$SPEC" --data "$T/sim" -o "$T/f.pcache" --split "1704067500=$T/f2.csv" \
    > /dev/null 2> "$T/f.err"
"$P" build-dataset --spec "$SPEC" --data "$T/sim" --events "$L" -o "$T/l.pcache" \
    --split "1704067500=$T/l2.csv" > /dev/null 2> "$T/l.err"
check "build-dataset from the log: exit 0" "[ -s $T/l.pcache ]"
check "build-dataset: cache byte-identical" "cmp -s $T/f.pcache $T/l.pcache"
check "build-dataset: CSV byte-identical" "cmp -s $T/f2.csv $T/l2.csv && [ \$(wc -l < $T/l2.csv) -gt 1000 ]"
check "build-dataset: other records counted" "grep -q 'other_records=[1-9]' $T/l.err"
"$P" build-dataset --spec "$SPEC" --data "$T/sim" -o "$T/f.csv" > /dev/null 2>&1
"$P" build-dataset --spec "$SPEC" --data "$T/sim" --events "$L" -o "$T/l.csv" > /dev/null 2>&1
check "build-dataset: whole CSV byte-identical" "cmp -s $T/f.csv $T/l.csv"

# a log whose closed segments are zstd-compressed (pronto log compact)
"$TOOL" --other 3 "log:$T/z?segment_bytes=65536" "$T"/sim/events-*.jsonl
"$P" log compact "log:$T/z" > /dev/null 2>&1
check "compacted log has compressed segments" "ls $T/z/*.zseg > /dev/null 2>&1"
"$P" build-dataset --spec "$SPEC" --data "$T/sim" --events "log:$T/z" -o "$T/z.csv" > /dev/null 2>&1
check "build-dataset from a compressed log: byte-identical" "cmp -s $T/f.csv $T/z.csv"

# join, whole and with --from/--to
"$P" join -o "$T/f.jsonl" "$T"/sim/events-*.jsonl 2> /dev/null
"$P" join -o "$T/l.jsonl" --events "$L" 2> "$T/lj.err"
check "join: byte-identical" "cmp -s $T/f.jsonl $T/l.jsonl && [ -s $T/l.jsonl ]"
check "join: other records counted" "grep -q 'other_records=[1-9]' $T/lj.err"
"$P" join --from 1704067500 --to 1704067900 -o "$T/fr.jsonl" "$T"/sim/events-*.jsonl 2> /dev/null
"$P" join --from 1704067500 --to 1704067900 -o "$T/lr.jsonl" --events "$L" 2> "$T/lr.err"
check "join --from/--to: byte-identical" "cmp -s $T/fr.jsonl $T/lr.jsonl"
check "join --from/--to: a strict subset" "[ -s $T/lr.jsonl ] && [ \$(wc -l < $T/lr.jsonl) -lt \$(wc -l < $T/l.jsonl) ]"
check "join --from on a log seeks (fewer records read)" "[ \$(grep -o 'lines=[0-9]*' $T/lr.err | tr -dc 0-9) -lt 12000 ]"

# train --events: the model of train --dataset on build-dataset's cache
"$P" train --events "$L" --spec "$SPEC" --data "$T/sim" --threads 1 -o "$T/m1.bin" > "$T/tr.out" 2>&1
check "train --events: exit 0" "[ $? -eq 0 ] && grep -q 'built [1-9][0-9]* examples from' $T/tr.out"
"$P" build-dataset --spec "$SPEC" --data "$T/sim" -o "$T/full.pcache" > /dev/null 2>&1
"$P" train --dataset --spec "$SPEC" --threads 1 -q -o "$T/m2.bin" "$T/full.pcache"
strip() { "$P" inspect "$1" | grep -Ev '^model |trained_at|train_seconds|pcache'; }
check "train --events: the same model as from the files' dataset" "[ \"\$(strip $T/m1.bin)\" = \"\$(strip $T/m2.bin)\" ]"
check "train --events: its temporary cache is gone" "! ls $T/m1.bin.events-* > /dev/null 2>&1"
"$P" train --events "$L" -o "$T/m3.bin" > /dev/null 2>&1
check "train --events without --spec: exit 2" "[ $? -eq 2 ]"

# a malformed event record: named by URI@POS
"$TOOL" "log:$T/bad" "$T/sim/events-000000.jsonl"
printf '{"type":"impression","ts":oops}\n' > "$T/bad.jsonl"
"$TOOL" "log:$T/bad" "$T/bad.jsonl"
"$P" join --strict --events "log:$T/bad" > /dev/null 2> "$T/bad.err"
check "join --strict: malformed record fails (exit 1)" "[ $? -eq 1 ]"
check "join: error names the log position" "grep -q \"log:$T/bad@[0-9]*:column\" $T/bad.err"
"$P" build-dataset --spec "$SPEC" --data "$T/sim" --events "log:$T/bad" -o "$T/bad.pcache" \
    > /dev/null 2> "$T/bad2.err"
check "build-dataset: malformed record named by position" "grep -q \"log:$T/bad@[0-9]*: more than 0\" $T/bad2.err"
check "build-dataset: no output after a failure" "[ ! -e $T/bad.pcache ]"
"$P" join --events "nope:$T/x" > /dev/null 2> "$T/scheme.err"
check "unknown log scheme refused" "[ $? -eq 1 ] && grep -q 'unknown scheme' $T/scheme.err"
"$P" join --events "$L" "$T/f.jsonl" > /dev/null 2>&1
check "files and --events exclude each other (exit 2)" "[ $? -eq 2 ]"
"$P" join --events "$L" --resume x > /dev/null 2>&1
check "--resume without -o (exit 2)" "[ $? -eq 2 ]"
"$P" join --events "$L" --resume x --from 1704067500 -o "$T/x" > /dev/null 2>&1
check "--resume with --from (exit 2)" "[ $? -eq 2 ]"

# join --resume over a log that grows between runs = one run over it all
J=(join --window 1m --lateness 20s --commit-every 500)
"$P" "${J[@]}" --events "$L" --resume whole -o "$T/whole.jsonl" 2> /dev/null
check "resume: the uninterrupted run is a prefix of plain join" \
    "[ -s $T/whole.jsonl ] && cmp -s $T/whole.jsonl <(\"$P\" join --window 1m --lateness 20s --events $L 2> /dev/null | head -c \$(stat -c %s $T/whole.jsonl))"
"$TOOL" "log:$T/grow" "$T/sim/events-000000.jsonl"
"$P" "${J[@]}" --events "log:$T/grow" --resume g -o "$T/grow.jsonl" 2> /dev/null
check "resume: a commit was made" "[ -s $T/grow/consumers/g ] && grep -q out_bytes $T/grow/consumers/g"
"$TOOL" --other 3 "log:$T/grow" "$T/sim/events-000001.jsonl"
"$P" "${J[@]}" --events "log:$T/grow" --resume g -o "$T/grow.jsonl" 2> /dev/null
"$TOOL" --other 3 "log:$T/grow" "$T/sim/events-000002.jsonl"
"$P" "${J[@]}" --events "log:$T/grow" --resume g -o "$T/grow.jsonl" 2> "$T/g3.err"
check "resume: a grown log gives the output of one run" "cmp -s $T/grow.jsonl $T/whole.jsonl"
"$P" "${J[@]}" --events "log:$T/grow" --resume g -o "$T/grow.jsonl" 2> /dev/null
check "resume: a run with nothing new changes nothing" "cmp -s $T/grow.jsonl $T/whole.jsonl"
"$P" join --window 2m --lateness 20s --events "log:$T/grow" --resume g -o "$T/grow.jsonl" 2> "$T/w.err"
check "resume: another --window is refused" "[ $? -eq 1 ] && grep -q 'resume with the same' $T/w.err"
echo junk >> "$T/grow.jsonl"
"$P" "${J[@]}" --events "log:$T/grow" --resume g -o "$T/grow.jsonl" 2> /dev/null
check "resume: bytes after the commit are cut" "cmp -s $T/grow.jsonl $T/whole.jsonl"

# materialize --events: the rows of materialize from the files; a grown
# log applies only what is new.
rows() { # LMDB: every key and value but the __pronto ones (position, sentinel)
    mdb_dump -s pronto_store "$1" | awk '/^HEADER=END/ { b = 1; next } !b || /^DATA=END/ { next }
        k == "" { k = $0; next } { if (k !~ /5f5f70726f6e746f/) print k, $0; k = "" }' | sha1sum
}
if command -v mdb_dump > /dev/null; then
    "$P" materialize --spec "$SPEC" --data "$T/sim" --store "lmdb:$T/f.lmdb" > /dev/null 2>&1
    "$P" materialize --spec "$SPEC" --data "$T/sim" --events "$L" --store "lmdb:$T/l.lmdb" \
        --commit-every 700 > /dev/null 2>&1
    check "materialize --events: same rows as from the files" "[ \"\$(rows $T/f.lmdb)\" = \"\$(rows $T/l.lmdb)\" ]"
    rm -rf "$T/grow"
    "$TOOL" "log:$T/grow" "$T/sim/events-000000.jsonl"
    "$P" materialize --spec "$SPEC" --data "$T/sim" --events "log:$T/grow" --store "lmdb:$T/g.lmdb" \
        --commit-every 700 > /dev/null 2>&1
    "$TOOL" --other 3 "log:$T/grow" "$T/sim/events-000001.jsonl" "$T/sim/events-000002.jsonl"
    "$P" materialize --spec "$SPEC" --data "$T/sim" --events "log:$T/grow" --store "lmdb:$T/g.lmdb" \
        --commit-every 700 > "$T/g.out" 2>&1
    check "materialize --events: a grown log, same rows as one run" "[ \"\$(rows $T/g.lmdb)\" = \"\$(rows $T/l.lmdb)\" ]"
    check "materialize --events: the second run skipped what was applied" "grep -q '([1-9][0-9]* already' $T/g.out"
    "$P" materialize --spec "$SPEC" --data "$T/sim" --events "$L" --until 1704067500 \
        --store "lmdb:$T/u.lmdb" > /dev/null 2>&1
    check "materialize --events --until: refused (exit 2)" "[ $? -eq 2 ]"
    "$P" materialize --spec "$SPEC" --data "$T/sim" --store "lmdb:$T/g.lmdb" > "$T/mix.out" 2>&1
    check "materialize: files into a store materialized from a log: refused" \
        "[ $? -eq 1 ] && grep -q 'from an event log' $T/mix.out"
else
    echo "skip: mdb_dump missing (scripts/bootstrap)"
fi

# the same through a redis-stream: log (a real redis-server on a socket)
if command -v redis-server > /dev/null && command -v redis-cli > /dev/null; then
    redis-server --port 0 --unixsocket "$T/redis.sock" --dir "$T" --save '' --appendonly no \
        --loglevel warning > "$T/redis.log" 2>&1 &
    RPID=$!
    trap 'kill $RPID 2> /dev/null; wait $RPID 2> /dev/null; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
    for _ in $(seq 50); do redis-cli -s "$T/redis.sock" ping > /dev/null 2>&1 && break; sleep 0.1; done
    R="redis-stream:unix:$T/redis.sock/ev"
    "$TOOL" --other 3 "$R" "$T"/sim/events-*.jsonl
    "$P" build-dataset --spec "$SPEC" --data "$T/sim" --events "$R" -o "$T/r.csv" > /dev/null 2>&1
    check "redis-stream: build-dataset CSV byte-identical" "cmp -s $T/f.csv $T/r.csv"
    "$P" join -o "$T/r.jsonl" --events "$R" 2> /dev/null
    check "redis-stream: join byte-identical" "cmp -s $T/f.jsonl $T/r.jsonl"
    G="redis-stream:unix:$T/redis.sock/grow"
    "$TOOL" "$G" "$T/sim/events-000000.jsonl"
    "$P" "${J[@]}" --events "$G" --resume g -o "$T/rgrow.jsonl" 2> /dev/null
    "$TOOL" "$G" "$T/sim/events-000001.jsonl" "$T/sim/events-000002.jsonl"
    "$P" "${J[@]}" --events "$G" --resume g -o "$T/rgrow.jsonl" 2> /dev/null
    check "redis-stream: join --resume over a grown stream = one run" "cmp -s $T/rgrow.jsonl $T/whole.jsonl"
    if command -v mdb_dump > /dev/null; then
        "$P" materialize --spec "$SPEC" --data "$T/sim" --events "$R" --store "lmdb:$T/r.lmdb" \
            --commit-every 700 > /dev/null 2>&1
        check "redis-stream: materialize --events, same rows" "[ \"\$(rows $T/f.lmdb)\" = \"\$(rows $T/r.lmdb)\" ]"
    fi
else
    echo "skip: redis-server missing (scripts/bootstrap)"
fi
finish
