#!/usr/bin/env bash
# `make bench`: fallwerk beside the machine's own ceilings, in one run. Starts the three
# services as `make run` does (release build, a fresh durable PostgreSQL cluster), then on
# loopback, each for SECONDS_PER_RUN (default 10) at CONCURRENCY (16) clients:
#   1. the gRPC ceiling: grpc.health.v1 Health/Check (no token, no database) on intake and on
#      case-plan, and intake's ListTeams, the cheapest authenticated read, with the ratio;
#   2. the database ceiling: pgbench -M prepared running exactly RegisterVisit's statements
#      in one transaction: the visit (inserted if its applicant and team exist) and the
#      change's tail (event, audit record and answer in one statement, platform change.rs);
#   3. fallwerk's RegisterVisit (fallwerk-load --scenario register-visit), with the ratio to 2;
#   4. the reads: an advisor's (due items, caseload page, case, timeline) and a partner
#      system's (referral list, referral, progress report), with the ratio to the Health/Check
#      of the service that answers them; GetCase alone beside pgbench running a read's
#      statements as they would be without the audit writer's shared commits (the case's
#      select and its own committed audit insert);
#   5. the arrival (closed model), then the office's mix (the whole process, advisors' reads,
#      partner systems) closed and open at half its rate: p99 per RPC and the propagations;
# with each service's CPU per call (from /proc, user + system) where one service answers all
# calls of a run, and each service's resident memory idle and after the load. Prints a
# summary at the end; BENCH_OUT=<dir> keeps every report (JSON) and the mix's SVG plot.
# With PERF=<dir>, `perf record` samples the whole machine during step 3 and leaves `perf
# report` summaries in <dir> (machine.txt by binary, intake.txt by symbol).
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
# The load generator sends every desk call with one token, far more at once than a person
# would: the per-caller share (GRPC_MAX_IN_FLIGHT_PER_CALLER, 32) is lifted so it measures the
# service, not the share. The service-wide limits stay at their defaults.
for svc in "${services[@]}"; do
    "$bin/$svc" migrate >/dev/null
    GRPC_MAX_IN_FLIGHT_PER_CALLER=100000 RUST_LOG=error GRPC_PLAINTEXT=true GRPC_LISTEN=127.0.0.1:${port[$svc]} METRICS_LISTEN=off \
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
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk=$(getconf CLK_TCK)
# measured <name> <service> <load args...>: runs the load into $work/<name>.json and writes the
# service's CPU per call (µs, calls = every OK or failed call, propagations aside) beside it.
measured() {
    local name=$1 svc=$2 pid before after
    shift 2
    for i in "${!services[@]}"; do [[ ${services[$i]} == "$svc" ]] && pid=${pids[$i]}; done
    before=$(ticks "$pid")
    load "$@" > "$work/$name.json"
    after=$(ticks "$pid")
    figure "calls = sum(s['ok'] + sum(s['errors'].values()) for s in d['steps'] if '→' not in s['step'])
print(round(($after - $before) * 1e6 / $clk / max(calls, 1)))" < "$work/$name.json" > "$work/$name.cpu"
}
run=(--concurrency "$concurrency" --duration "${seconds}s")
cooperation=(--case-plan "http://127.0.0.1:${port[case-plan]}" --partner "http://127.0.0.1:${port[partner]}")

echo "== 1. gRPC ceiling: Health/Check, $concurrency clients, ${seconds}s"
measured health intake --scenario health "${run[@]}"
"$bin/fallwerk-load" --intake "http://127.0.0.1:${port[case-plan]}" --key-dir "$work" --quiet --json \
    --scenario health "${run[@]}" > "$work/health-case-plan.json"
measured teams intake --scenario list-teams "${run[@]}"

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
INSERT INTO intake.visits (id, applicant_id, team_id, arrived_at, arrival_day, concern, state, registered_by, kind)
  SELECT gen_random_uuid(), '$applicant', '$team', now(), current_date, 'Miete und Strom nicht mehr bezahlbar', 'WAITING', 'bench-desk', 'walk_in'
  WHERE EXISTS (SELECT 1 FROM intake.applicants WHERE id = '$applicant' AND erased_at IS NULL)
    AND EXISTS (SELECT 1 FROM intake.teams WHERE id = '$team');
WITH events AS (
    INSERT INTO intake.outbox (event_id, event_type, aggregate_id, payload, occurred_at, traceparent)
    SELECT * FROM unnest(ARRAY[gen_random_uuid()], ARRAY['fallwerk.intake.v1.VisitRegistered'], ARRAY['$applicant'::uuid],
                         ARRAY['\x0a24'::bytea], ARRAY[now()], ARRAY[''])
), audit AS (
    INSERT INTO intake.audit_log (subject, roles, action, resource_type, resource_id, trace_id)
    SELECT subject, string_to_array(roles, ','), action, resource_type, resource_id, trace_id
    FROM unnest(ARRAY['bench-desk'], ARRAY['front_desk'], ARRAY['RegisterVisit'], ARRAY['visit'], ARRAY['$applicant'], ARRAY[''])
         AS a(subject, roles, action, resource_type, resource_id, trace_id)
)
INSERT INTO intake.idempotency (subject, method, request_id, request_hash, response)
SELECT 'bench-desk', 'RegisterVisit', :rid, '\x00', '\x00' WHERE :rid::uuid IS NOT NULL;
COMMIT;
SQL
pgbin=$(dirname "$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n1)")
"$pgbin/pgbench" -n -M prepared -c "$concurrency" -j 2 -T "$seconds" -f "$work/register_visit.sql" \
    -h 127.0.0.1 -p "$pg_port" -U fallwerk fallwerk > "$work/pgbench.txt"
pg_tps=$(awk '/^tps/ {printf "%.0f", $3}' "$work/pgbench.txt")

echo "== 3. fallwerk RegisterVisit, $concurrency clients, ${seconds}s"
if [[ -n "${PERF:-}" ]]; then
    mkdir -p "$PERF"
    perf record -q -F 499 -a -g -o "$PERF/perf.data" -- sleep "$seconds" 2>/dev/null &
    perf_pid=$!
fi
measured visit intake --scenario register-visit "${run[@]}"
if [[ -n "${PERF:-}" ]]; then
    wait "$perf_pid" || true
    # Where the machine's CPU went (by binary), then intake's own hot symbols.
    perf report -q -i "$PERF/perf.data" --no-children --sort dso -g none > "$PERF/machine.txt" 2>/dev/null || true
    perf report -q -i "$PERF/perf.data" --no-children --pid "${pids[0]}" --sort dso,symbol \
        -g none > "$PERF/intake.txt" 2>/dev/null || true
fi

echo "== 4. reads: an advisor's in case-plan, a partner system's in partner; GetCase beside pgbench"
measured advisor case-plan --scenario advisor-reads "${cooperation[@]}" "${run[@]}"
measured agency partner --scenario agency "${cooperation[@]}" "${run[@]}"
measured getcase case-plan --scenario get-case "${cooperation[@]}" "${run[@]}"
# Every read of a case is audited before it is answered: its select, and its audit insert
# committed on its own (fallwerk commits concurrent reads' records together, audit/writer.rs).
case_id=$("$pgbin/psql" -Atq -h 127.0.0.1 -p "$pg_port" -U fallwerk fallwerk \
    -c "SELECT id FROM caseplan.cases WHERE erased_at IS NULL LIMIT 1")
cat > "$work/get_case.sql" <<SQL
SELECT * FROM caseplan.cases WHERE id = '$case_id' AND erased_at IS NULL;
INSERT INTO caseplan.audit_log (subject, roles, action, resource_type, resource_id, trace_id)
  SELECT 'bench-advisor', '{advisor}', 'GetCase', 'case', id::text, '' FROM unnest(ARRAY['$case_id'::uuid]) AS id;
SQL
"$pgbin/pgbench" -n -M prepared -c "$concurrency" -j 2 -T "$seconds" -f "$work/get_case.sql" \
    -h 127.0.0.1 -p "$pg_port" -U fallwerk fallwerk > "$work/pgbench-get-case.txt"
pg_get_case=$(awk '/^tps/ {printf "%.0f", $3}' "$work/pgbench-get-case.txt")

echo "== 5. the arrival (closed), then the office's mix: closed, and open at half its rate"
load --scenario arrival "${cooperation[@]}" "${run[@]}" > "$work/arrival.json"
load --scenario mix "${cooperation[@]}" "${run[@]}" > "$work/mix.json"
mix_rate=$(figure 'print(round(d["iterations_per_second"]))' < "$work/mix.json")
half=$(( mix_rate / 2 > 0 ? mix_rate / 2 : 1 ))
load --scenario mix "${cooperation[@]}" --rate "$half" --concurrency 1000 --duration "${seconds}s" \
    --ramp-up 1s --plot "$work/mix-open.svg" > "$work/mix-open.json"
loaded=$(rss)
if [[ -n "${BENCH_OUT:-}" ]]; then
    mkdir -p "$BENCH_OUT"
    for name in health health-case-plan teams visit advisor agency getcase arrival mix mix-open; do
        cp "$work/$name.json" "$BENCH_OUT"/
        [[ -f "$work/$name.cpu" ]] && cp "$work/$name.cpu" "$BENCH_OUT"/
    done
    cp "$work/mix-open.svg" "$work"/pgbench*.txt "$work"/*.sql "$BENCH_OUT"/
fi

echo
echo "== summary (one run; ${seconds}s each; $concurrency clients; loopback; durable PostgreSQL)"
python3 - "$work" "$pg_tps" "$half" "$pg_get_case" <<'PY'
import json, sys
work, pg, half, pg_get_case = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def report(name): return json.load(open(f"{work}/{name}.json"))
def calls(name): return sum(s["per_second"] for s in report(name)["steps"] if "→" not in s["step"])
def cpu(name): return open(f"{work}/{name}.cpu").read().strip()
health, health_cp = calls("health"), calls("health-case-plan")
print(f"gRPC ceiling, Health/Check:      intake {health:7.0f}, case-plan {health_cp:7.0f} calls/s  (intake CPU {cpu('health')} µs/call)")
t = calls("teams")
print(f"intake ListTeams:                       {t:7.0f} calls/s = {t / health:.2f}x Health/Check  (CPU {cpu('teams')} µs/call)")
print(f"database ceiling, pgbench RegisterVisit:  {pg:5d} tps")
v = calls("visit")
print(f"fallwerk RegisterVisit:                 {v:7.0f} calls/s = {v / max(pg, 1):.2f}x the pgbench ceiling  (CPU {cpu('visit')} µs/call)")
a = calls("advisor")
print(f"advisor reads (case-plan):              {a:7.0f} calls/s = {a / health_cp:.2f}x case-plan's Health/Check  (CPU {cpu('advisor')} µs/call)")
c = calls("getcase")
print(f"case-plan GetCase (audited read):       {c:7.0f} calls/s = {c / health_cp:.2f}x case-plan's Health/Check, = {c / max(pg_get_case, 1):.2f}x pgbench with its select and own audit commit ({pg_get_case} tps)  (CPU {cpu('getcase')} µs/call)")
g = calls("agency")
print(f"partner-system turns (partner):         {g:7.0f} calls/s  (2 reads and a write; CPU {cpu('agency')} µs/call)")
for name in ("advisor", "agency"):
    for s in report(name)["steps"]:
        print(f"  {s['step']:<40} {s['per_second']:7.0f} calls/s  p99 {s['latency_ms']['p99']:6.2f} ms")
arrival, mix = report("arrival"), report("mix")
print(f"arrival, closed model:                  {arrival['iterations_per_second']:7.0f} arrivals/s")
print(f"office mix, closed model:               {mix['iterations_per_second']:7.0f} iterations/s ({calls('mix'):.0f} calls/s)")
print(f"office mix, open model at {half}/s: p99 per step, ms (errors)")
for s in report("mix-open")["steps"]:
    errors = sum(s["errors"].values())
    print(f"  {s['step']:<44} {s['latency_ms']['p99']:7.2f}   ({errors})")
PY
echo "memory idle:        $idle"
echo "memory after load:  $loaded"
