#!/usr/bin/env bash
# `make bench`: fallwerk beside the machine's own ceilings, in one run. Starts the three
# services as `make run` does (release build, a fresh durable PostgreSQL cluster), then on
# loopback, each for SECONDS (default 10) at CONCURRENCY (16) clients:
#   1. the gRPC ceiling: intake's own grpc.health.v1 Health/Check (no token, no database), and
#      ListTeams, the cheapest authenticated read, with the ratio;
#   2. the database ceiling: pgbench -M prepared running exactly RegisterVisit's statements
#      (applicant and team EXISTS checks, visit, outbox row, audit row, idempotency row) in
#      one transaction;
#   3. fallwerk's RegisterVisit (fallwerk-load --scenario register-visit), with the ratio to 2;
#   4. the whole arrival (fallwerk-load --scenario arrival, closed model), then the open model
#      at half its rate, with the case read in case-plan at OpenCase's feed position;
# and each service's resident memory idle and after the load. Prints a summary at the end.
# A cargo build or anything else running beside it cuts the figures severalfold.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${SECONDS_PER_RUN:-10}
concurrency=${CONCURRENCY:-16}
pg_port=54369
base=50071

command -v pgbench >/dev/null || ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 ||
    { echo "bench: pgbench missing (deploy/local/postgres.sh installs PostgreSQL)"; }
SQLX_OFFLINE=true cargo build --release --locked -q \
    -p fallwerk-intake -p fallwerk-case-plan -p fallwerk-partner -p fallwerk-cli -p fallwerk-load
deploy/local/postgres.sh start .dev/pg-bench "$pg_port" --fresh
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    deploy/local/postgres.sh stop .dev/pg-bench
    rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="postgres://fallwerk@127.0.0.1:$pg_port/fallwerk"
bin=target/release
"$bin/fallwerk" dev-key --dir "$work" >/dev/null
"$bin/fallwerk" dev-token --dir "$work" --role service --subject bench-services > "$work/service-token"
services=(intake case-plan partner)
declare -A port=([intake]=$base [case-plan]=$((base + 1)) [partner]=$((base + 2)))
upstreams="intake=http://127.0.0.1:${port[intake]},case-plan=http://127.0.0.1:${port[case-plan]},partner=http://127.0.0.1:${port[partner]}"
for svc in "${services[@]}"; do
    "$bin/$svc" migrate >/dev/null
    RUST_LOG=error GRPC_PLAINTEXT=true GRPC_LISTEN=127.0.0.1:${port[$svc]} METRICS_LISTEN=off \
        JWKS_FILE="$work/jwks.json" UPSTREAMS="$upstreams" SERVICE_TOKEN_FILE="$work/service-token" \
        "$bin/$svc" serve >"$work/$svc.log" 2>&1 &
    pids+=($!)
done
for svc in "${services[@]}"; do
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/${port[$svc]}") 2>/dev/null && break; sleep 0.1; done
done
sleep 1
rss() { # resident memory of each service, MB
    local i out=""
    for i in "${!services[@]}"; do
        out+="${services[$i]} $(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/${pids[$i]}/status") MB  "
    done
    echo "$out"
}
idle=$(rss)

load() { "$bin/fallwerk-load" --intake "http://127.0.0.1:${port[intake]}" --key-dir "$work" --quiet --json "$@"; }
figure() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

echo "== 1. gRPC ceiling: Health/Check, $concurrency clients, ${seconds}s"
load --scenario health --concurrency "$concurrency" --duration "${seconds}s" > "$work/health.json"
health=$(figure 'print(round(d["steps"][0]["per_second"]))' < "$work/health.json")
load --scenario list-teams --concurrency "$concurrency" --duration "${seconds}s" > "$work/teams.json"
teams=$(figure 'print(round(d["steps"][0]["per_second"]))' < "$work/teams.json")

echo "== 2. database ceiling: RegisterVisit's statements in pgbench -M prepared -c $concurrency"
admin=$("$bin/fallwerk" dev-token --dir "$work" --role admin)
addr="http://127.0.0.1:${port[intake]}"
team=$("$bin/fallwerk" --addr "$addr" --token "$admin" --json team create "Bench" |
    figure 'print(d["team"]["id"])')
desk=$("$bin/fallwerk" dev-token --dir "$work" --role front_desk --team "$team")
applicant=$("$bin/fallwerk" --addr "$addr" --token "$desk" --json applicant create \
    --given Lena --family Benchtest --birth 1985-06-15 | figure 'print(d["applicant"]["id"])')
cat > "$work/register_visit.sql" <<SQL
SELECT gen_random_uuid() AS rid \gset
BEGIN;
INSERT INTO intake.idempotency (subject, method, request_id, request_hash)
  VALUES ('bench-desk', 'RegisterVisit', :rid, '\x00') ON CONFLICT DO NOTHING;
SELECT EXISTS (SELECT 1 FROM intake.applicants WHERE id = '$applicant' AND erased_at IS NULL);
SELECT EXISTS (SELECT 1 FROM intake.teams WHERE id = '$team');
INSERT INTO intake.visits (id, applicant_id, team_id, arrived_at, arrival_day, concern, state, registered_by, kind)
  VALUES (gen_random_uuid(), '$applicant', '$team', now(), current_date, 'Miete und Strom nicht mehr bezahlbar', 'WAITING', 'bench-desk', 'walk_in');
INSERT INTO intake.outbox (event_id, event_type, aggregate_id, payload, occurred_at, traceparent)
  VALUES (gen_random_uuid(), 'fallwerk.intake.v1.VisitRegistered', '$applicant', '\x0a24', now(), '');
INSERT INTO intake.audit_log (subject, roles, action, resource_type, resource_id, trace_id)
  VALUES ('bench-desk', '{front_desk}', 'RegisterVisit', 'visit', '$applicant', '');
UPDATE intake.idempotency SET response = '\x00'
  WHERE subject = 'bench-desk' AND method = 'RegisterVisit' AND request_id = :rid;
COMMIT;
SQL
pgbin=$(dirname "$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n1)")
"$pgbin/pgbench" -n -M prepared -c "$concurrency" -j 2 -T "$seconds" -f "$work/register_visit.sql" \
    -h 127.0.0.1 -p "$pg_port" -U fallwerk fallwerk > "$work/pgbench.txt"
pg_tps=$(awk '/^tps/ {printf "%.0f", $3}' "$work/pgbench.txt")

echo "== 3. fallwerk RegisterVisit, $concurrency clients, ${seconds}s"
load --scenario register-visit --concurrency "$concurrency" --duration "${seconds}s" > "$work/visit.json"
visit=$(figure 'print(round(d["steps"][0]["per_second"]))' < "$work/visit.json")

echo "== 4. the arrival: closed model ($concurrency clients), then open at half its rate"
caseplan=(--case-plan "http://127.0.0.1:${port[case-plan]}")
load --scenario arrival "${caseplan[@]}" --concurrency "$concurrency" --duration "${seconds}s" > "$work/arrival.json"
arrivals=$(figure 'print(round(d["steps"][0]["per_second"]))' < "$work/arrival.json")
half=$(( arrivals / 2 > 0 ? arrivals / 2 : 1 ))
load --scenario arrival "${caseplan[@]}" --rate "$half" --concurrency 1000 --duration "${seconds}s" \
    --ramp-up 1s > "$work/open.json"
loaded=$(rss)

echo
echo "== summary (one run; ${seconds}s each; $concurrency clients; loopback; durable PostgreSQL)"
python3 - "$work" "$health" "$pg_tps" "$visit" "$arrivals" "$half" "$teams" <<'PY'
import json, sys
work, health, pg, visit, arrivals, half, teams = sys.argv[1], *map(int, sys.argv[2:])
print(f"gRPC ceiling, Health/Check:            {health:>7} calls/s")
print(f"ListTeams (authenticated read):        {teams:>7} calls/s  = {teams / max(health, 1):.2f} x Health/Check")
print(f"database ceiling, pgbench RegisterVisit: {pg:>5} tps")
print(f"fallwerk RegisterVisit:                {visit:>7} calls/s  = {visit / max(pg, 1):.2f} x the pgbench ceiling")
print(f"arrival, closed model:                 {arrivals:>7} arrivals/s (7 calls each)")
open_model = json.load(open(f"{work}/open.json"))
print(f"arrival, open model at {half}/s: p99 per step, ms (errors)")
for s in open_model["steps"]:
    errors = sum(s["errors"].values())
    print(f"  {s['step']:<36} {s['latency_ms']['p99']:>7.2f}   ({errors})")
PY
echo "memory idle:        $idle"
echo "memory after load:  $loaded"
