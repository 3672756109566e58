#!/usr/bin/env bash
# Builds and installs the Python package into a venv under target/ (reused
# when present), runs its pytest suite, then type-checks the package with
# `mypy --strict` (it ships py.typed). pytest's exit code 5 (no tests
# collected) is a failure like any other non-zero code; so is any mypy error.
#   PYTHON=python3.9 python/run-tests.sh [pytest args...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
venv="${L3L2Q_PY_VENV:-${CARGO_TARGET_DIR:-$root/target}/python-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
fi
"$venv/bin/python" -m pip install -q "$here" pytest numpy mypy types-cffi

# Run from the test directory so the source tree's l3l2q/ (without the
# build products) cannot shadow the installed package.
cd "$here/tests"
set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "python/run-tests.sh: pytest collected no tests" >&2
fi

# The source tree is checked (the installed copy adds only the generated
# _cdef.py); the cache lives in the venv so reruns are quick.
cd "$here"
if ! "$venv/bin/python" -m mypy --strict --cache-dir "$venv/mypy-cache" l3l2q; then
    echo "python/run-tests.sh: mypy --strict failed" >&2
    [ "$status" -ne 0 ] || status=1
fi
exit "$status"
