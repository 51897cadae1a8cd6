#!/bin/bash
# install_tree.sh: libpronto.so as an embedder meets it. `cmake --install`
# of the build into a temporary prefix, then: the library's SONAME
# (libpronto.so.<ABI>) and its exports (nm -D: only public pr_* names, no
# internal pr__*), pronto.pc, examples/score.c compiled against the
# installed tree with `pkg-config --cflags --libs pronto` and, separately,
# by a tiny CMake project with find_package(pronto) -> pronto::pronto; both
# run with LD_LIBRARY_PATH on generated rows and print what `pronto predict`
# prints for them. Release build: the installed Python package imports
# and scores too. In the sanitizer build (PRONTO_SANITIZE=1) the example
# is compiled with the sanitizers (the library needs their runtime first)
# and the Python check is skipped (the interpreter would need it preloaded).
source "$(dirname "$0")/lib_cli.sh"
B=${PRONTO_BUILD:?}
S=${PRONTO_SRC:?}
abi=$(sed -n 's/^#define PR_ABI_VERSION //p' "$B/generated/include/pronto/version.h")
san_flags=""
[ "${PRONTO_SANITIZE:-0}" = 1 ] && san_flags="-fsanitize=address,undefined"

I="$T/prefix"
cmake --install "$B" --prefix "$I" > "$T/install.log" 2>&1
rc=$?
check "cmake --install into a fresh prefix" '[ $rc = 0 ]'
[ $rc = 0 ] || { cat "$T/install.log"; finish; }
lib=$(find "$I" -name "libpronto.so.$abi" | head -1)
libdir=$(dirname "${lib:-/nonexistent/x}")
check "installed: libpronto.so.$abi, its libpronto.so link, pronto.pc, prontoConfig.cmake, headers" \
    '[ -n "$lib" ] && [ -L "$libdir/libpronto.so" ] && [ -f "$libdir/pkgconfig/pronto.pc" ] &&
     [ -f "$libdir/cmake/pronto/prontoConfig.cmake" ] && [ -f "$I/include/pronto/pronto.h" ] &&
     [ -f "$I/include/pronto/version.h" ]'
check "SONAME libpronto.so.$abi" \
    'readelf -d "$lib" | grep -q "SONAME.*\[libpronto\.so\.$abi\]"'
nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' > "$T/exports"
check "exports: $(wc -l < "$T/exports") symbols, all pr_*, none pr__*" \
    '[ -s "$T/exports" ] && ! grep -qv "^pr_" "$T/exports" && ! grep -q "^pr__" "$T/exports"'
check "exports the public API (pr_predictor_open, pr_predictor_score, pr_abi_version, pr_model_load, pr_status_str)" \
    'grep -qx pr_predictor_open "$T/exports" && grep -qx pr_predictor_score "$T/exports" &&
     grep -qx pr_abi_version "$T/exports" && grep -qx pr_model_load "$T/exports" &&
     grep -qx pr_status_str "$T/exports"'
check "no Open MPI in the shared library" '! readelf -d "$lib" | grep -q "NEEDED.*mpi"'
check "pronto stays statically linked" '! readelf -d "$P" | grep -q "NEEDED.*libpronto"'

# rows: a header naming the Criteo columns, then generated rows
awk -v rows=3000 -v seed=1 -f "$S/tests/gen_criteo.awk" > "$T/train.tsv"
awk -v rows=200 -v seed=2 -f "$S/tests/gen_criteo.awk" > "$T/test.tsv"
"$P" train --kind lr --threads 1 -q -o "$T/m.pm" "$T/train.tsv"
"$P" predict "$T/m.pm" "$T/test.tsv" > "$T/want.txt"
{ printf 'label'; for i in $(seq 1 13); do printf '\tI%d' "$i"; done
  for i in $(seq 1 26); do printf '\tC%d' "$i"; done; printf '\n'; cat "$T/test.tsv"; } > "$T/rows.tsv"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
check "pkg-config --modversion pronto" \
    '[ "$(pkg-config --modversion pronto)" = "$(sed -n "s/^CMAKE_PROJECT_VERSION:STATIC=//p" "$B/CMakeCache.txt")" ]'
flags=$(pkg-config --cflags --libs pronto)
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror $san_flags -o "$T/score_pc" "$S/examples/score.c" $flags 2> "$T/cc.err"
rc=$?
check "examples/score.c builds with pkg-config ($flags)" '[ $rc = 0 ]'
[ $rc = 0 ] || cat "$T/cc.err"
LD_LIBRARY_PATH="$libdir" "$T/score_pc" "$T/m.pm" "$T/rows.tsv" > "$T/got_pc.txt" 2> "$T/run.err"
check "pkg-config build: 200 rows scored as pronto predict scores them" \
    'cmp -s "$T/want.txt" "$T/got_pc.txt"'
check "it loaded the installed libpronto.so.$abi" \
    'LD_LIBRARY_PATH="$libdir" ldd "$T/score_pc" | grep -q "libpronto.so.$abi => $libdir/"'

mkdir -p "$T/proj"
cat > "$T/proj/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(score_example C)
find_package(pronto 0.1 REQUIRED)
add_executable(score $S/examples/score.c)
target_link_libraries(score PRIVATE pronto::pronto)
EOF
cmake -S "$T/proj" -B "$T/proj/build" -DCMAKE_PREFIX_PATH="$I" \
      -DCMAKE_C_FLAGS="$san_flags" > "$T/proj.log" 2>&1 &&
    cmake --build "$T/proj/build" >> "$T/proj.log" 2>&1
rc=$?
check "a CMake project with find_package(pronto) and pronto::pronto builds it" '[ $rc = 0 ]'
[ $rc = 0 ] || cat "$T/proj.log"
LD_LIBRARY_PATH="$libdir" "$T/proj/build/score" "$T/m.pm" < "$T/rows.tsv" > "$T/got_cm.txt"
check "find_package build: the same 200 predictions" 'cmp -s "$T/want.txt" "$T/got_cm.txt"'
LD_LIBRARY_PATH="$libdir" "$T/score_pc" "$T/nonexistent.pm" "$T/rows.tsv" > /dev/null 2> "$T/err.txt"
check "a missing model: exit 1, the library's message" \
    '[ $? = 1 ] && grep -q "nonexistent.pm" "$T/err.txt"'
awk -F'\t' 'NR == 5 { $4 = "abc" } 1' OFS='\t' "$T/rows.tsv" > "$T/bad.tsv"
LD_LIBRARY_PATH="$libdir" "$T/score_pc" "$T/m.pm" "$T/bad.tsv" > /dev/null 2> "$T/err.txt"
rc=$?
check "a bad number: exit 1, the line and the field named ($(cat "$T/err.txt"))" \
    '[ $rc = 1 ] && grep -q "line 5: .*I3.*abc" "$T/err.txt"'

if [ "${PRONTO_SANITIZE:-0}" != 1 ] && [ -n "${PRONTO_PYTHON:-}" ]; then
    pydir=$(find "$I" -type d -name pronto -path "*dist-packages*" | head -1)
    check "the Python package is installed under dist-packages" '[ -f "$pydir/__init__.py" ]'
    got=$(cd "$T" && PYTHONPATH="$(dirname "$pydir")" LD_LIBRARY_PATH="$libdir" PRONTO_LIBRARY= \
          "$PRONTO_PYTHON" -c 'import sys, pronto
m = pronto.Model.load(sys.argv[1])
print(pronto.library_path())
print("%.6f" % m.predict([dict(zip(m.columns, [""] * len(m.columns)))])[0])' "$T/m.pm" 2>&1)
    check "installed Python package loads the installed library and scores ($got)" \
        '[ "$(echo "$got" | head -1)" = "$(readlink -f "$lib")" ] || [ "$(echo "$got" | head -1)" = "$lib" ]'
fi
finish
