#!/bin/bash
# cli_memory.sh: `pronto train --estimate` and `--max-memory` (docs/memory.md):
# the estimate follows the stated formula in bits and k, a run over the
# limit is refused before any input is read (exit 2, the flag, the estimate
# and its parts, what to lower), a run at the limit trains.
. "$(dirname "$0")/lib_cli.sh"

awk -v rows=3000 -v seed=1 -f "$PRONTO_SRC/tests/gen_criteo.awk" > "$T/train.tsv"
awk -v rows=500 -v seed=3 -f "$PRONTO_SRC/tests/gen_criteo.awk" > "$T/valid.tsv"

est() {  # prints the line "NAME BYTES" of --estimate for flags...
    local name=$1; shift
    "$P" train --estimate "$@" | awk -v n="$name" '$0 ~ "^  "n" " {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) {print $i; exit}}'
}

# --- the model term is the stated formula: 2^bits * (fields + 1) * 2 * kpad * 4 + 16 (FFM)
m12=$(est model --kind ffm --bits 12 --k 4)
m13=$(est model --kind ffm --bits 13 --k 4)
m12k8=$(est model --kind ffm --bits 12 --k 8)
m12k5=$(est model --kind ffm --bits 12 --k 5)
check "ffm model term: 2^12 * 40 fields+1 * 2 * 4 * 4 + 16" "[ '$m12' = $((4096 * 40 * 2 * 4 * 4 + 16)) ]"
check "ffm: one more bit doubles the table" "[ $((m13 - 16)) = $((2 * (m12 - 16))) ]"
check "ffm: k 8 doubles the table, k 5 pads to 8" "[ $((m12k8 - 16)) = $((2 * (m12 - 16))) ] && [ '$m12k5' = '$m12k8' ]"
lr20=$(est model --kind lr --bits 20)
check "lr model term: 16 bytes a bucket" "[ '$lr20' = $((16 * 1048576 + 16)) ]"
fm=$(est model --kind fm --bits 12 --k 8)
check "fm model term: 16 * kpad bytes a bucket" "[ '$fm' = $((4096 * 16 * 8 + 16)) ]"
b0=$(est best-pass --kind ffm --bits 12 --passes 3)
b1=$(est best-pass --kind ffm --bits 12 --passes 3 --valid "$T/valid.tsv")
check "the best-pass copy only with --valid and several passes" "[ '$b0' = 0 ] && [ '$b1' -gt '$m12' ]"
t1=$(est total --kind ffm --bits 12 --passes 3 --threads 1)
t2=$(est total --kind ffm --bits 12 --passes 3 --threads 2)
check "more threads, more buffers" "[ '$t2' -gt '$t1' ]"

# --- refusal before reading: the input does not even exist
total=$(est total --kind ffm --bits 14 --passes 2 --threads 1)
"$P" train --kind ffm --bits 14 --passes 2 --threads 1 --max-memory $((total - 1)) \
    -o "$T/no.pm" "$T/missing.tsv" > "$T/refuse.out" 2> "$T/refuse.err"; rc=$?
check "over the limit: exit 2" "[ $rc = 2 ]"
check "the error names the flag, the estimate and its parts" \
    "grep -q -- '--max-memory' '$T/refuse.err' && grep -q 'estimated peak RSS' '$T/refuse.err' && grep -q 'model ' '$T/refuse.err' && grep -q 'thread buffers' '$T/refuse.err'"
check "the error says what to lower" "grep -q 'lower --bits' '$T/refuse.err' && grep -q -- '--k' '$T/refuse.err'"
check "refused before reading the input (no missing-file error), no model" \
    "! grep -q 'missing.tsv' '$T/refuse.err' && [ ! -e '$T/no.pm' ]"
check "nothing on stdout when refused" "[ ! -s '$T/refuse.out' ]"

# --- at the limit: trains, and says the estimate
"$P" train --kind ffm --bits 14 --passes 2 --threads 1 --max-memory "$total" \
    -o "$T/yes.pm" "$T/train.tsv" > "$T/ok.out" 2> "$T/ok.err"; rc=$?
check "at the limit: trains (exit 0)" "[ $rc = 0 ] && [ -s '$T/yes.pm' ]"
check "the run logs its estimate" "grep -q 'estimated peak RSS' '$T/ok.err'"
kib=$(( (total + 1023) / 1024 ))
"$P" train -q --kind ffm --bits 14 --passes 2 --threads 1 --max-memory "${kib}K" \
    -o "$T/yes2.pm" "$T/train.tsv" > /dev/null 2>&1
check "a suffixed size (K) is 1024-based" "[ -s '$T/yes2.pm' ]"

# --- the library's own check (warm start: the CLI's estimate uses the loaded model)
"$P" train -q --init "$T/yes.pm" --passes 2 --threads 1 --max-memory 1M -o "$T/warm.pm" "$T/train.tsv" \
    > /dev/null 2> "$T/warm.err"; rc=$?
check "warm start over the limit: exit 2" "[ $rc = 2 ] && grep -q -- '--max-memory' '$T/warm.err'"

# --- usage errors
"$P" train --max-memory lots -o "$T/x.pm" "$T/train.tsv" > /dev/null 2> "$T/bad.err"; rc=$?
check "a bad size: exit 2 naming the flag" "[ $rc = 2 ] && grep -q -- '--max-memory' '$T/bad.err'"
"$P" train --max-memory 0 -o "$T/x.pm" "$T/train.tsv" > /dev/null 2> "$T/zero.err"; rc=$?
check "a zero size: exit 2" "[ $rc = 2 ]"
finish
