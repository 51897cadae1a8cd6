#!/bin/bash
# cli_crash.sh: the short version of the crash-consistency runner
# (scripts/crashtest, whose header says what it checks): 5 trials per
# backend (lmdb, redis) of materialize killed with SIGKILL at random points
# and rerun, the store then byte-for-byte equal to an uninterrupted run's;
# 5 kills each of train -o, build-dataset -o and train --cache, the output
# never torn. The long runs (30+ trials) are recorded in docs/benchmarks.md.
. "$(dirname "$0")/lib_cli.sh"
out=$(bash "${PRONTO_SRC:?}/scripts/crashtest" --pronto "$P" --trials 5 --events 10k --commit-every 1500 --small 2>&1)
rc=$?
echo "$out"
check "crashtest exits 0" "[ $rc -eq 0 ]"
check "materialize lmdb: 0 failures" "echo \"\$out\" | grep -q 'materialize lmdb: 5 trials.* 0 failures'"
check "materialize redis: 0 failures" "echo \"\$out\" | grep -q 'materialize redis: 5 trials.* 0 failures'"
check "kills landed mid-run" "echo \"\$out\" | grep 'materialize lmdb' | grep -qv '(0 mid-run)'"
for f in "train -o" "build-dataset -o" "train --cache"; do
    check "$f: 0 failures" "echo \"\$out\" | grep -q 'files $f: 5 trials.* 0 failures'"
done
finish
