#!/bin/bash
# man_pages.sh: the man pages the build made (packaging/man.sh, help2man
# over each command's --help): pronto(1) and one pronto-COMMAND(1) for every
# command `pronto help` lists, nothing else; each renders with groff and
# man-db without a warning; each names its command with the summary of
# `pronto help` and shows every flag of the command's --help (subcommands'
# included), so a page cannot fall behind the binary.
source "$(dirname "$0")/lib_cli.sh"
M=${PRONTO_BUILD:?}/man/man1

cmds=$("$P" help | awk '/^commands:/{f=1;next} f&&/^  [a-z]/{print $1} f&&/^$/{exit}')
check "pronto help lists commands" '[ "$(echo "$cmds" | wc -l)" -ge 10 ]'
check "pronto.1 exists" '[ -s "$M/pronto.1" ]'
missing=""
for c in $cmds; do [ -s "$M/pronto-$c.1" ] || missing="$missing $c"; done
check "a page for every command of pronto help${missing:+ (missing:$missing)}" '[ -z "$missing" ]'
extra=""
for f in "$M"/pronto-*.1; do
    c=$(basename "$f" .1); c=${c#pronto-}
    echo "$cmds" | grep -qx -- "$c" || extra="$extra $c"
done
check "no page without a command${extra:+ (extra:$extra)}" '[ -z "$extra" ]'

# groff -ww: every warning (man -l runs the same groff, 0.5 s a page, so
# it is asked for one page only)
warn=""
for f in "$M"/*.1; do
    groff -man -Tutf8 -ww -z "$f" > "$T/g" 2>&1
    [ -s "$T/g" ] && warn="$warn $(basename "$f"): $(head -3 "$T/g" | tr '\n' ' ')"
done
check "every page renders without warnings (groff -man -Tutf8 -ww)${warn:+:$warn}" '[ -z "$warn" ]'
LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$M/pronto-serve.1" > "$T/out" 2> "$T/m"
check "man --warnings -l pronto-serve.1: rendered, no warning" \
    '[ $? -eq 0 ] && [ ! -s "$T/m" ] && grep -q "^NAME" "$T/out" && grep -q -- "--monitors" "$T/out"'

# the flags of a command's --help (left column: aliases and names), one a line
help_flags() {
    "$P" "$@" --help | sed -nE 's/^  (-[a-zA-Z]), (--[a-z0-9-]+)( .*)?$/\1\n\2/p; s/^ +(--[a-z0-9-]+)( .*)?$/\1/p' | sort -u
}
"$P" help > "$T/help"
"$P" completion list > "$T/list"
bad=""
for c in $cmds; do
    summary=$(sed -nE "s/^  $c +//p" "$T/help")
    grep -qxF "pronto-$c \\- $(echo "$summary" | sed 's/-/\\-/g')" "$M/pronto-$c.1" || bad="$bad [$c: NAME]"
    subs=$(awk -F'\t' -v c="$c" '$1 ~ "^" c " " {print substr($1, length(c) + 2)}' "$T/list")
    : > "$T/flags"
    for s in "" $subs; do
        # shellcheck disable=SC2086
        help_flags $c $s >> "$T/flags"
    done
    # each flag as roff writes it (\-\-name), looked for in the page
    miss=$(awk 'NR == FNR { page = page $0 "\n"; next }
                { f = $0; gsub(/-/, "\\-", f); if (!index(page, f)) printf " %s", $0 }' \
           "$M/pronto-$c.1" "$T/flags")
    [ -z "$miss" ] || bad="$bad [$c:$miss]"
done
check "every page: NAME with pronto help's summary, every flag of --help${bad:+:$bad}" '[ -z "$bad" ]'
check "pronto-serve(1) has --monitors; pronto-log(1) has log tail's --follow" \
    'grep -qF -- "\-\-monitors" "$M/pronto-serve.1" && grep -q "Subcommand log tail" "$M/pronto-log.1" && grep -qF -- "\-\-follow" "$M/pronto-log.1"'
check "pronto(1) refers to every command page" \
    '(for c in $cmds; do grep -qx ".BR pronto-$c (1),\?" "$M/pronto.1" || exit 1; done)'
finish
