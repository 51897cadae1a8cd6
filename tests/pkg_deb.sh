#!/bin/bash
# pkg_deb.sh: the Debian package (scripts/package), installed into this
# machine as CI's throwaway one allows (root; release builds only, see
# CMakeLists.txt): its contents and metadata (root-owned, Depends from
# dpkg-shlibdeps, the conffile, gzip -9n man pages), then dpkg -i and the
# installed tree: /usr/bin/pronto --version, man -w, the completion file
# sourced in bash, the headers compiled, a program linked to the installed
# libpronto.so through pkg-config (found by ldconfig) and the CMake package
# by find_package, both in /usr/lib/<multiarch>, the Python package
# imported by Debian's python3 (when python3-numpy is there), the system user and its state
# folder, `systemd-analyze verify` of the unit (works without systemd
# running: it loads the unit and checks its commands and man pages) and its
# offline security review; then dpkg -r (the conffile stays) and purge
# (nothing stays but the system user). Skips (77) without root, or when a
# pronto package is already installed here (it is not replaced).
source "$(dirname "$0")/lib_cli.sh"
B=${PRONTO_BUILD:?}
S=${PRONTO_SRC:?}
if [ "$(id -u)" != 0 ]; then echo "skipped: dpkg -i needs root"; exit 77; fi
# one package test at a time on this machine (other worktrees' suites)
exec 9> /tmp/pronto-pkg-deb.lock
flock 9
if dpkg-query -W -f='${Status}' pronto 2>/dev/null | grep -q "installed"; then
    echo "skipped: a pronto package is already installed on this machine; not replacing it"
    exit 77
fi
installed=0
trap 'if [ $installed = 1 ]; then dpkg -P pronto >/dev/null 2>&1; fi; rm -rf "$T"' EXIT

deb=$("$S/scripts/package" "$B" 2> "$T/err")
check "scripts/package builds $(basename "${deb:-none}")" '[ -n "$deb" ] && [ -f "$deb" ] && [ ! -s "$T/err" ]'
[ -f "${deb:-}" ] || { cat "$T/err"; finish; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$B/CMakeCache.txt")
check "named pronto_${version}_$(dpkg --print-architecture).deb" \
    '[ "$(basename "$deb")" = "pronto_${version}_$(dpkg --print-architecture).deb" ]'

abi=$(sed -n 's/^#define PR_ABI_VERSION //p' "$B/generated/include/pronto/version.h")
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)   # x86_64-linux-gnu
dpkg-deb -c "$deb" > "$T/contents"
check "every file root:root" '! awk "{print \$2}" "$T/contents" | grep -vqx root/root'
for f in ./usr/bin/pronto ./usr/include/pronto/model.h ./usr/include/pronto/version.h \
         ./usr/share/man/man1/pronto.1.gz ./usr/share/man/man1/pronto-train.1.gz \
         ./usr/share/man/man1/pronto-serve.1.gz \
         ./usr/share/bash-completion/completions/pronto ./usr/share/doc/pronto/copyright \
         ./usr/share/doc/pronto/changelog.gz ./usr/share/doc/pronto/operations.md \
         ./usr/share/pronto/specs/criteo.yaml ./lib/systemd/system/pronto.service \
         ./etc/default/pronto ./usr/lib/$ma/libpronto.so.$abi ./usr/lib/$ma/libpronto.so \
         ./usr/lib/$ma/pkgconfig/pronto.pc ./usr/lib/$ma/cmake/pronto/prontoConfig.cmake \
         ./usr/lib/$ma/cmake/pronto/prontoTargets.cmake \
         ./usr/lib/python3/dist-packages/pronto/__init__.py; do
    grep -q " $f\( -> .*\)\?\$" "$T/contents" || missing="${missing:-} $f"
done
check "contents: binary, library, pkg-config and CMake files, Python package, headers, man pages, completion, docs, specs, unit, defaults${missing:+ (missing:$missing)}" \
    '[ -z "${missing:-}" ]'
check "no uncompressed man page" '! grep -q "/usr/share/man/.*\.1$" "$T/contents"'
check "the library, pronto.pc and the CMake files only under /usr/lib/$ma; only the Python package in /usr/lib/python3" \
    '! grep -E " \./usr/lib/[^/]+\$| \./usr/lib/(libpronto|pkgconfig|cmake)" "$T/contents" | grep -q . &&
     ! grep " \./usr/lib/python3/" "$T/contents" | grep -qv " \./usr/lib/python3/\(dist-packages/\(pronto/.*\)\?\)\?\$"'
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/lib/$ma/pkgconfig/pronto.pc" > "$T/pc"
check "pronto.pc: prefix /usr, libdir \${prefix}/lib/$ma" \
    'grep -qx "prefix=/usr" "$T/pc" && grep -qx "libdir=\${prefix}/lib/$ma" "$T/pc"'
dpkg-deb -f "$deb" Depends > "$T/depends"
check "Depends from dpkg-shlibdeps: libc6 (>= ...), the linked libraries, adduser" \
    'grep -q "libc6 (>= " "$T/depends" && grep -q "libzstd1" "$T/depends" &&
     grep -q "libmicrohttpd12" "$T/depends" && grep -q "libcurl4" "$T/depends" && grep -q "adduser" "$T/depends"'
dpkg-deb -e "$deb" "$T/ctl"
check "conffiles: /etc/default/pronto" '[ "$(cat "$T/ctl/conffiles")" = /etc/default/pronto ]'
check "shlibs: libpronto $abi pronto (>= $version); an ldconfig trigger" \
    '[ "$(cat "$T/ctl/shlibs")" = "libpronto $abi pronto (>= $version)" ] &&
     [ "$(cat "$T/ctl/triggers")" = "activate-noawait ldconfig" ]'
check "md5sums cover every file" \
    '[ "$(wc -l < "$T/ctl/md5sums")" = "$(grep -c "^-" "$T/contents")" ]'
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/man/man1/pronto-train.1.gz > "$T/m.gz"
check "man pages gzip -9n (no name, no time stamp)" \
    'gzip -t "$T/m.gz" && [ "$(od -An -tu4 -j4 -N4 "$T/m.gz" | tr -d " ")" = 0 ] &&
     [ $(( $(od -An -tu1 -j3 -N1 "$T/m.gz") & 8 )) = 0 ]'

dpkg -i "$deb" > "$T/install" 2>&1
rc=$?
installed=1
check "dpkg -i installs it" '[ $rc = 0 ] && dpkg-query -W -f="\${Status}" pronto | grep -q "install ok installed"'
[ $rc = 0 ] || cat "$T/install"
check "/usr/bin/pronto --version: pronto $version, the build's commit" \
    '[ "$(/usr/bin/pronto --version | head -1)" = "pronto $version" ] &&
     [ "$(/usr/bin/pronto --version | grep ^commit)" = "$("$P" --version | grep ^commit)" ]'
if grep -rqs '^path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/; then
    # a slim image: dpkg drops every package's man pages on install
    echo "note: this machine's dpkg excludes /usr/share/man (/etc/dpkg/dpkg.cfg.d): man -w not checked"
else
    check "man -w pronto-train: the installed page" \
        '[ "$(man -w pronto-train)" = /usr/share/man/man1/pronto-train.1.gz ]'
    check "man pronto-serve renders, with --monitors" \
        'MANPAGER=cat MANWIDTH=100 man pronto-serve 2>/dev/null | grep -q -- "--monitors"'
fi
check "installed completion: pronto tr<TAB> -> train, pronto serve --mon<TAB> -> --monitor --monitor-rows --monitors" \
    '[ "$(bash -c "source /usr/share/bash-completion/completions/pronto
                   COMP_WORDS=(pronto tr); COMP_CWORD=1; _pronto; echo \${COMPREPLY[*]}
                   COMP_WORDS=(pronto serve --mon); COMP_CWORD=2; _pronto; echo \${COMPREPLY[*]}")" = "train
--monitor --monitor-rows --monitors" ]'
printf '#include <pronto/version.h>\n#include <pronto/base.h>\nint main(void) { return PR_VERSION_NUMBER > 0 ? 0 : 1; }\n' > "$T/h.c"
check "installed headers compile (pronto/version.h, pronto/base.h)" \
    'cc -o "$T/h" "$T/h.c" && "$T/h"'
printf '#include <stdio.h>\n#include <pronto/base.h>\nint main(void) { puts(pr_status_str(PR_ERR_PARSE)); return 0; }\n' > "$T/l.c"
cc -o "$T/l" "$T/l.c" $(pkg-config --cflags --libs pronto) > "$T/l.log" 2>&1
check "a program built with pkg-config --cflags --libs pronto runs on the installed libpronto.so.$abi" \
    '[ "$("$T/l")" = "malformed input" ] &&
     ldd "$T/l" | grep -q "libpronto.so.$abi => \(/usr\)\?/lib/$ma/libpronto.so.$abi" &&
     ldconfig -p | grep -q "libpronto.so.$abi "'
[ -x "$T/l" ] || cat "$T/l.log"
mkdir -p "$T/proj"
printf 'cmake_minimum_required(VERSION 3.18)\nproject(p C)\nfind_package(pronto REQUIRED)\nmessage(STATUS "pronto_DIR=${pronto_DIR}")\n' > "$T/proj/CMakeLists.txt"
cmake -S "$T/proj" -B "$T/proj/b" > "$T/proj.log" 2>&1
check "find_package(pronto) finds the installed package in /usr/lib/$ma/cmake/pronto" \
    'grep -qx -- "-- pronto_DIR=/usr/lib/$ma/cmake/pronto" "$T/proj.log"'
if /usr/bin/python3 -c 'import numpy' 2> /dev/null; then
    check "Debian's python3 imports pronto from dist-packages, on the installed library" \
        '[ "$(cd / && /usr/bin/python3 -c "import pronto; print(pronto.__file__); print(pronto.library_path())")" = "/usr/lib/python3/dist-packages/pronto/__init__.py
/usr/lib/$ma/libpronto.so.$abi" ]'
fi
check "system user pronto (system uid, no login), /var/lib/pronto its own, 0750" \
    'u=$(getent passwd pronto) && [ "$(echo "$u" | cut -d: -f3)" -lt 1000 ] &&
     echo "$u" | cut -d: -f7 | grep -q nologin &&
     [ "$(stat -c "%U:%G %a" /var/lib/pronto)" = "pronto:pronto 750" ]'
systemd-analyze verify /lib/systemd/system/pronto.service > "$T/verify" 2>&1
rc=$?
check "systemd-analyze verify pronto.service: clean" '[ $rc = 0 ] && [ ! -s "$T/verify" ]'
[ -s "$T/verify" ] && cat "$T/verify"
systemd-analyze security --offline=yes /lib/systemd/system/pronto.service > "$T/sec" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for pronto.service: \([0-9.]*\).*/\1/p' "$T/sec")
echo "systemd-analyze security --offline: exposure ${exposure:-?}"
check "systemd-analyze security (offline): exposure below 2.0 (${exposure:-?})" \
    'awk -v e="${exposure:-10}" "BEGIN { exit !(e < 2.0) }"'
check "the unit runs pronto serve as pronto with /etc/default/pronto's arguments" \
    'grep -qx "User=pronto" /lib/systemd/system/pronto.service &&
     grep -qx "EnvironmentFile=-/etc/default/pronto" /lib/systemd/system/pronto.service &&
     grep -qx "ExecStart=/usr/bin/pronto serve \$PRONTO_SERVE_ARGS" /lib/systemd/system/pronto.service &&
     . /etc/default/pronto && [ -n "$PRONTO_SERVE_ARGS" ]'

dpkg -r pronto > "$T/remove" 2>&1
check "dpkg -r: binary, man pages, completion, unit gone; the conffile stays" \
    '[ ! -e /usr/bin/pronto ] && [ ! -e /usr/share/man/man1/pronto-train.1.gz ] &&
     [ ! -e /usr/share/bash-completion/completions/pronto ] &&
     [ ! -e /lib/systemd/system/pronto.service ] && [ ! -e /usr/include/pronto ] &&
     [ ! -e /usr/lib/$ma/libpronto.so.$abi ] && [ ! -e /usr/lib/$ma/pkgconfig/pronto.pc ] &&
     [ ! -e /usr/lib/$ma/cmake/pronto ] && [ ! -e /usr/lib/python3/dist-packages/pronto ] &&
     [ -f /etc/default/pronto ] && dpkg-query -W -f="\${Status}" pronto | grep -q "config-files"'
dpkg -P pronto > "$T/purge" 2>&1
installed=0
check "dpkg -P: the conffile and /var/lib/pronto gone, the package unknown to dpkg" \
    '[ ! -e /etc/default/pronto ] && [ ! -e /var/lib/pronto ] &&
     ! dpkg-query -W -f="\${Status}" pronto 2>/dev/null | grep -q "installed\|config-files"'
finish
