#!/bin/bash
# python/tests/run.sh: the Python package's pytest suite under ctest (test
# "python"), with Debian's interpreter (PRONTO_PYTHON) over the build's
# libpronto.so (PRONTO_LIBRARY) and pronto (PRONTO_BIN). Exits 77 (skipped)
# when numpy or pytest cannot be imported (scripts/bootstrap installs them).
set -u
py=${PRONTO_PYTHON:?}
here=$(cd "$(dirname "$0")" && pwd)
if ! "$py" -c 'import numpy, pytest' 2> /dev/null; then
    echo "skipped: $py cannot import numpy and pytest (scripts/bootstrap installs python3-numpy, python3-pytest)"
    exit 77
fi
cd "$here" || exit 1
export PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" -m pytest -q -p no:cacheprovider "$here"
