#!/usr/bin/env bash
# `make run`: the whole system on this machine.
# Without DATABASE_URL a private PostgreSQL cluster is started under .dev/pg (kept between runs).
# A local signing key is created in .dev/ on first use; tokens for it come from
# `cargo run -p fallwerk-cli -- dev-token --role <role>`. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=${PROFILE:-dev}
target_dir=target/debug
[ "$profile" = "release" ] && target_dir=target/release
cargo build --profile "$profile" --locked -p fallwerk-intake -p fallwerk-cli

started_pg=""
if [ -z "${DATABASE_URL:-}" ]; then
    port=${PG_PORT:-54329}
    deploy/local/postgres.sh start .dev/pg "$port"
    started_pg=yes
    export DATABASE_URL="postgres://fallwerk@127.0.0.1:$port/fallwerk"
fi

"$target_dir/fallwerk" dev-key --dir .dev >/dev/null
# The token services present to each other's event feeds (FEED_TOKEN_FILE), as a mounted
# Secret would hold it; re-minted every run.
"$target_dir/fallwerk" dev-token --dir .dev --role service --subject fallwerk-services --ttl-minutes 10080 \
    > .dev/service-token
export JWKS_FILE=${JWKS_FILE:-.dev/jwks.json}
export RUST_LOG_FORMAT=${RUST_LOG_FORMAT:-text}

pids=()
stop_all() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -n "$started_pg" ] && deploy/local/postgres.sh stop .dev/pg
    echo "fallwerk stopped."
}
trap stop_all INT TERM EXIT

"$target_dir/intake" migrate
GRPC_LISTEN=127.0.0.1:50051 METRICS_LISTEN=127.0.0.1:9101 "$target_dir/intake" serve &
pids+=($!)

cat <<TXT

fallwerk is running:
  intake     gRPC 127.0.0.1:50051   metrics http://127.0.0.1:9101/metrics
  database   $DATABASE_URL

Call it with the CLI (tokens are signed with the dev key in .dev/):
  export FALLWERK_TOKEN=\$($target_dir/fallwerk dev-token --role admin)
  $target_dir/fallwerk team create "Aktivierung Nord"
  $target_dir/fallwerk team list
Or with any gRPC client: reflection and grpc.health.v1 are on, send
  authorization: Bearer <token>

Ctrl-C stops everything.
TXT
wait "${pids[@]}"
