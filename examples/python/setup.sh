#!/usr/bin/env bash
# Makes the Python environment the partner agency example runs in (.dev/py, from PyPI, pinned
# in requirements.txt) unless it is there for these requirements already, and prints its
# python. The test that runs the example calls it; so can you.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.dev/py
stamp="$venv/requirements.txt"
# Tests run in parallel and more than one of them calls this: one makes the environment, the
# others wait for it.
mkdir -p .dev
exec 9>.dev/py.lock
flock 9
if ! cmp -s examples/python/requirements.txt "$stamp" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2 || {
        apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2 && python3 -m venv "$venv" >&2
    }
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r examples/python/requirements.txt >&2
    cp examples/python/requirements.txt "$stamp"
fi
echo "$PWD/$venv/bin/python"
