#!/usr/bin/env bash
# `make sqlx-prepare` / `make sqlx-check`: the offline cache of sqlx's query macros in .sqlx/.
#
#   sqlx-prepare.sh           rewrite .sqlx/ from the migrated schema
#   sqlx-prepare.sh --check   fail if .sqlx/ is stale or incomplete (CI)
#
# The query macros check every static statement against a live database when DATABASE_URL is
# set, and write what they learned to SQLX_OFFLINE_DIR; without DATABASE_URL they read the
# committed .sqlx/ instead, so a normal build needs no database. This script gives them a
# throwaway cluster with every service's schema applied straight from the migration files
# (no service binary, so a brand-new query never waits for a build that needs it), rebuilds
# the crates that use the macros, and compares or replaces the cache. No sqlx-cli needed.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:-prepare}
case "$mode" in
prepare | --check) ;;
*)
    echo "usage: sqlx-prepare.sh [--check]" >&2
    exit 2
    ;;
esac

port=${PG_SQLX_PORT:-54379}
database=fallwerk_sqlx

# The schema each service owns (its Migrator in services/<dir>/src/lib.rs). A service with
# migrations that is missing here is an error, not a guess.
schema_of() {
    case "$1" in
    intake) echo intake ;;
    case-plan) echo caseplan ;;
    partner) echo partner ;;
    *) return 1 ;;
    esac
}

find_psql() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/psql" ] && { echo "$d/psql"; return 0; }
    done
    command -v psql
}

work=$(mktemp -d)
cleanup() {
    deploy/local/postgres.sh stop .dev/pg-sqlx
    rm -rf "$work"
}
trap cleanup EXIT

deploy/local/postgres.sh start .dev/pg-sqlx "$port" --ephemeral
psql=$(find_psql)
sql() {
    "$psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U fallwerk "$@"
}
sql -d postgres -c "CREATE DATABASE $database"

shopt -s nullglob
for migrations in services/*/migrations; do
    service=$(basename "$(dirname "$migrations")")
    schema=$(schema_of "$service") || {
        echo "sqlx-prepare.sh: which schema does services/$service own? Add it to schema_of." >&2
        exit 1
    }
    sql -d "$database" -c "CREATE SCHEMA $schema"
    for file in crates/platform/migrations/*.sql; do
        sed "s/{schema}/$schema/g" "$file" | sql -d "$database" -f -
    done
    for file in "$migrations"/*.sql; do
        sql -d "$database" -f "$file"
    done
done
shopt -u nullglob

# Cargo does not see DATABASE_URL change, so a crate compiled from the cache would not be
# expanded again: touching the files with query macros makes every macro run against the
# database and write its entry.
members=$(cargo metadata --locked --no-deps --format-version 1 |
    grep -o '"manifest_path":"[^"]*"' | sed 's/^"manifest_path":"\(.*\)\/Cargo.toml"$/\1/')
# shellcheck disable=SC2086 # one directory per line, none with spaces
grep -rlE --include='*.rs' 'sqlx::query(_as|_scalar)?!' $members | xargs -r touch

mkdir "$work/sqlx"
echo "sqlx-prepare.sh: building against the migrated schema" >&2
DATABASE_URL="postgres://fallwerk@127.0.0.1:$port/$database" SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$work/sqlx" \
    cargo build --locked --workspace --all-targets

if [ "$mode" = "--check" ]; then
    if ! diff -r .sqlx "$work/sqlx" >"$work/diff" 2>&1; then
        cat "$work/diff" >&2
        echo "sqlx-check: .sqlx/ does not match the queries in the code; run make sqlx-prepare and commit .sqlx/" >&2
        exit 1
    fi
    echo "sqlx-check: .sqlx/ is current ($(ls "$work/sqlx" | wc -l) queries)"
else
    rm -rf .sqlx
    cp -r "$work/sqlx" .sqlx
    echo "sqlx-prepare: .sqlx/ written ($(ls .sqlx | wc -l) queries); commit it with the queries"
fi
