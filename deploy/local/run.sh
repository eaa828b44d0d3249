#!/usr/bin/env bash
# `make run`: the whole system on this machine.
# Without DATABASE_URL a private PostgreSQL cluster is started under .dev/pg (kept between runs).
# A local signing key is created in .dev/ on first use; tokens for it come from
# `cargo run -p fallwerk-cli -- dev-token --role <role>`. Ctrl-C, SIGTERM to the process group
# of `make run` (a supervisor's stop) and a service that exits all stop everything, the other
# services and the private cluster included (deploy/local/run-stops-test.sh checks the SIGTERM
# case).
set -euo pipefail
cd "$(dirname "$0")/../.."

pids=()
started_pg=""
stopping=""

# Stops the services, then the private cluster; runs once, however the script ends.
#
# PostgreSQL needs this explicitly: pg_ctl starts it in a session of its own, so a signal to
# the process group of `make run` never reaches it. And the stop must survive a second signal:
# make answers SIGTERM by sending its child (this script) another SIGTERM right after the
# group's, so while stopping INT and TERM are ignored (also by the commands started from here
# on, pg_ctl among them) instead of reset to their default, which would kill the script before
# it stops the cluster. Best effort from here on: no `set -e`.
stop_all() {
    [ -n "$stopping" ] && return 0
    stopping=yes
    trap '' INT TERM
    set +e
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    if [ -n "$started_pg" ]; then
        deploy/local/postgres.sh stop .dev/pg || echo "run.sh: could not stop the cluster under .dev/pg" >&2
    fi
    echo "fallwerk stopped."
}
on_exit() {
    local status=$?
    stop_all
    exit "$status"
}
# A second signal while stopping returns here without exiting, and the first stop goes on.
on_signal() {
    [ -n "$stopping" ] && return 0
    stop_all
    trap - EXIT
    exit "$1"
}
# Before anything is started, so that a signal during start-up stops what has started so far.
trap on_exit EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

profile=${PROFILE:-dev}
target_dir=target/debug
[ "$profile" = "release" ] && target_dir=target/release
# The query macros read the committed .sqlx/ cache; a DATABASE_URL meant for the services must
# not make them check against that database instead.
SQLX_OFFLINE=true cargo build --profile "$profile" --locked -p fallwerk-intake -p fallwerk-case-plan -p fallwerk-partner -p fallwerk-cli

if [ -z "${DATABASE_URL:-}" ]; then
    port=${PG_PORT:-54329}
    # Set first: a signal that interrupts the start must still stop what it got going.
    started_pg=yes
    deploy/local/postgres.sh start .dev/pg "$port"
    export DATABASE_URL="postgres://fallwerk@127.0.0.1:$port/fallwerk"
fi

"$target_dir/fallwerk" dev-key --dir .dev >/dev/null
# The service token that consuming services' feed subscribers (and partner's calls to
# case-plan) present to their upstreams, in a file as a mounted Secret would hold it: a
# subscriber reads the file on every connect (`TokenFile` in
# crates/platform/src/feed/subscriber.rs). Every service gets it below: case-plan follows
# intake's and partner's feeds, intake case-plan's, partner case-plan's (and calls its
# CaseSnapshotService for each referral). Re-minted every run.
"$target_dir/fallwerk" dev-token --dir .dev --role service --subject fallwerk-services --ttl-minutes 10080 \
    > .dev/service-token
export JWKS_FILE=${JWKS_FILE:-.dev/jwks.json}
export RUST_LOG_FORMAT=${RUST_LOG_FORMAT:-text}
export SERVICE_TOKEN_FILE=.dev/service-token
# This machine's loopback only: plaintext on purpose (each service warns at start).
export GRPC_PLAINTEXT=true

# The private cluster is set up as a production database is (deploy/k8s/README.md, "Database
# roles"): each service migrates as its schema's owner and serves as its runtime role, which
# may change its own tables' rows and nothing else. A cluster migrated by the superuser before
# the roles existed keeps that layout (delete .dev/pg to move to the roles); so does a
# DATABASE_URL of your own, which every service then uses for everything.
url_as() { echo "postgres://$1@127.0.0.1:$port/fallwerk"; }
layout=single
if [ -n "$started_pg" ]; then
    owner=$(psql -qtAX "$DATABASE_URL" -c "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'intake'")
    if [ -z "$owner" ] || [ "$owner" = fallwerk_intake_owner ]; then
        layout=roles
        psql -q -X -v ON_ERROR_STOP=1 "$DATABASE_URL" -f deploy/k8s/components/database-setup/roles.sql
    else
        echo "run.sh: .dev/pg was migrated before the database roles; it keeps one role for all (delete .dev/pg to use the roles)" >&2
    fi
fi
# `<service> <schema>`: migrates its schema, then prints the URL it serves with. Start order
# does not matter: a subscriber whose upstream is not up yet retries with backoff.
migrate() {
    if [ "$layout" = roles ]; then
        DATABASE_URL=$(url_as "fallwerk_$2_owner") DB_RUNTIME_ROLE="fallwerk_$2_runtime" \
            "$target_dir/$1" migrate >&2
        url_as "fallwerk_$2_runtime"
    else
        "$target_dir/$1" migrate >&2
        echo "$DATABASE_URL"
    fi
}
intake_url=$(migrate intake intake)
case_plan_url=$(migrate case-plan caseplan)
partner_url=$(migrate partner partner)
DATABASE_URL=$intake_url GRPC_LISTEN=127.0.0.1:50051 METRICS_LISTEN=127.0.0.1:9101 \
    UPSTREAMS=case-plan=http://127.0.0.1:50052 \
    "$target_dir/intake" serve &
pids+=($!)
DATABASE_URL=$case_plan_url GRPC_LISTEN=127.0.0.1:50052 METRICS_LISTEN=127.0.0.1:9102 \
    UPSTREAMS=intake=http://127.0.0.1:50051,partner=http://127.0.0.1:50053 \
    "$target_dir/case-plan" serve &
pids+=($!)
DATABASE_URL=$partner_url GRPC_LISTEN=127.0.0.1:50053 METRICS_LISTEN=127.0.0.1:9103 \
    UPSTREAMS=case-plan=http://127.0.0.1:50052,intake=http://127.0.0.1:50051 \
    "$target_dir/partner" serve &
pids+=($!)

cat <<TXT

fallwerk is running:
  intake     gRPC 127.0.0.1:50051   metrics http://127.0.0.1:9101/metrics
  case-plan  gRPC 127.0.0.1:50052   metrics http://127.0.0.1:9102/metrics
  partner    gRPC 127.0.0.1:50053   metrics http://127.0.0.1:9103/metrics
  database   $DATABASE_URL (the services as: $intake_url, $case_plan_url, $partner_url)

Call it with the CLI (tokens are signed with the dev key in .dev/):
  export FALLWERK_TOKEN=\$($target_dir/fallwerk dev-token --role admin)
  $target_dir/fallwerk team create "Aktivierung Nord"
  $target_dir/fallwerk team list
Or with any gRPC client: reflection and grpc.health.v1 are on, send
  authorization: Bearer <token>

Ctrl-C stops everything.
TXT
# `wait -n` returns as soon as one service exits (the EXIT trap then stops the others and the
# cluster) or a trapped signal arrives (the trap stops everything).
wait -n "${pids[@]}"
