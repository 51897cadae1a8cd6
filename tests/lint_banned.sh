#!/bin/bash
# lint_banned.sh: C functions pronto does not use (unbounded or unchecked:
# strcpy, strcat, sprintf, vsprintf, gets, atoi, atol, atoll, strtok).
# Use snprintf, memcpy with a known length, strtol/strtod with end checks,
# strtok_r. Fails listing every use.
set -u
cd "${PRONTO_SRC:?}"
hits=$(grep -rnE '(^|[^_a-zA-Z0-9])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok)[[:space:]]*\(' \
    --include='*.c' --include='*.h' src include tests bench)
if [ -n "$hits" ]; then
    echo "banned functions used:"
    echo "$hits"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "1 passed, 0 failed"
