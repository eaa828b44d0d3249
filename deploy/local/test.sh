#!/usr/bin/env bash
# `make test`: every test of the workspace against a real PostgreSQL.
# Without FALLWERK_TEST_DATABASE_URL a throwaway cluster is started under .dev/ and stopped
# afterwards; each test creates its own database in it.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${FALLWERK_TEST_DATABASE_URL:-}" ]; then
    port=${PG_TEST_PORT:-54339}
    deploy/local/postgres.sh start .dev/pg-test "$port" --ephemeral
    trap 'deploy/local/postgres.sh stop .dev/pg-test' EXIT
    export FALLWERK_TEST_DATABASE_URL="postgres://fallwerk@127.0.0.1:$port/postgres"
fi
# The TLS tests make their certificates with the openssl command.
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
# The query macros read the committed .sqlx/ cache, whatever DATABASE_URL says. The binaries
# first: the chaos test kills real service processes, consistency.py starts them.
SQLX_OFFLINE=true cargo build --workspace --locked --bins -q
SQLX_OFFLINE=true cargo test --workspace --locked "$@"

# With no filter given, every test: also the manifests against the binaries, each container of
# each overlay started with its rendered environment (deploy/k8s/consistency.py).
if [ $# -eq 0 ]; then
    python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q 'PyYAML>=6'
    python3 deploy/k8s/consistency.py
fi
