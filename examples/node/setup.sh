#!/usr/bin/env bash
# Installs the Node.js example's packages (npm, pinned in package-lock.json) into
# examples/node/node_modules unless they are there for this lock file already; Node.js and npm
# from the distribution's packages when missing. The test that runs the example calls it.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null && command -v npm >/dev/null ||
    { apt-get update -qq >&2 && apt-get install -y -qq nodejs npm >&2; }
# Tests run in parallel: one installs, the others wait for it.
exec 9>.setup.lock
flock 9
if ! cmp -s package-lock.json node_modules/.fallwerk-lock 2>/dev/null; then
    npm ci --silent --no-audit --no-fund >&2
    cp package-lock.json node_modules/.fallwerk-lock
fi
command -v node
