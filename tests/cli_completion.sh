#!/bin/bash
# cli_completion.sh: `pronto completion bash` (src/cli/completion.c). The
# script is sourced in bash and asked as bash asks at <TAB> (COMP_WORDS,
# COMP_CWORD -> COMPREPLY): commands, subcommands, each one's flags. Every
# flag that a command's --help shows is offered, and nothing else (the
# words come from the flag tables themselves, and simulate's from its
# hand-written help). Also `pronto completion list` and bad usage.
source "$(dirname "$0")/lib_cli.sh"

"$P" completion bash > "$T/pronto.bash" 2> "$T/err"
check "completion bash exits 0, quiet" '[ $? -eq 0 ] && [ ! -s "$T/err" ]'
check "the script is valid bash" 'bash -n "$T/pronto.bash"'

# ask NAME WORD...: the reply of a <TAB> after the last word (the word being
# completed; "" for a fresh word), sorted and space-separated.
ask() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _pronto
             printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"' \
        _ "$T/pronto.bash" "$@"
}
check "complete -F _pronto pronto is registered" \
    'bash -c "source $T/pronto.bash; complete -p pronto" | grep -q -- "-F _pronto"'
check "pronto tr<TAB> -> train" '[ "$(ask pronto tr)" = "train" ]'
check "pronto serve --mon<TAB> -> --monitor --monitor-rows --monitors" \
    '[ "$(ask pronto serve --mon)" = "--monitor --monitor-rows --monitors" ]'
check "pronto <TAB> lists every command of pronto help" \
    '[ "$(ask pronto "")" = "$( { "$P" help | awk "/^commands:/{f=1;next} f&&/^  [a-z]/{print \$1} f&&/^\$/{exit}"; echo --help; echo --version; } | sort | tr "\n" " " | sed "s/ \$//")" ]'
check "pronto log ta<TAB> -> tail" '[ "$(ask pronto log ta)" = "tail" ]'
check "pronto log tail --f<TAB> -> --follow" '[ "$(ask pronto log tail --f)" = "--follow" ]'
check "pronto registry promote --re<TAB> -> --reason" \
    '[ "$(ask pronto registry promote --re)" = "--reason" ]'
check "pronto monitor re<TAB> -> report" '[ "$(ask pronto monitor re)" = "report" ]'
check "pronto simulate --click-delay-<TAB> (hand-written help) -> median sigma" \
    '[ "$(ask pronto simulate --click-delay-)" = "--click-delay-median --click-delay-sigma" ]'
check "pronto --version --j<TAB> -> --json" '[ "$(ask pronto --version --j)" = "--json" ]'
check "a file name position offers no flags (bash completes file names)" \
    '[ -z "$(ask pronto train mo)" ]'
check "flags after positional arguments: pronto predict m.pm --sk<TAB>" \
    '[ "$(ask pronto predict m.pm --sk)" = "--skip-bad" ]'

# Every command's completion equals the flags its --help table shows: the
# left column of each option line (aliases and names), plus --help.
help_flags() {
    "$P" "$@" --help | sed -nE 's/^  (-[a-zA-Z]), (--[a-z0-9-]+) .*/\1 \2/p; s/^      (--[a-z0-9-]+)( .*)?$/\1/p' \
        | tr ' ' '\n' | grep . | sort -u | tr '\n' ' ' | sed 's/ $//'
}
bad=""
for c in train serve build-dataset join learn retrain "log cat" "registry gc" "monitor report"; do
    # shellcheck disable=SC2086
    want=$(help_flags $c)
    # shellcheck disable=SC2086
    got=$(ask pronto $c - | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//')
    [ "$want" = "$got" ] || bad="$bad [$c: help '$want' vs completion '$got']"
done
check "completion = --help's flags (train serve build-dataset join learn retrain log cat registry gc monitor report)$bad" '[ -z "$bad" ]'

"$P" completion list > "$T/list"
check "completion list: every command with its summary" \
    'grep -q "^train	train a model" "$T/list" && grep -q "^log stat	" "$T/list" && [ "$(grep -c "^registry " "$T/list")" -eq 11 ]'
"$P" completion zsh 2> "$T/err"
check "completion zsh: usage error, exit 2" '[ $? -eq 2 ] && grep -q "usage: pronto completion bash|list" "$T/err"'
"$P" completion bash extra 2>/dev/null
check "completion bash extra: exit 2" '[ $? -eq 2 ]'
finish
