#!/bin/bash
# cli_version.sh: `pronto --version [--json]` (src/cli/version.c) and the
# commit stamp (cmake/git_commit.cmake): the version is CMakeLists.txt's
# project(VERSION), the commit the one the build stamped (a commit of this
# checkout), the build type the build folder's, the FFM kernels AVX2+FMA exactly
# when this CPU has both;
# the stamp says "unknown" outside a git checkout (a source tarball) and is
# rewritten only when it changes.
source "$(dirname "$0")/lib_cli.sh"
S=${PRONTO_SRC:?}
B=$(dirname "$P")

"$P" --version > "$T/v" 2> "$T/err"
check "--version exits 0, nothing on stderr" '[ $? -eq 0 ] && [ ! -s "$T/err" ]'
want_v=$(sed -nE 's/^project\(pronto VERSION ([0-9.]+).*/\1/p' "$S/CMakeLists.txt")
check "first line: pronto $want_v (project(VERSION) in CMakeLists.txt)" \
    '[ "$(head -1 "$T/v")" = "pronto $want_v" ]'
# The commit the build stamped (a commit made since then is not this
# binary's); the stamp itself is checked against git below.
want_c=$(sed -n 's/^#define PRONTO_GIT_COMMIT "\(.*\)"$/\1/p' "$B/generated/git_commit.h")
check "commit: $want_c (the build's stamp: git describe of the source, or unknown)" \
    '[ -n "$want_c" ] && grep -qx "commit:   $want_c" "$T/v"'
if [ -e "$S/.git" ] && command -v git >/dev/null; then
    check "the stamp names a commit of this checkout" \
        'git -C "$S" cat-file -e "$(git -C "$S" rev-parse -q --verify "${want_c%-dirty}^{commit}")"'
fi
bt=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$B/CMakeCache.txt")
san=$(sed -n 's/^PRONTO_SANITIZE:BOOL=//p' "$B/CMakeCache.txt")
case $san in ON) want_b="$bt, ASan+UBSan" ;; *) want_b="$bt" ;; esac
check "build: $want_b (the build folder's type)" 'grep -q "^build:    $want_b (" "$T/v"'
check "compiler: gcc or clang with a version" 'grep -qE "^compiler: (gcc|clang) [0-9]" "$T/v"'
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then want_k=avx2+fma; else want_k=scalar; fi
check "cpu: compiled-for list and FFM kernels $want_k (this CPU)" \
    'grep -qE "^cpu:      compiled for [a-z0-9_]+" "$T/v" && grep -qF "; FFM kernels $want_k (run-time choice" "$T/v"'

"$P" --version --json > "$T/j"
check "--version --json: one object with the same facts" \
    'python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
assert j[\"version\"] == sys.argv[2] and j[\"commit\"] == sys.argv[3], j
assert j[\"build_type\"] == sys.argv[4] and j[\"ffm_kernels\"] == sys.argv[5], j
assert isinstance(j[\"compiled_for\"], list) and isinstance(j[\"cpu_features\"], list)
" "$T/j" "$want_v" "$want_c" "$want_b" "$want_k"'
"$P" --version --jsn 2> "$T/err"
check "--version --jsn: exit 2 naming the flag" '[ $? -eq 2 ] && grep -q -- "--jsn" "$T/err"'
check "pronto help mentions --version" '"$P" help | grep -q -- "--version"'

# The stamp script: outside a checkout, in a checkout, rewritten only on change.
stamp() { cmake -DSRC="$1" -DOUT="$T/commit.h" -DGIT="$(command -v git)" -P "$S/cmake/git_commit.cmake"; }
mkdir "$T/tarball"
stamp "$T/tarball"
check "no .git (a tarball): PRONTO_GIT_COMMIT \"unknown\"" \
    'grep -qx "#define PRONTO_GIT_COMMIT \"unknown\"" "$T/commit.h"'
if command -v git >/dev/null; then
    g="$T/repo"
    mkdir "$g" && git -C "$g" init -q && echo a > "$g/f" && git -C "$g" add f &&
        git -C "$g" -c user.name=t -c user.email=t@t commit -qm one
    stamp "$g"
    h=$(git -C "$g" rev-parse --short=12 HEAD)
    check "a checkout: its commit" 'grep -qx "#define PRONTO_GIT_COMMIT \"$h\"" "$T/commit.h"'
    touch -d @1000000000 "$T/commit.h"
    stamp "$g"
    check "same commit: the header is not rewritten (nothing recompiles)" \
        '[ "$(stat -c %Y "$T/commit.h")" = 1000000000 ]'
    echo b > "$g/f"
    stamp "$g"
    check "a modified checkout: -dirty" 'grep -qx "#define PRONTO_GIT_COMMIT \"$h-dirty\"" "$T/commit.h"'
fi
finish
