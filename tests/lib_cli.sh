# lib_cli.sh: sourced by the tests/cli_*.sh tests. Sets P (the pronto
# binary) and T (a fresh temporary folder, removed at exit), and the check
# helpers: `check NAME 'shell condition'` counts a pass or a failure, and
# `finish` prints the "N passed, M failed" line ctest reads and exits 1 on
# any failure; `serve_port` waits for a `pronto serve` to say its port.
set -u
P=${PRONTO_BIN:?}
T=$(mktemp -d "/tmp/pronto-$(basename "$0" .sh)-XXXXXX")
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
fails=0; passes=0
ok()   { passes=$((passes+1)); echo "ok: $1"; }
fail() { fails=$((fails+1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok "$1"; else fail "$1"; fi; }
json_get() { grep -o "\"$2\": *[-0-9.e]*" "$1" | head -1 | sed 's/.*: *//'; }
# serve_port OUT [PID]: the port `pronto serve` printed to OUT ("listening
# on port N"), waiting up to 30 s for it; empty if it never came or PID
# (when given) exited first.
serve_port() {
    local port="" i
    for i in $(seq 1 600); do
        port=$(sed -n 's/^pronto serve: listening on port \([0-9]*\)$/\1/p' "$1")
        [ -n "$port" ] && break
        [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && break
        sleep 0.05
    done
    echo "$port"
}
finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" -eq 0 ]
    exit
}
