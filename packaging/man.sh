#!/bin/sh
# packaging/man.sh PRONTO OUTDIR VERSION: writes OUTDIR/pronto.1 and
# OUTDIR/pronto-COMMAND.1 for every command of `PRONTO completion list`
# (the command table), made by help2man from the commands' own --help, so a
# page cannot say other than the binary. Run by the build (CMakeLists.txt,
# target man) after `pronto` is linked.
#
# help2man reads GNU-style help; pronto's differs in two ways, which the
# filter below lays out again without changing a word: "usage:" is spelled
# "Usage:" with continuation lines joined and alternatives as "or:", and a
# flag's metavar (the first, upper-case word of its help, flags.h) moves next
# to the flag ("--threads N  learner threads"). A command with subcommands
# (log, registry, monitor) gets one section per subcommand: its usage line
# and the lines of its --help that the command's own --help does not have.
set -eu
P=$1 OUT=$2 VERSION=$3
command -v help2man >/dev/null || { echo "man.sh: help2man is missing (scripts/bootstrap)" >&2; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT"/pronto.1 "$OUT"/pronto-*.1
W=$(mktemp -d "${TMPDIR:-/tmp}/pronto-man-XXXXXX")
trap 'rm -rf "$W"' EXIT
# Dates in the pages: the source's last commit, else fixed (reproducible).
: "${SOURCE_DATE_EPOCH:=$(git -C "$(dirname "$0")/.." log -1 --format=%ct 2>/dev/null || echo 1704067200)}"
export SOURCE_DATE_EPOCH

# filter PROG: stdin, one command's --help -> help2man's layout.
cat > "$W/filter.awk" <<'AWK'
# -v prog="pronto CMD"; -v subsec=1: a subcommand's section (usage as text).
BEGIN { syn = 0; opts = 0 }
NR == 1 && /^usage: / {
    if (subsec) { print "  " substr($0, 8); print ""; prev = ""; next }
    line = "Usage: " substr($0, 8); syn = 1; next
}
syn && /^       \[/ { sub(/^ +/, ""); line = line " " $0; next }
syn && /^       [^ ]/ { print line; sub(/^ +/, ""); line = "   or: " prog " " $0; next }
syn { print line; syn = 0 }
# pronto(1): the command list, name and summary at least two spaces apart
prog == "pronto" && /^  [a-z][a-z0-9-]* +[^ ]/ {
    match($0, /^  [a-z][a-z0-9-]* +/)
    name = substr($0, 3, RLENGTH - 2); sub(/ +$/, "", name)
    $0 = sprintf("  %-14s %s", name, substr($0, RLENGTH + 1))
}
/^  (-[a-zA-Z], |    )--[a-z0-9-]+ / {
    if (!opts && !subsec && prev == "") print "Options:"
    opts = 1
    if (match($0, /^  (-[a-zA-Z], |    )--[a-z0-9-]+ +/)) {
        head = substr($0, 1, RLENGTH); rest = substr($0, RLENGTH + 1)
        sub(/ +$/, "", head)
        if (match(rest, /^[A-Z][][A-Z0-9_:.,|=-]* +/)) {
            meta = substr(rest, 1, RLENGTH); sub(/ +$/, "", meta)
            head = head " " meta; rest = substr(rest, RLENGTH + 1)
        }
        $0 = sprintf("%-28s %s", head, rest)
    }
}
{ print; prev = $0 }
END { if (syn) print line }
AWK

# The page of one command: a wrapper named pronto-CMD prints its help.
page() {
    name=$1 summary=$2
    cmd=${name#pronto-}
    {
        echo '#!/bin/bash'
        echo 'set -euo pipefail'
        echo '[ "$1" = --help ] || exit 1'
        if [ "$name" = pronto ]; then
            echo "\"$P\" --help | awk -v prog=pronto -f \"$W/filter.awk\""
        else
            echo "\"$P\" $cmd --help | awk -v prog=\"pronto $cmd\" -f \"$W/filter.awk\""
        fi
    } > "$W/$name"
    subs=$("$P" completion list | awk -F'\t' -v c="$cmd" '$1 ~ "^" c " " {print substr($1, length(c) + 2)}')
    for s in $subs; do
        cat >> "$W/$name" <<SH
echo; echo "Subcommand $cmd $s:"
"$P" $cmd --help > "$W/parent"
"$P" $cmd $s --help | grep -vxF -f "$W/parent" |
    awk 'BEGIN { b = 1 } /^\$/ { if (b) next; b = 1; print; next } { b = 0; print }' |
    awk -v prog="pronto $cmd $s" -v subsec=1 -f "$W/filter.awk"
SH
    done
    chmod +x "$W/$name"
    {
        echo "[SEE ALSO]"
        if [ "$name" = pronto ]; then
            "$P" completion list | awk -F'\t' '$2 != "" { printf ".BR pronto-%s (1),\n", $1 }' | sed '$ s/,$//'
        else
            echo ".BR pronto (1)"
        fi
        echo ".PP"
        echo "The documentation in /usr/share/doc/pronto (docs/*.md in the source)."
    } > "$W/$name.h2m"
    help2man --no-info --version-string="$VERSION" \
        --section=1 --manual="pronto manual" --source="pronto $VERSION" \
        --name="$(printf '%s' "$summary" | sed 's/-/\\-/g')" --include="$W/$name.h2m" --output="$W/$name.1" "$W/$name"
    mv "$W/$name.1" "$OUT/$name.1"
}

page pronto "real-time click prediction: train, serve, monitor"
"$P" completion list | awk -F'\t' '$2 != ""' > "$W/commands"
while IFS='	' read -r cmd summary; do
    page "pronto-$cmd" "$summary"
done < "$W/commands"
