#!/bin/bash
# cli_train.sh: `pronto train | predict | eval | inspect` end to end on small
# generated Criteo-layout data: learning happens, outputs line up with
# inputs, reproducibility, zstd/stdin input, bad input and bad model files.
. "$(dirname "$0")/lib_cli.sh"

awk -v rows=30000 -v seed=1 -f "$PRONTO_SRC/tests/gen_criteo.awk" > "$T/train.tsv"
awk -v rows=8000 -v seed=2 -f "$PRONTO_SRC/tests/gen_criteo.awk" > "$T/test.tsv"
awk -v rows=5000 -v seed=3 -f "$PRONTO_SRC/tests/gen_criteo.awk" > "$T/valid.tsv"

# --- LR learns
"$P" train --kind lr --threads 1 --seed 5 -o "$T/lr.pm" "$T/train.tsv" > "$T/train.out" 2>&1
check "train lr exits 0" "[ $? -eq 0 ]"
"$P" eval --json "$T/lr.pm" "$T/test.tsv" > "$T/eval.json" 2> "$T/eval.err"
check "eval exits 0" "[ $? -eq 0 ]"
auc=$(json_get "$T/eval.json" auc)
check "lr auc $auc > 0.70" "awk -v a=$auc 'BEGIN{exit !(a>0.70)}'"
"$P" eval "$T/lr.pm" "$T/test.tsv" > "$T/eval.txt"
check "eval table names the metrics" "grep -qi 'log loss' $T/eval.txt && grep -qi 'auc' $T/eval.txt"

# --- predict: one line per row, probabilities
"$P" predict "$T/lr.pm" "$T/test.tsv" > "$T/p1.txt"
check "predict one line per row" "[ $(wc -l < $T/p1.txt) -eq 8000 ]"
check "predictions in (0,1)" "awk '\$1<=0||\$1>=1{bad=1} END{exit bad}' $T/p1.txt"

# --- reproducible with --threads 1 --seed S
"$P" train --kind lr --threads 1 --seed 5 -q -o "$T/lr2.pm" "$T/train.tsv"
"$P" predict "$T/lr2.pm" "$T/test.tsv" > "$T/p2.txt"
check "same seed, same predictions" "cmp -s $T/p1.txt $T/p2.txt"

# --- zstd and stdin input read the same rows
zstd -q -f "$T/test.tsv" -o "$T/test.tsv.zst"
"$P" predict "$T/lr.pm" "$T/test.tsv.zst" > "$T/pz.txt"
check ".zst input gives the same predictions" "cmp -s $T/p1.txt $T/pz.txt"
"$P" predict "$T/lr.pm" - < "$T/test.tsv" > "$T/ps.txt"
check "stdin input gives the same predictions" "cmp -s $T/p1.txt $T/ps.txt"

# --- FFM with validation and early stopping
"$P" train --kind ffm --threads 2 --passes 6 --valid "$T/valid.tsv" -o "$T/ffm.pm" "$T/train.tsv" > "$T/ffm.out" 2>&1
check "train ffm exits 0" "[ $? -eq 0 ]"
check "ffm reports validation" "grep -q 'validation log loss' $T/ffm.out"
"$P" eval --json "$T/ffm.pm" "$T/test.tsv" > "$T/ffm.json"
fauc=$(json_get "$T/ffm.json" auc)
check "ffm auc $fauc > 0.70" "awk -v a=$fauc 'BEGIN{exit !(a>0.70)}'"

# --- FFM Hogwild threads keep copies of the hot rows (--hot-rows), or not
check "ffm on 2 threads says how many hot rows each thread copied" \
    "grep -Eq 'with 2 thread\(s\), [1-9][0-9]* hot rows copied per thread' $T/ffm.out"
"$P" train --kind ffm --threads 2 --passes 6 --hot-rows 0 --valid "$T/valid.tsv" -o "$T/ffm0.pm" "$T/train.tsv" > "$T/ffm0.out" 2>&1
check "--hot-rows 0: plain Hogwild, no copies" "[ $? -eq 0 ] && grep -q 'with 2 thread(s)$' $T/ffm0.out"
"$P" eval --json "$T/ffm0.pm" "$T/test.tsv" > "$T/ffm0.json"
f0=$(json_get "$T/ffm0.json" log_loss); f1=$(json_get "$T/ffm.json" log_loss)
check "hot copies learn as well as plain Hogwild: log loss $f1 vs $f0" \
    "awk -v a=$f1 -v b=$f0 'BEGIN{exit !(a < b * 1.01)}'"
"$P" train --kind ffm --threads 2 --hot-rows 70000 -o "$T/x.pm" "$T/train.tsv" > "$T/hot.out" 2>&1
check "--hot-rows above 65536 is a usage error" "[ $? -eq 2 ] && grep -q 'hot-rows' $T/hot.out"

# --- warm start continues rather than restarts
"$P" train --kind lr --threads 1 --init "$T/lr.pm" -o "$T/lr3.pm" "$T/valid.tsv" > "$T/warm.out" 2>&1
check "warm start exits 0" "[ $? -eq 0 ]"
"$P" train --kind lr --threads 1 -o "$T/cold.pm" "$T/valid.tsv" > "$T/cold.out" 2>&1
w=$(grep -o 'progressive log loss (pass 1) *[0-9.]*' "$T/warm.out" | awk '{print $NF}')
c=$(grep -o 'progressive log loss (pass 1) *[0-9.]*' "$T/cold.out" | awk '{print $NF}')
check "warm start ($w) beats a cold start ($c) on new data" "awk -v w=$w -v c=$c 'BEGIN{exit !(w<c)}'"

# --- negative downsampling: fewer rows learned, predictions recalibrated
"$P" train --kind lr --threads 1 --neg-sample 0.3 -o "$T/ds.pm" "$T/train.tsv" > "$T/ds.out" 2>&1
check "downsampling reports the negatives dropped" "grep -q 'negatives downsampled away' $T/ds.out"
"$P" eval --json "$T/ds.pm" "$T/test.tsv" > "$T/ds.json"
cal=$(json_get "$T/ds.json" calibration)
check "recalibrated predictions: calibration $cal within 0.85..1.15" "awk -v c=$cal 'BEGIN{exit !(c>0.85 && c<1.15)}'"
"$P" inspect "$T/ds.pm" | grep -q 'downsampling negatives kept 0.3'
check "the model file records the downsampling rate" "[ $? -eq 0 ]"

# --- inspect
"$P" inspect "$T/lr.pm" --data "$T/test.tsv" > "$T/inspect.txt"
check "inspect exits 0 and shows kind and fields" "grep -q 'kind *lr' $T/inspect.txt && grep -q '^  C1 ' $T/inspect.txt"

# --- malformed input: stops with file:line, or is skipped and counted
head -100 "$T/train.tsv" > "$T/bad.tsv"
printf '1\tx\t2\n' >> "$T/bad.tsv"
tail -100 "$T/train.tsv" >> "$T/bad.tsv"
"$P" train -o "$T/bad.pm" "$T/bad.tsv" > /dev/null 2> "$T/bad.err"
check "malformed row fails with exit 1" "[ $? -eq 1 ]"
check "error names file and line 101" "grep -q 'bad.tsv:101' $T/bad.err"
check "no model left behind on failure" "[ ! -e $T/bad.pm ]"
"$P" train --skip-bad 1 -o "$T/bad.pm" "$T/bad.tsv" > "$T/skip.out" 2>&1
check "--skip-bad 1 trains and reports the skip" "[ $? -eq 0 ] && grep -q '1 malformed rows skipped' $T/skip.out"
printf '2\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13' > "$T/label.tsv"
for i in $(seq 26); do printf '\ta' >> "$T/label.tsv"; done; echo >> "$T/label.tsv"
"$P" train -o "$T/label.pm" "$T/label.tsv" > /dev/null 2> "$T/label.err"
check "label 2 is rejected" "[ $? -eq 1 ] && grep -qi 'label' $T/label.err"

# --- bad model files
cp "$T/lr.pm" "$T/corrupt.pm"
size=$(stat -c %s "$T/corrupt.pm")
printf '\x55' | dd of="$T/corrupt.pm" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
"$P" eval "$T/corrupt.pm" "$T/test.tsv" > /dev/null 2> "$T/corrupt.err"
check "corrupt model refused (exit 1, says checksum)" "[ $? -eq 1 ] && grep -qi 'checksum' $T/corrupt.err"
head -c $((size / 3)) "$T/lr.pm" > "$T/trunc.pm"
"$P" eval "$T/trunc.pm" "$T/test.tsv" > /dev/null 2> "$T/trunc.err"
check "truncated model refused (says truncated)" "[ $? -eq 1 ] && grep -qi 'truncat' $T/trunc.err"

# --- an unwritable output fails cleanly and keeps the old model
cp "$T/lr.pm" "$T/keep.pm"; before=$(md5sum < "$T/keep.pm")
if [ "$(id -u)" -ne 0 ]; then
    mkdir "$T/ro"; cp "$T/lr.pm" "$T/ro/keep.pm"; chmod 555 "$T/ro"
    "$P" train -q -o "$T/ro/keep.pm" "$T/valid.tsv" > /dev/null 2> "$T/ro.err"; rc=$?
    chmod 755 "$T/ro"
    check "unwritable folder exits 1" "[ $rc -eq 1 ]"
    check "model in the unwritable folder intact" "cmp -s $T/lr.pm $T/ro/keep.pm"
fi
"$P" train -q -o "$T/missing-dir/m.pm" "$T/valid.tsv" > /dev/null 2> "$T/ro.err"
check "output in a missing folder exits 1 naming it" "[ $? -eq 1 ] && grep -q missing-dir $T/ro.err"
"$P" train -q -o "$T/keep.pm" "$T/bad.tsv" > /dev/null 2>&1
check "a failed training run keeps the previous model" "[ $? -eq 1 ] && [ \"$(md5sum < $T/keep.pm)\" = \"$before\" ]"

# --- libffm and libsvm input with the shipped example specs
# (tokens get integer ids in order of appearance, shared by both files)
cat "$T/train.tsv" "$T/test.tsv" | awk -F'\t' '{ line = $1
    for (i = 2; i <= 40; i++) if ($i != "") { k = i ":" $i; if (!(k in id)) id[k] = ++n; line = line " " (i - 2) ":" id[k] ":1" }
    print line }' > "$T/all.ffm"
head -30000 "$T/all.ffm" > "$T/train.ffm"
tail -8000 "$T/all.ffm" > "$T/test.ffm"
"$P" train --kind ffm --format libffm --spec "$PRONTO_SRC/specs/libffm.yaml" --passes 3 -o "$T/ffm2.pm" "$T/train.ffm" > /dev/null 2>&1
check "train ffm from libffm exits 0" "[ $? -eq 0 ]"
"$P" eval --json --format libffm "$T/ffm2.pm" "$T/test.ffm" > "$T/ffm2.json"
a2=$(json_get "$T/ffm2.json" auc)
check "libffm-trained ffm auc $a2 > 0.70" "awk -v a=$a2 'BEGIN{exit !(a>0.70)}'"
awk '{ line = $1; for (i = 2; i <= NF; i++) { split($i, p, ":"); line = line " " p[2] ":1" } print line }' \
    "$T/train.ffm" > "$T/train.svm"
"$P" train --format libsvm --spec "$PRONTO_SRC/specs/libsvm.yaml" -q -o "$T/svm.pm" "$T/train.svm"
check "train lr from libsvm exits 0" "[ $? -eq 0 ]"
"$P" train --format libsvm -o "$T/svm.pm" "$T/train.svm" 2> "$T/nospec.err"
check "libsvm without --spec is a usage error naming --spec" "[ $? -eq 2 ] && grep -q -- '--spec' $T/nospec.err"

# --- --bits and --min-count override the spec, and the model embeds them
"$P" train --bits 18 --min-count 2 -q -o "$T/b18.pm" "$T/train.tsv"
check "--bits 18 gives a 2^18-bucket model" "$P inspect $T/b18.pm | grep -q 'buckets *2^18'"
"$P" train --bits 40 -o "$T/x.pm" "$T/train.tsv" 2> "$T/bits.err"
check "--bits 40 is a usage error naming the range" "[ $? -eq 2 ] && grep -q '1..30, got 40' $T/bits.err"

# --- a write that fails midway (file-size limit: like a full disk) fails
# cleanly, leaves no temporary behind and keeps the previous model
cp "$T/ffm.pm" "$T/full.pm"; fb=$(md5sum < "$T/full.pm")
(ulimit -f 64; "$P" train --kind ffm --passes 1 -q -o "$T/full.pm" "$T/train.tsv") 2> "$T/full.err"
check "a failed model write exits 1 and says why" "[ $? -eq 1 ] && grep -qi 'too large\|no space\|write' $T/full.err"
check "the previous model is intact" "[ \"$(md5sum < $T/full.pm)\" = \"$fb\" ]"
check "no temporary file is left behind" "! ls $T/full.pm.tmp.* > /dev/null 2>&1"

# --- Ctrl-C while the cache is being written leaves no temporary behind
mkdir -p "$T/tmpdir"; mkfifo "$T/fifo"
TMPDIR="$T/tmpdir" "$P" train --passes 2 -q -o "$T/int.pm" "$T/fifo" 2> /dev/null &
pid=$!
exec 3> "$T/fifo"          # the writer stays open: pronto waits for more rows
cat "$T/train.tsv" >&3
for _ in $(seq 50); do ls "$T/tmpdir"/*.tmp.* > /dev/null 2>&1 && break; sleep 0.1; done
check "the cache temporary exists while featurizing" "ls $T/tmpdir/*.tmp.* > /dev/null 2>&1"
kill -INT $pid; wait $pid 2> /dev/null; exec 3>&-
check "after SIGINT no temporary is left" "[ -z \"$(ls -A $T/tmpdir)\" ] && [ ! -e $T/int.pm ]"

# --- usage errors exit 2
"$P" train --passes x -o "$T/x.pm" "$T/train.tsv" 2> /dev/null
check "bad flag value exits 2" "[ $? -eq 2 ]"
"$P" train "$T/train.tsv" 2> /dev/null
check "missing -o exits 2" "[ $? -eq 2 ]"
# 0 stood for "the default" and was taken silently
"$P" train --passes 0 -o "$T/x.pm" "$T/train.tsv" 2> "$T/p0.err"
check "--passes 0 exits 2 naming the flag" "[ $? -eq 2 ] && grep -q -- '--passes must be in 1..1000' $T/p0.err"
"$P" train --threads 0 -o "$T/x.pm" "$T/train.tsv" 2> "$T/t0.err"
check "--threads 0 exits 2 naming the flag" "[ $? -eq 2 ] && grep -q -- '--threads must be in 1..256' $T/t0.err"
"$P" inspect --rows 0 "$T/lr.pm" 2> "$T/r0.err"
check "inspect --rows 0 exits 2 naming the flag" "[ $? -eq 2 ] && grep -q -- '--rows must be >= 1' $T/r0.err"
check "nothing written" "[ ! -e $T/x.pm ]"

finish
