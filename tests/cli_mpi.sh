#!/bin/bash
# cli_mpi.sh: `mpirun -np N pronto train --mpi` on localhost (registered
# only when pronto is built with MPI, and not in the ASan build: see
# CMakeLists.txt): the merged model of one pass over two
# shards scores within 0.5% log loss of the single-process model on the same
# data (files round-robin, 2 ranks; lines i mod 3, 3 ranks oversubscribed);
# learner threads in ranks; the same seed and rank count give the same
# model file (info section aside: it holds the training time); validation
# and early stopping on rank 0; FFM;
# a rank killed with kill -9 mid-run fails the job with mpirun's message
# naming it, and the previous model file stays byte-identical; usage errors.
. "$(dirname "$0")/lib_cli.sh"
B=$(dirname "$P")
command -v mpirun >/dev/null || { fail "mpirun not found (openmpi-bin)"; finish; }
# root in a container: Open MPI refuses to run as root unless told
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI="mpirun --oversubscribe --bind-to none"

awk -v rows=20000 -v seed=1 -f "$PRONTO_SRC/tests/gen_criteo.awk" > "$T/train.tsv"
awk -v rows=8000 -v seed=2 -f "$PRONTO_SRC/tests/gen_criteo.awk" > "$T/test.tsv"
awk -v rows=4000 -v seed=3 -f "$PRONTO_SRC/tests/gen_criteo.awk" > "$T/valid.tsv"
head -n 10000 "$T/train.tsv" > "$T/a.tsv"
tail -n 10000 "$T/train.tsv" > "$T/b.tsv"
ll() { "$P" eval --json "$1" "$T/test.tsv" | grep -o '"log_loss":[0-9.e-]*' | cut -d: -f2; }
within() { awk -v a="$1" -v b="$2" 'BEGIN{d=(a-b)/b; if (d<0) d=-d; exit !(d<0.005)}'; }

# --- the single-process model, one pass
"$P" train --kind lr --threads 1 --seed 5 -q -o "$T/single.pm" "$T/train.tsv"
single=$(ll "$T/single.pm")

# --- two files, two ranks: file i to rank i mod 2
$MPI -np 2 "$P" train --mpi --kind lr --threads 1 --seed 5 --sync-every 3000 \
    -o "$T/m2.pm" "$T/a.tsv" "$T/b.tsv" > "$T/m2.out" 2> "$T/m2.err"
check "np 2 exits 0" "[ $? -eq 0 ]"
check "rank 0 alone prints the summary" "[ \$(grep -c '^trained lr' $T/m2.out) -eq 1 ]"
check "the summary counts both shards' rows" "grep -q 'on 20000 rows' $T/m2.out"
check "the summary shows the merges" "grep -q 'mpi  *2 ranks, [0-9]* merges (avg)' $T/m2.out"
m2=$(ll "$T/m2.pm")
check "np 2 log loss $m2 within 0.5% of one process's $single" "within $m2 $single"
check "the model's info records the ranks" "$P inspect $T/m2.pm | grep -q . && grep -q '\"ranks\": 2' <(strings $T/m2.pm)"

# --- one file, three ranks oversubscribed: line i to rank i mod 3
$MPI -np 3 "$P" train --mpi --kind lr --threads 1 --seed 5 --sync-every 2000 \
    -q -o "$T/m3.pm" "$T/train.tsv" 2> "$T/m3.err"
check "np 3 exits 0" "[ $? -eq 0 ]"
m3=$(ll "$T/m3.pm")
check "np 3 log loss $m3 within 0.5% of one process's $single" "within $m3 $single"

# --- learner threads inside each rank (Hogwild, as without MPI)
$MPI -np 2 "$P" train --mpi --kind lr --threads 2 --seed 5 -q -o "$T/t2.pm" "$T/a.tsv" "$T/b.tsv" 2> "$T/t2.err"
check "np 2 with 2 threads a rank exits 0" "[ $? -eq 0 ]"
t2=$(ll "$T/t2.pm")
check "np 2 x 2 threads log loss $t2 within 0.5% of one process's $single" "within $t2 $single"

# --- same seed and rank count: the same model file (info blanked)
$MPI -np 2 "$P" train --mpi --kind lr --threads 1 --seed 5 --sync-every 3000 \
    -q -o "$T/m2b.pm" "$T/a.tsv" "$T/b.tsv" 2>> "$T/m2.err"
"$B/tool_model_blank_info" "$T/m2.pm" "$T/m2.x"
"$B/tool_model_blank_info" "$T/m2b.pm" "$T/m2b.x"
"$B/tool_model_blank_info" "$T/m3.pm" "$T/m3.x"
check "np 2 twice: identical model files" "cmp -s $T/m2.x $T/m2b.x"
check "another rank count, another model" "! cmp -s $T/m2.x $T/m3.x"

# --- validation and early stopping on rank 0 (the decision broadcast),
# FFM merged by averaging
$MPI -np 2 "$P" train --mpi --kind ffm -b 14 --threads 1 --passes 2 --valid "$T/valid.tsv" \
    -o "$T/ffm.pm" "$T/train.tsv" > "$T/ffm.out" 2> "$T/ffm.err"
check "ffm np 2 with --valid exits 0" "[ $? -eq 0 ]"
check "rank 0 reports validation once a pass" \
    "[ \$(grep -c 'pass [0-9]: validation logloss' $T/ffm.err) -eq 2 ] && grep -q 'validation log loss' $T/ffm.out"
fauc=$("$P" eval --json "$T/ffm.pm" "$T/test.tsv" | grep -o '"auc":[0-9.]*' | cut -d: -f2)
check "ffm np 2 auc $fauc > 0.70" "awk -v a=$fauc 'BEGIN{exit !(a>0.70)}'"
$MPI -np 2 "$P" train --mpi --kind lr --threads 1 --passes 30 --early-stop 1 --valid "$T/valid.tsv" \
    -o "$T/es.pm" "$T/train.tsv" > "$T/es.out" 2> "$T/es.err"
check "early stopping ends every rank (exit 0)" "[ $? -eq 0 ]"
check "early stopping stopped before pass 30" "! grep -q 'pass 30:' $T/es.err && grep -q 'best pass' $T/es.out"

# --- a rank killed with kill -9 mid-run: the job fails, naming it; the
# previous model stays. Each trial kills at a random moment once both ranks
# run (featurizing, learning, inside a merge): rank 1, then rank 0.
cp "$T/single.pm" "$T/keep.pm"
for victim in 1 0; do
    cp "$T/keep.pm" "$T/out.pm"
    # (timeout: never hang the suite, should the kill miss)
    timeout 60 $MPI -np 2 "$P" train --mpi --kind lr --threads 1 --passes 1000 --sync-every 500 \
        -o "$T/out.pm" "$T/train.tsv" > "$T/kill.out" 2> "$T/kill.err" &
    mp=$!
    pid=""
    for _ in $(seq 100); do                       # until the victim runs
        for c in $(pgrep -P "$(pgrep -P $mp | head -1)"); do
            tr '\0' '\n' < /proc/$c/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$victim" && pid=$c
        done
        [ -n "$pid" ] && break
        sleep 0.1
    done
    sleep "0.$((RANDOM % 9 + 1))"
    [ -n "$pid" ] && kill -9 "$pid"
    wait $mp
    rc=$?
    check "rank $victim found and killed" "[ -n '$pid' ]"
    check "kill -9 of rank $victim: the job fails (exit $rc)" "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
    check "kill -9 of rank $victim: mpirun names it" \
        "grep -q 'rank $victim .*exited on signal 9' $T/kill.out $T/kill.err"
    check "kill -9 of rank $victim: the previous model file is intact" "cmp -s $T/out.pm $T/keep.pm"
    check "kill -9 of rank $victim: no temporary left beside it" "[ \$(ls $T | grep -c '^out\.pm.') -eq 0 ]"
done

# --- a failing rank ends the job with its message, not a hang
$MPI -np 2 "$P" train --mpi --kind lr --threads 1 -o "$T/bad.pm" "$T/a.tsv" "$T/nonexistent.tsv" \
    > "$T/bad.out" 2> "$T/bad.err"
check "a rank that cannot read its file fails the job" "[ $? -ne 0 ] && [ ! -e $T/bad.pm ]"
check "its message names the rank and the file" "grep -q 'rank 1: .*nonexistent.tsv' $T/bad.err"

# --- usage
"$P" train --sync-every 100 -o "$T/u.pm" "$T/a.tsv" 2> "$T/u.err"
check "--sync-every without --mpi: exit 2" "[ $? -eq 2 ]"
"$P" train --mpi --merge median -o "$T/u.pm" "$T/a.tsv" 2> "$T/u.err"
check "--merge median: exit 2" "[ $? -eq 2 ] && grep -q 'sum, avg or weighted' $T/u.err"
"$P" train --mpi --kind fm -o "$T/u.pm" "$T/a.tsv" 2> "$T/u.err"
check "--mpi --kind fm: exit 2" "[ $? -eq 2 ]"
"$P" train --help | grep -q -- '--sync-every'
check "train --help lists --mpi and --sync-every" "[ $? -eq 0 ] && $P train --help | grep -q -- '--mpi'"
finish
